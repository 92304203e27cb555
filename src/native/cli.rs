//! The command line: subcommands and their options (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::data::{Colour, Prepare};
use crate::ops::{Activation, LossKind, ScoreKind};

#[derive(Parser, Debug)]
#[command(
    name = "wgsl-autoencoder",
    version,
    about = "Train autoencoders on MNIST or your own data with hand-written WGSL compute shaders, checked against a CPU reference"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train an autoencoder on MNIST (or --data PATH) and write DIR/metrics.jsonl.
    Train(TrainArgs),
    /// List every adapter wgpu sees, with the features and limits that matter here.
    Info(InfoArgs),
    /// Time every kernel entry point and variant on the models' shapes, GPU beside CPU.
    Bench(BenchArgs),
    /// Join our `bench --json` rows with a peer's (torch_peer.py) and show the ratios.
    Compare(CompareArgs),
    /// Show where a training step's GPU time goes, dispatch by dispatch (or, with --plan,
    /// what each dispatch launches, without running it).
    Profile(ProfileArgs),
    /// Time every variant of each op shape of a model on this adapter and save the fastest,
    /// which train, profile and bench then run.
    Tune(TuneArgs),
    /// Check every kernel entry point and variant on this adapter against the CPU reference.
    Check(CheckArgs),
    /// Evaluate a saved model on the test set and draw its pictures, without training.
    Eval(EvalArgs),
    /// Draw the loss curves of one or more runs (ours or scripts/torch_train.py's) in one loss.png.
    Plot(PlotArgs),
    /// Show what --data finds (source, splits, shape, classes), read as training reads it;
    /// --export writes the prepared samples as NPY files.
    Data(DataCommandArgs),
    /// Score every sample by its reconstruction error (higher: more anomalous), flag those
    /// above a threshold, and with labels measure the detection (AUROC, precision, …).
    Score(ScoreArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ScoreArgs {
    /// A run's folder, or a checkpoint (model.safetensors) in one.
    pub path: PathBuf,
    /// The split scored.
    #[arg(long, value_enum, default_value_t = SplitArg::Test)]
    pub split: SplitArg,
    /// The labels that are normal (by class name); every other class is an anomaly
    /// [default: the classes the run trained on, with --classes].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        conflicts_with = "anomalous"
    )]
    pub normal: Option<Vec<String>>,
    /// The labels that are anomalies; every other class is normal.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub anomalous: Option<Vec<String>>,
    /// What a sample's score is: its reconstruction's mean squared error, its mean
    /// cross-entropy, or a VAE's negative ELBO.
    #[arg(long, value_enum, default_value_t = ScoreArg::Mse)]
    pub score: ScoreArg,
    /// Flag scores above this value [default: the 99th percentile of the training split's
    /// scores].
    #[arg(long, allow_negative_numbers = true, conflicts_with_all = ["threshold_percentile", "fpr"])]
    pub threshold: Option<f64>,
    /// Flag scores above this percentile (0 to 100) of the training split's scores: 100
    /// minus the contamination rate in percent, as PyOD sets its threshold.
    #[arg(
        long,
        value_name = "P",
        allow_negative_numbers = true,
        conflicts_with = "fpr"
    )]
    pub threshold_percentile: Option<f64>,
    /// Flag above the threshold that gives this false-positive rate (0 to 1) on the
    /// scored split's normal samples.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub fpr: Option<f64>,
    /// Folder for scores.csv and the pictures [default: the run's folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// One JSON object with everything, instead of lines for people.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = BackendKind::Gpu)]
    pub backend: BackendKind,
    /// The data to score, and how to read it [default: what the run trained on, read as
    /// it read it].
    #[command(flatten)]
    pub data: DataArgs,
}

/// `score --split`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    Test,
    Train,
}

/// `score --score`: the command line's names for `ops::ScoreKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScoreArg {
    Mse,
    Bce,
    Elbo,
}

impl From<ScoreArg> for ScoreKind {
    fn from(arg: ScoreArg) -> ScoreKind {
        match arg {
            ScoreArg::Mse => ScoreKind::Mse,
            ScoreArg::Bce => ScoreKind::Bce,
            ScoreArg::Elbo => ScoreKind::Elbo,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct DataCommandArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Also write the prepared splits into this new or empty folder: train_x.npy and
    /// test_x.npy (float32, one sample a row, as the model sees it), train_y.npy and
    /// test_y.npy (int64 labels) and data.json.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct InfoArgs {
    /// Also measure the chosen adapter's peaks (FMA rate, bandwidth), as `bench --peak`.
    #[arg(long)]
    pub peak: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TuneArgs {
    #[arg(long, value_enum, default_value_t = ModelKind::Dense)]
    pub model: ModelKind,
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub batch: usize,
    /// Both models at batch 128 and 1024, and the square products bench times.
    #[arg(long, conflicts_with_all = ["model", "batch", "data"])]
    pub all: bool,
    /// The data whose shape the model takes [default: the bundled MNIST].
    #[command(flatten)]
    pub data: DataArgs,
    /// Time shapes again that already have a saved choice.
    #[arg(long)]
    pub again: bool,
    /// Stop timing after this many seconds; shapes not reached keep the heuristic.
    #[arg(long, default_value_t = 60.0, allow_negative_numbers = true)]
    pub budget: f64,
    /// One JSON object per op shape instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// A spread of each entry point's table and the models at batch 3: seconds on a GPU.
    #[arg(long)]
    pub quick: bool,
    /// One JSON object per entry point and variant, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Only the entry points or variants whose name contains this text, e.g. `conv2d`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Also check the models' ops at this data's shape (their default sizes).
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A run's folder, or a checkpoint (model.safetensors) in one.
    pub path: PathBuf,
    /// Folder for the pictures [default: the run's folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendKind::Gpu)]
    pub backend: BackendKind,
    /// The data to evaluate on, and how to read it [default: what the run trained on,
    /// read as it read it].
    #[command(flatten)]
    pub data: DataArgs,
}

/// Where the data is and how to read it: the flags every command that loads data shares.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct DataArgs {
    /// A folder of IDX files (MNIST's format, any image size), a folder of images (PNG or
    /// JPEG; subfolders are classes, `train/` and `test/` the split), a .csv file or a
    /// .npy file, recognised by what it holds [default: the bundled MNIST, data/mnist].
    #[arg(long, visible_alias = "data-dir", value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Resize every image to HxW (height × width), e.g. 32x32.
    #[arg(long, value_name = "HxW", value_parser = parse_image_size)]
    pub image_size: Option<(usize, usize)>,
    /// Images as one grey channel (colour ones by luma) [default: the data's own].
    #[arg(long, conflicts_with = "rgb")]
    pub grey: bool,
    /// Images as three channels (grey ones repeated) [default: the data's own].
    #[arg(long)]
    pub rgb: bool,
    /// Rows of numbers scaled to mean 0, deviation 1 per column (then a linear output
    /// and the MSE), instead of min–max to [0, 1].
    #[arg(long)]
    pub standardize: bool,
    /// Where the data has no split of its own: the share of each class held out for
    /// testing [default: 0.1].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub test_fraction: Option<f64>,
    /// Seeds that split [default: 0].
    #[arg(long, value_name = "S")]
    pub split_seed: Option<u64>,
    /// A CSV file's column of labels (its header's name, or its number from 0); every
    /// other column is a feature.
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Train only on the training samples of these classes (by name, e.g. `0` or
    /// `cat,dog`): one-class training for anomaly detection. The test split stays whole.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        conflicts_with = "exclude_classes"
    )]
    pub classes: Option<Vec<String>>,
    /// Train on every class but these.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub exclude_classes: Option<Vec<String>>,
}

impl DataArgs {
    /// Whether any flag about reading the data was given (besides where it is).
    pub fn prepares(&self) -> bool {
        self.image_size.is_some()
            || self.grey
            || self.rgb
            || self.standardize
            || self.test_fraction.is_some()
            || self.split_seed.is_some()
            || self.label_column.is_some()
            || self.classes.is_some()
            || self.exclude_classes.is_some()
    }

    /// The preparation these flags ask for, over `base` (a run's own, or the default).
    pub fn prepare_over(&self, base: &Prepare) -> Prepare {
        let colour = match (self.grey, self.rgb) {
            (true, _) => Some(Colour::Grey),
            (_, true) => Some(Colour::Rgb),
            _ => base.colour,
        };
        Prepare {
            image_size: self.image_size.or(base.image_size),
            colour,
            standardize: self.standardize || base.standardize,
            test_fraction: self.test_fraction.or(base.test_fraction),
            split_seed: self.split_seed.unwrap_or(base.split_seed),
            label_column: self.label_column.clone().or(base.label_column.clone()),
            classes: self.classes.clone().or(base.classes.clone()),
            exclude_classes: self
                .exclude_classes
                .clone()
                .or(base.exclude_classes.clone()),
        }
    }
}

/// `--image-size HxW`.
fn parse_image_size(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{text:?}: give height x width in pixels, e.g. 32x32");
    let (h, w) = text.split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let (h, w): (usize, usize) = (
        h.trim().parse().map_err(|_| bad())?,
        w.trim().parse().map_err(|_| bad())?,
    );
    if h == 0 || w == 0 {
        return Err(format!("{text:?}: each side must be at least 1 pixel"));
    }
    Ok((h, w))
}

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// Run folders holding metrics.jsonl.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write the picture.
    #[arg(long, default_value = "loss.png")]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Small shapes and few repeats: for lavapipe, CI and smoke tests.
    #[arg(long)]
    pub quick: bool,
    /// Also time whole training epochs of both models at batch 64, 128, 256 and 1024.
    #[arg(long)]
    pub train: bool,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only the kernel rows whose `op[shape]` or variant contains each word of this text,
    /// e.g. `conv2d`, `[128,` or `matmul[1024, sgemm`.
    #[arg(long)]
    pub filter: Option<String>,
    /// The data --train trains on [default: the bundled MNIST].
    #[command(flatten)]
    pub data: DataArgs,
    /// Measure the card's peaks (fp32 FMA rate, copy and read bandwidth) and save them,
    /// instead of timing the kernels.
    #[arg(long)]
    pub peak: bool,
    /// Draw the kernels on the card's roofline into this PNG file (with --ladder: the
    /// rungs as bars, under the card's FMA peak).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Time every rung of a kernel family's ladder (one WGSL file per rung, in teaching
    /// order) at one representative shape: a 1024³ product, or the conv autoencoder's
    /// largest conv2d layer at batch 128 (--quick: 128³, batch 8).
    #[arg(long, value_name = "FAMILY", value_parser = ["matmul", "conv", "conv2d"])]
    pub ladder: Option<String>,
    /// Train (--train) with the heuristic's variants, not the ones `tune` saved.
    #[arg(long)]
    pub no_tune: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Our rows: the output of `bench --json`.
    pub ours: PathBuf,
    /// The peer's rows: the output of torch_peer.py.
    pub peer: PathBuf,
    /// Draw ours and the peer's time per op side by side into this PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    #[arg(long, value_enum, default_value_t = ModelKind::Dense)]
    pub model: ModelKind,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Training steps to time, any number (an epoch at batch 128 is 469).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, value_enum, default_value_t = BackendKind::Gpu)]
    pub backend: BackendKind,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The data whose shape (and sizes) the model takes [default: the bundled MNIST].
    #[command(flatten)]
    pub data: DataArgs,
    /// Draw each dispatch on the card's roofline into this PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Run the heuristic's variants, not the ones `tune` saved.
    #[arg(long)]
    pub no_tune: bool,
    /// List each dispatch of one step (entry point, variant, workgroups, invocations,
    /// workgroup memory, FLOPs, bytes) without timing anything.
    #[arg(long, conflicts_with_all = ["steps", "plot", "backend"])]
    pub plan: bool,
    /// With --plan: the plan a GPU of N compute units would run (the GPU heuristics; no
    /// adapter needed), e.g. 132 for an H100, 80 for an M-series Max.
    #[arg(long, requires = "plan", allow_negative_numbers = true)]
    pub compute_units: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    Dense,
    Conv,
    /// A dense variational autoencoder (`--layers`, the last width the latent size).
    Vae,
    /// A conv variational autoencoder (`--channels`, the conv channels then the latent
    /// size).
    ConvVae,
}

/// `--activation`: the hidden layers' activations the models offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HiddenActivation {
    Relu,
    Tanh,
}

impl From<HiddenActivation> for Activation {
    fn from(arg: HiddenActivation) -> Activation {
        match arg {
            HiddenActivation::Relu => Activation::Relu,
            HiddenActivation::Tanh => Activation::Tanh,
        }
    }
}

/// `--loss`: the command line's names for `ops::LossKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    /// Mean squared error, as `nn.MSELoss()`.
    Mse,
    /// Binary cross-entropy, as `nn.BCELoss()`.
    Bce,
}

impl From<LossArg> for LossKind {
    fn from(arg: LossArg) -> LossKind {
        match arg {
            LossArg::Mse => LossKind::Mse,
            LossArg::Bce => LossKind::Bce,
        }
    }
}

/// Saved by name (`gpu`, `cpu`) in a run's record, so that `--resume` keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// WGSL kernels on the adapter chosen by WGPU_BACKEND / WGPU_ADAPTER_NAME / WGPU_POWER_PREF.
    Gpu,
    /// The CPU reference kernels.
    Cpu,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value_t = ModelKind::Dense)]
    pub model: ModelKind,
    /// Dense encoder widths after the inputs (784 for MNIST); the last is the code layer (a VAE's
    /// latent size). The decoder mirrors them. Dense and VAE only [default: 100,200,30;
    /// a VAE's 400,20].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub layers: Option<Vec<usize>>,
    /// Conv encoder channels, each stage a 3×3 conv, ReLU and 2×2 max-pool; a conv VAE's
    /// end in its latent size. Conv and conv VAE only [default: 16,8; a conv VAE's 16,8,20].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub channels: Option<Vec<usize>>,
    /// Epochs in all; with --resume, the run's new total [default: 5, or the run's own].
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f32,
    /// [default: mse; bce for a VAE, whose loss is the negative ELBO]
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// The weight β of a VAE's KL term: loss = BCE summed over pixels + β·KL, per image.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub beta: f32,
    /// A sparse autoencoder: adds LAMBDA·Σ|code| per image to the loss, an L1 penalty on
    /// the code layer's activations (Keras' activity_regularizer).
    #[arg(
        long,
        value_name = "LAMBDA",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub l1: f32,
    /// Seeds initialisation, shuffling and noise.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// A denoising autoencoder: the model sees corrupted images, `gaussian:STD` (noise
    /// added, clamped to `[0,1]`) or `mask:P` (a fraction P of pixels zeroed), and learns
    /// to give back the clean ones.
    #[arg(long)]
    pub noise: Option<String>,
    /// The activation between hidden layers (the output is a Sigmoid, or linear for
    /// --standardize).
    #[arg(long, value_enum, default_value_t = HiddenActivation::Relu)]
    pub activation: HiddenActivation,
    /// Training steps between logged points of the loss (`interval_loss` in
    /// metrics.jsonl); by default about eight an epoch, at most 64 steps apart.
    #[arg(long, allow_negative_numbers = true)]
    pub log_every: Option<usize>,
    /// Continue the run in DIR where its last checkpoint left it, with its own flags;
    /// --epochs gives the run's new total.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "model", "layers", "channels", "batch", "lr", "loss", "seed", "limit", "noise",
        "activation", "log_every", "out", "init_from", "no_tune", "beta", "l1",
        "data", "image_size", "grey", "rgb", "standardize", "test_fraction", "split_seed",
        "label_column", "classes", "exclude_classes",
    ])]
    pub resume: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// The data [default: the bundled MNIST; with --resume, the run's own].
    #[command(flatten)]
    pub data: DataArgs,
    /// Where the kernels run [default: gpu; with --resume, the run's own].
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Output folder for metrics.jsonl, the checkpoints and the pictures; a new or empty
    /// one (by default `runs/<model>-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start from the weights of a checkpoint saved by an earlier run of the same architecture.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Run the heuristic's variants: neither tune on a new adapter nor use what `tune` saved.
    #[arg(long)]
    pub no_tune: bool,
}
