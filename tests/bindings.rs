//! Every WGSL entry point against the ops that launch it (`check::launches`): each binding
//! it declares and uses is named for its role, the op's binding of that name, and stands
//! where the op's bindings put it (1 + its place in `OpDef::slots()`), read-only exactly
//! where the op only reads it, of u32 exactly where the op's binding holds integers.
//! Binding 0 is the params uniform `p`; a batch split's two dispatches bind their partial
//! sums, `partials`, after the op's bindings; the per-step uniform `step` follows where
//! the op reads it. A kernel that drifts from its op fails here by name,
//! before any pipeline is made.
//!
//! The roles of a declaration are its name's parts joined by `_or_`, each without the
//! suffix `_at<binding>` (a role declared at two bindings) or `_vec4` (a view four floats
//! at a time): `x_or_dy` plays x and dy, `dw_at4` plays dw.

use std::collections::{BTreeMap, HashMap};

use wgsl_autoencoder::check::launches::launches;
use wgsl_autoencoder::gpu::kernels::Shader;
use wgsl_autoencoder::ops::{Access, Elem};

/// The roles a declaration's name gives it.
fn roles(name: &str) -> Vec<&str> {
    name.split("_or_")
        .map(|part| {
            let part = part.strip_suffix("_vec4").unwrap_or(part);
            match part.rsplit_once("_at") {
                Some((role, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => role,
                _ => part,
            }
        })
        .collect()
}

#[test]
fn roles_are_read_from_names() {
    assert_eq!(roles("x"), ["x"]);
    assert_eq!(roles("x_or_dy"), ["x", "dy"]);
    assert_eq!(roles("dw_at4"), ["dw"]);
    assert_eq!(roles("a_vec4"), ["a"]);
    assert_eq!(roles("bias_or_y"), ["bias", "y"]);
    assert_eq!(roles("batch_start"), ["batch_start"]);
}

/// A binding an entry point uses, as the WGSL declares it.
#[derive(Debug)]
struct Declared {
    name: String,
    uniform: bool,
    read_only: bool,
    u32s: bool,
}

struct Parsed {
    module: naga::Module,
    info: naga::valid::ModuleInfo,
}

fn parse(shader: Shader) -> Parsed {
    let module = naga::front::wgsl::parse_str(&shader.source())
        .unwrap_or_else(|e| panic!("{}: {}", shader.place(), e.message()));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}: {e:?}", shader.place()));
    Parsed { module, info }
}

/// The bindings (group 0) entry point `entry` uses, by binding number.
fn used_bindings(parsed: &Parsed, entry: &str) -> BTreeMap<u32, Declared> {
    let (index, _) = parsed
        .module
        .entry_points
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == entry)
        .unwrap_or_else(|| panic!("no entry point {entry}"));
    let uses = parsed.info.get_entry_point(index);
    let mut out = BTreeMap::new();
    for (handle, var) in parsed.module.global_variables.iter() {
        let Some(binding) = var.binding else { continue };
        if uses[handle].is_empty() {
            continue;
        }
        assert_eq!(binding.group, 0, "{entry}: {:?} outside group 0", var.name);
        let (uniform, read_only) = match var.space {
            naga::AddressSpace::Uniform => (true, true),
            naga::AddressSpace::Storage { access } => {
                (false, !access.contains(naga::StorageAccess::STORE))
            }
            other => panic!("{entry}: {:?} in {other:?}", var.name),
        };
        let element = match parsed.module.types[var.ty].inner {
            naga::TypeInner::Array { base, .. } => &parsed.module.types[base].inner,
            ref inner => inner,
        };
        let u32s = matches!(
            element,
            naga::TypeInner::Scalar(naga::Scalar {
                kind: naga::ScalarKind::Uint,
                ..
            })
        );
        let declared = Declared {
            name: var.name.clone().unwrap_or_default(),
            uniform,
            read_only,
            u32s,
        };
        if let Some(other) = out.insert(binding.binding, declared) {
            panic!(
                "{entry}: two variables at binding {}: {other:?}",
                binding.binding
            );
        }
    }
    out
}

#[test]
fn every_entry_point_binds_what_its_ops_bind() {
    let made = launches().unwrap();
    let mut parsed: HashMap<Shader, Parsed> = HashMap::new();
    let mut checked = 0;
    let mut split_pairs: HashMap<(String, String), (Vec<u32>, usize)> = HashMap::new();
    for m in &made {
        let l = &m.launch;
        let parsed = parsed.entry(l.shader).or_insert_with(|| parse(l.shader));
        let used = used_bindings(parsed, l.entry);
        let place = format!(
            "{}::{} for {} ({})",
            l.shader.name(),
            l.entry,
            m.op.kind(),
            m.op.label()
        );
        let slots = m.op.bindings();
        let mut expected = BTreeMap::new();
        expected.insert(0, ("p".to_string(), true, true, false));
        for (i, b) in slots.iter().enumerate() {
            let read_only = b.access == Access::Read;
            expected.insert(
                1 + i as u32,
                (b.name.to_string(), false, read_only, b.elem == Elem::U32),
            );
        }
        let mut next = 1 + slots.len() as u32;
        if m.partials {
            expected.insert(next, ("partials".to_string(), false, false, false));
            next += 1;
        }
        if m.op.uses_step() {
            expected.insert(next, ("step".to_string(), true, true, false));
        }
        // A batch split's two dispatches (the partial rows and the input gradient, then
        // the fold into dw and db) each use some of the bindings, each where the op puts
        // it, and between them all.
        if m.partials {
            assert!(
                used.keys().all(|b| expected.contains_key(b)),
                "{place}: bindings used {used:?}"
            );
            let pair = (m.op.label(), format!("{:?}", l.constants));
            let union = split_pairs.entry(pair).or_insert_with(|| (Vec::new(), 0));
            union.0.extend(used.keys().copied());
            union.1 = expected.len();
        } else {
            assert_eq!(
                used.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{place}: bindings used {used:?}"
            );
        }
        for (binding, (role, uniform, read_only, u32s)) in &expected {
            let Some(d) = used.get(binding) else {
                continue;
            };
            assert!(
                roles(&d.name).contains(&role.as_str()),
                "{place}: binding {binding} is `{}`, which does not play `{role}`",
                d.name
            );
            assert_eq!(
                (d.uniform, d.read_only, d.u32s),
                (*uniform, *read_only, *u32s),
                "{place}: binding {binding} `{}` (uniform, read-only, u32)",
                d.name
            );
        }
        checked += 1;
    }
    for ((label, _), (mut used, expected)) in split_pairs {
        used.sort();
        used.dedup();
        assert_eq!(
            used.len(),
            expected,
            "{label}: a split and its fold bind {used:?}"
        );
    }
    // Every family's entry points are reached: the tables cover them all.
    let reached: std::collections::BTreeSet<&str> = made.iter().map(|m| m.launch.entry).collect();
    for (shader, parsed) in &parsed {
        for e in &parsed.module.entry_points {
            assert!(
                reached.contains(e.name.as_str()),
                "{}::{} is launched by no op",
                shader.name(),
                e.name
            );
        }
    }
    assert_eq!(parsed.len(), Shader::ALL.len(), "every shader is launched");
    assert!(checked > 100, "only {checked} launches");
}
