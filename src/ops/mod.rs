//! The vocabulary the rest of the crate speaks: shapes (with their validation, output
//! sizes and lengths), the ops a model is built from, views into numbered buffers and the
//! per-step uniform. It depends on nothing else in the crate, so that the CPU reference
//! (`cpu/`), the GPU kernels (`gpu/`) and the models (`model/`) can all stand on it
//! without standing on each other.
//!
//! One file per kernel family, as in `shaders/` and `cpu/`. Each op is a struct that
//! implements [`OpDef`]; the [`Op`] enum gathers them. Adding an op means: its struct and
//! `OpDef` here, one name in the `ops!` list below, its reference in `cpu/<family>.rs`
//! with one arm in `cpu/backend.rs`, its WGSL entry point with one arm in
//! `gpu/kernels/mod.rs`. Both arms are in exhaustive matches, so an op that one backend
//! cannot run does not compile.

pub mod batch;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod elementwise;
pub mod latent;
pub mod loss;
pub mod matmul;
pub mod noise;
pub mod optim;
pub mod peak;
pub mod pool;

pub use batch::{GatherBatch, GatherRows};
pub use conv2d::{
    conv2d_backward_entry, Conv2dActForward, Conv2dBackward, Conv2dBackwardBias,
    Conv2dBackwardInput, Conv2dBackwardWeight, Conv2dForward, Conv2dShape, ConvBackwardInput,
    ConvBackwardWeight, ConvForward, ConvShape, FusedPool, InputGrad,
};
pub use conv_transpose2d::{
    ConvTranspose2dActForward, ConvTranspose2dBackward, ConvTranspose2dBackwardInput,
    ConvTranspose2dBackwardWeight, ConvTranspose2dForward, ConvTranspose2dShape,
};
pub use elementwise::{
    Activation, ActivationBackward, ActivationForward, BiasBackward, BiasForward,
};
pub use latent::{KlScores, L1Backward, ReparamKlBackward, ReparamKlForward};
pub use loss::{
    loss_totals, LossActBackward, LossBackward, LossForward, LossKind, RowScores, ScoreKind,
    LOSS_CHUNK,
};
pub use matmul::{BatchDim, Epilogue, Matmul, MatmulShape};
pub use noise::{Corrupt, NoiseKind};
pub use optim::{AdamConfig, AdamUpdate};
pub use peak::{PeakCopy, PeakFma, PeakRead};
pub use pool::{MaxPool2dBackward, MaxPool2dForward, Pool2dShape};

/// A shape no kernel can run, with a message in PyTorch's words where PyTorch has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

impl ShapeError {
    pub fn new(message: impl Into<String>) -> Self {
        ShapeError(message.into())
    }
}

pub type BufId = usize;

/// A run of 4-byte elements (f32 or u32) inside one buffer. Offsets of views that share a
/// buffer are kept at multiples of `VIEW_ALIGN` elements, as storage bindings require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub buf: BufId,
    pub offset: usize,
    pub len: usize,
}

/// 256 bytes: the largest `min_storage_buffer_offset_alignment` a device may demand.
pub const VIEW_ALIGN: usize = 64;

impl View {
    pub fn whole(buf: BufId, len: usize) -> View {
        View {
            buf,
            offset: 0,
            len,
        }
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// A buffer of 4-byte elements, zeroed when allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferSpec {
    pub name: String,
    pub len: usize,
}

/// Views 0, 1, 2, … of the given lengths: for an op whose views each own a buffer.
pub fn views(lens: &[usize]) -> Vec<View> {
    lens.iter()
        .enumerate()
        .map(|(i, &len)| View::whole(i, len))
        .collect()
}

/// What changes from one step to the next within a submission. Mirrors `Step` in
/// `shaders/parts/common.wgsl` (a test checks the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepParams {
    pub batch_start: u32,
    pub batch_len: u32,
    pub bias_correction1: f32,
    pub bias_correction2: f32,
}

/// How a kernel uses a buffer it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Every element overwritten: tests fill it with NaN first.
    Write,
    /// Read and updated in place (Adam's state, a running total).
    ReadWrite,
}

/// What the 4-byte elements of a binding hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    /// Integers: indices, or bytes packed four to a word. Compared exactly.
    U32,
}

/// One buffer an op binds, in binding order: inputs first, then outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: &'static str,
    pub view: View,
    /// The elements the op's shape needs the view to hold.
    pub len: usize,
    pub access: Access,
    pub elem: Elem,
}

/// A binding with its view borrowed from the op, so that one list serves to read the
/// views, to check their lengths and to move them (see `Op::map_views`).
pub struct Slot<'a> {
    pub name: &'static str,
    pub view: &'a mut View,
    pub len: usize,
    pub access: Access,
    pub elem: Elem,
}

impl<'a> Slot<'a> {
    pub fn input(name: &'static str, view: &'a mut View, len: usize) -> Self {
        Slot {
            name,
            view,
            len,
            access: Access::Read,
            elem: Elem::F32,
        }
    }

    pub fn output(name: &'static str, view: &'a mut View, len: usize) -> Self {
        Slot {
            access: Access::Write,
            ..Slot::input(name, view, len)
        }
    }

    pub fn in_place(name: &'static str, view: &'a mut View, len: usize) -> Self {
        Slot {
            access: Access::ReadWrite,
            ..Slot::input(name, view, len)
        }
    }

    /// Marks the binding as holding integers.
    pub fn u32s(self) -> Self {
        Slot {
            elem: Elem::U32,
            ..self
        }
    }
}

/// What every op says about itself. The CPU reference and the WGSL entry point of an op
/// share the name `entry`.
pub trait OpDef {
    fn entry(&self) -> &'static str;
    /// The buffers bound, in binding order: inputs (`Access::Read`) first, then outputs.
    fn slots(&mut self) -> Vec<Slot<'_>>;
    /// Named sizes, as the benchmark rows and the PyTorch peer describe the op.
    fn dims(&self) -> Vec<(&'static str, usize)>;
    /// Floating-point operations, a multiply-add counting two.
    fn flops(&self) -> f64;
    /// Refuses sizes no kernel can run (zero sizes, kernels larger than their input).
    fn validate(&self) -> Result<(), ShapeError> {
        Ok(())
    }
    /// Shrinks the batch dimension to `rows`, for a partial last batch; ops without one
    /// (Adam, a fixed-size product) stay as they are.
    fn set_rows(&mut self, _rows: usize) {}
    /// Whether the kernel reads the per-step uniform (batch start, Adam's corrections).
    fn uses_step(&self) -> bool {
        false
    }
    /// The least bytes any kernel must move: each binding read or written once, in-place
    /// state read and written.
    fn bytes(&mut self) -> f64 {
        self.slots()
            .iter()
            .map(|s| {
                s.len as f64
                    * if s.access == Access::ReadWrite {
                        8.0
                    } else {
                        4.0
                    }
            })
            .sum()
    }
    /// A short description of the sizes, for profiles.
    fn label(&self) -> String {
        let dims: Vec<String> = self.dims().iter().map(|(k, v)| format!("{k}{v}")).collect();
        dims.join(" ")
    }
}

/// Declares `Op`, one variant per op struct, and the delegation to `OpDef`.
macro_rules! ops {
    ($($name:ident),* $(,)?) => {
        /// One kernel launch. Inputs and outputs are views; an op never writes a buffer it
        /// reads, except its in-place bindings.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Op {
            $($name($name),)*
        }

        impl Op {
            /// The name of every kind of op, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$(stringify!($name),)*];

            /// This op's kind, one of `KINDS`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Op::$name(_) => stringify!($name),)*
                }
            }

            fn def(&self) -> &dyn OpDef {
                match self {
                    $(Op::$name(op) => op,)*
                }
            }

            fn def_mut(&mut self) -> &mut dyn OpDef {
                match self {
                    $(Op::$name(op) => op,)*
                }
            }
        }

        $(
            impl From<$name> for Op {
                fn from(op: $name) -> Op {
                    Op::$name(op)
                }
            }
        )*
    };
}

ops!(
    GatherBatch,
    GatherRows,
    Matmul,
    BiasForward,
    BiasBackward,
    ActivationForward,
    ActivationBackward,
    LossForward,
    LossBackward,
    LossActBackward,
    AdamUpdate,
    Conv2dForward,
    Conv2dBackwardInput,
    Conv2dBackwardWeight,
    Conv2dBackwardBias,
    MaxPool2dForward,
    MaxPool2dBackward,
    ConvTranspose2dForward,
    ConvTranspose2dBackwardInput,
    ConvTranspose2dBackwardWeight,
    PeakFma,
    PeakCopy,
    PeakRead,
    Corrupt,
    Conv2dActForward,
    Conv2dBackward,
    ConvTranspose2dActForward,
    ConvTranspose2dBackward,
    ReparamKlForward,
    ReparamKlBackward,
    L1Backward,
    RowScores,
    KlScores,
);

impl Op {
    /// The CPU reference function and WGSL entry point (or family of variants) it runs.
    pub fn entry(&self) -> &'static str {
        self.def().entry()
    }

    /// Every buffer bound, in binding order.
    pub fn bindings(&self) -> Vec<Binding> {
        let mut op = self.clone();
        op.def_mut()
            .slots()
            .into_iter()
            .map(|s| Binding {
                name: s.name,
                view: *s.view,
                len: s.len,
                access: s.access,
                elem: s.elem,
            })
            .collect()
    }

    /// Views read and not written.
    pub fn inputs(&self) -> Vec<View> {
        let bindings = self.bindings();
        let read = bindings.iter().filter(|b| b.access == Access::Read);
        read.map(|b| b.view).collect()
    }

    /// Views written (in place or overwritten).
    pub fn outputs(&self) -> Vec<View> {
        let bindings = self.bindings();
        let written = bindings.iter().filter(|b| b.access != Access::Read);
        written.map(|b| b.view).collect()
    }

    /// The same op with every view passed through `f`, in binding order.
    pub fn map_views(&self, mut f: impl FnMut(View) -> View) -> Op {
        let mut op = self.clone();
        for slot in op.def_mut().slots() {
            *slot.view = f(*slot.view);
        }
        op
    }

    /// The same op on views 0, 1, 2, … that each own a buffer of exactly the length the
    /// op needs: how tests and benchmarks run one op of a model on its own.
    pub fn standalone(&self) -> Op {
        let lens: Vec<usize> = self.bindings().iter().map(|b| b.len).collect();
        let mut fresh = views(&lens).into_iter();
        self.map_views(|_| fresh.next().expect("one view per binding"))
    }

    /// The op for a batch of `rows` instead of the one it was built for.
    pub fn with_rows(&self, rows: usize) -> Op {
        let mut op = self.clone();
        op.def_mut().set_rows(rows);
        op
    }

    /// Checks the shape, and that every view is non-empty and holds at least what the
    /// shape needs (exactly that much when `exact`, as at the size a program was built
    /// for). Both backends call this before running anything.
    pub fn validate(&self, exact: bool) -> Result<(), ShapeError> {
        let entry = self.entry();
        self.def()
            .validate()
            .map_err(|e| ShapeError::new(format!("{entry}: {e}")))?;
        for b in self.bindings() {
            let fits = if exact {
                b.view.len == b.len
            } else {
                b.view.len >= b.len
            };
            if b.len == 0 || !fits {
                return Err(ShapeError::new(format!(
                    "{entry}: binding '{}' needs {} elements, its view holds {}",
                    b.name, b.len, b.view.len
                )));
            }
        }
        Ok(())
    }

    pub fn dims(&self) -> Vec<(&'static str, usize)> {
        self.def().dims()
    }

    pub fn flops(&self) -> f64 {
        self.def().flops()
    }

    pub fn bytes(&self) -> f64 {
        self.clone().def_mut().bytes()
    }

    pub fn label(&self) -> String {
        self.def().label()
    }

    pub fn uses_step(&self) -> bool {
        self.def().uses_step()
    }
}
