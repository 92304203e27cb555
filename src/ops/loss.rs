//! The loss family: MSE and BCE over a (rows, cols) batch, value and gradient. Both are
//! means over every element, as PyTorch's `MSELoss()` and `BCELoss()`, or, `summed`,
//! sums over each row averaged over the rows (`reduction='sum'` over the batch, divided
//! by its size): a variational autoencoder's reconstruction term, in nats per image.
//! And each row's own loss (`RowScores`): the per-sample reconstruction error that anomaly
//! detection ranks samples by.

use super::{Activation, OpDef, Slot, View};

/// Saved by name (`mse`, `bce`) in a run's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    Mse,
    Bce,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::Bce => "bce",
        }
    }
}

// y (R,C), t (R,C) -> loss (1), total (1) += loss·R (loss: the mean, or summed the mean
// row's sum)
#[derive(Clone, Debug, PartialEq)]
pub struct LossForward {
    pub loss: LossKind,
    pub y: View,
    pub t: View,
    pub value: View,
    /// A running sum of `loss · rows`, read once per epoch.
    pub total: View,
    pub rows: usize,
    pub cols: usize,
    /// Summed over each row, averaged over the rows, instead of averaged over every element.
    pub summed: bool,
}

impl OpDef for LossForward {
    fn entry(&self) -> &'static str {
        match self.loss {
            LossKind::Mse => "mse_forward",
            LossKind::Bce => "bce_forward",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("y", &mut self.y, len),
            Slot::input("t", &mut self.t, len),
            Slot::output("value", &mut self.value, 1),
            Slot::in_place("total", &mut self.total, 1),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        loss_dims(self.rows, self.cols, self.summed)
    }

    /// A difference, a square and a sum (MSE), or two logs and a blend (BCE).
    fn flops(&self) -> f64 {
        let per = match self.loss {
            LossKind::Mse => 3.0,
            LossKind::Bce => 6.0,
        };
        (self.rows * self.cols) as f64 * per
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

// y (R,C), t (R,C) -> dy (R,C)
#[derive(Clone, Debug, PartialEq)]
pub struct LossBackward {
    pub loss: LossKind,
    pub y: View,
    pub t: View,
    pub dy: View,
    pub rows: usize,
    pub cols: usize,
    /// As `LossForward::summed`.
    pub summed: bool,
}

impl OpDef for LossBackward {
    fn entry(&self) -> &'static str {
        match self.loss {
            LossKind::Mse => "mse_backward",
            LossKind::Bce => "bce_backward",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("y", &mut self.y, len),
            Slot::input("t", &mut self.t, len),
            Slot::output("dy", &mut self.dy, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        loss_dims(self.rows, self.cols, self.summed)
    }

    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64 * 3.0
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

/// A loss op's sizes, with `summed` where the loss is a per-image sum (a VAE's), so that
/// benchmark rows tell the two apart.
fn loss_dims(rows: usize, cols: usize, summed: bool) -> Vec<(&'static str, usize)> {
    let mut dims = vec![("rows", rows), ("cols", cols)];
    if summed {
        dims.push(("summed", 1));
    }
    dims
}

/// Elements whose terms of the training loss one workgroup adds into a running total of
/// its own: the fused loss's (shaders/loss.wgsl has the same constant), a VAE's KL and a
/// code's L1 (shaders/latent.wgsl gives each element an invocation, so there this is
/// `gpu::kernels::WORKGROUP`). 256 spreads a batch of 128 images of 784 pixels over 392
/// workgroups, enough to fill a GPU of 132 compute units (at 1024 it made 98).
pub const LOSS_CHUNK: usize = 256;

/// The running totals a loss, KL or L1 kernel keeps for `len` elements: one per chunk.
pub fn loss_totals(len: usize) -> usize {
    len.div_ceil(LOSS_CHUNK)
}

// y (R,C), t (R,C) -> dz (R,C), totals (⌈R·C/256⌉) += each chunk's loss terms / C
/// The loss of the output activation's output, its gradient carried back through the
/// activation (a Sigmoid, or the identity of a linear output), and its value, in one pass
/// over many workgroups: dz = σ'·dL/dy with y = σ(z) (dz = dL/dy, linear). Each chunk of
/// `LOSS_CHUNK` elements adds its sum of loss terms, over C, to its own running total, so
/// that no workgroup ever sums a whole batch; the totals add up to `loss · rows`, as
/// `LossForward`'s one total does, and are folded when read, once per epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct LossActBackward {
    pub loss: LossKind,
    /// The output activation the gradient goes through: `Sigmoid` or `Identity`.
    pub act: Activation,
    pub y: View,
    pub t: View,
    pub dz: View,
    pub totals: View,
    pub rows: usize,
    pub cols: usize,
    /// As `LossForward::summed`: each chunk then adds its terms undivided.
    pub summed: bool,
}

impl OpDef for LossActBackward {
    fn entry(&self) -> &'static str {
        match (self.loss, self.act) {
            (LossKind::Mse, Activation::Identity) => "mse_identity_backward",
            (LossKind::Bce, Activation::Identity) => "bce_identity_backward",
            (LossKind::Mse, _) => "mse_sigmoid_backward",
            (LossKind::Bce, _) => "bce_sigmoid_backward",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("y", &mut self.y, len),
            Slot::input("t", &mut self.t, len),
            Slot::output("dz", &mut self.dz, len),
            Slot::in_place("totals", &mut self.totals, loss_totals(len)),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        loss_dims(self.rows, self.cols, self.summed)
    }

    /// The loss's value and gradient terms, and the activation's derivative.
    fn flops(&self) -> f64 {
        let per = match self.loss {
            LossKind::Mse => 3.0 + 3.0,
            LossKind::Bce => 6.0 + 3.0,
        };
        (self.rows * self.cols) as f64 * (per + self.act.grad_flops())
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

/// What a sample's anomaly score is: its reconstruction's mean squared error or mean
/// cross-entropy, or a VAE's negative ELBO (the cross-entropy summed over its values plus
/// β times its KL term). Saved and shown by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    Mse,
    Bce,
    Elbo,
}

impl ScoreKind {
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Mse => "mse",
            ScoreKind::Bce => "bce",
            ScoreKind::Elbo => "elbo",
        }
    }

    /// What the score is, in words, for axes and messages.
    pub fn describe(self) -> &'static str {
        match self {
            ScoreKind::Mse => "mean squared error per sample",
            ScoreKind::Bce => "mean cross-entropy per sample",
            ScoreKind::Elbo => "negative ELBO per sample (nats)",
        }
    }
}

// y (R,C), t (R,C) -> scores (R): each row's mean loss term (summed: its sum)
/// Each sample's reconstruction error, one workgroup per row: the mean of its squared
/// errors or cross-entropies over its C values (`reduction='none'` then a mean over the
/// row in PyTorch), or, `summed`, their sum (a VAE's reconstruction term). What `score`
/// ranks samples by: higher is more anomalous.
#[derive(Clone, Debug, PartialEq)]
pub struct RowScores {
    pub loss: LossKind,
    pub y: View,
    pub t: View,
    pub scores: View,
    pub rows: usize,
    pub cols: usize,
    pub summed: bool,
}

impl OpDef for RowScores {
    fn entry(&self) -> &'static str {
        match self.loss {
            LossKind::Mse => "mse_scores",
            LossKind::Bce => "bce_scores",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("y", &mut self.y, len),
            Slot::input("t", &mut self.t, len),
            Slot::output("scores", &mut self.scores, self.rows),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        loss_dims(self.rows, self.cols, self.summed)
    }

    /// The loss terms, as the forward's.
    fn flops(&self) -> f64 {
        let per = match self.loss {
            LossKind::Mse => 3.0,
            LossKind::Bce => 6.0,
        };
        (self.rows * self.cols) as f64 * per
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}
