//! A JSON file in the cache folder that keeps one entry per adapter and driver
//! (`adapter_key`), beside the entries of other adapters: the saved peaks (`peaks.json`)
//! and the tuned variants (`tuned.json`). Written atomically; a file that cannot be read,
//! is not JSON, or is of another version is reported as a reason, which callers turn into
//! a note and an empty cache, never a failed command.
//!
//! Processes that write a file take its lock first (`lock`, the operating system's
//! exclusive lock on `NAME.lock` beside it) and hold it from their read to their write,
//! so that two writers at once merge, each seeing the other's entry, and none is lost.
//! Readers need no lock: a write is a rename, so a file is always whole.

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

/// The lock of a cache file, held until dropped (the operating system lets it go when the
/// process ends, however it ends).
pub struct Lock {
    _file: std::fs::File,
}

/// Takes the lock of the cache file at `path`, waiting for another process that holds
/// it; `say` hears a line if it has to wait.
pub fn lock(path: &Path, say: &mut dyn FnMut(&str)) -> Result<Lock> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // The lock file is never removed, so every process locks the same file.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            say(&format!(
                "waiting for another process writing {} (it holds {})",
                path.display(),
                lock_path.display()
            ));
            file.lock().map_err(|e| Error::io(&lock_path, e))?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
    }
    Ok(Lock { _file: file })
}

/// Sets this adapter's entry to `merge(the saved entry, if any)` and writes the file
/// atomically, creating its folder, under its lock (`_held`, taken before the entry was
/// read). A file that cannot be read is replaced, with a note saying so among those
/// returned.
pub fn update<T: Serialize + DeserializeOwned>(
    path: &Path,
    _held: &Lock,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers at once, each under the lock, each adding its own key many times over: the
    /// file ends whole, with every writer's every entry (a lock is per open file, so
    /// threads exclude each other as processes do).
    #[test]
    fn writers_at_once_lose_no_entry_and_leave_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/tuned.json");
        let (writers, rounds) = (8, 25);
        std::thread::scope(|s| {
            for w in 0..writers {
                let path = &path;
                s.spawn(move || {
                    for r in 0..rounds {
                        let held = lock(path, &mut |_| {}).unwrap();
                        update(
                            path,
                            &held,
                            1,
                            format!("writer {w}"),
                            |old: Option<Vec<u32>>| {
                                let mut seen = old.unwrap_or_default();
                                seen.push(r);
                                seen
                            },
                        )
                        .unwrap();
                    }
                });
            }
        });
        let file = read::<Vec<u32>>(&path, 1).unwrap();
        assert_eq!(file.adapters.len(), writers);
        for seen in file.adapters.values() {
            assert_eq!(*seen, (0..rounds).collect::<Vec<_>>());
        }
    }
}
