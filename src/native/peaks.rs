//! The card's peaks saved between runs: `$XDG_CACHE_HOME/wgsl-autoencoder/peaks.json`
//! (else `~/.cache/...`), one entry per adapter and driver, written atomically. A file
//! that cannot be read, or peaks no card could have, are a note and a new measurement,
//! never a failed command.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::native::adapter_cache::{self, adapter_key};
use crate::peaks::{PeakRow, Peaks};

/// Measures the adapter's peaks (`peaks::measure`) and dates them.
pub async fn measure(gpu: &Arc<Gpu>) -> Result<(Peaks, Vec<PeakRow>)> {
    let (mut peaks, rows) = crate::peaks::measure(gpu).await?;
    peaks.measured = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    Ok((peaks, rows))
}

/// Where saved peaks live: `$XDG_CACHE_HOME/wgsl-autoencoder/peaks.json`, else
/// `~/.cache/wgsl-autoencoder/peaks.json`.
pub fn cache_file() -> Option<PathBuf> {
    adapter_cache::path("peaks.json")
}

const CACHE_VERSION: u32 = 1;

/// Saved peaks and the notes worth telling the user (a corrupt file, which is ignored).
pub struct Saved {
    pub peaks: Option<Peaks>,
    pub path: Option<PathBuf>,
    pub notes: Vec<String>,
}

/// The peaks saved for this adapter, if any. Never fails: a cache that cannot be read, or
/// peaks no card could have, are a note, and the peaks are measured again.
pub fn load(gpu: &Gpu) -> Saved {
    let Some(path) = cache_file() else {
        return Saved {
            peaks: None,
            path: None,
            notes: vec!["no cache folder (neither XDG_CACHE_HOME nor HOME is set)".into()],
        };
    };
    match adapter_cache::read::<Peaks>(&path, CACHE_VERSION) {
        Ok(mut file) => {
            let peaks = file.adapters.remove(&adapter_key(gpu));
            match peaks.as_ref().map(Peaks::check) {
                Some(Err(why)) => Saved {
                    peaks: None,
                    notes: vec![format!(
                        "ignoring the peaks saved for this adapter in {}: {why}",
                        path.display()
                    )],
                    path: Some(path),
                },
                _ => Saved {
                    peaks,
                    path: Some(path),
                    notes: Vec::new(),
                },
            }
        }
        Err(why) => Saved {
            peaks: None,
            notes: vec![format!("ignoring {}: {why}", path.display())],
            path: Some(path),
        },
    }
}

/// Saves the peaks for this adapter beside those of other adapters, atomically, and says
/// where. A corrupt file is replaced, with a note saying so.
pub fn save(gpu: &Gpu, peaks: &Peaks) -> Result<(PathBuf, Vec<String>)> {
    let path = cache_file().ok_or_else(|| {
        Error::Other("no cache folder to save peaks in: set XDG_CACHE_HOME or HOME".into())
    })?;
    let held = adapter_cache::lock(&path, &mut |l| eprintln!("{l}"))?;
    let notes = adapter_cache::update(&path, &held, CACHE_VERSION, adapter_key(gpu), |_| {
        peaks.clone()
    })?;
    Ok((path, notes))
}

/// The saved peaks, or peaks measured and saved now; `say` hears what happened, for
/// the user (on stderr, so that JSON output stays clean).
pub async fn saved_or_measured(gpu: &Arc<Gpu>, mut say: impl FnMut(&str)) -> Result<Peaks> {
    let saved = load(gpu);
    for note in &saved.notes {
        say(note);
    }
    if let Some(peaks) = saved.peaks {
        let from = saved
            .path
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        say(&format!(
            "peaks of {} measured {}, from {from} (`bench --peak` measures them again)",
            peaks.adapter, peaks.measured
        ));
        return Ok(peaks);
    }
    say(&format!(
        "no saved peaks for {}: measuring them now (as `bench --peak` does)",
        gpu.adapter_summary()
    ));
    let (peaks, _) = measure(gpu).await?;
    match save(gpu, &peaks) {
        // The file was read a moment ago, and any trouble with it already told.
        Ok((path, _)) => say(&format!("saved to {}", path.display())),
        Err(e) => say(&format!("could not save the peaks: {e}")),
    }
    Ok(peaks)
}
