//! Launches of the conv2d ladder (shaders/conv2d/), for conv2d's ops and for the transposed conv's, which
//! run on the same entry points with `TRANSPOSED` (see `ConvShape::conv2d`). The forward
//! and input gradient run one invocation per output element; the weight and bias
//! gradients, which reduce over the batch, one workgroup per output. The fused stage
//! kernels are specialised per layer: their sizes are pipeline constants.

use super::{
    act_code, grid_1d, grid_groups, u, wgsl_params, Fold, Launch, Parallelism, Shader, Variant,
    FILL, WORKGROUP,
};
use crate::error::{Error, Result};
use crate::ops::{
    conv2d_backward_entry, Activation, Conv2dBackwardBias, Conv2dShape, ConvBackwardInput,
    ConvBackwardWeight, ConvForward, ConvShape, InputGrad, OpDef, Pool2dShape,
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
        act: u32,
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
        act: 0,
    })
}

/// A layer's launch of a conv2d entry point: on the conv2d's sizes, and for a transposed
/// conv with `TRANSPOSED` set, which swaps the roles of the conv's two sides.
fn conv_launch<S: ConvShape>(entry: &'static str, p: &Conv2dParams, grid: [u32; 3]) -> Launch {
    let launch = Launch::new(Shader::Conv2d, entry, p, grid);
    match S::TRANSPOSED {
        true => launch.with_constants(vec![("TRANSPOSED", 1)]),
        false => launch,
    }
}

/// One invocation per output element. A transposed conv's forward is conv2d's input
/// gradient (plus the bias) on `shape.conv2d()`.
pub fn forward<S: ConvShape>(o: &ConvForward<S>) -> Result<Launch> {
    let p = params(&o.shape.conv2d())?;
    let grid = grid_1d(o.shape.y_len());
    Ok(conv_launch::<S>("conv2d_forward", &p, grid))
}

/// Output channels per tile of the implicit-GEMM forward (`Variant::ImplicitGemm`, WGSL
/// `IG_BN`): 16, 32 or 64, each with 4096 / it positions, so that a 256-invocation
/// workgroup holds 4×4 outputs each and the two staged tiles fit 9 KiB; no wider than
/// the layer's channels need.
pub fn igemm_options(o: usize) -> Vec<usize> {
    [16, 32, 64]
        .into_iter()
        .filter(|&bn| bn == 16 || bn / 2 < o)
        .collect()
}

/// The implicit-GEMM forward: one workgroup per tile of `bn` output channels by
/// `4096 / bn` output positions (n, oy, ox).
pub fn forward_igemm(o: &crate::ops::Conv2dForward, bn: usize) -> Result<Launch> {
    if !igemm_options(o.shape.o).contains(&bn) {
        return Err(Error::Other(format!(
            "conv2d_forward_igemm: no tile of {bn} channels for {} channels",
            o.shape.o
        )));
    }
    let s = o.shape;
    let p = params(&s)?;
    let bm = WORKGROUP * 16 / bn;
    let tiles = (s.n * s.out_h() * s.out_w()).div_ceil(bm) * s.o.div_ceil(bn);
    let launch = Launch::new(
        Shader::Conv2d,
        "conv2d_forward_igemm",
        &p,
        grid_groups(tiles),
    );
    Ok(launch.with_constants(vec![("IG_BN", u(bn)?)]))
}

/// One invocation per element of dx. A transposed conv's input gradient is conv2d's
/// forward (without a bias).
pub fn backward_input<S: ConvShape>(o: &ConvBackwardInput<S>) -> Result<Launch> {
    let p = params(&o.shape.conv2d())?;
    let grid = grid_1d(o.shape.x_len());
    Ok(conv_launch::<S>("conv2d_backward_input", &p, grid))
}

/// One workgroup per weight. A transposed conv's weight gradient is conv2d's with x and
/// dy swapped.
pub fn backward_weight<S: ConvShape>(o: &ConvBackwardWeight<S>) -> Result<Launch> {
    let p = params(&o.shape.conv2d())?;
    let grid = grid_groups(o.shape.w_len());
    Ok(conv_launch::<S>("conv2d_backward_weight", &p, grid))
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

/// Floats of weights a fused forward stages in workgroup memory at a time: 8 KiB, half
/// the least any device offers, so that two workgroups fit on a multiprocessor.
pub const STAGED_WEIGHTS: usize = 2048;
/// Accumulators a fused forward invocation holds (WGSL `acc`), over its output channels
/// and the pixels of its pool window.
const ACCUMULATORS: usize = crate::ops::conv2d::MAX_FUSED_OUTPUTS;

/// Output channels per invocation of a fused forward: on a GPU the most (a power of two
/// up to 16, as the accumulators and the staged weights allow) that still give `FILL`
/// workgroups, so
/// that each input read serves as many channels as the GPU's width allows; on a CPU
/// adapter the most, for reuse. `positions` counts the stage's outputs per channel at the
/// size the program is compiled for, `taps` a channel's weights (C_chunk·KH·KW ≥ KH·KW).
pub fn stage_channels(
    o: usize,
    window: usize,
    taps: usize,
    positions: usize,
    device: Parallelism,
) -> usize {
    let most = most_channels(o, window, taps);
    let blocks = positions.div_ceil(WORKGROUP);
    let fills = |og: usize| o.div_ceil(og) * blocks >= FILL;
    // Powers of two, so that groups split the usual channel counts evenly.
    let mut candidates = [16, 8, 4, 2, 1].into_iter().filter(|&og| og <= most);
    match device {
        Parallelism::Narrow => most,
        Parallelism::Wide => candidates.find(|&og| fills(og)).unwrap_or(1),
    }
}

/// Every output-channel count per invocation a fused forward of `o` channels can take:
/// the powers of two up to the most its registers and staged weights hold, and that most
/// itself.
pub fn channel_options(o: usize, window: usize, taps: usize) -> Vec<usize> {
    let most = most_channels(o, window, taps);
    let mut options: Vec<usize> = [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|&c| c <= most)
        .collect();
    if !options.contains(&most) {
        options.push(most);
    }
    options
}

/// Output channels per invocation of a pooled forward whose window spreads over its
/// invocations (`Variant::PoolSpread`): each holds one pixel's sums, and a workgroup
/// keeps `channels × WORKGROUP` of them for the max (4 KiB at 4 channels, beside the
/// staged weights). None where there is no window to spread, or one so large that a
/// workgroup would hold fewer than 4 of them.
pub fn spread_options(o: usize, window: usize, taps: usize) -> Vec<usize> {
    if window <= 1 || window > WORKGROUP / 4 {
        return Vec::new();
    }
    let most = o.min(STAGED_WEIGHTS / taps).clamp(1, 4);
    [1, 2, 4].into_iter().filter(|&c| c <= most).collect()
}

/// A fused forward's variant on an adapter of this parallelism: `stage_channels`'s
/// channels per invocation, unless on a GPU those leave it fewer than `FILL` workgroups
/// and spreading a pool window over invocations (four of them for a 2×2 pool) gives
/// more: then the spread with the most channels that fills, or else the most workgroups.
pub fn stage_variant(
    o: usize,
    window: usize,
    taps: usize,
    positions: usize,
    device: Parallelism,
) -> Variant {
    let channels = stage_channels(o, window, taps, positions, device);
    let plain = o.div_ceil(channels) * positions.div_ceil(WORKGROUP);
    if device == Parallelism::Narrow || plain >= FILL {
        return Variant::Channels(channels);
    }
    let spread = |c: usize| o.div_ceil(c) * positions.div_ceil(WORKGROUP / window);
    let options = spread_options(o, window, taps);
    let filling = options.iter().rev().find(|&&c| spread(c) >= FILL);
    match filling.or(options.first()) {
        Some(&c) if spread(c) > plain => Variant::PoolSpread(c),
        _ => Variant::Channels(channels),
    }
}

/// The most output channels one invocation of a fused forward computes: bounded by its
/// accumulators, its staged weights and 16.
fn most_channels(o: usize, window: usize, taps: usize) -> usize {
    o.min(ACCUMULATORS / window)
        .min(STAGED_WEIGHTS / taps)
        .clamp(1, 16)
}

/// The most channels a block of the adjoint sums takes (a conv2d's input gradient, a
/// transposed conv's forward): beyond it, lavapipe leaves the tap loops rolled and the
/// accumulators in memory.
const ADJOINT_CHANNELS: usize = 4;

/// The register blocks' local arrays (WGSL `array<f32, 32>` in the row helpers of
/// parts/conv_staging): a row segment, a block's accumulators, a tap row's weights.
const BLOCK_ARRAY: usize = 32;

/// The most channels a register block takes: `ADJOINT_CHANNELS` for the adjoint sums,
/// else 8 (4 columns of 8 fill `BLOCK_ARRAY` accumulators).
fn most_block_channels(adjoint: bool) -> usize {
    if adjoint {
        ADJOINT_CHANNELS
    } else {
        8
    }
}

/// The values of one row that a block of `cols` columns reads (WGSL `forward_len` and
/// `adjoint_len`): for the conv2d's forward sum, its columns' windows; for its adjoint, the
/// output columns from `(KW − 1) / S` (rounded up) before the block's first.
fn segment_len(s: &Conv2dShape, cols: usize, adjoint: bool) -> usize {
    match adjoint {
        true => (cols - 1 + s.pad) / s.stride + (s.kw + s.stride - 2) / s.stride + 1,
        false => (cols - 1) * s.stride + s.kw,
    }
}

/// The block of a row-blocked forward (`Variant::RowBlocks`, WGSL `fwd_block`): columns
/// and rows of the stage's output before its pool per invocation (whole pool windows,
/// which must tile: window = stride, of at most 2×2), or None where the kernel cannot run
/// the stage (another pool, a row segment over 32 values).
fn row_block<S: ConvShape>(shape: &S, pool: Option<Pool2dShape>) -> Option<(usize, usize)> {
    let s = shape.conv2d();
    let (cols, rows) = match pool {
        // Whole windows of two rows (fwd_sums writes the second row out).
        Some(p) if p.k != p.stride || p.k > 2 => return None,
        Some(p) => (4, p.k),
        // A transposed conv's blocks start at a multiple of the stride.
        None if S::TRANSPOSED => (4usize.next_multiple_of(s.stride), 1),
        None => (4, 1),
    };
    // A transposed conv's forward is the conv2d's adjoint.
    (segment_len(&s, cols, S::TRANSPOSED) <= BLOCK_ARRAY).then_some((cols, rows))
}

/// Produced channels per invocation of a row-blocked forward: 1, 2, 4 or 8, no more than
/// the layer produces (beyond the first), within the kernel's 32 accumulators (8 at 4
/// columns, 4 for a pooled stage's 2 rows) and 32 weights a tap row, and for a transposed
/// conv (the adjoint sum) `ADJOINT_CHANNELS`.
pub fn row_block_options<S: ConvShape>(shape: &S, pool: Option<Pool2dShape>) -> Vec<usize> {
    let s = shape.conv2d();
    let produced = if S::TRANSPOSED { s.c } else { s.o };
    let Some((cols, rows)) = row_block(shape, pool) else {
        return Vec::new();
    };
    let most = most_block_channels(S::TRANSPOSED);
    [1, 2, 4, 8]
        .into_iter()
        .filter(|&g| (g == 1 || g / 2 < produced) && g <= most)
        .filter(|&g| g * rows * cols <= BLOCK_ARRAY && g * s.kw <= BLOCK_ARRAY)
        .collect()
}

/// A row-blocked fused forward (`entry`'s `_rows` twin): one invocation per block of
/// `channels` produced channels by `row_block`'s columns and rows.
pub fn act_forward_rows<S: ConvShape>(
    entry: &'static str,
    shape: &S,
    act: Activation,
    pool: Option<Pool2dShape>,
    channels: usize,
) -> Result<Launch> {
    let s = shape.conv2d();
    let (cols, rows) = match row_block(shape, pool) {
        Some(block) if row_block_options(shape, pool).contains(&channels) => block,
        _ => {
            return Err(Error::Other(format!(
                "{entry}: no row blocks of {channels} channels for this layer"
            )))
        }
    };
    let produced = if S::TRANSPOSED { s.c } else { s.o };
    let (out_h, out_w) = match S::TRANSPOSED {
        true => (s.h, s.w),
        false => (s.out_h(), s.out_w()),
    };
    let (pk, ph, pw) = pool.map_or((1, out_h, out_w), |p| (p.k, p.out_h(), p.out_w()));
    let mut constants = stage_constants(shape)?;
    constants.extend([
        ("CV_PK", u(pk)?),
        ("CV_PS", u(pk)?),
        ("CV_PH", u(ph)?),
        ("CV_PW", u(pw)?),
        ("FB_G", u(channels)?),
        ("FB_P", u(cols)?),
    ]);
    let p = Conv2dParams {
        act: act_code(act),
        ..params(&s)?
    };
    let row_blocks = out_h / rows;
    let col_blocks = (if pool.is_some() { pw * pk } else { out_w }).div_ceil(cols);
    let blocks = s.n * row_blocks.min(ph) * produced.div_ceil(channels) * col_blocks;
    let entry = match entry {
        "conv2d_act_pool_forward" => "conv2d_act_pool_forward_rows",
        _ => "conv2d_act_forward_rows",
    };
    Ok(Launch::new(Shader::Conv2d, entry, &p, grid_1d(blocks)).with_constants(constants))
}

/// The layer's sizes as the fused entry points' override constants: the conv2d's, and
/// `TRANSPOSED` for a transposed conv.
fn stage_constants<S: ConvShape>(shape: &S) -> Result<Vec<(&'static str, u32)>> {
    let s = shape.conv2d();
    let mut constants = vec![
        ("CV_C", u(s.c)?),
        ("CV_H", u(s.h)?),
        ("CV_W", u(s.w)?),
        ("CV_O", u(s.o)?),
        ("CV_KH", u(s.kh)?),
        ("CV_KW", u(s.kw)?),
        ("CV_S", u(s.stride)?),
        ("CV_PAD", u(s.pad)?),
        ("CV_OH", u(s.out_h())?),
        ("CV_OW", u(s.out_w())?),
    ];
    if S::TRANSPOSED {
        constants.push(("TRANSPOSED", 1));
    }
    Ok(constants)
}

/// The max-pool below as the backward entry points' constants.
pub fn pool_below_constants(pool: &Pool2dShape) -> Result<Vec<(&'static str, u32)>> {
    Ok(vec![
        ("BP_K", u(pool.k)?),
        ("BP_S", u(pool.stride)?),
        ("BP_H", u(pool.h)?),
        ("BP_W", u(pool.w)?),
    ])
}

/// Invocations of a fused backward's input role: one per element of dx, or through a
/// pool whose windows do not overlap, one per stride×stride cell of the pool's input
/// (`BP_CELLS` in the shaders).
pub fn input_invocations(grad: &InputGrad, x_len: usize) -> usize {
    match grad {
        InputGrad::Act { .. } => x_len,
        InputGrad::PoolAct { pool, .. } if pool.k <= pool.stride => {
            let cells = |side: usize| side.div_ceil(pool.stride);
            pool.n * pool.c * cells(pool.h) * cells(pool.w)
        }
        InputGrad::PoolAct { pool, .. } => pool.x_len(),
    }
}

/// Output channels per invocation and input channels per staged chunk of weights.
pub fn staging(o: usize, c: usize, taps: usize, window: usize, channels: usize) -> (usize, usize) {
    let og = channels.clamp(1, o.min(ACCUMULATORS / window).max(1));
    let cc = (STAGED_WEIGHTS / (og * taps)).clamp(1, c);
    (og, cc)
}

/// A fused forward (`entry`: conv2d_act_forward or, pooled, conv2d_act_pool_forward): one
/// invocation per output position and group of `channels` output channels (1 if none
/// were chosen), or with `spread`, one per pixel of the position's pool window. A
/// transposed conv's produces the conv2d's input side, unpooled.
pub fn act_forward<S: ConvShape>(
    entry: &'static str,
    shape: &S,
    act: Activation,
    pool: Option<Pool2dShape>,
    channels: Option<usize>,
    spread: bool,
) -> Result<Launch> {
    let s = shape.conv2d();
    let (produced, summed) = match S::TRANSPOSED {
        true => (s.c, s.o),
        false => (s.o, s.c),
    };
    let (pk, ps, ph, pw) = match (pool, S::TRANSPOSED) {
        (Some(p), _) => (p.k, p.stride, p.out_h(), p.out_w()),
        (None, true) => (1, 1, s.h, s.w),
        (None, false) => (1, 1, s.out_h(), s.out_w()),
    };
    let taps = s.kh * s.kw;
    if taps > STAGED_WEIGHTS {
        return Err(Error::Other(format!(
            "{entry}: a {}×{} kernel is more than the fused kernel stages",
            s.kh, s.kw
        )));
    }
    let window = pk * pk;
    if spread && spread_options(produced, window, taps).is_empty() {
        return Err(Error::Other(format!(
            "{entry}: a {pk}×{pk} pool window does not spread over a workgroup's invocations"
        )));
    }
    // Spread, an invocation holds one pixel of the window.
    let held = if spread { 1 } else { window };
    let (og, cc) = staging(produced, summed, taps, held, channels.unwrap_or(1));
    let mut constants = stage_constants(shape)?;
    constants.extend([
        ("CV_PK", u(pk)?),
        ("CV_PS", u(ps)?),
        ("CV_PH", u(ph)?),
        ("CV_PW", u(pw)?),
        ("CV_OG", u(og)?),
        ("CV_CC", u(cc)?),
    ]);
    let p = Conv2dParams {
        act: act_code(act),
        ..params(&s)?
    };
    let positions_per_group = if spread {
        WORKGROUP / window
    } else {
        WORKGROUP
    };
    if spread {
        constants.push(("CV_SPREAD", 1));
    }
    let groups = produced.div_ceil(og) * (s.n * ph * pw).div_ceil(positions_per_group);
    Ok(Launch::new(Shader::Conv2d, entry, &p, grid_groups(groups)).with_constants(constants))
}

/// How a fused backward computes its weight gradient (see `Variant::BatchSplit` and
/// `Variant::BlockedWeights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightRole {
    /// A workgroup per weight row, each row over this many chunks of the batch (1: the
    /// unsplit kernel, no fold).
    Rows { split: usize },
    /// Register blocks of this many output channels against one input channel, over
    /// `BLOCK_CHUNKS` chunks of the batch.
    Blocks { channels: usize },
}

/// Chunks of the batch the blocked weight role sums separately, whatever the batch (a
/// pipeline constant, which a partial batch must share with the full one): one image
/// each at batch 128, enough invocations for a CPU adapter's cores, with partial sums
/// that stay small; chunks past the batch's images add zeros.
const BLOCK_CHUNKS: usize = 128;

/// A fused backward: the weight role's workgroups (rows, `split` per row, each over a
/// chunk of the batch, 1 for the unsplit kernel; or register blocks), then one invocation
/// per element of dx (or per cell of the pool below, see `input_invocations`). Split or
/// blocked, the weight role writes partial sums that a fold dispatch adds into dw and db
/// (see `Fold`).
pub fn backward<S: ConvShape>(
    shape: &S,
    dx: Option<&InputGrad>,
    role: WeightRole,
) -> Result<Launch> {
    let s = shape.conv2d();
    let mut constants = stage_constants(shape)?;
    if let Some(InputGrad::PoolAct { pool, .. }) = dx {
        constants.extend(pool_below_constants(pool)?);
    }
    let p = Conv2dParams {
        act: dx.map_or(0, |g| act_code(g.act())),
        ..params(&s)?
    };
    if dx.is_some() && stages_grad_weights(&s) {
        constants.push(("GW_STAGED", 1));
    }
    let invocations = dx.map_or(0, |g| input_invocations(g, shape.x_len()));
    let entry = conv2d_backward_entry(dx);
    let (weight_groups, chunks) = match role {
        WeightRole::Rows { split } if split <= 1 => {
            let groups = weight_rows(&s) + invocations.div_ceil(WORKGROUP);
            let launch = Launch::new(Shader::Conv2d, entry, &p, grid_groups(groups));
            return Ok(launch.with_constants(constants));
        }
        WeightRole::Rows { split } => (weight_rows(&s) * split, split),
        WeightRole::Blocks { channels } => {
            if !blocked_options(&s).contains(&channels) {
                return Err(Error::Other(format!(
                    "{entry}: no weight blocks of {channels} channels for a {}×{} kernel",
                    s.kh, s.kw
                )));
            }
            // Whatever the batch: a partial batch runs the full batch's pipeline.
            let chunks = BLOCK_CHUNKS;
            constants.push(("BW_OB", u(channels)?));
            let blocks = chunks * s.c * s.o.div_ceil(channels);
            (blocks.div_ceil(WORKGROUP), chunks)
        }
    };
    let invocations = match (role, dx) {
        (WeightRole::Blocks { .. }, Some(grad)) => match input_blocks(shape, grad) {
            Some(b) => {
                constants.extend([("IB_G", u(b.channels)?), ("IB_P", u(b.columns)?)]);
                b.invocations
            }
            None => invocations,
        },
        _ => invocations,
    };
    constants.push(("SPLIT", u(chunks)?));
    let groups = weight_groups + invocations.div_ceil(WORKGROUP);
    let (entry, fold) = partial_entries(entry, role);
    let partial_len = partial_len(shape);
    let mut launch = Launch::new(Shader::Conv2d, entry, &p, grid_groups(groups));
    launch.fold = Some(Fold {
        entry: fold,
        grid: grid_1d(partial_len),
        partials: chunks * partial_len,
    });
    Ok(launch.with_constants(constants))
}

/// A blocked backward's input role (WGSL `grad_block`): channels and columns per
/// invocation, and its invocations.
struct InputBlocks {
    channels: usize,
    columns: usize,
    invocations: usize,
}

/// The blocks of a blocked backward's input role: 4 columns (a multiple of the stride)
/// by as many of 8, 4, 2 or 1 channels as divide the layer's input's (at most
/// `ADJOINT_CHANNELS` for a conv2d's, the adjoint sum), within the kernel's 32
/// accumulators and 32 dy values a row; through a pool whose windows do not overlap, over
/// its cells. None where that does not fit (an overlapping pool, a stride
/// that does not divide 4, rows longer than 32), and the input role runs an invocation
/// per element as unblocked.
fn input_blocks<S: ConvShape>(shape: &S, grad: &InputGrad) -> Option<InputBlocks> {
    let s = shape.conv2d();
    let columns = 4;
    if columns % s.stride != 0 {
        return None;
    }
    // A conv2d's input gradient is its adjoint; a transposed conv's, the conv2d's forward.
    let adjoint = !S::TRANSPOSED;
    if segment_len(&s, columns, adjoint) > BLOCK_ARRAY {
        return None;
    }
    // The layer's input x: the conv2d's output side transposed, its input side not.
    let (x_channels, rows, cols) = match S::TRANSPOSED {
        true => (s.o, s.out_h(), s.out_w()),
        false => (s.c, s.h, s.w),
    };
    let (rows, cols) = match grad {
        InputGrad::Act { .. } => (rows, cols),
        InputGrad::PoolAct { pool, .. } if pool.k <= pool.stride => {
            (pool.h.div_ceil(pool.stride), pool.w.div_ceil(pool.stride))
        }
        InputGrad::PoolAct { .. } => return None,
    };
    let most = most_block_channels(adjoint);
    let channels = [8, 4, 2, 1]
        .into_iter()
        .find(|&g| g <= most && x_channels % g == 0)
        .unwrap_or(1);
    let invocations = s.n * (x_channels / channels) * rows * cols.div_ceil(columns);
    Some(InputBlocks {
        channels,
        columns,
        invocations,
    })
}

/// Output channels per block of the blocked weight role (`Variant::BlockedWeights`, WGSL
/// `BW_OB`): 1, 2, 4 or 8, no more than the layer's output side has (beyond the first),
/// with every tap of a block in the kernel's 64 accumulators and each ky's row in its 16.
pub fn blocked_options(s: &Conv2dShape) -> Vec<usize> {
    let taps = s.kh * s.kw;
    if s.kh > 16 {
        return Vec::new();
    }
    [1, 2, 4, 8]
        .into_iter()
        .filter(|&ob| (ob == 1 || ob / 2 < s.o) && ob * taps <= 64)
        .collect()
}

/// Whether a fused backward's input role stages the layer's weights whole in workgroup
/// memory (WGSL `GW_STAGED`): where they fit `STAGED_WEIGHTS` (8 KiB, beside the 1 KiB
/// of `workgroup_sum`), as every model layer's do; larger layers read them from global
/// memory. The sums are bit-identical either way.
pub fn stages_grad_weights(s: &Conv2dShape) -> bool {
    s.w_len() <= STAGED_WEIGHTS
}

/// The entry point that writes `role`'s partial sums (`_split` for rows, `_blocked` for
/// blocks) and its fold, for an unsplit backward's entry point.
fn partial_entries(entry: &str, role: WeightRole) -> (&'static str, &'static str) {
    let blocked = matches!(role, WeightRole::Blocks { .. });
    let (split, blocks, fold) = match entry {
        "conv2d_backward_params" => (
            "conv2d_backward_params_split",
            "conv2d_backward_params_blocked",
            "conv2d_fold_params",
        ),
        "conv2d_backward_act" => (
            "conv2d_backward_act_split",
            "conv2d_backward_act_blocked",
            "conv2d_fold_act",
        ),
        _ => (
            "conv2d_backward_pool_act_split",
            "conv2d_backward_pool_act_blocked",
            "conv2d_fold_pool_act",
        ),
    };
    (if blocked { blocks } else { split }, fold)
}

/// The weight gradient's rows (o, c, ky), a workgroup each when unsplit.
pub fn weight_rows(s: &Conv2dShape) -> usize {
    s.o * s.c * s.kh
}

/// One chunk's partial sums (WGSL `PART_LEN`): dw's weights, then db over dy's channels.
fn partial_len<S: ConvShape>(shape: &S) -> usize {
    shape.w_len() + shape.out_channels()
}

/// Chunks of the batch a fused backward's weight rows may be split into (`Variant::
/// BatchSplit`): powers of two up to 32, no more than the batch has images.
pub fn split_options(n: usize) -> Vec<usize> {
    [2, 4, 8, 16, 32].into_iter().filter(|&k| k <= n).collect()
}

/// Chunks per weight row for a fused backward of `rows` weight rows over a batch of `n`:
/// on a GPU, the fewest that give the rows `FILL` workgroups, and none where each chunk
/// would hold fewer than `MIN_CHUNK` images (the fold and the partials then cost more
/// than the rows' work); on a CPU adapter none, as a few cores are busy with the rows
/// alone.
pub fn batch_split(rows: usize, n: usize, device: Parallelism) -> usize {
    const MIN_CHUNK: usize = 4;
    if device == Parallelism::Narrow || rows >= FILL {
        return 1;
    }
    let fit: Vec<usize> = split_options(n)
        .into_iter()
        .filter(|&k| n / k >= MIN_CHUNK)
        .collect();
    let filling = fit.iter().find(|&&k| rows * k >= FILL);
    filling.or(fit.last()).copied().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_channels_fill_a_gpu_and_fit_the_kernel() {
        // conv1 at batch 128: 128·14·14 pooled outputs per channel, 98 blocks; 16
        // channels in 2 groups of 8 give 196 workgroups, in 4 of 4 give 392.
        assert_eq!(stage_channels(16, 4, 9, 128 * 196, Parallelism::Wide), 4);
        // conv2: 128·7·7 outputs per channel, 25 blocks; one channel each fills best.
        assert_eq!(stage_channels(8, 4, 9, 128 * 49, Parallelism::Wide), 1);
        // Large batches afford more channels per invocation.
        assert_eq!(stage_channels(16, 4, 9, 1024 * 196, Parallelism::Wide), 16);
        // A CPU adapter takes the most reuse; a 5×5 pool window leaves room for 2.
        assert_eq!(stage_channels(16, 4, 9, 8, Parallelism::Narrow), 16);
        assert_eq!(stage_channels(17, 25, 9, 8, Parallelism::Narrow), 2);
        let (og, cc) = staging(17, 17, 25, 25, 2);
        assert_eq!((og, cc), (2, 17));
        assert!(og * cc * 25 <= STAGED_WEIGHTS);
    }

    #[test]
    fn a_pool_window_spreads_where_channels_alone_leave_a_gpu_idle() {
        let wide = |o, window, positions| stage_variant(o, window, 9, positions, Parallelism::Wide);
        // conv1 at batch 128: 4 channels per invocation fill the card unspread.
        assert_eq!(wide(16, 4, 128 * 196), Variant::Channels(4));
        // conv2: 8 channels of 128·7·7 pooled outputs, 200 workgroups at best unspread;
        // spread, 64 windows a workgroup: 2 channels give 4·98 = 392.
        assert_eq!(wide(8, 4, 128 * 49), Variant::PoolSpread(2));
        // A CPU adapter keeps the most channels per invocation, unspread.
        let narrow = stage_variant(8, 4, 9, 128 * 49, Parallelism::Narrow);
        assert_eq!(narrow, Variant::Channels(8));
        // No window, nothing to spread; a tiny batch spreads for what it gains.
        assert_eq!(wide(8, 1, 128 * 49), Variant::Channels(1));
        assert_eq!(wide(3, 4, 100), Variant::PoolSpread(1));
        assert_eq!(spread_options(17, 4, 9), [1, 2, 4]);
        assert_eq!(spread_options(2, 9, 9), [1, 2]);
        assert!(spread_options(8, 1, 9).is_empty());
        assert!(spread_options(8, 81, 9).is_empty());
    }

    #[test]
    fn batch_split_fills_a_gpu_where_a_layer_has_few_weight_rows() {
        // The first conv's 48 rows at batch 128: 8 chunks of 16 images, 384 workgroups.
        assert_eq!(batch_split(48, 128, Parallelism::Wide), 8);
        // 384 rows fill a GPU unsplit; a CPU adapter never splits.
        assert_eq!(batch_split(384, 128, Parallelism::Wide), 1);
        assert_eq!(batch_split(48, 128, Parallelism::Narrow), 1);
        // A small batch keeps at least 4 images a chunk: 9 images, 2 chunks.
        assert_eq!(batch_split(48, 9, Parallelism::Wide), 2);
        assert_eq!(batch_split(48, 3, Parallelism::Wide), 1);
        assert_eq!(split_options(5), [2, 4]);
    }
}
