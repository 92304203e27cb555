//! Reference for `shaders/matmul.wgsl`.

use crate::ops::MatmulShape;

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
}
