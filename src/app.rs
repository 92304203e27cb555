//! What each subcommand does, between the parsed command line and the library.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::Backend;
use crate::cli::{
    BackendKind, BenchArgs, CheckArgs, Cli, Command, InfoArgs, ModelKind, ProfileArgs, TrainArgs,
};
use crate::cpu::backend::CpuBackend;
use crate::data::{default_data_dir, load_mnist};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuBackend};
use crate::model::Arch;
use crate::train::{MetricsLog, TrainConfig, Trainer};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(&args),
        Command::Info(args) => info(&args),
        Command::Bench(args) => bench(&args),
        Command::Compare(args) => {
            let comparison = crate::compare::load(&args.ours, &args.peer)?;
            print!("{}", crate::compare::render(&comparison));
            if let Some(path) = &args.plot {
                crate::compare::plot(&comparison, path)?;
                println!("picture: {}", path.display());
            }
            Ok(())
        }
        Command::Profile(args) => profile(&args),
        Command::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> Result<()> {
    let gpu = Arc::new(Gpu::new()?);
    let mut plan = crate::check::run::plan(args.quick)?;
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
        |choice| -> Box<dyn Backend> { Box::new(GpuBackend::with_choice(gpu.clone(), choice)) };
    let adapter = gpu.adapter_summary();
    crate::check::run::run_plan(
        &plan,
        &adapter,
        &mut make,
        args.json,
        &mut std::io::stdout(),
    )
}

/// `bench --peak` and `info --peak`: measure, save, show.
fn peak(gpu: &Arc<Gpu>, json: bool) -> Result<()> {
    let (peaks, rows) = crate::peaks::measure(gpu)?;
    let saved = crate::peaks::save(gpu, &peaks);
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

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Other(e.to_string()))
}

fn bench(args: &BenchArgs) -> Result<()> {
    let gpu = Arc::new(Gpu::new()?);
    if args.peak {
        return peak(&gpu, args.json);
    }
    let peaks = crate::peaks::saved_or_measured(&gpu, |note| eprintln!("{note}"))?;
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
    let wanted = |case: &crate::bench::Case| {
        args.filter
            .as_ref()
            .is_none_or(|f| case.label().contains(&f.replace(' ', "")))
    };
    let mut points = Vec::new();
    for case in crate::bench::cases(args.quick)?.into_iter().filter(wanted) {
        let mut row = crate::bench::run_case(&gpu, &case, &opts)?;
        row.place(&peaks, &case.op);
        points.push(crate::roofline::Point {
            label: format!("{} {} {:?}", row.op, row.variant, row.shape).replace(' ', " "),
            intensity: row.intensity.unwrap_or(0.0),
            gflops: row.gflops.unwrap_or(0.0),
        });
        if args.json {
            println!("{}", to_json(&row)?);
        }
        rows.push(row);
    }
    if args.train {
        let data = load_mnist(
            &args.data_dir.clone().unwrap_or_else(default_data_dir),
            args.quick.then_some(2048),
        )?;
        let (batches, timed): (&[usize], usize) = if args.quick {
            (&[64, 128], 1)
        } else {
            (&[64, 128, 256, 1024], 2)
        };
        for row in crate::bench::train_rows(&gpu, &data, batches, timed)? {
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
        crate::roofline::draw_roofline(path, &title, &peaks, &points)?;
        eprintln!("roofline: {}", path.display());
    }
    Ok(())
}

fn profile(args: &ProfileArgs) -> Result<()> {
    let arch = match args.model {
        ModelKind::Dense => Arch::default_dense(),
        ModelKind::Conv => Arch::default_conv(),
    };
    if args.steps == 0 {
        return Err(Error::flag("--steps", "must be at least 1"));
    }
    if args.steps.checked_mul(args.batch).is_none() {
        return Err(Error::flag(
            "--steps",
            format!(
                "{} steps of batch {} is more images than can be counted",
                args.steps, args.batch
            ),
        ));
    }
    if args.plot.is_some() && args.backend == BackendKind::Cpu {
        return Err(Error::flag(
            "--plot",
            "the roofline needs a GPU's measured peaks; --backend cpu has none",
        ));
    }
    let data = load_mnist(
        &args.data_dir.clone().unwrap_or_else(default_data_dir),
        None,
    )?;
    let (mut backend, peaks): (Box<dyn Backend>, _) = match args.backend {
        BackendKind::Gpu => {
            let gpu = Arc::new(Gpu::new()?);
            let peaks = crate::peaks::saved_or_measured(&gpu, |note| eprintln!("{note}"))?;
            (Box::new(GpuBackend::new(gpu)), Some(peaks))
        }
        BackendKind::Cpu => (Box::new(CpuBackend::new()), None),
    };
    let report = crate::profile::profile(
        backend.as_mut(),
        &data,
        arch,
        args.batch,
        args.steps,
        peaks.as_ref(),
    )?;
    if args.json {
        println!("{}", to_json(&report)?);
    } else {
        print!("{}", crate::profile::render(&report));
    }
    if let (Some(path), Some(peaks)) = (&args.plot, &peaks) {
        let points: Vec<crate::roofline::Point> = report
            .dispatches
            .iter()
            .map(|d| crate::roofline::Point {
                label: format!("{} {}", d.kernel, d.shape),
                intensity: d.intensity,
                gflops: d.gflops,
            })
            .collect();
        let title = format!(
            "{}, batch {}: one training step on {}",
            report.model, report.batch, report.backend
        );
        crate::roofline::draw_roofline(path, &title, peaks, &points)?;
        eprintln!("roofline: {}", path.display());
    }
    Ok(())
}

pub fn arch_from(args: &TrainArgs) -> Arch {
    match args.model {
        ModelKind::Dense => Arch::Dense {
            layers: args.layers.clone(),
        },
        ModelKind::Conv => Arch::Conv {
            channels: args.channels.clone(),
        },
    }
}

pub fn make_backend(kind: BackendKind) -> Result<Box<dyn Backend>> {
    Ok(match kind {
        BackendKind::Gpu => Box::new(GpuBackend::new(Arc::new(Gpu::new()?))),
        BackendKind::Cpu => Box::new(CpuBackend::new()),
    })
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

fn train(args: &TrainArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let config = TrainConfig {
        arch: arch_from(args),
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        loss: args.loss.into(),
        seed: args.seed,
    };
    // Flags first: a typo should not cost a data load or a device start.
    config.validate()?;
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out_dir(config.arch.name()),
    };
    MetricsLog::check_unused(&out)?;
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let data = load_mnist(&data_dir, args.limit)?;
    let data_seconds = started.elapsed().as_secs_f64();
    let mut backend = make_backend(args.backend)?;
    let backend_name = backend.name();
    let mut trainer = Trainer::new(backend.as_mut(), config.clone(), &data)?;
    if let Some(path) = &args.init_from {
        let flat = crate::checkpoint::load(path, trainer.graph())?;
        trainer.set_params(&flat)?;
        println!("initialised from {}", path.display());
    }
    let mut log = MetricsLog::create(&out)?;
    let checkpoint = out.join("model.safetensors");
    let params: usize = trainer.graph().params.iter().map(|p| p.value.len).sum();
    println!(
        "{} autoencoder {} ({params} parameters) on {backend_name}",
        config.arch.name(),
        config.arch.describe()
    );
    let loss_name = config.loss.name();
    println!(
        "{} training images, {} test images, batch {}, Adam lr {}, {loss_name} loss, seed {}",
        data.train.len(),
        data.test.len(),
        config.batch,
        config.lr,
        config.seed
    );
    let ready = started.elapsed().as_secs_f64();
    println!(
        "ready in {ready:.2} s: data {data_seconds:.2} s, device, buffers and pipelines {:.2} s",
        ready - data_seconds
    );
    for _ in 0..config.epochs {
        let m = trainer.epoch()?;
        println!(
            "epoch {:>3}/{}  train {loss_name} {:.6}  test mse {:.6}  test bce {:.6}  {:.2} s  {:.0} img/s",
            m.epoch, config.epochs, m.train_loss, m.test_mse, m.test_bce, m.seconds, m.images_per_second
        );
        log.append(&m)?;
        let params = trainer.params()?;
        crate::checkpoint::save(&checkpoint, trainer.graph(), &params)?;
    }
    let (images, rebuilt) = trainer.reconstruct(16)?;
    let picture = out.join("reconstructions.png");
    crate::picture::save_comparison(&picture, &images, &rebuilt)?;
    println!("metrics: {}", log.path().display());
    println!(
        "test images above their reconstructions: {}",
        picture.display()
    );
    println!(
        "weights: {} (PyTorch state_dict names)",
        checkpoint.display()
    );
    Ok(())
}

fn info(args: &InfoArgs) -> Result<()> {
    let adapters = crate::gpu::context::list_adapters();
    if adapters.is_empty() {
        return Err(Error::NoAdapter(String::new()));
    }
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
    if args.peak {
        let gpu = Arc::new(Gpu::new()?);
        println!();
        peak(&gpu, false)?;
    }
    Ok(())
}
