// conv_transpose2d: transposed 2-D convolution (PyTorch ConvTranspose2d, no dilation,
// no groups), NCHW activations, weight (C,O,KH,KW) with C input and O output channels.
// Mirrors src/cpu/conv_transpose2d.rs. Its bias gradient is conv2d_backward_bias.
//
// Params (12 x u32 = 48 bytes), shared by every entry point, mirrored by
// ConvTranspose2dParams in src/gpu/kernels/conv_transpose2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, out_pad, oh, ow
// out_pad is carried for the host's bookkeeping only: the kernels take the output size
// from oh and ow, where out_pad has already been applied.
//
// Bindings per entry point (0 is always the Params uniform):
//   conv_transpose2d_forward:         1 x, 2 w, 3 b, 4 y
//   conv_transpose2d_backward_input:  1 dy, 2 w, 3 dx
//   conv_transpose2d_backward_weight: 1 x, 2 dy, 3 dw
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
