// The matmul ladder, rung 3 of 5: register blocked (sgemm).
// Idea: 8×8 outputs per invocation from vec4 loads, double-buffered, so a k-step of 8 costs one barrier and 512 FMAs hide each load.
// From the rung before: larger register blocks (8×8, not 4×4), vec4 global and workgroup loads,
//   two staging buffers, transposes as pipeline constants and unchecked interior tiles.
// Why faster: on discrete GPUs (NVIDIA, AMD, Apple) the FMA units, not memory, become the limit:
//   each value read from workgroup memory feeds 8 FMAs (rung 2: 4), read four at a time.
// Bench rows: variants `sgemm128x128`, `sgemm128x64`, `sgemm64x64` of the four matmul entry points.

// sgemm: the register-blocked kernel, in the style of CUTLASS's SIMT SGEMM.
//
// SG_TX × SG_TY invocations compute a (8·SG_TY) × (8·SG_TX) block of C, 8×8 each
// (128×128 with 16×16 invocations; 128×64 and 64×64 for smaller products). Per k-tile of
// 8, the workgroup stages an 8×BM slice of op(A) and an 8×BN slice of op(B), k-major, in
// workgroup memory; each invocation then reads two vec4 of each per k and does 64 FMAs.
//
// - Each invocation's 8 rows are two groups of 4, BM/2 apart (its 8 columns likewise), so
//   that the vec4 reads of a warp fall on distinct banks or broadcast.
// - Global loads are vec4 along each operand's contiguous dimension, whatever the
//   transposes (TRANS_A/TRANS_B are constants): a k-contiguous operand is transposed on
//   its way into workgroup memory. This needs that dimension to be a multiple of 4; the
//   host picks another variant where it is not.
// - Workgroup memory is double-buffered, and the next tile is fetched into registers
//   before the current one is multiplied, so global latency hides behind 512 FMAs and a
//   k-tile costs one barrier.
// - Tiles inside the matrix load and store without bounds checks; only the edge tiles
//   (and the last k-tile when K is not a multiple of 8) check.
override SG_TX: u32 = 16u;
override SG_TY: u32 = 16u;
override SG_BM: u32 = 8u * SG_TY;
override SG_BN: u32 = 8u * SG_TX;
const SG_BK: u32 = 8u;
override SG_A_VEC4S: u32 = 2u * SG_BK * SG_BM / 4u;
override SG_B_VEC4S: u32 = 2u * SG_BK * SG_BN / 4u;

var<workgroup> sg_a: array<vec4<f32>, SG_A_VEC4S>; // [buffer][k][BM / 4]
var<workgroup> sg_b: array<vec4<f32>, SG_B_VEC4S>; // [buffer][k][BN / 4]

// Vec4 `e` of the k-tile at k0 of op(A), as stored; zero outside the matrix when `checked`.
fn sg_fetch_a(e: u32, row0: u32, k0: u32, checked: bool) -> vec4<f32> {
    if (TRANS_A) {
        // A (K,M): a tile row is BM/4 vec4 along M.
        let k = k0 + e / (SG_BM / 4u);
        let m = row0 + (e % (SG_BM / 4u)) * 4u;
        if (checked && (k >= p.k || m >= p.m)) {
            return vec4<f32>(0.0);
        }
        return a_vec4[(k * p.m + m) / 4u];
    }
    // A (M,K): a tile row of op(A) is two vec4 along K.
    let m = row0 + e / 2u;
    let k = k0 + (e % 2u) * 4u;
    if (checked && (k >= p.k || m >= p.m)) {
        return vec4<f32>(0.0);
    }
    return a_vec4[(m * p.k + k) / 4u];
}

fn sg_stage_a(e: u32, buf: u32, v: vec4<f32>) {
    let stride = SG_BM / 4u;
    if (TRANS_A) {
        sg_a[(buf * SG_BK + e / stride) * stride + e % stride] = v;
        return;
    }
    let m = e / 2u;
    let at = (buf * SG_BK + (e % 2u) * 4u) * stride + m / 4u;
    sg_a[at][m % 4u] = v.x;
    sg_a[at + stride][m % 4u] = v.y;
    sg_a[at + 2u * stride][m % 4u] = v.z;
    sg_a[at + 3u * stride][m % 4u] = v.w;
}

// Vec4 `e` of the k-tile at k0 of op(B), as stored.
fn sg_fetch_b(e: u32, col0: u32, k0: u32, checked: bool) -> vec4<f32> {
    if (TRANS_B) {
        // B (N,K): two vec4 along K per column of op(B).
        let n = col0 + e / 2u;
        let k = k0 + (e % 2u) * 4u;
        if (checked && (k >= p.k || n >= p.n)) {
            return vec4<f32>(0.0);
        }
        return b_vec4[(n * p.k + k) / 4u];
    }
    let k = k0 + e / (SG_BN / 4u);
    let n = col0 + (e % (SG_BN / 4u)) * 4u;
    if (checked && (k >= p.k || n >= p.n)) {
        return vec4<f32>(0.0);
    }
    return b_vec4[(k * p.n + n) / 4u];
}

fn sg_stage_b(e: u32, buf: u32, v: vec4<f32>) {
    let stride = SG_BN / 4u;
    if (!TRANS_B) {
        sg_b[(buf * SG_BK + e / stride) * stride + e % stride] = v;
        return;
    }
    let n = e / 2u;
    let at = (buf * SG_BK + (e % 2u) * 4u) * stride + n / 4u;
    sg_b[at][n % 4u] = v.x;
    sg_b[at + stride][n % 4u] = v.y;
    sg_b[at + 2u * stride][n % 4u] = v.z;
    sg_b[at + 3u * stride][n % 4u] = v.w;
}

// The 8×8 outer product of one k: acc[2r + h] holds row r's columns of half h.
fn sg_outer(acc: ptr<function, array<vec4<f32>, 16>>, a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    (*acc)[0] += a0.x * b0;
    (*acc)[1] += a0.x * b1;
    (*acc)[2] += a0.y * b0;
    (*acc)[3] += a0.y * b1;
    (*acc)[4] += a0.z * b0;
    (*acc)[5] += a0.z * b1;
    (*acc)[6] += a0.w * b0;
    (*acc)[7] += a0.w * b1;
    (*acc)[8] += a1.x * b0;
    (*acc)[9] += a1.x * b1;
    (*acc)[10] += a1.y * b0;
    (*acc)[11] += a1.y * b1;
    (*acc)[12] += a1.z * b0;
    (*acc)[13] += a1.z * b1;
    (*acc)[14] += a1.w * b0;
    (*acc)[15] += a1.w * b1;
}

// Whether the workgroup's block of C lies wholly inside the matrix.
fn sg_interior(row0: u32, col0: u32) -> bool {
    return row0 + SG_BM <= p.m && col0 + SG_BN <= p.n;
}

// The invocation's 8×8 block of the workgroup's block at (row0, col0), into acc. With
// `row_sums`, invocations below BM also sum their row of op(A) over K, which they return.
fn sg_product(lid: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 16>>, row_sums: bool) -> f32 {
    let threads = SG_TX * SG_TY;
    let tx = lid % SG_TX;
    let ty = lid / SG_TX;
    let interior = sg_interior(row0, col0);
    let tiles = (p.k + SG_BK - 1u) / SG_BK;
    // 2·BM vec4 of A and 2·BN of B per tile: one or two per invocation.
    var ra: array<vec4<f32>, 2>;
    var rb: array<vec4<f32>, 2>;
    for (var i = 0u; i < 16u / SG_TX; i++) {
        ra[i] = sg_fetch_a(lid + i * threads, row0, 0u, !(interior && SG_BK <= p.k));
    }
    for (var i = 0u; i < 16u / SG_TY; i++) {
        rb[i] = sg_fetch_b(lid + i * threads, col0, 0u, !(interior && SG_BK <= p.k));
    }
    for (var i = 0u; i < 16u / SG_TX; i++) {
        sg_stage_a(lid + i * threads, 0u, ra[i]);
    }
    for (var i = 0u; i < 16u / SG_TY; i++) {
        sg_stage_b(lid + i * threads, 0u, rb[i]);
    }
    workgroupBarrier();

    var rs = 0.0;
    for (var t = 0u; t < tiles; t++) {
        let cur = t % 2u;
        let more = t + 1u < tiles;
        if (more) {
            let k0 = (t + 1u) * SG_BK;
            let checked = !(interior && k0 + SG_BK <= p.k);
            for (var i = 0u; i < 16u / SG_TX; i++) {
                ra[i] = sg_fetch_a(lid + i * threads, row0, k0, checked);
            }
            for (var i = 0u; i < 16u / SG_TY; i++) {
                rb[i] = sg_fetch_b(lid + i * threads, col0, k0, checked);
            }
        }
        for (var kk = 0u; kk < SG_BK; kk++) {
            let ka = (cur * SG_BK + kk) * (SG_BM / 4u);
            let kb = (cur * SG_BK + kk) * (SG_BN / 4u);
            sg_outer(acc, sg_a[ka + ty], sg_a[ka + SG_BM / 8u + ty], sg_b[kb + tx], sg_b[kb + SG_BN / 8u + tx]);
        }
        if (row_sums && lid < SG_BM) {
            for (var kk = 0u; kk < SG_BK; kk++) {
                rs += sg_a[(cur * SG_BK + kk) * (SG_BM / 4u) + lid / 4u][lid % 4u];
            }
        }
        // The other buffer was last read before the previous barrier: safe to refill.
        if (more) {
            for (var i = 0u; i < 16u / SG_TX; i++) {
                sg_stage_a(lid + i * threads, 1u - cur, ra[i]);
            }
            for (var i = 0u; i < 16u / SG_TY; i++) {
                sg_stage_b(lid + i * threads, 1u - cur, rb[i]);
            }
        }
        workgroupBarrier();
    }
    return rs;
}

// Row r (0..8) of the invocation's block, relative to the workgroup's block.
fn sg_row(ty: u32, r: u32) -> u32 {
    return select(ty * 4u + r, SG_BM / 2u + ty * 4u + r - 4u, r >= 4u);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); 8×8 outputs per invocation
@compute @workgroup_size(SG_TX * SG_TY)
fn matmul_sgemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * SG_BM;
    let col0 = wid.x * SG_BN;
    var acc: array<vec4<f32>, 16>;
    sg_product(lid.x, row0, col0, &acc, false);
    let interior = sg_interior(row0, col0);
    for (var r = 0u; r < 8u; r++) {
        let row = row0 + sg_row(lid.x / SG_TX, r);
        for (var h = 0u; h < 2u; h++) {
            let col = col0 + h * (SG_BN / 2u) + (lid.x % SG_TX) * 4u;
            let v = acc[r * 2u + h];
            for (var j = 0u; j < 4u; j++) {
                if (interior || (row < p.m && col + j < p.n)) {
                    c_at3[row * p.n + col + j] = v[j];
                }
            }
        }
    }
}

// The fused stores of sgemm's two epilogues that read an extra input.
fn sg_store_fused(lid: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 16>>, backward: bool) {
    let interior = sg_interior(row0, col0);
    for (var r = 0u; r < 8u; r++) {
        let row = row0 + sg_row(lid / SG_TX, r);
        for (var h = 0u; h < 2u; h++) {
            let col = col0 + h * (SG_BN / 2u) + (lid % SG_TX) * 4u;
            let v = (*acc)[r * 2u + h];
            for (var j = 0u; j < 4u; j++) {
                if (interior || (row < p.m && col + j < p.n)) {
                    c_at4[row * p.n + col + j] = fused_value(row, col + j, v[j], backward);
                }
            }
        }
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K), bias (N) -> c (M,N); 8×8 outputs per invocation
@compute @workgroup_size(SG_TX * SG_TY)
fn matmul_bias_act_sgemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<vec4<f32>, 16>;
    sg_product(lid.x, wid.y * SG_BM, wid.x * SG_BN, &acc, false);
    sg_store_fused(lid.x, wid.y * SG_BM, wid.x * SG_BN, &acc, false);
}

// a (M,K) or (K,M), b (K,N) or (N,K), y (M,N) -> c (M,N); 8×8 outputs per invocation
@compute @workgroup_size(SG_TX * SG_TY)
fn matmul_act_backward_sgemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<vec4<f32>, 16>;
    sg_product(lid.x, wid.y * SG_BM, wid.x * SG_BN, &acc, false);
    sg_store_fused(lid.x, wid.y * SG_BM, wid.x * SG_BN, &acc, true);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N), db (M); 8×8 outputs per invocation
@compute @workgroup_size(SG_TX * SG_TY)
fn matmul_bias_backward_sgemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * SG_BM;
    let col0 = wid.x * SG_BN;
    var acc: array<vec4<f32>, 16>;
    // The first column of workgroups also sums its rows of op(A), from the staged tiles.
    let sum = sg_product(lid.x, row0, col0, &acc, wid.x == 0u);
    let interior = sg_interior(row0, col0);
    for (var r = 0u; r < 8u; r++) {
        let row = row0 + sg_row(lid.x / SG_TX, r);
        for (var h = 0u; h < 2u; h++) {
            let col = col0 + h * (SG_BN / 2u) + (lid.x % SG_TX) * 4u;
            let v = acc[r * 2u + h];
            for (var j = 0u; j < 4u; j++) {
                if (interior || (row < p.m && col + j < p.n)) {
                    c_at3[row * p.n + col + j] = v[j];
                }
            }
        }
    }
    if (wid.x == 0u && lid.x < SG_BM && row0 + lid.x < p.m) {
        db[row0 + lid.x] = sum;
    }
}
