//! `cargo bench`: every kernel entry point and variant on small shapes (those of
//! `bench --quick`, which finish in seconds on lavapipe), GPU beside the CPU reference.
//! For the full shapes on a real GPU run `wgsl-autoencoder bench`.

use wgsl_autoencoder::bench::{cases, render, run_case, Options};

fn main() {
    if let Err(e) = run() {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}

fn run() -> wgsl_autoencoder::Result<()> {
    pollster::block_on(async {
        let gpu = wgsl_autoencoder::native::app::open_gpu().await?;
        println!("{}", gpu.adapter_summary());
        let opts = Options::new(true);
        let mut rows = Vec::new();
        let mut cpu_times = std::collections::BTreeMap::new();
        // Variants this device cannot run (those that need subgroups) have no row.
        for case in cases(true)?.into_iter().filter(|c| gpu.runs(c.variant)) {
            rows.push(run_case(&gpu, &case, &opts, &mut cpu_times).await?);
        }
        print!("{}", render(&rows));
        Ok(())
    })
}
