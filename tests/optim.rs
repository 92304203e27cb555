//! optim.wgsl against cpu::optim: Adam over several steps' bias corrections.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn adam_update_matches_reference() {
    common::assert_cases(&tables::adam_update());
}
