//! The one error type of the library. Every failure a user can cause (bad flags, bad
//! files, shapes the device cannot hold) is a variant here, so that `main` can print it
//! and exit 1 instead of panicking.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no GPU adapter found{0}. On Linux without a GPU install a software Vulkan driver \
         (`apt-get install mesa-vulkan-drivers`, which provides lavapipe), or train with `--backend cpu`"
    )]
    NoAdapter(String),

    #[error("environment variable {var}={value:?}: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },

    #[error("could not create the GPU device: {0}")]
    Device(String),

    #[error("GPU validation error in {context}: {message}")]
    Validation { context: String, message: String },

    #[error("GPU readback failed: {0}")]
    Readback(String),

    #[error("{what} needs {needed} bytes in one storage binding, but the device allows at most {limit}; {hint}")]
    DeviceLimit {
        what: String,
        needed: u64,
        limit: u64,
        hint: String,
    },

    #[error("the loss became {value} at epoch {epoch} (step {step}): training diverged, and nothing of epoch {epoch} was saved (the checkpoints of earlier epochs are kept). The learning rate is probably too high: try a smaller --lr (this run used {lr})")]
    Diverged {
        value: f64,
        epoch: usize,
        step: u64,
        lr: f32,
    },

    #[error("invalid shape: {0}")]
    Shape(#[from] crate::ops::ShapeError),

    #[error("invalid value for {flag}: {message}")]
    Flag { flag: String, message: String },

    #[error("data file {path}: {message}")]
    Data { path: PathBuf, message: String },

    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn flag(flag: &str, message: impl Into<String>) -> Self {
        Error::Flag {
            flag: flag.to_string(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
