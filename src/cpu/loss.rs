//! Reference for `shaders/loss.wgsl`. Both losses are means over every element, as
//! PyTorch's `MSELoss()` and `BCELoss()` with the default reduction; with `summed` set,
//! as the kernels have it, each row's sum averaged over the rows (`reduction='sum'`
//! divided by the batch), a VAE's reconstruction term.

use crate::cpu::elementwise::sigmoid_backward;
use crate::ops::LOSS_CHUNK;

// y (L), t (L) -> loss
pub fn mse_forward(y: &[f32], t: &[f32]) -> f32 {
    (term_sum(false, y, t) / y.len() as f64) as f32
}

// y (L), t (L) -> dy (L)
pub fn mse_backward(y: &[f32], t: &[f32], dy: &mut [f32]) {
    mse_backward_over(y.len(), y, t, dy)
}

/// The gradient of the sum of squared errors divided by `n`.
fn mse_backward_over(n: usize, y: &[f32], t: &[f32], dy: &mut [f32]) {
    let n = n as f64;
    for ((dy, &y), &t) in dy.iter_mut().zip(y).zip(t) {
        *dy = (2.0 * (y as f64 - t as f64) / n) as f32;
    }
}

/// One element's BCE, each log clamped at -100 as PyTorch does, so y = 0 or 1 stays finite.
fn bce_term(y: f64, t: f64) -> f64 {
    -(t * y.ln().max(-100.0) + (1.0 - t) * (1.0 - y).ln().max(-100.0))
}

/// Every element's loss term (a squared error, or a cross-entropy), summed in f64.
fn term_sum(bce: bool, y: &[f32], t: &[f32]) -> f64 {
    y.iter()
        .zip(t)
        .map(|(&y, &t)| match bce {
            true => bce_term(y as f64, t as f64),
            false => (y as f64 - t as f64).powi(2),
        })
        .sum()
}

/// What a loss divides its terms by: every element, or, `summed`, the rows of `cols`.
fn denominator(summed: bool, cols: usize, len: usize) -> usize {
    match summed {
        true => (len / cols.max(1)).max(1),
        false => len,
    }
}

// y (L), t (L) -> loss
pub fn bce_forward(y: &[f32], t: &[f32]) -> f32 {
    (term_sum(true, y, t) / y.len() as f64) as f32
}

// y (L), t (L) -> dy (L)
pub fn bce_backward(y: &[f32], t: &[f32], dy: &mut [f32]) {
    bce_backward_over(y.len(), y, t, dy)
}

/// The gradient of the sum of cross-entropies divided by `n`.
fn bce_backward_over(n: usize, y: &[f32], t: &[f32], dy: &mut [f32]) {
    let n = n as f64;
    for ((dy, &y), &t) in dy.iter_mut().zip(y).zip(t) {
        let (y, t) = (y as f64, t as f64);
        *dy = ((y - t) / (y * (1.0 - y)).max(1e-12) / n) as f32;
    }
}

/// The loss (`mse` or `bce`, its mean) as the kernels compute it: the mean, or, `summed`,
/// each row's sum averaged over the `rows` (the mean times `cols`, in f64).
pub fn loss_value(bce: bool, summed: bool, cols: usize, y: &[f32], t: &[f32]) -> f32 {
    (term_sum(bce, y, t) / denominator(summed, cols, y.len()) as f64) as f32
}

// y (R,C), t (R,C) -> dy (R,C): the gradient of the loss (mean, or summed: divided by R)
pub fn loss_backward(bce: bool, summed: bool, cols: usize, y: &[f32], t: &[f32], dy: &mut [f32]) {
    let n = denominator(summed, cols, y.len());
    match bce {
        true => bce_backward_over(n, y, t, dy),
        false => mse_backward_over(n, y, t, dy),
    }
}

// y (R,C), t (R,C) -> dz (R,C), totals += each chunk's terms (summed) through the Sigmoid
/// The fused loss through the output Sigmoid, summed: each chunk adds its terms undivided.
pub fn loss_sum_sigmoid_backward(
    bce: bool,
    cols: usize,
    y: &[f32],
    t: &[f32],
    dz: &mut [f32],
    totals: &mut [f32],
) {
    let mut dy = vec![0.0; y.len()];
    loss_backward(bce, true, cols, y, t, &mut dy);
    sigmoid_backward(y, &dy, dz);
    let forward = match bce {
        true => bce_forward,
        false => mse_forward,
    };
    add_chunk_totals(1, y, t, totals, forward);
}

/// totals[g] += the loss terms of chunk g (LOSS_CHUNK elements) summed, over `cols`: the
/// chunk's mean, as `forward` computes it, times its length.
fn add_chunk_totals(
    cols: usize,
    y: &[f32],
    t: &[f32],
    totals: &mut [f32],
    forward: fn(&[f32], &[f32]) -> f32,
) {
    for ((total, y), t) in totals
        .iter_mut()
        .zip(y.chunks(LOSS_CHUNK))
        .zip(t.chunks(LOSS_CHUNK))
    {
        *total += (forward(y, t) as f64 * y.len() as f64 / cols as f64) as f32;
    }
}

/// The fused loss through a linear output: dz is the loss's own gradient (the identity's
/// derivative is 1), summed or not.
pub fn loss_identity_backward(
    bce: bool,
    summed: bool,
    cols: usize,
    y: &[f32],
    t: &[f32],
    dz: &mut [f32],
    totals: &mut [f32],
) {
    let mut dy = vec![0.0; y.len()];
    loss_backward(bce, summed, cols, y, t, &mut dy);
    crate::cpu::elementwise::identity_backward(y, &dy, dz);
    let forward = match bce {
        true => bce_forward,
        false => mse_forward,
    };
    add_chunk_totals(if summed { 1 } else { cols }, y, t, totals, forward);
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's squared errors / cols
pub fn mse_identity_backward(
    cols: usize,
    y: &[f32],
    t: &[f32],
    dz: &mut [f32],
    totals: &mut [f32],
) {
    loss_identity_backward(false, false, cols, y, t, dz, totals);
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's cross-entropies / cols
pub fn bce_identity_backward(
    cols: usize,
    y: &[f32],
    t: &[f32],
    dz: &mut [f32],
    totals: &mut [f32],
) {
    loss_identity_backward(true, false, cols, y, t, dz, totals);
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's squared errors / cols
pub fn mse_sigmoid_backward(cols: usize, y: &[f32], t: &[f32], dz: &mut [f32], totals: &mut [f32]) {
    let mut dy = vec![0.0; y.len()];
    mse_backward(y, t, &mut dy);
    sigmoid_backward(y, &dy, dz);
    add_chunk_totals(cols, y, t, totals, mse_forward);
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's cross-entropies / cols
pub fn bce_sigmoid_backward(cols: usize, y: &[f32], t: &[f32], dz: &mut [f32], totals: &mut [f32]) {
    let mut dy = vec![0.0; y.len()];
    bce_backward(y, t, &mut dy);
    sigmoid_backward(y, &dy, dz);
    add_chunk_totals(cols, y, t, totals, bce_forward);
}

// y (R,C), t (R,C) -> scores (R): each row's mean loss term (summed: its sum)
pub fn row_scores(bce: bool, summed: bool, cols: usize, y: &[f32], t: &[f32], scores: &mut [f32]) {
    for ((score, y), t) in scores.iter_mut().zip(y.chunks(cols)).zip(t.chunks(cols)) {
        *score = loss_value(bce, summed, cols, y, t);
    }
}

// y (R,C), t (R,C) -> scores (R): each row's mean squared error
pub fn mse_scores(cols: usize, y: &[f32], t: &[f32], scores: &mut [f32]) {
    row_scores(false, false, cols, y, t, scores)
}

// y (R,C), t (R,C) -> scores (R): each row's mean cross-entropy
pub fn bce_scores(cols: usize, y: &[f32], t: &[f32], scores: &mut [f32]) {
    row_scores(true, false, cols, y, t, scores)
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
    fn each_row_s_score_is_its_own_loss() {
        let y = [0.0, 1.0, 0.5, 0.5, 0.25, 0.75];
        let t = [0.0, 0.0, 1.0, 0.0, 0.25, 0.75];
        let mut scores = [0.0; 3];
        mse_scores(2, &y, &t, &mut scores);
        assert_eq!(scores, [0.5, 0.25, 0.0]);
        row_scores(false, true, 2, &y, &t, &mut scores);
        assert_eq!(scores, [1.0, 0.5, 0.0]);
        bce_scores(2, &y, &t, &mut scores);
        assert_eq!(scores[0], 50.0, "the clamp: -log(0) is 100, over 2 values");
        assert!((scores[1] as f64 - std::f64::consts::LN_2).abs() < 1e-7);
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

    /// dz is the gradient of the loss of σ(z); the totals add up to the mean loss times
    /// the rows, as LossForward's running total does.
    #[test]
    fn identity_losses_are_the_plain_gradient_and_total() {
        type Fused = fn(usize, &[f32], &[f32], &mut [f32], &mut [f32]);
        type Forward = fn(&[f32], &[f32]) -> f32;
        let cases: [(&str, Fused, Forward); 2] = [
            ("mse_identity_backward", mse_identity_backward, mse_forward),
            ("bce_identity_backward", bce_identity_backward, bce_forward),
        ];
        for (name, fused, forward) in cases {
            let (rows, cols) = (5, LOSS_CHUNK / 2);
            let y: Vec<f32> = random_vec(rows * cols, 5)
                .iter()
                .map(|v| 0.5 + 0.4 * v)
                .collect();
            let t: Vec<f32> = random_vec(rows * cols, 6)
                .iter()
                .map(|v| 0.5 + 0.5 * v)
                .collect();
            let mut dz = vec![0.0; rows * cols];
            let mut totals = [0.5f32, 0.25, 1.0];
            fused(cols, &y, &t, &mut dz, &mut totals);
            let added = totals
                .iter()
                .zip([0.5f32, 0.25, 1.0])
                .map(|(t, s)| (t - s) as f64);
            let expected = forward(&y, &t) as f64 * rows as f64;
            let added: f64 = added.sum();
            assert!(
                (added - expected).abs() < 1e-5 * expected,
                "{name}: {added} vs {expected}"
            );
            let len = 6;
            let (y, t) = (&y[..len], &t[..len]);
            let mut dz = vec![0.0; len];
            fused(len, y, t, &mut dz, &mut [0.0]);
            check_gradient(name, y, &dz, 1e-3, |y| forward(y, t) as f64);
        }
    }

    #[test]
    fn sigmoid_losses_match_finite_differences_and_the_plain_total() {
        use crate::cpu::elementwise::sigmoid_forward;
        type Fused = fn(usize, &[f32], &[f32], &mut [f32], &mut [f32]);
        type Forward = fn(&[f32], &[f32]) -> f32;
        let cases: [(&str, Fused, Forward); 2] = [
            ("mse_sigmoid_backward", mse_sigmoid_backward, mse_forward),
            ("bce_sigmoid_backward", bce_sigmoid_backward, bce_forward),
        ];
        let inputs = |len: usize| {
            let z: Vec<f32> = random_vec(len, 3).iter().map(|v| 2.0 * v).collect();
            let t: Vec<f32> = random_vec(len, 4).iter().map(|v| 0.5 + 0.5 * v).collect();
            let mut y = vec![0.0; len];
            sigmoid_forward(&z, &mut y);
            (z, t, y)
        };
        for (name, fused, forward) in cases {
            // Three chunks, the last partial, each adding to a total already running.
            let (rows, cols) = (5, LOSS_CHUNK / 2);
            let (_, t, y) = inputs(rows * cols);
            let mut dz = vec![0.0; rows * cols];
            let start = [0.5f32, 0.25, 1.0];
            let mut totals = start;
            fused(cols, &y, &t, &mut dz, &mut totals);
            let added: f64 = totals.iter().zip(start).map(|(t, s)| (t - s) as f64).sum();
            let expected = forward(&y, &t) as f64 * rows as f64;
            let close = (added - expected).abs() < 1e-5 * expected;
            assert!(
                close,
                "{name}: totals add {added}, the plain total {expected}"
            );

            // Few elements, so that each one's gradient (about 1/len) is well above the
            // check's tolerance; σ∘loss is smooth in z, so a step of 1e-2 truncates
            // little.
            let len = 6;
            let (z, t, y) = inputs(len);
            let mut dz = vec![0.0; len];
            fused(len, &y, &t, &mut dz, &mut [0.0]);
            check_gradient(name, &z, &dz, 1e-2, |z| {
                let mut y = vec![0.0; len];
                sigmoid_forward(z, &mut y);
                forward(&y, &t) as f64
            });
        }
    }
}
