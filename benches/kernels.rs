//! `cargo bench`: every kernel entry point and variant on small shapes (those of
//! `bench --quick`, which finish in seconds on lavapipe), GPU beside the CPU reference.
//! For the full shapes on a real GPU run `wgsl-autoencoder bench`.

use std::sync::Arc;

use wgsl_autoencoder::bench::{cases, render, run_case, Options};
use wgsl_autoencoder::gpu::Gpu;

fn main() {
    let gpu = match Gpu::new() {
        Ok(gpu) => Arc::new(gpu),
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", gpu.adapter_summary());
    let opts = Options::new(true);
    let mut rows = Vec::new();
    for case in cases(true) {
        match run_case(&gpu, &case, &opts) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("Error: {} {:?}: {e}", case.name, case.shape);
                std::process::exit(1);
            }
        }
    }
    print!("{}", render(&rows));
}
