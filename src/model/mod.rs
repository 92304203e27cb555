//! The autoencoders: each described once, as a `Sequential` of modules
//! (`Arch::sequential`), and built from that description into op lists over a
//! backend-neutral buffer table, fused or not (`fusion`).

pub mod fusion;
pub mod graph;
pub mod layers;
pub mod sequential;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{Error, Result};
use crate::model::graph::{Builder, Layer, Param};
use crate::model::sequential::{Chw, Module, Sequential};
use crate::ops::{
    loss_totals, Activation, AdamConfig, AdamUpdate, BufId, BufferSpec, Corrupt, GatherBatch,
    L1Backward, LossBackward, LossForward, LossKind, LossSigmoidBackward, NoiseKind, Op, View,
};
use crate::rng::TorchRng;

pub use fusion::Fusion;

/// The dense autoencoder's encoder widths by default: 784-100-200-30, mirrored back.
pub const DEFAULT_LAYERS: [usize; 3] = [100, 200, 30];
/// The dense VAE's encoder widths by default, as PyTorch's example: 784-400-20, the 20
/// the latent size.
pub const DEFAULT_VAE_LAYERS: [usize; 2] = [400, 20];
/// The conv autoencoder's encoder channels by default: two stages, 16 then 8 channels.
pub const DEFAULT_CHANNELS: [usize; 2] = [16, 8];
/// The conv VAE's sizes by default: the conv AE's channels, then a latent size of 20.
pub const DEFAULT_CONV_VAE_SIZES: [usize; 3] = [16, 8, 20];
/// The most encoder widths or conv stages a model may have.
pub const MAX_LAYERS: usize = 32;

/// Which autoencoder, with its size flags and the activation of its hidden layers. Saved
/// in checkpoints and run configurations as its `spec()`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Arch {
    /// Encoder widths after the 784 inputs; the last is the code. The decoder mirrors them.
    /// `variational`: a VAE, whose last width is the latent size, reached by two heads
    /// (μ and log σ², one product of twice that width) and a sampling.
    Dense {
        layers: Vec<usize>,
        activation: Activation,
        variational: bool,
    },
    /// Encoder conv channels, each followed by 2×2 max-pooling; transposed convs mirror them.
    /// `variational`: a conv VAE, whose `channels` end in the latent size instead: the
    /// bottleneck flattened feeds the two heads and the sampling, and one Linear (with the
    /// hidden activation) takes the sample back to the bottleneck's shape for the decoder.
    Conv {
        channels: Vec<usize>,
        activation: Activation,
        variational: bool,
    },
}

impl Arch {
    /// A dense autoencoder with these encoder widths, ReLU between layers.
    pub fn dense(layers: Vec<usize>) -> Arch {
        Arch::Dense {
            layers,
            activation: Activation::Relu,
            variational: false,
        }
    }

    /// A dense variational autoencoder: these encoder widths, the last the latent size.
    pub fn vae(layers: Vec<usize>) -> Arch {
        Arch::Dense {
            layers,
            activation: Activation::Relu,
            variational: true,
        }
    }

    /// A conv variational autoencoder: these conv channels, then the latent size.
    pub fn conv_vae(sizes: Vec<usize>) -> Arch {
        Arch::Conv {
            channels: sizes,
            activation: Activation::Relu,
            variational: true,
        }
    }

    /// Whether the model samples its code (a VAE), so that its loss is the negative ELBO.
    pub fn is_variational(&self) -> bool {
        match self {
            Arch::Dense { variational, .. } | Arch::Conv { variational, .. } => *variational,
        }
    }

    /// A conv autoencoder with these encoder channels, ReLU after each conv.
    pub fn conv(channels: Vec<usize>) -> Arch {
        Arch::Conv {
            channels,
            activation: Activation::Relu,
            variational: false,
        }
    }

    /// 784-100-200-30-200-100-784.
    pub fn default_dense() -> Arch {
        Arch::dense(DEFAULT_LAYERS.to_vec())
    }

    /// Conv 16, pool, conv 8, pool, then transposed convs back to 28×28.
    pub fn default_conv() -> Arch {
        Arch::conv(DEFAULT_CHANNELS.to_vec())
    }

    /// The same model with another hidden activation.
    pub fn with_activation(self, act: Activation) -> Arch {
        match self {
            Arch::Dense {
                layers,
                variational,
                ..
            } => Arch::Dense {
                layers,
                activation: act,
                variational,
            },
            Arch::Conv {
                channels,
                variational,
                ..
            } => Arch::Conv {
                channels,
                activation: act,
                variational,
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Arch::Dense {
                variational: true, ..
            } => "vae",
            Arch::Dense { .. } => "dense",
            Arch::Conv {
                variational: true, ..
            } => "conv-vae",
            Arch::Conv { .. } => "conv",
        }
    }

    /// The activation between hidden layers (the output is always a Sigmoid).
    pub fn activation(&self) -> Activation {
        match self {
            Arch::Dense { activation, .. } | Arch::Conv { activation, .. } => *activation,
        }
    }

    /// The size flag's values: encoder widths or conv channels (a conv VAE's then its
    /// latent size).
    pub fn sizes(&self) -> &[usize] {
        match self {
            Arch::Dense { layers, .. } => layers,
            Arch::Conv { channels, .. } => channels,
        }
    }

    /// The flag that sizes this architecture.
    pub fn flag(&self) -> &'static str {
        match self {
            Arch::Dense { .. } => "--layers",
            Arch::Conv { .. } => "--channels",
        }
    }

    /// A one-line description, such as `784-100-200-30-200-100-784`.
    pub fn describe(&self) -> String {
        let act = match self.activation() {
            Activation::Relu => String::new(),
            other => format!(", {} hidden", other.name()),
        };
        match self {
            Arch::Dense {
                layers,
                variational,
                ..
            } => {
                let widths: Vec<String> =
                    dense_widths(layers).iter().map(|w| w.to_string()).collect();
                let sampled = match variational {
                    true => format!(", sampling {} Gaussians", layers.last().unwrap_or(&0)),
                    false => String::new(),
                };
                format!("{}{sampled}{act}", widths.join("-"))
            }
            Arch::Conv {
                channels,
                variational,
                ..
            } => {
                let (convs, latent) = conv_split(channels, *variational);
                let c: Vec<String> = convs.iter().map(|c| c.to_string()).collect();
                let side = IMAGE_SIDE >> convs.len().min(usize::BITS as usize - 1);
                let code = convs.last().copied().unwrap_or(0);
                // A conv VAE's code is its sample; the bottleneck is what it flattens.
                let (bottleneck, sampled) = match latent {
                    Some(l) => (
                        "bottleneck",
                        format!(", flattened to {l} sampled Gaussians"),
                    ),
                    None => ("code", String::new()),
                };
                format!(
                    "with channels {}, {bottleneck} {code}×{side}×{side}{sampled}{act}",
                    c.join(",")
                )
            }
        }
    }

    /// What the code is, in words, for the pictures of the latent space.
    pub fn code_words(&self, code_len: usize) -> String {
        match self {
            Arch::Dense {
                variational: true, ..
            }
            | Arch::Conv {
                variational: true, ..
            } => format!("the {code_len} means μ"),
            Arch::Dense { .. } => format!("{code_len} numbers"),
            Arch::Conv { .. } => format!("the {code_len}-number bottleneck"),
        }
    }

    /// What makes these sizes impossible to build, if anything.
    pub fn problem(&self) -> Option<String> {
        let sizes = self.sizes();
        let what = match self {
            Arch::Dense { .. } => "widths",
            Arch::Conv { .. } => "channel counts",
        };
        if sizes.is_empty() || sizes.contains(&0) {
            return Some(format!(
                "{sizes:?}: needs one or more {what}, all above zero"
            ));
        }
        if sizes.len() > MAX_LAYERS {
            return Some(format!("{} {what}: at most {MAX_LAYERS}", sizes.len()));
        }
        if let Arch::Conv {
            channels,
            variational,
            ..
        } = self
        {
            if *variational && channels.len() < 2 {
                return Some(format!(
                    "{channels:?}: a conv VAE needs one or more conv channel counts, then the latent size"
                ));
            }
            let (channels, _) = conv_split(channels, *variational);
            // Each pooling floors the side; each transposed conv doubles it back.
            let stages = channels.len() as u32;
            let side = IMAGE_SIDE.checked_shr(stages).unwrap_or(0);
            let rebuilt = side.checked_shl(stages).unwrap_or(0);
            if side == 0 || rebuilt != IMAGE_SIDE {
                return Some(format!(
                    "{} conv stages pool 28×28 down to {side}×{side}, which the decoder's stride-2 transposed convs rebuild to {rebuilt}×{rebuilt}, not 28×28; use one or two stages",
                    channels.len()
                ));
            }
        }
        None
    }

    /// Refuses sizes that cannot build, before anything is allocated, naming the flag.
    pub fn validate(&self) -> Result<()> {
        match self.problem() {
            Some(why) => Err(Error::flag(self.flag(), why)),
            None => Ok(()),
        }
    }

    /// The flags that rebuild this architecture, as stored in checkpoints:
    /// `dense:100,200,30`, with `:tanh` after it for a hidden activation other than ReLU.
    pub fn spec(&self) -> String {
        let list: Vec<String> = self.sizes().iter().map(|x| x.to_string()).collect();
        let act = match self.activation() {
            Activation::Relu => String::new(),
            other => format!(":{}", other.name()),
        };
        format!("{}:{}{act}", self.name(), list.join(","))
    }

    /// Reads a `spec()` back: `None` for anything that is not one.
    pub fn from_spec(spec: &str) -> Option<Arch> {
        let mut parts = spec.split(':');
        let (kind, list) = (parts.next()?, parts.next()?);
        let activation = match parts.next() {
            Some(name) => Activation::from_name(name)?,
            None => Activation::Relu,
        };
        if parts.next().is_some() {
            return None;
        }
        let sizes: Vec<usize> = list
            .split(',')
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let arch = Arch::of_kind(kind, sizes)?.with_activation(activation);
        arch.problem().is_none().then_some(arch)
    }

    /// The model of this kind (`name()`: dense, vae, conv or conv-vae) with these sizes,
    /// unchecked (`problem` says what is wrong with them); `None` for another kind.
    pub fn of_kind(kind: &str, sizes: Vec<usize>) -> Option<Arch> {
        Some(match kind {
            "dense" => Arch::dense(sizes),
            "vae" => Arch::vae(sizes),
            "conv" => Arch::conv(sizes),
            "conv-vae" => Arch::conv_vae(sizes),
            _ => return None,
        })
    }

    /// The model's one description: its modules in `nn.Sequential` order, so that module
    /// `i`'s parameters are PyTorch's `i.weight` and `i.bias`, and where the code is.
    pub fn sequential(&self) -> Sequential {
        match self {
            Arch::Dense {
                layers,
                activation,
                variational,
            } => dense_sequential(layers, *activation, *variational),
            Arch::Conv {
                channels,
                activation,
                variational,
            } => {
                let (convs, latent) = conv_split(channels, *variational);
                conv_sequential(convs, latent, *activation)
            }
        }
    }
}

impl TryFrom<String> for Arch {
    type Error = String;

    fn try_from(spec: String) -> std::result::Result<Arch, String> {
        Arch::from_spec(&spec)
            .ok_or_else(|| format!("{spec:?} is not an architecture this program builds"))
    }
}

impl From<Arch> for String {
    fn from(arch: Arch) -> String {
        arch.spec()
    }
}

/// 784, the encoder widths, then the mirror back to 784.
fn dense_widths(layers: &[usize]) -> Vec<usize> {
    let mut widths = vec![IMAGE_PIXELS];
    widths.extend(layers);
    widths.extend(layers.iter().rev().skip(1));
    widths.push(IMAGE_PIXELS);
    widths
}

/// Linear, activation, … , Linear, Sigmoid; the code is the encoder's last activation.
/// A VAE's encoder ends instead in the heads, one Linear to twice the latent width (μ then
/// log σ²), and the sampling, whose output is the code.
fn dense_sequential(layers: &[usize], hidden: Activation, variational: bool) -> Sequential {
    let widths = dense_widths(layers);
    let last = widths.len() - 2;
    let code_layer = layers.len() - 1;
    let mut modules = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        if variational && i == code_layer {
            modules.push(Module::Linear {
                inputs: pair[0],
                outputs: 2 * pair[1],
            });
            modules.push(Module::Reparameterize { latent: pair[1] });
            continue;
        }
        modules.push(Module::Linear {
            inputs: pair[0],
            outputs: pair[1],
        });
        modules.push(Module::Act(match i == last {
            true => Activation::Sigmoid,
            false => hidden,
        }));
    }
    Sequential {
        input: IMAGE_PIXELS,
        modules,
        code: 2 * layers.len() - 1,
    }
}

/// A conv model's sizes as conv channels and, for a VAE, the latent size after them.
fn conv_split(sizes: &[usize], variational: bool) -> (&[usize], Option<usize>) {
    match (variational, sizes.split_last()) {
        (true, Some((&latent, convs))) => (convs, Some(latent)),
        _ => (sizes, None),
    }
}

/// Conv(3×3, pad 1), activation, MaxPool(2) per stage; then ConvTranspose(3×3, stride 2,
/// pad 1, output padding 1) and activation per stage back up; then Conv(3×3, pad 1) to
/// one channel and a Sigmoid. The code is the last pool's output, the bottleneck.
///
/// With a `latent` size (a conv VAE), the bottleneck is flattened into the heads (one
/// Linear to twice the latent width, μ then log σ²) and the sampling, whose output is the
/// code; one Linear and the hidden activation take it back to the bottleneck, unflattened
/// for the transposed convs: `nn.Flatten` and `nn.Unflatten` as in PyTorch, so that the
/// parameters keep `nn.Sequential`'s indices.
fn conv_sequential(channels: &[usize], latent: Option<usize>, hidden: Activation) -> Sequential {
    let mut modules = Vec::new();
    let mut shape = Chw {
        c: 1,
        h: IMAGE_SIDE,
        w: IMAGE_SIDE,
    };
    let conv = |input: Chw, out_channels: usize| Module::Conv2d {
        input,
        out_channels,
        kernel: 3,
        stride: 1,
        pad: 1,
    };
    for &c in channels {
        let module = conv(shape, c);
        let conv_out = module.output_chw().unwrap_or(shape);
        let pool = Module::MaxPool2d {
            input: conv_out,
            kernel: 2,
            stride: 2,
        };
        shape = pool.output_chw().unwrap_or(conv_out);
        modules.extend([module, Module::Act(hidden), pool]);
    }
    let mut code = modules.len() - 1;
    if let Some(latent) = latent {
        let bottleneck = shape.c * shape.h * shape.w;
        modules.extend([
            Module::Flatten { input: shape },
            Module::Linear {
                inputs: bottleneck,
                outputs: 2 * latent,
            },
            Module::Reparameterize { latent },
        ]);
        code = modules.len() - 1;
        modules.extend([
            Module::Linear {
                inputs: latent,
                outputs: bottleneck,
            },
            Module::Act(hidden),
            Module::Unflatten { output: shape },
        ]);
    }
    // The decoder's channels: the code's channels first, then the encoder's in reverse.
    let mut targets: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
    targets.insert(0, shape.c);
    for c in targets {
        let tconv = Module::ConvTranspose2d {
            input: shape,
            out_channels: c,
            kernel: 3,
            stride: 2,
            pad: 1,
            out_pad: 1,
        };
        shape = tconv.output_chw().unwrap_or(shape);
        modules.extend([tconv, Module::Act(hidden)]);
    }
    modules.extend([conv(shape, 1), Module::Act(Activation::Sigmoid)]);
    Sequential {
        input: IMAGE_PIXELS,
        modules,
        code,
    }
}

/// Buffers that the training loop reads and writes by name.
#[derive(Clone, Copy, Debug)]
pub struct Slots {
    pub train_data: BufId,
    pub train_perm: BufId,
    pub test_data: BufId,
    pub test_perm: BufId,
    /// What the model sees in training: the batch, or the batch corrupted.
    pub input: View,
    /// What the training loss compares with: the clean batch (`input` itself without noise).
    pub target: View,
    pub output: View,
    /// The training loss's running total: one value, or one per chunk of the fused loss;
    /// the loss is their sum.
    pub loss_total: BufId,
    /// Evaluation's own input, clean target, output and code, at `Graph::eval_rows`.
    pub eval_input: View,
    pub eval_target: View,
    pub eval_output: View,
    pub eval_code: View,
    pub eval_mse_total: BufId,
    pub eval_bce_total: BufId,
    /// The decoder alone, at `Graph::decode_rows`: codes in, images out.
    pub decode_code: View,
    pub decode_output: View,
    /// (seed, stream) of the counter generator, where the run draws noise or ε.
    pub key: Option<BufId>,
    /// A VAE's KL terms, summed over the images trained on and evaluated, in running
    /// totals (one per chunk), and μ in evaluation: `eval_code` is then μ.
    pub kl_total: Option<BufId>,
    pub eval_kl_total: Option<BufId>,
    /// The L1 penalty's Σ|code| over the images trained on (`--l1`), per chunk.
    pub l1_total: Option<BufId>,
}

/// A model built for a number of rows: its buffers, parameters and three programs.
pub struct Graph {
    pub arch: Arch,
    pub rows: usize,
    /// The batch evaluation runs at: larger than training's, as it keeps no gradients.
    pub eval_rows: usize,
    pub decode_rows: usize,
    /// Numbers in one code: the code layer's width, or the conv bottleneck flattened.
    pub code_len: usize,
    pub noise: Option<NoiseKind>,
    pub buffers: Vec<BufferSpec>,
    pub params: Vec<Param>,
    /// gather a shuffled training batch, (corrupt,) forward, loss, backward, Adam.
    pub train: Vec<Op>,
    /// gather a test batch, (corrupt,) forward, MSE and BCE against the clean batch.
    pub eval: Vec<Op>,
    /// the decoder alone, from codes.
    pub decode: Vec<Op>,
    pub slots: Slots,
}

/// Sizes of the datasets the graph holds on the device.
#[derive(Clone, Copy, Debug)]
pub struct DataSizes {
    pub train_images: usize,
    pub test_images: usize,
}

/// Everything a graph is built from.
#[derive(Clone, Debug)]
pub struct GraphSpec {
    pub arch: Arch,
    /// The training batch.
    pub rows: usize,
    pub eval_rows: usize,
    pub decode_rows: usize,
    pub loss: LossKind,
    pub adam: AdamConfig,
    pub data: DataSizes,
    pub noise: Option<NoiseKind>,
    pub fusion: Fusion,
    /// The weight of a VAE's KL term.
    pub beta: f32,
    /// The L1 penalty's weight on the code's activations (0: none).
    pub l1: f32,
}

impl GraphSpec {
    /// Training at `rows`, evaluation and decoding at the same size, no noise, fused.
    pub fn new(
        arch: &Arch,
        rows: usize,
        loss: LossKind,
        adam: AdamConfig,
        data: DataSizes,
    ) -> GraphSpec {
        GraphSpec {
            arch: arch.clone(),
            rows,
            eval_rows: rows,
            decode_rows: rows,
            loss,
            adam,
            data,
            noise: None,
            fusion: Fusion::default(),
            beta: 1.0,
            l1: 0.0,
        }
    }
}

/// The forward pass of every layer from `x`, in a builder at its current rows; returns
/// the output and the output of layer `code` (the code).
fn forward(g: &mut Builder, layers: &mut [Box<dyn Layer>], x: View, code: usize) -> (View, View) {
    let (mut h, mut code_view) = (x, x);
    for (i, layer) in layers.iter_mut().enumerate() {
        h = layer.forward(g, h);
        if i == code {
            code_view = h;
        }
    }
    (h, code_view)
}

/// The L1 penalty's subgradient added to `grad`, the gradient arriving at the code
/// stage's backward: that of the code itself, or of its pre-activation where the stage
/// carries its activation. Returns the new gradient and Σ|code|'s running totals.
fn l1_penalty(
    g: &mut Builder,
    plan: &fusion::Plan,
    code: View,
    grad: View,
    lambda: f32,
) -> Result<(View, View)> {
    use fusion::Stage;
    let act = match plan.stages[plan.code] {
        Stage::LinearAct { act, .. }
        | Stage::ConvTransposeAct { act, .. }
        | Stage::ConvAct {
            act, pool: None, ..
        } => Some(act),
        Stage::Single(_) | Stage::LinearReparam { .. } => None,
        Stage::ConvAct { pool: Some(_), .. } => {
            return Err(Error::flag(
                "--l1",
                "the conv autoencoder's code is a max-pool's output, whose penalty this program does not route back through the pool; use it with a dense model or a VAE",
            ))
        }
    };
    let rows = g.rows;
    let cols = code.len / rows;
    let dz = g.buffer("l1.grad", code.len);
    let totals = g.buffer("l1 totals", crate::ops::latent_totals(code.len));
    g.push(L1Backward {
        a: code,
        dy: grad,
        dz,
        totals,
        rows,
        cols,
        lambda,
        act,
    });
    Ok((dz, totals))
}

impl Graph {
    /// The fused graph (`Fusion::Fused`).
    pub fn build(
        arch: &Arch,
        rows: usize,
        loss: LossKind,
        adam: AdamConfig,
        data: DataSizes,
    ) -> Result<Graph> {
        Graph::build_with(&GraphSpec::new(arch, rows, loss, adam, data))
    }

    pub fn build_with(spec: &GraphSpec) -> Result<Graph> {
        let (arch, rows, loss, adam, data) =
            (&spec.arch, spec.rows, spec.loss, spec.adam, spec.data);
        arch.validate()?;
        if rows == 0 {
            return Err(Error::flag("--batch", "must be at least 1"));
        }
        if spec.eval_rows == 0 || spec.decode_rows == 0 {
            return Err(Error::Other(
                "evaluation needs a batch of at least 1".into(),
            ));
        }
        let mut g = Builder::new(rows);
        let words = |images: usize| (images * IMAGE_PIXELS).div_ceil(4);
        let train_data = g.buffer("train images (bytes)", words(data.train_images));
        let train_perm = g.buffer("train permutation", data.train_images);
        let test_data = g.buffer("test images (bytes)", words(data.test_images));
        let test_perm = g.buffer("test order", data.test_images);
        let sampled = arch.is_variational();
        let key = (spec.noise.is_some() || sampled).then(|| g.buffer("key", 2));
        g.key = key;
        g.beta = spec.beta;
        let summed = sampled;
        // Gathers a batch into `clean`; with noise, corrupts it into a buffer of its own,
        // which is what the model sees.
        let batch_in = |g: &mut Builder, prefix: &str, data: View, perm: View| -> (View, View) {
            let rows = g.rows;
            let clean = g.buffer(format!("{prefix}input"), rows * IMAGE_PIXELS);
            g.push(GatherBatch {
                data,
                perm,
                x: clean,
                images: perm.len,
                rows,
                cols: IMAGE_PIXELS,
            });
            match (spec.noise, key) {
                (Some(noise), Some(key)) => {
                    let noisy = g.buffer(format!("{prefix}noisy input"), rows * IMAGE_PIXELS);
                    g.push(Corrupt {
                        noise,
                        x: clean,
                        key,
                        y: noisy,
                        rows,
                        cols: IMAGE_PIXELS,
                    });
                    (noisy, clean)
                }
                _ => (clean, clean),
            }
        };
        let seq = arch.sequential();
        let plan = fusion::plan(&seq, spec.fusion);

        let (input, target) = batch_in(&mut g, "", train_data, train_perm);
        let mut layers = layers::build(&seq, &plan, 0);
        let (output, code) = forward(&mut g, &mut layers, input, plan.code);
        let kl_total = g.take_latent().map(|l| l.kl_totals);
        let scalar = |g: &mut Builder, name: &str| g.buffer(name, 1);
        let dy = g.buffer("loss.grad", output.len);
        // Where the plan takes the loss through the output Sigmoid, one kernel gives the
        // gradient of its pre-activation, and the last layer starts its backward there.
        let total = match plan.loss_through_sigmoid {
            true => {
                let totals = g.buffer("loss totals", loss_totals(output.len));
                g.push(LossSigmoidBackward {
                    loss,
                    y: output,
                    t: target,
                    dz: dy,
                    totals,
                    rows,
                    cols: IMAGE_PIXELS,
                    summed,
                });
                totals
            }
            false => {
                let (value, total) = (scalar(&mut g, "loss"), scalar(&mut g, "loss total"));
                g.push(LossForward {
                    loss,
                    y: output,
                    t: target,
                    value,
                    total,
                    rows,
                    cols: IMAGE_PIXELS,
                    summed,
                });
                g.push(LossBackward {
                    loss,
                    y: output,
                    t: target,
                    dy,
                    rows,
                    cols: IMAGE_PIXELS,
                    summed,
                });
                total
            }
        };
        let mut grad = dy;
        let mut l1_total = None;
        for (i, layer) in layers.iter_mut().enumerate().rev() {
            if i == plan.code && spec.l1 > 0.0 {
                let (dz, totals) = l1_penalty(&mut g, &plan, code, grad, spec.l1)?;
                grad = dz;
                l1_total = Some(totals.buf);
            }
            match layer.backward(&mut g, grad, i > 0) {
                Some(dx) => grad = dx,
                None => break,
            }
        }
        let flat = |buf| View::whole(buf, g.param_len());
        g.push(AdamUpdate {
            grad: flat(graph::GRADS),
            param: flat(graph::PARAMS),
            m: flat(graph::ADAM_M),
            v: flat(graph::ADAM_V),
            config: adam,
        });
        let train = g.take_ops();

        // Evaluation: the same layers again at its own batch, sharing the parameters.
        g.share_params();
        g.rows = spec.eval_rows;
        let (eval_input, eval_target) = batch_in(&mut g, "eval ", test_data, test_perm);
        let mut eval_layers = layers::build(&seq, &plan, 0);
        let (eval_output, eval_code) = forward(&mut g, &mut eval_layers, eval_input, plan.code);
        // A VAE's code, in the pictures and its statistics, is μ, not a sample.
        let eval_latent = g.take_latent();
        let eval_code = eval_latent.map_or(eval_code, |l| l.mu);
        let (mse_value, mse_total) = (scalar(&mut g, "eval mse"), scalar(&mut g, "eval mse total"));
        let (bce_value, bce_total) = (scalar(&mut g, "eval bce"), scalar(&mut g, "eval bce total"));
        for (kind, value, total) in [
            (LossKind::Mse, mse_value, mse_total),
            (LossKind::Bce, bce_value, bce_total),
        ] {
            g.push(LossForward {
                loss: kind,
                y: eval_output,
                t: eval_target,
                value,
                total,
                rows: spec.eval_rows,
                cols: IMAGE_PIXELS,
                summed: false,
            });
        }
        let eval = g.take_ops();

        // The decoder alone, for pictures of what lies between codes.
        g.rows = spec.decode_rows;
        let code_len = eval_code.len / spec.eval_rows;
        let decode_code = g.buffer("decode code", spec.decode_rows * code_len);
        let mut decoder = layers::build(&seq, &plan, plan.code + 1);
        let (decode_output, _) = forward(&mut g, &mut decoder, decode_code, usize::MAX);
        let decode = g.take_ops();

        let (buffers, params) = g.finish();
        Ok(Graph {
            arch: arch.clone(),
            rows,
            eval_rows: spec.eval_rows,
            decode_rows: spec.decode_rows,
            code_len,
            noise: spec.noise,
            buffers,
            params,
            train,
            eval,
            decode,
            slots: Slots {
                train_data: train_data.buf,
                train_perm: train_perm.buf,
                test_data: test_data.buf,
                test_perm: test_perm.buf,
                input,
                target,
                output,
                loss_total: total.buf,
                eval_input,
                eval_target,
                eval_output,
                eval_code,
                eval_mse_total: mse_total.buf,
                eval_bce_total: bce_total.buf,
                decode_code,
                decode_output,
                key: key.map(|k| k.buf),
                kl_total: kl_total.map(|v| v.buf),
                eval_kl_total: eval_latent.map(|l| l.kl_totals.buf),
                l1_total,
            },
        })
    }

    /// Total length of the flat parameter buffer, padding included.
    pub fn param_len(&self) -> usize {
        self.buffers[graph::PARAMS].len
    }

    /// Parameters as PyTorch initialises `nn.Linear`, `nn.Conv2d` and `nn.ConvTranspose2d`,
    /// drawn tensor by tensor in layer order (weight, then bias) from `rng`: with
    /// `TorchRng::new(seed)` these are the weights `torch.manual_seed(seed)` gives.
    pub fn init_params(&self, rng: &mut TorchRng) -> Vec<f32> {
        let mut flat = vec![0.0f32; self.param_len()];
        for p in &self.params {
            for v in &mut flat[p.value.range()] {
                *v = rng.uniform(-p.init_bound, p.init_bound);
            }
        }
        flat
    }
}
