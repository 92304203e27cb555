//! pool.wgsl against cpu::pool: max-pool forward with argmax indices, and its backward.

mod common;

use common::{check_op, random, words, CONV_SIZES, TIGHT};
use wgsl_autoencoder::ops::{
    views, MaxPool2dBackward, MaxPool2dForward, Op, Pool2dShape, StepParams,
};

fn shapes() -> Vec<Pool2dShape> {
    let mut shapes = Vec::new();
    for (i, &(n, c, _, h, w)) in CONV_SIZES.iter().enumerate() {
        for (k, stride) in [(2, 2), (3, 2), (2, 1), (3, 3), (1, 1), (5, 2)] {
            let s = Pool2dShape {
                n,
                c: if i % 2 == 0 { c } else { 17 },
                h,
                w,
                k,
                stride,
            };
            if s.validate().is_ok() {
                shapes.push(s);
            }
        }
    }
    shapes
}

#[test]
fn max_pool2d_forward_matches_reference() {
    let s = shapes();
    assert!(
        s.iter().any(|s| s.h % 2 == 1) && s.iter().any(|s| s.stride < s.k),
        "odd sizes and overlapping windows"
    );
    for (i, s) in s.iter().enumerate() {
        let v = views(&[s.x_len(), s.y_len(), s.y_len()]);
        let op = Op::from(MaxPool2dForward {
            x: v[0],
            y: v[1],
            idx: v[2],
            shape: *s,
        });
        let init = vec![
            words(&random(s.x_len(), i as u64, -1.0, 1.0)),
            vec![0; s.y_len()],
            vec![0; s.y_len()],
        ];
        check_op(&format!("{s:?}"), &op, &init, StepParams::default(), TIGHT);
    }
}

#[test]
fn max_pool2d_backward_matches_reference() {
    for (i, s) in shapes().iter().enumerate() {
        // Indices from the reference forward, so that they are ones a forward could write.
        let x = random(s.x_len(), i as u64, -1.0, 1.0);
        let mut y = vec![0.0; s.y_len()];
        let mut idx = vec![0u32; s.y_len()];
        wgsl_autoencoder::cpu::pool::max_pool2d_forward(s, &x, &mut y, &mut idx);
        let v = views(&[s.y_len(), s.y_len(), s.x_len()]);
        let op = Op::from(MaxPool2dBackward {
            dy: v[0],
            idx: v[1],
            dx: v[2],
            shape: *s,
        });
        let init = vec![
            words(&random(s.y_len(), 100 + i as u64, -1.0, 1.0)),
            idx,
            vec![0; s.x_len()],
        ];
        check_op(&format!("{s:?}"), &op, &init, StepParams::default(), TIGHT);
    }
}
