//! `profile`: where a training step's time goes, dispatch by dispatch.
//!
//! It runs a few warm-up steps, then times `steps` steps by the host clock (submit to
//! finish) without timestamps, then the same number again with a timestamp around every
//! dispatch. The GPU-busy fraction is the summed dispatch time over the wall time: what is
//! missing is host overhead and gaps between dispatches.

use std::time::Instant;

use crate::backend::Backend;
use crate::data::Mnist;
use crate::error::Result;
use crate::model::Arch;
use crate::ops::LossKind;
use crate::report::{median, opt, table};
use crate::train::{TrainConfig, Trainer};

#[derive(Clone, Debug, serde::Serialize)]
pub struct DispatchRow {
    /// Position of the dispatch within the step.
    pub index: usize,
    pub kernel: String,
    pub shape: String,
    pub calls: usize,
    pub total_ms: f64,
    pub median_ms: f64,
    /// Fraction of the step's summed dispatch time.
    pub share: f64,
    pub gflops: f64,
    pub gbps: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Profile {
    pub model: String,
    pub backend: String,
    pub batch: usize,
    pub steps: usize,
    pub timing: String,
    pub step_wall_ms: f64,
    pub step_busy_ms: f64,
    pub busy_fraction: f64,
    pub dispatches: Vec<DispatchRow>,
}

pub fn profile(
    backend: &mut dyn Backend,
    data: &Mnist,
    arch: Arch,
    batch: usize,
    steps: usize,
) -> Result<Profile> {
    let backend_name = backend.name();
    let config = TrainConfig {
        arch: arch.clone(),
        epochs: 1,
        batch,
        lr: 1e-3,
        loss: LossKind::Mse,
        seed: 0,
        noise: None,
    };
    let mut trainer = Trainer::new(backend, config, data)?;
    trainer.train_steps(2)?;
    trainer.backend().finish()?;

    let start = Instant::now();
    trainer.train_steps(steps)?;
    trainer.backend().finish()?;
    let step_wall_ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;

    trainer.backend().set_profiling(true)?;
    trainer.train_steps(steps)?;
    let times = trainer.backend().take_times()?;
    trainer.backend().set_profiling(false)?;
    let timing = trainer
        .backend()
        .timing()
        .map_or("none", |t| t.name())
        .to_string();

    let per_step = trainer.graph().train.len();
    let mut dispatches = Vec::new();
    for (index, op) in trainer.graph().train.iter().enumerate() {
        let mine = times.iter().skip(index).step_by(per_step);
        let ms: Vec<f64> = mine.clone().map(|t| t.nanos / 1e6).collect();
        // The kernel that ran (a variant's entry point on the GPU), as the profiler saw it.
        let kernel = mine.map(|t| t.kernel).next().unwrap_or(op.entry());
        let median_ms = median(&ms);
        dispatches.push(DispatchRow {
            index,
            kernel: kernel.to_string(),
            shape: op.label(),
            calls: ms.len(),
            total_ms: ms.iter().sum(),
            median_ms,
            share: 0.0,
            gflops: op.flops() / (median_ms * 1e-3) / 1e9,
            gbps: op.bytes() / (median_ms * 1e-3) / 1e9,
        });
    }
    let total: f64 = dispatches.iter().map(|d| d.total_ms).sum();
    for d in &mut dispatches {
        d.share = d.total_ms / total;
    }
    let step_busy_ms = total / steps as f64;
    Ok(Profile {
        model: format!("{} autoencoder {}", arch.name(), arch.describe()),
        backend: backend_name,
        batch,
        steps,
        timing,
        step_wall_ms,
        step_busy_ms,
        busy_fraction: step_busy_ms / step_wall_ms,
        dispatches,
    })
}

pub fn render(p: &Profile) -> String {
    let rows: Vec<Vec<String>> = p
        .dispatches
        .iter()
        .map(|d| {
            vec![
                d.index.to_string(),
                d.kernel.clone(),
                d.shape.clone(),
                d.calls.to_string(),
                opt(Some(d.total_ms), 3),
                opt(Some(d.median_ms), 4),
                format!("{:.1}%", d.share * 100.0),
                opt(Some(d.gflops), 1),
                opt(Some(d.gbps), 1),
            ]
        })
        .collect();
    let mut out = format!(
        "{} on {}, batch {}, {} steps timed ({})\n",
        p.model, p.backend, p.batch, p.steps, p.timing
    );
    out += &table(
        &[
            "#",
            "kernel",
            "shape",
            "calls",
            "total ms",
            "median ms",
            "share",
            "GFLOP/s",
            "GB/s",
        ],
        &rows,
        3,
    );
    let why = if p.busy_fraction > 1.0 {
        "over 100%: timing every dispatch slowed the timed steps down on this adapter"
    } else {
        "the rest is host overhead and gaps between dispatches"
    };
    out += &format!(
        "step: {:.3} ms wall, {:.3} ms in dispatches: busy {:.1}% ({why})\n",
        p.step_wall_ms,
        p.step_busy_ms,
        p.busy_fraction * 100.0
    );
    out
}
