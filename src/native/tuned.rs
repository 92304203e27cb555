//! The variants tuned on this card, saved between runs beside the peaks:
//! `$XDG_CACHE_HOME/wgsl-autoencoder/tuned.json` (else `~/.cache/...`), one entry per
//! adapter and driver, each op shape's choice merged into what earlier runs saved,
//! written atomically. A file that cannot be read, of another version or of another
//! program, or a choice that makes no sense, is a note, never a failed command.
//!
//! `prepare` is what `train`, `profile`, `bench` and `tune` share: the saved choices for
//! a list of ops, and where the policy says so the missing ones tuned now (the core's
//! `tune::tune`) and saved.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::native::adapter_cache::{self, adapter_key};
use crate::ops::Op;
use crate::tune::{self, Choices, Names};

const CACHE_VERSION: u32 = 1;

/// One adapter's entry: when it was last tuned, and the choice per op shape.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub tuned: String,
    pub choices: Choices,
}

/// Where tuned variants live: `tuned.json` in the cache folder, beside `peaks.json`.
pub fn cache_file() -> Option<PathBuf> {
    adapter_cache::path("tuned.json")
}

/// The saved choices for this adapter (those that make sense), and notes for the user.
pub struct Saved {
    pub choices: Choices,
    pub path: Option<PathBuf>,
    pub notes: Vec<String>,
}

/// The choices saved for this adapter. Never fails: an unreadable or foreign file, or a
/// choice no tuning could have made, is a note, and those shapes are tuned again.
pub fn load(gpu: &Gpu) -> Saved {
    let Some(path) = cache_file() else {
        return Saved {
            choices: Choices::new(),
            path: None,
            notes: vec!["no cache folder (neither XDG_CACHE_HOME nor HOME is set)".into()],
        };
    };
    let mut notes = Vec::new();
    let mut choices = match adapter_cache::read::<Entry>(&path, CACHE_VERSION) {
        Ok(mut file) => file
            .adapters
            .remove(&adapter_key(gpu))
            .map(|e| e.choices)
            .unwrap_or_default(),
        Err(why) => {
            notes.push(format!("ignoring {}: {why}", path.display()));
            Choices::new()
        }
    };
    choices.retain(|key, choice| match choice.check() {
        Ok(()) => true,
        Err(why) => {
            notes.push(format!(
                "ignoring the choice saved for {key} in {}: {why}",
                path.display()
            ));
            false
        }
    });
    Saved {
        choices,
        path: Some(path),
        notes,
    }
}

/// Adds `new` to this adapter's saved choices (replacing those of the same shapes), dated
/// now, atomically; returns the file and any note (a corrupt file replaced).
pub fn save(gpu: &Gpu, new: &Choices) -> Result<(PathBuf, Vec<String>)> {
    let path = cache_file().ok_or_else(|| {
        Error::Other("no cache folder to save tuned variants in: set XDG_CACHE_HOME or HOME".into())
    })?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let notes = adapter_cache::update(&path, CACHE_VERSION, adapter_key(gpu), |old| {
        let mut entry: Entry = old.unwrap_or_default();
        entry.choices.retain(|_, c| c.check().is_ok());
        entry.choices.extend(new.clone());
        entry.tuned = now;
        entry
    })?;
    Ok((path, notes))
}

/// Which variants a command runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// The saved choices, and the op shapes without one tuned now within this many
    /// seconds and saved (`train`, `tune`).
    Tune { budget_seconds: f64, again: bool },
    /// The saved choices only (`profile`, `bench`, `eval`).
    Saved,
    /// These choices by name, whatever is saved: a resumed run keeps the kernels it
    /// trained with, so that its numbers continue exactly.
    Fixed(Names),
    /// The heuristic alone (`--no-tune`).
    Off,
}

/// The variants that hold for `ops` under `policy` (shape to variant name), after tuning
/// what the policy asks for; `say` hears one line of what happened (and any note).
pub async fn prepare(
    gpu: &Arc<Gpu>,
    ops: &[Op],
    policy: &Policy,
    say: &mut dyn FnMut(&str),
) -> Result<Names> {
    let (budget_seconds, again) = match policy {
        Policy::Off => return Ok(Names::new()),
        Policy::Fixed(names) => return Ok(tune::applying(ops, names)),
        Policy::Saved => (None, false),
        Policy::Tune {
            budget_seconds,
            again,
        } => (Some(*budget_seconds), *again),
    };
    let mut saved = load(gpu);
    saved
        .notes
        .extend(tune::drop_stale(&mut saved.choices, ops, &|v| gpu.runs(v)));
    for note in &saved.notes {
        say(note);
    }
    let mut names = match again {
        true => Names::new(),
        false => tune::names(&saved.choices),
    };
    let missing = tune::missing(ops, &names);
    let Some(budget_seconds) = budget_seconds.filter(|_| !missing.is_empty()) else {
        return Ok(tune::applying(ops, &names));
    };
    if let Some(why) = tune::unavailable(gpu) {
        say(&format!("not tuning: {why}"));
        return Ok(tune::applying(ops, &names));
    }
    let opts = tune::Options::within(budget_seconds);
    let tuning = tune::tune(gpu, &missing, &opts).await?;
    let saved_to = match save(gpu, &tuning.choices) {
        Ok((path, notes)) => {
            for note in notes {
                say(&note);
            }
            format!("saved to {}", path.display())
        }
        Err(e) => format!("not saved: {e}"),
    };
    let left = match tuning.untimed.len() {
        0 => String::new(),
        n => format!(
            "; {n} left to the heuristic by the {budget_seconds} s budget, for the next run"
        ),
    };
    say(&format!(
        "tuned {} op shapes on {} in {:.2} s ({} dispatches timed{left}); {saved_to}; --no-tune keeps the heuristic",
        tuning.choices.len(),
        gpu.adapter_summary(),
        tuning.seconds,
        tuning.dispatches,
    ));
    names.extend(tune::names(&tuning.choices));
    Ok(tune::applying(ops, &names))
}
