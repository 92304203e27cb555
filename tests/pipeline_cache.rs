//! The persistent pipeline cache: written after new pipelines are made, read back by the
//! next context, and never a reason for a run to fail, whatever the file holds.

use std::sync::Arc;

use pollster::block_on;
use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::check::{run_once, tables};
use wgsl_autoencoder::gpu::context::{AdapterRequest, GpuOptions};
use wgsl_autoencoder::gpu::{Gpu, GpuBackend};
use wgsl_autoencoder::native::files::PipelineFiles;

fn open(dir: &std::path::Path) -> Arc<Gpu> {
    let options = GpuOptions {
        checked: false,
        pipelines: Some(Arc::new(PipelineFiles {
            dir: dir.to_path_buf(),
        })),
        ..Default::default()
    };
    let request = AdapterRequest::from_env().unwrap();
    Arc::new(
        block_on(Gpu::open(&request, options)).expect("an adapter (install mesa-vulkan-drivers)"),
    )
}

/// Runs one case of the matmul table, which makes a pipeline, and returns its outputs.
fn run_a_kernel(gpu: &Arc<Gpu>) -> Vec<Vec<u32>> {
    let case = &tables::matmul()[40];
    let mut backend = GpuBackend::with_variant(gpu.clone(), case.variant);
    let out = block_on(run_once(&mut backend, &case.op, &case.init, case.step)).unwrap();
    block_on(backend.finish()).unwrap();
    out
}

#[test]
fn pipelines_persist_and_a_corrupt_cache_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let gpu = open(dir.path());
    let supported = gpu.features.contains(wgpu::Features::PIPELINE_CACHE);
    assert_eq!(gpu.pipeline_cache_place().is_some(), supported);
    let first = run_a_kernel(&gpu);
    let Some(file) = gpu.pipeline_cache_place().map(std::path::PathBuf::from) else {
        // Without the feature there is nothing to persist; the run above still worked.
        return;
    };
    assert!(file.starts_with(dir.path()), "{}", file.display());
    assert!(
        std::fs::metadata(&file).is_ok_and(|m| m.len() > 0),
        "no cache written at {}",
        file.display()
    );
    drop(gpu);

    // A second context starts from the file and gets the same results.
    assert_eq!(run_a_kernel(&open(dir.path())), first);

    // Garbage in the file (a foreign driver's, a torn write) is not an error.
    std::fs::write(&file, b"not a pipeline cache").unwrap();
    assert_eq!(run_a_kernel(&open(dir.path())), first);
    // And the next save replaces it with a cache this driver wrote.
    let written = std::fs::read(&file).unwrap();
    assert_ne!(written, b"not a pipeline cache");
}
