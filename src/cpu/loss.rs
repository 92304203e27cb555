//! Reference for `shaders/loss.wgsl`. Both losses are means over every element, as
//! PyTorch's `MSELoss()` and `BCELoss()` with the default reduction.

// y (L), t (L) -> loss
pub fn mse_forward(y: &[f32], t: &[f32]) -> f32 {
    let sum: f64 = y
        .iter()
        .zip(t)
        .map(|(&y, &t)| (y as f64 - t as f64).powi(2))
        .sum();
    (sum / y.len() as f64) as f32
}

// y (L), t (L) -> dy (L)
pub fn mse_backward(y: &[f32], t: &[f32], dy: &mut [f32]) {
    let n = y.len() as f64;
    for ((dy, &y), &t) in dy.iter_mut().zip(y).zip(t) {
        *dy = (2.0 * (y as f64 - t as f64) / n) as f32;
    }
}

/// One element's BCE, each log clamped at -100 as PyTorch does, so y = 0 or 1 stays finite.
fn bce_term(y: f64, t: f64) -> f64 {
    -(t * y.ln().max(-100.0) + (1.0 - t) * (1.0 - y).ln().max(-100.0))
}

// y (L), t (L) -> loss
pub fn bce_forward(y: &[f32], t: &[f32]) -> f32 {
    let sum: f64 = y
        .iter()
        .zip(t)
        .map(|(&y, &t)| bce_term(y as f64, t as f64))
        .sum();
    (sum / y.len() as f64) as f32
}

// y (L), t (L) -> dy (L)
pub fn bce_backward(y: &[f32], t: &[f32], dy: &mut [f32]) {
    let n = y.len() as f64;
    for ((dy, &y), &t) in dy.iter_mut().zip(y).zip(t) {
        let (y, t) = (y as f64, t as f64);
        *dy = ((y - t) / (y * (1.0 - y)).max(1e-12) / n) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check_gradient, random_vec};

    #[test]
    fn hand_computed_values() {
        assert_eq!(mse_forward(&[1.0, 3.0], &[0.0, 1.0]), 2.5);
        let bce = bce_forward(&[0.5, 0.5], &[1.0, 0.0]);
        assert!((bce as f64 - std::f64::consts::LN_2).abs() < 1e-7);
        // The clamp keeps a confident wrong answer finite: -log(0) becomes 100.
        assert_eq!(bce_forward(&[0.0], &[1.0]), 100.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Predictions inside (0.1, 0.9), where BCE is smooth; targets in [0, 1].
        let y: Vec<f32> = random_vec(12, 1).iter().map(|v| 0.5 + 0.4 * v).collect();
        let t: Vec<f32> = random_vec(12, 2).iter().map(|v| 0.5 + 0.5 * v).collect();
        let mut dy = vec![0.0; 12];
        mse_backward(&y, &t, &mut dy);
        check_gradient("mse_backward", &y, &dy, 1e-2, |y| mse_forward(y, &t) as f64);
        bce_backward(&y, &t, &mut dy);
        // BCE curves sharply near y = 0.1 (|f'''| ~ 2/y^3 per term): a step of 1e-2 leaves a
        // truncation error of about 0.8 of the tolerance, 1e-3 a hundredth of that, while the
        // f32 rounding of the loss that the smaller step magnifies stays near 2% of it.
        check_gradient("bce_backward", &y, &dy, 1e-3, |y| bce_forward(y, &t) as f64);
    }
}
