//! Launches of shaders/loss.wgsl.

use super::{grid_1d, grid_groups, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{loss_totals, LossActBackward, LossBackward, LossForward, OpDef, RowScores};

wgsl_params! {
    LossParams mirrors "Params" in Loss {
        len: u32,
        rows: u32,
        cols: u32,
        summed: u32,
    }
}

fn params(rows: usize, cols: usize, summed: bool) -> Result<LossParams> {
    Ok(LossParams {
        len: u(rows * cols)?,
        rows: u(rows)?,
        cols: u(cols)?,
        summed: summed as u32,
    })
}

/// The value's reduction runs in a single workgroup.
pub fn loss_forward(o: &LossForward) -> Result<Launch> {
    let p = params(o.rows, o.cols, o.summed)?;
    Ok(Launch::new(Shader::Loss, o.entry(), &p, [1, 1, 1]))
}

pub fn loss_backward(o: &LossBackward) -> Result<Launch> {
    let p = params(o.rows, o.cols, o.summed)?;
    Ok(Launch::new(
        Shader::Loss,
        o.entry(),
        &p,
        grid_1d(o.rows * o.cols),
    ))
}

/// One workgroup per chunk of `LOSS_CHUNK` elements, each with its own running total.
pub fn loss_act_backward(o: &LossActBackward) -> Result<Launch> {
    let p = params(o.rows, o.cols, o.summed)?;
    let groups = loss_totals(o.rows * o.cols);
    Ok(Launch::new(
        Shader::Loss,
        o.entry(),
        &p,
        grid_groups(groups),
    ))
}

/// One workgroup per row, its invocations striding over the row's values.
pub fn row_scores(o: &RowScores) -> Result<Launch> {
    let p = params(o.rows, o.cols, o.summed)?;
    Ok(Launch::new(
        Shader::Loss,
        o.entry(),
        &p,
        grid_groups(o.rows),
    ))
}
