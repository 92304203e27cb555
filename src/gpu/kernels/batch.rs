//! Launches of shaders/batch.wgsl.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{GatherBatch, GatherRows, OpDef};

wgsl_params! {
    BatchParams mirrors "Params" in Batch {
        rows: u32,
        cols: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// One invocation per value of the batch; both gathers share the params.
fn gather(entry: &'static str, rows: usize, cols: usize) -> Result<Launch> {
    let params = BatchParams {
        rows: u(rows)?,
        cols: u(cols)?,
        ..Default::default()
    };
    Ok(Launch::new(
        Shader::Batch,
        entry,
        &params,
        grid_1d(rows * cols),
    ))
}

pub fn gather_batch(o: &GatherBatch) -> Result<Launch> {
    gather(o.entry(), o.rows, o.cols)
}

pub fn gather_rows(o: &GatherRows) -> Result<Launch> {
    gather(o.entry(), o.rows, o.cols)
}
