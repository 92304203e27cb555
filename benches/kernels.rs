//! `cargo bench`: every kernel entry point and variant on small shapes (those of
//! `bench --quick`, which finish in seconds on lavapipe), GPU beside the CPU reference.
//! For the full shapes on a real GPU run `wgsl-autoencoder bench`.

use std::sync::Arc;

use wgsl_autoencoder::bench::{cases, render, run_case, Options};
use wgsl_autoencoder::gpu::Gpu;

fn main() {
    if let Err(e) = run() {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}

fn run() -> wgsl_autoencoder::Result<()> {
    let gpu = Arc::new(Gpu::new()?);
    println!("{}", gpu.adapter_summary());
    let opts = Options::new(true);
    let rows = cases(true)?
        .iter()
        .map(|case| run_case(&gpu, case, &opts))
        .collect::<wgsl_autoencoder::Result<Vec<_>>>()?;
    print!("{}", render(&rows));
    Ok(())
}
