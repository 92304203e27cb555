// common: the helpers every kernel family shares. The host prepends this file to each
// family's source when it builds the family's module, so each helper is written once.

// Invocations per workgroup of the one-dimensional kernels. Set per pipeline from the
// Rust constant gpu::kernels::WORKGROUP, the one place it is written. A power of two, for
// the tree reduction below.
override WG: u32;

// What changes from one step to the next within a submission, read at a dynamic offset
// of one uniform buffer. Mirrors ops::StepParams (a test checks the layout).
struct Step {
    batch_start: u32,      // position of this batch in the epoch's permutation
    batch_len: u32,
    bias_correction1: f32, // Adam's 1 − β1^t, computed on the host in f64
    bias_correction2: f32, // 1 − β2^t
}

// The flat index of an invocation of a one-dimensional kernel. A long array needs more
// than the 65535 workgroups one grid dimension holds, so the host folds the grid into a
// second dimension, and every such kernel folds gid.y back in here.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * (nwg.x * WG);
}

// The flat index of a workgroup, for kernels that give each output a workgroup; folded
// like flat_index.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

var<workgroup> partial: array<f32, WG>;

// The sum of `value` over the workgroup, by halving: every invocation gets the total.
// Call it from uniform control flow; the closing barrier lets a kernel call it again
// (every invocation has read the total before the next call writes `partial`).
fn workgroup_sum(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

// The windows [lo, hi) of a max-pool (window k, stride s, `out` windows) whose span holds
// input coordinate i: lo·s ≤ i < lo·s + k, i.e. ceil((i + 1 − k) / s) ≤ lo ≤ i / s,
// written to stay in unsigned arithmetic when i + 1 < k.
fn pool_windows(i: u32, k: u32, s: u32, out: u32) -> vec2<u32> {
    var lo = 0u;
    if (i + 1u > k) {
        lo = (i + 1u - k + s - 1u) / s;
    }
    return vec2<u32>(lo, min(i / s + 1u, out));
}

// The activations and their gradients, written once for the elementwise kernels and for
// every fused kernel that applies one. Gradients take the activation's output y, which
// the forward kept: y > 0 exactly where x > 0 for ReLU, and σ'(x) = y·(1−y).
fn relu(x: f32) -> f32 {
    return max(x, 0.0);
}

fn sigmoid(x: f32) -> f32 {
    // exp of a large positive argument overflows to inf, and 1/(1+inf) = 0 is still right.
    return 1.0 / (1.0 + exp(-x));
}

fn relu_grad(y: f32, dy: f32) -> f32 {
    return select(0.0, dy, y > 0.0);
}

fn sigmoid_grad(y: f32, dy: f32) -> f32 {
    return dy * y * (1.0 - y);
}

// The activation a fused kernel applies, from its params: 0 ReLU, 1 Sigmoid (mirrors
// gpu::kernels::act_code). It acts only where an output is stored, so a uniform branch
// costs nothing there, and one pipeline serves both activations.
fn activate(act: u32, x: f32) -> f32 {
    if (act == 1u) {
        return sigmoid(x);
    }
    return relu(x);
}

fn activate_grad(act: u32, y: f32, dy: f32) -> f32 {
    if (act == 1u) {
        return sigmoid_grad(y, dy);
    }
    return relu_grad(y, dy);
}
