//! The layers the two autoencoders are made of.

use crate::model::graph::{Builder, Layer, Origin};
use crate::ops::{
    Activation, ActivationBackward, ActivationForward, BatchDim, BiasBackward, BiasForward,
    Conv2dActForward, Conv2dBackward, Conv2dBackwardBias, Conv2dBackwardInput,
    Conv2dBackwardWeight, Conv2dForward, Conv2dShape, ConvTranspose2dActForward,
    ConvTranspose2dBackward, ConvTranspose2dBackwardInput, ConvTranspose2dBackwardWeight,
    ConvTranspose2dForward, ConvTranspose2dShape, Epilogue, FusedPool, InputGrad, Matmul,
    MatmulShape, MaxPool2dBackward, MaxPool2dForward, Pool2dShape, View,
};

fn matmul(g: &mut Builder, a: View, b: View, c: View, shape: MatmulShape, batch: BatchDim) {
    g.push(Matmul::new(a, b, c, shape, batch));
}

/// y = x · Wᵀ + b, W (out, in) as `nn.Linear`.
pub struct Linear {
    name: String,
    inputs: usize,
    outputs: usize,
    saved: Option<LinearSaved>,
}

struct LinearSaved {
    x: View,
    w: View,
    dw: View,
    db: View,
}

impl Linear {
    pub fn new(name: impl Into<String>, inputs: usize, outputs: usize) -> Self {
        Linear {
            name: name.into(),
            inputs,
            outputs,
            saved: None,
        }
    }
}

impl Layer for Linear {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let (n, i, o) = (g.rows, self.inputs, self.outputs);
        let (w, dw) = g.weight(format!("{}.weight", self.name), &[o, i], i);
        let (b, db) = g.bias(format!("{}.bias", self.name), o, i);
        let z = g.buffer(format!("{}.matmul", self.name), n * o);
        let y = g.buffer(format!("{}.out", self.name), n * o);
        let shape = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(n, i, o)
        };
        matmul(g, x, w, z, shape, BatchDim::M);
        g.push(BiasForward {
            x: z,
            b,
            y,
            rows: n,
            cols: o,
        });
        self.saved = Some(LinearSaved { x, w, dw, db });
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let s = self.saved.as_ref().expect("forward before backward");
        let (n, i, o) = (g.rows, self.inputs, self.outputs);
        g.push(BiasBackward {
            dy,
            db: s.db,
            rows: n,
            cols: o,
        });
        // dW (o,i) = dyᵀ (o,n) · x (n,i)
        let dw_shape = MatmulShape {
            trans_a: true,
            ..MatmulShape::new(o, n, i)
        };
        matmul(g, dy, s.x, s.dw, dw_shape, BatchDim::K);
        need_dx.then(|| {
            // dx (n,i) = dy (n,o) · W (o,i)
            let dx = g.buffer(format!("{}.grad_in", self.name), n * i);
            matmul(g, dy, s.w, dx, MatmulShape::new(n, o, i), BatchDim::M);
            dx
        })
    }
}

/// `nn.Linear` and the activation after it, fused: one product forward (bias and
/// activation in its epilogue) and two backward (dW with db; dx carried on through the
/// activation that produced this layer's input). Its backward takes the gradient of its
/// pre-activation and returns that of the layer below, so no activation is a dispatch.
pub struct LinearAct {
    name: String,
    inputs: usize,
    outputs: usize,
    act: Activation,
    /// The activation whose output this layer's input is, if any.
    input_act: Option<Activation>,
    saved: Option<LinearSaved>,
}

impl LinearAct {
    pub fn new(
        name: impl Into<String>,
        inputs: usize,
        outputs: usize,
        act: Activation,
        input_act: Option<Activation>,
    ) -> Self {
        LinearAct {
            name: name.into(),
            inputs,
            outputs,
            act,
            input_act,
            saved: None,
        }
    }
}

impl Layer for LinearAct {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let (n, i, o) = (g.rows, self.inputs, self.outputs);
        let (w, dw) = g.weight(format!("{}.weight", self.name), &[o, i], i);
        let (b, db) = g.bias(format!("{}.bias", self.name), o, i);
        let y = g.buffer(format!("{}.out", self.name), n * o);
        let shape = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(n, i, o)
        };
        let epilogue = Epilogue::BiasAct {
            bias: b,
            act: self.act,
        };
        g.push(Matmul {
            epilogue,
            ..Matmul::new(x, w, y, shape, BatchDim::M)
        });
        self.saved = Some(LinearSaved { x, w, dw, db });
        y
    }

    /// `dz` is the gradient of this layer's pre-activation.
    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let s = self.saved.as_ref().expect("forward before backward");
        let (n, i, o) = (g.rows, self.inputs, self.outputs);
        // dW (o,i) = dzᵀ (o,n) · x (n,i), and db (o) = Σ_n dz
        let dw_shape = MatmulShape {
            trans_a: true,
            ..MatmulShape::new(o, n, i)
        };
        g.push(Matmul {
            epilogue: Epilogue::BiasBackward { db: s.db },
            ..Matmul::new(dz, s.x, s.dw, dw_shape, BatchDim::K)
        });
        need_dx.then(|| {
            // dx (n,i) = dz (n,o) · W (o,i), then through the activation below, if any
            let dx = g.buffer(format!("{}.grad_in", self.name), n * i);
            let epilogue = match self.input_act {
                Some(act) => Epilogue::ActBackward { y: s.x, act },
                None => Epilogue::None,
            };
            let shape = MatmulShape::new(n, o, i);
            g.push(Matmul {
                epilogue,
                ..Matmul::new(dz, s.w, dx, shape, BatchDim::M)
            });
            dx
        })
    }
}

pub struct Act {
    name: String,
    act: Activation,
    y: Option<View>,
}

/// The columns of a (batch, features) view: what an elementwise op sees per row.
fn cols(g: &Builder, x: View) -> usize {
    x.len / g.rows
}

impl Act {
    pub fn new(name: impl Into<String>, act: Activation) -> Self {
        Act {
            name: name.into(),
            act,
            y: None,
        }
    }
}

impl Layer for Act {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let y = g.buffer(format!("{}.out", self.name), x.len);
        g.push(ActivationForward {
            act: self.act,
            x,
            y,
            rows: g.rows,
            cols: cols(g, x),
        });
        self.y = Some(y);
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, _need_dx: bool) -> Option<View> {
        let y = self.y.expect("forward before backward");
        let dx = g.buffer(format!("{}.grad_in", self.name), y.len);
        g.push(ActivationBackward {
            act: self.act,
            y,
            dy,
            dx,
            rows: g.rows,
            cols: cols(g, y),
        });
        Some(dx)
    }
}

/// A square spatial shape (channels, height, width) carried between conv layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chw {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

/// `nn.Conv2d` with a square kernel.
pub struct Conv2d {
    name: String,
    input: Chw,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    saved: Option<(View, View, View, View)>, // x, w, dw, db
}

impl Conv2d {
    pub fn new(
        name: impl Into<String>,
        input: Chw,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> Self {
        Conv2d {
            name: name.into(),
            input,
            out_channels,
            kernel,
            stride,
            pad,
            saved: None,
        }
    }

    pub fn shape(&self, n: usize) -> Conv2dShape {
        Conv2dShape {
            n,
            c: self.input.c,
            h: self.input.h,
            w: self.input.w,
            o: self.out_channels,
            kh: self.kernel,
            kw: self.kernel,
            stride: self.stride,
            pad: self.pad,
        }
    }

    pub fn output(&self) -> Chw {
        let s = self.shape(1);
        Chw {
            c: self.out_channels,
            h: s.out_h(),
            w: s.out_w(),
        }
    }
}

impl Conv2d {
    /// Reserves the weight and bias, as PyTorch initialises them, and remembers them
    /// with the input `x` for the backward; returns (w, b).
    fn reserve(&mut self, g: &mut Builder, shape: &Conv2dShape, x: View) -> (View, View) {
        let fan_in = shape.c * shape.kh * shape.kw;
        let (w, dw) = g.weight(
            format!("{}.weight", self.name),
            &[shape.o, shape.c, shape.kh, shape.kw],
            fan_in,
        );
        let (b, db) = g.bias(format!("{}.bias", self.name), shape.o, fan_in);
        self.saved = Some((x, w, dw, db));
        (w, b)
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let (w, b) = self.reserve(g, &shape, x);
        let y = g.buffer(format!("{}.out", self.name), shape.y_len());
        g.push(Conv2dForward { x, w, b, y, shape });
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let (x, w, dw, db) = self.saved.expect("forward before backward");
        let shape = self.shape(g.rows);
        let hw = shape.out_h() * shape.out_w();
        g.push(Conv2dBackwardBias {
            dy,
            db,
            n: shape.n,
            o: shape.o,
            hw,
        });
        g.push(Conv2dBackwardWeight { x, dy, dw, shape });
        need_dx.then(|| {
            let dx = g.buffer(format!("{}.grad_in", self.name), shape.x_len());
            g.push(Conv2dBackwardInput { dy, w, dx, shape });
            dx
        })
    }
}

/// `nn.ConvTranspose2d` with a square kernel; weight (in, out, k, k).
pub struct ConvTranspose2d {
    name: String,
    input: Chw,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    out_pad: usize,
    saved: Option<(View, View, View, View)>,
}

impl ConvTranspose2d {
    pub fn new(
        name: impl Into<String>,
        input: Chw,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        out_pad: usize,
    ) -> Self {
        ConvTranspose2d {
            name: name.into(),
            input,
            out_channels,
            kernel,
            stride,
            pad,
            out_pad,
            saved: None,
        }
    }

    pub fn shape(&self, n: usize) -> ConvTranspose2dShape {
        ConvTranspose2dShape {
            n,
            c: self.input.c,
            h: self.input.h,
            w: self.input.w,
            o: self.out_channels,
            kh: self.kernel,
            kw: self.kernel,
            stride: self.stride,
            pad: self.pad,
            out_pad: self.out_pad,
        }
    }

    pub fn output(&self) -> Chw {
        let s = self.shape(1);
        Chw {
            c: self.out_channels,
            h: s.out_h(),
            w: s.out_w(),
        }
    }
}

impl ConvTranspose2d {
    /// Reserves the weight and bias and remembers them with `x`; returns (w, b).
    fn reserve(&mut self, g: &mut Builder, shape: &ConvTranspose2dShape, x: View) -> (View, View) {
        // PyTorch takes fan-in from dimension 1 of the weight, which for a transposed
        // convolution is the number of output channels.
        let fan_in = shape.o * shape.kh * shape.kw;
        let (w, dw) = g.weight(
            format!("{}.weight", self.name),
            &[shape.c, shape.o, shape.kh, shape.kw],
            fan_in,
        );
        let (b, db) = g.bias(format!("{}.bias", self.name), shape.o, fan_in);
        self.saved = Some((x, w, dw, db));
        (w, b)
    }
}

impl Layer for ConvTranspose2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let (w, b) = self.reserve(g, &shape, x);
        let y = g.buffer(format!("{}.out", self.name), shape.y_len());
        g.push(ConvTranspose2dForward { x, w, b, y, shape });
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let (x, w, dw, db) = self.saved.expect("forward before backward");
        let shape = self.shape(g.rows);
        let hw = shape.out_h() * shape.out_w();
        g.push(Conv2dBackwardBias {
            dy,
            db,
            n: shape.n,
            o: shape.o,
            hw,
        });
        g.push(ConvTranspose2dBackwardWeight { x, dy, dw, shape });
        need_dx.then(|| {
            let dx = g.buffer(format!("{}.grad_in", self.name), shape.x_len());
            g.push(ConvTranspose2dBackwardInput { dy, w, dx, shape });
            dx
        })
    }
}

/// `nn.MaxPool2d(k, stride)`; keeps the argmax indices for its backward.
pub struct MaxPool2d {
    name: String,
    input: Chw,
    kernel: usize,
    stride: usize,
    idx: Option<View>,
}

impl MaxPool2d {
    pub fn new(name: impl Into<String>, input: Chw, kernel: usize, stride: usize) -> Self {
        MaxPool2d {
            name: name.into(),
            input,
            kernel,
            stride,
            idx: None,
        }
    }

    pub fn shape(&self, n: usize) -> Pool2dShape {
        Pool2dShape {
            n,
            c: self.input.c,
            h: self.input.h,
            w: self.input.w,
            k: self.kernel,
            stride: self.stride,
        }
    }

    pub fn output(&self) -> Chw {
        let s = self.shape(1);
        Chw {
            c: self.input.c,
            h: s.out_h(),
            w: s.out_w(),
        }
    }
}

impl Layer for MaxPool2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let y = g.buffer(format!("{}.out", self.name), shape.y_len());
        let idx = g.buffer(format!("{}.argmax", self.name), shape.y_len());
        g.push(MaxPool2dForward { x, y, idx, shape });
        self.idx = Some(idx);
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, _need_dx: bool) -> Option<View> {
        let idx = self.idx.expect("forward before backward");
        let shape = self.shape(g.rows);
        let dx = g.buffer(format!("{}.grad_in", self.name), shape.x_len());
        g.push(MaxPool2dBackward { dy, idx, dx, shape });
        Some(dx)
    }
}

/// How a fused layer carries its input gradient on through what produced its input: a
/// fused `InputGrad`, or (`Plain`) none.
fn input_grad(g: &mut Builder, name: &str, origin: Origin, x_len: usize) -> Option<InputGrad> {
    match origin {
        Origin::Plain => None,
        Origin::Act(act) => Some(InputGrad::Act {
            dx: g.buffer(format!("{name}.grad_in"), x_len),
            act,
        }),
        Origin::PoolAct { act, idx, pool } => Some(InputGrad::PoolAct {
            dx: g.buffer(format!("{name}.grad_in"), pool.x_len()),
            act,
            idx,
            pool,
        }),
    }
}

fn dx_view(grad: &InputGrad) -> View {
    match *grad {
        InputGrad::Act { dx, .. } | InputGrad::PoolAct { dx, .. } => dx,
    }
}

/// `nn.Conv2d`, its activation and, if any, the `nn.MaxPool2d` after it, fused: one
/// dispatch forward (argmax kept), one backward (weight, bias, and the input gradient
/// carried through the stage below). Its backward takes the gradient of its
/// pre-activation, at the conv's output size, and returns that of the stage below.
pub struct ConvStage {
    conv: Conv2d,
    act: Activation,
    /// The pool's window and stride.
    pool: Option<(usize, usize)>,
    below: Origin,
}

impl ConvStage {
    pub fn new(conv: Conv2d, act: Activation, pool: Option<(usize, usize)>) -> Self {
        ConvStage {
            conv,
            act,
            pool,
            below: Origin::Plain,
        }
    }

    /// The stage's output: pooled, if it pools.
    pub fn output(&self) -> Chw {
        let out = self.conv.output();
        match self.pool {
            Some((k, stride)) => {
                let p = self.conv.shape(1).pool(k, stride);
                Chw {
                    c: out.c,
                    h: p.out_h(),
                    w: p.out_w(),
                }
            }
            None => out,
        }
    }
}

impl Layer for ConvStage {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.conv.shape(g.rows);
        let (w, b) = self.conv.reserve(g, &shape, x);
        let name = &self.conv.name;
        let (y, pool) = match self.pool {
            Some((k, stride)) => {
                let p = shape.pool(k, stride);
                let y = g.buffer(format!("{name}.out"), p.y_len());
                let idx = g.buffer(format!("{name}.argmax"), p.y_len());
                let origin = Origin::PoolAct {
                    act: self.act,
                    idx,
                    pool: p,
                };
                (y, Some((FusedPool { idx, k, stride }, origin)))
            }
            None => (g.buffer(format!("{name}.out"), shape.y_len()), None),
        };
        g.push(Conv2dActForward {
            x,
            w,
            b,
            y,
            shape,
            act: self.act,
            pool: pool.map(|(p, _)| p),
        });
        g.mark(y, pool.map_or(Origin::Act(self.act), |(_, o)| o));
        self.below = g.origin(x);
        y
    }

    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let (x, w, dw, db) = self.conv.saved.expect("forward before backward");
        let shape = self.conv.shape(g.rows);
        let name = self.conv.name.clone();
        let grad = need_dx
            .then(|| input_grad(g, &name, self.below, shape.x_len()))
            .flatten();
        g.push(Conv2dBackward {
            x,
            dy: dz,
            w,
            dw,
            db,
            dx: grad,
            shape,
        });
        match (need_dx, grad) {
            (false, _) => None,
            (true, Some(grad)) => Some(dx_view(&grad)),
            // An input nothing fused produced: the plain input gradient.
            (true, None) => {
                let dx = g.buffer(format!("{name}.grad_in"), shape.x_len());
                g.push(Conv2dBackwardInput {
                    dy: dz,
                    w,
                    dx,
                    shape,
                });
                Some(dx)
            }
        }
    }
}

/// `nn.ConvTranspose2d` and its activation, fused (see `ConvStage`).
pub struct ConvTransposeStage {
    tconv: ConvTranspose2d,
    act: Activation,
    below: Origin,
}

impl ConvTransposeStage {
    pub fn new(tconv: ConvTranspose2d, act: Activation) -> Self {
        ConvTransposeStage {
            tconv,
            act,
            below: Origin::Plain,
        }
    }

    pub fn output(&self) -> Chw {
        self.tconv.output()
    }
}

impl Layer for ConvTransposeStage {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.tconv.shape(g.rows);
        let (w, b) = self.tconv.reserve(g, &shape, x);
        let y = g.buffer(format!("{}.out", self.tconv.name), shape.y_len());
        g.push(ConvTranspose2dActForward {
            x,
            w,
            b,
            y,
            shape,
            act: self.act,
        });
        g.mark(y, Origin::Act(self.act));
        self.below = g.origin(x);
        y
    }

    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let (x, w, dw, db) = self.tconv.saved.expect("forward before backward");
        let shape = self.tconv.shape(g.rows);
        let name = self.tconv.name.clone();
        let grad = need_dx
            .then(|| input_grad(g, &name, self.below, shape.x_len()))
            .flatten();
        if let Some(grad) = grad {
            g.push(ConvTranspose2dBackward {
                x,
                dy: dz,
                w,
                dw,
                db,
                dx: grad,
                shape,
            });
            return Some(dx_view(&grad));
        }
        // No fused kernel without an input gradient carried through an activation: the
        // plain ops, as the unfused layer emits them.
        self.tconv.backward(g, dz, need_dx)
    }
}
