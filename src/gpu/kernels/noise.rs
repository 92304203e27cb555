//! Launches of shaders/noise.wgsl.

use super::{grid_1d, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{Corrupt, NoiseKind, OpDef};

wgsl_params! {
    NoiseParams mirrors "Params" in Noise {
        rows: u32,
        cols: u32,
        threshold: u32,
        zero: u32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// One invocation per pixel of the batch.
pub fn corrupt(o: &Corrupt) -> Result<Launch> {
    let mut params = NoiseParams {
        rows: u(o.rows)?,
        cols: u(o.cols)?,
        ..Default::default()
    };
    match o.noise {
        NoiseKind::Gaussian { std } => params.scale = NoiseKind::gaussian_scale(std),
        NoiseKind::Mask { p } => params.threshold = NoiseKind::mask_threshold(p),
    }
    Ok(Launch::new(
        Shader::Noise,
        o.entry(),
        &params,
        grid_1d(o.rows * o.cols),
    ))
}
