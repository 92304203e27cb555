//! MNIST: validated loading of the gzipped IDX files, and per-epoch shuffling.

mod mnist;

pub use self::mnist::{default_data_dir, load_mnist, Dataset, Mnist};

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The order of the training images for each epoch, reproducible from one seed.
pub struct Shuffler {
    rng: rand::rngs::StdRng,
}

impl Shuffler {
    pub fn new(seed: u64) -> Self {
        Shuffler {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    /// The next epoch's permutation of 0..count.
    pub fn next_epoch(&mut self, count: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..count as u32).collect();
        order.shuffle(&mut self.rng);
        order
    }
}

/// Packs bytes little-endian, four to a u32, as the GPU's resident dataset holds them.
pub fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(word)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_permutations_that_differ_by_epoch_and_repeat_by_seed() {
        let mut a = Shuffler::new(7);
        let (e1, e2) = (a.next_epoch(100), a.next_epoch(100));
        let mut sorted = e1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
        assert_ne!(e1, e2);
        assert_eq!(Shuffler::new(7).next_epoch(100), e1);
    }

    #[test]
    fn packing_is_little_endian_and_pads_the_last_word() {
        assert_eq!(pack_bytes(&[1, 2, 3, 4, 5]), vec![0x04030201, 5]);
    }
}
