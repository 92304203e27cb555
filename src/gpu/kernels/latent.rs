//! Launches of shaders/latent.wgsl.

use super::{act_code, grid_1d, grid_groups, u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::latent::NO_ACT;
use crate::ops::{
    loss_totals, KlScores, L1Backward, OpDef, ReparamKlBackward, ReparamKlForward, LOSS_CHUNK,
};

// The reducing kernels give each element an invocation and each workgroup a running
// total, so the totals' chunk must be the workgroup's size.
const _: () = assert!(LOSS_CHUNK == super::WORKGROUP);

wgsl_params! {
    LatentParams mirrors "Params" in Latent {
        rows: u32,
        latent: u32,
        act: u32,
        _pad0: u32,
        beta: f32,
        lambda: f32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// One invocation per element of z, a workgroup per chunk of the KL's running totals.
pub fn reparam_kl_forward(o: &ReparamKlForward) -> Result<Launch> {
    let p = LatentParams {
        rows: u(o.rows)?,
        latent: u(o.latent)?,
        act: NO_ACT,
        ..Default::default()
    };
    let groups = loss_totals(o.rows * o.latent);
    Ok(Launch::new(
        Shader::Latent,
        o.entry(),
        &p,
        grid_groups(groups),
    ))
}

/// One invocation per element of z, each writing its μ's and its log σ²'s gradient.
pub fn reparam_kl_backward(o: &ReparamKlBackward) -> Result<Launch> {
    let p = LatentParams {
        rows: u(o.rows)?,
        latent: u(o.latent)?,
        act: NO_ACT,
        beta: o.beta,
        ..Default::default()
    };
    Ok(Launch::new(
        Shader::Latent,
        o.entry(),
        &p,
        grid_1d(o.rows * o.latent),
    ))
}

/// One invocation per element of the code, a workgroup per chunk of Σ|a|'s totals.
pub fn l1_backward(o: &L1Backward) -> Result<Launch> {
    let p = LatentParams {
        rows: u(o.rows)?,
        latent: u(o.cols)?,
        act: o.act.map_or(NO_ACT, act_code),
        lambda: o.lambda,
        ..Default::default()
    };
    let groups = loss_totals(o.rows * o.cols);
    Ok(Launch::new(
        Shader::Latent,
        o.entry(),
        &p,
        grid_groups(groups),
    ))
}

/// One invocation per row, summing its latent's KL terms.
pub fn kl_scores(o: &KlScores) -> Result<Launch> {
    let p = LatentParams {
        rows: u(o.rows)?,
        latent: u(o.latent)?,
        beta: o.beta,
        ..Default::default()
    };
    Ok(Launch::new(Shader::Latent, o.entry(), &p, grid_1d(o.rows)))
}
