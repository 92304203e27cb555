//! How each op launches on the GPU: one module per WGSL family, holding the family's
//! params structs (each mirroring a WGSL struct, which a test checks), its grids and its
//! variants. `launch` is the one exhaustive match from ops to kernels, and it is where
//! the GPU backend, not the model, picks a variant.

pub mod batch;
pub mod conv2d;
pub mod elementwise;
pub mod ladder;
pub mod latent;
pub mod loss;
pub mod matmul;
pub mod noise;
pub mod optim;
pub mod peak;
pub mod pool;
pub mod variants;

use crate::error::{Error, Result};
use crate::ops::{Activation, Op, OpDef};

pub use matmul::{MatmulVariant, SgemmTile, ThinTile};
pub use variants::{choose, variants, Chosen, Measured, Source, Variant};

/// Invocations per workgroup of the one-dimensional kernels; the WGSL `override WG` in
/// shaders/parts/common.wgsl gets this value at pipeline creation.
pub const WORKGROUP: usize = 256;
/// Workgroups one grid dimension may hold (WebGPU's guaranteed minimum).
const MAX_GROUPS: usize = 65535;
/// The one fill rule of the GPU heuristics: the workgroups at which a dispatch is taken
/// to fill a GPU, two per multiprocessor of a large one (an H100 has 132; `plan`'s
/// STARVED rule is the same two per unit). Fewer leave multiprocessors idle, which costs
/// more than the reuse a larger block buys.
pub const FILL: usize = 2 * 132;

/// A fused kernel's activation as its params carry it (`activate` in
/// shaders/parts/activations.wgsl): its code, from the one table in `ops::Activation`.
pub fn act_code(act: Activation) -> u32 {
    act.code() as u32
}

/// A piece of WGSL written once and put into the module of every family that needs it,
/// before the family's own file: helpers, and the WGSL side of a Rust table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The workgroup size, the per-step uniform, grid folding, the workgroup sum, NaN tests.
    Common,
    /// The activations and their gradients, under codes generated from `ops::Activation`.
    Activations,
    /// A max-pool's choice of argmax and the windows that hold an element.
    PoolRouting,
    /// A specialised conv layer's sizes as constants, and a fused forward's staged sums.
    ConvStaging,
    /// The counter-based generator: a hash of (seed, stream, counter, word).
    CounterRng,
    /// What the matmul ladder's rungs share: Params, bindings, loads, fused epilogues.
    MatmulIo,
    /// What the conv2d ladder's rungs share: Params, bindings, NCHW indexing.
    ConvIo,
    /// The fused conv backward's weight and input roles, which rungs 2 to 4 run.
    ConvBackwardRoles,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Common => "common",
            Part::Activations => "activations",
            Part::PoolRouting => "pool_routing",
            Part::ConvStaging => "conv_staging",
            Part::CounterRng => "counter_rng",
            Part::MatmulIo => "matmul_io",
            Part::ConvIo => "conv_io",
            Part::ConvBackwardRoles => "conv_backward_roles",
        }
    }

    /// The part's source: its file in shaders/parts/, after, for the activations, their
    /// codes as WGSL constants (`const ACT_RELU: u32 = 0u;`, …).
    pub fn source(self) -> String {
        match self {
            Part::Common => include_str!("../../../shaders/parts/common.wgsl").to_string(),
            Part::Activations => {
                let codes: String = Activation::ALL
                    .iter()
                    .map(|a| {
                        let name = a.name().to_uppercase();
                        format!("const ACT_{name}: u32 = {}u;\n", a.code())
                    })
                    .collect();
                let part = include_str!("../../../shaders/parts/activations.wgsl");
                format!("// Generated from ops::Activation.\n{codes}\n{part}")
            }
            Part::PoolRouting => {
                include_str!("../../../shaders/parts/pool_routing.wgsl").to_string()
            }
            Part::ConvStaging => {
                include_str!("../../../shaders/parts/conv_staging.wgsl").to_string()
            }
            Part::CounterRng => include_str!("../../../shaders/parts/counter_rng.wgsl").to_string(),
            Part::MatmulIo => include_str!("../../../shaders/parts/matmul_io.wgsl").to_string(),
            Part::ConvIo => include_str!("../../../shaders/parts/conv_io.wgsl").to_string(),
            Part::ConvBackwardRoles => {
                include_str!("../../../shaders/parts/conv_backward_roles.wgsl").to_string()
            }
        }
    }
}

/// The WGSL sources, one per kernel family, embedded in the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Batch,
    Matmul,
    /// The matmul ladder whole, with its rung that needs subgroup operations (`Matmul` is
    /// the module without it), for devices that have them.
    MatmulSubgroup,
    Elementwise,
    Loss,
    Optim,
    Conv2d,
    Pool,
    Peak,
    Noise,
    Latent,
}

impl Shader {
    pub const ALL: [Shader; 11] = [
        Shader::Batch,
        Shader::Matmul,
        Shader::MatmulSubgroup,
        Shader::Elementwise,
        Shader::Loss,
        Shader::Optim,
        Shader::Conv2d,
        Shader::Pool,
        Shader::Peak,
        Shader::Noise,
        Shader::Latent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shader::Batch => "batch",
            Shader::Matmul => "matmul",
            Shader::MatmulSubgroup => "matmul_subgroup",
            Shader::Elementwise => "elementwise",
            Shader::Loss => "loss",
            Shader::Optim => "optim",
            Shader::Conv2d => "conv2d",
            Shader::Pool => "pool",
            Shader::Peak => "peak",
            Shader::Noise => "noise",
            Shader::Latent => "latent",
        }
    }

    /// The family the module comes from (the matmul family makes two modules).
    pub fn file(self) -> &'static str {
        match self {
            Shader::MatmulSubgroup => Shader::Matmul.name(),
            other => other.name(),
        }
    }

    /// Where its source lives, as messages name it: `shaders/batch.wgsl`, or a ladder's
    /// folder of rungs, `shaders/matmul/`.
    pub fn place(self) -> String {
        match self.ladder() {
            Some(family) => format!("shaders/{}/", family.name()),
            None => format!("shaders/{}.wgsl", self.file()),
        }
    }

    /// The ladder whose rungs make the module, for a family with variants.
    pub fn ladder(self) -> Option<ladder::Family> {
        match self {
            Shader::Matmul | Shader::MatmulSubgroup => Some(ladder::Family::Matmul),
            Shader::Conv2d => Some(ladder::Family::Conv2d),
            _ => None,
        }
    }

    /// Whether the module uses subgroup operations, which a device must have enabled
    /// (`Gpu::subgroups`) to compile it.
    pub fn needs_subgroups(self) -> bool {
        self == Shader::MatmulSubgroup
    }

    /// The family's own source: its file, or its ladder's rungs in order (without those
    /// that need subgroups unless the module is the one for devices that have them).
    fn family_source(self) -> String {
        let file = match self {
            Shader::Matmul | Shader::MatmulSubgroup => return self.rungs(ladder::Family::Matmul),
            Shader::Conv2d => return self.rungs(ladder::Family::Conv2d),
            Shader::Batch => include_str!("../../../shaders/batch.wgsl"),
            Shader::Elementwise => include_str!("../../../shaders/elementwise.wgsl"),
            Shader::Loss => include_str!("../../../shaders/loss.wgsl"),
            Shader::Optim => include_str!("../../../shaders/optim.wgsl"),
            Shader::Pool => include_str!("../../../shaders/pool.wgsl"),
            Shader::Peak => include_str!("../../../shaders/peak.wgsl"),
            Shader::Noise => include_str!("../../../shaders/noise.wgsl"),
            Shader::Latent => include_str!("../../../shaders/latent.wgsl"),
        };
        file.to_string()
    }

    /// The rungs of a ladder that this module holds, one after another.
    fn rungs(self, family: ladder::Family) -> String {
        let held = |r: &&ladder::Rung| !r.needs_subgroups() || self.needs_subgroups();
        let sources: Vec<&str> = ladder::rungs(family)
            .filter(held)
            .map(|r| r.source)
            .collect();
        sources.join("\n")
    }

    /// The parts the family's module is built from, before its own file.
    pub fn parts(self) -> &'static [Part] {
        use Part::*;
        match self {
            Shader::Batch | Shader::Optim | Shader::Peak => &[Common],
            Shader::Noise => &[Common, CounterRng],
            Shader::Latent => &[Common, Activations, CounterRng],
            Shader::Matmul | Shader::MatmulSubgroup => &[Common, Activations, MatmulIo],
            Shader::Elementwise | Shader::Loss => &[Common, Activations],
            Shader::Pool => &[Common, PoolRouting],
            Shader::Conv2d => &[
                Common,
                Activations,
                PoolRouting,
                ConvStaging,
                ConvIo,
                ConvBackwardRoles,
            ],
        }
    }

    /// The module's source: its parts, then the family's file.
    pub fn source(self) -> String {
        let mut source = String::new();
        for part in self.parts() {
            source += &part.source();
            source += "\n";
        }
        source + &self.family_source()
    }

    /// The values of the `override` constants every module declares.
    pub fn constants() -> Vec<(&'static str, f64)> {
        vec![("WG", WORKGROUP as f64)]
    }
}

/// Values of the WGSL `override` constants that specialise one pipeline of an entry point,
/// beside `WG`, which every pipeline gets: transposes, tile sizes, a layer's fixed sizes.
/// What changes with the batch (a partial last batch) stays in the params uniform, so
/// that one pipeline serves every batch size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Constants(pub Vec<(&'static str, u32)>);

impl Constants {
    /// `WG` and these constants, as wgpu takes them.
    pub fn pipeline_values(&self) -> Vec<(&'static str, f64)> {
        let mut values = Shader::constants();
        values.extend(self.0.iter().map(|&(name, v)| (name, v as f64)));
        values
    }
}

/// Everything needed to dispatch one op: which pipeline (entry point and specialisation),
/// its params uniform and its grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub shader: Shader,
    pub entry: &'static str,
    pub constants: Constants,
    pub params: Vec<u8>,
    pub grid: [u32; 3],
    /// A second dispatch after the first, over the same bindings and partials.
    pub fold: Option<Fold>,
}

/// The second half of a launch that splits a reduction over workgroups (a batch-split
/// weight gradient): the first dispatch writes partial sums into a scratch buffer the GPU
/// backend allocates for the op (`partials` floats, bound after the op's bindings, as
/// `partials` in WGSL), and this entry point of the same shader, with the same constants
/// and params, adds them into the op's outputs. The op's bindings, and so its CPU
/// reference, are those of any other variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Fold {
    pub entry: &'static str,
    pub grid: [u32; 3],
    pub partials: usize,
}

impl Launch {
    fn new(
        shader: Shader,
        entry: &'static str,
        params: &impl bytemuck::Pod,
        grid: [u32; 3],
    ) -> Self {
        Launch {
            shader,
            entry,
            constants: Constants::default(),
            params: bytemuck::bytes_of(params).to_vec(),
            grid,
            fold: None,
        }
    }

    /// Workgroups of all its dispatches.
    pub fn workgroups(&self) -> u64 {
        let count = |g: [u32; 3]| g.iter().map(|&d| d as u64).product::<u64>();
        count(self.grid) + self.fold.as_ref().map_or(0, |f| count(f.grid))
    }

    /// The fold's dispatch as a launch of its own (same shader, constants and params), for
    /// the tests that translate every entry point.
    pub fn fold_launch(&self) -> Option<Launch> {
        let f = self.fold.as_ref()?;
        Some(Launch {
            entry: f.entry,
            grid: f.grid,
            fold: None,
            ..self.clone()
        })
    }

    fn with_constants(self, constants: Vec<(&'static str, u32)>) -> Self {
        Launch {
            constants: Constants(constants),
            ..self
        }
    }
}

/// What the variant choice knows of the adapter: how many workgroups it runs at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallelism {
    /// A GPU: a product should spread over a few hundred workgroups to occupy it.
    #[default]
    Wide,
    /// A CPU adapter (lavapipe, SwiftShader, WARP): a few cores take the workgroups in
    /// turn, so the kernel that does the most work per invocation wins, however few
    /// workgroups it makes.
    Narrow,
}

impl Parallelism {
    pub fn of(info: &wgpu::AdapterInfo) -> Parallelism {
        match info.device_type {
            wgpu::DeviceType::Cpu => Parallelism::Narrow,
            wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
            | wgpu::DeviceType::Other => Parallelism::Wide,
        }
    }
}

/// The launch of `op` as `variant` runs it (one of `variants::variants(op)`; see
/// `variants::choose`).
pub fn launch(op: &Op, variant: Variant) -> Result<Launch> {
    let wrong = || {
        Err(Error::Other(format!(
            "{} has no variant {}",
            op.entry(),
            variant.name()
        )))
    };
    let (channels, spread) = match variant {
        Variant::Channels(c) => (Some(c), false),
        Variant::PoolSpread(c) => (Some(c), true),
        _ => (None, false),
    };
    let role = match variant {
        Variant::BatchSplit(k) => conv2d::WeightRole::Rows { split: k },
        Variant::BlockedWeights(ob) => conv2d::WeightRole::Blocks { channels: ob },
        _ => conv2d::WeightRole::Rows { split: 1 },
    };
    let fused_forward = matches!(
        op,
        Op::Conv2dActForward(_) | Op::ConvTranspose2dActForward(_)
    );
    let fused_backward = matches!(op, Op::Conv2dBackward(_) | Op::ConvTranspose2dBackward(_));
    match (op, variant) {
        (Op::Matmul(o), Variant::Matmul(v)) => return matmul::matmul(o, v),
        (Op::Matmul(_), _) => return wrong(),
        (_, Variant::Channels(_)) if fused_forward => {}
        (Op::Conv2dActForward(o), Variant::RowBlocks(g)) => {
            let pool = o.pool_shape();
            return conv2d::act_forward_rows(o.entry(), &o.shape, o.act, pool, g);
        }
        (Op::ConvTranspose2dActForward(o), Variant::RowBlocks(g)) => {
            let entry = "conv2d_act_forward";
            return conv2d::act_forward_rows(entry, &o.shape, o.act, None, g);
        }
        (Op::Conv2dActForward(o), Variant::PoolSpread(_)) if o.pool.is_some() => {}
        (_, Variant::BatchSplit(k)) if fused_backward && k >= 2 => {}
        (_, Variant::BlockedWeights(_)) if fused_backward => {}
        (Op::Conv2dForward(o), Variant::ImplicitGemm(bn)) => return conv2d::forward_igemm(o, bn),
        (_, Variant::Only) if !fused_forward => {}
        _ => return wrong(),
    }
    match op {
        Op::GatherBatch(o) => batch::gather_batch(o),
        Op::GatherRows(o) => batch::gather_rows(o),
        Op::Matmul(_) => wrong(),
        Op::BiasForward(o) => elementwise::bias_forward(o),
        Op::BiasBackward(o) => elementwise::bias_backward(o),
        Op::ActivationForward(o) => elementwise::activation_forward(o),
        Op::ActivationBackward(o) => elementwise::activation_backward(o),
        Op::LossForward(o) => loss::loss_forward(o),
        Op::LossBackward(o) => loss::loss_backward(o),
        Op::LossActBackward(o) => loss::loss_act_backward(o),
        Op::AdamUpdate(o) => optim::adam_update(o),
        Op::Conv2dForward(o) => conv2d::forward(o),
        Op::Conv2dBackwardInput(o) => conv2d::backward_input(o),
        Op::Conv2dBackwardWeight(o) => conv2d::backward_weight(o),
        Op::Conv2dBackwardBias(o) => conv2d::backward_bias(o),
        Op::MaxPool2dForward(o) => pool::forward(o),
        Op::MaxPool2dBackward(o) => pool::backward(o),
        Op::ConvTranspose2dForward(o) => conv2d::forward(o),
        Op::ConvTranspose2dBackwardInput(o) => conv2d::backward_input(o),
        Op::ConvTranspose2dBackwardWeight(o) => conv2d::backward_weight(o),
        Op::PeakFma(o) => peak::fma(o),
        Op::PeakCopy(o) => peak::copy(o),
        Op::PeakRead(o) => peak::read(o),
        Op::Corrupt(o) => noise::corrupt(o),
        Op::Conv2dActForward(o) => {
            let pool = o.pool_shape();
            conv2d::act_forward(o.entry(), &o.shape, o.act, pool, channels, spread)
        }
        Op::Conv2dBackward(o) => conv2d::backward(&o.shape, o.dx.as_ref(), role),
        Op::ConvTranspose2dActForward(o) => {
            let entry = "conv2d_act_forward";
            conv2d::act_forward(entry, &o.shape, o.act, None, channels, false)
        }
        Op::ConvTranspose2dBackward(o) => conv2d::backward(&o.shape, Some(&o.dx), role),
        Op::ReparamKlForward(o) => latent::reparam_kl_forward(o),
        Op::ReparamKlBackward(o) => latent::reparam_kl_backward(o),
        Op::L1Backward(o) => latent::l1_backward(o),
        Op::RowScores(o) => loss::row_scores(o),
        Op::KlScores(o) => latent::kl_scores(o),
    }
}

/// A size as the kernels' 32-bit indices hold it. Buffers are checked against the
/// device's binding limit before anything launches, so this fails only on a size that
/// check missed.
fn u(v: usize) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| Error::Other(format!("size {v} does not fit the kernels' 32-bit indices")))
}

/// One invocation per element over a 1-D range, folded into a second grid dimension when
/// it needs more than 65535 workgroups (see `flat_index` in shaders/parts/common.wgsl).
pub fn grid_1d(elements: usize) -> [u32; 3] {
    let groups = elements.div_ceil(WORKGROUP).max(1);
    if groups <= MAX_GROUPS {
        [groups as u32, 1, 1]
    } else {
        [MAX_GROUPS as u32, groups.div_ceil(MAX_GROUPS) as u32, 1]
    }
}

/// One workgroup per output, for the kernels that reduce each output inside its
/// workgroup; folded like `grid_1d` (see `group_index`).
pub fn grid_groups(outputs: usize) -> [u32; 3] {
    grid_1d(outputs * WORKGROUP)
}

/// Where a Rust params struct claims to mirror a WGSL struct, and its layout: what the
/// layout test compares with naga's reflection of the shader.
#[derive(Clone, Debug)]
pub struct ParamsLayout {
    pub shader: Shader,
    pub wgsl_struct: &'static str,
    pub rust_struct: &'static str,
    pub size: usize,
    /// (name, byte offset) of every field, in order.
    pub fields: Vec<(&'static str, usize)>,
}

/// Declares a `#[repr(C)]` params struct that mirrors a WGSL struct, with a `layout()`
/// that the layout test checks against naga's reflection of that struct.
macro_rules! wgsl_params {
    ($(#[$doc:meta])* $name:ident mirrors $wgsl:literal in $shader:ident {
        $($field:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl $name {
            pub fn layout() -> $crate::gpu::kernels::ParamsLayout {
                $crate::gpu::kernels::ParamsLayout {
                    shader: $crate::gpu::kernels::Shader::$shader,
                    wgsl_struct: $wgsl,
                    rust_struct: stringify!($name),
                    size: std::mem::size_of::<$name>(),
                    fields: vec![$((stringify!($field), std::mem::offset_of!($name, $field)),)*],
                }
            }
        }
    };
}
pub(crate) use wgsl_params;

/// Every params struct and the struct it mirrors, for the layout test: the families'
/// `Params`, and the per-step uniform, which every family that reads it declares through
/// shaders/parts/common.wgsl.
pub fn params_layouts() -> Vec<ParamsLayout> {
    use crate::ops::StepParams;
    use std::mem::offset_of;
    let step = ParamsLayout {
        shader: Shader::Optim,
        wgsl_struct: "Step",
        rust_struct: "StepParams",
        size: size_of::<StepParams>(),
        fields: vec![
            ("batch_start", offset_of!(StepParams, batch_start)),
            ("batch_len", offset_of!(StepParams, batch_len)),
            ("bias_correction1", offset_of!(StepParams, bias_correction1)),
            ("bias_correction2", offset_of!(StepParams, bias_correction2)),
        ],
    };
    vec![
        batch::BatchParams::layout(),
        matmul::MatmulParams::layout(),
        elementwise::ElementwiseParams::layout(),
        loss::LossParams::layout(),
        optim::AdamParams::layout(),
        conv2d::Conv2dParams::layout(),
        pool::PoolParams::layout(),
        peak::PeakParams::layout(),
        noise::NoiseParams::layout(),
        latent::LatentParams::layout(),
        step,
    ]
}

#[cfg(test)]
mod tests {
    use super::grid_1d;

    #[test]
    fn grid_covers_every_element_and_respects_the_dimension_limit() {
        assert_eq!(grid_1d(0), [1, 1, 1]);
        assert_eq!(grid_1d(256), [1, 1, 1]);
        assert_eq!(grid_1d(257), [2, 1, 1]);
        let big = 65535 * 256 + 1;
        let [x, y, _] = grid_1d(big);
        assert_eq!(x, 65535);
        assert!(x as usize * y as usize * 256 >= big);
    }
}
