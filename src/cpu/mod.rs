//! The CPU reference: one module per kernel family, mirroring `shaders/`, with the same
//! function names as the WGSL entry points. These are the oracle for every GPU test, so
//! they are plain loops over f32 with f64 accumulation, and nothing clever.

pub mod batch;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod elementwise;
pub mod latent;
pub mod loss;
pub mod matmul;
pub mod noise;
pub mod optim;
pub mod peak;
pub mod pool;

pub mod backend;
#[cfg(test)]
pub(crate) mod gradcheck;
