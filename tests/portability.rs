//! Every pipeline the crate makes (`check::launches`: each shader, entry point and set of
//! pipeline constants of the tables and the models, on either kind of adapter), translated
//! as wgpu translates it for each backend: the pipeline constants applied by naga's
//! `process_overrides`, then naga's MSL (Metal), HLSL (DX12; shader model 5.1, what FXC
//! compiles), SPIR-V (Vulkan; then validated by `spirv-val`) and GLSL ES 3.10 (GL)
//! writers, each with the runtime-check policies wgpu uses for a trusted module (none)
//! and a checked one. No Mac or Windows machine is at hand, but what their shader
//! compilers would be given is known to exist and, for SPIR-V, to be valid.
//!
//! `spirv-val` comes with Debian's `spirv-tools` (`apt-get install spirv-tools`); without
//! it the test fails, saying so, as GPU tests fail without an adapter.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use naga::back::{glsl, hlsl, msl, spv};
use naga::proc::{BoundsCheckPolicies, BoundsCheckPolicy};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ResourceBinding, ShaderStage, StorageAccess};
use wgsl_autoencoder::check::launches::launches;
use wgsl_autoencoder::gpu::kernels::{Constants, Shader};

/// As `Gpu` builds a module: trusted (`ShaderRuntimeChecks::unchecked`, workgroup memory
/// not zeroed) or checked (wgpu's defaults, `WGSL_AUTOENCODER_CHECKED=1`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Build {
    Trusted,
    Checked,
}

impl Build {
    fn checked(self) -> bool {
        self == Build::Checked
    }

    fn policy(self) -> BoundsCheckPolicy {
        match self {
            Build::Trusted => BoundsCheckPolicy::Unchecked,
            Build::Checked => BoundsCheckPolicy::Restrict,
        }
    }

    fn policies(self) -> BoundsCheckPolicies {
        BoundsCheckPolicies {
            index: self.policy(),
            buffer: self.policy(),
            image_load: self.policy(),
            binding_array: BoundsCheckPolicy::Unchecked,
        }
    }
}

/// A binding of the entry point's pipeline layout: one the entry point uses.
#[derive(Clone, Copy, Debug)]
struct Resource {
    binding: ResourceBinding,
    uniform: bool,
    writable: bool,
}

/// The entry point's bindings, in binding order (the layout `Gpu` makes has exactly these).
fn resources(module: &Module, info: &ModuleInfo, entry: &str) -> Vec<Resource> {
    let index = module
        .entry_points
        .iter()
        .position(|e| e.name == entry)
        .unwrap_or_else(|| panic!("no entry point {entry}"));
    let uses = info.get_entry_point(index);
    let mut out: Vec<Resource> = module
        .global_variables
        .iter()
        .filter(|&(handle, _)| !uses[handle].is_empty())
        .filter_map(|(_, var)| {
            let binding = var.binding?;
            let (uniform, writable) = match var.space {
                AddressSpace::Uniform => (true, false),
                AddressSpace::Storage { access } => (false, access.contains(StorageAccess::STORE)),
                _ => return None,
            };
            Some(Resource {
                binding,
                uniform,
                writable,
            })
        })
        .collect();
    out.sort_by_key(|r| (r.binding.group, r.binding.binding));
    out
}

fn spirv(
    module: &Module,
    info: &ModuleInfo,
    entry: &str,
    build: Build,
    subgroups: bool,
) -> Result<Vec<u32>, String> {
    // What every Vulkan device offers (wgpu-hal's list before optional features), and
    // SPIR-V 1.6, what wgpu writes for Vulkan 1.3.
    let mut capabilities = vec![
        spv::Capability::Shader,
        spv::Capability::Matrix,
        spv::Capability::Sampled1D,
        spv::Capability::Image1D,
        spv::Capability::ImageQuery,
        spv::Capability::DerivativeControl,
        spv::Capability::StorageImageExtendedFormats,
    ];
    // What wgpu-hal adds with the SUBGROUP feature, which the subgroup module needs.
    if subgroups {
        capabilities.extend([
            spv::Capability::GroupNonUniform,
            spv::Capability::GroupNonUniformVote,
            spv::Capability::GroupNonUniformArithmetic,
            spv::Capability::GroupNonUniformBallot,
            spv::Capability::GroupNonUniformShuffle,
            spv::Capability::GroupNonUniformShuffleRelative,
        ]);
    }
    // Descriptor bindings in the layout's order, as wgpu-hal numbers them.
    let binding_map: spv::BindingMap = resources(module, info, entry)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let info = spv::BindingInfo {
                descriptor_set: r.binding.group,
                binding: i as u32,
                binding_array_size: None,
            };
            (r.binding, info)
        })
        .collect();
    let options = spv::Options {
        lang_version: (1, 6),
        binding_map,
        flags: spv::WriterFlags::LABEL_VARYINGS | spv::WriterFlags::FORCE_POINT_SIZE,
        fake_missing_bindings: false,
        capabilities: Some(capabilities.into_iter().collect()),
        bounds_check_policies: build.policies(),
        zero_initialize_workgroup_memory: match build {
            Build::Trusted => spv::ZeroInitializeWorkgroupMemoryMode::None,
            Build::Checked => spv::ZeroInitializeWorkgroupMemoryMode::Polyfill,
        },
        force_loop_bounding: build.checked(),
        emit_int_div_checks: build.checked(),
        ..Default::default()
    };
    let pipeline = spv::PipelineOptions {
        shader_stage: ShaderStage::Compute,
        entry_point: entry.to_string(),
    };
    spv::write_vec(module, info, &options, Some(&pipeline)).map_err(|e| format!("{e}"))
}

fn metal(module: &Module, info: &ModuleInfo, entry: &str, build: Build) -> Result<String, String> {
    let all = resources(module, info, entry);
    let resources: msl::BindingMap = all
        .iter()
        .map(|r| {
            let target = msl::BindTarget {
                buffer: Some(r.binding.binding as u8),
                mutable: r.writable,
                ..Default::default()
            };
            (r.binding, target)
        })
        .collect();
    // The buffer of runtime-sized arrays' lengths, after the bindings, as wgpu places it.
    let sizes = all.iter().map(|r| r.binding.binding as u8 + 1).max();
    let map = msl::EntryPointResources {
        resources,
        immediates_buffer: None,
        sizes_buffer: sizes,
    };
    let options = msl::Options {
        lang_version: (2, 4),
        per_entry_point_map: BTreeMap::from([(entry.to_string(), map)]),
        fake_missing_bindings: false,
        bounds_check_policies: build.policies(),
        zero_initialize_workgroup_memory: build.checked(),
        force_loop_bounding: build.checked(),
        emit_int_div_checks: build.checked(),
        ..Default::default()
    };
    let pipeline = msl::PipelineOptions {
        entry_point: Some((ShaderStage::Compute, entry.to_string())),
        ..Default::default()
    };
    msl::write_string(module, info, &options, &pipeline)
        .map(|(source, _)| source)
        .map_err(|e| format!("{e:?}"))
}

fn hlsl(module: &Module, info: &ModuleInfo, entry: &str, build: Build) -> Result<String, String> {
    // Registers per class in binding order (b: constant buffers, t: read-only storage,
    // u: read-write storage), and the constant buffer wgpu adds for num_workgroups.
    let mut next = HashMap::new();
    let mut binding_map = hlsl::BindingMap::new();
    for r in resources(module, info, entry) {
        let class = (r.uniform, r.writable);
        let register = next.entry(class).or_insert(0u32);
        let target = hlsl::BindTarget {
            space: 0,
            register: *register,
            restrict_indexing: r.uniform,
            ..Default::default()
        };
        *register += 1;
        binding_map.insert(r.binding, target);
    }
    let special = hlsl::BindTarget {
        space: 0,
        register: next.get(&(true, false)).copied().unwrap_or(0),
        ..Default::default()
    };
    let options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V5_1,
        binding_map,
        fake_missing_bindings: false,
        special_constants_binding: Some(special),
        zero_initialize_workgroup_memory: build.checked(),
        restrict_indexing: build.checked(),
        force_loop_bounding: build.checked(),
        ..Default::default()
    };
    let pipeline = hlsl::PipelineOptions {
        entry_point: Some((ShaderStage::Compute, entry.to_string())),
    };
    let mut source = String::new();
    hlsl::Writer::new(&mut source, &options, &pipeline)
        .write(module, info, None)
        .map_err(|e| format!("{e:?}"))?;
    Ok(source)
}

fn gles(module: &Module, info: &ModuleInfo, entry: &str, build: Build) -> Result<String, String> {
    let binding_map: glsl::BindingMap = resources(module, info, entry)
        .iter()
        .enumerate()
        .map(|(i, r)| (r.binding, i as u8))
        .collect();
    let options = glsl::Options {
        version: glsl::Version::new_gles(310),
        writer_flags: glsl::WriterFlags::ADJUST_COORDINATE_SPACE
            | glsl::WriterFlags::FORCE_POINT_SIZE,
        binding_map,
        zero_initialize_workgroup_memory: build.checked(),
    };
    let pipeline = glsl::PipelineOptions {
        shader_stage: ShaderStage::Compute,
        entry_point: entry.to_string(),
        multiview: None,
    };
    // wgpu's GL backend checks no buffer bounds, whatever the module asks.
    let policies = BoundsCheckPolicies {
        index: BoundsCheckPolicy::Unchecked,
        buffer: BoundsCheckPolicy::Unchecked,
        image_load: BoundsCheckPolicy::Unchecked,
        binding_array: BoundsCheckPolicy::Unchecked,
    };
    let mut source = String::new();
    glsl::Writer::new(&mut source, module, info, &options, &pipeline, policies)
        .and_then(|mut w| w.write())
        .map_err(|e| format!("{e}"))?;
    Ok(source)
}

/// `spirv-val` over every file in `files`, a few processes at a time; the failures.
fn spirv_val(files: &[(String, std::path::PathBuf)]) -> Vec<String> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let chunks: Vec<_> = files.chunks(files.len().div_ceil(workers).max(1)).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for (what, path) in chunk {
                        let out = Command::new("spirv-val")
                            .args(["--target-env", "vulkan1.3"])
                            .arg(path)
                            .output()
                            .unwrap_or_else(|e| {
                                panic!("spirv-val did not run ({e}): apt-get install spirv-tools")
                            });
                        if !out.status.success() {
                            let err = String::from_utf8_lossy(&out.stderr);
                            failures.push(format!("{what}: spirv-val: {err}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

#[test]
fn every_pipeline_translates_for_metal_dx12_vulkan_and_gl() {
    let mut pipelines: Vec<(Shader, &'static str, Constants)> = launches()
        .unwrap()
        .into_iter()
        .map(|m| (m.launch.shader, m.launch.entry, m.launch.constants))
        .collect();
    pipelines.sort_by_key(|(s, e, c)| (s.name(), *e, format!("{c:?}")));
    pipelines.dedup();

    let mut parsed: HashMap<Shader, (Module, ModuleInfo)> = HashMap::new();
    let dir = tempfile::tempdir().unwrap();
    let mut spirv_files = Vec::new();
    let mut failures = Vec::new();
    let mut translations = 0;
    for (i, (shader, entry, constants)) in pipelines.iter().enumerate() {
        let (module, info) = parsed.entry(*shader).or_insert_with(|| {
            let module = naga::front::wgsl::parse_str(&shader.source()).unwrap();
            let info = Validator::new(ValidationFlags::all(), capabilities(*shader))
                .validate(&module)
                .unwrap_or_else(|e| panic!("{}: {e:?}", shader.place()));
            (module, info)
        });
        let mut values = naga::back::PipelineConstants::default();
        for (name, value) in constants.pipeline_values() {
            values.insert(name.to_string(), value);
        }
        let what = format!("{}::{entry} {:?}", shader.name(), constants.0);
        let stage = Some((ShaderStage::Compute, *entry));
        let (module, info) =
            match naga::back::pipeline_constants::process_overrides(module, info, stage, &values) {
                Ok(processed) => processed,
                Err(e) => {
                    failures.push(format!("{what}: pipeline constants: {e}"));
                    continue;
                }
            };
        for build in [Build::Trusted, Build::Checked] {
            let what = format!("{what} {build:?}");
            let results: [(&str, Result<(), String>); 3] = [
                ("MSL", metal(&module, &info, entry, build).map(drop)),
                ("HLSL", hlsl(&module, &info, entry, build).map(drop)),
                ("GLSL ES", gles(&module, &info, entry, build).map(drop)),
            ];
            for (backend, result) in results {
                if let Err(e) = result {
                    failures.push(format!("{what}: {backend}: {e}"));
                }
            }
            match spirv(&module, &info, entry, build, shader.needs_subgroups()) {
                Ok(words) => {
                    let path = dir.path().join(format!("{i}-{build:?}.spv"));
                    std::fs::write(&path, bytemuck_words(&words)).unwrap();
                    spirv_files.push((what.clone(), path));
                }
                Err(e) => failures.push(format!("{what}: SPIR-V: {e}")),
            }
            translations += 4;
        }
    }
    failures.extend(spirv_val(&spirv_files));
    println!(
        "{} pipelines of {} shaders: {translations} translations, {} SPIR-V modules validated",
        pipelines.len(),
        parsed.len(),
        spirv_files.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        parsed.len(),
        Shader::ALL.len(),
        "every shader has a pipeline"
    );
    assert!(Path::new(dir.path()).exists());
}

/// What a module may use: WebGPU's core, and subgroup operations for the module that
/// needs them (which only a device that has them compiles).
fn capabilities(shader: Shader) -> Capabilities {
    match shader.needs_subgroups() {
        true => Capabilities::default() | Capabilities::SUBGROUP,
        false => Capabilities::default(),
    }
}

/// SPIR-V words as the bytes of a .spv file (little-endian, as spirv-val reads them).
fn bytemuck_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// What WebGPU guarantees every adapter offers (its default limits): a pipeline within
/// them runs on any browser's GPU, and on any native adapter, without asking for more.
const WEBGPU_INVOCATIONS: u32 = 256;
const WEBGPU_SIZE: [u32; 3] = [256, 256, 64];
const WEBGPU_WORKGROUP_BYTES: u32 = 16384;
const WEBGPU_STORAGE_BUFFERS: usize = 8;
const WEBGPU_UNIFORM_BUFFERS: usize = 12;

/// Every variant of every family fits WebGPU's default limits, so the registry needs no
/// per-adapter filter: its workgroup size, the workgroup memory its entry point uses,
/// and its storage and uniform buffers, each with the pipeline constants it is made with.
#[test]
fn every_pipeline_fits_the_limits_every_webgpu_adapter_offers() {
    let mut parsed: HashMap<Shader, (Module, ModuleInfo)> = HashMap::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for made in launches().unwrap() {
        let (shader, entry, constants) =
            (made.launch.shader, made.launch.entry, made.launch.constants);
        let (module, info) = parsed.entry(shader).or_insert_with(|| {
            let module = naga::front::wgsl::parse_str(&shader.source()).unwrap();
            let info = Validator::new(ValidationFlags::all(), capabilities(shader))
                .validate(&module)
                .unwrap();
            (module, info)
        });
        let mut values = naga::back::PipelineConstants::default();
        for (name, value) in constants.pipeline_values() {
            values.insert(name.to_string(), value);
        }
        let stage = Some((ShaderStage::Compute, entry));
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(module, info, stage, &values)
                .unwrap();
        let index = module
            .entry_points
            .iter()
            .position(|e| e.name == entry)
            .unwrap();
        let size = module.entry_points[index].workgroup_size;
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let uses = info.get_entry_point(index);
        let workgroup_bytes: u32 = module
            .global_variables
            .iter()
            .filter(|(h, v)| v.space == AddressSpace::WorkGroup && !uses[*h].is_empty())
            .map(|(_, v)| layouter[v.ty].size)
            .sum();
        let used = resources(&module, &info, entry);
        let uniforms = used.iter().filter(|r| r.uniform).count();
        let storage = used.len() - uniforms;
        let what = format!("{}::{entry} {:?}", shader.name(), constants.0);
        let invocations = size.iter().product::<u32>();
        if invocations > WEBGPU_INVOCATIONS || size.iter().zip(WEBGPU_SIZE).any(|(s, m)| *s > m) {
            failures.push(format!("{what}: workgroup {size:?}"));
        }
        if workgroup_bytes > WEBGPU_WORKGROUP_BYTES {
            failures.push(format!(
                "{what}: {workgroup_bytes} bytes of workgroup memory"
            ));
        }
        if storage > WEBGPU_STORAGE_BUFFERS || uniforms > WEBGPU_UNIFORM_BUFFERS {
            failures.push(format!(
                "{what}: {storage} storage, {uniforms} uniform buffers"
            ));
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} pipelines");
    assert!(
        failures.is_empty(),
        "beyond WebGPU's limits:\n{}",
        failures.join("\n")
    );
}

/// WGSL makes a constant expression that evaluates to NaN or infinity a shader-creation
/// error. naga lets `bitcast<f32>(0x7fc00000u)` through, browsers (Tint) refuse the
/// module, so no shader may bitcast a literal to a float: it goes through a variable.
#[test]
fn no_shader_bitcasts_a_literal_to_a_float_which_webgpu_refuses() {
    let mut found = Vec::new();
    for dir in [
        "shaders",
        "shaders/parts",
        "shaders/matmul",
        "shaders/conv2d",
    ] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "wgsl") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let mut rest = line;
                while let Some(at) = rest.find("bitcast<f32>(") {
                    rest = &rest[at + "bitcast<f32>(".len()..];
                    if rest.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
                        found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "literal bitcasts:\n{}", found.join("\n"));
}
