//! The kernels on the browser's own WebGPU (Chromium's, on SwiftShader in CI), run by
//! `wasm-bindgen-test-runner` through chromedriver: the quick check against the CPU
//! reference compiled to wasm, and training on WebGPU against training on that
//! reference. `tests/browser.rs` at the top runs these with the flags that give
//! headless Chromium its WebGPU (web/webdriver.json).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;
use wgsl_autoencoder::train::EpochMetrics;
use wgsl_autoencoder_web::session::{DataOptions, Session, Settings, Update};

wasm_bindgen_test_configure!(run_in_browser);

async fn session_with_gpu() -> Session {
    let mut session = Session::default();
    session
        .open_gpu()
        .await
        .expect("a WebGPU adapter: Chromium runs headless with --enable-unsafe-webgpu");
    session
}

/// Every entry point at the quick check's cases, and every variant at one case, the last
/// of its table's (`Plan::variants_at_one_case`): the native suite checks every variant
/// at every quick case on lavapipe, and what the browser adds (its own shader compiler
/// and driver) shows at one case; SwiftShader takes minutes over the rest.
#[wasm_bindgen_test]
async fn the_quick_check_passes_on_the_browser_s_webgpu_adapter() {
    let session = session_with_gpu().await;
    let whole = session.check_plan().unwrap();
    let plan = whole.clone().variants_at_one_case();
    assert!(plan.groups.len() > 50, "{} groups", plan.groups.len());
    assert_eq!(plan.groups.len(), whole.groups.len());
    let mut failures = Vec::new();
    let mut cases = 0;
    for i in 0..plan.groups.len() {
        let row = session.check_group(&plan, i).await.unwrap();
        cases += row.cases;
        if !row.passed {
            failures.push(format!(
                "{} {}: {}",
                row.kernel,
                row.variant,
                row.first_failure.unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "FAILED:\n{}", failures.join("\n"));
    assert_eq!(cases, plan.cases());
}

const MNIST: [&[u8]; 4] = [
    include_bytes!("../../data/mnist/train-images-idx3-ubyte.gz"),
    include_bytes!("../../data/mnist/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../data/mnist/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../data/mnist/t10k-labels-idx1-ubyte.gz"),
];

/// The first 20 training and 6 test digits of each class of MNIST as a folder of PNGs,
/// as the page's picker hands them over (`train/<digit>/<i>.png`, `test/...`): MNIST's
/// bytes, with a test set SwiftShader evaluates in a moment (the whole 10,000, evaluated
/// each epoch, was most of this test's time).
fn digit_files() -> Vec<(String, Vec<u8>)> {
    use image::ImageEncoder;
    use wgsl_autoencoder::data::Values;
    let mnist = wgsl_autoencoder::data::mnist_from_gz(MNIST, None).unwrap();
    let mut files = Vec::new();
    // Every class in both splits, as a folder's classes must be.
    for (split, set, per_class) in [("train", &mnist.train, 20), ("test", &mnist.test, 6)] {
        let (Values::Bytes(pixels), Some(labels)) = (&set.values, &set.labels) else {
            panic!("MNIST holds labelled bytes");
        };
        let mut taken = [0; 10];
        for i in 0..labels.len() {
            let class = labels[i] as usize;
            if taken[class] == per_class {
                continue;
            }
            taken[class] += 1;
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(
                    &pixels[i * 784..(i + 1) * 784],
                    28,
                    28,
                    image::ExtendedColorType::L8,
                )
                .unwrap();
            files.push((format!("{split}/{class}/{i:05}.png"), png));
        }
    }
    files
}

/// Trains two epochs of a small dense model on `backend`, as the page does.
async fn two_epochs(session: &mut Session, backend: &str) -> Vec<EpochMetrics> {
    let settings = Settings {
        sizes: "32,8".into(),
        batch: 48,
        epochs: 2,
        backend: backend.into(),
        ..Settings::default()
    };
    session.start(&settings).await.unwrap();
    let mut metrics = Vec::new();
    loop {
        let Update {
            phase, metrics: m, ..
        } = session.advance().await.unwrap();
        metrics.extend(m);
        if phase == "done" {
            return metrics;
        }
    }
}

/// Two epochs on the digits above (the batch leaves a partial one) on WebGPU and on the
/// CPU reference in wasm agree as the native tests ask of lavapipe and the native
/// reference.
#[wasm_bindgen_test]
async fn training_on_webgpu_equals_the_wasm_cpu_reference() {
    let mut session = session_with_gpu().await;
    let data = session
        .load_files(digit_files(), &DataOptions::default())
        .unwrap();
    assert_eq!((data.train, data.test), (200, 60), "{data:?}");
    let gpu = two_epochs(&mut session, "gpu").await;
    let cpu = two_epochs(&mut session, "cpu").await;
    assert_eq!((gpu.len(), cpu.len()), (2, 2));
    let close = |name: &str, g: f64, c: f64| {
        assert!(
            g.is_finite() && (g - c).abs() <= 1e-3 * c.abs(),
            "{name}: webgpu {g} vs cpu {c} differ by more than 1e-3 relative"
        );
    };
    for (g, c) in gpu.iter().zip(&cpu) {
        close("train loss", g.train_loss, c.train_loss);
        close("test mse", g.test_mse, c.test_mse);
        // Pixels lie in [0, 1], so the test BCE is always given.
        let bce = |m: &EpochMetrics| m.test_bce.expect("a test BCE for MNIST");
        close("test bce", bce(g), bce(c));
    }
    assert!(gpu[1].train_loss < gpu[0].train_loss, "{gpu:?}");
}
