// conv2d: 2-D convolution (PyTorch Conv2d, no dilation, no groups), NCHW activations,
// weight (O,C,KH,KW), with its gradients and the fused conv stages; and on the same
// kernels, with the pipeline constant TRANSPOSED, the transposed convolution (PyTorch
// ConvTranspose2d). Mirrors src/cpu/conv2d.rs, and transposed src/cpu/conv_transpose2d.rs.
//
// A transposed conv with input (N,Ci,h,w), weight (Ci,Co,KH,KW) and output (N,Co,OH',OW')
// is the adjoint of the conv2d with input C = Co channels of H×W = OH'×OW', output O = Ci
// channels of OH×OW = h×w, and the same weight memory, read as (O,C,KH,KW). The host
// passes that conv2d's sizes (ops::ConvShape::conv2d) and TRANSPOSED, and each entry
// point then runs the transposed conv's op of its name with the conv's two sides swapped,
// as candle's backprop does: the forward is conv2d's input-gradient sum plus a bias, the
// input gradient conv2d's forward sum, the weight gradient conv2d's with x and dy
// swapped. Sizes below are always the conv2d's.
//
// Params (12 x u32 = 48 bytes), shared by every entry point, mirrored by
// Conv2dParams in src/gpu/kernels/conv2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, oh, ow, act
// conv2d_backward_bias reads only n, o, oh and ow (hw = oh*ow); the fused entry points
// read n and act, and take every other size as override constants (parts/conv_staging).
//
// Bindings per entry point, in the op's order (0 is always the Params uniform):
//   conv2d_forward:           1 x, 2 w, 3 b, 4 y (and its implicit GEMM, _igemm)
//   conv2d_backward_input:    1 dy, 2 w, 3 dx
//   conv2d_backward_weight:   1 x, 2 dy, 3 dw
//   conv2d_backward_bias:     1 dy, 2 db
//   conv2d_act_forward:       1 x, 2 w, 3 b, 4 y
//   conv2d_act_pool_forward:  1 x, 2 w, 3 b, 4 y, 5 idx
//   conv2d_backward_params:   1 x, 2 dy, 3 dw, 4 db
//   conv2d_backward_act:      1 x, 2 dy, 3 w, 4 dw, 5 db, 6 dx
//   conv2d_backward_pool_act: 1 x, 2 dy, 3 w, 4 idx, 5 dw, 6 db, 7 dx
// The batch-split backward (`_split`) and its fold (`conv2d_fold_*`) bind the same as the
// backward of their name, and the partial sums after: params 5, act 7, pool_act 8.
//
// Every output element is written exactly once (gather form: no atomics, and backward
// kernels overwrite rather than accumulate). The forward and input gradient run one
// invocation per output element; the weight and bias gradients one workgroup per output
// (see below). Indices fold a second grid dimension in (flat_index, group_index).

struct Params {
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
    act: u32,   // the fused entry points' activation (activate, parts/activations)
}

@group(0) @binding(0) var<uniform> p: Params;

// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings); a role at two bindings adds `_at` and the binding.
// Binding 1 is one variable for both of its roles, so that the sums below, which read
// it as x in a forward and as dy in an input gradient, are written once.
@group(0) @binding(1) var<storage, read> x_or_dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db_at2: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> w_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw_at3: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> idx_at4: array<u32>;
@group(0) @binding(4) var<storage, read_write> db_at4: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw_at4: array<f32>;
@group(0) @binding(5) var<storage, read_write> idx_at5: array<u32>;
@group(0) @binding(5) var<storage, read_write> db_at5: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw_at5: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx_at6: array<f32>;
@group(0) @binding(6) var<storage, read_write> db_at6: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx_at7: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials_at5: array<f32>;
@group(0) @binding(7) var<storage, read_write> partials_at7: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials_at8: array<f32>;

// An element of an NCHW tensor: image, channel, row, column.
struct At {
    n: u32,
    ch: u32,
    y: u32,
    x: u32,
}

// Element i of a tensor of `channels` planes of h × w.
fn at(i: u32, channels: u32, h: u32, w: u32) -> At {
    return At(i / (w * h * channels), (i / (w * h)) % channels, (i / w) % h, i % w);
}

// The conv2d's input side (x, or a transposed conv's dy) and output side (dy, or a
// transposed conv's x): the two operands of a weight gradient, by geometry.
fn input_side(i: u32) -> f32 {
    if (TRANSPOSED) {
        return dy[i];
    }
    return x_or_dy[i];
}

fn output_side(i: u32) -> f32 {
    if (TRANSPOSED) {
        return x_or_dy[i];
    }
    return dy[i];
}

// ---------------------------------------------------------------------------------------
// Unfused entry points: one pipeline for every shape, sizes from the params.

// From `init`, Σ over c and the taps of binding 1 · w at output element `out`: the
// conv2d's forward sum (of x), or a transposed conv's input gradient (of dy).
fn forward_sum(out: At, init: f32) -> f32 {
    // Signed: the top-left tap of a window lies in the padding for the first outputs.
    let iy0 = i32(out.y * p.stride) - i32(p.pad);
    let ix0 = i32(out.x * p.stride) - i32(p.pad);
    var acc = init;
    for (var c = 0u; c < p.c; c++) {
        let xbase = (out.n * p.c + c) * p.h;
        let wbase = (out.ch * p.c + c) * p.kh;
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = iy0 + i32(ky);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = ix0 + i32(kx);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                acc += x_or_dy[(xbase + u32(iy)) * p.w + u32(ix)] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    return acc;
}

// From `init`, Σ over o and the taps of binding 1 · w at input element `in`: the
// conv2d's input gradient (of dy), or a transposed conv's forward (of x). Output oy
// reads input iy through tap ky when oy*stride + ky = iy + pad. Only taps congruent to
// (iy + pad) mod stride qualify, so ky steps by stride from the first one; ky <= iy + pad
// keeps oy non-negative without signed arithmetic.
fn adjoint_sum(in: At, init: f32) -> f32 {
    let ty = in.y + p.pad;
    let tx = in.x + p.pad;
    let ky0 = ty % p.stride;
    let kx0 = tx % p.stride;
    var acc = init;
    for (var o = 0u; o < p.o; o++) {
        let dybase = (in.n * p.o + o) * p.oh;
        let wbase = (o * p.c + in.ch) * p.kh;
        for (var ky = ky0; ky < p.kh && ky <= ty; ky += p.stride) {
            let oy = (ty - ky) / p.stride;
            if (oy >= p.oh) { continue; }
            for (var kx = kx0; kx < p.kw && kx <= tx; kx += p.stride) {
                let ox = (tx - kx) / p.stride;
                if (ox >= p.ow) { continue; }
                acc += x_or_dy[(dybase + oy) * p.ow + ox] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    return acc;
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW)
// transposed: x (N,O,OH,OW), w (O,C,KH,KW), b (C) -> y (N,C,H,W)
@compute @workgroup_size(WG)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (TRANSPOSED) {
        if (i >= p.n * p.c * p.h * p.w) { return; }
        let e = at(i, p.c, p.h, p.w);
        y[i] = adjoint_sum(e, b[e.ch]);
    } else {
        if (i >= p.n * p.o * p.oh * p.ow) { return; }
        let e = at(i, p.o, p.oh, p.ow);
        y[i] = forward_sum(e, b[e.ch]);
    }
}

// The implicit-GEMM forward (Variant::ImplicitGemm, conv2d only): y as the product of
// the im2col'd input X (M = N·OH·OW rows, K = C·KH·KW columns) with the weights read as
// (O, K), tiled as matmul's register-blocked kernels are. A workgroup owns an IG_BM × IG_BN
// tile of (position, channel) outputs, 4×4 per invocation; it steps through K eight
// columns at a time, gathering the tile's slice of X from x on the fly (zeros in the
// padding) and the weights' slice into workgroup memory. Each staged input serves IG_BN
// channels and each weight IG_BM positions, where conv2d_forward rereads both per
// output: the form for large batches and channel counts. Sizes stay in the params (one
// pipeline per tile for every shape); IG_BN is the host's (16, 32 or 64, so that the
// two tiles fit 9 KiB of workgroup memory).
override IG_BN: u32 = 16u;
override IG_BM: u32 = WG * 16u / IG_BN;
const IG_BK: u32 = 8u;
override IG_A_LEN: u32 = IG_BK * IG_BM;
override IG_B_LEN: u32 = IG_BK * IG_BN;
var<workgroup> ig_x: array<f32, IG_A_LEN>; // [k][position]
var<workgroup> ig_w: array<f32, IG_B_LEN>; // [k][channel]

// Row m of the im2col'd input, output position (n, oy, ox): where its image starts in
// x and the top-left tap of its window (signed: the window may start in the padding).
// Past the batch, `in_range` is false and the row is zeros.
struct Im2colRow {
    in_range: bool,
    base: u32,
    iy0: i32,
    ix0: i32,
}

fn im2col_row(m: u32) -> Im2colRow {
    let ox = m % p.ow;
    let oy = (m / p.ow) % p.oh;
    let n = m / (p.ow * p.oh);
    let in_range = m < p.n * p.oh * p.ow;
    let iy0 = i32(oy * p.stride) - i32(p.pad);
    let ix0 = i32(ox * p.stride) - i32(p.pad);
    return Im2colRow(in_range, n * p.c * p.h * p.w, iy0, ix0);
}

// Element k = (c, ky, kx) of im2col row `row`: zero in the padding and past either end.
fn im2col(row: Im2colRow, k: u32) -> f32 {
    let taps = p.kh * p.kw;
    if (!row.in_range || k >= p.c * taps) {
        return 0.0;
    }
    let iy = row.iy0 + i32((k / p.kw) % p.kh);
    let ix = row.ix0 + i32(k % p.kw);
    if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) {
        return 0.0;
    }
    return x_or_dy[row.base + ((k / taps) * p.h + u32(iy)) * p.w + u32(ix)];
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW); one workgroup per IG_BM × IG_BN tile
@compute @workgroup_size(WG)
fn conv2d_forward_igemm(@builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let tiles_o = (p.o + IG_BN - 1u) / IG_BN;
    let t = group_index(wid, nwg);
    let m0 = (t / tiles_o) * IG_BM;
    let o0 = (t % tiles_o) * IG_BN;
    // Invocation (ty, tx) holds positions m0 + 4·ty .. +4 and channels o0 + 4·tx .. +4.
    let tx = lid.x % (IG_BN / 4u);
    let ty = lid.x / (IG_BN / 4u);
    let k_len = p.c * p.kh * p.kw;
    // IG_BM divides WG: each invocation gathers one row of the tile, its position's
    // divisions done once.
    let row = im2col_row(m0 + lid.x % IG_BM);
    var acc: array<f32, 16>; // [position][channel]
    // K and the tile come from the params and the workgroup id: every invocation takes
    // the loop and its barriers alike.
    for (var k0 = 0u; k0 < k_len; k0 += IG_BK) {
        for (var kk = lid.x / IG_BM; kk < IG_BK; kk += WG / IG_BM) {
            ig_x[kk * IG_BM + lid.x % IG_BM] = im2col(row, k0 + kk);
        }
        for (var e = lid.x; e < IG_B_LEN; e += WG) {
            let o = o0 + e % IG_BN;
            let k = k0 + e / IG_BN;
            var v = 0.0;
            if (o < p.o && k < k_len) {
                v = w[o * k_len + k];
            }
            ig_w[e] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < IG_BK; kk++) {
            var xs: array<f32, 4>;
            var ws: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                xs[i] = ig_x[kk * IG_BM + ty * 4u + i];
                ws[i] = ig_w[kk * IG_BN + tx * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += xs[i] * ws[j];
                }
            }
        }
        workgroupBarrier();
    }
    let positions = p.oh * p.ow;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + ty * 4u + i;
        if (m >= p.n * positions) {
            break;
        }
        let n = m / positions;
        let at_pos = m % positions;
        for (var j = 0u; j < 4u; j++) {
            let o = o0 + tx * 4u + j;
            if (o < p.o) {
                y[(n * p.o + o) * positions + at_pos] = acc[i * 4u + j] + b[o];
            }
        }
    }
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W)
// transposed: dy (N,C,H,W), w (O,C,KH,KW) -> dx (N,O,OH,OW)
@compute @workgroup_size(WG)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (TRANSPOSED) {
        if (i >= p.n * p.o * p.oh * p.ow) { return; }
        dx_at3[i] = forward_sum(at(i, p.o, p.oh, p.ow), 0.0);
    } else {
        if (i >= p.n * p.c * p.h * p.w) { return; }
        dx_at3[i] = adjoint_sum(at(i, p.c, p.h, p.w), 0.0);
    }
}

// The gradients of the weights and the bias reduce over the whole batch: a few hundred
// outputs, each a sum of N·OH·OW products. One invocation per output would leave a GPU
// almost idle (conv_out's bias is one sum over 100,000 values at batch 128), so these give
// each output a workgroup: its WG invocations stride over the sum, with consecutive
// invocations on consecutive pixels, then add their partial sums with workgroup_sum
// (parts/common).

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW); one workgroup per weight
// transposed: x (N,O,OH,OW), dy (N,C,H,W) -> dw (O,C,KH,KW)
@compute @workgroup_size(WG)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(local_invocation_id) lid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = group_index(wid, nwg);
    if (i >= p.o * p.c * p.kh * p.kw) { return; }
    let kx = i % p.kw;
    let ky = (i / p.kw) % p.kh;
    let c = (i / (p.kw * p.kh)) % p.c;
    let o = i / (p.kw * p.kh * p.c);

    // Invocations take whole output rows (image n, row oy), so that the divisions happen
    // once per row and the inner loop walks contiguous memory.
    var acc = 0.0;
    for (var row = lid.x; row < p.n * p.oh; row += WG) {
        let n = row / p.oh;
        let oy = row % p.oh;
        let iy = i32(oy * p.stride + ky) - i32(p.pad);
        if (iy < 0 || iy >= i32(p.h)) { continue; }
        let in_row = ((n * p.c + c) * p.h + u32(iy)) * p.w;
        let out_row = ((n * p.o + o) * p.oh + oy) * p.ow;
        for (var ox = 0u; ox < p.ow; ox++) {
            let ix = i32(ox * p.stride + kx) - i32(p.pad);
            if (ix >= 0 && ix < i32(p.w)) {
                acc += input_side(in_row + u32(ix)) * output_side(out_row + ox);
            }
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        dw_at3[i] = total;
    }
}

// dy (N,O,OH,OW) -> db (O); also the bias gradient of conv_transpose2d; one workgroup per channel
@compute @workgroup_size(WG)
fn conv2d_backward_bias(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = group_index(wid, nwg);
    if (o >= p.o) { return; }
    // Each invocation sums whole channel planes' rows: one division per row.
    var acc = 0.0;
    for (var row = lid.x; row < p.n * p.oh; row += WG) {
        let base = ((row / p.oh) * p.o + o) * p.oh * p.ow + (row % p.oh) * p.ow;
        for (var ox = 0u; ox < p.ow; ox++) {
            acc += x_or_dy[base + ox];
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        db_at2[o] = total;
    }
}

// ---------------------------------------------------------------------------------------
// Fused, specialised entry points: a conv stage as one dispatch forward and one backward,
// every size but the batch an override constant (parts/conv_staging).

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv + b)
// transposed: x (N,O,OH,OW), w (O,C,KH,KW), b (C) -> y (N,C,H,W) = act(conv_transpose + b)
@compute @workgroup_size(WG)
fn conv2d_act_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                      @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let st = stage_sums(lid.x, group_index(wid, nwg));
    if (!st.in_range) {
        return;
    }
    for (var og = 0u; og < CV_OG && st.o0 + og < PRODUCED; og++) {
        let o = st.o0 + og;
        y[((st.n * PRODUCED + o) * CV_PH + st.py) * CV_PW + st.px] = activate(p.act, st.acc[og] + b[o]);
    }
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y, idx (N,O,PH,PW) = max_pool(act(conv + b))
@compute @workgroup_size(WG)
fn conv2d_act_pool_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                           @builtin(workgroup_id) wid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let st = stage_sums(lid.x, group_index(wid, nwg));
    if (CV_SPREAD) {
        pool_spread(lid.x, st);
        return;
    }
    if (!st.in_range) {
        return;
    }
    let window = CV_PK * CV_PK;
    for (var og = 0u; og < CV_OG && st.o0 + og < PRODUCED; og++) {
        let o = st.o0 + og;
        let bias = b[o];
        // As max_pool2d_forward: the first max in row-major order, a NaN taking over.
        var best = activate(p.act, st.acc[og * window] + bias);
        var arg = (st.py * CV_PS) * CV_OW + st.px * CV_PS;
        for (var q = 1u; q < window; q++) {
            let v = activate(p.act, st.acc[og * window + q] + bias);
            if (takes_max(v, best)) {
                best = v;
                arg = (st.py * CV_PS + q / CV_PK) * CV_OW + st.px * CV_PS + q % CV_PK;
            }
        }
        let out = ((st.n * PRODUCED + o) * CV_PH + st.py) * CV_PW + st.px;
        y[out] = best;
        idx_at5[out] = arg;
    }
}

// A spread forward's activated sums ([og][invocation]), which meet for each window's max.
override CV_SPREAD_LEN: u32 = select(1u, CV_OG * WG, CV_SPREAD);
var<workgroup> spread_vals: array<f32, CV_SPREAD_LEN>;

// The pool of a spread forward (CV_SPREAD): every invocation publishes its pixel's
// activated sums, and the first of each window's invocations takes their max, as the
// unspread forward does, in the window's row-major order. Every invocation reaches the
// barrier; only then do those past the batch, or not first in their window, leave.
fn pool_spread(lid: u32, st: StageSums) {
    if (st.in_range) {
        for (var og = 0u; og < CV_OG && st.o0 + og < PRODUCED; og++) {
            spread_vals[og * WG + lid] = activate(p.act, st.acc[og] + b[st.o0 + og]);
        }
    }
    workgroupBarrier();
    if (!st.in_range || st.q0 != 0u) {
        return;
    }
    for (var og = 0u; og < CV_OG && st.o0 + og < PRODUCED; og++) {
        let o = st.o0 + og;
        var best = spread_vals[og * WG + lid];
        var arg = (st.py * CV_PS) * CV_OW + st.px * CV_PS;
        for (var q = 1u; q < CV_PER_SLOT; q++) {
            let v = spread_vals[og * WG + lid + q];
            if (takes_max(v, best)) {
                best = v;
                arg = (st.py * CV_PS + q / CV_PK) * CV_OW + st.px * CV_PS + q % CV_PK;
            }
        }
        let out = ((st.n * PRODUCED + o) * CV_PH + st.py) * CV_PW + st.px;
        y[out] = best;
        idx_at5[out] = arg;
    }
}

// The backward entry points run two kinds of workgroup in one dispatch. The first
// O·C·KH each take one row (o, c, ky) of the weight gradient, KW taps summed over the
// batch by all WG invocations (workgroup_sum), and the first row of each of dy's
// channels also that channel's bias gradient. The rest take the input gradient, one
// invocation per element, carried on through the stage below.

// Row (o, c, ky) of dw, and the bias gradient if the row is its channel's first; every
// invocation gets them.
struct WeightRow {
    taps: array<f32, 16>,
    bias: f32,
    has_bias: bool,
    channel: u32,
}

fn weight_row(lid: u32, g: u32) -> WeightRow {
    return weight_row_over(lid, g, 0u, p.n);
}

// Row g of dw and the bias summed over images n0..n1 only.
fn weight_row_over(lid: u32, g: u32, n0: u32, n1: u32) -> WeightRow {
    let ky = g % CV_KH;
    let c = (g / CV_KH) % CV_C;
    let o = g / (CV_KH * CV_C);
    var taps: array<f32, 16>;
    // Invocations take whole output rows (image n, row oy), so that the inner loops walk
    // contiguous memory.
    for (var row = n0 * CV_OH + lid; row < n1 * CV_OH; row += WG) {
        let n = row / CV_OH;
        let oy = row % CV_OH;
        let iy = tap_in(oy, ky, CV_H);
        if (iy < 0) {
            continue;
        }
        let out_row = ((n * CV_O + o) * CV_OH + oy) * CV_OW;
        let in_row = ((n * CV_C + c) * CV_H + u32(iy)) * CV_W;
        for (var ox = 0u; ox < CV_OW; ox++) {
            let d = output_side(out_row + ox);
            for (var kx = 0u; kx < CV_KW; kx++) {
                let ix = tap_in(ox, kx, CV_W);
                if (ix >= 0) {
                    taps[kx] += input_side(in_row + u32(ix)) * d;
                }
            }
        }
    }
    // dy's channels: the conv2d's output side (o), or a transposed conv's input side (c).
    // Decided from the row alone, before any sum: WGSL's uniformity rules see a struct
    // holding a workgroup_sum as non-uniform, and bias_sum's barriers need a branch they
    // know every invocation takes alike (browsers refuse the module otherwise).
    let has_bias = ky == 0u && select(c == 0u, o == 0u, TRANSPOSED);
    let channel = select(o, c, TRANSPOSED);
    var bias = 0.0;
    if (has_bias) {
        bias = bias_sum(lid, channel, n0, n1);
    }
    var row: WeightRow;
    for (var kx = 0u; kx < CV_KW; kx++) {
        row.taps[kx] = workgroup_sum(lid, taps[kx]);
    }
    row.has_bias = has_bias;
    row.channel = channel;
    row.bias = bias;
    return row;
}

// Σ dy over channel `ch` and images n0..n1, every invocation getting it: the bias gradient. dy is the
// conv2d's output side, or a transposed conv's input side.
fn bias_sum(lid: u32, ch: u32, n0: u32, n1: u32) -> f32 {
    let channels = select(CV_O, CV_C, TRANSPOSED);
    let rows = select(CV_OH, CV_H, TRANSPOSED);
    let cols = select(CV_OW, CV_W, TRANSPOSED);
    var acc = 0.0;
    for (var row = n0 * rows + lid; row < n1 * rows; row += WG) {
        let base = ((row / rows) * channels + ch) * rows * cols + (row % rows) * cols;
        for (var col = 0u; col < cols; col++) {
            acc += dy[base + col];
        }
    }
    return workgroup_sum(lid, acc);
}

fn weight_groups() -> u32 {
    return CV_O * CV_C * CV_KH;
}

// The input role's weights, staged whole in workgroup memory (GW_STAGED, where the host
// finds they fit its budget): every invocation of an input-gradient workgroup reads all
// O·C·KH·KW of them, so one read from global memory per workgroup serves 256. The same
// products in the same order as from w: bit-identical either way.
override GW_STAGED: bool = false;
override GW_LEN: u32 = select(1u, W_LEN, GW_STAGED);
var<workgroup> grad_w: array<f32, GW_LEN>;

// Stages the weights for the input role. Every invocation of the workgroup calls it,
// before any leaves: the barrier is on uniform control flow (GW_STAGED is a constant).
fn stage_grad_weights(lid: u32) {
    if (!GW_STAGED) {
        return;
    }
    for (var e = lid; e < GW_LEN; e += WG) {
        grad_w[e] = w_at3[e];
    }
    workgroupBarrier();
}

fn grad_weight(i: u32) -> f32 {
    if (GW_STAGED) {
        return grad_w[i];
    }
    return w_at3[i];
}

// The input gradient at element e of the layer's input x, before the stage below: Σ over
// dy's channels and the taps of dy · w. For a conv2d, its input gradient at an input
// element (the outputs that read it); for a transposed conv, the conv2d's forward sum at
// an output element (the inputs it reads).
fn input_grad(e: At) -> f32 {
    var acc = 0.0;
    if (TRANSPOSED) {
        for (var ky = 0u; ky < CV_KH; ky++) {
            let iy = tap_in(e.y, ky, CV_H);
            if (iy < 0) {
                continue;
            }
            for (var kx = 0u; kx < CV_KW; kx++) {
                let ix = tap_in(e.x, kx, CV_W);
                if (ix < 0) {
                    continue;
                }
                for (var c = 0u; c < CV_C; c++) {
                    acc += dy[((e.n * CV_C + c) * CV_H + u32(iy)) * CV_W + u32(ix)] * grad_weight(((e.ch * CV_C + c) * CV_KH + ky) * CV_KW + kx);
                }
            }
        }
        return acc;
    }
    for (var ky = 0u; ky < CV_KH; ky++) {
        let oy = tap_out(e.y, ky, CV_OH);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < CV_KW; kx++) {
            let ox = tap_out(e.x, kx, CV_OW);
            if (ox < 0) {
                continue;
            }
            for (var o = 0u; o < CV_O; o++) {
                acc += dy[((e.n * CV_O + o) * CV_OH + u32(oy)) * CV_OW + u32(ox)] * grad_weight(((o * CV_C + e.ch) * CV_KH + ky) * CV_KW + kx);
            }
        }
    }
    return acc;
}

// The gradient of the pre-activation of the stage below at element `at` of x, the
// stage's output (plane n·LX_C + c).
fn stage_grad(plane: u32, py: u32, px: u32) -> f32 {
    let at = (plane * LX_H + py) * LX_W + px;
    let e = At(plane / LX_C, plane % LX_C, py, px);
    return activate_grad(p.act, x_or_dy[at], input_grad(e));
}

// Backward through the max-pool below: its window, stride and input size (its output is
// this layer's input x, LX_C × LX_H × LX_W).
override BP_K: u32 = 1u;
override BP_S: u32 = 1u;
override BP_H: u32 = 1u;
override BP_W: u32 = 1u;
// Windows that do not overlap (k ≤ stride) route through one invocation per stride×stride
// cell of the pool's input, which computes its window's gradient once and writes the
// whole cell (the gradient at the argmax, zeros elsewhere, zeros in cells past the last
// window); overlapping windows gather per input element instead (see routed_grad).
override BP_CELLS: bool = BP_K <= BP_S;
override BP_CH: u32 = (BP_H + BP_S - 1u) / BP_S;
override BP_CW: u32 = (BP_W + BP_S - 1u) / BP_S;

// Invocation i of the input role through the pool below, whose output this layer's
// input x is: the gradient of the pre-activation of the stage below, each window's
// input gradient times act' at its output (the activation's output at its argmax),
// routed to its argmax.
fn route_through_pool(i: u32) {
    if (BP_CELLS) {
        // Cell (cy, cx) of plane n·C + c: window (cy, cx) if there is one.
        let cx = i % BP_CW;
        let cy = (i / BP_CW) % BP_CH;
        let plane = i / (BP_CW * BP_CH);
        if (plane >= p.n * LX_C) {
            return;
        }
        var g = 0.0;
        if (cy < LX_H && cx < LX_W) {
            g = stage_grad(plane, cy, cx);
        }
        write_cell(plane, cy, cx, g);
        return;
    }
    if (i >= p.n * LX_C * BP_H * BP_W) {
        return;
    }
    dx_at7[i] = routed_grad(i);
}

// Cell (cy, cx) of plane n·C + c of the pool's input: g, the gradient at the window's
// output, at its argmax and zeros elsewhere (all zeros in a cell past the last window).
fn write_cell(plane: u32, cy: u32, cx: u32, g: f32) {
    var arg = BP_H * BP_W; // no pixel: a cell past the last window
    if (cy < LX_H && cx < LX_W) {
        arg = idx_at4[(plane * LX_H + cy) * LX_W + cx];
    }
    for (var qy = 0u; qy < BP_S && cy * BP_S + qy < BP_H; qy++) {
        for (var qx = 0u; qx < BP_S && cx * BP_S + qx < BP_W; qx++) {
            let me = (cy * BP_S + qy) * BP_W + cx * BP_S + qx;
            dx_at7[plane * BP_H * BP_W + me] = select(0.0, g, me == arg);
        }
    }
}

// Element j of the pool's input, where windows overlap: each window holding j whose
// argmax j is adds its share.
fn routed_grad(j: u32) -> f32 {
    let bx = j % BP_W;
    let by = (j / BP_W) % BP_H;
    let plane = j / (BP_W * BP_H); // n·C + c
    let wy = pool_windows(by, BP_K, BP_S, LX_H);
    let wx = pool_windows(bx, BP_K, BP_S, LX_W);
    var g = 0.0;
    for (var py = wy.x; py < wy.y; py++) {
        for (var px = wx.x; px < wx.y; px++) {
            if (idx_at4[(plane * LX_H + py) * LX_W + px] == by * BP_W + bx) {
                g += stage_grad(plane, py, px);
            }
        }
    }
    return g;
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW), db (O); a workgroup per weight row
@compute @workgroup_size(WG)
fn conv2d_backward_params(@builtin(local_invocation_id) lid: vec3<u32>,
                          @builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g >= weight_groups()) {
        return;
    }
    let row = weight_row(lid.x, g);
    if (lid.x == 0u) {
        for (var kx = 0u; kx < CV_KW; kx++) {
            dw_at3[g * CV_KW + kx] = row.taps[kx];
        }
        if (row.has_bias) {
            db_at4[row.channel] = row.bias;
        }
    }
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW) -> dw, db, dx (N,C,H,W) ⊙ act'(x)
// transposed: x (N,O,OH,OW), dy (N,C,H,W), w -> dw, db (C), dx (N,O,OH,OW) ⊙ act'(x)
@compute @workgroup_size(WG)
fn conv2d_backward_act(@builtin(local_invocation_id) lid: vec3<u32>,
                       @builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                dw_at4[g * CV_KW + kx] = row.taps[kx];
            }
            if (row.has_bias) {
                db_at5[row.channel] = row.bias;
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    let i = (g - weight_groups()) * WG + lid.x;
    if (i >= p.n * LX_C * LX_H * LX_W) {
        return;
    }
    dx_at6[i] = activate_grad(p.act, x_or_dy[i], input_grad(at(i, LX_C, LX_H, LX_W)));
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW), idx (N,C,H,W) -> dw, db, dz (N,C,BH,BW)
// transposed: x (N,O,OH,OW), dy (N,C,H,W), w, idx (N,O,OH,OW) -> dw, db (C), dz (N,O,BH,BW)
@compute @workgroup_size(WG)
fn conv2d_backward_pool_act(@builtin(local_invocation_id) lid: vec3<u32>,
                            @builtin(workgroup_id) wid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                dw_at5[g * CV_KW + kx] = row.taps[kx];
            }
            if (row.has_bias) {
                db_at6[row.channel] = row.bias;
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    route_through_pool((g - weight_groups()) * WG + lid.x);
}

// ---------------------------------------------------------------------------------------
// The batch split: a weight row sums N·OH·OW·KW products in one workgroup, and a layer has
// only O·C·KH rows (48 for the models' first and last convs), too few workgroups for a
// large GPU. The `_split` entry points give each row SPLIT workgroups, each summing one
// chunk of the batch into the partial sums (chunk-major, PART_LEN floats a chunk: dw,
// then db); the input role's workgroups follow them, as in the unsplit kernels. A second
// dispatch, conv2d_fold_*, adds each weight's chunks in chunk order. The sum is the
// same as the unsplit kernel's in another order (within the tables' tolerance, not bit
// for bit).
override SPLIT: u32 = 1u;
override W_LEN: u32 = CV_O * CV_C * CV_KH * CV_KW;
override PART_LEN: u32 = W_LEN + select(CV_O, CV_C, TRANSPOSED);

// Weight row g % rows over chunk g / rows of the batch, and where its chunk's partial
// sums start.
struct SplitRow {
    row: WeightRow,
    g: u32,
    base: u32,
}

fn split_row(lid: u32, g: u32) -> SplitRow {
    let chunk = g / weight_groups();
    let size = (p.n + SPLIT - 1u) / SPLIT;
    let n0 = min(p.n, chunk * size);
    let n1 = min(p.n, n0 + size);
    var out: SplitRow;
    out.g = g % weight_groups();
    out.row = weight_row_over(lid, out.g, n0, n1);
    out.base = chunk * PART_LEN;
    return out;
}

// x (N,C,H,W), dy (N,O,OH,OW) -> partials (SPLIT, PART_LEN); SPLIT workgroups per weight row
@compute @workgroup_size(WG)
fn conv2d_backward_params_split(@builtin(local_invocation_id) lid: vec3<u32>,
                                @builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g >= weight_groups() * SPLIT) {
        return;
    }
    let r = split_row(lid.x, g);
    if (lid.x == 0u) {
        for (var kx = 0u; kx < CV_KW; kx++) {
            partials_at5[r.base + r.g * CV_KW + kx] = r.row.taps[kx];
        }
        if (r.row.has_bias) {
            partials_at5[r.base + W_LEN + r.row.channel] = r.row.bias;
        }
    }
}

// partials (SPLIT, PART_LEN) -> dw (O,C,KH,KW), db; one invocation per weight or bias
@compute @workgroup_size(WG)
fn conv2d_fold_params(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= PART_LEN) {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < SPLIT; s++) {
        v += partials_at5[s * PART_LEN + i];
    }
    if (i < W_LEN) {
        dw_at3[i] = v;
    } else {
        db_at4[i - W_LEN] = v;
    }
}

// As conv2d_backward_act, its weight rows split over the batch into partials
@compute @workgroup_size(WG)
fn conv2d_backward_act_split(@builtin(local_invocation_id) lid: vec3<u32>,
                             @builtin(workgroup_id) wid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups() * SPLIT) {
        let r = split_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                partials_at7[r.base + r.g * CV_KW + kx] = r.row.taps[kx];
            }
            if (r.row.has_bias) {
                partials_at7[r.base + W_LEN + r.row.channel] = r.row.bias;
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    let i = (g - weight_groups() * SPLIT) * WG + lid.x;
    if (i >= p.n * LX_C * LX_H * LX_W) {
        return;
    }
    dx_at6[i] = activate_grad(p.act, x_or_dy[i], input_grad(at(i, LX_C, LX_H, LX_W)));
}

// partials (SPLIT, PART_LEN) -> dw (O,C,KH,KW), db; one invocation per weight or bias
@compute @workgroup_size(WG)
fn conv2d_fold_act(@builtin(global_invocation_id) gid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= PART_LEN) {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < SPLIT; s++) {
        v += partials_at7[s * PART_LEN + i];
    }
    if (i < W_LEN) {
        dw_at4[i] = v;
    } else {
        db_at5[i - W_LEN] = v;
    }
}

// As conv2d_backward_pool_act, its weight rows split over the batch into partials
@compute @workgroup_size(WG)
fn conv2d_backward_pool_act_split(@builtin(local_invocation_id) lid: vec3<u32>,
                                  @builtin(workgroup_id) wid: vec3<u32>,
                                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups() * SPLIT) {
        let r = split_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                partials_at8[r.base + r.g * CV_KW + kx] = r.row.taps[kx];
            }
            if (r.row.has_bias) {
                partials_at8[r.base + W_LEN + r.row.channel] = r.row.bias;
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    route_through_pool((g - weight_groups() * SPLIT) * WG + lid.x);
}

// partials (SPLIT, PART_LEN) -> dw (O,C,KH,KW), db; one invocation per weight or bias
@compute @workgroup_size(WG)
fn conv2d_fold_pool_act(@builtin(global_invocation_id) gid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= PART_LEN) {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < SPLIT; s++) {
        v += partials_at8[s * PART_LEN + i];
    }
    if (i < W_LEN) {
        dw_at5[i] = v;
    } else {
        db_at6[i - W_LEN] = v;
    }
}

// ---------------------------------------------------------------------------------------
// Blocked weights (Variant::BlockedWeights): the weight role as register blocks, where the
// rows above give each weight row a workgroup whose invocations load an input-side value
// and an output-side value for every KW products (and branch on every tap's padding).
// Here an invocation owns every tap of BW_OB output channels against one input channel
// over one chunk of the batch (SPLIT chunks, partial sums as the batch split's, folded
// by the same conv2d_fold_*). It walks the chunk's output pixels row by row, holding
// each ky's KW input-side values in a window that slides along the row: per pixel it
// loads BW_OB output-side values and, at stride 1, one new input-side value per ky, for
// BW_OB·KH·KW products. On a CPU adapter, where a load costs dozens of multiply-adds,
// that is what counts. Invocations run channel-fastest, so those of a SIMD group share
// their rows and the same taps fall in the padding for all of them.
override BW_OB: u32 = 1u;
override BW_OBLOCKS: u32 = (CV_O + BW_OB - 1u) / BW_OB;
override BW_INVOCATIONS: u32 = SPLIT * CV_C * BW_OBLOCKS;
override BW_GROUPS: u32 = (BW_INVOCATIONS + WG - 1u) / WG;

// One invocation's block: channel c of the input side against o0..o0+BW_OB of the output
// side, every tap ([ob][ky][kx], host-checked to fit 64), and their bias sums.
struct WeightBlock {
    in_range: bool,
    c: u32,
    o0: u32,
    base: u32,
    taps: array<f32, 64>,
    bias: array<f32, 16>,
}

// The input-side value at column ix of a row starting at `row` (zero in the padding).
fn input_side_at(row: u32, row_inside: bool, ix: i32) -> f32 {
    let inside = row_inside && ix >= 0 && ix < i32(CV_W);
    return select(0.0, input_side(select(0u, row + u32(ix), inside)), inside);
}

fn weight_block(t: u32) -> WeightBlock {
    var out: WeightBlock;
    out.c = t % CV_C;
    out.o0 = ((t / CV_C) % BW_OBLOCKS) * BW_OB;
    let chunk = t / (CV_C * BW_OBLOCKS);
    out.in_range = chunk < SPLIT;
    out.base = chunk * PART_LEN;
    let size = (p.n + SPLIT - 1u) / SPLIT;
    let n0 = min(p.n, chunk * size);
    let n1 = min(p.n, n0 + size);
    for (var n = n0; n < n1; n++) {
        for (var oy = 0u; oy < CV_OH; oy++) {
            var rows: array<u32, 16>;
            var rows_inside: array<bool, 16>;
            var win: array<f32, 64>; // [ky][kx]: the window at column ox
            for (var ky = 0u; ky < CV_KH; ky++) {
                let iy = i32(oy * CV_S + ky) - i32(CV_PAD);
                rows_inside[ky] = iy >= 0 && iy < i32(CV_H);
                rows[ky] = ((n * CV_C + out.c) * CV_H + u32(max(iy, 0))) * CV_W;
                for (var kx = 0u; kx < CV_KW; kx++) {
                    win[ky * CV_KW + kx] = input_side_at(rows[ky], rows_inside[ky], i32(kx) - i32(CV_PAD));
                }
            }
            let out_row = (n * CV_O * CV_OH + oy) * CV_OW;
            for (var ox = 0u; ox < CV_OW; ox++) {
                for (var j = 0u; j < BW_OB; j++) {
                    let o = out.o0 + j;
                    let d = select(0.0, output_side(select(0u, out_row + o * CV_OH * CV_OW + ox, o < CV_O)), o < CV_O);
                    out.bias[j] += d;
                    for (var k = 0u; k < CV_KH * CV_KW; k++) {
                        out.taps[j * CV_KH * CV_KW + k] += d * win[k];
                    }
                }
                // Slide the window S columns on: the taps it still covers move down,
                // the rest are loaded.
                let ix0 = i32((ox + 1u) * CV_S) - i32(CV_PAD);
                for (var ky = 0u; ky < CV_KH; ky++) {
                    for (var kx = 0u; kx < CV_KW; kx++) {
                        if (kx + CV_S < CV_KW) {
                            win[ky * CV_KW + kx] = win[ky * CV_KW + kx + CV_S];
                        } else {
                            win[ky * CV_KW + kx] = input_side_at(rows[ky], rows_inside[ky], ix0 + i32(kx));
                        }
                    }
                }
            }
        }
    }
    if (TRANSPOSED && out.o0 == 0u) {
        // A transposed conv's bias gradient is over the input side's channels: this
        // invocation's channel c, summed over its plane.
        var sum = 0.0;
        for (var i = n0 * CV_H * CV_W; i < n1 * CV_H * CV_W; i++) {
            let plane = ((i / (CV_H * CV_W)) * CV_C + out.c) * CV_H * CV_W;
            sum += input_side(plane + i % (CV_H * CV_W));
        }
        out.bias[0] = sum;
    }
    return out;
}

// The input role in blocks too: an invocation takes IB_P columns x0.. of one row y of
// the layer's input x, for IB_G channels ch0.. of image n, so that each weight it reads
// serves IB_P columns and each value of dy IB_G channels (and its KW taps from registers:
// a row segment of dy is loaded once per row, not once per tap). x0 is a multiple of the
// stride (the host keeps IB_P one), so which of a row's taps reach which column is known
// when the pipeline is made. Through a pool (BP_CELLS only), the rows and columns are the
// pool's cells, and each gradient goes to its argmax as route_through_pool does.
override IB_G: u32 = 1u;
override IB_P: u32 = 1u;
override IB_ROWS: u32 = select(LX_H, BP_CH, BP_K > 1u);
override IB_COLS: u32 = select(LX_W, BP_CW, BP_K > 1u);
override IB_BLOCKS: u32 = (IB_COLS + IB_P - 1u) / IB_P;
override IB_GROUPS: u32 = (LX_C + IB_G - 1u) / IB_G;

// Invocation t's block of the input role (parts/conv_staging's RowBlock: row y of x).
fn grad_block(t: u32) -> RowBlock {
    return row_block_of(t, IB_BLOCKS, IB_GROUPS, IB_ROWS, IB_P, IB_G);
}

// `len` columns of a row of dy from column `col0` on, zero outside the row (and for a row
// outside dy).
fn dy_segment(row: u32, row_inside: bool, col0: i32, len: u32, cols: u32) -> array<f32, 32> {
    var seg: array<f32, 32>;
    for (var q = 0u; q < len; q++) {
        let col = col0 + i32(q);
        let inside = row_inside && col >= 0 && col < i32(cols);
        seg[q] = select(0.0, dy[select(0u, row + u32(col), inside)], inside);
    }
    return seg;
}

// The input-gradient weights of one summed channel and tap row for the block's IB_G
// channels ([g][kx]): w[ch][c] transposed (the conv2d's forward), w[o][ch] not.
fn grad_weight_row(b: RowBlock, summed: u32, ky: u32) -> array<f32, 32> {
    var wrow: array<f32, 32>;
    for (var g = 0u; g < IB_G; g++) {
        let pair = select(summed * CV_C + b.ch0 + g, (b.ch0 + g) * CV_C + summed, TRANSPOSED);
        for (var kx = 0u; kx < CV_KW; kx++) {
            wrow[g * CV_KW + kx] = grad_weight((pair * CV_KH + ky) * CV_KW + kx);
        }
    }
    return wrow;
}

// The block's input gradient sums before the stage below ([g][j]): the conv2d's forward
// sum of dy transposed, its adjoint sum (the conv2d's input gradient) not.
fn grad_sums(b: RowBlock) -> array<f32, 32> {
    var acc: array<f32, 32>;
    if (b.row >= LX_H) {
        return acc;
    }
    // dy's channels: the conv2d's input side transposed, its output side not.
    for (var c = 0u; c < select(CV_O, CV_C, TRANSPOSED); c++) {
        for (var ky = 0u; ky < CV_KH; ky++) {
            if (TRANSPOSED) {
                let r = forward_row_at(b.row, ky);
                let row = ((b.n * CV_C + c) * CV_H + r.row) * CV_W;
                let seg = dy_segment(row, r.inside, forward_first(b.x0), forward_len(IB_P), CV_W);
                forward_row(&acc, 0u, seg, grad_weight_row(b, c, ky), IB_G, IB_P);
            } else {
                let r = adjoint_row_at(b.row, ky);
                let row = ((b.n * CV_O + c) * CV_OH + r.row) * CV_OW;
                let seg = dy_segment(row, r.inside, adjoint_first(b.x0), adjoint_len(IB_P), CV_OW);
                adjoint_row(&acc, 0u, seg, grad_weight_row(b, c, ky), IB_G, IB_P);
            }
        }
    }
    return acc;
}

// The input role of a blocked conv2d_backward_act, for invocation t: dx ⊙ act'.
fn blocked_act_role(t: u32) {
    let b = grad_block(t);
    if (!b.in_range) {
        return;
    }
    let acc = grad_sums(b);
    for (var g = 0u; g < IB_G && b.ch0 + g < LX_C; g++) {
        for (var j = 0u; j < IB_P && b.x0 + j < LX_W; j++) {
            let at = ((b.n * LX_C + b.ch0 + g) * LX_H + b.row) * LX_W + b.x0 + j;
            dx_at6[at] = activate_grad(p.act, x_or_dy[at], acc[g * IB_P + j]);
        }
    }
}

// The input role of a blocked conv2d_backward_pool_act (cells: BP_CELLS), for invocation
// t: each cell's gradient ⊙ act' at the window's output, routed to its argmax.
fn blocked_pool_role(t: u32) {
    let b = grad_block(t);
    if (!b.in_range) {
        return;
    }
    let acc = grad_sums(b);
    for (var g = 0u; g < IB_G && b.ch0 + g < LX_C; g++) {
        let plane = b.n * LX_C + b.ch0 + g;
        for (var j = 0u; j < IB_P && b.x0 + j < BP_CW; j++) {
            let x = b.x0 + j;
            var grad = 0.0;
            if (b.row < LX_H && x < LX_W) {
                grad = activate_grad(p.act, x_or_dy[(plane * LX_H + b.row) * LX_W + x], acc[g * IB_P + j]);
            }
            write_cell(plane, b.row, x, grad);
        }
    }
}

// Where a block's partial sums go: index of each tap in the chunk's partials, and the
// bias entries (dy's channels: output side o for a conv2d, input side c transposed).
fn block_tap_index(b: WeightBlock, j: u32, k: u32) -> u32 {
    return b.base + ((b.o0 + j) * CV_C + b.c) * CV_KH * CV_KW + k;
}

fn block_has_bias(b: WeightBlock, j: u32) -> bool {
    return select(b.c == 0u && b.o0 + j < CV_O, b.o0 == 0u && j == 0u, TRANSPOSED);
}

fn block_bias_index(b: WeightBlock, j: u32) -> u32 {
    return b.base + W_LEN + select(b.o0 + j, b.c, TRANSPOSED);
}

// x (N,C,H,W), dy (N,O,OH,OW) -> partials (SPLIT, PART_LEN); an invocation per block
@compute @workgroup_size(WG)
fn conv2d_backward_params_blocked(@builtin(global_invocation_id) gid: vec3<u32>,
                                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = weight_block(flat_index(gid, nwg));
    if (!b.in_range) {
        return;
    }
    for (var j = 0u; j < BW_OB && b.o0 + j < CV_O; j++) {
        for (var k = 0u; k < CV_KH * CV_KW; k++) {
            partials_at5[block_tap_index(b, j, k)] = b.taps[j * CV_KH * CV_KW + k];
        }
        if (block_has_bias(b, j)) {
            partials_at5[block_bias_index(b, j)] = b.bias[j];
        }
    }
}

// As conv2d_backward_act, its weight gradient in blocks into partials
@compute @workgroup_size(WG)
fn conv2d_backward_act_blocked(@builtin(local_invocation_id) lid: vec3<u32>,
                               @builtin(workgroup_id) wid: vec3<u32>,
                               @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < BW_GROUPS) {
        // No early return for blocks past the last: browsers (Tint) would then see the
        // input role's barrier below as non-uniform.
        let b = weight_block(g * WG + lid.x);
        for (var j = 0u; b.in_range && j < BW_OB && b.o0 + j < CV_O; j++) {
            for (var k = 0u; k < CV_KH * CV_KW; k++) {
                partials_at7[block_tap_index(b, j, k)] = b.taps[j * CV_KH * CV_KW + k];
            }
            if (block_has_bias(b, j)) {
                partials_at7[block_bias_index(b, j)] = b.bias[j];
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    blocked_act_role((g - BW_GROUPS) * WG + lid.x);
}

// As conv2d_backward_pool_act, its weight gradient in blocks into partials
@compute @workgroup_size(WG)
fn conv2d_backward_pool_act_blocked(@builtin(local_invocation_id) lid: vec3<u32>,
                                    @builtin(workgroup_id) wid: vec3<u32>,
                                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < BW_GROUPS) {
        // No early return for blocks past the last: browsers (Tint) would then see the
        // input role's barrier below as non-uniform.
        let b = weight_block(g * WG + lid.x);
        for (var j = 0u; b.in_range && j < BW_OB && b.o0 + j < CV_O; j++) {
            for (var k = 0u; k < CV_KH * CV_KW; k++) {
                partials_at8[block_tap_index(b, j, k)] = b.taps[j * CV_KH * CV_KW + k];
            }
            if (block_has_bias(b, j)) {
                partials_at8[block_bias_index(b, j)] = b.bias[j];
            }
        }
        return;
    }
    stage_grad_weights(lid.x);
    if (BP_CELLS) {
        blocked_pool_role((g - BW_GROUPS) * WG + lid.x);
    } else {
        route_through_pool((g - BW_GROUPS) * WG + lid.x);
    }
}

// ---------------------------------------------------------------------------------------
// Row-blocked fused forwards (Variant::RowBlocks): an invocation takes FB_G produced
// channels at FB_P consecutive columns of FB_R rows of the stage's output before its
// pool (a pooled forward's window rows, whose windows must tile: PK = PS; else one
// row), summing with the row blocks of parts/conv_staging: for each summed channel and
// tap row, one segment of x's row and one row of weights, read from w directly, serve
// every channel and column of the block. The staged kernels above read a weight from
// workgroup memory for every multiply-add; a transposed conv's, whose columns alternate
// between taps, also runs every tap for every column of a SIMD group. Here which taps
// reach which column is fixed when the pipeline is made (x0 a multiple of the stride).
override FB_G: u32 = 1u;
override FB_P: u32 = 1u;
override FB_R: u32 = CV_PK;
// The produced side before the pool: the conv2d's output, or transposed its input.
override FB_H: u32 = select(CV_OH, CV_H, TRANSPOSED);
override FB_W: u32 = select(CV_OW, CV_W, TRANSPOSED);
// Columns and row blocks the blocks cover: the pooled windows' when pooled.
override FB_COLS: u32 = select(FB_W, CV_PW * CV_PK, CV_PK > 1u);
override FB_ROWS: u32 = select(FB_H, CV_PH, CV_PK > 1u);
override FB_BLOCKS: u32 = (FB_COLS + FB_P - 1u) / FB_P;
override FB_GROUPS: u32 = (PRODUCED + FB_G - 1u) / FB_G;

// Invocation t's block of the forward (RowBlock: its row is the output row, or the
// pooled row of a pooled stage).
fn fwd_block(t: u32) -> RowBlock {
    return row_block_of(t, FB_BLOCKS, FB_GROUPS, FB_ROWS, FB_P, FB_G);
}

// `len` columns of a row of x from column `col0` on, zero outside.
fn x_segment(row: u32, row_inside: bool, col0: i32, len: u32, cols: u32) -> array<f32, 32> {
    var seg: array<f32, 32>;
    for (var q = 0u; q < len; q++) {
        let col = col0 + i32(q);
        let inside = row_inside && col >= 0 && col < i32(cols);
        seg[q] = select(0.0, x_or_dy[select(0u, row + u32(col), inside)], inside);
    }
    return seg;
}

// The weights of summed channel `summed` at tap row ky for the block's channels
// ([g][kx]), zero past the produced channels.
fn fwd_weight_row(b: RowBlock, summed: u32, ky: u32) -> array<f32, 32> {
    var wrow: array<f32, 32>;
    for (var g = 0u; g < FB_G; g++) {
        let inside = b.ch0 + g < PRODUCED;
        for (var kx = 0u; kx < CV_KW; kx++) {
            let at = select(0u, weight_index(b.ch0 + g, summed, ky, kx), inside);
            wrow[g * CV_KW + kx] = select(0.0, w[at], inside);
        }
    }
    return wrow;
}

// Adds summed channel c through tap row ky at output row y into acc from `at` on: the
// conv2d's forward, or transposed its adjoint.
fn fwd_row(acc: ptr<function, array<f32, 32>>, at: u32, b: RowBlock, c: u32, ky: u32, y: u32, wrow: array<f32, 32>) {
    if (TRANSPOSED) {
        let r = adjoint_row_at(y, ky);
        let row = ((b.n * CV_O + c) * CV_OH + r.row) * CV_OW;
        let seg = x_segment(row, r.inside, adjoint_first(b.x0), adjoint_len(FB_P), CV_OW);
        adjoint_row(acc, at, seg, wrow, FB_G, FB_P);
    } else {
        let r = forward_row_at(y, ky);
        let row = ((b.n * CV_C + c) * CV_H + r.row) * CV_W;
        let seg = x_segment(row, r.inside, forward_first(b.x0), forward_len(FB_P), CV_W);
        forward_row(acc, at, seg, wrow, FB_G, FB_P);
    }
}

// The block's sums ([qy][g][j]). The second row of a pool window is written out rather
// than looped over: a loop the compiler leaves rolled would index the accumulators at run
// time, which a CPU adapter turns into memory traffic (the host offers 1 or 2 rows).
fn fwd_sums(b: RowBlock) -> array<f32, 32> {
    var acc: array<f32, 32>;
    for (var c = 0u; c < SUMMED; c++) {
        for (var ky = 0u; ky < CV_KH; ky++) {
            let wrow = fwd_weight_row(b, c, ky);
            fwd_row(&acc, 0u, b, c, ky, b.row * FB_R, wrow);
            if (FB_R == 2u) {
                fwd_row(&acc, FB_G * FB_P, b, c, ky, b.row * FB_R + 1u, wrow);
            }
        }
    }
    return acc;
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv + b), in row blocks
// transposed: x (N,O,OH,OW), w, b (C) -> y (N,C,H,W) = act(conv_transpose + b)
@compute @workgroup_size(WG)
fn conv2d_act_forward_rows(@builtin(global_invocation_id) gid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = fwd_block(flat_index(gid, nwg));
    if (!blk.in_range) {
        return;
    }
    let acc = fwd_sums(blk);
    for (var g = 0u; g < FB_G && blk.ch0 + g < PRODUCED; g++) {
        let o = blk.ch0 + g;
        let bias = b[o];
        for (var j = 0u; j < FB_P && blk.x0 + j < FB_W; j++) {
            y[((blk.n * PRODUCED + o) * FB_H + blk.row) * FB_W + blk.x0 + j] = activate(p.act, acc[g * FB_P + j] + bias);
        }
    }
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y, idx (N,O,PH,PW) = max_pool(act(conv + b)), in
// row blocks of whole pool windows (PK = PS)
@compute @workgroup_size(WG)
fn conv2d_act_pool_forward_rows(@builtin(global_invocation_id) gid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = fwd_block(flat_index(gid, nwg));
    if (!blk.in_range) {
        return;
    }
    let acc = fwd_sums(blk);
    for (var g = 0u; g < FB_G && blk.ch0 + g < PRODUCED; g++) {
        let o = blk.ch0 + g;
        let bias = b[o];
        for (var pj = 0u; pj < FB_P / CV_PK && blk.x0 / CV_PK + pj < CV_PW; pj++) {
            let px = blk.x0 / CV_PK + pj;
            // As max_pool2d_forward: the first max in row-major order, a NaN taking over.
            var best = activate(p.act, acc[g * FB_P + pj * CV_PK] + bias);
            var arg = (blk.row * CV_PS) * CV_OW + px * CV_PS;
            for (var q = 1u; q < CV_PK * CV_PK; q++) {
                let qy = q / CV_PK;
                let qx = q % CV_PK;
                let v = activate(p.act, acc[(qy * FB_G + g) * FB_P + pj * CV_PK + qx] + bias);
                if (takes_max(v, best)) {
                    best = v;
                    arg = (blk.row * CV_PS + qy) * CV_OW + px * CV_PS + qx;
                }
            }
            let out = ((blk.n * PRODUCED + o) * CV_PH + blk.row) * CV_PW + px;
            y[out] = best;
            idx_at5[out] = arg;
        }
    }
}
