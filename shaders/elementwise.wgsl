// elementwise family: bias, and the activations (parts/activations.wgsl) with their
// gradients. One invocation per output element (flat_index, from common, folds a 2-D
// grid).

struct Params {
    len: u32,   // elements in the output
    rows: u32,  // bias: rows of the (rows, cols) matrix
    cols: u32,  // bias: columns, one bias each
    _pad0: u32,
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

// Every activation's forward entry point is this with its code (a constant, which the
// compiler folds through activate's switch), and every backward the next.
fn forward_at(gid: vec3<u32>, nwg: vec3<u32>, act: u32) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    y_at2[i] = activate(act, x[i]);
}

// From the forward's output y (activate_grad).
fn backward_at(gid: vec3<u32>, nwg: vec3<u32>, act: u32) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    dx[i] = activate_grad(act, y_at1[i], dy_at2[i]);
}

// x (L) -> y (L)
@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_at(gid, nwg, ACT_RELU);
}

// y (L), dy (L) -> dx (L)
@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    backward_at(gid, nwg, ACT_RELU);
}

// x (L) -> y (L)
@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_at(gid, nwg, ACT_SIGMOID);
}

// y (L), dy (L) -> dx (L)
@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    backward_at(gid, nwg, ACT_SIGMOID);
}

// x (L) -> y (L)
@compute @workgroup_size(WG)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_at(gid, nwg, ACT_TANH);
}

// y (L), dy (L) -> dx (L)
@compute @workgroup_size(WG)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    backward_at(gid, nwg, ACT_TANH);
}
