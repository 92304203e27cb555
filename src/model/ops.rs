//! The operation list that both backends execute. A model is built once into a list of
//! `Op`s over numbered buffers; the GPU backend turns each op into a pipeline, a params
//! uniform and a bind group once, and the CPU backend calls the reference function of the
//! same name. That is what lets one graph train on either and be compared step by step.

use crate::cpu::conv2d::Conv2dShape;
use crate::cpu::conv_transpose2d::ConvTranspose2dShape;
use crate::cpu::matmul::MatmulShape;
use crate::cpu::optim::AdamConfig;
use crate::cpu::pool::Pool2dShape;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Sigmoid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    Mse,
    Bce,
}

/// Which WGSL matmul entry point runs a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    Naive,
    Tiled,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 2] = [MatmulVariant::Naive, MatmulVariant::Tiled];

    pub fn entry(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "matmul_naive",
            MatmulVariant::Tiled => "matmul_tiled",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Naive => "naive",
            MatmulVariant::Tiled => "tiled",
        }
    }

    /// The tiled kernel wins once a product fills its 64×64 tiles; for thin products
    /// (a dimension below 16) most of each tile would be padding.
    pub fn for_shape(s: &MatmulShape) -> MatmulVariant {
        if s.m.min(s.n) < 16 {
            MatmulVariant::Naive
        } else {
            MatmulVariant::Tiled
        }
    }
}

/// One kernel launch. Inputs and outputs are views; an op never writes a buffer it reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// data (bytes), perm -> x (rows, cols); the batch's start comes from the step.
    GatherBatch {
        data: View,
        perm: View,
        x: View,
        rows: usize,
        cols: usize,
    },
    Matmul {
        a: View,
        b: View,
        c: View,
        shape: MatmulShape,
        variant: MatmulVariant,
    },
    BiasForward {
        x: View,
        b: View,
        y: View,
        rows: usize,
        cols: usize,
    },
    BiasBackward {
        dy: View,
        db: View,
        rows: usize,
        cols: usize,
    },
    ActivationForward {
        act: Activation,
        x: View,
        y: View,
    },
    ActivationBackward {
        act: Activation,
        y: View,
        dy: View,
        dx: View,
    },
    /// loss = mean over y, and total += loss · rows.
    LossForward {
        loss: LossKind,
        y: View,
        t: View,
        value: View,
        total: View,
        rows: usize,
    },
    LossBackward {
        loss: LossKind,
        y: View,
        t: View,
        dy: View,
    },
    /// The bias corrections come from the step.
    AdamUpdate {
        grad: View,
        param: View,
        m: View,
        v: View,
        config: AdamConfig,
    },
    Conv2dForward {
        x: View,
        w: View,
        b: View,
        y: View,
        shape: Conv2dShape,
    },
    Conv2dBackwardInput {
        dy: View,
        w: View,
        dx: View,
        shape: Conv2dShape,
    },
    Conv2dBackwardWeight {
        x: View,
        dy: View,
        dw: View,
        shape: Conv2dShape,
    },
    /// dy (N,O,HW) -> db (O); also the bias gradient of a transposed convolution.
    Conv2dBackwardBias {
        dy: View,
        db: View,
        n: usize,
        o: usize,
        hw: usize,
    },
    MaxPool2dForward {
        x: View,
        y: View,
        idx: View,
        shape: Pool2dShape,
    },
    MaxPool2dBackward {
        dy: View,
        idx: View,
        dx: View,
        shape: Pool2dShape,
    },
    ConvTranspose2dForward {
        x: View,
        w: View,
        b: View,
        y: View,
        shape: ConvTranspose2dShape,
    },
    ConvTranspose2dBackwardInput {
        dy: View,
        w: View,
        dx: View,
        shape: ConvTranspose2dShape,
    },
    ConvTranspose2dBackwardWeight {
        x: View,
        dy: View,
        dw: View,
        shape: ConvTranspose2dShape,
    },
}

impl Op {
    /// The WGSL entry point (and CPU reference function) this op runs.
    pub fn entry(&self) -> &'static str {
        match self {
            Op::GatherBatch { .. } => "gather_batch",
            Op::Matmul { variant, .. } => variant.entry(),
            Op::BiasForward { .. } => "bias_forward",
            Op::BiasBackward { .. } => "bias_backward",
            Op::ActivationForward {
                act: Activation::Relu,
                ..
            } => "relu_forward",
            Op::ActivationForward {
                act: Activation::Sigmoid,
                ..
            } => "sigmoid_forward",
            Op::ActivationBackward {
                act: Activation::Relu,
                ..
            } => "relu_backward",
            Op::ActivationBackward {
                act: Activation::Sigmoid,
                ..
            } => "sigmoid_backward",
            Op::LossForward {
                loss: LossKind::Mse,
                ..
            } => "mse_forward",
            Op::LossForward {
                loss: LossKind::Bce,
                ..
            } => "bce_forward",
            Op::LossBackward {
                loss: LossKind::Mse,
                ..
            } => "mse_backward",
            Op::LossBackward {
                loss: LossKind::Bce,
                ..
            } => "bce_backward",
            Op::AdamUpdate { .. } => "adam_update",
            Op::Conv2dForward { .. } => "conv2d_forward",
            Op::Conv2dBackwardInput { .. } => "conv2d_backward_input",
            Op::Conv2dBackwardWeight { .. } => "conv2d_backward_weight",
            Op::Conv2dBackwardBias { .. } => "conv2d_backward_bias",
            Op::MaxPool2dForward { .. } => "max_pool2d_forward",
            Op::MaxPool2dBackward { .. } => "max_pool2d_backward",
            Op::ConvTranspose2dForward { .. } => "conv_transpose2d_forward",
            Op::ConvTranspose2dBackwardInput { .. } => "conv_transpose2d_backward_input",
            Op::ConvTranspose2dBackwardWeight { .. } => "conv_transpose2d_backward_weight",
        }
    }

    /// Views read, in binding order.
    pub fn inputs(&self) -> Vec<View> {
        match *self {
            Op::GatherBatch { data, perm, .. } => vec![data, perm],
            Op::Matmul { a, b, .. } => vec![a, b],
            Op::BiasForward { x, b, .. } => vec![x, b],
            Op::BiasBackward { dy, .. } => vec![dy],
            Op::ActivationForward { x, .. } => vec![x],
            Op::ActivationBackward { y, dy, .. } => vec![y, dy],
            Op::LossForward { y, t, .. } | Op::LossBackward { y, t, .. } => vec![y, t],
            Op::AdamUpdate { grad, .. } => vec![grad],
            Op::Conv2dForward { x, w, b, .. } | Op::ConvTranspose2dForward { x, w, b, .. } => {
                vec![x, w, b]
            }
            Op::Conv2dBackwardInput { dy, w, .. }
            | Op::ConvTranspose2dBackwardInput { dy, w, .. } => vec![dy, w],
            Op::Conv2dBackwardWeight { x, dy, .. }
            | Op::ConvTranspose2dBackwardWeight { x, dy, .. } => vec![x, dy],
            Op::Conv2dBackwardBias { dy, .. } => vec![dy],
            Op::MaxPool2dForward { x, .. } => vec![x],
            Op::MaxPool2dBackward { dy, idx, .. } => vec![dy, idx],
        }
    }

    /// Views written, in binding order after the inputs.
    pub fn outputs(&self) -> Vec<View> {
        match *self {
            Op::GatherBatch { x, .. } => vec![x],
            Op::Matmul { c, .. } => vec![c],
            Op::BiasForward { y, .. } | Op::ActivationForward { y, .. } => vec![y],
            Op::BiasBackward { db, .. } | Op::Conv2dBackwardBias { db, .. } => vec![db],
            Op::ActivationBackward { dx, .. } => vec![dx],
            Op::LossForward { value, total, .. } => vec![value, total],
            Op::LossBackward { dy, .. } => vec![dy],
            Op::AdamUpdate { param, m, v, .. } => vec![param, m, v],
            Op::Conv2dForward { y, .. } | Op::ConvTranspose2dForward { y, .. } => vec![y],
            Op::Conv2dBackwardInput { dx, .. } | Op::ConvTranspose2dBackwardInput { dx, .. } => {
                vec![dx]
            }
            Op::Conv2dBackwardWeight { dw, .. } | Op::ConvTranspose2dBackwardWeight { dw, .. } => {
                vec![dw]
            }
            Op::MaxPool2dForward { y, idx, .. } => vec![y, idx],
            Op::MaxPool2dBackward { dx, .. } => vec![dx],
        }
    }

    /// Whether the op reads the per-step uniform (batch start, Adam's bias corrections).
    pub fn uses_step(&self) -> bool {
        matches!(self, Op::GatherBatch { .. } | Op::AdamUpdate { .. })
    }
}

/// What changes from one step to the next within a submission. Mirrors `Step` in
/// `shaders/batch.wgsl` and `shaders/optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepParams {
    pub batch_start: u32,
    pub batch_len: u32,
    pub bias_correction1: f32,
    pub bias_correction2: f32,
}

/// Work and traffic of each op, for GFLOP/s and GB/s in benchmarks and profiles.
/// FLOPs count a multiply-add as two, and one per element for the elementwise ops (a
/// compare for ReLU and max-pool, an add for bias). Bytes are the minimum any kernel must
/// move: every input read once and every output written once (in-place state twice).
impl Op {
    pub fn flops(&self) -> f64 {
        let f = |v: usize| v as f64;
        match self {
            Op::GatherBatch { rows, cols, .. } => f(rows * cols), // one scale per pixel
            Op::Matmul { shape, .. } => shape.flops(),            // 2·M·K·N
            Op::BiasForward { y, .. } => f(y.len),
            Op::BiasBackward { dy, .. } => f(dy.len),
            // max(x, 0) / select; sigmoid: exp, add, divide and negate
            Op::ActivationForward { act, y, .. } => {
                f(y.len) * if *act == Activation::Relu { 1.0 } else { 4.0 }
            }
            Op::ActivationBackward { act, dx, .. } => {
                f(dx.len) * if *act == Activation::Relu { 1.0 } else { 3.0 }
            }
            // difference, square (or two logs and a blend for BCE), sum
            Op::LossForward { loss, y, .. } => {
                f(y.len) * if *loss == LossKind::Mse { 3.0 } else { 6.0 }
            }
            Op::LossBackward { dy, .. } => f(dy.len) * 3.0,
            // two moment updates, a square root, a divide and the step: about 12 per element
            Op::AdamUpdate { param, .. } => f(param.len) * 12.0,
            // 2·N·O·OH·OW·C·KH·KW for each of the three conv2d products
            Op::Conv2dForward { shape: s, .. }
            | Op::Conv2dBackwardInput { shape: s, .. }
            | Op::Conv2dBackwardWeight { shape: s, .. } => {
                2.0 * f(s.n * s.o * s.out_h() * s.out_w()) * f(s.c * s.kh * s.kw)
            }
            Op::Conv2dBackwardBias { dy, .. } => f(dy.len),
            // K·K compares per output; the backward adds each gradient once
            Op::MaxPool2dForward { shape: s, .. } => f(s.y_len() * s.k * s.k),
            Op::MaxPool2dBackward { shape: s, .. } => f(s.y_len()),
            // 2·N·C·H·W·O·KH·KW, counted on the (smaller) input, as PyTorch's peer does
            Op::ConvTranspose2dForward { shape: s, .. }
            | Op::ConvTranspose2dBackwardInput { shape: s, .. }
            | Op::ConvTranspose2dBackwardWeight { shape: s, .. } => {
                2.0 * f(s.n * s.c * s.h * s.w) * f(s.o * s.kh * s.kw)
            }
        }
    }

    pub fn bytes(&self) -> f64 {
        let words = |views: Vec<View>| views.iter().map(|v| v.len).sum::<usize>() as f64 * 4.0;
        match self {
            // Only the gathered rows of the dataset are read, a byte per pixel.
            Op::GatherBatch { rows, cols, .. } => (rows * cols) as f64 * 5.0 + *rows as f64 * 4.0,
            // Parameters and moments are read and written back; the gradient only read.
            Op::AdamUpdate { param, .. } => param.len as f64 * 4.0 * 7.0,
            _ => words(self.inputs()) + words(self.outputs()),
        }
    }
}

impl Op {
    /// A short description of the op's shape, for profiles.
    pub fn shape_label(&self) -> String {
        match self {
            Op::GatherBatch { rows, cols, .. } => format!("{rows}x{cols}"),
            Op::Matmul { shape: s, .. } => {
                let t = |b: bool| if b { "T" } else { "N" };
                format!("[{},{},{}] {}{}", s.m, s.k, s.n, t(s.trans_a), t(s.trans_b))
            }
            Op::BiasForward { rows, cols, .. } | Op::BiasBackward { rows, cols, .. } => {
                format!("{rows}x{cols}")
            }
            Op::ActivationForward { y: v, .. } | Op::ActivationBackward { dx: v, .. } => {
                format!("{}", v.len)
            }
            Op::LossForward { y, .. } | Op::LossBackward { y, .. } => format!("{}", y.len),
            Op::AdamUpdate { param, .. } => format!("{}", param.len),
            Op::Conv2dForward { shape: s, .. }
            | Op::Conv2dBackwardInput { shape: s, .. }
            | Op::Conv2dBackwardWeight { shape: s, .. } => {
                format!(
                    "[{},{},{},{}]->{} k{} s{} p{}",
                    s.n, s.c, s.h, s.w, s.o, s.kh, s.stride, s.pad
                )
            }
            Op::Conv2dBackwardBias { n, o, hw, .. } => format!("[{n},{o},{hw}]"),
            Op::MaxPool2dForward { shape: s, .. } | Op::MaxPool2dBackward { shape: s, .. } => {
                format!("[{},{},{},{}] k{} s{}", s.n, s.c, s.h, s.w, s.k, s.stride)
            }
            Op::ConvTranspose2dForward { shape: s, .. }
            | Op::ConvTranspose2dBackwardInput { shape: s, .. }
            | Op::ConvTranspose2dBackwardWeight { shape: s, .. } => {
                format!(
                    "[{},{},{},{}]->{} k{} s{} p{} op{}",
                    s.n, s.c, s.h, s.w, s.o, s.kh, s.stride, s.pad, s.out_pad
                )
            }
        }
    }
}
