//! Every picture a run draws follows the data's shape: MNIST's digits as they always
//! were, RGB images of any size in colour with their class names, rows of numbers as line
//! panels, unlabelled data by its first samples. The model's outputs are stood in for
//! (blurred inputs, blends between samples), so no device is needed.
//!
//! `PICTURES_CHECK_DIR=/some/folder` keeps the pictures there, a folder per case, to look
//! at; otherwise they go to a temporary folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wgsl_autoencoder::data::{Layout, Shape};
use wgsl_autoencoder::native::plots::{self, COLOURS};
use wgsl_autoencoder::pictures::{self, MANIFOLD_SIDE, SAMPLES_SIDE, STEPS};
use wgsl_autoencoder::train::Snapshot;

/// The colour every RGB sample of class 0 has a patch of: (1.0, 0.2, 0.6).
const PATCH: [u8; 3] = [255, 51, 153];

/// One kind of data, its test samples, and stand-ins for what a model makes of them.
struct Case {
    name: &'static str,
    shape: Shape,
    classes: Vec<String>,
    shot: Snapshot,
}

impl Case {
    /// `count` samples of `shape`, sample i of class `i % classes` (0 for every one when
    /// there are no classes) made by `make(i, label)`; reconstructions a little blurred,
    /// and with `noisy`, a corrupted input too.
    fn new(
        name: &'static str,
        shape: Shape,
        classes: Vec<String>,
        count: usize,
        noisy: bool,
        make: impl Fn(usize, u32) -> Vec<f32>,
    ) -> Case {
        let label = |i: usize| match classes.len() {
            0 => 0,
            n => (i % n) as u32,
        };
        let labels: Vec<u32> = (0..count).map(label).collect();
        let clean: Vec<f32> = (0..count).flat_map(|i| make(i, label(i))).collect();
        assert_eq!(clean.len(), count * shape.elements());
        let rebuilt = smoothed(&clean, shape.width);
        let noisy = noisy.then(|| {
            let spread = match shape.layout {
                Layout::Images => 1.0,
                Layout::Rows => 0.8,
            };
            clean
                .iter()
                .enumerate()
                .map(|(j, &v)| v + spread * (hash(j) - 0.5))
                .collect()
        });
        let codes = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| {
                let angle = l as f32 * 0.9;
                [3.0 * angle.cos() + hash(i), 3.0 * angle.sin() + hash(i + 7)]
            })
            .collect();
        let shot = Snapshot {
            codes,
            code_len: 2,
            labels,
            clean,
            noisy,
            rebuilt,
            scores: Vec::new(),
        };
        Case {
            name,
            shape,
            classes,
            shot,
        }
    }

    fn sample(&self, i: usize) -> &[f32] {
        let n = self.shape.elements();
        &self.shot.rebuilt[i * n..(i + 1) * n]
    }

    /// What a decoder makes of a point `t` of the way from sample a's code to b's.
    fn between(&self, a: usize, b: usize, t: f32) -> Vec<f32> {
        let (a, b) = (self.sample(a), self.sample(b));
        a.iter().zip(b).map(|(x, y)| x + (y - x) * t).collect()
    }

    /// Draws all five pictures into `dir`.
    fn draw(&self, dir: &Path) {
        let (shape, classes, shot) = (self.shape, self.classes.as_slice(), &self.shot);
        plots::reconstructions(&dir.join("reconstructions.png"), shot, shape, classes).unwrap();
        plots::latent(&dir.join("latent.png"), shot, "2 numbers", shape, classes).unwrap();
        let available = shot.labels.len();
        let pairs = pictures::interpolation_pairs(&shot.labels, available, classes.len());
        let names = pictures::pair_names(&pairs, &shot.labels, classes);
        let decoded: Vec<f32> = pairs
            .iter()
            .flat_map(|&(a, b)| {
                (0..STEPS).flat_map(move |s| self.between(a, b, s as f32 / (STEPS - 1) as f32))
            })
            .collect();
        let path = dir.join("interpolation.png");
        plots::interpolation(&path, shape, classes, &names, &decoded).unwrap();
        let n = available;
        let samples: Vec<f32> = (0..SAMPLES_SIDE * SAMPLES_SIDE)
            .flat_map(|i| self.between(i % n, (i * 7 + 3) % n, (i % 3) as f32 * 0.25))
            .collect();
        let title = "Decoded from z ~ N(0, I), 20-D, seed 1";
        let path = dir.join("samples.png");
        plots::sample_grid(&path, title, shape, &samples, SAMPLES_SIDE).unwrap();
        let side = MANIFOLD_SIDE;
        let manifold: Vec<f32> = (0..side * side)
            .flat_map(|i| {
                self.between(
                    i % side % n,
                    (side + i / side) % n,
                    (i % side) as f32 / 14.0,
                )
            })
            .collect();
        let title = "Decoded over the latent's quantiles 0.05 … 0.95 (z₁ →, z₂ ↑)";
        plots::sample_grid(&dir.join("manifold.png"), title, shape, &manifold, side).unwrap();
    }
}

/// A number in [0, 1) that looks random, from `i`.
fn hash(i: usize) -> f32 {
    let mut x = (i as u32).wrapping_mul(0x9E37_79B9) ^ 0x85EB_CA6B;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^= x >> 12;
    (x >> 8) as f32 / (1 << 24) as f32
}

/// Each value averaged with its neighbours along a line of `width`: a reconstruction's
/// blur.
fn smoothed(values: &[f32], width: usize) -> Vec<f32> {
    let width = width.max(1);
    (0..values.len())
        .map(|j| {
            let x = j % width;
            let left = if x > 0 { values[j - 1] } else { values[j] };
            let right = if x + 1 < width {
                values[j + 1]
            } else {
                values[j]
            };
            0.25 * left + 0.5 * values[j] + 0.25 * right
        })
        .collect()
}

/// A C×H×W image, planar, values in [0, 1]: a dark gradient, an ellipse (white in grey;
/// a colour of its class's in RGB, with a patch of `PATCH` for class 0), sized by `i`.
fn image(shape: Shape, i: usize, label: u32) -> Vec<f32> {
    let (c, h, w) = (shape.channels, shape.height, shape.width);
    let colour = match label {
        0 => [1.0, 0.2, 0.6],
        l => [
            0.3 + 0.7 * hash(l as usize),
            0.3 + 0.7 * hash(l as usize + 50),
            0.3 + 0.7 * hash(l as usize + 99),
        ],
    };
    let radius = 0.45 + 0.25 * hash(i);
    let mut out = vec![0.0; c * h * w];
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (
                (x as f32 + 0.5) / w as f32 - 0.5,
                (y as f32 + 0.5) / h as f32 - 0.5,
            );
            let r = (u * u + v * v).sqrt() * 2.0;
            let ring = (r - radius).abs() < 0.12 + 0.05 * label as f32 % 0.1;
            // A patch of the class's colour, big enough to survive shrinking.
            let patch = c == 3 && u.abs() < 0.15 && v.abs() < 0.15;
            for k in 0..c {
                let background = 0.15 * (x + y) as f32 / (w + h) as f32;
                let tint = if c == 3 { colour[k] } else { 1.0 };
                let value = match (patch, ring) {
                    (true, _) => colour[k],
                    (false, true) => tint,
                    _ => background,
                };
                out[k * h * w + y * w + x] = value;
            }
        }
    }
    out
}

/// A row of `d` numbers: a wave whose frequency follows its class, a drift, some wobble;
/// `negative` makes it standardised (below zero too), else min–max scaled to [0, 1].
fn row(d: usize, i: usize, label: u32, negative: bool) -> Vec<f32> {
    (0..d)
        .map(|j| {
            let t = j as f32 / d as f32;
            let wave = (std::f32::consts::TAU * (1.0 + label as f32) * t + hash(i)).sin();
            let v = 1.6 * wave + 0.8 * t + 0.3 * (hash(i * d + j) - 0.5);
            match negative {
                true => v,
                false => (v + 2.2) / 4.8,
            }
        })
        .collect()
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn mnist_like() -> Case {
    let shape = Shape::MNIST;
    let classes = (0..10).map(|d| d.to_string()).collect();
    Case::new("mnist", shape, classes, 60, true, |i, l| image(shape, i, l))
}

fn rgb_of_twelve_classes() -> Case {
    let shape = Shape::images(3, 32, 20);
    let classes = names(&[
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
        "tractor-trailer",
        "zebra",
    ]);
    Case::new("rgb-12", shape, classes, 72, false, |i, l| {
        image(shape, i, l)
    })
}

fn standardised_rows() -> Case {
    let shape = Shape::rows(140);
    let classes = names(&["normal", "r-on-t", "pvc", "sp", "unknown"]);
    Case::new("rows", shape, classes, 40, false, |i, l| {
        row(140, i, l, true)
    })
}

fn unlabelled_rows_with_noise() -> Case {
    let shape = Shape::rows(140);
    Case::new("rows-unlabelled", shape, Vec::new(), 40, true, |i, _| {
        row(140, i, (i % 3) as u32, false)
    })
}

fn big_unlabelled_images() -> Case {
    let shape = Shape::images(3, 150, 310);
    Case::new(
        "big-unlabelled",
        shape,
        names(&["one"]),
        40,
        false,
        |i, l| image(shape, i, l),
    )
}

/// Where a case's pictures go: `PICTURES_CHECK_DIR`/name when set, else `temporary`.
fn folder(case: &Case, temporary: &Path) -> PathBuf {
    let dir = match std::env::var_os("PICTURES_CHECK_DIR") {
        Some(root) => PathBuf::from(root).join(case.name),
        None => temporary.join(case.name),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A PNG read back: its size and its RGB pixels.
struct Png {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Png {
    fn read(path: &Path) -> Png {
        let file = std::fs::File::open(path).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
        pixels.truncate(info.buffer_size());
        Png {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    fn has(&self, colour: [u8; 3]) -> bool {
        self.pixels.chunks_exact(3).any(|p| p == colour)
    }

    /// Whether more than `n` colours appear (a blank picture has one).
    fn has_more_colours_than(&self, n: usize) -> bool {
        let mut seen = BTreeSet::new();
        self.pixels
            .chunks_exact(3)
            .any(|p| seen.insert(p) && seen.len() > n)
    }
}

const ALL: [&str; 5] = [
    "reconstructions.png",
    "latent.png",
    "interpolation.png",
    "samples.png",
    "manifold.png",
];

/// Draws `case`, checks that every picture is a varied PNG no wider or taller than 2000
/// pixels nor smaller than 300, and reads them back.
fn draw_and_read(case: &Case, temporary: &Path) -> Vec<(&'static str, Png)> {
    let dir = folder(case, temporary);
    case.draw(&dir);
    ALL.iter()
        .map(|&name| {
            let png = Png::read(&dir.join(name));
            let (w, h) = (png.width, png.height);
            let where_ = format!("{}/{name} is {w}×{h}", case.name);
            assert!(
                (300..=2000).contains(&w) && (300..=2000).contains(&h),
                "{where_}"
            );
            assert!(png.has_more_colours_than(16), "{where_} and blank");
            (name, png)
        })
        .collect()
}

#[test]
fn mnist_s_pictures_keep_their_size() {
    let temporary = tempfile::tempdir().unwrap();
    let drawn = draw_and_read(&mnist_like(), temporary.path());
    // Digits at 3× in 88-pixel cells, as the pictures have always been.
    let sizes: Vec<(&str, (u32, u32))> = drawn
        .iter()
        .map(|(n, p)| (*n, (p.width, p.height)))
        .collect();
    assert_eq!(
        sizes,
        [
            (
                "reconstructions.png",
                (150 + 10 * 88 + 8, 40 + 3 * (3 * 88 + 14))
            ),
            ("latent.png", (820, 720)),
            ("interpolation.png", (80 + 10 * 88 + 8, 40 + 8 * 88 + 8)),
            ("samples.png", (8 * 88 + 8, 40 + 8 * 88 + 8)),
            ("manifold.png", (15 * 88 + 8, 40 + 15 * 88 + 8)),
        ]
    );
    for (name, png) in &drawn {
        if *name != "latent.png" {
            assert!(!png.has(PATCH), "{name}: grey images have no colour");
        }
    }
}

#[test]
fn rgb_images_are_drawn_in_colour_at_their_own_size() {
    let temporary = tempfile::tempdir().unwrap();
    for (name, png) in draw_and_read(&rgb_of_twelve_classes(), temporary.path()) {
        if name != "latent.png" {
            assert!(png.has(PATCH), "{name} lacks class 0's colour");
        }
    }
    // 32×20 at 3×: 60×96 cells, ten classes across (the other two left out).
    let dir = folder(&rgb_of_twelve_classes(), temporary.path());
    let png = Png::read(&dir.join("reconstructions.png"));
    assert_eq!(png.width, 150 + 10 * 64 + 8);
}

#[test]
fn rows_are_drawn_as_lines_in_panels() {
    let temporary = tempfile::tempdir().unwrap();
    for case in [standardised_rows(), unlabelled_rows_with_noise()] {
        for (name, png) in draw_and_read(&case, temporary.path()) {
            match name {
                "latent.png" => {}
                // The input's line and the reconstruction's, in two colours.
                "reconstructions.png" => {
                    let (input, rebuilt) = (COLOURS[0], COLOURS[1]);
                    assert!(
                        png.has([input.0, input.1, input.2]),
                        "{}: {name}",
                        case.name
                    );
                    assert!(
                        png.has([rebuilt.0, rebuilt.1, rebuilt.2]),
                        "{}: {name}",
                        case.name
                    );
                }
                _ => {
                    let line = COLOURS[0];
                    assert!(png.has([line.0, line.1, line.2]), "{}: {name}", case.name);
                }
            }
        }
    }
}

#[test]
fn big_images_shrink_to_fit_and_one_class_is_shown_by_its_first_samples() {
    let temporary = tempfile::tempdir().unwrap();
    for (name, png) in draw_and_read(&big_unlabelled_images(), temporary.path()) {
        if name != "latent.png" {
            assert!(png.has(PATCH), "{name} lacks the samples' colour");
        }
    }
}

#[test]
fn missing_samples_are_an_error_not_a_panic() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let case = rgb_of_twelve_classes();
    let (shape, classes) = (case.shape, case.classes.as_slice());
    let mut shot = case.shot;
    shot.rebuilt.clear();
    let path = dir.join("reconstructions.png");
    assert!(plots::reconstructions(&path, &shot, shape, classes).is_err());
    // Fewer decoded numbers than the rows need.
    let names = vec!["a → b".to_string()];
    let short = vec![0.5; STEPS * shape.elements() - 1];
    let path = dir.join("interpolation.png");
    assert!(plots::interpolation(&path, shape, classes, &names, &short).is_err());
    let path = dir.join("samples.png");
    assert!(plots::sample_grid(&path, "title", shape, &short, 8).is_err());
    assert!(plots::sample_grid(&path, "title", shape, &short, 0).is_err());
    // Values out of range and not finite are drawn, not refused.
    let odd: Vec<f32> = (0..4 * shape.elements())
        .map(|j| [f32::NAN, -3.0, 7.0, f32::INFINITY][j % 4])
        .collect();
    plots::sample_grid(&path, "title", shape, &odd, 2).unwrap();
    let rows = Shape::rows(5);
    plots::sample_grid(&path, "title", rows, &odd[..20], 2).unwrap();
}
