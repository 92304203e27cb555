// The conv2d ladder, rung 1 of 6: direct.
// Idea: one invocation per output element, each summing its window's taps from global memory; one kernel per product.
// From the rung before: none; these are the lesson's plain kernels, one pipeline for every shape.
// Why faster: it is not: every multiply-add reads an input and a weight from global memory,
//   and the activation and pool are dispatches of their own. It is the baseline.
// Bench rows: conv2d_forward, conv2d_backward_input, conv2d_backward_weight and
//   conv2d_backward_bias, variant `-` (and `transposed`, the transposed conv's).

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
