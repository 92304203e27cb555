//! Launches of shaders/loss.wgsl.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{LossBackward, LossForward, OpDef};

wgsl_params! {
    LossParams mirrors "Params" in Loss {
        len: u32,
        rows: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// The value's reduction runs in a single workgroup.
pub fn loss_forward(o: &LossForward) -> Result<Launch> {
    let p = LossParams {
        len: u(o.rows * o.cols)?,
        rows: u(o.rows)?,
        ..Default::default()
    };
    Ok(Launch::new(Shader::Loss, o.entry(), &p, [1, 1, 1]))
}

pub fn loss_backward(o: &LossBackward) -> Result<Launch> {
    let len = o.rows * o.cols;
    let p = LossParams {
        len: u(len)?,
        rows: u(o.rows)?,
        ..Default::default()
    };
    Ok(Launch::new(Shader::Loss, o.entry(), &p, grid_1d(len)))
}
