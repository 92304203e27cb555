// The matmul ladder, rung 1 of 5: naive.
// Idea: one invocation per element of C, reading a row of op(A) and a column of op(B) from global memory.
// From the rung before: none; this is the readable kernel every other rung is checked against.
// Why faster: it is not: each input element is read M or N times from global memory, so any
//   GPU waits on memory. It is the baseline the other rungs are measured against.
// Bench rows: variant `naive` of matmul, matmul_bias_act, matmul_act_backward, matmul_bias_backward.

// The dot product of row `row` of op(A) and column `col` of op(B), in order of k.
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
