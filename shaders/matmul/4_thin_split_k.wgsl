// The matmul ladder, rung 4 of 5: thin, K split across the workgroup.
// Idea: small T×T tiles, with the workgroup's invocations splitting K and adding their partial blocks in workgroup memory.
// From the rung before: tiles of 4 to 32 (not 64 to 128) and a split of K, for products with M or N ≤ 256.
// Why faster: a Linear layer at batch 128 has too few 128×128 tiles to fill a GPU of 100+
//   multiprocessors; many small tiles do. On a square product it is slower than rung 3.
// Bench rows: variants `thin4` … `thin32` and `thin8r4` … `thin32r4` of the four matmul entry points.

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
