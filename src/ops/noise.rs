//! The noise family: corrupting a batch for a denoising autoencoder. The draws come from
//! a counter-based generator (a hash of the seed, a stream and the element's position),
//! so the GPU kernel and the CPU reference give the same bits with no state to carry, and
//! a run is reproducible from its seed.

use super::{OpDef, Slot, View};

/// How an image is corrupted (`--noise gaussian:0.5`, `--noise mask:0.3`); saved in a
/// run's configuration as that text.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum NoiseKind {
    /// Adds noise of this standard deviation, then clamps to [0, 1].
    Gaussian { std: f32 },
    /// Zeroes each pixel with this probability.
    Mask { p: f32 },
}

impl TryFrom<String> for NoiseKind {
    type Error = String;

    fn try_from(text: String) -> Result<NoiseKind, String> {
        NoiseKind::parse(&text)
    }
}

impl From<NoiseKind> for String {
    fn from(noise: NoiseKind) -> String {
        noise.spec()
    }
}

impl NoiseKind {
    /// `gaussian:0.5` or `mask:0.3`, as the command line writes it.
    pub fn spec(self) -> String {
        match self {
            NoiseKind::Gaussian { std } => format!("gaussian:{std}"),
            NoiseKind::Mask { p } => format!("mask:{p}"),
        }
    }

    /// Reads a `spec()`; the message says what is wrong.
    pub fn parse(text: &str) -> Result<NoiseKind, String> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected gaussian:STD or mask:P"))?;
        let value: f32 = value
            .parse()
            .map_err(|_| format!("{text:?}: {value:?} is not a number"))?;
        match kind {
            "gaussian" if value.is_finite() && value > 0.0 && value <= 10.0 => {
                Ok(NoiseKind::Gaussian { std: value })
            }
            "gaussian" => Err(format!(
                "{text:?}: the standard deviation must be above 0 and at most 10"
            )),
            "mask" if value > 0.0 && value < 1.0 => Ok(NoiseKind::Mask { p: value }),
            "mask" => Err(format!("{text:?}: the fraction must be between 0 and 1")),
            _ => Err(format!(
                "{text:?}: unknown noise {kind:?}; use gaussian:STD or mask:P"
            )),
        }
    }

    /// The multiplier that turns the centred sum of four 16-bit uniform draws into noise
    /// of the wanted standard deviation (the sum's standard deviation is
    /// √(4·(65536² − 1)/12)), computed in f64 once, on the host.
    pub fn gaussian_scale(std: f32) -> f32 {
        let sum_std = (4.0 * (65536.0f64 * 65536.0 - 1.0) / 12.0).sqrt();
        (std as f64 / sum_std) as f32
    }

    /// A pixel is masked when its 24-bit draw is below this.
    pub fn mask_threshold(p: f32) -> u32 {
        (p as f64 * (1u64 << 24) as f64).round() as u32
    }
}

/// The stream the test set's noise is drawn from: the same every epoch, so that test
/// losses of different epochs compare.
pub const EVAL_STREAM: u32 = u32::MAX;

/// The counter generator's key (seed, stream) for a run's 64-bit seed: the generator
/// takes a 32-bit seed, and the high half is folded in rather than dropped, so that
/// seeds differing there draw differently. Training, evaluation and the prior's samples
/// all key it so.
pub fn counter_key(seed: u64, stream: u32) -> [u32; 2] {
    [(seed ^ (seed >> 32)) as u32, stream]
}

// x (R,C) clean, key (2: seed, stream) -> y (R,C) corrupted; element i of the batch draws
// from counter (batch_start·C + i)
#[derive(Clone, Debug, PartialEq)]
pub struct Corrupt {
    pub noise: NoiseKind,
    pub x: View,
    pub key: View,
    pub y: View,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for Corrupt {
    fn entry(&self) -> &'static str {
        match self.noise {
            NoiseKind::Gaussian { .. } => "noise_gaussian",
            NoiseKind::Mask { .. } => "noise_mask",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::input("key", &mut self.key, 2).u32s(),
            Slot::output("y", &mut self.y, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    /// Three hashes of about ten integer operations per draw, and the blend.
    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64 * 4.0
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    fn uses_step(&self) -> bool {
        true
    }
}
