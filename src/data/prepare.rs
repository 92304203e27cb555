//! How samples become a `Data`: the choices a user makes about their data (the command
//! line's data flags, the page's controls), applied the same wherever it is loaded.

/// The channels images are given: as the data has them, or fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// One channel (`--grey`): colour images by ITU-R 601-2 luma, as PIL's `convert("L")`.
    Grey,
    /// Three channels (`--rgb`): a grey image's one channel three times.
    Rgb,
}

/// What to do to a source's samples on the way in. Saved with a run (its record), so that
/// `--resume` and `eval` read the data exactly as training did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prepare {
    /// `--image-size HxW`: every image resized to (height, width).
    pub image_size: Option<(usize, usize)>,
    /// `--grey` or `--rgb`; `None` keeps the data's own channel count, and refuses
    /// images of mixed counts.
    pub colour: Option<Colour>,
    /// `--standardize`: rows to mean 0 and deviation 1 (a linear output), instead of
    /// min–max to [0, 1].
    pub standardize: bool,
    /// `--test-fraction F`: the share of each class held out for testing, where the
    /// source gives no split of its own (`DEFAULT_TEST_FRACTION` when `None`).
    pub test_fraction: Option<f64>,
    /// `--split-seed S`: seeds that split.
    pub split_seed: u64,
    /// `--label-column NAME`: a CSV's column of labels; every other is a feature.
    pub label_column: Option<String>,
}

/// The share of each class a split takes for testing, where the source has no split.
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;

impl Prepare {
    /// The test fraction in use.
    pub fn test_fraction(&self) -> f64 {
        self.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION)
    }
}
