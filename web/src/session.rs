//! What the page does, in plain Rust over the core: open the GPU, load MNIST from the
//! files' bytes, train an advance at a time, and answer the page's questions (the digits
//! and their reconstructions, the latent plane, a point decoded, a drawn digit, the
//! weights, the kernel check, a profile). Nothing here knows about JavaScript, so the
//! same session runs natively in this crate's tests; `lib.rs` wraps it for the page.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::check::run::{plan, run_group, GroupReport, Plan};
use wgsl_autoencoder::checkpoint::{model_bytes, parse_meta, parse_weights};
use wgsl_autoencoder::data::{mnist_from_gz, Data, Values};
use wgsl_autoencoder::error::{Error, Result};
use wgsl_autoencoder::gpu::context::{AdapterRequest, GpuOptions};
use wgsl_autoencoder::gpu::kernels::Parallelism;
use wgsl_autoencoder::gpu::profiler::Placement;
use wgsl_autoencoder::ops::{Activation, NoiseKind};
use wgsl_autoencoder::pictures::{self, Projection};
use wgsl_autoencoder::train::{Advance, EpochMetrics, Progress, Snapshot};
use wgsl_autoencoder::{Arch, CpuBackend, Gpu, GpuBackend, TrainConfig, Trainer};

/// What the CPU reference may allocate in a page: wasm32 addresses 4 GiB, and browsers
/// grant a page about half of that.
const WASM_MEMORY: u64 = 2 << 30;

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
    /// Training images kept (the first ones), or all 60,000.
    pub limit: Option<usize>,
    pub seed: u64,
    /// `gpu` (WebGPU) or `cpu` (the reference, compiled to wasm).
    pub backend: String,
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
        }
    }
}

/// A control's value the page cannot train with, named as the page names the control.
fn control(name: &str, message: impl Into<String>) -> Error {
    Error::Other(format!("{name}: {}", message.into()))
}

impl Settings {
    /// The training configuration these controls describe, checked as the command line
    /// checks its flags (the same messages).
    pub fn config(&self) -> Result<TrainConfig> {
        let config = TrainConfig {
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            seed: self.seed,
            noise: self.noise()?,
            ..TrainConfig::new(self.arch()?)
        };
        config.validate()?;
        wgsl_autoencoder::data::check_limit(self.limit)?;
        Ok(config)
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
}

/// The page's state: the adapter, the data, and the run.
#[derive(Default)]
pub struct Session {
    gpu: Option<Arc<Gpu>>,
    /// Why the device was lost, once it is: every call after that fails, and the page
    /// offers to start again.
    lost: Arc<Mutex<Option<String>>>,
    data: Option<Data>,
    run: Option<Run>,
}

/// The rows the kernel check shows, as `check` prints them.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRow {
    pub entry: String,
    pub variant: String,
    pub cases: usize,
    pub worst_error: f64,
    pub worst_of_tolerance: f64,
    pub passed: bool,
    pub first_failure: Option<String>,
    pub seconds: f64,
}

impl From<GroupReport> for CheckRow {
    fn from(r: GroupReport) -> Self {
        CheckRow {
            entry: r.kernel,
            variant: r.variant,
            cases: r.cases,
            worst_error: r.largest_error,
            worst_of_tolerance: r.largest_error_of_tolerance,
            passed: r.passed,
            first_failure: r.first_failure,
            seconds: r.seconds,
        }
    }
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
    /// order); `limit` keeps the first training images.
    pub fn load_data(&mut self, files: [&[u8]; 4], limit: Option<usize>) -> Result<(usize, usize)> {
        let data = mnist_from_gz(files, limit)?;
        let sizes = (data.train.len(), data.test.len());
        self.data = Some(data);
        Ok(sizes)
    }

    fn data(&self) -> Result<&Data> {
        self.data
            .as_ref()
            .ok_or_else(|| Error::Other("MNIST is not loaded yet".into()))
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

    /// Builds the model the settings describe on their backend, ready to train. The size
    /// check runs first, with the terminal's message.
    pub async fn start(&mut self, settings: &Settings) -> Result<()> {
        let config = settings.config()?;
        // Nothing trains before MNIST is loaded; that is said before any backend is made.
        self.data()?;
        let backend = self.backend(&settings.backend)?;
        let epochs = config.epochs;
        // The last run's buffers go before this one's are made.
        self.run = None;
        // Cut to the limit asked for now, whatever was loaded.
        let data = limited(self.data()?, settings.limit);
        let steps_per_epoch = data.train.len().div_ceil(config.batch);
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

    /// Test digits (`pictures::examples`: three of each) as the model now rebuilds
    /// them: (labels, clean pixels in 0..1, reconstructions). `None` while the epoch's
    /// evaluation runs, whose snapshot shows them next.
    pub async fn examples(&mut self) -> Result<Option<(Vec<u32>, Vec<f32>, Vec<f32>)>> {
        let data = self.data()?;
        let all_labels = data.test.labels_or_zero();
        let picked = pictures::examples(&all_labels, data.test.len(), data.classes.len());
        let labels: Vec<u32> = picked.iter().map(|&i| all_labels[i]).collect();
        let samples = data.test.subset(&picked).values;
        let run = self.run()?;
        if run.evaluating {
            return Ok(None);
        }
        let (_, rebuilt) = run.trainer.reconstruct(&samples).await?;
        Ok(Some((labels, samples.to_f32(), rebuilt)))
    }

    /// The test codes in the plane, as (x, y) pairs, and their digits; empty before the
    /// first epoch's evaluation.
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

    fn latent_ready(&mut self) -> Result<&mut Run> {
        let run = self.run()?;
        if run.latent.is_none() {
            return Err(Error::Other(
                "the latent plane is drawn after the first epoch's evaluation".into(),
            ));
        }
        Ok(run)
    }

    /// The digit the model decodes at a point of the latent plane.
    pub async fn decode_point(&mut self, x: f64, y: f64) -> Result<Vec<f32>> {
        let run = self.latent_ready()?;
        let code = run.latent.as_ref().map(|l| l.projection.unproject(x, y));
        run.trainer.decode(&code.unwrap_or_default()).await
    }

    /// The digits decoded along the line between two test images' codes
    /// (`pictures::STEPS` of them, ends included).
    pub async fn interpolate(&mut self, a: usize, b: usize) -> Result<Vec<f32>> {
        let run = self.latent_ready()?;
        let codes = match &run.latent {
            Some(l) if a < l.points.len() && b < l.points.len() => {
                pictures::interpolation_codes(&l.shot, &[(a, b)])
            }
            _ => return Err(Error::Other(format!("no test images {a} and {b}"))),
        };
        run.trainer.decode(&codes).await
    }

    /// A digit drawn by hand (784 bytes, 0 background): its reconstruction and where its
    /// code lands in the latent plane (once there is one).
    pub async fn reconstruct_drawn(
        &mut self,
        pixels: &[u8],
    ) -> Result<(Vec<f32>, Option<(f64, f64)>)> {
        let shape = self.data()?.shape;
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
        let (code, rebuilt) = run.trainer.reconstruct(&Values::Bytes(pixels.to_vec())).await?;
        let point = run.latent.as_ref().map(|l| l.projection.project(&code));
        Ok((rebuilt, point))
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

    /// Loads a `model.safetensors` (trained here or natively) on `backend` and evaluates
    /// it on the test set, so that its pictures can be explored: its architecture and
    /// epoch, and the test MSE and BCE.
    pub async fn open_weights(&mut self, bytes: &[u8], backend: &str) -> Result<OpenedWeights> {
        let path = Path::new("model.safetensors");
        let meta = parse_meta(path, bytes)?;
        let arch = Arch::from_spec(&meta.arch).ok_or_else(|| Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "its architecture {:?} is not one this page builds",
                meta.arch
            ),
        })?;
        let config = TrainConfig {
            epochs: meta.epoch,
            ..TrainConfig::new(arch.clone())
        };
        let steps_per_epoch = self.data()?.train.len().div_ceil(config.batch);
        let backend = self.backend(backend)?;
        self.run = None;
        let mut trainer = Trainer::new(backend, config, self.data()?).await?;
        let flat = parse_weights(path, bytes, trainer.graph())?;
        trainer.set_params(&flat)?;
        trainer.collect_snapshots();
        let evaluation = trainer.evaluate().await?;
        let (test_mse, test_bce) = (evaluation.mse, evaluation.bce);
        let latent = trainer.take_snapshot().and_then(latent_of);
        self.run = Some(Run {
            trainer,
            epochs: 0,
            steps_per_epoch,
            last: (0.0, 0),
            latent,
            evaluating: false,
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

    /// The quick kernel check's groups on this adapter (the terminal's `check --quick`).
    pub fn check_plan(&self) -> Result<Plan> {
        let gpu = self.gpu.as_ref().ok_or_else(|| {
            Error::Other("no WebGPU adapter: there are no GPU kernels to check".into())
        })?;
        Ok(plan(true, Parallelism::of(&gpu.adapter.get_info()))?.runnable_on(gpu))
    }

    /// Runs one group of the check against the CPU reference compiled to wasm.
    pub async fn check_group(&self, plan: &Plan, index: usize) -> Result<CheckRow> {
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
        Ok(run_group(group, plan.device, &mut make).await.into())
    }

    /// Times `steps` training steps of the settings' model, dispatch by dispatch.
    pub async fn profile(&mut self, settings: &Settings, steps: usize) -> Result<ProfileReport> {
        let config = settings.config()?;
        let gpu = self.gpu.clone().ok_or_else(|| {
            Error::Other("no WebGPU adapter: profiling times GPU dispatches".into())
        })?;
        let data = limited(self.data()?, settings.limit);
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

/// MNIST as a run asks for it: the loaded set itself, or, where a limit cuts its
/// training set, a copy so cut (the loaded set stays whole, so that the next run may ask
/// for more). Without a limit nothing is copied: the set is 55 MB, in wasm's 2 GiB.
fn limited(data: &Data, limit: Option<usize>) -> Cow<'_, Data> {
    match limit {
        Some(n) if n < data.train.len() => {
            let mut train = data.train.clone();
            train.keep_first(n);
            Cow::Owned(Data {
                train,
                ..data.clone()
            })
        }
        _ => Cow::Borrowed(data),
    }
}

fn latent_of(shot: Snapshot) -> Option<Latent> {
    let projection = Projection::fit(&shot.codes, shot.code_len)?;
    let points = shot
        .codes
        .chunks_exact(shot.code_len)
        .map(|c| projection.project(c))
        .collect();
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
