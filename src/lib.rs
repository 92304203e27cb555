//! Autoencoder training on any GPU with hand-written WGSL compute shaders, every kernel
//! checked against a plain CPU reference.
//!
//! Data flows one way: [`data`] → [`model`] (built into op lists, run by a [`backend`])
//! → [`train`] → reports. [`ops`] is the vocabulary beneath them all; [`cpu`] and [`gpu`]
//! stand on it and never on each other, so the same graph trains on the GPU
//! ([`gpu::GpuBackend`]) or the CPU ([`cpu::backend::CpuBackend`]).

#[cfg(feature = "native")]
pub mod app;
pub mod backend;
pub mod bench;
pub mod check;
pub mod checkpoint;
#[cfg(feature = "native")]
pub mod cli;
#[cfg(feature = "native")]
pub mod compare;
pub mod cpu;
pub mod data;
pub mod error;
#[cfg(feature = "native")]
pub mod files;
pub mod gpu;
#[cfg(feature = "native")]
pub mod interrupt;
pub mod model;
pub mod ops;
pub mod peaks;
#[cfg(feature = "native")]
pub mod plots;
pub mod profile;
#[cfg(feature = "native")]
pub mod progress;
#[cfg(feature = "native")]
pub mod record;
pub mod report;
pub mod rng;
#[cfg(feature = "native")]
pub mod roofline;
#[cfg(feature = "native")]
pub mod rundir;
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
