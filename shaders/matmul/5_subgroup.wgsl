// The matmul ladder, rung 5 of 5: subgroup broadcasts.
// Idea: a 32×4 strip of C per invocation, the 32 rows of op(A) passed between lanes by subgroupBroadcast instead of workgroup memory.
// From the rung before: no workgroup memory and no barriers; 8 vec4 loads per 512 multiply-adds.
// Why faster: on a CPU adapter (lavapipe) a load costs dozens of FMAs and a broadcast is a
//   register move; on a GPU the broadcasts stand in for workgroup memory. Needs subgroups.
// Bench rows: variant `subgroup` of the four matmul entry points.

// This rung uses subgroup operations. A module is validated whole, so the host builds the
// family's module without this file for a device that lacks them (Shader::Matmul), and
// with it (Shader::MatmulSubgroup) for one that has them.
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
