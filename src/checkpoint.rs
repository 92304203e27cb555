//! Checkpoints in safetensors format, with PyTorch's state_dict names (`0.weight`, …) and
//! layouts, so that `model.load_state_dict(safetensors.torch.load_file(path))` works on
//! the matching `nn.Sequential`. Every epoch a run saves two:
//!
//! - `model.safetensors`: the weights alone, which PyTorch loads as they are;
//! - `checkpoint.safetensors`: the same weights under the same names, and what
//!   continuing the run needs: Adam's moments (`optimizer.exp_avg.<name>`,
//!   `optimizer.exp_avg_sq.<name>`), the generator's state (`rng.mt19937`), and in the
//!   metadata the epoch, Adam's step and the run's flags.
//!
//! The architecture (with the shape of the samples it takes) is in both files' metadata
//! and checked on load, and so is the scaling a table's rows were given (`scaling`, JSON),
//! which is part of the model: whatever it is later given is scaled the same. So is every
//! value,
//! and a tensor that is not finite is refused, by name, on save and on load. Parsing
//! trusts nothing in the bytes: every input gives a value or an error. This module turns
//! models into bytes and back; the native shell writes them atomically
//! (`native::checkpoint`), a browser offers them as downloads. `path` arguments only name
//! the file in errors.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::data::Scaling;
use crate::error::{Error, Result};
use crate::model::{Arch, Graph};
use crate::train::{TrainConfig, TrainState};

const FORMAT: &str = "wgsl-autoencoder";
const EXP_AVG: &str = "optimizer.exp_avg.";
const EXP_AVG_SQ: &str = "optimizer.exp_avg_sq.";
const RNG: &str = "rng.mt19937";

pub(crate) fn checkpoint_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// What a checkpoint's metadata says about the run that saved it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    pub arch: String,
    /// Epochs completed when it was saved (0 when the file does not say).
    pub epoch: usize,
    pub adam_step: u64,
    /// The run's record, as JSON (`record::RunRecord`).
    pub flags: Option<String>,
    /// The scaling its rows were given (fitted on its training split), if they were.
    pub scaling: Option<Scaling>,
}

/// Refuses values that are not finite, naming the tensor.
fn check_finite(path: &Path, name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(checkpoint_error(
            path,
            format!(
                "tensor '{name}' holds {} at element {i}: not a usable checkpoint",
                values[i]
            ),
        )),
        None => Ok(()),
    }
}

/// A tensor to write: its name, type, shape and little-endian bytes.
type Tensor<'a> = (String, Dtype, Vec<usize>, &'a [u8]);

fn serialize(
    path: &Path,
    tensors: Vec<Tensor>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let views = tensors
        .into_iter()
        .map(|(name, dtype, shape, bytes)| TensorView::new(dtype, shape, bytes).map(|t| (name, t)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| checkpoint_error(path, e.to_string()))?;
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| checkpoint_error(path, e.to_string()))?;
    Ok(with_sorted_header(bytes))
}

/// `bytes` with the safetensors header's entries in sorted order. safetensors writes the
/// metadata from a `HashMap`, whose order changes from process to process, so that two
/// runs saving the same weights and metadata would write different files; sorted, the
/// same model is the same bytes. The entries and the header's length are unchanged (the
/// same compact JSON, reordered), so the tensors' offsets still hold.
fn with_sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    else {
        return bytes;
    };
    let Some(header) = bytes.get(8..8 + len) else {
        return bytes;
    };
    // safetensors pads the header with spaces to a multiple of 8 bytes.
    let text = String::from_utf8_lossy(header);
    let Ok(mut entries) =
        serde_json::from_str::<BTreeMap<String, serde_json::Value>>(text.trim_end())
    else {
        return bytes;
    };
    // The metadata's own keys sorted too, whether or not serde_json keeps insertion order.
    if let Some(meta) = entries.get_mut("__metadata__") {
        if let Ok(sorted) = serde_json::from_value::<BTreeMap<String, String>>(meta.clone()) {
            *meta = serde_json::json!(sorted);
        }
    }
    let Ok(sorted) = serde_json::to_string(&entries) else {
        return bytes;
    };
    if sorted.len() == text.trim_end().len() {
        bytes[8..8 + sorted.len()].copy_from_slice(sorted.as_bytes());
    }
    bytes
}

fn base_metadata(graph: &Graph, scaling: Option<&Scaling>) -> HashMap<String, String> {
    let mut meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("arch".to_string(), graph.arch.spec()),
    ]);
    if let Some(s) = scaling {
        // serde_json writes each f32 in its shortest form that reads back to the same bits.
        let json = serde_json::to_string(s).unwrap_or_default();
        meta.insert("scaling".to_string(), json);
    }
    meta
}

/// The weights of `flat`, one tensor per parameter under its PyTorch name, prefixed.
fn weight_tensors<'a>(
    path: &Path,
    graph: &Graph,
    flat: &'a [f32],
    prefix: &str,
) -> Result<Vec<Tensor<'a>>> {
    graph
        .params
        .iter()
        .map(|p| {
            let values = flat
                .get(p.value.range())
                .ok_or_else(|| checkpoint_error(path, "fewer values than the model has"))?;
            let name = format!("{prefix}{}", p.name);
            check_finite(path, &name, values)?;
            Ok((
                name,
                Dtype::F32,
                p.shape.clone(),
                bytemuck::cast_slice(values),
            ))
        })
        .collect()
}

/// `model.safetensors`: the flat parameter buffer of `graph` as one tensor per parameter,
/// with the rows' `scaling` where they had one. `path` only names the file in errors.
pub fn model_bytes(
    path: &Path,
    graph: &Graph,
    flat: &[f32],
    epoch: usize,
    scaling: Option<&Scaling>,
) -> Result<Vec<u8>> {
    let tensors = weight_tensors(path, graph, flat, "")?;
    let mut metadata = base_metadata(graph, scaling);
    metadata.insert("epoch".into(), epoch.to_string());
    serialize(path, tensors, metadata)
}

/// `checkpoint.safetensors`: everything continuing the run needs, with the run's record
/// (`flags`, JSON) in the metadata.
pub fn state_bytes(
    path: &Path,
    graph: &Graph,
    state: &TrainState,
    flags: &str,
    scaling: Option<&Scaling>,
) -> Result<Vec<u8>> {
    let mut tensors = weight_tensors(path, graph, &state.params, "")?;
    tensors.extend(weight_tensors(path, graph, &state.adam_m, EXP_AVG)?);
    tensors.extend(weight_tensors(path, graph, &state.adam_v, EXP_AVG_SQ)?);
    let rng: &[u8] = bytemuck::cast_slice(&state.rng);
    tensors.push((RNG.to_string(), Dtype::U32, vec![state.rng.len()], rng));
    let mut metadata = base_metadata(graph, scaling);
    metadata.insert("epoch".into(), state.epoch.to_string());
    metadata.insert("adam_step".into(), state.adam_step.to_string());
    metadata.insert("flags".into(), flags.to_string());
    serialize(path, tensors, metadata)
}

/// The metadata of a checkpoint's bytes; refuses a file that is not one of ours.
pub fn parse_meta(path: &Path, bytes: &[u8]) -> Result<Meta> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| checkpoint_error(path, format!("not a safetensors file ({e})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let arch = match (meta.get("format"), meta.get("arch")) {
        (Some(f), Some(arch)) if f == FORMAT => arch.clone(),
        _ => {
            return Err(checkpoint_error(
                path,
                "no wgsl-autoencoder architecture in its metadata",
            ))
        }
    };
    let number = |key: &str| -> Result<u64> {
        match meta.get(key) {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| {
                checkpoint_error(path, format!("metadata {key}={v:?} is not a number"))
            }),
        }
    };
    Ok(Meta {
        epoch: usize::try_from(number("epoch")?)
            .map_err(|_| checkpoint_error(path, "its epoch is too large"))?,
        adam_step: number("adam_step")?,
        flags: meta.get("flags").cloned(),
        scaling: match meta.get("scaling") {
            Some(json) => Some(parse_scaling(path, json, &arch)?),
            None => None,
        },
        arch,
    })
}

/// The model a checkpoint's metadata names. A file naming one this crate does not build
/// (another program's edit, or a later version's kind) is refused here, so that the
/// terminal and the page say so in the same words.
pub fn meta_arch(path: &Path, meta: &Meta) -> Result<Arch> {
    Arch::from_spec(&meta.arch).ok_or_else(|| {
        checkpoint_error(
            path,
            format!(
                "it holds a model of architecture {:?}, which wgsl-autoencoder does not build: it builds {}",
                meta.arch,
                Arch::KINDS
            ),
        )
    })
}

/// The scaling saved in a checkpoint's metadata, checked against its architecture: one
/// offset and one positive scale per feature, all finite.
fn parse_scaling(path: &Path, json: &str, arch: &str) -> Result<Scaling> {
    let bad = |why: String| checkpoint_error(path, format!("its saved scaling {why}"));
    let s: Scaling = serde_json::from_str(json).map_err(|e| bad(format!("is unreadable ({e})")))?;
    let features = crate::model::Arch::from_spec(arch).map(|a| a.input.elements());
    if s.offset.len() != s.scale.len() || features.is_some_and(|n| n != s.offset.len()) {
        return Err(bad(format!(
            "has {} offsets and {} scales for a model of {} inputs",
            s.offset.len(),
            s.scale.len(),
            features.map_or("unknown".to_string(), |n| n.to_string())
        )));
    }
    let finite = s.offset.iter().all(|v| v.is_finite());
    if !finite || s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(bad(
            "holds a value that is not finite, or a scale ≤ 0".into()
        ));
    }
    Ok(s)
}

/// Checks that a checkpoint's epoch and Adam step agree with the run's configuration
/// (as saved, before `--epochs` changes it) and its `images` a epoch: an epoch from 1 to
/// the run's epochs, and exactly the steps that many epochs take, one per batch, the last
/// batch partial.
pub fn check_progress(path: &Path, meta: &Meta, config: &TrainConfig, images: usize) -> Result<()> {
    if meta.epoch == 0 || meta.epoch > config.epochs {
        return Err(checkpoint_error(
            path,
            format!(
                "its epoch {} is not one of its run's epochs 1 to {}: a checkpoint is saved at the end of an epoch",
                meta.epoch, config.epochs
            ),
        ));
    }
    let per_epoch = images.div_ceil(config.batch.max(1)) as u64;
    let steps = per_epoch.saturating_mul(meta.epoch as u64);
    if steps != meta.adam_step {
        return Err(checkpoint_error(
            path,
            format!(
                "its adam_step {} does not match its epoch {}: it should be {steps}, as each epoch of {images} images at batch {} is {per_epoch} step(s)",
                meta.adam_step, meta.epoch, config.batch
            ),
        ));
    }
    Ok(())
}

/// Checks a checkpoint's bytes against `graph`: its architecture, and that it holds every
/// parameter, finite, in the right shape, and nothing else but `extra` names.
fn open<'a>(path: &Path, bytes: &'a [u8], graph: &Graph) -> Result<SafeTensors<'a>> {
    let meta = parse_meta(path, bytes)?;
    if meta.arch != graph.arch.spec() {
        return Err(checkpoint_error(
            path,
            format!(
                "saved for {}, but this run builds {}",
                meta.arch,
                graph.arch.spec()
            ),
        ));
    }
    SafeTensors::deserialize(bytes).map_err(|e| checkpoint_error(path, format!("corrupt ({e})")))
}

/// The tensor `name` as f32s into `out` (the length the graph's parameter has).
fn read_tensor(
    path: &Path,
    file: &SafeTensors,
    name: &str,
    shape: &[usize],
    out: &mut [f32],
) -> Result<()> {
    let t = file
        .tensor(name)
        .map_err(|_| checkpoint_error(path, format!("no tensor '{name}'")))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape || t.data().len() != out.len() * 4 {
        return Err(checkpoint_error(
            path,
            format!(
                "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    for (v, b) in out.iter_mut().zip(t.data().chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    check_finite(path, name, out)
}

/// The weights of a checkpoint's bytes as a flat buffer laid out for `graph`.
/// A checkpoint's weights as a flat parameter buffer laid out for `graph`, refusing one
/// saved for another architecture, or with missing, extra, misshapen or non-finite
/// tensors.
pub fn parse_weights(path: &Path, bytes: &[u8], graph: &Graph) -> Result<Vec<f32>> {
    let file = open(path, bytes, graph)?;
    let known = |name: &str| {
        graph.params.iter().any(|p| p.name == name)
            || name.starts_with(EXP_AVG)
            || name.starts_with(EXP_AVG_SQ)
            || name == RNG
    };
    if let Some(extra) = file.names().into_iter().find(|n| !known(n)) {
        return Err(checkpoint_error(
            path,
            format!("tensor '{extra}' is not one of this model's"),
        ));
    }
    let mut flat = vec![0.0f32; graph.param_len()];
    for p in &graph.params {
        read_tensor(path, &file, &p.name, &p.shape, &mut flat[p.value.range()])?;
    }
    Ok(flat)
}

/// The whole training state of a checkpoint's bytes (`save_state`).
pub fn parse_state(path: &Path, bytes: &[u8], graph: &Graph) -> Result<TrainState> {
    let meta = parse_meta(path, bytes)?;
    let params = parse_weights(path, bytes, graph)?;
    let file = open(path, bytes, graph)?;
    let mut moments = [
        vec![0.0f32; graph.param_len()],
        vec![0.0f32; graph.param_len()],
    ];
    for (prefix, flat) in [EXP_AVG, EXP_AVG_SQ].iter().zip(moments.iter_mut()) {
        for p in &graph.params {
            let name = format!("{prefix}{}", p.name);
            read_tensor(path, &file, &name, &p.shape, &mut flat[p.value.range()])?;
        }
    }
    let rng = file.tensor(RNG).map_err(|_| {
        checkpoint_error(
            path,
            format!("no tensor '{RNG}': saved by a run that cannot be resumed"),
        )
    })?;
    let words: Vec<u32> = rng
        .data()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if rng.dtype() != Dtype::U32 || crate::rng::TorchRng::from_words(&words).is_none() {
        return Err(checkpoint_error(
            path,
            format!("tensor '{RNG}' is not a generator state"),
        ));
    }
    let [adam_m, adam_v] = moments;
    Ok(TrainState {
        params,
        adam_m,
        adam_v,
        adam_step: meta.adam_step,
        epoch: meta.epoch,
        rng: words,
    })
}
