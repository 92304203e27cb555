//! Shared by the kernel tests: one GPU context per test binary, and `assert_cases`, which
//! runs cases of `check::tables` on the GPU and on the CPU reference and fails on the
//! first one whose outputs differ (see `wgsl_autoencoder::check` for the rules).
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use wgsl_autoencoder::check::{check_case, Case};
use wgsl_autoencoder::gpu::Gpu;

/// The GPU for this test binary. A missing adapter fails the test with the error's own
/// advice (install mesa-vulkan-drivers); GPU tests never skip.
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new() {
        Ok(gpu) => Arc::new(gpu),
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
    .clone()
}

/// Checks every case, failing with the case's label, its largest error and the first
/// mismatching elements.
pub fn assert_cases(cases: &[Case]) {
    assert!(!cases.is_empty(), "an empty table checks nothing");
    let gpu = gpu();
    for case in cases {
        let outcome = check_case(&gpu, case)
            .unwrap_or_else(|e| panic!("{}: {} did not run: {e}", case.label, case.op.entry()));
        assert!(outcome.passed(), "{}", outcome.describe(case.tol));
    }
}
