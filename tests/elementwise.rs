//! elementwise.wgsl against cpu::elementwise: bias, ReLU and Sigmoid, forward and backward.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn bias_forward_matches_reference() {
    common::assert_cases(&tables::bias_forward());
}

#[test]
fn bias_backward_matches_reference() {
    common::assert_cases(&tables::bias_backward());
}

#[test]
fn activations_match_reference() {
    common::assert_cases(&tables::activation_forward());
    common::assert_cases(&tables::activation_backward());
}
