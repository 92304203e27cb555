//! Shared by the kernel tests: one GPU context per test binary, and `check_op`, which runs
//! one op on the GPU and on the CPU reference from the same seeded inputs and compares
//! every output element.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::cpu::backend::CpuBackend;
use wgsl_autoencoder::gpu::kernels::KernelChoice;
use wgsl_autoencoder::gpu::{Gpu, GpuBackend};
use wgsl_autoencoder::ops::{Access, BufferSpec, Elem, Op, StepParams};

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

/// Seeded values in [lo, hi).
pub fn random(len: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

pub fn words(v: &[f32]) -> Vec<u32> {
    bytemuck::cast_slice(v).to_vec()
}

/// |gpu − cpu| ≤ atol + rtol·|cpu|, element by element.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub atol: f32,
    pub rtol: f32,
}

pub const TIGHT: Tol = Tol {
    atol: 1e-5,
    rtol: 1e-5,
};

fn run(backend: &mut dyn Backend, op: &Op, init: &[Vec<u32>], step: StepParams) -> Vec<Vec<u32>> {
    let specs: Vec<BufferSpec> = init
        .iter()
        .enumerate()
        .map(|(i, b)| BufferSpec {
            name: format!("buffer{i}"),
            len: b.len(),
        })
        .collect();
    backend.alloc(&specs).unwrap();
    for (i, data) in init.iter().enumerate() {
        backend.write(i, 0, data).unwrap();
    }
    // Outputs the op overwrites start as NaN, so that an element the kernel never writes
    // fails the comparison. In-place state (Adam's parameters and moments, the loss's
    // running total) keeps its seeded values.
    for b in op.bindings().iter().filter(|b| b.access == Access::Write) {
        let v = b.view;
        backend
            .write_f32(v.buf, v.offset, &vec![f32::NAN; v.len])
            .unwrap();
    }
    backend.compile("test", std::slice::from_ref(op)).unwrap();
    backend.run("test", None, &[step]).unwrap();
    op.outputs()
        .iter()
        .map(|v| backend.read(v.buf).unwrap()[v.range()].to_vec())
        .collect()
}

/// Runs `op` on both backends from buffers holding `init` and compares every output.
/// `label` names the case in failure messages.
pub fn check_op(label: &str, op: &Op, init: &[Vec<u32>], step: StepParams, tol: Tol) {
    check_variant(label, op, KernelChoice::default(), init, step, tol)
}

/// `check_op` with the GPU's kernel variants forced by `choice`.
pub fn check_variant(
    label: &str,
    op: &Op,
    choice: KernelChoice,
    init: &[Vec<u32>],
    step: StepParams,
    tol: Tol,
) {
    let mut gpu_backend = GpuBackend::with_choice(gpu(), choice);
    let gpu_out = run(&mut gpu_backend, op, init, step);
    let cpu_out = run(&mut CpuBackend::new(), op, init, step);
    let written = op
        .bindings()
        .into_iter()
        .filter(|b| b.access != Access::Read);
    for ((b, g), c) in written.zip(&gpu_out).zip(&cpu_out) {
        let name = format!("{label}: {} output '{}'", op.entry(), b.name);
        if b.elem == Elem::U32 {
            // Indices (max-pool's argmax) compare exactly.
            assert_eq!(g, c, "{name}: indices differ");
        } else {
            assert_close(&name, bytemuck::cast_slice(g), bytemuck::cast_slice(c), tol);
        }
    }
}

/// `check_op` from seeded random inputs (`sample::random_buffers`) and the sample step.
pub fn check_random(label: &str, op: &Op, seed: u64, tol: Tol) {
    let init = wgsl_autoencoder::sample::random_buffers(op, seed);
    check_op(label, op, &init, wgsl_autoencoder::sample::SAMPLE_STEP, tol);
}

/// Compares, reporting the largest error and the first mismatching indices.
pub fn assert_close(name: &str, gpu: &[f32], cpu: &[f32], tol: Tol) {
    assert_eq!(gpu.len(), cpu.len(), "{name}: lengths");
    let mut bad = Vec::new();
    let mut worst = 0.0f32;
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let err = (g - c).abs();
        // Written so that a NaN on either side counts as a mismatch.
        let within = err <= tol.atol + tol.rtol * c.abs();
        if !within {
            bad.push((i, g, c));
        }
        if err.is_finite() {
            worst = worst.max(err);
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} elements differ beyond {tol:?}; largest finite error {worst:e}; first (index, gpu, cpu): {:?}",
        bad.len(),
        gpu.len(),
        &bad[..bad.len().min(5)]
    );
}

/// Spatial cases for the convolution tables: (n, c, o, h, w), cycling through batch 1 and
/// 5, channels 1, 3 and 17, odd, even and non-square sizes from 1×1 to 29×29.
pub const CONV_SIZES: [(usize, usize, usize, usize, usize); 8] = [
    (1, 1, 1, 1, 1),
    (5, 3, 17, 2, 3),
    (1, 17, 3, 5, 5),
    (5, 1, 3, 7, 4),
    (1, 3, 1, 8, 8),
    (5, 17, 17, 13, 11),
    (1, 1, 16, 28, 28),
    (5, 3, 3, 29, 29),
];

/// (size, kernel, stride, pad)
pub type ConvCase = ((usize, usize, usize, usize, usize), usize, usize, usize);

/// Every (kernel, stride, pad) the conv tables need, each with five sizes: 120 cases per
/// entry point, of which the caller leaves out the shapes PyTorch would reject.
pub fn conv_cases() -> Vec<ConvCase> {
    let mut cases = Vec::new();
    let mut i = 0;
    for kernel in [1, 2, 3, 5] {
        for stride in [1, 2] {
            for pad in [0, 1, 2] {
                for _ in 0..5 {
                    cases.push((CONV_SIZES[i % CONV_SIZES.len()], kernel, stride, pad));
                    i += 1;
                }
            }
        }
    }
    cases
}
