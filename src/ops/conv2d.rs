//! The conv2d family: 2-D convolution (PyTorch `Conv2d`, no dilation, no groups) with
//! square stride and padding, and its three gradients; and the fused stage ops: a conv
//! with its bias, activation and max-pool in one pass forward, and all of a conv's
//! gradients (weight, bias, and input carried on through the stage below) in one pass
//! backward.

use super::{Activation, OpDef, Pool2dShape, ShapeError, Slot, View};

/// Sizes of one conv2d call. Activations are NCHW, the weight is (O, C, KH, KW).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

/// `(size + 2*pad - k) / stride + 1`, or 0 where that is not a positive size, so that
/// the length helpers never panic on a shape `validate` would reject.
fn conv_out(size: usize, k: usize, stride: usize, pad: usize) -> usize {
    if stride == 0 || size + 2 * pad < k {
        return 0;
    }
    (size + 2 * pad - k) / stride + 1
}

impl Conv2dShape {
    pub fn out_h(&self) -> usize {
        conv_out(self.h, self.kh, self.stride, self.pad)
    }

    pub fn out_w(&self) -> usize {
        conv_out(self.w, self.kw, self.stride, self.pad)
    }

    pub fn validate(&self) -> Result<(), ShapeError> {
        let sizes = [self.n, self.c, self.h, self.w, self.o, self.kh, self.kw];
        check_sizes("conv2d", self, sizes, self.stride)?;
        let (ph, pw) = (self.h + 2 * self.pad, self.w + 2 * self.pad);
        if ph < self.kh || pw < self.kw {
            return Err(ShapeError::new(format!(
                "conv2d: calculated padded input size per channel: ({ph} x {pw}). \
                 Kernel size: ({} x {}). Kernel size can't be greater than actual input size",
                self.kh, self.kw
            )));
        }
        Ok(())
    }

    pub fn x_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn w_len(&self) -> usize {
        self.o * self.c * self.kh * self.kw
    }

    pub fn y_len(&self) -> usize {
        self.n * self.o * self.out_h() * self.out_w()
    }
}

/// The checks both conv layers make first, in PyTorch's words: `sizes` (n, c, h, w, o, kh,
/// kw) positive, and the stride.
pub(super) fn check_sizes(
    layer: &str,
    shape: &dyn std::fmt::Debug,
    sizes: [usize; 7],
    stride: usize,
) -> Result<(), ShapeError> {
    let names = [
        "batch size",
        "input channels",
        "input height",
        "input width",
        "output channels",
        "kernel height",
        "kernel width",
    ];
    if let Some((name, _)) = names.iter().zip(sizes).find(|&(_, v)| v == 0) {
        return Err(ShapeError::new(format!(
            "{layer}: {name} must be positive, got 0 (shape {shape:?})"
        )));
    }
    if stride == 0 {
        return Err(ShapeError::new(format!(
            "{layer}: non-positive stride is not supported (stride {stride})"
        )));
    }
    Ok(())
}

/// What the conv ops need of a layer's sizes, a conv2d's or a transposed conv's: its
/// tensors' lengths, checks and names, and the conv2d whose kernels run it. Each conv op
/// is one struct generic over it, so that `Conv2d*` and `ConvTranspose2d*` ops share their
/// definitions, and the GPU runs both layers on conv2d's kernels.
pub trait ConvShape: Copy + std::fmt::Debug + PartialEq {
    /// The entry points (and reference functions) of the layer's forward, input gradient
    /// and weight gradient.
    const ENTRIES: [&'static str; 3];
    /// Whether the layer is the adjoint of `conv2d()` (a transposed conv) rather than it.
    const TRANSPOSED: bool;

    /// The conv2d whose kernels run the layer: the layer itself, or for a transposed conv
    /// the conv2d whose input has the transposed conv's output size and whose output has
    /// its input size, reading the same weight memory as (O, C, KH, KW).
    fn conv2d(&self) -> Conv2dShape;
    /// The layer's input x as (N, C, H, W).
    fn input(&self) -> [usize; 4];
    /// Its output channels: the bias's length.
    fn out_channels(&self) -> usize;
    fn set_batch(&mut self, n: usize);
    fn validate(&self) -> Result<(), ShapeError>;
    /// Named sizes, as benchmark rows give them to the PyTorch peer.
    fn dims(&self) -> Vec<(&'static str, usize)>;
    /// `[N,C,H,W]->O k3 s1 p1`, and a transposed conv's output padding.
    fn label(&self) -> String;
    fn y_len(&self) -> usize;

    /// The weight's length, the conv2d's (a transposed conv's is the same memory).
    fn w_len(&self) -> usize {
        self.conv2d().w_len()
    }

    fn x_len(&self) -> usize {
        self.input().iter().product()
    }

    /// 2·N·O·OH·OW·C·KH·KW of the conv2d: the same for the forward and both gradients.
    fn flops(&self) -> f64 {
        let s = self.conv2d();
        2.0 * (s.n * s.o * s.out_h() * s.out_w()) as f64 * (s.c * s.kh * s.kw) as f64
    }
}

impl ConvShape for Conv2dShape {
    const ENTRIES: [&'static str; 3] = [
        "conv2d_forward",
        "conv2d_backward_input",
        "conv2d_backward_weight",
    ];
    const TRANSPOSED: bool = false;

    fn conv2d(&self) -> Conv2dShape {
        *self
    }

    fn input(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    fn out_channels(&self) -> usize {
        self.o
    }

    fn set_batch(&mut self, n: usize) {
        self.n = n;
    }

    fn validate(&self) -> Result<(), ShapeError> {
        Conv2dShape::validate(self)
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        layer_dims(
            self.input(),
            self.o,
            [self.kh, self.kw, self.stride, self.pad],
        )
    }

    fn label(&self) -> String {
        layer_label(self.input(), self.o, [self.kh, self.stride, self.pad])
    }

    fn y_len(&self) -> usize {
        Conv2dShape::y_len(self)
    }
}

/// A conv layer's sizes by name: its input (n, c, h, w), its output channels, and its
/// kernel's (kh, kw, stride, pad).
pub(super) fn layer_dims(
    [n, c, h, w]: [usize; 4],
    o: usize,
    [kh, kw, stride, pad]: [usize; 4],
) -> Vec<(&'static str, usize)> {
    let sizes = [n, c, h, w, o, kh, kw, stride, pad];
    let names = ["n", "c", "h", "w", "o", "kh", "kw", "stride", "pad"];
    names.into_iter().zip(sizes).collect()
}

/// `[N,C,H,W]->O k3 s1 p1`, from the input, the output channels and (k, stride, pad).
pub(super) fn layer_label([n, c, h, w]: [usize; 4], o: usize, [k, s, p]: [usize; 3]) -> String {
    format!("[{n},{c},{h},{w}]->{o} k{k} s{s} p{p}")
}

/// The parts of `OpDef` an unfused conv op takes from its shape as they are: sizes,
/// work, checks, batch and label.
macro_rules! sized_by_shape {
    () => {
        fn dims(&self) -> Vec<(&'static str, usize)> {
            self.shape.dims()
        }

        fn flops(&self) -> f64 {
            self.shape.flops()
        }

        fn validate(&self) -> Result<(), ShapeError> {
            self.shape.validate()
        }

        fn set_rows(&mut self, rows: usize) {
            self.shape.set_batch(rows);
        }

        fn label(&self) -> String {
            self.shape.label()
        }
    };
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW); transposed, w (C,O,KH,KW)
/// A conv layer's forward (`Conv2dForward`, `ConvTranspose2dForward`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvForward<S> {
    pub x: View,
    pub w: View,
    pub b: View,
    pub y: View,
    pub shape: S,
}

pub type Conv2dForward = ConvForward<Conv2dShape>;

impl<S: ConvShape> OpDef for ConvForward<S> {
    fn entry(&self) -> &'static str {
        S::ENTRIES[0]
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("w", &mut self.w, s.w_len()),
            Slot::input("b", &mut self.b, s.out_channels()),
            Slot::output("y", &mut self.y, s.y_len()),
        ]
    }

    sized_by_shape!();
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W); transposed, w (C,O,KH,KW)
/// A conv layer's input gradient (`Conv2dBackwardInput`, `ConvTranspose2dBackwardInput`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvBackwardInput<S> {
    pub dy: View,
    pub w: View,
    pub dx: View,
    pub shape: S,
}

pub type Conv2dBackwardInput = ConvBackwardInput<Conv2dShape>;

impl<S: ConvShape> OpDef for ConvBackwardInput<S> {
    fn entry(&self) -> &'static str {
        S::ENTRIES[1]
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("dy", &mut self.dy, s.y_len()),
            Slot::input("w", &mut self.w, s.w_len()),
            Slot::output("dx", &mut self.dx, s.x_len()),
        ]
    }

    sized_by_shape!();
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW); transposed, dw (C,O,KH,KW)
/// A conv layer's weight gradient (`Conv2dBackwardWeight`, `ConvTranspose2dBackwardWeight`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvBackwardWeight<S> {
    pub x: View,
    pub dy: View,
    pub dw: View,
    pub shape: S,
}

pub type Conv2dBackwardWeight = ConvBackwardWeight<Conv2dShape>;

impl<S: ConvShape> OpDef for ConvBackwardWeight<S> {
    fn entry(&self) -> &'static str {
        S::ENTRIES[2]
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("dy", &mut self.dy, s.y_len()),
            Slot::output("dw", &mut self.dw, s.w_len()),
        ]
    }

    sized_by_shape!();
}

// dy (N,O,HW) -> db (O); also the bias gradient of a transposed convolution
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dBackwardBias {
    pub dy: View,
    pub db: View,
    pub n: usize,
    pub o: usize,
    pub hw: usize,
}

impl OpDef for Conv2dBackwardBias {
    fn entry(&self) -> &'static str {
        "conv2d_backward_bias"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (len, o) = (self.n * self.o * self.hw, self.o);
        vec![
            Slot::input("dy", &mut self.dy, len),
            Slot::output("db", &mut self.db, o),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("n", self.n), ("o", self.o), ("hw", self.hw)]
    }

    fn flops(&self) -> f64 {
        (self.n * self.o * self.hw) as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.n = rows;
    }
}

impl Conv2dShape {
    /// A max-pool over this conv's output.
    pub fn pool(&self, k: usize, stride: usize) -> Pool2dShape {
        Pool2dShape {
            n: self.n,
            c: self.o,
            h: self.out_h(),
            w: self.out_w(),
            k,
            stride,
        }
    }
}

/// Taps along a row that the fused weight gradients keep in registers per workgroup.
pub const MAX_FUSED_KW: usize = 16;
/// Outputs (channels × pool window) a fused forward invocation keeps in registers.
pub const MAX_FUSED_OUTPUTS: usize = 64;

/// A max-pool fused after a stage's activation: its window and stride (no padding, floor
/// mode), and where its argmax indices go (h·W + w within each plane, as
/// `MaxPool2dForward` writes them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedPool {
    pub idx: View,
    pub k: usize,
    pub stride: usize,
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW), or y, idx (N,O,PH,PW) when pooled
/// A conv stage forward in one pass: conv2d, bias, activation, and the max-pool after it
/// if any, with its argmax kept for the backward.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dActForward {
    pub x: View,
    pub w: View,
    pub b: View,
    pub y: View,
    pub shape: Conv2dShape,
    pub act: Activation,
    pub pool: Option<FusedPool>,
}

impl Conv2dActForward {
    /// The pool's shape, if the stage has one.
    pub fn pool_shape(&self) -> Option<Pool2dShape> {
        self.pool.map(|p| self.shape.pool(p.k, p.stride))
    }

    fn y_len(&self) -> usize {
        self.pool_shape().map_or(self.shape.y_len(), |p| p.y_len())
    }
}

impl OpDef for Conv2dActForward {
    fn entry(&self) -> &'static str {
        match self.pool {
            None => "conv2d_act_forward",
            Some(_) => "conv2d_act_pool_forward",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (s, y_len) = (self.shape, self.y_len());
        let mut slots = vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("w", &mut self.w, s.w_len()),
            Slot::input("b", &mut self.b, s.o),
            Slot::output("y", &mut self.y, y_len),
        ];
        if let Some(pool) = &mut self.pool {
            slots.push(Slot::output("idx", &mut pool.idx, y_len).u32s());
        }
        slots
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        act_forward_dims(&self.shape, self.act, self.pool_shape())
    }

    fn flops(&self) -> f64 {
        act_forward_flops(&self.shape, self.act, self.pool_shape())
    }

    fn validate(&self) -> Result<(), ShapeError> {
        Conv2dShape::validate(&self.shape)?;
        if let Some(p) = self.pool_shape() {
            p.validate()?;
            if p.k * p.k > MAX_FUSED_OUTPUTS {
                return Err(ShapeError::new(format!(
                    "conv2d_act_pool_forward: a {0}×{0} pool window is more than the fused kernel holds ({MAX_FUSED_OUTPUTS} outputs)",
                    p.k
                )));
            }
        }
        Ok(())
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    /// `[N,C,H,W]->O k3 s1 p1 relu pool2`
    fn label(&self) -> String {
        let pool = self.pool.map_or(String::new(), |p| format!(" pool{}", p.k));
        format!("{} {}{pool}", self.shape.label(), self.act.name())
    }
}

/// A fused forward's sizes: the layer's, the activation (`Activation::code`), and the
/// pool's window and stride if any.
pub(super) fn act_forward_dims<S: ConvShape>(
    shape: &S,
    act: Activation,
    pool: Option<Pool2dShape>,
) -> Vec<(&'static str, usize)> {
    let mut dims = shape.dims();
    dims.push(("act", act.code()));
    if let Some(p) = pool {
        dims.extend([("pool_k", p.k), ("pool_stride", p.stride)]);
    }
    dims
}

/// A fused forward's work: the conv's, an activation per conv output, and a compare per
/// pooled element.
pub(super) fn act_forward_flops<S: ConvShape>(
    shape: &S,
    act: Activation,
    pool: Option<Pool2dShape>,
) -> f64 {
    let conv_out = shape.y_len() as f64;
    let pool = pool.map_or(0.0, |p| (p.y_len() * p.k * p.k) as f64);
    shape.flops() + conv_out * (1.0 + act.flops()) + pool
}

/// How a layer's input gradient is carried on to the stage below it, whose output the
/// layer's input is; the result is the gradient of that stage's pre-activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputGrad {
    /// The input is an activation's output: dx ⊙ act'(x).
    Act { dx: View, act: Activation },
    /// The input is the output of a max-pool (`pool`, argmax `idx`) over an activation's
    /// output: the gradient routed back through the argmax and the activation, at the
    /// size of the pool's input.
    PoolAct {
        dx: View,
        act: Activation,
        idx: View,
        pool: Pool2dShape,
    },
}

impl InputGrad {
    /// dx's length for a layer input of `x_len` elements.
    pub fn dx_len(&self, x_len: usize) -> usize {
        match self {
            InputGrad::Act { .. } => x_len,
            InputGrad::PoolAct { pool, .. } => pool.x_len(),
        }
    }

    pub fn act(&self) -> Activation {
        match *self {
            InputGrad::Act { act, .. } | InputGrad::PoolAct { act, .. } => act,
        }
    }

    /// The bindings it adds: the argmax (an input) and dx (an output), in binding order
    /// around the layer's own outputs.
    pub(super) fn slots(&mut self, x_len: usize) -> (Option<Slot<'_>>, Slot<'_>) {
        let len = self.dx_len(x_len);
        match self {
            InputGrad::Act { dx, .. } => (None, Slot::output("dx", dx, len)),
            InputGrad::PoolAct { dx, idx, pool, .. } => {
                let idx_len = pool.y_len();
                (
                    Some(Slot::input("idx", idx, idx_len).u32s()),
                    Slot::output("dx", dx, len),
                )
            }
        }
    }

    /// The pool's input-side sizes follow the batch too.
    pub(super) fn set_rows(&mut self, rows: usize) {
        if let InputGrad::PoolAct { pool, .. } = self {
            pool.n = rows;
        }
    }

    /// Checks that the stage below's output is the layer's input (n, c, h, w).
    pub(super) fn validate(
        &self,
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<(), ShapeError> {
        if let InputGrad::PoolAct { pool, .. } = self {
            pool.validate()?;
            let out = (pool.n, pool.c, pool.out_h(), pool.out_w());
            if out != (n, c, h, w) {
                return Err(ShapeError::new(format!(
                    "the pool below gives {out:?}, the layer takes {:?}",
                    (n, c, h, w)
                )));
            }
        }
        Ok(())
    }

    pub(super) fn label(&self) -> String {
        match self {
            InputGrad::Act { act, .. } => format!(" dx·{}'", act.name()),
            InputGrad::PoolAct { act, pool, .. } => {
                format!(" dx·pool{}·{}'", pool.k, act.name())
            }
        }
    }
}

// x (N,C,H,W), dy (N,O,OH,OW), w (O,C,KH,KW) [, idx] -> dw (O,C,KH,KW), db (O) [, dx]
/// All of a conv's gradients in one dispatch: the weight and bias gradients (one
/// workgroup per weight row), and the input gradient carried on through the stage below
/// (`dx`; none for the first layer), from `dy`, the gradient of the conv's output (before
/// its activation).
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dBackward {
    pub x: View,
    pub dy: View,
    pub w: View,
    pub dw: View,
    pub db: View,
    pub dx: Option<InputGrad>,
    pub shape: Conv2dShape,
}

impl OpDef for Conv2dBackward {
    fn entry(&self) -> &'static str {
        conv2d_backward_entry(self.dx.as_ref())
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let views = BackwardViews {
            x: &mut self.x,
            dy: &mut self.dy,
            w: &mut self.w,
            dw: &mut self.dw,
            db: &mut self.db,
        };
        views.slots(self.shape, self.dx.as_mut())
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        backward_dims(&self.shape, self.dx.as_ref())
    }

    fn flops(&self) -> f64 {
        backward_flops(&self.shape, self.dx.as_ref())
    }

    fn validate(&self) -> Result<(), ShapeError> {
        backward_validate(&self.shape, self.dx.as_ref(), self.entry())
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
        if let Some(grad) = &mut self.dx {
            grad.set_rows(rows);
        }
    }

    fn label(&self) -> String {
        let dx = self.dx.map_or(String::new(), |g| g.label());
        format!("{}{dx}", self.shape.label())
    }
}

/// The entry point of conv2d's fused backward that carries the input gradient on as
/// `dx` says (none: only the weight and bias gradients). A transposed conv's fused
/// backward runs the same one.
pub fn conv2d_backward_entry(dx: Option<&InputGrad>) -> &'static str {
    match dx {
        None => "conv2d_backward_params",
        Some(InputGrad::Act { .. }) => "conv2d_backward_act",
        Some(InputGrad::PoolAct { .. }) => "conv2d_backward_pool_act",
    }
}

/// A fused backward's own views, borrowed to list its bindings.
pub(super) struct BackwardViews<'a> {
    pub x: &'a mut View,
    pub dy: &'a mut View,
    pub w: &'a mut View,
    pub dw: &'a mut View,
    pub db: &'a mut View,
}

impl<'a> BackwardViews<'a> {
    /// In binding order: x, dy, then without an input gradient dw, db; with one, w, the
    /// pool's argmax if any, dw, db, dx.
    pub(super) fn slots<S: ConvShape>(self, s: S, dx: Option<&'a mut InputGrad>) -> Vec<Slot<'a>> {
        let mut slots = vec![
            Slot::input("x", self.x, s.x_len()),
            Slot::input("dy", self.dy, s.y_len()),
        ];
        let Some(grad) = dx else {
            slots.push(Slot::output("dw", self.dw, s.w_len()));
            slots.push(Slot::output("db", self.db, s.out_channels()));
            return slots;
        };
        slots.push(Slot::input("w", self.w, s.w_len()));
        let (idx, dx) = grad.slots(s.x_len());
        slots.extend(idx);
        slots.push(Slot::output("dw", self.dw, s.w_len()));
        slots.push(Slot::output("db", self.db, s.out_channels()));
        slots.push(dx);
        slots
    }
}

/// A fused backward's sizes: the layer's, and the activation and pool it carries the
/// input gradient through.
pub(super) fn backward_dims<S: ConvShape>(
    s: &S,
    dx: Option<&InputGrad>,
) -> Vec<(&'static str, usize)> {
    let mut dims = s.dims();
    if let Some(grad) = dx {
        dims.push(("act", grad.act().code()));
        if let InputGrad::PoolAct { pool, .. } = grad {
            dims.extend([("pool_k", pool.k), ("pool_stride", pool.stride)]);
        }
    }
    dims
}

/// The weight gradient's product, the bias's sum, and the input gradient's product with
/// its activation derivative.
pub(super) fn backward_flops<S: ConvShape>(s: &S, dx: Option<&InputGrad>) -> f64 {
    let params = s.flops() + s.y_len() as f64;
    let input = dx.map_or(0.0, |g| {
        s.flops() + g.dx_len(s.x_len()) as f64 * g.act().flops()
    });
    params + input
}

pub(super) fn backward_validate<S: ConvShape>(
    s: &S,
    dx: Option<&InputGrad>,
    entry: &str,
) -> Result<(), ShapeError> {
    s.validate()?;
    if s.conv2d().kw > MAX_FUSED_KW {
        return Err(ShapeError::new(format!(
            "{entry}: kernels wider than {MAX_FUSED_KW} have no fused weight gradient"
        )));
    }
    let [n, c, h, w] = s.input();
    dx.map_or(Ok(()), |g| g.validate(n, c, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n: usize, c: usize, h: usize, w: usize, o: usize, k: usize) -> Conv2dShape {
        Conv2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride: 1,
            pad: 0,
        }
    }

    #[test]
    fn conv2d_validate_rejects_bad_shapes() {
        let ok = shape(1, 1, 3, 3, 1, 3);
        ok.validate().unwrap();
        let err = |s: Conv2dShape| s.validate().unwrap_err().to_string();

        let e = err(Conv2dShape { stride: 0, ..ok });
        assert!(e.contains("non-positive stride"), "{e}");
        let e = err(Conv2dShape { kh: 4, ..ok });
        assert!(e.contains("Kernel size can't be greater"), "{e}");
        assert_eq!(Conv2dShape { kw: 4, ..ok }.out_w(), 0);
        // Padding makes room for a kernel larger than the input.
        Conv2dShape {
            kh: 4,
            pad: 1,
            ..ok
        }
        .validate()
        .unwrap();
        for bad in [
            Conv2dShape { n: 0, ..ok },
            Conv2dShape { c: 0, ..ok },
            Conv2dShape { h: 0, ..ok },
            Conv2dShape { w: 0, ..ok },
            Conv2dShape { o: 0, ..ok },
            Conv2dShape { kh: 0, ..ok },
            Conv2dShape { kw: 0, ..ok },
        ] {
            let e = err(bad);
            assert!(e.contains("must be positive"), "{e}");
        }
    }
}
