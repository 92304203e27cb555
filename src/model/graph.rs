//! Building a model into buffers and op lists.

use std::collections::HashMap;

use crate::model::sequential::{Module, ParamKind};
use crate::ops::{BufId, BufferSpec, Op, View, VIEW_ALIGN};
use crate::rng;

/// One parameter tensor: its place in the flat parameter buffer and its gradient's place in
/// the flat gradient buffer (the same offsets), and the bound of its uniform initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub init_bound: f64,
    pub value: View,
    pub grad: View,
}

/// The four flat buffers every graph starts with. Keeping all parameters in one buffer
/// lets a single Adam dispatch update the whole model.
pub const PARAMS: BufId = 0;
pub const GRADS: BufId = 1;
pub const ADAM_M: BufId = 2;
pub const ADAM_V: BufId = 3;

/// Collects buffers, parameters and ops while layers emit their forward and backward.
pub struct Builder {
    pub rows: usize,
    buffers: Vec<BufferSpec>,
    params: Vec<Param>,
    param_len: usize,
    ops: Vec<Op>,
    /// The argmax views of the max-pools built so far, by module index: what a fused
    /// stage above a pool routes its input gradient through.
    argmax: HashMap<usize, View>,
    /// While set, a parameter asked for by a name already reserved is the same parameter:
    /// how a second forward pass (evaluation at another batch size, the decoder alone)
    /// shares the weights of the first.
    share: bool,
    /// The counter generator's key (seed, stream), where the graph draws ε.
    pub key: Option<View>,
    /// The weight of a VAE's KL term in the loss.
    pub beta: f32,
    /// What the last forward's sampling left: the KL's running totals and μ.
    latent: Option<LatentViews>,
}

/// What a VAE's sampling layer leaves for the graph: its KL totals, μ (the code the
/// pictures show), and the heads it sampled from (before their bias) with the bias, from
/// which each sample's KL term is scored.
#[derive(Clone, Copy, Debug)]
pub struct LatentViews {
    pub kl_totals: View,
    pub mu: View,
    pub heads: View,
    pub bias: View,
}

impl Builder {
    pub fn new(rows: usize) -> Builder {
        let flat = |name: &str| BufferSpec {
            name: name.to_string(),
            len: 0,
        };
        Builder {
            rows,
            buffers: vec![
                flat("params"),
                flat("grads"),
                flat("adam_m"),
                flat("adam_v"),
            ],
            params: Vec::new(),
            param_len: 0,
            ops: Vec::new(),
            argmax: HashMap::new(),
            share: false,
            key: None,
            beta: 1.0,
            latent: None,
        }
    }

    /// Records what a sampling layer's forward made.
    pub fn set_latent(&mut self, views: LatentViews) {
        self.latent = Some(views);
    }

    /// What the sampling layer of the forward just built made, if there is one.
    pub fn take_latent(&mut self) -> Option<LatentViews> {
        self.latent.take()
    }

    /// The generator's key, which a graph that samples always has.
    pub fn key(&self) -> View {
        self.key.expect("a graph that samples ε has a key")
    }

    /// Records the argmax view of the max-pool that is module `index`.
    pub fn set_argmax(&mut self, index: usize, idx: View) {
        self.argmax.insert(index, idx);
    }

    /// The argmax view of the max-pool that is module `index`, recorded by its forward.
    pub fn argmax(&self, index: usize) -> View {
        *self
            .argmax
            .get(&index)
            .expect("a pool's forward runs before the backward that routes through it")
    }

    pub fn buffer(&mut self, name: impl Into<String>, len: usize) -> View {
        self.buffers.push(BufferSpec {
            name: name.into(),
            len,
        });
        View::whole(self.buffers.len() - 1, len)
    }

    /// Reserves the weight and the bias of module `index` (named `index.weight` and
    /// `index.bias`, as in a PyTorch `state_dict`), initialised as PyTorch's layers do:
    /// `kaiming_uniform_(a=√5)` for the weight, ±1/√fan_in for the bias. Returns the
    /// (value, gradient) views of each.
    pub fn params(&mut self, index: usize, module: &Module) -> [(View, View); 2] {
        let mut views = module.params().into_iter().map(|p| {
            let bound = match p.kind {
                ParamKind::Weight => rng::kaiming_uniform_bound(p.fan_in),
                ParamKind::Bias => rng::bias_bound(p.fan_in),
            };
            self.param(format!("{index}.{}", p.suffix), &p.shape, bound)
        });
        let empty = (View::whole(PARAMS, 0), View::whole(GRADS, 0));
        [views.next().unwrap_or(empty), views.next().unwrap_or(empty)]
    }

    /// From now on, layers built again reuse the parameters of the same names.
    pub fn share_params(&mut self) {
        self.share = true;
    }

    fn param(&mut self, name: String, shape: &[usize], init_bound: f64) -> (View, View) {
        if self.share {
            let same = |p: &&Param| p.name == name && p.shape == shape;
            if let Some(p) = self.params.iter().find(same) {
                return (p.value, p.grad);
            }
        }
        let len: usize = shape.iter().product();
        let offset = self.param_len;
        self.param_len = (offset + len).next_multiple_of(VIEW_ALIGN);
        let value = View {
            buf: PARAMS,
            offset,
            len,
        };
        let grad = View {
            buf: GRADS,
            offset,
            len,
        };
        self.params.push(Param {
            name,
            shape: shape.to_vec(),
            init_bound,
            value,
            grad,
        });
        (value, grad)
    }

    pub fn push(&mut self, op: impl Into<Op>) {
        self.ops.push(op.into());
    }

    /// The ops emitted since the last take.
    pub fn take_ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }

    pub fn param_len(&self) -> usize {
        self.param_len
    }

    /// The buffer table, with the flat parameter buffers sized, and the parameters.
    pub fn finish(mut self) -> (Vec<BufferSpec>, Vec<Param>) {
        for buf in [PARAMS, GRADS, ADAM_M, ADAM_V] {
            self.buffers[buf].len = self.param_len;
        }
        (self.buffers, self.params)
    }
}

/// A layer with an explicit forward and backward. `forward` emits its ops and remembers
/// the views that `backward` needs; it does not know which backend will run them.
pub trait Layer {
    fn forward(&mut self, g: &mut Builder, x: View) -> View;
    /// Emits the gradient ops for `dy`; returns dx when `need_dx`.
    fn backward(&mut self, g: &mut Builder, dy: View, need_dx: bool) -> Option<View>;
}
