//! PyTorch's CPU random stream, reproduced so that `--seed S` means what
//! `torch.manual_seed(S)` means: the same initial weights, bit for bit, and the same
//! `torch.randperm` shuffles drawn after them from the same stream.
//!
//! PyTorch's CPU generator is a 32-bit Mersenne Twister seeded with the seed's low 32
//! bits. `uniform_(from, to)` on a float tensor draws one 32-bit word per element and
//! keeps 24 bits; `randperm(n)` (for n below 2³²/20) is a Fisher–Yates shuffle drawing
//! one word per position. Both were checked against torch 2.15 (tests/fixtures).

/// MT19937's state: 624 words and the position of the next one. Written out here rather
/// than borrowed from a crate so that it can be saved in a checkpoint and restored, and a
/// resumed run draws exactly what an uninterrupted one would.
const N: usize = 624;
const M: usize = 397;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchRng {
    state: Vec<u32>,
    index: usize,
}

impl TorchRng {
    pub fn new(seed: u64) -> Self {
        // PyTorch seeds its CPU generator with the seed's low 32 bits.
        let mut state = vec![0u32; N];
        state[0] = seed as u32;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        TorchRng { state, index: N }
    }

    /// The state as 625 words: the 624 of MT19937, then the index of the next.
    pub fn to_words(&self) -> Vec<u32> {
        let mut words = self.state.clone();
        words.push(self.index as u32);
        words
    }

    /// The state `to_words` wrote; `None` for anything that is not one.
    pub fn from_words(words: &[u32]) -> Option<TorchRng> {
        let (&index, state) = words.split_last()?;
        if state.len() != N || index as usize > N || state.iter().all(|&w| w == 0) {
            return None;
        }
        Some(TorchRng {
            state: state.to_vec(),
            index: index as usize,
        })
    }

    fn refill(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.refill();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// One element of `tensor.uniform_(from, to)`: PyTorch rounds the bounds to f32,
    /// scales the 24-bit draw in f64, then rounds the result to f32.
    pub fn uniform(&mut self, from: f64, to: f64) -> f32 {
        let (from, to) = (from as f32, to as f32);
        let unit = (self.next_u32() & 0x00ff_ffff) as f64 / (1u64 << 24) as f64;
        (unit * (to - from) as f64 + from as f64) as f32
    }

    /// `torch.randperm(n)`.
    pub fn randperm(&mut self, n: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in 0..n.saturating_sub(1) {
            let z = self.next_u32() as usize % (n - i);
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

    #[test]
    fn matches_the_reference_mersenne_twister() {
        // mt19937 with seed 5489 (the reference implementation's default): 10000th output.
        let mut rng = TorchRng::new(5489);
        let last = (0..10_000).map(|_| rng.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    #[test]
    fn a_restored_state_continues_the_same_stream() {
        let mut rng = TorchRng::new(3);
        rng.randperm(1000);
        let saved = rng.to_words();
        let ahead: Vec<u32> = (0..2000).map(|_| rng.next_u32()).collect();
        let mut restored = TorchRng::from_words(&saved).unwrap();
        let again: Vec<u32> = (0..2000).map(|_| restored.next_u32()).collect();
        assert_eq!(ahead, again);
        assert!(TorchRng::from_words(&saved[1..]).is_none());
        assert!(TorchRng::from_words(&[0; 625]).is_none());
    }
}
