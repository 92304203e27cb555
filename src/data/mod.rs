//! MNIST: its gzipped IDX files checked from their bytes, and packing for the GPU.

mod mnist;

pub use self::mnist::{
    check_limit, data_error, decode_idx, limit_problem, mnist_from_gz, Dataset, Mnist, FILES,
    IDX_IMAGES, IDX_LABELS, TEST_COUNT, TRAIN_COUNT,
};

/// MNIST's images are 28×28 bytes.
pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

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
    fn packing_is_little_endian_and_pads_the_last_word() {
        assert_eq!(pack_bytes(&[1, 2, 3, 4, 5]), vec![0x04030201, 5]);
    }
}
