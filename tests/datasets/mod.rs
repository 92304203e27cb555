//! Datasets the tests build in temporary folders: PNG files, IDX files (gzipped), MNIST's
//! first images regrouped by class (as a class folder lists them) in both forms, a folder
//! of colour images, and a CSV of 140-number rows.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use wgsl_autoencoder::data::Values;
use wgsl_autoencoder::native::data::{default_data_dir, load_mnist};

pub fn write_png(
    path: &Path,
    width: u32,
    height: u32,
    colour: image::ExtendedColorType,
    pixels: &[u8],
) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::save_buffer_with_format(path, pixels, width, height, colour, image::ImageFormat::Png)
        .unwrap();
}

/// An IDX file of unsigned bytes.
pub fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// One split of 28×28 grey images with digit labels.
pub struct Digits {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

/// The bundled MNIST's first `n` images of a split, regrouped by class (stable: class,
/// then index), which is the order a folder of class subfolders lists them in.
pub fn mnist_by_class(train: bool, n: usize) -> Digits {
    let data = load_mnist(&default_data_dir(), None).expect("the bundled MNIST");
    let set = if train { &data.train } else { &data.test };
    let Values::Bytes(bytes) = &set.values else {
        panic!("MNIST is bytes")
    };
    let labels = set.labels.as_ref().unwrap();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (labels[i], i));
    Digits {
        images: order
            .iter()
            .flat_map(|&i| bytes[i * 784..(i + 1) * 784].to_vec())
            .collect(),
        labels: order.iter().map(|&i| labels[i] as u8).collect(),
    }
}

/// An IDX folder in MNIST's layout and names holding these splits (at sizes that are not
/// MNIST's, so they are read as any IDX folder is).
pub fn idx_folder(dir: &Path, train: &Digits, test: &Digits) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, split) in [("train", train), ("t10k", test)] {
        let n = split.labels.len() as u32;
        let images = gz(&idx(&[n, 28, 28], &split.images));
        std::fs::write(dir.join(format!("{name}-images-idx3-ubyte.gz")), images).unwrap();
        let labels = gz(&idx(&[n], &split.labels));
        std::fs::write(dir.join(format!("{name}-labels-idx1-ubyte.gz")), labels).unwrap();
    }
}

/// The same splits as PNGs in `train/<digit>/<index>.png` and `test/…`, the index zero
/// padded so that the folder lists them in the splits' order.
pub fn png_folder(dir: &Path, train: &Digits, test: &Digits) {
    for (name, split) in [("train", train), ("test", test)] {
        for (i, (image, label)) in split.images.chunks(784).zip(&split.labels).enumerate() {
            let path = dir.join(format!("{name}/{label}/{i:05}.png"));
            write_png(&path, 28, 28, image::ExtendedColorType::L8, image);
        }
    }
}

/// Classes of seeded colour images, `side`×`side`, in class folders: each class a block
/// of its own colour at a random place on a dark ground, so that a model can learn them.
pub fn rgb_folder(dir: &Path, classes: &[&str], per_class: usize, side: u32) -> Vec<PathBuf> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut written = Vec::new();
    for (c, class) in classes.iter().enumerate() {
        let colour = [
            (60 + 90 * c) as u8 % 255,
            (200 - 50 * c) as u8,
            (40 * c) as u8,
        ];
        for i in 0..per_class {
            let (x0, y0) = (rng.random_range(0..side / 2), rng.random_range(0..side / 2));
            let mut pixels = vec![0u8; (side * side * 3) as usize];
            for y in 0..side {
                for x in 0..side {
                    let inside =
                        (x0..x0 + side / 2).contains(&x) && (y0..y0 + side / 2).contains(&y);
                    for k in 0..3 {
                        let noise: u8 = rng.random_range(0..20);
                        pixels[((y * side + x) * 3 + k) as usize] = if inside {
                            colour[k as usize].saturating_add(noise)
                        } else {
                            noise
                        };
                    }
                }
            }
            let path = dir.join(format!("{class}/{i:03}.png"));
            write_png(&path, side, side, image::ExtendedColorType::Rgb8, &pixels);
            written.push(path);
        }
    }
    written
}

/// A CSV of `rows` rows at `path`: a header, a label column first (classes "1" to "5"),
/// then 140 features of smooth waves (one phase a class) plus noise. Returns the rows
/// and their labels (class indices, 0 to 4).
pub fn csv_file(path: &Path, rows: usize) -> (Vec<Vec<f32>>, Vec<u32>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut text = String::from("label");
    for j in 0..140 {
        text += &format!(",f{j}");
    }
    text.push('\n');
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        let label: u32 = rng.random_range(1..=5);
        let row: Vec<f32> = (0..140)
            .map(|j| (j as f32 * 0.09 + label as f32).sin() * 2.0 + rng.random_range(-0.3f32..0.3))
            .collect();
        text += &label.to_string();
        for v in &row {
            text += &format!(", {v}");
        }
        text.push('\n');
        values.push(row);
        labels.push(label - 1);
    }
    std::fs::write(path, text).unwrap();
    (values, labels)
}
