//! Launches of shaders/matmul.wgsl, its variants, and the choice among them.

use super::{act_code, u, wgsl_params, Launch, Parallelism, Shader, MAX_GROUPS};
use crate::error::{Error, Result};
use crate::ops::{Epilogue, Matmul, MatmulShape, OpDef};

wgsl_params! {
    MatmulParams mirrors "Params" in Matmul {
        m: u32,
        k: u32,
        n: u32,
        trans_a: u32,
        trans_b: u32,
        act: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// sgemm's block of C per workgroup, at 8×8 outputs per invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SgemmTile {
    /// 128×128, 256 invocations: the most reuse, for products with many blocks.
    T128x128,
    /// 128 rows × 64 columns, 128 invocations.
    T128x64,
    /// 64×64, 64 invocations: four times the workgroups of 128×128.
    T64x64,
}

impl SgemmTile {
    /// Invocations along N and along M (the WGSL constants SG_TX, SG_TY).
    fn invocations(self) -> (usize, usize) {
        match self {
            SgemmTile::T128x128 => (16, 16),
            SgemmTile::T128x64 => (8, 16),
            SgemmTile::T64x64 => (8, 8),
        }
    }

    /// (rows, columns) of C per workgroup.
    fn block(self) -> (usize, usize) {
        let (tx, ty) = self.invocations();
        (8 * ty, 8 * tx)
    }
}

/// Which WGSL matmul entry point runs a product, and in which configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// One invocation per element of C: the readable reference variant.
    Naive,
    /// 64×64 tiles of C per workgroup, 4×4 per invocation, staged in workgroup memory.
    Tiled,
    /// Register-blocked, 8×8 per invocation, vec4 loads, double-buffered.
    Sgemm(SgemmTile),
    /// A T×T block per workgroup (T = 8, 16 or 32) with K split among its invocations.
    Thin(usize),
}

/// Workgroups at which a product is taken to fill a GPU: about two per multiprocessor of
/// a large one (an H100 has 132). Fewer leave multiprocessors idle, which costs more than
/// the reuse a larger block buys.
const FILL: usize = 256;

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 8] = [
        MatmulVariant::Naive,
        MatmulVariant::Tiled,
        MatmulVariant::Sgemm(SgemmTile::T128x128),
        MatmulVariant::Sgemm(SgemmTile::T128x64),
        MatmulVariant::Sgemm(SgemmTile::T64x64),
        MatmulVariant::Thin(8),
        MatmulVariant::Thin(16),
        MatmulVariant::Thin(32),
    ];

    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "naive",
            MatmulVariant::Tiled => "tiled",
            MatmulVariant::Sgemm(SgemmTile::T128x128) => "sgemm128x128",
            MatmulVariant::Sgemm(SgemmTile::T128x64) => "sgemm128x64",
            MatmulVariant::Sgemm(SgemmTile::T64x64) => "sgemm64x64",
            MatmulVariant::Thin(8) => "thin8",
            MatmulVariant::Thin(16) => "thin16",
            MatmulVariant::Thin(_) => "thin32",
        }
    }

    /// The WGSL entry point for an op with this epilogue, `<op>_<variant>`; `None` where
    /// the variant has no such entry point (tiled is the plain product only).
    pub fn entry(self, epilogue: &Epilogue) -> Option<&'static str> {
        use MatmulVariant::{Naive, Sgemm, Thin, Tiled};
        Some(match (epilogue, self) {
            (Epilogue::None, Naive) => "matmul_naive",
            (Epilogue::None, Tiled) => "matmul_tiled",
            (Epilogue::None, Sgemm(_)) => "matmul_sgemm",
            (Epilogue::None, Thin(_)) => "matmul_thin",
            (Epilogue::BiasAct { .. }, Naive) => "matmul_bias_act_naive",
            (Epilogue::BiasAct { .. }, Sgemm(_)) => "matmul_bias_act_sgemm",
            (Epilogue::BiasAct { .. }, Thin(_)) => "matmul_bias_act_thin",
            (Epilogue::ActBackward { .. }, Naive) => "matmul_act_backward_naive",
            (Epilogue::ActBackward { .. }, Sgemm(_)) => "matmul_act_backward_sgemm",
            (Epilogue::ActBackward { .. }, Thin(_)) => "matmul_act_backward_thin",
            (Epilogue::BiasBackward { .. }, Naive) => "matmul_bias_backward_naive",
            (Epilogue::BiasBackward { .. }, Sgemm(_)) => "matmul_bias_backward_sgemm",
            (Epilogue::BiasBackward { .. }, Thin(_)) => "matmul_bias_backward_thin",
            (
                Epilogue::BiasAct { .. }
                | Epilogue::ActBackward { .. }
                | Epilogue::BiasBackward { .. },
                Tiled,
            ) => return None,
        })
    }

    /// Whether this variant can run the op: it has the entry point, sgemm's vec4 loads
    /// find each operand's contiguous dimension a multiple of 4, and the grid fits.
    pub fn runs(self, o: &Matmul) -> bool {
        let s = &o.shape;
        let (rows, cols) = self.block();
        let fits = s.m.div_ceil(rows) <= MAX_GROUPS && s.n.div_ceil(cols) <= MAX_GROUPS;
        let aligned = match self {
            MatmulVariant::Sgemm(_) => vec4_aligned(s),
            MatmulVariant::Naive | MatmulVariant::Tiled | MatmulVariant::Thin(_) => true,
        };
        self.entry(&o.epilogue).is_some() && fits && aligned
    }

    /// (rows, columns) of C one workgroup computes.
    fn block(self) -> (usize, usize) {
        match self {
            MatmulVariant::Naive => (16, 16),
            MatmulVariant::Tiled => (64, 64),
            MatmulVariant::Sgemm(tile) => tile.block(),
            MatmulVariant::Thin(t) => (t, t),
        }
    }

    fn groups(self, s: &MatmulShape) -> usize {
        let (rows, cols) = self.block();
        s.m.div_ceil(rows) * s.n.div_ceil(cols)
    }

    /// The variant for a product, from its shape and the adapter (no start-up tuning).
    /// On a GPU (`Parallelism::Wide`):
    /// - M or N ≤ 256, the models' layers: thin, with the largest block that still gives
    ///   `FILL` workgroups (K is then split among each workgroup's invocations);
    /// - larger products whose rows allow vec4 loads: sgemm, with the largest block that
    ///   gives `FILL / 2` workgroups (each does 16 times the work of a thin one);
    /// - larger products that do not: tiled, or thin 32×32 for a fused epilogue.
    ///
    /// On a CPU adapter (`Parallelism::Narrow`) a few cores run the workgroups in turn,
    /// so the most work per invocation wins: sgemm wherever vec4 loads allow (its
    /// smallest block, to give each core several), else tiled, else naive.
    pub fn for_op(o: &Matmul, device: Parallelism) -> MatmulVariant {
        let s = &o.shape;
        let aligned = vec4_aligned(s);
        let (candidates, target) = match device {
            Parallelism::Narrow => {
                let v = [
                    MatmulVariant::Sgemm(SgemmTile::T64x64),
                    MatmulVariant::Tiled,
                    MatmulVariant::Naive,
                ];
                (v.to_vec(), 0)
            }
            Parallelism::Wide if s.m.min(s.n) <= 256 => {
                ([32, 16, 8].map(MatmulVariant::Thin).to_vec(), FILL)
            }
            Parallelism::Wide if aligned => {
                let tiles = [SgemmTile::T128x128, SgemmTile::T128x64, SgemmTile::T64x64];
                (tiles.map(MatmulVariant::Sgemm).to_vec(), FILL / 2)
            }
            Parallelism::Wide => (vec![MatmulVariant::Tiled, MatmulVariant::Thin(32)], 0),
        };
        let runnable: Vec<MatmulVariant> = candidates.into_iter().filter(|v| v.runs(o)).collect();
        // In order of preference: the first that fills the device, else the one with the
        // most workgroups.
        let filling = runnable.iter().find(|v| v.groups(s) >= target);
        filling
            .or(runnable.last())
            .copied()
            .unwrap_or(MatmulVariant::Naive)
    }
}

/// Whether A's and B's contiguous dimensions are multiples of 4, as vec4 loads need.
fn vec4_aligned(s: &MatmulShape) -> bool {
    let a_rows = if s.trans_a { s.m } else { s.k };
    let b_rows = if s.trans_b { s.k } else { s.n };
    a_rows % 4 == 0 && b_rows % 4 == 0
}

pub fn matmul(o: &Matmul, variant: MatmulVariant) -> Result<Launch> {
    let s = o.shape;
    let entry = match variant.entry(&o.epilogue) {
        Some(entry) if variant.runs(o) => entry,
        _ => {
            return Err(Error::Other(format!(
                "matmul variant {} cannot run {} {}",
                variant.name(),
                o.entry(),
                o.label()
            )))
        }
    };
    let params = MatmulParams {
        m: u(s.m)?,
        k: u(s.k)?,
        n: u(s.n)?,
        trans_a: s.trans_a as u32,
        trans_b: s.trans_b as u32,
        act: o.epilogue.act().map_or(0, act_code),
        ..Default::default()
    };
    let (rows, cols) = variant.block();
    let grid = [u(s.n.div_ceil(cols))?, u(s.m.div_ceil(rows))?, 1];
    let constants = match variant {
        MatmulVariant::Naive | MatmulVariant::Tiled => vec![],
        MatmulVariant::Sgemm(tile) => {
            let (tx, ty) = tile.invocations();
            vec![
                ("SG_TX", tx as u32),
                ("SG_TY", ty as u32),
                ("TRANS_A", s.trans_a as u32),
                ("TRANS_B", s.trans_b as u32),
            ]
        }
        MatmulVariant::Thin(t) => vec![("THIN_T", t as u32)],
    };
    Ok(Launch::new(Shader::Matmul, entry, &params, grid).with_constants(constants))
}
