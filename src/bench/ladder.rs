//! The kernel ladder, timed: every rung of a family (`gpu::kernels::ladder`) at one
//! representative shape, as `bench --ladder` prints it and the page's "Climb the ladder"
//! panel draws it. A rung's row is its own kernels on the shape's ops: for each op, the
//! fastest of the rung's variants that runs it, their times summed. The matmul ladder
//! times one square product; the conv ladder the three products (and the fused stages)
//! of the conv autoencoder's largest conv2d layer, where the rungs that rewrite only the
//! forward or only the backward time only those: GFLOP/s puts them on one scale.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{model_ops_at, run_case, squares, Case, Input, Options};
use crate::error::{Error, Result};
use crate::gpu::kernels::ladder::{rung_of, rungs, Family, Rung};
use crate::gpu::kernels::{variants, Measured};
use crate::gpu::Gpu;
use crate::ops::{Conv2dShape, Op};
use crate::peaks::Peaks;
use crate::report::{opt, table};

/// The square matmul the ladder times, and its quick size (lavapipe, CI, the page's first
/// climb).
pub const MATMUL_SIZE: usize = 1024;
pub const MATMUL_QUICK: usize = 128;
/// The batch the conv ladder's layer runs at, and its quick batch.
pub const CONV_BATCH: usize = 128;
pub const CONV_QUICK: usize = 8;

/// About how long a rung's kernel is timed for, at most `Options::gpu_repeats` launches.
const REPEAT_BUDGET_MS: f64 = 1000.0;

/// A rung and its cases at the ladder's shape.
#[derive(Clone, Debug)]
pub struct Step {
    pub rung: &'static Rung,
    pub cases: Vec<Case>,
}

/// One timed rung.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LadderRow {
    pub family: String,
    pub step: usize,
    pub rung: String,
    /// The rung's WGSL file, from the repository's root.
    pub file: String,
    /// The one-line idea from the file's header.
    pub idea: String,
    /// What was timed: `matmul 1024×1024×1024 (M×K×N)`, or the conv layer.
    pub shape: String,
    /// The fastest of the rung's variants for each op, `op variant`.
    pub variants: Vec<String>,
    /// `None` where the adapter runs none of the rung's kernels (subgroups).
    pub gpu_ms: Option<f64>,
    pub gflops: Option<f64>,
    /// Of the card's measured fp32 FMA peak (`bench --peak`).
    pub peak_share: Option<f64>,
    /// Of the fastest rung's GFLOP/s.
    pub best_share: Option<f64>,
    /// "timestamp" or "wallclock", as bench's rows.
    pub timing: String,
    /// Whether every case matched the CPU reference, where the rung was checked first
    /// (the page checks; `bench` leaves checking to `check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    /// The first mismatch, where the check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The ops the ladder of `family` times, at the full or quick size.
fn ops(family: Family, quick: bool) -> Result<Vec<Op>> {
    match family {
        Family::Matmul => Ok(squares(&[if quick { MATMUL_QUICK } else { MATMUL_SIZE }])),
        Family::Conv2d => conv_layer_ops(if quick { CONV_QUICK } else { CONV_BATCH }),
    }
}

/// The conv autoencoder's ops of its conv2d layer with the most FLOPs, at `batch`: the
/// unfused products (rung 1's, and the implicit GEMM's forward) and the fused stage's
/// forward and backward (the other rungs'). The transposed convs run on the same
/// kernels, adjoint; the ladder keeps to the plain conv2d, where every rung applies.
fn conv_layer_ops(batch: usize) -> Result<Vec<Op>> {
    let all = model_ops_at(batch, &[Input::MNIST])?;
    let layer = all
        .iter()
        .filter(|op| matches!(op, Op::Conv2dActForward(_)))
        .max_by(|a, b| a.flops().total_cmp(&b.flops()))
        .and_then(conv2d_shape)
        .ok_or_else(|| Error::Other("the conv autoencoder has no conv2d layer".into()))?;
    let of_layer = |op: &&Op| match op {
        Op::Conv2dBackwardBias(o) => {
            (o.n, o.o, o.hw) == (layer.n, layer.o, layer.out_h() * layer.out_w())
        }
        _ => conv2d_shape(op) == Some(layer),
    };
    Ok(all.iter().filter(of_layer).cloned().collect())
}

/// A conv2d op's sizes (not a transposed conv's).
fn conv2d_shape(op: &Op) -> Option<Conv2dShape> {
    match op {
        Op::Conv2dForward(o) => Some(o.shape),
        Op::Conv2dBackwardInput(o) => Some(o.shape),
        Op::Conv2dBackwardWeight(o) => Some(o.shape),
        Op::Conv2dActForward(o) => Some(o.shape),
        Op::Conv2dBackward(o) => Some(o.shape),
        _ => None,
    }
}

/// A family's ladder at one size: what it times, and each rung with its cases.
#[derive(Clone, Debug)]
pub struct Ladder {
    /// What was timed, for titles: the product's sizes, or the layer's.
    pub shape: String,
    /// The rungs in teaching order, each with its variants of the shape's ops.
    pub steps: Vec<Step>,
}

/// The ladder of `family` at its full or quick size.
pub fn ladder(family: Family, quick: bool) -> Result<Ladder> {
    let ops = ops(family, quick)?;
    let steps = rungs(family)
        .map(|rung| {
            let cases = ops
                .iter()
                .flat_map(|op| {
                    variants(op)
                        .into_iter()
                        .filter(|&v| rung_of(op, v) == Some(rung))
                        .map(|variant| Case {
                            op: op.clone(),
                            variant,
                        })
                })
                .collect();
            Step { rung, cases }
        })
        .collect();
    let shape = match ops.first() {
        Some(Op::Matmul(o)) => format!("matmul {}×{}×{} (M×K×N)", o.shape.m, o.shape.k, o.shape.n),
        _ => match ops.iter().find_map(conv2d_shape) {
            Some(s) => format!(
                "conv2d [{},{},{},{}]->{} k{} s{} p{}",
                s.n, s.c, s.h, s.w, s.o, s.kh, s.stride, s.pad
            ),
            None => family.name().to_string(),
        },
    };
    Ok(Ladder { shape, steps })
}

/// Times a rung's cases that the adapter runs: for each op, the fastest of the rung's
/// variants. The CPU reference is not timed (`check` compares; `bench` times it).
pub async fn time_step(
    gpu: &Arc<Gpu>,
    step: &Step,
    shape: &str,
    opts: &Options,
) -> Result<LadderRow> {
    let mut best: BTreeMap<String, (f64, f64, String)> = BTreeMap::new();
    let mut timing = String::new();
    for case in step.cases.iter().filter(|c| gpu.runs(c.variant)) {
        // Known as untimed: run_case skips the reference for an op it already holds.
        let mut no_cpu = BTreeMap::from([(Measured::key(&case.op), None)]);
        // One timed launch first: a slow rung (the naive matmul at 1024³ takes seconds on
        // lavapipe) repeats only as often as fits in about a second.
        let probe = Options {
            gpu_repeats: 1,
            ..*opts
        };
        let mut row = run_case(gpu, case, &probe, &mut no_cpu).await?;
        let once_ms = row.gpu_ms.unwrap_or(f64::INFINITY);
        let repeats = ((REPEAT_BUDGET_MS / once_ms) as usize).min(opts.gpu_repeats);
        if repeats > 1 {
            let opts = Options {
                gpu_repeats: repeats,
                ..*opts
            };
            row = run_case(gpu, case, &opts, &mut no_cpu).await?;
        }
        let ms = row.gpu_ms.unwrap_or(f64::INFINITY);
        timing = row.timing;
        let key = Measured::key(&case.op);
        let named = match case.variant_name().as_str() {
            "-" => case.name().to_string(),
            variant => format!("{} {variant}", case.name()),
        };
        if best.get(&key).is_none_or(|(known, _, _)| ms < *known) {
            best.insert(key, (ms, case.op.flops(), named));
        }
    }
    let (ms, flops): (f64, f64) = best
        .values()
        .map(|(ms, f, _)| (*ms, *f))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let timed = !best.is_empty();
    Ok(LadderRow {
        family: step.rung.family.name().to_string(),
        step: step.rung.step,
        rung: step.rung.slug.to_string(),
        file: step.rung.path(),
        idea: step.rung.idea(),
        shape: shape.to_string(),
        variants: best.into_values().map(|(_, _, named)| named).collect(),
        gpu_ms: timed.then_some(ms),
        gflops: timed.then(|| flops / (ms * 1e-3) / 1e9),
        peak_share: None,
        best_share: None,
        timing,
        checked: None,
        failure: None,
    })
}

/// Fills each row's shares: of the card's FMA peak, and of the fastest rung.
pub fn place(rows: &mut [LadderRow], peaks: Option<&Peaks>) {
    let best = rows.iter().filter_map(|r| r.gflops).fold(0.0, f64::max);
    for row in rows.iter_mut() {
        if let Some(g) = row.gflops {
            row.best_share = (best > 0.0).then_some(g / best);
            row.peak_share = peaks
                .filter(|p| p.fma_gflops > 0.0)
                .map(|p| g / p.fma_gflops);
        }
    }
}

/// The rows as a table, then each rung's idea under its number.
pub fn render(rows: &[LadderRow]) -> String {
    let percent = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{:.1}%", 100.0 * s));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{} {}", r.step, r.rung),
                match r.gpu_ms {
                    Some(_) => r.variants.join(", "),
                    None => "not on this adapter".into(),
                },
                opt(r.gpu_ms, 3),
                opt(r.gflops, 1),
                percent(r.peak_share),
                percent(r.best_share),
            ]
        })
        .collect();
    let header = [
        "rung",
        "fastest variants",
        "gpu ms",
        "GFLOP/s",
        "of peak",
        "of best",
    ];
    let mut out = table(&header, &cells, 2);
    out.push('\n');
    for r in rows {
        out += &format!("{} {}: {}\n", r.step, r.rung, r.idea);
    }
    out
}
