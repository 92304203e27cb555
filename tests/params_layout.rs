//! One source of truth for every params uniform: each Rust struct that mirrors a WGSL
//! struct is checked, field by field, against naga's reflection of the shader it is
//! built into (its parts, then the family's file).

use wgsl_autoencoder::gpu::kernels::{params_layouts, Shader};

fn parse(shader: Shader) -> naga::Module {
    naga::front::wgsl::parse_str(&shader.source())
        .unwrap_or_else(|e| panic!("{}: {}", shader.place(), e.message()))
}

/// (name, byte offset) of every member of a WGSL struct, and its size.
fn wgsl_struct(module: &naga::Module, name: &str) -> Option<(Vec<(String, usize)>, usize)> {
    module.types.iter().find_map(|(_, ty)| match &ty.inner {
        naga::TypeInner::Struct { members, span } if ty.name.as_deref() == Some(name) => {
            let fields = members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
                .collect();
            Some((fields, *span as usize))
        }
        _ => None,
    })
}

#[test]
fn every_params_struct_matches_its_wgsl_struct() {
    for layout in params_layouts() {
        let module = parse(layout.shader);
        let place = format!(
            "{} against {} in {}",
            layout.rust_struct,
            layout.wgsl_struct,
            layout.shader.place()
        );
        let (fields, size) = wgsl_struct(&module, layout.wgsl_struct)
            .unwrap_or_else(|| panic!("{place}: no such WGSL struct"));
        let rust: Vec<(String, usize)> = layout
            .fields
            .iter()
            .map(|&(name, offset)| (name.to_string(), offset))
            .collect();
        assert_eq!(rust, fields, "{place}: fields (name, offset) differ");
        assert_eq!(layout.size, size, "{place}: sizes differ");
    }
}

#[test]
fn every_family_params_struct_has_a_rust_mirror() {
    // By file: the matmul ladder's two modules (with and without its subgroup rung) share one
    // Params and its one mirror.
    let mirrored: Vec<&str> = params_layouts()
        .iter()
        .filter(|l| l.wgsl_struct == "Params")
        .map(|l| l.shader.file())
        .collect();
    for shader in Shader::ALL {
        let module = parse(shader);
        if wgsl_struct(&module, "Params").is_some() {
            assert!(
                mirrored.contains(&shader.file()),
                "{} declares Params, but no Rust struct mirrors it",
                shader.place()
            );
        }
    }
}

#[test]
fn every_module_validates() {
    for shader in Shader::ALL {
        let module = parse(shader);
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        validator
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", shader.place()));
    }
}
