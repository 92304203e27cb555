//! Per-card tuning: every variant of each distinct op shape timed on this adapter with
//! timestamp queries, and the fastest kept (`Choices`), which the GPU backend then runs
//! instead of the heuristic's guess (`GpuBackend::set_measured`).
//!
//! It is made to be cheap enough to run before a first training step: only ops with more
//! than one variant are timed, each shape once (ops of the same entry point and sizes
//! share a `Measured::key`). A screen runs every variant once (on a CPU adapter, on a
//! product's stand-in with an eighth of its rows: `stand_in`), and drops the clear
//! losers; the rest run `repeats` times in one submission at full size, after a warm-up
//! dispatch whose time is dropped; rounds repeat only while the contenders' times still
//! spread widely, and a variant clearly slower than the fastest drops out after a round;
//! the whole stops at a time budget, leaving the ops it did not reach to the heuristic
//! (and to the next tuning). Which variants exist comes from `variants(op)` alone, so a
//! variant added to the registry is tuned without a line here.
//!
//! This is the core: it times and decides, and never touches a file or std's clock; the
//! shell saves the choices per adapter (`native::tuned`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use web_time::Instant;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::kernels::{variants, Measured, Parallelism, Variant};
use crate::gpu::{Gpu, GpuBackend};
use crate::ops::{BufferSpec, Op};
use crate::report::median;
use crate::sample::{random_buffers, SAMPLE_STEP};

/// How hard tuning tries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Timed runs of a variant per round, in one submission (at most 63).
    pub repeats: usize,
    /// Timed rounds at most per op, after the screen.
    pub max_rounds: usize,
    /// Settled when each contender's interquartile range is at most this share of its
    /// median.
    pub spread: f64,
    /// Host seconds after which no further round or shape is timed (the first shape
    /// always is).
    pub budget_seconds: f64,
}

impl Options {
    /// The defaults, within this budget.
    pub fn within(budget_seconds: f64) -> Options {
        Options {
            repeats: 5,
            max_rounds: 3,
            spread: 0.1,
            budget_seconds,
        }
    }
}

/// The choice for one op shape: the fastest variant by name, and what each contender's
/// median took.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    pub variant: String,
    /// Median milliseconds of each variant timed at full size, by name.
    pub ms: BTreeMap<String, f64>,
    /// Each variant's full-size milliseconds as the screen's stand-in foretold them
    /// (`stand_in`), by name, where the screen had one; those it dropped are timed
    /// nowhere else.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub screen_ms: BTreeMap<String, f64>,
    /// Rounds run, the screen included, before the times settled (or the rounds or the
    /// budget ran out).
    pub rounds: usize,
    /// The heuristic's choice, saved untimed by a `train` whose budget did not reach the
    /// shape, so that every later run makes the same choice; `tune` times it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guessed: bool,
}

impl Choice {
    /// Why a saved choice cannot be used, if it cannot: a winner that is not among the
    /// variants timed, or a time no kernel could take.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.guessed {
            return match self.ms.is_empty() && self.screen_ms.is_empty() {
                true => Ok(()),
                false => Err(format!("{} is a guess with times", self.variant)),
            };
        }
        if !self.ms.contains_key(&self.variant) {
            return Err(format!("{} was not among the variants timed", self.variant));
        }
        for (name, ms) in self.ms.iter().chain(&self.screen_ms) {
            if !(ms.is_finite() && *ms >= 0.0) {
                return Err(format!("{name} took {ms} ms"));
            }
        }
        Ok(())
    }

    /// The heuristic's choice for `op` on `gpu`, untimed.
    pub fn guess(gpu: &Gpu, op: &Op) -> Choice {
        let device = Parallelism::of(&gpu.adapter.get_info());
        Choice {
            variant: crate::gpu::kernels::variants::guess(op, device).name(),
            ms: BTreeMap::new(),
            screen_ms: BTreeMap::new(),
            rounds: 0,
            guessed: true,
        }
    }

    /// The winner's median milliseconds.
    pub fn best_ms(&self) -> f64 {
        self.ms.get(&self.variant).copied().unwrap_or(f64::NAN)
    }
}

/// Choices by op shape (`Measured::key`).
pub type Choices = BTreeMap<String, Choice>;

/// The ops worth timing among `ops`: one per shape, only those with a choice to make
/// (more than one variant), each on buffers of its own, in first-seen order.
pub fn candidates(ops: &[Op]) -> Vec<Op> {
    let mut seen = BTreeSet::new();
    ops.iter()
        .filter(|op| variants(op).len() > 1)
        .filter(|op| seen.insert(Measured::key(op)))
        .map(Op::standalone)
        .collect()
}

/// Variant names by op shape: what a command runs, what a run's record keeps.
pub type Names = BTreeMap<String, String>;

/// The winners' names of `choices`.
pub fn names(choices: &Choices) -> Names {
    choices
        .iter()
        .map(|(key, c)| (key.clone(), c.variant.clone()))
        .collect()
}

/// Removes the saved choices of `ops`' shapes that were made without timing (or
/// screening) every variant the device `runs` for them, such as one added to the registry
/// since, so that those shapes are tuned again; a line saying so, if any were.
pub fn drop_stale(
    choices: &mut Choices,
    ops: &[Op],
    runs: &dyn Fn(Variant) -> bool,
) -> Option<String> {
    let mut stale = BTreeSet::new();
    for op in candidates(ops) {
        let key = Measured::key(&op);
        let Some(choice) = choices.get(&key).filter(|c| !c.guessed) else {
            // A guess was never timed: it holds until `tune` times it.
            continue;
        };
        let timed = |v: &Variant| {
            let name = v.name();
            choice.ms.contains_key(&name) || choice.screen_ms.contains_key(&name)
        };
        let untimed: Vec<String> = variants(&op)
            .into_iter()
            .filter(|v| runs(*v) && !timed(v))
            .map(|v| v.name())
            .collect();
        if !untimed.is_empty() {
            choices.remove(&key);
            stale.extend(untimed);
        }
    }
    (!stale.is_empty()).then(|| {
        let names: Vec<String> = stale.into_iter().collect();
        format!(
            "saved choices that never timed {} are tuned again",
            names.join(", ")
        )
    })
}

/// The candidates among `ops` that `names` has no usable answer for.
pub fn missing(ops: &[Op], names: &Names) -> Vec<Op> {
    candidates(ops)
        .into_iter()
        .filter(|op| resolve(op, names).is_none())
        .collect()
}

/// The variant `names` holds for `op`, if it names one of the op's variants (a saved
/// name that no longer exists is no answer).
fn resolve(op: &Op, names: &Names) -> Option<Variant> {
    measured(names).get(op)
}

/// The entries of `names` that hold for some op of `ops`.
pub fn applying(ops: &[Op], names: &Names) -> Names {
    let m = measured(names);
    ops.iter()
        .filter(|op| m.get(op).is_some())
        .map(|op| {
            let key = Measured::key(op);
            (key.clone(), names[&key].clone())
        })
        .collect()
}

/// What the GPU backend takes (`GpuBackend::set_measured`).
pub fn measured(names: &Names) -> Measured {
    let mut m = Measured::default();
    for (key, name) in names {
        m.insert_named(key.clone(), name.clone());
    }
    m
}

/// What one tuning did.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// The new choices, by op shape.
    pub choices: Choices,
    /// Shapes the budget left untimed (the heuristic keeps them).
    pub untimed: Vec<String>,
    /// Dispatches timed in all (warm-ups included).
    pub dispatches: usize,
    pub seconds: f64,
}

/// Why this adapter cannot be tuned, if it cannot: tuning times dispatches one by one,
/// which needs timestamps written inside a compute pass.
pub fn unavailable(gpu: &Gpu) -> Option<String> {
    (!gpu.can_time_dispatches()).then(|| {
        format!(
            "{} cannot write timestamps inside a compute pass (TIMESTAMP_QUERY_INSIDE_PASSES), so its dispatches cannot be timed one by one: the heuristic's choices stand",
            gpu.adapter_summary()
        )
    })
}

/// After the screen's one run each, variants more than this many times slower than the
/// fastest drop out.
const SCREEN_RATIO: f64 = 2.0;

/// A product's stand-in on the screen computes this fraction of C's rows...
const SCREEN_CUT: usize = 8;
/// ... but never fewer rows than this.
const SCREEN_MIN_ROWS: usize = 4;

/// The op the screen times in place of `op` on an adapter of this parallelism, if there
/// is a cheaper one that ranks its variants as `op` would: on a CPU adapter, a product
/// that computes only the first `1/SCREEN_CUT` of C's rows. A few cores take the
/// workgroups in turn there, so a variant's time grows with the workgroups it launches,
/// and its time on the stand-in, scaled by its workgroups at full size over those on the
/// stand-in (`full_size_estimate`), foretells its full-size time. The slow variants
/// (thin tiles' thousands of small workgroups), which would take most of tuning's time
/// at full size, run an eighth of it. Cutting the reduction instead would keep their
/// workgroups, and with them their cost. A GPU runs its workgroups side by side, so a
/// cut grid says little there: it screens at full size, which is quick on a GPU.
pub fn stand_in(op: &Op, device: Parallelism) -> Option<Op> {
    let Op::Matmul(p) = op else {
        return None;
    };
    if device != Parallelism::Narrow {
        return None;
    }
    let m = (p.shape.m / SCREEN_CUT).max(SCREEN_MIN_ROWS);
    // M's remainder by 4 kept: sgemm's vec4 loads need it a multiple of 4 where A is
    // stored transposed.
    let m = m - m % 4 + p.shape.m % 4;
    if m >= p.shape.m {
        return None;
    }
    let mut short = p.clone();
    short.shape.m = m;
    let short = Op::from(short).standalone();
    // A shape whose variants differ from `op`'s cannot screen them.
    (variants(&short) == variants(op)).then_some(short)
}

/// `ms` on the stand-in `short`, scaled to `op` by the workgroups `variant` launches for
/// each. A variant whose workgroups the cut leaves as they were (a tile taller than the
/// stand-in's rows) keeps its time: each of its workgroups does at most the same work
/// on the stand-in, so the estimate errs low, and the full-size rounds correct it.
fn full_size_estimate(op: &Op, short: &Op, variant: Variant, ms: f64) -> Result<f64> {
    let full = crate::gpu::kernels::launch(op, variant)?.workgroups();
    let cut = crate::gpu::kernels::launch(short, variant)?.workgroups();
    Ok(ms * full as f64 / cut.max(1) as f64)
}

/// One variant's times so far, and what they say.
struct Contender {
    variant: Variant,
    ms: Vec<f64>,
}

impl Contender {
    /// (first quartile, median, third quartile).
    fn quartiles(&self) -> (f64, f64, f64) {
        let mut v = self.ms.clone();
        if v.is_empty() {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.25), median(&v), at(0.75))
    }
}

/// Times every variant of each of `ops`' candidates (see `candidates`) and keeps the
/// fastest. Fails, saying why, on an adapter that cannot time dispatches.
pub async fn tune(gpu: &Arc<Gpu>, ops: &[Op], opts: &Options) -> Result<Tuning> {
    if let Some(why) = unavailable(gpu) {
        return Err(Error::Other(why));
    }
    let repeats = opts
        .repeats
        .clamp(1, crate::gpu::backend::MAX_STEPS_PER_SUBMIT - 1);
    let start = Instant::now();
    let over = || start.elapsed().as_secs_f64() > opts.budget_seconds;
    let mut tuning = Tuning::default();
    let device = Parallelism::of(&gpu.adapter.get_info());
    for op in candidates(ops) {
        let key = Measured::key(&op);
        // The first shape is always timed, so that every tuning, however short its
        // budget, leaves fewer shapes to the next.
        if over() && !tuning.choices.is_empty() {
            tuning.untimed.push(key);
            continue;
        }
        let mut backend = timing_backend(gpu, &op).await?;
        let mut contenders: Vec<Contender> = gpu
            .variants(&op)
            .into_iter()
            .map(|variant| Contender {
                variant,
                ms: Vec::new(),
            })
            .collect();
        // The screen: one run of each variant after a warm-up (see `time_round`), after
        // which any more than `SCREEN_RATIO` times slower than the fastest drops out; on
        // the stand-in where there is one, its times scaled to full size.
        let short = stand_in(&op, device);
        let screened = match &short {
            Some(short) => {
                let mut b = timing_backend(gpu, short).await?;
                let times = time_round(&mut b, short, &contenders, 1, 1).await?;
                let mut estimates = Vec::with_capacity(times.len());
                for (c, t) in contenders.iter().zip(times) {
                    estimates.push(vec![full_size_estimate(&op, short, c.variant, t[0])?]);
                }
                estimates
            }
            None => time_round(&mut backend, &op, &contenders, 1, 1).await?,
        };
        tuning.dispatches += 2 * contenders.len();
        let fastest = screened.iter().map(|t| t[0]).fold(f64::INFINITY, f64::min);
        let mut screen_ms = BTreeMap::new();
        let (mut stay, mut dropped) = (Vec::new(), Vec::new());
        for (mut c, t) in contenders.into_iter().zip(screened) {
            let survives = t[0] <= SCREEN_RATIO * fastest;
            // An estimate is kept apart; those it drops have no full-size time.
            match short {
                Some(_) => _ = screen_ms.insert(c.variant.name(), t[0]),
                None => c.ms = t,
            }
            match (survives, short.is_some()) {
                (true, _) => stay.push(c),
                (false, false) => dropped.push(c),
                (false, true) => {}
            }
        }
        contenders = stay;
        // A stand-in's times say nothing of the full size's: the survivors run there at
        // least once, whatever the budget, so that the choice holds a time of its own.
        let mut timed_full = short.is_none();
        let mut rounds = 1;
        while !timed_full || (contenders.len() > 1 && rounds <= opts.max_rounds && !over()) {
            if rounds == 1 {
                // Survivors that run again are judged on those runs alone (after a
                // full-size screen, a lone one, or those the budget stops, keep their
                // screen's times).
                contenders.iter_mut().for_each(|c| c.ms.clear());
            }
            rounds += 1;
            timed_full = true;
            let times = time_round(&mut backend, &op, &contenders, 1, repeats).await?;
            tuning.dispatches += contenders.len() * (repeats + 1);
            for (c, t) in contenders.iter_mut().zip(times) {
                c.ms.extend(t);
            }
            // A variant whose fastest quarter is slower than the fastest's slowest
            // quarter drops out; the rest run again until their times settle.
            let best_q3 = contenders
                .iter()
                .map(|c| c.quartiles())
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(f64::INFINITY, |q| q.2);
            let (stay, out): (Vec<_>, Vec<_>) = contenders
                .into_iter()
                .partition(|c| c.quartiles().0 <= best_q3);
            contenders = stay;
            dropped.extend(out);
            let settled = contenders.iter().all(|c| {
                let (q1, m, q3) = c.quartiles();
                (q3 - q1) <= opts.spread * m
            });
            if settled {
                break;
            }
        }
        let ms: BTreeMap<String, f64> = contenders
            .iter()
            .chain(&dropped)
            .map(|c| (c.variant.name(), c.quartiles().1))
            .collect();
        // The fastest median of all timed at full size, so that the choice is the
        // fastest of the times it keeps (a variant dropped in a round was slower then;
        // noise may have moved the others since).
        let best = contenders
            .iter()
            .chain(&dropped)
            .min_by(|a, b| a.quartiles().1.total_cmp(&b.quartiles().1))
            .ok_or_else(|| Error::Other(format!("{key} has no variant to time")))?;
        let choice = Choice {
            variant: best.variant.name(),
            ms,
            screen_ms,
            rounds,
            guessed: false,
        };
        tuning.choices.insert(key, choice);
    }
    tuning.seconds = start.elapsed().as_secs_f64();
    Ok(tuning)
}

/// A backend of its own for timing `op`: its buffers filled, a timestamp per dispatch.
async fn timing_backend(gpu: &Arc<Gpu>, op: &Op) -> Result<GpuBackend> {
    let mut backend = GpuBackend::new(gpu.clone());
    load(&mut backend, op).await?;
    backend.set_profiling(true)?;
    Ok(backend)
}

/// The op's buffers on the backend, filled with seeded values.
async fn load(backend: &mut GpuBackend, op: &Op) -> Result<()> {
    let init = random_buffers(op, 7);
    let specs: Vec<BufferSpec> = init
        .iter()
        .enumerate()
        .map(|(i, b)| BufferSpec {
            name: format!("{}.{i}", op.entry()),
            len: b.len(),
        })
        .collect();
    backend.alloc(&specs).await?;
    for (i, data) in init.iter().enumerate() {
        backend.write(i, 0, data)?;
    }
    Ok(())
}

/// Milliseconds of `repeats` runs of `op` as each contender's variant, after `warm`
/// runs whose times (first-use costs: compiling at the first dispatch, caches) are
/// dropped. Each variant is
/// one submission, and the times of all are read back once, at the end.
async fn time_round(
    backend: &mut GpuBackend,
    op: &Op,
    contenders: &[Contender],
    warm: usize,
    repeats: usize,
) -> Result<Vec<Vec<f64>>> {
    for c in contenders {
        // The measured map is how a choice reaches the backend; here it names the
        // variant under test.
        let mut only = Measured::default();
        only.insert(op, c.variant);
        backend.set_measured(only);
        backend.compile("tune", std::slice::from_ref(op)).await?;
        let ran = backend
            .chosen("tune")
            .and_then(|v| v.first().map(|v| v.variant));
        if ran != Some(c.variant) {
            return Err(Error::Other(format!(
                "{}: tuning asked for {} but the backend chose {ran:?}",
                op.entry(),
                c.variant.name()
            )));
        }
        // The warm-up runs a batch of one row where the op has a batch: the same
        // pipeline (some drivers compile it at its first dispatch) for a fraction of
        // the work. An op that cannot run so small warms up at full size.
        let warm_steps = vec![SAMPLE_STEP; warm];
        if warm > 0 && backend.run("tune", Some(1), &warm_steps).await.is_err() {
            backend.run("tune", None, &warm_steps).await?;
        }
        backend
            .run("tune", None, &vec![SAMPLE_STEP; repeats])
            .await?;
    }
    let times = backend.take_times().await?;
    if times.len() != contenders.len() * (warm + repeats) {
        return Err(Error::Other(format!(
            "{}: {} timestamps read back for {} dispatches",
            op.entry(),
            times.len(),
            contenders.len() * (warm + repeats)
        )));
    }
    let ms: Vec<f64> = times.iter().map(|t| t.nanos / 1e6).collect();
    Ok(ms
        .chunks(warm + repeats)
        .map(|run| run[warm..].to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, DataSizes, Graph};
    use crate::ops::{AdamConfig, LossKind};

    fn dense_ops(batch: usize) -> Vec<Op> {
        let sizes = DataSizes::bytes(4 * batch, batch);
        let adam = AdamConfig::new(1e-3);
        let g = Graph::build(&Arch::default_dense(), batch, LossKind::Mse, adam, sizes).unwrap();
        g.train.into_iter().chain(g.eval).collect()
    }

    #[test]
    fn candidates_are_one_per_shape_and_only_where_there_is_a_choice() {
        let ops = dense_ops(128);
        let cands = candidates(&ops);
        assert!(!cands.is_empty());
        let keys: BTreeSet<String> = cands.iter().map(Measured::key).collect();
        assert_eq!(keys.len(), cands.len(), "a shape timed twice");
        for op in &ops {
            let key = Measured::key(op);
            assert_eq!(keys.contains(&key), variants(op).len() > 1, "{key}");
        }
    }

    #[test]
    fn saved_names_resolve_to_variants_and_unknown_names_are_no_answer() {
        let ops = dense_ops(16);
        let cands = candidates(&ops);
        let mut choices = Choices::new();
        for op in &cands {
            let last = *variants(op).last().unwrap();
            let ms = BTreeMap::from([(last.name(), 1.0)]);
            let choice = Choice {
                variant: last.name(),
                ms,
                screen_ms: BTreeMap::new(),
                rounds: 1,
                guessed: false,
            };
            choices.insert(Measured::key(op), choice);
        }
        assert!(missing(&ops, &names(&choices)).is_empty());
        let m = measured(&names(&choices));
        for op in &cands {
            assert_eq!(m.get(op), variants(op).last().copied());
        }
        // A name the registry no longer has leaves that shape to be tuned again.
        let first = Measured::key(&cands[0]);
        choices.get_mut(&first).unwrap().variant = "retired".into();
        let names = names(&choices);
        let left: Vec<String> = missing(&ops, &names).iter().map(Measured::key).collect();
        assert_eq!(left, vec![first.clone()]);
        assert!(!applying(&ops, &names).contains_key(&first));
        assert_eq!(applying(&ops, &names).len(), cands.len() - 1);
    }

    /// A saved choice that never timed (or screened) a variant the device runs for its op,
    /// as after a variant joins the registry, is dropped and its shape tuned again; one on
    /// a device that cannot run the missing variant stands.
    #[test]
    fn a_choice_that_never_timed_a_variant_the_device_runs_is_tuned_again() {
        let ops = dense_ops(16);
        let cands = candidates(&ops);
        let subgroup = Variant::Matmul(crate::gpu::kernels::MatmulVariant::Subgroup);
        let full = |op: &Op, timed: &dyn Fn(&Variant) -> bool| {
            let ms: BTreeMap<String, f64> = variants(op)
                .into_iter()
                .filter(|v| timed(v))
                .map(|v| (v.name(), 1.0))
                .collect();
            Choice {
                variant: ms.keys().next().unwrap().clone(),
                ms,
                screen_ms: BTreeMap::new(),
                rounds: 1,
                guessed: false,
            }
        };
        // Every variant timed, the first shape's subgroup only screened: all current.
        let mut choices = Choices::new();
        for (i, op) in cands.iter().enumerate() {
            let mut c = full(op, &|v| i > 0 || *v != subgroup);
            if i == 0 && variants(op).contains(&subgroup) {
                c.screen_ms.insert(subgroup.name(), 2.0);
            }
            choices.insert(Measured::key(op), c);
        }
        let all = choices.clone();
        assert_eq!(drop_stale(&mut choices, &ops, &|_| true), None);
        assert_eq!(choices, all);
        // Shapes saved before the subgroup variant existed: stale on a device with
        // subgroups, current on one without.
        let before: Choices = cands
            .iter()
            .map(|op| (Measured::key(op), full(op, &|v| *v != subgroup)))
            .collect();
        let mut without = before.clone();
        assert_eq!(drop_stale(&mut without, &ops, &|v| v != subgroup), None);
        assert_eq!(without, before);
        let mut with = before.clone();
        let note = drop_stale(&mut with, &ops, &|_| true).unwrap();
        assert!(note.contains("subgroup"), "{note}");
        let runs_subgroup = |op: &Op| variants(op).contains(&subgroup);
        assert!(cands.iter().any(runs_subgroup));
        for op in &cands {
            let key = Measured::key(op);
            assert_eq!(with.contains_key(&key), !runs_subgroup(op), "{key}");
        }
    }

    #[test]
    fn a_cpu_adapters_stand_in_cuts_the_rows_and_scales_by_workgroups() {
        let ops = dense_ops(128);
        let first = candidates(&ops).into_iter().next().unwrap();
        let Op::Matmul(full) = &first else {
            panic!("{}", first.entry())
        };
        assert_eq!((full.shape.m, full.shape.k, full.shape.n), (128, 784, 100));
        assert!(
            stand_in(&first, Parallelism::Wide).is_none(),
            "a GPU screens at full size"
        );
        let short = stand_in(&first, Parallelism::Narrow).unwrap();
        let Op::Matmul(cut) = &short else { panic!() };
        assert_eq!((cut.shape.m, cut.shape.k, cut.shape.n), (16, 784, 100));
        assert_eq!(variants(&short), variants(&first));
        // thin4's 4-row tiles: 32 rows of workgroups at full size, 4 on the stand-in.
        let thin4 = Variant::Matmul(crate::gpu::kernels::MatmulVariant::Thin(
            crate::gpu::kernels::ThinTile::T4,
        ));
        assert_eq!(
            full_size_estimate(&first, &short, thin4, 1.5).unwrap(),
            12.0
        );
        // sgemm's 128-row tiles: one row of workgroups either way, so no scaling.
        let sgemm = Variant::Matmul(crate::gpu::kernels::MatmulVariant::Sgemm(
            crate::gpu::kernels::SgemmTile::T128x64,
        ));
        assert_eq!(full_size_estimate(&first, &short, sgemm, 1.5).unwrap(), 1.5);
    }

    #[test]
    fn a_choice_must_name_a_timed_variant_and_hold_real_times() {
        let good = Choice {
            variant: "a".into(),
            ms: BTreeMap::from([("a".into(), 0.5), ("b".into(), 0.7)]),
            screen_ms: BTreeMap::from([("c".into(), 0.2)]),
            rounds: 2,
            guessed: false,
        };
        assert!(good.check().is_ok());
        // A guess holds no times; one that claims some is no guess.
        let guess = Choice {
            ms: BTreeMap::new(),
            screen_ms: BTreeMap::new(),
            guessed: true,
            ..good.clone()
        };
        assert!(guess.check().is_ok());
        assert!(Choice {
            guessed: true,
            ..good.clone()
        }
        .check()
        .is_err());
        let stranger = Choice {
            variant: "c".into(),
            ..good.clone()
        };
        assert!(stranger.check().unwrap_err().contains("not among"));
        let nan = Choice {
            ms: BTreeMap::from([("a".into(), f64::NAN)]),
            ..good
        };
        assert!(nan.check().is_err());
    }
}
