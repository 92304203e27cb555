//! Launches of shaders/matmul.wgsl, and its variants.

use super::{u, wgsl_params, Launch, Shader};
use crate::error::Result;
use crate::ops::{Matmul, MatmulShape};

wgsl_params! {
    MatmulParams mirrors "Params" in Matmul {
        m: u32,
        k: u32,
        n: u32,
        trans_a: u32,
        trans_b: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// Which WGSL matmul entry point runs a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// One invocation per element of C: the readable reference variant.
    Naive,
    /// 64×64 tiles of C per workgroup, 4×4 per invocation, staged in workgroup memory.
    Tiled,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 2] = [MatmulVariant::Naive, MatmulVariant::Tiled];

    pub fn entry(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "matmul_naive",
            MatmulVariant::Tiled => "matmul_tiled",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "naive",
            MatmulVariant::Tiled => "tiled",
        }
    }

    /// The side of the square block of C one workgroup computes.
    fn tile(self) -> usize {
        match self {
            MatmulVariant::Naive => 16,
            MatmulVariant::Tiled => 64,
        }
    }

    /// The tiled kernel wins once a product fills its 64×64 tiles; for thin products
    /// (a dimension below 16) most of each tile would be padding.
    pub fn for_shape(s: &MatmulShape) -> MatmulVariant {
        if s.m.min(s.n) < 16 {
            MatmulVariant::Naive
        } else {
            MatmulVariant::Tiled
        }
    }
}

pub fn matmul(o: &Matmul, variant: MatmulVariant) -> Result<Launch> {
    let s = o.shape;
    let params = MatmulParams {
        m: u(s.m)?,
        k: u(s.k)?,
        n: u(s.n)?,
        trans_a: s.trans_a as u32,
        trans_b: s.trans_b as u32,
        ..Default::default()
    };
    let tile = variant.tile();
    let grid = [
        u(s.n.div_ceil(tile).max(1))?,
        u(s.m.div_ceil(tile).max(1))?,
        1,
    ];
    Ok(Launch::new(Shader::Matmul, variant.entry(), &params, grid))
}
