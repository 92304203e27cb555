//! The page's session, natively (lavapipe or any adapter wgpu finds): what the page
//! refuses, and how, before anything runs in a browser. The same session runs in
//! Chromium in browser_kernels.rs and web/tests/e2e.mjs.
#![cfg(not(target_arch = "wasm32"))]

use pollster::block_on;
use wgsl_autoencoder::anomaly;
use wgsl_autoencoder::data::{mnist_from_gz, Dataset, Shape, Values};
use wgsl_autoencoder_web::session::{timestamp_quantum, DataOptions, Session, Settings};

fn mnist() -> [Vec<u8>; 4] {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    wgsl_autoencoder::data::FILES
        .map(|(name, _, _)| std::fs::read(dir.join(format!("{name}.gz"))).unwrap())
}

fn loaded(limit: Option<usize>) -> Session {
    let files = mnist();
    let mut session = Session::default();
    let bytes = [&files[0][..], &files[1][..], &files[2][..], &files[3][..]];
    session.load_data(bytes, limit).unwrap();
    session
}

fn refused(settings: Settings) -> String {
    match settings.config() {
        Ok(c) => panic!("{settings:?} was accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn controls_that_cannot_train_are_refused_with_the_command_line_s_messages() {
    let base = Settings::default();
    assert!(base.config().is_ok());
    for (model, sizes) in [("conv", "16,8"), ("vae", "400,20"), ("conv-vae", "16,8,20")] {
        let settings = Settings {
            model: model.into(),
            sizes: sizes.into(),
            ..base.clone()
        };
        let config = settings.config().unwrap();
        assert_eq!(config.arch.name(), model);
        assert_eq!(config.arch.is_variational(), model.contains("vae"));
    }
    let err = refused(Settings {
        sizes: "100,,30".into(),
        ..base.clone()
    });
    assert!(err.contains("Layers") && err.contains("100,,30"), "{err}");
    let err = refused(Settings {
        sizes: "100,0".into(),
        ..base.clone()
    });
    assert!(
        err.contains("--layers") && err.contains("above zero"),
        "{err}"
    );
    let err = refused(Settings {
        model: "conv".into(),
        sizes: "8,8,8".into(),
        ..base.clone()
    });
    assert!(err.contains("--channels") && err.contains("28×28"), "{err}");
    // A VAE's sizes are refused in the same words, not as a model the page lacks.
    let err = refused(Settings {
        model: "vae".into(),
        sizes: "400,0".into(),
        ..base.clone()
    });
    assert!(
        err.contains("--layers") && err.contains("above zero"),
        "{err}"
    );
    let err = refused(Settings {
        model: "gan".into(),
        ..base.clone()
    });
    assert!(err.contains("not a model this page builds"), "{err}");
    let err = refused(Settings {
        batch: 0,
        ..base.clone()
    });
    assert!(err.contains("batch"), "{err}");
    let err = refused(Settings {
        lr: f32::NAN,
        ..base.clone()
    });
    assert!(err.contains("lr"), "{err}");
    let err = refused(Settings {
        noise: "gaussian:-1".into(),
        ..base.clone()
    });
    assert!(
        err.contains("Noise") && err.contains("standard deviation"),
        "{err}"
    );
    let err = refused(Settings {
        limit: Some(0),
        ..base.clone()
    });
    assert!(
        err.contains("--limit") && err.contains("at least 1"),
        "{err}"
    );
    let text = r#"{"model":"dense","sizes":"8","batch":4,"surprise":1}"#;
    assert!(
        serde_json::from_str::<Settings>(text).is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn a_model_too_large_for_the_backend_gets_the_size_check_s_message() {
    let mut session = loaded(Some(256));
    let settings = Settings {
        sizes: "4000000,30".into(),
        backend: "cpu".into(),
        limit: Some(256),
        ..Settings::default()
    };
    let err = block_on(session.start(&settings)).unwrap_err().to_string();
    assert!(
        err.contains("--layers") && err.contains("784→4000000"),
        "{err}"
    );
    assert!(err.contains("at most 2147483648"), "{err}");
}

#[test]
fn questions_before_their_answers_exist_are_errors_not_panics() {
    let mut session = Session::default();
    let err = block_on(session.start(&Settings::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("MNIST is not loaded"), "{err}");
    assert!(block_on(session.advance()).is_err());
    assert!(block_on(session.weights()).is_err());
    assert!(session
        .check_plan()
        .unwrap_err()
        .to_string()
        .contains("no WebGPU"));
    let mut session = loaded(Some(64));
    let cpu = Settings {
        sizes: "16,4".into(),
        batch: 32,
        epochs: 1,
        limit: Some(64),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&cpu)).unwrap();
    let err = block_on(session.decode_point(0.0, 0.0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("after the first epoch"), "{err}");
    let err = block_on(session.reconstruct_drawn(&[0; 10]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1×28×28"), "{err}");
    block_on(session.advance()).unwrap();
    let err = block_on(session.scores()).unwrap_err().to_string();
    assert!(err.contains("epoch"), "scoring mid-epoch: {err}");
    let err = block_on(session.open_weights("model.safetensors", b"not a checkpoint", &cpu))
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    // A batch larger than the training samples, and a class the data lacks, are refused
    // in the terminal's words.
    let err = block_on(session.start(&Settings {
        batch: 128,
        ..cpu.clone()
    }))
    .unwrap_err()
    .to_string();
    assert!(err.contains("--batch") && err.contains("holds 64"), "{err}");
    let err = block_on(session.start(&Settings {
        classes: vec!["cat".into()],
        ..cpu.clone()
    }))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--classes") && err.contains("\"cat\""),
        "{err}"
    );
}

/// Train on the CPU reference, download the weights, open them again: the same test
/// numbers, the same pictures' data, on a fresh model.
#[test]
fn weights_the_page_downloads_open_again_to_the_same_numbers() {
    let mut session = loaded(Some(128));
    let cpu = Settings {
        sizes: "16,4".into(),
        batch: 32,
        epochs: 1,
        limit: Some(128),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&cpu)).unwrap();
    let metrics = loop {
        let u = block_on(session.advance()).unwrap();
        if let Some(m) = u.metrics {
            break m;
        }
    };
    assert_eq!(block_on(session.advance()).unwrap().phase, "done");
    let (xy, labels) = session.latent().unwrap();
    assert_eq!((xy.len(), labels.len()), (20_000, 10_000));
    let bytes = block_on(session.weights()).unwrap();
    let drawn = block_on(session.reconstruct_drawn(&[200; 784])).unwrap();
    assert!(drawn.point.is_some(), "a drawing lands in the latent plane");
    assert!(drawn.score > 0.0 && drawn.anomaly.is_none(), "{drawn:?}");

    let opened = block_on(session.open_weights("model.safetensors", &bytes, &cpu)).unwrap();
    assert_eq!(
        (opened.model.as_str(), opened.sizes.as_str(), opened.epoch),
        ("dense", "16,4", 1)
    );
    assert_eq!(opened.test_mse, metrics.test_mse);
    assert_eq!(opened.test_bce, metrics.test_bce);
    assert_eq!(session.latent().unwrap(), (xy, labels));
    let again = block_on(session.reconstruct_drawn(&[200; 784])).unwrap();
    assert_eq!(again, drawn);
    let image = block_on(session.decode_point(0.5, -0.5)).unwrap();
    assert_eq!(image.len(), 784);
    let strip = block_on(session.interpolate(0, 1)).unwrap();
    assert_eq!(strip.len(), 10 * 784);
}

#[test]
fn quantised_timestamps_are_recognised() {
    assert_eq!(
        timestamp_quantum([0.1, 0.3, 0.2, 0.0].into_iter()),
        Some(0.1)
    );
    assert_eq!(
        timestamp_quantum([0.1234, 0.3051, 0.2222].into_iter()),
        None
    );
    assert_eq!(timestamp_quantum([0.1].into_iter()), None);
}

/// The variational model trains in the page as the terminal trains it: its loss is the
/// negative ELBO per image (hundreds of nats), and its latent plane is μ's.
#[test]
fn the_page_trains_a_vae() {
    let mut session = loaded(Some(64));
    let vae = Settings {
        model: "vae".into(),
        sizes: "32,2".into(),
        batch: 32,
        epochs: 1,
        limit: Some(64),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&vae)).unwrap();
    let metrics = loop {
        if let Some(m) = block_on(session.advance()).unwrap().metrics {
            break m;
        }
    };
    assert!(metrics.train_loss > 100.0, "{metrics:?}");
    assert!(metrics.test_mse.is_finite() && metrics.test_mse > 0.0);
    let (xy, labels) = session.latent().unwrap();
    assert_eq!((xy.len(), labels.len()), (20_000, 10_000));
    assert_eq!(block_on(session.decode_point(0.0, 0.0)).unwrap().len(), 784);
}

/// Trains `settings` to its end, advance by advance.
fn train(session: &mut Session, settings: &Settings) {
    block_on(session.start(settings)).unwrap();
    while block_on(session.advance()).unwrap().phase != "done" {}
}

/// A PNG of 8-bit pixels (`channels` 1: grey, 3: RGB), written by hand (zlib's stored
/// blocks) so that the test needs no encoder.
fn png(width: usize, height: usize, channels: usize, pixels: &[u8]) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let sum = crc(&out[start..]);
        out.extend(sum.to_be_bytes());
    }
    let mut raw = Vec::new();
    for row in pixels.chunks(width * channels) {
        raw.push(0);
        raw.extend(row);
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push((i + 1 == blocks.len()) as u8);
        z.extend((block.len() as u16).to_le_bytes());
        z.extend((!(block.len() as u16)).to_le_bytes());
        z.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend((width as u32).to_be_bytes());
    header.extend((height as u32).to_be_bytes());
    header.extend([8, if channels == 3 { 2 } else { 0 }, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// MNIST's test digits of 0, 1 and 2, `per` of each, as grey PNGs in class folders
/// named by words (so sorted `one`, `two`, `zero`), as a picked folder gives them.
fn digit_folder(per: usize) -> Vec<(String, Vec<u8>)> {
    let files = mnist();
    let data = mnist_from_gz([&files[0], &files[1], &files[2], &files[3]], None).unwrap();
    let (Values::Bytes(pixels), Some(labels)) = (&data.test.values, &data.test.labels) else {
        panic!("MNIST holds labelled bytes");
    };
    let mut out = Vec::new();
    for (digit, name) in ["zero", "one", "two"].iter().enumerate() {
        let of_digit = (0..labels.len()).filter(|&i| labels[i] == digit as u32);
        for (k, i) in of_digit.take(per).enumerate() {
            let image = png(28, 28, 1, &pixels[i * 784..(i + 1) * 784]);
            out.push((format!("{name}/{k:03}.png"), image));
        }
    }
    out.push(("README.txt".into(), b"three digits".to_vec()));
    out
}

/// A picked folder of PNGs becomes the data, by the terminal's folder rules: its classes,
/// its shape (here resized), a model at that shape, and every picture at that shape.
#[test]
fn a_picked_folder_of_pngs_trains_at_its_own_shape() {
    let mut session = Session::default();
    let size = DataOptions {
        image_size: "14x14".into(),
        ..DataOptions::default()
    };
    let info = session.load_files(digit_folder(30), &size).unwrap();
    assert_eq!(info.kind, "images");
    assert_eq!(info.classes, ["one", "two", "zero"]);
    assert_eq!(info.shape, Shape::images(1, 14, 14));
    assert_eq!(
        (info.train, info.test),
        (81, 9),
        "a tenth of each class tests"
    );
    assert!(
        info.describe.contains("3 class folders") && info.describe.contains("1×14×14"),
        "{}",
        info.describe
    );
    assert!(
        info.notes.iter().any(|n| n.contains("README.txt")),
        "{:?}",
        info.notes
    );
    assert_eq!(info.undrawable, None);

    let settings = Settings {
        sizes: "16,4".into(),
        batch: 16,
        epochs: 1,
        backend: "cpu".into(),
        ..Settings::default()
    };
    train(&mut session, &settings);
    let ex = block_on(session.examples()).unwrap().unwrap();
    assert_eq!(ex.shape, Shape::images(1, 14, 14));
    assert_eq!(ex.labels.len(), 9, "three of each class");
    assert_eq!((ex.clean.len(), ex.rebuilt.len()), (9 * 196, 9 * 196));
    let names: Vec<&str> = ex.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["one", "two", "zero"]);
    assert_eq!(session.series().unwrap(), ["one", "two", "zero"]);
    let ends = session.endpoints().unwrap();
    assert_eq!(ends.len(), 3);
    assert_eq!(ends[2].name, "zero");
    let (xy, labels) = session.latent().unwrap();
    assert_eq!((xy.len(), labels.len()), (18, 9));
    let strip = block_on(session.interpolate(ends[0].index, ends[2].index)).unwrap();
    assert_eq!(strip.len(), 10 * 196);
    assert_eq!(block_on(session.decode_point(0.0, 0.0)).unwrap().len(), 196);
    let drawn = block_on(session.reconstruct_drawn(&[0; 196])).unwrap();
    assert_eq!(drawn.rebuilt.len(), 196);
    let err = block_on(session.reconstruct_drawn(&[0; 784]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1×14×14"), "{err}");
    // The model is at the data's shape, and the weights say so.
    let weights = block_on(session.weights()).unwrap();
    assert!(
        String::from_utf8_lossy(&weights).contains("in=1x14x14"),
        "the checkpoint records the shape"
    );

    // Prepared again in colour: three channels, and no drawing pad.
    let rgb = DataOptions {
        colour: "rgb".into(),
        ..size.clone()
    };
    let info = session.prepare_data(&rgb).unwrap();
    assert_eq!(info.shape, Shape::images(3, 14, 14));
    assert!(info.undrawable.unwrap().contains("one channel"));
    assert!(
        block_on(session.examples()).is_err(),
        "new data drops the model"
    );
}

/// What the terminal refuses about a folder, the page refuses in the same words, naming
/// the file; the data in use stays.
#[test]
fn a_folder_the_rules_refuse_is_an_error_naming_the_file() {
    let mut session = Session::default();
    let mut files = digit_folder(10);
    files.push(("zero/big.png".into(), png(30, 30, 1, &[9; 900])));
    let err = session
        .load_files(files.clone(), &DataOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("28×28") && err.contains("zero/big.png") && err.contains("--image-size"),
        "{err}"
    );
    files.pop();
    let before = session
        .load_files(files.clone(), &DataOptions::default())
        .unwrap();
    files.push((
        "two/broken.png".into(),
        b"\x89PNG\r\n\x1a\nnot really".to_vec(),
    ));
    let err = session
        .load_files(files, &DataOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("two/broken.png"), "{err}");
    assert_eq!(
        session.data_info().unwrap(),
        before,
        "the data in use stays"
    );
    let err = session
        .load_files(
            vec![("a.txt".into(), b"hello".to_vec())],
            &DataOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no PNG or JPEG images"), "{err}");
    let err = session
        .prepare_data(&DataOptions {
            image_size: "big".into(),
            ..DataOptions::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--image-size") && err.contains("32x32"),
        "{err}"
    );
}

/// A CSV of rows is data too: rows of its numbers, min-max scaled, and no drawing.
#[test]
fn a_picked_csv_trains_on_its_rows() {
    let mut session = Session::default();
    let text: String = (0..40)
        .map(|i| format!("{},{},{},{}\n", i, i * 2, 40 - i, i % 7))
        .collect();
    let info = session
        .load_files(
            vec![("rows.csv".into(), text.into_bytes())],
            &DataOptions::default(),
        )
        .unwrap();
    assert_eq!(info.kind, "table");
    assert_eq!(info.shape, Shape::rows(4));
    assert_eq!((info.train, info.test), (36, 4));
    assert!(info.undrawable.is_some());
    let settings = Settings {
        sizes: "3,2".into(),
        batch: 8,
        epochs: 1,
        backend: "cpu".into(),
        ..Settings::default()
    };
    train(&mut session, &settings);
    let ex = block_on(session.examples()).unwrap().unwrap();
    assert_eq!((ex.shape, ex.clean.len()), (Shape::rows(4), 16));
    assert_eq!(session.series().unwrap(), ["samples"]);
    let err = block_on(session.reconstruct_drawn(&[0; 4]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows of numbers"), "{err}");
}

/// Trained on one digit, the model scores the others as anomalies: every test sample is
/// scored, the threshold is the training samples' 99th percentile (each training
/// sample scored alone agrees), and a drawing gets its verdict at it.
#[test]
fn one_class_training_scores_the_other_classes_as_anomalies() {
    let mut session = loaded(None);
    let settings = Settings {
        sizes: "16,4".into(),
        batch: 64,
        epochs: 1,
        limit: Some(128),
        backend: "cpu".into(),
        classes: vec!["0".into()],
        ..Settings::default()
    };
    train(&mut session, &settings);
    let (scores, odd) = block_on(session.scores()).unwrap();
    assert_eq!(scores.kind, "mse");
    assert_eq!(scores.trained_classes, Some(vec!["0".to_string()]));
    assert_eq!((scores.normal, scores.anomalous), (980, 9020));
    assert_eq!(scores.train_scored, 128);
    let auroc = scores.auroc.unwrap();
    assert!((0.0..=1.0).contains(&auroc), "{auroc}");
    assert!(scores.average_precision.is_some());
    let c = scores.at_threshold;
    assert_eq!(c.true_positives + c.false_negatives, 9020);
    assert_eq!(c.false_positives + c.true_negatives, 980);
    let h = &scores.histogram;
    assert_eq!(h.normal.iter().sum::<usize>(), 980);
    assert_eq!(h.anomalous.iter().sum::<usize>(), 9020);
    assert!(h.lo <= scores.threshold && scores.threshold <= h.hi);
    assert_eq!(scores.top.len(), 10);
    assert!(scores.top.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(scores.top.iter().all(|o| o.class.is_some()));
    assert_eq!((odd.labels.len(), odd.clean.len()), (10, 7840));

    // The training split is the first 128 zeros; each scored alone as a drawing.
    let files = mnist();
    let data = mnist_from_gz([&files[0], &files[1], &files[2], &files[3]], None).unwrap();
    let Dataset {
        values: Values::Bytes(pixels),
        labels: Some(labels),
        ..
    } = &data.train
    else {
        panic!("MNIST holds labelled bytes");
    };
    let zeros: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i] == 0)
        .take(128)
        .collect();
    let alone: Vec<f32> = zeros
        .iter()
        .map(|&i| {
            let d = block_on(session.reconstruct_drawn(&pixels[i * 784..(i + 1) * 784])).unwrap();
            assert_eq!(d.anomaly, Some(anomaly::flagged(d.score, scores.threshold)));
            d.score
        })
        .collect();
    let threshold = anomaly::percentile(&alone, 99.0).unwrap();
    assert!(
        (threshold - scores.threshold).abs() <= 1e-6 * scores.threshold,
        "the threshold {} vs the training scores' 99th percentile {threshold}",
        scores.threshold
    );
}

/// A safetensors file written by hand: `meta` as its metadata, and F32 tensors of zeros
/// of these names and shapes.
fn safetensors(meta: &[(&str, &str)], tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let meta: serde_json::Map<String, serde_json::Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    header.insert("__metadata__".into(), meta.into());
    let mut at = 0;
    for (name, shape) in tensors {
        let bytes = 4 * shape.iter().product::<usize>();
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [at, at + bytes]}),
        );
        at += bytes;
    }
    let mut text = serde_json::to_string(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + at, 0);
    out
}

/// Model files the page cannot open are refused in one sentence naming the file, by
/// their size and first bytes before they are read (a 2 GiB file, one that is not
/// safetensors, one whose header is longer than the file), or by what they hold
/// (another program's model, a model the page does not build, one of samples of another
/// shape, missing tensors); a refusal leaves the model in use as it was.
#[test]
fn model_files_the_page_cannot_open_are_refused_naming_them() {
    use wgsl_autoencoder_web::session::{check_weights_file, MAX_WEIGHTS_FILE};
    let refused = |name: &str, head: &[u8], size: u64| match check_weights_file(name, head, size) {
        Ok(()) => panic!("{name} was accepted"),
        Err(e) => e.to_string(),
    };
    // By its size alone: the head of a sparse 2 GiB file is zeros.
    let err = refused("huge.safetensors", &[0; 16], 2 << 30);
    assert!(
        err.starts_with("huge.safetensors is 2.0 GiB") && err.contains("at most 1.0 GiB"),
        "{err}"
    );
    assert!(check_weights_file("m.safetensors", &safetensors(&[], &[]), MAX_WEIGHTS_FILE).is_ok());
    let err = refused("notes.txt", b"not a checkpoint at all", 23);
    assert!(
        err.starts_with("notes.txt is not a safetensors file"),
        "{err}"
    );
    let err = refused("digit.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 400);
    assert!(
        err.starts_with("digit.png is a PNG image, not a safetensors file"),
        "{err}"
    );
    let err = refused("tiny.safetensors", b"\x02\0\0", 3);
    assert!(
        err.contains("tiny.safetensors") && err.contains("3 bytes"),
        "{err}"
    );
    // A header longer than the file.
    let mut long = 1_000_000u64.to_le_bytes().to_vec();
    long.extend_from_slice(br#"{"__metadata__":{}}"#);
    let err = refused("long.safetensors", &long, long.len() as u64);
    assert!(
        err.starts_with("long.safetensors is cut short or corrupt")
            && err.contains("1000000 bytes long")
            && err.contains(&format!("only {} bytes follow", long.len() - 8)),
        "{err}"
    );

    // Whole files, opened: each refused the same way, and the model in use stays.
    let mut session = loaded(Some(64));
    let cpu = Settings {
        sizes: "16,4".into(),
        batch: 32,
        epochs: 1,
        limit: Some(64),
        backend: "cpu".into(),
        ..Settings::default()
    };
    train(&mut session, &cpu);
    let model = block_on(session.weights()).unwrap();
    let mut open = |name: &str, bytes: &[u8]| {
        let err = block_on(session.open_weights(name, bytes, &cpu))
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        err
    };
    let err = open("notes.txt", b"not a checkpoint at all");
    assert!(err.contains("not a safetensors file"), "{err}");
    let err = open("long.safetensors", &long);
    assert!(err.contains("cut short"), "{err}");
    let err = open("half.safetensors", &model[..model.len() / 2]);
    assert!(err.contains("cut short or corrupt"), "{err}");
    // Another program's model: what it holds, and what the page opens.
    let foreign = safetensors(
        &[("format", "pt")],
        &[("encoder.weight", &[4, 4]), ("encoder.bias", &[4])],
    );
    let err = open("bert.safetensors", &foreign);
    assert!(
        err.contains("holds 2 tensors")
            && err.contains("\"pt\"")
            && err.contains("dense, vae, conv and conv-vae"),
        "{err}"
    );
    let ours = |arch: &str| {
        safetensors(
            &[
                ("format", "wgsl-autoencoder"),
                ("arch", arch),
                ("epoch", "1"),
            ],
            &[],
        )
    };
    let err = open("gan.safetensors", &ours("gan:8,4"));
    assert!(
        err.contains("\"gan:8,4\"") && err.contains("does not build"),
        "{err}"
    );
    // A model of another kind of sample: the file's kind and the page's.
    let err = open("rgb.safetensors", &ours("conv:8,4:in=3x16x16"));
    assert!(
        err.contains("conv model") && err.contains("3×16×16") && err.contains("1×28×28"),
        "{err}"
    );
    let err = open("empty.safetensors", &ours("dense:16,4"));
    assert!(err.contains("no tensor '0.weight'"), "{err}");
    assert!(
        session.has_model(),
        "a refused file leaves the model in use"
    );
    assert_eq!(block_on(session.weights()).unwrap(), model);
    // A file the page opens still opens, whatever its name.
    let opened = block_on(session.open_weights("mine (2).safetensors", &model, &cpu)).unwrap();
    assert_eq!(
        (opened.model.as_str(), opened.sizes.as_str()),
        ("dense", "16,4")
    );
}
