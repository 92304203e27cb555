//! Reference for `shaders/peak.wgsl`: the kernels that measure the card, computed the
//! plain way so that `check` can prove them like the others.

// x (L) -> y (L): sixteen chains a ← a·mul + add from x[i] − c/16, 4·iters steps, summed
pub fn peak_fma(iters: usize, mul: f32, add: f32, x: &[f32], y: &mut [f32]) {
    let (mul, add) = (mul as f64, add as f64);
    for (y, &x) in y.iter_mut().zip(x) {
        let mut sum = 0.0f64;
        for c in 0..16 {
            // The start is rounded to f32 as the kernel rounds it; the steps run in f64.
            let mut a = (x - c as f32 / 16.0) as f64;
            for _ in 0..4 * iters {
                a = a * mul + add;
            }
            sum += a;
        }
        *y = sum as f32;
    }
}

// x (L) -> y (L)
pub fn peak_copy(x: &[f32], y: &mut [f32]) {
    y.copy_from_slice(x);
}

// x (L) -> y (⌈L/chunk⌉)
pub fn peak_read(chunk: usize, x: &[f32], y: &mut [f32]) {
    for (y, part) in y.iter_mut().zip(x.chunks(chunk)) {
        *y = part.iter().map(|&v| v as f64).sum::<f64>() as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        // No steps: the sum of the starts, 16·x − (0 + 1 + … + 15)/16 = 16·x − 7.5.
        let mut y = [0.0; 2];
        peak_fma(0, 0.5, 0.25, &[1.0, 0.5], &mut y);
        assert_eq!(y, [8.5, 0.5]);
        // One iteration is four steps: a ← a/2 + 1/4 four times takes a to a/16 + 15/32,
        // so the sum becomes (16·x − 7.5)/16 + 16·15/32.
        peak_fma(1, 0.5, 0.25, &[1.0, 0.5], &mut y);
        assert_eq!(y, [8.5 / 16.0 + 7.5, 0.5 / 16.0 + 7.5]);
        // Many steps reach the fixed point add/(1 − mul) = 0.5 in every chain.
        peak_fma(100, 0.5, 0.25, &[3.0], &mut y[..1]);
        assert!((y[0] - 8.0).abs() < 1e-6, "{}", y[0]);

        let mut out = [0.0; 4];
        peak_copy(&[1.0, 2.0, 3.0, 4.0], &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);

        let mut sums = [0.0; 3];
        peak_read(
            4,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            &mut sums,
        );
        assert_eq!(sums, [10.0, 26.0, 19.0]);
    }
}
