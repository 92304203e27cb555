//! Per-dispatch GPU time from timestamp queries written inside the compute pass.
//!
//! Usage: enable it on a `GpuBackend`, run at most `MAX_STEPS_PER_SUBMIT` steps, then
//! `collect`. Each dispatch is bracketed by two timestamps; `collect` reads them back,
//! converts ticks to nanoseconds and starts afresh.

use crate::backend::OpTime;
use crate::error::{Error, Result};
use crate::gpu::context::Gpu;
use crate::ops::Op;

const CAPACITY: u32 = wgpu::QUERY_SET_MAX_QUERIES;

pub struct Profiler {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    ops: Vec<(Op, &'static str)>,
    period_ns: f64,
    overflowed: bool,
}

impl Profiler {
    pub fn new(gpu: &Gpu) -> Result<Profiler> {
        if !gpu.can_time_dispatches() {
            return Err(Error::Other(format!(
                "{} has no TIMESTAMP_QUERY_INSIDE_PASSES, so dispatches cannot be timed one by one",
                gpu.adapter_summary()
            )));
        }
        let set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("dispatch timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: CAPACITY,
        });
        let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamp resolve"),
            size: CAPACITY as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Ok(Profiler {
            set,
            resolve,
            ops: Vec::new(),
            period_ns: gpu.queue.get_timestamp_period() as f64,
            overflowed: false,
        })
    }

    /// Writes the opening timestamp of a dispatch; None once the query set is full.
    pub fn begin(
        &mut self,
        pass: &mut wgpu::ComputePass<'_>,
        op: &Op,
        kernel: &'static str,
    ) -> Option<u32> {
        let index = self.ops.len() as u32 * 2;
        if index + 2 > CAPACITY {
            self.overflowed = true;
            return None;
        }
        pass.write_timestamp(&self.set, index);
        self.ops.push((op.clone(), kernel));
        Some(index)
    }

    pub fn end(&mut self, pass: &mut wgpu::ComputePass<'_>, index: u32) {
        pass.write_timestamp(&self.set, index + 1);
    }

    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        let used = self.ops.len() as u32 * 2;
        if used > 0 {
            encoder.resolve_query_set(&self.set, 0..used, &self.resolve, 0);
        }
    }

    /// The times of every dispatch since the last collect, in order.
    pub fn collect(&mut self, gpu: &Gpu) -> Result<Vec<OpTime>> {
        if self.overflowed {
            return Err(Error::Other(format!(
                "more than {} dispatches were profiled before one collect",
                CAPACITY / 2
            )));
        }
        let ops = std::mem::take(&mut self.ops);
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = gpu.read_bytes(&self.resolve, 0, ops.len() as u64 * 16)?;
        let ticks: &[u64] = bytemuck::cast_slice(&bytes);
        Ok(ops
            .into_iter()
            .zip(ticks.chunks_exact(2))
            .map(|((op, kernel), t)| OpTime {
                op,
                kernel,
                nanos: t[1].saturating_sub(t[0]) as f64 * self.period_ns,
            })
            .collect())
    }
}
