//! Autoencoder training on any GPU with hand-written WGSL compute shaders, every kernel
//! checked against a plain CPU reference.
//!
//! Data flows one way: [`data`] → [`model`] (built into op lists, run by a [`backend`])
//! → [`train`] → reports. [`ops`] is the vocabulary beneath them all; [`cpu`] and [`gpu`]
//! stand on it and never on each other, so the same graph trains on the GPU
//! ([`GpuBackend`]) or the CPU reference ([`CpuBackend`]).
//!
//! What a program uses:
//! - **ops and backends**: build op lists over numbered buffers ([`ops`]) and run them on
//!   a [`Backend`] (`examples/custom_graph.rs` does, on both);
//! - **models**: an [`Arch`] described once as a `Sequential` and built into a [`Graph`]
//!   ([`model`]);
//! - **training**: a [`Trainer`] the caller drives an `advance` at a time ([`train`]),
//!   with checkpoints as bytes ([`checkpoint`]) and MNIST checked from its bytes
//!   ([`data`]);
//! - **pictures**: the data behind them (the latent space's projection, the codes
//!   between digits) in [`pictures`];
//! - **checking and timing**: every kernel against the reference ([`check`]), the
//!   benchmarks ([`mod@bench`]), a step's profile ([`profile`]) and the card's peaks
//!   ([`peaks`]).
//!
//! This core builds for `wasm32-unknown-unknown`, and every wait on the device is
//! `async`. The `native` feature (on by default) adds the terminal's shell: the command
//! line, files, run folders, signals, progress bars and pictures.

pub mod anomaly;
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
pub mod pictures;
pub mod plan;
pub mod profile;
mod report;
pub mod rng;
mod sample;
mod sizing;
pub mod train;
pub mod tune;

pub use backend::Backend;
pub use cpu::backend::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{Gpu, GpuBackend};
pub use model::{Arch, Graph};
pub use ops::Op;
pub use train::{TrainConfig, Trainer};
