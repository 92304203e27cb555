//! Shared by the tests that run the binary: waiting for it with a time limit, and a
//! cache folder of its own that keeps the driver's shader cache shared.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Points the binary at a cache folder of its own (`XDG_CACHE_HOME`: its peaks and tuned
/// choices, never the user's) while Mesa keeps its shader cache where this test process
/// has it. Mesa files that cache under `XDG_CACHE_HOME` too, so without this lavapipe
/// compiles every pipeline again in each child (a second for each subgroup matmul).
pub fn own_cache<'a>(command: &'a mut Command, cache: &Path) -> &'a mut Command {
    command
        .env("XDG_CACHE_HOME", cache)
        .env("MESA_SHADER_CACHE_DIR", driver_cache())
}

/// Where Mesa puts its shader cache for this process (it adds `mesa_shader_cache`).
fn driver_cache() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("MESA_SHADER_CACHE_DIR").or_else(|| var("XDG_CACHE_HOME")) {
        return PathBuf::from(dir);
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".cache"),
        None => std::env::temp_dir(),
    }
}

/// Runs `command` and waits at most a minute for it: what blocked for ever before fails
/// the test instead of hanging the suite.
pub fn output_within_a_minute(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("{command:?} was still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
