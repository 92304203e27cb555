//! `check`: every entry point and variant against the CPU reference on this adapter. It
//! passes on lavapipe, names every WGSL entry point, and fails, naming the case, when a
//! kernel is wrong: here a GPU backend that skips one kernel (its output stays NaN) or
//! returns one element off, swapped in through the factory the command is given, which
//! only code can reach.

mod child;
mod common;

use std::collections::BTreeSet;
use std::process::Command;

use wgsl_autoencoder::backend::{Backend, MemoryLimits, OpTime, Timing};
use wgsl_autoencoder::check::run::{plan, run_plan};
use wgsl_autoencoder::gpu::kernels::{Parallelism, Shader, Variant};
use wgsl_autoencoder::gpu::GpuBackend;
use wgsl_autoencoder::ops::{BufId, BufferSpec, Op, StepParams, View};

/// Every `@compute` entry point of every shader, as naga reads it.
fn wgsl_entry_points() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for shader in Shader::ALL {
        let module = naga::front::wgsl::parse_str(&shader.source()).unwrap();
        names.extend(module.entry_points.iter().map(|e| e.name.clone()));
    }
    names
}

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    let out = child::own_cache(&mut command, cache.path())
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn check_quick_passes_and_names_every_entry_point() {
    let (code, stdout, stderr) = check(&["--quick"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let mut named: BTreeSet<String> = stdout
        .lines()
        .filter(|l| l.trim_end().ends_with("pass"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    // A batch split's fold is checked with its dispatch, in the split's row.
    for case in wgsl_autoencoder::check::tables::all() {
        let variant = case.chosen(Parallelism::Narrow);
        let launch = wgsl_autoencoder::gpu::kernels::launch(&case.op, variant).unwrap();
        if let Some(fold) = launch.fold.filter(|_| named.contains(launch.entry)) {
            named.insert(fold.entry.to_string());
        }
    }
    assert_eq!(named, wgsl_entry_points(), "{stdout}");
    assert!(stdout.contains("passed in"), "{stdout}");
}

#[test]
fn check_json_gives_one_object_per_entry_point_and_a_summary() {
    let (code, stdout, stderr) = check(&["--quick", "--json", "--filter", "peak"]);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kernels: Vec<&str> = lines.iter().filter_map(|l| l["kernel"].as_str()).collect();
    assert_eq!(kernels, ["peak_fma", "peak_copy", "peak_read"]);
    for l in &lines[..3] {
        assert_eq!(l["passed"], true, "{l}");
        assert!(l["cases"].as_u64().unwrap() >= 3, "{l}");
        assert!(
            l["largest_error_of_tolerance"].as_f64().unwrap() <= 1.0,
            "{l}"
        );
    }
    assert_eq!(lines[3]["summary"], true);
    assert_eq!(lines[3]["failed_groups"], 0);

    let (code, _, stderr) = check(&["--quick", "--filter", "no_such_kernel"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Error:") && stderr.contains("--filter"),
        "{stderr}"
    );
}

/// How the swapped-in backend breaks one entry point.
#[derive(Clone, Copy)]
enum Fault {
    /// The kernel never runs, as if it wrote nothing.
    Skip,
    /// The last element of its output comes back 1e-3 off.
    OneElementOff,
}

/// A GPU backend with one entry point broken.
struct Broken {
    inner: GpuBackend,
    entry: &'static str,
    fault: Fault,
    outputs: Vec<BufId>,
}

#[async_trait::async_trait(?Send)]
impl Backend for Broken {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn timing(&self) -> Option<Timing> {
        self.inner.timing()
    }
    fn memory_limits(&self) -> MemoryLimits {
        self.inner.memory_limits()
    }
    async fn alloc(&mut self, buffers: &[BufferSpec]) -> wgsl_autoencoder::Result<()> {
        self.inner.alloc(buffers).await
    }
    async fn compile(&mut self, program: &'static str, ops: &[Op]) -> wgsl_autoencoder::Result<()> {
        let broken = |op: &&Op| op.entry() == self.entry;
        self.outputs = ops
            .iter()
            .filter(broken)
            .flat_map(|op| op.outputs().into_iter().map(|v| v.buf))
            .collect();
        let kept: Vec<Op> = match self.fault {
            Fault::Skip => ops.iter().filter(|op| !broken(op)).cloned().collect(),
            Fault::OneElementOff => ops.to_vec(),
        };
        self.inner.compile(program, &kept).await
    }
    async fn run(
        &mut self,
        program: &'static str,
        rows: Option<usize>,
        steps: &[StepParams],
    ) -> wgsl_autoencoder::Result<()> {
        self.inner.run(program, rows, steps).await
    }
    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> wgsl_autoencoder::Result<()> {
        self.inner.write(buf, offset, words)
    }
    async fn read(&mut self, view: View) -> wgsl_autoencoder::Result<Vec<u32>> {
        let mut words = self.inner.read(view).await?;
        if let (Fault::OneElementOff, true) = (self.fault, self.outputs.contains(&view.buf)) {
            if let Some(last) = words.last_mut() {
                *last = (f32::from_bits(*last) + 1e-3).to_bits();
            }
        }
        Ok(words)
    }
    async fn finish(&mut self) -> wgsl_autoencoder::Result<()> {
        self.inner.finish().await
    }
    fn set_profiling(&mut self, on: bool) -> wgsl_autoencoder::Result<()> {
        self.inner.set_profiling(on)
    }
    async fn take_times(&mut self) -> wgsl_autoencoder::Result<Vec<OpTime>> {
        self.inner.take_times().await
    }
}

#[test]
fn check_fails_naming_the_case_when_a_kernel_is_wrong() {
    let gpu = common::gpu();
    for (entry, fault, symptom) in [
        ("bias_forward", Fault::Skip, "NaN"),
        ("peak_copy", Fault::OneElementOff, "differ"),
    ] {
        // The broken kernel beside a sound one, so that only the broken one fails.
        let full = plan(true, Parallelism::of(&gpu.adapter.get_info())).unwrap();
        let sound = full.clone().filter("max_pool2d_backward");
        let mut p = full.filter(entry);
        p.groups.extend(sound.groups);
        let first_case = p.groups[0].cases[0].label.clone();
        let mut make = |forced: Option<Variant>| -> Box<dyn Backend> {
            Box::new(Broken {
                inner: GpuBackend::with_variant(gpu.clone(), forced),
                entry,
                fault,
                outputs: Vec::new(),
            })
        };
        let mut out = Vec::new();
        let err = pollster::block_on(run_plan(&p, "test", &mut make, false, &mut out))
            .expect_err("a broken kernel must fail the check")
            .to_string();
        let out = String::from_utf8(out).unwrap();
        assert!(
            err.contains("check failed") && err.contains(entry) && err.contains(&first_case),
            "{err}"
        );
        assert!(err.contains(symptom), "{err}");
        assert!(!err.contains("max_pool2d_backward"), "{err}");
        let line = |kernel: &str| {
            out.lines()
                .find(|l| l.starts_with(kernel))
                .unwrap_or_else(|| panic!("no line for {kernel}: {out}"))
                .to_string()
        };
        let cases = p.groups[0].cases.len();
        assert!(
            line(entry).contains(&format!("FAIL ({cases} of {cases} cases)")),
            "{out}"
        );
        assert!(line("max_pool2d_backward").ends_with("pass"), "{out}");
        assert!(out.contains("first failing case:"), "{out}");
    }
}

/// The browser's quick check runs every variant at one case: the last of its tables'
/// (a 256³ product for the matmuls), never a models' op where a table forces the
/// variant, while every op with one kernel keeps all its cases.
#[test]
fn one_case_per_variant_is_the_last_of_its_tables() {
    let whole = plan(true, Parallelism::Narrow).unwrap();
    let one = whole.clone().variants_at_one_case();
    assert_eq!(one.groups.len(), whole.groups.len());
    let mut from_tables = 0;
    for (w, o) in whole.groups.iter().zip(&one.groups) {
        assert_eq!((w.kernel, &w.variant), (o.kernel, &o.variant));
        if w.variant == "-" {
            assert_eq!(o.cases.len(), w.cases.len(), "{}", w.kernel);
            continue;
        }
        assert_eq!(o.cases.len(), 1, "{} {}", w.kernel, w.variant);
        let expected = match w.cases.iter().rfind(|c| !c.from_models) {
            Some(last_of_tables) => {
                from_tables += 1;
                last_of_tables
            }
            None => w.cases.last().unwrap(),
        };
        assert_eq!(
            o.cases[0].label, expected.label,
            "{} {}",
            w.kernel, w.variant
        );
    }
    assert!(from_tables > 50, "{from_tables} variants from the tables");
    let thin4 = one
        .groups
        .iter()
        .find(|g| g.kernel == "matmul_thin" && g.variant == "thin4")
        .unwrap();
    assert!(
        thin4.cases[0].label.contains("m: 256, k: 256, n: 256"),
        "{}",
        thin4.cases[0].label
    );
    // The whole group ends on a models' op: the case the rule passes over.
    let whole_thin4 = whole
        .groups
        .iter()
        .find(|g| g.kernel == "matmul_thin" && g.variant == "thin4");
    assert!(whole_thin4.unwrap().cases.last().unwrap().from_models);
}
