//! The bad-input battery: every way we could think of to hand the program something
//! wrong, each of which must end with exit status 1, an `Error:` line naming the flag,
//! file or variable at fault, no panic, and every file that existed before unchanged,
//! byte for byte. Most cases fail before any device starts; the few that train use a
//! tiny model on the CPU backend. Signals are checked at the end: SIGINT and SIGTERM stop
//! a run promptly with 130 and 143, its metrics valid and its last epoch resumable.

#[cfg(unix)]
mod child;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Every file under `dir`, with its bytes. Files that come and go while it reads (the
/// lock of a case running beside) are skipped: only the files from before any case ran
/// are compared.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(path, bytes);
            }
        }
    }
    out
}

struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// What stderr must name.
    names: Vec<String>,
    /// What stderr must not name: a flag the user did not give, a wrong culprit.
    not_names: Vec<String>,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn case(args: &[&str], names: &[&str]) -> Case {
    Case {
        args: strings(args),
        env: Vec::new(),
        names: strings(names),
        not_names: Vec::new(),
    }
}

/// A case whose error must also not name any of `wrong`.
fn not_naming(mut c: Case, wrong: &[&str]) -> Case {
    c.not_names = strings(wrong);
    c
}

fn with_env(mut c: Case, var: &'static str, value: &str) -> Case {
    c.env.push((var, value.to_string()));
    c
}

/// Runs a case; `before` is every file of the fixture as it was before any case ran.
fn check(fixture: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, c: &Case) -> Result<(), String> {
    let out: Output = bin()
        .args(&c.args)
        .envs(c.env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("{:?} {:?}", c.env, c.args);
    if out.status.code() != Some(1) {
        return Err(format!(
            "{what}: exit {:?}; stderr: {stderr}",
            out.status.code()
        ));
    }
    if !stderr.contains("Error:") || stderr.contains("panicked") {
        return Err(format!("{what}: no clean error: {stderr}"));
    }
    if let Some(missing) = c.names.iter().find(|n| !stderr.contains(n.as_str())) {
        return Err(format!(
            "{what}: stderr does not name {missing:?}: {stderr}"
        ));
    }
    if let Some(wrong) = c.not_names.iter().find(|n| stderr.contains(n.as_str())) {
        return Err(format!("{what}: stderr names {wrong:?}: {stderr}"));
    }
    let after = files(fixture);
    for (path, bytes) in before {
        if after.get(path) != Some(bytes) {
            return Err(format!("{what}: {} changed or vanished", path.display()));
        }
    }
    Ok(())
}

fn gz(path: &Path, bytes: &[u8]) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut out,
    )
    .unwrap();
    out
}

const MNIST: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// A copy of the bundled MNIST with `name` replaced by `bytes` (written raw).
fn data_dir_with(root: &Path, dir: &str, name: &str, write: impl FnOnce(&Path)) -> String {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for f in MNIST {
        if f != name {
            std::fs::copy(src.join(f), d.join(f)).unwrap();
        }
    }
    write(&d.join(name));
    d.to_str().unwrap().to_string()
}

/// A copy of a safetensors checkpoint with one value of `tensor` made NaN.
fn poisoned(src: &Path, dst: &Path, tensor: &str) {
    use safetensors::SafeTensors;
    let bytes = std::fs::read(src).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    let target = owned.iter_mut().find(|t| t.0 == tensor).unwrap();
    target.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(dst, safetensors::serialize(views, meta).unwrap()).unwrap();
}

/// A copy of a safetensors checkpoint with its metadata edited by `edit`.
fn with_metadata(src: &Path, dst: &Path, edit: impl FnOnce(&mut HashMap<String, String>)) {
    use safetensors::SafeTensors;
    let bytes = std::fs::read(src).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    edit(&mut meta);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    std::fs::write(
        dst,
        safetensors::serialize(file.tensors(), Some(meta)).unwrap(),
    )
    .unwrap();
}

/// A copy of the run in `src` (checkpoints and metrics) at `dst`, its checkpoint's
/// metadata edited by `edit`.
fn edited_run(src: &Path, dst: &Path, edit: impl FnOnce(&mut HashMap<String, String>)) {
    std::fs::create_dir(dst).unwrap();
    for f in ["metrics.jsonl", "model.safetensors"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    let ckpt = "checkpoint.safetensors";
    with_metadata(&src.join(ckpt), &dst.join(ckpt), edit);
}

/// Sets one field of the run flags a checkpoint's metadata holds.
fn set_flag(meta: &mut HashMap<String, String>, field: &str, value: serde_json::Value) {
    let mut flags: serde_json::Value = serde_json::from_str(&meta["flags"]).unwrap();
    flags[field] = value;
    meta.insert("flags".into(), flags.to_string());
}

/// Takes the lock of a run folder as a training run holds it, for as long as the file
/// returned is open.
fn hold_lock(dir: &Path) -> std::fs::File {
    let lock = std::fs::File::create(dir.join(".lock")).unwrap();
    lock.try_lock().unwrap();
    writeln!(&lock, "{}", std::process::id()).unwrap();
    lock
}

#[test]
fn every_bad_input_is_a_clean_error_that_changes_nothing() {
    let fixture = tempfile::tempdir().unwrap();
    let root = fixture.path();
    let p = |name: &str| root.join(name).to_str().unwrap().to_string();

    // A finished run of a tiny model, on the CPU backend.
    let run = p("run");
    let trained = bin()
        .args(["train", "--layers", "8", "--limit", "32", "--epochs", "1"])
        .args(["--backend", "cpu", "--out", &run])
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let model = format!("{run}/model.safetensors");
    let ckpt = format!("{run}/checkpoint.safetensors");

    // Outputs that hold something already.
    std::fs::write(root.join("a-file"), b"precious").unwrap();
    std::fs::create_dir(root.join("old-model")).unwrap();
    std::fs::copy(&model, root.join("old-model/model.safetensors")).unwrap();
    std::fs::create_dir(root.join("old-picture")).unwrap();
    std::fs::write(root.join("old-picture/latent.png"), b"a picture").unwrap();
    std::fs::create_dir(root.join("busy")).unwrap();
    // Locked by a live process, as a training run locks it: this test.
    let _busy = hold_lock(&root.join("busy"));
    // A folder of the user's, holding a model and a picture of their own.
    std::fs::create_dir(root.join("user-pictures")).unwrap();
    std::fs::copy(&model, root.join("user-pictures/model.safetensors")).unwrap();
    std::fs::write(root.join("user-pictures/latent.png"), b"a picture of mine").unwrap();
    // A run that is training.
    let run_dir = Path::new(&run);
    edited_run(run_dir, &root.join("training"), |_| {});
    let _training = hold_lock(&root.join("training"));
    std::fs::create_dir(root.join("empty")).unwrap();
    std::fs::create_dir(root.join("stale")).unwrap();
    std::fs::write(root.join("stale/metrics.jsonl"), "").unwrap();

    // Checkpoints.
    poisoned(Path::new(&model), &root.join("nan.safetensors"), "0.weight");
    with_metadata(Path::new(&model), &root.join("huge.safetensors"), |m| {
        m.insert("arch".into(), "dense:100000000".into());
    });
    // The same, as the weights of a folder eval is given.
    std::fs::create_dir(root.join("huge-run")).unwrap();
    with_metadata(
        Path::new(&model),
        &root.join("huge-run/model.safetensors"),
        |m| {
            m.insert("arch".into(), "dense:100000000".into());
        },
    );
    // A kind of model this program does not build.
    with_metadata(Path::new(&model), &root.join("gan.safetensors"), |m| {
        m.insert("arch".into(), "gan:8,4".into());
    });
    // Tensors of `--layers 8` under an architecture of 9.
    with_metadata(Path::new(&model), &root.join("misfit.safetensors"), |m| {
        m.insert("arch".into(), "dense:9".into());
    });
    edited_run(run_dir, &root.join("epoch-0"), |m| {
        m.insert("epoch".into(), "0".into());
    });
    edited_run(run_dir, &root.join("adam-step"), |m| {
        m.insert("adam_step".into(), u64::MAX.to_string());
    });
    edited_run(run_dir, &root.join("batch-0"), |m| {
        set_flag(m, "batch", 0.into())
    });
    edited_run(run_dir, &root.join("limit-0"), |m| {
        set_flag(m, "limit", 0.into())
    });
    // Metrics two epochs ahead of the checkpoint: more than a stopped save leaves.
    edited_run(run_dir, &root.join("ahead"), |_| {});
    let line = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let later: String = (2..=3)
        .map(|epoch| {
            let mut value: serde_json::Value = serde_json::from_str(&line).unwrap();
            value["epoch"] = epoch.into();
            value["interval_loss"] = serde_json::json!([[epoch as f64, 0.2]]);
            format!("{value}\n")
        })
        .collect();
    std::fs::write(root.join("ahead/metrics.jsonl"), format!("{line}{later}")).unwrap();
    // Metrics and no checkpoint: what an earlier version left when stopped between
    // the first epoch's metrics line and its checkpoint.
    std::fs::create_dir(root.join("metrics-only")).unwrap();
    std::fs::write(root.join("metrics-only/metrics.jsonl"), &line).unwrap();
    std::fs::create_dir(root.join("nan-run")).unwrap();
    poisoned(
        Path::new(&ckpt),
        &root.join("nan-run/checkpoint.safetensors"),
        "optimizer.exp_avg.2.bias",
    );
    std::fs::copy(
        format!("{run}/metrics.jsonl"),
        root.join("nan-run/metrics.jsonl"),
    )
    .unwrap();
    let full = std::fs::read(&model).unwrap();
    std::fs::write(root.join("truncated.safetensors"), &full[..full.len() / 2]).unwrap();
    std::fs::write(
        root.join("garbage.safetensors"),
        b"\xff\xff\xff\xff\xff\xff\xff\x7f{",
    )
    .unwrap();
    std::fs::create_dir(root.join("torn-run")).unwrap();
    let state = std::fs::read(&ckpt).unwrap();
    std::fs::write(
        root.join("torn-run/checkpoint.safetensors"),
        &state[..state.len() - 100],
    )
    .unwrap();
    let foreign = safetensors::serialize(
        [(
            "w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0u8; 4])
                .unwrap(),
        )],
        None,
    )
    .unwrap();
    std::fs::write(root.join("foreign.safetensors"), foreign).unwrap();

    // Data.
    let labels_10 = data_dir_with(root, "labels-10", "t10k-labels-idx1-ubyte.gz", |path| {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist/t10k-labels-idx1-ubyte.gz");
        let mut bytes = gunzip(&src);
        bytes[8 + 123] = 10;
        gz(path, &bytes);
    });
    let short = data_dir_with(root, "short", "train-images-idx3-ubyte.gz", |path| {
        gz(
            path,
            &[
                0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3,
            ],
        );
    });
    let not_gz = data_dir_with(root, "not-gz", "train-labels-idx1-ubyte.gz", |path| {
        std::fs::write(path, b"plain text, not gzip").unwrap();
    });
    let a_dir = data_dir_with(root, "a-dir", "t10k-images-idx3-ubyte.gz", |path| {
        std::fs::create_dir(path).unwrap();
    });
    let wrong_magic = data_dir_with(root, "magic", "t10k-labels-idx1-ubyte.gz", |path| {
        gz(path, &[0, 0, 8, 3, 0, 0, 0x27, 0x10]);
    });

    // Files for compare and plot.
    std::fs::write(root.join("empty.jsonl"), "").unwrap();
    std::fs::write(root.join("blank.jsonl"), "\n  \n").unwrap();
    std::fs::write(
        root.join("table.txt"),
        "op  variant  shape  gpu ms\nmatmul naive [64,64,64] 0.78\n",
    )
    .unwrap();
    std::fs::write(
        root.join("schema.jsonl"),
        "{\"peer\": \"torch\"}\n{\"op\": \"matmul\", \"shape\": \"wide\"}\n",
    )
    .unwrap();
    std::fs::write(root.join("array.jsonl"), "[1, 2, 3]\n").unwrap();
    let row = r#"{"op":"matmul","variant":"tiled","shape":[64,64,64],"gpu_ms":0.5,"cpu_ms":null,"speedup":null,"gflops":1.0,"gbps":1.0,"timing":"timestamp","repeats":1}"#;
    std::fs::write(root.join("ours.jsonl"), format!("{row}\n")).unwrap();
    let fixture_peer =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_peer_cpu.jsonl");
    let peer = fixture_peer.to_str().unwrap();
    std::fs::create_dir(root.join("bad-metrics")).unwrap();
    std::fs::write(
        root.join("bad-metrics/metrics.jsonl"),
        "{\"epoch\": 1}\nnot json\n",
    )
    .unwrap();

    let mut cases = vec![
        // Flags.
        case(&["train", "--epochs", "0"], &["--epochs"]),
        case(&["train", "--batch", "0"], &["--batch"]),
        case(&["train", "--lr", "-1"], &["--lr"]),
        case(&["train", "--lr", "NaN"], &["--lr"]),
        case(&["train", "--lr", "inf"], &["--lr"]),
        case(&["train", "--layers", "100,0,30"], &["--layers"]),
        case(&["train", "--layers", ""], &["--layers"]),
        case(&["train", "--layers", "-5"], &["--layers"]),
        case(
            &["train", "--channels", "4"],
            &["--channels", "--model conv"],
        ),
        case(
            &["train", "--model", "conv", "--layers", "4"],
            &["--layers", "--model dense"],
        ),
        case(
            &["train", "--model", "conv", "--channels", "16,8,4"],
            &["--channels"],
        ),
        case(&["train", "--limit", "0"], &["--limit"]),
        case(&["train", "--limit", "60001"], &["--limit"]),
        case(
            &["train", "--epochs", "99999999999999999999999"],
            &["--epochs"],
        ),
        case(&["train", "--seed", "-1"], &["--seed"]),
        case(&["train", "--noise", "gaussian:-1"], &["--noise"]),
        case(&["train", "--noise", "mask:0"], &["--noise"]),
        case(&["train", "--noise", "salt:0.1"], &["--noise", "salt"]),
        // A VAE's loss is the negative ELBO; β and λ are weights of at least 0; the conv
        // model's pooled code takes no L1 penalty.
        case(
            &["train", "--model", "vae", "--loss", "mse"],
            &["--loss", "ELBO"],
        ),
        case(&["train", "--model", "vae", "--beta", "-1"], &["--beta"]),
        case(&["train", "--model", "vae", "--beta", "nan"], &["--beta"]),
        case(&["train", "--l1", "-0.1"], &["--l1"]),
        case(
            &["train", "--model", "conv", "--l1", "1e-3"],
            &["--l1", "max-pool"],
        ),
        case(
            &["train", "--model", "vae", "--channels", "4"],
            &["--channels"],
        ),
        // A conv VAE's sizes are --channels: conv channels, then the latent size.
        case(
            &["train", "--model", "conv-vae", "--layers", "4,2"],
            &["--layers", "--channels"],
        ),
        case(
            &["train", "--model", "conv-vae", "--channels", "4"],
            &["--channels", "latent size"],
        ),
        case(
            &["train", "--model", "conv-vae", "--channels", "4,4,4,20"],
            &["--channels", "stages"],
        ),
        case(
            &["train", "--model", "conv-vae", "--loss", "mse"],
            &["--loss", "ELBO"],
        ),
        case(&["train", "--noise", "gaussian"], &["--noise"]),
        case(&["train", "--model", "rnn"], &["--model"]),
        // Sizes, before anything is allocated, naming the flag that made them too big.
        case(
            &["train", "--backend", "cpu", "--batch", "10000000000"],
            &["--batch", "at most"],
        ),
        case(
            &["train", "--backend", "cpu", "--layers", "100000000"],
            &["--layers", "at most"],
        ),
        case(
            &[
                "train",
                "--backend",
                "cpu",
                "--layers",
                "4611686018427387904",
            ],
            &["--layers"],
        ),
        case(
            &[
                "train",
                "--backend",
                "cpu",
                "--model",
                "conv",
                "--channels",
                "100000000",
            ],
            &["--channels"],
        ),
        case(
            &["train", "--layers", &["8"; 40].join(",")],
            &["--layers", "at most 32"],
        ),
        case(&["profile", "--steps", "144115188075855872"], &["--steps"]),
        case(&["profile", "--steps", "0"], &["--steps"]),
        case(&["profile", "--batch", "0"], &["--batch"]),
        not_naming(
            case(&["profile", "--batch", "60001"], &["--batch", "60000"]),
            &["--steps"],
        ),
        case(&["bench", "--filter", "no such kernel"], &["--filter"]),
        // The plan and tuning.
        case(
            &["profile", "--plan", "--compute-units", "0"],
            &["--compute-units", "at least 1"],
        ),
        case(
            &["profile", "--plan", "--compute-units", "-3"],
            &["--compute-units"],
        ),
        case(&["profile", "--compute-units", "132"], &["--plan"]),
        case(
            &["profile", "--plan", "--steps", "5"],
            &["--plan", "--steps"],
        ),
        case(&["profile", "--plan", "--batch", "0"], &["--batch"]),
        case(&["tune", "--budget", "0"], &["--budget"]),
        case(&["tune", "--budget", "nan"], &["--budget"]),
        case(&["tune", "--batch", "0"], &["--batch"]),
        case(&["tune", "--batch", "60001"], &["--batch", "60000"]),
        case(&["tune", "--all", "--model", "conv"], &["--all", "--model"]),
        case(
            &["train", "--resume", &run, "--no-tune"],
            &["--resume", "--no-tune"],
        ),
        // Outputs: never written over.
        case(&["train", "--out", &p("a-file")], &["--out", "a-file"]),
        case(
            &["train", "--out", &p("old-model")],
            &["--out", "model.safetensors"],
        ),
        case(
            &["train", "--out", &p("old-picture")],
            &["--out", "latent.png"],
        ),
        case(&["train", "--out", &run], &["--out", "metrics.jsonl"]),
        case(
            &["train", "--out", &p("stale")],
            &["--out", "metrics.jsonl"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--out",
                &p("old-model"),
                "--init-from",
                &p("old-model/model.safetensors"),
            ],
            &["--out"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--limit",
                "32",
                "--backend",
                "cpu",
                "--out",
                &p("busy"),
            ],
            &["--out", "in use by another run"],
        ),
        case(&["plot", &run, "--out", &p("a-file")], &["--out"]),
        // Pictures go into a folder of the user's only with --out.
        case(
            &[
                "eval",
                &p("user-pictures/model.safetensors"),
                "--backend",
                "cpu",
            ],
            &["user-pictures", "not a run's folder", "--out"],
        ),
        // The folder of a run that is training is named as such, not as a flag.
        not_naming(
            case(
                &["eval", &p("training"), "--backend", "cpu"],
                &["training", "in use by another run"],
            ),
            &["--resume"],
        ),
        // Checkpoints.
        case(
            &[
                "train",
                "--layers",
                "8",
                "--init-from",
                &p("missing.safetensors"),
            ],
            &["missing.safetensors"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--init-from",
                &p("truncated.safetensors"),
            ],
            &["truncated.safetensors"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--init-from",
                &p("garbage.safetensors"),
            ],
            &["garbage.safetensors", "not a safetensors file"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--init-from",
                &p("foreign.safetensors"),
            ],
            &["foreign.safetensors", "no wgsl-autoencoder"],
        ),
        case(
            &["train", "--layers", "9", "--init-from", &model],
            &["saved for dense:8"],
        ),
        case(
            &[
                "train",
                "--layers",
                "8",
                "--limit",
                "32",
                "--backend",
                "cpu",
                "--out",
                &p("new1"),
                "--init-from",
                &p("nan.safetensors"),
            ],
            &["nan.safetensors", "'0.weight'", "NaN"],
        ),
        case(
            &[
                "eval",
                &p("nan.safetensors"),
                "--backend",
                "cpu",
                "--out",
                &p("new2"),
            ],
            &["nan.safetensors", "'0.weight'"],
        ),
        case(
            &["train", "--resume", &run],
            &["--epochs", "already has its 1 epochs"],
        ),
        case(
            &["train", "--resume", &p("nothing-here")],
            &["--resume", "nothing-here"],
        ),
        case(
            &["train", "--resume", &p("empty")],
            &["--resume", "holds no run"],
        ),
        case(
            &["train", "--resume", &p("torn-run"), "--epochs", "3"],
            &["torn-run", "checkpoint.safetensors"],
        ),
        case(
            &[
                "train",
                "--resume",
                &p("nan-run"),
                "--epochs",
                "3",
                "--backend",
                "cpu",
            ],
            &["optimizer.exp_avg.2.bias", "NaN"],
        ),
        case(
            &["train", "--resume", &run, "--lr", "0.5"],
            &["--resume", "--lr"],
        ),
        case(
            &["train", "--resume", &run, "--noise", "mask:0.5"],
            &["--resume", "--noise"],
        ),
        case(
            &["eval", &p("empty"), "--backend", "cpu"],
            &["checkpoint.safetensors"],
        ),
        // Checkpoints edited or saved wrongly: each error names the file and the field.
        case(
            &["train", "--resume", &p("epoch-0"), "--epochs", "3"],
            &["epoch-0/checkpoint.safetensors", "epoch 0"],
        ),
        not_naming(
            case(
                &["train", "--resume", &p("adam-step"), "--epochs", "3"],
                &[
                    "adam-step/checkpoint.safetensors",
                    "adam_step 18446744073709551615",
                ],
            ),
            &["NaN", "--lr"],
        ),
        not_naming(
            case(
                &["train", "--resume", &p("batch-0"), "--epochs", "3"],
                &["batch-0/checkpoint.safetensors", "saved batch"],
            ),
            &["--batch"],
        ),
        not_naming(
            case(
                &["train", "--resume", &p("limit-0"), "--epochs", "3"],
                &["limit-0/checkpoint.safetensors", "saved limit"],
            ),
            &["--limit"],
        ),
        not_naming(
            case(
                &[
                    "eval",
                    &p("huge.safetensors"),
                    "--out",
                    &p("new6"),
                    "--backend",
                    "cpu",
                ],
                &["huge.safetensors", "saved arch"],
            ),
            &["--layers"],
        ),
        case(
            &[
                "eval",
                &p("huge-run"),
                "--out",
                &p("new6b"),
                "--backend",
                "cpu",
            ],
            &["huge-run/model.safetensors", "saved arch"],
        ),
        case(
            &[
                "eval",
                &p("misfit.safetensors"),
                "--out",
                &p("new6c"),
                "--backend",
                "cpu",
            ],
            &["misfit.safetensors", "'0.weight'", "[8, 784]", "[9, 784]"],
        ),
        case(
            &["eval", &p("gan.safetensors"), "--out", &p("new6d")],
            &[
                "gan.safetensors",
                "\"gan:8,4\"",
                "does not build",
                "conv-vae",
            ],
        ),
        case(
            &["train", "--resume", &p("ahead"), "--epochs", "5"],
            &["ahead/metrics.jsonl", "holds 3 epochs", "after epoch 1"],
        ),
        case(
            &["train", "--resume", &p("metrics-only")],
            &[
                "--resume",
                "no checkpoint.safetensors",
                "remove",
                "metrics-only/metrics.jsonl",
            ],
        ),
        case(
            &["train", "--out", &p("metrics-only")],
            &["--out", "metrics.jsonl", "no run there can be continued"],
        ),
        case(
            &["eval", &p("garbage.safetensors")],
            &["garbage.safetensors"],
        ),
        // Data.
        case(
            &["train", "--data-dir", &p("no-such-data")],
            &["no-such-data", "--data-dir"],
        ),
        case(
            &["train", "--data-dir", &labels_10],
            &["t10k-labels-idx1-ubyte.gz", "label 123 is 10"],
        ),
        case(
            &["train", "--data-dir", &short],
            &["train-images-idx3-ubyte.gz"],
        ),
        case(
            &["train", "--data-dir", &not_gz],
            &["train-labels-idx1-ubyte.gz", "gzip"],
        ),
        case(
            &["train", "--data-dir", &a_dir],
            &["t10k-images-idx3-ubyte.gz"],
        ),
        case(
            &["train", "--data-dir", &wrong_magic],
            &["t10k-labels-idx1-ubyte.gz", "magic number"],
        ),
        // compare and plot.
        case(
            &["compare", &p("empty.jsonl"), peer],
            &["empty.jsonl", "no rows"],
        ),
        case(
            &["compare", &p("blank.jsonl"), peer],
            &["blank.jsonl", "no rows"],
        ),
        case(
            &["compare", &p("table.txt"), peer],
            &["table.txt", "line 1"],
        ),
        case(
            &["compare", &p("schema.jsonl"), peer],
            &["schema.jsonl", "line 1"],
        ),
        case(
            &["compare", &p("ours.jsonl"), &p("schema.jsonl")],
            &["schema.jsonl", "line 2", "not a peer row"],
        ),
        case(
            &["compare", &p("array.jsonl"), peer],
            &["array.jsonl", "line 1", "not a JSON object"],
        ),
        case(&["compare", &p("missing.jsonl"), peer], &["missing.jsonl"]),
        case(&["plot", &p("empty")], &["metrics.jsonl"]),
        case(&["plot", &p("bad-metrics")], &["metrics.jsonl", "line 1"]),
        // Environment variables, checked before any adapter is asked for.
        with_env(
            case(&["info"], &["WGPU_BACKEND", "garbage"]),
            "WGPU_BACKEND",
            "garbage",
        ),
        with_env(
            case(
                &["train", "--limit", "8", "--out", &p("new3")],
                &["WGPU_BACKEND"],
            ),
            "WGPU_BACKEND",
            "",
        ),
        with_env(
            case(
                &["train", "--limit", "8", "--out", &p("new4")],
                &["WGPU_POWER_PREF", "turbo"],
            ),
            "WGPU_POWER_PREF",
            "turbo",
        ),
        with_env(
            case(
                &["train", "--limit", "8", "--out", &p("new5")],
                &["WGPU_ADAPTER_NAME", "no-such-gpu"],
            ),
            "WGPU_ADAPTER_NAME",
            "no-such-gpu",
        ),
        with_env(
            case(&["bench", "--quick"], &["WGPU_ADAPTER_NAME"]),
            "WGPU_ADAPTER_NAME",
            " ",
        ),
        // Divergence: stopped at once, nothing non-finite saved.
        case(
            &[
                "train",
                "--limit",
                "256",
                "--epochs",
                "2",
                "--lr",
                "1e6",
                "--backend",
                "cpu",
                "--out",
                &p("diverged"),
            ],
            &["NaN", "--lr"],
        ),
    ];
    let absent = if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    };
    cases.push(with_env(
        case(&["profile", "--steps", "1"], &["WGPU_BACKEND", absent]),
        "WGPU_BACKEND",
        absent,
    ));
    assert!(cases.len() >= 40, "{} cases", cases.len());

    // Two at a time: the machine this runs on may have two cores. Every case is checked
    // against the files as they were before the first ran.
    let before = files(root);
    let before = &before;
    let failures: Vec<String> = std::thread::scope(|s| {
        let (a, b) = cases.split_at(cases.len() / 2);
        let handles = [a, b].map(|half| {
            s.spawn(move || {
                half.iter()
                    .filter_map(|c| check(root, before, c).err())
                    .collect::<Vec<_>>()
            })
        });
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Runs refused or stopped before an epoch leave no folder behind.
    for name in ["new1", "new2", "new3", "new4", "new5", "new6"] {
        assert!(!root.join(name).exists(), "{name} was left behind");
    }
    assert!(!root.join("diverged/model.safetensors").exists());
}

/// Starts a long run, waits for its first finished epoch, sends `signal`, and checks that
/// it stops within seconds with `code`, its metrics valid, its lock gone, and the run
/// resumable from where it stopped.
#[cfg(unix)]
fn interrupted_by(signal: i32, name: &str, code: i32) {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let mut child = bin()
        .args([
            "train", "--layers", "8", "--limit", "1024", "--epochs", "1000",
        ])
        .args(["--backend", "cpu", "--out", o])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = out.join("metrics.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&metrics).map_or(true, |t| t.lines().count() < 1) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no epoch finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id() as i32;
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "{name} did not stop the run"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(code), "{name}: {stderr}");
    assert!(
        stderr.contains(&format!("interrupted by {name}")) && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.join(".lock").exists(), "the lock was left behind");
    let text = std::fs::read_to_string(&metrics).unwrap();
    let epochs = text.lines().count();
    for line in text.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(m["test_mse"].as_f64().is_some_and(f64::is_finite), "{line}");
    }
    // The last saved epoch continues.
    let more = (epochs + 1).to_string();
    let resumed = bin()
        .args([
            "train",
            "--resume",
            o,
            "--epochs",
            &more,
            "--backend",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(text.lines().count(), epochs + 1);
}

#[cfg(unix)]
#[test]
fn sigint_stops_a_run_that_can_be_resumed() {
    interrupted_by(libc::SIGINT, "SIGINT", 130);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_run_that_can_be_resumed() {
    interrupted_by(libc::SIGTERM, "SIGTERM", 143);
}

/// Starts a run into a new folder and sends `signal` as soon as the run holds the
/// folder, long before its first epoch can end: it stops with `code`, and leaves no
/// folder behind.
#[cfg(unix)]
fn interrupted_before_the_first_epoch(signal: i32, code: i32) {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // The default model on the whole training set: minutes an epoch on the CPU.
    let child = bin()
        .args(["train", "--backend", "cpu", "--epochs", "1", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !out.join(".lock").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains("nothing was saved"), "{stderr}");
    assert!(!out.exists(), "{} was left behind", out.display());
}

#[cfg(unix)]
#[test]
fn an_interrupt_before_the_first_epoch_leaves_no_folder() {
    interrupted_before_the_first_epoch(libc::SIGINT, 130);
    interrupted_before_the_first_epoch(libc::SIGTERM, 143);
}

/// A FIFO (or a folder) where the program reads a file is refused at once, by name:
/// opening a FIFO used to wait for a writer for ever.
#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_any_file_read_is_refused_at_once() {
    let fixture = tempfile::tempdir().unwrap();
    let root = fixture.path();
    let mkfifo = |path: &Path| {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path and creates a FIFO there.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    let data = data_dir_with(root, "data", "train-labels-idx1-ubyte.gz", mkfifo);
    let fifo = root.join("fifo");
    mkfifo(&fifo);
    std::fs::create_dir(root.join("fifo-run")).unwrap();
    mkfifo(&root.join("fifo-run/metrics.jsonl"));
    let f = fifo.to_str().unwrap();
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_peer_cpu.jsonl");
    let plot_out = root.join("loss.png");
    let fifo_run = root.join("fifo-run");
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec![
                "train",
                "--backend",
                "cpu",
                "--limit",
                "32",
                "--data-dir",
                &data,
            ],
            "train-labels-idx1-ubyte.gz",
        ),
        (vec!["train", "--layers", "8", "--init-from", f], f),
        (vec!["eval", f, "--backend", "cpu"], f),
        (vec!["compare", f, peer.to_str().unwrap()], f),
        (
            vec![
                "plot",
                fifo_run.to_str().unwrap(),
                "--out",
                plot_out.to_str().unwrap(),
            ],
            "metrics.jsonl",
        ),
    ];
    for (args, file) in &cases {
        let out = child::output_within_a_minute(bin().args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("Error:") && stderr.contains(file) && stderr.contains("FIFO"),
            "{args:?}: {stderr}"
        );
    }
}
