//! The conv2d ladder (shaders/conv2d/) against cpu::conv2d: forward, input, weight and bias gradients, and the
//! fused stages (conv + bias + activation [+ max-pool]; all gradients in one pass).

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn conv2d_table_covers_the_issue() {
    let s = tables::conv2d_shapes();
    assert!(s.len() >= 60, "only {} shapes", s.len());
    for k in [1, 2, 3, 5] {
        assert!(
            s.iter().any(|s| s.kh == k && s.stride == 2),
            "kernel {k} stride 2"
        );
    }
    assert!(
        s.iter().any(|s| s.pad == 2) && s.iter().any(|s| s.h != s.w) && s.iter().any(|s| s.n == 5)
    );
}

#[test]
fn conv2d_forward_matches_reference() {
    common::assert_cases(&tables::conv2d_forward());
}

#[test]
fn conv2d_backward_input_matches_reference() {
    common::assert_cases(&tables::conv2d_backward_input());
}

#[test]
fn conv2d_backward_weight_matches_reference() {
    common::assert_cases(&tables::conv2d_backward_weight());
}

#[test]
fn conv2d_backward_bias_matches_reference() {
    common::assert_cases(&tables::conv2d_backward_bias());
}

#[test]
fn conv2d_act_forward_matches_reference() {
    common::assert_cases(&tables::conv2d_act_forward());
}

#[test]
fn conv2d_act_pool_forward_matches_reference() {
    common::assert_cases(&tables::conv2d_act_pool_forward());
}

#[test]
fn conv2d_backward_matches_reference() {
    common::assert_cases(&tables::conv2d_backward());
}
