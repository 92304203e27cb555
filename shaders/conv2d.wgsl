// conv2d: 2-D convolution (PyTorch Conv2d, no dilation, no groups), NCHW activations,
// weight (O,C,KH,KW). Mirrors src/cpu/conv2d.rs.
//
// Params (12 x u32 = 48 bytes), shared by every entry point, mirrored by
// Conv2dParams in src/gpu/kernels/conv2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, oh, ow, _pad0
// conv2d_backward_bias reads only n, o, oh and ow (hw = oh*ow).
//
// Bindings per entry point (0 is always the Params uniform; inputs read-only in the
// argument order of the CPU function, outputs read_write last):
//   conv2d_forward:         1 x, 2 w, 3 b, 4 y
//   conv2d_backward_input:  1 dy, 2 w, 3 dx
//   conv2d_backward_weight: 1 x, 2 dy, 3 dw
//   conv2d_backward_bias:   1 dy, 2 db
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
    _pad0: u32,
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
