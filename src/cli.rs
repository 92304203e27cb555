//! The command line: subcommands and their options (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::ops::LossKind;

#[derive(Parser, Debug)]
#[command(
    name = "wgsl-autoencoder",
    version,
    about = "Train autoencoders on MNIST with hand-written WGSL compute shaders, checked against a CPU reference"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train an autoencoder on MNIST and write DIR/metrics.jsonl.
    Train(TrainArgs),
    /// List every adapter wgpu sees, with the features and limits that matter here.
    Info,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    Dense,
    Conv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// WGSL kernels on the adapter chosen by WGPU_BACKEND / WGPU_ADAPTER_NAME / WGPU_POWER_PREF.
    Gpu,
    /// The CPU reference kernels.
    Cpu,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value_t = ModelKind::Dense)]
    pub model: ModelKind,
    /// Dense encoder widths after the 784 inputs; the last is the code layer. The decoder mirrors them.
    #[arg(long, value_delimiter = ',', default_value = "100,200,30")]
    pub layers: Vec<usize>,
    /// Conv encoder channels, each stage a 3×3 conv, ReLU and 2×2 max-pool.
    #[arg(long, value_delimiter = ',', default_value = "16,8")]
    pub channels: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f32,
    #[arg(long, value_enum, default_value_t = LossKind::Mse)]
    pub loss: LossKind,
    /// Seeds initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Folder with the four MNIST .gz files [default: data/mnist].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendKind::Gpu)]
    pub backend: BackendKind,
    /// Output folder [default: runs/<model>-<timestamp>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
