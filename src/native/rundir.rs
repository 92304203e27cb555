//! A run's folder: never written over, never shared by two processes at once, and never
//! left with stray temporaries.
//!
//! A new run refuses a folder that holds anything of a run. A lock keeps a second process
//! out while the first trains: the file `.lock`, held with the operating system's file
//! lock (`flock` on Unix) for as long as the process lives, so that taking it is one
//! atomic step, and a lock whose process is gone (even by SIGKILL) is free again by
//! itself, with no guessing from process ids. The file holds the owner's process id, for
//! messages only. A process removes `.lock` only while it holds it, and only if the path
//! still is the file it locked. Files half-written by a process that was killed
//! (`.partial-*`, see `files`) are removed when the next run starts in the folder, under
//! the lock.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files a run writes in its folder.
pub const RUN_FILES: [&str; 9] = [
    "metrics.jsonl",
    "model.safetensors",
    "checkpoint.safetensors",
    "loss.png",
    "reconstructions.png",
    "latent.png",
    "interpolation.png",
    "samples.png",
    "manifold.png",
];

const LOCK: &str = ".lock";
/// Tries at taking the lock: another try only when the owner before removed the file
/// between our opening it and locking it.
const LOCK_TRIES: usize = 8;

/// A folder this process holds the lock of; the lock goes when this is dropped.
pub struct RunDir {
    dir: PathBuf,
    /// Made by this run: removed again if the run ends before writing anything into it.
    created: bool,
    /// The open lock file: the lock lasts as long as it is open.
    lock: File,
}

/// An error about `dir`, blamed on `flag` when the user named the folder with one.
fn folder_error(flag: Option<&str>, dir: &Path, message: &str) -> Error {
    let text = format!("{} {message}", dir.display());
    match flag {
        Some(flag) => Error::flag(flag, text),
        None => Error::Other(text),
    }
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
        // Made, locked and known to the interrupt handler with no interrupt in between,
        // so that an interrupt never leaves the folder or its lock behind.
        let run = crate::native::interrupt::saving(|| {
            let created = !dir.exists();
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            match lock(dir, Some("--out")) {
                Ok(lock) => Self::held(dir, created, lock),
                Err(e) => {
                    if created {
                        // Only succeeds while empty, so never removes another's folder.
                        let _ = std::fs::remove_dir(dir);
                    }
                    Err(e)
                }
            }
        })?;
        // Checked again under the lock: another run may have finished here in between.
        Self::refuse_earlier_run(dir)?;
        Ok(run)
    }

    /// The folder of an earlier run, to continue it (`flag` is the flag that named it, if
    /// any, for errors).
    pub fn open_existing(dir: &Path, flag: Option<&str>) -> Result<RunDir> {
        if !dir.is_dir() {
            return Err(folder_error(flag, dir, ": no such folder"));
        }
        crate::native::interrupt::saving(|| Self::held(dir, false, lock(dir, flag)?))
    }

    /// The folder, once its lock is taken: an interrupt from now on releases it too.
    /// Called with interrupts held off (`interrupt::saving`), from before the lock file
    /// is made.
    fn held(dir: &Path, created: bool, lock: File) -> Result<RunDir> {
        crate::native::interrupt::hold_run(&dir.join(LOCK), created.then_some(dir));
        let run = RunDir {
            dir: dir.to_path_buf(),
            created,
            lock,
        };
        run.remove_partials()?;
        Ok(run)
    }

    fn refuse_earlier_run(dir: &Path) -> Result<()> {
        if let Some(found) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
            return Err(Error::flag(
                "--out",
                format!(
                    "{} already holds {found} from an earlier run; choose another folder {}",
                    dir.display(),
                    earlier_run_advice(dir)
                ),
            ));
        }
        Ok(())
    }

    /// Removes what a killed process left half-written. Only done under the lock, so it
    /// never removes a file another live run is writing, and only in a folder that holds
    /// a run (or nothing else), so that pointing a command at some other folder does not
    /// clean it.
    fn remove_partials(&self) -> Result<()> {
        let holds_other = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?
            .flatten()
            .any(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name != LOCK && !name.starts_with(crate::native::files::PARTIAL_PREFIX)
            });
        if !holds_run(&self.dir) && holds_other {
            return Ok(());
        }
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name
                .to_string_lossy()
                .starts_with(crate::native::files::PARTIAL_PREFIX)
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
        crate::native::interrupt::release_run(&path);
        // Removed while still locked, and only if it is still the file this process
        // locked; the lock itself ends when `self.lock` is closed, just after.
        if is_at(&self.lock, &path) {
            let _ = std::fs::remove_file(&path);
        }
        if self.created {
            // Only succeeds while empty: a run that wrote nothing leaves no folder.
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Whether `dir` holds any file a run writes.
pub fn holds_run(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// Whether `dir` is a run's folder: it holds a file only training writes (a model's
/// weights and pictures may be copies in a folder of the user's).
pub fn is_run(dir: &Path) -> bool {
    ["metrics.jsonl", "checkpoint.safetensors"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Why `dir`, which holds no checkpoint.safetensors, cannot be resumed, and what to do.
pub fn why_not_resumable(dir: &Path) -> String {
    let d = dir.display();
    if dir.join("metrics.jsonl").is_file() {
        format!("holds metrics.jsonl but no checkpoint.safetensors (the run's flags and state), so there is nothing to continue: a run stopped before its first checkpoint was saved, or one of scripts/torch_train.py. Train again in another folder, or remove {d}/metrics.jsonl and train with --out {d}")
    } else if dir.join("model.safetensors").is_file() {
        "holds model.safetensors but no checkpoint.safetensors: its weights were saved without what resuming needs (start a new run from them with --init-from)".into()
    } else {
        "holds no run of this program (no checkpoint.safetensors)".into()
    }
}

/// What to do with a folder that holds an earlier run, after "choose another folder".
fn earlier_run_advice(dir: &Path) -> String {
    match dir.join("checkpoint.safetensors").is_file() {
        true => format!("(or continue that run with --resume {})", dir.display()),
        false => "(no run there can be continued: it holds no checkpoint.safetensors; to use this folder, remove that run's files first)".into(),
    }
}

/// Takes the lock of `dir`: `.lock`, opened (made if need be) and locked with the
/// operating system's exclusive file lock, without waiting. Refused at once, naming the
/// owner, if another process holds it.
fn lock(dir: &Path, flag: Option<&str>) -> Result<File> {
    let path = dir.join(LOCK);
    for _ in 0..LOCK_TRIES {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let owner = match read_owner(&file) {
                    Some(pid) => format!(" (process {pid})"),
                    None => String::new(),
                };
                let advice = match flag {
                    Some("--out") => "wait for it to end, or choose another folder",
                    Some(_) => "wait for it to end",
                    None => "wait for it to end, or pass --out DIR to write elsewhere",
                };
                let message = format!("is in use by another run{owner}; {advice}");
                return Err(folder_error(flag, dir, &message));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // The owner before us may have removed the file after we opened it: then this
        // lock is on a file no longer there, and the next try opens the one that is.
        if !is_at(&file, &path) {
            continue;
        }
        write_owner(&file).map_err(|e| Error::io(&path, e))?;
        return Ok(file);
    }
    Err(folder_error(
        flag,
        dir,
        "could not take its lock file: other processes keep taking and releasing it",
    ))
}

/// Writes this process's id into the lock file it holds, for other processes' messages.
fn write_owner(mut file: &File) -> std::io::Result<()> {
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

/// The process id in a lock file held by another process, if it has written it yet.
fn read_owner(mut file: &File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether `path` still names the open `file` (the same device and inode). Where that
/// cannot be told (not Unix), the lock file is taken to be in place.
fn is_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunDir::open_existing(dir.path(), Some("--resume")).unwrap();
        let e = RunDir::open_existing(dir.path(), Some("--resume"))
            .err()
            .unwrap()
            .to_string();
        let me = format!("in use by another run (process {})", std::process::id());
        assert!(e.contains("--resume") && e.contains(&me), "{e}");
        // Named without a flag (eval's folder), the error names the folder alone.
        let e = RunDir::open_existing(dir.path(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with(&dir.path().display().to_string()), "{e}");
        drop(first);
        assert!(!dir.path().join(LOCK).exists());
        // Left by a process that was killed: the file is there, but nothing holds it.
        std::fs::write(dir.path().join(LOCK), "4294967295\n").unwrap();
        std::fs::write(dir.path().join(".partial-abc"), "half").unwrap();
        let run = RunDir::open_existing(dir.path(), None).unwrap();
        assert!(!dir.path().join(".partial-abc").exists());
        let owner = std::fs::read_to_string(dir.path().join(LOCK)).unwrap();
        assert_eq!(owner.trim(), std::process::id().to_string());
        drop(run);
        assert!(!dir.path().join(LOCK).exists());
    }

    #[test]
    fn a_lock_file_replaced_under_its_owner_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::open_existing(dir.path(), None).unwrap();
        // Someone removes the lock file and makes another in its place.
        std::fs::remove_file(dir.path().join(LOCK)).unwrap();
        std::fs::write(dir.path().join(LOCK), "not ours\n").unwrap();
        drop(run);
        let left = std::fs::read_to_string(dir.path().join(LOCK)).unwrap();
        assert_eq!(left, "not ours\n");
    }

    #[test]
    fn a_new_folder_refused_or_released_before_any_file_is_removed_again() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("new");
        drop(RunDir::create_new(&dir).unwrap());
        assert!(!dir.exists());
        std::fs::create_dir(&dir).unwrap();
        let held = RunDir::open_existing(&dir, None).unwrap();
        let e = RunDir::create_new(&dir).err().unwrap().to_string();
        assert!(e.contains("--out") && e.contains("in use"), "{e}");
        drop(held);
    }

    #[test]
    fn any_file_of_a_run_makes_the_folder_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("latent.png"), "x").unwrap();
        let e = RunDir::create_new(dir.path()).err().unwrap().to_string();
        assert!(e.contains("latent.png") && e.contains("--out"), "{e}");
    }
}
