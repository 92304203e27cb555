// conv_io: what every rung of the conv2d ladder (shaders/conv2d/) shares, put before the
// rungs in the family's module (gpu::kernels::Part::ConvIo): the Params uniform, the
// bindings and the indexing of NCHW tensors.
//
// The family: 2-D convolution (PyTorch Conv2d, no dilation, no groups), NCHW activations,
// weight (O,C,KH,KW), with its gradients and the fused conv stages; and on the same
// kernels, with the pipeline constant TRANSPOSED, the transposed convolution (PyTorch
// ConvTranspose2d). Mirrors src/cpu/conv2d.rs, and transposed src/cpu/conv_transpose2d.rs.
//
// A transposed conv with input (N,Ci,h,w), weight (Ci,Co,KH,KW) and output (N,Co,OH',OW')
// is the adjoint of the conv2d with input C = Co channels of H×W = OH'×OW', output O = Ci
// channels of OH×OW = h×w, and the same weight memory, read as (O,C,KH,KW). The host
// passes that conv2d's sizes (ops::ConvShape::conv2d) and TRANSPOSED, and each entry
// point then runs the transposed conv's op of its name with the conv's two sides swapped,
// as candle's backprop does: the forward is conv2d's input-gradient sum plus a bias, the
// input gradient conv2d's forward sum, the weight gradient conv2d's with x and dy
// swapped. Sizes below are always the conv2d's.
//
// Params (12 x u32 = 48 bytes), shared by every entry point, mirrored by
// Conv2dParams in src/gpu/kernels/conv2d.rs (a test checks the layout):
//   n, c, h, w, o, kh, kw, stride, pad, oh, ow, act
// conv2d_backward_bias reads only n, o, oh and ow (hw = oh*ow); the fused entry points
// read n and act, and take every other size as override constants (parts/conv_staging).
//
// Bindings per entry point, in the op's order (0 is always the Params uniform):
//   conv2d_forward:           1 x, 2 w, 3 b, 4 y (and its implicit GEMM, _igemm)
//   conv2d_backward_input:    1 dy, 2 w, 3 dx
//   conv2d_backward_weight:   1 x, 2 dy, 3 dw
//   conv2d_backward_bias:     1 dy, 2 db
//   conv2d_act_forward:       1 x, 2 w, 3 b, 4 y
//   conv2d_act_pool_forward:  1 x, 2 w, 3 b, 4 y, 5 idx
//   conv2d_backward_params:   1 x, 2 dy, 3 dw, 4 db
//   conv2d_backward_act:      1 x, 2 dy, 3 w, 4 dw, 5 db, 6 dx
//   conv2d_backward_pool_act: 1 x, 2 dy, 3 w, 4 idx, 5 dw, 6 db, 7 dx
// The batch-split backward (`_split`) and its fold (`conv2d_fold_*`) bind the same as the
// backward of their name, and the partial sums after: params 5, act 7, pool_act 8.
//
// Every output element is written exactly once (gather form: no atomics, and backward
// kernels overwrite rather than accumulate). The forward and input gradient run one
// invocation per output element; the weight and bias gradients one workgroup per output
// (see below). Indices fold a second grid dimension in (flat_index, group_index).

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    stride: u32,
    pad: u32,
    oh: u32,
    ow: u32,
    act: u32,   // the fused entry points' activation (activate, parts/activations)
}

@group(0) @binding(0) var<uniform> p: Params;

// Each binding is named for its role, the op's binding of that name (a test holds every
// entry point to its op's bindings); a role at two bindings adds `_at` and the binding.
// Binding 1 is one variable for both of its roles, so that the sums below, which read
// it as x in a forward and as dy in an input gradient, are written once.
@group(0) @binding(1) var<storage, read> x_or_dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db_at2: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> w_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx_at3: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw_at3: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> idx_at4: array<u32>;
@group(0) @binding(4) var<storage, read_write> db_at4: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw_at4: array<f32>;
@group(0) @binding(5) var<storage, read_write> idx_at5: array<u32>;
@group(0) @binding(5) var<storage, read_write> db_at5: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw_at5: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx_at6: array<f32>;
@group(0) @binding(6) var<storage, read_write> db_at6: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx_at7: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials_at5: array<f32>;
@group(0) @binding(7) var<storage, read_write> partials_at7: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials_at8: array<f32>;

// An element of an NCHW tensor: image, channel, row, column.
struct At {
    n: u32,
    ch: u32,
    y: u32,
    x: u32,
}

// Element i of a tensor of `channels` planes of h × w.
fn at(i: u32, channels: u32, h: u32, w: u32) -> At {
    return At(i / (w * h * channels), (i / (w * h)) % channels, (i / w) % h, i % w);
}

// The conv2d's input side (x, or a transposed conv's dy) and output side (dy, or a
// transposed conv's x): the two operands of a weight gradient, by geometry.
fn input_side(i: u32) -> f32 {
    if (TRANSPOSED) {
        return dy[i];
    }
    return x_or_dy[i];
}

fn output_side(i: u32) -> f32 {
    if (TRANSPOSED) {
        return x_or_dy[i];
    }
    return dy[i];
}
