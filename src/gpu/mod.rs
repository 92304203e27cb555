//! Everything that touches wgpu: the context, the kernels (how each op launches), the GPU
//! backend and the timestamp profiler.

pub mod backend;
pub mod context;
pub mod kernels;
pub mod profiler;

pub use backend::GpuBackend;
pub use context::{AdapterRequest, Gpu, GpuOptions, PipelineStore};
