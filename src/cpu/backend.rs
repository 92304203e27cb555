//! The CPU backend: runs an op list with the reference kernels.

use std::collections::HashMap;

use bytemuck::{cast_slice, cast_slice_mut};

use crate::backend::{check_access, Backend, MemoryLimits, OpTime, ProgramOps, Timing};
use crate::cpu::{
    batch, conv2d, conv_transpose2d, elementwise, latent, loss, matmul, noise, optim, peak, pool,
};
use crate::error::{Error, Result};
use crate::ops::{
    Activation, BufId, BufferSpec, Epilogue, InputGrad, LossKind, NoiseKind, Op, StepParams, View,
};

#[derive(Default)]
pub struct CpuBackend {
    buffers: Vec<Vec<u32>>,
    programs: HashMap<&'static str, ProgramOps>,
    /// Some while profiling: the time of every op run since the last take.
    times: Option<Vec<OpTime>>,
    /// Bytes the machine has free, where the caller knows (the size check weighs a run
    /// against it); `alloc` reserves fallibly either way.
    available: Option<u64>,
}

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose size check knows the memory free on this machine.
    pub fn with_available_memory(available: Option<u64>) -> Self {
        CpuBackend {
            available,
            ..Self::default()
        }
    }
}

#[async_trait::async_trait(?Send)]
impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu (reference kernels)".to_string()
    }

    fn timing(&self) -> Option<Timing> {
        Some(Timing::CpuClock)
    }

    fn memory_limits(&self) -> MemoryLimits {
        MemoryLimits {
            per_buffer: isize::MAX as u64,
            per_buffer_what: "the largest allocation this platform allows",
            total: self.available,
            total_what: "the memory available on this machine",
        }
    }

    async fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()> {
        self.programs.clear();
        self.buffers.clear();
        for b in buffers {
            // Reserved fallibly, so that a size the checks missed is an error, not an abort.
            let mut buffer = Vec::new();
            buffer.try_reserve_exact(b.len).map_err(|_| {
                Error::Other(format!(
                    "cannot allocate {} bytes for buffer '{}'",
                    b.len.saturating_mul(4),
                    b.name
                ))
            })?;
            buffer.resize(b.len, 0u32);
            self.buffers.push(buffer);
        }
        Ok(())
    }

    async fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()> {
        let lens: Vec<usize> = self.buffers.iter().map(Vec::len).collect();
        self.programs.insert(program, ProgramOps::new(ops, &lens)?);
        Ok(())
    }

    async fn run(
        &mut self,
        program: &'static str,
        rows: Option<usize>,
        steps: &[StepParams],
    ) -> Result<()> {
        let ops = self
            .programs
            .get(program)
            .ok_or_else(|| Error::Other(format!("program {program} was not compiled")))?
            .for_rows(rows)?;
        for step in steps {
            for op in &ops {
                let start = web_time::Instant::now();
                execute(op, &mut self.buffers, step)?;
                if let Some(times) = self.times.as_mut() {
                    times.push(OpTime {
                        op: op.clone(),
                        kernel: op.entry(),
                        nanos: start.elapsed().as_nanos() as f64,
                    });
                }
            }
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn set_profiling(&mut self, on: bool) -> Result<()> {
        self.times = on.then(Vec::new);
        Ok(())
    }

    async fn take_times(&mut self) -> Result<Vec<OpTime>> {
        Ok(self.times.as_mut().map(std::mem::take).unwrap_or_default())
    }

    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()> {
        let target = self
            .buffers
            .get_mut(buf)
            .and_then(|b| b.get_mut(offset..offset.checked_add(words.len())?))
            .ok_or_else(|| Error::Other(format!("write outside buffer {buf}")))?;
        target.copy_from_slice(words);
        Ok(())
    }

    async fn read(&mut self, view: View) -> Result<Vec<u32>> {
        let buffer = self
            .buffers
            .get(view.buf)
            .ok_or_else(|| Error::Other(format!("no buffer {}", view.buf)))?;
        check_access(&format!("{}", view.buf), buffer.len(), view)?;
        Ok(buffer[view.range()].to_vec())
    }
}

/// Runs one op. The buffers it writes are moved out of `buffers` while it runs so that
/// the inputs can be borrowed at the same time; ops never read what they write, except
/// their in-place bindings, which are outputs here. Two outputs may be disjoint views of
/// one buffer (a weight's and a bias's gradients).
fn execute(op: &Op, buffers: &mut [Vec<u32>], step: &StepParams) -> Result<()> {
    let out_views = op.outputs();
    let mut bufs: Vec<BufId> = out_views.iter().map(|v| v.buf).collect();
    bufs.sort_unstable();
    bufs.dedup();
    let mut taken: Vec<(BufId, Vec<u32>)> = bufs
        .iter()
        .map(|&b| (b, std::mem::take(&mut buffers[b])))
        .collect();
    let result;
    {
        let buffers = &*buffers;
        let inputs = Inputs { buffers };
        let mut outs = output_slices(&out_views, &mut taken)?;
        result = run_reference(op, &inputs, &mut outs, step);
    }
    for (b, data) in taken {
        buffers[b] = data;
    }
    result
}

/// A mutable slice per output view, in the views' order, cut from the taken buffers;
/// views of one buffer must not overlap (`ProgramOps::new` checks it).
fn output_slices<'a>(
    views: &[View],
    taken: &'a mut [(BufId, Vec<u32>)],
) -> Result<Vec<&'a mut [u32]>> {
    let mut slots: Vec<Option<&'a mut [u32]>> = views.iter().map(|_| None).collect();
    for (buf, data) in taken.iter_mut() {
        let mut mine: Vec<(usize, &View)> = views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.buf == *buf)
            .collect();
        mine.sort_by_key(|(_, v)| v.offset);
        let mut rest: &'a mut [u32] = data.as_mut_slice();
        let mut at = 0;
        for (i, v) in mine {
            let skip = v
                .offset
                .checked_sub(at)
                .ok_or_else(|| Error::Other(format!("outputs overlap in buffer {buf}")))?;
            let outside = || Error::Other(format!("an output lies outside buffer {buf}"));
            let (_, tail) = std::mem::take(&mut rest)
                .split_at_mut_checked(skip)
                .ok_or_else(outside)?;
            let (view, tail) = tail.split_at_mut_checked(v.len).ok_or_else(outside)?;
            slots[i] = Some(view);
            rest = tail;
            at = v.offset + v.len;
        }
    }
    slots
        .into_iter()
        .map(|s| s.ok_or_else(|| Error::Other("an output view has no buffer".into())))
        .collect()
}

/// Read access to an op's input views.
struct Inputs<'a> {
    buffers: &'a [Vec<u32>],
}

impl<'a> Inputs<'a> {
    fn words(&self, v: &View) -> &'a [u32] {
        &self.buffers[v.buf][v.range()]
    }

    fn f32s(&self, v: &View) -> &'a [f32] {
        cast_slice(self.words(v))
    }
}

fn f32s(w: &mut [u32]) -> &mut [f32] {
    cast_slice_mut(w)
}

/// The op's outputs, in binding order, as an array of the length its reference takes.
fn outputs<'a, 'o, const N: usize>(
    op: &Op,
    outs: &'a mut [&'o mut [u32]],
) -> Result<&'a mut [&'o mut [u32]; N]> {
    let found = outs.len();
    outs.try_into().map_err(|_| {
        Error::Other(format!(
            "{} declares {found} outputs, its reference takes {N}",
            op.entry()
        ))
    })
}

/// Calls the reference function of the op's name on the op's sizes.
fn run_reference(op: &Op, i: &Inputs, outs: &mut [&mut [u32]], step: &StepParams) -> Result<()> {
    let f = |v: &View| i.f32s(v);
    match op {
        Op::GatherBatch(o) => {
            let [x] = outputs(op, outs)?;
            let bytes: &[u8] = cast_slice(i.words(&o.data));
            let start = step.batch_start as usize;
            batch::gather_batch(bytes, i.words(&o.perm), start, o.cols, f32s(x))
        }
        Op::GatherRows(o) => {
            let [x] = outputs(op, outs)?;
            let start = step.batch_start as usize;
            let floats: &[f32] = cast_slice(i.words(&o.data));
            batch::gather_rows(floats, i.words(&o.perm), start, o.cols, f32s(x))
        }
        Op::Matmul(o) => {
            let (s, a, b) = (&o.shape, f(&o.a), f(&o.b));
            match o.epilogue {
                Epilogue::None => {
                    let [c] = outputs(op, outs)?;
                    matmul::matmul(s, a, b, f32s(c))
                }
                Epilogue::BiasAct { bias, act } => {
                    let [c] = outputs(op, outs)?;
                    matmul::matmul_bias_act(s, act, a, b, f(&bias), f32s(c))
                }
                Epilogue::ActBackward { y, act } => {
                    let [c] = outputs(op, outs)?;
                    matmul::matmul_act_backward(s, act, a, b, f(&y), f32s(c))
                }
                Epilogue::BiasBackward { .. } => {
                    let [c, db] = outputs(op, outs)?;
                    matmul::matmul_bias_backward(s, a, b, f32s(c), f32s(db))
                }
            }
        }
        Op::BiasForward(o) => {
            let [y] = outputs(op, outs)?;
            elementwise::bias_forward(o.cols, f(&o.x), f(&o.b), f32s(y))
        }
        Op::BiasBackward(o) => {
            let [db] = outputs(op, outs)?;
            elementwise::bias_backward(o.rows, o.cols, f(&o.dy), f32s(db))
        }
        Op::ActivationForward(o) => {
            let [y] = outputs(op, outs)?;
            elementwise::act_forward(o.act, f(&o.x), f32s(y))
        }
        Op::ActivationBackward(o) => {
            let [dx] = outputs(op, outs)?;
            elementwise::act_backward(o.act, f(&o.y), f(&o.dy), f32s(dx))
        }
        Op::LossForward(o) => {
            let [value, total] = outputs(op, outs)?;
            let bce = o.loss == LossKind::Bce;
            let loss = loss::loss_value(bce, o.summed, o.cols, f(&o.y), f(&o.t));
            f32s(value)[0] = loss;
            // Accumulated in f32, exactly as the GPU does, so totals agree between backends.
            f32s(total)[0] += loss * o.rows as f32;
        }
        Op::LossBackward(o) => {
            let [dy] = outputs(op, outs)?;
            let bce = o.loss == LossKind::Bce;
            loss::loss_backward(bce, o.summed, o.cols, f(&o.y), f(&o.t), f32s(dy))
        }
        Op::LossActBackward(o) => {
            let [dz, totals] = outputs(op, outs)?;
            let (y, t, bce) = (f(&o.y), f(&o.t), o.loss == LossKind::Bce);
            let (dz, totals) = (f32s(dz), f32s(totals));
            match (o.act, o.summed, o.loss) {
                (Activation::Identity, summed, _) => {
                    loss::loss_identity_backward(bce, summed, o.cols, y, t, dz, totals)
                }
                (_, true, _) => loss::loss_sum_sigmoid_backward(bce, o.cols, y, t, dz, totals),
                (_, false, LossKind::Mse) => loss::mse_sigmoid_backward(o.cols, y, t, dz, totals),
                (_, false, LossKind::Bce) => loss::bce_sigmoid_backward(o.cols, y, t, dz, totals),
            }
        }
        Op::AdamUpdate(o) => {
            let [param, m, v] = outputs(op, outs)?;
            let corrections = (step.bias_correction1, step.bias_correction2);
            let grad = f(&o.grad);
            optim::adam_update(&o.config, corrections, grad, f32s(param), f32s(m), f32s(v))
        }
        Op::Conv2dForward(o) => {
            let [y] = outputs(op, outs)?;
            conv2d::conv2d_forward(&o.shape, f(&o.x), f(&o.w), f(&o.b), f32s(y))
        }
        Op::Conv2dBackwardInput(o) => {
            let [dx] = outputs(op, outs)?;
            conv2d::conv2d_backward_input(&o.shape, f(&o.dy), f(&o.w), f32s(dx))
        }
        Op::Conv2dBackwardWeight(o) => {
            let [dw] = outputs(op, outs)?;
            conv2d::conv2d_backward_weight(&o.shape, f(&o.x), f(&o.dy), f32s(dw))
        }
        Op::Conv2dBackwardBias(o) => {
            let [db] = outputs(op, outs)?;
            conv2d::conv2d_backward_bias(o.n, o.o, o.hw, f(&o.dy), f32s(db))
        }
        Op::MaxPool2dForward(o) => {
            let [y, idx] = outputs(op, outs)?;
            pool::max_pool2d_forward(&o.shape, f(&o.x), f32s(y), idx)
        }
        Op::MaxPool2dBackward(o) => {
            let [dx] = outputs(op, outs)?;
            pool::max_pool2d_backward(&o.shape, f(&o.dy), i.words(&o.idx), f32s(dx))
        }
        Op::ConvTranspose2dForward(o) => {
            let [y] = outputs(op, outs)?;
            let (x, w, b) = (f(&o.x), f(&o.w), f(&o.b));
            conv_transpose2d::conv_transpose2d_forward(&o.shape, x, w, b, f32s(y))
        }
        Op::ConvTranspose2dBackwardInput(o) => {
            let [dx] = outputs(op, outs)?;
            let (dy, w) = (f(&o.dy), f(&o.w));
            conv_transpose2d::conv_transpose2d_backward_input(&o.shape, dy, w, f32s(dx))
        }
        Op::ConvTranspose2dBackwardWeight(o) => {
            let [dw] = outputs(op, outs)?;
            let (x, dy) = (f(&o.x), f(&o.dy));
            conv_transpose2d::conv_transpose2d_backward_weight(&o.shape, x, dy, f32s(dw))
        }
        Op::Conv2dActForward(o) => {
            let (s, x, w, b) = (&o.shape, f(&o.x), f(&o.w), f(&o.b));
            match o.pool_shape() {
                None => {
                    let [y] = outputs(op, outs)?;
                    conv2d::conv2d_act_forward(s, o.act, x, w, b, f32s(y))
                }
                Some(pool) => {
                    let [y, idx] = outputs(op, outs)?;
                    conv2d::conv2d_act_pool_forward(s, o.act, &pool, x, w, b, f32s(y), idx)
                }
            }
        }
        Op::Conv2dBackward(o) => {
            let (s, x, dy) = (&o.shape, f(&o.x), f(&o.dy));
            match o.dx {
                None => {
                    let [dw, db] = outputs(op, outs)?;
                    conv2d::conv2d_backward_params(s, x, dy, f32s(dw), f32s(db))
                }
                Some(InputGrad::Act { act, .. }) => {
                    let [dw, db, dx] = outputs(op, outs)?;
                    let (w, dw, db, dx) = (f(&o.w), f32s(dw), f32s(db), f32s(dx));
                    conv2d::conv2d_backward_act(s, act, x, dy, w, dw, db, dx)
                }
                Some(InputGrad::PoolAct { act, idx, pool, .. }) => {
                    let [dw, db, dx] = outputs(op, outs)?;
                    let (w, idx) = (f(&o.w), i.words(&idx));
                    let (dw, db, dx) = (f32s(dw), f32s(db), f32s(dx));
                    conv2d::conv2d_backward_pool_act(s, act, &pool, x, dy, w, idx, dw, db, dx)
                }
            }
        }
        Op::ConvTranspose2dActForward(o) => {
            let [y] = outputs(op, outs)?;
            let (x, w, b) = (f(&o.x), f(&o.w), f(&o.b));
            conv_transpose2d::conv_transpose2d_act_forward(&o.shape, o.act, x, w, b, f32s(y))
        }
        Op::ConvTranspose2dBackward(o) => {
            let [dw, db, dx] = outputs(op, outs)?;
            let (s, x, dy, w) = (&o.shape, f(&o.x), f(&o.dy), f(&o.w));
            let (dw, db, dx) = (f32s(dw), f32s(db), f32s(dx));
            match o.dx {
                InputGrad::Act { act, .. } => {
                    conv_transpose2d::conv_transpose2d_backward_act(s, act, x, dy, w, dw, db, dx)
                }
                InputGrad::PoolAct { act, idx, pool, .. } => {
                    let idx = i.words(&idx);
                    conv_transpose2d::conv_transpose2d_backward_pool_act(
                        s, act, &pool, x, dy, w, idx, dw, db, dx,
                    )
                }
            }
        }
        Op::PeakFma(o) => {
            let [y] = outputs(op, outs)?;
            peak::peak_fma(o.iters, o.mul, o.add, f(&o.x), f32s(y))
        }
        Op::PeakCopy(o) => {
            let [y] = outputs(op, outs)?;
            peak::peak_copy(f(&o.x), f32s(y))
        }
        Op::PeakRead(o) => {
            let [y] = outputs(op, outs)?;
            peak::peak_read(o.chunk, f(&o.x), f32s(y))
        }
        Op::Corrupt(o) => {
            let [y] = outputs(op, outs)?;
            let (x, key, start) = (f(&o.x), i.words(&o.key), step.batch_start as usize);
            match o.noise {
                NoiseKind::Gaussian { std } => {
                    let scale = NoiseKind::gaussian_scale(std);
                    noise::noise_gaussian(x, key, start, o.cols, scale, f32s(y))
                }
                NoiseKind::Mask { p } => {
                    let threshold = NoiseKind::mask_threshold(p);
                    noise::noise_mask(x, key, start, o.cols, threshold, f32s(y))
                }
            }
        }
        Op::ReparamKlForward(o) => {
            let [z, mu, totals] = outputs(op, outs)?;
            let (h, b, key) = (f(&o.h), f(&o.b), i.words(&o.key));
            let start = step.batch_start as usize;
            latent::reparam_kl_forward(o.latent, start, h, b, key, f32s(z), f32s(mu), f32s(totals))
        }
        Op::ReparamKlBackward(o) => {
            let [dh] = outputs(op, outs)?;
            let (h, b, key, dz) = (f(&o.h), f(&o.b), i.words(&o.key), f(&o.dz));
            let start = step.batch_start as usize;
            latent::reparam_kl_backward(o.latent, start, o.beta, h, b, key, dz, f32s(dh))
        }
        Op::L1Backward(o) => {
            let [dz, totals] = outputs(op, outs)?;
            let (a, dy) = (f(&o.a), f(&o.dy));
            latent::l1_backward(o.rows, o.lambda, o.act, a, dy, f32s(dz), f32s(totals))
        }
        Op::RowScores(o) => {
            let [scores] = outputs(op, outs)?;
            let bce = o.loss == LossKind::Bce;
            loss::row_scores(bce, o.summed, o.cols, f(&o.y), f(&o.t), f32s(scores))
        }
        Op::KlScores(o) => {
            let [scores] = outputs(op, outs)?;
            latent::kl_scores(o.latent, o.beta, f(&o.h), f(&o.b), f32s(scores))
        }
    }
    Ok(())
}
