//! Per-card tuning through the binary, each case with a cache folder of its own
//! (`XDG_CACHE_HOME`): `tune` measures every op shape that has a choice and saves it;
//! a second `tune` reuses the file and times nothing; a corrupt, foreign or senseless
//! file is a note and is replaced; `train` tunes a new adapter's shapes by itself, unless
//! `--no-tune` or the CPU backend; a resumed run keeps the variants it trained with,
//! whatever the file says since; `profile` names each dispatch's variant and source.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod child;

fn bin(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    child::own_cache(&mut c, cache).current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run_ok(cache: &Path, args: &[&str]) -> (String, String) {
    let out: Output = bin(cache).args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (stdout, stderr)
}

fn tuned_file(cache: &Path) -> PathBuf {
    cache.join("wgsl-autoencoder/tuned.json")
}

/// `tune --json`'s rows.
fn rows(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Files left in the cache folder by a write that did not finish.
fn partial_files(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("wgsl-autoencoder"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn tune_measures_every_shape_with_a_choice_then_reuses_the_file() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let args = ["tune", "--model", "dense", "--batch", "8", "--json"];
    let (stdout, stderr) = run_ok(cache, &args);
    let first = rows(&stdout);
    let choices = first
        .iter()
        .filter(|r| r["variants"].as_u64().unwrap() > 1)
        .count();
    assert!(choices >= 10, "{stdout}");
    assert!(
        stderr.contains(&format!("tuned {choices} op shapes")),
        "{stderr}"
    );
    for r in &first {
        let expected = match r["variants"].as_u64().unwrap() {
            1 => "only",
            _ => "measured",
        };
        assert_eq!(r["source"], expected, "{r}");
        if expected == "measured" {
            let ms = r["ms"].as_object().unwrap_or_else(|| panic!("{r}"));
            let winner = ms[r["variant"].as_str().unwrap()].as_f64().unwrap();
            assert!(winner > 0.0, "{r}");
            assert!(
                ms.values().all(|v| v.as_f64().unwrap() >= winner),
                "the fastest is kept: {r}"
            );
            // Every variant is accounted for: timed at full size, or dropped by a screen
            // that estimated it (a CPU adapter's stand-in: tune::stand_in).
            let screened = r["screen_ms"].as_object();
            let mut named: Vec<&String> = ms
                .keys()
                .chain(screened.into_iter().flatten().map(|(k, _)| k))
                .collect();
            named.sort();
            named.dedup();
            assert_eq!(named.len() as u64, r["variants"].as_u64().unwrap(), "{r}");
        }
    }
    let path = tuned_file(cache);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    let adapters = saved["adapters"].as_object().unwrap();
    assert_eq!(adapters.len(), 1, "one entry for the one adapter");
    let entry = adapters.values().next().unwrap();
    assert_eq!(entry["choices"].as_object().unwrap().len(), choices);
    assert!(
        partial_files(cache).is_empty(),
        "{:?}",
        partial_files(cache)
    );

    // Again: everything comes from the file, nothing is timed, the file is untouched.
    let bytes = std::fs::read(&path).unwrap();
    let (stdout, stderr) = run_ok(cache, &args[..5]);
    assert!(!stderr.contains("tuned"), "{stderr}");
    assert!(stdout.contains(", 0 timed now"), "{stdout}");
    let (stdout, _) = run_ok(cache, &args);
    assert_eq!(rows(&stdout), first, "the same choices, read back");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // --again times them all again.
    let (_, stderr) = run_ok(cache, &["tune", "--batch", "8", "--again", "--json"]);
    assert!(
        stderr.contains(&format!("tuned {choices} op shapes")),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_foreign_or_senseless_file_is_a_note_and_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let path = tuned_file(cache);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A tight budget: one shape is enough to see the file replaced.
    let args = ["tune", "--batch", "4", "--budget", "0.001", "--json"];
    let cases = [
        ("not json {", vec!["ignoring", "not JSON", "replacing"]),
        (
            r#"{"version": 99, "adapters": {}}"#,
            vec!["ignoring", "version 99 is not 1"],
        ),
        (r#"{"hello": "world"}"#, vec!["not a file of ours"]),
        (
            r#"{"version": 1, "adapters": []}"#,
            vec!["not a file of ours"],
        ),
    ];
    for (text, notes) in cases {
        std::fs::write(&path, text).unwrap();
        let (_, stderr) = run_ok(cache, &args);
        for note in notes {
            assert!(stderr.contains(note), "{text}: {stderr}");
        }
        assert!(stderr.contains("tuned 1 op shapes"), "{text}: {stderr}");
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(saved["version"], 1, "{text}: replaced by a good file");
    }
    // A choice that is not among the variants it timed, or a time no kernel takes.
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = saved["adapters"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    let (key, choice) = entry["choices"]
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .next()
        .unwrap();
    let key = key.clone();
    choice["variant"] = "no-such-variant".into();
    std::fs::write(&path, saved.to_string()).unwrap();
    let (stdout, stderr) = run_ok(cache, &args);
    assert!(
        stderr.contains(&format!("ignoring the choice saved for {key}"))
            && stderr.contains("no-such-variant was not among the variants timed"),
        "{stderr}"
    );
    // And it was tuned again in its place.
    assert!(stderr.contains("tuned 1 op shapes"), "{stderr}");
    let row = rows(&stdout).into_iter().find(|r| r["key"] == key.as_str());
    assert_eq!(row.unwrap()["source"], "measured");
}

#[test]
fn train_tunes_a_new_adapter_unless_told_not_to_or_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = ["train", "--layers", "8", "--limit", "64", "--epochs", "1"];
    for (extra, tunes) in [
        (&[][..], true),
        (&["--no-tune"][..], false),
        (&["--backend", "cpu"][..], false),
    ] {
        let cache = dir.path().join(format!("cache-{}", extra.join("")));
        let out = dir.path().join(format!("run-{}", extra.join("")));
        let args = [&tiny[..], extra, &["--out", out.to_str().unwrap()]].concat();
        let (stdout, _) = run_ok(&cache, &args);
        let said = stdout.lines().filter(|l| l.starts_with("tuned ")).count();
        assert_eq!(said, usize::from(tunes), "{extra:?}: {stdout}");
        if tunes {
            assert!(stdout.contains("--no-tune keeps the heuristic"), "{stdout}");
        }
        assert_eq!(tuned_file(&cache).is_file(), tunes, "{extra:?}");
    }
}

/// The run's loss lines and weights, to compare two runs.
fn outcome(dir: &Path) -> (Vec<serde_json::Value>, Vec<(String, Vec<u8>)>) {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let lines = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for clock in ["seconds", "images_per_second", "eval_seconds"] {
                v.as_object_mut().unwrap().remove(clock);
            }
            v
        })
        .collect();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut weights: Vec<(String, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.data().to_vec()))
        .collect();
    weights.sort();
    (lines, weights)
}

#[test]
fn a_resumed_run_keeps_the_variants_it_trained_with_whatever_was_tuned_since() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // Every shape of the runs below tuned first, so that both runs start alike.
    run_ok(&cache, &["tune", "--batch", "64", "--budget", "600"]);
    let (a, b) = (dir.path().join("straight"), dir.path().join("resumed"));
    let common = ["train", "--limit", "300", "--batch", "64", "--seed", "3"];
    for (out, epochs) in [(&a, "3"), (&b, "2")] {
        let args = [
            &common[..],
            &["--epochs", epochs, "--out", out.to_str().unwrap()],
        ];
        let (stdout, _) = run_ok(&cache, &args.concat());
        assert!(!stdout.contains("tuned "), "all tuned already: {stdout}");
    }
    // Since then the file names another variant for every shape.
    let path = tuned_file(&cache);
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut swapped = 0;
    for entry in saved["adapters"].as_object_mut().unwrap().values_mut() {
        for choice in entry["choices"].as_object_mut().unwrap().values_mut() {
            let winner = choice["variant"].as_str().unwrap().to_string();
            let other = choice["ms"]
                .as_object()
                .unwrap()
                .keys()
                .find(|k| **k != winner)
                .cloned();
            if let Some(other) = other {
                choice["variant"] = other.into();
                swapped += 1;
            }
        }
    }
    assert!(swapped > 5, "{saved}");
    std::fs::write(&path, saved.to_string()).unwrap();
    let args = ["train", "--resume", b.to_str().unwrap(), "--epochs", "3"];
    let (stdout, _) = run_ok(&cache, &args);
    assert!(
        stdout.contains("epoch   3/3") && !stdout.contains("tuned "),
        "{stdout}"
    );
    let (straight, resumed) = (outcome(&a), outcome(&b));
    assert_eq!(straight.0, resumed.0, "the losses differ after resuming");
    assert!(straight.1 == resumed.1, "the weights differ after resuming");
}

#[test]
fn profile_names_each_dispatchs_variant_and_where_it_came_from() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let args = [
        "profile", "--model", "dense", "--batch", "8", "--steps", "2", "--json",
    ];
    let (stdout, _) = run_ok(cache, &args);
    let guessed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    run_ok(cache, &["tune", "--batch", "8"]);
    let (stdout, _) = run_ok(cache, &args);
    let measured: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (stdout, _) = run_ok(cache, &[&args[..], &["--no-tune"]].concat());
    let heuristic: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sources = |p: &serde_json::Value| -> Vec<String> {
        p["dispatches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["source"].as_str().unwrap().to_string())
            .collect()
    };
    let (before, after, off) = (sources(&guessed), sources(&measured), sources(&heuristic));
    assert_eq!(before.len(), 20);
    assert!(
        before.iter().all(|s| s == "guessed" || s == "only"),
        "{before:?}"
    );
    assert!(
        after.iter().all(|s| s == "measured" || s == "only"),
        "{after:?}"
    );
    assert!(after.iter().any(|s| s == "measured"), "{after:?}");
    assert_eq!(off, before, "--no-tune runs the heuristic's");
    // The table shows them too.
    let (stdout, _) = run_ok(cache, &args[..7]);
    assert!(
        stdout.contains("variant") && stdout.contains("measured"),
        "{stdout}"
    );
}

#[test]
fn info_shows_each_ops_variant_and_its_source() {
    let cache = tempfile::tempdir().unwrap();
    let (stdout, _) = run_ok(cache.path(), &["info"]);
    assert!(stdout.contains("variants on "), "{stdout}");
    for model in ["dense", "conv"] {
        let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(model)).collect();
        assert!(lines.len() >= 10, "{model}: {stdout}");
        assert!(
            lines
                .iter()
                .all(|l| l.ends_with("guessed") || l.ends_with("only")),
            "nothing tuned yet: {stdout}"
        );
    }
}
