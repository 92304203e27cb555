//! pool.wgsl against cpu::pool: max-pool forward with argmax indices, and its backward.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn pool_table_covers_odd_sizes_and_overlapping_windows() {
    let s = tables::pool_shapes();
    assert!(s.iter().any(|s| s.h % 2 == 1), "odd sizes");
    assert!(s.iter().any(|s| s.stride < s.k), "overlapping windows");
    assert!(s.iter().any(|s| s.stride > s.k), "skipped pixels");
}

#[test]
fn max_pool2d_forward_matches_reference() {
    common::assert_cases(&tables::max_pool2d_forward());
}

#[test]
fn max_pool2d_backward_matches_reference() {
    common::assert_cases(&tables::max_pool2d_backward());
}
