//! Reference for `shaders/noise.wgsl`: the same integer hash and the same f32 operations
//! in the same order, so that the GPU gives these bits exactly.

/// Chris Wellons' `lowbias32` integer hash: a bijection of u32 with good avalanche.
pub fn lowbias32(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Word `j` (0 or 1) of the draw for element `counter` of `stream` under `seed`: the
/// counter-based generator (shaders/parts/counter_rng.wgsl).
pub fn counter_draw(seed: u32, stream: u32, counter: u32, j: u32) -> u32 {
    let inner = lowbias32(counter.wrapping_mul(2).wrapping_add(j));
    lowbias32(lowbias32(inner ^ stream) ^ seed)
}

/// Word `j` (0 or 1) of the draw for element `counter` of stream `key[1]` under seed `key[0]`.
pub fn draw(key: &[u32], counter: u32, j: u32) -> u32 {
    counter_draw(key[0], key[1], counter, j)
}

/// The sum of four 16-bit uniform draws, centred: an approximately Gaussian integer
/// (Irwin–Hall), made from integers so that both sides agree to the bit.
pub fn centred_sum(key: &[u32], counter: u32) -> i32 {
    let (a, b) = (draw(key, counter, 0), draw(key, counter, 1));
    let sum = (a & 0xffff) + (a >> 16) + (b & 0xffff) + (b >> 16);
    sum as i32 - 2 * 65535
}

/// The counter of element `i` of a batch starting at row `batch_start` of the epoch.
fn counter(batch_start: usize, cols: usize, i: usize) -> u32 {
    (batch_start * cols + i) as u32
}

// x (R,C) clean, key (2) -> y (R,C) = clamp(x + scale·centred_sum, 0, 1)
pub fn noise_gaussian(
    x: &[f32],
    key: &[u32],
    batch_start: usize,
    cols: usize,
    scale: f32,
    y: &mut [f32],
) {
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        let n = centred_sum(key, counter(batch_start, cols, i)) as f32 * scale;
        *y = (x + n).clamp(0.0, 1.0);
    }
}

// x (R,C) clean, key (2) -> y (R,C) = 0 where the 24-bit draw < threshold, else x
pub fn noise_mask(
    x: &[f32],
    key: &[u32],
    batch_start: usize,
    cols: usize,
    threshold: u32,
    y: &mut [f32],
) {
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        let dropped = draw(key, counter(batch_start, cols, i), 0) >> 8 < threshold;
        *y = if dropped { 0.0 } else { x };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::NoiseKind;

    #[test]
    fn gaussian_noise_has_the_asked_for_spread_and_no_bias() {
        let (n, std) = (200_000, 0.5f32);
        let scale = NoiseKind::gaussian_scale(std);
        let key = [7, 3];
        let values: Vec<f64> = (0..n)
            .map(|i| (centred_sum(&key, i) as f32 * scale) as f64)
            .collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.005, "std {}", var.sqrt());
    }

    #[test]
    fn mask_drops_the_asked_for_fraction_and_keeps_the_rest() {
        let x = vec![0.75f32; 100_000];
        let mut y = vec![f32::NAN; x.len()];
        noise_mask(&x, &[1, 2], 3, 784, NoiseKind::mask_threshold(0.3), &mut y);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
        assert!(y.iter().all(|&v| v == 0.0 || v == 0.75));
    }

    #[test]
    fn streams_and_seeds_give_different_noise_and_the_same_key_the_same() {
        let x = vec![0.5f32; 64];
        let run = |key: [u32; 2]| {
            let mut y = vec![0.0; 64];
            noise_gaussian(&x, &key, 0, 8, NoiseKind::gaussian_scale(0.2), &mut y);
            y
        };
        assert_eq!(run([1, 1]), run([1, 1]));
        assert_ne!(run([1, 1]), run([1, 2]));
        assert_ne!(run([1, 1]), run([2, 1]));
        assert!(run([1, 1]).iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
