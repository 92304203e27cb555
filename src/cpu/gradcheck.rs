//! Finite-difference checking of the reference backward functions.

/// Seeded values in [-1, 1), so that checks are reproducible.
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// L = Σ y·g, accumulated in f64 so the loss adds no rounding of its own: the usual way to
/// turn a forward with many outputs into a scalar whose gradient is the backward given `g`.
pub fn weighted_sum(y: &[f32], g: &[f32]) -> f64 {
    assert_eq!(y.len(), g.len(), "weighted_sum: lengths");
    y.iter().zip(g).map(|(&y, &g)| y as f64 * g as f64).sum()
}

/// Checks `analytic` against central differences of `loss` around `x`, element by element,
/// with step `eps`, and panics on the first element where
/// |analytic − numeric| > 1e-3·(1 + |numeric|).
///
/// The quotient divides by the perturbation actually applied after rounding `x ± eps` to
/// f32, not by 2·eps, so that rounding adds no error. What remains is the f32 rounding of
/// the forward (about 1e-7 relative, divided by the 2·eps step) and the central
/// difference's truncation error (eps²/6 times the third derivative). Linear and piecewise
/// linear forwards have no truncation error away from their kinks, so a step of 1e-2 keeps
/// the rounding part near 1e-5, far inside the tolerance; a caller whose forward switches
/// branch (max pooling, ReLU) must keep its inputs further than `eps` from the switch, and
/// one whose forward is curved must pick `eps` so that eps²/6·|f'''| stays well below it.
pub fn check_gradient(
    name: &str,
    x: &[f32],
    analytic: &[f32],
    eps: f32,
    mut loss: impl FnMut(&[f32]) -> f64,
) {
    assert_eq!(x.len(), analytic.len(), "{name}: gradient length");
    let mut p = x.to_vec();
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        p[i] = x[i] + eps;
        let plus = loss(&p);
        p[i] = x[i] - eps;
        let minus = loss(&p);
        p[i] = x[i];
        // The perturbation actually applied, after rounding to f32.
        let h = (x[i] + eps) as f64 - (x[i] - eps) as f64;
        let numeric = (plus - minus) / h;
        let err = (numeric - analytic[i] as f64).abs();
        let tol = 1e-3 * (1.0 + numeric.abs());
        assert!(
            err <= tol,
            "{name}: element {i}: analytic {} vs numeric {numeric} (error {err:.3e} > {tol:.3e})",
            analytic[i]
        );
        worst = worst.max(err);
    }
    assert!(worst.is_finite(), "{name}: non-finite error");
}
