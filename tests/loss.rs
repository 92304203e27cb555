//! loss.wgsl against cpu::loss: MSE and BCE, value (with the running total) and gradient,
//! and the fused loss through the output Sigmoid (with its per-chunk totals).

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

#[test]
fn loss_act_backward_matches_reference() {
    common::assert_cases(&tables::loss_act_backward());
}

#[test]
fn row_scores_match_reference() {
    common::assert_cases(&tables::row_scores());
}
