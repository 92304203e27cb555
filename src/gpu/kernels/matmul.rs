//! Launches of the matmul ladder (shaders/matmul/), its variants, and the choice among them.

use super::{act_code, u, wgsl_params, Launch, Parallelism, Shader, FILL, MAX_GROUPS};
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

/// thin's block of C per workgroup, T×T: K is split into 1024/T² slices among its 256
/// invocations (64, 16, 4 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThinTile {
    /// 4×4: four times the workgroups of 8×8, for products whose 8×8 blocks are too few
    /// to fill a GPU (a Linear layer of 100 outputs at batch 128 has 208 of them).
    T4,
    T8,
    T16,
    T32,
}

impl ThinTile {
    /// The side T (the WGSL constant THIN_T).
    fn side(self) -> usize {
        match self {
            ThinTile::T4 => 4,
            ThinTile::T8 => 8,
            ThinTile::T16 => 16,
            ThinTile::T32 => 32,
        }
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
    /// A T×T block per workgroup with K split among its invocations, 2×2 per invocation.
    Thin(ThinTile),
    /// thin with a 4×4 register block per invocation: half the workgroup-memory reads per
    /// multiply-add, a quarter of the slices of K (T ≥ 8).
    ThinR4(ThinTile),
    /// A 32×4 strip of C per invocation, 32×256 per workgroup, the rows of op(A) passed
    /// between invocations by subgroup broadcasts: for devices with subgroups of 8 to 64
    /// (`Gpu::subgroups`), such as a CPU adapter, where every load costs dozens of FMAs.
    Subgroup,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 13] = [
        MatmulVariant::Naive,
        MatmulVariant::Tiled,
        MatmulVariant::Sgemm(SgemmTile::T128x128),
        MatmulVariant::Sgemm(SgemmTile::T128x64),
        MatmulVariant::Sgemm(SgemmTile::T64x64),
        MatmulVariant::Thin(ThinTile::T4),
        MatmulVariant::Thin(ThinTile::T8),
        MatmulVariant::Thin(ThinTile::T16),
        MatmulVariant::Thin(ThinTile::T32),
        MatmulVariant::ThinR4(ThinTile::T8),
        MatmulVariant::ThinR4(ThinTile::T16),
        MatmulVariant::ThinR4(ThinTile::T32),
        MatmulVariant::Subgroup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "naive",
            MatmulVariant::Tiled => "tiled",
            MatmulVariant::Sgemm(SgemmTile::T128x128) => "sgemm128x128",
            MatmulVariant::Sgemm(SgemmTile::T128x64) => "sgemm128x64",
            MatmulVariant::Sgemm(SgemmTile::T64x64) => "sgemm64x64",
            MatmulVariant::Thin(ThinTile::T4) => "thin4",
            MatmulVariant::Thin(ThinTile::T8) => "thin8",
            MatmulVariant::Thin(ThinTile::T16) => "thin16",
            MatmulVariant::Thin(ThinTile::T32) => "thin32",
            MatmulVariant::ThinR4(ThinTile::T4) => "thin4r4",
            MatmulVariant::ThinR4(ThinTile::T8) => "thin8r4",
            MatmulVariant::ThinR4(ThinTile::T16) => "thin16r4",
            MatmulVariant::ThinR4(ThinTile::T32) => "thin32r4",
            MatmulVariant::Subgroup => "subgroup",
        }
    }

    /// The WGSL entry point for an op with this epilogue, `<op>_<variant>`; `None` where
    /// the variant has no such entry point (tiled is the plain product only).
    pub fn entry(self, epilogue: &Epilogue) -> Option<&'static str> {
        use MatmulVariant::{Naive, Sgemm, Subgroup, Thin, ThinR4, Tiled};
        let this = match self {
            // The same entry points, with THIN_R = 4.
            ThinR4(tile) => Thin(tile),
            other => other,
        };
        Some(match (epilogue, this) {
            (Epilogue::None, Naive) => "matmul_naive",
            (Epilogue::None, Tiled) => "matmul_tiled",
            (Epilogue::None, Sgemm(_)) => "matmul_sgemm",
            (Epilogue::None, Thin(_)) => "matmul_thin",
            (Epilogue::None, Subgroup) => "matmul_subgroup",
            (Epilogue::BiasAct { .. }, Subgroup) => "matmul_bias_act_subgroup",
            (Epilogue::ActBackward { .. }, Subgroup) => "matmul_act_backward_subgroup",
            (Epilogue::BiasBackward { .. }, Subgroup) => "matmul_bias_backward_subgroup",
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
            )
            | (_, ThinR4(_)) => return None,
        })
    }

    /// Whether this variant can run the op: it has the entry point, sgemm's vec4 loads
    /// find each operand's contiguous dimension a multiple of 4, and the grid fits.
    pub fn runs(self, o: &Matmul) -> bool {
        let s = &o.shape;
        let (rows, cols) = self.block();
        let fits = s.m.div_ceil(rows) <= MAX_GROUPS && s.n.div_ceil(cols) <= MAX_GROUPS;
        let aligned = match self {
            MatmulVariant::Sgemm(_) | MatmulVariant::Subgroup => vec4_aligned(s),
            // A 4×4 block needs 4 rows and columns per invocation: no 4×4 tile.
            MatmulVariant::ThinR4(ThinTile::T4) => false,
            MatmulVariant::Naive
            | MatmulVariant::Tiled
            | MatmulVariant::Thin(_)
            | MatmulVariant::ThinR4(_) => true,
        };
        self.entry(&o.epilogue).is_some() && fits && aligned
    }

    /// (rows, columns) of C one workgroup computes.
    fn block(self) -> (usize, usize) {
        match self {
            MatmulVariant::Naive => (16, 16),
            MatmulVariant::Tiled => (64, 64),
            MatmulVariant::Sgemm(tile) => tile.block(),
            MatmulVariant::Thin(tile) | MatmulVariant::ThinR4(tile) => (tile.side(), tile.side()),
            MatmulVariant::Subgroup => (32, 256),
        }
    }

    fn groups(self, s: &MatmulShape) -> usize {
        let (rows, cols) = self.block();
        s.m.div_ceil(rows) * s.n.div_ceil(cols)
    }

    /// The variant for a product, from its shape and the adapter (no start-up tuning).
    /// On a GPU (`Parallelism::Wide`):
    /// - M or N ≤ 256, the models' layers: thin, with the largest block that still gives
    ///   `FILL` workgroups (K is then split among each workgroup's invocations; 4×4
    ///   blocks, split 64 ways, where 8×8 ones are too few);
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
                let tiles = [ThinTile::T32, ThinTile::T16, ThinTile::T8, ThinTile::T4];
                (tiles.map(MatmulVariant::Thin).to_vec(), FILL)
            }
            Parallelism::Wide if aligned => {
                let tiles = [SgemmTile::T128x128, SgemmTile::T128x64, SgemmTile::T64x64];
                (tiles.map(MatmulVariant::Sgemm).to_vec(), FILL / 2)
            }
            Parallelism::Wide => {
                let thin = MatmulVariant::Thin(ThinTile::T32);
                (vec![MatmulVariant::Tiled, thin], 0)
            }
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
        MatmulVariant::Subgroup => {
            vec![("TRANS_A", s.trans_a as u32), ("TRANS_B", s.trans_b as u32)]
        }
        MatmulVariant::Thin(tile) => vec![("THIN_T", u(tile.side())?)],
        MatmulVariant::ThinR4(tile) => vec![("THIN_T", u(tile.side())?), ("THIN_R", 4)],
    };
    let shader = match variant {
        MatmulVariant::Subgroup => Shader::MatmulSubgroup,
        _ => Shader::Matmul,
    };
    Ok(Launch::new(shader, entry, &params, grid).with_constants(constants))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::View;

    fn product(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> Matmul {
        let v = View::whole(0, 1);
        let shape = MatmulShape {
            m,
            k,
            n,
            trans_a,
            trans_b,
        };
        Matmul::new(v, v, v, shape, Default::default())
    }

    #[test]
    fn a_gpu_gets_thin_blocks_for_the_models_and_sgemm_for_squares() {
        let wide =
            |m, k, n, ta, tb| MatmulVariant::for_op(&product(m, k, n, ta, tb), Parallelism::Wide);
        // x·Wᵀ of the first layer at batch 128: 16×13 blocks of 8 (208) are too few,
        // 32×25 blocks of 4 (800) fill the card.
        assert_eq!(
            wide(128, 784, 100, false, true),
            MatmulVariant::Thin(ThinTile::T4)
        );
        // A second layer's 16×25 blocks of 8 (400) do.
        assert_eq!(
            wide(128, 100, 200, false, true),
            MatmulVariant::Thin(ThinTile::T8)
        );
        // dy·W into 784 inputs: 8×49 blocks of 16 fill the card.
        assert_eq!(
            wide(128, 100, 784, false, false),
            MatmulVariant::Thin(ThinTile::T16)
        );
        // Squares: 128×128 blocks once there are enough of them, smaller below.
        let sgemm = MatmulVariant::Sgemm;
        assert_eq!(
            wide(4096, 4096, 4096, false, false),
            sgemm(SgemmTile::T128x128)
        );
        assert_eq!(
            wide(2048, 2048, 2048, false, true),
            sgemm(SgemmTile::T128x128)
        );
        // 1024³: 128×64 blocks are 128 workgroups, fewer than an H100's 132 units.
        assert_eq!(
            wide(1024, 1024, 1024, true, false),
            sgemm(SgemmTile::T64x64)
        );
        assert_eq!(wide(512, 512, 512, false, false), sgemm(SgemmTile::T64x64));
        // Rows that vec4 loads cannot take.
        assert_eq!(wide(1000, 1001, 1000, false, false), MatmulVariant::Tiled);
    }

    #[test]
    fn a_cpu_adapter_gets_the_most_work_per_invocation() {
        let narrow = |o: &Matmul| MatmulVariant::for_op(o, Parallelism::Narrow);
        let sgemm = MatmulVariant::Sgemm(SgemmTile::T64x64);
        assert_eq!(narrow(&product(128, 784, 100, false, true)), sgemm);
        // K = 30 is no multiple of 4: tiled for a plain product, naive with an epilogue.
        let misaligned = product(128, 30, 200, false, true);
        assert_eq!(narrow(&misaligned), MatmulVariant::Tiled);
        let fused = Matmul {
            epilogue: Epilogue::BiasBackward {
                db: View::whole(3, 128),
            },
            ..misaligned
        };
        assert_eq!(narrow(&fused), MatmulVariant::Naive);
    }

    #[test]
    fn variants_run_only_what_they_can() {
        let sgemm = MatmulVariant::Sgemm(SgemmTile::T128x128);
        assert!(sgemm.runs(&product(4, 8, 4, false, false)));
        // A's rows (K = 6) are not whole vec4s; transposed, its rows are M = 4.
        assert!(!sgemm.runs(&product(4, 6, 4, false, false)));
        assert!(sgemm.runs(&product(4, 6, 4, true, false)));
        let fused = Matmul {
            epilogue: Epilogue::BiasBackward {
                db: View::whole(3, 4),
            },
            ..product(4, 8, 4, false, false)
        };
        assert!(!MatmulVariant::Tiled.runs(&fused));
        assert!(MatmulVariant::ALL
            .iter()
            .filter(|v| **v != MatmulVariant::Tiled)
            .all(|v| v.runs(&fused)));
    }
}
