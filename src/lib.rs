//! Autoencoder training on any GPU with hand-written WGSL compute shaders, every kernel
//! checked against a plain CPU reference.
//!
//! Data flows one way: [`data`] → [`model`] (built into op lists, run by a [`backend`])
//! → [`train`] → reports. [`ops`] is the vocabulary beneath them all; [`cpu`] and [`gpu`]
//! stand on it and never on each other, so the same graph trains on the GPU
//! ([`gpu::GpuBackend`]) or the CPU ([`cpu::backend::CpuBackend`]).

pub mod app;
pub mod backend;
pub mod bench;
pub mod check;
pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod cpu;
pub mod data;
pub mod error;
pub mod files;
pub mod gpu;
pub mod interrupt;
pub mod model;
pub mod ops;
pub mod peaks;
pub mod plots;
pub mod profile;
pub mod progress;
pub mod record;
pub mod report;
pub mod rng;
pub mod roofline;
pub mod rundir;
pub mod sample;
pub mod sizing;
pub mod train;

pub use error::{Error, Result};
