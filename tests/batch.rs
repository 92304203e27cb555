//! batch.wgsl against cpu::batch: gathering a shuffled batch from the packed dataset.

mod common;

use common::{check_op, TIGHT};
use wgsl_autoencoder::data::pack_bytes;
use wgsl_autoencoder::ops::{views, GatherBatch, Op, StepParams};

#[test]
fn gather_batch_matches_reference() {
    // cols that are not multiples of 4, so images straddle packed words.
    for (images, cols, rows, start) in [
        (1usize, 1usize, 1usize, 0usize),
        (10, 7, 3, 5),
        (50, 784, 17, 20),
        (300, 784, 128, 172),
    ] {
        let bytes: Vec<u8> = (0..images * cols).map(|i| (i * 37 % 256) as u8).collect();
        let packed = pack_bytes(&bytes);
        // A permutation that is not the identity.
        let perm: Vec<u32> = (0..images as u32)
            .map(|i| (i * 7 + 3) % images as u32)
            .collect();
        let perm = if images % 7 == 0 {
            (0..images as u32).rev().collect()
        } else {
            perm
        };
        let v = views(&[packed.len(), images, rows * cols]);
        let op = Op::from(GatherBatch {
            data: v[0],
            perm: v[1],
            x: v[2],
            images,
            rows,
            cols,
        });
        let step = StepParams {
            batch_start: start as u32,
            batch_len: rows as u32,
            ..Default::default()
        };
        let init = vec![packed, perm, vec![0; rows * cols]];
        check_op(
            &format!("{images} images of {cols}, rows {rows} from {start}"),
            &op,
            &init,
            step,
            TIGHT,
        );
    }
}
