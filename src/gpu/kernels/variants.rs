//! The variant registry: every way each kernel family can run an op, in one place. The
//! GPU backend's choice, the benchmark's rows, `check`'s groups, the tests' tables and
//! the pipelines the bindings and portability tests translate all read `variants`, so a
//! variant added to a family is chosen, timed, checked and translated without another
//! line elsewhere.
//!
//! A family with one kernel has a registry of one (`Variant::Only`). Which variant runs is
//! forced (tests, benchmarks), measured on the user's card (`Measured`, which per-card
//! tuning fills), or guessed from the shape and the adapter's parallelism (`guess`), in
//! that order of precedence.

use std::collections::HashMap;

use super::{conv2d, MatmulVariant, Parallelism};
use crate::ops::{ConvShape, Op};

/// One way to run an op on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The family's one kernel.
    Only,
    /// A matmul entry point and its block size.
    Matmul(MatmulVariant),
    /// A fused conv forward that computes this many output channels per invocation (a
    /// pipeline constant: more reuse of each staged input, fewer workgroups).
    Channels(usize),
    /// A fused conv backward whose weight rows each take this many workgroups, one per
    /// chunk of the batch, and a fold that adds the chunks (`conv2d::backward`): more
    /// workgroups where a layer has few weight rows, in two dispatches.
    BatchSplit(usize),
    /// A fused conv backward whose weight gradient runs as register blocks of this many
    /// output channels against one input channel, every tap, over 128 chunks of the batch (WGSL
    /// `weight_block`), and the batch split's fold: several products per load, where the
    /// rows load two values for each.
    BlockedWeights(usize),
    /// A pooled conv forward with one invocation per pixel of each pool window, holding
    /// this many output channels, the window's max taken in workgroup memory: a pool
    /// window's times the invocations, where pooled outputs are too few to fill a GPU.
    PoolSpread(usize),
    /// A plain conv2d forward as an implicit GEMM (`conv2d_forward_igemm`): tiles of this
    /// many output channels by 4096 / it output positions, the im2col'd input and the
    /// weights staged in workgroup memory.
    ImplicitGemm(usize),
    /// A fused conv forward in row blocks (`conv2d_act_*forward_rows`): this many output
    /// channels by a few consecutive columns of a row (whole pool windows when pooled)
    /// per invocation, each value of x and each weight read once per block, from
    /// registers after that.
    RowBlocks(usize),
}

impl Variant {
    /// As benchmark rows, `check` and the GPU report name it: `sgemm128x64`, `4ch`,
    /// `split8`, `spread2ch`, `igemm16`, `-`.
    pub fn name(self) -> String {
        match self {
            Variant::Only => "-".to_string(),
            Variant::Matmul(v) => v.name().to_string(),
            Variant::Channels(c) => format!("{c}ch"),
            Variant::BatchSplit(k) => format!("split{k}"),
            Variant::BlockedWeights(ob) => format!("blocked{ob}"),
            Variant::PoolSpread(c) => format!("spread{c}ch"),
            Variant::ImplicitGemm(bn) => format!("igemm{bn}"),
            Variant::RowBlocks(g) => format!("rows{g}ch"),
        }
    }

    /// Whether the variant's kernels use subgroup operations, which not every device has
    /// (`Gpu::runs`).
    pub fn needs_subgroups(self) -> bool {
        self == Variant::Matmul(MatmulVariant::Subgroup)
    }
}

/// Where the variant an op runs came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Asked for by name (a test, a benchmark row).
    Forced,
    /// Measured fastest for this op on this adapter.
    Measured,
    /// The heuristic's pick from the shape and the adapter's parallelism.
    Guessed,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Forced => "forced",
            Source::Measured => "measured",
            Source::Guessed => "guessed",
        }
    }
}

/// A variant and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub variant: Variant,
    pub source: Source,
}

impl Chosen {
    /// Where it came from as reports show it: `only` for an op with one variant (there
    /// was nothing to choose), else forced, measured or guessed.
    pub fn how(&self, op: &Op) -> &'static str {
        match variants(op).len() {
            1 => "only",
            _ => self.source.name(),
        }
    }
}

/// Variants measured fastest on one adapter, by op (entry point and sizes): what per-card
/// tuning fills, and what overrides the heuristic wherever it has an answer. A choice is
/// kept by the variant's name (`Variant::name`, unique among an op's variants), so that
/// choices saved in a file come back without knowing every kind of variant; a name that
/// is not among the op's variants is no answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured(HashMap<String, String>);

impl Measured {
    /// The key an op is measured under: its entry point and named sizes, so that every op
    /// of the same shape shares one measurement.
    pub fn key(op: &Op) -> String {
        let dims: Vec<String> = op.dims().iter().map(|(k, v)| format!("{k}{v}")).collect();
        format!("{}[{}]", op.entry(), dims.join(","))
    }

    pub fn insert(&mut self, op: &Op, variant: Variant) {
        self.0.insert(Measured::key(op), variant.name());
    }

    /// A choice by an op shape's key and the variant's name, as saved.
    pub fn insert_named(&mut self, key: String, name: String) {
        self.0.insert(key, name);
    }

    pub fn get(&self, op: &Op) -> Option<Variant> {
        let name = self.0.get(&Measured::key(op))?;
        variants(op).into_iter().find(|v| &v.name() == name)
    }
}

/// Every variant of `op`'s family that can run it (its entry points, block sizes and
/// constants fit the shape), in the order benchmarks list them.
pub fn variants(op: &Op) -> Vec<Variant> {
    match op {
        Op::Matmul(o) => MatmulVariant::ALL
            .into_iter()
            .filter(|v| v.runs(o))
            .map(Variant::Matmul)
            .collect(),
        Op::Conv2dActForward(_) | Op::ConvTranspose2dActForward(_) => {
            let (o, window, taps, _) = fused_stage_sizes(op).unwrap_or((1, 1, 1, 1));
            let options = conv2d::channel_options(o, window, taps);
            let spread = conv2d::spread_options(o, window, taps);
            let rows = match op {
                Op::Conv2dActForward(o) => conv2d::row_block_options(&o.shape, o.pool_shape()),
                Op::ConvTranspose2dActForward(o) => conv2d::row_block_options(&o.shape, None),
                _ => Vec::new(),
            };
            let options = options.into_iter().map(Variant::Channels);
            options
                .chain(spread.into_iter().map(Variant::PoolSpread))
                .chain(rows.into_iter().map(Variant::RowBlocks))
                .collect()
        }
        Op::Conv2dForward(o) => {
            let tiles = conv2d::igemm_options(o.shape.o);
            let tiles = tiles.into_iter().map(Variant::ImplicitGemm);
            std::iter::once(Variant::Only).chain(tiles).collect()
        }
        _ => match backward_shape(op) {
            Some(s) => {
                let splits = conv2d::split_options(s.n)
                    .into_iter()
                    .map(Variant::BatchSplit);
                let blocks = conv2d::blocked_options(&s)
                    .into_iter()
                    .map(Variant::BlockedWeights);
                std::iter::once(Variant::Only)
                    .chain(splits)
                    .chain(blocks)
                    .collect()
            }
            None => vec![Variant::Only],
        },
    }
}

/// The heuristic's variant for `op` on an adapter of this parallelism, from the shape
/// alone (see `MatmulVariant::for_op` and `conv2d::stage_variant`).
pub fn guess(op: &Op, device: Parallelism) -> Variant {
    if let Op::Matmul(o) = op {
        return Variant::Matmul(MatmulVariant::for_op(o, device));
    }
    if device == Parallelism::Narrow {
        if let Some(blocks) = narrow_blocks(op) {
            return blocks;
        }
    }
    if let Some(s) = backward_shape(op) {
        return match conv2d::batch_split(conv2d::weight_rows(&s), s.n, device) {
            1 => Variant::Only,
            k => Variant::BatchSplit(k),
        };
    }
    match fused_stage_sizes(op) {
        Some((o, window, taps, positions)) => {
            conv2d::stage_variant(o, window, taps, positions, device)
        }
        None => Variant::Only,
    }
}

/// On a CPU adapter, a fused conv stage's register blocks (`RowBlocks`, `BlockedWeights`)
/// of up to `NARROW_BLOCK` channels, the most its options have: there a load costs dozens
/// of multiply-adds, and the blocks do several per load where the staged kernels do one
/// (lavapipe: 2.3–9× faster on every conv stage of the models at batch 128; docs/benchmarks-log.md).
/// A GPU keeps the staged kernels, whose workgroups the heuristics size to fill it.
fn narrow_blocks(op: &Op) -> Option<Variant> {
    const NARROW_BLOCK: usize = 4;
    variants(op).into_iter().rev().find(|v| match v {
        Variant::RowBlocks(g) | Variant::BlockedWeights(g) => *g <= NARROW_BLOCK,
        _ => false,
    })
}

/// A fused conv backward's conv2d sizes: what its weight role's variants are chosen from.
fn backward_shape(op: &Op) -> Option<crate::ops::Conv2dShape> {
    match op {
        Op::Conv2dBackward(o) => Some(o.shape.conv2d()),
        Op::ConvTranspose2dBackward(o) => Some(o.shape.conv2d()),
        _ => None,
    }
}

/// The variant `op` runs: `forced` where it is one of the op's variants, else the one
/// `measured` holds for it, else the guess. A forced variant that cannot run the op
/// (sgemm on rows that are not a multiple of 4, tiled with an epilogue) gives way, so
/// that forcing a variant on a whole graph still runs every op; tables and benchmarks
/// force only variants that run. The backend chooses once, at the size a program is
/// compiled for, and keeps the choice for a partial batch, whose kernels must be the
/// ones its bind groups were made for.
pub fn choose(
    op: &Op,
    forced: Option<Variant>,
    measured: &Measured,
    device: Parallelism,
) -> Chosen {
    let runs = |v: &Variant| variants(op).contains(v);
    if let Some(variant) = forced.filter(runs) {
        return Chosen {
            variant,
            source: Source::Forced,
        };
    }
    if let Some(variant) = measured.get(op).filter(runs) {
        return Chosen {
            variant,
            source: Source::Measured,
        };
    }
    Chosen {
        variant: guess(op, device),
        source: Source::Guessed,
    }
}

/// A fused conv forward's (output channels, pool window, taps per channel, outputs per
/// channel): what its channels per invocation are chosen from.
fn fused_stage_sizes(op: &Op) -> Option<(usize, usize, usize, usize)> {
    if let Op::Conv2dActForward(o) = op {
        let s = &o.shape;
        let window = o.pool_shape().map_or(1, |p| p.k * p.k);
        let positions = o.pool_shape().map_or(s.y_len(), |p| p.y_len()) / s.o;
        return Some((s.o, window, s.kh * s.kw, positions));
    }
    if let Op::ConvTranspose2dActForward(o) = op {
        let s = &o.shape;
        return Some((s.o, 1, s.kh * s.kw, s.y_len() / s.o));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{
        views, Activation, Conv2dActForward, Conv2dShape, FusedPool, Matmul, MatmulShape,
    };

    /// The first layer's product and conv stage of the models, at `n` rows.
    fn model_like(n: usize) -> Vec<Op> {
        let v = views(&[1; 4]);
        let shape = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(n, 784, 100)
        };
        let matmul = Op::from(Matmul::new(v[0], v[1], v[2], shape, Default::default()));
        let shape = Conv2dShape {
            n,
            c: 1,
            h: 28,
            w: 28,
            o: 16,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        };
        let pool = Some(FusedPool {
            idx: v[3],
            k: 2,
            stride: 2,
        });
        let (x, w, b, y) = (v[0], v[1], v[2], v[3]);
        let act = Activation::Relu;
        let conv = Op::from(Conv2dActForward {
            x,
            w,
            b,
            y,
            shape,
            act,
            pool,
        });
        vec![matmul, conv]
    }

    #[test]
    fn every_guess_is_a_registered_variant() {
        for op in model_like(3).iter().chain(&model_like(128)) {
            for device in [Parallelism::Wide, Parallelism::Narrow] {
                let guess = guess(op, device);
                assert!(
                    variants(op).contains(&guess),
                    "{}: guessed {guess:?}, not among {:?}",
                    op.entry(),
                    variants(op)
                );
            }
        }
    }

    #[test]
    fn a_plain_conv_forward_lists_its_implicit_gemm_tiles() {
        let v = views(&[1; 4]);
        let shape = |o| Conv2dShape {
            n: 128,
            c: 16,
            h: 14,
            w: 14,
            o,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        };
        let op = |o| {
            Op::from(crate::ops::Conv2dForward {
                x: v[0],
                w: v[1],
                b: v[2],
                y: v[3],
                shape: shape(o),
            })
        };
        let igemm = |bns: &[usize]| {
            bns.iter()
                .map(|&bn| Variant::ImplicitGemm(bn))
                .collect::<Vec<_>>()
        };
        let expect = |bns: &[usize]| -> Vec<Variant> {
            std::iter::once(Variant::Only).chain(igemm(bns)).collect()
        };
        assert_eq!(variants(&op(8)), expect(&[16]));
        assert_eq!(variants(&op(64)), expect(&[16, 32, 64]));
        // The tuner decides; the guess keeps the direct kernel.
        assert_eq!(guess(&op(64), Parallelism::Wide), Variant::Only);
    }

    #[test]
    fn forced_beats_measured_beats_guessed_where_each_can_run_the_op() {
        let ops = model_like(128);
        let matmul = &ops[0];
        let all = variants(matmul);
        assert!(all.len() > 2, "{all:?}");
        let device = Parallelism::Wide;
        let guessed = guess(matmul, device);
        let other = *all.iter().find(|v| **v != guessed).unwrap();
        let mut measured = Measured::default();
        assert_eq!(
            choose(matmul, None, &measured, device).source,
            Source::Guessed
        );
        measured.insert(matmul, other);
        let chosen = choose(matmul, None, &measured, device);
        assert_eq!((chosen.variant, chosen.source), (other, Source::Measured));
        let chosen = choose(matmul, Some(guessed), &measured, device);
        assert_eq!((chosen.variant, chosen.source), (guessed, Source::Forced));
        // A variant of another family gives way.
        let chosen = choose(matmul, Some(Variant::Channels(2)), &measured, device);
        assert_eq!(chosen.source, Source::Measured);
    }
}
