//! Launches of shaders/conv_transpose2d.wgsl. The forward and input gradient run one
//! invocation per output element, the weight gradient one workgroup per weight.

use super::conv2d::{input_invocations, pool_below_constants, staging, STAGED_WEIGHTS};
use super::{act_code, grid_1d, grid_groups, u, wgsl_params, Launch, Shader, WORKGROUP};
use crate::error::{Error, Result};
use crate::ops::{
    ConvTranspose2dActForward, ConvTranspose2dBackward, ConvTranspose2dBackwardInput,
    ConvTranspose2dBackwardWeight, ConvTranspose2dForward, ConvTranspose2dShape, InputGrad, OpDef,
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
        act: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
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
        ..Default::default()
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

/// The layer's sizes as the fused entry points' override constants.
fn stage_constants(s: &ConvTranspose2dShape) -> Result<Vec<(&'static str, u32)>> {
    Ok(vec![
        ("TC_C", u(s.c)?),
        ("TC_H", u(s.h)?),
        ("TC_W", u(s.w)?),
        ("TC_O", u(s.o)?),
        ("TC_KH", u(s.kh)?),
        ("TC_KW", u(s.kw)?),
        ("TC_S", u(s.stride)?),
        ("TC_PAD", u(s.pad)?),
        ("TC_OH", u(s.out_h())?),
        ("TC_OW", u(s.out_w())?),
    ])
}

/// One invocation per output pixel and group of `channels` output channels.
pub fn act_forward(o: &ConvTranspose2dActForward, channels: usize) -> Result<Launch> {
    let s = o.shape;
    let taps = s.kh * s.kw;
    if taps > STAGED_WEIGHTS {
        return Err(Error::Other(format!(
            "{}: a {}×{} kernel is more than the fused kernel stages",
            o.entry(),
            s.kh,
            s.kw
        )));
    }
    let (og, cc) = staging(s.o, s.c, taps, 1, channels);
    let mut constants = stage_constants(&s)?;
    constants.extend([("TC_OG", u(og)?), ("TC_CC", u(cc)?)]);
    let p = ConvTranspose2dParams {
        act: act_code(o.act),
        ..params(&s)?
    };
    let groups = s.o.div_ceil(og) * s.y_len().div_ceil(s.o).div_ceil(WORKGROUP);
    let launch = Launch::new(Shader::ConvTranspose2d, o.entry(), &p, grid_groups(groups));
    Ok(launch.with_constants(constants))
}

/// The weight rows' workgroups, then one invocation per element of dx.
pub fn backward(o: &ConvTranspose2dBackward) -> Result<Launch> {
    let s = o.shape;
    let mut constants = stage_constants(&s)?;
    if let InputGrad::PoolAct { pool, .. } = o.dx {
        constants.extend(pool_below_constants(&pool)?);
    }
    let p = ConvTranspose2dParams {
        act: act_code(o.dx.act()),
        ..params(&s)?
    };
    let dx = input_invocations(&o.dx, s.x_len());
    let groups = s.c * s.o * s.kh + dx.div_ceil(WORKGROUP);
    let launch = Launch::new(Shader::ConvTranspose2d, o.entry(), &p, grid_groups(groups));
    Ok(launch.with_constants(constants))
}
