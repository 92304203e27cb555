//! `score`: every sample of a split scored by its reconstruction error on the device (one
//! pass of the scoring program, a batch at a time), flagged above a threshold, and, where
//! the data says which samples are normal, the detection measured: AUROC, average
//! precision, and at the threshold precision, recall, F1, the false-positive rate and the
//! four counts. Writes `scores.csv` and the pictures `scores.png`, `roc.png` and
//! `worst.png`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::anomaly::{self, Confusion};
use crate::data::{Data, Dataset};
use crate::error::{Error, Result};
use crate::model::Arch;
use crate::native::app::{eval_paths, open_saved, Saved};
use crate::native::checkpoint;
use crate::native::cli::{ScoreArgs, SplitArg};
use crate::native::files::write_atomically;
use crate::native::score_plots;
use crate::ops::ScoreKind;
use crate::train::score_problem;

/// The percentile of the training split's scores the threshold is by default: flags
/// about 1% of samples like the ones trained on (PyOD's contamination of 0.01).
pub const DEFAULT_PERCENTILE: f64 = 99.0;
/// How many of the highest scores `worst.png` shows.
pub const WORST: usize = 30;

/// How the threshold was set.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    Given,
    TrainingPercentile { percentile: f64, samples: usize },
    FalsePositiveRate { fpr: f64 },
}

impl ThresholdRule {
    fn describe(&self) -> String {
        match self {
            ThresholdRule::Given => "given by --threshold".into(),
            ThresholdRule::TrainingPercentile {
                percentile,
                samples,
            } if *percentile == DEFAULT_PERCENTILE => format!(
                "the {percentile}th percentile of the {samples} training samples' scores (the default; --threshold, --threshold-percentile or --fpr set another)"
            ),
            ThresholdRule::TrainingPercentile {
                percentile,
                samples,
            } => format!("the {percentile}th percentile of the {samples} training samples' scores"),
            ThresholdRule::FalsePositiveRate { fpr } => {
                format!("the threshold that flags at most {fpr} of the normal samples")
            }
        }
    }
}

/// What the detection measured, where the data says which samples are normal.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Detection {
    pub normal_classes: Vec<String>,
    pub normal: usize,
    pub anomalous: usize,
    pub auroc: Option<f64>,
    pub average_precision: Option<f64>,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_positive_rate: f64,
    pub confusion: Confusion,
}

/// Everything `score --json` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub model: String,
    pub checkpoint: PathBuf,
    pub split: &'static str,
    pub score: &'static str,
    pub samples: usize,
    /// Wall time of the scoring pass over the split (read-backs included).
    pub seconds: f64,
    pub threshold: f64,
    pub threshold_rule: ThresholdRule,
    pub flagged: usize,
    pub detection: Option<Detection>,
    pub files: Vec<PathBuf>,
}

/// Refuses thresholds flags out of range before anything is read or written.
fn check_flags(args: &ScoreArgs) -> Result<()> {
    if let Some(t) = args.threshold {
        if !t.is_finite() {
            return Err(Error::flag("--threshold", format!("{t}: must be a number")));
        }
    }
    if let Some(p) = args.threshold_percentile {
        if !(p > 0.0 && p < 100.0) {
            return Err(Error::flag(
                "--threshold-percentile",
                format!("{p}: must lie strictly between 0 and 100 (99 flags about 1% of training-like samples)"),
            ));
        }
    }
    if let Some(f) = args.fpr {
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::flag(
                "--fpr",
                format!("{f}: must lie strictly between 0 and 1 (0.05 flags at most 5% of normal samples)"),
            ));
        }
    }
    Ok(())
}

/// The architecture of the checkpoint `score` reads, to refuse a score it cannot give
/// before any data is read.
fn check_score_fits(args: &ScoreArgs, kind: ScoreKind) -> Result<()> {
    let (_, path) = eval_paths(&args.path);
    let meta = checkpoint::read_meta(&path)?;
    let Some(arch) = Arch::from_spec(&meta.arch) else {
        return Ok(()); // open_saved names the problem.
    };
    let fits = match kind {
        ScoreKind::Mse => true,
        ScoreKind::Bce => arch.output == crate::ops::Activation::Sigmoid,
        ScoreKind::Elbo => arch.is_variational() && arch.output == crate::ops::Activation::Sigmoid,
    };
    match fits {
        true => Ok(()),
        false => Err(Error::flag("--score", score_problem(kind, &arch))),
    }
}

/// Which classes of `data` are normal: `--normal`, every class but `--anomalous`, or the
/// classes the run trained on; `None` where nothing says (a run trained on every class
/// and no flag). Refuses names the data has no class of, and labels the data lacks.
fn normal_classes(args: &ScoreArgs, data: &Data) -> Result<Option<Vec<u32>>> {
    let (flag, names, normal) = match (&args.normal, &args.anomalous, &data.trained_classes) {
        (Some(names), _, _) => ("--normal", names, true),
        (None, Some(names), _) => ("--anomalous", names, false),
        (None, None, Some(trained)) => ("--normal", trained, true),
        (None, None, None) => return Ok(None),
    };
    if !data.is_labelled() {
        return Err(Error::flag(
            flag,
            format!(
                "{} has no labels to tell normal samples from anomalies by",
                data.source
            ),
        ));
    }
    let mut named = Vec::new();
    for name in names {
        match data.classes.iter().position(|c| c == name) {
            Some(i) => named.push(i as u32),
            None => {
                return Err(Error::flag(
                    flag,
                    format!(
                        "{name:?} is not a class of {}; its classes are {}",
                        data.source,
                        data.classes.join(", ")
                    ),
                ))
            }
        }
    }
    let normal: Vec<u32> = (0..data.classes.len() as u32)
        .filter(|c| named.contains(c) == normal)
        .collect();
    if normal.is_empty() || normal.len() == data.classes.len() {
        return Err(Error::flag(
            flag,
            format!(
                "{} leaves {}: a detection needs both normal samples and anomalies",
                names.join(","),
                match normal.is_empty() {
                    true => "no class normal",
                    false => "no class anomalous",
                }
            ),
        ));
    }
    Ok(Some(normal))
}

/// The threshold the flags and `score` ask for, and how it was set.
async fn threshold(
    args: &ScoreArgs,
    saved: &mut Saved,
    kind: ScoreKind,
    scores: &[f32],
    anomalous: Option<&[bool]>,
) -> Result<(f64, ThresholdRule)> {
    if let Some(t) = args.threshold {
        return Ok((t, ThresholdRule::Given));
    }
    if let Some(fpr) = args.fpr {
        let Some(anomalous) = anomalous else {
            return Err(Error::flag(
                "--fpr",
                "a false-positive rate needs to know the normal samples: train with --classes, or give --normal or --anomalous",
            ));
        };
        let normal: Vec<f32> = scores
            .iter()
            .zip(anomalous)
            .filter(|(_, &a)| !a)
            .map(|(&s, _)| s)
            .collect();
        let t = anomaly::threshold_for_fpr(&normal, fpr)
            .ok_or_else(|| Error::flag("--fpr", "the scored split has no normal samples"))?;
        return Ok((t, ThresholdRule::FalsePositiveRate { fpr }));
    }
    let percentile = args.threshold_percentile.unwrap_or(DEFAULT_PERCENTILE);
    let training = match args.split {
        SplitArg::Train => scores.to_vec(),
        SplitArg::Test => {
            let values = saved.data.train.values.clone();
            saved.trainer.score_samples(kind, &values).await?
        }
    };
    let t = anomaly::percentile(&training, percentile).ok_or_else(|| {
        Error::Other("the training split has no samples to set a threshold by".into())
    })?;
    let samples = training.len();
    Ok((
        t,
        ThresholdRule::TrainingPercentile {
            percentile,
            samples,
        },
    ))
}

/// `scores.csv`: one line per sample, `index,label,score,flagged`, the label its class's
/// name (empty without labels), the score in the shortest form that reads back exactly.
pub fn scores_csv(split: &Dataset, classes: &[String], scores: &[f32], threshold: f64) -> String {
    let mut out = String::from("index,label,score,flagged\n");
    for (i, &s) in scores.iter().enumerate() {
        let label = split
            .labels
            .as_ref()
            .and_then(|l| classes.get(l[i] as usize))
            .map(|name| csv_cell(name))
            .unwrap_or_default();
        out += &format!("{i},{label},{s},{}\n", anomaly::flagged(s, threshold) as u8);
    }
    out
}

/// A CSV cell for `text`: quoted where it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    match text.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", text.replace('"', "\"\"")),
        false => text.to_string(),
    }
}

pub async fn score_command(args: &ScoreArgs) -> Result<()> {
    // The flags first: a typo costs neither a data load nor a folder.
    check_flags(args)?;
    let kind: ScoreKind = args.score.into();
    check_score_fits(args, kind)?;
    let mut saved = open_saved(
        &args.path,
        &args.data,
        args.backend,
        args.out.as_deref(),
        "scoring",
    )
    .await?;
    if !args.json {
        print!("{}", crate::native::app::described(&saved.data));
    }
    let normal = normal_classes(args, &saved.data)?;
    let split = match args.split {
        SplitArg::Test => &saved.data.test,
        SplitArg::Train => &saved.data.train,
    };
    let labels = split.labels.clone();
    let anomalous: Option<Vec<bool>> = match (&normal, &labels) {
        (Some(normal), Some(labels)) => Some(labels.iter().map(|l| !normal.contains(l)).collect()),
        _ => None,
    };
    let started = Instant::now();
    let scores = match args.split {
        SplitArg::Test => saved.trainer.score_test(kind).await?,
        SplitArg::Train => {
            let values = saved.data.train.values.clone();
            saved.trainer.score_samples(kind, &values).await?
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let (threshold, rule) =
        threshold(args, &mut saved, kind, &scores, anomalous.as_deref()).await?;
    let flagged = scores
        .iter()
        .filter(|&&s| anomaly::flagged(s, threshold))
        .count();
    let detection = match (&normal, &anomalous) {
        (Some(normal), Some(anomalous)) => Some(detection(
            &saved.data,
            normal,
            &scores,
            anomalous,
            threshold,
        )),
        _ => None,
    };
    let files = write_files(
        &mut saved,
        args,
        kind,
        &scores,
        anomalous.as_deref(),
        threshold,
        detection.as_ref(),
    )
    .await?;
    let report = Report {
        model: saved.config.arch.spec(),
        checkpoint: saved.path.clone(),
        split: match args.split {
            SplitArg::Test => "test",
            SplitArg::Train => "train",
        },
        score: kind.name(),
        samples: scores.len(),
        seconds,
        threshold,
        threshold_rule: rule,
        flagged,
        detection,
        files,
    };
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| Error::Other(e.to_string()))?
        ),
        false => print!("{}", render(&report, saved.trainer.graph().eval_rows)),
    }
    Ok(())
}

fn detection(
    data: &Data,
    normal: &[u32],
    scores: &[f32],
    anomalous: &[bool],
    threshold: f64,
) -> Detection {
    let confusion = Confusion::at(scores, anomalous, threshold);
    let normal_count = anomalous.iter().filter(|&&a| !a).count();
    Detection {
        normal_classes: normal.iter().map(|&c| data.class_name(c)).collect(),
        normal: normal_count,
        anomalous: anomalous.len() - normal_count,
        auroc: anomaly::auroc(scores, anomalous),
        average_precision: anomaly::average_precision(scores, anomalous),
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        false_positive_rate: confusion.false_positive_rate(),
        confusion,
    }
}

/// `scores.csv`, `scores.png`, `roc.png` (with a detection) and `worst.png`, in the run's
/// folder (or `--out`).
async fn write_files(
    saved: &mut Saved,
    args: &ScoreArgs,
    kind: ScoreKind,
    scores: &[f32],
    anomalous: Option<&[bool]>,
    threshold: f64,
    detection: Option<&Detection>,
) -> Result<Vec<PathBuf>> {
    let dir = saved.run.path().to_path_buf();
    let split = match args.split {
        SplitArg::Test => &saved.data.test,
        SplitArg::Train => &saved.data.train,
    };
    let mut written = Vec::new();
    let csv = dir.join("scores.csv");
    write_atomically(
        &csv,
        scores_csv(split, &saved.data.classes, scores, threshold).as_bytes(),
    )?;
    written.push(csv);
    let histogram = dir.join("scores.png");
    score_plots::histogram(&histogram, scores, anomalous, threshold, kind)?;
    written.push(histogram);
    if let (Some(anomalous), Some(d)) = (anomalous, detection) {
        if let Some(auroc) = d.auroc {
            let roc = dir.join("roc.png");
            score_plots::roc(&roc, &anomaly::roc_curve(scores, anomalous), auroc)?;
            written.push(roc);
        }
    }
    // The highest scores, each above its reconstruction.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(WORST);
    let picked = split.subset(&order);
    let (_, rebuilt) = saved.trainer.reconstruct(&picked.values).await?;
    let worst = dir.join("worst.png");
    let shown = score_plots::Worst {
        shape: saved.data.shape,
        classes: &saved.data.classes,
        inputs: &picked.values.to_f32(),
        rebuilt: &rebuilt,
        labels: picked.labels.as_deref(),
        scores: &order.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
        threshold,
        kind,
    };
    score_plots::worst(&worst, &shown)?;
    written.push(worst);
    Ok(written)
}

/// The report for people.
fn render(r: &Report, batch: usize) -> String {
    let mut out = format!(
        "scored {} {} samples by their {} in {:.2} s (the scoring program, {batch} a batch, each batch read back once)\n",
        r.samples,
        r.split,
        r.score,
        r.seconds
    );
    out += &format!(
        "threshold {:.6}: {}\n",
        r.threshold,
        r.threshold_rule.describe()
    );
    out += &format!("flagged {} of {} samples\n", r.flagged, r.samples);
    match &r.detection {
        Some(d) => {
            let auroc = d.auroc.map_or("-".into(), |v| format!("{v:.4}"));
            let ap = d.average_precision.map_or("-".into(), |v| format!("{v:.4}"));
            out += &format!(
                "normal: class {} ({} samples); anomalous: the rest ({})\n",
                d.normal_classes.join(", "),
                d.normal,
                d.anomalous
            );
            out += &format!("AUROC {auroc}  average precision {ap}\n");
            out += &format!(
                "at the threshold: precision {:.4}  recall {:.4}  F1 {:.4}  false-positive rate {:.4}\n",
                d.precision, d.recall, d.f1, d.false_positive_rate
            );
            let c = &d.confusion;
            out += &format!(
                "  {} anomalies flagged, {} normal flagged, {} normal passed, {} anomalies missed\n",
                c.true_positives, c.false_positives, c.true_negatives, c.false_negatives
            );
        }
        None => out += "no detection measured: say which classes are normal (train with --classes, or give --normal or --anomalous)\n",
    }
    let names: Vec<String> = r
        .files
        .iter()
        .map(|p| {
            p.file_name()
                .map_or(p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    if let Some(first) = r.files.first().and_then(|p| p.parent()) {
        out += &format!("wrote {}: {}\n", first.display(), names.join(", "));
    }
    out
}

/// Reads `scores.csv` back: (index, label, score, flagged) per line, for tests and for
/// anyone who checks the file.
pub fn read_scores_csv(path: &Path) -> Result<Vec<(usize, String, f32, bool)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let bad = |row: usize, why: String| Error::Data {
        path: path.to_path_buf(),
        message: format!("row {row}: {why}"),
    };
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(i + 2, e.to_string()))?;
        let field = |k: usize| record.get(k).unwrap_or_default().to_string();
        let index = field(0)
            .parse()
            .map_err(|_| bad(i + 2, "an index that is not a number".into()))?;
        let score = field(2)
            .parse()
            .map_err(|_| bad(i + 2, "a score that is not a number".into()))?;
        rows.push((index, field(1), score, field(3) == "1"));
    }
    Ok(rows)
}
