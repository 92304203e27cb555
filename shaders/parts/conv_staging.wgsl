// conv_staging: the specialised conv layer of the fused conv kernels (gpu::kernels::Part::
// ConvStaging): its sizes as override constants, fixed per layer when its pipeline is
// made so that index arithmetic folds into constants and the tap loops unroll; and a
// fused forward's sums, with the weights staged in workgroup memory. It reads the
// including family's bindings `x_or_dy` (the layer's input) and `w`, and `p.n`.
//
// Sizes are conv2d's, whatever the layer: input C × H × W, output O × OH × OW, weight
// (O, C, KH, KW). A transposed conv (TRANSPOSED) is the adjoint of the conv2d whose
// input has its output's size and whose output has its input's size; the same weight
// memory is that conv2d's (see shaders/parts/conv_io.wgsl).

override TRANSPOSED: bool = false;
override CV_C: u32 = 1u;
override CV_H: u32 = 1u;
override CV_W: u32 = 1u;
override CV_O: u32 = 1u;
override CV_KH: u32 = 1u;
override CV_KW: u32 = 1u;
override CV_S: u32 = 1u;
override CV_PAD: u32 = 0u;
override CV_OH: u32 = 1u;
override CV_OW: u32 = 1u;
// The layer's input x (and its input gradient): the conv2d's input side, or a transposed
// conv's, the conv2d's output side.
override LX_C: u32 = select(CV_C, CV_O, TRANSPOSED);
override LX_H: u32 = select(CV_H, CV_OH, TRANSPOSED);
override LX_W: u32 = select(CV_W, CV_OW, TRANSPOSED);
// The channels a fused forward produces (its output's) and the ones it sums over.
override PRODUCED: u32 = select(CV_O, CV_C, TRANSPOSED);
override SUMMED: u32 = select(CV_C, CV_O, TRANSPOSED);
// Forward: the max-pool after the activation (a 1×1 window of stride 1 is none) and the
// stage's output size, pooled or not.
override CV_PK: u32 = 1u;
override CV_PS: u32 = 1u;
override CV_PH: u32 = 1u;
override CV_PW: u32 = 1u;
// Forward: produced channels per invocation (OG · PK² ≤ 64, the accumulators it holds),
// and summed channels per chunk of weights staged in workgroup memory.
override CV_OG: u32 = 1u;
override CV_CC: u32 = 1u;
override CV_WS: u32 = CV_OG * CV_CC * CV_KH * CV_KW;
// Pooled forward: one invocation per pixel of the pool window rather than per window
// (four times the invocations of a 2×2 pool, for stages whose pooled outputs are too few
// to fill a GPU); the window's pixels then meet in workgroup memory for the max. CV_QN
// pixels of the window per invocation, CV_PER_SLOT invocations per output position,
// CV_SLOTS positions per workgroup (the host keeps the window within WG / 4).
override CV_SPREAD: bool = false;
override CV_QN: u32 = select(CV_PK * CV_PK, 1u, CV_SPREAD);
override CV_PER_SLOT: u32 = select(1u, CV_PK * CV_PK, CV_SPREAD);
override CV_SLOTS: u32 = WG / CV_PER_SLOT;

var<workgroup> stage_w: array<f32, CV_WS>; // [og][cc][ky][kx]

// The two ways through a tap, along one axis: the input coordinate output coordinate o
// reads through tap k (o·S + k − pad), and the output coordinate that reads input
// coordinate i through tap k (o·S + k = i + pad), each -1 where there is none (padding,
// or a tap the stride skips). `size` is the side the result lies on.
fn tap_in(o: u32, k: u32, size: u32) -> i32 {
    let i = i32(o * CV_S + k) - i32(CV_PAD);
    return select(-1, i, i >= 0 && i < i32(size));
}

fn tap_out(i: u32, k: u32, size: u32) -> i32 {
    let t = i + CV_PAD;
    if (k > t || (t - k) % CV_S != 0u || (t - k) / CV_S >= size) {
        return -1;
    }
    return i32((t - k) / CV_S);
}

// The sums of one invocation of a fused forward: its output position (n, py, px) of
// the stage, pooled or not, its first channel, its first pixel q0 of the pool window,
// and the sums for OG channels at its CV_QN pixels of the window ([og][pixel]).
// Positions past the batch sum nothing.
struct StageSums {
    in_range: bool,
    n: u32,
    py: u32,
    px: u32,
    o0: u32,
    q0: u32,
    acc: array<f32, 64>,
}

// Element (ky, kx) of the weight between produced channel `out` and summed channel `sum`:
// w[out][sum] for a conv2d, w[sum][out] transposed (both (O, C, KH, KW) in conv2d's sizes).
fn weight_index(out: u32, sum: u32, ky: u32, kx: u32) -> u32 {
    let pair = select(out * CV_C + sum, sum * CV_C + out, TRANSPOSED);
    return (pair * CV_KH + ky) * CV_KW + kx;
}

// The forward sums of workgroup g: weights for OG produced channels are staged, CC summed
// channels at a time, in workgroup memory; for every tap, the input is read once and
// used for all OG channels (and every pixel of the pool window). Every invocation reaches
// every barrier: those past the batch skip the sums, not the staging.
fn stage_sums(lid: u32, g: u32) -> StageSums {
    let groups = (PRODUCED + CV_OG - 1u) / CV_OG;
    var out: StageSums;
    out.o0 = (g % groups) * CV_OG;
    let slot = lid / CV_PER_SLOT;
    let i = (g / groups) * CV_SLOTS + slot;
    out.q0 = lid % CV_PER_SLOT;
    out.in_range = slot < CV_SLOTS && i < p.n * CV_PH * CV_PW;
    out.px = i % CV_PW;
    out.py = (i / CV_PW) % CV_PH;
    out.n = i / (CV_PW * CV_PH);
    for (var c0 = 0u; c0 < SUMMED; c0 += CV_CC) {
        workgroupBarrier();
        for (var e = lid; e < CV_WS; e += WG) {
            let kx = e % CV_KW;
            let ky = (e / CV_KW) % CV_KH;
            let cc = (e / (CV_KW * CV_KH)) % CV_CC;
            let og = e / (CV_KW * CV_KH * CV_CC);
            var v = 0.0;
            if (out.o0 + og < PRODUCED && c0 + cc < SUMMED) {
                v = w[weight_index(out.o0 + og, c0 + cc, ky, kx)];
            }
            stage_w[e] = v;
        }
        workgroupBarrier();
        if (out.in_range) {
            if (TRANSPOSED) {
                adjoint_chunk(&out, c0);
            } else {
                forward_chunk(&out, c0);
            }
        }
    }
    return out;
}

// Adds summed channels c0.. of a conv2d's forward: output pixel (oy, ox) of the pool
// window reads input (oy·S + ky − pad, ox·S + kx − pad).
fn forward_chunk(out: ptr<function, StageSums>, c0: u32) {
    for (var cc = 0u; cc < CV_CC && c0 + cc < CV_C; cc++) {
        let plane = ((*out).n * CV_C + c0 + cc) * CV_H;
        for (var ky = 0u; ky < CV_KH; ky++) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                for (var j = 0u; j < CV_QN; j++) {
                    let q = (*out).q0 + j;
                    let iy = tap_in((*out).py * CV_PS + q / CV_PK, ky, CV_H);
                    let ix = tap_in((*out).px * CV_PS + q % CV_PK, kx, CV_W);
                    if (iy < 0 || ix < 0) {
                        continue;
                    }
                    let xv = x_or_dy[(plane + u32(iy)) * CV_W + u32(ix)];
                    for (var og = 0u; og < CV_OG; og++) {
                        (*out).acc[og * CV_QN + j] += xv * stage_w[((og * CV_CC + cc) * CV_KH + ky) * CV_KW + kx];
                    }
                }
            }
        }
    }
}

// Adds summed channels c0.. of a conv2d's input gradient, the transposed conv's forward:
// input pixel (iy, ix) gathers the outputs (oy, ox) that read it.
fn adjoint_chunk(out: ptr<function, StageSums>, c0: u32) {
    for (var cc = 0u; cc < CV_CC && c0 + cc < CV_O; cc++) {
        let plane = ((*out).n * CV_O + c0 + cc) * CV_OH;
        for (var ky = 0u; ky < CV_KH; ky++) {
            let oy = tap_out((*out).py, ky, CV_OH);
            if (oy < 0) {
                continue;
            }
            for (var kx = 0u; kx < CV_KW; kx++) {
                let ox = tap_out((*out).px, kx, CV_OW);
                if (ox < 0) {
                    continue;
                }
                let xv = x_or_dy[(plane + u32(oy)) * CV_OW + u32(ox)];
                for (var og = 0u; og < CV_OG; og++) {
                    (*out).acc[og] += xv * stage_w[((og * CV_CC + cc) * CV_KH + ky) * CV_KW + kx];
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Row blocks: the sums of the blocked kernels (4_register_blocks.wgsl's input role and
// blocked forward), for `groups` channels × `cols` consecutive columns of one row of
// what they produce. The caller loads a segment of one summed channel's row (seg, at
// most 32 values) and that channel's weights for the tap row ky (wrow[g·KW + kx]); the
// taps then run from registers, each loaded value serving every channel and each
// weight every column. Column offsets within the segment are constants once the
// pipeline is made, so the loops unroll and nothing is indexed at run time.

// A block: image n, channels ch0.. of what the kernel produces, one row of it (or a row
// of pool windows), and `cols` columns from x0.
struct RowBlock {
    in_range: bool,
    n: u32,
    ch0: u32,
    row: u32,
    x0: u32,
}

// Invocation t's block among `blocks` column blocks of `cols`, `groups` channel groups of
// `channels` and `rows` rows per image: column blocks fastest, then channel groups, so
// that the invocations of a SIMD group share their row and skip the same taps.
fn row_block_of(t: u32, blocks: u32, groups: u32, rows: u32, cols: u32, channels: u32) -> RowBlock {
    var b: RowBlock;
    b.x0 = (t % blocks) * cols;
    b.ch0 = ((t / blocks) % groups) * channels;
    b.row = (t / (blocks * groups)) % rows;
    b.n = t / (blocks * groups * rows);
    b.in_range = b.n < p.n;
    return b;
}

// Row `row` of the summed input that an output row reads through tap row ky, and
// whether it lies inside (none in the padding), for the conv2d's forward sum.
struct TapRow {
    row: u32,
    inside: bool,
}

fn forward_row_at(y: u32, ky: u32) -> TapRow {
    let iy = i32(y * CV_S + ky) - i32(CV_PAD);
    return TapRow(u32(max(iy, 0)), iy >= 0 && iy < i32(CV_H));
}

// The conv2d's forward: column x0 + j reads input column (x0 + j)·S + kx − pad, entry
// j·S + kx of a segment from x0·S − pad, forward_len(cols) long.
fn forward_first(x0: u32) -> i32 {
    return i32(x0 * CV_S) - i32(CV_PAD);
}

fn forward_len(cols: u32) -> u32 {
    return (cols - 1u) * CV_S + CV_KW;
}

fn forward_row(acc: ptr<function, array<f32, 32>>, at: u32, seg: array<f32, 32>, wrow: array<f32, 32>, groups: u32, cols: u32) {
    for (var kx = 0u; kx < CV_KW; kx++) {
        for (var g = 0u; g < groups; g++) {
            for (var j = 0u; j < cols; j++) {
                (*acc)[at + g * cols + j] += seg[j * CV_S + kx] * wrow[g * CV_KW + kx];
            }
        }
    }
}

// The conv2d's adjoint (its input gradient, a transposed conv's forward): input row y
// gathers output row oy where oy·S + ky = y + pad.
fn adjoint_row_at(y: u32, ky: u32) -> TapRow {
    let t = y + CV_PAD;
    let oy = (t - ky) / CV_S;
    let inside = ky <= t && (t - ky) % CV_S == 0u && oy < CV_OH;
    return TapRow(select(0u, oy, inside), inside);
}

// Column x0 + j gathers output column ox where ox·S + kx = x0 + j + pad. With x0 a
// multiple of S (the hosts keep it one), that is segment entry (j + pad − kx) / S + QB
// where S divides j + pad − kx: a segment from x0 / S − QB, adjoint_len(cols) long.
fn adjoint_before() -> u32 {
    return (CV_KW + CV_S - 2u) / CV_S;
}

fn adjoint_first(x0: u32) -> i32 {
    return i32(x0 / CV_S) - i32(adjoint_before());
}

fn adjoint_len(cols: u32) -> u32 {
    return (cols - 1u + CV_PAD) / CV_S + adjoint_before() + 1u;
}

fn adjoint_row(acc: ptr<function, array<f32, 32>>, at: u32, seg: array<f32, 32>, wrow: array<f32, 32>, groups: u32, cols: u32) {
    for (var kx = 0u; kx < CV_KW; kx++) {
        for (var g = 0u; g < groups; g++) {
            for (var j = 0u; j < cols; j++) {
                // (j + pad − kx) / S + QB, kept unsigned: S·QB ≥ KW − 1 ≥ kx. A select,
                // not a branch, so that the loops stay straight-line code that unrolls.
                let u = j + CV_PAD + CV_S * adjoint_before() - kx;
                let tap = seg[min(u / CV_S, 31u)] * wrow[g * CV_KW + kx];
                (*acc)[at + g * cols + j] += select(0.0, tap, u % CV_S == 0u);
            }
        }
    }
}
