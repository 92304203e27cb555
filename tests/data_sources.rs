//! `--data PATH` end to end (`native::data::load`): folders of PNGs (MNIST exported, and
//! synthetic RGB), CSV and NPY tables, IDX folders of any shape, and every bad input a
//! user can hand in, each refused with an error that names the file (and the row and
//! column where one applies). Small inputs only: no test writes more than 2,500 files.

mod datasets;

use std::path::{Path, PathBuf};

use datasets::{gz, idx, write_png};

use rand::{Rng, SeedableRng};

use wgsl_autoencoder::data::prepare::split_indices;
use wgsl_autoencoder::data::{Colour, Data, Layout, Prepare, ScalingKind, Shape, Split, Values};
use wgsl_autoencoder::native::data::{default_data_dir, load, load_mnist};

fn prepare() -> Prepare {
    Prepare::default()
}

fn bytes(values: &Values) -> &[u8] {
    match values {
        Values::Bytes(b) => b,
        Values::Floats(_) => panic!("expected bytes"),
    }
}

fn floats(values: &Values) -> &[f32] {
    match values {
        Values::Floats(f) => f,
        Values::Bytes(_) => panic!("expected floats"),
    }
}

fn grey_png(path: &Path, side: u32, value: u8) {
    let pixels = vec![value; (side * side) as usize];
    write_png(path, side, side, image::ExtendedColorType::L8, &pixels);
}

fn load_err(path: &Path, prepare: &Prepare) -> String {
    match load(path, prepare, None) {
        Ok(data) => panic!("{} loaded: {}", path.display(), data.describe()),
        Err(e) => e.to_string(),
    }
}

/// Asserts the error names the file (by its name: the path may be shown in full) and
/// says each of `words`.
fn assert_names(error: &str, file: &Path, words: &[&str]) {
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(error.contains(&*name), "{error:?} does not name {name}");
    for w in words {
        assert!(error.contains(w), "{error:?} does not say {w:?}");
    }
}

/// The first `n` samples of an IDX split as 28×28 images with labels.
fn first(data: &Data, test: bool, n: usize) -> Vec<(u32, Vec<u8>)> {
    let set = if test { &data.test } else { &data.train };
    let labels = set.labels.as_ref().unwrap();
    bytes(&set.values)
        .chunks(784)
        .zip(labels)
        .take(n)
        .map(|(image, &label)| (label, image.to_vec()))
        .collect()
}

#[test]
fn mnist_exported_as_pngs_reads_back_sample_for_sample() {
    let mnist = load_mnist(&default_data_dir(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let splits = [
        ("train", first(&mnist, false, 2000)),
        ("test", first(&mnist, true, 500)),
    ];
    for (split, samples) in &splits {
        for (index, (label, image)) in samples.iter().enumerate() {
            let path = dir.path().join(format!("{split}/{label}/{index:05}.png"));
            write_png(&path, 28, 28, image::ExtendedColorType::L8, image);
        }
    }
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(data.shape, Shape::MNIST);
    assert_eq!(data.split, Split::Given);
    assert_eq!(
        data.classes,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    assert!(
        data.source.contains("10 class folders, train/ and test/"),
        "{}",
        data.source
    );
    assert!(data.notes.is_empty(), "{:?}", data.notes);
    for ((_, samples), set) in splits.iter().zip([&data.train, &data.test]) {
        // Regrouped by class, stable: class, then index.
        let mut want = samples.clone();
        want.sort_by_key(|(label, _)| *label);
        assert_eq!(set.len(), want.len());
        assert_eq!(
            set.labels.as_ref().unwrap(),
            &want.iter().map(|(l, _)| *l).collect::<Vec<_>>()
        );
        assert_eq!(
            bytes(&set.values),
            want.iter().flat_map(|(_, i)| i.clone()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_bundled_mnist_keeps_its_fast_path() {
    let data = load(&default_data_dir(), &prepare(), None).unwrap();
    assert_eq!(data, load_mnist(&default_data_dir(), None).unwrap());
    let e = load_err(
        &default_data_dir(),
        &Prepare {
            test_fraction: Some(0.2),
            ..prepare()
        },
    );
    assert!(
        e.contains("--test-fraction") && e.contains("own test split"),
        "{e}"
    );
    // --grey, --rgb and --image-size apply to MNIST's bytes as to any images.
    let resized = load(
        &default_data_dir(),
        &Prepare {
            colour: Some(Colour::Rgb),
            image_size: Some((32, 32)),
            ..prepare()
        },
        None,
    )
    .unwrap();
    assert_eq!(resized.shape, Shape::images(3, 32, 32));
    assert_eq!(bytes(&resized.test.values).len(), 10_000 * 3 * 32 * 32);
    // An --image-size whose samples could never all be held is refused, not attempted.
    let e = load_err(
        &default_data_dir(),
        &Prepare {
            colour: Some(Colour::Grey),
            image_size: Some((16_384, 16_384)),
            ..prepare()
        },
    );
    assert!(e.contains("--image-size") && e.contains("memory"), "{e}");
}

#[test]
fn a_broken_mnist_folder_names_the_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ];
    for f in names {
        std::fs::copy(default_data_dir().join(f), dir.path().join(f)).unwrap();
    }
    let e = load_err(dir.path(), &prepare());
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("cannot open"),
        "{e}"
    );
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), b"not gzip").unwrap();
    let e = load_err(dir.path(), &prepare());
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
    // The four names at other sizes are an IDX folder like any other.
    let labels: Vec<u8> = (0..20).map(|i| i % 10).collect();
    let write =
        |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), gz(&bytes)).unwrap();
    write(names[0], idx(&[20, 2, 2], &[7; 80]));
    write(names[1], idx(&[20], &labels));
    write(names[2], idx(&[10, 2, 2], &[9; 40]));
    write("t10k-labels-idx1-ubyte.gz", idx(&[10], &labels[..10]));
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(
        (data.train.len(), data.test.len(), data.shape),
        (20, 10, Shape::images(1, 2, 2))
    );
}

/// Two classes of seeded random RGB 32×32 images, in class folders.
fn rgb_folder(dir: &Path, per_class: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut written = Vec::new();
    for class in ["cats", "dogs"] {
        for i in 0..per_class {
            let pixels: Vec<u8> = (0..32 * 32 * 3).map(|_| rng.random()).collect();
            let path = dir.join(format!("{class}/{i:03}.png"));
            write_png(&path, 32, 32, image::ExtendedColorType::Rgb8, &pixels);
            written.push((path, pixels));
        }
    }
    written
}

#[test]
fn a_synthetic_rgb_folder_splits_by_the_default_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let written = rgb_folder(dir.path(), 25);
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(data.shape, Shape::images(3, 32, 32));
    assert_eq!(data.classes, vec!["cats", "dogs"]);
    assert_eq!(
        data.split,
        Split::Fraction {
            fraction: 0.1,
            seed: 0
        }
    );
    // round(2.5) = 3 of each class.
    assert_eq!((data.train.len(), data.test.len()), (44, 6));
    let labels: Vec<u32> = (0..50).map(|i| (i >= 25) as u32).collect();
    let (train_at, test_at) = split_indices(Some(&labels), 50, 0.1, 0).unwrap();
    let planar = |interleaved: &[u8]| -> Vec<u8> {
        (0..3)
            .flat_map(|c| {
                interleaved
                    .iter()
                    .skip(c)
                    .step_by(3)
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for (set, at) in [(&data.train, &train_at), (&data.test, &test_at)] {
        let want: Vec<u8> = at.iter().flat_map(|&i| planar(&written[i].1)).collect();
        assert_eq!(bytes(&set.values), want);
        assert_eq!(
            set.labels.as_ref().unwrap(),
            &at.iter().map(|&i| labels[i]).collect::<Vec<_>>()
        );
    }
    // Another seed, another split; the same seed, the same.
    let seeded = |seed| Prepare {
        split_seed: seed,
        ..prepare()
    };
    assert_eq!(load(dir.path(), &seeded(0), None).unwrap(), data);
    assert_ne!(load(dir.path(), &seeded(1), None).unwrap().test, data.test);
    // --grey: PIL's luma rule.
    let grey = load(
        dir.path(),
        &Prepare {
            colour: Some(Colour::Grey),
            ..prepare()
        },
        None,
    )
    .unwrap();
    assert_eq!(grey.shape, Shape::images(1, 32, 32));
    let first = &written[train_at[0]].1;
    let luma = |p: &[u8]| {
        ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
    };
    assert_eq!(
        &bytes(&grey.train.values)[..1024],
        first.chunks(3).map(luma).collect::<Vec<_>>()
    );
    let e = load_err(
        dir.path(),
        &Prepare {
            standardize: true,
            ..prepare()
        },
    );
    assert!(e.contains("--standardize"), "{e}");
}

/// A CSV of `rows` rows: a label column first ("1" to "5"), then 140 features.
fn csv_file(dir: &Path, rows: usize) -> (PathBuf, Vec<Vec<f32>>, Vec<u32>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut text = String::from("label");
    for j in 0..140 {
        text += &format!(",f{j}");
    }
    text.push('\n');
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        let label: u32 = rng.random_range(1..=5);
        let row: Vec<f32> = (0..140).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        text += &label.to_string();
        for v in &row {
            text += &format!(", {v}");
        }
        text.push('\n');
        values.push(row);
        labels.push(label - 1);
    }
    let path = dir.join("table.csv");
    std::fs::write(&path, text).unwrap();
    (path, values, labels)
}

// Features are columns: `rows[i][j]` for each training row i of feature j.
#[allow(clippy::needless_range_loop)]
#[test]
fn a_csv_is_scaled_on_its_training_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (path, rows, labels) = csv_file(dir.path(), 200);
    let with_label = Prepare {
        label_column: Some("label".into()),
        ..prepare()
    };
    let data = load(&path, &with_label, None).unwrap();
    assert_eq!(data.shape, Shape::rows(140));
    assert_eq!(data.shape.layout, Layout::Rows);
    assert_eq!(data.classes, vec!["1", "2", "3", "4", "5"]);
    let (train_at, test_at) = split_indices(Some(&labels), 200, 0.1, 0).unwrap();
    assert_eq!(
        (data.train.len(), data.test.len()),
        (train_at.len(), test_at.len())
    );
    assert_eq!(
        data.train.labels.as_ref().unwrap(),
        &train_at.iter().map(|&i| labels[i]).collect::<Vec<_>>()
    );

    // Min–max, fitted on the training rows, in f32.
    let s = data.scaling.as_ref().unwrap();
    assert_eq!(s.kind, ScalingKind::MinMax);
    let mut clipped = 0;
    for j in 0..140 {
        let column: Vec<f32> = train_at.iter().map(|&i| rows[i][j]).collect();
        let min = column.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        let max = column.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        assert_eq!((s.offset[j], s.scale[j]), (min, max - min), "feature {j}");
        for (k, &i) in test_at.iter().enumerate() {
            let raw = (rows[i][j] - min) / (max - min);
            clipped += usize::from(!(0.0..=1.0).contains(&raw));
            assert_eq!(floats(&data.test.values)[k * 140 + j], raw.clamp(0.0, 1.0));
        }
        for (k, &i) in train_at.iter().enumerate() {
            assert_eq!(
                floats(&data.train.values)[k * 140 + j],
                (rows[i][j] - min) / (max - min)
            );
        }
    }
    assert!(
        clipped > 0,
        "some test value lies outside the training range"
    );

    // Standardised: f64 sums in row order, population deviation, no clipping.
    let data = load(
        &path,
        &Prepare {
            standardize: true,
            ..with_label.clone()
        },
        None,
    )
    .unwrap();
    let s = data.scaling.as_ref().unwrap();
    assert_eq!(s.kind, ScalingKind::Standardize);
    for j in 0..140 {
        let column: Vec<f64> = train_at.iter().map(|&i| rows[i][j] as f64).collect();
        let mean = column.iter().sum::<f64>() / column.len() as f64;
        let deviation =
            (column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / column.len() as f64).sqrt();
        assert_eq!(
            (s.offset[j], s.scale[j]),
            (mean as f32, deviation as f32),
            "feature {j}"
        );
        for (k, &i) in test_at.iter().enumerate() {
            let want = (rows[i][j] - mean as f32) / deviation as f32;
            assert_eq!(floats(&data.test.values)[k * 140 + j], want);
        }
    }
    // A saved scaling is applied instead of fitting one.
    let again = load(&path, &with_label, Some(s)).unwrap();
    assert_eq!(again.scaling.as_ref(), Some(s));
    assert_eq!(again.test, data.test);
    // Without --label-column, the label is a feature like any other.
    assert_eq!(
        load(&path, &prepare(), None).unwrap().shape,
        Shape::rows(141)
    );
    let e = load_err(
        &path,
        &Prepare {
            image_size: Some((4, 4)),
            ..prepare()
        },
    );
    assert!(e.contains("--image-size"), "{e}");
}

/// NPY bytes, version 1.0.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}), }}",
        if fortran { "True" } else { "False" },
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[test]
fn npy_rows_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..40).map(|i| i as f32 * 0.5).collect();
    let path = dir.path().join("rows.npy");
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, npy("<f4", false, &[10, 4], &data)).unwrap();
    let rows = load(&path, &prepare(), None).unwrap();
    assert_eq!(rows.shape, Shape::rows(4));
    assert_eq!((rows.train.len(), rows.test.len()), (9, 1));
    assert!(!rows.is_labelled());
    assert_eq!(rows.scaling.as_ref().unwrap().scale.len(), 4);

    // 4-D bytes, channels last: planar in memory.
    let pixels: Vec<u8> = (0..20 * 2 * 3 * 3).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("images.npy");
    std::fs::write(&path, npy("|u1", false, &[20, 2, 3, 3], &pixels)).unwrap();
    let images = load(&path, &prepare(), None).unwrap();
    assert_eq!(images.shape, Shape::images(3, 2, 3));
    assert!(images.scaling.is_none());
    let (train_at, _) = split_indices(None, 20, 0.1, 0).unwrap();
    let sample = |i: usize| -> Vec<u8> {
        let s = &pixels[i * 18..(i + 1) * 18];
        (0..3)
            .flat_map(|c| s.iter().skip(c).step_by(3).copied().collect::<Vec<_>>())
            .collect()
    };
    assert_eq!(&bytes(&images.train.values)[..18], sample(train_at[0]));

    let e = load_err(
        &path,
        &Prepare {
            label_column: Some("0".into()),
            ..prepare()
        },
    );
    assert!(e.contains("--label-column"), "{e}");
}

#[test]
fn an_idx_folder_of_rgb_images() {
    let dir = tempfile::tempdir().unwrap();
    let (n, h, w) = (30usize, 4usize, 5usize);
    let pixels: Vec<u8> = (0..n * h * w * 3).map(|i| (i * 7 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    std::fs::write(
        dir.path().join("train-images-idx4-ubyte.gz"),
        gz(&idx(&[n as u32, h as u32, w as u32, 3], &pixels)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        idx(&[n as u32], &labels),
    )
    .unwrap();
    std::fs::write(dir.path().join("README"), "not data").unwrap();
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(data.shape, Shape::images(3, h, w));
    assert_eq!(data.classes, vec!["0", "1", "2"]);
    assert_eq!((data.train.len(), data.test.len()), (27, 3));
    assert!(
        data.notes.iter().any(|n| n.contains("README")),
        "{:?}",
        data.notes
    );
    let per = h * w * 3;
    let labels32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let (_, test_at) = split_indices(Some(&labels32), n, 0.1, 0).unwrap();
    let want: Vec<u8> = test_at
        .iter()
        .flat_map(|&i| {
            let s = &pixels[i * per..(i + 1) * per];
            (0..3).flat_map(move |c| s.iter().skip(c).step_by(3).copied())
        })
        .collect();
    assert_eq!(bytes(&data.test.values), want);

    // With a test file too, the split is the files'.
    std::fs::write(
        dir.path().join("t10k-images-idx4-ubyte"),
        idx(&[2, h as u32, w as u32, 3], &pixels[..2 * per]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx(&[2], &[0, 1]),
    )
    .unwrap();
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(
        (data.train.len(), data.test.len(), data.split.clone()),
        (30, 2, Split::Given)
    );
    // --grey and --image-size apply to byte images from IDX as to files.
    let data = load(
        dir.path(),
        &Prepare {
            colour: Some(Colour::Grey),
            image_size: Some((8, 8)),
            ..prepare()
        },
        None,
    )
    .unwrap();
    assert_eq!(data.shape, Shape::images(1, 8, 8));
    assert_eq!(bytes(&data.test.values).len(), 2 * 64);
}

/// A PNG's chunk: length, type, data, CRC over type and data.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc.sum().to_be_bytes());
    out
}

#[test]
fn bad_image_folders_are_refused_naming_a_file() {
    let root = tempfile::tempdir().unwrap();
    let folder = |name: &str| {
        let d = root.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };

    let empty = folder("empty");
    std::fs::write(empty.join("notes.txt"), "hello").unwrap();
    let e = load_err(&empty, &prepare());
    assert_names(&e, &empty, &["holds no images"]);

    let mixed = folder("mixed");
    grey_png(&mixed.join("a/1.png"), 4, 9);
    grey_png(&mixed.join("a/2.png"), 5, 9);
    let e = load_err(&mixed, &prepare());
    assert_names(&e, &mixed.join("a/1.png"), &["2.png", "--image-size"]);
    let resized = Prepare {
        image_size: Some((6, 6)),
        test_fraction: Some(0.5),
        ..prepare()
    };
    grey_png(&mixed.join("a/3.png"), 6, 9);
    grey_png(&mixed.join("a/4.png"), 6, 9);
    let data = load(&mixed, &resized, None).unwrap();
    assert_eq!(data.shape, Shape::images(1, 6, 6));

    let colours = folder("colours");
    grey_png(&colours.join("1.png"), 4, 9);
    write_png(
        &colours.join("2.png"),
        4,
        4,
        image::ExtendedColorType::Rgb8,
        &[7; 48],
    );
    let e = load_err(&colours, &prepare());
    assert_names(&e, &colours.join("1.png"), &["2.png", "--grey", "--rgb"]);

    let good = {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        image::ImageEncoder::write_image(encoder, &[5; 64], 8, 8, image::ExtendedColorType::L8)
            .unwrap();
        out
    };
    let corrupt = folder("corrupt");
    let mut bad = good.clone();
    let at = bad.len() - 20;
    bad[at] ^= 0x55;
    std::fs::write(corrupt.join("broken.png"), &bad).unwrap();
    grey_png(&corrupt.join("fine.png"), 8, 1);
    let e = load_err(&corrupt, &prepare());
    assert_names(&e, &corrupt.join("broken.png"), &["cannot be decoded"]);

    let truncated = folder("truncated");
    std::fs::write(truncated.join("cut.png"), &good[..good.len() / 2]).unwrap();
    let e = load_err(&truncated, &prepare());
    assert_names(&e, &truncated.join("cut.png"), &["PNG"]);

    let gif = folder("gif");
    std::fs::write(
        gif.join("moving.png"),
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    )
    .unwrap();
    let e = load_err(&gif, &prepare());
    assert_names(&e, &gif.join("moving.png"), &["GIF", "only PNG and JPEG"]);
    let tiff = folder("tiff");
    std::fs::write(tiff.join("scan.tiff"), b"II*\x00\x08\x00\x00\x00").unwrap();
    let e = load_err(&tiff, &prepare());
    assert_names(&e, &tiff.join("scan.tiff"), &["TIF"]);
    let bmp = folder("bmp");
    std::fs::write(
        bmp.join("old.bmp"),
        b"BM\x1e\x00\x00\x00\x00\x00\x00\x00\x1a\x00",
    )
    .unwrap();
    let e = load_err(&bmp, &prepare());
    assert_names(&e, &bmp.join("old.bmp"), &["BMP"]);

    // A header claiming 100000×100000 is refused from the header, before any decoding.
    let huge = folder("huge");
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IEND", &[]));
    std::fs::write(huge.join("huge.png"), &png).unwrap();
    let e = load_err(&huge, &prepare());
    assert_names(&e, &huge.join("huge.png"), &["100000×100000"]);
    // Even where --image-size would shrink it: the decoding itself is too large.
    let e = load_err(&huge, &resized);
    assert_names(&e, &huge.join("huge.png"), &["100000×100000", "too large"]);
    // And a modest image asked to grow past 2^28 values names --image-size.
    let e = load_err(
        &corrupt,
        &Prepare {
            image_size: Some((20_000, 20_000)),
            ..prepare()
        },
    );
    assert!(e.contains("--image-size") && e.contains(".png"), "{e}");

    let one = folder("one");
    grey_png(&one.join("only.png"), 4, 1);
    let e = load_err(&one, &prepare());
    assert!(
        e.contains("--test-fraction") && e.contains("1 sample"),
        "{e}"
    );

    let few = folder("few");
    for i in 0..4 {
        grey_png(&few.join(format!("{i}.png")), 4, i);
    }
    let e = load_err(&few, &prepare());
    assert!(
        e.contains("--test-fraction") && e.contains("test split empty"),
        "{e}"
    );
    assert!(load(
        &few,
        &Prepare {
            test_fraction: Some(0.25),
            ..prepare()
        },
        None
    )
    .is_ok());

    let given = folder("given");
    grey_png(&given.join("train/x/1.png"), 4, 1);
    grey_png(&given.join("test/x/1.png"), 4, 1);
    let e = load_err(
        &given,
        &Prepare {
            test_fraction: Some(0.5),
            ..prepare()
        },
    );
    assert!(
        e.contains("--test-fraction") && e.contains("own test split"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_among_the_images_is_left_out_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        grey_png(&dir.path().join(format!("{i}.png")), 4, i);
    }
    let fifo = dir.path().join("pipe.png");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let data = load(dir.path(), &prepare(), None).unwrap();
    assert_eq!(data.train.len() + data.test.len(), 10);
    assert!(
        data.notes.iter().any(|n| n.contains("pipe.png")),
        "{:?}",
        data.notes
    );
}

#[test]
fn bad_tables_are_refused_naming_the_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (load_err(&path, &prepare()), path)
    };
    let (e, path) = csv("word.csv", "a,b\n1,2\n3,four\n");
    assert_names(
        &e,
        &path,
        &["row 3", "column 1 (\"b\")", "\"four\"", "not a number"],
    );
    let (e, path) = csv("nan.csv", "a,b\n1,2\nnan,4\n");
    assert_names(&e, &path, &["row 3", "column 0 (\"a\")", "NaN"]);
    let (e, path) = csv("inf.csv", "1,2\n3,-inf\n");
    assert_names(&e, &path, &["row 2", "column 1", "infinite"]);
    let (e, path) = csv("ragged.csv", "a,b\n1,2\n3,4,5\n");
    assert_names(&e, &path, &["row 3", "3 cells"]);
    let (e, path) = csv("header.csv", "a,b\n");
    assert_names(&e, &path, &["no rows"]);
    let path = dir.path().join("binary.dat");
    std::fs::write(&path, [0xffu8, 0xfe, 0x00, 0x80]).unwrap();
    assert_names(
        &load_err(&path, &prepare()),
        &path,
        &["neither an NPY file nor CSV"],
    );
    let (e, path) = csv("one.csv", "a,b\n1,2\n");
    assert!(
        e.contains("--test-fraction") && e.contains("1 sample"),
        "{e}"
    );
    let _ = path;

    let fortran = dir.path().join("fortran.npy");
    std::fs::write(&fortran, npy("<f4", true, &[2, 2], &[0; 16])).unwrap();
    assert_names(
        &load_err(&fortran, &prepare()),
        &fortran,
        &["Fortran order"],
    );
    let nan = dir.path().join("nan.npy");
    let values: Vec<u8> = [1.0f32, 2.0, f32::NAN, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&nan, npy("<f4", false, &[2, 2], &values)).unwrap();
    assert_names(&load_err(&nan, &prepare()), &nan, &["index [1, 0]", "NaN"]);
}

#[test]
fn bad_idx_folders_are_refused_naming_the_files() {
    let root = tempfile::tempdir().unwrap();
    let dims = root.path().join("dims");
    std::fs::create_dir(&dims).unwrap();
    std::fs::write(dims.join("train-images"), idx(&[3, 2, 2], &[0; 11])).unwrap();
    let e = load_err(&dims, &prepare());
    assert_names(&e, &dims.join("train-images"), &["3×2×2", "12", "11"]);

    let counts = root.path().join("counts");
    std::fs::create_dir(&counts).unwrap();
    std::fs::write(counts.join("train-images"), idx(&[3, 2, 2], &[0; 12])).unwrap();
    std::fs::write(counts.join("train-labels"), idx(&[4], &[0; 4])).unwrap();
    let e = load_err(&counts, &prepare());
    assert_names(
        &e,
        &counts.join("train-labels"),
        &["train-images", "4 labels", "3 images"],
    );

    let floats = root.path().join("floats");
    std::fs::create_dir(&floats).unwrap();
    let mut f = idx(&[1, 1, 1], &[0; 4]);
    f[2] = 0x0D;
    std::fs::write(floats.join("images"), f).unwrap();
    assert_names(
        &load_err(&floats, &prepare()),
        &floats.join("images"),
        &["0x0D"],
    );
}
