//! Autoencoder training on any GPU with hand-written WGSL compute shaders, every kernel
//! checked against a plain CPU reference.
//!
//! Data flows one way: [`data`] → [`model`] (built into op lists, run by a [`backend`])
//! → [`train`] → reports. [`ops`] is the vocabulary beneath them all; [`cpu`] and [`gpu`]
//! stand on it and never on each other, so the same graph trains on the GPU
//! ([`gpu::GpuBackend`]) or the CPU ([`cpu::backend::CpuBackend`]).

pub mod backend;
pub mod bench;
pub mod check;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod error;
pub mod gpu;
pub mod model;
#[cfg(feature = "native")]
pub mod native;
pub mod ops;
pub mod peaks;
pub mod profile;
pub mod report;
pub mod rng;
pub mod sample;
pub mod sizing;
pub mod train;

pub use backend::Backend;
pub use cpu::backend::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{Gpu, GpuBackend};
pub use model::{Arch, Graph};
pub use ops::Op;
pub use train::{TrainConfig, Trainer};
