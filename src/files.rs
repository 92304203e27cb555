//! Writing output files so that a crash never leaves half a file where a good one was.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The folder this program keeps its caches in (compiled pipelines, the card's peaks):
/// `$XDG_CACHE_HOME/wgsl-autoencoder`, else `~/.cache/wgsl-autoencoder`; `None` where
/// neither variable is set.
pub fn cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("wgsl-autoencoder"))
}

/// The driver's compiled pipelines, one file per adapter and driver in a folder (the
/// cache folder), written atomically. A file that cannot be read or written is no cache,
/// never an error: the pipelines are compiled again.
pub struct PipelineFiles {
    pub dir: PathBuf,
}

impl crate::gpu::context::PipelineStore for PipelineFiles {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(key)).ok()
    }

    fn save(&self, key: &str, data: &[u8]) {
        let path = self.dir.join(key);
        // The cache only saves time: a failure to write it is not the run's.
        let _ = std::fs::create_dir_all(&self.dir).map(|_| write_atomically(&path, data));
    }

    fn describe(&self, key: &str) -> String {
        self.dir.join(key).display().to_string()
    }
}

/// Temporaries start with this; `rundir` removes any a killed process left behind.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it over
/// `path`. The file gets the usual read permissions (0644 on Unix, less the umask),
/// rather than the private ones temporary files are created with.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(PARTIAL_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        super::write_atomically(&path, b"first").unwrap();
        super::write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o044,
                0o044,
                "readable by group and others: {mode:o}"
            );
        }
    }
}
