//! Launches of shaders/conv2d.wgsl. The forward and input gradient run one invocation per
//! output element; the weight and bias gradients, which reduce over the batch, one
//! workgroup per output.

use super::{grid_1d, grid_groups, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{
    Conv2dBackwardBias, Conv2dBackwardInput, Conv2dBackwardWeight, Conv2dForward, Conv2dShape,
    OpDef,
};

wgsl_params! {
    Conv2dParams mirrors "Params" in Conv2d {
        n: u32,
        c: u32,
        h: u32,
        w: u32,
        o: u32,
        kh: u32,
        kw: u32,
        stride: u32,
        pad: u32,
        oh: u32,
        ow: u32,
        _pad0: u32,
    }
}

fn params(s: &Conv2dShape) -> Result<Conv2dParams> {
    Ok(Conv2dParams {
        n: u(s.n)?,
        c: u(s.c)?,
        h: u(s.h)?,
        w: u(s.w)?,
        o: u(s.o)?,
        kh: u(s.kh)?,
        kw: u(s.kw)?,
        stride: u(s.stride)?,
        pad: u(s.pad)?,
        oh: u(s.out_h())?,
        ow: u(s.out_w())?,
        _pad0: 0,
    })
}

pub fn forward(o: &Conv2dForward) -> Result<Launch> {
    let p = params(&o.shape)?;
    Ok(Launch::new(
        Shader::Conv2d,
        o.entry(),
        &p,
        grid_1d(o.shape.y_len()),
    ))
}

pub fn backward_input(o: &Conv2dBackwardInput) -> Result<Launch> {
    let p = params(&o.shape)?;
    Ok(Launch::new(
        Shader::Conv2d,
        o.entry(),
        &p,
        grid_1d(o.shape.x_len()),
    ))
}

pub fn backward_weight(o: &Conv2dBackwardWeight) -> Result<Launch> {
    let p = params(&o.shape)?;
    Ok(Launch::new(
        Shader::Conv2d,
        o.entry(),
        &p,
        grid_groups(o.shape.w_len()),
    ))
}

/// The bias reduction reads n, o and oh·ow only; hw travels as oh = hw, ow = 1.
pub fn backward_bias(o: &Conv2dBackwardBias) -> Result<Launch> {
    let shape = Conv2dShape {
        n: o.n,
        c: 1,
        h: o.hw,
        w: 1,
        o: o.o,
        kh: 1,
        kw: 1,
        stride: 1,
        pad: 0,
    };
    let p = params(&shape)?;
    Ok(Launch::new(Shader::Conv2d, o.entry(), &p, grid_groups(o.o)))
}
