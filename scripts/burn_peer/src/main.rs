//! burn_peer: the burn 0.22 peer of wgsl-autoencoder's benchmark (issue 19).
//!
//! Times, with burn's wgpu backend (CubeCL kernels, autotune and kernel fusion on, as they
//! are by default), what our trainer times: a 1024³ f32 matmul and training epochs of the
//! dense and conv autoencoders of scripts/torch_models.py. One JSON line per result on
//! stdout, human lines on stderr. See README.md beside Cargo.toml.
//!
//!     burn_peer matmul --size 1024 --reps 20
//!     burn_peer dense  --limit 8192 --epochs 4 --batch 128
//!     burn_peer conv   --limit 2048 --epochs 4 --batch 128
//!
//! `--cache DIR` keeps CubeCL's on-disk environment (autotune results, compiled kernels)
//! in DIR between runs; without it every run starts cold from a fresh temporary directory.

use std::io::Read;
use std::time::Instant;

use burn::cubecl::config::{cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::Distribution;

const MNIST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/mnist/train-images-idx3-ubyte.gz"
);

/// The version of each crate that matters, as this build's Cargo.lock pins them.
fn versions() -> String {
    let lock = include_str!("../Cargo.lock");
    let wanted = [
        "burn",
        "burn-core",
        "burn-wgpu",
        "burn-fusion",
        "cubecl",
        "wgpu",
    ];
    let mut out = Vec::new();
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            if wanted.contains(&name) {
                out.push(format!("\"{name}\":{v}"));
            }
        }
    }
    format!("{{{}}}", out.join(","))
}

/// `--name value` from the command line, or `default`.
fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: bad value")),
        None => default,
    }
}

/// The first `limit` images of MNIST's training set, row-major (limit × 784), in [0, 1].
fn mnist(limit: usize) -> Vec<f32> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(MNIST).expect(MNIST))
        .read_to_end(&mut raw)
        .expect("gunzip");
    let be = |i: usize| u32::from_be_bytes(raw[i..i + 4].try_into().unwrap()) as usize;
    assert_eq!(
        (be(0), be(8), be(12)),
        (2051, 28, 28),
        "not an IDX image file of 28×28"
    );
    let n = limit.min(be(4));
    raw[16..16 + n * 784]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect()
}

/// A seeded Fisher–Yates shuffle of 0..n (splitmix64).
fn shuffle(n: usize, state: &mut u64) -> Vec<i32> {
    let mut next = || {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut p: Vec<i32> = (0..n as i32).collect();
    for i in (1..n).rev() {
        p.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    p
}

/// torch_models.dense_ae: 784-100-200-30-200-100-784, ReLU between, Sigmoid at the end.
#[derive(Module, Debug)]
struct Dense {
    layers: Vec<Linear>,
}

impl Dense {
    fn new(device: &Device) -> Self {
        let w = [784, 100, 200, 30, 200, 100, 784];
        Self {
            layers: w
                .windows(2)
                .map(|p| LinearConfig::new(p[0], p[1]).init(device))
                .collect(),
        }
    }
    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            x = if i == last { sigmoid(x) } else { relu(x) };
        }
        x
    }
}

/// torch_models.conv_ae((16, 8)), module for module (Sequential indices in brackets):
/// [0] Conv2d(1→16, 3, pad 1) [1] ReLU [2] MaxPool2d(2)            → 16×14×14
/// [3] Conv2d(16→8, 3, pad 1) [4] ReLU [5] MaxPool2d(2)            → 8×7×7 (the code)
/// [6] ConvTranspose2d(8→8, 3, stride 2, pad 1, out pad 1) [7] ReLU → 8×14×14
/// [8] ConvTranspose2d(8→16, 3, stride 2, pad 1, out pad 1) [9] ReLU → 16×28×28
/// [10] Conv2d(16→1, 3, pad 1) [11] Sigmoid                         → 1×28×28
#[derive(Module, Debug)]
struct ConvAe {
    enc1: Conv2d,
    enc2: Conv2d,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
    out: Conv2d,
    pool: MaxPool2d,
}

impl ConvAe {
    fn new(device: &Device) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |i, o| {
            ConvTranspose2dConfig::new([i, o], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .init(device)
        };
        Self {
            enc1: conv(1, 16),
            enc2: conv(16, 8),
            dec1: up(8, 8),
            dec2: up(8, 16),
            out: conv(16, 1),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = x.dims()[0];
        let x = x.reshape([n, 1, 28, 28]);
        let x = self.pool.forward(relu(self.enc1.forward(x)));
        let x = self.pool.forward(relu(self.enc2.forward(x)));
        let x = relu(self.dec1.forward(x));
        let x = relu(self.dec2.forward(x));
        sigmoid(self.out.forward(x)).reshape([n, 784])
    }
}

/// Trains `model` on the first `limit` images: MSE (mean over all elements), Adam lr 1e-3,
/// betas 0.9/0.999, eps 1e-8, a new shuffle each epoch. Prints one line per epoch.
fn train<M: Module>(
    name: &str,
    mut model: M,
    fwd: fn(&M, Tensor<2>) -> Tensor<2>,
    args: &[String],
    device: &Device,
    head: &str,
) {
    let limit: usize = flag(args, "--limit", 8192);
    let epochs: usize = flag(args, "--epochs", 4);
    let batch: usize = flag(args, "--batch", 128);
    let images = mnist(limit);
    let n = images.len() / 784;
    // The images live on the device, as ours do; each step gathers its batch there.
    let data = Tensor::<2>::from_data(TensorData::new(images, [n, 784]), device);
    let mut optim = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init();
    let mut rng = 7u64;
    device.sync().unwrap();
    for epoch in 1..=epochs {
        let order = shuffle(n, &mut rng);
        let t = Instant::now();
        let perm = Tensor::<1, Int>::from_data(TensorData::new(order, [n]), device);
        let mut total = Tensor::<1>::zeros([1], device);
        for start in (0..n).step_by(batch) {
            let rows = batch.min(n - start);
            let x = data
                .clone()
                .select(0, perm.clone().slice(s![start..start + rows]));
            let loss = (fwd(&model, x.clone()) - x).square().mean();
            total = total + loss.clone().detach().mul_scalar(rows as f32);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model, grads);
        }
        // Reading the loss total back waits for every step's loss; the sync, for the last
        // step's Adam update too.
        let loss = total.into_scalar::<f32>() / n as f32;
        device.sync().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let steps = n.div_ceil(batch);
        eprintln!(
            "burn {name}: epoch {epoch}/{epochs}: {secs:.3} s ({:.2} ms/step, {steps} steps of {batch}), mean loss {loss:.5}{}",
            secs * 1e3 / steps as f64,
            if epoch == 1 { " (includes autotune and kernel compilation)" } else { "" }
        );
        println!(
            "{{{head},\"bench\":\"{name}\",\"epoch\":{epoch},\"epochs\":{epochs},\"images\":{n},\"batch\":{batch},\"steps\":{steps},\"secs\":{secs:.6},\"ms_per_step\":{:.4},\"loss\":{loss:.6},\"includes_autotune\":{}}}",
            secs * 1e3 / steps as f64,
            epoch == 1
        );
    }
}

/// C = A·B, n×n f32: the first product alone (autotune, compilation), then `reps` timed.
fn matmul(args: &[String], device: &Device, head: &str) {
    let size: usize = flag(args, "--size", 1024);
    let reps: usize = flag(args, "--reps", 20);
    let a = Tensor::<2>::random([size, size], Distribution::Default, device);
    let b = Tensor::<2>::random([size, size], Distribution::Default, device);
    device.sync().unwrap();
    // Each product adds one of its elements to a running total that is read back at the
    // end, so that no product goes unused (and none can be skipped).
    let corner = |c: Tensor<2>| c.slice(s![0..1, 0..1]).reshape([1]);
    let t = Instant::now();
    let first = corner(a.clone().matmul(b.clone())).into_scalar::<f32>();
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    for _ in 0..3 {
        corner(a.clone().matmul(b.clone())).into_scalar::<f32>(); // warm-up
    }
    let t = Instant::now();
    let mut total = Tensor::<1>::zeros([1], device);
    for _ in 0..reps {
        total = total + corner(a.clone().matmul(b.clone()));
    }
    let check = total.into_scalar::<f32>();
    device.sync().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let gflops = 2.0 * (size as f64).powi(3) * reps as f64 / secs / 1e9;
    eprintln!("burn matmul {size}³: first product {first_ms:.1} ms (autotune, compilation); {reps} more in {secs:.3} s: {gflops:.2} GFLOP/s ({first} {check})");
    println!(
        "{{{head},\"bench\":\"matmul\",\"size\":{size},\"reps\":{reps},\"first_ms\":{first_ms:.3},\"secs\":{secs:.6},\"ms_per_product\":{:.4},\"gflops\":{gflops:.4}}}",
        secs * 1e3 / reps as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: burn_peer (matmul [--size N] [--reps N] | dense|conv [--limit N] [--epochs N] [--batch N]) [--cache DIR]");
        std::process::exit(2);
    };
    // CubeCL keeps autotune results and compiled kernels on disk, by default under the
    // outermost Cargo.toml's target/ (the repository's). Put them elsewhere: in --cache DIR
    // (warm runs), else in a fresh temporary directory (every run cold).
    let temp = std::env::temp_dir().join(format!("burn_peer_cache_{}", std::process::id()));
    let cache: String = flag(&args, "--cache", temp.display().to_string());
    let mut config = CubeClRuntimeConfig::default().override_from_env();
    config.environment.path = CacheConfig::Directory(cache.clone().into());
    CubeClRuntimeConfig::set(config);

    let t = Instant::now();
    let device = Device::wgpu(Default::default());
    Tensor::<1>::zeros([1], &device).into_scalar::<f32>(); // opens the adapter
    let adapter = device
        .identity()
        .map(|id| id.name)
        .unwrap_or_else(|| "unknown".into());
    eprintln!(
        "burn 0.22 on wgpu: adapter {adapter:?}, opened in {:.2} s; cache {cache}",
        t.elapsed().as_secs_f64()
    );
    let head = format!("\"peer\":\"burn\",\"versions\":{},\"adapter\":{adapter:?},\"fusion\":true,\"autotune\":true", versions());
    match cmd.as_str() {
        "matmul" => matmul(&args, &device, &head),
        "dense" => {
            let device = device.autodiff();
            train(
                "dense",
                Dense::new(&device),
                Dense::forward,
                &args,
                &device,
                &head,
            )
        }
        "conv" => {
            let device = device.autodiff();
            train(
                "conv",
                ConvAe::new(&device),
                ConvAe::forward,
                &args,
                &device,
                &head,
            )
        }
        other => {
            eprintln!("burn_peer: unknown command {other:?}");
            std::process::exit(2);
        }
    }
    if !args.iter().any(|a| a == "--cache") {
        let _ = std::fs::remove_dir_all(&temp);
    }
}
