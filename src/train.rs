//! The training loop: epochs of shuffled mini-batches on any backend, test-set evaluation
//! after each epoch, and metrics written as JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::Backend;
use crate::data::{pack_bytes, Mnist, IMAGE_PIXELS};
use crate::error::{Error, Result};
use crate::model::graph::{ADAM_M, ADAM_V, PARAMS};
use crate::model::{Arch, DataSizes, Fusion, Graph, GraphSpec};
use crate::ops::noise::EVAL_STREAM;
use crate::ops::{AdamConfig, LossKind, NoiseKind, Op, StepParams, View};
use crate::rng::TorchRng;

#[derive(Clone, Debug)]
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
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.arch.validate()?;
        if self.epochs == 0 {
            return Err(Error::flag("--epochs", "must be at least 1"));
        }
        if self.batch == 0 {
            return Err(Error::flag("--batch", "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::flag(
                "--lr",
                format!("{}: must be a positive number", self.lr),
            ));
        }
        Ok(())
    }
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean training loss over the epoch's images (the `--loss` in use).
    pub train_loss: f64,
    pub test_mse: f64,
    pub test_bce: f64,
    /// Wall time of the epoch's training steps (evaluation not included).
    pub seconds: f64,
    pub images_per_second: f64,
    pub eval_seconds: f64,
    /// (epochs done, as a fraction, mean training loss since the last point) at each
    /// logging interval within the epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval_loss: Vec<[f64; 2]>,
}

/// No loss this program computes goes above this: MSE stays within 1, and BCE's logs are
/// clamped at -100, as PyTorch's are.
const MAX_LOSS: f64 = 100.0;

impl EpochMetrics {
    /// Why these cannot be the metrics of the `epoch`-th line of a run, naming the field:
    /// an epoch out of order, a loss outside [0, 100], a time or rate that is negative or
    /// not finite, an interval point outside its epoch.
    fn check(&self, epoch: usize) -> std::result::Result<(), String> {
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
        loss("train_loss", self.train_loss)?;
        loss("test_mse", self.test_mse)?;
        loss("test_bce", self.test_bce)?;
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
            loss("interval_loss", value)?;
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
    pub labels: Vec<u8>,
    pub clean: Vec<f32>,
    pub noisy: Option<Vec<f32>>,
    pub rebuilt: Vec<f32>,
}

/// A logging interval aims at about this long, so that progress moves on a slow device
/// and a fast one does not wait on the host every few steps.
const INTERVAL_SECONDS: f64 = 1.0;
/// And at most this many steps, one submission's worth.
const MAX_INTERVAL_STEPS: usize = 64;

/// A model resident on a backend with its data, ready to train.
pub struct Trainer<'b> {
    backend: &'b mut dyn Backend,
    config: TrainConfig,
    full: Graph,
    train_images: usize,
    test_images: usize,
    test_labels: Vec<u8>,
    /// Draws the initial weights, then each epoch's shuffle, as one PyTorch stream.
    rng: TorchRng,
    step: u64,
    epoch: usize,
    collect: bool,
    snapshot: Option<Snapshot>,
}

impl<'b> Trainer<'b> {
    pub fn new(backend: &'b mut dyn Backend, config: TrainConfig, data: &Mnist) -> Result<Self> {
        Self::with_fusion(backend, config, data, Fusion::default())
    }

    /// A trainer of the fused or the unfused graph (see `model::Fusion`).
    pub fn with_fusion(
        backend: &'b mut dyn Backend,
        config: TrainConfig,
        data: &Mnist,
        fusion: Fusion,
    ) -> Result<Self> {
        config.validate()?;
        let sizes = DataSizes {
            train_images: data.train.len(),
            test_images: data.test.len(),
        };
        let spec = GraphSpec {
            noise: config.noise,
            fusion,
            ..GraphSpec::new(
                &config.arch,
                config.batch,
                config.loss,
                AdamConfig::new(config.lr),
                sizes,
            )
        };
        // The dataset is held on the host as well as in the backend's buffers.
        let host = (data.train.images.len() + data.test.images.len()) as u64;
        let spec = crate::sizing::plan(spec, &backend.memory_limits(), host)?;
        let full = Graph::build_with(&spec)?;

        backend.alloc(&full.buffers)?;
        for program in [Program::Train, Program::Eval, Program::Decode] {
            backend.compile(program.name(), program.ops(&full))?;
        }
        let s = full.slots;
        backend.write(s.train_data, 0, &pack_bytes(&data.train.images))?;
        backend.write(s.test_data, 0, &pack_bytes(&data.test.images))?;
        let test_order: Vec<u32> = (0..sizes.test_images as u32).collect();
        backend.write(s.test_perm, 0, &test_order)?;
        let mut rng = TorchRng::new(config.seed);
        backend.write_f32(PARAMS, 0, &full.init_params(&mut rng))?;
        Ok(Trainer {
            backend,
            rng,
            config,
            full,
            train_images: sizes.train_images,
            test_images: sizes.test_images,
            test_labels: data.test.labels.clone(),
            step: 0,
            epoch: 0,
            collect: false,
            snapshot: None,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.full
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// The current parameters, as one flat buffer laid out by `graph().params`.
    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.backend.read_f32(PARAMS)
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

    /// Everything continuing this run needs: parameters, Adam's state, epoch, generator.
    pub fn state(&mut self) -> Result<TrainState> {
        Ok(TrainState {
            params: self.backend.read_f32(PARAMS)?,
            adam_m: self.backend.read_f32(ADAM_M)?,
            adam_v: self.backend.read_f32(ADAM_V)?,
            adam_step: self.step,
            epoch: self.epoch,
            rng: self.rng.to_words(),
        })
    }

    /// Puts the trainer where `state` was saved, so that the next epoch is the one an
    /// uninterrupted run would have trained.
    pub fn restore(&mut self, state: &TrainState) -> Result<()> {
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

    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend
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
    fn run_range(&mut self, program: Program, start: usize, count: usize) -> Result<()> {
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
                .run(program.name(), Some(len.min(batch)), &steps)?;
        }
        Ok(())
    }

    /// Runs `count` full training steps on a fresh shuffle, outside any epoch: what
    /// `profile` times. Needs `count` full batches of training images.
    pub fn train_steps(&mut self, count: usize) -> Result<()> {
        let batch = self.config.batch;
        let images = count.checked_mul(batch).filter(|&n| n <= self.train_images);
        let Some(images) = images else {
            return Err(Error::flag(
                "--steps",
                format!(
                    "{count} steps of {batch} need more than the {} training images there are",
                    self.train_images
                ),
            ));
        };
        let order = self.rng.randperm(self.train_images);
        self.backend.write(self.full.slots.train_perm, 0, &order)?;
        self.write_noise_key(self.epoch as u32)?;
        let steps = self.steps(batch, 0, images, true);
        self.backend.run(Program::Train.name(), Some(batch), &steps)
    }

    /// A running total: the sum of the buffer's values (one, or one per workgroup of a
    /// kernel that keeps its own), added in f64.
    fn read_scalar(&mut self, buf: usize) -> Result<f64> {
        let words = self.backend.read_f32(buf)?;
        if words.is_empty() {
            return Err(Error::Other("a scalar buffer is empty".into()));
        }
        Ok(words.iter().map(|&v| v as f64).sum())
    }

    fn zero(&mut self, buf: usize) -> Result<()> {
        let len = self.full.buffers[buf].len;
        self.backend.write_f32(buf, 0, &vec![0.0; len])
    }

    fn write_noise_key(&mut self, stream: u32) -> Result<()> {
        if let Some(key) = self.full.slots.noise_key {
            let seed = (self.config.seed ^ (self.config.seed >> 32)) as u32;
            self.backend.write(key, 0, &[seed, stream])?;
        }
        Ok(())
    }

    /// One epoch of training, then evaluation on the whole test set.
    pub fn epoch(&mut self) -> Result<EpochMetrics> {
        self.epoch_with(&mut |_| {})
    }

    /// One epoch, reporting progress at every logging interval. The loss total is read at
    /// each interval, and a loss that is no longer finite stops the run there, before
    /// anything of the epoch is saved.
    pub fn epoch_with(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochMetrics> {
        let epoch = self.epoch + 1;
        let s = self.full.slots;
        let order = self.rng.randperm(self.train_images);
        self.backend.write(s.train_perm, 0, &order)?;
        self.zero(s.loss_total)?;
        self.write_noise_key(epoch as u32)?;
        let (batch, total) = (self.config.batch, self.train_images);
        let started = Instant::now();
        let (mut done, mut interval, mut last) = (0usize, 1usize, (0usize, 0.0f64));
        let mut interval_loss = Vec::new();
        while done < total {
            let count = match total - done >= batch {
                true => (interval * batch).min((total - done) / batch * batch),
                false => total - done,
            };
            let before = Instant::now();
            self.run_range(Program::Train, done, count)?;
            // Reading the total waits for the device, so the times cover all the work.
            let sum = self.read_scalar(s.loss_total)?;
            done += count;
            if !sum.is_finite() {
                return Err(Error::Diverged {
                    value: sum,
                    epoch,
                    step: self.step,
                    lr: self.config.lr,
                });
            }
            let since = (sum - last.1) / (done - last.0) as f64;
            interval_loss.push([(epoch - 1) as f64 + done as f64 / total as f64, since]);
            last = (done, sum);
            progress(Progress::Train {
                done,
                total,
                loss: sum / done as f64,
            });
            // Aim the next interval at INTERVAL_SECONDS from this one's pace.
            let per_step = before.elapsed().as_secs_f64() / (count / batch).max(1) as f64;
            interval =
                ((INTERVAL_SECONDS / per_step.max(1e-9)) as usize).clamp(1, MAX_INTERVAL_STEPS);
        }
        let train_loss = last.1 / total as f64;
        let seconds = started.elapsed().as_secs_f64();
        self.epoch = epoch;

        let started = Instant::now();
        let (test_mse, test_bce) = self.evaluate_with(progress)?;
        // Weights can grow past what the forward pass can hold while the training loss
        // still read finite: the test loss is guarded too.
        if let Some(value) = [test_mse, test_bce].into_iter().find(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                value,
                epoch,
                step: self.step,
                lr: self.config.lr,
            });
        }
        Ok(EpochMetrics {
            epoch,
            train_loss,
            test_mse,
            test_bce,
            seconds,
            images_per_second: total as f64 / seconds,
            eval_seconds: started.elapsed().as_secs_f64(),
            interval_loss,
        })
    }

    /// Mean MSE and BCE over the test set, against the clean images.
    pub fn evaluate(&mut self) -> Result<(f64, f64)> {
        self.evaluate_with(&mut |_| {})
    }

    fn evaluate_with(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<(f64, f64)> {
        let s = self.full.slots;
        self.backend.write_f32(s.eval_mse_total, 0, &[0.0])?;
        self.backend.write_f32(s.eval_bce_total, 0, &[0.0])?;
        self.write_noise_key(EVAL_STREAM)?;
        let (rows, total, code_len) = (self.full.eval_rows, self.test_images, self.full.code_len);
        let mut snapshot = self.collect.then(|| Snapshot {
            codes: Vec::with_capacity(total * code_len),
            code_len,
            labels: self.test_labels.clone(),
            clean: Vec::new(),
            noisy: None,
            rebuilt: Vec::new(),
        });
        let mut done = 0;
        while done < total {
            let count = rows.min(total - done);
            self.run_range(Program::Eval, done, count)?;
            if let Some(shot) = snapshot.as_mut() {
                shot.codes
                    .extend(self.read_view(s.eval_code, count * code_len)?);
                if done == 0 {
                    let pixels = count * IMAGE_PIXELS;
                    shot.clean = self.read_view(s.eval_target, pixels)?;
                    shot.rebuilt = self.read_view(s.eval_output, pixels)?;
                    if self.full.noise.is_some() {
                        shot.noisy = Some(self.read_view(s.eval_input, pixels)?);
                    }
                }
            }
            done += count;
            progress(Progress::Eval { done, total });
        }
        self.snapshot = snapshot;
        let n = total as f64;
        Ok((
            self.read_scalar(s.eval_mse_total)? / n,
            self.read_scalar(s.eval_bce_total)? / n,
        ))
    }

    /// From now on every evaluation also keeps what the pictures need (`take_snapshot`).
    pub fn collect_snapshots(&mut self) {
        self.collect = true;
    }

    /// What the last evaluation saw, if `collect_snapshots` was asked for.
    pub fn take_snapshot(&mut self) -> Option<Snapshot> {
        self.snapshot.take()
    }

    fn read_view(&mut self, view: View, len: usize) -> Result<Vec<f32>> {
        let words = self.backend.read_f32(view.buf)?;
        words
            .get(view.offset..view.offset + len.min(view.len))
            .map(<[f32]>::to_vec)
            .ok_or_else(|| Error::Other(format!("buffer {} is shorter than its view", view.buf)))
    }

    /// Decodes codes (`code_len` numbers each) into images of 784 pixels.
    pub fn decode(&mut self, codes: &[f32]) -> Result<Vec<f32>> {
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
                .run(Program::Decode.name(), Some(count), &steps)?;
            images.extend(self.read_view(s.decode_output, count * IMAGE_PIXELS)?);
        }
        Ok(images)
    }
}

/// The flags that made a run, saved in its checkpoint so that `--resume` and `eval` need
/// none of them again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFlags {
    /// `Arch::spec()`: `dense:100,200,30`.
    pub arch: String,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// `mse` or `bce`.
    pub loss: String,
    pub seed: u64,
    pub limit: Option<usize>,
    /// `NoiseKind::spec()`.
    pub noise: Option<String>,
}

impl RunFlags {
    pub fn new(config: &TrainConfig, limit: Option<usize>) -> RunFlags {
        RunFlags {
            arch: config.arch.spec(),
            epochs: config.epochs,
            batch: config.batch,
            lr: config.lr,
            loss: config.loss.name().to_string(),
            seed: config.seed,
            limit,
            noise: config.noise.map(NoiseKind::spec),
        }
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Other(e.to_string()))
    }

    /// The flags saved in a checkpoint, as they are: `checkpoint::saved_flags` reads and
    /// checks them. `what` names the file for errors.
    pub fn from_json(json: &str, what: &Path) -> Result<RunFlags> {
        serde_json::from_str(json).map_err(|e| Error::Checkpoint {
            path: what.to_path_buf(),
            message: format!("its saved flags are unreadable ({e})"),
        })
    }

    /// The training configuration these flags give.
    pub fn config(&self) -> Result<TrainConfig> {
        let arch = Arch::from_spec(&self.arch)
            .ok_or_else(|| Error::Other(format!("architecture {:?}", self.arch)))?;
        let loss = match self.loss.as_str() {
            "mse" => LossKind::Mse,
            "bce" => LossKind::Bce,
            other => return Err(Error::Other(format!("loss {other:?}"))),
        };
        let noise = match &self.noise {
            Some(n) => Some(NoiseKind::parse(n).map_err(Error::Other)?),
            None => None,
        };
        let config = TrainConfig {
            arch,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            loss,
            seed: self.seed,
            noise,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Appends one JSON object per epoch to `DIR/metrics.jsonl`, flushed as it goes so that
/// an interrupted run keeps every finished epoch. The file is made by the first epoch,
/// so that a run stopped before it leaves nothing that marks the folder as taken.
pub struct MetricsLog {
    file: Option<std::fs::File>,
    path: PathBuf,
}

impl MetricsLog {
    /// A log for a new run in `dir`, which must hold none.
    pub fn new(dir: &Path) -> MetricsLog {
        MetricsLog {
            file: None,
            path: dir.join("metrics.jsonl"),
        }
    }

    /// The epochs logged in `dir`, strictly read: every line one epoch's metrics.
    pub fn read(path: &Path) -> Result<Vec<EpochMetrics>> {
        let text = crate::files::read_regular_text(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Every non-blank line one epoch's metrics, the epochs 1, 2, 3… in order, each value
    /// within its meaning (`EpochMetrics::check`).
    pub fn parse(path: &Path, text: &str) -> Result<Vec<EpochMetrics>> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .enumerate()
            .map(|(n, (i, l))| {
                let bad = |message: String| Error::Data {
                    path: path.to_path_buf(),
                    message: format!("line {}: {message}", i + 1),
                };
                let m: EpochMetrics = serde_json::from_str(l)
                    .map_err(|e| bad(format!("not an epoch's metrics ({e})")))?;
                m.check(n + 1).map_err(bad)?;
                Ok(m)
            })
            .collect()
    }

    /// The epochs of a run's metrics file, for resuming, and whether the file must be
    /// written again before anything is appended to it: when its last line has no
    /// newline. Such a line is kept if it is whole, and left out if a crash cut it short
    /// (it was being appended, and nothing of its epoch was saved after it). No epochs
    /// when there is no file.
    pub fn read_for_resume(path: &Path) -> Result<(Vec<EpochMetrics>, bool)> {
        if !path.exists() {
            return Ok((Vec::new(), false));
        }
        let text = crate::files::read_regular_text(path).map_err(|e| Error::io(path, e))?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        match Self::parse(path, &text) {
            Ok(all) => Ok((all, torn)),
            Err(_) if torn => {
                let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
                Ok((Self::parse(path, whole)?, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Continues the log of the run in `dir` after `epochs` epochs: lines of later epochs
    /// (written just before a crash that kept their checkpoint from being saved) are
    /// dropped, and a last line without its newline mended or dropped
    /// (`read_for_resume`), atomically, before anything is appended. Returns the log and
    /// the epochs it keeps.
    pub fn resume(dir: &Path, epochs: usize) -> Result<(MetricsLog, Vec<EpochMetrics>)> {
        let path = dir.join("metrics.jsonl");
        let (all, torn) = Self::read_for_resume(&path)?;
        let kept: Vec<EpochMetrics> = all.iter().filter(|m| m.epoch <= epochs).cloned().collect();
        if kept.len() != epochs || kept.iter().enumerate().any(|(i, m)| m.epoch != i + 1) {
            return Err(Error::Data {
                path,
                message: format!(
                    "does not hold one line for each of the {epochs} epochs its checkpoint has"
                ),
            });
        }
        if kept.len() != all.len() || torn {
            let mut text = String::new();
            for m in &kept {
                text += &serde_json::to_string(m).map_err(|e| Error::Other(e.to_string()))?;
                text += "\n";
            }
            crate::files::write_atomically(&path, text.as_bytes())?;
        }
        let file = match path.exists() {
            true => Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?,
            ),
            false => None,
        };
        Ok((MetricsLog { file, path }, kept))
    }

    pub fn append(&mut self, m: &EpochMetrics) -> Result<()> {
        let mut line = serde_json::to_string(m).map_err(|e| Error::Other(e.to_string()))?;
        line.push('\n');
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&self.path)
                    .map_err(|e| Error::io(&self.path, e))?,
            ),
        };
        // One write of the whole line, so that a signal never leaves half of one.
        file.write_all(line.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
