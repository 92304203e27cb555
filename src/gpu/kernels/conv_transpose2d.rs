//! Launches of shaders/conv_transpose2d.wgsl. The forward and input gradient run one
//! invocation per output element, the weight gradient one workgroup per weight.

use super::{grid_1d, grid_groups, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{
    ConvTranspose2dBackwardInput, ConvTranspose2dBackwardWeight, ConvTranspose2dForward,
    ConvTranspose2dShape, OpDef,
};

wgsl_params! {
    ConvTranspose2dParams mirrors "Params" in ConvTranspose2d {
        n: u32,
        c: u32,
        h: u32,
        w: u32,
        o: u32,
        kh: u32,
        kw: u32,
        stride: u32,
        pad: u32,
        out_pad: u32,
        oh: u32,
        ow: u32,
    }
}

fn params(s: &ConvTranspose2dShape) -> Result<ConvTranspose2dParams> {
    Ok(ConvTranspose2dParams {
        n: u(s.n)?,
        c: u(s.c)?,
        h: u(s.h)?,
        w: u(s.w)?,
        o: u(s.o)?,
        kh: u(s.kh)?,
        kw: u(s.kw)?,
        stride: u(s.stride)?,
        pad: u(s.pad)?,
        out_pad: u(s.out_pad)?,
        oh: u(s.out_h())?,
        ow: u(s.out_w())?,
    })
}

pub fn forward(o: &ConvTranspose2dForward) -> Result<Launch> {
    let (p, s) = (params(&o.shape)?, o.shape);
    Ok(Launch::new(
        Shader::ConvTranspose2d,
        o.entry(),
        &p,
        grid_1d(s.y_len()),
    ))
}

pub fn backward_input(o: &ConvTranspose2dBackwardInput) -> Result<Launch> {
    let (p, s) = (params(&o.shape)?, o.shape);
    Ok(Launch::new(
        Shader::ConvTranspose2d,
        o.entry(),
        &p,
        grid_1d(s.x_len()),
    ))
}

pub fn backward_weight(o: &ConvTranspose2dBackwardWeight) -> Result<Launch> {
    let (p, s) = (params(&o.shape)?, o.shape);
    Ok(Launch::new(
        Shader::ConvTranspose2d,
        o.entry(),
        &p,
        grid_groups(s.w_len()),
    ))
}
