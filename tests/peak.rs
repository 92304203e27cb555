//! peak.wgsl against cpu::peak: the kernels that measure the card's FMA rate and memory
//! bandwidth, checked like every other kernel, at small sizes.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn peak_fma_matches_reference() {
    common::assert_cases(&tables::peak_fma());
}

#[test]
fn peak_copy_matches_reference() {
    common::assert_cases(&tables::peak_copy());
}

#[test]
fn peak_read_matches_reference() {
    common::assert_cases(&tables::peak_read());
}
