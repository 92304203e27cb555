//! SIGINT and SIGTERM during training: finish the file being written, release the run's
//! lock, remove the run's folder if this run made it and wrote nothing into it yet, say
//! what was saved and how to continue, and exit with 130 (SIGINT) or 143 (SIGTERM), as a
//! shell reports a process killed by them.
//!
//! Saving (a metrics line, the checkpoints) happens inside `saving`, which holds a lock
//! the signal thread takes before it exits: a run is never stopped halfway between its
//! metrics and its checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Held while files are written; the signal thread waits for it.
static SAVING: Mutex<()> = Mutex::new(());
/// A run folder this process holds: its lock file, and the folder itself when this run
/// made it (removed if still empty).
#[derive(Clone)]
struct Held {
    lock: PathBuf,
    made: Option<PathBuf>,
}

/// What to print when interrupted, and the run folders to release.
static STATE: Mutex<(String, Vec<Held>)> = Mutex::new((String::new(), Vec::new()));

fn state() -> std::sync::MutexGuard<'static, (String, Vec<Held>)> {
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

/// From now on an interrupt removes this lock file (held by this process), and `made`,
/// a folder this run created, if it is empty by then.
pub(crate) fn hold_run(lock: &Path, made: Option<&Path>) {
    state().1.push(Held {
        lock: lock.to_path_buf(),
        made: made.map(Path::to_path_buf),
    });
}

pub(crate) fn release_run(lock: &Path) {
    state().1.retain(|h| h.lock != lock);
}

/// Starts the thread that handles SIGINT and SIGTERM. Call before any run folder is
/// made or locked, so that an interrupt never leaves one behind; once is enough (later
/// calls do nothing). Where signals cannot be caught (not Unix) the default handling
/// stays.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(start_thread);
}

fn start_thread() {
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
                let (note, held) = state().clone();
                for run in held {
                    let _ = std::fs::remove_file(run.lock);
                    if let Some(dir) = run.made {
                        // Only succeeds while empty: a run stopped before its first
                        // epoch leaves no folder.
                        let _ = std::fs::remove_dir(dir);
                    }
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
