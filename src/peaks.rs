//! The card's peaks, and where a kernel stands against them (the roofline).
//!
//! `measure` times the peak kernels (shaders/peak.wgsl) on the adapter with timestamp
//! queries, as vkpeak and clpeak do: the fp32 FMA rate from a register-bound kernel, and
//! the memory bandwidth from a large copy and a large read-reduce, each the best of
//! several runs. The figures are saved per adapter and driver in the user's cache folder,
//! so that `bench` and `profile` can hold every kernel against them without measuring
//! again. A kernel of arithmetic intensity I (FLOP per byte) can reach at most
//! min(P, I·B) FLOP/s: below the ridge P/B memory bounds it, above it the arithmetic.

use std::sync::Arc;
use web_time::Instant;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuBackend};
use crate::ops::{views, BufferSpec, Op, PeakCopy, PeakFma, PeakRead, StepParams};

/// What the card can do at best, as measured on it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peaks {
    /// The adapter as `info` names it.
    pub adapter: String,
    /// fp32 FMA rate, counting an FMA as two FLOP.
    pub fma_gflops: f64,
    /// A copy: bytes read plus bytes written, per second.
    pub copy_gbps: f64,
    /// A read-reduce: bytes read per second.
    pub read_gbps: f64,
    /// "timestamp" (GPU timestamp queries) or "wallclock" (submit and wait).
    pub timing: String,
    /// When, as an RFC 3339 UTC time.
    pub measured: String,
}

/// Which ceiling bounds a kernel at its arithmetic intensity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Compute,
    Memory,
}

impl Bound {
    pub fn name(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::Memory => "memory",
        }
    }
}

/// A kernel's place under the roofline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roof {
    /// FLOP per byte of minimum traffic.
    pub intensity: f64,
    pub bound: Bound,
    /// The achieved rate over the ceiling that bounds it: GFLOP/s over the FMA peak when
    /// compute bounds it, GB/s over the bandwidth when memory does.
    pub share: f64,
}

/// No card comes near these: ten times the fastest card's fp32 FMA rate (80 TFLOP/s)
/// and memory bandwidth (8 TB/s). A figure above them is a broken timer or an edited file.
const MAX_GFLOPS: f64 = 1e6;
const MAX_GBPS: f64 = 1e5;

impl Peaks {
    /// Why these cannot be a card's peaks, naming the field: each figure must be a rate
    /// above zero and below a physical bound (which also keeps every picture's axes, and
    /// so the loops that draw them, finite).
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, value, bound) in [
            ("fma_gflops", self.fma_gflops, MAX_GFLOPS),
            ("copy_gbps", self.copy_gbps, MAX_GBPS),
            ("read_gbps", self.read_gbps, MAX_GBPS),
        ] {
            // Written so that NaN fails too.
            if !(value > 0.0 && value <= bound) {
                return Err(format!(
                    "{name} {} is not a rate above 0 and at most {bound:e}",
                    crate::report::as_read(value)
                ));
            }
        }
        Ok(())
    }

    /// The better of the two streaming figures: the most the memory has been seen to give.
    pub fn bandwidth_gbps(&self) -> f64 {
        self.copy_gbps.max(self.read_gbps)
    }

    /// The intensity (FLOP/byte) where the two ceilings meet.
    pub fn ridge(&self) -> f64 {
        self.fma_gflops / self.bandwidth_gbps()
    }

    /// The most GFLOP/s a kernel of this intensity can reach.
    pub fn attainable(&self, intensity: f64) -> f64 {
        self.fma_gflops.min(intensity * self.bandwidth_gbps())
    }

    /// Where a kernel that does `flops` and moves at least `bytes` in `seconds` stands.
    pub fn place(&self, flops: f64, bytes: f64, seconds: f64) -> Roof {
        let intensity = if bytes > 0.0 { flops / bytes } else { 0.0 };
        if intensity >= self.ridge() {
            Roof {
                intensity,
                bound: Bound::Compute,
                share: flops / seconds / 1e9 / self.fma_gflops,
            }
        } else {
            Roof {
                intensity,
                bound: Bound::Memory,
                share: bytes / seconds / 1e9 / self.bandwidth_gbps(),
            }
        }
    }
}

/// One measured figure, for the table `bench --peak` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PeakRow {
    pub what: String,
    pub kernel: String,
    pub size: String,
    /// The best of the timed runs.
    pub best_ms: f64,
    pub median_ms: f64,
    pub rate: f64,
    pub unit: String,
}

/// The FMA kernel over `len` invocations of `iters` iterations.
pub fn fma_op(len: usize, iters: usize) -> Op {
    let v = views(&[len, len]);
    Op::from(PeakFma {
        x: v[0],
        y: v[1],
        len,
        iters,
        // A fixed point at 1: the chains stay near 1 whatever their start, and neither
        // overflow nor fall into denormals.
        mul: 0.75,
        add: 0.25,
    })
}

pub fn copy_op(len: usize) -> Op {
    let v = views(&[len, len]);
    Op::from(PeakCopy {
        x: v[0],
        y: v[1],
        len,
    })
}

/// Elements each workgroup of the measuring read-reduce sums: 64 KiB, sixteen vec4
/// loads per invocation.
pub const READ_CHUNK: usize = 16 * 1024;

pub fn read_op(len: usize) -> Op {
    let groups = len.div_ceil(READ_CHUNK);
    let v = views(&[len, groups]);
    Op::from(PeakRead {
        x: v[0],
        y: v[1],
        len,
        chunk: READ_CHUNK,
    })
}

/// Invocations of the FMA kernel: enough workgroups (4096) to fill any GPU many times over.
const FMA_LEN: usize = 1 << 20;
/// The largest streaming buffer: far beyond any cache (an H100's L2 is 50 MB).
const STREAM_BYTES: u64 = 512 << 20;
/// Each timed FMA run should take about this long, so that launch costs and timer
/// resolution do not count.
const FMA_TARGET_MS: f64 = 20.0;
const REPEATS: usize = 10;

/// Times `repeats` runs of one op on its own buffers, after a warm-up run: per-dispatch
/// timestamps where the adapter has them, the host clock around submit and wait
/// otherwise. Returns each run's milliseconds and the timing used.
async fn time_runs(
    gpu: &Arc<Gpu>,
    op: &Op,
    init: Option<&[u32]>,
    repeats: usize,
) -> Result<(Vec<f64>, &'static str)> {
    let mut backend = GpuBackend::new(gpu.clone());
    let timestamps = gpu.can_time_dispatches();
    if timestamps {
        backend.set_profiling(true)?;
    }
    let specs: Vec<BufferSpec> = op
        .bindings()
        .iter()
        .map(|b| BufferSpec {
            name: format!("{}.{}", op.entry(), b.name),
            len: b.len,
        })
        .collect();
    backend.alloc(&specs).await?;
    if let Some(words) = init {
        backend.write(0, 0, words)?;
    }
    backend.compile("peak", std::slice::from_ref(op)).await?;
    let one = [StepParams::default()];
    backend.run("peak", None, &one).await?;
    backend.finish().await?;
    backend.take_times().await?;
    if timestamps {
        let steps = vec![one[0]; repeats];
        backend.run("peak", None, &steps).await?;
        let ms = backend
            .take_times()
            .await?
            .iter()
            .map(|t| t.nanos / 1e6)
            .collect();
        Ok((ms, "timestamp"))
    } else {
        let mut ms = Vec::new();
        for _ in 0..repeats {
            let start = Instant::now();
            backend.run("peak", None, &one).await?;
            backend.finish().await?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok((ms, "wallclock"))
    }
}

fn best(ms: &[f64]) -> f64 {
    ms.iter().copied().fold(f64::INFINITY, f64::min)
}

const MAX_FMA_ITERS: usize = 1 << 16;
/// At least 8192 FLOP per invocation, so that starting an invocation and storing its
/// result (little on a GPU, much on lavapipe) is a small part of its time.
const MIN_FMA_ITERS: usize = 64;

/// The best of three runs of the FMA kernel at `iters` iterations: milliseconds, GFLOP/s.
async fn fma_rate(gpu: &Arc<Gpu>, iters: usize) -> Result<(f64, f64)> {
    let op = fma_op(FMA_LEN, iters);
    let (ms, _) = time_runs(gpu, &op, None, 3).await?;
    let ms = best(&ms).max(1e-6);
    Ok((ms, op.flops() / (ms * 1e-3) / 1e9))
}

/// Iterations of the FMA kernel that measure the arithmetic alone: grown from
/// `MIN_FMA_ITERS` until a run lasts about `FMA_TARGET_MS`, then doubled while that still
/// raises the rate by 5% and runs stay short. Found on the card itself, so that nothing is
/// tuned per card.
async fn calibrate_fma(gpu: &Arc<Gpu>) -> Result<(usize, f64)> {
    let mut iters = MIN_FMA_ITERS;
    let (mut ms, mut rate) = fma_rate(gpu, iters).await?;
    while ms < FMA_TARGET_MS / 2.0 && iters < MAX_FMA_ITERS {
        let grow = (FMA_TARGET_MS / ms).clamp(2.0, 1000.0);
        iters = ((iters as f64 * grow) as usize).min(MAX_FMA_ITERS);
        (ms, rate) = fma_rate(gpu, iters).await?;
    }
    while iters < MAX_FMA_ITERS && ms < 5.0 * FMA_TARGET_MS {
        let (longer_ms, longer_rate) = fma_rate(gpu, 2 * iters).await?;
        if longer_rate < 1.05 * rate {
            break;
        }
        (iters, ms, rate) = (2 * iters, longer_ms, longer_rate);
    }
    Ok((iters, ms))
}

/// Measures the adapter's peaks. Takes a fraction of a second on a GPU, a few seconds on
/// lavapipe.
pub async fn measure(gpu: &Arc<Gpu>) -> Result<(Peaks, Vec<PeakRow>)> {
    let (iters, run_ms) = calibrate_fma(gpu).await?;
    let fma = fma_op(FMA_LEN, iters);
    // Ten runs, or as many as fit in two seconds where a run is long (lavapipe).
    let repeats = ((2000.0 / run_ms) as usize).clamp(3, REPEATS);
    let (fma_ms, timing) = time_runs(gpu, &fma, None, repeats).await?;

    let limit = gpu
        .limits
        .max_storage_buffer_binding_size
        .min(gpu.limits.max_buffer_size)
        .min(STREAM_BYTES);
    // Whole chunks of the read-reduce, so that every workgroup reads the same amount.
    let len = (limit as usize / 4) / READ_CHUNK * READ_CHUNK;
    if len == 0 {
        return Err(Error::Other(format!(
            "{} binds at most {limit} bytes per buffer, too few to measure its bandwidth",
            gpu.adapter_summary()
        )));
    }
    // Ones rather than the zeros a new buffer holds, in case a driver treats zeros specially.
    let ones = vec![1.0f32.to_bits(); len];
    let copy = copy_op(len);
    let (copy_ms, _) = time_runs(gpu, &copy, Some(&ones), REPEATS).await?;
    let read = read_op(len);
    let (read_ms, _) = time_runs(gpu, &read, Some(&ones), REPEATS).await?;

    let mib = (len * 4) as f64 / (1 << 20) as f64;
    let row = |what: &str, op: &Op, size: String, ms: &[f64], amount: f64, unit: &str| {
        let b = best(ms);
        PeakRow {
            what: what.to_string(),
            kernel: op.entry().to_string(),
            size,
            best_ms: b,
            median_ms: crate::report::median(ms),
            rate: amount / (b * 1e-3) / 1e9,
            unit: unit.to_string(),
        }
    };
    let rows = vec![
        row(
            "fp32 FMA rate",
            &fma,
            format!("{FMA_LEN} invocations × {iters} iterations × 128 FLOP"),
            &fma_ms,
            fma.flops(),
            "GFLOP/s",
        ),
        row(
            "copy bandwidth",
            &copy,
            format!("{mib:.0} MiB read + {mib:.0} MiB written"),
            &copy_ms,
            copy.bytes(),
            "GB/s",
        ),
        row(
            "read-reduce bandwidth",
            &read,
            format!("{mib:.0} MiB read"),
            &read_ms,
            read.bytes(),
            "GB/s",
        ),
    ];
    let peaks = Peaks {
        adapter: gpu.adapter_summary(),
        fma_gflops: rows[0].rate,
        copy_gbps: rows[1].rate,
        read_gbps: rows[2].rate,
        timing: timing.to_string(),
        // The clock is the shell's: `native::peaks::measure` stamps the date.
        measured: String::new(),
    };
    peaks.check().map_err(|why| {
        Error::Other(format!(
            "the peaks measured on {} are not plausible ({why}): its timer may be broken",
            peaks.adapter
        ))
    })?;
    Ok((peaks, rows))
}

/// The table `bench --peak` prints.
pub fn render(peaks: &Peaks, rows: &[PeakRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.what.clone(),
                r.kernel.clone(),
                r.size.clone(),
                format!("{:.4}", r.best_ms),
                format!("{:.4}", r.median_ms),
                format!("{:.1} {}", r.rate, r.unit),
            ]
        })
        .collect();
    let mut out = format!(
        "{} ({} timing, best of up to {REPEATS} runs)\n",
        peaks.adapter, peaks.timing
    );
    out += &crate::report::table(
        &["peak", "kernel", "size", "best ms", "median ms", "rate"],
        &cells,
        3,
    );
    out += &format!(
        "roofline: memory bounds kernels below {:.2} FLOP/byte, arithmetic above\n",
        peaks.ridge()
    );
    out
}

/// A figure with its unit, for reports.
pub fn describe(peaks: &Peaks) -> String {
    format!(
        "peaks: {:.1} GFLOP/s fp32 FMA, {:.1} GB/s copy, {:.1} GB/s read (ridge at {:.2} FLOP/byte; {} timing, measured {})",
        peaks.fma_gflops,
        peaks.copy_gbps,
        peaks.read_gbps,
        peaks.ridge(),
        peaks.timing,
        peaks.measured
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peaks() -> Peaks {
        Peaks {
            adapter: "test".into(),
            fma_gflops: 1000.0,
            copy_gbps: 80.0,
            read_gbps: 100.0,
            timing: "timestamp".into(),
            measured: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn peaks_no_card_could_have_are_refused_by_name() {
        assert_eq!(peaks().check(), Ok(()));
        for (field, value) in [
            ("fma_gflops", 0.0),
            ("fma_gflops", 1e308),
            ("fma_gflops", f64::NAN),
            ("copy_gbps", -18.8),
            ("read_gbps", f64::INFINITY),
        ] {
            let mut p = peaks();
            match field {
                "fma_gflops" => p.fma_gflops = value,
                "copy_gbps" => p.copy_gbps = value,
                _ => p.read_gbps = value,
            }
            let why = p.check().unwrap_err();
            assert!(why.starts_with(field), "{field} {value}: {why}");
        }
    }

    #[test]
    fn the_roofline_bends_at_the_ridge() {
        let p = peaks();
        assert_eq!(p.bandwidth_gbps(), 100.0);
        assert_eq!(p.ridge(), 10.0);
        assert_eq!(p.attainable(1.0), 100.0);
        assert_eq!(p.attainable(100.0), 1000.0);
        // 1 GFLOP over 1 GB in 20 ms: intensity 1, memory-bound, 50 GB/s of 100.
        let r = p.place(1e9, 1e9, 0.02);
        assert_eq!((r.intensity, r.bound, r.share), (1.0, Bound::Memory, 0.5));
        // 100 GFLOP over 1 GB in 0.2 s: intensity 100, compute-bound, 500 of 1000 GFLOP/s.
        let r = p.place(100e9, 1e9, 0.2);
        assert_eq!((r.bound, r.share), (Bound::Compute, 0.5));
        // A copy does no arithmetic: it is placed by its bandwidth alone.
        let r = p.place(0.0, 1e9, 0.1);
        assert_eq!((r.intensity, r.bound, r.share), (0.0, Bound::Memory, 0.1));
    }
}
