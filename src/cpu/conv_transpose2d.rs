//! CPU reference for the transposed 2-D convolution (PyTorch `ConvTranspose2d`, no
//! dilation, no groups) with square stride, padding and output padding. The GPU runs it
//! on conv2d's kernels, as the adjoint of a conv2d (`shaders/conv2d/` with
//! `TRANSPOSED`); this reference keeps loops of its own (only the bias gradient, a plain
//! sum, is conv2d's): the forward scatters each input pixel's stamp, by definition, where
//! the GPU gathers, so that the two formulations check each other. That it is the adjoint of conv2d with the
//! same weight tensor is itself a test here, along with finite differences.

use crate::cpu::conv2d::conv2d_backward_bias;
use crate::cpu::elementwise::{act_backward, act_forward};
use crate::cpu::pool::pool_act_backward;
use crate::ops::{Activation, ConvTranspose2dShape, Pool2dShape};

/// Output coordinate an input coordinate's kernel tap lands on, or `None` where it is
/// cropped away by the padding (or lies past the output).
fn land(i: usize, k: usize, stride: usize, pad: usize, out: usize) -> Option<usize> {
    let o = (i * stride + k).checked_sub(pad)?;
    (o < out).then_some(o)
}

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW)
pub fn conv_transpose2d_forward(
    s: &ConvTranspose2dShape,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
) {
    debug_assert_eq!(x.len(), s.x_len());
    debug_assert_eq!(w.len(), s.w_len());
    debug_assert_eq!(b.len(), s.o);
    debug_assert_eq!(y.len(), s.y_len());
    // Scatter, the definition of the transposed conv; the GPU gathers instead, so the
    // two formulations check each other.
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut acc = vec![0f64; y.len()];
    for n in 0..s.n {
        for c in 0..s.c {
            for iy in 0..s.h {
                for ix in 0..s.w {
                    let xv = x[((n * s.c + c) * s.h + iy) * s.w + ix] as f64;
                    for o in 0..s.o {
                        for ky in 0..s.kh {
                            let Some(oy) = land(iy, ky, s.stride, s.pad, oh) else {
                                continue;
                            };
                            for kx in 0..s.kw {
                                let Some(ox) = land(ix, kx, s.stride, s.pad, ow) else {
                                    continue;
                                };
                                let wv = w[((c * s.o + o) * s.kh + ky) * s.kw + kx] as f64;
                                acc[((n * s.o + o) * oh + oy) * ow + ox] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    for (j, yv) in y.iter_mut().enumerate() {
        let o = (j / (oh * ow)) % s.o;
        *yv = (acc[j] + b[o] as f64) as f32;
    }
}

// dy (N,O,OH,OW), w (C,O,KH,KW) -> dx (N,C,H,W)
pub fn conv_transpose2d_backward_input(
    s: &ConvTranspose2dShape,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
) {
    debug_assert_eq!(dy.len(), s.y_len());
    debug_assert_eq!(w.len(), s.w_len());
    debug_assert_eq!(dx.len(), s.x_len());
    let (oh, ow) = (s.out_h(), s.out_w());
    for n in 0..s.n {
        for c in 0..s.c {
            for iy in 0..s.h {
                for ix in 0..s.w {
                    let mut acc = 0f64;
                    for o in 0..s.o {
                        for ky in 0..s.kh {
                            let Some(oy) = land(iy, ky, s.stride, s.pad, oh) else {
                                continue;
                            };
                            for kx in 0..s.kw {
                                let Some(ox) = land(ix, kx, s.stride, s.pad, ow) else {
                                    continue;
                                };
                                let g = dy[((n * s.o + o) * oh + oy) * ow + ox] as f64;
                                let wv = w[((c * s.o + o) * s.kh + ky) * s.kw + kx] as f64;
                                acc += g * wv;
                            }
                        }
                    }
                    dx[((n * s.c + c) * s.h + iy) * s.w + ix] = acc as f32;
                }
            }
        }
    }
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (C,O,KH,KW)
pub fn conv_transpose2d_backward_weight(
    s: &ConvTranspose2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) {
    debug_assert_eq!(x.len(), s.x_len());
    debug_assert_eq!(dy.len(), s.y_len());
    debug_assert_eq!(dw.len(), s.w_len());
    let (oh, ow) = (s.out_h(), s.out_w());
    for c in 0..s.c {
        for o in 0..s.o {
            for ky in 0..s.kh {
                for kx in 0..s.kw {
                    let mut acc = 0f64;
                    for n in 0..s.n {
                        for iy in 0..s.h {
                            let Some(oy) = land(iy, ky, s.stride, s.pad, oh) else {
                                continue;
                            };
                            for ix in 0..s.w {
                                let Some(ox) = land(ix, kx, s.stride, s.pad, ow) else {
                                    continue;
                                };
                                let xv = x[((n * s.c + c) * s.h + iy) * s.w + ix] as f64;
                                let g = dy[((n * s.o + o) * oh + oy) * ow + ox] as f64;
                                acc += xv * g;
                            }
                        }
                    }
                    dw[((c * s.o + o) * s.kh + ky) * s.kw + kx] = acc as f32;
                }
            }
        }
    }
}

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv_transpose2d + b)
pub fn conv_transpose2d_act_forward(
    s: &ConvTranspose2dShape,
    act: Activation,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
) {
    let mut z = vec![0.0; s.y_len()];
    conv_transpose2d_forward(s, x, w, b, &mut z);
    act_forward(act, &z, y);
}

/// The weight and bias gradients, as conv_transpose2d_backward_weight and
/// conv2d_backward_bias compute them.
fn params_backward(
    s: &ConvTranspose2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    conv_transpose2d_backward_weight(s, x, dy, dw);
    conv2d_backward_bias(s.n, s.o, s.out_h() * s.out_w(), dy, db);
}

// x (N,C,H,W), dy (N,O,OH,OW), w (C,O,KH,KW) -> dw, db, dx (N,C,H,W) ⊙ act'(x)
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d_backward_act(
    s: &ConvTranspose2dShape,
    act: Activation,
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: &mut [f32],
) {
    params_backward(s, x, dy, dw, db);
    let mut g = vec![0.0; s.x_len()];
    conv_transpose2d_backward_input(s, dy, w, &mut g);
    act_backward(act, x, &g, dx);
}

// x (N,C,H,W), dy (N,O,OH,OW), w (C,O,KH,KW), idx (N,C,H,W) -> dw, db, dz (pool's input)
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d_backward_pool_act(
    s: &ConvTranspose2dShape,
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
    params_backward(s, x, dy, dw, db);
    let mut g = vec![0.0; s.x_len()];
    conv_transpose2d_backward_input(s, dy, w, &mut g);
    pool_act_backward(pool, act, x, idx, &g, dz);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv2d::{conv2d_backward_bias, conv2d_backward_input};
    use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};
    use crate::ops::Conv2dShape;

    #[allow(clippy::too_many_arguments)]
    fn mk(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        o: usize,
        k: usize,
        stride: usize,
        pad: usize,
        out_pad: usize,
    ) -> ConvTranspose2dShape {
        ConvTranspose2dShape {
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
        }
    }

    fn forward(s: &ConvTranspose2dShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut y = vec![f32::NAN; s.y_len()];
        conv_transpose2d_forward(s, x, w, b, &mut y);
        y
    }

    fn shapes() -> Vec<ConvTranspose2dShape> {
        vec![
            mk(1, 1, 2, 2, 1, 2, 1, 0, 0),
            mk(2, 3, 3, 4, 2, 3, 1, 1, 0),
            mk(2, 1, 4, 3, 3, 3, 2, 1, 1),
            mk(1, 3, 3, 5, 1, 4, 2, 1, 0),
            mk(2, 2, 5, 4, 3, 3, 2, 2, 1),
            mk(1, 3, 4, 4, 2, 2, 2, 0, 0),
            mk(2, 1, 3, 2, 2, 5, 3, 2, 2),
            ConvTranspose2dShape {
                kh: 3,
                kw: 2,
                ..mk(1, 2, 3, 4, 3, 3, 2, 1, 1)
            },
        ]
    }

    #[test]
    fn conv_transpose2d_forward_hand_computed_stride1() {
        // Each input pixel stamps a copy of the kernel scaled by its value.
        let s = mk(1, 1, 2, 2, 1, 2, 1, 0, 0);
        s.validate().unwrap();
        assert_eq!((s.out_h(), s.out_w()), (3, 3));
        let y = forward(
            &s,
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, 10.0, 100.0, 1000.0],
            &[0.5],
        );
        #[rustfmt::skip]
        let want = vec![
            1.5,   12.5,   20.5,
            103.5, 1234.5, 2040.5,
            300.5, 3400.5, 4000.5,
        ];
        assert_eq!(y, want);
    }

    #[test]
    fn conv_transpose2d_forward_hand_computed_stride2_pad_outpad() {
        // Stride 2 with a 2x2 kernel tiles the stamps without overlap. The uncropped
        // output is 4x4:
        //   [  1,   10,   2,   20]
        //   [100, 1000, 200, 2000]
        //   [  3,   30,   4,   40]
        //   [300, 3000, 400, 4000]
        let (x, w) = ([1.0, 2.0, 3.0, 4.0], [1.0, 10.0, 100.0, 1000.0]);

        // pad 1 crops a row/column on each side; out_pad 1 gives back the bottom/right
        // one, so the output is rows/cols 1..=3 of the uncropped one.
        let s = mk(1, 1, 2, 2, 1, 2, 2, 1, 1);
        s.validate().unwrap();
        assert_eq!((s.out_h(), s.out_w()), (3, 3));
        #[rustfmt::skip]
        let want = vec![
            1000.0, 200.0, 2000.0,
            30.0,   4.0,   40.0,
            3000.0, 400.0, 4000.0,
        ];
        assert_eq!(forward(&s, &x, &w, &[0.0]), want);

        // pad 0, out_pad 1: a fifth row/column no stamp reaches, holding only the bias.
        let s = mk(1, 1, 2, 2, 1, 2, 2, 0, 1);
        s.validate().unwrap();
        assert_eq!((s.out_h(), s.out_w()), (5, 5));
        #[rustfmt::skip]
        let want = vec![
            1.5,   10.5,   2.5,   20.5,   0.5,
            100.5, 1000.5, 200.5, 2000.5, 0.5,
            3.5,   30.5,   4.5,   40.5,   0.5,
            300.5, 3000.5, 400.5, 4000.5, 0.5,
            0.5,   0.5,    0.5,   0.5,    0.5,
        ];
        assert_eq!(forward(&s, &x, &w, &[0.5]), want);
    }

    #[test]
    fn conv_transpose2d_forward_hand_computed_channels() {
        // 1x1 kernel, two in and two out channels: y[o] = sum_c x[c] * w[c][o] + b[o].
        let s = mk(1, 2, 1, 2, 2, 1, 1, 0, 0);
        let x = [1.0, 2.0, 10.0, 20.0];
        let w = [1.0, 2.0, 1.0, -1.0]; // w[c=0] = [1,2], w[c=1] = [1,-1]
        let y = forward(&s, &x, &w, &[0.0, 100.0]);
        assert_eq!(y, vec![11.0, 22.0, 92.0, 84.0]);
    }

    #[test]
    fn conv_transpose2d_backward_hand_computed() {
        let s = mk(1, 1, 2, 2, 1, 2, 1, 0, 0);
        let x = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, 2.0, 3.0, 4.0];
        #[rustfmt::skip]
        let dy = [
            1.0, 0.0, 0.0,
            0.0, 1.0, 0.0,
            0.0, 0.0, 0.0,
        ];
        let mut dx = vec![f32::NAN; 4];
        conv_transpose2d_backward_input(&s, &dy, &w, &mut dx);
        // dx[iy][ix] = sum_k dy[iy+ky][ix+kx] * w[ky][kx].
        assert_eq!(dx, vec![5.0, 3.0, 2.0, 1.0]);
        let mut dw = vec![f32::NAN; 4];
        conv_transpose2d_backward_weight(&s, &x, &dy, &mut dw);
        // dw[ky][kx] = sum_i x[iy][ix] * dy[iy+ky][ix+kx].
        assert_eq!(dw, vec![5.0, 3.0, 2.0, 1.0]);
    }

    #[test]
    fn conv_transpose2d_backward_input_matches_finite_differences() {
        for (i, s) in shapes().iter().enumerate() {
            s.validate().unwrap();
            let seed = 4 * (50 + i as u64);
            let (x, w, b, g) = (
                random_vec(s.x_len(), seed),
                random_vec(s.w_len(), seed + 1),
                random_vec(s.o, seed + 2),
                random_vec(s.y_len(), seed + 3),
            );
            let mut dx = vec![f32::NAN; s.x_len()];
            conv_transpose2d_backward_input(s, &g, &w, &mut dx);
            check_gradient(&format!("dx {s:?}"), &x, &dx, 1e-2, |xp| {
                weighted_sum(&forward(s, xp, &w, &b), &g)
            });
        }
    }

    #[test]
    fn conv_transpose2d_backward_weight_matches_finite_differences() {
        for (i, s) in shapes().iter().enumerate() {
            let seed = 4 * (60 + i as u64);
            let (x, w, b, g) = (
                random_vec(s.x_len(), seed),
                random_vec(s.w_len(), seed + 1),
                random_vec(s.o, seed + 2),
                random_vec(s.y_len(), seed + 3),
            );
            let mut dw = vec![f32::NAN; s.w_len()];
            conv_transpose2d_backward_weight(s, &x, &g, &mut dw);
            check_gradient(&format!("dw {s:?}"), &w, &dw, 1e-2, |wp| {
                weighted_sum(&forward(s, &x, wp, &b), &g)
            });
        }
    }

    #[test]
    fn conv_transpose2d_bias_gradient_is_conv2d_backward_bias() {
        for (i, s) in shapes().iter().enumerate() {
            let seed = 4 * (70 + i as u64);
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

    #[test]
    fn conv_transpose2d_forward_is_conv2d_backward_input() {
        // The conv2d whose input has the transposed conv's output size maps back to the
        // transposed conv's input size; its input gradient uses the (C_t, O_t, K, K)
        // weight as (O_c, C_c, K, K), the same memory.
        for (i, t) in shapes().iter().enumerate() {
            let conv = Conv2dShape {
                n: t.n,
                c: t.o,
                h: t.out_h(),
                w: t.out_w(),
                o: t.c,
                kh: t.kh,
                kw: t.kw,
                stride: t.stride,
                pad: t.pad,
            };
            conv.validate().unwrap();
            assert_eq!((conv.out_h(), conv.out_w()), (t.h, t.w), "{t:?}");
            let seed = 4 * (80 + i as u64);
            let (x, w) = (random_vec(t.x_len(), seed), random_vec(t.w_len(), seed + 1));
            let y = forward(t, &x, &w, &vec![0.0; t.o]);
            let mut dx = vec![f32::NAN; conv.x_len()];
            conv2d_backward_input(&conv, &x, &w, &mut dx);
            for (j, (a, b)) in y.iter().zip(&dx).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                    "{t:?} [{j}]: {a} vs {b}"
                );
            }
        }
    }
}
