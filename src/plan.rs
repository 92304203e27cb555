//! A training step's dispatch plan, without running it: for each dispatch, the entry
//! point and variant the GPU backend would choose (`variants::choose`, from the saved
//! choices and the heuristic for the adapter's kind), its grid (`kernels::launch`), the
//! workgroup size and workgroup memory its pipeline declares, its FLOPs and bytes, and how
//! many workgroups each compute unit of a GPU of N units gets. So a laptop can see what
//! an H100 (132 units) would launch.
//!
//! A dispatch that does real work (over `BIG_FLOPS` or `BIG_BYTES`) should give every
//! unit at least `PER_UNIT` workgroups, so that one waiting on memory leaves another to
//! run; one that cannot is `Starved`. Work below those sizes is `Small`: too little to
//! spread, and no fault of the kernel.
//!
//! The workgroup size and memory come from the shader (the shell reads them with naga,
//! `native::reflect`), handed in as a function, so this stays in the core.

use crate::error::Result;
use crate::gpu::kernels::{choose, launch, Launch, Measured, Parallelism};
use crate::ops::Op;
use crate::report::table;

/// A dispatch does real work above this many FLOPs ...
pub const BIG_FLOPS: f64 = 10e6;
/// ... or above this many bytes moved.
pub const BIG_BYTES: f64 = 1024.0 * 1024.0;
/// Workgroups each compute unit should get from a dispatch of real work.
pub const PER_UNIT: u64 = 2;

/// What one workgroup of a pipeline asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub invocations: u32,
    pub workgroup_bytes: u32,
}

/// Whether a dispatch fills a GPU of the plan's compute units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Occupancy {
    /// At least `PER_UNIT` workgroups per unit.
    Fills,
    /// Real work on fewer workgroups than that: the kernel should split it.
    Starved,
    /// Too little work to fill the units, and too little to matter.
    Small,
}

impl Occupancy {
    pub fn of(flops: f64, bytes: f64, workgroups: u64, units: usize) -> Occupancy {
        if workgroups >= PER_UNIT * units as u64 {
            Occupancy::Fills
        } else if flops > BIG_FLOPS || bytes > BIG_BYTES {
            Occupancy::Starved
        } else {
            Occupancy::Small
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Occupancy::Fills => "fills",
            Occupancy::Starved => "STARVED",
            Occupancy::Small => "too small",
        }
    }
}

/// One dispatch of the plan.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// Position in the step.
    pub index: usize,
    /// The op, as the CPU reference names it.
    pub op: String,
    /// The WGSL entry point that runs it.
    pub entry: String,
    pub variant: String,
    /// `only`, `measured` or `guessed`.
    pub source: String,
    pub shape: String,
    pub workgroups: u64,
    pub invocations: u32,
    pub workgroup_bytes: u32,
    pub flops: f64,
    pub bytes: f64,
    /// Workgroups per compute unit, where the units are known.
    pub per_unit: Option<f64>,
    pub occupancy: Option<Occupancy>,
}

/// The dispatches of one step of `ops` on an adapter of this kind, with `measured`
/// choices where it has them, against `units` compute units where they are known. A
/// batch split's fold is a dispatch of its own, right after its op's, with the partial
/// sums' additions as its FLOPs and their reads as its bytes.
pub fn rows(
    ops: &[Op],
    measured: &Measured,
    device: Parallelism,
    units: Option<usize>,
    footprint: &mut dyn FnMut(&Launch) -> Result<Footprint>,
) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::with_capacity(ops.len());
    for op in ops {
        let chosen = choose(op, None, measured, device);
        let l = launch(op, chosen.variant)?;
        let mut dispatches = vec![(l.clone(), op.flops(), op.bytes())];
        if let (Some(fold), Some(fold_launch)) = (&l.fold, l.fold_launch()) {
            let partials = fold.partials as f64;
            dispatches.push((fold_launch, partials, 4.0 * partials));
        }
        for (l, flops, bytes) in dispatches {
            let f = footprint(&l)?;
            let workgroups: u64 = l.grid.iter().map(|&g| u64::from(g)).product();
            rows.push(Row {
                index: rows.len(),
                op: op.entry().to_string(),
                entry: l.entry.to_string(),
                variant: chosen.variant.name(),
                source: chosen.how(op).to_string(),
                shape: op.label(),
                workgroups,
                invocations: f.invocations,
                workgroup_bytes: f.workgroup_bytes,
                flops,
                bytes,
                per_unit: units.map(|u| workgroups as f64 / u as f64),
                occupancy: units.map(|u| Occupancy::of(flops, bytes, workgroups, u)),
            });
        }
    }
    Ok(rows)
}

/// The dispatches of real work that leave compute units idle.
pub fn starved(rows: &[Row]) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.occupancy == Some(Occupancy::Starved))
        .collect()
}

/// A plan with what it was made for.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Plan {
    pub model: String,
    pub batch: usize,
    /// The adapter whose kind and saved choices the plan used, or the GPU it imagines.
    pub target: String,
    pub compute_units: Option<usize>,
    pub rows: Vec<Row>,
}

fn figure(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2}G", v / 1e9),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

pub fn render(plan: &Plan) -> String {
    let cells: Vec<Vec<String>> = plan
        .rows
        .iter()
        .map(|r| {
            vec![
                r.index.to_string(),
                r.entry.clone(),
                r.shape.clone(),
                r.variant.clone(),
                r.source.clone(),
                r.workgroups.to_string(),
                r.invocations.to_string(),
                r.workgroup_bytes.to_string(),
                figure(r.flops),
                figure(r.bytes),
                r.per_unit.map_or("-".into(), |p| format!("{p:.2}")),
                r.occupancy.map_or("-", Occupancy::name).to_string(),
            ]
        })
        .collect();
    let units = match plan.compute_units {
        Some(n) => format!("{n} compute units"),
        None => "compute units unknown (--compute-units N)".into(),
    };
    let mut out = format!(
        "{}, batch {}: one training step's {} dispatches on {}; {units}\n",
        plan.model,
        plan.batch,
        plan.rows.len(),
        plan.target
    );
    out += &table(
        &[
            "#",
            "entry",
            "shape",
            "variant",
            "source",
            "groups",
            "inv/grp",
            "wg bytes",
            "FLOP",
            "bytes",
            "grp/CU",
            "occupancy",
        ],
        &cells,
        5,
    );
    if plan.compute_units.is_some() {
        let bad = starved(&plan.rows);
        out += &format!(
            "fills: >= {PER_UNIT} workgroups per unit; STARVED: more than {} FLOP or {} MiB moved on fewer ({} here); too small: less work than that\n",
            figure(BIG_FLOPS),
            BIG_BYTES / (1024.0 * 1024.0),
            bad.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_asks_two_workgroups_per_unit_of_real_work_only() {
        let units = 132;
        assert_eq!(Occupancy::of(1e9, 0.0, 264, units), Occupancy::Fills);
        assert_eq!(Occupancy::of(0.0, 0.0, 264, units), Occupancy::Fills);
        assert_eq!(Occupancy::of(10.1e6, 0.0, 263, units), Occupancy::Starved);
        assert_eq!(Occupancy::of(0.0, 2e6, 1, units), Occupancy::Starved);
        // Exactly at the thresholds is not yet real work.
        assert_eq!(Occupancy::of(10e6, BIG_BYTES, 1, units), Occupancy::Small);
        assert_eq!(Occupancy::of(5e6, 1e5, 100, units), Occupancy::Small);
    }

    #[test]
    fn starved_lists_exactly_the_starved_rows() {
        let row = |index, flops, workgroups| Row {
            index,
            op: "matmul".into(),
            entry: "matmul_thin".into(),
            variant: "thin4x4".into(),
            source: "guessed".into(),
            shape: String::new(),
            workgroups,
            invocations: 256,
            workgroup_bytes: 0,
            flops,
            bytes: 0.0,
            per_unit: Some(workgroups as f64 / 132.0),
            occupancy: Some(Occupancy::of(flops, 0.0, workgroups, 132)),
        };
        let rows = [row(0, 1e9, 1000), row(1, 1e9, 10), row(2, 1e3, 1)];
        let bad: Vec<usize> = starved(&rows).iter().map(|r| r.index).collect();
        assert_eq!(bad, vec![1]);
    }
}
