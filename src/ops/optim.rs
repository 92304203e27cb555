//! The optim family: Adam, as `torch.optim.Adam` (no weight decay, no amsgrad).

use super::{OpDef, Slot, View};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl AdamConfig {
    pub fn new(lr: f32) -> Self {
        AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// (1 − β1^t, 1 − β2^t) for step t ≥ 1, in f64 so that late steps stay exact.
    pub fn bias_corrections(&self, t: u64) -> (f32, f32) {
        let t = t.min(i32::MAX as u64) as i32;
        (
            (1.0 - (self.beta1 as f64).powi(t)) as f32,
            (1.0 - (self.beta2 as f64).powi(t)) as f32,
        )
    }
}

// grad (L) -> param (L), m (L), v (L), updated in place; the bias corrections come from the step
#[derive(Clone, Debug, PartialEq)]
pub struct AdamUpdate {
    pub grad: View,
    pub param: View,
    pub m: View,
    pub v: View,
    pub config: AdamConfig,
}

impl OpDef for AdamUpdate {
    fn entry(&self) -> &'static str {
        "adam_update"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.param.len;
        vec![
            Slot::input("grad", &mut self.grad, len),
            Slot::in_place("param", &mut self.param, len),
            Slot::in_place("m", &mut self.m, len),
            Slot::in_place("v", &mut self.v, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("len", self.param.len)]
    }

    /// Two moment updates, a square root, a divide and the step: about 12 per element.
    fn flops(&self) -> f64 {
        self.param.len as f64 * 12.0
    }

    fn uses_step(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_corrections_tend_to_one() {
        let cfg = AdamConfig::new(1e-3);
        let (a, b) = cfg.bias_corrections(1);
        assert!((a - 0.1).abs() < 1e-7 && (b - 0.001).abs() < 1e-7);
        assert_eq!(cfg.bias_corrections(1_000_000), (1.0, 1.0));
    }
}
