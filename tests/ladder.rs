//! The kernel ladders: every rung is listed once, in order, its file exists with its
//! header, every variant of its family belongs to one rung, no WGSL file is over 400
//! lines, and `bench --ladder --quick` times every rung the adapter runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use wgsl_autoencoder::bench;
use wgsl_autoencoder::gpu::kernels::ladder::{rung_of, rungs, Family, RUNGS};
use wgsl_autoencoder::gpu::kernels::variants;

mod child;
mod common;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn wgsl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();
    files
}

#[test]
fn each_rung_is_listed_once_in_teaching_order_and_its_file_is_the_one_embedded() {
    for family in Family::ALL {
        let steps: Vec<usize> = rungs(family).map(|r| r.step).collect();
        let expected: Vec<usize> = (1..=steps.len()).collect();
        assert_eq!(
            steps,
            expected,
            "{} rungs are numbered 1, 2, …",
            family.name()
        );
        // Every file in the family's folder is a rung, and every rung a file.
        let listed: BTreeSet<PathBuf> = rungs(family).map(|r| root().join(r.path())).collect();
        let on_disk: BTreeSet<PathBuf> = wgsl_files(&root().join("shaders").join(family.name()))
            .into_iter()
            .collect();
        assert_eq!(listed, on_disk, "{}", family.name());
    }
    let slugs: BTreeSet<(&str, &str)> = RUNGS.iter().map(|r| (r.family.name(), r.slug)).collect();
    assert_eq!(slugs.len(), RUNGS.len(), "a rung's name is listed twice");
    for rung in RUNGS {
        let on_disk = std::fs::read_to_string(root().join(rung.path())).unwrap();
        assert_eq!(on_disk, rung.source, "{}", rung.path());
    }
}

#[test]
fn each_rung_opens_with_a_header_of_at_most_ten_lines() {
    for rung in RUNGS {
        let header = rung.header();
        let place = rung.path();
        assert!(
            (5..=10).contains(&header.len()),
            "{place}: a header of {} lines",
            header.len()
        );
        let title = format!(
            "// The {} ladder, rung {} of {}: ",
            rung.family.name(),
            rung.step,
            rungs(rung.family).count()
        );
        assert!(header[0].starts_with(&title), "{place}: {:?}", header[0]);
        for key in ["Idea", "From the rung before", "Why faster", "Bench rows"] {
            let field = rung.field(key).unwrap_or_default();
            assert!(
                field.len() > 20,
                "{place}: no `// {key}: …` line in its header"
            );
        }
        // A blank line ends the header: the kernel's own comments follow.
        let after = rung.source.lines().nth(header.len());
        assert_eq!(after, Some(""), "{place}");
    }
}

#[test]
fn no_wgsl_file_is_over_four_hundred_lines() {
    let shaders = root().join("shaders");
    let mut dirs = vec![shaders.clone(), shaders.join("parts")];
    dirs.extend(Family::ALL.map(|f| shaders.join(f.name())));
    let mut long = Vec::new();
    for file in dirs.iter().flat_map(|d| wgsl_files(d)) {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        if lines > 400 {
            long.push(format!("{}: {lines} lines", file.display()));
        }
    }
    assert!(long.is_empty(), "{long:?}");
}

#[test]
fn every_variant_of_a_ladder_family_runs_on_exactly_one_rung_and_every_rung_has_some() {
    let mut reached = BTreeSet::new();
    for case in bench::cases(false).unwrap() {
        let Some(rung) = rung_of(&case.op, case.variant) else {
            continue;
        };
        reached.insert(rung.path());
        // The entry point is defined in that rung's file and no other.
        let entry = wgsl_autoencoder::gpu::kernels::launch(&case.op, case.variant)
            .unwrap()
            .entry;
        let holders: Vec<String> = RUNGS
            .iter()
            .filter(|r| r.defines(entry))
            .map(|r| r.path())
            .collect();
        assert_eq!(holders, vec![rung.path()], "{entry}");
    }
    let all: BTreeSet<String> = RUNGS.iter().map(|r| r.path()).collect();
    assert_eq!(reached, all, "a rung no benchmark case runs");
    // The ladders' own shapes: every rung has cases there.
    for family in Family::ALL {
        for step in bench::ladder::ladder(family, false).unwrap().steps {
            assert!(
                !step.cases.is_empty(),
                "{}: no case at the ladder's shape",
                step.rung.path()
            );
            for case in &step.cases {
                assert!(variants(&case.op).contains(&case.variant));
            }
        }
    }
}

/// The binary with a cache of its own (its peaks), in the repository.
fn ladder(cache: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    child::own_cache(&mut command, cache).current_dir(root());
    let out = command.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bench_ladder_quick_times_every_rung_the_adapter_runs() {
    let cache = tempfile::tempdir().unwrap();
    let gpu = common::gpu();
    let plot = cache.path().join("ladder.png");
    for (family, name) in [(Family::Matmul, "matmul"), (Family::Conv2d, "conv")] {
        let mut args = vec!["bench", "--ladder", name, "--quick", "--json"];
        if family == Family::Conv2d {
            args.extend(["--plot", plot.to_str().unwrap()]);
        }
        let rows = ladder(cache.path(), &args);
        let steps = bench::ladder::ladder(family, true).unwrap().steps;
        assert_eq!(rows.len(), steps.len(), "{name}: one row per rung");
        for (row, step) in rows.iter().zip(&steps) {
            assert_eq!(row["file"], step.rung.path());
            assert_eq!(row["idea"], step.rung.idea());
            let runs = step.cases.iter().any(|c| gpu.runs(c.variant));
            let gflops = row["gflops"].as_f64();
            assert_eq!(gflops.is_some(), runs, "{row}");
            if runs {
                assert!(gflops.unwrap() > 0.0, "{row}");
                let share = row["peak_share"].as_f64().unwrap();
                assert!(share > 0.0 && share.is_finite(), "{row}");
                assert!(row["best_share"].as_f64().unwrap() <= 1.0, "{row}");
            }
        }
        let best = rows.iter().filter_map(|r| r["best_share"].as_f64());
        assert_eq!(
            best.fold(0.0, f64::max),
            1.0,
            "{name}: the fastest rung is 100%"
        );
    }
    let picture = image::open(&plot).unwrap().to_rgb8();
    assert_eq!(picture.dimensions(), (1200, 640));
    // Bars and the peak line: not a blank picture.
    let inked = picture.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(inked > 10_000, "{inked} pixels drawn");
}

#[test]
fn bench_ladder_refuses_an_unknown_family_flags_it_does_not_take_and_a_gif() {
    let cache = tempfile::tempdir().unwrap();
    let picture = cache.path().join("ladder.gif");
    for (args, flag) in [
        (vec!["bench", "--ladder", "pool"], "--ladder"),
        (
            vec!["bench", "--ladder", "matmul", "--filter", "sgemm"],
            "--ladder",
        ),
        // A picture format it does not write, refused before anything is timed.
        (
            vec![
                "bench",
                "--ladder",
                "matmul",
                "--plot",
                picture.to_str().unwrap(),
            ],
            "--plot",
        ),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
        child::own_cache(&mut command, cache.path());
        let out = command.args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!picture.exists());
}
