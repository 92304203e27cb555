//! A JSON file in the cache folder that keeps one entry per adapter and driver
//! (`adapter_key`), beside the entries of other adapters: the saved peaks (`peaks.json`)
//! and the tuned variants (`tuned.json`). Written atomically; a file that cannot be read,
//! is not JSON, or is of another version is reported as a reason, which callers turn into
//! a note and an empty cache, never a failed command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Entries are kept per adapter and per driver version: a new driver may change them.
pub fn adapter_key(gpu: &Gpu) -> String {
    let i = gpu.adapter.get_info();
    format!(
        "{} | {:?} | {:04x}:{:04x} | {} {}",
        i.name, i.backend, i.vendor, i.device, i.driver, i.driver_info
    )
}

/// The file: its format's version and an entry per adapter key.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CacheFile<T> {
    pub version: u32,
    pub adapters: BTreeMap<String, T>,
}

/// `name` in the user's cache folder (`files::cache_dir`).
pub fn path(name: &str) -> Option<PathBuf> {
    Some(crate::native::files::cache_dir()?.join(name))
}

/// The file at `path`, or why it cannot be used. A missing file is an empty one.
pub fn read<T: DeserializeOwned>(
    path: &Path,
    version: u32,
) -> std::result::Result<CacheFile<T>, String> {
    let text = match crate::native::files::read_regular_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CacheFile {
                version,
                adapters: BTreeMap::new(),
            })
        }
        Err(e) => return Err(e.to_string()),
    };
    // The version first, so that a file of another version says so rather than failing
    // on a field it names differently.
    let head: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON ({e})"))?;
    match head.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(version) => {}
        Some(v) => return Err(format!("version {v} is not {version}")),
        None => return Err("not a file of ours (no version)".into()),
    }
    serde_json::from_value(head).map_err(|e| format!("not a file of ours ({e})"))
}

/// Sets this adapter's entry to `merge(the saved entry, if any)` and writes the file
/// atomically, creating its folder. A file that cannot be read is replaced, with a note
/// saying so among those returned.
pub fn update<T: Serialize + DeserializeOwned>(
    path: &Path,
    version: u32,
    key: String,
    merge: impl FnOnce(Option<T>) -> T,
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut file = read::<T>(path, version).unwrap_or_else(|why| {
        notes.push(format!("replacing {}: {why}", path.display()));
        CacheFile {
            version,
            adapters: BTreeMap::new(),
        }
    });
    let old = file.adapters.remove(&key);
    file.adapters.insert(key, merge(old));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(&file).map_err(|e| Error::Other(e.to_string()))?;
    crate::native::files::write_atomically(path, text.as_bytes())?;
    Ok(notes)
}
