//! batch.wgsl against cpu::batch: gathering a shuffled batch from the packed dataset, or
//! from a dataset of floats.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn gather_batch_matches_reference() {
    common::assert_cases(&tables::gather_batch());
}

#[test]
fn gather_rows_matches_reference() {
    common::assert_cases(&tables::gather_rows());
}
