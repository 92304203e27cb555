//! The autoencoders: each described once, as a `Sequential` of modules
//! (`Arch::sequential`), and built from that description into op lists over a
//! backend-neutral buffer table, fused or not (`fusion`).

mod arch;
pub mod fusion;
pub mod graph;
pub mod layers;
pub mod sequential;

use crate::data::Storage;
use crate::error::{Error, Result};
use crate::model::graph::{Builder, Layer, Param};
use crate::ops::GatherRows;
use crate::ops::{
    loss_totals, Activation, AdamConfig, AdamUpdate, BufId, BufferSpec, Corrupt, GatherBatch,
    KlScores, L1Backward, LossActBackward, LossBackward, LossForward, LossKind, NoiseKind, Op,
    RowScores, ScoreKind, View,
};
use crate::rng::TorchRng;

pub use arch::{
    Arch, Family, DEFAULT_CHANNELS, DEFAULT_CONV_VAE_SIZES, DEFAULT_LAYERS, DEFAULT_VAE_LAYERS,
    MAX_LAYERS,
};
pub use fusion::Fusion;

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
    /// Absent for a linear output, whose values are not probabilities.
    pub eval_bce_total: Option<BufId>,
    /// Each evaluated sample's score (`Graph::score_ops`), at `Graph::eval_rows`.
    pub eval_scores: View,
    /// A VAE's evaluation heads (before their bias) and the bias: each sample's KL term.
    pub eval_heads: Option<(View, View)>,
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
    /// The weight of a VAE's KL term, which its ELBO scores carry too.
    pub beta: f32,
    /// How the datasets are held: packed bytes or floats.
    pub storage: Storage,
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

/// Sizes of the datasets the graph holds on the device, and how it holds them (the
/// samples' shape is the architecture's input).
#[derive(Clone, Copy, Debug)]
pub struct DataSizes {
    pub train_images: usize,
    pub test_images: usize,
    pub storage: Storage,
}

impl DataSizes {
    /// The sizes of `data`'s splits, held as it holds them.
    pub fn of(data: &crate::data::Data) -> DataSizes {
        DataSizes {
            train_images: data.train.len(),
            test_images: data.test.len(),
            storage: data.train.values.storage(),
        }
    }

    /// Datasets of these sizes held as packed bytes, as MNIST is.
    pub const fn bytes(train_images: usize, test_images: usize) -> DataSizes {
        DataSizes {
            train_images,
            test_images,
            storage: Storage::Bytes,
        }
    }
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
    let totals = g.buffer("l1 totals", loss_totals(code.len));
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
        // Numbers per sample: pixels, or a row's features.
        let cols = arch.input.elements();
        let words = |images: usize| data.storage.words(images * cols);
        let held = match data.storage {
            Storage::Bytes => "bytes",
            Storage::Floats => "floats",
        };
        let train_data = g.buffer(format!("train images ({held})"), words(data.train_images));
        let train_perm = g.buffer("train permutation", data.train_images);
        let test_data = g.buffer(format!("test images ({held})"), words(data.test_images));
        let test_perm = g.buffer("test order", data.test_images);
        let sampled = arch.is_variational();
        let key = (spec.noise.is_some() || sampled).then(|| g.buffer("key", 2));
        g.key = key;
        g.beta = spec.beta;
        let summed = sampled;
        let data_storage = data.storage;
        // Gathers a batch into `clean`; with noise, corrupts it into a buffer of its own,
        // which is what the model sees.
        let batch_in = |g: &mut Builder, prefix: &str, data: View, perm: View| -> (View, View) {
            let rows = g.rows;
            let clean = g.buffer(format!("{prefix}input"), rows * cols);
            let images = perm.len;
            match data_storage {
                Storage::Bytes => g.push(GatherBatch {
                    data,
                    perm,
                    x: clean,
                    images,
                    rows,
                    cols,
                }),
                Storage::Floats => g.push(GatherRows {
                    data,
                    perm,
                    x: clean,
                    images,
                    rows,
                    cols,
                }),
            }
            match (spec.noise, key) {
                (Some(noise), Some(key)) => {
                    let noisy = g.buffer(format!("{prefix}noisy input"), rows * cols);
                    g.push(Corrupt {
                        noise,
                        x: clean,
                        key,
                        y: noisy,
                        rows,
                        cols,
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
        // Where the plan takes the loss through the output activation (a Sigmoid, or a
        // linear output's identity), one kernel gives the gradient of its pre-activation,
        // and the last layer starts its backward there.
        let total = match plan.loss_through {
            Some(act) => {
                let totals = g.buffer("loss totals", loss_totals(output.len));
                g.push(LossActBackward {
                    loss,
                    act,
                    y: output,
                    t: target,
                    dz: dy,
                    totals,
                    rows,
                    cols,
                    summed,
                });
                totals
            }
            None => {
                let (value, total) = (scalar(&mut g, "loss"), scalar(&mut g, "loss total"));
                g.push(LossForward {
                    loss,
                    y: output,
                    t: target,
                    value,
                    total,
                    rows,
                    cols,
                    summed,
                });
                g.push(LossBackward {
                    loss,
                    y: output,
                    t: target,
                    dy,
                    rows,
                    cols,
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
        // The BCE is a loss of values in [0, 1]: a linear output (standardised rows) has
        // none.
        let bce = (arch.output == Activation::Sigmoid)
            .then(|| (scalar(&mut g, "eval bce"), scalar(&mut g, "eval bce total")));
        let mut losses = vec![(LossKind::Mse, mse_value, mse_total)];
        losses.extend(bce.map(|(value, total)| (LossKind::Bce, value, total)));
        for (kind, value, total) in losses {
            g.push(LossForward {
                loss: kind,
                y: eval_output,
                t: eval_target,
                value,
                total,
                rows: spec.eval_rows,
                cols,
                summed: false,
            });
        }
        // Each test sample's squared error too, in the same pass: what a one-class run's
        // test AUROC is measured from every epoch.
        let eval_scores = g.buffer("eval scores", spec.eval_rows);
        g.push(RowScores {
            loss: LossKind::Mse,
            y: eval_output,
            t: eval_target,
            scores: eval_scores,
            rows: spec.eval_rows,
            cols,
            summed: false,
        });
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
            beta: spec.beta,
            storage: data.storage,
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
                eval_scores,
                eval_heads: eval_latent.map(|l| (l.heads, l.bias)),
                eval_mse_total: mse_total.buf,
                eval_bce_total: bce.map(|(_, total)| total.buf),
                decode_code,
                decode_output,
                key: key.map(|k| k.buf),
                kl_total: kl_total.map(|v| v.buf),
                eval_kl_total: eval_latent.map(|l| l.kl_totals.buf),
                l1_total,
            },
        })
    }

    /// The scoring program: evaluation's gather (and noise) and forward, then each
    /// sample's score into `Slots::eval_scores` in place of the test set's totals (and of
    /// the squared errors evaluation scores anyway). `None`
    /// for a score the model cannot give: the BCE and the ELBO need a Sigmoid output, the
    /// ELBO a VAE.
    pub fn score_ops(&self, kind: ScoreKind) -> Option<Vec<Op>> {
        let s = &self.slots;
        let sigmoid = self.arch.output == Activation::Sigmoid;
        let (loss, summed) = match kind {
            ScoreKind::Mse => (LossKind::Mse, false),
            ScoreKind::Bce if sigmoid => (LossKind::Bce, false),
            ScoreKind::Elbo if sigmoid && s.eval_heads.is_some() => (LossKind::Bce, true),
            _ => return None,
        };
        let mut ops: Vec<Op> = self
            .eval
            .iter()
            .filter(|op| !matches!(op, Op::LossForward(_) | Op::RowScores(_)))
            .cloned()
            .collect();
        let (rows, cols) = (self.eval_rows, self.arch.input.elements());
        ops.push(Op::from(RowScores {
            loss,
            y: s.eval_output,
            t: s.eval_target,
            scores: s.eval_scores,
            rows,
            cols,
            summed,
        }));
        if let (ScoreKind::Elbo, Some((h, b))) = (kind, s.eval_heads) {
            ops.push(Op::from(KlScores {
                h,
                b,
                scores: s.eval_scores,
                rows,
                latent: self.code_len,
                beta: self.beta,
            }));
        }
        Some(ops)
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
