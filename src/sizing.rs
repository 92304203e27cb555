//! The one size check every run makes, on every backend, before anything is allocated.
//!
//! First the flags' magnitudes, in u128 so that nothing can overflow: a width, a channel
//! count or a batch whose buffers could never fit is refused before a graph is built.
//! Then the graph itself, buffer by buffer and in total, against what the backend can
//! hold. Each error names the flag that made the size too big (the model's size flag
//! when even a batch of one is too big, `--batch` otherwise) and the limit.

use crate::backend::MemoryLimits;
use crate::error::{Error, Result};
use crate::model::{Arch, Graph, GraphSpec};

/// Test images evaluated per batch: evaluation keeps no gradients, so it runs at a batch
/// this large (or the training batch, if larger) whenever the buffers allow.
pub const EVAL_ROWS: usize = 1000;
/// Images the decoder-only program turns codes into at once (the interpolation picture).
pub const DECODE_ROWS: usize = 100;

fn too_big(flag: &str, what: &str, bytes: u128, limit: u64, limit_what: &str) -> Error {
    Error::flag(
        flag,
        format!("{what} would need {bytes} bytes, but {limit_what} allows at most {limit}; use a smaller {flag}"),
    )
}

/// Refuses flags whose buffers could never fit, before any graph is built: every
/// product is taken in u128 from the model's description, so no flag can overflow the
/// arithmetic that follows.
pub fn check_magnitude(arch: &Arch, batch: usize, limits: &MemoryLimits) -> Result<()> {
    arch.validate()?;
    let limit = limits.per_buffer.min(limits.total.unwrap_or(u64::MAX));
    let limit_what = match limits.total {
        Some(total) if total < limits.per_buffer => limits.total_what,
        _ => limits.per_buffer_what,
    };
    let flag = arch.flag();
    let bytes = |elements: u128| elements.saturating_mul(4);
    let seq = arch.sequential();
    // (what, elements per image, fixed elements): activations grow with the batch, weights
    // do not.
    let mut sizes: Vec<(String, u128, u128)> = Vec::new();
    let outputs = seq.output_elements();
    for (module, &out) in seq.modules.iter().zip(&outputs) {
        let what = module.describe();
        sizes.push((format!("the output of {what}"), out, 0));
        sizes.push((
            format!("the weights of {what}"),
            0,
            module.weight_elements(),
        ));
    }
    // What no batch can fix first, so that the advice names the model's flag.
    for (what, per_image, fixed) in &sizes {
        if bytes(*fixed) > limit as u128 {
            return Err(too_big(flag, what, bytes(*fixed), limit, limit_what));
        }
        if bytes(*per_image) > limit as u128 {
            let what = format!("{what}, even at --batch 1,");
            return Err(too_big(flag, &what, bytes(*per_image), limit, limit_what));
        }
    }
    for (what, per_image, _) in sizes {
        let batched = per_image.saturating_mul(batch as u128);
        if bytes(batched) > limit as u128 {
            let what = format!("{what} at batch {batch}");
            return Err(too_big("--batch", &what, bytes(batched), limit, limit_what));
        }
    }
    let input = (seq.input as u128).saturating_mul(batch as u128);
    if bytes(input) > limit as u128 {
        let what = format!("a batch of {batch} images");
        return Err(too_big("--batch", &what, bytes(input), limit, limit_what));
    }
    Ok(())
}

/// The bytes of each buffer of `graph`.
fn buffer_bytes(graph: &Graph) -> Vec<u64> {
    graph
        .buffers
        .iter()
        .map(|b| (b.len as u64).saturating_mul(4))
        .collect()
}

/// Checks a built graph against the limits; `extra` is host memory the run holds besides
/// (the dataset). The flag blamed is the model's when a batch of one fails the same way.
fn check_graph(spec: &GraphSpec, limits: &MemoryLimits, extra: u64) -> Result<()> {
    let graph = Graph::build_with(spec)?;
    let one = Graph::build_with(&GraphSpec {
        rows: 1,
        eval_rows: 1,
        decode_rows: 1,
        ..spec.clone()
    })?;
    let (sizes, sizes_at_one) = (buffer_bytes(&graph), buffer_bytes(&one));
    let blame = |at_one: u64, limit: u64| match at_one > limit {
        true => spec.arch.flag(),
        false => "--batch",
    };
    for ((spec_buf, &bytes), &at_one) in graph.buffers.iter().zip(&sizes).zip(&sizes_at_one) {
        if bytes > limits.per_buffer {
            let flag = blame(at_one, limits.per_buffer);
            return Err(Error::DeviceLimit {
                what: format!("buffer '{}'", spec_buf.name),
                needed: bytes,
                limit: limits.per_buffer,
                hint: format!(
                    "{} is the limit; use a smaller {flag}",
                    limits.per_buffer_what
                ),
            });
        }
    }
    if let Some(total) = limits.total {
        let sum = |s: &[u64]| s.iter().fold(extra, |a, &b| a.saturating_add(b));
        let (needed, at_one) = (sum(&sizes), sum(&sizes_at_one));
        if needed > total {
            let flag = blame(at_one, total);
            return Err(Error::flag(
                flag,
                format!(
                    "the model's buffers need {needed} bytes in all, but {} allows at most {total}; use a smaller {flag}",
                    limits.total_what
                ),
            ));
        }
    }
    Ok(())
}

/// The graph a run builds: `spec` with evaluation at `EVAL_ROWS` (or the training batch
/// if larger), within the test set, halved until its buffers fit; refused with a clear
/// error when even evaluation at the training batch does not fit.
pub fn plan(spec: GraphSpec, limits: &MemoryLimits, extra: u64) -> Result<GraphSpec> {
    check_magnitude(&spec.arch, spec.rows, limits)?;
    let test = spec.data.test_images.max(1);
    let floor = spec.rows.min(test);
    let mut eval_rows = spec.rows.max(EVAL_ROWS).min(test);
    loop {
        let candidate = GraphSpec {
            eval_rows,
            decode_rows: DECODE_ROWS.min(eval_rows.max(1)),
            ..spec.clone()
        };
        match check_graph(&candidate, limits, extra) {
            Ok(()) => return Ok(candidate),
            Err(e) if eval_rows <= floor => return Err(e),
            Err(_) => eval_rows = (eval_rows / 2).max(floor),
        }
    }
}
