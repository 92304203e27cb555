// elementwise family: bias, ReLU and Sigmoid, with their gradients.
// One invocation per output element (flat_index, from common.wgsl, folds a 2-D grid).

struct Params {
    len: u32,   // elements in the output
    rows: u32,  // bias: rows of the (rows, cols) matrix
    cols: u32,  // bias: columns, one bias each
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Bindings are declared per signature; each entry point uses only its own.
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_after_one: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_after_two: array<f32>;

// x (R,C), b (C) -> y (R,C)
@compute @workgroup_size(WG)
fn bias_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out_after_two[i] = in0[i] + in1[i % p.cols];
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
        acc += in0[r * p.cols + col];
    }
    out_after_one[col] = acc;
}

// x (L) -> y (L)
@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out_after_one[i] = relu(in0[i]);
}

// y (L), dy (L) -> dx (L); from the output (relu_grad, common.wgsl)
@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out_after_two[i] = relu_grad(in0[i], in1[i]);
}

// x (L) -> y (L)
@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out_after_one[i] = sigmoid(in0[i]);
}

// y (L), dy (L) -> dx (L); from the output (sigmoid_grad, common.wgsl)
@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    out_after_two[i] = sigmoid_grad(in0[i], in1[i]);
}
