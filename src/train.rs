//! The training loop: epochs of shuffled mini-batches on any backend, test-set evaluation
//! after each epoch, and metrics written as JSON lines.

use web_time::Instant;

use crate::backend::{Backend, MemoryLimits};
use crate::data::{Data, Scaling, Values};
use crate::error::{Error, Result};
use crate::model::graph::{ADAM_M, ADAM_V, PARAMS};
use crate::model::{Arch, DataSizes, Fusion, Graph, GraphSpec};
use crate::ops::noise::{counter_key, EVAL_STREAM};
use crate::ops::{AdamConfig, BufId, LossKind, NoiseKind, Op, ScoreKind, StepParams, View};
use crate::rng::TorchRng;

/// What a training run is: the model, the optimiser and the data order. Saved with every
/// checkpoint as JSON (field by field, the architecture, loss and noise by name), so that
/// resuming and evaluating need none of the flags again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub arch: Arch,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub loss: LossKind,
    pub seed: u64,
    /// Corrupts what the model sees (a denoising autoencoder); losses stay against the
    /// clean images.
    pub noise: Option<NoiseKind>,
    /// Training steps per logged point of the loss (`None`: about eight points an epoch,
    /// from the data's size; see `default_log_every`). A run saves the value it used.
    #[serde(default)]
    pub log_every: Option<usize>,
    /// The weight β of a VAE's KL term (`--beta`, 1 by default).
    #[serde(default = "default_beta")]
    pub beta: f32,
    /// The L1 penalty's weight λ on the code's activations (`--l1`; 0: none), as Keras'
    /// `activity_regularizer`: λ·Σ|code| per image joins the loss.
    #[serde(default)]
    pub l1: f32,
}

fn default_beta() -> f32 {
    1.0
}

/// The most epochs a run may ask for: far beyond any real run, and small enough that
/// counting steps never overflows.
pub const MAX_EPOCHS: usize = 1_000_000;

impl TrainConfig {
    /// `arch` trained as the command line trains it by default: 5 epochs, batch 128, Adam
    /// at 1e-3, MSE (a VAE: BCE, its negative ELBO's), seed 0, no noise.
    pub fn new(arch: Arch) -> TrainConfig {
        let loss = match arch.is_variational() {
            true => LossKind::Bce,
            false => LossKind::Mse,
        };
        TrainConfig {
            arch,
            epochs: 5,
            batch: 128,
            lr: 1e-3,
            loss,
            seed: 0,
            noise: None,
            log_every: None,
            beta: 1.0,
            l1: 0.0,
        }
    }

    /// The first value out of range, as (field, what is wrong with it).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(why) = self.arch.problem() {
            return Some(("arch", why));
        }
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Some((
                "epochs",
                format!("{}: must be 1 to {MAX_EPOCHS}", self.epochs),
            ));
        }
        if self.batch == 0 {
            return Some(("batch", "must be at least 1".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Some(("lr", format!("{}: must be a positive number", self.lr)));
        }
        if self.log_every == Some(0) {
            return Some(("log_every", "must be at least 1 step".into()));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Some(("beta", format!("{}: must be a number ≥ 0", self.beta)));
        }
        if !(self.l1.is_finite() && self.l1 >= 0.0) {
            return Some(("l1", format!("{}: must be a number ≥ 0", self.l1)));
        }
        if self.arch.output == crate::ops::Activation::Identity && self.loss != LossKind::Mse {
            return Some((
                "loss",
                format!(
                    "{}: a linear output (standardised rows) is trained on the MSE; the BCE needs values in [0, 1]",
                    self.loss.name()
                ),
            ));
        }
        if self.arch.is_variational() && self.loss != LossKind::Bce {
            return Some((
                "loss",
                format!(
                    "{}: a variational model's loss is the negative ELBO, whose reconstruction term is the BCE summed over pixels; use --loss bce",
                    self.loss.name()
                ),
            ));
        }
        None
    }

    /// Checks the values as flags: an error names the flag to change.
    pub fn validate(&self) -> Result<()> {
        self.arch.validate()?;
        match self.problem() {
            Some((field, why)) => Err(Error::flag(&format!("--{}", field.replace('_', "-")), why)),
            None => Ok(()),
        }
    }
}

/// Why a model cannot give a score of this kind, in words naming what would work.
pub fn score_problem(kind: ScoreKind, arch: &Arch) -> String {
    match kind {
        ScoreKind::Elbo if !arch.is_variational() => format!(
            "elbo: the negative ELBO is a VAE's score, and this is a {} model; use mse or bce",
            arch.name()
        ),
        _ if arch.output != crate::ops::Activation::Sigmoid => format!(
            "{}: a linear output (standardised rows) is scored by its squared error; use mse",
            kind.name()
        ),
        _ => format!("{}: not a score this model gives", kind.name()),
    }
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean training loss over the epoch's images (the `--loss` in use).
    pub train_loss: f64,
    pub test_mse: f64,
    /// Absent for a linear output (standardised rows), whose values are not in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_bce: Option<f64>,
    /// Wall time of the epoch's training steps (evaluation not included).
    pub seconds: f64,
    pub images_per_second: f64,
    pub eval_seconds: f64,
    /// (epochs done, as a fraction, mean training loss since the last point) at each
    /// logging interval within the epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval_loss: Vec<[f64; 2]>,
    /// A VAE's test loss, the negative ELBO per image in nats (one ε per test image), and
    /// its two terms: the BCE summed over pixels and the KL term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_recon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_kl: Option<f64>,
    /// A one-class run's (`--classes`): the AUROC of its test samples' squared errors at
    /// telling the other classes from the trained ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_auroc: Option<f64>,
    /// A one-class run's: percentiles (50, 90, 95, 99) of its training samples' squared
    /// errors, where a threshold for its anomalies would lie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_score_percentiles: Option<std::collections::BTreeMap<String, f64>>,
    /// The test set's codes (a VAE's μ): their mean absolute value, and the fraction of
    /// them below `NEAR_ZERO` in magnitude (how sparse the code is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_near_zero: Option<f64>,
}

/// A code whose magnitude is below this counts as near zero in `code_near_zero`.
pub const NEAR_ZERO: f32 = 1e-3;

/// Running sums over the test set's codes: Σ|c|, the count near zero, the count.
#[derive(Clone, Copy, Debug, Default)]
struct CodeStats {
    magnitude: f64,
    near_zero: usize,
    count: usize,
}

impl CodeStats {
    fn add(&mut self, codes: &[f32]) {
        self.magnitude += codes.iter().map(|c| c.abs() as f64).sum::<f64>();
        self.near_zero += codes.iter().filter(|c| c.abs() < NEAR_ZERO).count();
        self.count += codes.len();
    }

    /// (mean |code|, fraction near zero).
    fn means(&self) -> (f64, f64) {
        let n = self.count.max(1) as f64;
        (self.magnitude / n, self.near_zero as f64 / n)
    }
}

/// No loss this program computes goes above this: MSE stays within 1, and BCE's logs are
/// clamped at -100, as PyTorch's are.
const MAX_LOSS: f64 = 100.0;

impl EpochMetrics {
    /// Why these cannot be the metrics of the `epoch`-th line of a run, naming the field:
    /// an epoch out of order, a loss outside [0, 100], a time or rate that is negative or
    /// not finite, an interval point outside its epoch.
    pub fn check(&self, epoch: usize) -> std::result::Result<(), String> {
        if self.epoch != epoch {
            return Err(format!("epoch {} where epoch {epoch} was due", self.epoch));
        }
        let shown = crate::report::as_read;
        let loss = |name: &str, v: f64| match (0.0..=MAX_LOSS).contains(&v) {
            true => Ok(()),
            false => Err(format!(
                "{name} {} is not a loss (0 to {MAX_LOSS})",
                shown(v)
            )),
        };
        let time = |name: &str, v: f64| match v.is_finite() && v >= 0.0 {
            true => Ok(()),
            false => Err(format!(
                "{name} {} is not a time or rate (finite, at least 0)",
                shown(v)
            )),
        };
        // Per-image sums (a VAE's negative ELBO, with an L1 penalty) are not bounded by
        // the per-pixel losses' 100: any finite value at least 0.
        let nats = |name: &str, v: f64| match v.is_finite() && v >= 0.0 {
            true => Ok(()),
            false => Err(format!(
                "{name} {} is not a loss (finite, at least 0)",
                shown(v)
            )),
        };
        nats("train_loss", self.train_loss)?;
        for (name, v) in [
            ("test_loss", self.test_loss),
            ("test_recon", self.test_recon),
            ("test_kl", self.test_kl),
            ("code_mean", self.code_mean),
        ] {
            if let Some(v) = v {
                nats(name, v)?;
            }
        }
        if let Some(v) = self.test_auroc {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("test_auroc {} is not an AUROC (0 to 1)", shown(v)));
            }
        }
        for (name, &v) in self.train_score_percentiles.iter().flatten() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "train_score_percentiles {name} {} is not a score (finite, at least 0)",
                    shown(v)
                ));
            }
        }
        if let Some(v) = self.code_near_zero {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("code_near_zero {} is not a fraction", shown(v)));
            }
        }
        // Standardised rows have no bound on their MSE.
        nats("test_mse", self.test_mse)?;
        if let Some(bce) = self.test_bce {
            loss("test_bce", bce)?;
        }
        time("seconds", self.seconds)?;
        time("images_per_second", self.images_per_second)?;
        time("eval_seconds", self.eval_seconds)?;
        let within = (epoch - 1) as f64..=epoch as f64;
        for &[at, value] in &self.interval_loss {
            if !within.contains(&at) {
                return Err(format!(
                    "interval_loss point at {} lies outside epoch {epoch}",
                    shown(at)
                ));
            }
            nats("interval_loss", value)?;
        }
        Ok(())
    }
}

/// Where a running epoch is, for progress bars.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// Training: images done of the total, and the mean loss so far.
    Train {
        done: usize,
        total: usize,
        loss: f64,
    },
    /// Evaluation: test images done of the total.
    Eval { done: usize, total: usize },
}

/// What one call of `Trainer::advance` did.
#[derive(Clone, Debug)]
pub enum Advance {
    /// Some training steps or one evaluation batch ran.
    Progress(Progress),
    /// The epoch's evaluation finished: its metrics.
    EpochDone(EpochMetrics),
}

/// The programs a trainer compiles once and runs every epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    Train,
    Eval,
    Decode,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Train => "train",
            Program::Eval => "eval",
            Program::Decode => "decode",
        }
    }

    fn ops(self, graph: &Graph) -> &[Op] {
        match self {
            Program::Train => &graph.train,
            Program::Eval => &graph.eval,
            Program::Decode => &graph.decode,
        }
    }

    /// The batch the program was built for.
    fn rows(self, graph: &Graph) -> usize {
        match self {
            Program::Train => graph.rows,
            Program::Eval => graph.eval_rows,
            Program::Decode => graph.decode_rows,
        }
    }
}

/// Everything that continuing a run needs, as saved in its checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    pub params: Vec<f32>,
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
    /// Adam steps taken, for its bias corrections.
    pub adam_step: u64,
    /// Epochs completed.
    pub epoch: usize,
    /// The PyTorch-compatible generator's state (`TorchRng::to_words`).
    pub rng: Vec<u32>,
}

/// What evaluation saw, for the pictures: every test image's code, and the first batch's
/// clean images, the corrupted ones the model saw (with noise), and its reconstructions.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub codes: Vec<f32>,
    pub code_len: usize,
    /// Each test sample's label (0 for every one where the data has none).
    pub labels: Vec<u32>,
    pub clean: Vec<f32>,
    pub noisy: Option<Vec<f32>>,
    pub rebuilt: Vec<f32>,
    /// Every test sample's mean squared error, in order (evaluation scores them in the
    /// same pass).
    pub scores: Vec<f32>,
}

/// Logged points of the training loss per epoch, when the run does not fix its own
/// interval (`TrainConfig::log_every`).
const LOG_POINTS_PER_EPOCH: usize = 8;
/// The longest logged interval: one submission's worth of steps, so that logging never
/// makes a fast device wait on the host more often than submitting does.
const MAX_LOG_STEPS: usize = crate::gpu::backend::MAX_STEPS_PER_SUBMIT;
/// How long one `advance` aims to take by default. Progress is seen between advances, and
/// a browser's page answers input between them.
const ADVANCE_SECONDS: f64 = 0.5;

/// Steps per logged interval for a run of `steps_per_epoch` steps: about
/// `LOG_POINTS_PER_EPOCH` points an epoch, at most `MAX_LOG_STEPS` steps apart. A function
/// of the run's flags and data alone, so that two runs log the same numbers.
pub fn default_log_every(steps_per_epoch: usize) -> usize {
    steps_per_epoch
        .div_ceil(LOG_POINTS_PER_EPOCH)
        .clamp(1, MAX_LOG_STEPS)
}

/// An epoch being trained.
struct EpochRun {
    epoch: usize,
    /// Training steps and images done.
    steps: usize,
    images: usize,
    /// The loss total at the last logged boundary, and its images.
    logged: (usize, f64),
    /// The loss total as last read.
    sum: f64,
    interval_loss: Vec<[f64; 2]>,
    /// Seconds spent training, over every `advance` of the epoch (not the pauses between).
    seconds: f64,
}

/// The test set being evaluated, after an epoch (`trained`) or on its own.
struct EvalRun {
    trained: Option<EpochRun>,
    done: usize,
    seconds: f64,
    snapshot: Option<Snapshot>,
    codes: CodeStats,
}

/// An evaluation's figures: MSE and BCE per value (no BCE for a linear output), a VAE's
/// KL per sample, and the codes'.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    pub mse: f64,
    pub bce: Option<f64>,
    /// Numbers per sample, which a VAE's per-sample terms sum over.
    pub elements: usize,
    pub kl: Option<f64>,
    /// Mean |code| and the fraction near zero.
    pub code_mean: f64,
    pub code_near_zero: f64,
}

impl Evaluation {
    /// A VAE's (negative ELBO, reconstruction, KL) per image, in nats, at this β.
    pub fn elbo(&self, beta: f32) -> Option<(f64, f64, f64)> {
        let kl = self.kl?;
        let recon = self.bce? * self.elements as f64;
        Some((recon + beta as f64 * kl, recon, kl))
    }
}

/// What the trainer is in the middle of.
enum Phase {
    /// Between epochs: the next `advance` starts one.
    Idle,
    Training(EpochRun),
    Evaluating(EvalRun),
}

/// A model resident on a backend with its data, ready to train. The caller keeps it and
/// drives it: `advance` does a bounded piece of work (some training steps, or one batch
/// of evaluation) and says where the epoch is, so that a terminal shows progress and a
/// browser's event loop can run, pause and draw between calls. `epoch` runs a whole
/// epoch of them.
pub struct Trainer {
    backend: Box<dyn Backend>,
    config: TrainConfig,
    full: Graph,
    train_images: usize,
    test_images: usize,
    test_labels: Vec<u32>,
    /// The data's scaling (rows), saved with the model.
    scaling: Option<Scaling>,
    /// Draws the initial weights, then each epoch's shuffle, as one PyTorch stream.
    rng: TorchRng,
    /// Adam steps taken.
    step: u64,
    /// Epochs completed.
    epoch: usize,
    /// Steps per logged interval, fixed for the run.
    log_every: usize,
    /// Steps the next `advance` runs (at most to the next logged boundary), adapted to
    /// `advance_seconds` from the pace so far. It decides only how often progress is seen:
    /// what is logged does not depend on it.
    chunk: usize,
    advance_seconds: f64,
    phase: Phase,
    collect: bool,
    snapshot: Option<Snapshot>,
    /// The scoring programs compiled so far.
    scoring: Vec<ScoreKind>,
}

impl Trainer {
    pub async fn new(backend: Box<dyn Backend>, config: TrainConfig, data: &Data) -> Result<Self> {
        Self::with_fusion(backend, config, data, Fusion::default()).await
    }

    /// A trainer of the fused or the unfused graph (see `model::Fusion`).
    pub async fn with_fusion(
        mut backend: Box<dyn Backend>,
        config: TrainConfig,
        data: &Data,
        fusion: Fusion,
    ) -> Result<Self> {
        if config.arch.input != data.shape {
            return Err(Error::Other(format!(
                "the model takes samples of {}, but the data holds {}",
                config.arch.input.describe(),
                data.shape.describe()
            )));
        }
        let storage = data.train.values.storage();
        if data.test.values.storage() != storage {
            return Err(Error::Other(
                "the training and test samples are held differently (bytes and floats)".into(),
            ));
        }
        let sizes = DataSizes {
            train_images: data.train.len(),
            test_images: data.test.len(),
            storage,
        };
        let full = Trainer::graph_for(&config, sizes, &backend.memory_limits(), fusion)?;

        backend.alloc(&full.buffers).await?;
        for program in [Program::Train, Program::Eval, Program::Decode] {
            backend.compile(program.name(), program.ops(&full)).await?;
        }
        let s = full.slots;
        backend.write(s.train_data, 0, &data.train.values.device_words())?;
        backend.write(s.test_data, 0, &data.test.values.device_words())?;
        let test_order: Vec<u32> = (0..sizes.test_images as u32).collect();
        backend.write(s.test_perm, 0, &test_order)?;
        let mut rng = TorchRng::new(config.seed);
        backend.write_f32(PARAMS, 0, &full.init_params(&mut rng))?;
        let steps_per_epoch = sizes.train_images.div_ceil(config.batch);
        let log_every = config
            .log_every
            .unwrap_or_else(|| default_log_every(steps_per_epoch));
        Ok(Trainer {
            backend,
            rng,
            config,
            full,
            train_images: sizes.train_images,
            test_images: sizes.test_images,
            test_labels: data.test.labels_or_zero(),
            scaling: data.scaling.clone(),
            step: 0,
            epoch: 0,
            log_every,
            chunk: 1,
            advance_seconds: ADVANCE_SECONDS,
            phase: Phase::Idle,
            collect: false,
            snapshot: None,
            scoring: Vec::new(),
        })
    }

    /// The graph a trainer of `config` builds for data of these sizes on a backend of
    /// these limits (its evaluation batch fitted to them), without a backend: what per-card
    /// tuning times before the trainer compiles it.
    pub fn graph_for(
        config: &TrainConfig,
        sizes: DataSizes,
        limits: &MemoryLimits,
        fusion: Fusion,
    ) -> Result<Graph> {
        config.validate()?;
        if sizes.train_images == 0 || sizes.test_images == 0 {
            return Err(Error::Other(
                "training needs at least one training and one test image".into(),
            ));
        }
        let spec = GraphSpec {
            noise: config.noise,
            fusion,
            beta: config.beta,
            l1: config.l1,
            ..GraphSpec::new(
                &config.arch,
                config.batch,
                config.loss,
                AdamConfig::new(config.lr),
                sizes,
            )
        };
        // The dataset is held on the host as well as in the backend's buffers: a byte a
        // pixel, or four a float.
        let values =
            (sizes.train_images + sizes.test_images) as u64 * config.arch.input.elements() as u64;
        let host = values.saturating_mul(sizes.storage.bytes_per_value() as u64);
        let spec = crate::sizing::plan(spec, limits, host)?;
        Graph::build_with(&spec)
    }

    pub fn graph(&self) -> &Graph {
        &self.full
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The scaling the data's rows were given, which a checkpoint saves with the model.
    pub fn scaling(&self) -> Option<&Scaling> {
        self.scaling.as_ref()
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// Training steps per logged point of the loss, fixed for the run.
    pub fn log_every(&self) -> usize {
        self.log_every
    }

    /// How long one `advance` should take, about: shorter for a page that must stay
    /// responsive, longer for fewer waits on the device. Never changes what is logged.
    pub fn set_advance_seconds(&mut self, seconds: f64) {
        self.advance_seconds = seconds.max(0.0);
    }

    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }

    fn whole(&self, buf: BufId) -> View {
        View::whole(buf, self.full.buffers[buf].len)
    }

    /// The current parameters, as one flat buffer laid out by `graph().params`.
    pub async fn params(&mut self) -> Result<Vec<f32>> {
        self.backend.read_f32(self.whole(PARAMS)).await
    }

    /// Replaces the parameters (for example from a checkpoint); Adam's moments restart.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.full.param_len() {
            return Err(Error::Other(format!(
                "{} parameters given, the model has {}",
                flat.len(),
                self.full.param_len()
            )));
        }
        self.backend.write_f32(PARAMS, 0, flat)
    }

    /// Refuses what only makes sense between epochs.
    fn require_idle(&self, what: &str) -> Result<()> {
        match self.phase {
            Phase::Idle => Ok(()),
            _ => Err(Error::Other(format!(
                "{what} needs the trainer between epochs, not in the middle of one"
            ))),
        }
    }

    /// Everything continuing this run needs: parameters, Adam's state, epoch, generator.
    pub async fn state(&mut self) -> Result<TrainState> {
        self.require_idle("saving the training state")?;
        Ok(TrainState {
            params: self.backend.read_f32(self.whole(PARAMS)).await?,
            adam_m: self.backend.read_f32(self.whole(ADAM_M)).await?,
            adam_v: self.backend.read_f32(self.whole(ADAM_V)).await?,
            adam_step: self.step,
            epoch: self.epoch,
            rng: self.rng.to_words(),
        })
    }

    /// Puts the trainer where `state` was saved, so that the next epoch is the one an
    /// uninterrupted run would have trained.
    pub fn restore(&mut self, state: &TrainState) -> Result<()> {
        self.require_idle("restoring a training state")?;
        let len = self.full.param_len();
        for (name, v) in [
            ("parameters", &state.params),
            ("Adam's first moments", &state.adam_m),
            ("Adam's second moments", &state.adam_v),
        ] {
            if v.len() != len {
                return Err(Error::Other(format!(
                    "{} {name} saved, the model has {len}",
                    v.len()
                )));
            }
        }
        self.rng = TorchRng::from_words(&state.rng)
            .ok_or_else(|| Error::Other("the saved generator state is not one".into()))?;
        self.backend.write_f32(PARAMS, 0, &state.params)?;
        self.backend.write_f32(ADAM_M, 0, &state.adam_m)?;
        self.backend.write_f32(ADAM_V, 0, &state.adam_v)?;
        self.step = state.adam_step;
        self.epoch = state.epoch;
        Ok(())
    }

    /// Steps for `count` images in batches of `batch`: the batch start, length and Adam's
    /// bias corrections for each. `count` must be a multiple of the batch or smaller.
    fn steps(&mut self, batch: usize, start: usize, count: usize, adam: bool) -> Vec<StepParams> {
        let config = AdamConfig::new(self.config.lr);
        let batch = batch.min(count.max(1));
        (0..count / batch)
            .map(|i| {
                let (bc1, bc2) = if adam {
                    self.step += 1;
                    config.bias_corrections(self.step)
                } else {
                    (1.0, 1.0)
                };
                StepParams {
                    batch_start: (start + i * batch) as u32,
                    batch_len: batch as u32,
                    bias_correction1: bc1,
                    bias_correction2: bc2,
                }
            })
            .collect()
    }

    /// Runs `program` over images `start..start + count` in its own batches (the last
    /// one partial if need be, the same compiled program for fewer rows).
    async fn run_range(&mut self, program: Program, start: usize, count: usize) -> Result<()> {
        let batch = program.rows(&self.full);
        let full_count = count / batch * batch;
        let training = program == Program::Train;
        for (from, len) in [
            (start, full_count),
            (start + full_count, count - full_count),
        ] {
            if len == 0 {
                continue;
            }
            let steps = self.steps(batch, from, len, training);
            self.backend
                .run(program.name(), Some(len.min(batch)), &steps)
                .await?;
        }
        Ok(())
    }

    /// Runs `count` full training steps on a fresh shuffle, outside any epoch: what
    /// `profile` times. Needs `count` full batches of training images.
    pub async fn train_steps(&mut self, count: usize) -> Result<()> {
        self.require_idle("timing training steps")?;
        let batch = self.config.batch;
        let images = count.checked_mul(batch).filter(|&n| n <= self.train_images);
        let Some(images) = images else {
            return Err(Error::Other(format!(
                "{count} steps of {batch} images need more than the {} training images there are",
                self.train_images
            )));
        };
        let order = self.rng.randperm(self.train_images);
        self.backend.write(self.full.slots.train_perm, 0, &order)?;
        self.write_key(self.epoch as u32)?;
        let steps = self.steps(batch, 0, images, true);
        self.backend
            .run(Program::Train.name(), Some(batch), &steps)
            .await
    }

    /// Running totals, one for each buffer that is there, each the sum of its buffer's
    /// values (one, or one per workgroup of a kernel that keeps its own), added in f64.
    /// Every read back waits for the device (a map; in a browser, a turn of the event
    /// loop), so they are read together: one wait per advance, not one per total.
    async fn read_totals<const N: usize>(
        &mut self,
        bufs: [Option<BufId>; N],
    ) -> Result<[Option<f64>; N]> {
        let views: Vec<View> = bufs.iter().flatten().map(|&buf| self.whole(buf)).collect();
        let mut read = self.backend.read_views(&views).await?.into_iter();
        let mut totals = [None; N];
        for (total, _) in totals
            .iter_mut()
            .zip(&bufs)
            .filter(|(_, buf)| buf.is_some())
        {
            let words = read.next().unwrap_or_default();
            let values: &[f32] = bytemuck::cast_slice(&words);
            if values.is_empty() {
                return Err(Error::Other("a scalar buffer is empty".into()));
            }
            *total = Some(values.iter().map(|&v| v as f64).sum::<f64>());
        }
        Ok(totals)
    }

    fn zero(&mut self, buf: usize) -> Result<()> {
        let len = self.full.buffers[buf].len;
        self.backend.write_f32(buf, 0, &vec![0.0; len])
    }

    /// The sum of what the training loss adds up, since the epoch began: the loss's
    /// totals, β times the KL's, λ times the code's Σ|a|.
    async fn read_train_sum(&mut self) -> Result<f64> {
        let s = self.full.slots;
        let [loss, kl, l1] = self
            .read_totals([Some(s.loss_total), s.kl_total, s.l1_total])
            .await?;
        let mut sum = loss.unwrap_or_default();
        if let Some(kl) = kl {
            sum += self.config.beta as f64 * kl;
        }
        if let Some(l1) = l1 {
            sum += self.config.l1 as f64 * l1;
        }
        Ok(sum)
    }

    /// The counter generator's key: the seed, and the stream (the epoch, or the test set's).
    fn write_key(&mut self, stream: u32) -> Result<()> {
        if let Some(key) = self.full.slots.key {
            let words = counter_key(self.config.seed, stream);
            self.backend.write(key, 0, &words)?;
        }
        Ok(())
    }

    /// One epoch of training, then evaluation on the whole test set.
    pub async fn epoch(&mut self) -> Result<EpochMetrics> {
        self.epoch_with(&mut |_| {}).await
    }

    /// The rest of the current epoch (or a new one), reporting progress after every
    /// `advance`.
    pub async fn epoch_with(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochMetrics> {
        loop {
            match self.advance().await? {
                Advance::Progress(p) => progress(p),
                Advance::EpochDone(m) => return Ok(m),
            }
        }
    }

    /// Does the next bounded piece of work: starts an epoch, runs training steps (up to
    /// the next logged boundary, about `set_advance_seconds` of them), or evaluates one
    /// batch of the test set; the last evaluation batch ends the epoch. The loss total is
    /// read at every advance, and a loss that is no longer finite stops the run there,
    /// before anything of the epoch is saved.
    pub async fn advance(&mut self) -> Result<Advance> {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {
                let run = self.begin_epoch()?;
                self.train_chunk(run).await
            }
            Phase::Training(run) => self.train_chunk(run).await,
            Phase::Evaluating(eval) => self.eval_chunk(eval).await,
        }
    }

    /// Draws the epoch's shuffle and clears its loss total.
    fn begin_epoch(&mut self) -> Result<EpochRun> {
        let epoch = self.epoch + 1;
        let order = self.rng.randperm(self.train_images);
        self.backend.write(self.full.slots.train_perm, 0, &order)?;
        let s = self.full.slots;
        for total in [Some(s.loss_total), s.kl_total, s.l1_total]
            .into_iter()
            .flatten()
        {
            self.zero(total)?;
        }
        self.write_key(epoch as u32)?;
        Ok(EpochRun {
            epoch,
            steps: 0,
            images: 0,
            logged: (0, 0.0),
            sum: 0.0,
            interval_loss: Vec::new(),
            seconds: 0.0,
        })
    }

    async fn train_chunk(&mut self, mut run: EpochRun) -> Result<Advance> {
        let (batch, total) = (self.config.batch, self.train_images);
        let to_boundary = self.log_every - run.steps % self.log_every;
        let steps = self.chunk.clamp(1, to_boundary);
        let count = (steps * batch).min(total - run.images);
        let started = Instant::now();
        self.run_range(Program::Train, run.images, count).await?;
        // Reading the total waits for the device, so the time covers all the work.
        run.sum = self.read_train_sum().await?;
        let seconds = started.elapsed().as_secs_f64();
        run.seconds += seconds;
        run.images += count;
        run.steps += steps;
        if !run.sum.is_finite() {
            return Err(Error::Diverged {
                value: run.sum,
                epoch: run.epoch,
                step: self.step,
                lr: self.config.lr,
            });
        }
        let finished = run.images == total;
        if finished || run.steps.is_multiple_of(self.log_every) {
            let since = (run.sum - run.logged.1) / (run.images - run.logged.0) as f64;
            let at = (run.epoch - 1) as f64 + run.images as f64 / total as f64;
            run.interval_loss.push([at, since]);
            run.logged = (run.images, run.sum);
        }
        // Aim the next advance at `advance_seconds` from this one's pace.
        let per_step = seconds / steps as f64;
        self.chunk = ((self.advance_seconds / per_step.max(1e-9)) as usize).clamp(1, MAX_LOG_STEPS);
        let progress = Progress::Train {
            done: run.images,
            total,
            loss: run.sum / run.images as f64,
        };
        self.phase = match finished {
            true => Phase::Evaluating(self.begin_eval(Some(run))?),
            false => Phase::Training(run),
        };
        Ok(Advance::Progress(progress))
    }

    /// Clears the evaluation totals and, when pictures are wanted, starts a snapshot.
    fn begin_eval(&mut self, trained: Option<EpochRun>) -> Result<EvalRun> {
        let s = self.full.slots;
        self.backend.write_f32(s.eval_mse_total, 0, &[0.0])?;
        if let Some(bce) = s.eval_bce_total {
            self.backend.write_f32(bce, 0, &[0.0])?;
        }
        if let Some(kl) = s.eval_kl_total {
            self.zero(kl)?;
        }
        self.write_key(EVAL_STREAM)?;
        let code_len = self.full.code_len;
        let snapshot = self.collect.then(|| Snapshot {
            codes: Vec::with_capacity(self.test_images * code_len),
            code_len,
            labels: self.test_labels.clone(),
            clean: Vec::new(),
            noisy: None,
            rebuilt: Vec::new(),
            scores: Vec::with_capacity(self.test_images),
        });
        Ok(EvalRun {
            trained,
            done: 0,
            seconds: 0.0,
            snapshot,
            codes: CodeStats::default(),
        })
    }

    /// Evaluates the next batch of the test set; after the last, the epoch's metrics.
    async fn eval_chunk(&mut self, mut eval: EvalRun) -> Result<Advance> {
        let total = self.test_images;
        let Some(e) = self.eval_batch(&mut eval).await? else {
            let done = eval.done;
            self.phase = Phase::Evaluating(eval);
            return Ok(Advance::Progress(Progress::Eval { done, total }));
        };
        let Some(run) = eval.trained else {
            return Err(Error::Other("an evaluation without its epoch".into()));
        };
        let elbo = e.elbo(self.config.beta);
        // Weights can grow past what the forward pass can hold while the training loss
        // still read finite: the test loss is guarded too.
        let guarded = [e.mse, e.bce.unwrap_or(0.0), e.kl.unwrap_or(0.0)];
        if let Some(value) = guarded.into_iter().find(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                value,
                epoch: run.epoch,
                step: self.step,
                lr: self.config.lr,
            });
        }
        self.epoch = run.epoch;
        Ok(Advance::EpochDone(EpochMetrics {
            epoch: run.epoch,
            train_loss: run.sum / self.train_images as f64,
            test_mse: e.mse,
            test_bce: e.bce,
            seconds: run.seconds,
            images_per_second: self.train_images as f64 / run.seconds,
            eval_seconds: eval.seconds,
            interval_loss: run.interval_loss,
            test_loss: elbo.map(|t| t.0),
            test_recon: elbo.map(|t| t.1),
            test_kl: elbo.map(|t| t.2),
            code_mean: Some(e.code_mean),
            code_near_zero: Some(e.code_near_zero),
            test_auroc: None,
            train_score_percentiles: None,
        }))
    }

    /// Runs the next evaluation batch, keeping what the pictures need and the codes'
    /// statistics; after the last, the test set's figures, against the clean images.
    async fn eval_batch(&mut self, eval: &mut EvalRun) -> Result<Option<Evaluation>> {
        let s = self.full.slots;
        let (rows, total, code_len) = (self.full.eval_rows, self.test_images, self.full.code_len);
        let started = Instant::now();
        let count = rows.min(total - eval.done);
        self.run_range(Program::Eval, eval.done, count).await?;
        let codes = self.read_view(s.eval_code, count * code_len).await?;
        eval.codes.add(&codes);
        if let Some(shot) = eval.snapshot.as_mut() {
            shot.codes.extend(codes);
            shot.scores
                .extend(self.read_view(s.eval_scores, count).await?);
            if eval.done == 0 {
                let pixels = count * self.elements();
                shot.clean = self.read_view(s.eval_target, pixels).await?;
                shot.rebuilt = self.read_view(s.eval_output, pixels).await?;
                if self.full.noise.is_some() {
                    shot.noisy = Some(self.read_view(s.eval_input, pixels).await?);
                }
            }
        }
        eval.done += count;
        if eval.done < total {
            eval.seconds += started.elapsed().as_secs_f64();
            return Ok(None);
        }
        let n = total as f64;
        let [mse, bce, kl] = self
            .read_totals([Some(s.eval_mse_total), s.eval_bce_total, s.eval_kl_total])
            .await?
            .map(|total| total.map(|t| t / n));
        let mse = mse.unwrap_or_default();
        eval.seconds += started.elapsed().as_secs_f64();
        self.snapshot = eval.snapshot.take();
        let (code_mean, code_near_zero) = eval.codes.means();
        Ok(Some(Evaluation {
            mse,
            bce,
            elements: self.elements(),
            kl,
            code_mean,
            code_near_zero,
        }))
    }

    /// The test set's figures (see `Evaluation`), against the clean images, between epochs.
    pub async fn evaluate(&mut self) -> Result<Evaluation> {
        self.require_idle("evaluating on its own")?;
        let mut eval = self.begin_eval(None)?;
        loop {
            if let Some(e) = self.eval_batch(&mut eval).await? {
                return Ok(e);
            }
        }
    }

    /// From now on every evaluation also keeps what the pictures need (`take_snapshot`).
    pub fn collect_snapshots(&mut self) {
        self.collect = true;
    }

    /// What the last evaluation saw, if `collect_snapshots` was asked for.
    pub fn take_snapshot(&mut self) -> Option<Snapshot> {
        self.snapshot.take()
    }

    async fn read_view(&mut self, view: View, len: usize) -> Result<Vec<f32>> {
        let view = View {
            len: len.min(view.len),
            ..view
        };
        self.backend.read_f32(view).await
    }

    /// Numbers in one sample: what each image or row the model takes and gives back holds.
    pub fn elements(&self) -> usize {
        self.config.arch.input.elements()
    }

    /// Encodes and reconstructs `samples` (of the data's shape and storage) with the
    /// current weights: their codes and their reconstructions, as the evaluation sees
    /// them (with the run's noise, if any). What the page draws as training goes, and a
    /// digit drawn by hand. The evaluation program runs on them in place of the first
    /// test samples, which are put back afterwards, so this may be called between epochs
    /// or between the training advances of one, never during its evaluation.
    pub async fn reconstruct(&mut self, samples: &Values) -> Result<(Vec<f32>, Vec<f32>)> {
        let s = self.full.slots;
        let reads = [
            (s.eval_code, self.full.code_len),
            (s.eval_output, self.elements()),
        ];
        let mut read = self
            .on_samples(samples, Program::Eval.name(), &reads)
            .await?
            .into_iter();
        let codes = read.next().unwrap_or_default();
        Ok((codes, read.next().unwrap_or_default()))
    }

    /// Each given sample's score, as `score_test` scores the test set's: the scoring
    /// program on `samples` in place of the first test samples (put back afterwards),
    /// chunk by chunk, each chunk's scores read back once. How the training split is
    /// scored, for a threshold.
    pub async fn score_samples(&mut self, kind: ScoreKind, samples: &Values) -> Result<Vec<f32>> {
        let program = self.score_program(kind).await?;
        let reads = [(self.full.slots.eval_scores, 1)];
        let mut read = self.on_samples(samples, program, &reads).await?;
        Ok(read.pop().unwrap_or_default())
    }

    /// Every test sample's score (`ScoreKind`), in order: the scoring program over the
    /// resident test set a batch at a time, each batch's scores read back once (higher
    /// is more anomalous).
    pub async fn score_test(&mut self, kind: ScoreKind) -> Result<Vec<f32>> {
        self.require_idle("scoring")?;
        let program = self.score_program(kind).await?;
        let (rows, total) = (self.full.eval_rows, self.test_images);
        self.write_key(EVAL_STREAM)?;
        let mut scores = Vec::with_capacity(total);
        for start in (0..total).step_by(rows.max(1)) {
            let count = rows.min(total - start);
            let steps = self.steps(rows, start, count, false);
            self.backend.run(program, Some(count), &steps).await?;
            scores.extend(self.read_view(self.full.slots.eval_scores, count).await?);
        }
        Ok(scores)
    }

    /// The scoring program for `kind`, compiled the first time it is asked for.
    async fn score_program(&mut self, kind: ScoreKind) -> Result<&'static str> {
        let name = match kind {
            ScoreKind::Mse => "score mse",
            ScoreKind::Bce => "score bce",
            ScoreKind::Elbo => "score elbo",
        };
        if !self.scoring.contains(&kind) {
            let ops = self
                .full
                .score_ops(kind)
                .ok_or_else(|| Error::flag("--score", score_problem(kind, &self.config.arch)))?;
            self.backend.compile(name, &ops).await?;
            self.scoring.push(kind);
        }
        Ok(name)
    }

    /// Runs an evaluation `program` on `samples` put in place of the first test samples,
    /// a chunk of the evaluation's batch at a time, reading `reads` (views and their
    /// values per sample) after each chunk; the test samples go back after each, whatever
    /// happened. Returns what each read gathered, in order.
    async fn on_samples(
        &mut self,
        samples: &Values,
        program: &'static str,
        reads: &[(View, usize)],
    ) -> Result<Vec<Vec<f32>>> {
        let training =
            match &self.phase {
                Phase::Idle => None,
                Phase::Training(run) => Some(run.epoch),
                Phase::Evaluating(_) => return Err(Error::Other(
                    "running the model on given samples needs the trainer outside an evaluation"
                        .into(),
                )),
            };
        let elements = self.elements();
        if !samples.len().is_multiple_of(elements) {
            return Err(Error::Other(format!(
                "{} values are not whole samples of {}",
                samples.len(),
                self.config.arch.input.describe()
            )));
        }
        if samples.storage() != self.full.storage {
            return Err(Error::Other(
                "the samples given are held differently (bytes or floats) from the data trained on"
                    .into(),
            ));
        }
        let s = self.full.slots;
        let rows = self.full.eval_rows.min(self.test_images);
        let mut gathered = vec![Vec::new(); reads.len()];
        self.write_key(EVAL_STREAM)?;
        let count = samples.len() / elements;
        for start in (0..count).step_by(rows.max(1)) {
            let chunk = samples.samples(start..(start + rows).min(count), elements);
            let count = chunk.len() / elements;
            let words = self.full.storage.words(count * elements);
            let kept = self.backend.read(View::whole(s.test_data, words)).await?;
            let mut given = chunk.device_words();
            // Bytes pack into the words of the samples they replace; a last word shared
            // with the next test sample keeps that sample's bytes.
            if let (Values::Bytes(b), Some(last)) = (&chunk, given.last_mut()) {
                let used = b.len() % 4;
                if used != 0 {
                    let mask = (1u32 << (8 * used)) - 1;
                    *last = (*last & mask) | (kept[kept.len() - 1] & !mask);
                }
            }
            self.backend.write(s.test_data, 0, &given)?;
            let steps = self.steps(rows, 0, count, false);
            let ran = self.backend.run(program, Some(count), &steps).await;
            // The test samples go back whatever happened, before anything else can fail.
            self.backend.write(s.test_data, 0, &kept)?;
            ran?;
            for (out, &(view, per)) in gathered.iter_mut().zip(reads) {
                out.extend(self.read_view(view, count * per).await?);
            }
        }
        if let Some(epoch) = training {
            self.write_key(epoch as u32)?;
        }
        Ok(gathered)
    }

    /// Decodes codes (`code_len` numbers each) into samples of the model's shape.
    pub async fn decode(&mut self, codes: &[f32]) -> Result<Vec<f32>> {
        let (rows, code_len) = (self.full.decode_rows, self.full.code_len);
        let s = self.full.slots;
        let mut images = Vec::new();
        for chunk in codes.chunks(rows * code_len) {
            let count = chunk.len() / code_len;
            if count == 0 {
                break;
            }
            self.backend
                .write_f32(s.decode_code.buf, s.decode_code.offset, chunk)?;
            let steps = self.steps(rows, 0, count, false);
            self.backend
                .run(Program::Decode.name(), Some(count), &steps)
                .await?;
            let elements = self.elements();
            images.extend(self.read_view(s.decode_output, count * elements).await?);
        }
        Ok(images)
    }
}
