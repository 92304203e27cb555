//! The variants tuned on this card, saved between runs beside the peaks:
//! `$XDG_CACHE_HOME/wgsl-autoencoder/tuned.json` (else `~/.cache/...`), one entry per
//! adapter and driver, each op shape's choice merged into what earlier runs saved,
//! written atomically. A file that cannot be read, of another version or of another
//! program, or a choice that makes no sense, is a note, never a failed command.
//!
//! `prepare` is what `train`, `profile`, `bench` and `tune` share: the saved choices for
//! a list of ops, and where the policy says so the missing ones tuned now (the core's
//! `tune::tune`) and saved.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Result;
use crate::gpu::kernels::Measured;
use crate::gpu::Gpu;
use crate::native::adapter_cache::{self, adapter_key};
use crate::ops::Op;
use crate::tune::{self, Choice, Choices, Names};

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
/// now, atomically, under the file's lock (`held`, taken before the saved choices were
/// read); returns the file and any note (a corrupt file replaced).
pub fn save(
    gpu: &Gpu,
    path: &Path,
    held: &adapter_cache::Lock,
    new: &Choices,
) -> Result<Vec<String>> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    adapter_cache::update(path, held, CACHE_VERSION, adapter_key(gpu), |old| {
        let mut entry: Entry = old.unwrap_or_default();
        entry.choices.retain(|_, c| c.check().is_ok());
        entry.choices.extend(new.clone());
        entry.tuned = now;
        entry
    })
}

/// Which variants a command runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// The saved choices; the training step's op shapes without one tuned now within
    /// this many seconds, and every shape still without one saved as the heuristic's
    /// guess (`train`). So the first run on an adapter settles every choice its flags
    /// need, and every later run makes the same ones: same flags, same numbers.
    Train { budget_seconds: f64 },
    /// Every op shape timed that has no timed choice (a saved guess is timed too; all of
    /// them with `again`), within this many seconds (`tune`).
    Tune { budget_seconds: f64, again: bool },
    /// The saved choices only (`profile`, `bench`, `eval`).
    Saved,
    /// These choices by name, whatever is saved: a resumed run keeps the kernels it
    /// trained with, so that its numbers continue exactly.
    Fixed(Names),
    /// The heuristic alone (`--no-tune`).
    Off,
}

/// The variants that hold for `ops` and `untimed` under `policy` (shape to variant name),
/// after tuning `ops` where the policy asks for it (`untimed` are never timed: `train`
/// saves its evaluation's shapes as guesses); `say` hears one line of what happened (and
/// any note).
pub async fn prepare(
    gpu: &Arc<Gpu>,
    ops: &[Op],
    untimed: &[Op],
    policy: &Policy,
    say: &mut dyn FnMut(&str),
) -> Result<Names> {
    let all: Vec<Op> = ops.iter().chain(untimed).cloned().collect();
    let (budget_seconds, again, guesses_final) = match policy {
        Policy::Off => return Ok(Names::new()),
        Policy::Fixed(names) => return Ok(tune::applying(&all, names)),
        Policy::Saved => return Ok(tune::applying(&all, &saved_names(gpu, &all, say))),
        Policy::Train { budget_seconds } => (*budget_seconds, false, true),
        Policy::Tune {
            budget_seconds,
            again,
        } => (*budget_seconds, *again, false),
    };
    let Some(path) = cache_file() else {
        say("not tuning: no cache folder to save the choices in (set XDG_CACHE_HOME or HOME)");
        return Ok(tune::applying(&all, &saved_names(gpu, &all, say)));
    };
    // Held from reading the saved choices to writing the new ones: a second `train` or
    // `tune` on this adapter waits, then finds these choices. A cache folder that cannot
    // be written to costs the saving, never the run.
    let held = adapter_cache::lock(&path, say)
        .map_err(|e| say(&format!("the choices below are not saved: {e}")))
        .ok();
    let mut saved = load(gpu);
    saved
        .notes
        .extend(tune::drop_stale(&mut saved.choices, &all, &|v| gpu.runs(v)));
    for note in &saved.notes {
        say(note);
    }
    let mut names = match again {
        true => Names::new(),
        false => tune::names(&saved.choices),
    };
    if !guesses_final {
        names.retain(|key, _| saved.choices.get(key).is_some_and(|c| !c.guessed));
    }
    let missing = tune::missing(ops, &names);
    let mut new = Choices::new();
    let mut said = String::new();
    if !missing.is_empty() {
        match tune::unavailable(gpu) {
            Some(why) => say(&format!("not tuning: {why}")),
            None => {
                let tuning =
                    tune::tune(gpu, &missing, &tune::Options::within(budget_seconds)).await?;
                let left = match tuning.untimed.len() {
                    0 => String::new(),
                    n if guesses_final => format!(
                        "; {n} left to the heuristic by the {budget_seconds} s budget, its choice saved (`tune` times them)"
                    ),
                    n => format!("; {n} left to the heuristic by the {budget_seconds} s budget"),
                };
                said = format!(
                    "tuned {} op shapes on {} in {:.2} s ({} dispatches timed{left})",
                    tuning.choices.len(),
                    gpu.adapter_summary(),
                    tuning.seconds,
                    tuning.dispatches,
                );
                new = tuning.choices;
            }
        }
    }
    names.extend(tune::names(&new));
    if guesses_final {
        // What no timing reached is settled now as the heuristic's choice, so that the
        // next run does not time it and choose differently.
        for op in tune::missing(&all, &names) {
            new.insert(Measured::key(&op), Choice::guess(gpu, &op));
        }
        names.extend(tune::names(&new));
    }
    if !new.is_empty() {
        let saved = match &held {
            Some(held) => save(gpu, &path, held, &new),
            None => Err(crate::error::Error::Other(
                "the cache file's lock was not taken".into(),
            )),
        };
        let saved_to = match saved {
            Ok(notes) => {
                for note in notes {
                    say(&note);
                }
                format!("saved to {}", path.display())
            }
            Err(e) => format!("not saved: {e}"),
        };
        match said.is_empty() {
            true => say(&format!(
                "the heuristic's choices for {} op shapes {saved_to}",
                new.len()
            )),
            false => say(&format!(
                "{said}; {saved_to}; --no-tune keeps the heuristic"
            )),
        }
    }
    Ok(tune::applying(&all, &names))
}

/// The saved choices' names for `ops`, after the notes on what was left out.
fn saved_names(gpu: &Gpu, ops: &[Op], say: &mut dyn FnMut(&str)) -> Names {
    let mut saved = load(gpu);
    saved
        .notes
        .extend(tune::drop_stale(&mut saved.choices, ops, &|v| gpu.runs(v)));
    for note in &saved.notes {
        say(note);
    }
    tune::names(&saved.choices)
}
