//! matmul.wgsl against cpu::matmul: every variant and transpose over the matmul table.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn matmul_matches_reference() {
    common::assert_cases(&tables::matmul());
}

/// A variant measured on the card (what per-card tuning hands the backend) runs in place
/// of the guess, is recorded as measured, and gives the reference's result.
#[test]
fn a_measured_variant_overrides_the_guess() {
    use wgsl_autoencoder::check::{compare, run_once};
    use wgsl_autoencoder::cpu::backend::CpuBackend;
    use wgsl_autoencoder::gpu::kernels::{variants, Measured, Parallelism, Source};
    use wgsl_autoencoder::gpu::GpuBackend;

    let gpu = common::gpu();
    let device = Parallelism::of(&gpu.adapter.get_info());
    let case = tables::matmul()
        .into_iter()
        .find(|c| variants(&c.op).len() > 2)
        .expect("a product several variants run");
    let guess = wgsl_autoencoder::gpu::kernels::variants::guess(&case.op, device);
    let other = variants(&case.op)
        .into_iter()
        .find(|v| *v != guess)
        .unwrap();
    let mut measured = Measured::default();
    measured.insert(&case.op, other);
    let mut backend = GpuBackend::new(gpu);
    backend.set_measured(measured);
    let run = |b: &mut dyn wgsl_autoencoder::Backend| {
        pollster::block_on(run_once(b, &case.op, &case.init, case.step)).unwrap()
    };
    let on_gpu = run(&mut backend);
    let chosen = backend.chosen("check").unwrap();
    assert_eq!(
        (chosen[0].variant, chosen[0].source),
        (other, Source::Measured)
    );
    let on_cpu = run(&mut CpuBackend::new());
    let outcome = compare(
        &case.label,
        "measured",
        &case.op,
        &on_gpu,
        &on_cpu,
        case.tol,
    );
    assert!(outcome.passed(), "{}", outcome.describe(case.tol));
}
