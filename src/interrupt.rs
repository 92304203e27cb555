//! SIGINT and SIGTERM during training: finish the file being written, release the run's
//! lock, say what was saved and how to continue, and exit with 130 (SIGINT) or 143
//! (SIGTERM), as a shell reports a process killed by them.
//!
//! Saving (a metrics line, the checkpoints) happens inside `saving`, which holds a lock
//! the signal thread takes before it exits: a run is never stopped halfway between its
//! metrics and its checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Held while files are written; the signal thread waits for it.
static SAVING: Mutex<()> = Mutex::new(());
/// What to print when interrupted, and the lock files to remove.
static STATE: Mutex<(String, Vec<PathBuf>)> = Mutex::new((String::new(), Vec::new()));

fn state() -> std::sync::MutexGuard<'static, (String, Vec<PathBuf>)> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with interruption held off until it returns.
pub fn saving<T>(f: impl FnOnce() -> T) -> T {
    let _guard = SAVING.lock().unwrap_or_else(|p| p.into_inner());
    f()
}

/// What to tell the user if interrupted now.
pub fn set_note(note: String) {
    state().0 = note;
}

pub(crate) fn hold_lock(path: &Path) {
    state().1.push(path.to_path_buf());
}

pub(crate) fn release_lock(path: &Path) {
    state().1.retain(|p| p != path);
}

/// Starts the thread that handles SIGINT and SIGTERM. Call once, before training; where
/// signals cannot be caught (not Unix) the default handling stays.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Whatever is being saved is finished first, and nothing starts after.
                let _guard = SAVING.lock().unwrap_or_else(|p| p.into_inner());
                let (note, locks) = state().clone();
                for lock in locks {
                    let _ = std::fs::remove_file(lock);
                }
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                eprintln!("interrupted by {name}. {note}");
                std::process::exit(128 + signal);
            }
        });
    }
}
