//! The two autoencoders, built into op lists over a backend-neutral buffer table.

pub mod graph;
pub mod layers;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{Error, Result};
use crate::model::graph::{Builder, Layer, Param};
use crate::model::layers::{Act, Chw, Conv2d, ConvTranspose2d, Linear, MaxPool2d};
use crate::ops::{
    Activation, AdamConfig, AdamUpdate, BufId, BufferSpec, Corrupt, GatherBatch, LossBackward,
    LossForward, LossKind, NoiseKind, Op, View,
};
use crate::rng::TorchRng;

/// The dense autoencoder's encoder widths by default: 784-100-200-30, mirrored back.
pub const DEFAULT_LAYERS: [usize; 3] = [100, 200, 30];
/// The conv autoencoder's encoder channels by default: two stages, 16 then 8 channels.
pub const DEFAULT_CHANNELS: [usize; 2] = [16, 8];

/// Which autoencoder, with its size flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Encoder widths after the 784 inputs; the last is the code. The decoder mirrors them.
    Dense { layers: Vec<usize> },
    /// Encoder conv channels, each followed by 2×2 max-pooling; transposed convs mirror them.
    Conv { channels: Vec<usize> },
}

impl Arch {
    /// 784-100-200-30-200-100-784.
    pub fn default_dense() -> Arch {
        Arch::Dense {
            layers: DEFAULT_LAYERS.to_vec(),
        }
    }

    /// Conv 16, pool, conv 8, pool, then transposed convs back to 28×28.
    pub fn default_conv() -> Arch {
        Arch::Conv {
            channels: DEFAULT_CHANNELS.to_vec(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Arch::Dense { .. } => "dense",
            Arch::Conv { .. } => "conv",
        }
    }

    /// A one-line description, such as `784-100-200-30-200-100-784`.
    pub fn describe(&self) -> String {
        match self {
            Arch::Dense { layers } => {
                let widths = dense_widths(layers);
                widths
                    .iter()
                    .map(|w| w.to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            }
            Arch::Conv { channels } => {
                let c: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
                format!(
                    "with channels {}, code {}",
                    c.join(","),
                    self.code_description()
                )
            }
        }
    }

    fn code_description(&self) -> String {
        match self {
            Arch::Dense { layers } => layers.last().map(|c| c.to_string()).unwrap_or_default(),
            Arch::Conv { channels } => {
                let side = IMAGE_SIDE >> channels.len();
                format!("{}×{side}×{side}", channels.last().copied().unwrap_or(0))
            }
        }
    }

    /// Refuses sizes that cannot build, before anything is allocated.
    pub fn validate(&self) -> Result<()> {
        match self {
            Arch::Dense { layers } => {
                if layers.is_empty() || layers.contains(&0) {
                    return Err(Error::flag(
                        "--layers",
                        format!("{layers:?}: needs one or more widths, all above zero"),
                    ));
                }
            }
            Arch::Conv { channels } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err(Error::flag(
                        "--channels",
                        format!("{channels:?}: needs one or more channel counts, all above zero"),
                    ));
                }
                // Each pooling floors the side; each transposed conv doubles it back.
                let mut side = IMAGE_SIDE;
                for _ in channels {
                    side /= 2;
                }
                let rebuilt = side << channels.len();
                if side == 0 || rebuilt != IMAGE_SIDE {
                    return Err(Error::flag(
                        "--channels",
                        format!(
                            "{} conv stages pool 28×28 down to {side}×{side}, which the decoder's stride-2 transposed convs rebuild to {rebuilt}×{rebuilt}, not 28×28; use one or two stages",
                            channels.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The flags that rebuild this architecture, as stored in checkpoints: `dense:100,200,30`.
    pub fn spec(&self) -> String {
        let list = |v: &[usize]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Arch::Dense { layers } => format!("dense:{}", list(layers)),
            Arch::Conv { channels } => format!("conv:{}", list(channels)),
        }
    }

    /// Reads a `spec()` back: `None` for anything that is not one.
    pub fn from_spec(spec: &str) -> Option<Arch> {
        let (kind, list) = spec.split_once(':')?;
        let sizes: Vec<usize> = list
            .split(',')
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let arch = match kind {
            "dense" => Arch::Dense { layers: sizes },
            "conv" => Arch::Conv { channels: sizes },
            _ => return None,
        };
        arch.validate().ok().map(|_| arch)
    }

    /// The index in `layers()` of the layer whose output is the code: the code layer's
    /// activation (dense), or the last max-pool, the bottleneck (conv).
    pub fn code_layer(&self) -> usize {
        match self {
            Arch::Dense { layers } => 2 * layers.len() - 1,
            Arch::Conv { channels } => 3 * channels.len() - 1,
        }
    }

    /// The flag that sizes this architecture.
    pub fn flag(&self) -> &'static str {
        match self {
            Arch::Dense { .. } => "--layers",
            Arch::Conv { .. } => "--channels",
        }
    }

    /// The layers in `nn.Sequential` order, each named by its index there, so that
    /// parameter names (`0.weight`, `0.bias`, `2.weight`, …) are PyTorch's state_dict keys.
    fn layers(&self) -> Vec<Box<dyn Layer>> {
        match self {
            Arch::Dense { layers } => dense_layers(layers),
            Arch::Conv { channels } => conv_layers(channels),
        }
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

fn dense_layers(layers: &[usize]) -> Vec<Box<dyn Layer>> {
    let widths = dense_widths(layers);
    let last = widths.len() - 2;
    let mut out: Vec<Box<dyn Layer>> = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        out.push(Box::new(Linear::new(
            out.len().to_string(),
            pair[0],
            pair[1],
        )));
        let act = if i == last {
            Activation::Sigmoid
        } else {
            Activation::Relu
        };
        out.push(Box::new(Act::new(out.len().to_string(), act)));
    }
    out
}

/// Conv(3×3, pad 1) ReLU MaxPool(2) per stage, then ConvTranspose(3×3, stride 2, pad 1,
/// output padding 1) ReLU per stage back up, then Conv(3×3, pad 1) to one channel, Sigmoid.
fn conv_layers(channels: &[usize]) -> Vec<Box<dyn Layer>> {
    let mut out: Vec<Box<dyn Layer>> = Vec::new();
    let relu =
        |out: &Vec<Box<dyn Layer>>| Box::new(Act::new(out.len().to_string(), Activation::Relu));
    let mut shape = Chw {
        c: 1,
        h: IMAGE_SIDE,
        w: IMAGE_SIDE,
    };
    for &c in channels {
        let conv = Conv2d::new(out.len().to_string(), shape, c, 3, 1, 1);
        shape = conv.output();
        out.push(Box::new(conv));
        out.push(relu(&out));
        let pool = MaxPool2d::new(out.len().to_string(), shape, 2, 2);
        shape = pool.output();
        out.push(Box::new(pool));
    }
    // The decoder's channels: the code's channels first, then the encoder's in reverse.
    let mut targets: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
    targets.insert(0, shape.c);
    for c in targets {
        let tconv = ConvTranspose2d::new(out.len().to_string(), shape, c, 3, 2, 1, 1);
        shape = tconv.output();
        out.push(Box::new(tconv));
        out.push(relu(&out));
    }
    out.push(Box::new(Conv2d::new(
        out.len().to_string(),
        shape,
        1,
        3,
        1,
        1,
    )));
    out.push(Box::new(Act::new(
        out.len().to_string(),
        Activation::Sigmoid,
    )));
    out
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
    /// (seed, stream) of the noise, where the run has noise.
    pub noise_key: Option<BufId>,
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
}

impl GraphSpec {
    /// Training at `rows`, evaluation and decoding at the same size, no noise.
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

impl Graph {
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
        let key = spec.noise.map(|_| g.buffer("noise key", 2));
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
        let code_layer = arch.code_layer();

        let (input, target) = batch_in(&mut g, "", train_data, train_perm);
        let mut layers = arch.layers();
        let (output, _) = forward(&mut g, &mut layers, input, code_layer);
        let scalar = |g: &mut Builder, name: &str| g.buffer(name, 1);
        let (value, total) = (scalar(&mut g, "loss"), scalar(&mut g, "loss total"));
        let dy = g.buffer("loss.grad", output.len);
        g.push(LossForward {
            loss,
            y: output,
            t: target,
            value,
            total,
            rows,
            cols: IMAGE_PIXELS,
        });
        g.push(LossBackward {
            loss,
            y: output,
            t: target,
            dy,
            rows,
            cols: IMAGE_PIXELS,
        });
        let mut grad = dy;
        for (i, layer) in layers.iter_mut().enumerate().rev() {
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
        let mut eval_layers = arch.layers();
        let (eval_output, eval_code) = forward(&mut g, &mut eval_layers, eval_input, code_layer);
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
            });
        }
        let eval = g.take_ops();

        // The decoder alone, for pictures of what lies between codes.
        g.rows = spec.decode_rows;
        let code_len = eval_code.len / spec.eval_rows;
        let decode_code = g.buffer("decode code", spec.decode_rows * code_len);
        let mut decoder = arch.layers();
        let (decode_output, _) = forward(
            &mut g,
            &mut decoder[code_layer + 1..],
            decode_code,
            usize::MAX,
        );
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
                noise_key: key.map(|k| k.buf),
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
