//! Datasets: what a model trains on, whatever it came from, with the shape it carries.
//!
//! A `Data` is a training and a test split of samples of one `Shape`: C×H×W images
//! (bytes, or floats in [0, 1]) or rows of D numbers (floats, scaled by a `Scaling`
//! fitted on the training split), with optional labels and their class names. The shape
//! flows from here into the model's description, the checkpoint and the pictures;
//! nothing downstream assumes 28×28.
//!
//! Every source is checked from its bytes here, the same in the terminal and in the
//! browser: MNIST's four files (`mnist`), IDX files of any size (`idx`), images
//! (`images`), CSV and NPY tables (`table`), a folder's layout of classes and splits
//! (`folder`), and the split, scaling and class filters that turn samples into a `Data`
//! (`prepare`). Reading files is the shell's (`native::data` on disk, the page's file
//! picker in a browser).

pub mod folder;
pub mod idx;
pub mod images;
mod mnist;
pub mod prepare;
pub mod table;

pub use self::mnist::{
    decode_idx, mnist_data, mnist_from_gz, FILES, IDX_IMAGES, IDX_LABELS, TEST_COUNT, TRAIN_COUNT,
};

use std::path::{Path, PathBuf};

pub use self::folder::images_from_files;
pub use self::prepare::{Colour, Prepare, DEFAULT_TEST_FRACTION};

use crate::error::{Error, Result};

/// MNIST's images are 28×28 bytes.
pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

pub fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// How samples are laid out, which decides how they are drawn and which models take
/// them: images (pictures; conv models too) or rows of numbers (line plots; dense models).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Images,
    Rows,
}

/// One sample's shape: C×H×W for images; 1×1×D for rows of D numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    pub layout: Layout,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Shape {
    /// MNIST's: one channel of 28×28. What every checkpoint saved before shapes were
    /// recorded holds.
    pub const MNIST: Shape = Shape::images(1, IMAGE_SIDE, IMAGE_SIDE);

    pub const fn images(channels: usize, height: usize, width: usize) -> Shape {
        Shape {
            layout: Layout::Images,
            channels,
            height,
            width,
        }
    }

    pub const fn rows(features: usize) -> Shape {
        Shape {
            layout: Layout::Rows,
            channels: 1,
            height: 1,
            width: features,
        }
    }

    /// Numbers in one sample (saturating: a shape read from a file may be absurd, and is
    /// refused by the size check, not by an overflow).
    pub fn elements(&self) -> usize {
        self.channels
            .saturating_mul(self.height)
            .saturating_mul(self.width)
    }

    /// `3×32×32` for images, `140 numbers` for rows.
    pub fn describe(&self) -> String {
        match self.layout {
            Layout::Images => format!("{}×{}×{}", self.channels, self.height, self.width),
            Layout::Rows => format!("rows of {} numbers", self.width),
        }
    }

    /// `3x32x32` or `rows:140`: how checkpoints and run records spell it (`parse` reads
    /// it back).
    pub fn spec(&self) -> String {
        match self.layout {
            Layout::Images => format!("{}x{}x{}", self.channels, self.height, self.width),
            Layout::Rows => format!("rows:{}", self.width),
        }
    }

    /// Reads a `spec()` back: `None` for anything that is not one, or has a zero.
    pub fn parse(spec: &str) -> Option<Shape> {
        let shape = match spec.strip_prefix("rows:") {
            Some(d) => Shape::rows(d.parse().ok()?),
            None => {
                let dims: Vec<usize> = spec
                    .split('x')
                    .map(|v| v.parse().ok())
                    .collect::<Option<_>>()?;
                match dims[..] {
                    [c, h, w] => Shape::images(c, h, w),
                    _ => return None,
                }
            }
        };
        (shape.elements() > 0 && !spec.contains('+')).then_some(shape)
    }
}

/// The samples' values, one sample after another (C×H×W, row-major within a channel).
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Pixels 0–255, which the device keeps packed four to a word and scales to [0, 1]
    /// as it gathers a batch (`gather_batch`).
    Bytes(Vec<u8>),
    /// Numbers used as they are (`gather_rows`): rows after their scaling, or images
    /// given as floats in [0, 1].
    Floats(Vec<f32>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Bytes(v) => v.len(),
            Values::Floats(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How the device holds them.
    pub fn storage(&self) -> Storage {
        match self {
            Values::Bytes(_) => Storage::Bytes,
            Values::Floats(_) => Storage::Floats,
        }
    }

    /// Samples `range` (of `elements` numbers each), in the same storage.
    pub fn samples(&self, range: std::ops::Range<usize>, elements: usize) -> Values {
        let span = range.start * elements..range.end * elements;
        match self {
            Values::Bytes(v) => Values::Bytes(v[span].to_vec()),
            Values::Floats(v) => Values::Floats(v[span].to_vec()),
        }
    }

    /// The samples at `indices`, in that order.
    pub fn pick(&self, indices: &[usize], elements: usize) -> Values {
        fn pick<T: Copy>(v: &[T], indices: &[usize], elements: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(indices.len() * elements);
            for &i in indices {
                out.extend_from_slice(&v[i * elements..(i + 1) * elements]);
            }
            out
        }
        match self {
            Values::Bytes(v) => Values::Bytes(pick(v, indices, elements)),
            Values::Floats(v) => Values::Floats(pick(v, indices, elements)),
        }
    }

    /// Every value as the model sees it: bytes over 255, floats as they are.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Values::Bytes(v) => v.iter().map(|&b| b as f32 / 255.0).collect(),
            Values::Floats(v) => v.clone(),
        }
    }

    /// What the device's dataset buffer holds: bytes packed four to a word, or the
    /// floats' bits.
    pub fn device_words(&self) -> Vec<u32> {
        match self {
            Values::Bytes(v) => pack_bytes(v),
            Values::Floats(v) => v.iter().map(|f| f.to_bits()).collect(),
        }
    }
}

/// How a dataset is held on the device: packed bytes or floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Bytes,
    Floats,
}

impl Storage {
    /// Words of the device's buffer for `values` numbers.
    pub fn words(self, values: usize) -> usize {
        match self {
            Storage::Bytes => values.div_ceil(4),
            Storage::Floats => values,
        }
    }

    /// Bytes per value on the host.
    pub fn bytes_per_value(self) -> usize {
        match self {
            Storage::Bytes => 1,
            Storage::Floats => 4,
        }
    }
}

/// One split's samples and, where the source has them, their labels (indices into
/// `Data::classes`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub values: Values,
    pub labels: Option<Vec<u32>>,
    /// Samples held.
    pub count: usize,
}

impl Dataset {
    pub fn new(values: Values, labels: Option<Vec<u32>>, count: usize) -> Dataset {
        Dataset {
            values,
            labels,
            count,
        }
    }

    /// MNIST's bytes and digit labels.
    pub fn of_bytes(images: Vec<u8>, labels: Vec<u8>) -> Dataset {
        let count = labels.len();
        Dataset {
            values: Values::Bytes(images),
            labels: Some(labels.into_iter().map(u32::from).collect()),
            count,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Numbers per sample.
    fn elements(&self) -> usize {
        self.values.len() / self.count.max(1)
    }

    /// Keeps the first `n` samples (all of them if there are fewer): what `--limit` and
    /// the page's "training images" do to the training set.
    pub fn keep_first(&mut self, n: usize) {
        let n = n.min(self.count);
        *self = self.subset(&(0..n).collect::<Vec<_>>());
    }

    /// The samples at `indices`, in that order, with their labels.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            values: self.values.pick(indices, self.elements()),
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
            count: indices.len(),
        }
    }

    /// Every sample's label, or 0 for each where the data has none: what the pictures
    /// colour by.
    pub fn labels_or_zero(&self) -> Vec<u32> {
        self.labels.clone().unwrap_or_else(|| vec![0; self.count])
    }
}

/// How a table's features were scaled, fitted on the training split: each feature j
/// becomes `(x - offset[j]) / scale[j]`. Part of the model: saved in its checkpoint and
/// applied to whatever it is later given.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scaling {
    pub kind: ScalingKind,
    pub offset: Vec<f32>,
    pub scale: Vec<f32>,
}

/// Min–max to [0, 1] (the default: a Sigmoid output can rebuild it) or standardisation
/// to mean 0 and standard deviation 1 (a linear output then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalingKind {
    MinMax,
    Standardize,
}

impl ScalingKind {
    pub fn name(self) -> &'static str {
        match self {
            ScalingKind::MinMax => "min-max to [0, 1]",
            ScalingKind::Standardize => "standardised to mean 0, deviation 1",
        }
    }
}

/// A source's data, split and prepared, with what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    pub train: Dataset,
    pub test: Dataset,
    pub shape: Shape,
    /// The name of each label value, in order; empty when the data has no labels.
    pub classes: Vec<String>,
    /// What the data came from, in words: `MNIST IDX files in data/mnist`.
    pub source: String,
    /// How the test split was made.
    pub split: Split,
    /// The scaling applied to both splits (tables only), fitted on the training split.
    pub scaling: Option<Scaling>,
    /// What the loader left out, to be said (files that are not samples, say).
    pub notes: Vec<String>,
    /// The classes the training split was cut to (`--classes`, `--exclude-classes`), by
    /// name; `None` where every class trains.
    pub trained_classes: Option<Vec<String>>,
}

/// Where the test split came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The source's own (MNIST's test files, `train/` and `test/` folders).
    Given,
    /// A seeded share of the samples, taken class by class (`prepare::split`).
    Fraction { fraction: f64, seed: u64 },
}

impl Data {
    /// Whether the samples have labels.
    pub fn is_labelled(&self) -> bool {
        self.train.labels.is_some()
    }

    /// The one-line summary every command prints first: source, counts, shape, classes.
    pub fn describe(&self) -> String {
        let split = match &self.split {
            Split::Given => String::new(),
            Split::Fraction { fraction, seed } => {
                let of = match self.is_labelled() {
                    true => "of each class",
                    false => "of the samples",
                };
                format!(" (test split: {fraction} {of}, seed {seed})")
            }
        };
        let classes = match self.classes.len() {
            0 => "no labels".to_string(),
            n => {
                let names = self.classes.iter().take(12).cloned().collect::<Vec<_>>();
                let more = match n > 12 {
                    true => format!(", … {} more", n - 12),
                    false => String::new(),
                };
                format!("{n} classes ({}{more})", names.join(", "))
            }
        };
        let scaling = match &self.scaling {
            Some(s) => format!(", {}", s.kind.name()),
            None => String::new(),
        };
        let trained = match &self.trained_classes {
            Some(kept) => format!(" (class {} only)", kept.join(", ")),
            None => String::new(),
        };
        format!(
            "data: {}: {} training{trained} and {} test samples{split}, {}{scaling}, {classes}",
            self.source,
            self.train.len(),
            self.test.len(),
            self.shape.describe(),
        )
    }

    /// Cuts the training split to the classes `prepare` names (`--classes`,
    /// `--exclude-classes`), where the data came with nothing to scale: what a source
    /// read outside `prepare::finish` (MNIST's own files, the page's MNIST) goes through.
    pub fn keep_training_classes(&mut self, prepare: &Prepare) -> Result<()> {
        let (classes, source) = (&self.classes, &self.source);
        self.trained_classes =
            prepare::keep_training_classes(&mut self.train, classes, prepare, source)?;
        Ok(())
    }

    /// Keeps the first `limit` training samples, refusing a limit of none or of more
    /// than there are.
    pub fn apply_limit(&mut self, limit: Option<usize>) -> Result<()> {
        check_limit(limit)?;
        if let Some(n) = limit {
            let count = self.train.len();
            if n > count {
                return Err(Error::flag(
                    "--limit",
                    format!(
                        "{n}: must be between 1 and {count}, the training samples of {}",
                        self.source
                    ),
                ));
            }
            self.train.keep_first(n);
        }
        Ok(())
    }

    /// The name shown for a label (its class name, or the number).
    pub fn class_name(&self, label: u32) -> String {
        self.classes
            .get(label as usize)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }
}

/// What is wrong with a `--limit` on its own, if anything (against the data: `Data::apply_limit`).
pub fn limit_problem(limit: Option<usize>) -> Option<String> {
    match limit {
        Some(0) => Some("0: must be at least 1".into()),
        _ => None,
    }
}

/// Refuses a `--limit` that keeps no sample.
pub fn check_limit(limit: Option<usize>) -> Result<()> {
    match limit_problem(limit) {
        Some(why) => Err(Error::flag("--limit", why)),
        None => Ok(()),
    }
}

/// The path errors name for data that came from no file (the page's picks).
pub fn unnamed() -> PathBuf {
    PathBuf::from("(data)")
}

/// Packs bytes little-endian, four to a u32, as the GPU's resident dataset holds them.
pub fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(word)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_little_endian_and_pads_the_last_word() {
        assert_eq!(pack_bytes(&[1, 2, 3, 4, 5]), vec![0x04030201, 5]);
    }

    #[test]
    fn shapes_read_back_as_they_were_written() {
        for shape in [Shape::MNIST, Shape::images(3, 32, 17), Shape::rows(140)] {
            assert_eq!(Shape::parse(&shape.spec()), Some(shape));
        }
        for bad in ["", "3x32", "0x4x4", "rows:0", "rows:", "3x4x4x4", "ax4x4"] {
            assert_eq!(Shape::parse(bad), None, "{bad}");
        }
        assert_eq!(Shape::images(3, 32, 32).describe(), "3×32×32");
        assert_eq!(Shape::rows(140).elements(), 140);
    }

    #[test]
    fn a_subset_keeps_its_labels_in_order() {
        let d = Dataset::new(
            Values::Floats(vec![0.0, 0.1, 1.0, 1.1, 2.0, 2.1]),
            Some(vec![7, 8, 9]),
            3,
        );
        let s = d.subset(&[2, 0]);
        assert_eq!(s.values, Values::Floats(vec![2.0, 2.1, 0.0, 0.1]));
        assert_eq!(s.labels, Some(vec![9, 7]));
        assert_eq!(s.len(), 2);
    }
}
