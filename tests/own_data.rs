//! The binary on the user's own data (`--data PATH`), end to end: a folder of PNGs trains
//! exactly as the same images in IDX files do, a folder of colour images trains the conv
//! AE and the conv VAE, a CSV of 140-number rows trains the dense AE standardised, and
//! every bad input is one `Error:` line that names the file, with nothing written.

mod child;
mod datasets;

use std::path::Path;
use std::process::{Command, Output};

use datasets::{csv_file, idx, idx_folder, mnist_by_class, png_folder, rgb_folder, write_png};

fn bin(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    child::own_cache(&mut c, cache).current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run_ok(cache: &Path, args: &[&str]) -> String {
    let out: Output = bin(cache).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The run's metrics, each line without its timings (which differ from run to run).
fn losses(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for timing in ["seconds", "images_per_second", "eval_seconds"] {
                v.as_object_mut().unwrap().remove(timing);
            }
            v
        })
        .collect()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// MNIST's first 2,000 training and 500 test images, exported as PNGs in class folders,
/// train exactly as the same images in the same order from IDX files: the same losses at
/// every logged point and the same weights, bit for bit.
#[test]
fn a_folder_of_pngs_trains_bit_for_bit_as_the_same_images_in_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (mnist_by_class(true, 2000), mnist_by_class(false, 500));
    let (pngs, idxs) = (dir.path().join("pngs"), dir.path().join("idx"));
    png_folder(&pngs, &train, &test);
    idx_folder(&idxs, &train, &test);
    let cache = dir.path().join("cache");
    let mut runs = Vec::new();
    for (name, data) in [("from-pngs", &pngs), ("from-idx", &idxs)] {
        let out = dir.path().join(name);
        let stdout = run_ok(
            &cache,
            &[
                "train",
                "--data",
                s(data),
                "--layers",
                "32,8",
                "--epochs",
                "2",
                "--batch",
                "64",
                "--backend",
                "cpu",
                "--seed",
                "5",
                "--out",
                s(&out),
            ],
        );
        let first = stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("data: ") && first.contains("2000 training and 500 test samples"),
            "{first}"
        );
        assert!(
            first.contains("1×28×28") && first.contains("10 classes"),
            "{first}"
        );
        runs.push(out);
    }
    assert_eq!(losses(&runs[0]), losses(&runs[1]));
    // The tensors, bit for bit (the header's metadata is a map, whose order a
    // safetensors file does not fix).
    let weights = |run: &Path| std::fs::read(run.join("model.safetensors")).unwrap();
    let (a, b) = (weights(&runs[0]), weights(&runs[1]));
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let same = a.tensor(name).unwrap().data() == b.tensor(name).unwrap().data();
        assert!(same, "tensor {name} differs");
    }
}

/// A folder of 3×32×32 colour images in class folders: the conv AE and the conv VAE train
/// at its shape on the GPU (three channels in, three out), and their loss falls.
#[test]
fn a_folder_of_colour_images_trains_the_conv_ae_and_the_conv_vae() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("photos");
    rgb_folder(&folder, &["red", "green", "blue"], 40, 32);
    let cache = dir.path().join("cache");
    for (model, sizes) in [("conv", "8,4"), ("conv-vae", "8,4,6")] {
        let out = dir.path().join(model);
        let stdout = run_ok(
            &cache,
            &[
                "train",
                "--data",
                s(&folder),
                "--model",
                model,
                "--channels",
                sizes,
                "--epochs",
                "3",
                "--batch",
                "16",
                "--lr",
                "0.003",
                "--no-tune",
                "--out",
                s(&out),
            ],
        );
        assert!(
            stdout.contains("3×32×32") && stdout.contains("3 classes (blue, green, red)"),
            "{stdout}"
        );
        let lines = losses(&out);
        let train: Vec<f64> = lines
            .iter()
            .map(|l| l["train_loss"].as_f64().unwrap())
            .collect();
        assert!(train[2] < train[0], "{model}: the loss falls: {train:?}");
        // The model takes and gives back three channels.
        let spec =
            String::from_utf8_lossy(&std::fs::read(out.join("model.safetensors")).unwrap()[..2000])
                .to_string();
        assert!(spec.contains("in=3x32x32"), "{model}: {spec}");
    }
}

/// A CSV of 140-number rows with a label column trains the dense AE standardised: a
/// linear output and the MSE, no BCE, the scaling saved with the model, and `eval` of the
/// checkpoint applies it and gives the run's own test MSE.
#[test]
fn a_csv_of_rows_trains_the_dense_ae_standardised() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("beats.csv");
    csv_file(&table, 600);
    let cache = dir.path().join("cache");
    let out = dir.path().join("run");
    let stdout = run_ok(
        &cache,
        &[
            "train",
            "--data",
            s(&table),
            "--label-column",
            "label",
            "--standardize",
            "--layers",
            "32,8",
            "--epochs",
            "3",
            "--batch",
            "32",
            "--no-tune",
            "--out",
            s(&out),
        ],
    );
    assert!(
        stdout.contains("rows of 140 numbers") && stdout.contains("standardised"),
        "{stdout}"
    );
    assert!(stdout.contains("linear output"), "{stdout}");
    let lines = losses(&out);
    assert!(
        lines.iter().all(|l| l.get("test_bce").is_none()),
        "{lines:?}"
    );
    let train: Vec<f64> = lines
        .iter()
        .map(|l| l["train_loss"].as_f64().unwrap())
        .collect();
    assert!(train[2] < train[0], "the loss falls: {train:?}");
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    assert!(String::from_utf8_lossy(&model[..8000]).contains("\"scaling\""));
    let eval = run_ok(
        &cache,
        &["eval", s(&out), "--out", s(&dir.path().join("eval"))],
    );
    let last = lines.last().unwrap()["test_mse"].as_f64().unwrap();
    assert!(
        eval.contains(&format!("test mse {last:.6}")),
        "{eval}\nwanted {last:.6}"
    );
}

/// Every bad input of the user's data is one `Error:` line naming the file (and the row
/// and column where one applies) and the run's folder is never made.
#[test]
fn bad_data_is_one_error_line_naming_the_file_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let grey = |path: &Path, side: u32| {
        write_png(
            path,
            side,
            side,
            image::ExtendedColorType::L8,
            &vec![7u8; (side * side) as usize],
        )
    };
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "no images here").unwrap();
    let mixed = root.join("mixed");
    grey(&mixed.join("a/one.png"), 8);
    grey(&mixed.join("a/two.png"), 9);
    let corrupt = root.join("corrupt");
    grey(&corrupt.join("a/good.png"), 8);
    std::fs::write(corrupt.join("a/bad.png"), b"\x89PNG\r\n\x1a\nthen nothing").unwrap();
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let words = write("words.csv", "a,b\n1,2\n3,oops\n4,5\n");
    let nan = write("nan.csv", "1,2\n3,NaN\n4,5\n");
    let inf = write("inf.csv", "1,2\n3,inf\n4,5\n");
    let ragged = write("ragged.csv", "1,2,3\n4,5\n6,7,8\n");
    let one = write("one.csv", "1,2,3\n");
    let tiny = write("tiny.csv", "1,2\n3,4\n5,6\n");
    let bad_idx = root.join("bad-idx");
    std::fs::create_dir_all(&bad_idx).unwrap();
    std::fs::write(
        bad_idx.join("train-images-idx3-ubyte"),
        idx(&[3, 4, 4], &[1; 40]),
    )
    .unwrap();
    let labels = root.join("labels");
    std::fs::create_dir_all(&labels).unwrap();
    std::fs::write(
        labels.join("train-images-idx3-ubyte"),
        idx(&[3, 2, 2], &[1; 12]),
    )
    .unwrap();
    std::fs::write(
        labels.join("train-labels-idx1-ubyte"),
        idx(&[4], &[0, 1, 0, 1]),
    )
    .unwrap();
    // A PNG whose header claims 100000×100000 pixels (its data cut short).
    let huge = root.join("huge");
    std::fs::create_dir_all(&huge).unwrap();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let crc = crc32(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc.to_be_bytes());
    std::fs::write(huge.join("big.png"), png).unwrap();
    let cases: Vec<(Vec<&str>, &Path, Vec<&str>)> = vec![
        (vec![], &empty, vec!["no images"]),
        (vec![], &mixed, vec!["--image-size"]),
        (vec![], &corrupt, vec!["bad.png"]),
        (vec![], &words, vec!["oops", "row", "column"]),
        (vec![], &nan, vec!["NaN", "row", "column"]),
        (vec![], &inf, vec!["inf", "row"]),
        (vec![], &ragged, vec!["row"]),
        (vec![], &one, vec!["1 sample"]),
        (
            vec!["--test-fraction", "0.01"],
            &tiny,
            vec!["--test-fraction"],
        ),
        (vec![], &bad_idx, vec!["train-images-idx3-ubyte"]),
        (vec![], &labels, vec!["train-labels-idx1-ubyte"]),
        (vec![], &huge, vec!["big.png", "--image-size"]),
    ];
    for (i, (flags, data, words)) in cases.into_iter().enumerate() {
        let out = root.join(format!("run-{i}"));
        let mut args = vec!["train", "--data", s(data), "--out", s(&out), "--no-tune"];
        args.extend(flags);
        let output = bin(&root.join("cache")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one Error line: {stderr}");
        let name = data.file_name().unwrap().to_string_lossy();
        // The data's own name, or the file in it at fault.
        let named = errors[0].contains(&*name)
            || words
                .iter()
                .any(|w| w.ends_with(".png") || w.contains("ubyte"));
        assert!(named, "{args:?}: names the data: {stderr}");
        for w in words {
            assert!(errors[0].contains(w), "{args:?}: says {w:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "{args:?}: nothing is written");
    }
}

/// A checkpoint given data of another shape: `eval` names both shapes, and writes nothing.
#[test]
fn a_model_given_data_of_another_shape_names_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("photos");
    rgb_folder(&folder, &["a", "b"], 12, 16);
    let cache = dir.path().join("cache");
    let run = dir.path().join("run");
    run_ok(
        &cache,
        &[
            "train",
            "--data",
            s(&folder),
            "--layers",
            "8,4",
            "--epochs",
            "1",
            "--backend",
            "cpu",
            "--out",
            s(&run),
        ],
    );
    let out = dir.path().join("eval");
    let output = bin(&cache)
        .args([
            "eval",
            s(&run),
            "--data",
            "data/mnist",
            "--backend",
            "cpu",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1×28×28") && stderr.contains("3×16×16"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
