// latent family: what acts on a model's code, forward and backward. A variational
// autoencoder's reparameterisation z = μ + exp(½·log σ²)·ε fused with its KL term
// KL(N(μ, σ²) ‖ N(0, I)), and the sparse autoencoder's L1 penalty on the code.
//
// ε is a standard normal drawn by Box–Muller from two 24-bit uniforms of the counter-based
// generator (the counter_rng part), under the key's seed mixed with EPS_DOMAIN so that a
// denoising run's corruption and its ε are independent. The CPU reference draws the same
// uniforms; ε differs from it only by the rounding of log, sqrt and cos (see
// check::tables::LATENT_TOL). The backward draws ε again from the same counters rather than
// keeping it: it costs a hash and three transcendentals, and no buffer.

struct Params {
    rows: u32,   // images in the batch: the loss is averaged over them
    latent: u32, // L: the heads hold μ (L) then log σ² (L) per row
    act: u32,    // l1: the code's activation code, or NO_ACT for a plain code
    _pad0: u32,
    beta: f32,   // the KL term's weight (backward)
    lambda: f32, // the L1 penalty's weight
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// reparam_kl_forward: h, b, key -> z, mu, totals
// reparam_kl_backward: h, b, key, dz -> dh
// l1_backward: a, dy -> dz, totals
// kl_scores: h, b -> scores
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> key: array<u32>;
@group(0) @binding(3) var<storage, read_write> dz_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read> dz: array<f32>;
@group(0) @binding(4) var<storage, read_write> totals_at4: array<f32>;
@group(0) @binding(5) var<storage, read_write> mu: array<f32>;
@group(0) @binding(5) var<storage, read_write> dh: array<f32>;
@group(0) @binding(6) var<storage, read_write> totals: array<f32>;
@group(0) @binding(6) var<uniform> step_at6: Step; // the backward's
@group(0) @binding(7) var<uniform> step: Step;      // the forward's

// Mixed into the seed for ε (mirrors ops::latent::EPS_DOMAIN).
const EPS_DOMAIN: u32 = 0x9e3779b9u;
// The l1 kernel's activation code for a code no activation produced (mirrors
// ops::latent::NO_ACT).
const NO_ACT: u32 = 0xffffffffu;

// ε for element `counter` of the key's stream: Box–Muller on u1 in (0, 1] and u2 in
// [0, 1), each 24 bits of one word. Its log and cos are the polynomials below, not WGSL's
// builtins: WGSL lets cos be off by 2⁻¹¹ and log by 2⁻²¹ absolute (SwiftShader, a
// browser's software adapter, uses much of that), while additions and products are
// exact to rounding everywhere; cpu::latent computes the same polynomials in the same
// order, so ε agrees between backends to a few ulps on every conforming driver.
fn standard_normal(counter: u32) -> f32 {
    // (counter: batch_start·L + i, element i of a batch starting at row batch_start)
    let seed = key[0] ^ EPS_DOMAIN;
    let u1 = f32((counter_draw(seed, key[1], counter, 0u) >> 8u) + 1u) * 5.9604645e-8;
    let u2 = f32(counter_draw(seed, key[1], counter, 1u) >> 8u) * 5.9604645e-8;
    return sqrt(-2.0 * ln_unit(u1)) * -cos_turns(u2);
}

// ln(u) for u in (0, 1]: u = m·2^e with m in [√½, √2) (the exponent from the bits, so
// exact), then ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172, by its series to s¹⁵.
// Exactly 0 at u = 1, and never above it.
fn ln_unit(u: f32) -> f32 {
    let bits = bitcast<u32>(u);
    var e = i32((bits >> 23u) & 0xffu) - 127;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
    if (m > 1.41421356) {
        m = m * 0.5;
        e = e + 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    var series = 1.0 / 15.0;
    series = series * s2 + 1.0 / 13.0;
    series = series * s2 + 1.0 / 11.0;
    series = series * s2 + 1.0 / 9.0;
    series = series * s2 + 1.0 / 7.0;
    series = series * s2 + 1.0 / 5.0;
    series = series * s2 + 1.0 / 3.0;
    series = series * s2 + 1.0;
    return f32(e) * 0.693147181 + 2.0 * s * series;
}

// cos(2π·t) for t in [0, 1): folded to an angle in [0, π/2] (cos is even and
// cos(π − a) = −cos a), then its Taylor series to the θ¹⁶ term.
fn cos_turns(t: f32) -> f32 {
    var a = abs(t - round(t));
    var sign = 1.0;
    if (a > 0.25) {
        a = 0.5 - a;
        sign = -1.0;
    }
    let x = 6.28318531 * a;
    let x2 = x * x;
    var c = 1.0 / 20922789888000.0;
    c = c * -x2 + 1.0 / 87178291200.0;
    c = c * -x2 + 1.0 / 479001600.0;
    c = c * -x2 + 1.0 / 3628800.0;
    c = c * -x2 + 1.0 / 40320.0;
    c = c * -x2 + 1.0 / 720.0;
    c = c * -x2 + 1.0 / 24.0;
    c = c * -x2 + 0.5;
    c = c * -x2 + 1.0;
    return sign * c;
}

// Element i = n·L + j of the batch's codes: μ and log σ², with the heads' bias.
fn heads(i: u32) -> vec2<f32> {
    let n = i / p.latent;
    let j = i % p.latent;
    let row = n * 2u * p.latent;
    return vec2<f32>(h[row + j] + b[j], h[row + p.latent + j] + b[p.latent + j]);
}

// h (R,2L) before the bias, b (2L), key (2) -> z (R,L), mu (R,L), totals (⌈R·L/WG⌉) +=
// each workgroup's KL terms, −½·(1 + log σ² − μ² − σ²)
@compute @workgroup_size(WG)
fn reparam_kl_forward(@builtin(local_invocation_id) lid: vec3<u32>,
                      @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    let i = g * WG + lid.x;
    let len = p.rows * p.latent;
    var kl = 0.0;
    if (i < len) {
        let m = heads(i);
        let s = exp(0.5 * m.y);
        z[i] = m.x + s * standard_normal(step.batch_start * p.latent + i);
        mu[i] = m.x;
        kl = -0.5 * (1.0 + m.y - m.x * m.x - s * s);
    }
    // Every invocation reaches the barriers; a folded grid's extra workgroups add nothing.
    let sum = workgroup_sum(lid.x, kl);
    if (lid.x == 0u && g * WG < len) {
        totals[g] += sum;
    }
}

// h (R,2L), b (2L), key (2), dz (R,L) -> dh (R,2L): the gradient of the heads, from the
// decoder's dz and β·KL averaged over the R rows
@compute @workgroup_size(WG)
fn reparam_kl_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.latent) {
        return;
    }
    let m = heads(i);
    let s = exp(0.5 * m.y);
    let eps = standard_normal(step_at6.batch_start * p.latent + i);
    let g = dz[i];
    let scale = p.beta / f32(p.rows);
    let row = (i / p.latent) * 2u * p.latent;
    let j = i % p.latent;
    dh[row + j] = g + scale * m.x;
    dh[row + p.latent + j] = 0.5 * g * eps * s + 0.5 * scale * (s * s - 1.0);
}

// a (R,C) the code, dy (R,C) its gradient so far -> dz_at3 (R,C) = dy + the subgradient of
// λ·Σ|a| / R through the code's activation; totals (⌈R·C/WG⌉) += each workgroup's Σ|a|
@compute @workgroup_size(WG)
fn l1_backward(@builtin(local_invocation_id) lid: vec3<u32>,
               @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = group_index(wid, nwg);
    let i = g * WG + lid.x;
    // p.latent holds C, the code's width.
    let len = p.rows * p.latent;
    var magnitude = 0.0;
    if (i < len) {
        let v = a[i];
        let push = p.lambda / f32(p.rows) * sign(v);
        let through = select(activate_grad(p.act, v, push), push, p.act == NO_ACT);
        dz_at3[i] = dy[i] + through;
        magnitude = abs(v);
    }
    let sum = workgroup_sum(lid.x, magnitude);
    if (lid.x == 0u && g * WG < len) {
        totals_at4[g] += sum;
    }
}

// h (R,2L), b (2L), scores (R) -> scores (R) += β·KL of each row: after a summed row score
// of the BCE, each sample's negative ELBO
@compute @workgroup_size(WG)
fn kl_scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    var kl = 0.0;
    for (var j = 0u; j < p.latent; j += 1u) {
        let m = heads(r * p.latent + j);
        let s = exp(0.5 * m.y);
        kl += -0.5 * (1.0 + m.y - m.x * m.x - s * s);
    }
    scores[r] += p.beta * kl;
}
