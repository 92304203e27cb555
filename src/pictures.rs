//! The data behind a run's pictures, computed the same in the terminal and in the browser:
//! which test samples the reconstructions show, the latent space's projection onto two
//! axes, the codes interpolated between samples, and a VAE's codes drawn from its prior
//! (`samples.png`) and laid over its Gaussian's quantiles (`manifold.png`). Drawing them is the shell's
//! (`native::plots` writes PNG files).
//!
//! Samples are picked by class where the data has two classes or more (`Data::classes`),
//! and in their order where it has none or one: a single class says nothing to pick by.

use crate::train::Snapshot;

/// Examples of each class the reconstructions show.
pub const PER_CLASS: usize = 3;
/// Classes the reconstructions show examples of: the first ten, as many as MNIST has.
pub const CLASSES_SHOWN: usize = 10;
/// Samples the reconstructions show of unlabelled (or one-class) data: as many as of
/// `CLASSES_SHOWN` classes.
pub const UNLABELLED_EXAMPLES: usize = PER_CLASS * CLASSES_SHOWN;
/// Pairs of samples, and codes along the line between each pair, the interpolation shows.
pub const PAIRS: usize = 8;
pub const STEPS: usize = 10;

/// `samples.png` shows this many digits a side, decoded from z ~ N(0, I).
pub const SAMPLES_SIDE: usize = 8;
/// `manifold.png` shows this many digits a side, over a 2-D latent's quantiles.
pub const MANIFOLD_SIDE: usize = 15;
/// The counter generator's stream the prior's samples are drawn from, apart from the
/// training epochs' (1, 2, …) and the test set's (`u32::MAX`).
pub const SAMPLE_STREAM: u32 = u32::MAX - 1;

/// `SAMPLES_SIDE`² codes of `latent` standard normals each, drawn from `seed` by the
/// counter-based generator ε comes from (the same on every backend and in the browser).
pub fn prior_samples(seed: u64, latent: usize) -> Vec<f32> {
    let key = crate::ops::noise::counter_key(seed, SAMPLE_STREAM);
    let count = SAMPLES_SIDE * SAMPLES_SIDE * latent;
    (0..count as u32)
        .map(|i| crate::cpu::latent::standard_normal(&key, i))
        .collect()
}

/// The codes of `manifold.png`, as Keras' VAE example lays them out: a
/// `MANIFOLD_SIDE`² grid of 2-D codes at the standard normal's quantiles of
/// 0.05, …, 0.95, row by row from the top, the first coordinate growing to the right and
/// the second upwards.
pub fn manifold_codes() -> Vec<f32> {
    let n = MANIFOLD_SIDE;
    let quantile = |i: usize| inverse_normal_cdf(0.05 + 0.9 * i as f64 / (n - 1) as f64) as f32;
    let mut codes = Vec::with_capacity(2 * n * n);
    for row in 0..n {
        for col in 0..n {
            codes.extend([quantile(col), quantile(n - 1 - row)]);
        }
    }
    codes
}

/// The standard normal's quantile function Φ⁻¹(p) for p in (0, 1), by Acklam's rational
/// approximation (relative error below 1.2e-9), which is all a picture's axis needs.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.02425;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Whether samples are picked by their labels: only when there are two classes or more
/// (`classes` is how many `Data::classes` names).
fn by_class(classes: usize) -> bool {
    classes >= 2
}

/// The samples the reconstructions show, among the first `available`: the first
/// `PER_CLASS` of each of the first `CLASSES_SHOWN` classes, class by class; or, for
/// unlabelled or one-class data, the first `UNLABELLED_EXAMPLES`.
pub fn examples(labels: &[u32], available: usize, classes: usize) -> Vec<usize> {
    if !by_class(classes) {
        return (0..available.min(UNLABELLED_EXAMPLES)).collect();
    }
    let mut picked = Vec::new();
    for class in 0..classes.min(CLASSES_SHOWN) as u32 {
        let of_class = (0..available).filter(|&i| labels.get(i) == Some(&class));
        picked.extend(of_class.take(PER_CLASS));
    }
    picked
}

/// One column of the reconstructions: a class's examples (`class` its label), or, for
/// unlabelled data, every `CLASSES_SHOWN`-th sample (`class` None).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub class: Option<u32>,
    pub samples: Vec<usize>,
}

/// How `examples`' picks are laid out: a column per class shown (classes without a test
/// sample left out), its examples down it; for unlabelled data, rows of
/// `CLASSES_SHOWN` samples in their order.
pub fn example_columns(picked: &[usize], labels: &[u32], classes: usize) -> Vec<Column> {
    if !by_class(classes) {
        let columns = picked.len().min(CLASSES_SHOWN);
        return (0..columns)
            .map(|c| Column {
                class: None,
                samples: picked
                    .iter()
                    .skip(c)
                    .step_by(CLASSES_SHOWN)
                    .copied()
                    .collect(),
            })
            .collect();
    }
    (0..classes.min(CLASSES_SHOWN) as u32)
        .map(|class| Column {
            class: Some(class),
            samples: picked
                .iter()
                .copied()
                .filter(|&i| labels.get(i) == Some(&class))
                .collect(),
        })
        .filter(|column| !column.samples.is_empty())
        .collect()
}

/// A label's class name, or its number where `classes` has no name for it.
pub fn class_name(classes: &[String], label: u32) -> String {
    classes
        .get(label as usize)
        .cloned()
        .unwrap_or_else(|| label.to_string())
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

/// The plane of the codes' (rows of `dim`) top two principal components (see
/// `Projection`), and each code's point in it; `None` without codes. The page keeps the
/// plane, to place a drawn digit's code and decode a clicked point.
pub fn plane(codes: &[f32], dim: usize) -> Option<(Projection, Vec<(f64, f64)>)> {
    let plane = Projection::fit(codes, dim)?;
    let points = codes.chunks_exact(dim).map(|c| plane.project(c)).collect();
    Some((plane, points))
}

/// Each code's point in `plane`'s plane: what the terminal's picture draws.
pub fn project_2d(codes: &[f32], dim: usize) -> Vec<(f64, f64)> {
    plane(codes, dim)
        .map(|(_, points)| points)
        .unwrap_or_default()
}

/// The pairs `interpolation.png` shows, up to `PAIRS`, as indices into the snapshot's
/// codes (the first `available`): for n ≥ 2 classes, the first test sample of class k
/// and the first of class (k + 1) mod n, for k = 0, 1, … (a class without a test sample
/// left out); for unlabelled or one-class data, consecutive samples (0, 1), (2, 3), ….
pub fn interpolation_pairs(
    labels: &[u32],
    available: usize,
    classes: usize,
) -> Vec<(usize, usize)> {
    if !by_class(classes) {
        return (0..PAIRS)
            .map(|k| (2 * k, 2 * k + 1))
            .take_while(|&(_, b)| b < available)
            .collect();
    }
    let n = classes.min(u32::MAX as usize) as u32;
    let first = |class: u32| (0..available).find(|&i| labels.get(i) == Some(&class));
    (0..n.min(PAIRS as u32))
        .filter_map(|k| Some((first(k)?, first((k + 1) % n)?)))
        .collect()
}

/// What each of `interpolation_pairs`' rows is called: its classes' names, `cat → dog`,
/// where the data has classes to pick by, or the two test samples' numbers, `#0 → #1`.
pub fn pair_names(pairs: &[(usize, usize)], labels: &[u32], classes: &[String]) -> Vec<String> {
    let name = |i: usize| match (by_class(classes.len()), labels.get(i)) {
        (true, Some(&label)) => class_name(classes, label),
        _ => format!("#{i}"),
    };
    pairs
        .iter()
        .map(|&(a, b)| format!("{} → {}", name(a), name(b)))
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
        let pairs = interpolation_pairs(&labels, labels.len(), 10);
        assert_eq!(pairs.len(), PAIRS);
        assert_eq!(pairs[0], (1, 2), "the first 0, then the first 1");
        let shot = Snapshot {
            codes: (0..labels.len() * 2).map(|v| v as f32).collect(),
            code_len: 2,
            labels: labels.to_vec(),
            clean: Vec::new(),
            noisy: None,
            rebuilt: Vec::new(),
            scores: Vec::new(),
        };
        let codes = interpolation_codes(&shot, &pairs[..1]);
        assert_eq!(codes.len(), STEPS * 2);
        assert_eq!(&codes[..2], &[2.0, 3.0]);
        assert_eq!(&codes[codes.len() - 2..], &[4.0, 5.0]);
        assert_eq!(
            examples(&labels, labels.len(), 10),
            [1, 4, 2, 3, 0, 5, 6, 7, 8, 9, 10]
        );
    }

    /// Names `class0`, `class1`, … for `n` classes.
    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("class{c}")).collect()
    }

    #[test]
    fn three_classes_give_three_examples_each_and_pairs_that_wrap_around() {
        // Labels 2, 1, 0, 2, 1, 0, …: class c first at 2 - c.
        let labels: Vec<u32> = (0..20).map(|i| 2 - (i % 3)).collect();
        let picked = examples(&labels, labels.len(), 3);
        assert_eq!(picked, [2, 5, 8, 1, 4, 7, 0, 3, 6]);
        let columns = example_columns(&picked, &labels, 3);
        assert_eq!(columns.len(), 3);
        assert_eq!(
            columns[1],
            Column {
                class: Some(1),
                samples: vec![1, 4, 7]
            }
        );
        let pairs = interpolation_pairs(&labels, labels.len(), 3);
        assert_eq!(pairs, [(2, 1), (1, 0), (0, 2)], "0 → 1, 1 → 2, 2 → 0");
        assert_eq!(
            pair_names(&pairs, &labels, &names(3)),
            ["class0 → class1", "class1 → class2", "class2 → class0"]
        );
        // Only what is available is picked: the first four samples hold one of class 1.
        assert_eq!(examples(&labels, 4, 3), [2, 1, 0, 3]);
    }

    #[test]
    fn of_twelve_classes_the_first_ten_are_shown_and_eight_pairs() {
        let labels: Vec<u32> = (0..60).map(|i| i % 12).collect();
        let picked = examples(&labels, labels.len(), 12);
        assert_eq!(picked.len(), PER_CLASS * CLASSES_SHOWN);
        assert!(
            picked.iter().all(|&i| labels[i] < 10),
            "classes 10 and 11 are left out"
        );
        assert_eq!(&picked[..3], &[0, 12, 24]);
        let columns = example_columns(&picked, &labels, 12);
        assert_eq!(columns.len(), CLASSES_SHOWN);
        assert_eq!(columns[9].class, Some(9));
        let pairs = interpolation_pairs(&labels, labels.len(), 12);
        assert_eq!(pairs.len(), PAIRS);
        assert_eq!(pairs[7], (7, 8), "class 7 → class 8, not → class 0");
        // A class missing from the test samples leaves its column and its pairs out.
        let without_3: Vec<u32> = labels.iter().map(|&l| if l == 3 { 4 } else { l }).collect();
        let picked = examples(&without_3, without_3.len(), 12);
        let columns = example_columns(&picked, &without_3, 12);
        assert_eq!(columns.len(), CLASSES_SHOWN - 1);
        let pairs = interpolation_pairs(&without_3, without_3.len(), 12);
        assert_eq!(pairs.len(), PAIRS - 2, "2 → 3 and 3 → 4 are gone");
    }

    #[test]
    fn unlabelled_data_shows_its_first_samples_and_pairs_neighbours() {
        for classes in [0, 1] {
            let labels = vec![0u32; 100];
            let picked = examples(&labels, labels.len(), classes);
            assert_eq!(picked, (0..UNLABELLED_EXAMPLES).collect::<Vec<_>>());
            let columns = example_columns(&picked, &labels, classes);
            assert_eq!(columns.len(), CLASSES_SHOWN);
            assert_eq!(
                columns[2],
                Column {
                    class: None,
                    samples: vec![2, 12, 22]
                }
            );
            let pairs = interpolation_pairs(&labels, labels.len(), classes);
            assert_eq!(pairs.len(), PAIRS);
            assert_eq!(&pairs[..2], &[(0, 1), (2, 3)]);
            assert_eq!(pairs[7], (14, 15));
            let names = pair_names(&pairs[..1], &labels, &names(classes));
            assert_eq!(names, ["#0 → #1"]);
        }
        // Few samples: as many as there are, and only whole pairs.
        assert_eq!(examples(&[0; 5], 5, 0), [0, 1, 2, 3, 4]);
        assert_eq!(example_columns(&[0, 1, 2], &[0; 3], 0).len(), 3);
        assert_eq!(interpolation_pairs(&[0; 5], 5, 0), [(0, 1), (2, 3)]);
        assert_eq!(interpolation_pairs(&[], 0, 0), []);
        assert_eq!(examples(&[], 0, 0), Vec::<usize>::new());
    }

    #[test]
    fn a_label_without_a_name_is_called_by_its_number() {
        let classes = names(2);
        assert_eq!(class_name(&classes, 1), "class1");
        assert_eq!(class_name(&classes, 7), "7");
        assert_eq!(pair_names(&[(0, 1)], &[1, 7], &classes), ["class1 → 7"]);
    }

    #[test]
    fn quantiles_are_the_standard_normal_s() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-12);
        for (p, z) in [
            (0.975, 1.959963984540054),
            (0.05, -1.6448536269514729),
            (0.001, -3.090232306167813),
        ] {
            let got = inverse_normal_cdf(p);
            assert!(
                (got - z).abs() < 1e-8 * z.abs(),
                "Φ⁻¹({p}) = {got}, not {z}"
            );
            assert!((inverse_normal_cdf(1.0 - p) + got).abs() < 1e-8 * z.abs());
        }
    }

    #[test]
    fn the_manifold_runs_over_the_quantiles_and_the_samples_follow_the_seed() {
        let codes = manifold_codes();
        assert_eq!(codes.len(), 2 * MANIFOLD_SIDE * MANIFOLD_SIDE);
        let q05 = inverse_normal_cdf(0.05) as f32;
        // Top left: the lowest first coordinate and the highest second.
        assert_eq!(&codes[..2], &[q05, -q05]);
        let last = codes.len() - 2;
        assert_eq!(&codes[last..], &[-q05, q05]);
        let a = prior_samples(0, 20);
        assert_eq!(a.len(), SAMPLES_SIDE * SAMPLES_SIDE * 20);
        assert_eq!(a, prior_samples(0, 20));
        assert_ne!(a, prior_samples(1, 20));
    }
}
