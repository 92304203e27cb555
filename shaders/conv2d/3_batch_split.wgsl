// The conv2d ladder, rung 3 of 6: the batch split.
// Idea: each weight row's sum over the batch is split over several workgroups, and a second dispatch folds their partial sums.
// From the rung before: SPLIT workgroups per weight row instead of one, and a fold.
// Why faster: a layer has only O·C·KH weight rows (48 for the first and last convs), too few
//   workgroups to fill a GPU of 100+ multiprocessors; the split multiplies them.
// Bench rows: conv2d_backward_params, _act and _pool_act, variants `split2` … `split32`
//   (the fold's time is in the same row).

// The batch split: a weight row sums N·OH·OW·KW products in one workgroup, and a layer has
// only O·C·KH rows (48 for the models' first and last convs), too few workgroups for a
// large GPU. The `_split` entry points give each row SPLIT workgroups, each summing one
// chunk of the batch into the partial sums (chunk-major, PART_LEN floats a chunk: dw,
// then db); the input role's workgroups follow them, as in the unsplit kernels. A second
// dispatch, conv2d_fold_*, adds each weight's chunks in chunk order. The sum is the
// same as the unsplit kernel's in another order (within the tables' tolerance, not bit
// for bit).

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
