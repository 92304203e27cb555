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
// matmul_io: what every rung of the matmul ladder (shaders/matmul/) shares, put before
// the rungs in the family's module (gpu::kernels::Part::MatmulIo): the Params uniform, the
// bindings, the checked loads of op(A) and op(B), and the fused epilogues' values.
//
// The rungs, each a file of entry points named <op>_<variant>:
//   1_naive             one invocation per element of C: the readable reference
//   2_tiled             64×64 tiles, 4×4 per invocation (the first design, kept for comparison)
//   3_register_blocked  sgemm: 8×8 outputs per invocation, vec4 loads, double-buffered
//   4_thin_split_k      small tiles with K split across the workgroup, for M or N ≤ 256
//   5_subgroup          rows of op(A) passed by subgroup broadcasts (devices with subgroups)
// sgemm and subgroup take the transposes as override constants, so that no load branches
// on a flag; the others read them from Params (a uniform branch, next to their checked
// loads).

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
