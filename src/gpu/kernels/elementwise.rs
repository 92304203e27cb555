//! Launches of shaders/elementwise.wgsl: one invocation per output element.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{BiasBackward, BiasForward, OpDef};

wgsl_params! {
    ElementwiseParams mirrors "Params" in Elementwise {
        len: u32,
        rows: u32,
        cols: u32,
        _pad0: u32,
    }
}

fn params(len: usize, rows: usize, cols: usize) -> Result<ElementwiseParams> {
    Ok(ElementwiseParams {
        len: u(len)?,
        rows: u(rows)?,
        cols: u(cols)?,
        _pad0: 0,
    })
}

pub fn bias_forward(o: &BiasForward) -> Result<Launch> {
    let len = o.rows * o.cols;
    let p = params(len, o.rows, o.cols)?;
    Ok(Launch::new(
        Shader::Elementwise,
        o.entry(),
        &p,
        grid_1d(len),
    ))
}

/// One invocation per column, each summing its column over the batch.
pub fn bias_backward(o: &BiasBackward) -> Result<Launch> {
    let p = params(o.cols, o.rows, o.cols)?;
    Ok(Launch::new(
        Shader::Elementwise,
        o.entry(),
        &p,
        grid_1d(o.cols),
    ))
}

/// ReLU and Sigmoid, forward and backward.
pub fn activation(entry: &'static str, rows: usize, cols: usize) -> Result<Launch> {
    let len = rows * cols;
    let p = params(len, rows, cols)?;
    Ok(Launch::new(Shader::Elementwise, entry, &p, grid_1d(len)))
}
