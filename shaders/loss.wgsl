// loss family: MSE and BCE, value (mean over every element) and gradient.
// The value is reduced on the GPU by one workgroup, and also added, weighted by the rows
// of the batch, to a running total that the host reads once per epoch, not per step.
// The fused entry points (<loss>_sigmoid_backward, and <loss>_identity_backward for a
// linear output) do the value, the gradient and the output activation's derivative in
// one pass over many workgroups, each adding its chunk of the loss to a running total of
// its own.

struct Params {
    len: u32,   // elements in y and t
    rows: u32,  // samples in the batch: the weight of this batch in the running total
    cols: u32,  // elements per sample
    summed: u32, // 1: each row's sum averaged over the rows (a VAE's term), not the mean
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings).
@group(0) @binding(3) var<storage, read_write> value: array<f32>;  // the forwards: the mean (1)
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;     // the backwards (L)
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;     // the fused: through the Sigmoid (L)
@group(0) @binding(3) var<storage, read_write> scores: array<f32>; // the row scores (R)
@group(0) @binding(4) var<storage, read_write> total: array<f32>;  // the forwards: running sum (1)
@group(0) @binding(4) var<storage, read_write> totals: array<f32>; // the fused: one per chunk

// log(v), clamped at -100 as PyTorch's BCELoss clamps each log, so that y = 0 or 1 stays
// finite. Zero gives -100 without its log being taken: log(0) = -inf, and -inf through
// max(), are not promised under Metal's fast math (a denormal, which fast math flushes to
// zero, meets the same test).
fn log_clamped(v: f32) -> f32 {
    let zero = v <= 0.0;
    return select(max(log(select(v, 1.0, zero)), -100.0), -100.0, zero);
}

fn bce_term(yv: f32, tv: f32) -> f32 {
    return -(tv * log_clamped(yv) + (1.0 - tv) * log_clamped(1.0 - yv));
}

fn squared_error(yv: f32, tv: f32) -> f32 {
    let d = yv - tv;
    return d * d;
}

// What the sum of the loss terms is divided by: every element (the mean), or, summed,
// the rows (each row's sum, averaged over the batch).
fn denominator() -> f32 {
    return select(f32(p.len), f32(p.rows), p.summed != 0u);
}

// Sums this invocation's strided share, then the workgroup's shares (workgroup_sum, in
// common.wgsl). `bce` picks the term; it is uniform, so the branch costs nothing.
fn reduce_mean(lid: u32, bce: bool) {
    var acc = 0.0;
    for (var i = lid; i < p.len; i += WG) {
        if (bce) {
            acc += bce_term(y[i], t[i]);
        } else {
            acc += squared_error(y[i], t[i]);
        }
    }
    let sum = workgroup_sum(lid, acc);
    if (lid == 0u) {
        let mean = sum / denominator();
        value[0] = mean;
        total[0] += mean * f32(p.rows);
    }
}

// y (L), t (L) -> loss (1), total (1) += loss·rows; dispatch exactly one workgroup.
@compute @workgroup_size(WG)
fn mse_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
    reduce_mean(lid.x, false);
}

// y (L), t (L) -> loss (1), total (1) += loss·rows; dispatch exactly one workgroup.
@compute @workgroup_size(WG)
fn bce_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
    reduce_mean(lid.x, true);
}

// y (L), t (L) -> dy (L) = 2·(y − t) / L (summed: / rows)
@compute @workgroup_size(WG)
fn mse_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    dy[i] = loss_grad(y[i], t[i], false);
}

// y (L), t (L) -> dy (L) = (y − t) / max(y·(1 − y), 1e-12) / L, as PyTorch's BCELoss
// (summed: / rows).
@compute @workgroup_size(WG)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    dy[i] = loss_grad(y[i], t[i], true);
}

// Elements per workgroup of the fused entry points, each adding its chunk's loss to its
// own total (mirrors ops::LOSS_CHUNK).
const LOSS_CHUNK: u32 = 256u;

// The gradient of the loss (mean, or summed) at one element, as the backward entry
// points above compute it.
fn loss_grad(yv: f32, tv: f32, bce: bool) -> f32 {
    if (bce) {
        return (yv - tv) / max(yv * (1.0 - yv), 1e-12) / denominator();
    }
    return 2.0 * (yv - tv) / denominator();
}

// Chunk `g`: dz through the Sigmoid (or, `linear`, dz = dy), and the chunk's loss terms /
// cols (summed: the terms themselves) added to total g: the totals sum to loss · rows, as
// the one-workgroup forward's total does.
fn loss_act_chunk(lid: u32, g: u32, bce: bool, linear: bool) {
    var acc = 0.0;
    let end = min((g + 1u) * LOSS_CHUNK, p.len);
    for (var i = g * LOSS_CHUNK + lid; i < end; i += WG) {
        let yv = y[i];
        let tv = t[i];
        if (bce) {
            acc += bce_term(yv, tv);
        } else {
            acc += squared_error(yv, tv);
        }
        let dy = loss_grad(yv, tv, bce);
        dz[i] = select(sigmoid_grad(yv, dy), dy, linear);
    }
    let sum = workgroup_sum(lid, acc);
    if (lid == 0u) {
        totals[g] += select(sum / f32(p.cols), sum, p.summed != 0u);
    }
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's squared errors / cols
@compute @workgroup_size(WG)
fn mse_sigmoid_backward(@builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    // A folded grid may hold a few workgroups past the last chunk; they leave together.
    if (g * LOSS_CHUNK >= p.len) {
        return;
    }
    loss_act_chunk(lid.x, g, false, false);
}

// y (L), t (L) -> dz (L), totals (⌈L/256⌉) += each chunk's cross-entropies / cols
@compute @workgroup_size(WG)
fn bce_sigmoid_backward(@builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g * LOSS_CHUNK >= p.len) {
        return;
    }
    loss_act_chunk(lid.x, g, true, false);
}

// y (L), t (L) -> dz (L) = dL/dy, totals (⌈L/256⌉) += each chunk's squared errors / cols
@compute @workgroup_size(WG)
fn mse_identity_backward(@builtin(local_invocation_id) lid: vec3<u32>,
                         @builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g * LOSS_CHUNK >= p.len) {
        return;
    }
    loss_act_chunk(lid.x, g, false, true);
}

// y (L), t (L) -> dz (L) = dL/dy, totals (⌈L/256⌉) += each chunk's cross-entropies / cols
@compute @workgroup_size(WG)
fn bce_identity_backward(@builtin(local_invocation_id) lid: vec3<u32>,
                         @builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    if (g * LOSS_CHUNK >= p.len) {
        return;
    }
    loss_act_chunk(lid.x, g, true, true);
}

// One row's loss terms summed by one workgroup, then its mean over the row's values (or,
// summed, the sum itself): the row's score.
fn row_score(lid: u32, r: u32, bce: bool) {
    var acc = 0.0;
    let start = r * p.cols;
    for (var j = lid; j < p.cols; j += WG) {
        if (bce) {
            acc += bce_term(y[start + j], t[start + j]);
        } else {
            acc += squared_error(y[start + j], t[start + j]);
        }
    }
    let sum = workgroup_sum(lid, acc);
    if (lid == 0u) {
        scores[r] = select(sum / f32(p.cols), sum, p.summed != 0u);
    }
}

// y (R,C), t (R,C) -> scores (R): each row's mean squared error (summed: its sum)
@compute @workgroup_size(WG)
fn mse_scores(@builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = group_index(wid, nwg);
    // A folded grid's extra workgroups leave together, before any barrier.
    if (r >= p.rows) {
        return;
    }
    row_score(lid.x, r, false);
}

// y (R,C), t (R,C) -> scores (R): each row's mean cross-entropy (summed: its sum)
@compute @workgroup_size(WG)
fn bce_scores(@builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = group_index(wid, nwg);
    if (r >= p.rows) {
        return;
    }
    row_score(lid.x, r, true);
}
