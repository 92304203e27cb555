//! The latent family: what acts on a model's code. A variational autoencoder's
//! reparameterisation `z = μ + exp(½·log σ²)·ε` fused with its KL term, forward and
//! backward, and a sparse autoencoder's L1 penalty on the code (Keras'
//! `activity_regularizer`). ε comes from the counter-based generator of the noise family,
//! under the run's key, so that both backends draw the same uniforms and a resumed run
//! the same ε.

use super::{loss_totals, Activation, OpDef, Slot, View};

/// Mixed into the key's seed for ε, so that a denoising run's corruption (the same key)
/// and its ε are independent draws (shaders/latent.wgsl has the same constant).
pub const EPS_DOMAIN: u32 = 0x9e37_79b9;

/// The `act` a plain code's L1 kernel gets: no activation to carry the gradient through.
pub const NO_ACT: u32 = u32::MAX;

// h (R,2L) before the bias, b (2L), key (2) -> z (R,L), mu (R,L), totals (⌈R·L/256⌉) +=
// the KL terms; element i of the batch draws ε from counter batch_start·L + i
/// The two heads' product (μ then log σ² in each row, without their bias), the bias, and
/// the key: the sample z, μ on its own (what the pictures plot), and each chunk's sum of
/// KL terms −½·(1 + log σ² − μ² − σ²) added to a running total of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct ReparamKlForward {
    pub h: View,
    pub b: View,
    pub key: View,
    pub z: View,
    pub mu: View,
    pub totals: View,
    pub rows: usize,
    pub latent: usize,
}

impl OpDef for ReparamKlForward {
    fn entry(&self) -> &'static str {
        "reparam_kl_forward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.latent;
        vec![
            Slot::input("h", &mut self.h, 2 * len),
            Slot::input("b", &mut self.b, 2 * self.latent),
            Slot::input("key", &mut self.key, 2).u32s(),
            Slot::output("z", &mut self.z, len),
            Slot::output("mu", &mut self.mu, len),
            Slot::in_place("totals", &mut self.totals, loss_totals(len)),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("latent", self.latent)]
    }

    /// Per element: two bias adds, Box–Muller (a log, a sqrt, a cos and four more), the
    /// exp, the sample's multiply-add and the KL term's five.
    fn flops(&self) -> f64 {
        (self.rows * self.latent) as f64 * 20.0
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    fn uses_step(&self) -> bool {
        true
    }
}

// h (R,2L), b (2L), key (2), dz (R,L) -> dh (R,2L)
/// The heads' gradient: dμ = dz + β·μ/R, d log σ² = ½·dz·ε·σ + ½·β·(σ² − 1)/R, with ε
/// drawn again from the forward's counters.
#[derive(Clone, Debug, PartialEq)]
pub struct ReparamKlBackward {
    pub h: View,
    pub b: View,
    pub key: View,
    pub dz: View,
    pub dh: View,
    pub rows: usize,
    pub latent: usize,
    pub beta: f32,
}

impl OpDef for ReparamKlBackward {
    fn entry(&self) -> &'static str {
        "reparam_kl_backward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.latent;
        vec![
            Slot::input("h", &mut self.h, 2 * len),
            Slot::input("b", &mut self.b, 2 * self.latent),
            Slot::input("key", &mut self.key, 2).u32s(),
            Slot::input("dz", &mut self.dz, len),
            Slot::output("dh", &mut self.dh, 2 * len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("latent", self.latent)]
    }

    /// Per element: ε again (seven), the exp, and the two gradients' eight.
    fn flops(&self) -> f64 {
        (self.rows * self.latent) as f64 * 18.0
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    fn uses_step(&self) -> bool {
        true
    }
}

// a (R,C), dy (R,C) -> dz (R,C) = dy + act'·λ·sign(a)/R, totals (⌈R·C/256⌉) += Σ|a|
/// The L1 penalty λ·Σ|a| (averaged over the R rows) on the code `a`: its subgradient added
/// to the gradient `dy` the code already has, carried through the code's activation where
/// `dy` is that of its pre-activation (a fused stage), and each chunk's Σ|a| added to a
/// running total of its own, for the penalty's value.
#[derive(Clone, Debug, PartialEq)]
pub struct L1Backward {
    pub a: View,
    pub dy: View,
    pub dz: View,
    pub totals: View,
    pub rows: usize,
    pub cols: usize,
    pub lambda: f32,
    /// The activation that produced `a`, when `dy` is the gradient of its input.
    pub act: Option<Activation>,
}

impl OpDef for L1Backward {
    fn entry(&self) -> &'static str {
        "l1_backward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("a", &mut self.a, len),
            Slot::input("dy", &mut self.dy, len),
            Slot::output("dz", &mut self.dz, len),
            Slot::in_place("totals", &mut self.totals, loss_totals(len)),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    /// Per element: the sign and its scale, the activation's derivative, the add and |a|.
    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64 * 6.0
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

// h (R,2L) before the bias, b (2L), scores (R) -> scores (R) += β·KL of each row
/// A VAE's KL term of each sample, weighted by β, added to its score: after a summed
/// `RowScores` of the BCE, the negative ELBO of each sample (one ε per sample, as the
/// evaluation draws it, in the reconstruction).
#[derive(Clone, Debug, PartialEq)]
pub struct KlScores {
    pub h: View,
    pub b: View,
    pub scores: View,
    pub rows: usize,
    pub latent: usize,
    pub beta: f32,
}

impl OpDef for KlScores {
    fn entry(&self) -> &'static str {
        "kl_scores"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        vec![
            Slot::input("h", &mut self.h, 2 * self.rows * self.latent),
            Slot::input("b", &mut self.b, 2 * self.latent),
            Slot::in_place("scores", &mut self.scores, self.rows),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("latent", self.latent)]
    }

    /// Per element: two bias adds, the exp and the KL term's five; then the weighted add.
    fn flops(&self) -> f64 {
        (self.rows * self.latent) as f64 * 8.0 + 2.0 * self.rows as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}
