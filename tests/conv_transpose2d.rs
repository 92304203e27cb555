//! conv_transpose2d.wgsl against cpu::conv_transpose2d: forward, input and weight gradients,
//! and the fused stages.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn conv_transpose2d_table_covers_the_issue() {
    let s = tables::conv_transpose2d_shapes();
    assert!(s.len() >= 60, "only {} shapes", s.len());
    assert!(s.iter().any(|s| s.out_pad == 1 && s.pad == 2));
    assert!(s.iter().any(|s| s.out_pad == 0 && s.stride == 2));
    for k in [1, 2, 3, 5] {
        assert!(s.iter().any(|s| s.kh == k), "kernel {k}");
    }
}

#[test]
fn conv_transpose2d_forward_matches_reference() {
    common::assert_cases(&tables::conv_transpose2d_forward());
}

#[test]
fn conv_transpose2d_backward_input_matches_reference() {
    common::assert_cases(&tables::conv_transpose2d_backward_input());
}

#[test]
fn conv_transpose2d_backward_weight_matches_reference() {
    common::assert_cases(&tables::conv_transpose2d_backward_weight());
}

#[test]
fn conv_transpose2d_act_forward_matches_reference() {
    common::assert_cases(&tables::conv_transpose2d_act_forward());
}

#[test]
fn conv_transpose2d_backward_matches_reference() {
    common::assert_cases(&tables::conv_transpose2d_backward());
}
