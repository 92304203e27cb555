// common: the part every family's module starts with (gpu::kernels::Part::Common): the
// workgroup size, the per-step uniform, grid folding, the workgroup sum, NaN by its bits.

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

// Whether v is a NaN, from its bits. Metal compiles shaders with fast math, under which
// `v != v` may fold to false and max() may drop a NaN; an integer test of the exponent
// (all ones) and the mantissa (not zero) means the same everywhere.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// A quiet NaN: what a kernel writes where it has no value to give (an unknown code).
// From a variable, not a literal: WGSL makes a constant expression that evaluates to NaN
// an error, which browsers (Tint) enforce and naga does not.
fn nan() -> f32 {
    var bits = 0x7fc00000u;
    return bitcast<f32>(bits);
}
