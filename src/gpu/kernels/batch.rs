//! Launches of shaders/batch.wgsl.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{GatherBatch, OpDef};

wgsl_params! {
    BatchParams mirrors "Params" in Batch {
        rows: u32,
        cols: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// One invocation per pixel of the batch.
pub fn gather_batch(o: &GatherBatch) -> Result<Launch> {
    let params = BatchParams {
        rows: u(o.rows)?,
        cols: u(o.cols)?,
        ..Default::default()
    };
    Ok(Launch::new(
        Shader::Batch,
        o.entry(),
        &params,
        grid_1d(o.rows * o.cols),
    ))
}
