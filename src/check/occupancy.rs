//! How many workgroups each dispatch of a training step launches, as the variant choice
//! and `launch` make them, beside the op's FLOPs and bytes: what decides whether a
//! dispatch can fill a GPU. The starvation rule (issue 19) is that every dispatch of one
//! step at batch 128 that does more than `HEAVY_FLOPS` or moves more than `HEAVY_BYTES`
//! launches at least two workgroups per compute unit of a 132-unit GPU, where its work
//! allows; the test below holds both models to it.

use crate::error::Result;
use crate::gpu::kernels::{choose, launch, Measured, Parallelism, Variant};
use crate::model::{Arch, DataSizes, Graph};
use crate::ops::{AdamConfig, LossKind, Op};

/// A dispatch is heavy above 10 MFLOP …
pub const HEAVY_FLOPS: f64 = 10e6;
/// … or 1 MiB moved.
pub const HEAVY_BYTES: f64 = 1024.0 * 1024.0;
/// Two workgroups for each of a large GPU's 132 compute units.
pub const FILL_WORKGROUPS: u64 = 2 * 132;

/// One dispatch of a step: its op, the variant chosen for it, its entry point, the
/// workgroups its grid launches, its work. A batch split's fold is a dispatch of its own,
/// after its op's, with the partial sums' reads as its bytes and their additions as its
/// FLOPs.
#[derive(Clone, Debug)]
pub struct StepDispatch {
    pub op: Op,
    pub variant: Variant,
    pub entry: &'static str,
    pub workgroups: u64,
    pub flops: f64,
    pub bytes: f64,
}

impl StepDispatch {
    pub fn is_heavy(&self) -> bool {
        self.flops > HEAVY_FLOPS || self.bytes > HEAVY_BYTES
    }
}

/// The dispatches of one training step of `arch` (fused, MSE) at `batch`, each with the
/// variant the heuristic guesses on an adapter of this parallelism and its grid's
/// workgroups.
pub fn training_step_dispatches(
    arch: &Arch,
    batch: usize,
    device: Parallelism,
) -> Result<Vec<StepDispatch>> {
    let sizes = DataSizes {
        train_images: 4 * batch,
        test_images: batch,
    };
    let graph = Graph::build(arch, batch, LossKind::Mse, AdamConfig::new(1e-3), sizes)?;
    let groups = |[x, y, z]: [u32; 3]| x as u64 * y as u64 * z as u64;
    let mut dispatches = Vec::new();
    for op in &graph.train {
        let variant = choose(op, None, &Measured::default(), device).variant;
        let l = launch(op, variant)?;
        dispatches.push(StepDispatch {
            op: op.clone(),
            variant,
            entry: l.entry,
            workgroups: groups(l.grid),
            flops: op.flops(),
            bytes: op.bytes(),
        });
        if let Some(fold) = &l.fold {
            dispatches.push(StepDispatch {
                op: op.clone(),
                variant,
                entry: fold.entry,
                workgroups: groups(fold.grid),
                flops: fold.partials as f64,
                bytes: 4.0 * fold.partials as f64,
            });
        }
    }
    Ok(dispatches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_step_dispatches() {
        for arch in [Arch::default_dense(), Arch::default_conv()] {
            for d in training_step_dispatches(&arch, 128, Parallelism::Wide).unwrap() {
                println!(
                    "{:32} {:12} {:>8} {:>10.2} MFLOP {:>8.2} MiB {}",
                    d.entry,
                    d.variant.name(),
                    d.workgroups,
                    d.flops / 1e6,
                    d.bytes / 1048576.0,
                    d.op.label()
                );
            }
        }
    }
}
