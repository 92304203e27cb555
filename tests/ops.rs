//! Every kind of op runs on both backends, and they agree: the proof that no op compiles
//! without a kernel on each side. The samples are the ops of both autoencoders (as the
//! benchmark builds them) at a small batch; the family tests cover the shape tables.

mod common;

use std::collections::BTreeSet;

use wgsl_autoencoder::bench::model_ops;
use wgsl_autoencoder::check::{tables, tol_for, Case};
use wgsl_autoencoder::ops::Op;

#[test]
fn every_kind_of_op_runs_on_both_backends_and_they_agree() {
    // The peak kernels measure the card and belong to no model: one of each from its table.
    let peak = [tables::peak_fma(), tables::peak_copy(), tables::peak_read()];
    let mut ops = model_ops(3).unwrap();
    ops.extend(peak.iter().map(|t| t[2].op.clone()));
    let kinds: BTreeSet<&str> = ops.iter().map(Op::kind).collect();
    let all: BTreeSet<&str> = Op::KINDS.iter().copied().collect();
    assert_eq!(
        kinds, all,
        "the models leave some kinds of op without a sample"
    );
    let cases: Vec<Case> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Case::random(op.label(), op.clone(), i as u64, tol_for(op)))
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
    pollster::block_on(cpu.alloc(&specs)).unwrap();
    let err = pollster::block_on(cpu.compile("p", &[op]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("'c' needs 8 elements"), "{err}");
}
