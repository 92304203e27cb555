//! The layers a graph is built from: one per stage of the fusion plan. A layer emits its
//! forward ops, remembers what its backward needs, and emits the backward ops; it does not
//! know which backend will run them.

use crate::model::fusion::{Below, Plan, Stage};
use crate::model::graph::LatentViews;
use crate::model::graph::{Builder, Layer};
use crate::model::sequential::{Module, Sequential};
use crate::ops::loss_totals;
use crate::ops::{
    Activation, ActivationBackward, ActivationForward, BatchDim, BiasBackward, BiasForward,
    Conv2dActForward, Conv2dBackward, Conv2dBackwardBias, Conv2dBackwardInput,
    Conv2dBackwardWeight, Conv2dForward, Conv2dShape, ConvTranspose2dActForward,
    ConvTranspose2dBackward, ConvTranspose2dBackwardInput, ConvTranspose2dBackwardWeight,
    ConvTranspose2dForward, ConvTranspose2dShape, Epilogue, FusedPool, InputGrad, Matmul,
    MatmulShape, MaxPool2dBackward, MaxPool2dForward, Pool2dShape, ReparamKlBackward,
    ReparamKlForward, View,
};

/// The layers of `plan`'s stages `from..`, each built from its modules in `seq`.
pub fn build(seq: &Sequential, plan: &Plan, from: usize) -> Vec<Box<dyn Layer>> {
    plan.stages[from..]
        .iter()
        .map(|stage| layer(seq, stage))
        .collect()
}

fn layer(seq: &Sequential, stage: &Stage) -> Box<dyn Layer> {
    let module = |i: usize| seq.modules[i].clone();
    match *stage {
        Stage::Single(i) => match seq.modules[i].clone() {
            Module::Linear { inputs, outputs } => Box::new(Linear::new(i, inputs, outputs)),
            Module::Act(act) => Box::new(Act::new(i, act)),
            Module::MaxPool2d { .. } => Box::new(MaxPool2d::new(i, module(i))),
            Module::Conv2d { .. } => Box::new(Conv2d::new(i, module(i))),
            Module::ConvTranspose2d { .. } => Box::new(ConvTranspose2d::new(i, module(i))),
            Module::Reparameterize { latent } => Box::new(Reparameterize::new(latent)),
            Module::Flatten { .. } | Module::Unflatten { .. } => Box::new(Reshape),
        },
        Stage::LinearReparam { linear, below } => {
            let Module::Linear { inputs, outputs } = seq.modules[linear] else {
                unreachable!("the fusion pass pairs a Linear with the sampling after it")
            };
            let input_act = match below {
                Below::Act(act) => Some(act),
                Below::Plain | Below::PoolAct { .. } => None,
            };
            Box::new(LinearReparam::new(linear, inputs, outputs, input_act))
        }
        Stage::LinearAct { linear, act, below } => {
            let Module::Linear { inputs, outputs } = seq.modules[linear] else {
                unreachable!("the fusion pass pairs a Linear with its activation")
            };
            let input_act = match below {
                Below::Act(act) => Some(act),
                Below::Plain | Below::PoolAct { .. } => None,
            };
            Box::new(LinearAct::new(linear, inputs, outputs, act, input_act))
        }
        Stage::ConvAct {
            conv,
            act,
            pool,
            below,
        } => {
            let pool = pool.map(|p| (p, module(p)));
            let below = below_of(seq, below);
            Box::new(ConvStage::new(
                Conv2d::new(conv, module(conv)),
                act,
                pool,
                below,
            ))
        }
        Stage::ConvTransposeAct { tconv, act, below } => {
            let below = below_of(seq, below);
            let tconv = ConvTranspose2d::new(tconv, module(tconv));
            Box::new(ConvTransposeStage::new(tconv, act, below))
        }
    }
}

/// What a conv stage's input came from, with the pool's module where there is one.
fn below_of(seq: &Sequential, below: Below) -> BelowModule {
    match below {
        Below::Plain => BelowModule::Plain,
        Below::Act(act) => BelowModule::Act(act),
        Below::PoolAct { act, pool } => BelowModule::PoolAct {
            act,
            pool,
            module: seq.modules[pool].clone(),
        },
    }
}

/// `Below`, with the pool's module to size its argmax by.
#[derive(Clone, Debug)]
enum BelowModule {
    Plain,
    Act(Activation),
    PoolAct {
        act: Activation,
        pool: usize,
        module: Module,
    },
}

fn matmul(g: &mut Builder, a: View, b: View, c: View, shape: MatmulShape, batch: BatchDim) {
    g.push(Matmul::new(a, b, c, shape, batch));
}

/// Views a layer with parameters keeps for its backward.
#[derive(Clone, Copy)]
struct Saved {
    x: View,
    w: View,
    dw: View,
    db: View,
}

/// A module with a weight and a bias: its index (which names them, `index.weight`), its
/// description, and what its forward left for its backward.
struct WithParams {
    index: usize,
    module: Module,
    saved: Option<Saved>,
}

impl WithParams {
    fn new(index: usize, module: Module) -> Self {
        WithParams {
            index,
            module,
            saved: None,
        }
    }

    /// Reserves the weight and bias, as PyTorch initialises them, and remembers them with
    /// the input `x` for the backward; returns (w, b).
    fn reserve(&mut self, g: &mut Builder, x: View) -> (View, View) {
        let [(w, dw), (b, db)] = g.params(self.index, &self.module);
        self.saved = Some(Saved { x, w, dw, db });
        (w, b)
    }

    fn saved(&self) -> Saved {
        self.saved.expect("forward before backward")
    }
}

/// y = x · Wᵀ + b, W (out, in) as `nn.Linear`.
pub struct Linear {
    p: WithParams,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    pub fn new(index: usize, inputs: usize, outputs: usize) -> Self {
        let module = Module::Linear { inputs, outputs };
        Linear {
            p: WithParams::new(index, module),
            inputs,
            outputs,
        }
    }
}

impl Layer for Linear {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let (n, i, o) = (g.rows, self.inputs, self.outputs);
        let (w, b) = self.p.reserve(g, x);
        let index = self.p.index;
        let z = g.buffer(format!("{index}.matmul"), n * o);
        let y = g.buffer(format!("{index}.out"), n * o);
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
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let s = self.p.saved();
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
            let dx = g.buffer(format!("{}.grad_in", self.p.index), n * i);
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
    linear: Linear,
    act: Activation,
    /// The activation whose output this layer's input is, if any.
    input_act: Option<Activation>,
}

impl LinearAct {
    pub fn new(
        index: usize,
        inputs: usize,
        outputs: usize,
        act: Activation,
        input_act: Option<Activation>,
    ) -> Self {
        LinearAct {
            linear: Linear::new(index, inputs, outputs),
            act,
            input_act,
        }
    }
}

impl Layer for LinearAct {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let l = &mut self.linear;
        let (n, i, o) = (g.rows, l.inputs, l.outputs);
        let (w, b) = l.p.reserve(g, x);
        let y = g.buffer(format!("{}.out", l.p.index), n * o);
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
        y
    }

    /// `dz` is the gradient of this layer's pre-activation.
    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let s = self.linear.p.saved();
        LinearAct::weight_and_input_grads(g, &self.linear, s, dz, self.input_act, need_dx)
    }
}

impl LinearAct {
    /// dW with db from `dz`, the gradient of the product's output (and bias), and, if
    /// wanted, dx carried on through `input_act`, the activation below.
    fn weight_and_input_grads(
        g: &mut Builder,
        l: &Linear,
        s: Saved,
        dz: View,
        input_act: Option<Activation>,
        need_dx: bool,
    ) -> Option<View> {
        let (n, i, o) = (g.rows, l.inputs, l.outputs);
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
            let dx = g.buffer(format!("{}.grad_in", l.p.index), n * i);
            let epilogue = match input_act {
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
    index: usize,
    act: Activation,
    y: Option<View>,
}

/// The columns of a (batch, features) view: what an elementwise op sees per row.
fn cols(g: &Builder, x: View) -> usize {
    x.len / g.rows
}

impl Act {
    pub fn new(index: usize, act: Activation) -> Self {
        Act {
            index,
            act,
            y: None,
        }
    }
}

impl Layer for Act {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let y = g.buffer(format!("{}.out", self.index), x.len);
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
        let dx = g.buffer(format!("{}.grad_in", self.index), y.len);
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

/// `nn.Flatten` or `nn.Unflatten`: each image's numbers are already contiguous, in the
/// order both sides read them, so the view passes through both ways and nothing runs.
pub struct Reshape;

impl Layer for Reshape {
    fn forward(&mut self, _g: &mut Builder, x: View) -> View {
        x
    }

    fn backward(&mut self, _g: &mut Builder, dy: View, _need_dx: bool) -> Option<View> {
        Some(dy)
    }
}

/// `nn.Conv2d` with a square kernel.
pub struct Conv2d {
    p: WithParams,
}

impl Conv2d {
    pub fn new(index: usize, module: Module) -> Self {
        Conv2d {
            p: WithParams::new(index, module),
        }
    }

    pub fn shape(&self, n: usize) -> Conv2dShape {
        self.p
            .module
            .conv2d_shape(n)
            .expect("a Conv2d layer is built from a Conv2d module")
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let (w, b) = self.p.reserve(g, x);
        let y = g.buffer(format!("{}.out", self.p.index), shape.y_len());
        g.push(Conv2dForward { x, w, b, y, shape });
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let Saved { x, w, dw, db } = self.p.saved();
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
            let dx = g.buffer(format!("{}.grad_in", self.p.index), shape.x_len());
            g.push(Conv2dBackwardInput { dy, w, dx, shape });
            dx
        })
    }
}

/// `nn.ConvTranspose2d` with a square kernel; weight (in, out, k, k).
pub struct ConvTranspose2d {
    p: WithParams,
}

impl ConvTranspose2d {
    pub fn new(index: usize, module: Module) -> Self {
        ConvTranspose2d {
            p: WithParams::new(index, module),
        }
    }

    pub fn shape(&self, n: usize) -> ConvTranspose2dShape {
        self.p
            .module
            .conv_transpose2d_shape(n)
            .expect("a ConvTranspose2d layer is built from a ConvTranspose2d module")
    }
}

impl Layer for ConvTranspose2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let (w, b) = self.p.reserve(g, x);
        let y = g.buffer(format!("{}.out", self.p.index), shape.y_len());
        g.push(ConvTranspose2dForward { x, w, b, y, shape });
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View> {
        let Saved { x, w, dw, db } = self.p.saved();
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
            let dx = g.buffer(format!("{}.grad_in", self.p.index), shape.x_len());
            g.push(ConvTranspose2dBackwardInput { dy, w, dx, shape });
            dx
        })
    }
}

/// `nn.MaxPool2d(k, stride)`; keeps the argmax indices for its backward.
pub struct MaxPool2d {
    index: usize,
    module: Module,
    idx: Option<View>,
}

impl MaxPool2d {
    pub fn new(index: usize, module: Module) -> Self {
        MaxPool2d {
            index,
            module,
            idx: None,
        }
    }

    pub fn shape(&self, n: usize) -> Pool2dShape {
        self.module
            .pool_shape(n)
            .expect("a MaxPool2d layer is built from a MaxPool2d module")
    }
}

impl Layer for MaxPool2d {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.shape(g.rows);
        let y = g.buffer(format!("{}.out", self.index), shape.y_len());
        let idx = g.buffer(format!("{}.argmax", self.index), shape.y_len());
        g.push(MaxPool2dForward { x, y, idx, shape });
        self.idx = Some(idx);
        y
    }

    fn backward(&mut self, g: &mut Builder, dy: View, _need_dx: bool) -> Option<View> {
        let idx = self.idx.expect("forward before backward");
        let shape = self.shape(g.rows);
        let dx = g.buffer(format!("{}.grad_in", self.index), shape.x_len());
        g.push(MaxPool2dBackward { dy, idx, dx, shape });
        Some(dx)
    }
}

/// How a fused conv layer carries its input gradient on through what produced its input:
/// a fused `InputGrad`, or (`Plain`) none.
fn input_grad(
    g: &mut Builder,
    index: usize,
    below: &BelowModule,
    x_len: usize,
) -> Option<InputGrad> {
    match below {
        BelowModule::Plain => None,
        BelowModule::Act(act) => Some(InputGrad::Act {
            dx: g.buffer(format!("{index}.grad_in"), x_len),
            act: *act,
        }),
        BelowModule::PoolAct { act, pool, module } => {
            let shape = module
                .pool_shape(g.rows)
                .expect("a PoolAct stage names a MaxPool2d module");
            Some(InputGrad::PoolAct {
                dx: g.buffer(format!("{index}.grad_in"), shape.x_len()),
                act: *act,
                idx: g.argmax(*pool),
                pool: shape,
            })
        }
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
    /// The pool's module index and module.
    pool: Option<(usize, Module)>,
    below: BelowModule,
}

impl ConvStage {
    fn new(
        conv: Conv2d,
        act: Activation,
        pool: Option<(usize, Module)>,
        below: BelowModule,
    ) -> Self {
        ConvStage {
            conv,
            act,
            pool,
            below,
        }
    }
}

impl Layer for ConvStage {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.conv.shape(g.rows);
        let (w, b) = self.conv.p.reserve(g, x);
        let name = self.conv.p.index;
        let (y, pool) = match &self.pool {
            Some((index, module)) => {
                let p = module
                    .pool_shape(g.rows)
                    .expect("a conv stage's pool is a MaxPool2d module");
                let y = g.buffer(format!("{name}.out"), p.y_len());
                let idx = g.buffer(format!("{name}.argmax"), p.y_len());
                g.set_argmax(*index, idx);
                (
                    y,
                    Some(FusedPool {
                        idx,
                        k: p.k,
                        stride: p.stride,
                    }),
                )
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
            pool,
        });
        y
    }

    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let Saved { x, w, dw, db } = self.conv.p.saved();
        let shape = self.conv.shape(g.rows);
        let index = self.conv.p.index;
        let grad = need_dx
            .then(|| input_grad(g, index, &self.below, shape.x_len()))
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
                let dx = g.buffer(format!("{index}.grad_in"), shape.x_len());
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
    below: BelowModule,
}

impl ConvTransposeStage {
    fn new(tconv: ConvTranspose2d, act: Activation, below: BelowModule) -> Self {
        ConvTransposeStage { tconv, act, below }
    }
}

impl Layer for ConvTransposeStage {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let shape = self.tconv.shape(g.rows);
        let (w, b) = self.tconv.p.reserve(g, x);
        let y = g.buffer(format!("{}.out", self.tconv.p.index), shape.y_len());
        g.push(ConvTranspose2dActForward {
            x,
            w,
            b,
            y,
            shape,
            act: self.act,
        });
        y
    }

    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let Saved { x, w, dw, db } = self.tconv.p.saved();
        let shape = self.tconv.shape(g.rows);
        let grad = need_dx
            .then(|| input_grad(g, self.tconv.p.index, &self.below, shape.x_len()))
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

/// What the sampling's backward needs of its forward: the heads before their bias, and
/// the bias.
#[derive(Clone, Copy)]
struct Sampled {
    h: View,
    b: View,
}

/// The sampling and KL kernel from the heads `h` (before `b`, their bias); returns z and
/// records the KL's totals and μ for the graph.
fn sample(g: &mut Builder, name: &str, h: View, b: View, latent: usize) -> View {
    let n = g.rows;
    let z = g.buffer(format!("{name}.z"), n * latent);
    let mu = g.buffer(format!("{name}.mu"), n * latent);
    let kl_totals = g.buffer(format!("{name}.kl totals"), loss_totals(n * latent));
    let key = g.key();
    g.push(ReparamKlForward {
        h,
        b,
        key,
        z,
        mu,
        totals: kl_totals,
        rows: n,
        latent,
    });
    g.set_latent(LatentViews {
        kl_totals,
        mu,
        heads: h,
        bias: b,
    });
    z
}

/// The heads' gradient from z's, with β·KL's.
fn sample_backward(g: &mut Builder, name: &str, s: Sampled, dz: View, latent: usize) -> View {
    let dh = g.buffer(format!("{name}.grad_heads"), 2 * g.rows * latent);
    let key = g.key();
    g.push(ReparamKlBackward {
        h: s.h,
        b: s.b,
        key,
        dz,
        dh,
        rows: g.rows,
        latent,
        beta: g.beta,
    });
    dh
}

/// A VAE's sampling on its own (the unfused path): its input is the heads with their
/// bias already added by the `Linear` before, so the kernel adds a bias of zeros.
pub struct Reparameterize {
    latent: usize,
    saved: Option<Sampled>,
}

impl Reparameterize {
    pub fn new(latent: usize) -> Self {
        Reparameterize {
            latent,
            saved: None,
        }
    }
}

impl Layer for Reparameterize {
    fn forward(&mut self, g: &mut Builder, h: View) -> View {
        // A buffer is zeroed when allocated and nothing writes this one.
        let b = g.buffer("reparameterize.zero bias", 2 * self.latent);
        self.saved = Some(Sampled { h, b });
        sample(g, "reparameterize", h, b, self.latent)
    }

    fn backward(&mut self, g: &mut Builder, dz: View, _need_dx: bool) -> Option<View> {
        let s = self.saved.expect("forward before backward");
        Some(sample_backward(g, "reparameterize", s, dz, self.latent))
    }
}

/// A VAE's two heads, μ and log σ², as one `nn.Linear` of twice the latent width, and the
/// sampling after them, fused: the product without its bias, then the sampling and KL
/// kernel, which adds it; backward, the heads' gradient, dW with db, and dx carried on
/// through the activation below.
pub struct LinearReparam {
    linear: Linear,
    input_act: Option<Activation>,
    saved: Option<Sampled>,
}

impl LinearReparam {
    pub fn new(index: usize, inputs: usize, outputs: usize, input_act: Option<Activation>) -> Self {
        LinearReparam {
            linear: Linear::new(index, inputs, outputs),
            input_act,
            saved: None,
        }
    }

    fn latent(&self) -> usize {
        self.linear.outputs / 2
    }
}

impl Layer for LinearReparam {
    fn forward(&mut self, g: &mut Builder, x: View) -> View {
        let l = &mut self.linear;
        let (n, i, o) = (g.rows, l.inputs, l.outputs);
        let (w, b) = l.p.reserve(g, x);
        let name = l.p.index.to_string();
        let h = g.buffer(format!("{name}.heads"), n * o);
        let shape = MatmulShape {
            trans_b: true,
            ..MatmulShape::new(n, i, o)
        };
        matmul(g, x, w, h, shape, BatchDim::M);
        self.saved = Some(Sampled { h, b });
        sample(g, &name, h, b, self.latent())
    }

    fn backward(&mut self, g: &mut Builder, dz: View, need_dx: bool) -> Option<View> {
        let sampled = self.saved.expect("forward before backward");
        let latent = self.latent();
        let l = &self.linear;
        let s = l.p.saved();
        let name = l.p.index.to_string();
        let dh = sample_backward(g, &name, sampled, dz, latent);
        LinearAct::weight_and_input_grads(g, l, s, dh, self.input_act, need_dx)
    }
}
