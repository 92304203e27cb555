//! Launches of shaders/optim.wgsl.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{AdamUpdate, OpDef};

wgsl_params! {
    AdamParams mirrors "Params" in Optim {
        len: u32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// One invocation per parameter; the bias corrections come from the step uniform.
pub fn adam_update(o: &AdamUpdate) -> Result<Launch> {
    let c = o.config;
    let p = AdamParams {
        len: u(o.param.len)?,
        lr: c.lr,
        beta1: c.beta1,
        beta2: c.beta2,
        eps: c.eps,
        ..Default::default()
    };
    Ok(Launch::new(
        Shader::Optim,
        o.entry(),
        &p,
        grid_1d(o.param.len),
    ))
}
