//! The core builds for the browser. The kernels, references, ops, models, training and
//! `check` are `cargo build --lib --no-default-features --target wasm32-unknown-unknown`,
//! in a target folder of its own; this test runs that build so that nothing native (a
//! file, a thread, a blocking wait) can creep into the core unnoticed. It needs the
//! target (`rustup target add wasm32-unknown-unknown`, which `.ci/run` does); without it
//! the test fails and says so.

use std::process::Command;

#[test]
fn the_core_builds_for_wasm32() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--lib",
            "--no-default-features",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(
            std::path::Path::new(root)
                .join("target")
                .join("wasm32-core"),
        )
        .current_dir(root)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("target may not be installed"),
        "the wasm32 target is missing: run `rustup target add wasm32-unknown-unknown`\n{stderr}"
    );
    assert!(
        out.status.success(),
        "the core does not build for wasm32-unknown-unknown:\n{stderr}"
    );
}
