//! Kernel benchmarks: every entry point and variant on the shapes of the two autoencoders
//! (and square matmuls), GPU time from timestamp queries beside the CPU reference's time.
//! Row names and shapes follow `shared/device/torch_peer.py`, so `compare` can join them.

use std::sync::Arc;
use std::time::Instant;

use crate::backend::{Backend, BufferSpec};
use crate::cpu::backend::CpuBackend;
use crate::cpu::conv2d::Conv2dShape;
use crate::cpu::conv_transpose2d::ConvTranspose2dShape;
use crate::cpu::matmul::MatmulShape;
use crate::cpu::optim::AdamConfig;
use crate::cpu::pool::Pool2dShape;
use crate::data::Mnist;
use crate::error::Result;
use crate::gpu::{Gpu, GpuBackend};
use crate::model::ops::{Activation, LossKind, MatmulVariant, Op, StepParams};
use crate::model::Arch;
use crate::report::{median, opt, table};
use crate::sample::{random_buffers, views};
use crate::train::{TrainConfig, Trainer};

/// The CPU reference is timed only up to this much work per call; above it the row's
/// `cpu_ms` is null (a 1024³ matmul takes seconds in plain f64 loops).
pub const CPU_CAP_FLOPS: f64 = 1e9;

/// One benchmarked launch: the op over buffers 0.. in view order, and how to fill them.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub variant: String,
    pub shape: Vec<usize>,
    pub op: Op,
}

/// One row of output; `None` serialises as null.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub op: String,
    pub variant: String,
    pub shape: Vec<usize>,
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

fn matmul_case(name: &str, shape: MatmulShape, variant: MatmulVariant) -> Case {
    let v = views(&[shape.a_len(), shape.b_len(), shape.c_len()]);
    Case {
        name: name.to_string(),
        variant: variant.name().to_string(),
        shape: vec![shape.m, shape.k, shape.n],
        op: Op::Matmul {
            a: v[0],
            b: v[1],
            c: v[2],
            shape,
            variant,
        },
    }
}

fn case(name: String, shape: Vec<usize>, op: Op) -> Case {
    Case {
        name,
        variant: "-".to_string(),
        shape,
        op,
    }
}

/// The dense autoencoder's Linear layers as (in, out).
const DENSE_LAYERS: [(usize, usize); 6] = [
    (784, 100),
    (100, 200),
    (200, 30),
    (30, 200),
    (200, 100),
    (100, 784),
];
/// The conv autoencoder's convolutions: (name, in channels, out channels, side), 3×3 pad 1.
const CONVS: [(&str, usize, usize, usize); 3] = [
    ("conv1", 1, 16, 28),
    ("conv2", 16, 8, 14),
    ("conv_out", 16, 1, 28),
];
/// Its transposed convolutions: 3×3, stride 2, pad 1, output padding 1, from the input side.
const TCONVS: [(&str, usize, usize, usize); 2] = [("tconv1", 8, 8, 7), ("tconv2", 8, 16, 14)];
const POOLS: [(&str, usize, usize); 2] = [("pool1", 16, 28), ("pool2", 8, 14)];

pub fn cases(quick: bool) -> Vec<Case> {
    let mut out = Vec::new();
    let squares: &[usize] = if quick {
        &[64, 128]
    } else {
        &[256, 512, 1024, 2048, 4096]
    };
    let batches: &[usize] = if quick { &[8] } else { &[128, 1024] };
    for &n in squares {
        for variant in MatmulVariant::ALL {
            out.push(matmul_case("matmul", MatmulShape::new(n, n, n), variant));
        }
    }
    for &b in batches {
        dense_cases(&mut out, b);
        conv_cases(&mut out, b);
    }
    // Adam over each model's parameters (210,214 dense, 3,217 conv), whatever the batch.
    for (model, params) in [("dense", 210_214), ("conv", 3_217)] {
        let v = views(&[params; 4]);
        let op = Op::AdamUpdate {
            grad: v[0],
            param: v[1],
            m: v[2],
            v: v[3],
            config: AdamConfig::new(1e-3),
        };
        out.push(case(format!("adam_update/{model}"), vec![params], op));
    }
    out
}

/// Per Linear layer: the forward's x·Wᵀ, and the backward's dy·W and dyᵀ·x, as the plain
/// product (`matmul`, which the PyTorch peer also times) and the transposed ones.
fn dense_cases(out: &mut Vec<Case>, b: usize) {
    for (i, o) in DENSE_LAYERS {
        for variant in MatmulVariant::ALL {
            out.push(matmul_case("matmul", MatmulShape::new(b, i, o), variant));
            let nt = MatmulShape {
                trans_b: true,
                ..MatmulShape::new(b, i, o)
            };
            out.push(matmul_case("matmul_nt", nt, variant));
            let tn = MatmulShape {
                trans_a: true,
                ..MatmulShape::new(o, b, i)
            };
            out.push(matmul_case("matmul_tn", tn, variant));
        }
    }
    for (i, o) in [(784, 100), (100, 784)] {
        let (len, shape) = (b * o, vec![b, o]);
        let v = views(&[len, o, len]);
        out.push(case(
            format!("bias_forward/{i}x{o}"),
            shape.clone(),
            Op::BiasForward {
                x: v[0],
                b: v[1],
                y: v[2],
                rows: b,
                cols: o,
            },
        ));
        out.push(case(
            format!("bias_backward/{i}x{o}"),
            shape.clone(),
            Op::BiasBackward {
                dy: v[0],
                db: v[1],
                rows: b,
                cols: o,
            },
        ));
        let act = if o == 784 {
            Activation::Sigmoid
        } else {
            Activation::Relu
        };
        let tag = if o == 784 { "sigmoid" } else { "relu" };
        let v = views(&[len, len, len]);
        out.push(case(
            format!("{tag}_forward/{i}x{o}"),
            shape.clone(),
            Op::ActivationForward {
                act,
                x: v[0],
                y: v[1],
            },
        ));
        out.push(case(
            format!("{tag}_backward/{i}x{o}"),
            shape,
            Op::ActivationBackward {
                act,
                y: v[0],
                dy: v[1],
                dx: v[2],
            },
        ));
    }
    let len = b * 784;
    for loss in [LossKind::Mse, LossKind::Bce] {
        let tag = if loss == LossKind::Mse { "mse" } else { "bce" };
        let v = views(&[len, len, 1, 1]);
        let op = Op::LossForward {
            loss,
            y: v[0],
            t: v[1],
            value: v[2],
            total: v[3],
            rows: b,
        };
        out.push(case(format!("{tag}_forward"), vec![b, 784], op));
        let v = views(&[len, len, len]);
        out.push(case(
            format!("{tag}_backward"),
            vec![b, 784],
            Op::LossBackward {
                loss,
                y: v[0],
                t: v[1],
                dy: v[2],
            },
        ));
    }
    let images = b * 4;
    let v = views(&[(images * 784).div_ceil(4), images, len]);
    out.push(case(
        "gather_batch".into(),
        vec![b, 784],
        Op::GatherBatch {
            data: v[0],
            perm: v[1],
            x: v[2],
            rows: b,
            cols: 784,
        },
    ));
}

fn conv_cases(out: &mut Vec<Case>, b: usize) {
    for (name, c, o, side) in CONVS {
        let s = Conv2dShape {
            n: b,
            c,
            h: side,
            w: side,
            o,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        };
        let shape = vec![b, c, side, side, o];
        let v = views(&[s.x_len(), s.w_len(), s.o, s.y_len()]);
        out.push(case(
            format!("conv2d_forward/{name}"),
            shape.clone(),
            Op::Conv2dForward {
                x: v[0],
                w: v[1],
                b: v[2],
                y: v[3],
                shape: s,
            },
        ));
        let v = views(&[s.y_len(), s.w_len(), s.x_len()]);
        out.push(case(
            format!("conv2d_backward_input/{name}"),
            shape.clone(),
            Op::Conv2dBackwardInput {
                dy: v[0],
                w: v[1],
                dx: v[2],
                shape: s,
            },
        ));
        let v = views(&[s.x_len(), s.y_len(), s.w_len()]);
        out.push(case(
            format!("conv2d_backward_weight/{name}"),
            shape.clone(),
            Op::Conv2dBackwardWeight {
                x: v[0],
                dy: v[1],
                dw: v[2],
                shape: s,
            },
        ));
        let v = views(&[s.y_len(), s.o]);
        let op = Op::Conv2dBackwardBias {
            dy: v[0],
            db: v[1],
            n: b,
            o,
            hw: side * side,
        };
        out.push(case(format!("conv2d_backward_bias/{name}"), shape, op));
    }
    for (name, c, o, side) in TCONVS {
        let s = ConvTranspose2dShape {
            n: b,
            c,
            h: side,
            w: side,
            o,
            kh: 3,
            kw: 3,
            stride: 2,
            pad: 1,
            out_pad: 1,
        };
        let shape = vec![b, c, side, side, o];
        let v = views(&[s.x_len(), s.w_len(), s.o, s.y_len()]);
        let op = Op::ConvTranspose2dForward {
            x: v[0],
            w: v[1],
            b: v[2],
            y: v[3],
            shape: s,
        };
        out.push(case(
            format!("conv_transpose2d_forward/{name}"),
            shape.clone(),
            op,
        ));
        let v = views(&[s.y_len(), s.w_len(), s.x_len()]);
        let op = Op::ConvTranspose2dBackwardInput {
            dy: v[0],
            w: v[1],
            dx: v[2],
            shape: s,
        };
        out.push(case(
            format!("conv_transpose2d_backward_input/{name}"),
            shape.clone(),
            op,
        ));
        let v = views(&[s.x_len(), s.y_len(), s.w_len()]);
        let op = Op::ConvTranspose2dBackwardWeight {
            x: v[0],
            dy: v[1],
            dw: v[2],
            shape: s,
        };
        out.push(case(
            format!("conv_transpose2d_backward_weight/{name}"),
            shape,
            op,
        ));
    }
    for (name, c, side) in POOLS {
        let s = Pool2dShape {
            n: b,
            c,
            h: side,
            w: side,
            k: 2,
            stride: 2,
        };
        let shape = vec![b, c, side, side];
        let v = views(&[s.x_len(), s.y_len(), s.y_len()]);
        out.push(case(
            format!("max_pool2d_forward/{name}"),
            shape.clone(),
            Op::MaxPool2dForward {
                x: v[0],
                y: v[1],
                idx: v[2],
                shape: s,
            },
        ));
        let v = views(&[s.y_len(), s.y_len(), s.x_len()]);
        out.push(case(
            format!("max_pool2d_backward/{name}"),
            shape,
            Op::MaxPool2dBackward {
                dy: v[0],
                idx: v[1],
                dx: v[2],
                shape: s,
            },
        ));
    }
}

fn load(backend: &mut dyn Backend, op: &Op, init: &[Vec<u32>]) -> Result<()> {
    let specs: Vec<BufferSpec> = init
        .iter()
        .enumerate()
        .map(|(i, b)| BufferSpec {
            name: format!("{}#{i}", op.entry()),
            len: b.len(),
        })
        .collect();
    backend.alloc(&specs)?;
    for (i, data) in init.iter().enumerate() {
        backend.write(i, 0, data)?;
    }
    backend.compile("bench", std::slice::from_ref(op))
}

/// Median milliseconds of one launch on a backend: per-op times from its profiler (GPU
/// timestamps, or the CPU clock around each reference call), after a warm-up launch.
/// Without GPU timestamps, the host clock around a submit and a waiting poll instead.
fn time_op(
    backend: &mut dyn Backend,
    op: &Op,
    init: &[Vec<u32>],
    repeats: usize,
) -> Result<(f64, &'static str)> {
    let timed = backend.set_profiling(true).is_ok();
    load(backend, op, init)?;
    let ops = std::slice::from_ref(op);
    let one = [StepParams {
        bias_correction1: 0.1,
        bias_correction2: 0.001,
        ..Default::default()
    }];
    // First-use costs (pipeline creation, page faults) are not the kernel's.
    backend.run("bench", ops, &one)?;
    backend.finish()?;
    if timed {
        backend.take_times()?;
        let steps = vec![one[0]; repeats.min(crate::gpu::backend::MAX_STEPS_PER_SUBMIT)];
        backend.run("bench", ops, &steps)?;
        let ms: Vec<f64> = backend
            .take_times()?
            .iter()
            .map(|t| t.nanos / 1e6)
            .collect();
        Ok((median(&ms), backend.timing()))
    } else {
        let mut ms = Vec::new();
        for _ in 0..repeats {
            let start = Instant::now();
            backend.run("bench", ops, &one)?;
            backend.finish()?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok((median(&ms), "wallclock"))
    }
}

pub fn run_case(gpu: &Arc<Gpu>, case: &Case, opts: &Options) -> Result<Row> {
    let init = random_buffers(&case.op, 7);
    let (gpu_ms, timing) = time_op(
        &mut GpuBackend::new(gpu.clone()),
        &case.op,
        &init,
        opts.gpu_repeats,
    )?;
    let flops = case.op.flops();
    let cpu_ms = if flops <= CPU_CAP_FLOPS {
        Some(time_op(&mut CpuBackend::new(), &case.op, &init, opts.cpu_repeats)?.0)
    } else {
        None
    };
    Ok(Row {
        op: case.name.clone(),
        variant: case.variant.clone(),
        shape: case.shape.clone(),
        gpu_ms: Some(gpu_ms),
        cpu_ms,
        speedup: cpu_ms.map(|c| c / gpu_ms),
        gflops: Some(flops / (gpu_ms * 1e-3) / 1e9),
        gbps: Some(case.op.bytes() / (gpu_ms * 1e-3) / 1e9),
        timing: timing.to_string(),
        repeats: opts.gpu_repeats,
        images_per_second: None,
    })
}

/// Whole training epochs on the GPU: both models at each batch size, after one warm-up
/// epoch, the best of `timed` epochs (as the PyTorch peer does). The epoch's time is host
/// wall time from the first submit to the loss readback, so it includes all overheads.
pub fn train_rows(
    gpu: &Arc<Gpu>,
    data: &Mnist,
    batches: &[usize],
    timed: usize,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for arch in [
        Arch::Dense {
            layers: vec![100, 200, 30],
        },
        Arch::Conv {
            channels: vec![16, 8],
        },
    ] {
        for &batch in batches {
            let config = TrainConfig {
                arch: arch.clone(),
                epochs: 1 + timed,
                batch,
                lr: 1e-3,
                loss: LossKind::Mse,
                seed: 0,
            };
            let mut backend = GpuBackend::new(gpu.clone());
            let mut trainer = Trainer::new(&mut backend, config, data)?;
            trainer.epoch()?;
            let mut best = f64::INFINITY;
            for _ in 0..timed {
                best = best.min(trainer.epoch()?.seconds);
            }
            let images = data.train.len();
            let step_flops: f64 = trainer.graph().train.iter().map(Op::flops).sum();
            let step_bytes: f64 = trainer.graph().train.iter().map(Op::bytes).sum();
            let steps = images as f64 / batch as f64;
            rows.push(Row {
                op: format!("train_epoch/{}", arch.name()),
                variant: "-".into(),
                shape: vec![images, batch],
                gpu_ms: Some(best * 1e3),
                cpu_ms: None,
                speedup: None,
                gflops: Some(step_flops * steps / best / 1e9),
                gbps: Some(step_bytes * steps / best / 1e9),
                timing: "wallclock".into(),
                repeats: timed,
                images_per_second: Some(images as f64 / best),
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
                r.timing.clone(),
            ]
        })
        .collect();
    table(
        &[
            "op", "variant", "shape", "gpu ms", "cpu ms", "speedup", "GFLOP/s", "GB/s", "timing",
        ],
        &cells,
        3,
    )
}
