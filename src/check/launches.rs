//! Every pipeline the crate makes, found the way it makes them: the check tables' cases and
//! both models' ops (at the batch sizes the tools and training use by default), under every
//! variant, chosen by `choose` for each kind of adapter and launched by `launch`. The
//! tests that hold the shaders to their ops (bindings) and to other backends
//! (portability) go through this list, so that a table, an op or a variant added to the
//! crate is among them without a line here.
//!
//! A model of other sizes (`--layers`, `--channels`, another `--batch`) specialises the
//! fused conv kernels with other constants; those run the same code with other numbers.

use std::collections::HashSet;

use super::tables;
use crate::error::Result;
use crate::gpu::kernels::{choose, launch, Launch, Measured, Parallelism, Variant};
use crate::ops::Op;

/// The batch sizes whose model ops are listed: `check`'s (3 and 128), `bench`'s (8 for
/// `--quick`, 128 and 1024), training's default (128) and evaluation's (1000).
pub const MODEL_BATCHES: [usize; 5] = [3, 8, 128, 1000, 1024];

/// One pipeline as an op uses it: the op, and its launch (shader, entry point, pipeline
/// constants, params and grid).
#[derive(Clone, Debug)]
pub struct Made {
    pub op: Op,
    pub launch: Launch,
    /// Whether the launch binds partial sums after the op's bindings: a batch split's
    /// first dispatch and its fold (`kernels::Fold`), listed as two.
    pub partials: bool,
}

/// Every distinct (op kind, pipeline) of the tables and the models, on either kind of
/// adapter: one entry per op kind, shader, entry point and set of constants.
pub fn launches() -> Result<Vec<Made>> {
    let mut made = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |op: &Op, forced: Option<Variant>| -> Result<()> {
        for device in [Parallelism::Wide, Parallelism::Narrow] {
            let chosen = choose(op, forced, &Measured::default(), device);
            let launch = launch(op, chosen.variant)?;
            let key = (
                op.kind(),
                launch.shader,
                launch.entry,
                launch.constants.clone(),
            );
            if seen.insert(key) {
                let partials = launch.fold.is_some();
                if let Some(fold) = launch.fold_launch() {
                    made.push(Made {
                        op: op.clone(),
                        launch: fold,
                        partials,
                    });
                }
                made.push(Made {
                    op: op.clone(),
                    launch,
                    partials,
                });
            }
        }
        Ok(())
    };
    for case in tables::all() {
        add(&case.op, case.variant)?;
    }
    for batch in MODEL_BATCHES {
        for op in crate::bench::model_ops(batch)? {
            for case in crate::bench::with_variants(op) {
                add(&case.op, Some(case.variant))?;
            }
        }
    }
    Ok(made)
}
