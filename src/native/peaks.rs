//! The card's peaks saved between runs: `$XDG_CACHE_HOME/wgsl-autoencoder/peaks.json`
//! (else `~/.cache/...`), one entry per adapter and driver, written atomically. A file
//! that cannot be read, or peaks no card could have, are a note and a new measurement,
//! never a failed command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
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
    Some(crate::native::files::cache_dir()?.join("peaks.json"))
}

/// Peaks are kept per adapter and per driver version: a new driver may change them.
pub fn adapter_key(gpu: &Gpu) -> String {
    let i = gpu.adapter.get_info();
    format!(
        "{} | {:?} | {:04x}:{:04x} | {} {}",
        i.name, i.backend, i.vendor, i.device, i.driver, i.driver_info
    )
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct CacheFile {
    version: u32,
    adapters: BTreeMap<String, Peaks>,
}

const CACHE_VERSION: u32 = 1;

/// The saved peaks file, or why it cannot be used. A missing file is an empty one.
fn read_cache(path: &Path) -> std::result::Result<CacheFile, String> {
    let text = match crate::native::files::read_regular_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CacheFile::default()),
        Err(e) => return Err(e.to_string()),
    };
    let file: CacheFile = serde_json::from_str(&text).map_err(|e| format!("not JSON ({e})"))?;
    if file.version != CACHE_VERSION {
        return Err(format!("version {} is not {CACHE_VERSION}", file.version));
    }
    Ok(file)
}

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
    match read_cache(&path) {
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
    let mut notes = Vec::new();
    let mut file = read_cache(&path).unwrap_or_else(|why| {
        notes.push(format!("replacing {}: {why}", path.display()));
        CacheFile::default()
    });
    file.version = CACHE_VERSION;
    file.adapters.insert(adapter_key(gpu), peaks.clone());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(&file).map_err(|e| Error::Other(e.to_string()))?;
    crate::native::files::write_atomically(&path, text.as_bytes())?;
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
