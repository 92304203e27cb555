//! The one seam between a graph and the hardware that runs it.

use crate::error::Result;
use crate::ops::{BufId, BufferSpec, Op, StepParams, View};

/// How long one op took to run, and which kernel ran it.
#[derive(Clone, Debug)]
pub struct OpTime {
    pub op: Op,
    /// The GPU entry point (a variant's, where an op has several) or the CPU function.
    pub kernel: &'static str,
    pub nanos: f64,
}

/// How a backend's profiler measures each op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// GPU timestamp queries written around each dispatch.
    Timestamps,
    /// GPU timestamp queries at the boundaries of a compute pass per dispatch (a
    /// browser's): the time includes the pass's own cost, and browsers may quantise it.
    PassTimestamps,
    /// The host clock around each reference call.
    CpuClock,
}

impl Timing {
    pub fn name(self) -> &'static str {
        match self {
            Timing::Timestamps => "timestamp",
            Timing::PassTimestamps => "timestamp per pass",
            Timing::CpuClock => "cpu-clock",
        }
    }
}

/// What a backend can hold, for the one size check every run makes before allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Bytes one buffer may hold.
    pub per_buffer: u64,
    /// What sets `per_buffer`, for error messages.
    pub per_buffer_what: &'static str,
    /// Bytes all buffers together may hold, where that is known.
    pub total: Option<u64>,
    pub total_what: &'static str,
}

/// Runs op lists over numbered buffers. A program is compiled once from its ops, at the
/// batch size the graph was built for; `run` may then ask for fewer rows (a partial last
/// batch), which changes the ops' sizes but never their buffers or bindings.
///
/// Whatever waits for the device is `async` and never blocks a browser's event loop:
/// making buffers and pipelines and running programs (each checked in a validation error
/// scope, which the device answers later), reading back and timing. Native callers drive
/// these futures with `pollster` at their edge.
#[async_trait::async_trait(?Send)]
pub trait Backend {
    fn name(&self) -> String;
    /// How `set_profiling` times ops, or `None` where it cannot.
    fn timing(&self) -> Option<Timing>;
    /// What `alloc` can hold; checked before it is called.
    fn memory_limits(&self) -> MemoryLimits;
    /// Each op of `program` as it runs: its variant by name and where that came from
    /// (`only`, forced, measured, guessed), in op order; `None` where the backend has one
    /// way to run every op (the CPU reference).
    fn variants_chosen(&self, _program: &str) -> Option<Vec<(String, &'static str)>> {
        None
    }
    /// Replaces all buffers with zeroed ones of these lengths, and forgets every program.
    async fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()>;
    /// Checks and prepares `ops` to run as `program`.
    async fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()>;
    /// Runs the program once per step, in order, for a batch of `rows` (`None`: the size
    /// it was compiled for).
    async fn run(
        &mut self,
        program: &'static str,
        rows: Option<usize>,
        steps: &[StepParams],
    ) -> Result<()>;
    /// Queues a write, ordered with the runs before and after it.
    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()>;
    /// The words of a view, once everything run before has finished.
    async fn read(&mut self, view: View) -> Result<Vec<u32>>;
    /// The words of each view, in order, once everything run before has finished: what a
    /// caller that needs several small reads at once asks for, so that a backend that
    /// waits for its device (the GPU) waits once for all of them.
    async fn read_views(&mut self, views: &[View]) -> Result<Vec<Vec<u32>>> {
        let mut read = Vec::with_capacity(views.len());
        for &view in views {
            read.push(self.read(view).await?);
        }
        Ok(read)
    }
    /// Waits until all work run so far has finished.
    async fn finish(&mut self) -> Result<()>;
    /// Starts or stops timing every op that runs; the times wait for `take_times`. An
    /// error where `timing()` is `None`.
    fn set_profiling(&mut self, on: bool) -> Result<()>;
    /// The op times recorded since the last call, in execution order.
    async fn take_times(&mut self) -> Result<Vec<OpTime>>;

    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()> {
        self.write(buf, offset, bytemuck::cast_slice(data))
    }

    async fn read_f32(&mut self, view: View) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.read(view).await?).to_vec())
    }
}

/// Checks that `view` lies inside a buffer of `len` elements named `name`, for reads and
/// writes from the host.
pub fn check_access(name: &str, len: usize, view: View) -> Result<()> {
    match view.offset.checked_add(view.len) {
        Some(end) if end <= len => Ok(()),
        _ => Err(crate::Error::Other(format!(
            "access to elements {}..+{} of buffer '{name}', which holds {len}",
            view.offset, view.len
        ))),
    }
}

/// One compiled program: its ops, checked, at the size they were built for. Both backends
/// keep their programs in this form.
#[derive(Clone, Debug)]
pub struct ProgramOps {
    pub ops: Vec<Op>,
}

impl ProgramOps {
    /// Checks every op against its buffers (`lens`) before anything runs.
    pub fn new(ops: &[Op], lens: &[usize]) -> Result<ProgramOps> {
        for op in ops {
            op.validate(true)?;
            // Kernels may assume that what they write aliases nothing else they bind:
            // outputs share no element with any other binding (disjoint views of one
            // buffer, such as a weight's and a bias's gradients, may).
            let (inputs, outputs) = (op.inputs(), op.outputs());
            let overlap = |a: &View, b: &View| {
                a.buf == b.buf && a.offset < b.offset + b.len && b.offset < a.offset + a.len
            };
            for (i, out) in outputs.iter().enumerate() {
                let shared = inputs
                    .iter()
                    .chain(&outputs[i + 1..])
                    .any(|v| overlap(v, out));
                if shared {
                    return Err(crate::Error::Other(format!(
                        "{}: an output overlaps another binding in buffer {}",
                        op.entry(),
                        out.buf
                    )));
                }
            }
            for b in op.bindings() {
                let fits = lens
                    .get(b.view.buf)
                    .is_some_and(|&len| b.view.offset + b.view.len <= len);
                if !fits {
                    return Err(crate::Error::Other(format!(
                        "{}: binding '{}' ({:?}) lies outside its buffer",
                        op.entry(),
                        b.name,
                        b.view
                    )));
                }
            }
        }
        Ok(ProgramOps { ops: ops.to_vec() })
    }

    /// The ops for `rows` rows, checked to fit the buffers compiled for the full size.
    pub fn for_rows(&self, rows: Option<usize>) -> Result<Vec<Op>> {
        let Some(rows) = rows else {
            return Ok(self.ops.clone());
        };
        if rows == 0 {
            return Err(crate::Error::Other("a batch needs at least one row".into()));
        }
        self.ops
            .iter()
            .map(|op| {
                let op = op.with_rows(rows);
                op.validate(false)?;
                // Views cut to what the smaller batch needs: the GPU keeps its bind groups
                // of full views, the CPU reference gets slices of the right length.
                let lens: Vec<usize> = op.bindings().iter().map(|b| b.len).collect();
                let mut lens = lens.into_iter();
                Ok(op.map_views(|v| View {
                    len: lens.next().unwrap_or(v.len),
                    ..v
                }))
            })
            .collect()
    }
}
