//! Per-dispatch GPU time from timestamp queries: written inside the compute pass where
//! the adapter can (`TIMESTAMP_QUERY_INSIDE_PASSES`, native), else at the boundaries of a
//! compute pass of its own per dispatch (`timestampWrites`, all a browser's WebGPU
//! offers). The second costs a pass per dispatch, so only a profiled run pays it.
//!
//! A query set holds at most `wgpu::QUERY_SET_MAX_QUERIES` timestamps (2048 dispatches),
//! fewer than one submission of a dense model's steps, so the profiler keeps a pool of
//! sets and moves to the next when one is full. Each submission resolves what it wrote;
//! when the pool runs out, the GPU backend calls `drain`, which reads every set back,
//! keeps the times and frees the sets, so that any number of steps can be profiled.
//! `collect` drains and hands over every time since the last collect, in order.

use crate::backend::OpTime;
use crate::error::{Error, Result};
use crate::gpu::context::Gpu;
use crate::ops::Op;

const SET_QUERIES: u32 = wgpu::QUERY_SET_MAX_QUERIES;
/// Query sets in the pool: 16,384 dispatches between two readbacks, about 360 steps of
/// the dense model, so that a readback (which waits for the GPU) interrupts a profiled
/// run rarely.
const POOL: usize = 8;

struct Set {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Timestamps written since the last drain.
    used: u32,
    /// Timestamps already resolved into `resolve`.
    resolved: u32,
}

/// One timed dispatch waiting for its timestamps to be read back.
struct Pending {
    op: Op,
    kernel: &'static str,
    set: usize,
    index: u32,
}

/// Where a dispatch's two timestamps go: its set in the pool, and the first index.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    set: usize,
    index: u32,
}

/// Where a dispatch's timestamps are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Inside one compute pass, around each dispatch.
    InsidePasses,
    /// At the start and end of a compute pass holding the one dispatch.
    PassBoundaries,
}

pub struct Profiler {
    pub placement: Placement,
    sets: Vec<Set>,
    /// The set being written.
    current: usize,
    pending: Vec<Pending>,
    times: Vec<OpTime>,
    period_ns: f64,
}

impl Profiler {
    pub fn new(gpu: &Gpu) -> Result<Profiler> {
        let Some(placement) = gpu.dispatch_timing() else {
            return Err(Error::Other(format!(
                "{} grants no TIMESTAMP_QUERY, so dispatches cannot be timed",
                gpu.adapter_summary()
            )));
        };
        let sets = (0..POOL)
            .map(|_| Set {
                set: gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("dispatch timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: SET_QUERIES,
                }),
                resolve: gpu.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp resolve"),
                    size: SET_QUERIES as u64 * 8,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                used: 0,
                resolved: 0,
            })
            .collect();
        Ok(Profiler {
            placement,
            sets,
            current: 0,
            pending: Vec::new(),
            times: Vec::new(),
            period_ns: gpu.queue.get_timestamp_period() as f64,
        })
    }

    /// The most dispatches the pool can hold between two drains.
    pub fn capacity() -> usize {
        POOL * (SET_QUERIES / 2) as usize
    }

    /// Dispatches that can still be timed before a drain.
    pub fn room(&self) -> usize {
        let per_set = (SET_QUERIES / 2) as usize;
        let left_in_current = per_set - (self.sets[self.current].used / 2) as usize;
        left_in_current + (POOL - 1 - self.current) * per_set
    }

    /// Takes the two timestamps of a dispatch; `None` when the pool is full, which the
    /// backend prevents by checking `room` before it records.
    pub fn reserve(&mut self, op: &Op, kernel: &'static str) -> Option<Slot> {
        if self.sets[self.current].used + 2 > SET_QUERIES {
            if self.current + 1 == POOL {
                return None;
            }
            self.current += 1;
        }
        let set = &mut self.sets[self.current];
        let slot = Slot {
            set: self.current,
            index: set.used,
        };
        set.used += 2;
        self.pending.push(Pending {
            op: op.clone(),
            kernel,
            set: slot.set,
            index: slot.index,
        });
        Some(slot)
    }

    /// The opening timestamp, inside a shared pass (`Placement::InsidePasses`).
    pub fn begin(&self, pass: &mut wgpu::ComputePass<'_>, slot: Slot) {
        pass.write_timestamp(&self.sets[slot.set].set, slot.index);
    }

    /// The closing timestamp, inside a shared pass (`Placement::InsidePasses`).
    pub fn end(&self, pass: &mut wgpu::ComputePass<'_>, slot: Slot) {
        pass.write_timestamp(&self.sets[slot.set].set, slot.index + 1);
    }

    /// Both timestamps at the boundaries of the dispatch's own pass
    /// (`Placement::PassBoundaries`).
    pub fn pass_writes(&self, slot: Slot) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.sets[slot.set].set,
            beginning_of_pass_write_index: Some(slot.index),
            end_of_pass_write_index: Some(slot.index + 1),
        }
    }

    /// Resolves the timestamps written since the last resolve, at the end of a submission.
    /// A set is resolved from its start, so that the buffer offset stays aligned.
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        for s in &mut self.sets {
            if s.used > s.resolved {
                encoder.resolve_query_set(&s.set, 0..s.used, &s.resolve, 0);
                s.resolved = s.used;
            }
        }
    }

    /// Reads every resolved set back (waiting for the GPU), keeps the times and frees the
    /// pool. Everything written must have been submitted with its resolve.
    pub async fn drain(&mut self, gpu: &Gpu) -> Result<()> {
        let mut ticks: Vec<Vec<u64>> = Vec::with_capacity(POOL);
        for s in &self.sets {
            if s.resolved < s.used {
                return Err(Error::Other(
                    "timestamps were read back before they were resolved".into(),
                ));
            }
            let bytes = if s.used > 0 {
                gpu.read_bytes(&s.resolve, 0, s.used as u64 * 8).await?
            } else {
                Vec::new()
            };
            // A Vec<u8> need not be aligned for u64s: copy rather than cast.
            ticks.push(bytemuck::pod_collect_to_vec(&bytes));
        }
        for p in self.pending.drain(..) {
            let t = &ticks[p.set][p.index as usize..p.index as usize + 2];
            self.times.push(OpTime {
                op: p.op,
                kernel: p.kernel,
                nanos: t[1].saturating_sub(t[0]) as f64 * self.period_ns,
            });
        }
        for s in &mut self.sets {
            s.used = 0;
            s.resolved = 0;
        }
        self.current = 0;
        Ok(())
    }

    /// The times of every dispatch since the last collect, in order.
    pub async fn collect(&mut self, gpu: &Gpu) -> Result<Vec<OpTime>> {
        self.drain(gpu).await?;
        Ok(std::mem::take(&mut self.times))
    }
}
