//! The crate's layering, read from the sources: which module may name which. `ops` is
//! the ground floor; `cpu` and `gpu` stand on it and never on each other; `model` builds
//! op lists without knowing who runs them; `data` knows nothing of models. The core (all
//! but `native`, the terminal's shell) never names the shell, and uses nothing that a
//! browser lacks or that is the shell's to do: files, threads, processes, blocking
//! waits, the system clock, signals, progress bars, PNG files. The test also refuses a
//! cycle between any two top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The files of each top-level module of src/ (a file, or a folder's files), as text.
fn sources() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut files = Vec::new();
        let mut stack = vec![path];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                files.push(std::fs::read_to_string(&p).unwrap());
            }
        }
        out.insert(name, files);
    }
    out
}

/// The top-level modules (`crate::<name>`) each module of src/ names.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (name, files) in sources() {
        let text = files.concat();
        let mut named = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !module.is_empty() && module != name {
                named.insert(module);
            }
        }
        out.insert(name, named);
    }
    out
}

#[test]
fn modules_name_only_what_their_layer_allows() {
    let uses = uses();
    let allowed: [(&str, &[&str]); 6] = [
        ("ops", &[]),
        ("backend", &["ops", "error"]),
        ("cpu", &["ops", "error", "backend"]),
        ("gpu", &["ops", "error", "backend"]),
        ("model", &["ops", "error", "data", "rng"]),
        // The split's generator is PyTorch's stream, so that the twin splits the same.
        ("data", &["error", "rng"]),
    ];
    for (module, may) in allowed {
        let named = &uses[module];
        let extra: Vec<&String> = named
            .iter()
            .filter(|m| !may.contains(&m.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "src/{module} names crate::{extra:?}; it may name only {may:?}"
        );
    }
}

/// What only the native shell may use: each would tie the core to a terminal, or fail
/// in a browser (std's clock and threads panic on wasm32-unknown-unknown).
const SHELL_ONLY: [&str; 11] = [
    "std::fs",
    "std::thread",
    "std::process",
    "std::time",
    "std::env::args",
    "pollster",
    "signal_hook",
    "indicatif",
    "plotters",
    "png::",
    "tempfile",
];

/// Whether `code` names the path `word` itself, not as the tail of another path: the
/// `image` crate's `image::codecs::png::PngDecoder`, which decodes a user's images in the
/// core (the browser's too), is not the `png` crate the shell writes pictures with.
fn names_path(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c == ':' || c == '_' || c.is_alphanumeric())
    })
}

#[test]
fn the_core_never_reaches_for_the_shell() {
    let uses = uses();
    for (name, files) in sources() {
        if name == "native" {
            continue;
        }
        assert!(
            !uses[&name].contains("native"),
            "src/{name} names crate::native: the core must build without the shell"
        );
        for text in files {
            // Code only: comments may mention the shell, and tests may use what they like.
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            for word in SHELL_ONLY {
                assert!(
                    !names_path(&code, word),
                    "src/{name} uses {word}, which belongs to the native shell (src/native)"
                );
            }
        }
    }
}

#[test]
fn no_two_top_level_modules_name_each_other() {
    let uses = uses();
    // Depth-first search for a cycle through the "names" relation.
    fn visit(
        m: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[at..].join(" -> "));
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        for next in uses.get(m).into_iter().flatten() {
            visit(next, uses, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in uses.keys() {
        visit(m, &uses, &mut Vec::new(), &mut done);
    }
}
