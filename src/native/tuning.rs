//! The commands about variants: `tune` (time them and save the fastest), `profile --plan`
//! (what each dispatch of a step launches, without running it), the variants `info`
//! shows, and the backend `train` gets, running the tuned variants (tuning a new
//! adapter first).

use std::sync::Arc;

use crate::backend::{Backend, MemoryLimits};
use crate::cpu::backend::CpuBackend;
use crate::data::{Data, TEST_COUNT, TRAIN_COUNT};
use crate::error::{Error, Result};
use crate::gpu::kernels::{Measured, Parallelism};
use crate::gpu::{Gpu, GpuBackend};
use crate::model::{Arch, DataSizes, Fusion, Graph, DEFAULT_CONV_VAE_SIZES, DEFAULT_VAE_LAYERS};
use crate::native::cli::{ModelKind, ProfileArgs, TuneArgs};
use crate::native::reflect::Reflector;
use crate::native::tuned::{self, Policy};
use crate::ops::Op;
use crate::plan::{self, Plan};
use crate::report::table;
use crate::train::{TrainConfig, Trainer};
use crate::tune::{self, Names};

/// Seconds the first `train` on an adapter may spend tuning its model's shapes; shapes it
/// does not reach keep the heuristic's choice, saved so that later runs keep it too
/// (`tune` times them).
pub const TRAIN_BUDGET_SECONDS: f64 = 3.0;

/// What a command runs on.
pub enum Device {
    Gpu(Arc<Gpu>),
    Cpu(CpuBackend),
}

pub fn arch_of(model: ModelKind) -> Arch {
    match model {
        ModelKind::Dense => Arch::default_dense(),
        ModelKind::Conv => Arch::default_conv(),
        ModelKind::Vae => Arch::vae(DEFAULT_VAE_LAYERS.to_vec()),
        ModelKind::ConvVae => Arch::conv_vae(DEFAULT_CONV_VAE_SIZES.to_vec()),
    }
}

/// The data a command that needs only shapes and sizes works at: the bundled MNIST's
/// (without reading it), or `--data`'s, read.
pub enum Shaped {
    Mnist,
    Data(Box<Data>),
}

impl Shaped {
    /// `arch` at this data's shape.
    pub fn arch(&self, arch: Arch) -> Arch {
        match self {
            Shaped::Mnist => arch,
            Shaped::Data(data) => arch.fitted_to(data),
        }
    }

    pub fn sizes(&self) -> DataSizes {
        match self {
            Shaped::Mnist => MNIST,
            Shaped::Data(data) => DataSizes::of(data),
        }
    }
}

/// Every op `train` runs for `config` on all of MNIST: the training step, evaluation and
/// decoding, as the trainer builds them on a backend of these limits.
pub fn train_ops(config: &TrainConfig, sizes: DataSizes, limits: &MemoryLimits) -> Result<Graph> {
    Trainer::graph_for(config, sizes, limits, Fusion::default())
}

/// The bundled MNIST's sizes, which commands that need no more than sizes use without
/// reading it.
pub const MNIST: DataSizes = DataSizes::bytes(TRAIN_COUNT, TEST_COUNT);

/// `arch` at `batch` on data of `sizes`, checked as `train` checks it.
pub fn config(arch: Arch, batch: usize, sizes: DataSizes) -> Result<TrainConfig> {
    let count = sizes.train_images;
    if batch > count {
        return Err(Error::flag(
            "--batch",
            format!(
                "{batch}: a step trains on a batch of training samples, and the data holds {count}"
            ),
        ));
    }
    let config = TrainConfig {
        batch,
        ..TrainConfig::new(arch)
    };
    config.validate()?;
    Ok(config)
}

/// The backend `train` runs `config` on: the CPU reference, or the GPU running the
/// variants `policy` gives (tuning them first where it says so), and those variants by
/// name, for the run's record.
pub async fn trainer_backend(
    device: Device,
    config: &TrainConfig,
    data: &Data,
    policy: &Policy,
    say: &mut dyn FnMut(&str),
) -> Result<(Box<dyn Backend>, Option<Names>)> {
    let gpu = match device {
        Device::Cpu(cpu) => return Ok((Box::new(cpu), None)),
        Device::Gpu(gpu) => gpu,
    };
    let mut backend = GpuBackend::new(gpu.clone());
    let graph = train_ops(config, DataSizes::of(data), &backend.memory_limits())?;
    // The training step's shapes are tuned; evaluation and decoding, at their own
    // batch, run what `tune --batch <their rows>` saved, if anything.
    let evaluation: Vec<Op> = graph.eval.iter().chain(&graph.decode).cloned().collect();
    let names = tuned::prepare(&gpu, &graph.train, &evaluation, policy, say).await?;
    backend.set_measured(tune::measured(&names));
    Ok((Box::new(backend), Some(names)))
}

/// A GPU backend running the saved variants (none with `no_tune`), for `profile` and
/// `bench`, which never tune by themselves.
pub fn saved_backend(gpu: &Arc<Gpu>, no_tune: bool, say: &mut dyn FnMut(&str)) -> GpuBackend {
    let mut backend = GpuBackend::new(gpu.clone());
    if !no_tune {
        backend.set_measured(saved_measured(gpu, say));
    }
    backend
}

/// Every saved choice of this adapter, as the backend takes them.
pub fn saved_measured(gpu: &Gpu, say: &mut dyn FnMut(&str)) -> Measured {
    let saved = tuned::load(gpu);
    for note in &saved.notes {
        say(note);
    }
    tune::measured(&tune::names(&saved.choices))
}

/// `tune`.
pub async fn tune_command(
    args: &TuneArgs,
    shaped: &Shaped,
    open: impl AsyncFnOnce() -> Result<Arc<Gpu>>,
) -> Result<()> {
    // The flags first: a typo should not cost a device start.
    if !(args.budget.is_finite() && args.budget > 0.0) {
        return Err(Error::flag(
            "--budget",
            "must be a positive number of seconds",
        ));
    }
    let wanted: Vec<(ModelKind, usize)> = match args.all {
        true => [ModelKind::Dense, ModelKind::Conv]
            .into_iter()
            .flat_map(|m| [(m, 128), (m, 1024)])
            .collect(),
        false => vec![(args.model, args.batch)],
    };
    let configs = wanted
        .into_iter()
        .map(|(model, batch)| config(shaped.arch(arch_of(model)), batch, shaped.sizes()))
        .collect::<Result<Vec<_>>>()?;
    let gpu = open().await?;
    let limits = GpuBackend::new(gpu.clone()).memory_limits();
    let mut ops = Vec::new();
    for config in &configs {
        ops.extend(train_ops(config, shaped.sizes(), &limits)?.train);
    }
    if args.all {
        ops.extend(crate::bench::squares(&crate::bench::SQUARES));
    }
    if let Some(why) = tune::unavailable(&gpu) {
        println!("not tuning: {why}");
        return Ok(());
    }
    let mut saved = tuned::load(&gpu).choices;
    tune::drop_stale(&mut saved, &ops, &|v| gpu.runs(v));
    saved.retain(|_, c| !c.guessed);
    let missing = tune::missing(&ops, &tune::names(&saved)).len();
    let policy = Policy::Tune {
        budget_seconds: args.budget,
        again: args.again,
    };
    let names = tuned::prepare(&gpu, &ops, &[], &policy, &mut |l| eprintln!("{l}")).await?;
    let saved = tuned::load(&gpu).choices;
    let device = Parallelism::of(&gpu.adapter.get_info());
    let measured = tune::measured(&names);
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for op in &ops {
        let key = Measured::key(op);
        if !seen.insert(key.clone()) {
            continue;
        }
        let chosen = crate::gpu::kernels::choose(op, None, &measured, device);
        let choice = saved.get(&key).filter(|_| names.contains_key(&key));
        let row = serde_json::json!({
            "op": op.entry(),
            "shape": op.label(),
            "key": key,
            "variant": chosen.variant.name(),
            "source": match choice.is_some_and(|c| c.guessed) {
                true => "guessed (saved by train)",
                false => chosen.how(op),
            },
            "variants": gpu.variants(op).len(),
            "ms": choice.map(|c| c.ms.clone()),
            "screen_ms": choice.map(|c| c.screen_ms.clone()),
        });
        rows.push(row);
    }
    if args.json {
        for row in &rows {
            println!("{row}");
        }
        return Ok(());
    }
    println!(
        "{} op shapes on {}: {} with a choice to make, {} timed now",
        rows.len(),
        gpu.adapter_summary(),
        tune::candidates(&ops).len(),
        if args.again {
            tune::candidates(&ops).len()
        } else {
            missing
        }
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let times = r["ms"].as_object().map_or("-".into(), |ms| {
                let mut v: Vec<(&String, f64)> = ms
                    .iter()
                    .map(|(k, v)| (k, v.as_f64().unwrap_or(f64::NAN)))
                    .collect();
                v.sort_by(|a, b| a.1.total_cmp(&b.1));
                let each: Vec<String> = v.iter().map(|(k, ms)| format!("{k} {ms:.4}")).collect();
                each.join(", ")
            });
            let out: Vec<&String> = r["screen_ms"].as_object().map_or(Vec::new(), |s| {
                s.keys()
                    .filter(|k| r["ms"].get(k.as_str()).is_none())
                    .collect()
            });
            let times = match out.is_empty() {
                true => times,
                false => format!(
                    "{times}; out at the short screen: {}",
                    out.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            vec![s("op"), s("shape"), s("variant"), s("source"), times]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "op",
                "shape",
                "variant",
                "source",
                "median ms of each variant timed at full size"
            ],
            &cells,
            5
        )
    );
    Ok(())
}

/// The compute units of the adapter a plan is made for: `--compute-units`, else, on a
/// CPU adapter, the threads that take its workgroups; a GPU's are not known to wgpu.
fn units(args: &ProfileArgs, device: Parallelism) -> Result<Option<usize>> {
    match args.compute_units {
        Some(n) if !(1..=1_000_000).contains(&n) => Err(Error::flag(
            "--compute-units",
            format!(
                "{n}: a GPU has at least 1 compute unit (132 for an H100, 80 for an M-series Max)"
            ),
        )),
        Some(n) => Ok(Some(n as usize)),
        None if device == Parallelism::Narrow => {
            Ok(std::thread::available_parallelism().ok().map(|n| n.get()))
        }
        None => Ok(None),
    }
}

/// `profile --plan`: one training step's dispatches, for this adapter or for a GPU of
/// `--compute-units` units (which needs no adapter).
pub async fn plan_command(
    args: &ProfileArgs,
    shaped: &Shaped,
    open: impl AsyncFnOnce() -> Result<Arc<Gpu>>,
) -> Result<()> {
    let config = config(shaped.arch(arch_of(args.model)), args.batch, shaped.sizes())?;
    let (target, device, measured, limits) = match args.compute_units {
        Some(_) => {
            units(args, Parallelism::Wide)?;
            // A large GPU's binding limit: the plan's sizes are the models', far below it.
            let limits = MemoryLimits {
                per_buffer: 1 << 31,
                per_buffer_what: "a GPU's storage binding limit",
                total: None,
                total_what: "",
            };
            let target = "a GPU (its heuristics, no saved choices)".to_string();
            (target, Parallelism::Wide, Measured::default(), limits)
        }
        None => {
            let gpu = open().await?;
            let measured = match args.no_tune {
                true => Measured::default(),
                false => saved_measured(&gpu, &mut |l| eprintln!("{l}")),
            };
            let limits = GpuBackend::new(gpu.clone()).memory_limits();
            let device = Parallelism::of(&gpu.adapter.get_info());
            (gpu.adapter_summary(), device, measured, limits)
        }
    };
    let units = units(args, device)?;
    let graph = train_ops(&config, shaped.sizes(), &limits)?;
    let mut reflector = Reflector::default();
    let rows = plan::rows(&graph.train, &measured, device, units, &mut |l| {
        reflector.footprint(l)
    })?;
    let plan = Plan {
        model: format!(
            "{} autoencoder {}",
            config.arch.name(),
            config.arch.describe()
        ),
        batch: args.batch,
        target,
        compute_units: units,
        rows,
    };
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string(&plan).map_err(|e| Error::Other(e.to_string()))?
        ),
        false => print!("{}", plan::render(&plan)),
    }
    Ok(())
}

/// For `info`: the variant each op of both models' training steps at batch 128 runs on
/// this adapter, and whether it was measured (`tune`), guessed or the only one.
pub fn variants_report(gpu: &Arc<Gpu>) -> Result<String> {
    let measured = saved_measured(gpu, &mut |l| eprintln!("{l}"));
    let device = Parallelism::of(&gpu.adapter.get_info());
    let limits = GpuBackend::new(gpu.clone()).memory_limits();
    let mut cells = Vec::new();
    for model in [ModelKind::Dense, ModelKind::Conv] {
        let config = config(arch_of(model), 128, MNIST)?;
        let graph = train_ops(&config, MNIST, &limits)?;
        for op in &graph.train {
            let chosen = crate::gpu::kernels::choose(op, None, &measured, device);
            cells.push(vec![
                config.arch.name().to_string(),
                op.entry().to_string(),
                op.label(),
                chosen.variant.name(),
                chosen.how(op).to_string(),
            ]);
        }
    }
    let mut out = format!(
        "variants on {} for a training step at batch 128 (measured: by `tune`, saved in {}):\n",
        gpu.adapter_summary(),
        tuned::cache_file().map_or("no cache folder".into(), |p| p.display().to_string())
    );
    out += &table(&["model", "op", "shape", "variant", "source"], &cells, 5);
    Ok(out)
}
