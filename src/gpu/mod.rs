//! Everything that touches wgpu: the context, the shader sources, how ops launch, the
//! GPU backend and the timestamp profiler.

pub mod backend;
pub mod context;
mod conv_launch;
pub mod launch;
pub mod profiler;
pub mod shaders;

pub use backend::GpuBackend;
pub use context::Gpu;
