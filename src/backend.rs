//! The one seam between a graph and the hardware that runs it.

use crate::error::Result;
use crate::model::ops::{BufId, Op, StepParams};

/// How long one op took to run.
#[derive(Clone, Debug)]
pub struct OpTime {
    pub op: Op,
    pub nanos: f64,
}

/// A buffer of 4-byte elements, zeroed when allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferSpec {
    pub name: String,
    pub len: usize,
}

/// Runs op lists over numbered buffers. A program is compiled once from its ops at full
/// size; `run` may then pass the same ops rebuilt for fewer rows (a partial last batch),
/// which only changes params, never buffers or bindings.
pub trait Backend {
    fn name(&self) -> String;
    /// Replaces all buffers with zeroed ones of these lengths.
    fn alloc(&mut self, buffers: &[BufferSpec]) -> Result<()>;
    fn compile(&mut self, program: &'static str, ops: &[Op]) -> Result<()>;
    /// Runs the program once per step, in order.
    fn run(&mut self, program: &'static str, ops: &[Op], steps: &[StepParams]) -> Result<()>;
    fn write(&mut self, buf: BufId, offset: usize, words: &[u32]) -> Result<()>;
    /// Waits until all work run so far has finished.
    fn finish(&mut self) -> Result<()>;
    /// Starts or stops timing every op that runs; the times wait for `take_times`.
    fn set_profiling(&mut self, on: bool) -> Result<()>;
    /// The op times recorded since the last call, in execution order.
    fn take_times(&mut self) -> Result<Vec<OpTime>>;
    /// How `take_times` measures: "timestamp" (GPU timestamp queries) or "cpu-clock".
    fn timing(&self) -> &'static str;
    fn read(&mut self, buf: BufId) -> Result<Vec<u32>>;

    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()> {
        self.write(buf, offset, bytemuck::cast_slice(data))
    }

    fn read_f32(&mut self, buf: BufId) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.read(buf)?).to_vec())
    }
}
