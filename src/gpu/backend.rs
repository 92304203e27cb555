//! The GPU backend: every op of a program becomes a pipeline, a params uniform and a bind
//! group once, at compile time, with its launch (variant, params, grid) computed once per
//! batch size. A run then only records dispatches, many steps into one command encoder,
//! and submits once per chunk of steps.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use crate::backend::{check_access, Backend, MemoryLimits, OpTime, ProgramOps, Timing};
use crate::error::{Error, Result};
use crate::gpu::context::{Gpu, Kernel, Signature};
use crate::gpu::kernels::{choose, launch, Chosen, Launch, Measured, Parallelism, Variant};
use crate::gpu::profiler::{Placement, Profiler};
use crate::ops::{BufId, BufferSpec, Op, StepParams, View};

/// Steps recorded into one command encoder. The per-step uniform holds this many slots.
pub const MAX_STEPS_PER_SUBMIT: usize = 64;

struct CompiledOp {
    /// The variant chosen at compile time; a partial batch keeps it.
    chosen: Chosen,
    kernel: Arc<Kernel>,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    uses_step: bool,
    /// The fold's pipeline, on the same bind group, and the partials it reads (kept alive
    /// here: only the bind group names the buffer).
    fold: Option<(Arc<Kernel>, wgpu::Buffer)>,
}

struct Program {
    source: ProgramOps,
    compiled: Vec<CompiledOp>,
    /// The batch size whose params the uniforms hold now, and its launches.
    current: (Option<usize>, Vec<Launch>),
    /// Launches per batch size asked for so far: a partial last batch is computed once.
    launches: HashMap<Option<usize>, Vec<Launch>>,
}

pub struct GpuBackend {
    gpu: Arc<Gpu>,
    /// A variant every op that has it runs (tests, benchmarks).
    forced: Option<Variant>,
    /// Variants measured on this adapter, which override the heuristic.
    measured: Measured,
    buffers: Vec<wgpu::Buffer>,
    specs: Vec<BufferSpec>,
    programs: HashMap<&'static str, Program>,
    step_buffer: wgpu::Buffer,
    step_stride: u64,
    profiler: Option<Profiler>,
}

impl GpuBackend {
    /// A backend that picks each op's variant from its shape and the adapter.
    pub fn new(gpu: Arc<Gpu>) -> Self {
        Self::with_variant(gpu, None)
    }

    /// A backend that runs `forced` wherever an op has that variant, for tests and
    /// benchmarks; other ops choose as `new`'s do.
    pub fn with_variant(gpu: Arc<Gpu>, forced: Option<Variant>) -> Self {
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
            forced,
            measured: Measured::default(),
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

    /// Variants measured fastest on this adapter: programs compiled from now on run them
    /// where the heuristic would guess. What per-card tuning hands in.
    pub fn set_measured(&mut self, measured: Measured) {
        self.measured = measured;
    }

    /// The variant each op of `program` runs and where it came from, in op order.
    pub fn chosen(&self, program: &str) -> Option<Vec<Chosen>> {
        let p = self.programs.get(program)?;
        Some(p.compiled.iter().map(|c| c.chosen).collect())
    }

    fn binding(&self, view: &View) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffers[view.buf],
            offset: view.offset as u64 * 4,
            size: NonZeroU64::new(view.len as u64 * 4),
        })
    }

    async fn compile_op(&self, op: &Op, chosen: Chosen, l: &Launch) -> Result<CompiledOp> {
        let signature = Signature {
            partials: l.fold.is_some(),
            ..Signature::of(op)
        };
        let kernel = self
            .gpu
            .kernel(l.shader, l.entry, &l.constants, signature.clone())
            .await?;
        let device = &self.gpu.device;
        let fold = match &l.fold {
            None => None,
            Some(f) => {
                let kernel = self
                    .gpu
                    .kernel(l.shader, f.entry, &l.constants, signature)
                    .await?;
                let partials = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(f.entry),
                    size: (f.partials.max(1) as u64 * 4)
                        .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                Some((kernel, partials))
            }
        };
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(l.entry),
            size: l.params.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.gpu.queue.write_buffer(&params, 0, &l.params);
        let bindings = op.bindings();
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params.as_entire_binding(),
        }];
        for (i, b) in bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + i as u32,
                resource: self.binding(&b.view),
            });
        }
        let mut next = 1 + bindings.len() as u32;
        if let Some((_, partials)) = &fold {
            entries.push(wgpu::BindGroupEntry {
                binding: next,
                resource: partials.as_entire_binding(),
            });
            next += 1;
        }
        if op.uses_step() {
            entries.push(wgpu::BindGroupEntry {
                binding: next,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.step_buffer,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<StepParams>() as u64),
                }),
            });
        }
        let bind_group = self
            .gpu
            .checked(&format!("bind group for {}", l.entry), || {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(l.entry),
                    layout: &kernel.layout,
                    entries: &entries,
                })
            })
            .await?;
        Ok(CompiledOp {
            chosen,
            kernel,
            params,
            bind_group,
            uses_step: op.uses_step(),
            fold,
        })
    }
}

#[async_trait::async_trait(?Send)]
impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("gpu: {}", self.gpu.adapter_summary())
    }

    fn timing(&self) -> Option<Timing> {
        self.gpu.dispatch_timing().map(|place| match place {
            Placement::InsidePasses => Timing::Timestamps,
            Placement::PassBoundaries => Timing::PassTimestamps,
        })
    }

    fn variants_chosen(&self, program: &str) -> Option<Vec<(String, &'static str)>> {
        let p = self.programs.get(program)?;
        let ops = p.compiled.iter().zip(&p.source.ops);
        Some(
            ops.map(|(c, op)| (c.chosen.variant.name(), c.chosen.how(op)))
                .collect(),
        )
    }

    fn memory_limits(&self) -> MemoryLimits {
        MemoryLimits {
            per_buffer: self
                .gpu
                .limits
                .max_storage_buffer_binding_size
                .min(self.gpu.limits.max_buffer_size),
            per_buffer_what: "the device's storage binding limit",
            total: None,
            total_what: "",
        }
    }

    async fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()> {
        let limit = self.memory_limits().per_buffer;
        for spec in buffers {
            let bytes = (spec.len as u64).saturating_mul(4);
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
        self.buffers = self
            .gpu
            .checked("allocating buffers", || {
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
            })
            .await?;
        Ok(())
    }

    async fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()> {
        let lens: Vec<usize> = self.specs.iter().map(|s| s.len).collect();
        let source = ProgramOps::new(ops, &lens)?;
        let device = Parallelism::of(&self.gpu.adapter.get_info());
        // A variant this device cannot run (one that needs subgroups), forced or saved by
        // a tuning elsewhere, gives way as one that cannot run the op does.
        let forced = self.forced.filter(|v| self.gpu.runs(*v));
        let choices: Vec<Chosen> = ops
            .iter()
            .map(|op| {
                let chosen = choose(op, forced, &self.measured, device);
                match self.gpu.runs(chosen.variant) {
                    true => chosen,
                    false => choose(op, None, &Measured::default(), device),
                }
            })
            .collect();
        let launches = ops
            .iter()
            .zip(&choices)
            .map(|(op, c)| launch(op, c.variant))
            .collect::<Result<Vec<_>>>()?;
        let mut compiled = Vec::with_capacity(ops.len());
        for ((op, c), l) in ops.iter().zip(choices).zip(&launches) {
            compiled.push(self.compile_op(op, c, l).await?);
        }
        self.gpu.save_pipeline_cache();
        let program_state = Program {
            source,
            compiled,
            current: (None, launches.clone()),
            launches: HashMap::from([(None, launches)]),
        };
        self.programs.insert(program, program_state);
        Ok(())
    }

    async fn run(
        &mut self,
        program: &'static str,
        rows: Option<usize>,
        steps: &[StepParams],
    ) -> Result<()> {
        let p = self
            .programs
            .get(program)
            .ok_or_else(|| Error::Other(format!("program {program} was not compiled")))?;
        if p.current.0 != rows {
            let launches = match p.launches.get(&rows) {
                Some(l) => l.clone(),
                None => {
                    let ops = p.source.for_rows(rows)?;
                    let compiled = p.compiled.iter();
                    let resized = ops.iter().zip(compiled);
                    resized
                        .map(|(op, c)| launch(op, c.chosen.variant))
                        .collect::<Result<Vec<_>>>()?
                }
            };
            let Some(p) = self.programs.get_mut(program) else {
                return Err(Error::Other(format!("program {program} vanished")));
            };
            // The bind groups belong to the pipelines compiled at full size: a partial
            // batch may change sizes and grids, never the kernel.
            for (new, old) in launches.iter().zip(&p.current.1) {
                let fold = |l: &Launch| l.fold.as_ref().map(|f| (f.entry, f.partials));
                if (new.entry, &new.constants, fold(new)) != (old.entry, &old.constants, fold(old))
                {
                    return Err(Error::Other(format!(
                        "{program}: {} for {rows:?} rows would need another pipeline than {}",
                        new.entry, old.entry
                    )));
                }
            }
            // A partial batch changes only the params; rewrite those that differ. Queue
            // writes are ordered with submissions, so work already submitted keeps the old
            // values.
            for ((c, new), old) in p.compiled.iter().zip(&launches).zip(&p.current.1) {
                if new.params != old.params {
                    self.gpu.queue.write_buffer(&c.params, 0, &new.params);
                }
            }
            p.launches.insert(rows, launches.clone());
            p.current = (rows, launches);
        }
        let gpu = &self.gpu;
        let p = &self.programs[program];
        let stride = self.step_stride;
        let per_step = p.compiled.len().max(1);
        if self.profiler.is_some() && per_step > Profiler::capacity() {
            return Err(Error::Other(format!(
                "{program} has {per_step} dispatches per step, more than the {} one profile can time",
                Profiler::capacity()
            )));
        }
        let mut rest = steps;
        while !rest.is_empty() {
            let mut take = rest.len().min(MAX_STEPS_PER_SUBMIT);
            // While profiling, a submission holds only as many steps as the query sets
            // have room for; when not one more step fits, the times so far are read back.
            if let Some(prof) = self.profiler.as_mut() {
                if prof.room() < per_step {
                    prof.drain(gpu).await?;
                }
                take = take.min(prof.room() / per_step);
            }
            let (chunk, later) = rest.split_at(take);
            rest = later;
            let mut slots = vec![0u8; stride as usize * chunk.len()];
            for (i, s) in chunk.iter().enumerate() {
                let at = i * stride as usize;
                slots[at..at + size_of::<StepParams>()].copy_from_slice(bytemuck::bytes_of(s));
            }
            gpu.queue.write_buffer(&self.step_buffer, 0, &slots);
            let mut profiler = self.profiler.as_mut();
            gpu.checked(&format!("running {program}"), || {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                // One pass for the whole submission, unless each dispatch is timed at
                // the boundaries of a pass of its own (a browser's only timestamps).
                let own_passes = profiler
                    .as_ref()
                    .is_some_and(|prof| prof.placement == Placement::PassBoundaries);
                let mut shared = (!own_passes).then(|| {
                    encoder
                        .begin_compute_pass(&Default::default())
                        .forget_lifetime()
                });
                for i in 0..chunk.len() {
                    let ops = p.compiled.iter().zip(&p.current.1).zip(&p.source.ops);
                    for ((c, l), op) in ops {
                        let offsets: &[u32] = if c.uses_step {
                            &[(i as u64 * stride) as u32]
                        } else {
                            &[]
                        };
                        let slot = profiler.as_mut().and_then(|prof| prof.reserve(op, l.entry));
                        let record = |pass: &mut wgpu::ComputePass<'_>| {
                            pass.set_pipeline(&c.kernel.pipeline);
                            pass.set_bind_group(0, &c.bind_group, offsets);
                            pass.dispatch_workgroups(l.grid[0], l.grid[1], l.grid[2]);
                            // A fold reads what the dispatch before it wrote: a compute
                            // pass orders dispatches' storage writes before later reads.
                            if let (Some((fold, _)), Some(f)) = (&c.fold, &l.fold) {
                                pass.set_pipeline(&fold.pipeline);
                                pass.dispatch_workgroups(f.grid[0], f.grid[1], f.grid[2]);
                            }
                        };
                        match (shared.as_mut(), profiler.as_deref(), slot) {
                            (Some(pass), Some(prof), Some(slot)) => {
                                prof.begin(pass, slot);
                                record(pass);
                                prof.end(pass, slot);
                            }
                            (Some(pass), _, _) => record(pass),
                            (None, prof, slot) => {
                                let timestamp_writes =
                                    prof.zip(slot).map(|(prof, slot)| prof.pass_writes(slot));
                                let mut pass =
                                    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                                        label: None,
                                        timestamp_writes,
                                    });
                                record(&mut pass);
                            }
                        }
                    }
                }
                drop(shared);
                if let Some(prof) = profiler {
                    prof.resolve(&mut encoder);
                }
                gpu.queue.submit([encoder.finish()]);
            })
            .await?;
        }
        Ok(())
    }

    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()> {
        let spec = self
            .specs
            .get(buf)
            .ok_or_else(|| Error::Other(format!("no buffer {buf}")))?;
        if offset.saturating_add(words.len()) > spec.len {
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

    async fn finish(&mut self) -> Result<()> {
        self.gpu.wait().await
    }

    fn set_profiling(&mut self, on: bool) -> Result<()> {
        self.profiler = if on {
            Some(Profiler::new(&self.gpu)?)
        } else {
            None
        };
        Ok(())
    }

    /// Reads the timestamps back: every dispatch since the last call, however many.
    async fn take_times(&mut self) -> Result<Vec<OpTime>> {
        match self.profiler.as_mut() {
            Some(p) => p.collect(&self.gpu).await,
            None => Ok(Vec::new()),
        }
    }

    async fn read(&mut self, view: View) -> Result<Vec<u32>> {
        let mut read = self.read_views(&[view]).await?;
        Ok(read.pop().unwrap_or_default())
    }

    /// Every view through one staging buffer and one map (`Gpu::read_regions`).
    async fn read_views(&mut self, views: &[View]) -> Result<Vec<Vec<u32>>> {
        let mut regions = Vec::with_capacity(views.len());
        for &view in views {
            let spec = self
                .specs
                .get(view.buf)
                .ok_or_else(|| Error::Other(format!("no buffer {}", view.buf)))?;
            check_access(&spec.name, spec.len, view)?;
            regions.push((
                &self.buffers[view.buf],
                view.offset as u64 * 4,
                view.len as u64 * 4,
            ));
        }
        let read = self.gpu.read_regions(&regions).await?;
        Ok(read
            .iter()
            .map(|bytes| bytemuck::cast_slice(bytes).to_vec())
            .collect())
    }
}
