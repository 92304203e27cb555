//! The `check` command: every entry point and variant, on the adapter at hand, against
//! the CPU reference. Its cases are the test suite's own (`check::tables`), whole or, for
//! `--quick`, a spread of each entry point's table, plus the ops of both models at small
//! and training batch sizes (`bench::model_ops`) under every variant; each is compared
//! by `check_case_with`, as the tests compare. A table or variant added to the crate is
//! therefore checked here without a line of this file changing.

use crate::bench::Input;
use std::collections::HashMap;
use std::io::Write;

use web_time::Instant;

use super::{check_case_with, tables, tol_for, Case};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::kernels::{Parallelism, Variant};

/// All the cases of one entry point in one variant.
#[derive(Clone, Debug)]
pub struct Group {
    /// The WGSL entry point the cases run.
    pub kernel: &'static str,
    /// The variant, as `bench` names it ("-" for ops with one kernel).
    pub variant: String,
    pub cases: Vec<Case>,
}

/// Every case `check` runs, by entry point and variant, in the tables' order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub quick: bool,
    /// The kind of adapter the cases are grouped for: it decides the variants chosen.
    pub device: Parallelism,
    pub groups: Vec<Group>,
}

impl Plan {
    pub fn cases(&self) -> usize {
        self.groups.iter().map(|g| g.cases.len()).sum()
    }

    /// Drops the cases of variants `gpu` cannot run (those that need subgroups, on a
    /// device without them), and the groups they leave empty.
    pub fn runnable_on(self, gpu: &crate::gpu::Gpu) -> Plan {
        let runs = |c: &Case| c.variant.is_none_or(|v| gpu.runs(v));
        let groups = self.groups.into_iter().map(|g| Group {
            cases: g.cases.into_iter().filter(runs).collect(),
            ..g
        });
        Plan {
            groups: groups.filter(|g| !g.cases.is_empty()).collect(),
            ..self
        }
    }

    /// Each variant's group down to one case: the last of its tables' cases (a table
    /// ends on its largest shapes: a 256³ product, a model layer), or its last case where
    /// no table forces the variant. The groups of ops with one kernel ("-") keep every
    /// case. The browser's quick check runs this: the native suite checks every variant
    /// at every case, and what a browser adds (its own shader compiler) shows at one, at
    /// a fraction of the cost: at the models' batch-3 weight gradients, thin4 is 19,600
    /// workgroups, half a minute on SwiftShader.
    pub fn variants_at_one_case(self) -> Plan {
        let groups = self.groups.into_iter().map(|mut g| {
            if g.variant != "-" {
                let last_of_tables = g.cases.iter().rposition(|c| !c.from_models);
                if let Some(keep) = last_of_tables.or(g.cases.len().checked_sub(1)) {
                    g.cases = vec![g.cases.swap_remove(keep)];
                }
            }
            g
        });
        Plan {
            groups: groups.collect(),
            ..self
        }
    }

    /// Keeps only the groups whose kernel or variant name contains `text`.
    pub fn filter(self, text: &str) -> Plan {
        let groups = self.groups.into_iter();
        let wanted = |g: &Group| g.kernel.contains(text) || g.variant.contains(text);
        Plan {
            groups: groups.filter(wanted).collect(),
            ..self
        }
    }
}

/// How many of each entry point's table cases `--quick` keeps, spread evenly: the first
/// (the tables start at their edges: ones, single elements), the last (the largest,
/// often a model's own shape) and odd sizes between.
const QUICK_PER_TABLE: usize = 5;

/// Batch sizes at which the models' ops are checked: an odd small one, and training's.
fn model_batches(quick: bool) -> &'static [usize] {
    if quick {
        &[3]
    } else {
        &[3, 128]
    }
}

/// The entry point and variant a case runs: the variants it forces, the others as the GPU
/// backend would choose them for its shape.
fn key(case: &Case, device: Parallelism) -> Result<(&'static str, String)> {
    let variant = crate::bench::Case {
        op: case.op.clone(),
        variant: case.chosen(device),
    }
    .variant_name();
    Ok((case.kernel(device)?, variant))
}

/// `keep` of `n` indices, spread evenly from the first to the last.
fn spread(n: usize, keep: usize) -> Vec<usize> {
    if n <= keep {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..keep).map(|i| i * (n - 1) / (keep - 1)).collect();
    picked.dedup();
    picked
}

/// Cases gathered by entry point and variant, in the order each first appears.
struct Grouper {
    device: Parallelism,
    groups: Vec<Group>,
    index: HashMap<(&'static str, String), usize>,
}

impl Grouper {
    fn new(device: Parallelism) -> Grouper {
        Grouper {
            device,
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn add(&mut self, case: Case) -> Result<()> {
        let (kernel, variant) = key(&case, self.device)?;
        let groups = &mut self.groups;
        let at = *self
            .index
            .entry((kernel, variant.clone()))
            .or_insert_with(|| {
                groups.push(Group {
                    kernel,
                    variant,
                    cases: Vec::new(),
                });
                groups.len() - 1
            });
        groups[at].cases.push(case);
        Ok(())
    }
}

/// The cases of every table (a spread of each when `quick`), then the models' ops.
pub fn plan(quick: bool, device: Parallelism) -> Result<Plan> {
    plan_at(quick, device, &[])
}

/// `plan`, with the models' ops also at these inputs (`check --data`: the user's data's
/// shape).
pub fn plan_at(quick: bool, device: Parallelism, extra: &[Input]) -> Result<Plan> {
    let mut tables = Grouper::new(device);
    for case in tables::all() {
        tables.add(case)?;
    }
    let mut plan = Grouper::new(device);
    for group in tables.groups {
        let keep = if quick {
            spread(group.cases.len(), QUICK_PER_TABLE)
        } else {
            (0..group.cases.len()).collect()
        };
        for i in keep {
            plan.add(group.cases[i].clone())?;
        }
    }
    for &batch in model_batches(quick) {
        let inputs: Vec<Input> = [Input::MNIST, Input::ROWS]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        for (i, op) in crate::bench::model_ops_at(batch, &inputs)?
            .into_iter()
            .enumerate()
        {
            for variant in crate::bench::with_variants(op) {
                let label = format!(
                    "{} {} (models, batch {batch})",
                    variant.name(),
                    variant.op.label()
                );
                let tol = tol_for(&variant.op);
                // Case::random's step: Adam's bias corrections of a first step.
                let case = Case {
                    from_models: true,
                    ..Case::random(label, variant.op, 1000 + i as u64, tol)
                        .with_variant(variant.variant)
                };
                plan.add(case)?;
            }
        }
    }
    Ok(Plan {
        quick,
        device,
        groups: plan.groups,
    })
}

/// What one group found. `check` prints it as a line (or, with `--json`, as an object),
/// and the page's check hands it to JavaScript as a row, so both name its fields alike.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GroupReport {
    /// The entry point.
    pub kernel: String,
    pub variant: String,
    pub cases: usize,
    /// The largest finite |gpu − cpu| over every case.
    pub largest_error: f64,
    /// The largest error as a fraction of its tolerance (above 1 fails).
    pub largest_error_of_tolerance: f64,
    pub failed: usize,
    pub passed: bool,
    /// The first failing case: its label, and what differed or why it could not run.
    pub first_failure: Option<String>,
    pub seconds: f64,
}

/// Makes the backend under test for a case's variants: the GPU backend, in the command.
pub type MakeBackend<'a> = dyn FnMut(Option<Variant>) -> Box<dyn Backend> + 'a;

/// Runs every case of a group. A case that cannot run on this adapter (a pipeline the
/// driver refuses) fails like a wrong result, with the error as its description.
pub async fn run_group(
    group: &Group,
    device: Parallelism,
    make: &mut MakeBackend<'_>,
) -> GroupReport {
    let started = Instant::now();
    let mut report = GroupReport {
        kernel: group.kernel.to_string(),
        variant: group.variant.clone(),
        cases: group.cases.len(),
        largest_error: 0.0,
        largest_error_of_tolerance: 0.0,
        failed: 0,
        passed: true,
        first_failure: None,
        seconds: 0.0,
    };
    for case in &group.cases {
        let mut backend = make(case.variant);
        let failure = match check_case_with(backend.as_mut(), device, case).await {
            Ok(outcome) => {
                report.largest_error = report.largest_error.max(outcome.worst);
                report.largest_error_of_tolerance =
                    report.largest_error_of_tolerance.max(outcome.worst_of_tol);
                (!outcome.passed()).then(|| outcome.describe(case.tol))
            }
            Err(e) => Some(format!("{}: did not run: {e}", case.label)),
        };
        if let Some(why) = failure {
            report.failed += 1;
            report.passed = false;
            report.first_failure.get_or_insert(why);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// The header and the line of one group, in columns as wide as the plan's names.
pub struct Lines {
    kernel: usize,
    variant: usize,
}

impl Lines {
    pub fn new(plan: &Plan) -> Lines {
        let widest = |f: &dyn Fn(&Group) -> usize| plan.groups.iter().map(f).max().unwrap_or(0);
        Lines {
            kernel: widest(&|g| g.kernel.len()).max("entry point".len()),
            variant: widest(&|g| g.variant.len()).max("variant".len()),
        }
    }

    pub fn header(&self) -> String {
        let (k, v) = (self.kernel, self.variant);
        format!(
            "{:<k$}  {:<v$}  {:>5}  {:>13}  {:>12}  result\n{}  {}  -----  -------------  ------------  ------\n",
            "entry point",
            "variant",
            "cases",
            "largest error",
            "of tolerance",
            "-".repeat(k),
            "-".repeat(v),
        )
    }

    pub fn line(&self, r: &GroupReport) -> String {
        let (k, v) = (self.kernel, self.variant);
        let result = if r.passed {
            "pass".to_string()
        } else {
            format!("FAIL ({} of {} cases)", r.failed, r.cases)
        };
        let mut out = format!(
            "{:<k$}  {:<v$}  {:>5}  {:>13.2e}  {:>12.3}  {result}\n",
            r.kernel, r.variant, r.cases, r.largest_error, r.largest_error_of_tolerance
        );
        if let Some(why) = &r.first_failure {
            out += &format!("    first failing case: {why}\n");
        }
        out
    }
}

/// Runs the plan group by group, writing each group's line (or JSON object) to `out` as
/// it completes, then a summary; the verdict of `verdict`.
pub async fn run_plan(
    plan: &Plan,
    adapter: &str,
    make: &mut MakeBackend<'_>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| crate::Error::Other(format!("writing the report: {e}"));
    let lines = Lines::new(plan);
    let what = if plan.quick { "quick" } else { "full" };
    if !json {
        write!(
            out,
            "checking {} entry points and variants on {adapter} against the CPU reference: {} cases ({what})\n{}",
            plan.groups.len(),
            plan.cases(),
            lines.header()
        )
        .map_err(io)?;
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for group in &plan.groups {
        let report = run_group(group, plan.device, make).await;
        let text = if json {
            serde_json::to_string(&report).map_err(|e| crate::Error::Other(e.to_string()))? + "\n"
        } else {
            lines.line(&report)
        };
        out.write_all(text.as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
        reports.push(report);
    }
    let failed = reports.iter().filter(|r| !r.passed).count();
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let summary = serde_json::json!({
            "summary": true,
            "adapter": adapter,
            "quick": plan.quick,
            "groups": reports.len(),
            "cases": plan.cases(),
            "failed_groups": failed,
            "seconds": seconds,
        });
        writeln!(out, "{summary}").map_err(io)?;
    } else if failed == 0 {
        writeln!(
            out,
            "all {} cases of {} entry points and variants passed in {seconds:.1} s",
            plan.cases(),
            reports.len()
        )
        .map_err(io)?;
    }
    verdict(&reports)
}

/// The command's verdict: `Ok` when every case passed, otherwise an error that names the
/// first failing case of each failing entry point (the binary prints it and exits 1).
pub fn verdict(reports: &[GroupReport]) -> Result<()> {
    let failed: Vec<&GroupReport> = reports.iter().filter(|r| !r.passed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let cases: usize = failed.iter().map(|r| r.failed).sum();
    let names: Vec<String> = failed
        .iter()
        .map(|r| {
            format!(
                "{} [{}]: {}",
                r.kernel,
                r.variant,
                r.first_failure.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    Err(crate::Error::Other(format!(
        "check failed: {cases} case(s) of {} entry point(s) disagree with the CPU reference:\n  {}",
        failed.len(),
        names.join("\n  ")
    )))
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn a_spread_keeps_both_ends() {
        assert_eq!(spread(2, 3), [0, 1]);
        assert_eq!(spread(3, 3), [0, 1, 2]);
        assert_eq!(spread(10, 3), [0, 4, 9]);
        assert_eq!(spread(4, 3), [0, 1, 3]);
    }
}
