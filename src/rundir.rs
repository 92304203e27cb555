//! A run's folder: never written over, never shared by two processes at once, and never
//! left with stray temporaries.
//!
//! A new run refuses a folder that holds anything of a run. A lock file (`.lock`, holding
//! the owner's process id) keeps a second process out while the first trains; it goes
//! when the run ends, even by Ctrl-C, and a lock whose process is gone is taken over.
//! Files half-written by a process that was killed (`.partial-*`, see `files`) are
//! removed when the next run starts in the folder, under the lock.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files a run writes in its folder.
pub const RUN_FILES: [&str; 7] = [
    "metrics.jsonl",
    "model.safetensors",
    "checkpoint.safetensors",
    "loss.png",
    "reconstructions.png",
    "latent.png",
    "interpolation.png",
];

const LOCK: &str = ".lock";

/// A folder this process holds the lock of; the lock goes when this is dropped.
pub struct RunDir {
    dir: PathBuf,
    /// Made by this run: removed again if the run ends before writing anything into it.
    created: bool,
}

impl RunDir {
    /// A folder for a new run: created if need be, refused if it holds any run's file.
    pub fn create_new(dir: &Path) -> Result<RunDir> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::flag(
                "--out",
                format!("{} is a file, not a folder", dir.display()),
            ));
        }
        Self::refuse_earlier_run(dir)?;
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut run = Self::lock(dir, "--out")?;
        run.created = created;
        // Checked again under the lock: another process may have started in between.
        Self::refuse_earlier_run(dir)?;
        Ok(run)
    }

    /// The folder of an earlier run, to continue it.
    pub fn open_existing(dir: &Path) -> Result<RunDir> {
        if !dir.is_dir() {
            return Err(Error::flag(
                "--resume",
                format!("{}: no such folder", dir.display()),
            ));
        }
        Self::lock(dir, "--resume")
    }

    fn refuse_earlier_run(dir: &Path) -> Result<()> {
        if let Some(found) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
            return Err(Error::flag(
                "--out",
                format!(
                    "{} already holds {found} from an earlier run; choose another folder (or continue that run with --resume {})",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
        Ok(())
    }

    fn lock(dir: &Path, flag: &str) -> Result<RunDir> {
        let path = dir.join(LOCK);
        // Two tries: the second after removing a lock whose process is gone.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
                    crate::interrupt::hold_lock(&path);
                    let run = RunDir {
                        dir: dir.to_path_buf(),
                        created: false,
                    };
                    run.remove_partials()?;
                    return Ok(run);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if process_alive(pid) => {
                            return Err(Error::flag(
                                flag,
                                format!(
                                    "{} is in use by another run (process {pid}); wait for it, or choose another folder",
                                    dir.display()
                                ),
                            ))
                        }
                        // Gone, or not a lock this program wrote: stale.
                        _ => std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?,
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::flag(
            flag,
            format!("{}: could not take its lock file", dir.display()),
        ))
    }

    /// Removes what a killed process left half-written. Only done under the lock, so it
    /// never removes a file another live run is writing, and only in a folder that holds
    /// a run (or nothing else), so that pointing a command at some other folder does not
    /// clean it.
    fn remove_partials(&self) -> Result<()> {
        let holds_run = RUN_FILES.iter().any(|f| self.dir.join(f).exists());
        let holds_other = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?
            .flatten()
            .any(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name != LOCK && !name.starts_with(crate::files::PARTIAL_PREFIX)
            });
        if !holds_run && holds_other {
            return Ok(());
        }
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name
                .to_string_lossy()
                .starts_with(crate::files::PARTIAL_PREFIX)
            {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let path = self.dir.join(LOCK);
        crate::interrupt::release_lock(&path);
        // Nothing to do if it is already gone.
        let _ = std::fs::remove_file(path);
        if self.created {
            // Only succeeds while empty: a run that wrote nothing leaves no folder.
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Whether a process with this id exists (on Unix, `kill(pid, 0)`; a process we may not
/// signal still exists). Elsewhere every lock is taken to be live: the error says which
/// folder, and the user can remove `.lock`.
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 sends nothing; it only checks the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunDir::open_existing(dir.path()).unwrap();
        let e = RunDir::open_existing(dir.path()).err().unwrap().to_string();
        assert!(e.contains("in use by another run"), "{e}");
        drop(first);
        assert!(!dir.path().join(LOCK).exists());
        // A process id that cannot be running.
        std::fs::write(dir.path().join(LOCK), "4294967295\n").unwrap();
        std::fs::write(dir.path().join(".partial-abc"), "half").unwrap();
        let run = RunDir::open_existing(dir.path()).unwrap();
        assert!(!dir.path().join(".partial-abc").exists());
        drop(run);
    }

    #[test]
    fn any_file_of_a_run_makes_the_folder_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("latent.png"), "x").unwrap();
        let e = RunDir::create_new(dir.path()).err().unwrap().to_string();
        assert!(e.contains("latent.png") && e.contains("--out"), "{e}");
    }
}
