//! Reading the files a user hands in without ever blocking on one, and writing output
//! files so that a crash never leaves half a file where a good one was.

use std::io::{Read, Write};
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

/// Opens `path` for reading if it is a regular file (or a link to one), and refuses
/// anything else (a FIFO, a device, a socket, a folder) at once. On Unix the file is
/// opened non-blocking, so that a FIFO does not wait for a writer, and its kind is read
/// from the open file, so that nothing can be swapped in between the check and the read.
/// (Non-blocking changes nothing for a regular file.)
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file but {}", kind_name(kind)),
        ));
    }
    Ok(file)
}

/// What a file that is not a regular one is, for errors.
fn kind_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "something else"
}

/// The bytes of a regular file (see `open_regular`).
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of a regular file (see `open_regular`), which must be UTF-8.
pub fn read_regular_text(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    open_regular(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The driver's compiled pipelines, one file per adapter and driver in a folder (the
/// cache folder), written atomically. A file that cannot be read or written is no cache,
/// never an error: the pipelines are compiled again.
pub struct PipelineFiles {
    pub dir: PathBuf,
}

impl crate::gpu::context::PipelineStore for PipelineFiles {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        // Only a regular file: a FIFO in its place must not block the run.
        read_regular(&self.dir.join(key)).ok()
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

/// Bytes of memory available to a new allocation: `MemAvailable` from /proc/meminfo on
/// Linux; elsewhere unknown (the CPU backend still reserves fallibly).
#[cfg(target_os = "linux")]
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(not(target_os = "linux"))]
pub fn available_memory() -> Option<u64> {
    None
}

/// Temporaries start with this; `rundir` removes any a killed process left behind.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it over
/// `path`. The file gets the usual read permissions (0644 on Unix, less the umask),
/// rather than the private ones temporary files are created with. Every error names
/// `path`, the file being saved, not the temporary, which is removed again.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |file| file.write_all(bytes))
}

/// `write_atomically`, with `write` filling the temporary.
fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
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
    let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    write(tmp.as_file_mut())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn a_full_disk_names_the_file_being_saved_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        super::write_atomically(&path, b"epoch 1").unwrap();
        // The disk fills after part of the new file is written.
        let e = super::write_atomically_with(&path, |file| {
            file.write_all(b"epoch")?;
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            ))
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("checkpoint.safetensors") && e.contains("No space left"),
            "{e}"
        );
        assert!(!e.contains(super::PARTIAL_PREFIX), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"epoch 1");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_folder_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path and creates a FIFO there.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = super::read_regular(&fifo).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
        let e = super::read_regular(dir.path()).unwrap_err().to_string();
        assert!(e.contains("folder"), "{e}");
        std::fs::write(dir.path().join("plain"), b"text").unwrap();
        assert_eq!(
            super::read_regular_text(&dir.path().join("plain")).unwrap(),
            "text"
        );
    }

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
