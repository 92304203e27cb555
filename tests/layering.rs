//! The crate's layering, read from the sources: which module may name which. `ops` is
//! the ground floor; `cpu` and `gpu` stand on it and never on each other; `model` builds
//! op lists without knowing who runs them; `data` knows nothing of models. The test also
//! refuses a cycle between any two top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules (`crate::<name>`) each file or folder under src/ names.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut text = String::new();
        let mut stack = vec![path];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                text += &std::fs::read_to_string(&p).unwrap();
            }
        }
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
        ("gpu", &["ops", "error", "backend", "files"]),
        ("model", &["ops", "error", "data", "rng"]),
        // Files handed in are opened through `files`, which refuses a FIFO at once.
        ("data", &["error", "files"]),
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
