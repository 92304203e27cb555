//! Run folders under races: two runs started into one folder together. Every run is a
//! tiny model on the CPU backend.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn of_two_runs_started_into_one_folder_one_trains_and_the_other_fails_at_once() {
    let root = tempfile::tempdir().unwrap();
    for race in 0..20 {
        let out = root.path().join(format!("race-{race}"));
        let args = [
            "train",
            "--model",
            "dense",
            "--layers",
            "8,4",
            "--limit",
            "256",
            "--epochs",
            "1",
            "--backend",
            "cpu",
            "--out",
        ];
        let racers: Vec<_> = (0..2)
            .map(|_| {
                bin()
                    .args(args)
                    .arg(&out)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = racers
            .into_iter()
            .map(|r| r.wait_with_output().unwrap())
            .collect();
        let all: Vec<String> = outputs.iter().map(|o| text(&o.stderr)).collect();
        let (won, lost): (Vec<&Output>, Vec<&Output>) =
            outputs.iter().partition(|o| o.status.success());
        assert_eq!(won.len(), 1, "race {race}: {} trained: {all:?}", won.len());
        let loser = lost[0];
        let stderr = text(&loser.stderr);
        assert_eq!(loser.status.code(), Some(1), "race {race}: {stderr}");
        // Either the other run holds the folder, or it has already finished in it.
        assert!(
            stderr.contains("Error: invalid value for --out")
                && (stderr.contains("in use by another run") || stderr.contains("already holds")),
            "race {race}: {stderr}"
        );
        // It failed before loading any data: it printed nothing.
        assert!(
            loser.stdout.is_empty(),
            "race {race}: {}",
            text(&loser.stdout)
        );
        assert_eq!(metrics(&out).len(), 1, "race {race}");
        assert!(!out.join(".lock").exists(), "race {race}: a lock was left");
    }
}
