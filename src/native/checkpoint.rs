//! Checkpoints on disk: `checkpoint`'s bytes written atomically (a crash never leaves
//! half a file where a good one was) and read back only from regular files; and errors
//! about a configuration read from a checkpoint, which name the file and the saved field
//! rather than a flag the user never gave.

use std::path::Path;

pub use crate::checkpoint::{check_progress, Meta};
use crate::checkpoint::{
    checkpoint_error, model_bytes, parse_meta, parse_state, parse_weights, state_bytes,
};
use crate::data::Scaling;
use crate::error::{Error, Result};
use crate::model::Graph;
use crate::native::files::{read_regular, write_atomically};
use crate::train::TrainState;

/// Writes the flat parameter buffer of `graph` as `model.safetensors` does, with the rows'
/// scaling where they had one.
pub fn save(
    path: &Path,
    graph: &Graph,
    flat: &[f32],
    epoch: usize,
    scaling: Option<&Scaling>,
) -> Result<()> {
    write_atomically(path, &model_bytes(path, graph, flat, epoch, scaling)?)
}

/// Writes everything continuing the run needs, with the run's record as JSON.
pub fn save_state(
    path: &Path,
    graph: &Graph,
    state: &TrainState,
    flags: &str,
    scaling: Option<&Scaling>,
) -> Result<()> {
    write_atomically(path, &state_bytes(path, graph, state, flags, scaling)?)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    read_regular(path).map_err(|e| Error::io(path, e))
}

pub fn read_meta(path: &Path) -> Result<Meta> {
    parse_meta(path, &read(path)?)
}

/// Reads a checkpoint's weights into a flat parameter buffer laid out for `graph`,
/// refusing one saved for another architecture, or with missing, extra, misshapen or
/// non-finite tensors.
pub fn load(path: &Path, graph: &Graph) -> Result<Vec<f32>> {
    parse_weights(path, &read(path)?, graph)
}

pub fn load_state(path: &Path, graph: &Graph) -> Result<TrainState> {
    parse_state(path, &read(path)?, graph)
}

/// The field of a checkpoint's saved flags that `flag` was saved as.
fn saved_field(flag: &str) -> &str {
    match flag {
        "--layers" | "--channels" => "arch",
        other => other.trim_start_matches('-'),
    }
}

/// An error about a model whose configuration was read from the checkpoint at `path`
/// (`--resume`, `eval`): where it names a flag, the user gave no such flag, so it names
/// the checkpoint and the saved field instead, and drops the advice to change the flag.
/// Other errors are returned as they are.
pub fn blame_saved(path: &Path, e: Error) -> Error {
    match e {
        Error::Flag { flag, message } => {
            let message = message.split("; use a smaller").next().unwrap_or_default();
            let field = saved_field(&flag);
            checkpoint_error(path, format!("its saved {field} cannot be used: {message}"))
        }
        Error::DeviceLimit {
            what,
            needed,
            limit,
            ..
        } => checkpoint_error(
            path,
            format!("its saved model is too large for this device: {what} needs {needed} bytes in one storage binding, but the device allows at most {limit}"),
        ),
        other => other,
    }
}
