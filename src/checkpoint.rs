//! Checkpoints in safetensors format, with PyTorch's state_dict names (`0.weight`, …) and
//! layouts, so that `model.load_state_dict(safetensors.torch.load_file(path))` works on
//! the matching `nn.Sequential`. The architecture is stored in the metadata and checked
//! on load. Saving is atomic (`files::write_atomically`), so a crash never leaves a
//! half-written checkpoint where a good one was.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::model::Graph;

const FORMAT: &str = "wgsl-autoencoder";

fn checkpoint_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes the flat parameter buffer of `graph` as one tensor per parameter.
pub fn save(path: &Path, graph: &Graph, flat: &[f32]) -> Result<()> {
    let tensors = graph
        .params
        .iter()
        .map(|p| {
            let bytes: &[u8] = bytemuck::cast_slice(&flat[p.value.range()]);
            TensorView::new(Dtype::F32, p.shape.clone(), bytes).map(|t| (p.name.clone(), t))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| checkpoint_error(path, e.to_string()))?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("arch".to_string(), graph.arch.spec()),
    ]);
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| checkpoint_error(path, e.to_string()))?;

    crate::files::write_atomically(path, &bytes)
}

/// Reads a checkpoint into a flat parameter buffer laid out for `graph`, refusing one
/// saved for another architecture or with missing, extra or misshapen tensors.
pub fn load(path: &Path, graph: &Graph) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| checkpoint_error(path, format!("not a safetensors file ({e})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    match (meta.get("format"), meta.get("arch")) {
        (Some(f), Some(arch)) if f == FORMAT => {
            if *arch != graph.arch.spec() {
                return Err(checkpoint_error(
                    path,
                    format!(
                        "saved for {arch}, but this run builds {}",
                        graph.arch.spec()
                    ),
                ));
            }
        }
        _ => {
            return Err(checkpoint_error(
                path,
                "no wgsl-autoencoder architecture in its metadata",
            ))
        }
    }
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| checkpoint_error(path, format!("corrupt ({e})")))?;
    if file.len() != graph.params.len() {
        return Err(checkpoint_error(
            path,
            format!("{} tensors, expected {}", file.len(), graph.params.len()),
        ));
    }
    let mut flat = vec![0.0f32; graph.param_len()];
    for p in &graph.params {
        let t = file
            .tensor(&p.name)
            .map_err(|_| checkpoint_error(path, format!("no tensor '{}'", p.name)))?;
        if t.dtype() != Dtype::F32 || t.shape() != p.shape.as_slice() {
            return Err(checkpoint_error(
                path,
                format!(
                    "tensor '{}' is {:?} {:?}, expected F32 {:?}",
                    p.name,
                    t.dtype(),
                    t.shape(),
                    p.shape
                ),
            ));
        }
        for (v, b) in flat[p.value.range()]
            .iter_mut()
            .zip(t.data().chunks_exact(4))
        {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    Ok(flat)
}
