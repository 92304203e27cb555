//! Reference for `shaders/latent.wgsl`: the reparameterisation with its KL term, and the
//! L1 penalty. ε is drawn from the same uniforms as the kernel's, in f32 with the same
//! operations, so the two differ only by their log, sqrt, cos and exp.

use crate::cpu::elementwise::act_backward;
use crate::cpu::noise::counter_draw;
use crate::ops::latent::EPS_DOMAIN;
use crate::ops::Activation;
use crate::ops::LOSS_CHUNK;

/// 2⁻²⁴: a 24-bit draw to a uniform in [0, 1).
const UNIT: f32 = 5.960_464_5e-8;

/// ε for element `counter` of stream `key[1]` under seed `key[0]`: Box–Muller on u1 in
/// (0, 1] and u2 in [0, 1), each 24 bits of one word of the counter-based generator, with
/// the shader's own polynomial log and cos (`ln_unit`, `cos_turns`), computed in f32 in
/// the shader's order: ε then differs between backends only by rounding, whatever
/// accuracy a driver gives WGSL's builtins.
pub fn standard_normal(key: &[u32], counter: u32) -> f32 {
    let seed = key[0] ^ EPS_DOMAIN;
    let u1 = ((counter_draw(seed, key[1], counter, 0) >> 8) + 1) as f32 * UNIT;
    let u2 = (counter_draw(seed, key[1], counter, 1) >> 8) as f32 * UNIT;
    (-2.0 * ln_unit(u1)).sqrt() * -cos_turns(u2)
}

/// ln(u) for u in (0, 1], as shaders/latent.wgsl computes it: u = m·2^e with m in
/// [√½, √2), then ln m = 2·atanh(s), s = (m − 1)/(m + 1), by its series to s¹⁵.
fn ln_unit(u: f32) -> f32 {
    let bits = u.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut series = 1.0 / 15.0;
    for k in [13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0f32] {
        series = series * s2 + 1.0 / k;
    }
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * series
}

/// cos(2π·t) for t in [0, 1), as shaders/latent.wgsl computes it: folded to an angle in
/// [0, π/2], then the Taylor series to the θ¹⁶ term.
fn cos_turns(t: f32) -> f32 {
    let mut a = (t - t.round_ties_even()).abs();
    let mut sign = 1.0;
    if a > 0.25 {
        a = 0.5 - a;
        sign = -1.0;
    }
    let x = std::f32::consts::TAU * a;
    let x2 = x * x;
    let mut c = 1.0 / 20_922_789_888_000.0;
    for k in [
        87_178_291_200.0,
        479_001_600.0,
        3_628_800.0,
        40_320.0,
        720.0,
        24.0,
        2.0,
        1.0f32,
    ] {
        c = c * -x2 + 1.0 / k;
    }
    sign * c
}

/// μ and log σ² of element i = n·L + j: the heads' product with its bias.
fn heads(h: &[f32], b: &[f32], latent: usize, i: usize) -> (f32, f32) {
    let (n, j) = (i / latent, i % latent);
    let row = n * 2 * latent;
    (h[row + j] + b[j], h[row + latent + j] + b[latent + j])
}

/// One element's KL(N(μ, σ²) ‖ N(0, 1)), with s = σ = exp(½·log σ²).
fn kl_term(mu: f32, logvar: f32, s: f32) -> f32 {
    -0.5 * (1.0 + logvar - mu * mu - s * s)
}

// h (R,2L), b (2L), key (2) -> z (R,L), mu (R,L), totals (⌈R·L/256⌉) += the KL terms
#[allow(clippy::too_many_arguments)]
pub fn reparam_kl_forward(
    latent: usize,
    batch_start: usize,
    h: &[f32],
    b: &[f32],
    key: &[u32],
    z: &mut [f32],
    mu: &mut [f32],
    totals: &mut [f32],
) {
    let mut kl = vec![0.0f64; z.len()];
    for i in 0..z.len() {
        let (m, logvar) = heads(h, b, latent, i);
        let s = (0.5 * logvar).exp();
        let eps = standard_normal(key, (batch_start * latent + i) as u32);
        z[i] = m + s * eps;
        mu[i] = m;
        kl[i] = kl_term(m, logvar, s) as f64;
    }
    for (total, chunk) in totals.iter_mut().zip(kl.chunks(LOSS_CHUNK)) {
        *total += chunk.iter().sum::<f64>() as f32;
    }
}

// h (R,2L), b (2L), key (2), dz (R,L) -> dh (R,2L)
#[allow(clippy::too_many_arguments)]
pub fn reparam_kl_backward(
    latent: usize,
    batch_start: usize,
    beta: f32,
    h: &[f32],
    b: &[f32],
    key: &[u32],
    dz: &[f32],
    dh: &mut [f32],
) {
    let rows = dz.len() / latent;
    let scale = beta / rows as f32;
    for (i, &g) in dz.iter().enumerate() {
        let (m, logvar) = heads(h, b, latent, i);
        let s = (0.5 * logvar).exp();
        let eps = standard_normal(key, (batch_start * latent + i) as u32);
        let row = (i / latent) * 2 * latent;
        let j = i % latent;
        dh[row + j] = g + scale * m;
        dh[row + latent + j] = 0.5 * g * eps * s + 0.5 * scale * (s * s - 1.0);
    }
}

/// The KL term of the whole batch, summed over every element: what the forward's totals
/// add up to (for the finite-difference check of the backward).
pub fn kl_sum(latent: usize, h: &[f32], b: &[f32]) -> f64 {
    (0..h.len() / 2)
        .map(|i| {
            let (m, logvar) = heads(h, b, latent, i);
            kl_term(m, logvar, (0.5 * logvar).exp()) as f64
        })
        .sum()
}

// a (R,C), dy (R,C) -> dz (R,C) = dy + act'·λ·sign(a)/R, totals (⌈R·C/256⌉) += Σ|a|
pub fn l1_backward(
    rows: usize,
    lambda: f32,
    act: Option<Activation>,
    a: &[f32],
    dy: &[f32],
    dz: &mut [f32],
    totals: &mut [f32],
) {
    // sign(0) = 0, as WGSL's sign and torch.sign give.
    let push: Vec<f32> = a
        .iter()
        .map(|&v| match v == 0.0 {
            true => 0.0,
            false => lambda / rows as f32 * v.signum(),
        })
        .collect();
    let mut through = push.clone();
    if let Some(act) = act {
        act_backward(act, a, &push, &mut through);
    }
    for ((dz, &dy), &t) in dz.iter_mut().zip(dy).zip(&through) {
        *dz = dy + t;
    }
    for (total, chunk) in totals.iter_mut().zip(a.chunks(LOSS_CHUNK)) {
        *total += chunk.iter().map(|v| v.abs() as f64).sum::<f64>() as f32;
    }
}

// h (R,2L), b (2L), scores (R) -> scores (R) += β·KL of each row
pub fn kl_scores(latent: usize, beta: f32, h: &[f32], b: &[f32], scores: &mut [f32]) {
    for (r, score) in scores.iter_mut().enumerate() {
        let kl: f64 = (0..latent)
            .map(|j| {
                let (m, logvar) = heads(h, b, latent, r * latent + j);
                kl_term(m, logvar, (0.5 * logvar).exp()) as f64
            })
            .sum();
        *score = (*score as f64 + beta as f64 * kl) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check_gradient, random_vec};

    #[test]
    fn the_polynomial_log_and_cos_are_std_s_to_a_few_ulps() {
        for i in 1..=1 << 12 {
            let u = i as f32 / 4096.0;
            let (ours, std) = (ln_unit(u) as f64, (u as f64).ln());
            assert!(
                (ours - std).abs() <= 4e-7 * std.abs().max(1.0),
                "ln {u}: {ours} vs {std}"
            );
            let t = (i - 1) as f32 / 4096.0;
            let (ours, std) = (
                cos_turns(t) as f64,
                (std::f64::consts::TAU * t as f64).cos(),
            );
            assert!((ours - std).abs() <= 4e-7, "cos turns {t}: {ours} vs {std}");
        }
        assert_eq!(ln_unit(1.0), 0.0);
        // Near 1, where an absolute error would be all of the value.
        let u = 1.0 - 5.960_464_5e-8f32;
        assert!((ln_unit(u) as f64 / (u as f64).ln() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn epsilon_is_a_standard_normal() {
        let key = [11, 4];
        let n = 200_000u32;
        let draws: Vec<f64> = (0..n).map(|i| standard_normal(&key, i) as f64).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = draws.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
        // Another stream, and the noise family's draws of the same key, are other numbers.
        assert_ne!(standard_normal(&key, 5), standard_normal(&[11, 5], 5));
        assert!(draws.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn hand_computed_sample_and_kl() {
        // log σ² = 0 and μ = 0: z = ε, KL = 0; μ = 1: KL = ½ per element.
        let (h, b) = (vec![0.0, 0.0, 1.0, 0.0], vec![0.0, 0.0]);
        let (mut z, mut mu, mut totals) = (vec![0.0; 2], vec![0.0; 2], vec![0.5]);
        reparam_kl_forward(1, 3, &h, &b, &[1, 2], &mut z, &mut mu, &mut totals);
        assert_eq!(z[0], standard_normal(&[1, 2], 3));
        assert_eq!(z[1], 1.0 + standard_normal(&[1, 2], 4));
        assert_eq!(mu, [0.0, 1.0]);
        assert_eq!(totals, [1.0]);
    }

    /// The backward is the gradient of Σ z·w + β·KL/R for a fixed ε, by finite differences
    /// in each of h's elements (and so in μ and log σ²).
    #[test]
    fn reparam_backward_matches_finite_differences() {
        let (rows, latent, beta) = (3, 2, 0.7f32);
        let key = [5u32, 9];
        let h = random_vec(2 * rows * latent, 1);
        let b = random_vec(2 * latent, 2);
        let w = random_vec(rows * latent, 3);
        let mut dh = vec![0.0; h.len()];
        reparam_kl_backward(latent, 7, beta, &h, &b, &key, &w, &mut dh);
        check_gradient("reparam_kl_backward", &h, &dh, 1e-2, |h| {
            let (mut z, mut mu, mut t) = (vec![0.0; w.len()], vec![0.0; w.len()], vec![0.0]);
            reparam_kl_forward(latent, 7, h, &b, &key, &mut z, &mut mu, &mut t);
            let dot: f64 = z.iter().zip(&w).map(|(z, w)| (z * w) as f64).sum();
            dot + beta as f64 * kl_sum(latent, h, &b) / rows as f64
        });
    }

    /// Away from zero, where |a| is smooth, the subgradient is the gradient of
    /// λ·Σ|act(x)|/R in the pre-activation x, plus what dy brings.
    #[test]
    fn l1_backward_matches_finite_differences() {
        use crate::cpu::elementwise::act_forward;
        let (rows, cols, lambda) = (2, 5, 0.3f32);
        // Pre-activations away from 0, so no ReLU or |a| kink lies within a step.
        let x: Vec<f32> = random_vec(rows * cols, 4)
            .iter()
            .map(|v| v.signum() * (0.2 + v.abs()))
            .collect();
        for act in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
            let mut a = vec![0.0; x.len()];
            act_forward(act, &x, &mut a);
            let zero = vec![0.0; x.len()];
            let (mut dz, mut totals) = (vec![0.0; x.len()], vec![0.0]);
            l1_backward(rows, lambda, Some(act), &a, &zero, &mut dz, &mut totals);
            let sum: f32 = a.iter().map(|v| v.abs()).sum();
            assert!((totals[0] - sum).abs() <= 1e-6 * sum, "{act:?} totals");
            check_gradient("l1_backward", &x, &dz, 1e-3, |x| {
                let mut a = vec![0.0; x.len()];
                act_forward(act, x, &mut a);
                a.iter().map(|v| v.abs() as f64).sum::<f64>() * lambda as f64 / rows as f64
            });
        }
        // A plain code: dz = dy + λ·sign(a)/R, with sign(0) = 0.
        let a = [1.5, -2.0, 0.0];
        let (mut dz, mut totals) = (vec![0.0; 3], vec![1.0]);
        l1_backward(1, 0.5, None, &a, &[1.0, 1.0, 1.0], &mut dz, &mut totals);
        assert_eq!(dz, [1.5, 0.5, 1.0]);
        assert_eq!(totals, [4.5]);
    }
}
