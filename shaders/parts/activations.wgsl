// activations: ReLU, Sigmoid, Tanh and the identity (a linear output) with their gradients,
// written once for the elementwise kernels and for every fused kernel that applies one
// (gpu::kernels::Part::Activations). Their codes, the constants ACT_RELU, ACT_SIGMOID,
// ACT_TANH and ACT_IDENTITY, are
// generated from ops::Activation, the one table of them, when a module is put together.
//
// Gradients take the activation's output y, which the forward kept: y > 0 exactly where
// x > 0 for ReLU, σ'(x) = y·(1−y) and tanh'(x) = 1 − y².
//
// Metal compiles with fast math, which promises nothing for NaNs and infinities: max() may
// drop a NaN, exp() of a large argument may not be +inf, 1/(1+inf) need not be 0. So a NaN
// is found by its bits and passed on (as PyTorch's activations pass it on), and no argument
// of exp or tanh is infinite or large enough to overflow.

fn relu(x: f32) -> f32 {
    return select(max(x, 0.0), x, is_nan(x));
}

fn sigmoid(x: f32) -> f32 {
    // exp never sees more than 80, so never overflows. Below -80, σ(x) = e^x/(1 + e^x) is
    // e^x to within a relative 1e-34, down to where it rounds to 0 (-104); above 88 it
    // has rounded to 1.
    let z = clamp(x, -104.0, 88.0);
    let s = select(1.0 / (1.0 + exp(-max(z, -80.0))), exp(z), z < -80.0);
    return select(s, x, is_nan(x));
}

// (tanh itself is WGSL's built-in.) Beyond ±10 it is ±1 in f32, and Metal's fast tanh
// gives NaN for large arguments.
fn tanh_act(x: f32) -> f32 {
    return select(tanh(clamp(x, -10.0, 10.0)), x, is_nan(x));
}

fn relu_grad(y: f32, dy: f32) -> f32 {
    return select(0.0, dy, y > 0.0);
}

fn sigmoid_grad(y: f32, dy: f32) -> f32 {
    return dy * y * (1.0 - y);
}

fn tanh_grad(y: f32, dy: f32) -> f32 {
    return dy * (1.0 - y * y);
}

// The activation of code `act` (a params field: one pipeline serves every activation,
// and the branch is uniform). A code no activation has gives NaN, never another
// activation's value, so that it shows in the loss at once.
fn activate(act: u32, x: f32) -> f32 {
    switch act {
        case ACT_RELU: {
            return relu(x);
        }
        case ACT_SIGMOID: {
            return sigmoid(x);
        }
        case ACT_TANH: {
            return tanh_act(x);
        }
        case ACT_IDENTITY: {
            return x;
        }
        default: {
            return nan();
        }
    }
}

fn activate_grad(act: u32, y: f32, dy: f32) -> f32 {
    switch act {
        case ACT_RELU: {
            return relu_grad(y, dy);
        }
        case ACT_SIGMOID: {
            return sigmoid_grad(y, dy);
        }
        case ACT_TANH: {
            return tanh_grad(y, dy);
        }
        case ACT_IDENTITY: {
            return dy;
        }
        default: {
            return nan();
        }
    }
}
