//! Seeded sample inputs for single ops, shared by the kernel tests and the benchmarks.

use crate::cpu::pool::max_pool2d_forward;
use crate::model::ops::{Op, View};

/// Views 0, 1, 2, … of the given lengths: for an op whose views each own a buffer.
pub fn views(lens: &[usize]) -> Vec<View> {
    lens.iter()
        .enumerate()
        .map(|(i, &len)| View::whole(i, len))
        .collect()
}

/// Seeded contents for every buffer an op binds (one per view, as `views` lays them out):
/// values in [-1, 1), with the inputs that must mean something (a permutation, argmax
/// indices, a non-negative second moment) made valid.
pub fn random_buffers(op: &Op, seed: u64) -> Vec<Vec<u32>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut all: Vec<View> = op.inputs();
    all.extend(op.outputs());
    let mut buffers: Vec<Vec<u32>> =
        vec![Vec::new(); all.iter().map(|v| v.buf + 1).max().unwrap_or(0)];
    for v in &all {
        let values: Vec<f32> = (0..v.len).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        buffers[v.buf] = bytemuck::cast_slice(&values).to_vec();
    }
    match op {
        Op::GatherBatch { data, perm, .. } => {
            buffers[data.buf] = (0..data.len).map(|_| rng.random()).collect();
            buffers[perm.buf] = (0..perm.len as u32).rev().collect();
        }
        Op::AdamUpdate { v, .. } => {
            let second: Vec<f32> = (0..v.len).map(|_| rng.random_range(0.0f32..0.01)).collect();
            buffers[v.buf] = bytemuck::cast_slice(&second).to_vec();
        }
        Op::MaxPool2dBackward { idx, shape, .. } => {
            let x: Vec<f32> = (0..shape.x_len())
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let (mut y, mut indices) = (vec![0.0; shape.y_len()], vec![0u32; shape.y_len()]);
            max_pool2d_forward(shape, &x, &mut y, &mut indices);
            buffers[idx.buf] = indices;
        }
        _ => {}
    }
    buffers
}
