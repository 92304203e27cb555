// counter_rng: the counter-based generator behind every random draw the kernels make (the
// denoising noise, a VAE's ε). A draw is a hash of (seed, stream, counter, word), so the
// GPU and the CPU reference (cpu::noise::draw) give the same bits with no generator state
// to carry between steps.

// Chris Wellons' lowbias32: a bijection of u32 with good avalanche.
fn lowbias32(v: u32) -> u32 {
    var h = v;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

// Word j (0 or 1) of the draw for element `counter` of `stream` under `seed`.
fn counter_draw(seed: u32, stream: u32, counter: u32, j: u32) -> u32 {
    let inner = lowbias32(counter * 2u + j);
    return lowbias32(lowbias32(inner ^ stream) ^ seed);
}
