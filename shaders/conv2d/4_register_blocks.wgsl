// The conv2d ladder, rung 4 of 6: register blocks for the backward.
// Idea: an invocation owns every tap of a few output channels against one input channel, sliding a window of inputs along each row in registers.
// From the rung before: register blocks for the weight role and for the input role, instead
//   of a workgroup per weight row and an invocation per input element.
// Why faster: several multiply-adds per load; on a CPU adapter (lavapipe), where a load costs
//   dozens of FMAs, that is what counts.
// Bench rows: conv2d_backward_params, _act and _pool_act, variants `blocked1` … `blocked8`.

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
