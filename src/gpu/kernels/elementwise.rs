//! Launches of shaders/elementwise.wgsl: one invocation per output element.

use super::{act_code, grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{
    Activation, ActivationBackward, ActivationForward, BiasBackward, BiasForward, OpDef,
};

wgsl_params! {
    ElementwiseParams mirrors "Params" in Elementwise {
        len: u32,
        rows: u32,
        cols: u32,
        act: u32,
    }
}

fn params(len: usize, rows: usize, cols: usize) -> Result<ElementwiseParams> {
    Ok(ElementwiseParams {
        len: u(len)?,
        rows: u(rows)?,
        cols: u(cols)?,
        act: 0,
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

/// Every activation's forward (`relu_forward`, …) is one entry point, which takes the
/// activation's code from its params.
pub fn activation_forward(o: &ActivationForward) -> Result<Launch> {
    activation("activation_forward", o.act, o.rows, o.cols)
}

/// And every activation's backward, from its output.
pub fn activation_backward(o: &ActivationBackward) -> Result<Launch> {
    activation("activation_backward", o.act, o.rows, o.cols)
}

fn activation(entry: &'static str, act: Activation, rows: usize, cols: usize) -> Result<Launch> {
    let len = rows * cols;
    let p = ElementwiseParams {
        act: act_code(act),
        ..params(len, rows, cols)?
    };
    Ok(Launch::new(Shader::Elementwise, entry, &p, grid_1d(len)))
}
