// conv_backward_roles: the two roles of a fused conv backward, shared by the rungs of the
// conv2d ladder that run one (2_fused_stage, 3_batch_split, 4_register_blocks;
// gpu::kernels::Part::ConvBackwardRoles): a weight row's sums over the batch, the input
// gradient carried on through the stage below (its activation and max-pool), and the
// layout of a batch split's partial sums. It reads conv_io's bindings and
// conv_staging's sizes.

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


// The batch split's chunks per weight row, and the floats of one chunk's partial sums
// (dw, then db): see 3_batch_split. Rung 4 writes the same partials, folded by the same
// conv2d_fold_*.
override SPLIT: u32 = 1u;
override W_LEN: u32 = CV_O * CV_C * CV_KH * CV_KW;
override PART_LEN: u32 = W_LEN + select(CV_O, CV_C, TRANSPOSED);
