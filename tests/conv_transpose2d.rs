//! The transposed convolution, which the GPU runs on conv2d's kernels with the roles of
//! the conv's sides swapped, against cpu::conv_transpose2d's independent reference:
//! forward, input and weight gradients, and the fused stages.

mod common;

use wgsl_autoencoder::check::tables;
use wgsl_autoencoder::gpu::kernels::{launch, Parallelism, Shader};

#[test]
fn conv_transpose2d_runs_on_conv2d_kernels() {
    let cases = [
        tables::conv_transpose2d_forward(),
        tables::conv_transpose2d_backward_input(),
        tables::conv_transpose2d_backward_weight(),
        tables::conv_transpose2d_act_forward(),
        tables::conv_transpose2d_backward(),
    ]
    .concat();
    for case in &cases {
        for device in [Parallelism::Wide, Parallelism::Narrow] {
            let l = launch(&case.op, case.chosen(device)).unwrap();
            assert_eq!(l.shader, Shader::Conv2d, "{}", case.label);
            assert!(
                l.entry.starts_with("conv2d_"),
                "{}: {}",
                case.label,
                l.entry
            );
            assert!(
                l.constants.0.contains(&("TRANSPOSED", 1)),
                "{}: {:?}",
                case.label,
                l.constants
            );
        }
    }
}

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
