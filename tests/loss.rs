//! loss.wgsl against cpu::loss: MSE and BCE, value (with the running total) and gradient.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn loss_forward_matches_reference() {
    common::assert_cases(&tables::loss_forward());
}

#[test]
fn loss_backward_matches_reference() {
    common::assert_cases(&tables::loss_backward());
}
