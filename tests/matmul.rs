//! matmul.wgsl against cpu::matmul, every variant and transpose, over a table of shapes.

mod common;

use common::{check_variant, Tol};
use wgsl_autoencoder::gpu::kernels::{KernelChoice, MatmulVariant};
use wgsl_autoencoder::ops::{views, Matmul, MatmulShape, Op, StepParams};
use wgsl_autoencoder::sample::random_buffers;

/// Sizes around the 16 and 64 tiles, ones, and the dense autoencoder's layer shapes.
const SHAPES: [(usize, usize, usize); 10] = [
    (1, 1, 1),
    (1, 7, 3),
    (5, 3, 17),
    (16, 16, 16),
    (17, 33, 65),
    (64, 64, 64),
    (65, 17, 129),
    (3, 100, 200),
    (128, 784, 100),
    (100, 30, 128),
];

#[test]
fn matmul_matches_reference() {
    for variant in MatmulVariant::ALL {
        for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
            for (trans_a, trans_b) in [(false, false), (false, true), (true, false), (true, true)] {
                let shape = MatmulShape {
                    m,
                    k,
                    n,
                    trans_a,
                    trans_b,
                };
                let v = views(&[shape.a_len(), shape.b_len(), shape.c_len()]);
                let op = Op::from(Matmul {
                    a: v[0],
                    b: v[1],
                    c: v[2],
                    shape,
                    batch: Default::default(),
                });
                // Sums of k products of values in [-1, 1): f32 rounding grows with k.
                let tol = Tol {
                    atol: 1e-6 * k as f32,
                    rtol: 1e-5,
                };
                let init = random_buffers(&op, 10 * i as u64);
                let choice = KernelChoice {
                    matmul: Some(variant),
                };
                let label = format!("{variant:?} {shape:?}");
                check_variant(&label, &op, choice, &init, StepParams::default(), tol);
            }
        }
    }
}
