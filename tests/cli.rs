//! The binary: a short training run writes metrics.jsonl, and bad input is an `Error:`
//! line naming the flag or file, with exit status 1, never a panic.

use std::process::{Command, Output};

mod datasets;

fn run(args: &[&str]) -> Output {
    run_with_env(args, &[])
}

fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn assert_error(args: &[&str], expected: &[&str]) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should exit 1; stderr: {stderr}"
    );
    assert!(
        stderr.contains("Error:"),
        "{args:?}: stderr lacks 'Error:': {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    for e in expected {
        assert!(stderr.contains(e), "{args:?}: stderr lacks {e:?}: {stderr}");
    }
}

#[test]
fn train_writes_one_metrics_line_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let data = small_mnist(dir.path());
    let out = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "dense",
        "--epochs",
        "2",
        "--limit",
        "256",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("epoch   2/2"), "{stdout}");
    let text = std::fs::read_to_string(out_dir.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["epoch"], i + 1);
        for key in [
            "train_loss",
            "test_mse",
            "test_bce",
            "seconds",
            "images_per_second",
        ] {
            let v = line[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} missing in {line}"));
            assert!(v.is_finite() && v > 0.0, "{key} = {v}");
        }
    }
}

#[test]
fn bad_flags_are_errors_that_name_the_flag() {
    assert_error(&["train", "--epochs", "0"], &["--epochs"]);
    assert_error(&["train", "--batch", "0"], &["--batch"]);
    assert_error(&["train", "--lr", "-1"], &["--lr"]);
    assert_error(&["train", "--layers", "100,0,30"], &["--layers"]);
    assert_error(&["train", "--layers", "100,x"], &["--layers"]);
    assert_error(&["train", "--limit", "0"], &["--limit"]);
    assert_error(&["train", "--model", "rnn"], &["--model"]);
    assert_error(
        &["train", "--model", "conv", "--channels", "16,8,4"],
        &["--channels", "28×28"],
    );
    assert_error(&["train", "--backend", "tpu"], &["--backend"]);
}

#[test]
fn missing_or_corrupt_data_is_an_error_that_names_the_file() {
    assert_error(&["train", "--data-dir", "/no/such/dir"], &["/no/such/dir"]);
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let d = dir.path().to_str().unwrap();
    assert_error(
        &["train", "--data-dir", d],
        &["t10k-labels-idx1-ubyte.gz", "cannot open"],
    );
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), b"not gzip").unwrap();
    assert_error(
        &["train", "--data-dir", d],
        &["t10k-labels-idx1-ubyte.gz", "gzip"],
    );
}

#[test]
fn info_lists_an_adapter() {
    let out = run(&["info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[0]")
            && stdout.contains("timestamps:")
            && stdout.contains("storage binding"),
        "{stdout}"
    );
}

#[test]
fn checkpoints_are_saved_reloaded_and_refused_for_another_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let args = |out: &std::path::Path| -> Vec<String> {
        [
            "train",
            "--layers",
            "16,8",
            "--epochs",
            "1",
            "--limit",
            "64",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let out = run(&args(&first).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ckpt = first.join("model.safetensors");
    assert!(ckpt.is_file());
    // Saved atomically: nothing but the two outputs is left in the folder.
    let mut names: Vec<String> = std::fs::read_dir(&first)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "checkpoint.safetensors",
            "interpolation.png",
            "latent.png",
            "loss.png",
            "metrics.jsonl",
            "model.safetensors",
            "reconstructions.png"
        ]
    );
    // A second run into the same folder would overwrite the first: refused.
    assert_error(
        &args(&first).iter().map(String::as_str).collect::<Vec<_>>(),
        &["--out", "already holds metrics.jsonl"],
    );

    let second = dir.path().join("second");
    let mut resumed = args(&second);
    resumed.extend([
        "--init-from".to_string(),
        ckpt.to_str().unwrap().to_string(),
    ]);
    let out = run(&resumed.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("initialised from"));

    let c = ckpt.to_str().unwrap();
    assert_error(
        &[
            "train",
            "--layers",
            "16,4",
            "--limit",
            "64",
            "--init-from",
            c,
        ],
        &["dense:16,8", "dense:16,4"],
    );
    assert_error(
        &[
            "train",
            "--model",
            "conv",
            "--limit",
            "64",
            "--init-from",
            c,
        ],
        &["saved for dense:16,8"],
    );
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{broken").unwrap();
    assert_error(
        &[
            "train",
            "--limit",
            "64",
            "--init-from",
            bad.to_str().unwrap(),
        ],
        &["bad.safetensors", "not a safetensors file"],
    );
}

#[test]
fn an_adapter_variable_that_matches_nothing_is_an_error_naming_it() {
    // A backend this platform never has: Metal off Apple systems, DX12 on them.
    let absent = if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    };
    for (var, value) in [
        ("WGPU_ADAPTER_NAME", "no-such-gpu"),
        ("WGPU_BACKEND", absent),
    ] {
        let out = run_with_env(&["train", "--limit", "10"], &[(var, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{var}: {stderr}");
        // This machine has an adapter (the GPU tests need one), so the advice is to
        // change the variable, shown with its value and the adapters there are.
        assert!(
            stderr.contains(&format!("Error: environment variable {var}=\"{value}\""))
                && stderr.contains("matches no adapter")
                && stderr.contains("this system has"),
            "{var}: {stderr}"
        );
    }
    // The CPU backend needs no adapter at all.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("cpu");
    let out = run_with_env(
        &[
            "train",
            "--backend",
            "cpu",
            "--layers",
            "8",
            "--epochs",
            "1",
            "--limit",
            "32",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[("WGPU_BACKEND", absent)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn metrics(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A PNG's size and whether its pixels differ (a blank picture is one colour).
fn png_size_and_varied(path: &std::path::Path) -> (u32, u32, bool) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let pixels = &pixels[..info.buffer_size()];
    let distinct: std::collections::BTreeSet<&[u8]> = pixels.chunks(3).collect();
    (info.width, info.height, distinct.len() > 16)
}

#[test]
fn a_short_run_draws_four_pictures_that_are_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let data = small_mnist(dir.path());
    let d = data.to_str().unwrap();
    run_ok(&["train", "--data", d, "--epochs", "2", "--out", o]);
    for (name, min_w, min_h) in [
        ("loss.png", 600, 400),
        // 3× digits: ten classes of 84-pixel cells, three examples of two rows each.
        ("reconstructions.png", 10 * 84, 3 * 2 * 84),
        ("latent.png", 600, 600),
        ("interpolation.png", 10 * 84, 8 * 84),
    ] {
        let (w, h, varied) = png_size_and_varied(&out.join(name));
        assert!(w >= min_w && h >= min_h, "{name} is {w}×{h}");
        assert!(varied, "{name} is blank");
    }
    // A denoising run's reconstructions have a third row per example: the noisy input.
    let noisy = dir.path().join("noisy");
    let n = noisy.to_str().unwrap();
    let args = [
        "train", "--data", d, "--layers", "16", "--limit", "64", "--epochs", "1",
    ];
    let mut args = args.to_vec();
    args.extend(["--noise", "mask:0.3", "--out", n]);
    run_ok(&args);
    let (_, h_plain, _) = png_size_and_varied(&out.join("reconstructions.png"));
    let (_, h_noisy, varied) = png_size_and_varied(&noisy.join("reconstructions.png"));
    assert!(varied && h_noisy > h_plain, "{h_noisy} vs {h_plain}");
}

/// The tensors of a safetensors file, by name, as bytes.
fn tensors(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, t)| (name, t.data().to_vec()))
        .collect()
}

/// 3 epochs straight, and 2 then `--resume --epochs 3`, on one backend: every logged
/// number (the losses of each logging interval too) and every weight must be the same
/// bits. The resumed run is given no `--backend`: it keeps the one it was started with.
fn resume_equals_uninterrupted(backend: &str) {
    resume_equals_uninterrupted_for(backend, &["--layers", "32,8"]);
}

/// MNIST's first 300 training and 200 test images (every class) in its format, in a
/// folder under `dir`: evaluating 10,000 test images each epoch was most of a short
/// run's time on lavapipe.
fn small_mnist(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("small-mnist");
    let (train, test) = (
        datasets::mnist_by_class(true, 300),
        datasets::mnist_by_class(false, 200),
    );
    datasets::idx_folder(&data, &train, &test);
    data
}

/// The same for the model `model` gives (its flags).
fn resume_equals_uninterrupted_for(backend: &str, model: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("straight"), dir.path().join("resumed"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let data = small_mnist(dir.path());
    let rest = [
        "--data",
        data.to_str().unwrap(),
        "--batch",
        "64",
        "--noise",
        "gaussian:0.3",
        "--seed",
        "7",
        "--backend",
        backend,
        // Two separate runs compared: neither tunes, so that tuning between them (theirs
        // or another test's) cannot change their kernels. That a resumed run keeps the
        // variants it was tuned with is tests/tune.rs's.
        "--no-tune",
    ];
    let common = [&["train"][..], model, &rest[..]].concat();
    run_ok(&[&common[..], &["--epochs", "3", "--out", a]].concat());
    run_ok(&[&common[..], &["--epochs", "2", "--out", b]].concat());
    let stdout = run_ok(&["train", "--resume", b, "--epochs", "3"]);
    assert!(
        stdout.contains("resuming") && stdout.contains("epoch   3/3"),
        "{stdout}"
    );
    let on = match backend {
        "cpu" => "on cpu",
        _ => "on gpu",
    };
    assert!(stdout.contains(on), "resumed on another backend: {stdout}");
    let (straight, resumed) = (metrics(a.as_ref()), metrics(b.as_ref()));
    assert_eq!(resumed.len(), 3, "the resumed run appends to its metrics");
    for (s, r) in straight.iter().zip(&resumed) {
        let points = s["interval_loss"].as_array().map_or(0, Vec::len);
        assert!(
            points >= 2,
            "{backend}: several logged intervals an epoch: {s}"
        );
        for key in [
            "epoch",
            "train_loss",
            "test_mse",
            "test_bce",
            "interval_loss",
            "test_loss",
            "test_kl",
            "code_mean",
        ] {
            assert_eq!(s[key], r[key], "{backend}: {key} differs after resuming");
        }
    }
    let model = |dir: &str| tensors(&std::path::Path::new(dir).join("model.safetensors"));
    assert_eq!(
        model(a),
        model(b),
        "{backend}: the weights differ after resuming"
    );
}

#[test]
fn resumed_training_equals_uninterrupted_training_on_the_gpu() {
    resume_equals_uninterrupted("gpu");
}

#[test]
fn resumed_training_equals_uninterrupted_training_on_the_cpu() {
    resume_equals_uninterrupted("cpu");
}

/// A VAE with an L1 penalty, denoising: ε, drawn from the key and the batch's place in the
/// epoch, is drawn again the same after resuming, and the KL's and L1's totals restart
/// with the epoch.
#[test]
fn a_resumed_sparse_denoising_vae_equals_the_uninterrupted_one_on_the_gpu() {
    let model = [
        "--model", "vae", "--layers", "32,4", "--l1", "1e-3", "--beta", "0.5",
    ];
    resume_equals_uninterrupted_for("gpu", &model);
}

#[test]
fn resuming_a_finished_or_foreign_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let r = run_dir.to_str().unwrap();
    let args = ["train", "--layers", "8", "--limit", "32", "--epochs", "1"];
    run_ok(&[&args[..], &["--backend", "cpu", "--out", r]].concat());
    let before = std::fs::read(run_dir.join("metrics.jsonl")).unwrap();
    assert_error(
        &["train", "--resume", r],
        &["--epochs", "already has its 1 epochs"],
    );
    assert_eq!(
        std::fs::read(run_dir.join("metrics.jsonl")).unwrap(),
        before
    );
    // Any other folder, and a checkpoint that is not ours.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    let f = foreign.to_str().unwrap();
    assert_error(&["train", "--resume", f], &["--resume", "holds no run"]);
    std::fs::write(foreign.join("checkpoint.safetensors"), b"not safetensors").unwrap();
    assert_error(
        &["train", "--resume", f],
        &["checkpoint.safetensors", "not a safetensors file"],
    );
    // A run's flags cannot be changed on resume.
    assert_error(
        &["train", "--resume", r, "--lr", "0.1"],
        &["--resume", "--lr"],
    );
    // eval of the finished run needs none of its flags.
    let stdout = run_ok(&["eval", r, "--backend", "cpu"]);
    assert!(
        stdout.contains("test mse") && stdout.contains("784-8-784"),
        "{stdout}"
    );
}

#[test]
fn quiet_prints_nothing_and_plot_draws_several_runs_in_one_picture() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    let o = ours.to_str().unwrap();
    let args = ["train", "--layers", "8", "--limit", "64", "--epochs", "2"];
    let stdout = run_ok(&[&args[..], &["--backend", "cpu", "--quiet", "--out", o]].concat());
    assert!(stdout.is_empty(), "--quiet printed: {stdout}");
    assert_eq!(metrics(&ours).len(), 2);
    // A run as scripts/torch_train.py --out writes it: the same keys, no interval points.
    let peer = dir.path().join("pytorch");
    std::fs::create_dir(&peer).unwrap();
    let lines = [
        r#"{"epoch": 1, "train_loss": 0.2, "test_mse": 0.1, "test_bce": 0.4, "seconds": 1.0, "images_per_second": 64.0, "eval_seconds": 0.1}"#,
        r#"{"epoch": 2, "train_loss": 0.1, "test_mse": 0.05, "test_bce": 0.3, "seconds": 1.0, "images_per_second": 64.0, "eval_seconds": 0.1}"#,
    ];
    std::fs::write(peer.join("metrics.jsonl"), lines.join("\n")).unwrap();
    let picture = dir.path().join("both.png");
    let p = picture.to_str().unwrap();
    run_ok(&["plot", o, peer.to_str().unwrap(), "--out", p]);
    let (w, h, varied) = png_size_and_varied(&picture);
    assert!(w >= 600 && h >= 400 && varied, "{w}×{h}");
}

/// `plot` draws what it can of odd files and says what it leaves out: a run whose losses
/// are all 0 (named), negative losses (said), finite extremes (drawn); `--out` names a
/// .png or a real JPEG, and any other extension is refused before anything is written.
#[test]
fn plot_draws_what_it_can_and_says_what_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, lines: &[serde_json::Value]| -> String {
        let path = dir.path().join(name);
        std::fs::create_dir(&path).unwrap();
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        std::fs::write(path.join("metrics.jsonl"), text.join("\n")).unwrap();
        path.to_str().unwrap().to_string()
    };
    let epoch = |e: usize, train: f64, test: f64, points: serde_json::Value| {
        serde_json::json!({"epoch": e, "train_loss": train, "test_mse": test, "test_bce": 0.3,
            "seconds": 1.0, "images_per_second": 64.0, "eval_seconds": 0.1, "interval_loss": points})
    };
    let fine = run(
        "fine",
        &[epoch(1, 0.2, 0.1, serde_json::json!([[0.5, 0.3]]))],
    );
    let zeros = run(
        "zeros",
        &[epoch(1, 0.0, 0.0, serde_json::json!([[0.5, 0.0]]))],
    );
    let negative = run(
        "negative",
        &[epoch(1, 0.2, -0.1, serde_json::json!([[0.5, 0.3]]))],
    );
    let extreme = run(
        "extreme",
        &[
            epoch(
                1,
                1e-320,
                1e308,
                serde_json::json!([[-1e300, 1e-300], [1e300, 1e200]]),
            ),
            epoch(2, 1e-5, 1e-2, serde_json::json!([[1.5, 1e-3]])),
        ],
    );
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let plot =
        |runs: &[&str], to: &str| run_with_env(&[&["plot"], runs, &["--out", to]].concat(), &[]);
    for (runs, to, said) in [
        (
            vec![&zeros, &fine],
            out("a.png"),
            Some("zeros: every loss is 0 or below"),
        ),
        (
            vec![&negative],
            out("b.png"),
            Some("negative: 1 negative loss left out"),
        ),
        (vec![&extreme], out("c.png"), None),
        (vec![&fine], out("d.jpg"), None),
    ] {
        let result = plot(&runs.iter().map(|r| r.as_str()).collect::<Vec<_>>(), &to);
        let stderr = String::from_utf8_lossy(&result.stderr).to_string();
        assert!(result.status.success(), "{runs:?}: {stderr}");
        if let Some(said) = said {
            assert!(stderr.contains(said), "{runs:?}: {stderr}");
        }
        let bytes = std::fs::read(&to).unwrap();
        match to.ends_with(".jpg") {
            true => assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "not a JPEG"),
            false => assert!(bytes.starts_with(b"\x89PNG"), "not a PNG"),
        }
        let picture = image::load_from_memory(&bytes).unwrap().to_rgb8();
        let first = picture.get_pixel(0, 0);
        assert!(picture.pixels().any(|p| p != first), "{to} is blank");
    }
    assert_error(
        &["plot", &fine, "--out", &out("e.gif")],
        &["--out", ".gif", ".png"],
    );
    assert!(!dir.path().join("e.gif").exists());
}
