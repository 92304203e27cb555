//! Shared by the kernel tests: the GPU contexts of this test binary, and `assert_cases`,
//! which runs cases of `check::tables` on the GPU and on the CPU reference and fails on the
//! first one whose outputs differ (see `wgsl_autoencoder::check` for the rules).
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use pollster::block_on;
use wgsl_autoencoder::check::{check_case_on, Case};
use wgsl_autoencoder::gpu::context::{checks_from_env, AdapterRequest, GpuOptions};
use wgsl_autoencoder::gpu::Gpu;

/// A context with no pipeline cache on disk: tests leave the user's cache folder alone.
fn open(checked: bool) -> Arc<Gpu> {
    let options = GpuOptions {
        checked,
        ..Default::default()
    };
    let request = AdapterRequest::from_env().expect("wgpu's environment variables");
    match block_on(Gpu::open(&request, options)) {
        Ok(gpu) => Arc::new(gpu),
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    }
}

static TRUSTED: OnceLock<Arc<Gpu>> = OnceLock::new();
static CHECKED: OnceLock<Arc<Gpu>> = OnceLock::new();

fn context(checked: bool) -> Arc<Gpu> {
    let cell = if checked { &CHECKED } else { &TRUSTED };
    cell.get_or_init(|| open(checked)).clone()
}

/// The GPU for this test binary, built as a run builds it: trusted modules, unless
/// WGSL_AUTOENCODER_CHECKED=1. A missing adapter fails the test with the error's own
/// advice (install mesa-vulkan-drivers); GPU tests never skip.
pub fn gpu() -> Arc<Gpu> {
    context(checks_from_env())
}

/// Two contexts of one adapter: modules built trusted (no runtime checks, workgroup
/// memory not zero-filled) and modules built with naga's checks. Every kernel case runs
/// on both, so a kernel that only works because a check clamps an index, or because
/// workgroup memory starts zeroed, fails; the CPU reference runs once for both.
pub fn gpus() -> [Arc<Gpu>; 2] {
    [context(false), context(true)]
}

/// Checks every case on both contexts, failing with the case's label, its largest error
/// and the first mismatching elements.
pub fn assert_cases(cases: &[Case]) {
    assert!(!cases.is_empty(), "an empty table checks nothing");
    let gpus = gpus();
    for case in cases {
        let outcomes = block_on(check_case_on(&gpus, case))
            .unwrap_or_else(|e| panic!("{}: {} did not run: {e}", case.label, case.op.entry()));
        for outcome in outcomes {
            assert!(outcome.passed(), "{}", outcome.describe(case.tol));
        }
    }
}
