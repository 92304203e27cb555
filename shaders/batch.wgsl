// batch family: builds a mini-batch on the GPU from the resident dataset.
// Images stay on the device as bytes packed four to a u32 (MNIST's 60,000 images are 47 MB
// this way instead of 188 MB of f32); rows of numbers (and images given as floats) as f32.
// Each step gathers its shuffled rows. Both entry points read `data` as words: the floats
// by their bits, so that one binding layout serves both.

struct Params {
    rows: u32,      // images in this batch
    cols: u32,      // pixels per image
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;

// data (images·cols bytes), perm (images) -> x (rows, cols) = byte / 255
@compute @workgroup_size(WG)
fn gather_batch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.cols) {
        return;
    }
    let row = i / p.cols;
    let col = i % p.cols;
    let byte_index = perm[step.batch_start + row] * p.cols + col;
    let word = data[byte_index / 4u];
    // Little-endian packing: byte j of a word sits in bits 8j..8j+7.
    let byte = (word >> ((byte_index % 4u) * 8u)) & 0xffu;
    x[i] = f32(byte) / 255.0;
}

// data (images·cols floats, as bits), perm (images) -> x (rows, cols) = data[perm[row]]
@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.cols) {
        return;
    }
    let row = i / p.cols;
    let col = i % p.cols;
    x[i] = bitcast<f32>(data[perm[step.batch_start + row] * p.cols + col]);
}
