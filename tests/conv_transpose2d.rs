//! conv_transpose2d.wgsl against cpu::conv_transpose2d: forward, input and weight gradients.

mod common;

use common::{check_random, conv_cases, Tol};
use wgsl_autoencoder::ops::{
    views, ConvTranspose2dBackwardInput, ConvTranspose2dBackwardWeight, ConvTranspose2dForward,
    ConvTranspose2dShape, Op,
};

fn shapes() -> Vec<ConvTranspose2dShape> {
    let mut shapes = Vec::new();
    for (i, ((n, c, o, h, w), k, stride, pad)) in conv_cases().into_iter().enumerate() {
        // Output padding 1 wherever the stride allows it (PyTorch needs it below the stride).
        let out_pad = if stride > 1 && i % 2 == 0 { 1 } else { 0 };
        let s = ConvTranspose2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
            out_pad,
        };
        if s.validate().is_ok() {
            shapes.push(s);
        }
    }
    shapes
}

fn tol(terms: usize) -> Tol {
    Tol {
        atol: 2e-6 * terms as f32,
        rtol: 1e-5,
    }
}

#[test]
fn conv_transpose2d_table_covers_the_issue() {
    let s = shapes();
    assert!(s.len() >= 60, "only {} shapes", s.len());
    assert!(s.iter().any(|s| s.out_pad == 1 && s.pad == 2));
    assert!(s.iter().any(|s| s.out_pad == 0 && s.stride == 2));
    for k in [1, 2, 3, 5] {
        assert!(s.iter().any(|s| s.kh == k), "kernel {k}");
    }
}

#[test]
fn conv_transpose2d_forward_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.x_len(), s.w_len(), s.o, s.y_len()]);
        let op = Op::from(ConvTranspose2dForward {
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
fn conv_transpose2d_backward_input_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.y_len(), s.w_len(), s.x_len()]);
        let op = Op::from(ConvTranspose2dBackwardInput {
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
fn conv_transpose2d_backward_weight_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        let v = views(&[s.x_len(), s.y_len(), s.w_len()]);
        let op = Op::from(ConvTranspose2dBackwardWeight {
            x: v[0],
            dy: v[1],
            dw: v[2],
            shape: *s,
        });
        check_random(&format!("{s:?}"), &op, 10 * i as u64, tol(s.n * s.h * s.w));
    }
}
