// pool_routing: how a max-pool routes, for the pool family and the fused conv stages
// (gpu::kernels::Part::PoolRouting): which element a window keeps, and which windows
// hold an element, so that a gradient can go back through the argmax by gathering.

// Whether v takes a window's maximum from best, scanning in row-major order: strictly
// greater keeps the first maximum, as PyTorch does, and a NaN takes over like PyTorch's
// isnan test; found by its bits (is_nan, common), which fast math cannot fold away.
fn takes_max(v: f32, best: f32) -> bool {
    return v > best || is_nan(v);
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
