//! loss.wgsl against cpu::loss: MSE and BCE, value (with the running total) and gradient.

mod common;

use common::{check_op, random, words, Tol, TIGHT};
use wgsl_autoencoder::ops::{views, LossBackward, LossForward, LossKind, Op, StepParams};

/// (rows, cols): a single element, odd sizes, less than and more than one workgroup's
/// stride, and a batch of MNIST images.
const SHAPES: [(usize, usize); 5] = [(1, 1), (3, 7), (1, 255), (5, 257), (128, 784)];

fn predictions_and_targets(len: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    // Sigmoid outputs, kept off 0 and 1 only by chance, and pixel-like targets.
    (random(len, seed, 0.0, 1.0), random(len, seed + 1, 0.0, 1.0))
}

#[test]
fn loss_forward_matches_reference() {
    for loss in [LossKind::Mse, LossKind::Bce] {
        for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
            let len = rows * cols;
            let (y, t) = predictions_and_targets(len, 10 * i as u64);
            let v = views(&[len, len, 1, 1]);
            let op = Op::from(LossForward {
                loss,
                y: v[0],
                t: v[1],
                value: v[2],
                total: v[3],
                rows,
                cols,
            });
            // The running total starts from a value the kernel must add to, not overwrite.
            let init = vec![words(&y), words(&t), vec![0], words(&[1.25])];
            // A tree sum in f32 against an f64 sum: relative error grows with the length.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            check_op(
                &format!("{loss:?} {rows}x{cols}"),
                &op,
                &init,
                StepParams::default(),
                tol,
            );
        }
    }
}

#[test]
fn loss_backward_matches_reference() {
    for loss in [LossKind::Mse, LossKind::Bce] {
        for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
            let len = rows * cols;
            let (y, t) = predictions_and_targets(len, 10 * i as u64);
            let v = views(&[len, len, len]);
            let op = Op::from(LossBackward {
                loss,
                y: v[0],
                t: v[1],
                dy: v[2],
                rows,
                cols,
            });
            let init = vec![words(&y), words(&t), vec![0; len]];
            check_op(
                &format!("{loss:?} {rows}x{cols}"),
                &op,
                &init,
                StepParams::default(),
                TIGHT,
            );
        }
    }
}
