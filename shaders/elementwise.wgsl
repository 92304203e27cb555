// elementwise family: bias, and the activations (parts/activations.wgsl) with their
// gradients: every activation's forward is activation_forward, its backward
// activation_backward, under its code, so that an activation added to the table needs no
// entry point here. One invocation per output element (flat_index, from common, folds a
// 2-D grid).

struct Params {
    len: u32,   // elements in the output
    rows: u32,  // bias: rows of the (rows, cols) matrix
    cols: u32,  // bias: columns, one bias each
    act: u32,   // the activation's code (activate, parts/activations)
}

@group(0) @binding(0) var<uniform> p: Params;

// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings); a role at two bindings adds `_at` and the binding.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy_at1: array<f32>;
@group(0) @binding(1) var<storage, read> y_at1: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> dy_at2: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_at2: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
@group(0) @binding(3) var<storage, read_write> y_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// x (R,C), b (C) -> y (R,C)
@compute @workgroup_size(WG)
fn bias_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    y_at3[i] = x[i] + b[i % p.cols];
}

// dy (R,C) -> db (C): the bias gradient sums over the rows (the batch). One invocation
// per column; columns are few and rows at most a batch, so a plain loop is enough here.
@compute @workgroup_size(WG)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let col = flat_index(gid, nwg);
    if (col >= p.cols) {
        return;
    }
    var acc = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        acc += dy_at1[r * p.cols + col];
    }
    db[col] = acc;
}

// x (L) -> y (L): the activation of code p.act (relu_forward, sigmoid_forward, …; one
// pipeline for all, the branch uniform)
@compute @workgroup_size(WG)
fn activation_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    y_at2[i] = activate(p.act, x[i]);
}

// y (L), dy (L) -> dx (L): its backward, from the forward's output y (relu_backward, …)
@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    dx[i] = activate_grad(p.act, y_at1[i], dy_at2[i]);
}
