//! The matmul ladder (shaders/matmul/) against cpu::matmul: every variant and transpose over the matmul table.

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

/// A device without subgroups (a browser's; here lavapipe opened with them left off)
/// never runs the subgroup matmul: forced, it gives way to the guess, whose result is
/// still the reference's, and `check`'s plan drops its cases. With them (lavapipe's 8
/// lanes), forcing it runs it.
#[test]
fn the_subgroup_matmul_runs_only_where_the_device_has_subgroups() {
    use wgsl_autoencoder::check::{compare, run::plan, run_once};
    use wgsl_autoencoder::cpu::backend::CpuBackend;
    use wgsl_autoencoder::gpu::context::{AdapterRequest, GpuOptions};
    use wgsl_autoencoder::gpu::kernels::{MatmulVariant, Parallelism, Variant};
    use wgsl_autoencoder::gpu::{Gpu, GpuBackend};

    let subgroup = Variant::Matmul(MatmulVariant::Subgroup);
    let case = tables::matmul()
        .into_iter()
        .find(|c| c.variant == Some(subgroup))
        .expect("the table runs the subgroup variant");
    let on_cpu = pollster::block_on(run_once(
        &mut CpuBackend::new(),
        &case.op,
        &case.init,
        case.step,
    ))
    .unwrap();
    for no_subgroups in [false, true] {
        let options = GpuOptions {
            no_subgroups,
            ..Default::default()
        };
        let request = AdapterRequest::from_env().unwrap();
        let gpu = std::sync::Arc::new(pollster::block_on(Gpu::open(&request, options)).unwrap());
        assert_eq!(
            gpu.subgroups(),
            !no_subgroups,
            "lavapipe has subgroups of 8"
        );
        assert_eq!(gpu.runs(subgroup), !no_subgroups);
        let mut backend = GpuBackend::with_variant(gpu.clone(), case.variant);
        let on_gpu =
            pollster::block_on(run_once(&mut backend, &case.op, &case.init, case.step)).unwrap();
        let ran = backend.chosen("check").unwrap()[0].variant;
        assert_eq!(
            ran == subgroup,
            !no_subgroups,
            "{no_subgroups}: ran {ran:?}"
        );
        let outcome = compare(&case.label, "-", &case.op, &on_gpu, &on_cpu, case.tol);
        assert!(outcome.passed(), "{}", outcome.describe(case.tol));
        let device = Parallelism::of(&gpu.adapter.get_info());
        let checked = plan(true, device).unwrap().runnable_on(&gpu);
        let listed = checked.groups.iter().any(|g| g.variant == "subgroup");
        assert_eq!(listed, !no_subgroups);
    }
}
