// noise family: corrupts a batch for a denoising autoencoder. The draws come from a
// counter-based generator, a hash of (seed, stream, element position), so this kernel
// and cpu::noise give the same bits with no generator state to carry between steps.
// Everything that decides a value is integer arithmetic, and the one float sum is kept
// from being fused into an FMA (see `opaque`), so the GPU matches the CPU exactly.

struct Params {
    rows: u32,
    cols: u32,
    threshold: u32, // mask: a pixel is zeroed when its 24-bit draw is below this
    zero: u32,      // always 0; see `opaque`
    scale: f32,     // gaussian: standard deviation / that of the centred sum
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> key: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;

// Word j (0 or 1) of the draw for element `counter` of stream key[1] under seed key[0]
// (counter_draw, in the counter_rng part).
fn draw(counter: u32, j: u32) -> u32 {
    return counter_draw(key[0], key[1], counter, j);
}

// A value the compiler cannot see through: `v` unchanged, since p.zero is 0 at run time.
// Without it a driver may fuse `x + f32(s) * scale` into one FMA, rounding once where the
// CPU rounds twice.
fn opaque(v: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(v) | p.zero);
}

// x (R,C) clean, key (2) -> y (R,C) = clamp(x + scale·centred_sum, 0, 1)
@compute @workgroup_size(WG)
fn noise_gaussian(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.cols) {
        return;
    }
    let counter = step.batch_start * p.cols + i;
    let a = draw(counter, 0u);
    let b = draw(counter, 1u);
    // Four 16-bit uniform draws, summed and centred: an approximately Gaussian integer.
    let s = i32((a & 0xffffu) + (a >> 16u) + (b & 0xffffu) + (b >> 16u)) - 131070;
    let n = opaque(f32(s) * p.scale);
    y[i] = clamp(x[i] + n, 0.0, 1.0);
}

// x (R,C) clean, key (2) -> y (R,C) = 0 where the 24-bit draw < threshold, else x
@compute @workgroup_size(WG)
fn noise_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.cols) {
        return;
    }
    let counter = step.batch_start * p.cols + i;
    let dropped = (draw(counter, 0u) >> 8u) < p.threshold;
    y[i] = select(x[i], 0.0, dropped);
}
