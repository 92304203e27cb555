// pool: 2-D max pooling (PyTorch MaxPool2d, square kernel and stride, no padding, no
// dilation, floor mode), NCHW. Mirrors src/cpu/pool.rs. The forward pass keeps each
// window's argmax (h*W + w within the input plane) so that the backward pass never
// re-reads the input.
//
// Params (8 x u32 = 32 bytes), shared by both entry points, mirrored by
// PoolParams in src/gpu/kernels/pool.rs (a test checks the layout):
//   n, c, h, w, k, stride, oh, ow
//
// Bindings per entry point (0 is always the Params uniform):
//   max_pool2d_forward:  1 x, 2 y, 3 idx
//   max_pool2d_backward: 1 dy, 2 idx, 3 dx
//
// One invocation per output element, each written exactly once: the backward pass
// gathers over the windows that can hold its input element instead of scattering with
// atomics.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    oh: u32,
    ow: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings); a role at two bindings adds `_at` and the binding.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> idx_at2: array<u32>;
@group(0) @binding(3) var<storage, read_write> idx_at3: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// x (N,C,H,W) -> y (N,C,OH,OW), idx (N,C,OH,OW)
@compute @workgroup_size(WG)
fn max_pool2d_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.c * p.oh * p.ow;
    if (i >= total) { return; }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let base = plane * p.h * p.w;

    let y0 = oy * p.stride;
    let x0 = ox * p.stride;
    var arg = y0 * p.w + x0;
    var best = x[base + arg];
    for (var ky = 0u; ky < p.k; ky++) {
        for (var kx = 0u; kx < p.k; kx++) {
            let j = (y0 + ky) * p.w + x0 + kx;
            let v = x[base + j];
            if (takes_max(v, best)) {
                best = v;
                arg = j;
            }
        }
    }
    y[i] = best;
    idx_at3[i] = arg;
}

// dy (N,C,OH,OW), idx (N,C,OH,OW) -> dx (N,C,H,W)
@compute @workgroup_size(WG)
fn max_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let total = p.n * p.c * p.h * p.w;
    if (i >= total) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let plane = i / (p.w * p.h);
    let me = iy * p.w + ix;

    let wy = pool_windows(iy, p.k, p.stride, p.oh);
    let wx = pool_windows(ix, p.k, p.stride, p.ow);
    let obase = plane * p.oh * p.ow;
    var acc = 0.0;
    for (var oy = wy.x; oy < wy.y; oy++) {
        for (var ox = wx.x; ox < wx.y; ox++) {
            let o = obase + oy * p.ow + ox;
            if (idx_at2[o] == me) { acc += dy[o]; }
        }
    }
    dx[i] = acc;
}
