//! PyTorch's CPU random stream, reproduced so that `--seed S` means what
//! `torch.manual_seed(S)` means: the same initial weights, bit for bit, and the same
//! `torch.randperm` shuffles drawn after them from the same stream.
//!
//! PyTorch's CPU generator is a 32-bit Mersenne Twister seeded with the seed's low 32
//! bits. `uniform_(from, to)` on a float tensor draws one 32-bit word per element and
//! keeps 24 bits; `randperm(n)` (for n below 2³²/20) is a Fisher–Yates shuffle drawing
//! one word per position. Both were checked against torch 2.15 (tests/fixtures).

pub struct TorchRng {
    mt: rand_mt::Mt,
}

impl TorchRng {
    pub fn new(seed: u64) -> Self {
        TorchRng {
            mt: rand_mt::Mt::new(seed as u32),
        }
    }

    /// One element of `tensor.uniform_(from, to)`: PyTorch rounds the bounds to f32,
    /// scales the 24-bit draw in f64, then rounds the result to f32.
    pub fn uniform(&mut self, from: f64, to: f64) -> f32 {
        let (from, to) = (from as f32, to as f32);
        let unit = (self.mt.next_u32() & 0x00ff_ffff) as f64 / (1u64 << 24) as f64;
        (unit * (to - from) as f64 + from as f64) as f32
    }

    /// `torch.randperm(n)`.
    pub fn randperm(&mut self, n: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in 0..n.saturating_sub(1) {
            let z = self.mt.next_u32() as usize % (n - i);
            order.swap(i, z + i);
        }
        order
    }
}

/// The bounds `nn.Linear`, `nn.Conv2d` and `nn.ConvTranspose2d` draw their weights from:
/// `kaiming_uniform_(a=√5)`, that is gain √(2/(1+5)) and bound √3·gain/√fan_in, computed in
/// f64 as Python does. It equals 1/√fan_in up to rounding, which is why the rounding here
/// follows PyTorch's arithmetic rather than the simpler formula.
pub fn kaiming_uniform_bound(fan_in: usize) -> f64 {
    let gain = (2.0f64 / (1.0 + 5.0)).sqrt();
    3.0f64.sqrt() * (gain / (fan_in as f64).sqrt())
}

/// The bias bound: 1/√fan_in.
pub fn bias_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_torch_uniform_and_randperm() {
        // torch.manual_seed(0); torch.empty(5).uniform_(-0.5, 0.5)
        let mut rng = TorchRng::new(0);
        let got: Vec<f32> = (0..5).map(|_| rng.uniform(-0.5, 0.5)).collect();
        let want = [
            -0.003743410110473633,
            0.26822179555892944,
            -0.4115225672721863,
            -0.3679695129394531,
            -0.19257718324661255,
        ];
        assert_eq!(got, want.map(|v: f64| v as f32));
        let perm = TorchRng::new(0).randperm(10);
        let mut sorted = perm.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<u32>>());
    }
}
