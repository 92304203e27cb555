//! What the page does, in plain Rust over the core: open the GPU, load MNIST from the
//! files' bytes or the user's own (a picked folder of images, or a CSV or NPY file),
//! prepared by the terminal's rules, train an advance at a time, and answer the page's
//! questions (samples and their reconstructions at the data's shape, the latent plane, a
//! point decoded, a drawn digit, the weights, the kernel check, a profile, and the
//! anomaly scores of a model trained on one class). Nothing here knows about
//! JavaScript, so the same session runs natively in this crate's tests; `lib.rs` wraps it
//! for the page.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use wgsl_autoencoder::anomaly::{self, Confusion};
use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::check::run::{plan, run_group, GroupReport, Plan};
use wgsl_autoencoder::checkpoint::{meta_arch, model_bytes, parse_meta, parse_weights};
use wgsl_autoencoder::data::images::conform_bytes;
use wgsl_autoencoder::data::prepare::{check_flags, finish, SourceKind};
use wgsl_autoencoder::data::table::{is_npy, read_csv, read_npy};
use wgsl_autoencoder::data::{
    check_limit, images_from_files, mnist_from_gz, unnamed, Colour, Data, Layout, Prepare, Scaling,
    Shape, Values,
};
use wgsl_autoencoder::error::{Error, Result};
use wgsl_autoencoder::gpu::context::{AdapterRequest, GpuOptions};
use wgsl_autoencoder::gpu::kernels::Parallelism;
use wgsl_autoencoder::gpu::profiler::Placement;
use wgsl_autoencoder::model::{DataSizes, Fusion};
use wgsl_autoencoder::ops::{Activation, NoiseKind, ScoreKind};
use wgsl_autoencoder::pictures::{self, Projection};
use wgsl_autoencoder::train::{Advance, EpochMetrics, Progress, Snapshot};
use wgsl_autoencoder::{Arch, CpuBackend, Gpu, GpuBackend, TrainConfig, Trainer};

/// What the CPU reference may allocate in a page: wasm32 addresses 4 GiB, and browsers
/// grant a page about half of that.
const WASM_MEMORY: u64 = 2 << 30;

/// The largest model file the page opens: its bytes and the weights they hold are both
/// in wasm's memory at once, in the 2 GiB a page has.
pub const MAX_WEIGHTS_FILE: u64 = WASM_MEMORY / 2;

/// The longest header safetensors reads (its own limit): a longer one is no model's.
const MAX_HEADER: u64 = 100_000_000;

/// What a model file's metadata names as its format (the checkpoint module's).
const FORMAT: &str = "wgsl-autoencoder";

/// What a file's first bytes say it is, where they are a format's signature.
fn signature(head: &[u8]) -> Option<&'static str> {
    let kinds: [(&[u8], &str); 8] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"\x1F\x8B", "a gzip file"),
        (
            b"PK\x03\x04",
            "a zip archive (a PyTorch .pt or a NumPy .npz is one)",
        ),
        (b"\x93NUMPY", "a NumPy array"),
        (b"\x80\x02", "a Python pickle (an older PyTorch file)"),
        (b"%PDF", "a PDF document"),
        (b"GGUF", "a GGUF model"),
    ];
    kinds
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, what)| *what)
}

/// A file's size in words: bytes, or GiB/MiB where large.
fn size_text(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", mib / 1024.0),
        b if b >= 1 << 20 => format!("{mib:.1} MiB"),
        b => format!("{b} bytes"),
    }
}

/// The page's rules on a model file it is asked to open, from its name, its first bytes
/// (`head`: at least the first 9 where the file has them) and its size alone, so that a
/// file the page cannot hold is refused before it is read into memory: too large for
/// the page, too short or of another format to be safetensors, or with a header longer
/// than the file. Each refusal is one sentence naming the file.
pub fn check_weights_file(name: &str, head: &[u8], size: u64) -> Result<()> {
    let refuse = |why: String| Err(Error::Other(format!("{name} {why}")));
    if size > MAX_WEIGHTS_FILE {
        return refuse(format!(
            "is {}: the page opens model files of at most {}, since a file and the weights it holds must both fit in the {} a browser gives a page",
            size_text(size),
            size_text(MAX_WEIGHTS_FILE),
            size_text(WASM_MEMORY)
        ));
    }
    let (Some(length), Some(&first)) = (head.get(..8), head.get(8)) else {
        return refuse(format!(
            "is not a safetensors file: it holds {size} bytes, too few for a safetensors header"
        ));
    };
    let length = u64::from_le_bytes(length.try_into().expect("eight bytes"));
    if first != b'{' || length < 2 {
        let what = match signature(head) {
            Some(what) => format!("is {what}, not a safetensors file"),
            None => "is not a safetensors file (its first bytes are no safetensors header)".into(),
        };
        return refuse(format!(
            "{what}: open a model.safetensors this page or the command line saved"
        ));
    }
    let follow = size.saturating_sub(8);
    if length > follow || length > MAX_HEADER {
        return refuse(format!(
            "is cut short or corrupt: its safetensors header says it is {length} bytes long, but only {follow} bytes follow in the file"
        ));
    }
    Ok(())
}

/// The rules on a whole model file's safetensors header, after `check_weights_file`'s:
/// a header of JSON whose tensors end where the file does, naming a wgsl-autoencoder
/// model in its metadata. Another program's safetensors is refused saying what it holds
/// (its tensors, and the format its metadata names) and what the page opens.
fn check_header(name: &str, bytes: &[u8]) -> Result<()> {
    let refuse = |why: String| Err(Error::Other(format!("{name} {why}")));
    let length = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")) as usize)
        .unwrap_or(0);
    let Some(header) = bytes
        .get(8..8usize.saturating_add(length))
        .and_then(|h| serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(h).ok())
    else {
        return refuse("is not a safetensors file: its header is not a JSON object".into());
    };
    let data = bytes.len().saturating_sub(8 + length);
    let end = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .filter_map(|(_, t)| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    if end != data as u64 {
        return refuse(format!(
            "is cut short or corrupt: its header places its tensors in {end} bytes, but {data} bytes follow the header"
        ));
    }
    let meta = header.get("__metadata__");
    let field = |key: &str| meta.and_then(|m| m.get(key)).and_then(|v| v.as_str());
    if field("format") == Some(FORMAT) && field("arch").is_some() {
        return Ok(());
    }
    let mut tensors: Vec<&String> = header.keys().filter(|k| *k != "__metadata__").collect();
    tensors.sort();
    let format = field("format")
        .map(|f| format!(" saved as format {f:?}"))
        .unwrap_or_default();
    let first = match tensors.first() {
        Some(t) => format!(" (the first {t:?})"),
        None => String::new(),
    };
    refuse(format!(
        "holds {} tensor{}{first}{format} but no wgsl-autoencoder model in its metadata: it is another program's model, and this page opens {} saved by this page or the command line",
        tensors.len(),
        if tensors.len() == 1 { "" } else { "s" },
        Arch::KINDS,
    ))
}

/// The page's controls, as its form (or the URL's parameters) gives them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `dense` or `conv` (any model `Arch::from_spec` knows).
    pub model: String,
    /// The model's sizes, comma-separated: the dense widths or the conv channels.
    pub sizes: String,
    pub activation: String,
    pub batch: usize,
    pub lr: f32,
    pub epochs: usize,
    /// `gaussian:STD` or `mask:P`, or empty for none.
    pub noise: String,
    /// Training samples kept (the first ones, after the class filter), or all of them.
    pub limit: Option<usize>,
    pub seed: u64,
    /// `gpu` (WebGPU) or `cpu` (the reference, compiled to wasm).
    pub backend: String,
    /// Train only on the training samples of these classes, by name (`--classes`):
    /// the normal data of anomaly detection. Empty: every class trains.
    pub classes: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: "dense".into(),
            sizes: "100,200,30".into(),
            activation: "relu".into(),
            batch: 128,
            lr: 1e-3,
            epochs: 5,
            noise: String::new(),
            limit: None,
            seed: 0,
            backend: "gpu".into(),
            classes: Vec::new(),
        }
    }
}

/// A control's value the page cannot train with, named as the page names the control.
fn control(name: &str, message: impl Into<String>) -> Error {
    Error::Other(format!("{name}: {}", message.into()))
}

impl Settings {
    /// The training configuration these controls describe for MNIST, checked as the
    /// command line checks its flags (the same messages).
    pub fn config(&self) -> Result<TrainConfig> {
        self.configured(self.arch()?)
    }

    /// The training configuration these controls describe for `data` (the model takes its
    /// shape, and gives a linear output for standardised rows, as `train --data` does),
    /// checked with the command line's messages, the batch against the training samples
    /// included.
    pub fn config_for(&self, data: &Data) -> Result<TrainConfig> {
        let config = self.configured(self.arch()?.fitted_to(data))?;
        let count = data.train.len();
        if config.batch > count {
            return Err(Error::flag(
                "--batch",
                format!(
                    "{}: a step trains on a batch of training samples, and the data holds {count}",
                    config.batch
                ),
            ));
        }
        Ok(config)
    }

    fn configured(&self, arch: Arch) -> Result<TrainConfig> {
        let config = TrainConfig {
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            seed: self.seed,
            noise: self.noise()?,
            ..TrainConfig::new(arch)
        };
        config.validate()?;
        check_limit(self.limit)?;
        Ok(config)
    }

    /// The class filter as `Prepare` takes it: `None` where every class trains.
    fn class_filter(&self) -> Option<Vec<String>> {
        let names: Vec<String> = self
            .classes
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        (!names.is_empty()).then_some(names)
    }

    /// The model of the settings' kind and sizes, built even where its sizes would be
    /// refused, so that `validate` says what is wrong with them in the command line's
    /// words.
    fn arch(&self) -> Result<Arch> {
        let sizes = self.sizes.replace(' ', "");
        let label = if self.model.starts_with("conv") {
            "Channels"
        } else {
            "Layers"
        };
        let numbers = sizes
            .split(',')
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    control(label, format!("{v:?} in {sizes:?} is not a whole number"))
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let activation = match self.activation.as_str() {
            "" => Activation::Relu,
            name => Activation::from_name(name)
                .ok_or_else(|| control("Activation", format!("{name:?}: use relu or tanh")))?,
        };
        let arch = Arch::of_kind(&self.model, numbers).ok_or_else(|| {
            control(
                "Model",
                format!("{:?} is not a model this page builds", self.model),
            )
        })?;
        Ok(arch.with_activation(activation))
    }

    fn noise(&self) -> Result<Option<NoiseKind>> {
        Ok(match self.noise.trim() {
            "" | "none" => None,
            text => Some(NoiseKind::parse(text).map_err(|why| control("Noise", why))?),
        })
    }
}

/// The page's data controls: how the samples are prepared, the terminal's data flags.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DataOptions {
    /// `HxW` (`--image-size`), such as `32x32`; empty keeps the images' own size.
    pub image_size: String,
    /// `grey` or `rgb` (`--grey`, `--rgb`); empty keeps the data's own channels.
    pub colour: String,
    /// `--test-fraction`: the share of each class held out for testing where the data
    /// has no split of its own; `None`: the terminal's default, 0.1.
    pub test_fraction: Option<f64>,
}

impl DataOptions {
    /// The `Prepare` these controls ask for, refusing what the terminal's parser refuses.
    pub fn prepare(&self) -> Result<Prepare> {
        let image_size = match self.image_size.trim() {
            "" | "as is" => None,
            text => Some(parse_image_size(text).map_err(|why| Error::flag("--image-size", why))?),
        };
        let colour = match self.colour.trim() {
            "" | "as is" => None,
            "grey" | "gray" => Some(Colour::Grey),
            "rgb" => Some(Colour::Rgb),
            other => {
                return Err(control(
                    "Colour",
                    format!("{other:?}: use grey, rgb, or leave it as the data is"),
                ))
            }
        };
        Ok(Prepare {
            image_size,
            colour,
            test_fraction: self.test_fraction,
            ..Prepare::default()
        })
    }
}

/// `HxW`, as the terminal's `--image-size` reads it.
fn parse_image_size(text: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || format!("{text:?}: give height x width in pixels, e.g. 32x32");
    let (h, w) = text.split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let h: usize = h.trim().parse().map_err(|_| bad())?;
    let w: usize = w.trim().parse().map_err(|_| bad())?;
    if h == 0 || w == 0 {
        return Err(format!("{text:?}: each side must be at least 1 pixel"));
    }
    Ok((h, w))
}

/// What the page says about the data in use: the terminal's summary line and notes, and
/// what the pictures follow.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DataInfo {
    /// `mnist`, `images` (picked image files) or `table` (a CSV or NPY file).
    pub kind: String,
    /// What the data came from, in words.
    pub source: String,
    /// `Data::describe()`: the line every command of the terminal prints first.
    pub describe: String,
    pub shape: Shape,
    /// `1×28×28`, `3×32×32`, `rows of 140 numbers`.
    pub shape_text: String,
    pub train: usize,
    pub test: usize,
    /// Class names, in label order; empty for unlabelled data.
    pub classes: Vec<String>,
    /// What the loader left out.
    pub notes: Vec<String>,
    /// Why a drawing cannot be given to the model, where it cannot (the pad draws one
    /// channel of pixels); `None` where it can.
    pub undrawable: Option<String>,
}

impl DataInfo {
    fn of(data: &Data, kind: &str) -> DataInfo {
        let shape = data.shape;
        let undrawable = match (shape.layout, shape.channels) {
            (Layout::Rows, _) => {
                Some("the data is rows of numbers, not pictures: there is nothing to draw".into())
            }
            (Layout::Images, 1) => None,
            (Layout::Images, c) => Some(format!(
                "the pad draws one channel, and these images have {c}: choose grey under Colour to draw"
            )),
        };
        DataInfo {
            kind: kind.into(),
            source: data.source.clone(),
            describe: data.describe(),
            shape,
            shape_text: shape.describe(),
            train: data.train.len(),
            test: data.test.len(),
            classes: data.classes.clone(),
            notes: data.notes.clone(),
            undrawable,
        }
    }
}

/// The user's own files (paths relative to the folder picked, and their bytes) as data:
/// a single CSV or NPY file is a table; anything else is a folder of images, by the
/// folder rules. Prepared by `prepare`, as `--data` prepares them.
pub fn data_from_files(
    files: &[(String, Vec<u8>)],
    prepare: &Prepare,
) -> Result<(Data, &'static str)> {
    data_scaled(files, prepare, None)
}

/// `data_from_files`, a table scaled by `scaling` where one is given (a saved model's).
fn data_scaled(
    files: &[(String, Vec<u8>)],
    prepare: &Prepare,
    scaling: Option<&Scaling>,
) -> Result<(Data, &'static str)> {
    if let [(name, bytes)] = files {
        let path = Path::new(name);
        let lower = name.to_ascii_lowercase();
        let loaded = if is_npy(bytes.get(..8).unwrap_or(bytes)) || lower.ends_with(".npy") {
            Some(read_npy(path, bytes, prepare)?)
        } else if lower.ends_with(".csv") {
            Some(read_csv(path, bytes, prepare)?)
        } else {
            None
        };
        if let Some(loaded) = loaded {
            return Ok((finish(loaded, prepare, scaling, path)?, "table"));
        }
    }
    if files.is_empty() {
        return Err(Error::Data {
            path: unnamed(),
            message: "no files were picked".into(),
        });
    }
    Ok((images_from_files(files.to_vec(), prepare)?, "images"))
}

/// MNIST given the channels and size `prepare` asks for, as the terminal's loader gives
/// them to `--data data/mnist --image-size HxW`; `None` where it asks for nothing.
fn mnist_prepared(mnist: &Data, prepare: &Prepare) -> Result<Option<Data>> {
    check_flags(SourceKind::ByteImages, true, prepare, &mnist.source)?;
    if prepare.image_size.is_none() && prepare.colour.is_none() {
        return Ok(None);
    }
    let mut data = mnist.clone();
    for set in [&mut data.train, &mut data.test] {
        if let Values::Bytes(bytes) = &mut set.values {
            let (conformed, shape) =
                conform_bytes(&unnamed(), std::mem::take(bytes), mnist.shape, prepare)?;
            *bytes = conformed;
            data.shape = shape;
        }
    }
    Ok(Some(data))
}

/// The data in use: the prepared data, or MNIST as loaded.
fn active<'a>(prepared: &'a Option<Data>, mnist: &'a Option<Data>) -> Result<&'a Data> {
    prepared
        .as_ref()
        .or(mnist.as_ref())
        .ok_or_else(|| Error::Other("MNIST is not loaded yet".into()))
}

/// The data a run of `settings` trains on: `data`'s training split cut to the classes
/// asked for (for a table, prepared again from its file so that its scaling is fitted
/// on them, as the terminal fits it), then to the first `limit` samples. Nothing is
/// copied where nothing is cut: MNIST is 55 MB, in wasm's 2 GiB.
fn training_data<'a>(
    data: &'a Data,
    picked: Option<&[(String, Vec<u8>)]>,
    prepare: &Prepare,
    settings: &Settings,
) -> Result<Cow<'a, Data>> {
    check_limit(settings.limit)?;
    let mut out = match settings.class_filter() {
        None => Cow::Borrowed(data),
        Some(classes) => {
            let prepare = Prepare {
                classes: Some(classes),
                ..prepare.clone()
            };
            match (picked, data.scaling.is_some()) {
                (Some(files), true) => Cow::Owned(data_from_files(files, &prepare)?.0),
                _ => {
                    let mut cut = data.clone();
                    cut.keep_training_classes(&prepare)?;
                    Cow::Owned(cut)
                }
            }
        }
    };
    // The page keeps at most what there is: its control's largest value is all.
    if let Some(n) = settings.limit.filter(|&n| n < out.train.len()) {
        out.to_mut().train.keep_first(n);
    }
    Ok(out)
}

/// The adapter the page runs on, as it shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterInfo {
    pub name: String,
    pub backend: String,
    /// How a profile times dispatches: `inside passes`, `pass boundaries`, or why not.
    pub timestamps: String,
    pub max_buffer_mib: f64,
    pub max_storage_binding_mib: f64,
}

/// What one `advance` did, for the page's status, curve and bar.
#[derive(Clone, Debug, Serialize, Default)]
pub struct Update {
    /// `train` (steps ran), `eval` (a test batch ran), `epoch` (an epoch ended) or `done`
    /// (every epoch asked for has run).
    pub phase: String,
    /// The epoch under way (or the last one, when done), from 1.
    pub epoch: usize,
    pub epochs: usize,
    /// Training steps taken in the whole run.
    pub step: usize,
    /// Images done of the epoch's training (or evaluation) images.
    pub done: usize,
    pub total: usize,
    /// The epoch's mean training loss so far.
    pub train_loss: Option<f64>,
    /// The mean loss of the steps this advance ran, at its point in epochs (for the live
    /// curve; the logged points replace them when the epoch ends).
    pub point: Option<[f64; 2]>,
    /// Training images per second over this advance.
    pub images_per_second: Option<f64>,
    /// When an epoch ended: its metrics (with the logged interval losses).
    pub metrics: Option<EpochMetrics>,
}

/// Samples at the data's shape and their reconstructions, as the page draws them.
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    pub shape: Shape,
    /// Each sample's label (0 for each of unlabelled data).
    pub labels: Vec<u32>,
    /// How the reconstructions lay them out: a column per class, named, its samples
    /// (indices into these) down it; empty where they are simply in order.
    pub columns: Vec<Column>,
    /// The samples as the model sees them (images in [0, 1], rows as scaled), one after
    /// another, C×H×W each.
    pub clean: Vec<f32>,
    pub rebuilt: Vec<f32>,
}

/// One column of the reconstructions: a class's name (empty for unlabelled data) and
/// its samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    pub samples: Vec<usize>,
}

/// A test sample an interpolation may start or end at, and what the page calls it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub index: usize,
}

/// A drawing, as the model sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub rebuilt: Vec<f32>,
    /// Where its code lands in the latent plane, once there is one.
    pub point: Option<(f64, f64)>,
    /// Its anomaly score (MSE).
    pub score: f32,
    /// The threshold, once the test set has been scored.
    pub threshold: Option<f64>,
    /// Whether it scores above the threshold, once there is one.
    pub anomaly: Option<bool>,
}

/// The threshold is this percentile of the training split's scores (PyOD's
/// contamination of 1%).
pub const THRESHOLD_PERCENTILE: f64 = 99.0;
/// The most anomalous test samples shown.
pub const ODD_ONES: usize = 10;
/// Bins of the histogram of test scores.
pub const HISTOGRAM_BINS: usize = 40;

/// A model's anomaly scores on the test set: what the page's "odd ones out" panel
/// shows, and `scores()` answers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// `mse`.
    pub kind: String,
    /// The score in words, for the axis.
    pub describe: String,
    /// Scores above it are flagged: the `percentile`-th percentile of the training
    /// split's scores.
    pub threshold: f64,
    pub percentile: f64,
    /// Training samples scored for the threshold.
    pub train_scored: usize,
    /// The classes the model trained on, where not every class: the others are the
    /// anomalies. `None`: every test sample is normal.
    pub trained_classes: Option<Vec<String>>,
    /// Test samples of the classes trained on, and of the others.
    pub normal: usize,
    pub anomalous: usize,
    /// The chance that an anomaly scores above a normal sample; `None` without both.
    pub auroc: Option<f64>,
    pub average_precision: Option<f64>,
    /// The test samples' counts at the threshold.
    pub at_threshold: Confusion,
    pub histogram: Histogram,
    /// The test samples that score highest, highest first.
    pub top: Vec<Odd>,
}

/// Test scores counted in equal bins from `lo` to `hi`, normal and anomalous apart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub normal: Vec<usize>,
    pub anomalous: Vec<usize>,
}

impl Histogram {
    /// `HISTOGRAM_BINS` bins over the scores' range, stretched to hold the threshold.
    pub fn of(scores: &[f32], anomalous: &[bool], threshold: f64) -> Histogram {
        let finite = scores.iter().map(|&s| s as f64).filter(|s| s.is_finite());
        let (lo, hi) = finite.fold((threshold, threshold), |(lo, hi), s| (lo.min(s), hi.max(s)));
        let (lo, hi) = match hi > lo {
            true => (lo, hi),
            false => (lo, lo + 1e-6_f64.max(lo.abs() * 1e-3)),
        };
        let mut normal = vec![0; HISTOGRAM_BINS];
        let mut odd = vec![0; HISTOGRAM_BINS];
        for (&s, &a) in scores.iter().zip(anomalous) {
            if !(s as f64).is_finite() {
                continue;
            }
            let at = ((s as f64 - lo) / (hi - lo) * HISTOGRAM_BINS as f64) as usize;
            let bin = at.min(HISTOGRAM_BINS - 1);
            match a {
                true => odd[bin] += 1,
                false => normal[bin] += 1,
            }
        }
        Histogram {
            lo,
            hi,
            normal,
            anomalous: odd,
        }
    }
}

/// One of the test samples that score highest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Odd {
    /// Its place in the test split.
    pub index: usize,
    pub score: f32,
    /// Its class's name, where the data has labels.
    pub class: Option<String>,
    /// Whether its class is not one trained on.
    pub anomalous: bool,
}

/// The codes of the test set in the plane the page draws, with the projection that
/// maps a point back to a code.
struct Latent {
    projection: Projection,
    shot: Snapshot,
    points: Vec<(f64, f64)>,
}

/// A model on a backend, trained (or loaded) by the page.
struct Run {
    trainer: Trainer,
    epochs: usize,
    steps_per_epoch: usize,
    /// The running loss total and images at the last advance (for each advance's point).
    last: (f64, usize),
    latent: Option<Latent>,
    evaluating: bool,
    /// The controls it was trained with (its classes and limit give the training split
    /// its threshold is taken on).
    settings: Settings,
    /// The threshold scores are flagged above, once the test set has been scored.
    threshold: Option<f64>,
    /// Each test sample's squared error from the last evaluation, while the weights are
    /// the ones it evaluated (a training step drops it): the MSE scores `scores` would
    /// otherwise run the scoring program over the whole test set again for.
    test_mse: Option<Vec<f32>>,
}

/// The page's state: the adapter, the data, and the run.
#[derive(Default)]
pub struct Session {
    gpu: Option<Arc<Gpu>>,
    /// Why the device was lost, once it is: every call after that fails, and the page
    /// offers to start again.
    lost: Arc<Mutex<Option<String>>>,
    /// MNIST as loaded from its files (1×28×28, its own split).
    mnist: Option<Data>,
    /// The files the user picked, kept to prepare again when the controls change (and,
    /// for a table, to fit its scaling on the classes trained on); `None` for MNIST.
    picked: Option<Vec<(String, Vec<u8>)>>,
    /// How the data in use was prepared.
    prepare: Prepare,
    /// The data in use, prepared; `None` where it is MNIST as loaded.
    prepared: Option<Data>,
    /// `mnist`, `images` or `table`.
    kind: &'static str,
    run: Option<Run>,
}

impl Session {
    /// Opens the adapter the browser offers (natively: wgpu's choice).
    pub async fn open_gpu(&mut self) -> Result<AdapterInfo> {
        // The core shares its Gpu as an Arc; in a browser wgpu's handles are not Send,
        // and a page has one thread, so nothing is shared across threads.
        #[allow(clippy::arc_with_non_send_sync)]
        let gpu = Arc::new(Gpu::open(&AdapterRequest::default(), GpuOptions::default()).await?);
        let lost = self.lost.clone();
        gpu.device.set_device_lost_callback(move |reason, message| {
            let mut slot = lost.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(format!("{reason:?}: {message}"));
        });
        self.gpu = Some(gpu.clone());
        Ok(adapter_info(&gpu))
    }

    /// Where the reason a device was lost is kept: to read without waiting for a call
    /// in progress (which a lost device may never finish).
    pub fn lost_handle(&self) -> Arc<Mutex<Option<String>>> {
        self.lost.clone()
    }

    /// Destroys the device, as a driver reset or a lost GPU would: how the page's
    /// recovery is tested.
    pub fn lose_device(&self) {
        if let Some(gpu) = &self.gpu {
            gpu.device.destroy();
        }
    }

    /// Checks and keeps MNIST from the bytes of its four `.gz` files (in `data::FILES`
    /// order), and uses it; `limit` keeps the first training images.
    pub fn load_data(&mut self, files: [&[u8]; 4], limit: Option<usize>) -> Result<(usize, usize)> {
        let data = mnist_from_gz(files, limit)?;
        let sizes = (data.train.len(), data.test.len());
        self.mnist = Some(data);
        self.use_mnist(&DataOptions::default())?;
        Ok(sizes)
    }

    /// Uses MNIST (loaded by `load_data`) again, prepared as the controls ask.
    pub fn use_mnist(&mut self, options: &DataOptions) -> Result<DataInfo> {
        let prepare = options.prepare()?;
        let mnist = self
            .mnist
            .as_ref()
            .ok_or_else(|| Error::Other("MNIST is not loaded yet".into()))?;
        let prepared = mnist_prepared(mnist, &prepare)?;
        self.set_data(None, prepared, prepare, "mnist");
        self.data_info()
    }

    /// Uses the files the user picked (paths relative to the folder picked, without its
    /// own name, and their bytes): a folder of images by the folder rules, or one CSV or
    /// NPY file, prepared as the controls ask. On an error the data in use stays.
    pub fn load_files(
        &mut self,
        files: Vec<(String, Vec<u8>)>,
        options: &DataOptions,
    ) -> Result<DataInfo> {
        let prepare = options.prepare()?;
        let (data, kind) = data_from_files(&files, &prepare)?;
        self.set_data(Some(files), Some(data), prepare, kind);
        self.data_info()
    }

    /// Prepares the data in use again, as the controls now ask (another image size, say).
    /// On an error the data in use stays as it was.
    pub fn prepare_data(&mut self, options: &DataOptions) -> Result<DataInfo> {
        match self.picked.take() {
            Some(files) => {
                let prepare = options.prepare();
                let made = prepare.and_then(|p| Ok((data_from_files(&files, &p)?, p)));
                match made {
                    Ok(((data, kind), prepare)) => {
                        self.set_data(Some(files), Some(data), prepare, kind);
                        self.data_info()
                    }
                    Err(e) => {
                        self.picked = Some(files);
                        Err(e)
                    }
                }
            }
            None => self.use_mnist(options),
        }
    }

    /// Puts new data in use: the model trained on the data before goes with it.
    fn set_data(
        &mut self,
        picked: Option<Vec<(String, Vec<u8>)>>,
        prepared: Option<Data>,
        prepare: Prepare,
        kind: &'static str,
    ) {
        self.run = None;
        self.picked = picked;
        self.prepared = prepared;
        self.prepare = prepare;
        self.kind = kind;
    }

    /// The data in use, as the page describes it.
    pub fn data_info(&self) -> Result<DataInfo> {
        Ok(DataInfo::of(self.data()?, self.kind))
    }

    fn data(&self) -> Result<&Data> {
        active(&self.prepared, &self.mnist)
    }

    /// The data a run of these settings trains on (see `training_data`).
    fn training_data(&self, settings: &Settings) -> Result<Cow<'_, Data>> {
        training_data(
            self.data()?,
            self.picked.as_deref(),
            &self.prepare,
            settings,
        )
    }

    fn backend(&self, name: &str) -> Result<Box<dyn Backend>> {
        match name {
            "gpu" => {
                let gpu = self.gpu.clone().ok_or_else(|| {
                    Error::Other("no WebGPU adapter: train on the CPU reference instead".into())
                })?;
                Ok(Box::new(GpuBackend::new(gpu)))
            }
            // A browser tells no free-memory figure: the size check weighs the model
            // against what a wasm32 page can hold (its heap; 4 GiB at most, and less in
            // practice).
            "cpu" => Ok(Box::new(CpuBackend::with_available_memory(Some(
                WASM_MEMORY,
            )))),
            other => Err(control("Backend", format!("{other:?}: use gpu or cpu"))),
        }
    }

    /// Builds the model the settings describe on their backend, at the data's shape,
    /// ready to train. The size check runs first, with the terminal's message.
    pub async fn start(&mut self, settings: &Settings) -> Result<()> {
        // Nothing trains before data is loaded; that is said before any backend is made.
        let data = active(&self.prepared, &self.mnist)?;
        let data = training_data(data, self.picked.as_deref(), &self.prepare, settings)?;
        let config = settings.config_for(&data)?;
        let backend = self.backend(&settings.backend)?;
        let epochs = config.epochs;
        let steps_per_epoch = data.train.len().div_ceil(config.batch);
        // The last run's buffers go before this one's are made.
        self.run = None;
        let mut trainer = Trainer::new(backend, config, &data).await?;
        drop(data);
        trainer.collect_snapshots();
        // Short advances keep the page answering between them.
        trainer.set_advance_seconds(0.25);
        self.run = Some(Run {
            trainer,
            epochs,
            steps_per_epoch,
            last: (0.0, 0),
            latent: None,
            evaluating: false,
            settings: settings.clone(),
            threshold: None,
            test_mse: None,
        });
        Ok(())
    }

    fn run(&mut self) -> Result<&mut Run> {
        self.run
            .as_mut()
            .ok_or_else(|| Error::Other("no model yet: start training or open weights".into()))
    }

    /// The next bounded piece of training; `done` once every epoch has run.
    pub async fn advance(&mut self) -> Result<Update> {
        let run = self.run()?;
        let epochs_done = run.trainer.epochs_done();
        let mut update = Update {
            epochs: run.epochs,
            epoch: (epochs_done + 1).min(run.epochs.max(1)),
            step: epochs_done * run.steps_per_epoch,
            ..Update::default()
        };
        if epochs_done >= run.epochs {
            update.phase = "done".into();
            return Ok(update);
        }
        let started = web_time::Instant::now();
        let advance = run.trainer.advance().await?;
        let seconds = started.elapsed().as_secs_f64();
        let batch = run.trainer.config().batch;
        match advance {
            Advance::Progress(Progress::Train { done, total, loss }) => {
                let sum = loss * done as f64;
                let (last_sum, last_done) = run.last;
                if done > last_done {
                    let at = epochs_done as f64 + done as f64 / total as f64;
                    update.point = Some([at, (sum - last_sum) / (done - last_done) as f64]);
                    update.images_per_second = Some((done - last_done) as f64 / seconds);
                }
                run.last = (sum, done);
                run.evaluating = done == total;
                run.test_mse = None;
                update.phase = "train".into();
                update.step += done.div_ceil(batch);
                (update.done, update.total, update.train_loss) = (done, total, Some(loss));
            }
            Advance::Progress(Progress::Eval { done, total }) => {
                run.evaluating = true;
                update.phase = "eval".into();
                update.step += run.steps_per_epoch;
                (update.done, update.total) = (done, total);
            }
            Advance::EpochDone(metrics) => {
                run.evaluating = false;
                run.last = (0.0, 0);
                if let Some(shot) = run.trainer.take_snapshot() {
                    run.test_mse = Some(shot.scores.clone());
                    run.latent = latent_of(shot);
                }
                update.phase = "epoch".into();
                update.step += run.steps_per_epoch;
                update.train_loss = Some(metrics.train_loss);
                update.images_per_second = Some(metrics.images_per_second);
                update.metrics = Some(metrics);
            }
        }
        Ok(update)
    }

    /// Test samples (`pictures::examples`: three of each of the first ten classes, or
    /// the first thirty of unlabelled data) as the model now rebuilds them, laid out in
    /// the terminal's columns. `None` while the epoch's evaluation runs, whose snapshot
    /// shows them next.
    pub async fn examples(&mut self) -> Result<Option<Examples>> {
        let data = self.data()?;
        let all_labels = data.test.labels_or_zero();
        let classes = data.classes.len();
        let picked = pictures::examples(&all_labels, data.test.len(), classes);
        let labels: Vec<u32> = picked.iter().map(|&i| all_labels[i]).collect();
        let columns = pictures::example_columns(&picked, &all_labels, classes)
            .into_iter()
            .map(|column| Column {
                name: column
                    .class
                    .map(|c| pictures::class_name(&data.classes, c))
                    .unwrap_or_default(),
                samples: column
                    .samples
                    .iter()
                    .filter_map(|i| picked.iter().position(|p| p == i))
                    .collect(),
            })
            .collect();
        let samples = data.test.subset(&picked).values;
        let shape = data.shape;
        let run = self.run()?;
        if run.evaluating {
            return Ok(None);
        }
        let (_, rebuilt) = run.trainer.reconstruct(&samples).await?;
        Ok(Some(Examples {
            shape,
            labels,
            columns,
            clean: samples.to_f32(),
            rebuilt,
        }))
    }

    /// The test codes in the plane, as (x, y) pairs, and their labels (0 for each of
    /// unlabelled data); empty before the first epoch's evaluation.
    pub fn latent(&mut self) -> Result<(Vec<f32>, Vec<u32>)> {
        let Some(latent) = &self.run()?.latent else {
            return Ok((Vec::new(), Vec::new()));
        };
        let xy = latent
            .points
            .iter()
            .flat_map(|&(x, y)| [x as f32, y as f32])
            .collect();
        Ok((xy, latent.shot.labels.clone()))
    }

    /// How the latent plane's points are named: one series per class (the data's class
    /// names), or one series of samples where the data has no labels.
    pub fn series(&self) -> Result<Vec<String>> {
        let data = self.data()?;
        Ok(match data.classes.is_empty() {
            true => vec!["samples".into()],
            false => data.classes.clone(),
        })
    }

    /// The test samples an interpolation may join, named: the first of each class where
    /// the data has two or more (`pictures::interpolation_pairs`' rule), else the first
    /// ten samples by number.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>> {
        let data = self.data()?;
        let labels = data.test.labels_or_zero();
        let count = data.test.len();
        Ok(match data.classes.len() >= 2 {
            true => (0..data.classes.len() as u32)
                .filter_map(|c| {
                    let index = (0..count).find(|&i| labels[i] == c)?;
                    Some(Endpoint {
                        name: pictures::class_name(&data.classes, c),
                        index,
                    })
                })
                .collect(),
            false => (0..count.min(10))
                .map(|index| Endpoint {
                    name: format!("#{index}"),
                    index,
                })
                .collect(),
        })
    }

    fn latent_ready(&mut self) -> Result<&mut Run> {
        let run = self.run()?;
        if run.latent.is_none() {
            return Err(Error::Other(
                "the latent plane is drawn after the first epoch's evaluation".into(),
            ));
        }
        Ok(run)
    }

    /// The sample the model decodes at a point of the latent plane.
    pub async fn decode_point(&mut self, x: f64, y: f64) -> Result<Vec<f32>> {
        let run = self.latent_ready()?;
        let code = run.latent.as_ref().map(|l| l.projection.unproject(x, y));
        run.trainer.decode(&code.unwrap_or_default()).await
    }

    /// The samples decoded along the line between two test samples' codes
    /// (`pictures::STEPS` of them, ends included).
    pub async fn interpolate(&mut self, a: usize, b: usize) -> Result<Vec<f32>> {
        let run = self.latent_ready()?;
        let codes = match &run.latent {
            Some(l) if a < l.points.len() && b < l.points.len() => {
                pictures::interpolation_codes(&l.shot, &[(a, b)])
            }
            _ => return Err(Error::Other(format!("no test samples {a} and {b}"))),
        };
        run.trainer.decode(&codes).await
    }

    /// A picture drawn by hand (one byte a pixel, 0 background, at the data's height and
    /// width): its reconstruction, where its code lands in the latent plane (once there
    /// is one), its anomaly score, and, once the test set is scored, the verdict at the
    /// threshold.
    pub async fn reconstruct_drawn(&mut self, pixels: &[u8]) -> Result<Drawn> {
        let data = self.data()?;
        let (shape, info) = (data.shape, DataInfo::of(data, self.kind));
        if let Some(why) = info.undrawable {
            return Err(Error::Other(format!("nothing can be drawn here: {why}")));
        }
        if pixels.len() != shape.elements() {
            return Err(Error::Other(format!(
                "a drawing of {} pixels, but the model takes {}",
                pixels.len(),
                shape.describe()
            )));
        }
        let run = self.run()?;
        if run.evaluating {
            return Err(Error::Other(
                "the test set is being evaluated; draw again in a moment".into(),
            ));
        }
        let drawn = Values::Bytes(pixels.to_vec());
        let (code, rebuilt) = run.trainer.reconstruct(&drawn).await?;
        let point = run.latent.as_ref().map(|l| l.projection.project(&code));
        let score = run.trainer.score_samples(ScoreKind::Mse, &drawn).await?;
        let score = score.first().copied().unwrap_or(f32::NAN);
        let threshold = run.threshold;
        Ok(Drawn {
            rebuilt,
            point,
            score,
            threshold,
            anomaly: threshold.map(|t| anomaly::flagged(score, t)),
        })
    }

    /// Scores every test sample (its MSE: higher is more anomalous), and the training
    /// split the model trained on, whose 99th percentile is the threshold: the
    /// histogram of the test scores, normal and anomalous apart (the anomalies being the
    /// classes not trained on), the AUROC and average precision of telling them apart,
    /// the counts at the threshold, and the ten test samples that score highest with
    /// their reconstructions. Between epochs only.
    pub async fn scores(&mut self) -> Result<(Scores, Examples)> {
        // The run and the data are fields apart: both are held at once, nothing copied.
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| Error::Other("no model yet: start training or open weights".into()))?;
        if run.evaluating {
            return Err(Error::Other(
                "the test set is being evaluated; score it when the epoch is done".into(),
            ));
        }
        let data = active(&self.prepared, &self.mnist)?;
        let training = training_data(data, self.picked.as_deref(), &self.prepare, &run.settings)?;
        // The last evaluation's squared errors are these scores, bit for bit (the same
        // forward and row scores, on the same noise): no second pass over the test set.
        let kept = run.test_mse.clone().filter(|s| s.len() == data.test.len());
        let test_scores = match kept {
            Some(kept) => kept,
            None => run.trainer.score_test(ScoreKind::Mse).await?,
        };
        let train_scores = run
            .trainer
            .score_samples(ScoreKind::Mse, &training.train.values)
            .await?;
        let trained_classes = training.trained_classes.clone();
        drop(training);
        let threshold = anomaly::percentile(&train_scores, THRESHOLD_PERCENTILE)
            .ok_or_else(|| Error::Other("no training samples to take a threshold on".into()))?;
        run.threshold = Some(threshold);
        let (labels, classes) = (&data.test.labels, &data.classes);
        let trained: Option<Vec<u32>> = trained_classes.as_ref().map(|names| {
            names
                .iter()
                .filter_map(|n| classes.iter().position(|c| c == n).map(|i| i as u32))
                .collect()
        });
        let anomalous: Vec<bool> = (0..test_scores.len())
            .map(|i| match (&trained, labels) {
                (Some(kept), Some(labels)) => !kept.contains(&labels[i]),
                _ => false,
            })
            .collect();
        let histogram = Histogram::of(&test_scores, &anomalous, threshold);
        let mut order: Vec<usize> = (0..test_scores.len()).collect();
        order.sort_by(|&a, &b| test_scores[b].total_cmp(&test_scores[a]).then(a.cmp(&b)));
        order.truncate(ODD_ONES);
        let top: Vec<Odd> = order
            .iter()
            .map(|&i| Odd {
                index: i,
                score: test_scores[i],
                class: labels.as_ref().map(|l| pictures::class_name(classes, l[i])),
                anomalous: anomalous[i],
            })
            .collect();
        let samples = data.test.subset(&order).values;
        let shape = data.shape;
        let top_labels = order
            .iter()
            .map(|&i| labels.as_ref().map_or(0, |l| l[i]))
            .collect();
        let (_, rebuilt) = run.trainer.reconstruct(&samples).await?;
        let anomalies = anomalous.iter().filter(|&&a| a).count();
        let scores = Scores {
            kind: ScoreKind::Mse.name().into(),
            describe: ScoreKind::Mse.describe().into(),
            threshold,
            percentile: THRESHOLD_PERCENTILE,
            train_scored: train_scores.len(),
            trained_classes,
            normal: anomalous.len() - anomalies,
            anomalous: anomalies,
            auroc: anomaly::auroc(&test_scores, &anomalous),
            average_precision: anomaly::average_precision(&test_scores, &anomalous),
            at_threshold: Confusion::at(&test_scores, &anomalous, threshold),
            histogram,
            top,
        };
        let examples = Examples {
            shape,
            labels: top_labels,
            columns: Vec::new(),
            clean: samples.to_f32(),
            rebuilt,
        };
        Ok((scores, examples))
    }

    /// The weights as `model.safetensors`, with the terminal's tensor names and metadata.
    pub async fn weights(&mut self) -> Result<Vec<u8>> {
        let run = self.run()?;
        let epoch = run.trainer.epochs_done();
        let flat = run.trainer.params().await?;
        model_bytes(
            Path::new("model.safetensors"),
            run.trainer.graph(),
            &flat,
            epoch,
            run.trainer.scaling(),
        )
    }

    /// Whether a model is trained or opened: what a failed `open_weights` left.
    pub fn has_model(&self) -> bool {
        self.run.is_some()
    }

    /// Loads a model file the user picked (`name`, as errors name it; trained here or
    /// natively) on the settings' backend and evaluates it on the test set, so that its
    /// pictures can be explored: its architecture and epoch, and the test MSE and BCE.
    /// The settings' classes and limit say which training samples were its normal ones,
    /// for its anomaly threshold. A table is scaled again by the scaling the model saved,
    /// as `eval` scales it.
    ///
    /// Everything the file says is checked before the model in use goes, so that a file
    /// refused leaves it as it was: `check_weights_file`'s rules, another program's
    /// safetensors, a model the page does not build, one for samples of another shape
    /// than the data in use, and tensors missing, misshapen or not finite. Each refusal
    /// is one sentence naming the file.
    pub async fn open_weights(
        &mut self,
        name: &str,
        bytes: &[u8],
        settings: &Settings,
    ) -> Result<OpenedWeights> {
        check_weights_file(name, bytes, bytes.len() as u64)?;
        check_header(name, bytes)?;
        let path = Path::new(name);
        let meta = parse_meta(path, bytes)?;
        let arch = meta_arch(path, &meta)?;
        let data = self.data()?;
        if arch.input != data.shape {
            return Err(Error::Other(format!(
                "{name} holds a {} model ({}) of {} samples, but the data in use ({}) is {}: use data of its shape to open it",
                arch.name(),
                arch.describe(),
                arch.input.describe(),
                data.source,
                data.shape.describe()
            )));
        }
        let config = TrainConfig {
            epochs: meta.epoch,
            ..TrainConfig::new(arch.clone())
        };
        let backend = self.backend(&settings.backend)?;
        let graph = Trainer::graph_for(
            &config,
            DataSizes::of(data),
            &backend.memory_limits(),
            Fusion::default(),
        )?;
        let flat = parse_weights(path, bytes, &graph)?;
        drop(graph);
        // The file is one the page opens: the model in use goes before this one's
        // buffers are made.
        self.run = None;
        let opened = async {
            if let (Some(scaling), Some(files), "table") = (&meta.scaling, &self.picked, self.kind)
            {
                let data = data_scaled(files, &self.prepare, Some(scaling))?.0;
                self.prepared = Some(data);
            }
            let data = active(&self.prepared, &self.mnist)?;
            let steps_per_epoch = data.train.len().div_ceil(config.batch);
            let mut trainer = Trainer::new(backend, config, data).await?;
            trainer.set_params(&flat)?;
            trainer.collect_snapshots();
            let evaluation = trainer.evaluate().await?;
            Ok::<_, Error>((trainer, evaluation, steps_per_epoch))
        };
        let (mut trainer, evaluation, steps_per_epoch) = opened
            .await
            .map_err(|e| Error::Other(format!("{name} could not be opened: {e}")))?;
        let (test_mse, test_bce) = (evaluation.mse, evaluation.bce);
        let shot = trainer.take_snapshot();
        let squared_errors = shot.as_ref().map(|shot| shot.scores.clone());
        let latent = shot.and_then(latent_of);
        self.run = Some(Run {
            trainer,
            epochs: 0,
            steps_per_epoch,
            last: (0.0, 0),
            latent,
            evaluating: false,
            settings: settings.clone(),
            threshold: None,
            test_mse: squared_errors,
        });
        Ok(OpenedWeights {
            model: arch.name().to_string(),
            sizes: arch
                .sizes()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(","),
            describe: arch.describe(),
            epoch: meta.epoch,
            test_mse,
            test_bce,
        })
    }

    /// The WebGPU adapter's context, once `open_gpu` has opened it.
    pub fn gpu(&self) -> Result<Arc<Gpu>> {
        self.gpu.clone().ok_or_else(|| {
            Error::Other("no WebGPU adapter: there are no GPU kernels to run".into())
        })
    }

    /// The quick kernel check's groups on this adapter (the terminal's `check --quick`).
    pub fn check_plan(&self) -> Result<Plan> {
        let gpu = self.gpu.as_ref().ok_or_else(|| {
            Error::Other("no WebGPU adapter: there are no GPU kernels to check".into())
        })?;
        Ok(plan(true, Parallelism::of(&gpu.adapter.get_info()))?.runnable_on(gpu))
    }

    /// Runs one group of the check against the CPU reference compiled to wasm: its report
    /// is the one `check` prints a line (or a JSON object) of.
    pub async fn check_group(&self, plan: &Plan, index: usize) -> Result<GroupReport> {
        let gpu = self
            .gpu
            .clone()
            .ok_or_else(|| Error::Other("no WebGPU adapter".into()))?;
        let group = plan
            .groups
            .get(index)
            .ok_or_else(|| Error::Other(format!("no check group {index}")))?;
        let mut make = |forced| -> Box<dyn Backend> {
            Box::new(GpuBackend::with_variant(gpu.clone(), forced))
        };
        Ok(run_group(group, plan.device, &mut make).await)
    }

    /// Times `steps` training steps of the settings' model, dispatch by dispatch.
    pub async fn profile(&mut self, settings: &Settings, steps: usize) -> Result<ProfileReport> {
        let gpu = self.gpu.clone().ok_or_else(|| {
            Error::Other("no WebGPU adapter: profiling times GPU dispatches".into())
        })?;
        let data = self.training_data(settings)?;
        let config = settings.config_for(&data)?;
        let backend = Box::new(GpuBackend::new(gpu.clone()));
        let profile = wgsl_autoencoder::profile::profile(
            backend,
            &data,
            config.arch,
            config.batch,
            steps,
            None,
        )
        .await?;
        let quantum_ms = timestamp_quantum(profile.dispatches.iter().map(|d| d.median_ms));
        let images_per_second = config.batch as f64 / (profile.step_wall_ms / 1e3);
        Ok(ProfileReport {
            timing: timing_note(&gpu),
            quantum_ms,
            images_per_second,
            profile,
        })
    }
}

/// What `open_weights` found.
#[derive(Clone, Debug, Serialize)]
pub struct OpenedWeights {
    pub model: String,
    pub sizes: String,
    pub describe: String,
    pub epoch: usize,
    pub test_mse: f64,
    pub test_bce: Option<f64>,
}

/// A profile, with how its times were taken.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    pub timing: String,
    /// The step every dispatch time is a multiple of, where the browser quantises
    /// timestamps (Chrome rounds them unless asked not to); `None` where they look exact.
    pub quantum_ms: Option<f64>,
    pub images_per_second: f64,
    pub profile: wgsl_autoencoder::profile::Profile,
}

fn timing_note(gpu: &Gpu) -> String {
    match gpu.dispatch_timing() {
        Some(Placement::InsidePasses) => "inside passes".into(),
        Some(Placement::PassBoundaries) => {
            "pass boundaries (one compute pass per dispatch while profiling)".into()
        }
        None => "none: the adapter grants no timestamp-query".into(),
    }
}

fn adapter_info(gpu: &Gpu) -> AdapterInfo {
    let info = gpu.adapter.get_info();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    AdapterInfo {
        name: match info.name.is_empty() {
            true => "(the browser does not name its adapter)".into(),
            false => info.name.clone(),
        },
        backend: format!("{:?}", info.backend),
        timestamps: timing_note(gpu),
        max_buffer_mib: mib(gpu.limits.max_buffer_size),
        max_storage_binding_mib: mib(gpu.limits.max_storage_buffer_binding_size),
    }
}

fn latent_of(shot: Snapshot) -> Option<Latent> {
    let (projection, points) = pictures::plane(&shot.codes, shot.code_len)?;
    Some(Latent {
        projection,
        shot,
        points,
    })
}

/// The quantum the times are multiples of, if they all are of one at least 1 µs (the
/// smallest non-zero time, within a thousandth). Exact timestamps give times that are
/// not.
pub fn timestamp_quantum(times_ms: impl Iterator<Item = f64>) -> Option<f64> {
    let times: Vec<f64> = times_ms.filter(|t| *t > 0.0).collect();
    let smallest = times.iter().copied().fold(f64::INFINITY, f64::min);
    if times.len() < 2 || !smallest.is_finite() || smallest < 1e-3 {
        return None;
    }
    let multiples = times.iter().all(|t| {
        let k = t / smallest;
        (k - k.round()).abs() < 1e-3
    });
    multiples.then_some(smallest)
}
