//! What a run saves about itself in its checkpoint, so that `--resume` and `eval` need
//! none of its flags again: the typed training configuration, serialised as it is, and
//! the choices of the command line that are not the model's (the data, how it was read,
//! the limit and the backend).

use std::path::{Path, PathBuf};

use crate::data::{limit_problem, Prepare};
use crate::error::{Error, Result};
use crate::native::cli::BackendKind;
use crate::train::TrainConfig;

/// A run's configuration as saved in `checkpoint.safetensors` (metadata `flags`). The
/// JSON is the config's fields with `limit` and `backend` beside them, which is also what
/// earlier versions saved (without `backend` and `log_every`), so their runs resume.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub config: TrainConfig,
    /// `--limit`: the first N training images.
    pub limit: Option<usize>,
    /// The data trained on and how it was read; absent for the bundled MNIST read as it
    /// is (and for every run saved before `--data` read other sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataRecord>,
    /// The training samples an epoch ran over (after `--limit`); absent in runs saved
    /// before other data, which trained on MNIST's 60,000 or their limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_samples: Option<usize>,
    /// The backend it trained on: a resumed run keeps it, unless `--backend` says
    /// otherwise, so that its numbers continue exactly.
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// The kernel variants it trained with on the GPU, by op shape (`tune::Names`; empty
    /// with `--no-tune`): a resumed run runs the same, whatever was tuned since, so that
    /// its numbers continue exactly. Absent for runs saved before tuning existed, which
    /// ran the heuristic's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<crate::tune::Names>,
}

/// Where a run's data is (an absolute path, so that a run resumes from any folder; none
/// for the bundled MNIST) and how it was read.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub prepare: Prepare,
}

impl RunRecord {
    /// The training samples an epoch of this run covers.
    pub fn samples_per_epoch(&self) -> usize {
        self.train_samples
            .or(self.limit)
            .unwrap_or(crate::data::TRAIN_COUNT)
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Other(e.to_string()))
    }

    /// The record saved in the checkpoint at `path`, checked value by value: an error
    /// names the file and the field, never a flag the user did not give.
    pub fn from_json(json: &str, path: &Path) -> Result<RunRecord> {
        let bad = |message: String| Error::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let record: RunRecord = serde_json::from_str(json)
            .map_err(|e| bad(format!("its saved flags are unreadable ({e})")))?;
        if let Some((field, why)) = record.problem() {
            return Err(bad(format!("its saved {field} cannot be used: {why}")));
        }
        Ok(record)
    }

    /// The first value out of range, as (field, what is wrong).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(problem) = self.config.problem() {
            return Some(problem);
        }
        if let Some(why) = limit_problem(self.limit) {
            return Some(("limit", why));
        }
        // The bundled MNIST's size is known without reading it.
        let most = crate::data::TRAIN_COUNT;
        let bundled = self.data.as_ref().is_none_or(|d| d.path.is_none());
        match (self.limit, bundled) {
            (Some(n), true) if n > most => {
                Some(("limit", format!("{n}: must be between 1 and {most}")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;
    use crate::ops::{Activation, NoiseKind};

    #[test]
    fn records_of_earlier_versions_still_read() {
        let old = r#"{"arch":"dense:40,12","epochs":3,"batch":64,"lr":0.001,"loss":"mse","seed":7,"limit":640,"noise":null}"#;
        let r = RunRecord::from_json(old, Path::new("c.safetensors")).unwrap();
        assert_eq!(r.config.arch, Arch::dense(vec![40, 12]));
        assert_eq!((r.config.epochs, r.config.batch, r.config.seed), (3, 64, 7));
        assert_eq!(
            (r.limit, r.backend, r.config.log_every),
            (Some(640), None, None)
        );
    }

    #[test]
    fn a_record_reads_back_as_it_was_saved() {
        let record = RunRecord {
            variants: None,
            config: TrainConfig {
                noise: Some(NoiseKind::Mask { p: 0.25 }),
                log_every: Some(7),
                ..TrainConfig::new(Arch::conv(vec![4, 2]).with_activation(Activation::Sigmoid))
            },
            limit: None,
            data: Some(DataRecord {
                path: Some(PathBuf::from("/data/ecg.csv")),
                prepare: Prepare {
                    standardize: true,
                    label_column: Some("label".into()),
                    ..Prepare::default()
                },
            }),
            train_samples: Some(4500),
            backend: Some(BackendKind::Cpu),
        };
        let json = record.to_json().unwrap();
        assert_eq!(RunRecord::from_json(&json, Path::new("c")).unwrap(), record);
    }

    #[test]
    fn a_saved_value_out_of_range_names_the_file_and_the_field() {
        let path = Path::new("run/checkpoint.safetensors");
        for (json, field) in [
            (
                r#"{"arch":"dense:4","epochs":3,"batch":0,"lr":0.001,"loss":"mse","seed":7,"limit":null,"noise":null}"#,
                "batch",
            ),
            (
                r#"{"arch":"dense:4","epochs":3,"batch":8,"lr":0.001,"loss":"mse","seed":7,"limit":60001,"noise":null}"#,
                "limit",
            ),
            (
                r#"{"arch":"dense:4","epochs":3,"batch":8,"lr":-1.0,"loss":"mse","seed":7,"limit":null,"noise":null}"#,
                "lr",
            ),
        ] {
            let e = RunRecord::from_json(json, path).unwrap_err().to_string();
            assert!(
                e.contains("checkpoint.safetensors") && e.contains(&format!("saved {field}")),
                "{e}"
            );
            assert!(!e.contains("--"), "names no flag: {e}");
        }
        let e = RunRecord::from_json(r#"{"arch":"dense:0"}"#, path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unreadable") && e.contains("dense:0"), "{e}");
    }
}
