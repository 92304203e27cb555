//! Finite-difference checking of the reference backward functions.

/// Seeded values in [-1, 1), so that checks are reproducible.
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Checks `analytic` against central differences of `loss` around `x`, element by element.
/// `loss` is evaluated in f64 from the f32 forward; a step of 1e-2 keeps the f32 rounding
/// of the forward (about 1e-7 relative) far below the difference being measured, and the
/// forwards checked here are piecewise linear or smooth enough for that step.
pub fn check_gradient(name: &str, x: &[f32], analytic: &[f32], loss: impl Fn(&[f32]) -> f64) {
    assert_eq!(x.len(), analytic.len(), "{name}: gradient length");
    let eps = 1e-2f32;
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        let mut plus = x.to_vec();
        plus[i] += eps;
        let mut minus = x.to_vec();
        minus[i] -= eps;
        let numeric = (loss(&plus) - loss(&minus)) / (plus[i] as f64 - minus[i] as f64);
        let err = (numeric - analytic[i] as f64).abs();
        let tol = 2e-3 + 2e-3 * numeric.abs();
        assert!(
            err <= tol,
            "{name}: element {i}: analytic {} vs numeric {numeric} (error {err:.3e} > {tol:.3e})",
            analytic[i]
        );
        worst = worst.max(err);
    }
    assert!(worst.is_finite(), "{name}: non-finite error");
}
