//! End to end: the same graph trained on the GPU and on the CPU reference, from the same
//! seed and data order, must agree; and training must learn.

mod common;

use pollster::block_on;
use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::cpu::backend::CpuBackend;
use wgsl_autoencoder::data::{Data, Dataset, Scaling, ScalingKind, Shape, Split, Storage, Values};
use wgsl_autoencoder::gpu::kernels::{MatmulVariant, ThinTile, Variant};
use wgsl_autoencoder::gpu::GpuBackend;
use wgsl_autoencoder::model::{Arch, Fusion};
use wgsl_autoencoder::native::data::{default_data_dir, load_mnist};
use wgsl_autoencoder::ops::{Activation, LossKind};
use wgsl_autoencoder::train::{EpochMetrics, TrainConfig, Trainer};

/// The bundled MNIST cut down to keep the CPU reference quick: `train` training images
/// and the first `test` test images.
fn small_mnist(train: usize, test: usize) -> Data {
    let mut data =
        load_mnist(&default_data_dir(), Some(train)).expect("bundled MNIST in data/mnist");
    data.test.keep_first(test);
    data
}

fn train(
    backend: Box<dyn Backend>,
    config: &TrainConfig,
    data: &Data,
    epochs: usize,
) -> Vec<EpochMetrics> {
    train_graph(backend, config, data, epochs, Fusion::Fused)
}

fn train_graph(
    backend: Box<dyn Backend>,
    config: &TrainConfig,
    data: &Data,
    epochs: usize,
    fusion: Fusion,
) -> Vec<EpochMetrics> {
    block_on(async {
        let mut trainer = Trainer::with_fusion(backend, config.clone(), data, fusion)
            .await
            .unwrap();
        let mut metrics = Vec::new();
        for _ in 0..epochs {
            metrics.push(trainer.epoch().await.unwrap());
        }
        metrics
    })
}

fn config(arch: Arch, batch: usize, loss: LossKind) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch,
        loss,
        ..TrainConfig::new(arch)
    }
}

fn assert_relative(name: &str, gpu: f64, cpu: f64, rel: f64) {
    assert!(
        (gpu - cpu).abs() <= rel * cpu.abs(),
        "{name}: gpu {gpu} vs cpu {cpu} differ by more than {rel} relative"
    );
}

/// Two epochs, so that the second runs from parameters both backends trained; the batch
/// does not divide the image counts, so the partial-batch path runs too.
fn gpu_matches_cpu(arch: Arch, loss: LossKind, train_images: usize, test_images: usize) {
    let data = small_mnist(train_images, test_images);
    let cfg = config(arch, 64, loss);
    let gpu = train(Box::new(GpuBackend::new(common::gpu())), &cfg, &data, 2);
    let cpu = train(Box::new(CpuBackend::new()), &cfg, &data, 2);
    assert_agree(&gpu, &cpu);
}

fn assert_agree(gpu: &[EpochMetrics], cpu: &[EpochMetrics]) {
    for (g, c) in gpu.iter().zip(cpu) {
        let e = g.epoch;
        assert_relative(
            &format!("epoch {e} train loss"),
            g.train_loss,
            c.train_loss,
            1e-3,
        );
        assert_relative(&format!("epoch {e} test mse"), g.test_mse, c.test_mse, 1e-3);
        let both = |a: Option<f64>, b: Option<f64>| a.zip(b);
        assert_eq!(g.test_bce.is_some(), c.test_bce.is_some());
        for (name, pair) in [
            ("test bce", both(g.test_bce, c.test_bce)),
            ("test loss", both(g.test_loss, c.test_loss)),
            ("test kl", both(g.test_kl, c.test_kl)),
            ("code mean", both(g.code_mean, c.code_mean)),
        ] {
            if let Some((g, c)) = pair {
                assert_relative(&format!("epoch {e} {name}"), g, c, 1e-3);
            }
        }
        assert_eq!(g.test_loss.is_some(), c.test_loss.is_some());
    }
}

/// A VAE (its heads, sampling and KL fused, the BCE summed through the Sigmoid) on the
/// GPU against the unfused graph (the heads' Linear, then the sampling) on the CPU
/// reference, and a sparse one (`--l1`) likewise: the same ε on both, the same training.
#[test]
fn a_vae_and_a_sparse_model_train_the_same_fused_on_the_gpu_and_unfused_on_the_cpu() {
    let vae = TrainConfig {
        beta: 0.5,
        ..config(Arch::vae(vec![32, 4]), 64, LossKind::Bce)
    };
    let sparse = TrainConfig {
        l1: 1e-3,
        ..config(Arch::dense(vec![32, 8]), 64, LossKind::Mse)
    };
    let sparse_vae = TrainConfig {
        l1: 1e-3,
        ..vae.clone()
    };
    let data = small_mnist(200, 60);
    for cfg in [vae, sparse, sparse_vae] {
        let gpu = Box::new(GpuBackend::new(common::gpu()));
        let gpu = train_graph(gpu, &cfg, &data, 2, Fusion::Fused);
        let cpu = Box::new(CpuBackend::new());
        let cpu = train_graph(cpu, &cfg, &data, 2, Fusion::Unfused);
        assert_agree(&gpu, &cpu);
        assert_eq!(gpu[0].test_loss.is_some(), cfg.arch.is_variational());
        if cfg.arch.is_variational() {
            // The negative ELBO is its two terms, in nats per image.
            let (loss, recon, kl) = (gpu[1].test_loss, gpu[1].test_recon, gpu[1].test_kl);
            let (loss, recon, kl) = (loss.unwrap(), recon.unwrap(), kl.unwrap());
            assert!((loss - (recon + 0.5 * kl)).abs() < 1e-9 * loss);
            assert!((recon - 784.0 * gpu[1].test_bce.unwrap()).abs() < 1e-9 * recon);
        }
    }
}

/// The conv VAE: the conv encoder, the heads and the sampling fused on the GPU (and the
/// BCE summed through the Sigmoid), the Linear back to the bottleneck and the transposed
/// convs, against every module alone on the CPU reference; the same ε on both.
#[test]
fn a_conv_vae_trains_the_same_fused_on_the_gpu_and_unfused_on_the_cpu() {
    let cfg = TrainConfig {
        beta: 0.5,
        ..config(Arch::conv_vae(vec![4, 2, 3]), 32, LossKind::Bce)
    };
    let data = small_mnist(96, 40);
    let gpu = Box::new(GpuBackend::new(common::gpu()));
    let gpu = train_graph(gpu, &cfg, &data, 2, Fusion::Fused);
    let cpu = Box::new(CpuBackend::new());
    let cpu = train_graph(cpu, &cfg, &data, 2, Fusion::Unfused);
    assert_agree(&gpu, &cpu);
    let (loss, recon, kl) = (gpu[1].test_loss, gpu[1].test_recon, gpu[1].test_kl);
    let (loss, recon, kl) = (loss.unwrap(), recon.unwrap(), kl.unwrap());
    assert!(kl > 0.0);
    assert!((loss - (recon + 0.5 * kl)).abs() < 1e-9 * loss);
    assert!((recon - 784.0 * gpu[1].test_bce.unwrap()).abs() < 1e-9 * recon);
}

/// A sparse model's penalty pushes its codes towards zero: a large λ leaves more of them
/// near zero, and a smaller mean code, than no penalty.
#[test]
fn the_l1_penalty_makes_the_code_sparser() {
    let data = small_mnist(1024, 200);
    let plain = config(Arch::dense(vec![64, 16]), 64, LossKind::Mse);
    let sparse = TrainConfig {
        l1: 0.05,
        ..plain.clone()
    };
    let run = |cfg: &TrainConfig| {
        let cpu = Box::new(CpuBackend::new());
        train(cpu, cfg, &data, 2).pop().unwrap()
    };
    let (plain, sparse) = (run(&plain), run(&sparse));
    assert!(
        sparse.code_mean.unwrap() < 0.5 * plain.code_mean.unwrap(),
        "mean code: sparse {:?}, plain {:?}",
        sparse.code_mean,
        plain.code_mean
    );
    assert!(sparse.code_near_zero.unwrap() > plain.code_near_zero.unwrap());
}

/// `--activation tanh`: the activation's code reaches every fused kernel (the matmul
/// epilogues, the conv stages forward and backward) as it reaches the plain elementwise
/// ones, so the fused graph on the GPU trains as the unfused one on the CPU reference.
#[test]
fn tanh_models_train_the_same_fused_on_the_gpu_and_unfused_on_the_cpu() {
    for (arch, images) in [
        (Arch::dense(vec![32, 8]), (200, 60)),
        (Arch::conv(vec![4, 2]), (100, 40)),
    ] {
        let data = small_mnist(images.0, images.1);
        let cfg = config(arch.with_activation(Activation::Tanh), 64, LossKind::Mse);
        let gpu = Box::new(GpuBackend::new(common::gpu()));
        let gpu = train_graph(gpu, &cfg, &data, 2, Fusion::Fused);
        let cpu = Box::new(CpuBackend::new());
        let cpu = train_graph(cpu, &cfg, &data, 2, Fusion::Unfused);
        assert_agree(&gpu, &cpu);
    }
}

#[test]
fn dense_gpu_and_cpu_agree_over_two_epochs() {
    gpu_matches_cpu(Arch::dense(vec![100, 200, 30]), LossKind::Mse, 300, 100);
}

#[test]
fn dense_gpu_and_cpu_agree_with_bce_loss() {
    gpu_matches_cpu(Arch::dense(vec![64, 16]), LossKind::Bce, 200, 100);
}

/// The fused graph on the GPU, every product on the thin kernel that a GPU adapter would
/// pick for these layers (a CPU adapter picks others), against the unfused graph on the
/// CPU reference: fusing changes where sums are taken, not what is computed.
#[test]
fn fused_dense_on_thin_kernels_matches_the_unfused_reference() {
    let data = small_mnist(200, 100);
    let cfg = config(Arch::default_dense(), 64, LossKind::Mse);
    let thin = Variant::Matmul(MatmulVariant::Thin(ThinTile::T16));
    let backend = Box::new(GpuBackend::with_variant(common::gpu(), Some(thin)));
    let gpu = train_graph(backend, &cfg, &data, 2, Fusion::Fused);
    let cpu = train_graph(Box::new(CpuBackend::new()), &cfg, &data, 2, Fusion::Unfused);
    assert_agree(&gpu, &cpu);
}

#[test]
fn unfused_dense_gpu_and_cpu_agree() {
    let data = small_mnist(200, 100);
    let cfg = config(Arch::default_dense(), 64, LossKind::Bce);
    let backend = Box::new(GpuBackend::new(common::gpu()));
    let gpu = train_graph(backend, &cfg, &data, 2, Fusion::Unfused);
    let cpu = train_graph(Box::new(CpuBackend::new()), &cfg, &data, 2, Fusion::Unfused);
    assert_agree(&gpu, &cpu);
}

#[test]
fn dense_training_reduces_the_loss() {
    let data = small_mnist(1024, 200);
    let cfg = config(Arch::dense(vec![100, 200, 30]), 64, LossKind::Mse);
    let m = train(Box::new(GpuBackend::new(common::gpu())), &cfg, &data, 4);
    assert!(
        m[3].train_loss < 0.8 * m[0].train_loss,
        "train loss {:?}",
        m.iter().map(|m| m.train_loss).collect::<Vec<_>>()
    );
    assert!(m[3].test_mse < m[0].test_mse, "test mse did not fall");
    // An untrained sigmoid output sits near 0.5, an MSE near 0.2 on MNIST.
    assert!(m[3].test_mse < 0.1, "test mse {}", m[3].test_mse);
}

#[test]
fn a_batch_larger_than_the_dataset_trains_as_one_partial_batch() {
    let data = small_mnist(50, 30);
    let cfg = config(Arch::dense(vec![32]), 128, LossKind::Mse);
    let gpu = train(Box::new(GpuBackend::new(common::gpu())), &cfg, &data, 1);
    let cpu = train(Box::new(CpuBackend::new()), &cfg, &data, 1);
    assert_relative("train loss", gpu[0].train_loss, cpu[0].train_loss, 1e-3);
}

#[test]
fn a_batch_beyond_the_device_limit_is_refused_before_dispatch() {
    let data = small_mnist(10, 10);
    let gpu = common::gpu();
    let limit = gpu.limits.max_storage_buffer_binding_size as usize;
    // One more row than the input buffer can hold in one binding.
    let batch = limit / (784 * 4) + 1;
    let cfg = config(Arch::dense(vec![8]), batch, LossKind::Mse);
    let err = block_on(Trainer::new(Box::new(GpuBackend::new(gpu)), cfg, &data))
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("--batch") && msg.contains("at most"), "{msg}");
}

#[test]
fn conv_gpu_and_cpu_agree_over_two_epochs() {
    gpu_matches_cpu(Arch::conv(vec![16, 8]), LossKind::Mse, 100, 40);
}

#[test]
fn conv_training_reduces_the_loss() {
    let data = small_mnist(512, 100);
    let cfg = config(Arch::conv(vec![8, 4]), 16, LossKind::Mse);
    let m = train(Box::new(GpuBackend::new(common::gpu())), &cfg, &data, 3);
    assert!(
        m[2].train_loss < 0.8 * m[0].train_loss,
        "train loss {:?}",
        m.iter().map(|m| m.train_loss).collect::<Vec<_>>()
    );
    assert!(m[2].test_mse < m[0].test_mse, "test mse did not fall");
}

/// How much work an advance does (which follows the device's pace) changes how often
/// progress is seen, never what is logged: advances of one step each log the same
/// numbers, bit for bit, as advances of half a second.
#[test]
fn the_size_of_an_advance_changes_nothing_that_is_logged() {
    use wgsl_autoencoder::train::{Advance, Progress};
    let data = small_mnist(300, 50);
    let cfg = config(Arch::dense(vec![16, 4]), 32, LossKind::Mse);
    let steps = 300usize.div_ceil(32);
    let run = |seconds: Option<f64>| {
        block_on(async {
            let mut t = Trainer::new(Box::new(CpuBackend::new()), cfg.clone(), &data)
                .await
                .unwrap();
            if let Some(s) = seconds {
                t.set_advance_seconds(s);
            }
            let mut trained = 0;
            loop {
                match t.advance().await.unwrap() {
                    Advance::Progress(Progress::Train { .. }) => trained += 1,
                    Advance::Progress(Progress::Eval { .. }) => {}
                    Advance::EpochDone(m) => return (m, trained),
                }
            }
        })
    };
    let (one_step, advances) = run(Some(0.0));
    assert_eq!(advances, steps, "an advance of no time runs one step");
    let (default, fewer) = run(None);
    assert!(fewer <= advances);
    assert_eq!(one_step.train_loss, default.train_loss);
    assert_eq!(one_step.interval_loss, default.interval_loss);
    assert_eq!(
        (one_step.test_mse, one_step.test_bce),
        (default.test_mse, default.test_bce)
    );
    assert!(
        default.interval_loss.len() >= 2,
        "{:?}",
        default.interval_loss
    );
}

/// What the page draws as training goes: `reconstruct` gives the evaluation's own codes
/// and reconstructions for images handed in, mid-epoch as between epochs, and leaves the
/// test set as it found it (the next evaluation's numbers are those of a run without it).
#[test]
fn reconstructing_images_gives_what_evaluation_sees_and_leaves_the_test_set_alone() {
    let data = small_mnist(256, 64);
    let config = config(Arch::dense(vec![32, 8]), 32, LossKind::Mse);
    let run = |reconstruct: bool| {
        block_on(async {
            let backend = Box::new(GpuBackend::new(common::gpu()));
            let mut trainer = Trainer::new(backend, config.clone(), &data).await.unwrap();
            trainer.collect_snapshots();
            trainer.set_advance_seconds(0.0);
            // One advance trains one step: the epoch is under way.
            trainer.advance().await.unwrap();
            let mut seen = None;
            if reconstruct {
                // Images other than the first test images, so that a test set left
                // changed would show in the evaluation below.
                let images = data.train.values.samples(0..5, 784);
                let (codes, rebuilt) = trainer.reconstruct(&images).await.unwrap();
                assert_eq!((codes.len(), rebuilt.len()), (5 * 8, 5 * 784));
                assert!(rebuilt.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            let metrics = trainer.epoch().await.unwrap();
            let shot = trainer.take_snapshot().unwrap();
            if reconstruct {
                let first = data.test.values.samples(0..3, 784);
                let (codes, rebuilt) = trainer.reconstruct(&first).await.unwrap();
                assert_eq!(&codes[..], &shot.codes[..3 * 8]);
                assert_eq!(&rebuilt[..], &shot.rebuilt[..3 * 784]);
                seen = Some(rebuilt);
            }
            (metrics, seen)
        })
    };
    let (plain, _) = run(false);
    let (with, seen) = run(true);
    assert!(seen.is_some());
    assert_eq!(plain.train_loss, with.train_loss);
    assert_eq!(plain.test_mse, with.test_mse);
    assert_eq!(plain.test_bce, with.test_bce);
}

/// Samples of any shape from a seeded generator, with structure a model can learn: each
/// of three classes a smooth wave of its own phase, plus a little noise; images as bytes,
/// rows as floats already standardised (a linear output).
fn synthetic(shape: Shape, storage: Storage, train: usize, test: usize) -> Data {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(26);
    let elements = shape.elements();
    let mut split = |count: usize| {
        let labels: Vec<u32> = (0..count as u32).map(|i| i % 3).collect();
        let values: Vec<f32> = labels
            .iter()
            .flat_map(|&c| {
                let phase = c as f32 * 2.1;
                (0..elements)
                    .map(|j| (j as f32 * 0.07 + phase).sin() * 0.4 + 0.5)
                    .collect::<Vec<_>>()
            })
            .map(|v| (v + rng.random_range(-0.05f32..0.05)).clamp(0.0, 1.0))
            .collect();
        let values = match storage {
            Storage::Bytes => Values::Bytes(values.iter().map(|v| (v * 255.0) as u8).collect()),
            Storage::Floats => Values::Floats(values.iter().map(|v| (v - 0.5) * 2.5).collect()),
        };
        Dataset::new(values, Some(labels), count)
    };
    let (train, test) = (split(train), split(test));
    let scaling = (storage == Storage::Floats).then(|| Scaling {
        kind: ScalingKind::Standardize,
        offset: vec![0.0; elements],
        scale: vec![1.0; elements],
    });
    Data {
        train,
        test,
        shape,
        classes: ["a", "b", "c"].map(String::from).to_vec(),
        source: "synthetic".into(),
        split: Split::Given,
        scaling,
        notes: Vec::new(),
        trained_classes: None,
    }
}

/// The conv AE and the conv VAE on 3×32×32 colour images: fused on the GPU against every
/// module alone on the CPU reference, the last conv giving back three channels.
#[test]
fn conv_models_on_colour_images_train_the_same_on_the_gpu_and_the_cpu() {
    let data = synthetic(Shape::images(3, 32, 32), Storage::Bytes, 96, 40);
    let conv = config(Arch::conv(vec![4, 2]).fitted_to(&data), 32, LossKind::Mse);
    let vae = TrainConfig {
        beta: 0.5,
        ..config(
            Arch::conv_vae(vec![4, 2, 3]).fitted_to(&data),
            32,
            LossKind::Bce,
        )
    };
    for cfg in [conv, vae] {
        let gpu = Box::new(GpuBackend::new(common::gpu()));
        let gpu = train_graph(gpu, &cfg, &data, 2, Fusion::Fused);
        let cpu = Box::new(CpuBackend::new());
        let cpu = train_graph(cpu, &cfg, &data, 2, Fusion::Unfused);
        assert_agree(&gpu, &cpu);
        assert!(gpu[1].train_loss < gpu[0].train_loss, "{gpu:?}");
    }
}

/// The dense AE on standardised rows of 140 numbers (an ECG beat's length): the float
/// gather, a linear output and the MSE through it, fused on the GPU against the unfused
/// reference; no BCE is reported, and the loss falls.
#[test]
fn a_dense_model_on_standardised_rows_trains_the_same_on_the_gpu_and_the_cpu() {
    let data = synthetic(Shape::rows(140), Storage::Floats, 400, 60);
    let cfg = config(Arch::dense(vec![32, 8]).fitted_to(&data), 32, LossKind::Mse);
    assert_eq!(cfg.arch.output, Activation::Identity);
    let gpu = Box::new(GpuBackend::new(common::gpu()));
    let gpu = train_graph(gpu, &cfg, &data, 3, Fusion::Fused);
    let cpu = Box::new(CpuBackend::new());
    let cpu = train_graph(cpu, &cfg, &data, 3, Fusion::Unfused);
    assert_agree(&gpu, &cpu);
    assert!(gpu.iter().all(|m| m.test_bce.is_none()));
    let losses: Vec<f64> = gpu.iter().map(|m| m.train_loss).collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    // Standardised values are not probabilities: the BCE is refused.
    let bce = config(cfg.arch.clone(), 32, LossKind::Bce);
    let e = bce.validate().unwrap_err().to_string();
    assert!(e.contains("--loss") && e.contains("linear output"), "{e}");
}

/// After an epoch, the page scores a one-class run's test set from its evaluation's
/// squared errors instead of a second pass: they must be the scoring program's MSE
/// scores bit for bit, for a plain, a denoising, a variational and a conv model, on
/// either backend.
#[test]
fn an_evaluations_squared_errors_are_the_mse_scores() {
    use wgsl_autoencoder::ops::{NoiseKind, ScoreKind};
    let data = small_mnist(96, 70);
    let denoising = TrainConfig {
        noise: Some(NoiseKind::Mask { p: 0.3 }),
        ..config(Arch::dense(vec![16, 4]), 32, LossKind::Bce)
    };
    let configs = [
        config(Arch::dense(vec![16, 4]), 32, LossKind::Mse),
        denoising,
        config(Arch::vae(vec![16, 4]), 32, LossKind::Bce),
        config(Arch::conv(vec![4, 8]), 32, LossKind::Mse),
    ];
    for cfg in &configs {
        let backends: [Box<dyn Backend>; 2] = [
            Box::new(GpuBackend::new(common::gpu())),
            Box::new(CpuBackend::new()),
        ];
        for backend in backends {
            let name = backend.name();
            block_on(async {
                let mut trainer = Trainer::new(backend, cfg.clone(), &data).await.unwrap();
                trainer.collect_snapshots();
                trainer.epoch().await.unwrap();
                let shot = trainer.take_snapshot().expect("the epoch's snapshot");
                let scored = trainer.score_test(ScoreKind::Mse).await.unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(scored.len(), 70, "{:?} on {name}", cfg.arch);
                assert_eq!(
                    bits(&shot.scores),
                    bits(&scored),
                    "{:?} on {name}",
                    cfg.arch
                );
            });
        }
    }
}
