//! Checking GPU kernels against the CPU reference: run one op on both backends from the
//! same inputs and compare every output element. The test suite (`tests/<family>.rs`)
//! runs the tables of `check::tables` through this, so the tests and any other user of
//! the comparison share one copy of the shapes, the tolerances and the rules:
//!
//! - seeded inputs, never zeros, with the inputs that must mean something made valid;
//! - every overwritten output filled with NaN first (`POISON`, a NaN no arithmetic makes),
//!   so that an element the kernel never writes fails;
//! - |gpu − cpu| ≤ atol + rtol·|cpu| for floats, equality for integers (indices); where
//!   the reference gives a NaN or an infinity (from NaN or infinite inputs), the GPU must
//!   give the same: any NaN but the poison, the same infinity.

pub mod launches;
pub mod run;
pub mod tables;

use std::sync::Arc;

use crate::backend::Backend;
use crate::cpu::backend::CpuBackend;
use crate::error::Result;
use crate::gpu::kernels::{choose, launch, Measured, Parallelism, Variant};
use crate::gpu::{Gpu, GpuBackend};
use crate::ops::{Access, Binding, BufferSpec, Elem, Op, StepParams};

/// |gpu − cpu| ≤ atol + rtol·|cpu|, element by element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tol {
    pub atol: f32,
    pub rtol: f32,
}

/// For results that involve no long sums: a few ulps of f32.
pub const TIGHT: Tol = Tol {
    atol: 1e-5,
    rtol: 1e-5,
};

/// For an op of any kind on values in [-1, 1): f32 sums of as many products as the op
/// does per output (its FLOPs over twice its outputs) against the f64 reference. What
/// the samples of whole models are checked with, where no table states the terms.
pub fn tol_for(op: &Op) -> Tol {
    let outputs: usize = op.outputs().iter().map(|v| v.len).sum();
    let terms = (op.flops() / (2.0 * outputs as f64)).max(1.0);
    Tol {
        atol: 2e-6 * terms as f32,
        rtol: 1e-5,
    }
}

/// One kernel run to check: an op on buffers of its own (one per binding), their
/// contents, the step uniform, the variant to force (`None`: the one the backend
/// chooses), and the tolerance.
#[derive(Clone, Debug)]
pub struct Case {
    pub label: String,
    pub op: Op,
    pub init: Vec<Vec<u32>>,
    pub step: StepParams,
    pub variant: Option<Variant>,
    pub tol: Tol,
    /// One of the models' ops, which `check`'s plan adds after the tables' shapes.
    pub from_models: bool,
}

impl Case {
    /// A case whose inputs are `sample::random_buffers(op, seed)`.
    pub fn random(label: impl Into<String>, op: Op, seed: u64, tol: Tol) -> Case {
        let init = crate::sample::random_buffers(&op, seed);
        Case {
            label: label.into(),
            op,
            init,
            step: crate::sample::SAMPLE_STEP,
            variant: None,
            tol,
            from_models: false,
        }
    }

    /// A case with the given buffer contents, in binding order.
    pub fn given(label: impl Into<String>, op: Op, init: Vec<Vec<u32>>, tol: Tol) -> Case {
        Case {
            label: label.into(),
            op,
            init,
            step: crate::sample::SAMPLE_STEP,
            variant: None,
            tol,
            from_models: false,
        }
    }

    pub fn with_step(self, step: StepParams) -> Case {
        Case { step, ..self }
    }

    pub fn with_variant(self, variant: Variant) -> Case {
        Case {
            variant: Some(variant),
            ..self
        }
    }

    /// The variant this case runs on an adapter: the one it forces, or the one the GPU
    /// backend would choose there.
    pub fn chosen(&self, device: Parallelism) -> Variant {
        choose(&self.op, self.variant, &Measured::default(), device).variant
    }

    /// The GPU entry point this case runs on an adapter (a variant's, where the op has
    /// several).
    pub fn kernel(&self, device: Parallelism) -> Result<&'static str> {
        Ok(launch(&self.op, self.chosen(device))?.entry)
    }
}

/// An output element outside the tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub binding: &'static str,
    pub index: usize,
    pub gpu: f64,
    pub cpu: f64,
}

/// What one case found.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub label: String,
    pub kernel: &'static str,
    /// Output elements compared.
    pub elements: usize,
    /// The largest finite |gpu − cpu| over the float outputs.
    pub worst: f64,
    /// The largest finite |gpu − cpu| / (atol + rtol·|cpu|): how close to its tolerance
    /// the worst element came (above 1 fails).
    pub worst_of_tol: f64,
    /// How many elements were outside the tolerance, and the first few.
    pub bad: usize,
    pub first_bad: Vec<Mismatch>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.bad == 0
    }

    /// One line for a failure message: what differed, by how much, and where first.
    pub fn describe(&self, tol: Tol) -> String {
        format!(
            "{} ({}): {} of {} elements differ beyond {tol:?}; largest finite error {:e}; first (binding, index, gpu, cpu): {:?}",
            self.label,
            self.kernel,
            self.bad,
            self.elements,
            self.worst,
            self.first_bad
                .iter()
                .map(|m| (m.binding, m.index, m.gpu, m.cpu))
                .collect::<Vec<_>>()
        )
    }
}

/// The NaN every overwritten output is filled with before a kernel runs: a quiet NaN with a
/// payload, which arithmetic does not make (it gives 0x7fc00000 or passes an input's on),
/// so that an element never written is told from one the kernel made NaN.
pub const POISON: u32 = 0x7fc0_0bad;

/// Loads `init` into fresh buffers, NaN-fills the overwritten outputs, runs the op once and
/// reads every output back, in binding order.
pub async fn run_once(
    backend: &mut dyn Backend,
    op: &Op,
    init: &[Vec<u32>],
    step: StepParams,
) -> Result<Vec<Vec<u32>>> {
    let bindings = op.bindings();
    let specs: Vec<BufferSpec> = init
        .iter()
        .zip(&bindings)
        .map(|(data, b)| BufferSpec {
            name: b.name.to_string(),
            len: data.len(),
        })
        .collect();
    backend.alloc(&specs).await?;
    for (i, data) in init.iter().enumerate() {
        backend.write(i, 0, data)?;
    }
    // In-place state (Adam's parameters and moments, a running total) keeps its values.
    for b in bindings.iter().filter(|b| b.access == Access::Write) {
        let nan = vec![POISON; b.view.len];
        backend.write(b.view.buf, b.view.offset, &nan)?;
    }
    backend.compile("check", std::slice::from_ref(op)).await?;
    backend.run("check", None, &[step]).await?;
    let mut outputs = Vec::new();
    for b in written(&bindings) {
        outputs.push(backend.read(b.view).await?);
    }
    Ok(outputs)
}

fn written(bindings: &[Binding]) -> impl Iterator<Item = &Binding> {
    bindings.iter().filter(|b| b.access != Access::Read)
}

/// Compares the outputs of two runs of `op`, binding by binding.
pub fn compare(
    label: &str,
    kernel: &'static str,
    op: &Op,
    gpu: &[Vec<u32>],
    cpu: &[Vec<u32>],
    tol: Tol,
) -> Outcome {
    let mut outcome = Outcome {
        label: label.to_string(),
        kernel,
        elements: 0,
        worst: 0.0,
        worst_of_tol: 0.0,
        bad: 0,
        first_bad: Vec::new(),
    };
    let bindings = op.bindings();
    for ((b, g), c) in written(&bindings).zip(gpu).zip(cpu) {
        outcome.elements += g.len().max(c.len());
        if g.len() != c.len() {
            outcome.bad += g.len().max(c.len());
            continue;
        }
        for (index, (&g, &c)) in g.iter().zip(c).enumerate() {
            let (gv, cv, within) = match b.elem {
                Elem::U32 => (g as f64, c as f64, g == c),
                Elem::F32 => {
                    let written = g != POISON;
                    let (g, c) = (f32::from_bits(g), f32::from_bits(c));
                    let within = if c.is_nan() {
                        // The reference's NaN (a NaN input's): a NaN the kernel wrote.
                        g.is_nan() && written
                    } else if c.is_infinite() {
                        g == c
                    } else {
                        let err = (g - c).abs();
                        let allowed = tol.atol + tol.rtol * c.abs();
                        if err.is_finite() {
                            outcome.worst = outcome.worst.max(err as f64);
                            outcome.worst_of_tol =
                                outcome.worst_of_tol.max(err as f64 / allowed as f64);
                        }
                        // Written so that a NaN or an infinity on the GPU's side fails.
                        err <= allowed
                    };
                    (g as f64, c as f64, within)
                }
            };
            if !within {
                outcome.bad += 1;
                if outcome.first_bad.len() < 5 {
                    outcome.first_bad.push(Mismatch {
                        binding: b.name,
                        index,
                        gpu: gv,
                        cpu: cv,
                    });
                }
            }
        }
    }
    outcome
}

/// Runs a case on the backend under test (a GPU backend with the case's variants, on a
/// device of the given parallelism) and on the CPU reference, and compares.
pub async fn check_case_with(
    tested: &mut dyn Backend,
    device: Parallelism,
    case: &Case,
) -> Result<Outcome> {
    let gpu_out = run_once(tested, &case.op, &case.init, case.step).await?;
    let cpu_out = run_once(&mut CpuBackend::new(), &case.op, &case.init, case.step).await?;
    let kernel = case.kernel(device)?;
    Ok(compare(
        &case.label,
        kernel,
        &case.op,
        &gpu_out,
        &cpu_out,
        case.tol,
    ))
}

/// Checks benchmark cases (an op and the variant it forces), those the adapter runs, on
/// random inputs against the CPU reference, each with `tol_for` its op: whether all
/// match, and the first mismatch. The page checks each rung of a ladder with it.
pub async fn check_variants(
    gpu: &Arc<Gpu>,
    cases: &[crate::bench::Case],
) -> Result<(bool, Option<String>)> {
    for (i, case) in cases.iter().filter(|c| gpu.runs(c.variant)).enumerate() {
        let label = format!("{} {}", case.name(), case.variant_name());
        let tol = tol_for(&case.op);
        let checked =
            Case::random(&label, case.op.clone(), 11 + i as u64, tol).with_variant(case.variant);
        for outcome in check_case_on(std::slice::from_ref(gpu), &checked).await? {
            if !outcome.passed() {
                return Ok((false, Some(outcome.describe(tol))));
            }
        }
    }
    Ok((true, None))
}

/// Runs a case on each GPU context (say, one with naga's runtime checks and one
/// without) and once on the CPU reference, and compares each with the reference.
pub async fn check_case_on(gpus: &[Arc<Gpu>], case: &Case) -> Result<Vec<Outcome>> {
    let cpu_out = run_once(&mut CpuBackend::new(), &case.op, &case.init, case.step).await?;
    let mut outcomes = Vec::new();
    for gpu in gpus {
        let kernel = case.kernel(Parallelism::of(&gpu.adapter.get_info()))?;
        let mut gpu_backend = GpuBackend::with_variant(gpu.clone(), case.variant);
        let gpu_out = run_once(&mut gpu_backend, &case.op, &case.init, case.step).await?;
        let label = match gpu.options.checked {
            true => format!("{} [checked]", case.label),
            false => format!("{} [trusted]", case.label),
        };
        outcomes.push(compare(
            &label, kernel, &case.op, &gpu_out, &cpu_out, case.tol,
        ));
    }
    Ok(outcomes)
}

/// Seeded values in [lo, hi), as the bits of f32s.
pub fn random_words(len: usize, seed: u64, lo: f32, hi: f32) -> Vec<u32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len)
        .map(|_| rng.random_range(lo..hi).to_bits())
        .collect()
}

/// f32s as the words a buffer holds.
pub fn words(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}
