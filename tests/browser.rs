//! The page, in a real browser: Debian's Chromium, headless, with WebGPU on its bundled
//! SwiftShader.
//!
//! - `scripts/web.sh build` builds the core for wasm32 (without the terminal's shell)
//!   and writes the static site into web/dist;
//! - the kernel tests in web/tests/browser_kernels.rs run in Chromium through
//!   chromedriver (`wasm-bindgen-test-runner`): the quick check on the browser's adapter,
//!   and training on WebGPU against the CPU reference compiled to wasm;
//! - web/tests/e2e.mjs (playwright-core) opens the page with URL parameters, lets it
//!   train on one digit, reads the odd ones out, clicks the latent plane, draws a digit
//!   and reads its verdict, downloads the weights, which the native `eval` must then
//!   load, and picks a folder of images (written here) to train on; then bad files and
//!   bad timing (model files it cannot open, Start twice, the model switched mid-run, a
//!   tab closed mid-download, the device lost mid-epoch and between runs), each ending
//!   in words on the page and a run that starts again.
//!
//! They need Chromium and chromedriver, wasm-bindgen-cli at Cargo.lock's version, the
//! wasm32 target, Node.js and web/node_modules; `.ci/run` installs them all. A missing one
//! fails the test with the command that installs it: browser tests never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// One browser at a time: two Chromiums on SwiftShader would only slow each other. This
/// lock holds under `cargo test`; nextest runs each test as a process of its own, and
/// .config/nextest.toml's `chromium` test group does the same there.
static BROWSER: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn require(program: &str, install: &str) {
    let found = Command::new(program).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{program} is missing: {install} (.ci/run installs everything the browser tests need)"
    );
}

fn run(what: &str, command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// web/dist, built once per test binary.
fn build_site() {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if *built {
        return;
    }
    require(
        "wasm-bindgen",
        "cargo install wasm-bindgen-cli --version \"$(scripts/web.sh wasm-bindgen-version)\"",
    );
    run(
        "scripts/web.sh build",
        Command::new(root().join("scripts/web.sh"))
            .arg("build")
            .current_dir(root()),
    );
    for file in [
        "index.html",
        "app.js",
        "wgsl_autoencoder_web.js",
        "wgsl_autoencoder_web_bg.wasm",
    ] {
        assert!(
            root().join("web/dist").join(file).is_file(),
            "web/dist/{file} was not written"
        );
    }
    *built = true;
}

#[test]
fn the_kernels_pass_the_quick_check_and_train_as_the_reference_in_chromium() {
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    require(
        "chromedriver",
        "apt-get install -y chromium chromium-driver",
    );
    require(
        "wasm-bindgen-test-runner",
        "cargo install wasm-bindgen-cli --version \"$(scripts/web.sh wasm-bindgen-version)\"",
    );
    let out = run(
        "the browser kernel tests (web/tests/browser_kernels.rs)",
        Command::new(env!("CARGO"))
            .args([
                "test",
                "--release",
                "-p",
                "wgsl-autoencoder-web",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser_kernels",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            // SwiftShader runs the whole quick check: minutes, not the default 20 s.
            .env("WASM_BINDGEN_TEST_TIMEOUT", "900")
            .current_dir(root().join("web")),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test result: ok. 2 passed"),
        "expected both browser tests to run and pass:\n{stdout}"
    );
}

/// 300 MNIST digits of three classes as RGB PNGs, each class tinted its own colour, in
/// class folders named by words (`zero/`, `one/`, `two/`), with a file that is no image:
/// a folder for the page's picker. Returns the folder.
fn digit_folder() -> PathBuf {
    use image::ImageEncoder;
    let dir = root().join("target/e2e-data/digits");
    let _ = std::fs::remove_dir_all(&dir);
    let read = |name: &str| std::fs::read(root().join("data/mnist").join(name)).unwrap();
    let files = wgsl_autoencoder::data::FILES.map(|(name, _, _)| read(&format!("{name}.gz")));
    let data =
        wgsl_autoencoder::data::mnist_from_gz([&files[0], &files[1], &files[2], &files[3]], None)
            .unwrap();
    let (wgsl_autoencoder::data::Values::Bytes(pixels), Some(labels)) =
        (&data.train.values, &data.train.labels)
    else {
        panic!("MNIST holds labelled bytes");
    };
    let tints = [[1.0, 0.35, 0.2], [0.25, 1.0, 0.35], [0.3, 0.45, 1.0]];
    for (digit, name) in ["zero", "one", "two"].iter().enumerate() {
        let class = dir.join(name);
        std::fs::create_dir_all(&class).unwrap();
        let of_digit = (0..labels.len()).filter(|&i| labels[i] == digit as u32);
        for (k, i) in of_digit.take(100).enumerate() {
            let rgb: Vec<u8> = pixels[i * 784..(i + 1) * 784]
                .iter()
                .flat_map(|&v| tints[digit].map(|t| (v as f32 * t) as u8))
                .collect();
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(&rgb, 28, 28, image::ExtendedColorType::Rgb8)
                .unwrap();
            std::fs::write(class.join(format!("{k:03}.png")), png).unwrap();
        }
    }
    std::fs::write(dir.join("README.txt"), "three digits, tinted\n").unwrap();
    dir
}

#[test]
fn the_page_trains_explores_and_hands_over_weights_the_terminal_loads() {
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    require(
        "node",
        "install Node.js (Debian: apt-get install -y nodejs)",
    );
    assert!(
        root().join("web/node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix web"
    );
    build_site();
    let out: PathBuf = root().join("target/e2e");
    let _ = std::fs::remove_dir_all(&out);
    let folder = digit_folder();
    run(
        "the end-to-end run (web/tests/e2e.mjs)",
        Command::new("node")
            .arg(root().join("web/tests/e2e.mjs"))
            .arg(&out)
            .env("E2E_FOLDER", &folder)
            .current_dir(root()),
    );
    for shot in [
        "page-training.png",
        "page-done.png",
        "page-odd.png",
        "page-folder.png",
        "page-bad-file.png",
        "page-model-switched.png",
        "page-device-lost.png",
    ] {
        let bytes = std::fs::read(out.join(shot)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}"
        );
    }
    // The weights the page downloaded load in the terminal's `eval`, which evaluates them
    // on the test set and draws their pictures.
    let pictures = out.join("eval");
    let eval = run(
        "wgsl-autoencoder eval on the page's model.safetensors",
        Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"))
            .arg("eval")
            .arg(out.join("model.safetensors"))
            .arg("--out")
            .arg(&pictures)
            .arg("--backend")
            .arg("cpu")
            .current_dir(root()),
    );
    let said = String::from_utf8_lossy(&eval.stdout);
    assert!(said.contains("784-100-200-30-200-100-784"), "{said}");
    assert!(pictures.join("reconstructions.png").is_file());
    // The same weights on the same test set: the page's WebGPU and the terminal's CPU
    // reference agree as the native GPU and CPU do.
    let native: f64 = said
        .split("test mse ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no test mse in eval's output:\n{said}"));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    let page = result["status"]["test_mse"]
        .as_f64()
        .expect("the page's test_mse");
    assert!(
        (page - native).abs() <= 1e-3 * native,
        "the page's test mse {page} vs native eval's {native}"
    );
}
