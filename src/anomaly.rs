//! Anomaly detection's arithmetic on per-sample scores (higher is more anomalous, as in
//! scikit-learn and PyOD): the threshold a score is flagged above, the counts and rates
//! at it, the AUROC (the Mann–Whitney statistic, ties averaged), average precision
//! (scikit-learn's definition), the ROC curve, and a one-line summary of scores.
//! Computed the same in the terminal and in the browser.

/// Scores at or below the threshold are normal; above it, flagged (PyOD's
/// `decision_scores_ > threshold_`).
pub fn flagged(score: f32, threshold: f64) -> bool {
    score as f64 > threshold
}

/// The `p`-th percentile (0 ≤ p ≤ 100) of `values`, by linear interpolation between the
/// two nearest ranks, as `numpy.percentile` computes it by default (and PyOD's threshold
/// from a contamination rate). `None` without values or for a `p` outside [0, 100].
pub fn percentile(values: &[f32], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let at = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64))
}

/// The threshold that flags at most a fraction `fpr` of the normal samples' scores: the
/// (k+1)-th largest normal score, k = ⌊fpr·n⌋, so that at most k normal scores lie above
/// it (fewer where scores tie).
pub fn threshold_for_fpr(normal: &[f32], fpr: f64) -> Option<f64> {
    if normal.is_empty() || !(0.0..=1.0).contains(&fpr) {
        return None;
    }
    let mut sorted: Vec<f32> = normal.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = ((fpr * normal.len() as f64).floor() as usize).min(normal.len() - 1);
    Some(sorted[k] as f64)
}

/// Counts at a threshold, anomalies being the positives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Confusion {
    /// Anomalies flagged.
    pub true_positives: usize,
    /// Normal samples flagged.
    pub false_positives: usize,
    /// Normal samples not flagged.
    pub true_negatives: usize,
    /// Anomalies not flagged.
    pub false_negatives: usize,
}

impl Confusion {
    pub fn at(scores: &[f32], anomalous: &[bool], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for (&s, &a) in scores.iter().zip(anomalous) {
            match (flagged(s, threshold), a) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        c
    }

    fn ratio(num: usize, den: usize) -> f64 {
        match den {
            0 => 0.0,
            _ => num as f64 / den as f64,
        }
    }

    /// Flagged samples that are anomalies (0 when nothing is flagged, as scikit-learn's
    /// `zero_division=0`).
    pub fn precision(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Anomalies flagged: the true-positive rate.
    pub fn recall(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        match p + r > 0.0 {
            true => 2.0 * p * r / (p + r),
            false => 0.0,
        }
    }

    /// Normal samples flagged.
    pub fn false_positive_rate(&self) -> f64 {
        Self::ratio(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }
}

/// The ranks of `scores` from 1, ties given the mean of the ranks they span.
fn average_ranks(scores: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1, averaged.
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = mean;
        }
        i = j + 1;
    }
    ranks
}

/// The area under the ROC curve: the chance that an anomaly scores above a normal sample,
/// ties counting a half (the Mann–Whitney U over the product of the counts). `None`
/// without both kinds of sample.
pub fn auroc(scores: &[f32], anomalous: &[bool]) -> Option<f64> {
    let positives = anomalous.iter().filter(|&&a| a).count();
    let negatives = anomalous.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let ranks = average_ranks(scores);
    let rank_sum: f64 = ranks
        .iter()
        .zip(anomalous)
        .filter(|(_, &a)| a)
        .map(|(r, _)| r)
        .sum();
    let p = positives as f64;
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * negatives as f64))
}

/// Points of the ROC curve (false-positive rate, true-positive rate), from (0, 0) to
/// (1, 1), one per distinct score taken as the threshold from the highest down.
pub fn roc_curve(scores: &[f32], anomalous: &[bool]) -> Vec<(f64, f64)> {
    let positives = anomalous.iter().filter(|&&a| a).count().max(1) as f64;
    let negatives = (anomalous.len() - anomalous.iter().filter(|&&a| a).count()).max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, &k) in order.iter().enumerate() {
        match anomalous[k] {
            true => tp += 1,
            false => fp += 1,
        }
        let last_of_tie = order.get(i + 1).is_none_or(|&n| scores[n] != scores[k]);
        if last_of_tie {
            points.push((fp as f64 / negatives, tp as f64 / positives));
        }
    }
    points
}

/// Average precision as scikit-learn defines it: Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the thresholds
/// at each distinct score from the highest down, the precision and recall of flagging
/// every sample scored at least that. `None` without anomalies.
pub fn average_precision(scores: &[f32], anomalous: &[bool]) -> Option<f64> {
    let positives = anomalous.iter().filter(|&&a| a).count();
    if positives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut recall_before, mut ap) = (0usize, 0usize, 0.0, 0.0);
    for (i, &k) in order.iter().enumerate() {
        tp += anomalous[k] as usize;
        seen += 1;
        let last_of_tie = order.get(i + 1).is_none_or(|&n| scores[n] != scores[k]);
        if last_of_tie {
            let recall = tp as f64 / positives as f64;
            let precision = tp as f64 / seen as f64;
            ap += (recall - recall_before) * precision;
            recall_before = recall;
        }
    }
    Some(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AUROC by its definition: over every (anomaly, normal) pair, 1 where the anomaly
    /// scores higher, ½ for a tie.
    fn brute_force_auroc(scores: &[f32], anomalous: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &a) in anomalous.iter().enumerate() {
            for (j, &b) in anomalous.iter().enumerate() {
                if a && !b {
                    pairs += 1.0;
                    wins += match scores[i].total_cmp(&scores[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn the_auroc_is_the_brute_force_count_of_pairs_with_ties() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(27);
        for n in [2usize, 7, 50, 301] {
            for _ in 0..20 {
                // Scores of few distinct values, so that ties are many.
                let scores: Vec<f32> = (0..n)
                    .map(|_| rng.random_range(0..6) as f32 * 0.5)
                    .collect();
                let mut anomalous: Vec<bool> = (0..n).map(|_| rng.random_bool(0.3)).collect();
                anomalous[0] = true;
                anomalous[1] = false;
                let got = auroc(&scores, &anomalous).unwrap();
                let want = brute_force_auroc(&scores, &anomalous);
                assert!((got - want).abs() < 1e-12, "n {n}: {got} vs {want}");
            }
        }
        assert_eq!(auroc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auroc(&[1.0, 2.0, 3.0], &[false, true, true]), Some(1.0));
        assert_eq!(auroc(&[3.0, 2.0, 1.0], &[false, true, true]), Some(0.0));
    }

    #[test]
    fn average_precision_is_scikit_learns() {
        // scikit-learn's own example: average_precision_score([0, 0, 1, 1],
        // [0.1, 0.4, 0.35, 0.8]) = 0.8333…: thresholds 0.8 (P 1, R ½), 0.4 (P ⅔, R ½),
        // 0.35 (P ⅔, R 1), 0.1 (P ½, R 1): ½·1 + 0 + ½·⅔ + 0.
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((ap - 5.0 / 6.0).abs() < 1e-12, "{ap}");
        // Tied scores are one threshold: all four at once, precision ½ at recall 1.
        let tied = average_precision(&[1.0; 4], &[true, false, true, false]).unwrap();
        assert!((tied - 0.5).abs() < 1e-12);
        assert_eq!(average_precision(&[1.0], &[false]), None);
    }

    #[test]
    fn percentiles_interpolate_as_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        // numpy.percentile([1, 2, 3, 4, 10], [0, 50, 90, 99, 100]).
        for (p, want) in [
            (0.0, 1.0),
            (50.0, 3.0),
            (90.0, 7.6),
            (99.0, 9.76),
            (100.0, 10.0),
        ] {
            let got = percentile(&v, p).unwrap();
            assert!((got - want).abs() < 1e-9, "{p}: {got}");
        }
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn the_fpr_threshold_flags_at_most_that_share_of_normal_scores() {
        let normal: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let t = threshold_for_fpr(&normal, 0.05).unwrap();
        let flagged_normal = normal.iter().filter(|&&s| flagged(s, t)).count();
        assert_eq!(flagged_normal, 5);
        let c = Confusion::at(&[0.5, 95.5, 96.0, 3.0], &[true, true, false, false], t);
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.true_negatives,
                c.false_negatives
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(
            (c.precision(), c.recall(), c.false_positive_rate()),
            (0.5, 0.5, 0.5)
        );
        assert!((c.f1() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_roc_curve_runs_from_corner_to_corner_through_each_distinct_score() {
        let points = roc_curve(&[0.9, 0.8, 0.8, 0.1], &[true, true, false, false]);
        assert_eq!(points, [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
    }
}
