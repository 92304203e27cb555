//! The `Gpu` context: instance, adapter, device, queue and the pipeline cache.
//! Device setup is kept apart from execution so that tests can share one context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::kernels::Shader;
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

pub struct Gpu {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<(Shader, &'static str), Arc<Kernel>>>,
    /// An error raised outside any error scope. wgpu's default handler panics; ours keeps
    /// the first such error so that the next `checked` call reports it.
    uncaptured: Arc<Mutex<Option<String>>>,
}

/// The timestamp features we use when the adapter has them.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

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

impl Gpu {
    /// Opens the adapter chosen by the environment with all of its limits.
    pub fn new() -> Result<Gpu> {
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
        Ok(Gpu {
            adapter,
            device,
            queue,
            features,
            limits,
            modules: Mutex::new(HashMap::new()),
            kernels: Mutex::new(HashMap::new()),
            uncaptured,
        })
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

    /// The compiled pipeline for one entry point, built on first use and cached.
    pub fn kernel(
        &self,
        shader: Shader,
        entry: &'static str,
        signature: Signature,
    ) -> Result<Arc<Kernel>> {
        let mut kernels = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = kernels.get(&(shader, entry)) {
            if k.signature != signature {
                return Err(Error::Other(format!(
                    "{}::{entry} requested with two different binding signatures",
                    shader.name()
                )));
            }
            return Ok(k.clone());
        }
        let kernel = Arc::new(self.build_kernel(shader, entry, signature)?);
        kernels.insert((shader, entry), kernel.clone());
        Ok(kernel)
    }

    fn module(&self, shader: Shader) -> Result<wgpu::ShaderModule> {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(&shader) {
            return Ok(m.clone());
        }
        let module = self.checked(&format!("shaders/{}.wgsl", shader.name()), || {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader.name()),
                    source: wgpu::ShaderSource::Wgsl(shader.source().into()),
                })
        })?;
        modules.insert(shader, module.clone());
        Ok(module)
    }

    fn build_kernel(&self, shader: Shader, entry: &'static str, sig: Signature) -> Result<Kernel> {
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
        let constants = Shader::constants();
        let context = format!("pipeline {}::{entry}", shader.name());
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
                        ..Default::default()
                    },
                    cache: None,
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
