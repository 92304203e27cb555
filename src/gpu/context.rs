//! The `Gpu` context: instance, adapter, device, queue, and the modules and pipelines
//! built from the shaders (each once per process, and kept on disk between processes
//! where the adapter allows). Device setup is kept apart from execution so that tests can
//! share one context.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::kernels::{Constants, Shader};
use crate::ops::{Access, Op};

/// What a kernel binds, in order: binding 0 is its params uniform, then one storage
/// buffer per op binding (read-only for inputs), then, if `step`, the per-step uniform at
/// a dynamic offset. Layouts are written out rather than inferred (`layout: None`) so
/// that a shader whose bindings drift from the host fails loudly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Per storage binding: whether it is read-only.
    pub read_only: Vec<bool>,
    pub step: bool,
}

impl Signature {
    pub fn of(op: &Op) -> Signature {
        Signature {
            read_only: op
                .bindings()
                .iter()
                .map(|b| b.access == Access::Read)
                .collect(),
            step: op.uses_step(),
        }
    }
}

pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub signature: Signature,
}

/// How a `Gpu` builds its modules and pipelines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Keep naga's runtime checks (array bounds, loop bounding, division guards) and the
    /// zero-filling of workgroup memory. Off, modules are built trusted: the shape tables
    /// prove every kernel's indices in range, and no kernel reads workgroup memory before
    /// writing it. On, an out-of-range index reads zero instead of undefined memory, which
    /// is what to turn on when a kernel misbehaves.
    pub checked: bool,
    /// The folder of the persistent pipeline cache; `None` keeps compiled pipelines for
    /// this process only.
    pub cache_dir: Option<PathBuf>,
}

/// Set to 1 to build every module with naga's runtime checks (see `GpuOptions::checked`).
pub const CHECKED_VAR: &str = "WGSL_AUTOENCODER_CHECKED";

impl GpuOptions {
    /// Checks on where `WGSL_AUTOENCODER_CHECKED=1`; pipelines cached in the user's cache
    /// folder (`$XDG_CACHE_HOME/wgsl-autoencoder`, else `~/.cache/wgsl-autoencoder`).
    pub fn from_env() -> GpuOptions {
        GpuOptions {
            checked: checks_from_env(),
            cache_dir: crate::files::cache_dir(),
        }
    }
}

/// Whether `WGSL_AUTOENCODER_CHECKED` asks for naga's runtime checks.
pub fn checks_from_env() -> bool {
    std::env::var(CHECKED_VAR).is_ok_and(|v| v == "1")
}

/// The driver's compiled pipelines, loaded from a file at start and saved back after new
/// pipelines are made, so that a second run skips the shader compiler.
struct DiskCache {
    cache: wgpu::PipelineCache,
    path: PathBuf,
    /// Pipelines built when the file was last written.
    saved: AtomicUsize,
}

/// A module or a pipeline, keyed by what builds it.
type KernelKey = (Shader, &'static str, Constants);

pub struct Gpu {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    pub options: GpuOptions,
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<KernelKey, Arc<Kernel>>>,
    built: AtomicUsize,
    disk_cache: Option<DiskCache>,
    /// An error raised outside any error scope. wgpu's default handler panics; ours keeps
    /// the first such error so that the next `checked` call reports it.
    uncaptured: Arc<Mutex<Option<String>>>,
}

/// The features we use when the adapter has them: timestamps, and a pipeline cache.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::PIPELINE_CACHE);

/// The backends `WGPU_BACKEND` names, or `None` when it is unset. wgpu's own parser skips
/// names it does not know, so `WGPU_BACKEND=garbage` would quietly mean "no backend";
/// here an unknown or empty name is an error naming the variable and its value.
fn env_backends() -> Result<Option<wgpu::Backends>> {
    let Some(value) = std::env::var_os("WGPU_BACKEND") else {
        return Ok(None);
    };
    let value = value.to_string_lossy().to_string();
    let mut backends = wgpu::Backends::empty();
    for name in value.split(',') {
        backends |= match name.trim().to_lowercase().as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" | "mtl" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            other => {
                return Err(Error::Env {
                    var: "WGPU_BACKEND",
                    value: value.clone(),
                    message: format!(
                        "unknown backend {other:?}; use vulkan, metal, dx12 or gl, comma-separated"
                    ),
                })
            }
        };
    }
    Ok(Some(backends))
}

/// `WGPU_POWER_PREF`, checked: `high`, `low` or `none`.
fn env_power() -> Result<wgpu::PowerPreference> {
    let Some(value) = std::env::var_os("WGPU_POWER_PREF") else {
        return Ok(wgpu::PowerPreference::default());
    };
    let value = value.to_string_lossy().to_string();
    match value.to_lowercase().as_str() {
        "high" => Ok(wgpu::PowerPreference::HighPerformance),
        "low" => Ok(wgpu::PowerPreference::LowPower),
        "none" => Ok(wgpu::PowerPreference::None),
        _ => Err(Error::Env {
            var: "WGPU_POWER_PREF",
            value,
            message: "use high, low or none".into(),
        }),
    }
}

/// `WGPU_ADAPTER_NAME`, if set: a non-empty part of an adapter's name.
fn env_adapter_name() -> Result<Option<String>> {
    let Some(value) = std::env::var_os("WGPU_ADAPTER_NAME") else {
        return Ok(None);
    };
    let value = value.to_string_lossy().to_string();
    if value.trim().is_empty() {
        return Err(Error::Env {
            var: "WGPU_ADAPTER_NAME",
            value,
            message: "empty; give part of an adapter's name, as `info` lists them".into(),
        });
    }
    Ok(Some(value))
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends;
    wgpu::Instance::new(descriptor)
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance(backends).enumerate_adapters(backends))
}

/// The backends to look on: those `WGPU_BACKEND` names, else Vulkan, Metal and DX12, and
/// GL only when those find nothing. Asking GL first costs time and, on Linux without a
/// display, prints driver noise (`XDG_RUNTIME_DIR is invalid`) before anything else.
fn search_order() -> Result<Vec<wgpu::Backends>> {
    Ok(match env_backends()? {
        Some(chosen) => vec![chosen],
        None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
    })
}

/// Every adapter wgpu sees, honouring `WGPU_BACKEND`: the primary backends' adapters, or
/// GL's where there are none. None at all is an error saying how to get one.
pub fn list_adapters() -> Result<Vec<wgpu::Adapter>> {
    // Checked here too, so that `info` does not pass over a variable `train` would refuse.
    env_power()?;
    env_adapter_name()?;
    for backends in search_order()? {
        let adapters = enumerate(backends);
        if !adapters.is_empty() {
            return Ok(adapters);
        }
    }
    Err(no_adapter(&[], None))
}

fn describe(adapters: &[wgpu::Adapter]) -> String {
    let names: Vec<String> = adapters
        .iter()
        .map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().backend))
        .collect();
    match names.is_empty() {
        true => "none".to_string(),
        false => names.join(", "),
    }
}

/// Picks the adapter: `WGPU_ADAPTER_NAME` (a case-insensitive substring) if set, otherwise
/// wgpu's choice under `WGPU_POWER_PREF`, on the backends of `search_order`. Every
/// variable is checked first, and one that matches nothing is an error naming it.
fn choose_adapter() -> Result<wgpu::Adapter> {
    let order = search_order()?;
    let power = env_power()?;
    let wanted = env_adapter_name()?;
    let mut seen = Vec::new();
    for backends in order {
        let adapters = enumerate(backends);
        if let Some(wanted) = &wanted {
            let wanted = wanted.to_lowercase();
            let (matching, others): (Vec<_>, Vec<_>) = adapters
                .into_iter()
                .partition(|a| a.get_info().name.to_lowercase().contains(&wanted));
            if let Some(adapter) = matching.into_iter().next() {
                return Ok(adapter);
            }
            seen.extend(others);
            continue;
        }
        if adapters.is_empty() {
            continue;
        }
        let options = wgpu::RequestAdapterOptions {
            power_preference: power,
            ..Default::default()
        };
        match pollster::block_on(instance(backends).request_adapter(&options)) {
            Ok(adapter) => return Ok(adapter),
            Err(_) => seen.extend(adapters),
        }
    }
    Err(no_adapter(&seen, wanted.as_deref()))
}

/// No adapter: where a variable narrowed the search and the system has adapters, an
/// error naming the variable and what there is; otherwise the advice to install one.
fn no_adapter(seen: &[wgpu::Adapter], wanted: Option<&str>) -> Error {
    let all = enumerate(wgpu::Backends::all());
    if all.is_empty() {
        return Error::NoAdapter(String::new());
    }
    let (var, value) = match (wanted, std::env::var("WGPU_BACKEND")) {
        (Some(name), _) => ("WGPU_ADAPTER_NAME", name.to_string()),
        (None, Ok(backends)) => ("WGPU_BACKEND", backends),
        (None, Err(_)) => return Error::NoAdapter(format!(" (wgpu refused: {})", describe(seen))),
    };
    Error::Env {
        var,
        value,
        message: format!(
            "matches no adapter (searched: {}); this system has {}. Change or unset it (`info` lists the adapters)",
            describe(seen),
            describe(&all)
        ),
    }
}

/// The pipeline cache for this adapter and driver, from its file when one is there. A
/// missing, unreadable, corrupt or foreign file gives an empty cache (`fallback`), never a
/// failed run.
fn open_disk_cache(
    adapter: &wgpu::Adapter,
    device: &wgpu::Device,
    features: wgpu::Features,
    options: &GpuOptions,
) -> Option<DiskCache> {
    if !features.contains(wgpu::Features::PIPELINE_CACHE) {
        return None;
    }
    let path = options
        .cache_dir
        .as_ref()?
        .join(wgpu::util::pipeline_cache_key(&adapter.get_info())?);
    let data = std::fs::read(&path).ok();
    // SAFETY: wgpu checks the data's header against this adapter and driver and, with
    // `fallback`, starts empty when it does not match; the file is only ever written from
    // `get_data` of such a cache.
    let cache = unsafe {
        device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
            label: Some("pipelines"),
            data: data.as_deref(),
            fallback: true,
        })
    };
    Some(DiskCache {
        cache,
        path,
        saved: AtomicUsize::new(0),
    })
}

impl Gpu {
    /// Opens the adapter chosen by the environment with all of its limits, with the
    /// options the environment gives (`GpuOptions::from_env`).
    pub fn new() -> Result<Gpu> {
        Gpu::open(GpuOptions::from_env())
    }

    /// Opens the adapter chosen by the environment with all of its limits.
    pub fn open(options: GpuOptions) -> Result<Gpu> {
        let adapter = choose_adapter()?;
        let features = adapter.features() & WANTED_FEATURES;
        let limits = adapter.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("wgsl-autoencoder"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&descriptor))
            .map_err(|e| Error::Device(e.to_string()))?;
        let uncaptured = Arc::new(Mutex::new(None));
        let slot = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let disk_cache = open_disk_cache(&adapter, &device, features, &options);
        Ok(Gpu {
            adapter,
            device,
            queue,
            features,
            limits,
            options,
            modules: Mutex::new(HashMap::new()),
            kernels: Mutex::new(HashMap::new()),
            built: AtomicUsize::new(0),
            disk_cache,
            uncaptured,
        })
    }

    /// Where compiled pipelines persist between runs, if they do.
    pub fn pipeline_cache_file(&self) -> Option<&std::path::Path> {
        self.disk_cache.as_ref().map(|d| d.path.as_path())
    }

    /// Writes the pipeline cache back to its file if pipelines were built since it was
    /// last written. The file is a speed-up only: failing to write it is not an error of
    /// the run, so this reports nothing.
    pub fn save_pipeline_cache(&self) {
        let Some(disk) = &self.disk_cache else {
            return;
        };
        let built = self.built.load(Ordering::SeqCst);
        if disk.saved.swap(built, Ordering::SeqCst) == built {
            return;
        }
        if let Some(data) = disk.cache.get_data() {
            let written = disk
                .path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .map_err(|e| Error::io(&disk.path, e))
                .and_then(|_| crate::files::write_atomically(&disk.path, &data));
            if written.is_err() {
                // Try again after the next new pipeline rather than never.
                disk.saved.store(0, Ordering::SeqCst);
            }
        }
    }

    pub fn adapter_summary(&self) -> String {
        let info = self.adapter.get_info();
        format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
    }

    /// Whether each dispatch can be timed: timestamps written inside a compute pass.
    pub fn can_time_dispatches(&self) -> bool {
        self.features.contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
        )
    }

    /// Runs `f` inside a validation error scope and turns a captured error into `Error`.
    pub fn checked<T>(&self, context: &str, f: impl FnOnce() -> T) -> Result<T> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let earlier = self
            .uncaptured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(message) = earlier {
            drop(scope);
            return Err(Error::Validation {
                context: format!("before {context}"),
                message,
            });
        }
        match pollster::block_on(scope.pop()) {
            None => Ok(out),
            Some(e) => Err(Error::Validation {
                context: context.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// The compiled pipeline for one entry point and specialisation, built on first use
    /// and kept for the life of the context.
    pub fn kernel(
        &self,
        shader: Shader,
        entry: &'static str,
        constants: &Constants,
        signature: Signature,
    ) -> Result<Arc<Kernel>> {
        let mut kernels = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        let key = (shader, entry, constants.clone());
        if let Some(k) = kernels.get(&key) {
            if k.signature != signature {
                return Err(Error::Other(format!(
                    "{}::{entry} requested with two different binding signatures",
                    shader.name()
                )));
            }
            return Ok(k.clone());
        }
        let kernel = Arc::new(self.build_kernel(shader, entry, constants, signature)?);
        kernels.insert(key, kernel.clone());
        self.built.fetch_add(1, Ordering::SeqCst);
        Ok(kernel)
    }

    fn module(&self, shader: Shader) -> Result<wgpu::ShaderModule> {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(&shader) {
            return Ok(m.clone());
        }
        let descriptor = wgpu::ShaderModuleDescriptor {
            label: Some(shader.name()),
            source: wgpu::ShaderSource::Wgsl(shader.source().into()),
        };
        let module = self.checked(&format!("shaders/{}.wgsl", shader.name()), || {
            if self.options.checked {
                self.device.create_shader_module(descriptor)
            } else {
                // SAFETY: the kernels check their own bounds, and the shape tables in
                // src/check run every entry point over shapes that reach each edge of its
                // indexing (ones, odd sizes, sizes off every tile, every transpose and
                // stride), with NaN-filled outputs, under both settings; loops end because
                // their bounds are sizes from the params uniform or constants, and no
                // kernel divides by a size that validation lets be zero.
                unsafe {
                    self.device.create_shader_module_trusted(
                        descriptor,
                        wgpu::ShaderRuntimeChecks::unchecked(),
                    )
                }
            }
        })?;
        modules.insert(shader, module.clone());
        Ok(module)
    }

    fn build_kernel(
        &self,
        shader: Shader,
        entry: &'static str,
        specialisation: &Constants,
        sig: Signature,
    ) -> Result<Kernel> {
        let module = self.module(shader)?;
        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let uniform = |binding: u32, has_dynamic_offset: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![uniform(0, false)];
        for (i, &read_only) in sig.read_only.iter().enumerate() {
            entries.push(storage(1 + i as u32, read_only));
        }
        if sig.step {
            entries.push(uniform(1 + sig.read_only.len() as u32, true));
        }
        let constants = specialisation.pipeline_values();
        let context = format!("pipeline {}::{entry} {:?}", shader.name(), specialisation.0);
        self.checked(&context, || {
            let layout = self
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(entry),
                    entries: &entries,
                });
            let pipeline_layout =
                self.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(entry),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let pipeline = self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        // Every kernel writes its workgroup arrays before reading them (the
                        // tiles of the matmuls, the partial sums of the reductions), so the
                        // zero-fill is pure cost; the checked build keeps it.
                        zero_initialize_workgroup_memory: self.options.checked,
                    },
                    cache: self.disk_cache.as_ref().map(|d| &d.cache),
                });
            Kernel {
                pipeline,
                layout,
                signature: sig,
            }
        })
    }

    /// Reads a buffer region back to the host: copy to a staging buffer, map, wait.
    pub fn read_bytes(&self, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            sender.send(r).ok();
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        match pollster::block_on(receiver.receive()) {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Readback(e.to_string())),
            None => return Err(Error::Readback("the map callback never ran".into())),
        }
        let bytes = slice
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// Blocks until the queue is idle.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Device(e.to_string()))
    }
}
