//! The GPU backend: every op of a program becomes a pipeline, a params uniform and a bind
//! group once, at compile time. A run then only records dispatches, many steps into one
//! command encoder, and submits once per chunk of steps.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use crate::backend::{Backend, BufferSpec, OpTime};
use crate::error::{Error, Result};
use crate::gpu::context::{Gpu, Kernel, Signature};
use crate::gpu::launch::launch;
use crate::gpu::profiler::Profiler;
use crate::model::ops::{BufId, Op, StepParams, View};

/// Steps recorded into one command encoder. The per-step uniform holds this many slots.
pub const MAX_STEPS_PER_SUBMIT: usize = 64;

struct CompiledOp {
    kernel: Arc<Kernel>,
    params: wgpu::Buffer,
    last_params: Vec<u8>,
    bind_group: wgpu::BindGroup,
    uses_step: bool,
}

pub struct GpuBackend {
    gpu: Arc<Gpu>,
    buffers: Vec<wgpu::Buffer>,
    specs: Vec<BufferSpec>,
    programs: HashMap<&'static str, Vec<CompiledOp>>,
    step_buffer: wgpu::Buffer,
    step_stride: u64,
    profiler: Option<Profiler>,
}

impl GpuBackend {
    pub fn new(gpu: Arc<Gpu>) -> Self {
        // Dynamic uniform offsets must be multiples of this alignment (256 on most devices).
        let step_stride = (gpu.limits.min_uniform_buffer_offset_alignment as u64)
            .max(size_of::<StepParams>() as u64);
        let step_buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("step params"),
            size: step_stride * MAX_STEPS_PER_SUBMIT as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuBackend {
            gpu,
            buffers: Vec::new(),
            specs: Vec::new(),
            programs: HashMap::new(),
            step_buffer,
            step_stride,
            profiler: None,
        }
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    fn binding(&self, view: &View) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffers[view.buf],
            offset: view.offset as u64 * 4,
            size: NonZeroU64::new(view.len as u64 * 4),
        })
    }

    fn compile_op(&self, op: &Op) -> Result<CompiledOp> {
        let (inputs, outputs) = (op.inputs(), op.outputs());
        for v in inputs.iter().chain(&outputs) {
            let fits = self
                .specs
                .get(v.buf)
                .is_some_and(|s| v.offset + v.len <= s.len);
            if !fits || v.len == 0 {
                return Err(Error::Other(format!(
                    "{}: view {v:?} is empty or outside its buffer",
                    op.entry()
                )));
            }
        }
        let l = launch(op);
        let signature = Signature {
            inputs: inputs.len() as u32,
            outputs: outputs.len() as u32,
            step: op.uses_step(),
        };
        let kernel = self.gpu.kernel(l.shader, op.entry(), signature)?;
        let device = &self.gpu.device;
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(op.entry()),
            size: l.params.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.gpu.queue.write_buffer(&params, 0, &l.params);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params.as_entire_binding(),
        }];
        for (i, v) in inputs.iter().chain(&outputs).enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + i as u32,
                resource: self.binding(v),
            });
        }
        if op.uses_step() {
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + (inputs.len() + outputs.len()) as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.step_buffer,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<StepParams>() as u64),
                }),
            });
        }
        let bind_group = self
            .gpu
            .checked(&format!("bind group for {}", op.entry()), || {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(op.entry()),
                    layout: &kernel.layout,
                    entries: &entries,
                })
            })?;
        Ok(CompiledOp {
            kernel,
            params,
            last_params: l.params,
            bind_group,
            uses_step: op.uses_step(),
        })
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("gpu: {}", self.gpu.adapter_summary())
    }

    fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()> {
        let limit = self
            .gpu
            .limits
            .max_storage_buffer_binding_size
            .min(self.gpu.limits.max_buffer_size);
        for spec in buffers {
            let bytes = spec.len as u64 * 4;
            if bytes > limit {
                return Err(Error::DeviceLimit {
                    what: format!("buffer '{}'", spec.name),
                    needed: bytes,
                    limit,
                    hint: "use a smaller --batch (or --limit for the dataset)".into(),
                });
            }
        }
        self.programs.clear();
        self.specs = buffers.to_vec();
        let device = &self.gpu.device;
        self.buffers = self.gpu.checked("allocating buffers", || {
            buffers
                .iter()
                .map(|spec| {
                    // wgpu zero-initialises new buffers.
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&spec.name),
                        size: (spec.len.max(1) as u64 * 4)
                            .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_DST
                            | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    })
                })
                .collect()
        })?;
        Ok(())
    }

    fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()> {
        let compiled = ops
            .iter()
            .map(|op| self.compile_op(op))
            .collect::<Result<Vec<_>>>()?;
        self.programs.insert(program, compiled);
        Ok(())
    }

    fn run(&mut self, program: &'static str, ops: &[Op], steps: &[StepParams]) -> Result<()> {
        let compiled = self
            .programs
            .get_mut(program)
            .filter(|c| c.len() == ops.len())
            .ok_or_else(|| {
                Error::Other(format!("program {program} was not compiled for these ops"))
            })?;
        let gpu = &self.gpu;
        // A partial batch changes only the params; rewrite those that differ. Queue writes
        // are ordered with submissions, so work already submitted keeps the old values.
        let launches: Vec<_> = ops.iter().map(launch).collect();
        for (c, l) in compiled.iter_mut().zip(&launches) {
            if c.last_params != l.params {
                gpu.queue.write_buffer(&c.params, 0, &l.params);
                c.last_params = l.params.clone();
            }
        }
        let stride = self.step_stride;
        for chunk in steps.chunks(MAX_STEPS_PER_SUBMIT) {
            let mut slots = vec![0u8; stride as usize * chunk.len()];
            for (i, s) in chunk.iter().enumerate() {
                let at = i * stride as usize;
                slots[at..at + size_of::<StepParams>()].copy_from_slice(bytemuck::bytes_of(s));
            }
            gpu.queue.write_buffer(&self.step_buffer, 0, &slots);
            let mut profiler = self.profiler.as_mut();
            gpu.checked(&format!("running {program}"), || {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    for i in 0..chunk.len() {
                        for ((c, l), op) in compiled.iter().zip(&launches).zip(ops) {
                            pass.set_pipeline(&c.kernel.pipeline);
                            let offsets: &[u32] = if c.uses_step {
                                &[(i as u64 * stride) as u32]
                            } else {
                                &[]
                            };
                            pass.set_bind_group(0, &c.bind_group, offsets);
                            let query = profiler.as_mut().and_then(|p| p.begin(&mut pass, op));
                            pass.dispatch_workgroups(l.grid[0], l.grid[1], l.grid[2]);
                            if let (Some(p), Some(q)) = (profiler.as_mut(), query) {
                                p.end(&mut pass, q);
                            }
                        }
                    }
                }
                if let Some(p) = profiler {
                    p.resolve(&mut encoder);
                }
                gpu.queue.submit([encoder.finish()]);
            })?;
        }
        Ok(())
    }

    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()> {
        let spec = self
            .specs
            .get(buf)
            .ok_or_else(|| Error::Other(format!("no buffer {buf}")))?;
        if offset + words.len() > spec.len {
            return Err(Error::Other(format!(
                "write outside buffer '{}'",
                spec.name
            )));
        }
        self.gpu.queue.write_buffer(
            &self.buffers[buf],
            offset as u64 * 4,
            bytemuck::cast_slice(words),
        );
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.gpu.wait()
    }

    fn set_profiling(&mut self, on: bool) -> Result<()> {
        self.profiler = if on {
            Some(Profiler::new(&self.gpu)?)
        } else {
            None
        };
        Ok(())
    }

    /// Reads the timestamps back; at most `MAX_STEPS_PER_SUBMIT` steps' worth should run
    /// between two calls, as each submission resolves the whole query set.
    fn take_times(&mut self) -> Result<Vec<OpTime>> {
        match self.profiler.as_mut() {
            Some(p) => p.collect(&self.gpu),
            None => Ok(Vec::new()),
        }
    }

    fn timing(&self) -> &'static str {
        "timestamp"
    }

    fn read(&mut self, buf: BufId) -> Result<Vec<u32>> {
        let spec = self
            .specs
            .get(buf)
            .ok_or_else(|| Error::Other(format!("no buffer {buf}")))?;
        if spec.len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self
            .gpu
            .read_bytes(&self.buffers[buf], 0, spec.len as u64 * 4)?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }
}
