// conv_transpose2d: transposed 2-D convolution (PyTorch ConvTranspose2d, no dilation,
// no groups), NCHW activations, weight (C,O,KH,KW) with C input and O output channels.
// Mirrors src/cpu/conv_transpose2d.rs. Its bias gradient is conv2d_backward_bias.
//
// Params (16 x u32 = 64 bytes), shared by every entry point, mirrored by
// ConvTranspose2dParams in src/gpu/kernels/conv_transpose2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, out_pad, oh, ow, act, _pad0.._pad2
// out_pad is carried for the host's bookkeeping only: the kernels take the output size
// from oh and ow, where out_pad has already been applied. The fused entry points read n
// and act, and take every other size as override constants (below).
//
// Bindings per entry point (0 is always the Params uniform):
//   conv_transpose2d_forward:           1 x, 2 w, 3 b, 4 y
//   conv_transpose2d_backward_input:    1 dy, 2 w, 3 dx
//   conv_transpose2d_backward_weight:   1 x, 2 dy, 3 dw
//   conv_transpose2d_act_forward:       1 x, 2 w, 3 b, 4 y
//   conv_transpose2d_backward_act:      1 x, 2 dy, 3 w, 4 dw, 5 db, 6 dx
//   conv_transpose2d_backward_pool_act: 1 x, 2 dy, 3 w, 4 idx, 5 dw, 6 db, 7 dx
//
// Every output element is written exactly once. The forward pass is a scatter by
// definition; gathering instead avoids atomics. The forward and input gradient run one
// invocation per output element, the weight gradient one workgroup per weight.

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
    out_pad: u32,
    oh: u32,
    ow: u32,
    act: u32,   // the fused entry points' activation (activate, common.wgsl)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Several entry points share a binding slot with different roles; WGSL allows that as
// long as each entry point uses only one variable per slot.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy_b1: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy_b2: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// The fused entry points' further roles (see the table above).
@group(0) @binding(3) var<storage, read> w_at3: array<f32>;
@group(0) @binding(4) var<storage, read> idx_at4: array<u32>;
@group(0) @binding(4) var<storage, read_write> act_dw: array<f32>;
@group(0) @binding(5) var<storage, read_write> act_db: array<f32>;
@group(0) @binding(6) var<storage, read_write> act_dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> pool_dw: array<f32>;
@group(0) @binding(6) var<storage, read_write> pool_db: array<f32>;
@group(0) @binding(7) var<storage, read_write> pool_dx: array<f32>;

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW)
@compute @workgroup_size(WG)
fn conv_transpose2d_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.o * p.oh * p.ow;
    if (i >= total) { return; }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let o = (i / (p.ow * p.oh)) % p.o;
    let n = i / (p.ow * p.oh * p.o);

    // Input iy stamps tap ky onto output oy when iy*stride + ky = oy + pad. Only taps
    // congruent to (oy + pad) mod stride qualify, so step ky by stride from the first
    // one; ky <= oy + pad keeps iy non-negative without signed arithmetic.
    let ty = oy + p.pad;
    let tx = ox + p.pad;
    let ky0 = ty % p.stride;
    let kx0 = tx % p.stride;
    var acc = b[o];
    for (var c = 0u; c < p.c; c++) {
        let xbase = (n * p.c + c) * p.h;
        let wbase = (c * p.o + o) * p.kh;
        for (var ky = ky0; ky < p.kh && ky <= ty; ky += p.stride) {
            let iy = (ty - ky) / p.stride;
            if (iy >= p.h) { continue; }
            for (var kx = kx0; kx < p.kw && kx <= tx; kx += p.stride) {
                let ix = (tx - kx) / p.stride;
                if (ix >= p.w) { continue; }
                acc += x[(xbase + iy) * p.w + ix] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    y[i] = acc;
}

// dy (N,O,OH,OW), w (C,O,KH,KW) -> dx (N,C,H,W)
@compute @workgroup_size(WG)
fn conv_transpose2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.c * p.h * p.w;
    if (i >= total) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let c = (i / (p.w * p.h)) % p.c;
    let n = i / (p.w * p.h * p.c);

    // Signed: padding crops the first output rows, so a tap can land above row 0.
    let oy0 = i32(iy * p.stride) - i32(p.pad);
    let ox0 = i32(ix * p.stride) - i32(p.pad);
    var acc = 0.0;
    for (var o = 0u; o < p.o; o++) {
        let dybase = (n * p.o + o) * p.oh;
        let wbase = (c * p.o + o) * p.kh;
        for (var ky = 0u; ky < p.kh; ky++) {
            let oy = oy0 + i32(ky);
            if (oy < 0 || oy >= i32(p.oh)) { continue; }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ox = ox0 + i32(kx);
                if (ox < 0 || ox >= i32(p.ow)) { continue; }
                acc += dy_b1[(dybase + u32(oy)) * p.ow + u32(ox)] * w[(wbase + ky) * p.kw + kx];
            }
        }
    }
    dx[i] = acc;
}

// The weight gradient reduces over the whole batch, a few hundred sums of N·H·W products
// each: one workgroup per weight, whose WG invocations stride over the input pixels and
// add their partial sums with workgroup_sum (common.wgsl).
// x (N,C,H,W), dy (N,O,OH,OW) -> dw (C,O,KH,KW); one workgroup per weight
@compute @workgroup_size(WG)
fn conv_transpose2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>,
                                    @builtin(local_invocation_id) lid: vec3<u32>,
                                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = group_index(wid, nwg);
    if (i >= p.c * p.o * p.kh * p.kw) { return; }
    let kx = i % p.kw;
    let ky = (i / p.kw) % p.kh;
    let o = (i / (p.kw * p.kh)) % p.o;
    let c = i / (p.kw * p.kh * p.o);

    // Invocations take whole input rows (image n, row iy): divisions once per row.
    var acc = 0.0;
    for (var row = lid.x; row < p.n * p.h; row += WG) {
        let n = row / p.h;
        let iy = row % p.h;
        // Input pixel (iy, ix) reaches output (iy·s + ky − pad, ix·s + kx − pad) through this tap.
        let oy = i32(iy * p.stride + ky) - i32(p.pad);
        if (oy < 0 || oy >= i32(p.oh)) { continue; }
        let x_row = ((n * p.c + c) * p.h + iy) * p.w;
        let dy_row = ((n * p.o + o) * p.oh + u32(oy)) * p.ow;
        for (var ix = 0u; ix < p.w; ix++) {
            let ox = i32(ix * p.stride + kx) - i32(p.pad);
            if (ox >= 0 && ox < i32(p.ow)) {
                acc += x[x_row + ix] * dy_b2[dy_row + u32(ox)];
            }
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        dw[i] = total;
    }
}

// ---------------------------------------------------------------------------------------
// Fused, specialised entry points: every size but the batch is an override constant,
// fixed per layer when its pipeline is made.

override TC_C: u32 = 1u;
override TC_H: u32 = 1u;
override TC_W: u32 = 1u;
override TC_O: u32 = 1u;
override TC_KH: u32 = 1u;
override TC_KW: u32 = 1u;
override TC_S: u32 = 1u;
override TC_PAD: u32 = 0u;
override TC_OH: u32 = 1u;
override TC_OW: u32 = 1u;
// Forward: output channels per invocation, input channels per staged chunk of weights.
override TC_OG: u32 = 1u;
override TC_CC: u32 = 1u;
override TC_WS: u32 = TC_OG * TC_CC * TC_KH * TC_KW;
// Backward through the max-pool below (its output is this layer's input, C × H × W).
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

var<workgroup> stage_w: array<f32, TC_WS>; // [og][cc][ky][kx]

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv_transpose + b)
// Each invocation takes one output pixel for OG output channels, with their weights
// staged in workgroup memory CC input channels at a time; input iy stamps tap ky onto
// output oy when iy·S + ky = oy + pad.
@compute @workgroup_size(WG)
fn conv_transpose2d_act_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                                @builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    let groups = (TC_O + TC_OG - 1u) / TC_OG;
    let o0 = (g % groups) * TC_OG;
    let i = (g / groups) * WG + lid.x;
    let in_range = i < p.n * TC_OH * TC_OW;
    let ox = i % TC_OW;
    let oy = (i / TC_OW) % TC_OH;
    let n = i / (TC_OW * TC_OH);
    let ty = oy + TC_PAD;
    let tx = ox + TC_PAD;
    var acc: array<f32, 64>;
    for (var c0 = 0u; c0 < TC_C; c0 += TC_CC) {
        workgroupBarrier();
        for (var e = lid.x; e < TC_WS; e += WG) {
            let kx = e % TC_KW;
            let ky = (e / TC_KW) % TC_KH;
            let cc = (e / (TC_KW * TC_KH)) % TC_CC;
            let og = e / (TC_KW * TC_KH * TC_CC);
            var v = 0.0;
            if (o0 + og < TC_O && c0 + cc < TC_C) {
                v = w[(((c0 + cc) * TC_O + o0 + og) * TC_KH + ky) * TC_KW + kx];
            }
            stage_w[e] = v;
        }
        workgroupBarrier();
        if (!in_range) {
            continue;
        }
        for (var cc = 0u; cc < TC_CC && c0 + cc < TC_C; cc++) {
            let plane = (n * TC_C + c0 + cc) * TC_H;
            for (var ky = 0u; ky < TC_KH; ky++) {
                if (ky > ty || (ty - ky) % TC_S != 0u || (ty - ky) / TC_S >= TC_H) {
                    continue;
                }
                let iy = (ty - ky) / TC_S;
                for (var kx = 0u; kx < TC_KW; kx++) {
                    if (kx > tx || (tx - kx) % TC_S != 0u || (tx - kx) / TC_S >= TC_W) {
                        continue;
                    }
                    let xv = x[(plane + iy) * TC_W + (tx - kx) / TC_S];
                    for (var og = 0u; og < TC_OG; og++) {
                        acc[og] += xv * stage_w[((og * TC_CC + cc) * TC_KH + ky) * TC_KW + kx];
                    }
                }
            }
        }
    }
    if (!in_range) {
        return;
    }
    for (var og = 0u; og < TC_OG && o0 + og < TC_O; og++) {
        let o = o0 + og;
        y[((n * TC_O + o) * TC_OH + oy) * TC_OW + ox] = activate(p.act, acc[og] + b[o]);
    }
}

// As in conv2d.wgsl, the backward entry points run two kinds of workgroup in one
// dispatch: the first C·O·KH each take one row (c, o, ky) of the weight gradient, and
// those with c = ky = 0 the bias gradient of channel o too; the rest take the input
// gradient, one invocation per element, carried on through the stage below.

struct WeightRow {
    taps: array<f32, 16>,
    bias: f32,
}

// Row (c, o, ky) of dw, summed over input pixels (n, iy, ix), each of which reaches
// output (iy·S + ky − pad, ix·S + kx − pad) through tap (ky, kx); and db[o], summed over
// the output, for the workgroups of c = ky = 0.
fn weight_row(lid: u32, g: u32) -> WeightRow {
    let ky = g % TC_KH;
    let o = (g / TC_KH) % TC_O;
    let c = g / (TC_KH * TC_O);
    var taps: array<f32, 16>;
    for (var row = lid; row < p.n * TC_H; row += WG) {
        let n = row / TC_H;
        let iy = row % TC_H;
        let oy = i32(iy * TC_S + ky) - i32(TC_PAD);
        if (oy < 0 || oy >= i32(TC_OH)) {
            continue;
        }
        let x_row = ((n * TC_C + c) * TC_H + iy) * TC_W;
        let dy_row = ((n * TC_O + o) * TC_OH + u32(oy)) * TC_OW;
        for (var ix = 0u; ix < TC_W; ix++) {
            let xv = x[x_row + ix];
            for (var kx = 0u; kx < TC_KW; kx++) {
                let ox = i32(ix * TC_S + kx) - i32(TC_PAD);
                if (ox >= 0 && ox < i32(TC_OW)) {
                    taps[kx] += xv * dy_b2[dy_row + u32(ox)];
                }
            }
        }
    }
    var out: WeightRow;
    for (var kx = 0u; kx < TC_KW; kx++) {
        out.taps[kx] = workgroup_sum(lid, taps[kx]);
    }
    if (c == 0u && ky == 0u) {
        var bias = 0.0;
        for (var row = lid; row < p.n * TC_OH; row += WG) {
            let base = ((row / TC_OH) * TC_O + o) * TC_OH * TC_OW + (row % TC_OH) * TC_OW;
            for (var ox = 0u; ox < TC_OW; ox++) {
                bias += dy_b2[base + ox];
            }
        }
        out.bias = workgroup_sum(lid, bias);
    }
    return out;
}

fn weight_groups() -> u32 {
    return TC_C * TC_O * TC_KH;
}

// Σ_o Σ_taps dy · w at input element (n, c, iy, ix): the transposed conv's input
// gradient, a plain convolution of dy.
fn input_grad(n: u32, c: u32, iy: u32, ix: u32) -> f32 {
    var acc = 0.0;
    for (var ky = 0u; ky < TC_KH; ky++) {
        let oy = i32(iy * TC_S + ky) - i32(TC_PAD);
        if (oy < 0 || oy >= i32(TC_OH)) {
            continue;
        }
        for (var kx = 0u; kx < TC_KW; kx++) {
            let ox = i32(ix * TC_S + kx) - i32(TC_PAD);
            if (ox < 0 || ox >= i32(TC_OW)) {
                continue;
            }
            for (var o = 0u; o < TC_O; o++) {
                acc += dy_b2[((n * TC_O + o) * TC_OH + u32(oy)) * TC_OW + u32(ox)] * w_at3[((c * TC_O + o) * TC_KH + ky) * TC_KW + kx];
            }
        }
    }
    return acc;
}

// x (N,C,H,W), dy (N,O,OH,OW), w (C,O,KH,KW) -> dw, db, dx (N,C,H,W) ⊙ act'(x)
@compute @workgroup_size(WG)
fn conv_transpose2d_backward_act(@builtin(local_invocation_id) lid: vec3<u32>,
                                 @builtin(workgroup_id) wid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < TC_KW; kx++) {
                act_dw[g * TC_KW + kx] = row.taps[kx];
            }
            if (g / (TC_KH * TC_O) == 0u && g % TC_KH == 0u) {
                act_db[g / TC_KH] = row.bias;
            }
        }
        return;
    }
    let i = (g - weight_groups()) * WG + lid.x;
    if (i >= p.n * TC_C * TC_H * TC_W) {
        return;
    }
    let ix = i % TC_W;
    let iy = (i / TC_W) % TC_H;
    let c = (i / (TC_W * TC_H)) % TC_C;
    let n = i / (TC_W * TC_H * TC_C);
    act_dx[i] = activate_grad(p.act, x[i], input_grad(n, c, iy, ix));
}

// x (N,C,H,W), dy (N,O,OH,OW), w (C,O,KH,KW), idx (N,C,H,W) -> dw, db, dz (N,C,BH,BW)
@compute @workgroup_size(WG)
fn conv_transpose2d_backward_pool_act(@builtin(local_invocation_id) lid: vec3<u32>,
                                      @builtin(workgroup_id) wid: vec3<u32>,
                                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g < weight_groups()) {
        let row = weight_row(lid.x, g);
        if (lid.x == 0u) {
            for (var kx = 0u; kx < TC_KW; kx++) {
                pool_dw[g * TC_KW + kx] = row.taps[kx];
            }
            if (g / (TC_KH * TC_O) == 0u && g % TC_KH == 0u) {
                pool_db[g / TC_KH] = row.bias;
            }
        }
        return;
    }
    route_through_pool((g - weight_groups()) * WG + lid.x);
}

// As in conv2d.wgsl: invocation i of the input role through the pool below, a cell of
// the pool's input where windows do not overlap, an element where they do.
fn route_through_pool(i: u32) {
    if (BP_CELLS) {
        let cx = i % BP_CW;
        let cy = (i / BP_CW) % BP_CH;
        let plane = i / (BP_CW * BP_CH);
        if (plane >= p.n * TC_C) {
            return;
        }
        var g = 0.0;
        var arg = BP_H * BP_W;
        if (cy < TC_H && cx < TC_W) {
            let at = (plane * TC_H + cy) * TC_W + cx;
            arg = idx_at4[at];
            g = activate_grad(p.act, x[at], input_grad(plane / TC_C, plane % TC_C, cy, cx));
        }
        for (var qy = 0u; qy < BP_S && cy * BP_S + qy < BP_H; qy++) {
            for (var qx = 0u; qx < BP_S && cx * BP_S + qx < BP_W; qx++) {
                let me = (cy * BP_S + qy) * BP_W + cx * BP_S + qx;
                pool_dx[plane * BP_H * BP_W + me] = select(0.0, g, me == arg);
            }
        }
        return;
    }
    if (i >= p.n * TC_C * BP_H * BP_W) {
        return;
    }
    let bx = i % BP_W;
    let by = (i / BP_W) % BP_H;
    let plane = i / (BP_W * BP_H);
    let wy = pool_windows(by, BP_K, BP_S, TC_H);
    let wx = pool_windows(bx, BP_K, BP_S, TC_W);
    var d = 0.0;
    for (var py = wy.x; py < wy.y; py++) {
        for (var px = wx.x; px < wx.y; px++) {
            let at = (plane * TC_H + py) * TC_W + px;
            if (idx_at4[at] == by * BP_W + bx) {
                d += activate_grad(p.act, x[at], input_grad(plane / TC_C, plane % TC_C, py, px));
            }
        }
    }
    pool_dx[i] = d;
}
