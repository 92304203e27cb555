//! Launches of shaders/peak.wgsl.

use super::{grid_1d, grid_groups, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{OpDef, PeakCopy, PeakFma, PeakRead};

wgsl_params! {
    PeakParams mirrors "Params" in Peak {
        len: u32,
        iters: u32,
        chunk: u32,
        _pad0: u32,
        mul: f32,
        add: f32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// One invocation per element.
pub fn fma(o: &PeakFma) -> Result<Launch> {
    let p = PeakParams {
        len: u(o.len)?,
        iters: u(o.iters)?,
        mul: o.mul,
        add: o.add,
        ..Default::default()
    };
    Ok(Launch::new(Shader::Peak, o.entry(), &p, grid_1d(o.len)))
}

/// One invocation per four elements.
pub fn copy(o: &PeakCopy) -> Result<Launch> {
    let p = PeakParams {
        len: u(o.len)?,
        ..Default::default()
    };
    Ok(Launch::new(Shader::Peak, o.entry(), &p, grid_1d(o.len / 4)))
}

/// One workgroup per chunk.
pub fn read(o: &PeakRead) -> Result<Launch> {
    let p = PeakParams {
        len: u(o.len)?,
        chunk: u(o.chunk)?,
        ..Default::default()
    };
    Ok(Launch::new(
        Shader::Peak,
        o.entry(),
        &p,
        grid_groups(o.groups()),
    ))
}
