// matmul family: C = op(A) · op(B), where op transposes when the flag is set.
// The three products that a Linear layer needs are all this one kernel:
//   forward          y  = x · Wᵀ   (trans_b)
//   backward_input   dx = dy · W
//   backward_weight  dW = dyᵀ · x  (trans_a)
// Logical shapes: op(A) (M,K), op(B) (K,N), C (M,N). A is stored (K,M) when trans_a,
// B is stored (N,K) when trans_b. Everything is row-major f32.

struct Params {
    m: u32,
    k: u32,
    n: u32,
    trans_a: u32,
    trans_b: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

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

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N); one invocation per element of C.
@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    if (row >= p.m || col >= p.n) {
        return;
    }
    var acc = 0.0;
    for (var kk = 0u; kk < p.k; kk++) {
        acc += load_a(row, kk) * load_b(kk, col);
    }
    c[row * p.n + col] = acc;
}

// The tiled variant: a 16×16 workgroup computes a 64×64 block of C, each invocation a 4×4
// register block, staging 64×16 slices of A and 16×64 slices of B in workgroup memory.
// Every element of A and B is then read from global memory 64 times less often.
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
                c[row * p.n + col] = acc[i * THREAD_N + j];
            }
        }
    }
}
