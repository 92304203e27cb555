//! The training loop: epochs of shuffled mini-batches on any backend, test-set evaluation
//! after each epoch, and metrics written as JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::Backend;
use crate::data::{pack_bytes, Mnist};
use crate::error::{Error, Result};
use crate::model::graph::PARAMS;
use crate::model::{Arch, DataSizes, Fusion, Graph};
use crate::ops::{AdamConfig, LossKind, Op, StepParams};
use crate::rng::TorchRng;

#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub arch: Arch,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub loss: LossKind,
    pub seed: u64,
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
#[derive(Clone, Debug, serde::Serialize)]
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
}

/// The two op lists a trainer compiles once and runs every epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    Train,
    Eval,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Train => "train",
            Program::Eval => "eval",
        }
    }

    fn ops(self, graph: &Graph) -> &[Op] {
        match self {
            Program::Train => &graph.train,
            Program::Eval => &graph.eval,
        }
    }
}

/// A model resident on a backend with its data, ready to train.
pub struct Trainer<'b> {
    backend: &'b mut dyn Backend,
    config: TrainConfig,
    full: Graph,
    train_images: usize,
    test_images: usize,
    /// Draws the initial weights, then each epoch's shuffle, as one PyTorch stream.
    rng: TorchRng,
    step: u64,
    epoch: usize,
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
        let adam = AdamConfig::new(config.lr);
        let full = Graph::build_with(&config.arch, config.batch, config.loss, adam, sizes, fusion)?;

        backend.alloc(&full.buffers)?;
        for program in [Program::Train, Program::Eval] {
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
            step: 0,
            epoch: 0,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.full
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

    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend
    }

    /// Steps for `count` images in batches: the batch start, length and Adam's bias
    /// corrections for each. `count` must be a multiple of the batch or smaller than it.
    fn steps(&mut self, start: usize, count: usize, adam_steps: bool) -> Vec<StepParams> {
        let adam = AdamConfig::new(self.config.lr);
        let batch = self.config.batch.min(count.max(1));
        (0..count / batch)
            .map(|i| {
                let (bc1, bc2) = if adam_steps {
                    self.step += 1;
                    adam.bias_corrections(self.step)
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

    /// Runs a program over `count` images: the full batches, then the partial one, which
    /// runs the same compiled program for fewer rows.
    fn run_over(&mut self, program: Program, count: usize) -> Result<()> {
        let batch = self.config.batch;
        let full_count = count / batch * batch;
        let training = program == Program::Train;
        for (start, len) in [(0, full_count), (full_count, count - full_count)] {
            if len == 0 {
                continue;
            }
            let steps = self.steps(start, len, training);
            let rows = len.min(batch);
            self.backend.run(program.name(), Some(rows), &steps)?;
        }
        Ok(())
    }

    /// Runs `count` full training steps on a fresh shuffle, outside any epoch: what
    /// `profile` times. Needs `count` full batches of training images.
    pub fn train_steps(&mut self, count: usize) -> Result<()> {
        let batch = self.config.batch;
        if count * batch > self.train_images {
            return Err(Error::flag(
                "--steps",
                format!(
                    "{count} steps of {batch} need {} training images; there are {}",
                    count * batch,
                    self.train_images
                ),
            ));
        }
        let order = self.rng.randperm(self.train_images);
        self.backend.write(self.full.slots.train_perm, 0, &order)?;
        let steps = self.steps(0, count * batch, true);
        self.backend.run(Program::Train.name(), Some(batch), &steps)
    }

    /// A running total: the sum of the buffer's values (one, or one per workgroup of a
    /// kernel that keeps its own), added in f64.
    fn read_scalar(&mut self, buf: usize) -> Result<f64> {
        Ok(self.backend.read_f32(buf)?.iter().map(|&v| v as f64).sum())
    }

    fn zero(&mut self, buf: usize) -> Result<()> {
        let len = self.full.buffers[buf].len;
        self.backend.write_f32(buf, 0, &vec![0.0; len])
    }

    /// One epoch of training, then evaluation on the whole test set.
    pub fn epoch(&mut self) -> Result<EpochMetrics> {
        self.epoch += 1;
        let s = self.full.slots;
        let order = self.rng.randperm(self.train_images);
        self.backend.write(s.train_perm, 0, &order)?;
        self.zero(s.loss_total)?;
        let started = Instant::now();
        self.run_over(Program::Train, self.train_images)?;
        // Reading the total waits for the GPU, so the time covers all of the epoch's work.
        let train_loss = self.read_scalar(s.loss_total)? / self.train_images as f64;
        let seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let (test_mse, test_bce) = self.evaluate()?;
        Ok(EpochMetrics {
            epoch: self.epoch,
            train_loss,
            test_mse,
            test_bce,
            seconds,
            images_per_second: self.train_images as f64 / seconds,
            eval_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Mean MSE and BCE over the test set.
    pub fn evaluate(&mut self) -> Result<(f64, f64)> {
        let s = self.full.slots;
        self.backend.write_f32(s.eval_mse_total, 0, &[0.0])?;
        self.backend.write_f32(s.eval_bce_total, 0, &[0.0])?;
        self.run_over(Program::Eval, self.test_images)?;
        let n = self.test_images as f64;
        Ok((
            self.read_scalar(s.eval_mse_total)? / n,
            self.read_scalar(s.eval_bce_total)? / n,
        ))
    }

    /// The first `count` test images (at most one batch) and the model's reconstructions
    /// of them, each `count × 784` pixels in [0, 1].
    pub fn reconstruct(&mut self, count: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let count = count.min(self.config.batch).min(self.test_images);
        self.run_over(Program::Eval, count)?;
        let (input, output) = (self.full.slots.input, self.full.slots.output);
        let pixels = count * crate::data::IMAGE_PIXELS;
        let images =
            self.backend.read_f32(input.buf)?[input.offset..input.offset + pixels].to_vec();
        let rebuilt =
            self.backend.read_f32(output.buf)?[output.offset..output.offset + pixels].to_vec();
        Ok((images, rebuilt))
    }
}

/// Appends one JSON object per epoch to `DIR/metrics.jsonl`, flushed as it goes so that
/// an interrupted run keeps every finished epoch.
pub struct MetricsLog {
    file: std::fs::File,
    path: PathBuf,
}

impl MetricsLog {
    /// Refuses, before any work, a folder that already holds a run's metrics.
    pub fn check_unused(dir: &Path) -> Result<()> {
        match dir.join("metrics.jsonl").exists() {
            true => Err(Self::taken(dir)),
            false => Ok(()),
        }
    }

    fn taken(dir: &Path) -> Error {
        Error::flag(
            "--out",
            format!(
                "{} already holds metrics.jsonl from an earlier run; choose another folder",
                dir.display()
            ),
        )
    }

    /// Refuses a folder that already holds a run's metrics rather than overwrite them.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("metrics.jsonl");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Self::taken(dir),
                _ => Error::io(&path, e),
            })?;
        Ok(MetricsLog { file, path })
    }

    pub fn append(&mut self, m: &EpochMetrics) -> Result<()> {
        let line = serde_json::to_string(m).map_err(|e| Error::Other(e.to_string()))?;
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
