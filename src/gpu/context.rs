//! The `Gpu` context: instance, adapter, device, queue, and the modules and pipelines
//! built from the shaders (each once per process, and kept between processes where the
//! adapter allows and the caller gives a `PipelineStore`). Device setup is kept apart
//! from execution so that tests can share one context.
//!
//! Everything that waits for the device is `async`: the adapter and device requests,
//! validation error scopes, readbacks and the wait for submitted work. In a browser these
//! are promises the event loop resolves; natively `device.poll` waits inside the future,
//! and the command line drives it with `pollster` at its edge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::kernels::{variants, Constants, Shader, Variant};
use crate::gpu::profiler::Placement;
use crate::ops::{Access, Op};

/// What a kernel binds, in order: binding 0 is its params uniform, then one storage
/// buffer per op binding (read-only for inputs), then, if `step`, the per-step uniform at
/// a dynamic offset. Layouts are written out rather than inferred (`layout: None`) so
/// that a shader whose bindings drift from the host fails loudly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Per storage binding: whether it is read-only.
    pub read_only: Vec<bool>,
    /// A scratch buffer of partial sums after the op's bindings (`kernels::Fold`).
    pub partials: bool,
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
            partials: false,
            step: op.uses_step(),
        }
    }
}

pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub signature: Signature,
}

/// Where the driver's compiled pipelines persist between processes, under a key that
/// names the adapter and driver (`wgpu::util::pipeline_cache_key`). The native shell keeps
/// them in the user's cache folder; a browser has no pipeline cache to keep.
pub trait PipelineStore: Send + Sync {
    /// The bytes saved under `key`, if any. Anything unreadable is `None`: a cache is a
    /// speed-up, never a reason for a run to fail.
    fn load(&self, key: &str) -> Option<Vec<u8>>;
    /// Saves the bytes under `key`, replacing what was there; failures are ignored.
    fn save(&self, key: &str, data: &[u8]);
    /// Where `key` is kept, for messages and tests.
    fn describe(&self, key: &str) -> String;
}

/// How a `Gpu` builds its modules and pipelines.
#[derive(Clone, Default)]
pub struct GpuOptions {
    /// Keep naga's runtime checks (array bounds, loop bounding, division guards) and the
    /// zero-filling of workgroup memory. Off, modules are built trusted: the shape tables
    /// prove every kernel's indices in range, and no kernel reads workgroup memory before
    /// writing it. On, an out-of-range index reads zero instead of undefined memory, which
    /// is what to turn on when a kernel misbehaves.
    pub checked: bool,
    /// Where compiled pipelines persist between processes; `None` keeps them for this
    /// process only.
    pub pipelines: Option<Arc<dyn PipelineStore>>,
    /// Time dispatches only at pass boundaries, as a browser must, even where the adapter
    /// can write timestamps inside a pass: how the tests exercise the browser's way.
    pub pass_timestamps_only: bool,
    /// Leave subgroup operations off even where the adapter has them, as a browser does:
    /// how the tests exercise a device without them (`Gpu::runs`).
    pub no_subgroups: bool,
}

impl std::fmt::Debug for GpuOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuOptions")
            .field("checked", &self.checked)
            .field("pipelines", &self.pipelines.is_some())
            .field("pass_timestamps_only", &self.pass_timestamps_only)
            .field("no_subgroups", &self.no_subgroups)
            .finish()
    }
}

/// Set to 1 to build every module with naga's runtime checks (see `GpuOptions::checked`).
pub const CHECKED_VAR: &str = "WGSL_AUTOENCODER_CHECKED";

/// Whether `WGSL_AUTOENCODER_CHECKED` asks for naga's runtime checks (never, in a browser,
/// which has no environment).
pub fn checks_from_env() -> bool {
    std::env::var(CHECKED_VAR).is_ok_and(|v| v == "1")
}

/// The driver's compiled pipelines, loaded from the store at start and saved back after
/// new pipelines are made, so that a second run skips the shader compiler.
struct StoredCache {
    cache: wgpu::PipelineCache,
    store: Arc<dyn PipelineStore>,
    key: String,
    /// Pipelines built when the cache was last saved.
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
    stored: Option<StoredCache>,
    /// An error raised outside any error scope. wgpu's default handler panics; ours keeps
    /// the first such error so that the next `checked` call reports it.
    uncaptured: Arc<Mutex<Option<String>>>,
}

/// The features we use when the adapter has them: timestamps, and a pipeline cache.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::PIPELINE_CACHE)
    .union(SUBGROUPS);

/// Subgroup operations, for the matmul variant that shares rows by broadcasts
/// (`Shader::MatmulSubgroup`). Not in a browser: its WGSL would need `enable subgroups;`,
/// which naga does not read yet.
#[cfg(not(target_arch = "wasm32"))]
const SUBGROUPS: wgpu::Features = wgpu::Features::SUBGROUP;
#[cfg(target_arch = "wasm32")]
const SUBGROUPS: wgpu::Features = wgpu::Features::empty();

/// Which adapter to open: the backends to search (`None`: Vulkan, Metal and DX12, then GL
/// only if they have none), the power preference, and part of the adapter's name. The
/// command line fills it from wgpu's environment variables (`from_env`); a browser asks
/// for the default, which is the only adapter it offers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdapterRequest {
    pub backends: Option<wgpu::Backends>,
    pub power: wgpu::PowerPreference,
    pub name: Option<String>,
}

impl AdapterRequest {
    /// `WGPU_BACKEND`, `WGPU_POWER_PREF` and `WGPU_ADAPTER_NAME`, each checked: a value
    /// wgpu would quietly ignore is an error naming the variable.
    pub fn from_env() -> Result<AdapterRequest> {
        Ok(AdapterRequest {
            backends: env_backends()?,
            power: env_power()?,
            name: env_adapter_name()?,
        })
    }

    /// The backends to look on, in order: those asked for, else Vulkan, Metal and DX12,
    /// and GL only when those find nothing. Asking GL first costs time and, on Linux
    /// without a display, prints driver noise (`XDG_RUNTIME_DIR is invalid`).
    fn search_order(&self) -> Vec<wgpu::Backends> {
        match self.backends {
            Some(chosen) => vec![chosen],
            None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
        }
    }
}

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

async fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    instance(backends).enumerate_adapters(backends).await
}

/// Every adapter wgpu sees on the backends `request` searches: the primary backends'
/// adapters, or GL's where there are none. None at all is an error saying how to get one.
pub async fn list_adapters(request: &AdapterRequest) -> Result<Vec<wgpu::Adapter>> {
    for backends in request.search_order() {
        let adapters = enumerate(backends).await;
        if !adapters.is_empty() {
            return Ok(adapters);
        }
    }
    Err(no_adapter(&[], None).await)
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

/// Picks the adapter: the first whose name holds `request.name` (case-insensitive) if it
/// is set, otherwise wgpu's choice under `request.power`, on the backends of its search
/// order. A name or backend that matches nothing is an error naming its variable.
async fn choose_adapter(request: &AdapterRequest) -> Result<wgpu::Adapter> {
    let power = request.power;
    let wanted = request.name.clone();
    let mut seen = Vec::new();
    for backends in request.search_order() {
        if wanted.is_none() {
            // Asked directly, as a browser must: it lists no adapters.
            let options = wgpu::RequestAdapterOptions {
                power_preference: power,
                ..Default::default()
            };
            if let Ok(adapter) = instance(backends).request_adapter(&options).await {
                return Ok(adapter);
            }
        }
        let adapters = enumerate(backends).await;
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
        seen.extend(adapters);
    }
    Err(no_adapter(&seen, wanted.as_deref()).await)
}

/// No adapter: where a variable narrowed the search and the system has adapters, an
/// error naming the variable and what there is; otherwise the advice to install one.
async fn no_adapter(seen: &[wgpu::Adapter], wanted: Option<&str>) -> Error {
    let all = enumerate(wgpu::Backends::all()).await;
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

/// The pipeline cache for this adapter and driver, from its store when it has one. A
/// missing, corrupt or foreign entry gives an empty cache (`fallback`), never a failed
/// run.
fn open_stored_cache(
    adapter: &wgpu::Adapter,
    device: &wgpu::Device,
    features: wgpu::Features,
    options: &GpuOptions,
) -> Option<StoredCache> {
    if !features.contains(wgpu::Features::PIPELINE_CACHE) {
        return None;
    }
    let store = options.pipelines.clone()?;
    let key = wgpu::util::pipeline_cache_key(&adapter.get_info())?;
    let data = store.load(&key);
    // SAFETY: wgpu checks the data's header against this adapter and driver and, with
    // `fallback`, starts empty when it does not match; the store only ever holds what
    // `get_data` of such a cache gave.
    let cache = unsafe {
        device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
            label: Some("pipelines"),
            data: data.as_deref(),
            fallback: true,
        })
    };
    Some(StoredCache {
        cache,
        store,
        key,
        saved: AtomicUsize::new(0),
    })
}

impl Gpu {
    /// Opens the adapter `request` picks, with all of its limits.
    pub async fn open(request: &AdapterRequest, options: GpuOptions) -> Result<Gpu> {
        let adapter = choose_adapter(request).await?;
        let mut features = adapter.features() & WANTED_FEATURES;
        if options.pass_timestamps_only {
            features.remove(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);
        }
        if options.no_subgroups {
            features.remove(SUBGROUPS);
        }
        let limits = adapter.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("wgsl-autoencoder"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|e| Error::Device(e.to_string()))?;
        let uncaptured = Arc::new(Mutex::new(None));
        let slot = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let stored = open_stored_cache(&adapter, &device, features, &options);
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
            stored,
            uncaptured,
        })
    }

    /// Whether this device runs the kernels that need subgroups: it has subgroup
    /// operations, with 8 to 64 lanes (the subgroup matmul shares 8 lanes' loads among
    /// whole subgroups of its 64 invocations).
    pub fn subgroups(&self) -> bool {
        let info = self.adapter.get_info();
        // In a browser SUBGROUPS is empty, which every feature set contains.
        self.features.contains(SUBGROUPS)
            && !SUBGROUPS.is_empty()
            && info.subgroup_min_size >= 8
            && info.subgroup_max_size <= 64
    }

    /// Whether this device can run `variant` (all can, but those that need subgroups).
    pub fn runs(&self, variant: Variant) -> bool {
        !variant.needs_subgroups() || self.subgroups()
    }

    /// The variants of `op` this device runs (`variants::variants`, less those it cannot).
    pub fn variants(&self, op: &Op) -> Vec<Variant> {
        let mut all = variants(op);
        all.retain(|v| self.runs(*v));
        all
    }

    /// Where compiled pipelines persist between runs, if they do.
    pub fn pipeline_cache_place(&self) -> Option<String> {
        self.stored.as_ref().map(|s| s.store.describe(&s.key))
    }

    /// Hands the pipeline cache to its store if pipelines were built since it was last
    /// saved. The cache is a speed-up only: the store reports nothing.
    pub fn save_pipeline_cache(&self) {
        let Some(stored) = &self.stored else {
            return;
        };
        let built = self.built.load(Ordering::SeqCst);
        if stored.saved.swap(built, Ordering::SeqCst) == built {
            return;
        }
        if let Some(data) = stored.cache.get_data() {
            stored.store.save(&stored.key, &data);
        }
    }

    pub fn adapter_summary(&self) -> String {
        let info = self.adapter.get_info();
        format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
    }

    /// Whether each dispatch can be timed.
    pub fn can_time_dispatches(&self) -> bool {
        self.dispatch_timing().is_some()
    }

    /// How dispatches are timed: inside one pass where the adapter allows it, else one
    /// pass per dispatch timed at its boundaries (a browser), else not at all.
    pub fn dispatch_timing(&self) -> Option<Placement> {
        let inside =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if self.features.contains(inside) {
            Some(Placement::InsidePasses)
        } else if self.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            Some(Placement::PassBoundaries)
        } else {
            None
        }
    }

    /// Runs `f` inside a validation error scope and turns a captured error into `Error`.
    pub async fn checked<T>(&self, context: &str, f: impl FnOnce() -> T) -> Result<T> {
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
        match scope.pop().await {
            None => Ok(out),
            Some(e) => Err(Error::Validation {
                context: context.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// The compiled pipeline for one entry point and specialisation, built on first use
    /// and kept for the life of the context.
    pub async fn kernel(
        &self,
        shader: Shader,
        entry: &'static str,
        constants: &Constants,
        signature: Signature,
    ) -> Result<Arc<Kernel>> {
        let key = (shader, entry, constants.clone());
        let known = self.lock_kernels().get(&key).cloned();
        if let Some(k) = known {
            if k.signature != signature {
                return Err(Error::Other(format!(
                    "{}::{entry} requested with two different binding signatures",
                    shader.name()
                )));
            }
            return Ok(k);
        }
        // Built without the lock held: building waits for the device's verdict.
        let kernel = Arc::new(
            self.build_kernel(shader, entry, constants, signature)
                .await?,
        );
        self.lock_kernels().insert(key, kernel.clone());
        self.built.fetch_add(1, Ordering::SeqCst);
        Ok(kernel)
    }

    fn lock_kernels(&self) -> std::sync::MutexGuard<'_, HashMap<KernelKey, Arc<Kernel>>> {
        self.kernels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_modules(&self) -> std::sync::MutexGuard<'_, HashMap<Shader, wgpu::ShaderModule>> {
        self.modules.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn module(&self, shader: Shader) -> Result<wgpu::ShaderModule> {
        let known = self.lock_modules().get(&shader).cloned();
        if let Some(m) = known {
            return Ok(m);
        }
        let descriptor = wgpu::ShaderModuleDescriptor {
            label: Some(shader.name()),
            source: wgpu::ShaderSource::Wgsl(shader.source().into()),
        };
        let module = self
            .checked(&shader.place(), || {
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
            })
            .await?;
        self.lock_modules().insert(shader, module.clone());
        Ok(module)
    }

    async fn build_kernel(
        &self,
        shader: Shader,
        entry: &'static str,
        specialisation: &Constants,
        sig: Signature,
    ) -> Result<Kernel> {
        let module = self.module(shader).await?;
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
        let mut next = 1 + sig.read_only.len() as u32;
        if sig.partials {
            entries.push(storage(next, false));
            next += 1;
        }
        if sig.step {
            entries.push(uniform(next, true));
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
                    cache: self.stored.as_ref().map(|s| &s.cache),
                });
            Kernel {
                pipeline,
                layout,
                signature: sig,
            }
        })
        .await
    }

    /// Reads a buffer region back to the host (see `read_regions`).
    pub async fn read_bytes(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        size: u64,
    ) -> Result<Vec<u8>> {
        let mut read = self.read_regions(&[(buffer, offset, size)]).await?;
        Ok(read.pop().unwrap_or_default())
    }

    /// Reads buffer regions (buffer, byte offset, byte size; multiples of 4) back to the
    /// host, each region's bytes in order: all are copied into one staging buffer, mapped
    /// once, so that reading several costs one wait for the device, not one each
    /// (natively, `poll` does the waiting; in a browser it does nothing, and the map
    /// resolves on the event loop).
    pub async fn read_regions(
        &self,
        regions: &[(&wgpu::Buffer, u64, u64)],
    ) -> Result<Vec<Vec<u8>>> {
        let size: u64 = regions.iter().map(|&(_, _, size)| size).sum();
        if size == 0 {
            return Ok(vec![Vec::new(); regions.len()]);
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let mut at = 0;
        for &(buffer, offset, size) in regions {
            if size > 0 {
                encoder.copy_buffer_to_buffer(buffer, offset, &staging, at, size);
            }
            at += size;
        }
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            sender.send(r).ok();
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        match receiver.receive().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Readback(e.to_string())),
            None => return Err(Error::Readback("the map callback never ran".into())),
        }
        let mapped = slice
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?;
        let mut rest: &[u8] = &mapped;
        let read = regions
            .iter()
            .map(|&(_, _, size)| {
                let (this, after) = rest.split_at(size as usize);
                rest = after;
                this.to_vec()
            })
            .collect();
        drop(mapped);
        staging.unmap();
        Ok(read)
    }

    /// Waits until the work submitted so far has finished.
    pub async fn wait(&self) -> Result<()> {
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        self.queue.on_submitted_work_done(move || {
            sender.send(()).ok();
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(e.to_string()))?;
        receiver
            .receive()
            .await
            .ok_or_else(|| Error::Device("the device stopped before finishing its work".into()))
    }
}
