// peak family: kernels that measure the card rather than train a model, as vkpeak and
// clpeak do. peak_fma keeps sixteen independent FMA chains per invocation in registers,
// so that only the arithmetic units bound it (the fp32 rate); peak_copy and peak_read
// stream a buffer far larger than any cache, four floats per load (the memory bandwidth).
// Each has a CPU twin, so that `check` proves them like every other kernel.

struct Params {
    len: u32,    // elements of x (a multiple of 4 for peak_copy and peak_read)
    iters: u32,  // peak_fma: loop iterations, each four steps of every chain
    chunk: u32,  // peak_read: elements each workgroup sums (a multiple of 4)
    _pad0: u32,
    mul: f32,    // peak_fma: each step is a ← a·mul + add; |mul| < 1 keeps a bounded
    add: f32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings); a view of it four floats at a time adds `_vec4`.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x_vec4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_vec4: array<vec4<f32>>;

// x (L) -> y (L): sixteen chains start at x[i] − c/16 (c = 0..15), each takes 4·iters
// steps a ← a·mul + add, and y[i] is their sum. 128 FLOP per iteration.
@compute @workgroup_size(WG)
fn peak_fma(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    let s = vec4(x[i]);
    let m = vec4(p.mul);
    let c = vec4(p.add);
    var a0 = s - vec4(0.0, 1.0, 2.0, 3.0) / 16.0;
    var a1 = s - vec4(4.0, 5.0, 6.0, 7.0) / 16.0;
    var a2 = s - vec4(8.0, 9.0, 10.0, 11.0) / 16.0;
    var a3 = s - vec4(12.0, 13.0, 14.0, 15.0) / 16.0;
    // Four independent vec4 chains, interleaved, so that no step waits on the one before.
    for (var t = 0u; t < p.iters; t++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
    }
    let sum = (a0 + a1) + (a2 + a3);
    y[i] = (sum.x + sum.y) + (sum.z + sum.w);
}

// x (L) -> y (L), four floats per invocation
@compute @workgroup_size(WG)
fn peak_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len / 4u) {
        return;
    }
    y_vec4[i] = x_vec4[i];
}

// x (L) -> y (⌈L/chunk⌉): the sum of each chunk of x, one workgroup per chunk, read four
// floats at a time, each invocation striding over the chunk so that loads coalesce.
@compute @workgroup_size(WG)
fn peak_read(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    let groups = (p.len + p.chunk - 1u) / p.chunk;
    if (g >= groups) {
        return;
    }
    let start = g * (p.chunk / 4u);
    let end = min(start + p.chunk / 4u, p.len / 4u);
    var acc = vec4(0.0);
    for (var j = start + lid.x; j < end; j += WG) {
        acc += x_vec4[j];
    }
    let total = workgroup_sum(lid.x, (acc.x + acc.y) + (acc.z + acc.w));
    if (lid.x == 0u) {
        y[g] = total;
    }
}
