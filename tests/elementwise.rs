//! elementwise.wgsl against cpu::elementwise: bias, ReLU and Sigmoid, forward and backward.

mod common;

use common::{check_op, random, words, Tol, TIGHT};
use wgsl_autoencoder::ops::{
    views, Activation, ActivationBackward, ActivationForward, BiasBackward, BiasForward, Op,
    StepParams,
};

/// (rows, cols): ones, odd sizes, a partial workgroup, and more than one workgroup.
const SHAPES: [(usize, usize); 6] = [(1, 1), (1, 3), (5, 17), (3, 100), (128, 30), (257, 784)];

#[test]
fn bias_forward_matches_reference() {
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        let v = views(&[rows * cols, cols, rows * cols]);
        let op = Op::from(BiasForward {
            x: v[0],
            b: v[1],
            y: v[2],
            rows,
            cols,
        });
        let init = vec![
            words(&random(rows * cols, i as u64, -1.0, 1.0)),
            words(&random(cols, 50 + i as u64, -1.0, 1.0)),
            vec![0; rows * cols],
        ];
        check_op(
            &format!("{rows}x{cols}"),
            &op,
            &init,
            StepParams::default(),
            TIGHT,
        );
    }
}

#[test]
fn bias_backward_matches_reference() {
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        let v = views(&[rows * cols, cols]);
        let op = Op::from(BiasBackward {
            dy: v[0],
            db: v[1],
            rows,
            cols,
        });
        let init = vec![
            words(&random(rows * cols, i as u64, -1.0, 1.0)),
            vec![0; cols],
        ];
        let tol = Tol {
            atol: 1e-6 * rows as f32,
            rtol: 1e-5,
        };
        check_op(
            &format!("{rows}x{cols}"),
            &op,
            &init,
            StepParams::default(),
            tol,
        );
    }
}

#[test]
fn activations_match_reference() {
    for act in [Activation::Relu, Activation::Sigmoid] {
        for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
            let len = rows * cols;
            let v = views(&[len, len]);
            let op = Op::from(ActivationForward {
                act,
                x: v[0],
                y: v[1],
                rows,
                cols,
            });
            let init = vec![words(&random(len, i as u64, -6.0, 6.0)), vec![0; len]];
            check_op(
                &format!("{act:?} forward {len}"),
                &op,
                &init,
                StepParams::default(),
                TIGHT,
            );

            let v = views(&[len, len, len]);
            let op = Op::from(ActivationBackward {
                act,
                y: v[0],
                dy: v[1],
                dx: v[2],
                rows,
                cols,
            });
            // y as the forward would produce it: in (0, 1) for Sigmoid, ≥ 0 with zeros for ReLU.
            let y: Vec<f32> = random(len, 70 + i as u64, -0.5, 1.0)
                .into_iter()
                .map(|y| y.max(0.0))
                .collect();
            let init = vec![
                words(&y),
                words(&random(len, 90 + i as u64, -1.0, 1.0)),
                vec![0; len],
            ];
            check_op(
                &format!("{act:?} backward {len}"),
                &op,
                &init,
                StepParams::default(),
                TIGHT,
            );
        }
    }
}
