// The conv2d ladder, rung 2 of 6: the fused stage.
// Idea: a whole conv stage (conv, bias, activation, max-pool) is one dispatch forward and one backward, specialised per layer.
// From the rung before: every size but the batch is a pipeline constant, weights are staged
//   in workgroup memory, and an invocation computes several output channels.
// Why faster: on every GPU, fewer dispatches and no intermediate tensors in global memory;
//   constant sizes let the tap loops unroll.
// Bench rows: conv2d_act_forward and conv2d_act_pool_forward, variants `1ch` … `16ch` and
//   `spread1ch` … `spread4ch`; conv2d_backward_params, _act and _pool_act, variant `-`.

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
