//! Launches of shaders/pool.wgsl: one invocation per output element.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{MaxPool2dBackward, MaxPool2dForward, OpDef, Pool2dShape};

wgsl_params! {
    PoolParams mirrors "Params" in Pool {
        n: u32,
        c: u32,
        h: u32,
        w: u32,
        k: u32,
        stride: u32,
        oh: u32,
        ow: u32,
    }
}

fn params(s: &Pool2dShape) -> Result<PoolParams> {
    Ok(PoolParams {
        n: u(s.n)?,
        c: u(s.c)?,
        h: u(s.h)?,
        w: u(s.w)?,
        k: u(s.k)?,
        stride: u(s.stride)?,
        oh: u(s.out_h())?,
        ow: u(s.out_w())?,
    })
}

pub fn forward(o: &MaxPool2dForward) -> Result<Launch> {
    let p = params(&o.shape)?;
    Ok(Launch::new(
        Shader::Pool,
        o.entry(),
        &p,
        grid_1d(o.shape.y_len()),
    ))
}

pub fn backward(o: &MaxPool2dBackward) -> Result<Launch> {
    let p = params(&o.shape)?;
    Ok(Launch::new(
        Shader::Pool,
        o.entry(),
        &p,
        grid_1d(o.shape.x_len()),
    ))
}
