//! Reference for `shaders/elementwise.wgsl`.

use crate::ops::Activation;

// x (R,C), b (C) -> y (R,C)
pub fn bias_forward(cols: usize, x: &[f32], b: &[f32], y: &mut [f32]) {
    debug_assert_eq!(b.len(), cols);
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        *y = x + b[i % cols];
    }
}

// dy (R,C) -> db (C)
pub fn bias_backward(rows: usize, cols: usize, dy: &[f32], db: &mut [f32]) {
    debug_assert_eq!(dy.len(), rows * cols);
    for (col, db) in db.iter_mut().enumerate() {
        let sum: f64 = (0..rows).map(|r| dy[r * cols + col] as f64).sum();
        *db = sum as f32;
    }
}

// x (L) -> y (L); a NaN stays NaN, as in PyTorch (f32::max would drop it)
pub fn relu_forward(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x.is_nan() { x } else { x.max(0.0) };
    }
}

// y (L), dy (L) -> dx (L)
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *dx = if y > 0.0 { dy } else { 0.0 };
    }
}

// x (L) -> y (L)
pub fn sigmoid_forward(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (1.0 / (1.0 + (-(x as f64)).exp())) as f32;
    }
}

// y (L), dy (L) -> dx (L)
pub fn sigmoid_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *dx = (dy as f64 * y as f64 * (1.0 - y as f64)) as f32;
    }
}

// x (L) -> y (L)
pub fn tanh_forward(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x as f64).tanh() as f32;
    }
}

// y (L), dy (L) -> dx (L)
pub fn tanh_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *dx = (dy as f64 * (1.0 - y as f64 * y as f64)) as f32;
    }
}

// x (L) -> y (L)
pub fn identity_forward(x: &[f32], y: &mut [f32]) {
    y.copy_from_slice(x);
}

// y (L), dy (L) -> dx (L)
pub fn identity_backward(_y: &[f32], dy: &[f32], dx: &mut [f32]) {
    dx.copy_from_slice(dy);
}

// x (L) -> y (L): the forward of the activation (relu_forward, sigmoid_forward, …)
pub fn act_forward(act: Activation, x: &[f32], y: &mut [f32]) {
    match act {
        Activation::Relu => relu_forward(x, y),
        Activation::Sigmoid => sigmoid_forward(x, y),
        Activation::Tanh => tanh_forward(x, y),
        Activation::Identity => identity_forward(x, y),
    }
}

// y (L), dy (L) -> dx (L): the backward of the activation, from its output
pub fn act_backward(act: Activation, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    match act {
        Activation::Relu => relu_backward(y, dy, dx),
        Activation::Sigmoid => sigmoid_backward(y, dy, dx),
        Activation::Tanh => tanh_backward(y, dy, dx),
        Activation::Identity => identity_backward(y, dy, dx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check_gradient, random_vec, weighted_sum};

    #[test]
    fn hand_computed_values() {
        let mut y = [0.0; 4];
        bias_forward(2, &[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0], &mut y);
        assert_eq!(y, [11.0, 22.0, 13.0, 24.0]);
        let mut db = [0.0; 2];
        bias_backward(2, 2, &[1.0, 2.0, 3.0, 4.0], &mut db);
        assert_eq!(db, [4.0, 6.0]);
        let mut r = [0.0; 4];
        relu_forward(&[-1.0, 0.0, 2.5, f32::NAN], &mut r);
        assert_eq!(r[..3], [0.0, 0.0, 2.5]);
        assert!(r[3].is_nan());
        let mut s = [0.0; 1];
        sigmoid_forward(&[0.0], &mut s);
        assert_eq!(s, [0.5]);
        let mut t = [0.0; 3];
        tanh_forward(&[0.0, 20.0, -20.0], &mut t);
        assert_eq!(t, [0.0, 1.0, -1.0]);
    }

    #[test]
    fn bias_backward_matches_finite_differences() {
        let (rows, cols) = (4, 3);
        let x = random_vec(rows * cols, 1);
        let b = random_vec(cols, 2);
        let g = random_vec(rows * cols, 3);
        let mut db = vec![0.0; cols];
        bias_backward(rows, cols, &g, &mut db);
        check_gradient("bias_backward", &b, &db, 1e-2, |b| {
            let mut y = vec![0.0; rows * cols];
            bias_forward(cols, &x, b, &mut y);
            weighted_sum(&y, &g)
        });
    }

    #[test]
    fn activation_backwards_match_finite_differences() {
        // Keep ReLU inputs away from the kink, where the difference quotient is not the slope.
        let x: Vec<f32> = random_vec(20, 4)
            .into_iter()
            .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
            .collect();
        let g = random_vec(20, 5);
        type Forward = fn(&[f32], &mut [f32]);
        type Backward = fn(&[f32], &[f32], &mut [f32]);
        let cases: [(&str, Forward, Backward); 4] = [
            ("relu_backward", relu_forward, relu_backward),
            ("sigmoid_backward", sigmoid_forward, sigmoid_backward),
            ("tanh_backward", tanh_forward, tanh_backward),
            ("identity_backward", identity_forward, identity_backward),
        ];
        for (name, forward, backward) in cases {
            let mut y = vec![0.0; x.len()];
            forward(&x, &mut y);
            let mut dx = vec![0.0; x.len()];
            backward(&y, &g, &mut dx);
            check_gradient(name, &x, &dx, 1e-2, |x| {
                let mut y = vec![0.0; x.len()];
                forward(x, &mut y);
                weighted_sum(&y, &g)
            });
        }
    }
}
