//! Run folders under races, crashes and odd histories: two runs started into one folder
//! together, a first epoch whose save was stopped halfway, a metrics file cut short, a
//! checkpoint evaluated by its bare name, a run SIGKILLed fifteen times (the soak). Every
//! run is a tiny model on the CPU backend.

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod datasets;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn run_ok(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// MNIST's first 256 training digits and first `test` test digits as an IDX folder under
/// `dir`: what a tiny model's run needs, without evaluating 10,000 test digits each epoch.
fn small_mnist(dir: &Path, test: usize) -> std::path::PathBuf {
    let data = dir.join("small-mnist");
    let (train, test) = (
        datasets::mnist_by_class(true, 256),
        datasets::mnist_by_class(false, test),
    );
    datasets::idx_folder(&data, &train, &test);
    data
}

/// Trains a tiny model for `epochs` epochs into `out`.
fn train(out: &Path, epochs: usize) {
    let epochs = epochs.to_string();
    let args = [
        "train",
        "--layers",
        "8",
        "--limit",
        "256",
        "--backend",
        "cpu",
    ];
    run_ok(
        &[
            &args[..],
            &["--epochs", &epochs, "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
}

fn resume(dir: &Path, epochs: usize) -> String {
    let epochs = epochs.to_string();
    let d = dir.to_str().unwrap();
    run_ok(&[
        "train",
        "--resume",
        d,
        "--epochs",
        &epochs,
        "--backend",
        "cpu",
    ])
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The losses of an epoch's line: what the same training gives again, bit for bit.
fn losses(line: &serde_json::Value) -> [&serde_json::Value; 3] {
    [&line["train_loss"], &line["test_mse"], &line["test_bce"]]
}

/// A copy of a run's folder holding only the files named.
fn copy_run(src: &Path, dst: &Path, files: &[&str]) {
    std::fs::create_dir(dst).unwrap();
    for f in files {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
}

#[test]
fn of_two_runs_started_into_one_folder_one_trains_and_the_other_fails_at_once() {
    let root = tempfile::tempdir().unwrap();
    // The race is over the folder; the whole test set, evaluated by each of forty runs,
    // was most of this test's time.
    let data = small_mnist(root.path(), 100);
    for race in 0..20 {
        let out = root.path().join(format!("race-{race}"));
        let args = [
            "train",
            "--model",
            "dense",
            "--layers",
            "8,4",
            "--data",
            data.to_str().unwrap(),
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

#[test]
fn a_first_epoch_saved_without_its_metrics_line_is_trained_again_from_the_start() {
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    train(&whole, 1);
    // What a SIGKILL or a full disk between the first epoch's checkpoints and its
    // metrics line leaves: the checkpoints, nothing else.
    let stopped = root.path().join("stopped");
    let checkpoints = ["checkpoint.safetensors", "model.safetensors"];
    copy_run(&whole, &stopped, &checkpoints);
    let stdout = resume(&stopped, 1);
    assert!(stdout.contains("trained again from the start"), "{stdout}");
    let (again, first) = (metrics(&stopped), metrics(&whole));
    assert_eq!(again.len(), 1);
    assert_eq!(losses(&again[0]), losses(&first[0]));

    // Metrics and no checkpoint, as an earlier version could leave: the error says to
    // remove the metrics, and once they are, the folder takes a new run.
    let earlier = root.path().join("earlier");
    copy_run(&whole, &earlier, &["metrics.jsonl"]);
    let e = earlier.to_str().unwrap();
    let out = bin().args(["train", "--resume", e]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let remove = format!("remove {e}/metrics.jsonl and train with --out {e}");
    assert!(stderr.contains(&remove), "{stderr}");
    std::fs::remove_file(earlier.join("metrics.jsonl")).unwrap();
    train(&earlier, 1);
    assert_eq!(metrics(&earlier).len(), 1);
}

#[test]
fn a_metrics_file_cut_short_is_mended_before_anything_is_appended() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    train(&run, 1);
    let files = [
        "metrics.jsonl",
        "checkpoint.safetensors",
        "model.safetensors",
    ];
    let line = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();

    // A whole last line without its newline: epoch 2 goes on a line of its own.
    let no_newline = root.path().join("no-newline");
    copy_run(&run, &no_newline, &files);
    std::fs::write(no_newline.join("metrics.jsonl"), line.trim_end()).unwrap();
    // A line cut short as it was appended: that epoch's checkpoint never followed, so
    // the line is dropped and its epoch trained again.
    let cut = root.path().join("cut");
    copy_run(&run, &cut, &files);
    std::fs::write(
        cut.join("metrics.jsonl"),
        format!("{line}{{\"epoch\":2,\"tra"),
    )
    .unwrap();

    for dir in [&no_newline, &cut] {
        resume(dir, 2);
        let lines = metrics(dir);
        assert_eq!(lines.len(), 2, "{}", dir.display());
        assert_eq!(
            lines[0],
            serde_json::from_str::<serde_json::Value>(&line).unwrap()
        );
        assert_eq!(lines[1]["epoch"], 2);
        // And the history can be plotted again.
        let picture = dir.join("both.png");
        run_ok(&[
            "plot",
            dir.to_str().unwrap(),
            "--out",
            picture.to_str().unwrap(),
        ]);
    }
}

#[test]
fn eval_reads_a_checkpoint_named_bare_from_inside_its_folder() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    train(&run, 1);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let out = bin()
        .args([
            "eval",
            "model.safetensors",
            "--backend",
            "cpu",
            "--data-dir",
        ])
        .arg(&data)
        .current_dir(&run)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("test mse") && stdout.contains("pictures: ."),
        "{stdout}"
    );
}

/// The soak: a small CPU run of 30 epochs SIGKILLed at 15 seeded random moments (during
/// start-up, training, evaluation or a save), resumed after each (or started again where
/// no checkpoint was left yet), ends as the run never stopped, bit for bit: every logged
/// number, the weights, and Adam's state with the random stream (checkpoint.safetensors).
#[test]
fn a_run_killed_fifteen_times_and_resumed_ends_as_the_run_never_stopped() {
    use rand::{Rng, SeedableRng};
    let root = tempfile::tempdir().unwrap();
    let data = small_mnist(root.path(), 64);
    let flags = [
        "train",
        "--layers",
        "8",
        "--batch",
        "32",
        "--seed",
        "11",
        "--backend",
        "cpu",
    ];
    let flags = [
        &flags[..],
        &["--epochs", "30", "--data", data.to_str().unwrap()],
    ]
    .concat();
    let (straight, soaked) = (root.path().join("straight"), root.path().join("soaked"));
    let started = std::time::Instant::now();
    run_ok(&[&flags[..], &["--out", straight.to_str().unwrap()]].concat());
    let whole_run = started.elapsed();
    // Fifteen moments over the run: after a seeded epoch count below 26 (repeats kill a
    // run again during its start-up), a seeded fraction of an epoch's time later. Four
    // epochs or more are left after each, so that each finds the run still running even
    // where the machine's load halves an epoch's time since the straight run.
    let mut rng = rand::rngs::StdRng::seed_from_u64(29);
    let mut after: Vec<usize> = (0..15).map(|_| rng.random_range(0..26)).collect();
    after.sort();
    let epoch_time = whole_run / 30;
    let logged =
        || std::fs::read_to_string(soaked.join("metrics.jsonl")).map_or(0, |t| t.lines().count());
    let mut kills = 0;
    for target in after.iter().copied().map(Some).chain([None]) {
        let mut command = bin();
        match soaked.join("checkpoint.safetensors").is_file() {
            true => command.args(["train", "--resume", soaked.to_str().unwrap()]),
            false => {
                // Killed before its first checkpoint: nothing to resume, so start again.
                let _ = std::fs::remove_dir_all(&soaked);
                command
                    .args(&flags)
                    .args(["--out", soaked.to_str().unwrap()])
            }
        };
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(target) = target {
            while logged() < target && child.try_wait().unwrap().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            std::thread::sleep(epoch_time.mul_f64(rng.random_range(0.0..1.0)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL: no handler runs
                child.wait().unwrap();
                kills += 1;
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        if logged() == 30 {
            break;
        }
    }
    assert_eq!(
        kills, 15,
        "moments after epochs {after:?} found the run ended"
    );
    assert_eq!(metrics(&soaked).len(), 30);
    let clockless = |dir: &Path| -> Vec<serde_json::Value> {
        let mut lines = metrics(dir);
        for line in &mut lines {
            for clock in ["seconds", "images_per_second", "eval_seconds"] {
                line.as_object_mut().unwrap().remove(clock);
            }
        }
        lines
    };
    assert_eq!(
        clockless(&straight),
        clockless(&soaked),
        "the logged numbers differ"
    );
    for file in ["model.safetensors", "checkpoint.safetensors"] {
        let (a, b) = (
            std::fs::read(straight.join(file)).unwrap(),
            std::fs::read(soaked.join(file)).unwrap(),
        );
        assert!(a == b, "{file} differs");
    }
}
