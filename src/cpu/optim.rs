//! Reference for `shaders/optim.wgsl`.

use crate::ops::AdamConfig;

// grad (L) -> param (L), m (L), v (L), updated in place for step t (bias corrections given)
pub fn adam_update(
    cfg: &AdamConfig,
    bias_corrections: (f32, f32),
    grad: &[f32],
    param: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let (b1, b2) = (cfg.beta1 as f64, cfg.beta2 as f64);
    let (bc1, bc2) = (bias_corrections.0 as f64, bias_corrections.1 as f64);
    for i in 0..grad.len() {
        let g = grad[i] as f64;
        let m_new = b1 * m[i] as f64 + (1.0 - b1) * g;
        let v_new = b2 * v[i] as f64 + (1.0 - b2) * g * g;
        m[i] = m_new as f32;
        v[i] = v_new as f32;
        let denom = v_new.sqrt() / bc2.sqrt() + cfg.eps as f64;
        param[i] = (param[i] as f64 - (cfg.lr as f64 / bc1) * m_new / denom) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_lr_against_the_gradient_sign() {
        // At t = 1, m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
        let cfg = AdamConfig::new(0.1);
        let grad = [0.5, -2.0, 0.0];
        let mut param = [1.0, 1.0, 1.0];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        adam_update(
            &cfg,
            cfg.bias_corrections(1),
            &grad,
            &mut param,
            &mut m,
            &mut v,
        );
        assert!((param[0] - 0.9).abs() < 1e-6);
        assert!((param[1] - 1.1).abs() < 1e-6);
        assert_eq!(param[2], 1.0);
        assert!((m[0] - 0.05).abs() < 1e-7 && (v[1] - 0.004).abs() < 1e-7);
    }
}
