// optim family: Adam, as torch.optim.Adam (no weight decay, no amsgrad).
// All parameters of a model live in one flat buffer, so one dispatch updates them all.

struct Params {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// Changes every step, so it comes from the per-step uniform at a dynamic offset rather
// than forcing a rewrite of this kernel's params between steps of one submission.
@group(0) @binding(5) var<uniform> step: Step;

// grad (L) -> param (L), m (L), v (L), updated in place
@compute @workgroup_size(WG)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    let g = grad[i];
    let m_new = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let v_new = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = m_new;
    v[i] = v_new;
    // The same grouping as PyTorch: lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps).
    let denom = sqrt(v_new) / sqrt(step.bias_correction2) + p.eps;
    param[i] = param[i] - (p.lr / step.bias_correction1) * m_new / denom;
}
