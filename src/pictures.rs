//! The data behind a run's pictures, computed the same in the terminal and in the browser:
//! which test digits the reconstructions show, the latent space's projection onto two
//! axes, and the codes interpolated between digits. Drawing them is the shell's
//! (`native::plots` writes PNG files).

use crate::train::Snapshot;

/// Examples of each digit the reconstructions show.
pub const PER_CLASS: usize = 3;
/// Pairs of digits, and codes along the line between each pair, the interpolation shows.
pub const PAIRS: usize = 8;
pub const STEPS: usize = 10;

/// The first `PER_CLASS` images of each digit among `labels`, by class.
pub fn examples(labels: &[u8], available: usize) -> Vec<usize> {
    let mut picked = Vec::new();
    for class in 0..10u8 {
        let of_class = (0..available).filter(|&i| labels.get(i) == Some(&class));
        picked.extend(of_class.take(PER_CLASS));
    }
    picked
}

/// The plane the latent space is drawn on: the codes' mean and their top two principal
/// components. Codes of two numbers or fewer are drawn as they are (the axes are the
/// code's own). Kept so that a point picked in the plane maps back to a code
/// (`unproject`), and a new code (a drawn digit's) lands where the test codes do.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub mean: Vec<f64>,
    pub axes: [Vec<f64>; 2],
}

impl Projection {
    /// The top two principal components of `codes` (rows of `dim`), by power iteration on
    /// the covariance with deflation. `None` without codes.
    pub fn fit(codes: &[f32], dim: usize) -> Option<Projection> {
        let n = codes.len() / dim.max(1);
        if dim == 0 || n == 0 {
            return None;
        }
        if dim <= 2 {
            let unit = |k: usize| (0..dim).map(|j| (j == k) as u8 as f64).collect();
            return Some(Projection {
                mean: vec![0.0; dim],
                axes: [unit(0), unit(1)],
            });
        }
        let mut mean = vec![0.0f64; dim];
        for c in codes.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(c) {
                *m += v as f64 / n as f64;
            }
        }
        let row = |i: usize| {
            codes[i * dim..(i + 1) * dim]
                .iter()
                .zip(&mean)
                .map(|(&v, m)| v as f64 - m)
        };
        // Covariance times v, without forming the covariance.
        let times = |v: &[f64]| {
            let mut out = vec![0.0f64; dim];
            for i in 0..n {
                let dot: f64 = row(i).zip(v).map(|(a, b)| a * b).sum();
                for (o, a) in out.iter_mut().zip(row(i)) {
                    *o += dot * a;
                }
            }
            out
        };
        let normalise = |v: &mut Vec<f64>| {
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        };
        let mut axes: Vec<Vec<f64>> = Vec::new();
        for k in 0..2 {
            // A fixed, deterministic start that is not orthogonal to the answer in practice.
            let mut v: Vec<f64> = (0..dim)
                .map(|j| 1.0 + ((j * 7 + k * 3) % 11) as f64)
                .collect();
            for _ in 0..60 {
                let mut next = times(&v);
                for a in &axes {
                    let d: f64 = next.iter().zip(a).map(|(x, y)| x * y).sum();
                    next.iter_mut().zip(a).for_each(|(x, y)| *x -= d * y);
                }
                normalise(&mut next);
                v = next;
            }
            axes.push(v);
        }
        let second = axes.pop()?;
        let first = axes.pop()?;
        Some(Projection {
            mean,
            axes: [first, second],
        })
    }

    /// Where one code lands in the plane.
    pub fn project(&self, code: &[f32]) -> (f64, f64) {
        let along = |axis: &[f64]| -> f64 {
            code.iter()
                .zip(&self.mean)
                .zip(axis)
                .map(|((&v, m), a)| (v as f64 - m) * a)
                .sum()
        };
        (along(&self.axes[0]), along(&self.axes[1]))
    }

    /// The code at a point of the plane: the mean plus the point along the two axes (the
    /// nearest code to the plane's point, since the axes are orthonormal).
    pub fn unproject(&self, x: f64, y: f64) -> Vec<f32> {
        (0..self.mean.len())
            .map(|j| (self.mean[j] + x * self.axes[0][j] + y * self.axes[1][j]) as f32)
            .collect()
    }
}

/// Each code's (rows of `dim`) point in the plane of their top two principal components
/// (see `Projection`).
pub fn project_2d(codes: &[f32], dim: usize) -> Vec<(f64, f64)> {
    let Some(plane) = Projection::fit(codes, dim) else {
        return Vec::new();
    };
    codes.chunks_exact(dim).map(|c| plane.project(c)).collect()
}

/// The pairs `interpolation.png` shows: the first test image of digit k and the first of
/// digit (k + 1) mod 10, for k = 0..PAIRS. Indices into the snapshot's codes.
pub fn interpolation_pairs(labels: &[u8], available: usize) -> Vec<(usize, usize)> {
    let first = |d: u8| (0..available).find(|&i| labels.get(i) == Some(&d));
    (0..PAIRS as u8)
        .filter_map(|k| Some((first(k)?, first((k + 1) % 10)?)))
        .collect()
}

/// The codes along the straight line between each pair, `STEPS` per pair, ends included.
pub fn interpolation_codes(shot: &Snapshot, pairs: &[(usize, usize)]) -> Vec<f32> {
    let d = shot.code_len;
    let mut out = Vec::with_capacity(pairs.len() * STEPS * d);
    for &(a, b) in pairs {
        let (ca, cb) = (
            &shot.codes[a * d..(a + 1) * d],
            &shot.codes[b * d..(b + 1) * d],
        );
        for s in 0..STEPS {
            let t = s as f32 / (STEPS - 1) as f32;
            out.extend(ca.iter().zip(cb).map(|(&x, &y)| x + (y - x) * t));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_finds_the_spread_of_the_codes() {
        // Points on a line in 3-D, spread along (1, 2, 2)/3: the first axis holds all of
        // their spread, the second none.
        let codes: Vec<f32> = (0..20)
            .flat_map(|i| {
                let t = i as f32 - 10.0;
                [t, 2.0 * t, 2.0 * t + 5.0]
            })
            .collect();
        let points = project_2d(&codes, 3);
        assert_eq!(points.len(), 20);
        for (i, (x, y)) in points.iter().enumerate() {
            let t = i as f64 - 9.5;
            assert!((x.abs() - 3.0 * t.abs()).abs() < 1e-6, "{x} at {t}");
            assert!(y.abs() < 1e-6, "{y}");
        }
        // Codes of two numbers are drawn as they are.
        assert_eq!(
            project_2d(&[1.0, 2.0, 3.0, 4.0], 2),
            [(1.0, 2.0), (3.0, 4.0)]
        );
    }

    #[test]
    fn a_point_of_the_plane_maps_back_to_the_code_that_lands_there() {
        let codes: Vec<f32> = (0..30)
            .flat_map(|i| {
                let t = i as f32;
                [t.sin() * 3.0, t.cos(), 0.5 * t.sin() + 1.0, 0.1 * t]
            })
            .collect();
        let plane = Projection::fit(&codes, 4).unwrap();
        for (x, y) in [(0.0, 0.0), (1.5, -2.0), (-3.0, 0.25)] {
            let (px, py) = plane.project(&plane.unproject(x, y));
            assert!(
                (px - x).abs() < 1e-5 && (py - y).abs() < 1e-5,
                "{x},{y} -> {px},{py}"
            );
        }
        let dot: f64 = plane.axes[0]
            .iter()
            .zip(&plane.axes[1])
            .map(|(a, b)| a * b)
            .sum();
        assert!(dot.abs() < 1e-9, "the axes are orthogonal: {dot}");
        assert_eq!(Projection::fit(&[], 4), None);
    }

    #[test]
    fn interpolations_run_from_one_digit_s_code_to_the_other_s() {
        let labels = [3, 0, 1, 2, 0, 4, 5, 6, 7, 8, 9];
        let pairs = interpolation_pairs(&labels, labels.len());
        assert_eq!(pairs.len(), PAIRS);
        assert_eq!(pairs[0], (1, 2), "the first 0, then the first 1");
        let shot = Snapshot {
            codes: (0..labels.len() * 2).map(|v| v as f32).collect(),
            code_len: 2,
            labels: labels.to_vec(),
            clean: Vec::new(),
            noisy: None,
            rebuilt: Vec::new(),
        };
        let codes = interpolation_codes(&shot, &pairs[..1]);
        assert_eq!(codes.len(), STEPS * 2);
        assert_eq!(&codes[..2], &[2.0, 3.0]);
        assert_eq!(&codes[codes.len() - 2..], &[4.0, 5.0]);
        assert_eq!(
            examples(&labels, labels.len()),
            [1, 4, 2, 3, 0, 5, 6, 7, 8, 9, 10]
        );
    }
}
