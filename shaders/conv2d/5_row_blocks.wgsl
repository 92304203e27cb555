// The conv2d ladder, rung 5 of 6: row blocks for the forward.
// Idea: an invocation computes a few output channels at a few consecutive columns of a row, each input and weight read once per block.
// From the rung before: rung 4's register blocks, for the fused forward.
// Why faster: the staged forward of rung 2 reads a weight from workgroup memory for every
//   multiply-add; here registers serve a whole block. Fastest on CPU adapters.
// Bench rows: conv2d_act_forward and conv2d_act_pool_forward, variants `rows1ch` … `rows8ch`.

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
