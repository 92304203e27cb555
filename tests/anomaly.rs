//! Anomaly detection end to end: a one-class run (`train --classes 0`) on a few thousand
//! MNIST digits, scored by `score` on the GPU and on the CPU reference: an AUROC well
//! above chance, the same on both, `scores.csv` that reads back to the same figures, the
//! pictures; and every bad flag one `Error:` line with nothing written.

mod child;
mod datasets;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datasets::{csv_file, idx, idx_folder, Digits};
use wgsl_autoencoder::native::score::read_scores_csv;

fn bin(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    child::own_cache(&mut c, cache).current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run(cache: &Path, args: &[&str]) -> Output {
    bin(cache).args(args).output().unwrap()
}

fn run_ok(cache: &Path, args: &[&str]) -> String {
    let out = run(cache, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// MNIST's first 12,000 training and 2,000 test digits, in their own order, as an IDX
/// folder: about 1,200 zeros to train a one-class model on, and a quick test set.
fn small_mnist(dir: &Path) -> PathBuf {
    let first = |train: bool, n: usize| {
        let data = wgsl_autoencoder::native::data::load_mnist(
            &wgsl_autoencoder::native::data::default_data_dir(),
            None,
        )
        .unwrap();
        let set = if train { &data.train } else { &data.test };
        let wgsl_autoencoder::data::Values::Bytes(bytes) = &set.values else {
            panic!("MNIST is bytes")
        };
        let labels = set.labels.as_ref().unwrap();
        Digits {
            images: bytes[..n * 784].to_vec(),
            labels: labels[..n].iter().map(|&l| l as u8).collect(),
        }
    };
    let folder = dir.join("mnist-small");
    idx_folder(&folder, &first(true, 12_000), &first(false, 2_000));
    folder
}

/// A one-class run of the dense AE on the zeros: its metrics log a test AUROC and the
/// training scores' percentiles every epoch; `score` measures the AUROC well above chance
/// (0.95 measured after 3 epochs), the same on the GPU as on the CPU reference, and
/// `scores.csv` reads back to the same counts and AUROC.
#[test]
fn a_one_class_run_finds_the_other_digits() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_mnist(dir.path());
    let cache = dir.path().join("cache");
    let run_dir = dir.path().join("zeros");
    let stdout = run_ok(
        &cache,
        &[
            "train",
            "--data",
            s(&data),
            "--classes",
            "0",
            "--layers",
            "64,16",
            "--epochs",
            "3",
            "--backend",
            "cpu",
            "--out",
            s(&run_dir),
        ],
    );
    assert!(
        stdout.contains("(class 0 only)") && stdout.contains("test AUROC"),
        "{stdout}"
    );
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    for line in metrics.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            m["test_auroc"]
                .as_f64()
                .is_some_and(|a| (0.0..=1.0).contains(&a)),
            "{line}"
        );
        let p = &m["train_score_percentiles"];
        let (p50, p99) = (p["50"].as_f64().unwrap(), p["99"].as_f64().unwrap());
        assert!(0.0 < p50 && p50 <= p99, "{line}");
    }
    let mut reports = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = dir.path().join(format!("scores-{backend}"));
        let args = [
            "score",
            s(&run_dir),
            "--backend",
            backend,
            "--json",
            "--out",
            s(&out),
        ];
        let report: serde_json::Value = serde_json::from_str(&run_ok(&cache, &args)).unwrap();
        assert_eq!(report["samples"], 2000);
        let d = &report["detection"];
        let auroc = d["auroc"].as_f64().unwrap();
        assert!(
            auroc > 0.85,
            "{backend}: AUROC {auroc} is not clearly above chance"
        );
        assert_eq!(d["normal_classes"], serde_json::json!(["0"]));
        for file in ["scores.csv", "scores.png", "roc.png", "worst.png"] {
            assert!(out.join(file).is_file(), "{backend}: {file}");
        }
        // scores.csv reads back to the report's figures.
        let rows = read_scores_csv(&out.join("scores.csv")).unwrap();
        assert_eq!(rows.len(), 2000);
        assert!(rows.iter().enumerate().all(|(i, r)| r.0 == i));
        let flagged = rows.iter().filter(|r| r.3).count();
        assert_eq!(flagged as u64, report["flagged"].as_u64().unwrap());
        let threshold = report["threshold"].as_f64().unwrap();
        assert!(rows.iter().all(|r| r.3 == (r.2 as f64 > threshold)));
        let scores: Vec<f32> = rows.iter().map(|r| r.2).collect();
        let anomalous: Vec<bool> = rows.iter().map(|r| r.1 != "0").collect();
        let again = wgsl_autoencoder::anomaly::auroc(&scores, &anomalous).unwrap();
        assert_eq!(
            again, auroc,
            "{backend}: the CSV's scores give the same AUROC"
        );
        reports.push(auroc);
    }
    assert!(
        (reports[0] - reports[1]).abs() < 1e-3,
        "GPU {} and CPU {}",
        reports[0],
        reports[1]
    );
    // Other normal classes and thresholds, by flag.
    let out = dir.path().join("scores-more");
    let args = [
        "score",
        s(&run_dir),
        "--normal",
        "0,6",
        "--fpr",
        "0.05",
        "--backend",
        "cpu",
        "--json",
        "--out",
        s(&out),
    ];
    let report: serde_json::Value = serde_json::from_str(&run_ok(&cache, &args)).unwrap();
    let d = &report["detection"];
    assert_eq!(d["normal_classes"], serde_json::json!(["0", "6"]));
    assert!(d["false_positive_rate"].as_f64().unwrap() <= 0.05);
}

/// Every bad flag of one-class training and of `score` is one `Error:` line naming the
/// flag, and nothing is written.
#[test]
fn bad_flags_are_one_error_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cache = root.join("cache");
    // An unlabelled table, and a tiny labelled set to train the runs the score cases read.
    let table = root.join("rows.csv");
    csv_file(&table, 60);
    let unlabelled = root.join("unlabelled.csv");
    let text = std::fs::read_to_string(&table).unwrap();
    let without: String = text
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.to_string() + "\n")
        .collect();
    std::fs::write(&unlabelled, without).unwrap();
    let digits = root.join("digits");
    let zeros = Digits {
        images: (0..40 * 784).map(|i| (i * 7 % 256) as u8).collect(),
        labels: (0..40).map(|i| (i % 10) as u8).collect(),
    };
    idx_folder(&digits, &zeros, &zeros);
    let dense = root.join("dense");
    let train = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(&digits),
            "--layers",
            "8,4",
            "--epochs",
            "1",
            "--backend",
            "cpu",
            "--out",
            s(out),
        ];
        args.extend(extra);
        run_ok(&cache, &args);
    };
    train(&dense, &["--classes", "3"]);
    let rgb = root.join("rgb");
    std::fs::create_dir_all(&rgb).unwrap();
    std::fs::write(
        rgb.join("train-images-idx3-ubyte"),
        idx(&[40, 4, 4, 3], &[9; 40 * 48]),
    )
    .unwrap();
    let out = |name: &str| root.join(name);
    let all: String = (0..10).map(|d| d.to_string()).collect::<Vec<_>>().join(",");
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                "train".into(),
                "--data".into(),
                s(&unlabelled).into(),
                "--classes".into(),
                "1".into(),
            ],
            vec!["--classes", "no labels"],
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                s(&digits).into(),
                "--classes".into(),
                "11".into(),
            ],
            vec!["--classes", "\"11\" is not a class"],
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                s(&digits).into(),
                "--exclude-classes".into(),
                all.clone(),
            ],
            vec!["--exclude-classes", "leaves no training samples"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--threshold-percentile".into(),
                "100".into(),
            ],
            vec!["--threshold-percentile"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--threshold-percentile".into(),
                "0".into(),
            ],
            vec!["--threshold-percentile"],
        ),
        (
            vec!["score".into(), s(&dense).into(), "--fpr".into(), "1".into()],
            vec!["--fpr"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--fpr".into(),
                "-0.5".into(),
            ],
            vec!["--fpr"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--score".into(),
                "elbo".into(),
            ],
            vec!["--score", "VAE"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--normal".into(),
                "0".into(),
                "--anomalous".into(),
                "7".into(),
            ],
            vec!["--normal", "--anomalous"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--normal".into(),
                "12".into(),
            ],
            vec!["--normal", "\"12\" is not a class"],
        ),
        (
            vec![
                "score".into(),
                s(&dense).into(),
                "--data".into(),
                s(&rgb).into(),
            ],
            vec!["1×28×28", "3×4×4"],
        ),
    ];
    for (i, (mut args, words)) in cases.into_iter().enumerate() {
        let written = out(&format!("out-{i}"));
        args.extend([
            "--out".into(),
            s(&written).into(),
            "--backend".into(),
            "cpu".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(&cache, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one Error line: {stderr}");
        for w in words {
            assert!(stderr.contains(w), "{args:?}: says {w:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!written.exists(), "{args:?}: nothing is written");
    }
}
