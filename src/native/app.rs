//! What each subcommand does, between the parsed command line and the library.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::backend::Backend;
use crate::cpu::backend::CpuBackend;
use crate::data::{check_limit, Data, Prepare, Scaling};
use crate::error::{Error, Result};
use crate::gpu::context::{checks_from_env, AdapterRequest, GpuOptions, PipelineStore};
use crate::gpu::{Gpu, GpuBackend};
use crate::model::Graph;
use crate::model::{
    Arch, DEFAULT_CHANNELS, DEFAULT_CONV_VAE_SIZES, DEFAULT_LAYERS, DEFAULT_VAE_LAYERS,
};
use crate::native::checkpoint;
use crate::native::cli::{
    BackendKind, BenchArgs, CheckArgs, Cli, Command, DataArgs, EvalArgs, InfoArgs, ModelKind,
    PlotArgs, ProfileArgs, TrainArgs,
};
use crate::native::data::default_data_dir;
use crate::native::files::{self, PipelineFiles};
use crate::native::metrics::MetricsLog;
use crate::native::peaks as saved_peaks;
use crate::native::plots::{self, Curves};
use crate::native::progress::{self, EpochBars};
use crate::native::record::{DataRecord, RunRecord};
use crate::native::rundir::{self, RunDir};
use crate::native::tuned::Policy;
use crate::native::tuning::{self, Device};
use crate::native::{compare, interrupt, roofline};
use crate::ops::{LossKind, NoiseKind, ScoreKind};
use crate::pictures;
use crate::train::{EpochMetrics, Snapshot, TrainConfig, TrainState, Trainer};

/// Runs a command. The library's GPU path is async; here, at the command line's edge, one
/// `pollster::block_on` drives it.
pub fn run(cli: Cli) -> Result<()> {
    pollster::block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(&args).await,
        Command::Info(args) => info(&args).await,
        Command::Bench(args) => bench(&args).await,
        Command::Compare(args) => {
            plot_flag(&args.plot)?;
            let comparison = compare::load(&args.ours, &args.peer)?;
            print!("{}", compare::render(&comparison));
            if let Some(path) = &args.plot {
                compare::plot(&comparison, path)?;
                println!("picture: {}", path.display());
            }
            Ok(())
        }
        Command::Profile(args) => profile(&args).await,
        Command::Tune(args) => {
            let shaped = shaped(&args.data)?;
            tuning::tune_command(&args, &shaped, open_gpu).await
        }
        Command::Check(args) => check(&args).await,
        Command::Eval(args) => eval(&args).await,
        Command::Plot(args) => plot(&args),
        Command::Score(args) => crate::native::score::score_command(&args).await,
        Command::Data(args) => {
            let data = DataSource::of(&args.data, None)?.load(None)?;
            print!("{}", crate::native::inspect::render(&data));
            if let Some(dir) = &args.export {
                for path in crate::native::inspect::export(&data, dir)? {
                    println!("wrote {path}");
                }
            }
            Ok(())
        }
    }
}

/// The GPU that wgpu's environment variables choose, with compiled pipelines kept in the
/// user's cache folder and naga's checks where `WGSL_AUTOENCODER_CHECKED=1`.
pub async fn open_gpu() -> Result<Arc<Gpu>> {
    let pipelines =
        files::cache_dir().map(|dir| Arc::new(PipelineFiles { dir }) as Arc<dyn PipelineStore>);
    let options = GpuOptions {
        checked: checks_from_env(),
        pipelines,
        ..Default::default()
    };
    let request = AdapterRequest::from_env()?;
    Ok(Arc::new(Gpu::open(&request, options).await?))
}

async fn check(args: &CheckArgs) -> Result<()> {
    let gpu = open_gpu().await?;
    let device = crate::gpu::kernels::Parallelism::of(&gpu.adapter.get_info());
    let extra: Vec<crate::bench::Input> = match shaped(&args.data)? {
        tuning::Shaped::Mnist => Vec::new(),
        tuning::Shaped::Data(data) => vec![crate::bench::Input::of(&data)],
    };
    let mut plan = crate::check::run::plan_at(args.quick, device, &extra)?.runnable_on(&gpu);
    if let Some(text) = &args.filter {
        plan = plan.filter(text);
        if plan.groups.is_empty() {
            return Err(Error::flag(
                "--filter",
                format!("{text:?} names no entry point or variant"),
            ));
        }
    }
    let mut make =
        |forced| -> Box<dyn Backend> { Box::new(GpuBackend::with_variant(gpu.clone(), forced)) };
    let adapter = gpu.adapter_summary();
    crate::check::run::run_plan(
        &plan,
        &adapter,
        &mut make,
        args.json,
        &mut std::io::stdout(),
    )
    .await
}

/// `bench --peak` and `info --peak`: measure, save, show.
async fn peak(gpu: &Arc<Gpu>, json: bool) -> Result<()> {
    let (peaks, rows) = saved_peaks::measure(gpu).await?;
    let saved = saved_peaks::save(gpu, &peaks);
    if json {
        let value = serde_json::json!({ "peaks": peaks, "rows": rows });
        println!("{value}");
    } else {
        print!("{}", crate::peaks::render(&peaks, &rows));
    }
    match saved {
        Ok((path, notes)) => {
            for note in notes {
                eprintln!("{note}");
            }
            eprintln!("saved to {}", path.display());
        }
        Err(e) => eprintln!("note: the peaks were not saved: {e}"),
    }
    Ok(())
}

/// `bench --ladder`: every rung of a family's ladder at its shape, with the card's FMA
/// peak (saved by `bench --peak`, or measured now).
async fn ladder(args: &BenchArgs, family: &str) -> Result<()> {
    use crate::bench::ladder;
    use crate::gpu::kernels::ladder::Family;
    if args.filter.is_some() || args.train || args.peak {
        return Err(Error::flag(
            "--ladder",
            "times the rungs of one family; it takes --quick, --json and --plot, not --filter, --train or --peak",
        ));
    }
    let family = Family::parse(family).ok_or_else(|| {
        Error::flag(
            "--ladder",
            format!("{family:?} is not a ladder; use matmul or conv"),
        )
    })?;
    let ladder::Ladder { shape, steps } = ladder::ladder(family, args.quick)?;
    let gpu = open_gpu().await?;
    let peaks = saved_peaks::saved_or_measured(&gpu, |note| eprintln!("{note}")).await?;
    let opts = crate::bench::Options::new(args.quick);
    if !args.json {
        println!(
            "the {} ladder at {shape}, on {}; fp32 FMA peak {:.1} GFLOP/s",
            family.name(),
            gpu.adapter_summary(),
            peaks.fma_gflops
        );
    }
    let mut rows = Vec::new();
    for step in &steps {
        eprintln!(
            "timing rung {} {} ({} kernels)",
            step.rung.step,
            step.rung.slug,
            step.cases.len()
        );
        rows.push(ladder::time_step(&gpu, step, &shape, &opts).await?);
    }
    ladder::place(&mut rows, Some(&peaks));
    if args.json {
        for row in &rows {
            println!("{}", to_json(row)?);
        }
    } else {
        print!("{}", ladder::render(&rows));
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "the {} ladder at {shape}: {}",
            family.name(),
            gpu.adapter_summary()
        );
        roofline::draw_ladder(path, &title, &rows, &peaks)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// A `--plot` picture's format, checked before any work: a .png or .jpg name, never
/// PNG bytes under another format's name.
fn plot_flag(plot: &Option<std::path::PathBuf>) -> Result<()> {
    match plot {
        Some(path) => plots::picture_format(path)
            .map(|_| ())
            .map_err(|e| Error::flag("--plot", e.to_string())),
        None => Ok(()),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Other(e.to_string()))
}

async fn bench(args: &BenchArgs) -> Result<()> {
    plot_flag(&args.plot)?;
    if let Some(family) = &args.ladder {
        return ladder(args, family).await;
    }
    // The filter first: a typo should not cost a device start.
    // Each word of the filter must be in the row's `op[shape]` or in its variant's name.
    let wanted = |case: &crate::bench::Case| {
        let (label, variant) = (case.label(), case.variant_name());
        args.filter.as_ref().is_none_or(|f| {
            f.split_whitespace()
                .all(|w| label.contains(w) || variant.contains(w))
        })
    };
    let cases: Vec<crate::bench::Case> = crate::bench::cases(args.quick)?
        .into_iter()
        .filter(wanted)
        .collect();
    if let (Some(filter), true) = (&args.filter, cases.is_empty()) {
        return Err(Error::flag(
            "--filter",
            format!("{filter:?} matches no benchmark row; rows are named like \"matmul[128,784,100]\" or \"conv2d_forward/conv1[8,1,28,28,16]\", and a word may name a variant, as in \"matmul[1024, sgemm\""),
        ));
    }
    let gpu = open_gpu().await?;
    if args.peak {
        return peak(&gpu, args.json).await;
    }
    let peaks = saved_peaks::saved_or_measured(&gpu, |note| eprintln!("{note}")).await?;
    let opts = crate::bench::Options::new(args.quick);
    if !args.json {
        println!(
            "{} ({} timing)",
            gpu.adapter_summary(),
            if gpu.can_time_dispatches() {
                "timestamp"
            } else {
                "wallclock"
            }
        );
    }
    let mut rows = Vec::new();
    let mut points = Vec::new();
    let mut cpu_times = std::collections::BTreeMap::new();
    // Variants this device cannot run (those that need subgroups) have no row.
    for case in cases.into_iter().filter(|c| gpu.runs(c.variant)) {
        let mut row = crate::bench::run_case(&gpu, &case, &opts, &mut cpu_times).await?;
        row.place(&peaks, &case.op);
        points.push(roofline::Point {
            label: format!("{} {} {:?}", row.op, row.variant, row.shape),
            intensity: row.intensity.unwrap_or(0.0),
            gflops: row.gflops.unwrap_or(0.0),
        });
        if args.json {
            println!("{}", to_json(&row)?);
        }
        rows.push(row);
    }
    if args.train {
        let source = DataSource::of(&args.data, None)?;
        let mut data = source.load(None)?;
        data.apply_limit(args.quick.then_some(2048).map(|n| n.min(data.train.len())))?;
        eprint!("{}", described(&data));
        let mut archs = Vec::new();
        for arch in [Arch::default_dense(), Arch::default_conv()] {
            let arch = arch.fitted_to(&data);
            match arch.problem() {
                Some(why) => eprintln!("note: no {} epoch rows: {why}", arch.name()),
                None => archs.push(arch),
            }
        }
        let (batches, timed): (&[usize], usize) = if args.quick {
            (&[64, 128], 1)
        } else {
            (&[64, 128, 256, 1024], 2)
        };
        let measured = match args.no_tune {
            true => Default::default(),
            false => tuning::saved_measured(&gpu, &mut |l| eprintln!("{l}")),
        };
        let rows_of = crate::bench::train_rows(&gpu, &data, &archs, batches, timed, &measured);
        for row in rows_of.await? {
            if args.json {
                println!("{}", to_json(&row)?);
            }
            rows.push(row);
        }
    }
    if !args.json {
        println!("{}", crate::peaks::describe(&peaks));
        print!("{}", crate::bench::render(&rows));
        println!(
            "cpu ms: the CPU reference, timed only up to {:.0e} FLOP per call",
            crate::bench::CPU_CAP_FLOPS
        );
        println!("of peak: GFLOP/s over the FMA peak (fma) or GB/s over the bandwidth (mem), whichever bounds a kernel of its FLOP/B;");
        println!("above 100%: its data stayed in a cache faster than the memory the peaks stream through");
    }
    if let Some(path) = &args.plot {
        let title = format!("kernels on the roofline of {}", gpu.adapter_summary());
        roofline::draw_roofline(path, &title, &peaks, &points)?;
        eprintln!("roofline: {}", path.display());
    }
    Ok(())
}

async fn profile(args: &ProfileArgs) -> Result<()> {
    if args.steps == 0 {
        return Err(Error::flag("--steps", "must be at least 1"));
    }
    if args.batch == 0 {
        return Err(Error::flag("--batch", "must be at least 1"));
    }
    // Any number of steps runs (an epoch's shuffle at a time), but steps × batch images
    // must be a count: checked before any data or device.
    if args.steps.checked_mul(args.batch).is_none() {
        return Err(Error::flag(
            "--steps",
            format!(
                "{} steps of batch {} is more images than can be counted",
                args.steps, args.batch
            ),
        ));
    }
    plot_flag(&args.plot)?;
    if args.plot.is_some() && args.backend == BackendKind::Cpu && !args.plan {
        return Err(Error::flag(
            "--plot",
            "the roofline needs a GPU's measured peaks; --backend cpu has none",
        ));
    }
    if args.plan {
        let shaped = shaped(&args.data)?;
        return tuning::plan_command(args, &shaped, open_gpu).await;
    }
    let data = DataSource::of(&args.data, None)?.load(None)?;
    let arch = tuning::arch_of(args.model).fitted_to(&data);
    arch.validate()?;
    check_batch(args.batch, &data)?;
    if !args.json {
        print!("{}", described(&data));
    }
    let (backend, peaks): (Box<dyn Backend>, _) = match args.backend {
        BackendKind::Gpu => {
            let gpu = open_gpu().await?;
            let peaks = saved_peaks::saved_or_measured(&gpu, |note| eprintln!("{note}")).await?;
            let backend = tuning::saved_backend(&gpu, args.no_tune, &mut |l| eprintln!("{l}"));
            (Box::new(backend), Some(peaks))
        }
        BackendKind::Cpu => (Box::new(cpu_backend()), None),
    };
    let report =
        crate::profile::profile(backend, &data, arch, args.batch, args.steps, peaks.as_ref())
            .await?;
    if args.json {
        println!("{}", to_json(&report)?);
    } else {
        print!("{}", crate::profile::render(&report));
    }
    if let (Some(path), Some(peaks)) = (&args.plot, &peaks) {
        let points: Vec<roofline::Point> = report
            .dispatches
            .iter()
            .map(|d| roofline::Point {
                label: format!("{} {}", d.kernel, d.shape),
                intensity: d.intensity,
                gflops: d.gflops,
            })
            .collect();
        let title = format!(
            "{}, batch {}: one training step on {}",
            report.model, report.batch, report.backend
        );
        roofline::draw_roofline(path, &title, peaks, &points)?;
        eprintln!("roofline: {}", path.display());
    }
    Ok(())
}

/// The architecture the flags give, refusing a size flag of the other model.
pub fn arch_from(args: &TrainArgs) -> Result<Arch> {
    let arch = match (args.model, &args.layers, &args.channels) {
        (ModelKind::Dense | ModelKind::Vae, _, Some(_)) => Err(Error::flag(
            "--channels",
            "applies only to --model conv and conv-vae; the dense models' sizes are --layers",
        )),
        (ModelKind::Vae, layers, None) => Ok(Arch::vae(
            layers
                .clone()
                .unwrap_or_else(|| DEFAULT_VAE_LAYERS.to_vec()),
        )),
        (ModelKind::Conv | ModelKind::ConvVae, Some(_), _) => Err(Error::flag(
            "--layers",
            "applies only to --model dense and vae; the conv models' sizes are --channels (a conv VAE's ending in its latent size)",
        )),
        (ModelKind::Dense, layers, None) => Ok(Arch::dense(
            layers.clone().unwrap_or_else(|| DEFAULT_LAYERS.to_vec()),
        )),
        (ModelKind::Conv, None, channels) => Ok(Arch::conv(
            channels
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANNELS.to_vec()),
        )),
        (ModelKind::ConvVae, None, sizes) => Ok(Arch::conv_vae(
            sizes
                .clone()
                .unwrap_or_else(|| DEFAULT_CONV_VAE_SIZES.to_vec()),
        )),
    };
    Ok(arch?.with_activation(args.activation.into()))
}

/// The training loss's name as the progress, the epoch lines and loss.png show it: a VAE's
/// is the negative ELBO, per image.
fn shown_loss(config: &TrainConfig) -> &'static str {
    match config.arch.is_variational() {
        true => "-elbo",
        false => config.loss.name(),
    }
}

/// `--loss`, by default MSE, or BCE for a VAE (the negative ELBO's reconstruction term).
fn loss_from(args: &TrainArgs) -> LossKind {
    match (args.loss, args.model) {
        (Some(loss), _) => loss.into(),
        (None, ModelKind::Vae | ModelKind::ConvVae) => LossKind::Bce,
        (None, _) => LossKind::Mse,
    }
}

/// The CPU reference, its size check weighing the memory free on this machine.
fn cpu_backend() -> CpuBackend {
    CpuBackend::with_available_memory(files::available_memory())
}

pub async fn make_backend(kind: BackendKind) -> Result<Box<dyn Backend>> {
    Ok(match open_device(kind).await? {
        Device::Gpu(gpu) => Box::new(GpuBackend::new(gpu)),
        Device::Cpu(cpu) => Box::new(cpu),
    })
}

async fn open_device(kind: BackendKind) -> Result<Device> {
    Ok(match kind {
        BackendKind::Gpu => Device::Gpu(open_gpu().await?),
        BackendKind::Cpu => Device::Cpu(cpu_backend()),
    })
}

/// How long each part of start-up took, in seconds.
struct StartUp {
    data: f64,
    device: f64,
}

/// The data a command that needs only shapes and sizes works at: the bundled MNIST's
/// without reading it, or `--data`'s, read (and described on stderr).
fn shaped(args: &DataArgs) -> Result<tuning::Shaped> {
    if args.data.is_none() && !args.prepares() {
        return Ok(tuning::Shaped::Mnist);
    }
    let data = DataSource::of(args, None)?.load(None)?;
    eprint!("{}", described(&data));
    Ok(tuning::Shaped::Data(Box::new(data)))
}

/// What a command says first about its data: the summary line, then a note for each
/// thing the loader left out.
pub fn described(data: &Data) -> String {
    let mut out = format!("{}\n", data.describe());
    for note in &data.notes {
        out += &format!("note: {note}\n");
    }
    out
}

/// Refuses a batch larger than the training samples.
fn check_batch(batch: usize, data: &Data) -> Result<()> {
    let count = data.train.len();
    match batch > count {
        true => Err(Error::flag(
            "--batch",
            format!(
                "{batch}: a step trains on a batch of training samples, and the data holds {count}"
            ),
        )),
        false => Ok(()),
    }
}

/// Where a command's data is and how to read it: `--data` and the preparation flags, over
/// a run's own where it has them.
#[derive(Clone, Debug)]
pub struct DataSource {
    pub path: PathBuf,
    pub prepare: Prepare,
    /// Whether it is the bundled MNIST, which a run records by no path.
    pub bundled: bool,
}

impl DataSource {
    /// The flags' data over `saved` (a run's record), else the bundled MNIST.
    pub fn of(args: &DataArgs, saved: Option<&DataRecord>) -> Result<DataSource> {
        let base = saved.map(|d| d.prepare.clone()).unwrap_or_default();
        let prepare = args.prepare_over(&base);
        if let Some(f) = prepare.test_fraction {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::flag(
                    "--test-fraction",
                    format!("{f}: must lie between 0 and 1 (0.1 holds a tenth of each class out)"),
                ));
            }
        }
        let (path, bundled) = match (&args.data, saved) {
            (Some(path), _) => {
                let absolute = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
                (absolute, false)
            }
            (None, Some(DataRecord { path: Some(p), .. })) => (p.clone(), false),
            (None, _) => (default_data_dir(), true),
        };
        Ok(DataSource {
            path,
            prepare,
            bundled,
        })
    }

    /// Reads it, scaling rows by `scaling` where a saved model gives one.
    pub fn load(&self, scaling: Option<&Scaling>) -> Result<Data> {
        crate::native::data::load(&self.path, &self.prepare, scaling)
    }

    /// What a run records of it.
    pub fn record(&self) -> Option<DataRecord> {
        let plain = self.bundled && self.prepare == Prepare::default();
        (!plain).then(|| DataRecord {
            path: (!self.bundled).then(|| self.path.clone()),
            prepare: self.prepare.clone(),
        })
    }
}

/// Decodes the data on a thread while the device starts, keeps the first `limit`
/// training samples, and returns both with the seconds each took.
async fn data_and_device(
    source: &DataSource,
    scaling: Option<Scaling>,
    limit: Option<usize>,
    kind: BackendKind,
) -> Result<(Data, Device, StartUp)> {
    let source = source.clone();
    let loading = std::thread::spawn(move || {
        let started = Instant::now();
        let mut data = source.load(scaling.as_ref())?;
        data.apply_limit(limit)?;
        Ok::<_, Error>((data, started.elapsed().as_secs_f64()))
    });
    let started = Instant::now();
    let device = open_device(kind).await;
    let device_seconds = started.elapsed().as_secs_f64();
    let data = loading
        .join()
        .map_err(|_| Error::Other("the data loader stopped unexpectedly".into()))?;
    // A data error is the more useful one to report when both fail.
    let (data, seconds) = data?;
    let times = StartUp {
        data: seconds,
        device: device_seconds,
    };
    Ok((data, device?, times))
}

/// `runs/<model>-<UTC time>`, with a counter if a run in the same second took that name.
fn default_out_dir(model: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let base = PathBuf::from("runs").join(format!("{model}-{}", stamp.replace(':', "-")));
    let mut dir = base.clone();
    for n in 2.. {
        if !dir.exists() {
            break;
        }
        dir = PathBuf::from(format!("{}-{n}", base.display()));
    }
    dir
}

/// What a train command will do: a new run's configuration, or the run to continue.
struct Plan {
    record: RunRecord,
    run: RunDir,
    resume: Option<Resume>,
    source: DataSource,
}

/// A run to continue (`--resume`).
struct Resume {
    checkpoint: PathBuf,
    meta: checkpoint::Meta,
    /// The epochs it keeps: the checkpoint's, or none when only the first epoch's
    /// checkpoint was saved (see `save_epoch`), which is then trained again from the
    /// start, giving the same epoch from the same seed.
    done: usize,
}

fn plan_new(args: &TrainArgs) -> Result<Plan> {
    let noise = match &args.noise {
        Some(text) => Some(NoiseKind::parse(text).map_err(|m| Error::flag("--noise", m))?),
        None => None,
    };
    let config = TrainConfig {
        epochs: args.epochs.unwrap_or(DEFAULT_EPOCHS),
        batch: args.batch,
        lr: args.lr,
        loss: loss_from(args),
        seed: args.seed,
        noise,
        log_every: args.log_every,
        beta: args.beta,
        l1: args.l1,
        ..TrainConfig::new(arch_from(args)?)
    };
    // Flags first: a typo should not cost a data load or a device start. (The sizes are
    // checked again at the data's shape once it is read.)
    config.validate()?;
    check_limit(args.limit)?;
    let source = DataSource::of(&args.data, None)?;
    if let Some(path) = &args.init_from {
        // Read before the run's folder is made: a bad checkpoint leaves nothing behind.
        // Its architecture is checked against the run's once the data's shape is known.
        checkpoint::read_meta(path)?;
    }
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out_dir(config.arch.name()),
    };
    let record = RunRecord {
        config,
        limit: args.limit,
        data: source.record(),
        train_samples: None,
        backend: Some(args.backend.unwrap_or(BackendKind::Gpu)),
        variants: None,
    };
    let run = RunDir::create_new(&out)?;
    Ok(Plan {
        record,
        run,
        resume: None,
        source,
    })
}

/// A new run's model at its data's shape, checked there: its sizes and the checkpoint it
/// starts from. (A batch larger than the data is one partial step an epoch.)
fn fit_new_run(record: &mut RunRecord, data: &Data, init_from: Option<&Path>) -> Result<()> {
    let config = &mut record.config;
    config.arch = config.arch.clone().fitted_to(data);
    config.validate()?;
    if let Some(path) = init_from {
        let meta = checkpoint::read_meta(path)?;
        if meta.arch != config.arch.spec() {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                message: format!(
                    "saved for {}, but this run builds {}",
                    meta.arch,
                    config.arch.spec()
                ),
            });
        }
    }
    record.train_samples = Some(data.train.len());
    Ok(())
}

/// Refuses data of another shape than a saved model's, naming both.
fn check_shape(model: &Arch, data: &Data, source: &DataSource, saved: &Path) -> Result<()> {
    match model.input == data.shape {
        true => Ok(()),
        false => Err(Error::Data {
            path: source.path.clone(),
            message: format!(
                "holds samples of {}, but the model in {} takes {}",
                data.shape.describe(),
                saved.display(),
                model.input.describe()
            ),
        }),
    }
}

fn plan_resume(dir: &Path, args: &TrainArgs) -> Result<Plan> {
    if !dir.is_dir() {
        return Err(Error::flag(
            "--resume",
            format!("{}: no such folder", dir.display()),
        ));
    }
    // Checked before the folder is locked or cleaned: it must be a run of ours.
    let path = dir.join("checkpoint.safetensors");
    if !path.is_file() {
        let why = rundir::why_not_resumable(dir);
        return Err(Error::flag("--resume", format!("{} {why}", dir.display())));
    }
    let meta = checkpoint::read_meta(&path)?;
    let run = RunDir::open_existing(dir, Some("--resume"))?;
    let json = meta.flags.clone().ok_or_else(|| Error::Checkpoint {
        path: path.clone(),
        message: "saved without the run's flags: it cannot be resumed".into(),
    })?;
    let mut record = RunRecord::from_json(&json, &path)?;
    checkpoint::check_progress(&path, &meta, &record.config, record.samples_per_epoch())?;
    let done = kept_epochs(&path, &run.file("metrics.jsonl"), meta.epoch)?;
    if let Some(epochs) = args.epochs {
        record.config.epochs = epochs;
        record.config.validate()?;
    }
    if let Some(backend) = args.backend {
        record.backend = Some(backend);
    }
    if done >= record.config.epochs {
        return Err(Error::flag(
            "--epochs",
            format!(
                "the run in {} already has its {done} epochs (of {}); pass a larger --epochs to train it further",
                dir.display(),
                record.config.epochs
            ),
        ));
    }
    let source = DataSource::of(&DataArgs::default(), record.data.as_ref())?;
    Ok(Plan {
        record,
        run,
        resume: Some(Resume {
            checkpoint: path,
            meta,
            done,
        }),
        source,
    })
}

/// The epochs a resumed run keeps, from its checkpoint's epoch and the lines of its
/// metrics.jsonl, as a save stopped halfway leaves them (see `save_epoch`): all of the
/// checkpoint's when the metrics hold a line for each, and perhaps one more (of an epoch
/// whose checkpoint was not saved; that line is dropped); none when only the first
/// epoch's checkpoint was saved. Anything else is refused, naming both files.
fn kept_epochs(checkpoint: &Path, metrics: &Path, saved: usize) -> Result<usize> {
    let (logged, _) = MetricsLog::read_for_resume(metrics)?;
    match logged.len() {
        0 if saved == 1 => Ok(0),
        n if n == saved || n == saved + 1 => Ok(saved),
        n => Err(Error::Data {
            path: metrics.to_path_buf(),
            message: format!(
                "holds {n} epochs, but {} was saved after epoch {saved}; a run stopped while saving leaves them one epoch apart at most, so this one cannot be continued",
                checkpoint.display()
            ),
        }),
    }
}

/// Saves an epoch: its metrics line and both checkpoints. The first epoch writes its
/// checkpoints first, later epochs their metrics line first, so that a save stopped
/// halfway (SIGKILL, a full disk) always leaves a folder `--resume` continues: a metrics
/// line ahead of the checkpoint is dropped and its epoch trained again, and a first
/// checkpoint without its metrics line is trained again from the start. Never a folder
/// with metrics and no checkpoint, which holds nothing to continue from, not even the
/// run's flags.
fn save_epoch(
    run: &RunDir,
    log: &mut MetricsLog,
    graph: &Graph,
    state: &TrainState,
    flags: &str,
    m: &EpochMetrics,
    scaling: Option<&Scaling>,
) -> Result<()> {
    let checkpoints = || -> Result<()> {
        let state_file = run.file("checkpoint.safetensors");
        checkpoint::save_state(&state_file, graph, state, flags, scaling)?;
        let model_file = run.file("model.safetensors");
        checkpoint::save(&model_file, graph, &state.params, m.epoch, scaling)
    };
    if m.epoch == 1 {
        checkpoints()?;
        log.append(m)
    } else {
        log.append(m)?;
        checkpoints()
    }
}

const DEFAULT_EPOCHS: usize = 5;

/// What Ctrl-C prints: what is saved, and how to go on.
fn resume_note(dir: &Path, done: usize) -> String {
    let d = dir.display();
    let go_on = format!("continue with: wgsl-autoencoder train --resume {d}");
    match (done, dir.join("checkpoint.safetensors").is_file()) {
        (0, false) => format!("No epoch had finished, so nothing was saved in {d}."),
        (0, true) => format!("No epoch had finished in this run; {go_on}"),
        _ => format!("Epochs 1-{done} are saved in {d}; {go_on}"),
    }
}

async fn train(args: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    // Before the run's folder is made: from here an interrupt removes the run's lock,
    // and its folder if the run made it and saved nothing, and says what is saved.
    interrupt::install();
    let plan = match &args.resume {
        Some(dir) => plan_resume(dir, args)?,
        None => plan_new(args)?,
    };
    let Plan {
        mut record,
        run,
        resume,
        source,
    } = plan;
    let quiet = args.quiet;
    let done = resume.as_ref().map_or(0, |r| r.done);
    interrupt::set_note(resume_note(run.path(), done));
    let kind = record.backend.unwrap_or(BackendKind::Gpu);
    // A resumed run scales its rows as it did, by the scaling its checkpoint saved.
    let scaling = resume.as_ref().and_then(|r| r.meta.scaling.clone());
    let (data, device, times) = data_and_device(&source, scaling, record.limit, kind).await?;
    match &resume {
        Some(r) => {
            check_shape(&record.config.arch, &data, &source, &r.checkpoint)?;
            if record.train_samples.is_some_and(|n| n != data.train.len()) {
                return Err(Error::Data {
                    path: source.path.clone(),
                    message: format!(
                        "holds {} training samples now, but the run in {} trained on {}: it cannot be continued on other data",
                        data.train.len(),
                        run.path().display(),
                        record.samples_per_epoch()
                    ),
                });
            }
        }
        None => fit_new_run(&mut record, &data, args.init_from.as_deref())?,
    }
    if !quiet {
        print!("{}", described(&data));
    }
    let config = record.config.clone();
    // A new run tunes a new adapter's shapes (or not, with --no-tune); a resumed one runs
    // the variants it trained with, whatever was tuned since, so that its numbers continue
    // exactly (a run saved before tuning existed ran the heuristic's).
    let policy = match (&resume, &record.variants) {
        (Some(_), Some(names)) => Policy::Fixed(names.clone()),
        (Some(_), None) => Policy::Off,
        (None, _) if args.no_tune => Policy::Off,
        (None, _) => Policy::Train {
            budget_seconds: tuning::TRAIN_BUDGET_SECONDS,
        },
    };
    let tuning_started = Instant::now();
    let mut say = |line: &str| {
        if !quiet {
            println!("{line}");
        }
    };
    let chosen = tuning::trainer_backend(device, &config, &data, &policy, &mut say).await;
    let (backend, variants) = match &resume {
        Some(r) => chosen.map_err(|e| checkpoint::blame_saved(&r.checkpoint, e))?,
        None => chosen?,
    };
    let tuning_seconds = tuning_started.elapsed().as_secs_f64();
    record.variants = variants;
    let backend_name = backend.name();
    let building = Instant::now();
    let trainer = Trainer::new(backend, config.clone(), &data).await;
    // A resumed run's sizes are its checkpoint's, not flags the user gave.
    let mut trainer = match &resume {
        Some(r) => trainer.map_err(|e| checkpoint::blame_saved(&r.checkpoint, e))?,
        None => trainer?,
    };
    let build_seconds = building.elapsed().as_secs_f64();
    trainer.collect_snapshots();
    let (mut log, mut history) = match &resume {
        Some(r) => {
            if r.done > 0 {
                let state = checkpoint::load_state(&r.checkpoint, trainer.graph())?;
                if state.epoch != r.meta.epoch {
                    return Err(Error::Other(
                        "the checkpoint's epoch changed while reading it".into(),
                    ));
                }
                trainer.restore(&state)?;
            }
            MetricsLog::resume(run.path(), r.done)?
        }
        None => {
            if let Some(path) = &args.init_from {
                let flat = checkpoint::load(path, trainer.graph())?;
                trainer.set_params(&flat)?;
                if !quiet {
                    println!("initialised from {}", path.display());
                }
            }
            (MetricsLog::new(run.path()), Vec::new())
        }
    };
    // The record saves the logging interval the run uses, so that a resumed run keeps it.
    record.config.log_every = Some(trainer.log_every());
    let record_json = record.to_json()?;
    let loss_name = shown_loss(&config);
    if !quiet {
        let params: usize = trainer.graph().params.iter().map(|p| p.value.len).sum();
        let noise = config
            .noise
            .map(|n| format!(", denoising ({})", n.spec()))
            .unwrap_or_default();
        println!(
            "{} autoencoder {} ({params} parameters){noise} on {backend_name}",
            config.arch.name(),
            config.arch.describe()
        );
        println!(
            "{} training samples, {} test samples, batch {} (evaluation {}), Adam lr {}, {loss_name} loss, seed {}",
            data.train.len(),
            data.test.len(),
            config.batch,
            trainer.graph().eval_rows,
            config.lr,
            config.seed
        );
        match resume.as_ref().map(|r| r.done) {
            Some(0) => println!(
                "resuming {}: its first epoch's checkpoint was saved without its metrics line, so that epoch is trained again from the start",
                run.path().display()
            ),
            Some(done) => println!(
                "resuming {} after epoch {done} of {}",
                run.path().display(),
                config.epochs
            ),
            None => {}
        }
        let ready = started.elapsed().as_secs_f64();
        println!(
            "ready in {ready:.2} s: data {:.2} s read while the device started in {:.2} s, then variants {tuning_seconds:.2} s, buffers, data upload and pipelines {build_seconds:.2} s",
            times.data, times.device
        );
    }
    let bars = progress::wanted(quiet);
    for epoch in trainer.epochs_done() + 1..=config.epochs {
        interrupt::set_note(resume_note(run.path(), epoch - 1));
        let mut bar = EpochBars::new(bars, epoch, config.epochs, loss_name);
        let mut m = trainer.epoch_with(&mut |p| bar.update(p)).await?;
        bar.clear();
        let shot = trainer
            .take_snapshot()
            .ok_or_else(|| Error::Other("evaluation kept no snapshot".into()))?;
        one_class_figures(&mut trainer, &data, &shot, &mut m).await?;
        if !quiet {
            println!(
                "epoch {:>3}/{}  train {loss_name} {:.6}  test mse {:.6}{}  {:.2} s  {:.0} img/s  eval {:.2} s",
                m.epoch, config.epochs, m.train_loss, m.test_mse, bce_shown(m.test_bce), m.seconds, m.images_per_second, m.eval_seconds
            );
            if let (Some(loss), Some(recon), Some(kl)) = (m.test_loss, m.test_recon, m.test_kl) {
                println!("           test loss {loss:.4} nats per image = reconstruction {recon:.4} + β × KL {kl:.4}");
            }
            if let (Some(auroc), Some(p)) = (m.test_auroc, &m.train_score_percentiles) {
                let classes = data.trained_classes.clone().unwrap_or_default().join(",");
                let p99 = p.get("99").copied().unwrap_or(f64::NAN);
                println!("           one class ({classes}): test AUROC {auroc:.4}; the training scores' 99th percentile {p99:.6}");
            }
            if config.l1 > 0.0 {
                let (mean, zero) = (m.code_mean.unwrap_or(0.0), m.code_near_zero.unwrap_or(0.0));
                println!(
                    "           codes: mean |code| {mean:.4}, {:.1}% near zero",
                    100.0 * zero
                );
            }
        }
        let state = trainer.state().await?;
        interrupt::saving(|| {
            save_epoch(
                &run,
                &mut log,
                trainer.graph(),
                &state,
                &record_json,
                &m,
                trainer.scaling(),
            )
        })?;
        interrupt::set_note(resume_note(run.path(), epoch));
        history.push(m);
        draw_pictures(&mut trainer, run.path(), &history, &shot, &data).await?;
    }
    if !quiet {
        let dir = run.path().display();
        println!("metrics: {}", log.path().display());
        let prior = match (config.arch.is_variational(), trainer.graph().code_len) {
            (true, 2) => ", samples.png, manifold.png",
            (true, _) => ", samples.png",
            (false, _) => "",
        };
        println!(
            "pictures: {dir}/loss.png, reconstructions.png, latent.png, interpolation.png{prior}"
        );
        println!("weights: {dir}/model.safetensors (PyTorch state_dict names)");
        println!(
            "to train on: wgsl-autoencoder train --resume {dir} --epochs N (a total above {})",
            config.epochs
        );
    }
    Ok(())
}

/// The percentiles of the training scores a one-class run saves each epoch.
const SAVED_PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// A one-class run's (`--classes`) figures of the epoch: the test AUROC of its squared
/// errors (`one_class_auroc`), and the percentiles of its training samples' squared
/// errors, scored now.
async fn one_class_figures(
    trainer: &mut Trainer,
    data: &Data,
    shot: &Snapshot,
    m: &mut EpochMetrics,
) -> Result<()> {
    if data.trained_classes.is_none() {
        return Ok(());
    }
    m.test_auroc = one_class_auroc(data, shot);
    let values = data.train.values.clone();
    let scores = trainer.score_samples(ScoreKind::Mse, &values).await?;
    m.train_score_percentiles = Some(
        SAVED_PERCENTILES
            .iter()
            .filter_map(|&p| Some((format!("{p}"), crate::anomaly::percentile(&scores, p)?)))
            .collect(),
    );
    Ok(())
}

/// The AUROC at telling a one-class run's other classes from its trained ones by the
/// test samples' squared errors, which evaluation scored in its pass; `None` for a run
/// of every class, or test samples without labels.
fn one_class_auroc(data: &Data, shot: &Snapshot) -> Option<f64> {
    let trained = data.trained_classes.as_ref()?;
    let normal: Vec<u32> = trained
        .iter()
        .filter_map(|name| data.classes.iter().position(|c| c == name))
        .map(|i| i as u32)
        .collect();
    let labels = data.test.labels.as_ref()?;
    let anomalous: Vec<bool> = labels.iter().map(|l| !normal.contains(l)).collect();
    crate::anomaly::auroc(&shot.scores, &anomalous)
}

/// `  test bce 0.123456`, or nothing for a linear output, which has no BCE.
fn bce_shown(bce: Option<f64>) -> String {
    bce.map(|b| format!("  test bce {b:.6}"))
        .unwrap_or_default()
}

/// All four pictures of a run in `dir`; `history` may be empty (then no loss.png).
async fn draw_pictures(
    trainer: &mut Trainer,
    dir: &Path,
    history: &[EpochMetrics],
    shot: &Snapshot,
    data: &Data,
) -> Result<()> {
    let (shape, classes) = (data.shape, data.classes.as_slice());
    let loss_name = shown_loss(trainer.config());
    if !history.is_empty() {
        let curves = [Curves {
            label: dir.display().to_string(),
            epochs: history,
        }];
        plots::loss(&dir.join("loss.png"), &curves, loss_name)?;
    }
    plots::reconstructions(&dir.join("reconstructions.png"), shot, shape, classes)?;
    let what = trainer.graph().arch.code_words(shot.code_len);
    plots::latent(&dir.join("latent.png"), shot, &what, shape, classes)?;
    let available = shot.codes.len() / shot.code_len.max(1);
    let pairs = pictures::interpolation_pairs(&shot.labels, available, classes.len());
    let codes = pictures::interpolation_codes(shot, &pairs);
    let decoded = trainer.decode(&codes).await?;
    let names = pictures::pair_names(&pairs, &shot.labels, classes);
    let path = dir.join("interpolation.png");
    plots::interpolation(&path, shape, classes, &names, &decoded)?;
    if trainer.graph().arch.is_variational() {
        draw_prior_pictures(trainer, dir, shape).await?;
    }
    Ok(())
}

/// A VAE's `samples.png` (decoded from z ~ N(0, I), drawn from `--seed`) and, with a 2-D
/// latent, `manifold.png` (decoded over the Gaussian's quantiles, as Keras' example).
async fn draw_prior_pictures(
    trainer: &mut Trainer,
    dir: &Path,
    shape: crate::data::Shape,
) -> Result<()> {
    let latent = trainer.graph().code_len;
    let seed = trainer.config().seed;
    let images = trainer
        .decode(&pictures::prior_samples(seed, latent))
        .await?;
    let title = format!("Decoded from z ~ N(0, I), {latent}-D, seed {seed}");
    let side = pictures::SAMPLES_SIDE;
    plots::sample_grid(&dir.join("samples.png"), &title, shape, &images, side)?;
    if latent == 2 {
        let images = trainer.decode(&pictures::manifold_codes()).await?;
        let title = "Decoded over the latent's quantiles 0.05 … 0.95 (z₁ →, z₂ ↑)";
        let side = pictures::MANIFOLD_SIDE;
        plots::sample_grid(&dir.join("manifold.png"), title, shape, &images, side)?;
    }
    Ok(())
}

/// The folder and the checkpoint `eval` reads: a run folder's model.safetensors (or its
/// checkpoint.safetensors), or the checkpoint named, in its folder (`.` for a bare name).
pub fn eval_paths(given: &Path) -> (PathBuf, PathBuf) {
    if given.is_dir() {
        let model = given.join("model.safetensors");
        let path = match model.is_file() {
            true => model,
            false => given.join("checkpoint.safetensors"),
        };
        return (given.to_path_buf(), path);
    }
    let dir = given
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (dir.to_path_buf(), given.to_path_buf())
}

/// Where `eval` draws its pictures: `--out`, a new folder, or else the checkpoint's own
/// folder, but only if it is a run's, so that no file of the user's is written over.
fn eval_out(out: Option<&Path>, dir: &Path) -> Result<RunDir> {
    match out {
        Some(out) => RunDir::create_new(out),
        None if rundir::is_run(dir) => RunDir::open_existing(dir, None),
        None => Err(Error::Other(format!(
            "{} is not a run's folder (it holds no metrics.jsonl or checkpoint.safetensors), so eval writes no pictures there: pass --out DIR for them",
            dir.display()
        ))),
    }
}

/// A saved model ready to run on its data: what `eval` and `score` start from.
pub struct Saved {
    /// The checkpoint read, and its metadata.
    pub path: PathBuf,
    pub meta: checkpoint::Meta,
    pub config: TrainConfig,
    pub data: Data,
    pub trainer: Trainer,
    /// Where the pictures and files go.
    pub run: RunDir,
    /// The run's folder, and its metrics where it has them.
    pub dir: PathBuf,
}

/// Opens the model at `given` (a run's folder, or a checkpoint) with the configuration
/// its run saved (else the architecture's defaults), reads the data it trained on as it
/// read it (or `data`'s, over that), checks the data fits the model, and loads its
/// weights on `backend`, running the variants the run trained with. `out` (or the run's
/// own folder) is where pictures go; `what` names the command in the interrupt's note.
pub async fn open_saved(
    given: &Path,
    data: &DataArgs,
    backend: BackendKind,
    out: Option<&Path>,
    what: &str,
) -> Result<Saved> {
    // Before any folder is made or locked, so that an interrupt releases it.
    interrupt::install();
    let (dir, path) = eval_paths(given);
    interrupt::set_note(format!(
        "The {what} of {} stopped; files already written are whole.",
        path.display()
    ));
    let meta = checkpoint::read_meta(&path)?;
    let arch = crate::checkpoint::meta_arch(&path, &meta)?;
    // The run's flags, where the checkpoint has them (its noise, for a denoising model).
    let state_path = dir.join("checkpoint.safetensors");
    let record = match checkpoint::read_meta(&state_path)
        .ok()
        .and_then(|m| m.flags)
    {
        Some(json) => Some(RunRecord::from_json(&json, &state_path)?),
        None => None,
    };
    // And the file the configuration comes from, for errors about it.
    // The variants the run trained with, where its record keeps them; else the saved ones.
    // The data it trained on, read as it read it, unless flags say otherwise.
    let (config, config_path, policy, saved_data) = match record {
        Some(r) if r.config.arch == arch => {
            let policy = r.variants.map_or(Policy::Saved, Policy::Fixed);
            (r.config, state_path, policy, r.data)
        }
        _ => (TrainConfig::new(arch), path.clone(), Policy::Saved, None),
    };
    let mut source = DataSource::of(data, saved_data.as_ref())?;
    // Other data (`--data`) is cut to the run's classes where it has labels to cut by;
    // without them it is scored whole, and says so.
    let filter = source.prepare.clone();
    let other =
        data.data.is_some() && (filter.classes.is_some() || filter.exclude_classes.is_some());
    if other {
        source.prepare.classes = None;
        source.prepare.exclude_classes = None;
    }
    let run = eval_out(out, &dir)?;
    let (mut data, device, _) =
        data_and_device(&source, meta.scaling.clone(), None, backend).await?;
    if other {
        match data.is_labelled() {
            true => data.keep_training_classes(&filter)?,
            false => data.notes.push(format!(
                "the run trained on some classes only, and {} has no labels to tell them by: every sample is scored, none measured",
                source.path.display()
            )),
        }
    }
    check_shape(&config.arch, &data, &source, &path)?;
    let mut say = |line: &str| eprintln!("{line}");
    let (backend, _) = tuning::trainer_backend(device, &config, &data, &policy, &mut say)
        .await
        .map_err(|e| checkpoint::blame_saved(&config_path, e))?;
    let mut trainer = Trainer::new(backend, config.clone(), &data)
        .await
        .map_err(|e| checkpoint::blame_saved(&config_path, e))?;
    let flat = checkpoint::load(&path, trainer.graph())?;
    trainer.set_params(&flat)?;
    Ok(Saved {
        path,
        meta,
        config,
        data,
        trainer,
        run,
        dir,
    })
}

async fn eval(args: &EvalArgs) -> Result<()> {
    let saved = open_saved(
        &args.path,
        &args.data,
        args.backend,
        args.out.as_deref(),
        "evaluation",
    );
    let Saved {
        path,
        meta,
        config,
        data,
        mut trainer,
        run,
        dir,
    } = saved.await?;
    print!("{}", described(&data));
    trainer.collect_snapshots();
    let started = Instant::now();
    let e = trainer.evaluate().await?;
    let (mse, bce) = (e.mse, e.bce);
    let noise = config
        .noise
        .map(|n| {
            format!(
                " (inputs corrupted by {}, losses against the clean images)",
                n.spec()
            )
        })
        .unwrap_or_default();
    println!(
        "{} autoencoder {} from {} (epoch {})",
        config.arch.name(),
        config.arch.describe(),
        path.display(),
        meta.epoch
    );
    println!(
        "test mse {mse:.6}{}  on {} test samples{noise}  {:.2} s",
        bce_shown(bce),
        data.test.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some((loss, recon, kl)) = e.elbo(config.beta) {
        println!(
            "test loss {loss:.4} nats per image (reconstruction {recon:.4} + β {} × KL {kl:.4}), one ε per image",
            config.beta
        );
    }
    println!(
        "codes: mean |code| {:.4}, {:.1}% near zero",
        e.code_mean,
        100.0 * e.code_near_zero
    );
    let history = match dir.join("metrics.jsonl").is_file() {
        true => MetricsLog::read(&dir.join("metrics.jsonl"))?,
        false => Vec::new(),
    };
    let shot = trainer
        .take_snapshot()
        .ok_or_else(|| Error::Other("evaluation kept no snapshot".into()))?;
    if let (Some(trained), Some(auroc)) = (&data.trained_classes, one_class_auroc(&data, &shot)) {
        println!(
            "one class ({}): test AUROC {auroc:.4} of the squared error; `score` gives the rest",
            trained.join(",")
        );
    }
    draw_pictures(&mut trainer, run.path(), &history, &shot, &data).await?;
    println!("pictures: {}", run.path().display());
    Ok(())
}

fn plot(args: &PlotArgs) -> Result<()> {
    plots::picture_format(&args.out).map_err(|e| Error::flag("--out", e.to_string()))?;
    if args.out.exists() {
        return Err(Error::flag(
            "--out",
            format!(
                "{} already exists; choose another file or remove it",
                args.out.display()
            ),
        ));
    }
    let mut runs = Vec::new();
    for dir in &args.runs {
        let path = match dir.is_dir() {
            true => dir.join("metrics.jsonl"),
            false => dir.clone(),
        };
        let text =
            crate::native::files::read_regular_text(&path).map_err(|e| Error::io(&path, e))?;
        let epochs = MetricsLog::parse_any_values(&path, &text)?;
        if epochs.is_empty() {
            return Err(Error::Data {
                path,
                message: "holds no epochs".into(),
            });
        }
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| dir.display().to_string());
        runs.push((label, epochs));
    }
    let curves: Vec<Curves> = runs
        .iter()
        .map(|(label, epochs)| Curves {
            label: label.clone(),
            epochs,
        })
        .collect();
    for line in plots::undrawable(&curves) {
        eprintln!("note: {line}");
    }
    plots::loss(&args.out, &curves, "loss")?;
    println!("{}", args.out.display());
    Ok(())
}

async fn info(args: &InfoArgs) -> Result<()> {
    let adapters = crate::gpu::context::list_adapters(&AdapterRequest::from_env()?).await?;
    for (i, adapter) in adapters.iter().enumerate() {
        let info = adapter.get_info();
        let f = adapter.features();
        let l = adapter.limits();
        let yes = |feature| if f.contains(feature) { "yes" } else { "no" };
        println!(
            "[{i}] {} | {:?} | {:?}",
            info.name, info.backend, info.device_type
        );
        println!("    driver: {} {}", info.driver, info.driver_info);
        println!(
            "    timestamps: queries {}, inside passes {}, inside encoders {}; subgroups {}; shader f16 {}",
            yes(wgpu::Features::TIMESTAMP_QUERY),
            yes(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            yes(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS),
            yes(wgpu::Features::SUBGROUP),
            yes(wgpu::Features::SHADER_F16)
        );
        println!(
            "    limits: storage binding {} MiB, buffer {} MiB, workgroup storage {} KiB, {} invocations per workgroup, {} workgroups per dimension",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension
        );
    }
    println!("pick one with WGPU_ADAPTER_NAME=<part of the name>, WGPU_BACKEND=vulkan|metal|dx12|gl, or WGPU_POWER_PREF=high|low");
    match open_gpu().await {
        Ok(gpu) => {
            println!();
            print!("{}", tuning::variants_report(&gpu)?);
            if args.peak {
                println!();
                peak(&gpu, false).await?;
            }
        }
        Err(e) if !args.peak => println!("variants: no adapter opened ({e})"),
        Err(e) => return Err(e),
    }
    Ok(())
}
