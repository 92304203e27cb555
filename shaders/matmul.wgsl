// matmul family: C = op(A) · op(B), where op transposes when the flag is set.
// The three products that a Linear layer needs are all this one kernel:
//   forward          y  = x · Wᵀ   (trans_b)
//   backward_input   dx = dy · W
//   backward_weight  dW = dyᵀ · x  (trans_a)
// Logical shapes: op(A) (M,K), op(B) (K,N), C (M,N). A is stored (K,M) when trans_a,
// B is stored (N,K) when trans_b. Everything is row-major f32.
//
// Each product exists with three epilogues fused into its store, so that a Linear layer
// needs no elementwise dispatch of its own:
//   matmul_bias_act       c = act(op(A)·op(B) + bias)     the forward with its activation
//   matmul_act_backward   c = (op(A)·op(B)) ⊙ act'(y)    dx through the activation below
//   matmul_bias_backward  c = op(A)·op(B), db = Σ_k op(A)  dW = dyᵀ·x with db = Σ dy
//
// Variants, named <op>_<variant>:
//   naive  one invocation per element of C: the readable reference
//   tiled  64×64 tiles, 4×4 per invocation (the first design, kept for comparison)
//   sgemm  register-blocked: 8×8 outputs per invocation, vec4 loads, double-buffered
//   thin   small tiles with K split across the workgroup, for products with M or N ≤ 256
// sgemm takes the transposes as override constants, so that no load branches on a flag;
// the others read them from Params (a uniform branch, next to their checked loads).

struct Params {
    m: u32,
    k: u32,
    n: u32,
    trans_a: u32,
    trans_b: u32,
    act: u32,   // the fused epilogues' activation (activate, common.wgsl)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings): a role at two bindings adds `_at` and the binding,
// one variable for two roles joins them with `_or_`, and a view of a binding four floats
// at a time (sgemm's loads of A and B) adds `_vec4`.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> a_vec4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> b_vec4: array<vec4<f32>>;
// matmul and matmul_bias_backward: c at 3 (and db at 4); the other two epilogues bind
// their extra input at 3 (bias (N), or the activation's output y (M,N)) and c at 4.
@group(0) @binding(3) var<storage, read_write> c_at3: array<f32>;
@group(0) @binding(3) var<storage, read> bias_or_y: array<f32>;
@group(0) @binding(4) var<storage, read_write> c_at4: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;

// Whether A and B are stored transposed, for sgemm (mirrors Params' flags).
override TRANS_A: bool = false;
override TRANS_B: bool = false;

// Element (row, col) of op(A); zero outside the matrix so that edge tiles need no branches later.
fn load_a(row: u32, col: u32) -> f32 {
    if (row >= p.m || col >= p.k) {
        return 0.0;
    }
    if (p.trans_a != 0u) {
        return a[col * p.m + row];
    }
    return a[row * p.k + col];
}

// Element (row, col) of op(B).
fn load_b(row: u32, col: u32) -> f32 {
    if (row >= p.k || col >= p.n) {
        return 0.0;
    }
    if (p.trans_b != 0u) {
        return b[col * p.k + row];
    }
    return b[row * p.n + col];
}

// The fused epilogues' value of element (row, col) from its sum: the forward adds the
// bias and activates; the backward scales by the activation's gradient at its output.
fn fused_value(row: u32, col: u32, sum: f32, backward: bool) -> f32 {
    if (backward) {
        return activate_grad(p.act, bias_or_y[row * p.n + col], sum);
    }
    return activate(p.act, sum + bias_or_y[col]);
}

// ---------------------------------------------------------------------------------------
// naive

fn naive_dot(row: u32, col: u32) -> f32 {
    var acc = 0.0;
    for (var kk = 0u; kk < p.k; kk++) {
        acc += load_a(row, kk) * load_b(kk, col);
    }
    return acc;
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); one invocation per element of C.
@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    if (row >= p.m || col >= p.n) {
        return;
    }
    c_at3[row * p.n + col] = naive_dot(row, col);
}

// a (M,K) or (K,M), b (K,N) or (N,K), bias (N) -> c (M,N)
@compute @workgroup_size(16, 16)
fn matmul_bias_act_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    if (row >= p.m || col >= p.n) {
        return;
    }
    c_at4[row * p.n + col] = fused_value(row, col, naive_dot(row, col), false);
}

// a (M,K) or (K,M), b (K,N) or (N,K), y (M,N) -> c (M,N)
@compute @workgroup_size(16, 16)
fn matmul_act_backward_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    if (row >= p.m || col >= p.n) {
        return;
    }
    c_at4[row * p.n + col] = fused_value(row, col, naive_dot(row, col), true);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N), db (M)
@compute @workgroup_size(16, 16)
fn matmul_bias_backward_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    if (row >= p.m || col >= p.n) {
        return;
    }
    c_at3[row * p.n + col] = naive_dot(row, col);
    if (col == 0u) {
        var sum = 0.0;
        for (var kk = 0u; kk < p.k; kk++) {
            sum += load_a(row, kk);
        }
        db[row] = sum;
    }
}

// ---------------------------------------------------------------------------------------
// tiled: a 16×16 workgroup computes a 64×64 block of C, each invocation a 4×4 register
// block, staging 64×16 slices of A and 16×64 slices of B in workgroup memory. Every
// element of A and B is then read from global memory 64 times less often.
const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREAD_M: u32 = 4u;
const THREAD_N: u32 = 4u;

// Stored k-major so that the inner loop reads contiguous rows of both tiles.
var<workgroup> tile_a: array<f32, 1024>; // [TILE_K][TILE_M]
var<workgroup> tile_b: array<f32, 1024>; // [TILE_K][TILE_N]

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); 64×64 output tile per workgroup.
@compute @workgroup_size(16, 16)
fn matmul_tiled(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let tid = lid.y * 16u + lid.x;
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;

    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }

    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        // 256 invocations load the 1024 elements of each tile, 4 each.
        for (var i = 0u; i < 4u; i++) {
            let e = tid + i * 256u;
            let ar = e / TILE_K;
            let ak = e % TILE_K;
            tile_a[ak * TILE_M + ar] = load_a(row0 + ar, k0 + ak);
            let bk = e / TILE_N;
            let bc = e % TILE_N;
            tile_b[bk * TILE_N + bc] = load_b(k0 + bk, col0 + bc);
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < THREAD_M; i++) {
                av[i] = tile_a[kk * TILE_M + lid.y * THREAD_M + i];
            }
            for (var j = 0u; j < THREAD_N; j++) {
                bv[j] = tile_b[kk * TILE_N + lid.x * THREAD_N + j];
            }
            for (var i = 0u; i < THREAD_M; i++) {
                for (var j = 0u; j < THREAD_N; j++) {
                    acc[i * THREAD_N + j] += av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < THREAD_M; i++) {
        let row = row0 + lid.y * THREAD_M + i;
        for (var j = 0u; j < THREAD_N; j++) {
            let col = col0 + lid.x * THREAD_N + j;
            if (row < p.m && col < p.n) {
                c_at3[row * p.n + col] = acc[i * THREAD_N + j];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// thin: products with M or N ≤ 256, such as a Linear layer's at batch 128, have too few
// 128×128 or even 64×64 blocks to occupy a GPU of a hundred or more multiprocessors. Here
// a workgroup of 256 computes a T×T block (T = 4, 8, 16 or 32: many workgroups) and
// splits K among its invocations instead: each invocation computes an R×R register block
// (R = THIN_R, 2 or 4), so a slice of K takes (T/R)² invocations and there are
// 256·R²/T² slices; the slices' partial blocks are then added in workgroup memory. Per
// step the workgroup stages T×BK of op(A) and BK×T of op(B), BK = 1024/T, each operand
// read along its contiguous dimension by consecutive invocations, whatever the
// transposes. The 4×4 register block reads workgroup memory once per 2 multiply-adds,
// the 2×2 once per one, at a quarter of the slices. Loads are scalar and checked, so
// every shape works, and the transposes are read from Params: one pipeline per block
// size serves every layer's three products.
override THIN_T: u32 = 16u;
override THIN_R: u32 = 2u;
override THIN_BK: u32 = 1024u / THIN_T;
override THIN_SLICES: u32 = 256u * THIN_R * THIN_R / (THIN_T * THIN_T);
// Invocations of one slice along each side of the block, and rows of the block each pass
// of the reduction adds (one row of every register block).
override THIN_SIDE: u32 = THIN_T / THIN_R;
override THIN_PASS: u32 = THIN_SIDE * THIN_T;
// Rows padded by one float: the transposing stores and the per-k reads both spread over
// the banks.
override THIN_STRIDE: u32 = THIN_BK + 1u;
override THIN_STAGE: u32 = THIN_T * THIN_STRIDE;
const THIN_THREADS: u32 = 256u;

var<workgroup> thin_a: array<f32, THIN_STAGE>; // op(A) rows, k contiguous; then a pass's slice sums
var<workgroup> thin_b: array<f32, THIN_STAGE>; // op(B) columns, k contiguous; then the row sums

// Where element e of the T×BK tile of op(A) sits in thin_a; consecutive e run along A's
// contiguous dimension.
fn thin_slot_a(e: u32) -> vec2<u32> {
    if (p.trans_a != 0u) {
        return vec2<u32>(e % THIN_T, e / THIN_T);
    }
    return vec2<u32>(e / THIN_BK, e % THIN_BK);
}

fn thin_fetch_a(e: u32, row0: u32, k0: u32) -> f32 {
    let at = thin_slot_a(e);
    let row = row0 + at.x;
    let k = k0 + at.y;
    if (row >= p.m || k >= p.k) {
        return 0.0;
    }
    if (p.trans_a != 0u) {
        return a[k * p.m + row];
    }
    return a[row * p.k + k];
}

// (column, k) of element e of the BK×T tile of op(B).
fn thin_slot_b(e: u32) -> vec2<u32> {
    if (p.trans_b != 0u) {
        return vec2<u32>(e / THIN_BK, e % THIN_BK);
    }
    return vec2<u32>(e % THIN_T, e / THIN_T);
}

fn thin_fetch_b(e: u32, col0: u32, k0: u32) -> f32 {
    let at = thin_slot_b(e);
    let col = col0 + at.x;
    let k = k0 + at.y;
    if (col >= p.n || k >= p.k) {
        return 0.0;
    }
    if (p.trans_b != 0u) {
        return b[col * p.k + k];
    }
    return b[k * p.n + col];
}

// An invocation's place: its slice of K, and its register block's row and column among
// the slice's (T/R)² blocks.
fn thin_place(lid: u32) -> vec3<u32> {
    let per_slice = THIN_SIDE * THIN_SIDE;
    let at = lid % per_slice;
    return vec3<u32>(lid / per_slice, at / THIN_SIDE, at % THIN_SIDE);
}

// The invocation's R×R register block of its slice's partial product, into acc
// ([i·R + j]: row i, column j of the block). With `row_sums`, also the block's rows of
// op(A) summed over K, left in thin_b for thin_row_sum.
fn thin_product(lid: u32, row0: u32, col0: u32, row_sums: bool, acc: ptr<function, array<f32, 16>>) {
    let place = thin_place(lid);
    let s = place.x;
    let ty = place.y;
    let tx = place.z;
    for (var i = 0u; i < 16u; i++) {
        (*acc)[i] = 0.0;
    }
    var rs = 0.0;
    var ra: array<f32, 4>;
    var rb: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
        ra[i] = thin_fetch_a(lid + i * THIN_THREADS, row0, 0u);
        rb[i] = thin_fetch_b(lid + i * THIN_THREADS, col0, 0u);
    }
    let tiles = (p.k + THIN_BK - 1u) / THIN_BK;
    for (var t = 0u; t < tiles; t++) {
        for (var i = 0u; i < 4u; i++) {
            let at = thin_slot_a(lid + i * THIN_THREADS);
            thin_a[at.x * THIN_STRIDE + at.y] = ra[i];
            let bt = thin_slot_b(lid + i * THIN_THREADS);
            thin_b[bt.x * THIN_STRIDE + bt.y] = rb[i];
        }
        workgroupBarrier();
        // Fetch the next tile now, so that its latency overlaps the products below.
        if (t + 1u < tiles) {
            for (var i = 0u; i < 4u; i++) {
                ra[i] = thin_fetch_a(lid + i * THIN_THREADS, row0, (t + 1u) * THIN_BK);
                rb[i] = thin_fetch_b(lid + i * THIN_THREADS, col0, (t + 1u) * THIN_BK);
            }
        }
        // The slices interleave over k, so that a warp holding two slices reads distinct banks.
        for (var j = 0u; j < THIN_BK / THIN_SLICES; j++) {
            let kk = j * THIN_SLICES + s;
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < THIN_R; i++) {
                av[i] = thin_a[(ty * THIN_R + i) * THIN_STRIDE + kk];
                bv[i] = thin_b[(tx * THIN_R + i) * THIN_STRIDE + kk];
            }
            for (var i = 0u; i < THIN_R; i++) {
                for (var c = 0u; c < THIN_R; c++) {
                    (*acc)[i * THIN_R + c] += av[i] * bv[c];
                }
            }
        }
        if (row_sums) {
            // Row lid % T, every (256/T)-th k of the tile: BK·T/256 = 4 each.
            for (var i = 0u; i < 4u; i++) {
                rs += thin_a[(lid % THIN_T) * THIN_STRIDE + lid / THIN_T + i * (THIN_THREADS / THIN_T)];
            }
        }
        workgroupBarrier();
    }
    if (row_sums) {
        thin_b[lid] = rs;
    }
}

// Pass r of the reduction: every invocation writes row r of its register block into
// thin_a, in its slice's T/R × T part, then the workgroup waits. Element e of the pass
// (thin_pass_sum) is then row (e / T)·R + r, column e % T of the block. R passes keep the
// slices' partials within thin_a: 256·R floats a pass, against 1024·R/2 at once.
fn thin_stage_pass(lid: u32, r: u32, acc: ptr<function, array<f32, 16>>) {
    let place = thin_place(lid);
    let base = place.x * THIN_PASS + place.y * THIN_T + place.z * THIN_R;
    for (var c = 0u; c < THIN_R; c++) {
        thin_a[base + c] = (*acc)[r * THIN_R + c];
    }
    workgroupBarrier();
}

// Element e of the pass: its slices' partial sums added, in slice order.
fn thin_pass_sum(e: u32) -> f32 {
    var v = 0.0;
    for (var s = 0u; s < THIN_SLICES; s++) {
        v += thin_a[s * THIN_PASS + e];
    }
    return v;
}

// (row, column) in C of element e of pass r of the workgroup's block.
fn thin_pass_at(wid: vec3<u32>, r: u32, e: u32) -> vec2<u32> {
    return vec2<u32>(wid.y * THIN_T + (e / THIN_T) * THIN_R + r, wid.x * THIN_T + e % THIN_T);
}

// Row r of the block of op(A), summed over K.
fn thin_row_sum(r: u32) -> f32 {
    var v = 0.0;
    for (var i = r; i < THIN_THREADS; i += THIN_T) {
        v += thin_b[i];
    }
    return v;
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); a T×T block per workgroup, K split
@compute @workgroup_size(256)
fn matmul_thin(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<f32, 16>;
    thin_product(lid.x, wid.y * THIN_T, wid.x * THIN_T, false, &acc);
    for (var r = 0u; r < THIN_R; r++) {
        thin_stage_pass(lid.x, r, &acc);
        for (var e = lid.x; e < THIN_PASS; e += THIN_THREADS) {
            let at = thin_pass_at(wid, r, e);
            if (at.x < p.m && at.y < p.n) {
                c_at3[at.x * p.n + at.y] = thin_pass_sum(e);
            }
        }
        workgroupBarrier();
    }
}

fn thin_store_fused(lid: u32, wid: vec3<u32>, acc: ptr<function, array<f32, 16>>, backward: bool) {
    for (var r = 0u; r < THIN_R; r++) {
        thin_stage_pass(lid, r, acc);
        for (var e = lid; e < THIN_PASS; e += THIN_THREADS) {
            let at = thin_pass_at(wid, r, e);
            if (at.x < p.m && at.y < p.n) {
                c_at4[at.x * p.n + at.y] = fused_value(at.x, at.y, thin_pass_sum(e), backward);
            }
        }
        workgroupBarrier();
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K), bias (N) -> c (M,N); a T×T block per workgroup, K split
@compute @workgroup_size(256)
fn matmul_bias_act_thin(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<f32, 16>;
    thin_product(lid.x, wid.y * THIN_T, wid.x * THIN_T, false, &acc);
    thin_store_fused(lid.x, wid, &acc, false);
}

// a (M,K) or (K,M), b (K,N) or (N,K), y (M,N) -> c (M,N); a T×T block per workgroup, K split
@compute @workgroup_size(256)
fn matmul_act_backward_thin(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<f32, 16>;
    thin_product(lid.x, wid.y * THIN_T, wid.x * THIN_T, false, &acc);
    thin_store_fused(lid.x, wid, &acc, true);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N), db (M); a T×T block per workgroup, K split
@compute @workgroup_size(256)
fn matmul_bias_backward_thin(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc: array<f32, 16>;
    // The first column of workgroups also sums its rows of op(A), from the staged tiles;
    // thin_stage_pass's barrier publishes them.
    thin_product(lid.x, wid.y * THIN_T, wid.x * THIN_T, wid.x == 0u, &acc);
    for (var r = 0u; r < THIN_R; r++) {
        thin_stage_pass(lid.x, r, &acc);
        for (var e = lid.x; e < THIN_PASS; e += THIN_THREADS) {
            let at = thin_pass_at(wid, r, e);
            if (at.x < p.m && at.y < p.n) {
                c_at3[at.x * p.n + at.y] = thin_pass_sum(e);
            }
        }
        workgroupBarrier();
    }
    let row = wid.y * THIN_T + lid.x;
    if (wid.x == 0u && lid.x < THIN_T && row < p.m) {
        db[row] = thin_row_sum(lid.x);
    }
}

// ---------------------------------------------------------------------------------------
// SUBGROUPS: everything from this line on uses subgroup operations. A module is
// validated whole, so the host builds the family's module without this part for a
// device that lacks them (Shader::Matmul), and with it (Shader::MatmulSubgroup) for one
// that has them.
//
// subgroup: a workgroup of 64 invocations computes a 32 × 256 block of C, each invocation
// a 32-row × 4-column strip (32 vec4 accumulators). At each step of 4 along K, every
// invocation needs the same 32 rows of op(A) (32 vec4): lanes 0–7 of each subgroup load
// four of them each, and subgroupBroadcast passes them round. Which invocations share a
// subgroup does not matter: every subgroup needs all 32 rows and shares them by
// subgroup_invocation_id, so the host needs only that subgroups have 8 to 64 lanes (a
// whole number of them in 64). Each invocation loads its own 4 columns of op(B) for each
// k.
//
// Why: on a CPU adapter each load is a loop over the SIMD lanes that costs as much as
// dozens of multiply-adds, while a broadcast from a constant lane is a register move;
// here an invocation loads 8 vec4 for 512 multiply-adds (64 each), where sgemm loads 4
// for 64 (16 each). On a GPU the broadcasts stand in for workgroup memory and its
// barriers.
const SB_ROWS: u32 = 32u;
const SB_THREADS: u32 = 64u;
const SB_COLS: u32 = 4u * SB_THREADS;

// Share i (0..4) of lane l (0..8): vec4 8·i + l of the step at k0. With A (M,K) that is
// row 8·i + l of the block, k0..k0+3; with A stored (K,M), rows 4·l..4·l+3 at k0 + i.
// Outside the matrix it is zero, read at element 0 and discarded by a select rather than
// skipped by a branch: on a CPU adapter a branch around a load costs more than the load.
fn sb_fetch_a(i: u32, lane: u32, row0: u32, k0: u32) -> vec4<f32> {
    if (TRANS_A) {
        let k = k0 + i;
        let m = row0 + 4u * lane;
        let inside = k < p.k && m < p.m;
        return select(vec4<f32>(0.0), a_vec4[select(0u, (k * p.m + m) / 4u, inside)], inside);
    }
    // K is a multiple of 4 here (the host checks), so a step never ends inside a vec4.
    let m = row0 + 8u * i + lane;
    let inside = m < p.m;
    return select(vec4<f32>(0.0), a_vec4[select(0u, (m * p.k + k0) / 4u, inside)], inside);
}

// Rows k0..k0+3 of op(B) at the invocation's 4 columns from `col`: bk[j] is row k0 + j.
fn sb_fetch_b(col: u32, k0: u32) -> array<vec4<f32>, 4> {
    var bk: array<vec4<f32>, 4>;
    if (TRANS_B) {
        // B (N,K): a vec4 along K per column (K a multiple of 4), transposed in registers.
        var cols: array<vec4<f32>, 4>;
        for (var j = 0u; j < 4u; j++) {
            let inside = col + j < p.n;
            let at = select(0u, ((col + j) * p.k + k0) / 4u, inside);
            cols[j] = select(vec4<f32>(0.0), b_vec4[at], inside);
        }
        for (var j = 0u; j < 4u; j++) {
            bk[j] = vec4<f32>(cols[0][j], cols[1][j], cols[2][j], cols[3][j]);
        }
        return bk;
    }
    for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        let inside = k < p.k && col < p.n;
        bk[j] = select(vec4<f32>(0.0), b_vec4[select(0u, (k * p.n + col) / 4u, inside)], inside);
    }
    return bk;
}

// Share `share` as each of lanes 0–7 holds it, in every invocation: a broadcast from a
// constant lane, which on a CPU adapter is a register move.
fn sb_lanes(share: vec4<f32>) -> array<vec4<f32>, 8> {
    return array<vec4<f32>, 8>(
        subgroupBroadcast(share, 0u),
        subgroupBroadcast(share, 1u),
        subgroupBroadcast(share, 2u),
        subgroupBroadcast(share, 3u),
        subgroupBroadcast(share, 4u),
        subgroupBroadcast(share, 5u),
        subgroupBroadcast(share, 6u),
        subgroupBroadcast(share, 7u),
    );
}

// One step of 4 along K: every row of the block from the lanes' shares, times the
// invocation's 4 columns.
fn sb_step(acc: ptr<function, array<vec4<f32>, 32>>, shares: array<vec4<f32>, 4>, bk: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let x = sb_lanes(shares[i]);
        for (var l = 0u; l < 8u; l++) {
            if (TRANS_A) {
                // Lane l holds rows 4l..4l+3 at k0 + i.
                for (var j = 0u; j < 4u; j++) {
                    (*acc)[4u * l + j] += x[l][j] * bk[i];
                }
            } else {
                // Row 8i + l is lane l's share i, along K.
                (*acc)[8u * i + l] += x[l].x * bk[0] + x[l].y * bk[1] + x[l].z * bk[2] + x[l].w * bk[3];
            }
        }
    }
}

// The invocation's strip of the block at (row0, col0) into acc. With `row_sums`, it
// returns its shares summed over K, from which sb_row_sum gives any row's sum.
fn sb_product(lid: u32, lane: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 32>>, row_sums: bool) -> array<vec4<f32>, 4> {
    let col = col0 + 4u * lid;
    var sums: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        var shares: array<vec4<f32>, 4>;
        if (lane < 8u) {
            for (var i = 0u; i < 4u; i++) {
                shares[i] = sb_fetch_a(i, lane, row0, k0);
            }
        }
        sb_step(acc, shares, sb_fetch_b(col, k0));
        if (row_sums) {
            for (var i = 0u; i < 4u; i++) {
                sums[i] += shares[i];
            }
        }
    }
    return sums;
}

// Row r (0..32) of the block of op(A) summed over K, from every lane's share sums. The
// lane read may differ between invocations (r does), which subgroupShuffle allows.
fn sb_row_sum(sums: array<vec4<f32>, 4>, r: u32) -> f32 {
    if (TRANS_A) {
        // Rows 4q..4q+3 are at lane q, one share per k of the step.
        var v = vec4<f32>(0.0);
        for (var i = 0u; i < 4u; i++) {
            v += subgroupShuffle(sums[i], r / 4u);
        }
        return v[r % 4u];
    }
    var v = 0.0;
    for (var i = 0u; i < 4u; i++) {
        let x = subgroupShuffle(sums[i], r % 8u);
        if (r / 8u == i) {
            v = x.x + x.y + x.z + x.w;
        }
    }
    return v;
}

// Stores the invocation's strip into c_at3.
fn sb_store(lid: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 32>>) {
    let col = col0 + 4u * lid;
    for (var r = 0u; r < SB_ROWS; r++) {
        for (var j = 0u; j < 4u; j++) {
            if (row0 + r < p.m && col + j < p.n) {
                c_at3[(row0 + r) * p.n + col + j] = (*acc)[r][j];
            }
        }
    }
}

// Stores the invocation's strip into c_at4 through the forward's or the backward's
// epilogue (a separate function from sb_store: an entry point may bind c_at3 or c_at4).
fn sb_store_fused(lid: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 32>>, backward: bool) {
    let col = col0 + 4u * lid;
    for (var r = 0u; r < SB_ROWS; r++) {
        for (var j = 0u; j < 4u; j++) {
            if (row0 + r < p.m && col + j < p.n) {
                c_at4[(row0 + r) * p.n + col + j] = fused_value(row0 + r, col + j, (*acc)[r][j], backward);
            }
        }
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); a 32×4 strip per invocation
@compute @workgroup_size(SB_THREADS)
fn matmul_subgroup(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    var acc: array<vec4<f32>, 32>;
    sb_product(lid, lane, wid.y * SB_ROWS, wid.x * SB_COLS, &acc, false);
    sb_store(lid, wid.y * SB_ROWS, wid.x * SB_COLS, &acc);
}

// a (M,K) or (K,M), b (K,N) or (N,K), bias (N) -> c (M,N); a 32×4 strip per invocation
@compute @workgroup_size(SB_THREADS)
fn matmul_bias_act_subgroup(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    var acc: array<vec4<f32>, 32>;
    sb_product(lid, lane, wid.y * SB_ROWS, wid.x * SB_COLS, &acc, false);
    sb_store_fused(lid, wid.y * SB_ROWS, wid.x * SB_COLS, &acc, false);
}

// a (M,K) or (K,M), b (K,N) or (N,K), y (M,N) -> c (M,N); a 32×4 strip per invocation
@compute @workgroup_size(SB_THREADS)
fn matmul_act_backward_subgroup(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    var acc: array<vec4<f32>, 32>;
    sb_product(lid, lane, wid.y * SB_ROWS, wid.x * SB_COLS, &acc, false);
    sb_store_fused(lid, wid.y * SB_ROWS, wid.x * SB_COLS, &acc, true);
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N), db (M); a 32×4 strip per invocation
@compute @workgroup_size(SB_THREADS)
fn matmul_bias_backward_subgroup(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row0 = wid.y * SB_ROWS;
    var acc: array<vec4<f32>, 32>;
    // The first column of workgroups also sums its rows of op(A), from the shares.
    let first = wid.x == 0u;
    let sums = sb_product(lid, lane, row0, wid.x * SB_COLS, &acc, first);
    sb_store(lid, row0, wid.x * SB_COLS, &acc);
    if (first) {
        // Every invocation can read every row's sum; the first 32 write one each.
        let r = lid % SB_ROWS;
        let sum = sb_row_sum(sums, r);
        if (lid < SB_ROWS && row0 + r < p.m) {
            db[row0 + r] = sum;
        }
    }
}
