// loss family: MSE and BCE, value (mean over every element) and gradient.
// The value is reduced on the GPU by one workgroup, and also added, weighted by the rows
// of the batch, to a running total that the host reads once per epoch, not per step.

struct Params {
    len: u32,   // elements in y and t
    rows: u32,  // samples in the batch: the weight of this batch in the running total
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // value: loss (1); gradient: dy (L)
@group(0) @binding(4) var<storage, read_write> total: array<f32>; // value only: running sum (1)

// PyTorch's BCELoss clamps each log at -100, so that y = 0 or 1 stays finite.
fn bce_term(yv: f32, tv: f32) -> f32 {
    let log_y = max(log(yv), -100.0);
    let log_1my = max(log(1.0 - yv), -100.0);
    return -(tv * log_y + (1.0 - tv) * log_1my);
}

fn squared_error(yv: f32, tv: f32) -> f32 {
    let d = yv - tv;
    return d * d;
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
        let mean = sum / f32(p.len);
        out[0] = mean;
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

// y (L), t (L) -> dy (L) = 2·(y − t) / L
@compute @workgroup_size(WG)
fn mse_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out[i] = 2.0 * (y[i] - t[i]) / f32(p.len);
}

// y (L), t (L) -> dy (L) = (y − t) / max(y·(1 − y), 1e-12) / L, as PyTorch's BCELoss.
@compute @workgroup_size(WG)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    let yv = y[i];
    out[i] = (yv - t[i]) / max(yv * (1.0 - yv), 1e-12) / f32(p.len);
}
