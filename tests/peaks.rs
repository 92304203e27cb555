//! The card's peaks on the command line: `bench --peak` measures and saves them per
//! adapter; `profile` and `bench` use the saved ones, measure them when there are none,
//! and ignore a corrupt file with a note; `--plot` draws the roofline. Every run here
//! keeps its cache in a folder of its own, never the user's.

use std::path::Path;
use std::process::{Command, Output};

mod child;

/// The binary, keeping its cache in `cache`.
fn command(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"));
    child::own_cache(&mut c, cache).current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run(cache: &Path, args: &[&str]) -> Output {
    command(cache).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    (info.width, info.height)
}

#[test]
fn bench_peak_measures_the_card_and_saves_it_per_adapter() {
    let cache = tempfile::tempdir().unwrap();
    let out = run(cache.path(), &["bench", "--peak", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let peaks = &value["peaks"];
    for key in ["fma_gflops", "copy_gbps", "read_gbps"] {
        let v = peaks[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {value}"));
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    let rows = value["rows"].as_array().unwrap();
    let kernels: Vec<&str> = rows.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    assert_eq!(kernels, ["peak_fma", "peak_copy", "peak_read"]);
    // Saved under the adapter's key, and read back by the next run without measuring.
    let file = cache.path().join("wgsl-autoencoder/peaks.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let adapters = saved["adapters"].as_object().unwrap();
    assert_eq!(adapters.len(), 1);
    let (key, entry) = adapters.iter().next().unwrap();
    assert!(
        key.contains("Vulkan") || key.contains("Metal") || key.contains("Dx12"),
        "{key}"
    );
    assert_eq!(entry, peaks);

    // Peaks no card could have (an edited or broken file) are measured again, and the
    // roofline drawn with the new ones: they made drawing it loop for ever.
    let mut impossible = saved.clone();
    impossible["adapters"][key.as_str()]["fma_gflops"] = 1e308.into();
    std::fs::write(&file, impossible.to_string()).unwrap();
    let plot = cache.path().join("roofline.png");
    let args = ["bench", "--quick", "--filter", "max_pool2d", "--plot"];
    let out = child::output_within_a_minute(command(cache.path()).args(args).arg(&plot));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ignoring the peaks saved") && stderr.contains("fma_gflops 1e308"),
        "{stderr}"
    );
    let (w, h) = png_size(&plot);
    assert!(w >= 1000 && h >= 700, "{w}×{h}");
}

#[test]
fn profile_ignores_a_corrupt_peaks_file_measures_saves_and_plots() {
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("wgsl-autoencoder/peaks.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{ not json").unwrap();
    let plot = cache.path().join("roofline.png");
    let args = [
        "profile",
        "--model",
        "dense",
        "--batch",
        "8",
        "--steps",
        "3",
        "--plot",
        plot.to_str().unwrap(),
    ];
    let out = run(cache.path(), &args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ignoring") && stderr.contains("peaks.json") && stderr.contains("not JSON"),
        "{stderr}"
    );
    assert!(
        stderr.contains("measuring them now") && stderr.contains("saved to"),
        "{stderr}"
    );
    assert!(
        stdout.contains("of peak") && stdout.contains("host"),
        "{stdout}"
    );
    let (w, h) = png_size(&plot);
    assert!(w >= 1000 && h >= 700, "{w}×{h}");
    // The file is whole again, and the next run reads it instead of measuring.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["adapters"].as_object().unwrap().len(), 1);
    let out = run(cache.path(), &args[..7]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("from") && !stderr.contains("measuring"),
        "{stderr}"
    );
}

#[test]
fn profile_refuses_step_counts_that_overflow_and_plots_without_peaks() {
    let cache = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            &["profile", "--steps", "144115188075855872"][..],
            "more images than can be counted",
        ),
        (
            &["profile", "--backend", "cpu", "--plot", "x.png"][..],
            "--backend cpu has none",
        ),
    ] {
        let out = run(cache.path(), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("Error:") && stderr.contains(expected),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Two `bench --peak` at once on a new adapter: peaks.json ends whole, holding the
/// adapter's entry, and no write is left half done.
#[test]
fn two_peak_measurements_at_once_leave_the_file_whole() {
    let cache = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            command(cache.path())
                .args(["bench", "--peak", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let dir = cache.path().join("wgsl-autoencoder");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("peaks.json")).unwrap()).unwrap();
    assert_eq!(saved["adapters"].as_object().unwrap().len(), 1, "{saved}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
