//! CPU reference for the conv2d ladder, `shaders/conv2d/`: 2-D convolution (PyTorch `Conv2d`, no
//! dilation, no groups) with square stride and padding. Plain loops with f64
//! accumulation: this is the oracle the GPU kernels are checked against, so it favours
//! being obviously right over being fast.

use crate::cpu::elementwise::{act_backward, act_forward};
use crate::cpu::pool::{max_pool2d_forward, pool_act_backward};
use crate::ops::{Activation, Conv2dShape, Pool2dShape};

/// Input coordinate a kernel tap reads for an output coordinate, or `None` where it
/// falls in the zero padding.
fn tap(out: usize, k: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
    let i = (out * stride + k).checked_sub(pad)?;
    (i < size).then_some(i)
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW)
pub fn conv2d_forward(s: &Conv2dShape, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), s.x_len());
    debug_assert_eq!(w.len(), s.w_len());
    debug_assert_eq!(b.len(), s.o);
    debug_assert_eq!(y.len(), s.y_len());
    let (oh, ow) = (s.out_h(), s.out_w());
    for n in 0..s.n {
        for o in 0..s.o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b[o] as f64;
                    for c in 0..s.c {
                        for ky in 0..s.kh {
                            let Some(iy) = tap(oy, ky, s.stride, s.pad, s.h) else {
                                continue;
                            };
                            for kx in 0..s.kw {
                                let Some(ix) = tap(ox, kx, s.stride, s.pad, s.w) else {
                                    continue;
                                };
                                let xv = x[((n * s.c + c) * s.h + iy) * s.w + ix];
                                let wv = w[((o * s.c + c) * s.kh + ky) * s.kw + kx];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    y[((n * s.o + o) * oh + oy) * ow + ox] = acc as f32;
                }
            }
        }
    }
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W)
pub fn conv2d_backward_input(s: &Conv2dShape, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    debug_assert_eq!(dy.len(), s.y_len());
    debug_assert_eq!(w.len(), s.w_len());
    debug_assert_eq!(dx.len(), s.x_len());
    // Scatter, the transpose of the forward loop nest, rather than the gather the GPU
    // uses: two different formulations agreeing is the stronger check.
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut acc = vec![0f64; dx.len()];
    for n in 0..s.n {
        for o in 0..s.o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = dy[((n * s.o + o) * oh + oy) * ow + ox] as f64;
                    for c in 0..s.c {
                        for ky in 0..s.kh {
                            let Some(iy) = tap(oy, ky, s.stride, s.pad, s.h) else {
                                continue;
                            };
                            for kx in 0..s.kw {
                                let Some(ix) = tap(ox, kx, s.stride, s.pad, s.w) else {
                                    continue;
                                };
                                let wv = w[((o * s.c + c) * s.kh + ky) * s.kw + kx];
                                acc[((n * s.c + c) * s.h + iy) * s.w + ix] += g * wv as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    for (d, a) in dx.iter_mut().zip(acc) {
        *d = a as f32;
    }
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW)
pub fn conv2d_backward_weight(s: &Conv2dShape, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    debug_assert_eq!(x.len(), s.x_len());
    debug_assert_eq!(dy.len(), s.y_len());
    debug_assert_eq!(dw.len(), s.w_len());
    let (oh, ow) = (s.out_h(), s.out_w());
    for o in 0..s.o {
        for c in 0..s.c {
            for ky in 0..s.kh {
                for kx in 0..s.kw {
                    let mut acc = 0f64;
                    for n in 0..s.n {
                        for oy in 0..oh {
                            let Some(iy) = tap(oy, ky, s.stride, s.pad, s.h) else {
                                continue;
                            };
                            for ox in 0..ow {
                                let Some(ix) = tap(ox, kx, s.stride, s.pad, s.w) else {
                                    continue;
                                };
                                let xv = x[((n * s.c + c) * s.h + iy) * s.w + ix];
                                let g = dy[((n * s.o + o) * oh + oy) * ow + ox];
                                acc += xv as f64 * g as f64;
                            }
                        }
                    }
                    dw[((o * s.c + c) * s.kh + ky) * s.kw + kx] = acc as f32;
                }
            }
        }
    }
}

// dy (N,O,OH,OW) -> db (O); hw = OH*OW. Also the bias gradient of conv_transpose2d.
pub fn conv2d_backward_bias(n: usize, o: usize, hw: usize, dy: &[f32], db: &mut [f32]) {
    debug_assert_eq!(dy.len(), n * o * hw);
    debug_assert_eq!(db.len(), o);
    for oc in 0..o {
        let mut acc = 0f64;
        for b in 0..n {
            for i in 0..hw {
                acc += dy[(b * o + oc) * hw + i] as f64;
            }
        }
        db[oc] = acc as f32;
    }
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv2d + b)
pub fn conv2d_act_forward(
    s: &Conv2dShape,
    act: Activation,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
) {
    let mut z = vec![0.0; s.y_len()];
    conv2d_forward(s, x, w, b, &mut z);
    act_forward(act, &z, y);
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y, idx (N,O,PH,PW) = max_pool(act(conv2d + b))
#[allow(clippy::too_many_arguments)]
pub fn conv2d_act_pool_forward(
    s: &Conv2dShape,
    act: Activation,
    pool: &Pool2dShape,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    idx: &mut [u32],
) {
    let mut a = vec![0.0; s.y_len()];
    conv2d_act_forward(s, act, x, w, b, &mut a);
    max_pool2d_forward(pool, &a, y, idx);
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW), db (O)
pub fn conv2d_backward_params(
    s: &Conv2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    conv2d_backward_weight(s, x, dy, dw);
    conv2d_backward_bias(s.n, s.o, s.out_h() * s.out_w(), dy, db);
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW) -> dw, db, dx (N,C,H,W) ⊙ act'(x)
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_act(
    s: &Conv2dShape,
    act: Activation,
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: &mut [f32],
) {
    conv2d_backward_params(s, x, dy, dw, db);
    let mut g = vec![0.0; s.x_len()];
    conv2d_backward_input(s, dy, w, &mut g);
    act_backward(act, x, &g, dx);
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW), idx (N,C,H,W) -> dw, db, dz (pool's input)
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_pool_act(
    s: &Conv2dShape,
    act: Activation,
    pool: &Pool2dShape,
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    idx: &[u32],
    dw: &mut [f32],
    db: &mut [f32],
    dz: &mut [f32],
) {
    conv2d_backward_params(s, x, dy, dw, db);
    let mut g = vec![0.0; s.x_len()];
    conv2d_backward_input(s, dy, w, &mut g);
    pool_act_backward(pool, act, x, idx, &g, dz);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};

    fn shape(n: usize, c: usize, h: usize, w: usize, o: usize, k: usize) -> Conv2dShape {
        Conv2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride: 1,
            pad: 0,
        }
    }

    fn forward(s: &Conv2dShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut y = vec![f32::NAN; s.y_len()];
        conv2d_forward(s, x, w, b, &mut y);
        y
    }

    fn shapes() -> Vec<Conv2dShape> {
        let mk = |n, c, h, w, o, kh, kw, stride, pad| Conv2dShape {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            pad,
        };
        vec![
            mk(1, 1, 3, 3, 1, 2, 2, 1, 0),
            mk(2, 3, 5, 7, 2, 3, 3, 1, 1),
            mk(2, 1, 7, 6, 3, 3, 3, 2, 1),
            mk(1, 3, 6, 5, 2, 3, 2, 2, 2),
            mk(2, 3, 8, 8, 4, 4, 4, 2, 1),
            mk(1, 2, 4, 9, 3, 1, 1, 2, 0),
            mk(2, 1, 5, 5, 1, 5, 5, 1, 2),
        ]
    }

    #[test]
    fn conv2d_forward_hand_computed_stride1() {
        // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]]: y = x[i][j] - x[i+1][j+1] + b.
        let s = shape(1, 1, 3, 3, 1, 2);
        s.validate().unwrap();
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let y = forward(&s, &x, &[1.0, 0.0, 0.0, -1.0], &[0.5]);
        assert_eq!((s.out_h(), s.out_w()), (2, 2));
        assert_eq!(y, vec![-3.5, -3.5, -3.5, -3.5]);
    }

    #[test]
    fn conv2d_forward_hand_computed_stride2_pad1() {
        // Padded x is 5x5; windows start at padded (0,0), (0,2), (2,0), (2,2).
        let mut s = shape(1, 1, 3, 3, 1, 2);
        s.stride = 2;
        s.pad = 1;
        s.validate().unwrap();
        assert_eq!((s.out_h(), s.out_w()), (2, 2));
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let w = [1.0, 2.0, 3.0, 4.0];
        // (0,0): only x[0][0]*w[1][1] = 4; (0,1): x[0][1]*w10 + x[0][2]*w11 = 2*3+3*4 = 18;
        // (1,0): x[1][0]*w01 + x[2][0]*w11 = 4*2+7*4 = 36;
        // (1,1): x11*w00 + x12*w01 + x21*w10 + x22*w11 = 5+12+24+36 = 77.
        let y = forward(&s, &x, &w, &[0.0]);
        assert_eq!(y, vec![4.0, 18.0, 36.0, 77.0]);
    }

    #[test]
    fn conv2d_forward_hand_computed_channels() {
        // Two input channels, two output channels, 1x1 kernel: a per-pixel matmul.
        let s = shape(1, 2, 1, 2, 2, 1);
        let x = [1.0, 2.0, 10.0, 20.0]; // c0 = [1,2], c1 = [10,20]
        let w = [1.0, 1.0, 2.0, -1.0]; // o0 = c0 + c1, o1 = 2*c0 - c1
        let y = forward(&s, &x, &w, &[0.0, 100.0]);
        assert_eq!(y, vec![11.0, 22.0, 92.0, 84.0]);
    }

    #[test]
    fn conv2d_backward_hand_computed() {
        let s = shape(1, 1, 3, 3, 1, 2);
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let w = [1.0, 2.0, 3.0, 4.0];
        let dy = [1.0, 0.0, 0.0, 1.0];
        let mut dx = vec![f32::NAN; 9];
        conv2d_backward_input(&s, &dy, &w, &mut dx);
        // dy at (0,0) spreads w over x[0..2][0..2], dy at (1,1) over x[1..3][1..3].
        assert_eq!(dx, vec![1.0, 2.0, 0.0, 3.0, 5.0, 2.0, 0.0, 3.0, 4.0]);
        let mut dw = vec![f32::NAN; 4];
        conv2d_backward_weight(&s, &x, &dy, &mut dw);
        // dw[ky][kx] = x[ky][kx] + x[1+ky][1+kx].
        assert_eq!(dw, vec![6.0, 8.0, 12.0, 14.0]);
        let mut db = vec![f32::NAN; 1];
        conv2d_backward_bias(1, 1, 4, &dy, &mut db);
        assert_eq!(db, vec![2.0]);
    }

    #[test]
    fn conv2d_backward_input_matches_finite_differences() {
        for (i, s) in shapes().iter().enumerate() {
            s.validate().unwrap();
            let seed = 4 * (10 + i as u64);
            let (x, w, b, g) = (
                random_vec(s.x_len(), seed),
                random_vec(s.w_len(), seed + 1),
                random_vec(s.o, seed + 2),
                random_vec(s.y_len(), seed + 3),
            );
            let mut dx = vec![f32::NAN; s.x_len()];
            conv2d_backward_input(s, &g, &w, &mut dx);
            check_gradient(&format!("dx {s:?}"), &x, &dx, 1e-2, |xp| {
                weighted_sum(&forward(s, xp, &w, &b), &g)
            });
        }
    }

    #[test]
    fn conv2d_backward_weight_matches_finite_differences() {
        for (i, s) in shapes().iter().enumerate() {
            let seed = 4 * (20 + i as u64);
            let (x, w, b, g) = (
                random_vec(s.x_len(), seed),
                random_vec(s.w_len(), seed + 1),
                random_vec(s.o, seed + 2),
                random_vec(s.y_len(), seed + 3),
            );
            let mut dw = vec![f32::NAN; s.w_len()];
            conv2d_backward_weight(s, &x, &g, &mut dw);
            check_gradient(&format!("dw {s:?}"), &w, &dw, 1e-2, |wp| {
                weighted_sum(&forward(s, &x, wp, &b), &g)
            });
        }
    }

    #[test]
    fn conv2d_backward_bias_matches_finite_differences() {
        for (i, s) in shapes().iter().enumerate() {
            let seed = 4 * (30 + i as u64);
            let (x, w, b, g) = (
                random_vec(s.x_len(), seed),
                random_vec(s.w_len(), seed + 1),
                random_vec(s.o, seed + 2),
                random_vec(s.y_len(), seed + 3),
            );
            let mut db = vec![f32::NAN; s.o];
            conv2d_backward_bias(s.n, s.o, s.out_h() * s.out_w(), &g, &mut db);
            check_gradient(&format!("db {s:?}"), &b, &db, 1e-2, |bp| {
                weighted_sum(&forward(s, &x, &w, bp), &g)
            });
        }
    }

    /// The fused backward's input gradient is the gradient, with respect to the
    /// pre-activation z of the stage below, of L = Σ g ⊙ conv(below(z)), where below is
    /// the activation, or the activation then a max-pool.
    #[test]
    fn fused_input_gradients_match_finite_differences() {
        use crate::cpu::elementwise::act_forward;
        use crate::cpu::pool::max_pool2d_forward;
        let s = Conv2dShape {
            stride: 1,
            pad: 1,
            ..shape(2, 2, 3, 3, 2, 2)
        };
        let pool = Pool2dShape {
            n: 2,
            c: 2,
            h: 7,
            w: 6,
            k: 2,
            stride: 2,
        };
        let w = random_vec(s.w_len(), 1);
        let g = random_vec(s.y_len(), 2);
        let b = vec![0.0; s.o];
        for act in Activation::ALL {
            // Away from ReLU's kink and from ties in a window, where the max switches.
            let spread = |len: usize, seed: u64| -> Vec<f32> {
                let v = random_vec(len, seed);
                v.iter()
                    .enumerate()
                    .map(|(i, v)| v + 0.05 * (i % 7) as f32 - 0.15)
                    .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
                    .collect()
            };
            let loss_of = |x: &[f32]| {
                let mut y = vec![0.0; s.y_len()];
                conv2d_forward(&s, x, &w, &b, &mut y);
                weighted_sum(&y, &g)
            };
            let (mut dw, mut db) = (vec![0.0; s.w_len()], vec![0.0; s.o]);

            let z = spread(s.x_len(), 3);
            let mut x = vec![0.0; s.x_len()];
            act_forward(act, &z, &mut x);
            let mut dz = vec![0.0; s.x_len()];
            conv2d_backward_act(&s, act, &x, &g, &w, &mut dw, &mut db, &mut dz);
            check_gradient("conv2d_backward_act", &z, &dz, 1e-3, |z| {
                let mut x = vec![0.0; z.len()];
                act_forward(act, z, &mut x);
                loss_of(&x)
            });

            let z = spread(pool.x_len(), 4);
            let below = |z: &[f32]| {
                let mut r = vec![0.0; z.len()];
                act_forward(act, z, &mut r);
                let (mut x, mut idx) = (vec![0.0; pool.y_len()], vec![0; pool.y_len()]);
                max_pool2d_forward(&pool, &r, &mut x, &mut idx);
                (x, idx)
            };
            let (x, idx) = below(&z);
            let mut dz = vec![0.0; pool.x_len()];
            let (dw2, db2) = (&mut dw, &mut db);
            conv2d_backward_pool_act(&s, act, &pool, &x, &g, &w, &idx, dw2, db2, &mut dz);
            check_gradient("conv2d_backward_pool_act", &z, &dz, 1e-3, |z| {
                loss_of(&below(z).0)
            });
        }
    }
}
