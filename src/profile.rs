//! `profile`: where a training step's time goes, dispatch by dispatch.
//!
//! It runs a few warm-up steps, then times `steps` steps by the host clock (submit to
//! finish) without timestamps, then the same number again with a timestamp around every
//! dispatch. Any number of steps works: they run an epoch's worth at a time (each with
//! its own shuffle, as training does), and the profiler reads its query sets back as
//! they fill. The host's row is the wall time no dispatch covers: recording, submitting,
//! waiting, and gaps between dispatches. With the card's peaks, each dispatch is placed
//! under the roofline: its arithmetic intensity, and its share of the ceiling that
//! bounds it there.

use web_time::Instant;

use crate::backend::Backend;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::model::Arch;
use crate::peaks::Peaks;
use crate::report::{median, opt, table};
use crate::train::{TrainConfig, Trainer};

#[derive(Clone, Debug, serde::Serialize)]
pub struct DispatchRow {
    /// Position of the dispatch within the step.
    pub index: usize,
    pub kernel: String,
    /// The variant that ran and where it came from (`only`, measured, guessed), on a
    /// backend with variants to choose from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub shape: String,
    pub calls: usize,
    pub total_ms: f64,
    pub median_ms: f64,
    /// Fraction of the step: of its wall time, or of its summed dispatch time where that
    /// is longer (see `Profile::host_share`).
    pub share: f64,
    pub gflops: f64,
    pub gbps: f64,
    /// FLOP per byte of minimum traffic.
    pub intensity: f64,
    /// With the card's peaks: which ceiling bounds it, and the share of that ceiling its
    /// median run reaches.
    pub bound: Option<String>,
    pub peak_share: Option<f64>,
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
    /// Wall time per step that no dispatch covers (never below zero).
    pub host_ms: f64,
    /// The host's share of the step; with the dispatches' shares it sums to 1.
    pub host_share: f64,
    pub dispatches: Vec<DispatchRow>,
    pub peaks: Option<Peaks>,
}

/// The number of steps of each call that together run `steps` training steps, at most an
/// epoch's worth per call (each call draws a new shuffle, as each epoch does).
fn calls(steps: usize, per_call: usize) -> impl Iterator<Item = usize> {
    let full = steps / per_call;
    let rest = steps % per_call;
    std::iter::repeat_n(per_call, full).chain((rest > 0).then_some(rest))
}

pub async fn profile(
    backend: Box<dyn Backend>,
    data: &Data,
    arch: Arch,
    batch: usize,
    steps: usize,
    peaks: Option<&Peaks>,
) -> Result<Profile> {
    if steps.checked_mul(batch).is_none() {
        return Err(Error::flag(
            "--steps",
            format!("{steps} steps of {batch} images is more images than can be counted"),
        ));
    }
    let backend_name = backend.name();
    let config = TrainConfig {
        epochs: 1,
        batch,
        ..TrainConfig::new(arch.clone())
    };
    let per_call = (data.train.len() / batch).max(1);
    let mut trainer = Trainer::new(backend, config, data).await?;
    trainer.train_steps(2.min(per_call)).await?;
    trainer.backend().finish().await?;

    let start = Instant::now();
    for now in calls(steps, per_call) {
        trainer.train_steps(now).await?;
    }
    trainer.backend().finish().await?;
    let step_wall_ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;

    // Each dispatch's times, gathered an epoch's worth at a time so that the op records
    // the profiler keeps per dispatch never pile up.
    let per_step = trainer.graph().train.len();
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); per_step];
    let mut kernels: Vec<Option<&'static str>> = vec![None; per_step];
    trainer.backend().set_profiling(true)?;
    for now in calls(steps, per_call) {
        trainer.train_steps(now).await?;
        for (i, time) in trainer
            .backend()
            .take_times()
            .await?
            .into_iter()
            .enumerate()
        {
            ms[i % per_step].push(time.nanos / 1e6);
            // The kernel that ran (a variant's entry point on the GPU), as the profiler saw it.
            kernels[i % per_step].get_or_insert(time.kernel);
        }
    }
    trainer.backend().set_profiling(false)?;
    let timing = trainer
        .backend()
        .timing()
        .map_or("none", |t| t.name())
        .to_string();

    let chosen = trainer.backend().variants_chosen("train");
    let mut dispatches = Vec::new();
    for (index, op) in trainer.graph().train.iter().enumerate() {
        let chosen = chosen.as_ref().and_then(|c| c.get(index));
        let median_ms = median(&ms[index]);
        let seconds = median_ms * 1e-3;
        let roof = peaks.map(|p| p.place(op.flops(), op.bytes(), seconds));
        dispatches.push(DispatchRow {
            index,
            kernel: kernels[index].unwrap_or(op.entry()).to_string(),
            variant: chosen.map(|c| c.0.clone()),
            source: chosen.map(|c| c.1.to_string()),
            shape: op.label(),
            calls: ms[index].len(),
            total_ms: ms[index].iter().sum(),
            median_ms,
            share: 0.0,
            gflops: op.flops() / seconds / 1e9,
            gbps: op.bytes() / seconds / 1e9,
            intensity: op.flops() / op.bytes(),
            bound: roof.map(|r| r.bound.name().to_string()),
            peak_share: roof.map(|r| r.share),
        });
    }
    let total: f64 = dispatches.iter().map(|d| d.total_ms).sum();
    let step_busy_ms = total / steps as f64;
    let host_ms = (step_wall_ms - step_busy_ms).max(0.0);
    // Profiled steps can run slower than the wall-timed ones (timestamps cost time on
    // some adapters); then the dispatches alone make the step.
    let step_ms = step_wall_ms.max(step_busy_ms);
    for d in &mut dispatches {
        d.share = d.total_ms / steps as f64 / step_ms;
    }
    Ok(Profile {
        model: format!("{} autoencoder {}", arch.name(), arch.describe()),
        backend: backend_name,
        batch,
        steps,
        timing,
        step_wall_ms,
        step_busy_ms,
        busy_fraction: step_busy_ms / step_wall_ms,
        host_ms,
        host_share: host_ms / step_ms,
        dispatches,
        peaks: peaks.cloned(),
    })
}

/// "12% mem" or "3% fma": the share of the ceiling that bounds a kernel.
fn peak_cell(bound: Option<&str>, share: Option<f64>) -> String {
    match (bound, share) {
        (Some(bound), Some(share)) if share.is_finite() => {
            let ceiling = if bound == "compute" { "fma" } else { "mem" };
            format!("{:.1}% {ceiling}", share * 100.0)
        }
        _ => "-".to_string(),
    }
}

pub fn render(p: &Profile) -> String {
    let mut rows: Vec<Vec<String>> = p
        .dispatches
        .iter()
        .map(|d| {
            vec![
                d.index.to_string(),
                d.kernel.clone(),
                d.variant.clone().unwrap_or_else(|| "-".into()),
                d.source.clone().unwrap_or_else(|| "-".into()),
                d.shape.clone(),
                d.calls.to_string(),
                opt(Some(d.total_ms), 3),
                opt(Some(d.median_ms), 4),
                format!("{:.1}%", d.share * 100.0),
                opt(Some(d.gflops), 1),
                opt(Some(d.gbps), 1),
                opt(Some(d.intensity), 2),
                peak_cell(d.bound.as_deref(), d.peak_share),
            ]
        })
        .collect();
    rows.push(vec![
        "-".into(),
        "host".into(),
        "-".into(),
        "-".into(),
        "wall time not covered by GPU work".into(),
        p.steps.to_string(),
        opt(Some(p.host_ms * p.steps as f64), 3),
        "-".into(),
        format!("{:.1}%", p.host_share * 100.0),
        "-".into(),
        "-".into(),
        "-".into(),
        "-".into(),
    ]);
    let mut out = format!(
        "{} on {}, batch {}, {} steps timed ({})\n",
        p.model, p.backend, p.batch, p.steps, p.timing
    );
    if let Some(peaks) = &p.peaks {
        out += &crate::peaks::describe(peaks);
        out += "\n";
    }
    out += &table(
        &[
            "#",
            "kernel",
            "variant",
            "source",
            "shape",
            "calls",
            "total ms",
            "median ms",
            "share",
            "GFLOP/s",
            "GB/s",
            "FLOP/B",
            "of peak",
        ],
        &rows,
        5,
    );
    let why = if p.busy_fraction > 1.0 {
        "over 100%: timing every dispatch slowed the timed steps down on this adapter, so the host's share reads 0"
    } else {
        "the rest is the host's row"
    };
    out += &format!(
        "step: {:.3} ms wall, {:.3} ms in dispatches: busy {:.1}% ({why})\n",
        p.step_wall_ms,
        p.step_busy_ms,
        p.busy_fraction * 100.0
    );
    if p.peaks.is_some() {
        out += "of peak: the median run's GFLOP/s over the FMA peak (fma) or GB/s over the bandwidth (mem), whichever bounds a kernel of its FLOP/B;\n";
        out += "above 100%: its data stayed in a cache faster than the memory the peaks stream through\n";
    }
    out
}
