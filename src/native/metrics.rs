//! `metrics.jsonl`, one JSON object per epoch: appended a whole line at a time as a run
//! goes, read back strictly (every line checked against what it means), and mended
//! before a resumed run appends to it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::train::EpochMetrics;

/// Appends one JSON object per epoch to `DIR/metrics.jsonl`, flushed as it goes so that
/// an interrupted run keeps every finished epoch. The file is made by the first epoch,
/// so that a run stopped before it leaves nothing that marks the folder as taken.
pub struct MetricsLog {
    file: Option<std::fs::File>,
    path: PathBuf,
}

impl MetricsLog {
    /// A log for a new run in `dir`, which must hold none.
    pub fn new(dir: &Path) -> MetricsLog {
        MetricsLog {
            file: None,
            path: dir.join("metrics.jsonl"),
        }
    }

    /// The epochs logged in `dir`, strictly read: every line one epoch's metrics.
    pub fn read(path: &Path) -> Result<Vec<EpochMetrics>> {
        let text = crate::native::files::read_regular_text(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Every non-blank line one epoch's metrics, the epochs 1, 2, 3… in order, each value
    /// within its meaning (`EpochMetrics::check`).
    pub fn parse(path: &Path, text: &str) -> Result<Vec<EpochMetrics>> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .enumerate()
            .map(|(n, (i, l))| {
                let bad = |message: String| Error::Data {
                    path: path.to_path_buf(),
                    message: format!("line {}: {message}", i + 1),
                };
                let m: EpochMetrics = serde_json::from_str(l)
                    .map_err(|e| bad(format!("not an epoch's metrics ({e})")))?;
                m.check(n + 1).map_err(bad)?;
                Ok(m)
            })
            .collect()
    }

    /// Every non-blank line one epoch's metrics, whatever its values (`plot` reads files
    /// of other programs, and shows what it can of them, saying what it cannot).
    pub fn parse_any_values(path: &Path, text: &str) -> Result<Vec<EpochMetrics>> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| Error::Data {
                    path: path.to_path_buf(),
                    message: format!("line {}: not an epoch's metrics ({e})", i + 1),
                })
            })
            .collect()
    }

    /// The epochs of a run's metrics file, for resuming, and whether the file must be
    /// written again before anything is appended to it: when its last line has no
    /// newline. Such a line is kept if it is whole, and left out if a crash cut it short
    /// (it was being appended, and nothing of its epoch was saved after it). No epochs
    /// when there is no file.
    pub fn read_for_resume(path: &Path) -> Result<(Vec<EpochMetrics>, bool)> {
        if !path.exists() {
            return Ok((Vec::new(), false));
        }
        let text = crate::native::files::read_regular_text(path).map_err(|e| Error::io(path, e))?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        match Self::parse(path, &text) {
            Ok(all) => Ok((all, torn)),
            Err(_) if torn => {
                let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
                Ok((Self::parse(path, whole)?, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Continues the log of the run in `dir` after `epochs` epochs: lines of later epochs
    /// (written just before a crash that kept their checkpoint from being saved) are
    /// dropped, and a last line without its newline mended or dropped
    /// (`read_for_resume`), atomically, before anything is appended. Returns the log and
    /// the epochs it keeps.
    pub fn resume(dir: &Path, epochs: usize) -> Result<(MetricsLog, Vec<EpochMetrics>)> {
        let path = dir.join("metrics.jsonl");
        let (all, torn) = Self::read_for_resume(&path)?;
        let kept: Vec<EpochMetrics> = all.iter().filter(|m| m.epoch <= epochs).cloned().collect();
        if kept.len() != epochs || kept.iter().enumerate().any(|(i, m)| m.epoch != i + 1) {
            return Err(Error::Data {
                path,
                message: format!(
                    "does not hold one line for each of the {epochs} epochs its checkpoint has"
                ),
            });
        }
        if kept.len() != all.len() || torn {
            let mut text = String::new();
            for m in &kept {
                text += &serde_json::to_string(m).map_err(|e| Error::Other(e.to_string()))?;
                text += "\n";
            }
            crate::native::files::write_atomically(&path, text.as_bytes())?;
        }
        let file = match path.exists() {
            true => Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?,
            ),
            false => None,
        };
        Ok((MetricsLog { file, path }, kept))
    }

    pub fn append(&mut self, m: &EpochMetrics) -> Result<()> {
        let mut line = serde_json::to_string(m).map_err(|e| Error::Other(e.to_string()))?;
        line.push('\n');
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&self.path)
                    .map_err(|e| Error::io(&self.path, e))?,
            ),
        };
        // One write of the whole line, so that a signal never leaves half of one.
        file.write_all(line.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
