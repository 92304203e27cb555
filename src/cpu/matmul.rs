//! Reference for the matmul ladder, `shaders/matmul/`. The fused entry points are compositions of the
//! plain product and the elementwise references, so that they mean exactly what the ops
//! they replace mean.

use crate::cpu::elementwise::{act_backward, act_forward, bias_backward, bias_forward};
use crate::ops::{Activation, MatmulShape};

/// Element (row, col) of op(A).
fn a_at(s: &MatmulShape, a: &[f32], row: usize, col: usize) -> f32 {
    if s.trans_a {
        a[col * s.m + row]
    } else {
        a[row * s.k + col]
    }
}

/// Element (row, col) of op(B).
fn b_at(s: &MatmulShape, b: &[f32], row: usize, col: usize) -> f32 {
    if s.trans_b {
        b[col * s.k + row]
    } else {
        b[row * s.n + col]
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N)
pub fn matmul(s: &MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    debug_assert_eq!(a.len(), s.a_len());
    debug_assert_eq!(b.len(), s.b_len());
    debug_assert_eq!(c.len(), s.c_len());
    for row in 0..s.m {
        for col in 0..s.n {
            let mut acc = 0.0f64;
            for kk in 0..s.k {
                acc += a_at(s, a, row, kk) as f64 * b_at(s, b, kk, col) as f64;
            }
            c[row * s.n + col] = acc as f32;
        }
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K), bias (N) -> c (M,N)
pub fn matmul_bias_act(
    s: &MatmulShape,
    act: Activation,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
) {
    let mut product = vec![0.0; s.c_len()];
    matmul(s, a, b, &mut product);
    let mut z = vec![0.0; s.c_len()];
    bias_forward(s.n, &product, bias, &mut z);
    act_forward(act, &z, c);
}

// a (M,K) or (K,M), b (K,N) or (N,K), y (M,N) -> c (M,N)
pub fn matmul_act_backward(
    s: &MatmulShape,
    act: Activation,
    a: &[f32],
    b: &[f32],
    y: &[f32],
    c: &mut [f32],
) {
    let mut product = vec![0.0; s.c_len()];
    matmul(s, a, b, &mut product);
    act_backward(act, y, &product, c);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N), db (M)
pub fn matmul_bias_backward(s: &MatmulShape, a: &[f32], b: &[f32], c: &mut [f32], db: &mut [f32]) {
    matmul(s, a, b, c);
    // db sums op(A) over K: the bias gradient of A = dy stored (K,M), as bias_backward
    // sums it; a stored (M,K) is laid out that way first.
    let dy: Vec<f32> = if s.trans_a {
        a.to_vec()
    } else {
        (0..s.k)
            .flat_map(|kk| (0..s.m).map(move |row| a[row * s.k + kk]))
            .collect()
    };
    bias_backward(s.k, s.m, &dy, db);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_hand_computed() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [0.0; 4];
        matmul(&MatmulShape::new(2, 3, 2), &a, &b, &mut c);
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
    }

    #[test]
    fn transposed_storage_gives_the_same_product() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // (2,3)
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]; // stored (3,2)
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]; // (3,2)
        let bt = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0]; // stored (2,3)
        for (ta, tb) in [(false, true), (true, false), (true, true)] {
            let s = MatmulShape {
                trans_a: ta,
                trans_b: tb,
                ..MatmulShape::new(2, 3, 2)
            };
            let mut c = [0.0; 4];
            matmul(
                &s,
                if ta { &at } else { &a },
                if tb { &bt } else { &b },
                &mut c,
            );
            assert_eq!(c, [58.0, 64.0, 139.0, 154.0], "trans_a {ta} trans_b {tb}");
        }
    }

    /// The Linear layer's gradients are matmuls with transposes; check them by finite
    /// differences of L = Σ g ⊙ (x · Wᵀ).
    #[test]
    fn linear_gradients_match_finite_differences() {
        use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};
        let (batch, inp, out) = (3, 5, 4);
        let x = random_vec(batch * inp, 1);
        let w = random_vec(out * inp, 2);
        let g = random_vec(batch * out, 3);
        let forward = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(batch, inp, out)
        };
        let loss = |x: &[f32], w: &[f32]| {
            let mut y = vec![0.0; batch * out];
            matmul(&forward, x, w, &mut y);
            weighted_sum(&y, &g)
        };
        // dx = g · W
        let mut dx = vec![0.0; batch * inp];
        matmul(&MatmulShape::new(batch, out, inp), &g, &w, &mut dx);
        check_gradient("matmul backward_input", &x, &dx, 1e-2, |x| loss(x, &w));
        // dW = gᵀ · x
        let mut dw = vec![0.0; out * inp];
        let s = MatmulShape {
            trans_a: true,
            ..MatmulShape::new(out, batch, inp)
        };
        matmul(&s, &g, &x, &mut dw);
        check_gradient("matmul backward_weight", &w, &dw, 1e-2, |w| loss(&x, w));
    }

    /// The fused backward products are the gradients of the fused forward: with
    /// L = Σ g ⊙ act(x·Wᵀ + b), dW and db come from matmul_bias_backward of
    /// g ⊙ act'(y), and with L = Σ g ⊙ (act(h)·Wᵀ), dh from matmul_act_backward.
    #[test]
    fn fused_gradients_match_finite_differences() {
        use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};
        let (batch, inp, out) = (3, 5, 4);
        // Pre-activations kept away from ReLU's kink, where the difference quotient is
        // not the slope.
        let h: Vec<f32> = random_vec(batch * inp, 1)
            .into_iter()
            .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
            .collect();
        let w = random_vec(out * inp, 2);
        let g = random_vec(batch * out, 3);
        let forward = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(batch, inp, out)
        };
        for act in Activation::ALL {
            let activate = |h: &[f32]| {
                let mut y = vec![0.0; h.len()];
                act_forward(act, h, &mut y);
                y
            };
            // dh = (g · W) ⊙ act'(act(h))
            let y = activate(&h);
            let mut dh = vec![0.0; batch * inp];
            matmul_act_backward(&MatmulShape::new(batch, out, inp), act, &g, &w, &y, &mut dh);
            check_gradient("matmul_act_backward", &h, &dh, 1e-3, |h| {
                let mut z = vec![0.0; batch * out];
                matmul(&forward, &activate(h), &w, &mut z);
                weighted_sum(&z, &g)
            });

            // dW = dzᵀ · x and db = Σ dz, dz = g ⊙ act'(act(x·Wᵀ + b))
            let b = random_vec(out, 4);
            let loss = |w: &[f32], b: &[f32]| {
                let mut z = vec![0.0; batch * out];
                matmul_bias_act(&forward, act, &y, w, b, &mut z);
                weighted_sum(&z, &g)
            };
            let mut z = vec![0.0; batch * out];
            matmul_bias_act(&forward, act, &y, &w, &b, &mut z);
            let mut dz = vec![0.0; batch * out];
            act_backward(act, &z, &g, &mut dz);
            let s = MatmulShape {
                trans_a: true,
                ..MatmulShape::new(out, batch, inp)
            };
            let (mut dw, mut db) = (vec![0.0; out * inp], vec![0.0; out]);
            matmul_bias_backward(&s, &dz, &y, &mut dw, &mut db);
            check_gradient("matmul_bias_backward dW", &w, &dw, 1e-3, |w| loss(w, &b));
            check_gradient("matmul_bias_backward db", &b, &db, 1e-3, |b| loss(&w, b));
        }
    }

    #[test]
    fn bias_backward_sums_op_a_whatever_its_layout() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // op(A) (2,3) stored (2,3)
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]; // the same op(A) stored (3,2)
        let b = [1.0; 3];
        for (trans_a, stored) in [(false, &a), (true, &at)] {
            let s = MatmulShape {
                trans_a,
                ..MatmulShape::new(2, 3, 1)
            };
            let (mut c, mut db) = ([0.0; 2], [0.0; 2]);
            matmul_bias_backward(&s, stored, &b, &mut c, &mut db);
            assert_eq!(db, [6.0, 15.0], "trans_a {trans_a}");
            assert_eq!(c, [6.0, 15.0]);
        }
    }
}
