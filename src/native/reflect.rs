//! What a pipeline asks of each workgroup, read from its WGSL as wgpu reads it: the
//! module parsed and validated by naga, the launch's `override` constants applied
//! (`process_overrides`, as wgpu-hal does), then the entry point's workgroup size and the
//! workgroup memory of the variables it uses. Nothing is written down twice: a variant
//! that changes a tile size or a staged array changes the figure with it.

use std::collections::HashMap;

use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ShaderStage};

use crate::error::{Error, Result};
use crate::gpu::kernels::{Launch, Shader};
use crate::plan::Footprint;

/// Parses each shader once and reads launches' footprints from it.
#[derive(Default)]
pub struct Reflector {
    parsed: HashMap<Shader, (Module, ModuleInfo)>,
}

impl Reflector {
    /// The workgroup size and workgroup memory of `launch`'s pipeline.
    pub fn footprint(&mut self, launch: &Launch) -> Result<Footprint> {
        let shader = launch.shader;
        let what = |e: String| Error::Other(format!("{}: {e}", shader.place()));
        let (module, info) = match self.parsed.entry(shader) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let module = naga::front::wgsl::parse_str(&shader.source())
                    .map_err(|e| what(e.to_string()))?;
                // Subgroup operations, which only MatmulSubgroup uses, are a capability.
                let caps = Capabilities::default() | Capabilities::SUBGROUP;
                let info = Validator::new(ValidationFlags::all(), caps)
                    .validate(&module)
                    .map_err(|e| what(format!("{e:?}")))?;
                e.insert((module, info))
            }
        };
        let mut values = naga::back::PipelineConstants::default();
        for (name, value) in launch.constants.pipeline_values() {
            values.insert(name.to_string(), value);
        }
        let stage = Some((ShaderStage::Compute, launch.entry));
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(module, info, stage, &values)
                .map_err(|e| what(format!("{}: {e}", launch.entry)))?;
        let index = module
            .entry_points
            .iter()
            .position(|e| e.name == launch.entry)
            .ok_or_else(|| what(format!("no entry point {}", launch.entry)))?;
        let mut layouter = naga::proc::Layouter::default();
        layouter
            .update(module.to_ctx())
            .map_err(|e| what(format!("{e:?}")))?;
        let uses = info.get_entry_point(index);
        let workgroup_bytes = module
            .global_variables
            .iter()
            .filter(|(h, v)| v.space == AddressSpace::WorkGroup && !uses[*h].is_empty())
            .map(|(_, v)| layouter[v.ty].size)
            .sum();
        let size = module.entry_points[index].workgroup_size;
        Ok(Footprint {
            invocations: size.iter().product(),
            workgroup_bytes,
        })
    }
}
