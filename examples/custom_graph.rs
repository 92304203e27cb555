//! A graph of your own, on the library's public API: a small two-layer network with a
//! loss, written op by op over numbered buffers, run on the GPU (hand-written WGSL) and
//! on the CPU reference, and compared element by element.
//!
//! `cargo run --release --example custom_graph`

use wgsl_autoencoder::gpu::{AdapterRequest, GpuOptions};
use wgsl_autoencoder::ops::{
    Activation, BatchDim, BufferSpec, Epilogue, LossForward, LossKind, Matmul, MatmulShape,
    StepParams, View,
};
use wgsl_autoencoder::{Backend, CpuBackend, Gpu, GpuBackend, Op, Result};

/// Sizes: a batch of 6 inputs of 10 features, a hidden layer of 8, 4 outputs.
const N: usize = 6;
const INPUTS: usize = 10;
const HIDDEN: usize = 8;
const OUTPUTS: usize = 4;

/// The buffers, in order; an op names them by index through `View`s.
fn buffers() -> Vec<BufferSpec> {
    let spec = |name: &str, len| BufferSpec {
        name: name.into(),
        len,
    };
    vec![
        spec("x", N * INPUTS),
        spec("w1", HIDDEN * INPUTS),
        spec("b1", HIDDEN),
        spec("h", N * HIDDEN),
        spec("w2", OUTPUTS * HIDDEN),
        spec("b2", OUTPUTS),
        spec("y", N * OUTPUTS),
        spec("target", N * OUTPUTS),
        spec("loss", 1),
        spec("loss total", 1),
    ]
}

/// y = σ(relu(x·W1ᵀ + b1)·W2ᵀ + b2), then the MSE against the target: three ops, each a
/// WGSL entry point on the GPU and a plain loop on the CPU.
fn graph(b: &[BufferSpec]) -> Vec<Op> {
    let v = |i: usize| View::whole(i, b[i].len);
    let linear = |x, w, bias, out, inputs, outputs, act| {
        let shape = MatmulShape {
            trans_b: true, // W is stored (out, in), as nn.Linear stores it
            ..MatmulShape::new(N, inputs, outputs)
        };
        Op::from(Matmul {
            epilogue: Epilogue::BiasAct { bias, act },
            ..Matmul::new(x, w, out, shape, BatchDim::M)
        })
    };
    vec![
        linear(v(0), v(1), v(2), v(3), INPUTS, HIDDEN, Activation::Relu),
        linear(v(3), v(4), v(5), v(6), HIDDEN, OUTPUTS, Activation::Sigmoid),
        Op::from(LossForward {
            loss: LossKind::Mse,
            y: v(6),
            t: v(7),
            value: v(8),
            total: v(9),
            rows: N,
            cols: OUTPUTS,
            summed: false,
        }),
    ]
}

/// Deterministic inputs in [-1, 1): the same on both backends.
fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| {
            let h = (i.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)).rotate_left(13);
            (h % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Runs the graph once on `backend` and reads back the output and the loss.
async fn run(backend: &mut dyn Backend) -> Result<(Vec<f32>, f32)> {
    let specs = buffers();
    backend.alloc(&specs).await?;
    for (i, seed) in [(0, 1), (1, 2), (2, 3), (4, 4), (5, 5), (7, 6)] {
        backend.write_f32(i, 0, &values(specs[i].len, seed))?;
    }
    backend.compile("forward", &graph(&specs)).await?;
    backend
        .run("forward", None, &[StepParams::default()])
        .await?;
    let y = backend.read_f32(View::whole(6, N * OUTPUTS)).await?;
    let loss = backend.read_f32(View::whole(8, 1)).await?;
    Ok((y, loss[0]))
}

async fn compare() -> Result<()> {
    let gpu = Gpu::open(&AdapterRequest::from_env()?, GpuOptions::default()).await?;
    println!("GPU: {}", gpu.adapter_summary());
    let mut on_gpu = GpuBackend::new(std::sync::Arc::new(gpu));
    let (gpu_y, gpu_loss) = run(&mut on_gpu).await?;
    let (cpu_y, cpu_loss) = run(&mut CpuBackend::new()).await?;
    let worst = gpu_y
        .iter()
        .zip(&cpu_y)
        .map(|(g, c)| (g - c).abs())
        .fold(0.0f32, f32::max);
    println!("output (first row): {:?}", &gpu_y[..OUTPUTS]);
    println!("MSE: {gpu_loss:.7} on the GPU, {cpu_loss:.7} on the CPU reference");
    println!(
        "largest difference over {} outputs: {worst:.2e}",
        gpu_y.len()
    );
    if worst > 1e-5 || (gpu_loss - cpu_loss).abs() > 1e-5 {
        return Err(wgsl_autoencoder::Error::Other(
            "the GPU and the CPU reference disagree".into(),
        ));
    }
    println!("they agree");
    Ok(())
}

fn main() {
    // Mesa's Vulkan device-select layer prints "XDG_RUNTIME_DIR is invalid" on machines
    // without a display; wgpu ranks adapters itself (the command line does the same).
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    if let Err(e) = pollster::block_on(compare()) {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
