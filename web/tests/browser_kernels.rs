//! The kernels on the browser's own WebGPU (Chromium's, on SwiftShader in CI), run by
//! `wasm-bindgen-test-runner` through chromedriver: the quick check against the CPU
//! reference compiled to wasm, and training on WebGPU against training on that
//! reference. `tests/browser.rs` at the top runs these with the flags that give
//! headless Chromium its WebGPU (web/webdriver.json).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;
use wgsl_autoencoder::train::EpochMetrics;
use wgsl_autoencoder_web::session::{Session, Settings, Update};

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

/// Trains two epochs of a small dense model on `backend`, as the page does.
async fn two_epochs(session: &mut Session, backend: &str) -> Vec<EpochMetrics> {
    let settings = Settings {
        sizes: "32,8".into(),
        batch: 48,
        epochs: 2,
        limit: Some(200),
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

/// Two epochs (the batch leaves a partial one) on WebGPU and on the CPU reference in
/// wasm agree as the native tests ask of lavapipe and the native reference.
#[wasm_bindgen_test]
async fn training_on_webgpu_equals_the_wasm_cpu_reference() {
    let mut session = session_with_gpu().await;
    session.load_data(MNIST, None).unwrap();
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
        // MNIST's pixels lie in [0, 1], so its test BCE is always given.
        let bce = |m: &EpochMetrics| m.test_bce.expect("a test BCE for MNIST");
        close("test bce", bce(g), bce(c));
    }
    assert!(gpu[1].train_loss < gpu[0].train_loss, "{gpu:?}");
}
