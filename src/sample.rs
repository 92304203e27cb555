//! Seeded sample inputs for single ops, shared by the kernel tests and the benchmarks.

use crate::cpu::pool::max_pool2d_forward;
use crate::ops::{Activation, Epilogue, InputGrad, Op, StepParams, View};

/// A step for running one op alone: the batch from the start of the permutation, and
/// Adam's bias corrections at its first step (1 − 0.9, 1 − 0.999).
pub const SAMPLE_STEP: StepParams = StepParams {
    batch_start: 0,
    batch_len: 0,
    bias_correction1: 0.1,
    bias_correction2: 0.001,
};

/// Seeded contents for every buffer an op binds (one per view, as `Op::standalone` lays
/// them out): values in [-1, 1), with the inputs that must mean something (a permutation,
/// argmax indices, a non-negative second moment, probabilities) made valid.
pub fn random_buffers(op: &Op, seed: u64) -> Vec<Vec<u32>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let all: Vec<View> = op.bindings().iter().map(|b| b.view).collect();
    let mut buffers: Vec<Vec<u32>> =
        vec![Vec::new(); all.iter().map(|v| v.buf + 1).max().unwrap_or(0)];
    for v in &all {
        let values: Vec<f32> = (0..v.len).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        buffers[v.buf] = bytemuck::cast_slice(&values).to_vec();
    }
    let mut fill = |v: &View, lo: f32, hi: f32| {
        let values: Vec<f32> = (0..v.len).map(|_| rng.random_range(lo..hi)).collect();
        buffers[v.buf] = bytemuck::cast_slice(&values).to_vec();
    };
    // Losses see predictions and targets in [0, 1), as a Sigmoid's outputs and pixels are;
    // so does the Sigmoid's gradient. Adam's second moment is never negative.
    if let Op::LossForward(o) = op {
        fill(&o.y, 0.0, 1.0);
        fill(&o.t, 0.0, 1.0);
    }
    if let Op::LossBackward(o) = op {
        fill(&o.y, 0.0, 1.0);
        fill(&o.t, 0.0, 1.0);
    }
    if let Op::RowScores(o) = op {
        fill(&o.y, 0.0, 1.0);
        fill(&o.t, 0.0, 1.0);
    }
    if let Op::LossActBackward(o) = op {
        fill(&o.y, 0.0, 1.0);
        fill(&o.t, 0.0, 1.0);
    }
    // Noise corrupts pixels, in [0, 1); its key is any two words (made from the same
    // stream as the rest).
    if let Op::Corrupt(o) = op {
        fill(&o.x, 0.0, 1.0);
        fill(&o.key, 0.0, 1.0);
    }
    if let Op::ActivationBackward(o) = op {
        if o.act == Activation::Sigmoid {
            fill(&o.y, 0.0, 1.0);
        }
    }
    if let Op::Matmul(o) = op {
        if let Epilogue::ActBackward {
            y,
            act: Activation::Sigmoid,
        } = o.epilogue
        {
            fill(&y, 0.0, 1.0);
        }
    }
    if let Op::AdamUpdate(o) = op {
        fill(&o.v, 0.0, 0.01);
    }
    if let Op::GatherBatch(o) = op {
        buffers[o.data.buf] = (0..o.data.len).map(|_| rng.random()).collect();
        buffers[o.perm.buf] = (0..o.perm.len as u32).rev().collect();
    }
    if let Op::GatherRows(o) = op {
        buffers[o.data.buf] = (0..o.data.len)
            .map(|_| rng.random_range(-3.0f32..3.0).to_bits())
            .collect();
        buffers[o.perm.buf] = (0..o.perm.len as u32).rev().collect();
    }
    // A fused backward's input is the output of the stage below: an activation's output,
    // or a max-pool's output over one with its argmax.
    let mut stage_below = None;
    if let Op::Conv2dBackward(o) = op {
        stage_below = o.dx.map(|g| (o.x, g));
    }
    if let Op::ConvTranspose2dBackward(o) = op {
        stage_below = Some((o.x, o.dx));
    }
    if let Some((x, grad)) = stage_below {
        let act = grad.act();
        let mut activation_output = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| match act {
                    Activation::Relu => rng.random_range(-0.5f32..1.0).max(0.0),
                    Activation::Sigmoid => rng.random_range(0.0f32..1.0),
                    Activation::Tanh => rng.random_range(-1.0f32..1.0),
                    Activation::Identity => rng.random_range(-1.0f32..1.0),
                })
                .collect()
        };
        match grad {
            InputGrad::Act { .. } => {
                buffers[x.buf] = bytemuck::cast_slice(&activation_output(x.len)).to_vec();
            }
            InputGrad::PoolAct { idx, pool, .. } => {
                let r = activation_output(pool.x_len());
                let (mut y, mut indices) = (vec![0.0; pool.y_len()], vec![0u32; pool.y_len()]);
                max_pool2d_forward(&pool, &r, &mut y, &mut indices);
                buffers[x.buf] = bytemuck::cast_slice(&y).to_vec();
                buffers[idx.buf] = indices;
            }
        }
    }
    if let Op::MaxPool2dBackward(o) = op {
        let s = o.shape;
        let x: Vec<f32> = (0..s.x_len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let (mut y, mut indices) = (vec![0.0; s.y_len()], vec![0u32; s.y_len()]);
        max_pool2d_forward(&s, &x, &mut y, &mut indices);
        buffers[o.idx.buf] = indices;
    }
    buffers
}
