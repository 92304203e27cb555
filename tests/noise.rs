//! noise.wgsl against cpu::noise: the corrupted batch is the same, bit for bit.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn noise_matches_reference_bit_for_bit() {
    let cases = tables::noise();
    assert!(cases.iter().all(|c| c.tol == tables::EXACT));
    common::assert_cases(&cases);
}
