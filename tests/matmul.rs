//! matmul.wgsl against cpu::matmul: every variant and transpose over the matmul table.

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn matmul_matches_reference() {
    common::assert_cases(&tables::matmul());
}
