//! Every kind of op runs on both backends, and they agree: the proof that no op compiles
//! without a kernel on each side. The samples are the ops of both autoencoders (as the
//! benchmark builds them) at a small batch; the family tests cover the shape tables.

mod common;

use std::collections::BTreeSet;

use wgsl_autoencoder::bench::model_ops;
use wgsl_autoencoder::check::{Case, Tol};
use wgsl_autoencoder::ops::Op;

/// f32 sums of `terms` products of values in [-1, 1) against the f64 reference.
fn tol(op: &Op) -> Tol {
    let outputs: usize = op.outputs().iter().map(|v| v.len).sum();
    let terms = (op.flops() / (2.0 * outputs as f64)).max(1.0);
    Tol {
        atol: 2e-6 * terms as f32,
        rtol: 1e-5,
    }
}

#[test]
fn every_kind_of_op_runs_on_both_backends_and_they_agree() {
    let ops = model_ops(3).unwrap();
    let kinds: BTreeSet<&str> = ops.iter().map(Op::kind).collect();
    let all: BTreeSet<&str> = Op::KINDS.iter().copied().collect();
    assert_eq!(
        kinds, all,
        "the models leave some kinds of op without a sample"
    );
    let cases: Vec<Case> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Case::random(op.label(), op.clone(), i as u64, tol(op)))
        .collect();
    common::assert_cases(&cases);
}

#[test]
fn an_op_whose_views_disagree_with_its_shape_is_refused() {
    use wgsl_autoencoder::backend::Backend;
    use wgsl_autoencoder::cpu::backend::CpuBackend;
    use wgsl_autoencoder::ops::{views, BufferSpec, Matmul, MatmulShape};
    let shape = MatmulShape::new(2, 3, 4);
    // c is one element short of the 2×4 the shape needs.
    let v = views(&[6, 12, 7]);
    let op = Op::from(Matmul::new(v[0], v[1], v[2], shape, Default::default()));
    let mut cpu = CpuBackend::new();
    let specs: Vec<BufferSpec> = [6, 12, 7]
        .iter()
        .map(|&len| BufferSpec {
            name: "b".into(),
            len,
        })
        .collect();
    cpu.alloc(&specs).unwrap();
    let err = cpu.compile("p", &[op]).unwrap_err().to_string();
    assert!(err.contains("'c' needs 8 elements"), "{err}");
}
