//! Fusion: a pass over a model's `Sequential` that groups neighbouring modules into the
//! stages one kernel runs, forward and backward:
//!
//! - a `Linear` and the activation after it: one product with the bias and activation in
//!   its epilogue; backward, the weight gradient with the bias gradient, and the input
//!   gradient carried on through the activation below;
//! - a `Conv2d`, its activation and the `MaxPool2d` after them (argmax kept): one
//!   dispatch forward and one backward;
//! - a `ConvTranspose2d` and its activation, likewise;
//! - a `Linear` and the `Reparameterize` after it (a VAE's two heads): one product
//!   without its bias, then the sampling and KL kernel, which adds the heads' bias;
//!   backward, the sampling's gradient, the weight gradient with the bias gradient, and
//!   the input gradient carried on through the activation below;
//! - the loss through the output activation, where the loss kernel can take its gradient
//!   (a Sigmoid, or the identity of a linear output): the last stage then starts its
//!   backward from the pre-activation.
//!
//! Unfused, every module is a stage of its own: the readable path the tests hold the
//! fused one to. Both compute the same function. A new model only lists its modules; the
//! pass needs no change unless it brings a new kind of module.

use crate::model::sequential::{Module, Sequential};
use crate::ops::Activation;

/// Whether a graph runs neighbouring ops as one kernel (see the module's comment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fusion {
    #[default]
    Fused,
    Unfused,
}

/// What produced a stage's input, as a fused stage must know to carry its input gradient
/// on through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Below {
    /// The model's input, or anything a fused backward cannot see through.
    Plain,
    /// An activation (fused into the stage below).
    Act(Activation),
    /// A max-pool (module index `pool`) over an activation.
    PoolAct { act: Activation, pool: usize },
}

/// One stage: what one layer of the built graph runs. Indices are module indices in the
/// `Sequential`; the first names the stage's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// One module on its own.
    Single(usize),
    /// `Linear` then its activation.
    LinearAct {
        linear: usize,
        act: Activation,
        below: Below,
    },
    /// `Conv2d`, its activation and, if any, the `MaxPool2d` after it.
    ConvAct {
        conv: usize,
        act: Activation,
        pool: Option<usize>,
        below: Below,
    },
    /// `ConvTranspose2d` and its activation.
    ConvTransposeAct {
        tconv: usize,
        act: Activation,
        below: Below,
    },
    /// A VAE's heads (`Linear`) and the `Reparameterize` after them.
    LinearReparam { linear: usize, below: Below },
}

impl Stage {
    /// The module indices the stage spans, first to last.
    pub fn modules(&self) -> std::ops::RangeInclusive<usize> {
        match *self {
            Stage::Single(i) => i..=i,
            Stage::LinearAct { linear, .. } => linear..=linear + 1,
            Stage::ConvAct { conv, pool, .. } => conv..=pool.unwrap_or(conv + 1),
            Stage::ConvTransposeAct { tconv, .. } => tconv..=tconv + 1,
            Stage::LinearReparam { linear, .. } => linear..=linear + 1,
        }
    }

    /// What the stage reading this one's output has below it.
    fn as_below(&self) -> Below {
        match *self {
            Stage::LinearAct { act, .. } | Stage::ConvTransposeAct { act, .. } => Below::Act(act),
            Stage::ConvAct {
                act, pool: None, ..
            } => Below::Act(act),
            Stage::ConvAct {
                act,
                pool: Some(pool),
                ..
            } => Below::PoolAct { act, pool },
            Stage::Single(_) | Stage::LinearReparam { .. } => Below::Plain,
        }
    }

    /// Whether this stage's backward carries its input gradient on through `below`: the
    /// matmul's epilogue through an activation, the conv kernels through an activation
    /// and a max-pool. A stage of one module carries nothing.
    fn carries(&self, below: Below) -> bool {
        match self {
            Stage::Single(_) => below == Below::Plain,
            Stage::LinearAct { .. } | Stage::LinearReparam { .. } => {
                matches!(below, Below::Plain | Below::Act(_))
            }
            Stage::ConvAct { .. } | Stage::ConvTransposeAct { .. } => true,
        }
    }

    fn set_below(&mut self, new: Below) {
        match self {
            Stage::LinearAct { below, .. }
            | Stage::ConvAct { below, .. }
            | Stage::ConvTransposeAct { below, .. }
            | Stage::LinearReparam { below, .. } => *below = new,
            Stage::Single(_) => {}
        }
    }
}

/// The stages of a model, and which of them the loss takes its gradient through.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub stages: Vec<Stage>,
    /// The stage whose output is the code.
    pub code: usize,
    /// The output activation the loss kernel also takes the gradient through (a Sigmoid,
    /// or the identity of a linear output), so that the last stage's backward starts from
    /// its pre-activation; `None` where the loss has plain kernels of its own.
    pub loss_through: Option<Activation>,
}

/// Whether the loss kernel takes the gradient through what the model's output is.
fn loss_carries(below: Below) -> bool {
    matches!(
        below,
        Below::Plain | Below::Act(Activation::Sigmoid | Activation::Identity)
    )
}

/// The pass: groups `seq`'s modules into stages, then keeps an activation (and pool)
/// fused only where whatever reads the stage's output carries the gradient through it.
pub fn plan(seq: &Sequential, fusion: Fusion) -> Plan {
    let mut stages = match fusion {
        Fusion::Fused => group(&seq.modules),
        Fusion::Unfused => (0..seq.modules.len()).map(Stage::Single).collect(),
    };
    // From the output back, so that each stage is judged by its reader's final form.
    for i in (0..stages.len()).rev() {
        let output = stages[i].as_below();
        let carried = match stages.get(i + 1) {
            Some(reader) => reader.carries(output),
            None => loss_carries(output),
        };
        if !carried {
            let singles: Vec<Stage> = stages[i].modules().map(Stage::Single).collect();
            stages.splice(i..=i, singles);
        }
    }
    let mut below = Below::Plain;
    for stage in &mut stages {
        stage.set_below(below);
        below = stage.as_below();
    }
    let code = stages
        .iter()
        .position(|s| s.modules().contains(&seq.code))
        .unwrap_or(0);
    let loss_through = match below {
        Below::Act(act @ (Activation::Sigmoid | Activation::Identity)) => Some(act),
        _ => None,
    };
    Plan {
        stages,
        code,
        loss_through,
    }
}

/// Each module with the activation (and a conv's pool) after it, where a kernel runs
/// them together.
fn group(m: &[Module]) -> Vec<Stage> {
    let act_at = |i: usize| match m.get(i) {
        Some(Module::Act(act)) => Some(*act),
        _ => None,
    };
    let below = Below::Plain;
    let mut stages = Vec::new();
    let mut i = 0;
    while i < m.len() {
        let heads = matches!(m.get(i + 1), Some(Module::Reparameterize { .. }));
        let stage = match (&m[i], act_at(i + 1)) {
            (Module::Linear { .. }, None) if heads => Stage::LinearReparam { linear: i, below },
            (Module::Linear { .. }, Some(act)) => Stage::LinearAct {
                linear: i,
                act,
                below,
            },
            (Module::Conv2d { .. }, Some(act)) => {
                let pool = matches!(m.get(i + 2), Some(Module::MaxPool2d { .. }));
                Stage::ConvAct {
                    conv: i,
                    act,
                    pool: pool.then_some(i + 2),
                    below,
                }
            }
            (Module::ConvTranspose2d { .. }, Some(act)) => Stage::ConvTransposeAct {
                tconv: i,
                act,
                below,
            },
            _ => Stage::Single(i),
        };
        i = stage.modules().end() + 1;
        stages.push(stage);
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sequential::Chw;
    use crate::model::Arch;

    #[test]
    fn the_dense_model_fuses_each_linear_with_its_activation() {
        let seq = Arch::dense(vec![100, 30]).sequential();
        let p = plan(&seq, Fusion::Fused);
        let relu = Activation::Relu;
        assert_eq!(
            p.stages,
            [
                Stage::LinearAct {
                    linear: 0,
                    act: relu,
                    below: Below::Plain
                },
                Stage::LinearAct {
                    linear: 2,
                    act: relu,
                    below: Below::Act(relu)
                },
                Stage::LinearAct {
                    linear: 4,
                    act: relu,
                    below: Below::Act(relu)
                },
                Stage::LinearAct {
                    linear: 6,
                    act: Activation::Sigmoid,
                    below: Below::Act(relu)
                },
            ]
        );
        assert_eq!(p.code, 1);
        assert_eq!(p.loss_through, Some(Activation::Sigmoid));
    }

    #[test]
    fn a_vae_fuses_its_heads_with_the_sampling() {
        let seq = Arch::vae(vec![400, 20]).sequential();
        let relu = Activation::Relu;
        let p = plan(&seq, Fusion::Fused);
        assert_eq!(
            p.stages,
            [
                Stage::LinearAct {
                    linear: 0,
                    act: relu,
                    below: Below::Plain
                },
                Stage::LinearReparam {
                    linear: 2,
                    below: Below::Act(relu)
                },
                Stage::LinearAct {
                    linear: 4,
                    act: relu,
                    below: Below::Plain
                },
                Stage::LinearAct {
                    linear: 6,
                    act: Activation::Sigmoid,
                    below: Below::Act(relu)
                },
            ]
        );
        assert_eq!(p.code, 1, "the code is the sample");
        assert_eq!(p.loss_through, Some(Activation::Sigmoid));
        let unfused = plan(&seq, Fusion::Unfused);
        assert_eq!(unfused.stages[3], Stage::Single(3));
        assert_eq!(unfused.code, 3);
    }

    /// The conv VAE's heads fuse with the sampling across `nn.Flatten`, which runs
    /// nothing; the code is the sample.
    #[test]
    fn a_conv_vae_fuses_its_heads_with_the_sampling() {
        let seq = Arch::conv_vae(vec![16, 8, 20]).sequential();
        let p = plan(&seq, Fusion::Fused);
        let heads = Stage::LinearReparam {
            linear: 7,
            below: Below::Plain,
        };
        assert_eq!(p.stages[p.code], heads, "the code is the sample");
        assert_eq!(p.stages[p.code - 1], Stage::Single(6), "the flatten");
        assert_eq!(p.loss_through, Some(Activation::Sigmoid));
        let unfused = plan(&seq, Fusion::Unfused);
        assert_eq!(unfused.stages[unfused.code], Stage::Single(8));
    }

    #[test]
    fn the_conv_model_fuses_conv_activation_and_pool() {
        let seq = Arch::default_conv().sequential();
        let p = plan(&seq, Fusion::Fused);
        let relu = Activation::Relu;
        let kinds: Vec<_> = p
            .stages
            .iter()
            .map(|s| (*s.modules().start(), s.as_below()))
            .collect();
        assert_eq!(
            kinds,
            [
                (0, Below::PoolAct { act: relu, pool: 2 }),
                (3, Below::PoolAct { act: relu, pool: 5 }),
                (6, Below::Act(relu)),
                (8, Below::Act(relu)),
                (10, Below::Act(Activation::Sigmoid)),
            ]
        );
        assert_eq!(p.code, 1, "the code is the second pool's output");
        assert_eq!(p.loss_through, Some(Activation::Sigmoid));
    }

    #[test]
    fn unfused_every_module_is_a_stage() {
        let seq = Arch::default_conv().sequential();
        let p = plan(&seq, Fusion::Unfused);
        assert_eq!(p.stages.len(), seq.modules.len());
        assert!(p.stages.iter().all(|s| matches!(s, Stage::Single(_))));
        assert_eq!(p.code, seq.code);
        assert_eq!(p.loss_through, None);
    }

    #[test]
    fn a_stage_keeps_its_activation_only_where_its_reader_carries_the_gradient() {
        let input = Chw { c: 1, h: 4, w: 4 };
        let relu = Activation::Relu;
        // conv, ReLU, pool, then a linear layer: the product's epilogue cannot route a
        // gradient through a pool, so the conv stage runs unfused.
        let modules = vec![
            Module::Conv2d {
                input,
                out_channels: 2,
                kernel: 3,
                stride: 1,
                pad: 1,
            },
            Module::Act(relu),
            Module::MaxPool2d {
                input: Chw { c: 2, h: 4, w: 4 },
                kernel: 2,
                stride: 2,
            },
            Module::Linear {
                inputs: 8,
                outputs: 5,
            },
            Module::Act(relu),
            Module::Linear {
                inputs: 5,
                outputs: 16,
            },
            Module::Act(Activation::Sigmoid),
        ];
        let seq = Sequential {
            input: 16,
            modules,
            code: 4,
        };
        let p = plan(&seq, Fusion::Fused);
        assert_eq!(
            p.stages,
            [
                Stage::Single(0),
                Stage::Single(1),
                Stage::Single(2),
                Stage::LinearAct {
                    linear: 3,
                    act: relu,
                    below: Below::Plain
                },
                Stage::LinearAct {
                    linear: 5,
                    act: Activation::Sigmoid,
                    below: Below::Act(relu)
                },
            ]
        );
        assert_eq!(p.code, 3);
        assert_eq!(p.loss_through, Some(Activation::Sigmoid));

        // An output the loss kernel cannot take the gradient through stays a stage of its
        // own, and so, one by one, does every activation whose reader is then unfused.
        let mut relu_out = seq.clone();
        *relu_out.modules.last_mut().unwrap() = Module::Act(relu);
        let p = plan(&relu_out, Fusion::Fused);
        let singles: Vec<Stage> = (0..7).map(Stage::Single).collect();
        assert_eq!(p.stages, singles);
        assert_eq!(p.loss_through, None);
    }
}
