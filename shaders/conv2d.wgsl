// conv2d: 2-D convolution (PyTorch Conv2d, no dilation, no groups), NCHW activations,
// weight (O,C,KH,KW). Mirrors src/cpu/conv2d.rs.
//
// Params (12 x u32 = 48 bytes), shared by every entry point, mirrored by
// Conv2dParams in src/gpu/kernels/conv2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, oh, ow, act
// conv2d_backward_bias reads only n, o, oh and ow (hw = oh*ow); the fused entry points
// read n and act, and take every other size as override constants (below).
//
// Bindings per entry point (0 is always the Params uniform; inputs read-only in the
// argument order of the CPU function, outputs read_write last):
//   conv2d_forward:           1 x, 2 w, 3 b, 4 y
//   conv2d_backward_input:    1 dy, 2 w, 3 dx
//   conv2d_backward_weight:   1 x, 2 dy, 3 dw
//   conv2d_backward_bias:     1 dy, 2 db
//   conv2d_act_forward:       1 x, 2 w, 3 b, 4 y
//   conv2d_act_pool_forward:  1 x, 2 w, 3 b, 4 y, 5 idx
//   conv2d_backward_params:   1 x, 2 dy, 3 dw, 4 db
//   conv2d_backward_act:      1 x, 2 dy, 3 w, 4 dw, 5 db, 6 dx
//   conv2d_backward_pool_act: 1 x, 2 dy, 3 w, 4 idx, 5 dw, 6 db, 7 dx
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
    act: u32,   // the fused entry points' activation (activate, common.wgsl)
}

@group(0) @binding(0) var<uniform> p: Params;

// Several entry points share a binding slot with different roles; WGSL allows that as
// long as each entry point uses only one variable per slot.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy_b1: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy_b2: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// The fused entry points' further roles (see the table above).
@group(0) @binding(3) var<storage, read> w_at3: array<f32>;
@group(0) @binding(4) var<storage, read> idx_at4: array<u32>;
@group(0) @binding(5) var<storage, read_write> pool_idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> params_db: array<f32>;
@group(0) @binding(4) var<storage, read_write> act_dw: array<f32>;
@group(0) @binding(5) var<storage, read_write> act_db: array<f32>;
@group(0) @binding(6) var<storage, read_write> act_dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> pool_dw: array<f32>;
@group(0) @binding(6) var<storage, read_write> pool_db: array<f32>;
@group(0) @binding(7) var<storage, read_write> pool_dx: array<f32>;

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW)
@compute @workgroup_size(WG)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.o * p.oh * p.ow;
    if (i >= total) { return; }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let o = (i / (p.ow * p.oh)) % p.o;
    let n = i / (p.ow * p.oh * p.o);

    // Signed: the top-left tap of a window lies in the padding for the first outputs.
    let iy0 = i32(oy * p.stride) - i32(p.pad);
    let ix0 = i32(ox * p.stride) - i32(p.pad);
    var acc = b[o];
    for (var c = 0u; c < p.c; c++) {
        let xbase = (n * p.c + c) * p.h;
        let wbase = (o * p.c + c) * p.kh;
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = iy0 + i32(ky);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = ix0 + i32(kx);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                acc += x[(xbase + u32(iy)) * p.w + u32(ix)] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    y[i] = acc;
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W)
@compute @workgroup_size(WG)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.c * p.h * p.w;
    if (i >= total) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let c = (i / (p.w * p.h)) % p.c;
    let n = i / (p.w * p.h * p.c);

    // Output oy reads input iy through tap ky when oy*stride + ky = iy + pad. Only taps
    // congruent to (iy + pad) mod stride qualify, so step ky by stride from the first
    // one; ky <= iy + pad keeps oy non-negative without signed arithmetic.
    let ty = iy + p.pad;
    let tx = ix + p.pad;
    let ky0 = ty % p.stride;
    let kx0 = tx % p.stride;
    var acc = 0.0;
    for (var o = 0u; o < p.o; o++) {
        let dybase = (n * p.o + o) * p.oh;
        let wbase = (o * p.c + c) * p.kh;
        for (var ky = ky0; ky < p.kh && ky <= ty; ky += p.stride) {
            let oy = (ty - ky) / p.stride;
            if (oy >= p.oh) { continue; }
            for (var kx = kx0; kx < p.kw && kx <= tx; kx += p.stride) {
                let ox = (tx - kx) / p.stride;
                if (ox >= p.ow) { continue; }
                acc += dy_b1[(dybase + oy) * p.ow + ox] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    dx[i] = acc;
}

// The gradients of the weights and the bias reduce over the whole batch: a few hundred
// outputs, each a sum of N·OH·OW products. One invocation per output would leave a GPU
// almost idle (conv_out's bias is one sum over 100,000 values at batch 128), so these give
// each output a workgroup: its WG invocations stride over the sum, with consecutive
// invocations on consecutive pixels, then add their partial sums with workgroup_sum
// (common.wgsl).

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW); one workgroup per weight
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
        let x_row = ((n * p.c + c) * p.h + u32(iy)) * p.w;
        let dy_row = ((n * p.o + o) * p.oh + oy) * p.ow;
        for (var ox = 0u; ox < p.ow; ox++) {
            let ix = i32(ox * p.stride + kx) - i32(p.pad);
            if (ix >= 0 && ix < i32(p.w)) {
                acc += x[x_row + u32(ix)] * dy_b2[dy_row + ox];
            }
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        dw[i] = total;
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
            acc += dy_b1[base + ox];
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        db[o] = total;
    }
}

// ---------------------------------------------------------------------------------------
// Fused, specialised entry points: a conv stage as one dispatch forward and one backward.
// Every size but the batch is an override constant, fixed per layer when its pipeline is
// made, so that index arithmetic folds into constants and the tap loops unroll.

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
// Forward: the max-pool after the activation (a 1×1 window of stride 1 is none) and the
// stage's output size, pooled or not.
override CV_PK: u32 = 1u;
override CV_PS: u32 = 1u;
override CV_PH: u32 = 1u;
override CV_PW: u32 = 1u;
// Forward: output channels per invocation (OG · PK² ≤ 64, the accumulators it holds),
// and input channels per chunk of weights staged in workgroup memory.
override CV_OG: u32 = 1u;
override CV_CC: u32 = 1u;
override CV_WS: u32 = CV_OG * CV_CC * CV_KH * CV_KW;
// Backward through the max-pool below: its window, stride and input size (its output is
// this layer's input, C × H × W).
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

var<workgroup> stage_w: array<f32, CV_WS>; // [og][cc][ky][kx]

// The sums of one invocation of a fused forward: its output position (n, py, px) of
// the stage, pooled or not, its first channel, and the conv's sums for OG channels at
// every pixel of its pool window ([og][pixel]).
struct StageSums {
    in_range: bool,
    n: u32,
    py: u32,
    px: u32,
    o0: u32,
    acc: array<f32, 64>,
}

// The forward sums of workgroup g: weights for OG output channels are staged, CC input
// channels at a time, in workgroup memory; for every tap, the input is read once and
// used for all OG channels and every pixel of the pool window.
fn stage_sums(lid: u32, g: u32) -> StageSums {
    let groups = (CV_O + CV_OG - 1u) / CV_OG;
    var out: StageSums;
    out.o0 = (g % groups) * CV_OG;
    let i = (g / groups) * WG + lid;
    out.in_range = i < p.n * CV_PH * CV_PW;
    out.px = i % CV_PW;
    out.py = (i / CV_PW) % CV_PH;
    out.n = i / (CV_PW * CV_PH);
    let window = CV_PK * CV_PK;
    for (var c0 = 0u; c0 < CV_C; c0 += CV_CC) {
        workgroupBarrier();
        for (var e = lid; e < CV_WS; e += WG) {
            let kx = e % CV_KW;
            let ky = (e / CV_KW) % CV_KH;
            let cc = (e / (CV_KW * CV_KH)) % CV_CC;
            let og = e / (CV_KW * CV_KH * CV_CC);
            var v = 0.0;
            if (out.o0 + og < CV_O && c0 + cc < CV_C) {
                v = w[(((out.o0 + og) * CV_C + c0 + cc) * CV_KH + ky) * CV_KW + kx];
            }
            stage_w[e] = v;
        }
        workgroupBarrier();
        if (!out.in_range) {
            continue;
        }
        for (var cc = 0u; cc < CV_CC && c0 + cc < CV_C; cc++) {
            let plane = (out.n * CV_C + c0 + cc) * CV_H;
            for (var ky = 0u; ky < CV_KH; ky++) {
                for (var kx = 0u; kx < CV_KW; kx++) {
                    for (var q = 0u; q < window; q++) {
                        // Signed: the top-left taps of the first outputs lie in the padding.
                        let iy = i32((out.py * CV_PS + q / CV_PK) * CV_S + ky) - i32(CV_PAD);
                        let ix = i32((out.px * CV_PS + q % CV_PK) * CV_S + kx) - i32(CV_PAD);
                        if (iy < 0 || iy >= i32(CV_H) || ix < 0 || ix >= i32(CV_W)) {
                            continue;
                        }
                        let xv = x[(plane + u32(iy)) * CV_W + u32(ix)];
                        for (var og = 0u; og < CV_OG; og++) {
                            out.acc[og * window + q] += xv * stage_w[((og * CV_CC + cc) * CV_KH + ky) * CV_KW + kx];
                        }
                    }
                }
            }
        }
    }
    return out;
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv + b)
@compute @workgroup_size(WG)
fn conv2d_act_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                      @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let st = stage_sums(lid.x, group_index(wid, nwg));
    if (!st.in_range) {
        return;
    }
    for (var og = 0u; og < CV_OG && st.o0 + og < CV_O; og++) {
        let o = st.o0 + og;
        y[((st.n * CV_O + o) * CV_OH + st.py) * CV_OW + st.px] = activate(p.act, st.acc[og] + b[o]);
    }
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y, idx (N,O,PH,PW) = max_pool(act(conv + b))
@compute @workgroup_size(WG)
fn conv2d_act_pool_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                           @builtin(workgroup_id) wid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let st = stage_sums(lid.x, group_index(wid, nwg));
    if (!st.in_range) {
        return;
    }
    let window = CV_PK * CV_PK;
    for (var og = 0u; og < CV_OG && st.o0 + og < CV_O; og++) {
        let o = st.o0 + og;
        let bias = b[o];
        // As max_pool2d_forward: the first max in row-major order, a NaN taking over.
        var best = activate(p.act, st.acc[og * window] + bias);
        var arg = (st.py * CV_PS) * CV_OW + st.px * CV_PS;
        for (var q = 1u; q < window; q++) {
            let v = activate(p.act, st.acc[og * window + q] + bias);
            if (v > best || v != v) {
                best = v;
                arg = (st.py * CV_PS + q / CV_PK) * CV_OW + st.px * CV_PS + q % CV_PK;
            }
        }
        let out = ((st.n * CV_O + o) * CV_PH + st.py) * CV_PW + st.px;
        y[out] = best;
        pool_idx[out] = arg;
    }
}

// The backward entry points run two kinds of workgroup in one dispatch. The first
// O·C·KH each take one row (o, c, ky) of the weight gradient, KW taps summed over the
// batch by all WG invocations (workgroup_sum), and those with c = ky = 0 also the bias
// gradient of channel o. The rest take the input gradient, one invocation per element,
// carried on through the stage below.

// Row (o, c, ky) of dw, and db[o], summed over (n, oy, ox); every invocation gets them.
struct WeightRow {
    taps: array<f32, 16>,
    bias: f32,
}

fn weight_row(lid: u32, g: u32) -> WeightRow {
    let ky = g % CV_KH;
    let c = (g / CV_KH) % CV_C;
    let o = g / (CV_KH * CV_C);
    var taps: array<f32, 16>;
    var bias = 0.0;
    // Invocations take whole output rows (image n, row oy), so that the inner loops walk
    // contiguous memory.
    for (var row = lid; row < p.n * CV_OH; row += WG) {
        let n = row / CV_OH;
        let oy = row % CV_OH;
        let dy_row = ((n * CV_O + o) * CV_OH + oy) * CV_OW;
        let iy = i32(oy * CV_S + ky) - i32(CV_PAD);
        let inside = iy >= 0 && iy < i32(CV_H);
        let x_row = ((n * CV_C + c) * CV_H + u32(max(iy, 0))) * CV_W;
        for (var ox = 0u; ox < CV_OW; ox++) {
            let d = dy_b2[dy_row + ox];
            bias += d;
            for (var kx = 0u; kx < CV_KW; kx++) {
                let ix = i32(ox * CV_S + kx) - i32(CV_PAD);
                if (inside && ix >= 0 && ix < i32(CV_W)) {
                    taps[kx] += x[x_row + u32(ix)] * d;
                }
            }
        }
    }
    var row: WeightRow;
    for (var kx = 0u; kx < CV_KW; kx++) {
        row.taps[kx] = workgroup_sum(lid, taps[kx]);
    }
    row.bias = workgroup_sum(lid, bias);
    return row;
}

fn weight_groups() -> u32 {
    return CV_O * CV_C * CV_KH;
}

// Σ_o Σ_taps dy · w at input element (n, c, iy, ix): the conv's input gradient there.
// Output oy reads input iy through tap ky when oy·S + ky = iy + pad.
fn input_grad(n: u32, c: u32, iy: u32, ix: u32) -> f32 {
    let ty = iy + CV_PAD;
    let tx = ix + CV_PAD;
    var acc = 0.0;
    for (var ky = 0u; ky < CV_KH; ky++) {
        if (ky > ty || (ty - ky) % CV_S != 0u || (ty - ky) / CV_S >= CV_OH) {
            continue;
        }
        let oy = (ty - ky) / CV_S;
        for (var kx = 0u; kx < CV_KW; kx++) {
            if (kx > tx || (tx - kx) % CV_S != 0u || (tx - kx) / CV_S >= CV_OW) {
                continue;
            }
            let ox = (tx - kx) / CV_S;
            for (var o = 0u; o < CV_O; o++) {
                acc += dy_b2[((n * CV_O + o) * CV_OH + oy) * CV_OW + ox] * w_at3[((o * CV_C + c) * CV_KH + ky) * CV_KW + kx];
            }
        }
    }
    return acc;
}

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
        if (plane >= p.n * CV_C) {
            return;
        }
        var g = 0.0;
        var arg = BP_H * BP_W; // no pixel: a cell past the last window
        if (cy < CV_H && cx < CV_W) {
            let at = (plane * CV_H + cy) * CV_W + cx;
            arg = idx_at4[at];
            g = activate_grad(p.act, x[at], input_grad(plane / CV_C, plane % CV_C, cy, cx));
        }
        for (var qy = 0u; qy < BP_S && cy * BP_S + qy < BP_H; qy++) {
            for (var qx = 0u; qx < BP_S && cx * BP_S + qx < BP_W; qx++) {
                let me = (cy * BP_S + qy) * BP_W + cx * BP_S + qx;
                pool_dx[plane * BP_H * BP_W + me] = select(0.0, g, me == arg);
            }
        }
        return;
    }
    if (i >= p.n * CV_C * BP_H * BP_W) {
        return;
    }
    pool_dx[i] = routed_grad(i);
}

// Element j of the pool's input, where windows overlap: each window holding j whose
// argmax j is adds its share.
fn routed_grad(j: u32) -> f32 {
    let bx = j % BP_W;
    let by = (j / BP_W) % BP_H;
    let plane = j / (BP_W * BP_H); // n·C + c
    let wy = pool_windows(by, BP_K, BP_S, CV_H);
    let wx = pool_windows(bx, BP_K, BP_S, CV_W);
    var g = 0.0;
    for (var py = wy.x; py < wy.y; py++) {
        for (var px = wx.x; px < wx.y; px++) {
            let at = (plane * CV_H + py) * CV_W + px;
            if (idx_at4[at] == by * BP_W + bx) {
                g += activate_grad(p.act, x[at], input_grad(plane / CV_C, plane % CV_C, py, px));
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
            dw[g * CV_KW + kx] = row.taps[kx];
        }
        if (g % (CV_KH * CV_C) == 0u) {
            params_db[g / (CV_KH * CV_C)] = row.bias;
        }
    }
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW) -> dw, db, dx (N,C,H,W) ⊙ act'(x)
@compute @workgroup_size(WG)
fn conv2d_backward_act(@builtin(local_invocation_id) lid: vec3<u32>,
                       @builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                act_dw[g * CV_KW + kx] = row.taps[kx];
            }
            if (g % (CV_KH * CV_C) == 0u) {
                act_db[g / (CV_KH * CV_C)] = row.bias;
            }
        }
        return;
    }
    let i = (g - weight_groups()) * WG + lid.x;
    if (i >= p.n * CV_C * CV_H * CV_W) {
        return;
    }
    let ix = i % CV_W;
    let iy = (i / CV_W) % CV_H;
    let c = (i / (CV_W * CV_H)) % CV_C;
    let n = i / (CV_W * CV_H * CV_C);
    act_dx[i] = activate_grad(p.act, x[i], input_grad(n, c, iy, ix));
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW), idx (N,C,H,W) -> dw, db, dz (N,C,BH,BW)
@compute @workgroup_size(WG)
fn conv2d_backward_pool_act(@builtin(local_invocation_id) lid: vec3<u32>,
                            @builtin(workgroup_id) wid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < CV_KW; kx++) {
                pool_dw[g * CV_KW + kx] = row.taps[kx];
            }
            if (g % (CV_KH * CV_C) == 0u) {
                pool_db[g / (CV_KH * CV_C)] = row.bias;
            }
        }
        return;
    }
    route_through_pool((g - weight_groups()) * WG + lid.x);
}
