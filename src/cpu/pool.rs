//! CPU reference for `shaders/pool.wgsl`: 2-D max pooling (PyTorch `MaxPool2d` with
//! square kernel and stride, no padding, no dilation, floor mode). The forward pass keeps
//! the argmax of each window so that the backward pass routes the gradient through it
//! without re-reading the input.

use crate::cpu::elementwise::act_backward;
use crate::ops::{Activation, Pool2dShape};

// x (N,C,H,W) -> y (N,C,OH,OW), idx (N,C,OH,OW) with idx = h*W+w of the max within its plane
pub fn max_pool2d_forward(s: &Pool2dShape, x: &[f32], y: &mut [f32], idx: &mut [u32]) {
    debug_assert_eq!(x.len(), s.x_len());
    debug_assert_eq!(y.len(), s.y_len());
    debug_assert_eq!(idx.len(), s.y_len());
    let (oh, ow) = (s.out_h(), s.out_w());
    let plane = s.h * s.w;
    for p in 0..s.n * s.c {
        let xp = &x[p * plane..(p + 1) * plane];
        for oy in 0..oh {
            for ox in 0..ow {
                let (y0, x0) = (oy * s.stride, ox * s.stride);
                let mut best = xp[y0 * s.w + x0];
                let mut arg = y0 * s.w + x0;
                for ky in 0..s.k {
                    for kx in 0..s.k {
                        let i = (y0 + ky) * s.w + x0 + kx;
                        let v = xp[i];
                        // Strict `>` keeps the first max in row-major order, and a NaN
                        // takes over, as in PyTorch's kernel.
                        if v > best || v.is_nan() {
                            best = v;
                            arg = i;
                        }
                    }
                }
                let o = (p * oh + oy) * ow + ox;
                y[o] = best;
                idx[o] = arg as u32;
            }
        }
    }
}

// dy (N,C,OH,OW), idx (N,C,OH,OW) -> dx (N,C,H,W); overlapping windows add up
pub fn max_pool2d_backward(s: &Pool2dShape, dy: &[f32], idx: &[u32], dx: &mut [f32]) {
    debug_assert_eq!(dy.len(), s.y_len());
    debug_assert_eq!(idx.len(), s.y_len());
    debug_assert_eq!(dx.len(), s.x_len());
    let ohw = s.out_h() * s.out_w();
    let plane = s.h * s.w;
    let mut acc = vec![0f64; dx.len()];
    for p in 0..s.n * s.c {
        for o in 0..ohw {
            let i = idx[p * ohw + o] as usize;
            debug_assert!(i < plane);
            acc[p * plane + i] += dy[p * ohw + o] as f64;
        }
    }
    for (d, a) in dx.iter_mut().zip(acc) {
        *d = a as f32;
    }
}

// y (N,C,OH,OW), idx (N,C,OH,OW), dy (N,C,OH,OW) -> dz (N,C,H,W)
/// Back through a max-pool over an activation's output, to the activation's input:
/// max_pool2d_backward, then the activation's backward. That takes the activation's
/// output at each element, which only the argmaxes need (elsewhere the routed gradient
/// is zero), and there it is the pool's output `y`.
pub fn pool_act_backward(
    s: &Pool2dShape,
    act: Activation,
    y: &[f32],
    idx: &[u32],
    dy: &[f32],
    dz: &mut [f32],
) {
    let mut routed = vec![0.0; s.x_len()];
    max_pool2d_backward(s, dy, idx, &mut routed);
    let (ohw, plane) = (s.out_h() * s.out_w(), s.h * s.w);
    let mut act_out = vec![0.0; s.x_len()];
    for (o, (&v, &i)) in y.iter().zip(idx).enumerate() {
        act_out[o / ohw * plane + i as usize] = v;
    }
    act_backward(act, &act_out, &routed, dz);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};

    /// A shuffled ramp: every value distinct and 0.1 apart, so a perturbation of 1e-3
    /// never changes which element is the max. The order is that of seeded random keys.
    fn separated(len: usize, seed: u64) -> Vec<f32> {
        let keys = random_vec(len, seed);
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
        let mut v = vec![0.0; len];
        for (rank, &i) in order.iter().enumerate() {
            v[i] = rank as f32 * 0.1 - 3.0;
        }
        v
    }

    fn shape(n: usize, c: usize, h: usize, w: usize, k: usize, stride: usize) -> Pool2dShape {
        Pool2dShape {
            n,
            c,
            h,
            w,
            k,
            stride,
        }
    }

    fn forward(s: &Pool2dShape, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
        let mut y = vec![f32::NAN; s.y_len()];
        let mut idx = vec![u32::MAX; s.y_len()];
        max_pool2d_forward(s, x, &mut y, &mut idx);
        (y, idx)
    }

    #[test]
    fn max_pool2d_forward_hand_computed() {
        // 4x5 input, 2x2 windows, stride 2: the last column is dropped (floor mode).
        #[rustfmt::skip]
        let x = [
            1.0, 5.0, 2.0, 0.0, 9.0,
            3.0, 4.0, 8.0, 1.0, 9.0,
            0.0, 0.0, 7.0, 7.0, 9.0,
            6.0, 0.0, 7.0, 3.0, 9.0,
        ];
        let s = shape(1, 1, 4, 5, 2, 2);
        s.validate().unwrap();
        assert_eq!((s.out_h(), s.out_w()), (2, 2));
        let (y, idx) = forward(&s, &x);
        assert_eq!(y, vec![5.0, 8.0, 6.0, 7.0]);
        // The bottom-right window holds 7 three times; the first in row-major order wins.
        assert_eq!(idx, vec![1, 7, 15, 12]);
    }

    #[test]
    fn max_pool2d_forward_overlapping_windows() {
        // 3x3 windows, stride 1, over a 3x4 plane, two channels.
        #[rustfmt::skip]
        let x = [
            1.0, 2.0, 3.0, 4.0,
            5.0, 9.0, 0.0, 1.0,
            2.0, 3.0, 4.0, 5.0,
            // channel 1: all equal, so every window picks its top-left element
            -1.0, -1.0, -1.0, -1.0,
            -1.0, -1.0, -1.0, -1.0,
            -1.0, -1.0, -1.0, -1.0,
        ];
        let s = shape(1, 2, 3, 4, 3, 1);
        let (y, idx) = forward(&s, &x);
        assert_eq!(y, vec![9.0, 9.0, -1.0, -1.0]);
        assert_eq!(idx, vec![5, 5, 0, 1]);
    }

    #[test]
    fn max_pool2d_forward_propagates_nan() {
        let s = shape(1, 1, 2, 2, 2, 2);
        let (y, idx) = forward(&s, &[1.0, f32::NAN, 3.0, 2.0]);
        assert!(y[0].is_nan());
        assert_eq!(idx, vec![1]);
    }

    #[test]
    fn max_pool2d_backward_hand_computed() {
        // Two overlapping windows share their max: its gradient is the sum of both.
        let s = shape(1, 1, 3, 4, 3, 1);
        let idx = [5, 5];
        let mut dx = vec![f32::NAN; s.x_len()];
        max_pool2d_backward(&s, &[1.5, 2.0], &idx, &mut dx);
        let mut want = vec![0.0; 12];
        want[5] = 3.5;
        assert_eq!(dx, want);
    }

    #[test]
    fn max_pool2d_backward_matches_finite_differences() {
        let shapes = [
            shape(1, 1, 4, 4, 2, 2),
            shape(2, 3, 7, 5, 2, 2),
            shape(2, 1, 7, 9, 3, 2),
            shape(1, 3, 6, 5, 3, 1),
            shape(2, 3, 5, 8, 2, 3),
            shape(1, 1, 5, 3, 1, 1),
        ];
        for (t, s) in shapes.iter().enumerate() {
            s.validate().unwrap();
            let seed = 2 * (40 + t as u64);
            let x = separated(s.x_len(), seed);
            let g = random_vec(s.y_len(), seed + 1);
            let (_, idx) = forward(s, &x);
            let mut dx = vec![f32::NAN; s.x_len()];
            max_pool2d_backward(s, &g, &idx, &mut dx);
            check_gradient(&format!("dx {s:?}"), &x, &dx, 1e-3, |xp| {
                weighted_sum(&forward(s, xp).0, &g)
            });
        }
    }
}
