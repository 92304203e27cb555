//! conv2d.wgsl against cpu::conv2d: forward, input, weight and bias gradients.

mod common;

use common::{check_random, conv_cases, Tol};
use wgsl_autoencoder::ops::{
    views, Conv2dBackwardBias, Conv2dBackwardInput, Conv2dBackwardWeight, Conv2dForward,
    Conv2dShape, Op,
};

fn shapes() -> Vec<Conv2dShape> {
    conv_cases()
        .into_iter()
        .map(|((n, c, o, h, w), k, stride, pad)| Conv2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
        })
        // Padding wider than the kernel is refused by PyTorch; so is an empty output.
        .filter(|s| 2 * s.pad <= s.kh && s.validate().is_ok())
        .collect()
}

/// A sum of `terms` products of values in [-1, 1), in f32 on the GPU.
fn tol(terms: usize) -> Tol {
    Tol {
        atol: 2e-6 * terms as f32,
        rtol: 1e-5,
    }
}

#[test]
fn conv2d_table_covers_the_issue() {
    let s = shapes();
    assert!(s.len() >= 60, "only {} shapes", s.len());
    for k in [1, 2, 3, 5] {
        assert!(
            s.iter().any(|s| s.kh == k && s.stride == 2),
            "kernel {k} stride 2"
        );
    }
    assert!(
        s.iter().any(|s| s.pad == 2) && s.iter().any(|s| s.h != s.w) && s.iter().any(|s| s.n == 5)
    );
}

#[test]
fn conv2d_forward_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.x_len(), s.w_len(), s.o, s.y_len()]);
        let op = Op::from(Conv2dForward {
            x: v[0],
            w: v[1],
            b: v[2],
            y: v[3],
            shape: *s,
        });
        check_random(
            &format!("{s:?}"),
            &op,
            10 * i as u64,
            tol(s.c * s.kh * s.kw),
        );
    }
}

#[test]
fn conv2d_backward_input_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.y_len(), s.w_len(), s.x_len()]);
        let op = Op::from(Conv2dBackwardInput {
            dy: v[0],
            w: v[1],
            dx: v[2],
            shape: *s,
        });
        check_random(
            &format!("{s:?}"),
            &op,
            10 * i as u64,
            tol(s.o * s.kh * s.kw),
        );
    }
}

#[test]
fn conv2d_backward_weight_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.x_len(), s.y_len(), s.w_len()]);
        let op = Op::from(Conv2dBackwardWeight {
            x: v[0],
            dy: v[1],
            dw: v[2],
            shape: *s,
        });
        check_random(
            &format!("{s:?}"),
            &op,
            10 * i as u64,
            tol(s.n * s.out_h() * s.out_w()),
        );
    }
}

#[test]
fn conv2d_backward_bias_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let hw = s.out_h() * s.out_w();
        let v = views(&[s.y_len(), s.o]);
        let op = Op::from(Conv2dBackwardBias {
            dy: v[0],
            db: v[1],
            n: s.n,
            o: s.o,
            hw,
        });
        check_random(&format!("{s:?}"), &op, i as u64, tol(s.n * hw));
    }
}
