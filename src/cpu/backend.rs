//! The CPU backend: runs an op list with the reference kernels.

use std::collections::HashMap;

use bytemuck::{cast_slice, cast_slice_mut};

use crate::backend::{Backend, BufferSpec, OpTime};
use crate::cpu::{batch, conv2d, conv_transpose2d, elementwise, loss, matmul, optim, pool};
use crate::error::{Error, Result};
use crate::model::ops::{Activation, BufId, LossKind, Op, StepParams, View};

#[derive(Default)]
pub struct CpuBackend {
    buffers: Vec<Vec<u32>>,
    programs: HashMap<&'static str, usize>,
    /// Some while profiling: the time of every op run since the last take.
    times: Option<Vec<OpTime>>,
}

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu (reference kernels)".to_string()
    }

    fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()> {
        self.buffers = buffers.iter().map(|b| vec![0u32; b.len]).collect();
        Ok(())
    }

    fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()> {
        for op in ops {
            check_views(op, &self.buffers)?;
        }
        self.programs.insert(program, ops.len());
        Ok(())
    }

    fn run(&mut self, program: &'static str, ops: &[Op], steps: &[StepParams]) -> Result<()> {
        match self.programs.get(program) {
            Some(&len) if len == ops.len() => {}
            _ => {
                return Err(Error::Other(format!(
                    "program {program} was not compiled for these ops"
                )))
            }
        }
        for step in steps {
            for op in ops {
                let start = std::time::Instant::now();
                execute(op, &mut self.buffers, step);
                if let Some(times) = self.times.as_mut() {
                    let nanos = start.elapsed().as_nanos() as f64;
                    times.push(OpTime {
                        op: op.clone(),
                        nanos,
                    });
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn set_profiling(&mut self, on: bool) -> Result<()> {
        self.times = on.then(Vec::new);
        Ok(())
    }

    fn take_times(&mut self) -> Result<Vec<OpTime>> {
        Ok(self.times.as_mut().map(std::mem::take).unwrap_or_default())
    }

    fn timing(&self) -> &'static str {
        "cpu-clock"
    }

    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()> {
        let target = self
            .buffers
            .get_mut(buf)
            .and_then(|b| b.get_mut(offset..offset + words.len()))
            .ok_or_else(|| Error::Other(format!("write outside buffer {buf}")))?;
        target.copy_from_slice(words);
        Ok(())
    }

    fn read(&mut self, buf: BufId) -> Result<Vec<u32>> {
        self.buffers
            .get(buf)
            .cloned()
            .ok_or_else(|| Error::Other(format!("no buffer {buf}")))
    }
}

fn check_views(op: &Op, buffers: &[Vec<u32>]) -> Result<()> {
    for v in op.inputs().iter().chain(&op.outputs()) {
        if buffers
            .get(v.buf)
            .is_none_or(|b| v.offset + v.len > b.len())
        {
            return Err(Error::Other(format!(
                "{}: view {v:?} is outside its buffer",
                op.entry()
            )));
        }
    }
    Ok(())
}

/// Runs one op. Its outputs are moved out of `buffers` while it runs so that the inputs
/// can be borrowed at the same time; ops never read a buffer they write.
fn execute(op: &Op, buffers: &mut [Vec<u32>], step: &StepParams) {
    let out_views = op.outputs();
    let mut taken: Vec<Vec<u32>> = out_views
        .iter()
        .map(|v| std::mem::take(&mut buffers[v.buf]))
        .collect();
    {
        let buffers = &*buffers;
        let words = |v: &View| &buffers[v.buf][v.range()];
        let f = |v: &View| -> &[f32] { cast_slice(words(v)) };
        let mut outs: Vec<&mut [u32]> = taken
            .iter_mut()
            .zip(&out_views)
            .map(|(b, v)| &mut b[v.range()])
            .collect();
        run_reference(op, &f, &words, &mut outs, step);
    }
    for (v, b) in out_views.iter().zip(taken) {
        buffers[v.buf] = b;
    }
}

fn run_reference<'a>(
    op: &Op,
    f: &dyn Fn(&View) -> &'a [f32],
    words: &dyn Fn(&View) -> &'a [u32],
    outs: &mut [&mut [u32]],
    step: &StepParams,
) {
    fn f32s(w: &mut [u32]) -> &mut [f32] {
        cast_slice_mut(w)
    }
    match (op, outs) {
        (
            Op::GatherBatch {
                data, perm, cols, ..
            },
            [x],
        ) => {
            let bytes: &[u8] = cast_slice(words(data));
            batch::gather_batch(
                bytes,
                words(perm),
                step.batch_start as usize,
                *cols,
                f32s(x),
            )
        }
        (Op::Matmul { a, b, shape, .. }, [c]) => matmul::matmul(shape, f(a), f(b), f32s(c)),
        (Op::BiasForward { x, b, cols, .. }, [y]) => {
            elementwise::bias_forward(*cols, f(x), f(b), f32s(y))
        }
        (Op::BiasBackward { dy, rows, cols, .. }, [db]) => {
            elementwise::bias_backward(*rows, *cols, f(dy), f32s(db))
        }
        (Op::ActivationForward { act, x, .. }, [y]) => match act {
            Activation::Relu => elementwise::relu_forward(f(x), f32s(y)),
            Activation::Sigmoid => elementwise::sigmoid_forward(f(x), f32s(y)),
        },
        (Op::ActivationBackward { act, y, dy, .. }, [dx]) => match act {
            Activation::Relu => elementwise::relu_backward(f(y), f(dy), f32s(dx)),
            Activation::Sigmoid => elementwise::sigmoid_backward(f(y), f(dy), f32s(dx)),
        },
        (
            Op::LossForward {
                loss: kind,
                y,
                t,
                rows,
                ..
            },
            [value, total],
        ) => {
            let mean = match kind {
                LossKind::Mse => loss::mse_forward(f(y), f(t)),
                LossKind::Bce => loss::bce_forward(f(y), f(t)),
            };
            f32s(value)[0] = mean;
            // Accumulated in f32, exactly as the GPU does, so totals agree between backends.
            f32s(total)[0] += mean * *rows as f32;
        }
        (
            Op::LossBackward {
                loss: kind, y, t, ..
            },
            [dy],
        ) => match kind {
            LossKind::Mse => loss::mse_backward(f(y), f(t), f32s(dy)),
            LossKind::Bce => loss::bce_backward(f(y), f(t), f32s(dy)),
        },
        (Op::AdamUpdate { grad, config, .. }, [param, m, v]) => optim::adam_update(
            config,
            (step.bias_correction1, step.bias_correction2),
            f(grad),
            f32s(param),
            f32s(m),
            f32s(v),
        ),
        (Op::Conv2dForward { x, w, b, shape, .. }, [y]) => {
            conv2d::conv2d_forward(shape, f(x), f(w), f(b), f32s(y))
        }
        (Op::Conv2dBackwardInput { dy, w, shape, .. }, [dx]) => {
            conv2d::conv2d_backward_input(shape, f(dy), f(w), f32s(dx))
        }
        (Op::Conv2dBackwardWeight { x, dy, shape, .. }, [dw]) => {
            conv2d::conv2d_backward_weight(shape, f(x), f(dy), f32s(dw))
        }
        (Op::Conv2dBackwardBias { dy, n, o, hw, .. }, [db]) => {
            conv2d::conv2d_backward_bias(*n, *o, *hw, f(dy), f32s(db))
        }
        (Op::MaxPool2dForward { x, shape, .. }, [y, idx]) => {
            pool::max_pool2d_forward(shape, f(x), f32s(y), idx)
        }
        (Op::MaxPool2dBackward { dy, idx, shape, .. }, [dx]) => {
            pool::max_pool2d_backward(shape, f(dy), words(idx), f32s(dx))
        }
        (Op::ConvTranspose2dForward { x, w, b, shape, .. }, [y]) => {
            conv_transpose2d::conv_transpose2d_forward(shape, f(x), f(w), f(b), f32s(y))
        }
        (Op::ConvTranspose2dBackwardInput { dy, w, shape, .. }, [dx]) => {
            conv_transpose2d::conv_transpose2d_backward_input(shape, f(dy), f(w), f32s(dx))
        }
        (Op::ConvTranspose2dBackwardWeight { x, dy, shape, .. }, [dw]) => {
            conv_transpose2d::conv_transpose2d_backward_weight(shape, f(x), f(dy), f32s(dw))
        }
        (op, outs) => unreachable!(
            "{} has {} outputs, which its declaration does not",
            op.entry(),
            outs.len()
        ),
    }
}
