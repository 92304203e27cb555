//! Kernel benchmarks: every entry point and variant on the shapes of the two autoencoders
//! (and square matmuls), GPU time from timestamp queries beside the CPU reference's time.
//! The cases come from the models themselves: both graphs are built at the benchmark's
//! batch sizes and their ops taken, one per entry point and size. `scripts/torch_peer.py`
//! reads the rows back and times the same ops in PyTorch, so `compare` can join them.

pub mod ladder;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use web_time::Instant;

use crate::backend::Backend;
use crate::cpu::backend::CpuBackend;
use crate::data::{Data, ScalingKind, Shape, Storage};
use crate::error::Result;
use crate::gpu::kernels::{variants, Measured, Variant};
use crate::gpu::{Gpu, GpuBackend};
use crate::model::{Arch, DataSizes, Fusion, Graph, GraphSpec};
use crate::ops::{
    views, Activation, AdamConfig, BufferSpec, LossActBackward, LossKind, Matmul, MatmulShape,
    NoiseKind, Op, ScoreKind,
};
use crate::report::{median, opt, table};
use crate::sample::{random_buffers, SAMPLE_STEP};
use crate::train::{TrainConfig, Trainer};

/// The CPU reference is timed only up to this much work per call; above it the row's
/// `cpu_ms` is null (a 1024³ matmul takes seconds in plain f64 loops).
pub const CPU_CAP_FLOPS: f64 = 1e9;

/// One benchmarked launch: an op on buffers of its own, and the variant it runs.
#[derive(Clone, Debug)]
pub struct Case {
    pub op: Op,
    pub variant: Variant,
}

impl Case {
    pub fn name(&self) -> &'static str {
        self.op.entry()
    }

    pub fn shape(&self) -> Vec<usize> {
        self.op.dims().iter().map(|&(_, v)| v).collect()
    }

    /// The variant the case runs, by name (`variants::Variant::name`), after the op's
    /// part of a kernel it shares with other ops: `transposed` for a transposed conv
    /// (conv2d's kernels with the roles of its two sides swapped), the activation for an
    /// elementwise activation. `-` for the one kernel of a family.
    pub fn variant_name(&self) -> String {
        let role = match &self.op {
            Op::ActivationForward(o) => Some(o.act.name()),
            Op::ActivationBackward(o) => Some(o.act.name()),
            Op::ConvTranspose2dForward(_)
            | Op::ConvTranspose2dBackwardInput(_)
            | Op::ConvTranspose2dBackwardWeight(_)
            | Op::ConvTranspose2dActForward(_)
            | Op::ConvTranspose2dBackward(_) => Some("transposed"),
            _ => None,
        };
        match (role, self.variant) {
            (Some(role), Variant::Only) => role.to_string(),
            (Some(role), v) => format!("{role} {}", v.name()),
            (None, v) => v.name(),
        }
    }

    /// `entry[dims]` without spaces, what `bench --filter` matches.
    pub fn label(&self) -> String {
        format!("{}{:?}", self.name(), self.shape()).replace(' ', "")
    }
}

/// One row of output; `None` serialises as null.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub op: String,
    pub variant: String,
    pub shape: Vec<usize>,
    /// The same sizes by name, from which the PyTorch peer rebuilds the op.
    #[serde(default)]
    pub dims: BTreeMap<String, usize>,
    /// The name of the activation a fused op applies (its `act` dim, `Activation::name`):
    /// the PyTorch peer finds torch's functions by it, so that codes stay on our side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    pub gpu_ms: Option<f64>,
    pub cpu_ms: Option<f64>,
    pub speedup: Option<f64>,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    /// "timestamp" (GPU timestamp queries) or "wallclock" (submit and wait, host clock).
    pub timing: String,
    pub repeats: usize,
    /// Whole-epoch rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images_per_second: Option<f64>,
    /// FLOP per byte of minimum traffic (kernel rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<f64>,
    /// With the card's peaks: the ceiling that bounds the kernel at its intensity
    /// ("compute" or "memory"), and the share of it the kernel reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_share: Option<f64>,
}

impl Row {
    /// Places a kernel row under the card's roofline.
    pub fn place(&mut self, peaks: &crate::peaks::Peaks, op: &Op) {
        let Some(ms) = self.gpu_ms else {
            return;
        };
        let roof = peaks.place(op.flops(), op.bytes(), ms * 1e-3);
        self.bound = Some(roof.bound.name().to_string());
        self.peak_share = Some(roof.share);
    }

    /// "12.0% mem" or "3.1% fma": the share of the ceiling that bounds the kernel.
    pub fn peak_cell(&self) -> String {
        match (self.bound.as_deref(), self.peak_share) {
            (Some(bound), Some(share)) if share.is_finite() => {
                let ceiling = if bound == "compute" { "fma" } else { "mem" };
                format!("{:.1}% {ceiling}", share * 100.0)
            }
            _ => "-".to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub quick: bool,
    pub gpu_repeats: usize,
    pub cpu_repeats: usize,
}

impl Options {
    pub fn new(quick: bool) -> Self {
        if quick {
            Options {
                quick,
                gpu_repeats: 5,
                cpu_repeats: 1,
            }
        } else {
            Options {
                quick,
                gpu_repeats: 30,
                cpu_repeats: 3,
            }
        }
    }
}

/// One case per variant of the op's family that runs it (`variants::variants`): every
/// matmul entry point and block size, every channel count of a fused conv forward, the
/// one kernel of the other families.
pub fn with_variants(op: Op) -> Vec<Case> {
    variants(&op)
        .into_iter()
        .map(|variant| Case {
            op: op.clone(),
            variant,
        })
        .collect()
}

/// The samples the models are built for: a shape, how the data is held, and the output
/// activation (a linear one for standardised rows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Input {
    pub shape: Shape,
    pub storage: Storage,
    pub output: Activation,
}

impl Input {
    /// MNIST's bytes, a Sigmoid output.
    pub const MNIST: Input = Input {
        shape: Shape::MNIST,
        storage: Storage::Bytes,
        output: Activation::Sigmoid,
    };
    /// Standardised rows as long as MNIST's images: the float gather and the linear
    /// output, at sizes whose every other op MNIST's models already have.
    pub const ROWS: Input = Input {
        shape: Shape::rows(784),
        storage: Storage::Floats,
        output: Activation::Identity,
    };

    /// The input of a dataset's samples.
    pub fn of(data: &Data) -> Input {
        let standardised = data
            .scaling
            .as_ref()
            .is_some_and(|s| s.kind == ScalingKind::Standardize);
        Input {
            shape: data.shape,
            storage: data.train.values.storage(),
            output: match standardised {
                true => Activation::Identity,
                false => Activation::Sigmoid,
            },
        }
    }
}

/// Every op of the autoencoders (fused and unfused, trained with either loss, and
/// evaluated; the VAE and a sparse model too) at a batch size, on MNIST and on
/// standardised rows, once per entry point and size, each on buffers of its own: the
/// fused kernels beside the ones they replace.
pub fn model_ops(batch: usize) -> Result<Vec<Op>> {
    model_ops_at(batch, &[Input::MNIST, Input::ROWS])
}

/// `model_ops` for these inputs: every model that takes each (the conv models take only
/// images), with every loss its output allows (a linear output only the MSE).
pub fn model_ops_at(batch: usize, inputs: &[Input]) -> Result<Vec<Op>> {
    let mut seen = BTreeSet::new();
    let mut ops = Vec::new();
    // Both autoencoders with either loss, the VAE (its loss is BCE's), and a sparse
    // dense model (`--l1`), each fused and unfused.
    let vae = Arch::vae(crate::model::DEFAULT_VAE_LAYERS.to_vec());
    let models = [
        (Arch::default_dense(), LossKind::Mse, 0.0),
        (Arch::default_dense(), LossKind::Bce, 0.0),
        (Arch::default_conv(), LossKind::Mse, 0.0),
        (Arch::default_conv(), LossKind::Bce, 0.0),
        (vae, LossKind::Bce, 0.0),
        (Arch::default_dense(), LossKind::Mse, 1e-5),
    ];
    let fitted = inputs.iter().flat_map(|input| {
        models.iter().filter_map(move |(arch, loss, l1)| {
            let arch = arch
                .clone()
                .with_input(input.shape)
                .with_output(input.output);
            let takes = arch.problem().is_none()
                && (input.output == Activation::Sigmoid || *loss == LossKind::Mse);
            takes.then_some((arch, *loss, *l1, input.storage))
        })
    });
    for (arch, loss, l1, storage) in fitted {
        for fusion in [Fusion::Fused, Fusion::Unfused] {
            // A dataset of a few batches: the gather reads only its own rows anyway.
            let sizes = DataSizes {
                storage,
                ..DataSizes::bytes(4 * batch, batch)
            };
            let spec = GraphSpec {
                fusion,
                l1,
                ..GraphSpec::new(&arch, batch, loss, AdamConfig::new(1e-3), sizes)
            };
            let graph = Graph::build_with(&spec)?;
            // The scoring programs' own ops (each sample's score), after evaluation's.
            let scoring: Vec<Op> = [ScoreKind::Mse, ScoreKind::Bce, ScoreKind::Elbo]
                .into_iter()
                .filter_map(|kind| graph.score_ops(kind))
                .flatten()
                .collect();
            for op in graph.train.iter().chain(&graph.eval).chain(&scoring) {
                // A linear output's fused loss comes with the BCE's twin, which the family
                // offers though no model trains a linear output on it.
                let twin = match op {
                    Op::LossActBackward(o) if o.act == Activation::Identity => {
                        Some(Op::from(LossActBackward {
                            loss: LossKind::Bce,
                            ..o.clone()
                        }))
                    }
                    _ => None,
                };
                for op in std::iter::once(op).chain(twin.as_ref()) {
                    if seen.insert((op.entry(), op.dims())) {
                        ops.push(op.standalone());
                    }
                }
            }
        }
    }
    // The noise a denoising autoencoder adds (`--noise`), both kinds.
    for noise in [NoiseKind::Gaussian { std: 0.5 }, NoiseKind::Mask { p: 0.3 }] {
        let sizes = DataSizes::bytes(4 * batch, batch);
        let spec = GraphSpec {
            noise: Some(noise),
            ..GraphSpec::new(
                &Arch::default_dense(),
                batch,
                LossKind::Mse,
                AdamConfig::new(1e-3),
                sizes,
            )
        };
        let graph = Graph::build_with(&spec)?;
        for op in graph.train.iter().filter(|op| matches!(op, Op::Corrupt(_))) {
            if seen.insert((op.entry(), op.dims())) {
                ops.push(op.standalone());
            }
        }
    }
    Ok(ops)
}

/// The sizes of the square products the full benchmark times (and `tune --all` tunes).
pub const SQUARES: [usize; 5] = [256, 512, 1024, 2048, 4096];

/// Square products of these sizes, each on buffers of its own.
pub fn squares(sizes: &[usize]) -> Vec<Op> {
    sizes
        .iter()
        .map(|&n| {
            let shape = MatmulShape::new(n, n, n);
            let v = views(&[shape.a_len(), shape.b_len(), shape.c_len()]);
            Op::from(Matmul::new(v[0], v[1], v[2], shape, Default::default()))
        })
        .collect()
}

pub fn cases(quick: bool) -> Result<Vec<Case>> {
    let sizes: &[usize] = if quick { &[64, 128] } else { &SQUARES };
    let batches: &[usize] = if quick { &[8] } else { &[128, 1024] };
    let mut ops = squares(sizes);
    for &b in batches {
        ops.extend(model_ops(b)?);
    }
    Ok(ops.into_iter().flat_map(with_variants).collect())
}

async fn load(backend: &mut dyn Backend, op: &Op, init: &[Vec<u32>]) -> Result<()> {
    let specs: Vec<BufferSpec> = init
        .iter()
        .zip(op.bindings())
        .map(|(b, binding)| BufferSpec {
            name: format!("{}.{}", op.entry(), binding.name),
            len: b.len(),
        })
        .collect();
    backend.alloc(&specs).await?;
    for (i, data) in init.iter().enumerate() {
        backend.write(i, 0, data)?;
    }
    backend.compile("bench", std::slice::from_ref(op)).await
}

/// Median milliseconds of one launch on a backend: per-op times from its profiler (GPU
/// timestamps, or the CPU clock around each reference call), after a warm-up launch.
/// Without GPU timestamps, the host clock around a submit and a waiting poll instead.
async fn time_op(
    backend: &mut dyn Backend,
    op: &Op,
    init: &[Vec<u32>],
    repeats: usize,
) -> Result<(f64, &'static str)> {
    let timing = backend.timing();
    if timing.is_some() {
        backend.set_profiling(true)?;
    }
    load(backend, op, init).await?;
    let one = [SAMPLE_STEP];
    // First-use costs (pipeline creation, page faults) are not the kernel's.
    backend.run("bench", None, &one).await?;
    backend.finish().await?;
    match timing {
        Some(timing) => {
            backend.take_times().await?;
            let steps = vec![one[0]; repeats.min(crate::gpu::backend::MAX_STEPS_PER_SUBMIT)];
            backend.run("bench", None, &steps).await?;
            let ms: Vec<f64> = backend
                .take_times()
                .await?
                .iter()
                .map(|t| t.nanos / 1e6)
                .collect();
            Ok((median(&ms), timing.name()))
        }
        None => {
            let mut ms = Vec::new();
            for _ in 0..repeats {
                let start = Instant::now();
                backend.run("bench", None, &one).await?;
                backend.finish().await?;
                ms.push(start.elapsed().as_secs_f64() * 1e3);
            }
            Ok((median(&ms), "wallclock"))
        }
    }
}

/// Times `case` on the GPU, and its op on the CPU reference unless `cpu_times` already
/// holds that op's time: the reference is the same whatever the variant, so one timing
/// serves every variant's row of a shape (`Measured::key`).
pub async fn run_case(
    gpu: &Arc<Gpu>,
    case: &Case,
    opts: &Options,
    cpu_times: &mut BTreeMap<String, Option<f64>>,
) -> Result<Row> {
    let init = random_buffers(&case.op, 7);
    let (gpu_ms, timing) = time_op(
        &mut GpuBackend::with_variant(gpu.clone(), Some(case.variant)),
        &case.op,
        &init,
        opts.gpu_repeats,
    )
    .await?;
    let flops = case.op.flops();
    let key = Measured::key(&case.op);
    let cpu_ms = match cpu_times.get(&key) {
        Some(known) => *known,
        None if flops <= CPU_CAP_FLOPS => {
            let mut cpu = CpuBackend::new();
            Some(
                time_op(&mut cpu, &case.op, &init, opts.cpu_repeats)
                    .await?
                    .0,
            )
        }
        None => None,
    };
    cpu_times.insert(key, cpu_ms);
    let dims: BTreeMap<String, usize> = case
        .op
        .dims()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let activation = dims
        .get("act")
        .and_then(|&code| Activation::from_code(code));
    Ok(Row {
        op: case.name().to_string(),
        variant: case.variant_name(),
        shape: case.shape(),
        dims,
        activation: activation.map(|a| a.name().to_string()),
        gpu_ms: Some(gpu_ms),
        cpu_ms,
        speedup: cpu_ms.map(|c| c / gpu_ms),
        gflops: Some(flops / (gpu_ms * 1e-3) / 1e9),
        gbps: Some(case.op.bytes() / (gpu_ms * 1e-3) / 1e9),
        timing: timing.to_string(),
        repeats: opts.gpu_repeats,
        images_per_second: None,
        intensity: Some(flops / case.op.bytes()),
        bound: None,
        peak_share: None,
    })
}

/// Whole training epochs on the GPU: both models at each batch size, running the
/// `measured` variants where they hold (the heuristic's elsewhere), after one warm-up
/// epoch, the best of `timed` epochs (as the PyTorch peer does). The epoch's time is host
/// wall time from the first submit to the loss readback, so it includes all overheads.
pub async fn train_rows(
    gpu: &Arc<Gpu>,
    data: &Data,
    archs: &[Arch],
    batches: &[usize],
    timed: usize,
    measured: &Measured,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for arch in archs {
        for &batch in batches {
            let config = TrainConfig {
                epochs: 1 + timed,
                batch,
                ..TrainConfig::new(arch.clone())
            };
            let mut backend = Box::new(GpuBackend::new(gpu.clone()));
            backend.set_measured(measured.clone());
            let mut trainer = Trainer::new(backend, config, data).await?;
            trainer.epoch().await?;
            let mut best = f64::INFINITY;
            for _ in 0..timed {
                best = best.min(trainer.epoch().await?.seconds);
            }
            let images = data.train.len();
            let step_flops: f64 = trainer.graph().train.iter().map(Op::flops).sum();
            let step_bytes: f64 = trainer.graph().train.iter().map(Op::bytes).sum();
            let steps = images as f64 / batch as f64;
            rows.push(Row {
                op: format!("train_epoch/{}", arch.name()),
                variant: "-".into(),
                shape: vec![images, batch],
                dims: BTreeMap::from([("images".into(), images), ("batch".into(), batch)]),
                activation: None,
                gpu_ms: Some(best * 1e3),
                cpu_ms: None,
                speedup: None,
                gflops: Some(step_flops * steps / best / 1e9),
                gbps: Some(step_bytes * steps / best / 1e9),
                timing: "wallclock".into(),
                repeats: timed,
                images_per_second: Some(images as f64 / best),
                intensity: None,
                bound: None,
                peak_share: None,
            });
        }
    }
    Ok(rows)
}

pub fn render(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.op.clone(),
                r.variant.clone(),
                format!("{:?}", r.shape).replace(' ', ""),
                opt(r.gpu_ms, 4),
                opt(r.cpu_ms, 3),
                opt(r.speedup, 1),
                opt(r.gflops, 1),
                opt(r.gbps, 1),
                opt(r.intensity, 2),
                r.peak_cell(),
                r.timing.clone(),
            ]
        })
        .collect();
    table(
        &[
            "op", "variant", "shape", "gpu ms", "cpu ms", "speedup", "GFLOP/s", "GB/s", "FLOP/B",
            "of peak", "timing",
        ],
        &cells,
        3,
    )
}
