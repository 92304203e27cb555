//! The page's session, natively (lavapipe or any adapter wgpu finds): what the page
//! refuses, and how, before anything runs in a browser. The same session runs in
//! Chromium in browser_kernels.rs and web/tests/e2e.mjs.
#![cfg(not(target_arch = "wasm32"))]

use pollster::block_on;
use wgsl_autoencoder_web::session::{timestamp_quantum, Session, Settings};

fn mnist() -> [Vec<u8>; 4] {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    wgsl_autoencoder::data::FILES
        .map(|(name, _, _)| std::fs::read(dir.join(format!("{name}.gz"))).unwrap())
}

fn loaded(limit: Option<usize>) -> Session {
    let files = mnist();
    let mut session = Session::default();
    let bytes = [&files[0][..], &files[1][..], &files[2][..], &files[3][..]];
    session.load_data(bytes, limit).unwrap();
    session
}

fn refused(settings: Settings) -> String {
    match settings.config() {
        Ok(c) => panic!("{settings:?} was accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn controls_that_cannot_train_are_refused_with_the_command_line_s_messages() {
    let base = Settings::default();
    assert!(base.config().is_ok());
    for (model, sizes) in [("conv", "16,8"), ("vae", "400,20"), ("conv-vae", "16,8,20")] {
        let settings = Settings {
            model: model.into(),
            sizes: sizes.into(),
            ..base.clone()
        };
        let config = settings.config().unwrap();
        assert_eq!(config.arch.name(), model);
        assert_eq!(config.arch.is_variational(), model.contains("vae"));
    }
    let err = refused(Settings {
        sizes: "100,,30".into(),
        ..base.clone()
    });
    assert!(err.contains("Layers") && err.contains("100,,30"), "{err}");
    let err = refused(Settings {
        sizes: "100,0".into(),
        ..base.clone()
    });
    assert!(
        err.contains("--layers") && err.contains("above zero"),
        "{err}"
    );
    let err = refused(Settings {
        model: "conv".into(),
        sizes: "8,8,8".into(),
        ..base.clone()
    });
    assert!(err.contains("--channels") && err.contains("28×28"), "{err}");
    // A VAE's sizes are refused in the same words, not as a model the page lacks.
    let err = refused(Settings {
        model: "vae".into(),
        sizes: "400,0".into(),
        ..base.clone()
    });
    assert!(
        err.contains("--layers") && err.contains("above zero"),
        "{err}"
    );
    let err = refused(Settings {
        model: "gan".into(),
        ..base.clone()
    });
    assert!(err.contains("not a model this page builds"), "{err}");
    let err = refused(Settings {
        batch: 0,
        ..base.clone()
    });
    assert!(err.contains("batch"), "{err}");
    let err = refused(Settings {
        lr: f32::NAN,
        ..base.clone()
    });
    assert!(err.contains("lr"), "{err}");
    let err = refused(Settings {
        noise: "gaussian:-1".into(),
        ..base.clone()
    });
    assert!(
        err.contains("Noise") && err.contains("standard deviation"),
        "{err}"
    );
    let err = refused(Settings {
        limit: Some(70_000),
        ..base.clone()
    });
    assert!(err.contains("--limit") && err.contains("60000"), "{err}");
    let text = r#"{"model":"dense","sizes":"8","batch":4,"surprise":1}"#;
    assert!(
        serde_json::from_str::<Settings>(text).is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn a_model_too_large_for_the_backend_gets_the_size_check_s_message() {
    let mut session = loaded(Some(256));
    let settings = Settings {
        sizes: "4000000,30".into(),
        backend: "cpu".into(),
        limit: Some(256),
        ..Settings::default()
    };
    let err = block_on(session.start(&settings)).unwrap_err().to_string();
    assert!(
        err.contains("--layers") && err.contains("784→4000000"),
        "{err}"
    );
    assert!(err.contains("at most 2147483648"), "{err}");
}

#[test]
fn questions_before_their_answers_exist_are_errors_not_panics() {
    let mut session = Session::default();
    let err = block_on(session.start(&Settings::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("MNIST is not loaded"), "{err}");
    assert!(block_on(session.advance()).is_err());
    assert!(block_on(session.weights()).is_err());
    assert!(session
        .check_plan()
        .unwrap_err()
        .to_string()
        .contains("no WebGPU"));
    let mut session = loaded(Some(64));
    let cpu = Settings {
        sizes: "16,4".into(),
        batch: 32,
        epochs: 1,
        limit: Some(64),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&cpu)).unwrap();
    let err = block_on(session.decode_point(0.0, 0.0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("after the first epoch"), "{err}");
    let err = block_on(session.reconstruct_drawn(&[0; 10]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("784"), "{err}");
    let err = block_on(session.open_weights(b"not a checkpoint", "cpu"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

/// Train on the CPU reference, download the weights, open them again: the same test
/// numbers, the same pictures' data, on a fresh model.
#[test]
fn weights_the_page_downloads_open_again_to_the_same_numbers() {
    let mut session = loaded(Some(128));
    let cpu = Settings {
        sizes: "16,4".into(),
        batch: 32,
        epochs: 1,
        limit: Some(128),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&cpu)).unwrap();
    let metrics = loop {
        let u = block_on(session.advance()).unwrap();
        if let Some(m) = u.metrics {
            break m;
        }
    };
    assert_eq!(block_on(session.advance()).unwrap().phase, "done");
    let (xy, labels) = session.latent().unwrap();
    assert_eq!((xy.len(), labels.len()), (20_000, 10_000));
    let bytes = block_on(session.weights()).unwrap();
    let drawn = block_on(session.reconstruct_drawn(&[200; 784])).unwrap();
    assert!(drawn.1.is_some(), "a drawing lands in the latent plane");

    let opened = block_on(session.open_weights(&bytes, "cpu")).unwrap();
    assert_eq!(
        (opened.model.as_str(), opened.sizes.as_str(), opened.epoch),
        ("dense", "16,4", 1)
    );
    assert_eq!(opened.test_mse, metrics.test_mse);
    assert_eq!(opened.test_bce, metrics.test_bce);
    assert_eq!(session.latent().unwrap(), (xy, labels));
    let again = block_on(session.reconstruct_drawn(&[200; 784])).unwrap();
    assert_eq!(again, drawn);
    let image = block_on(session.decode_point(0.5, -0.5)).unwrap();
    assert_eq!(image.len(), 784);
    let strip = block_on(session.interpolate(0, 1)).unwrap();
    assert_eq!(strip.len(), 10 * 784);
}

#[test]
fn quantised_timestamps_are_recognised() {
    assert_eq!(
        timestamp_quantum([0.1, 0.3, 0.2, 0.0].into_iter()),
        Some(0.1)
    );
    assert_eq!(
        timestamp_quantum([0.1234, 0.3051, 0.2222].into_iter()),
        None
    );
    assert_eq!(timestamp_quantum([0.1].into_iter()), None);
}

/// The variational model trains in the page as the terminal trains it: its loss is the
/// negative ELBO per image (hundreds of nats), and its latent plane is μ's.
#[test]
fn the_page_trains_a_vae() {
    let mut session = loaded(Some(64));
    let vae = Settings {
        model: "vae".into(),
        sizes: "32,2".into(),
        batch: 32,
        epochs: 1,
        limit: Some(64),
        backend: "cpu".into(),
        ..Settings::default()
    };
    block_on(session.start(&vae)).unwrap();
    let metrics = loop {
        if let Some(m) = block_on(session.advance()).unwrap().metrics {
            break m;
        }
    };
    assert!(metrics.train_loss > 100.0, "{metrics:?}");
    assert!(metrics.test_mse.is_finite() && metrics.test_mse > 0.0);
    let (xy, labels) = session.latent().unwrap();
    assert_eq!((xy.len(), labels.len()), (20_000, 10_000));
    assert_eq!(block_on(session.decode_point(0.0, 0.0)).unwrap().len(), 784);
}
