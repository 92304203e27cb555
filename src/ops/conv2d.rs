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
        let dims = [
            ("batch size", self.n),
            ("input channels", self.c),
            ("input height", self.h),
            ("input width", self.w),
            ("output channels", self.o),
            ("kernel height", self.kh),
            ("kernel width", self.kw),
        ];
        for (name, v) in dims {
            if v == 0 {
                return Err(ShapeError::new(format!(
                    "conv2d: {name} must be positive, got 0 (shape {self:?})"
                )));
            }
        }
        if self.stride == 0 {
            return Err(ShapeError::new(format!(
                "conv2d: non-positive stride is not supported (stride {})",
                self.stride
            )));
        }
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

fn conv_dims(s: &Conv2dShape) -> Vec<(&'static str, usize)> {
    vec![
        ("n", s.n),
        ("c", s.c),
        ("h", s.h),
        ("w", s.w),
        ("o", s.o),
        ("kh", s.kh),
        ("kw", s.kw),
        ("stride", s.stride),
        ("pad", s.pad),
    ]
}

/// 2·N·O·OH·OW·C·KH·KW, the same for each of the three products.
fn conv_flops(s: &Conv2dShape) -> f64 {
    2.0 * (s.n * s.o * s.out_h() * s.out_w()) as f64 * (s.c * s.kh * s.kw) as f64
}

/// `[N,C,H,W]->O k3 s1 p1`
fn conv_label(s: &Conv2dShape) -> String {
    format!(
        "[{},{},{},{}]->{} k{} s{} p{}",
        s.n, s.c, s.h, s.w, s.o, s.kh, s.stride, s.pad
    )
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW)
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dForward {
    pub x: View,
    pub w: View,
    pub b: View,
    pub y: View,
    pub shape: Conv2dShape,
}

impl OpDef for Conv2dForward {
    fn entry(&self) -> &'static str {
        "conv2d_forward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("w", &mut self.w, s.w_len()),
            Slot::input("b", &mut self.b, s.o),
            Slot::output("y", &mut self.y, s.y_len()),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        conv_dims(&self.shape)
    }

    fn flops(&self) -> f64 {
        conv_flops(&self.shape)
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        conv_label(&self.shape)
    }
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W)
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dBackwardInput {
    pub dy: View,
    pub w: View,
    pub dx: View,
    pub shape: Conv2dShape,
}

impl OpDef for Conv2dBackwardInput {
    fn entry(&self) -> &'static str {
        "conv2d_backward_input"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("dy", &mut self.dy, s.y_len()),
            Slot::input("w", &mut self.w, s.w_len()),
            Slot::output("dx", &mut self.dx, s.x_len()),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        conv_dims(&self.shape)
    }

    fn flops(&self) -> f64 {
        conv_flops(&self.shape)
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        conv_label(&self.shape)
    }
}

// x (N,C,H,W), dy (N,O,OH,OW) -> dw (O,C,KH,KW)
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dBackwardWeight {
    pub x: View,
    pub dy: View,
    pub dw: View,
    pub shape: Conv2dShape,
}

impl OpDef for Conv2dBackwardWeight {
    fn entry(&self) -> &'static str {
        "conv2d_backward_weight"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("dy", &mut self.dy, s.y_len()),
            Slot::output("dw", &mut self.dw, s.w_len()),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        conv_dims(&self.shape)
    }

    fn flops(&self) -> f64 {
        conv_flops(&self.shape)
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        conv_label(&self.shape)
    }
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

    /// The conv's sizes, the activation (`Activation::code`), and the pool's window and
    /// stride if any.
    fn dims(&self) -> Vec<(&'static str, usize)> {
        let mut dims = conv_dims(&self.shape);
        dims.push(("act", self.act.code()));
        if let Some(p) = self.pool {
            dims.extend([("pool_k", p.k), ("pool_stride", p.stride)]);
        }
        dims
    }

    /// The conv's, an activation per conv output, and a compare per pooled element.
    fn flops(&self) -> f64 {
        let conv_out = self.shape.y_len() as f64;
        let pool = self
            .pool_shape()
            .map_or(0.0, |p| (p.y_len() * p.k * p.k) as f64);
        conv_flops(&self.shape) + conv_out * (1.0 + self.act.flops()) + pool
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()?;
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
        format!("{} {}{pool}", conv_label(&self.shape), self.act.name())
    }
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
        match self.dx {
            None => "conv2d_backward_params",
            Some(InputGrad::Act { .. }) => "conv2d_backward_act",
            Some(InputGrad::PoolAct { .. }) => "conv2d_backward_pool_act",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        let mut slots = vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::input("dy", &mut self.dy, s.y_len()),
        ];
        let Some(grad) = &mut self.dx else {
            slots.push(Slot::output("dw", &mut self.dw, s.w_len()));
            slots.push(Slot::output("db", &mut self.db, s.o));
            return slots;
        };
        slots.push(Slot::input("w", &mut self.w, s.w_len()));
        let (idx, dx) = grad.slots(s.x_len());
        slots.extend(idx);
        slots.push(Slot::output("dw", &mut self.dw, s.w_len()));
        slots.push(Slot::output("db", &mut self.db, s.o));
        slots.push(dx);
        slots
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        let mut dims = conv_dims(&self.shape);
        if let Some(grad) = self.dx {
            dims.push(("act", grad.act().code()));
            if let InputGrad::PoolAct { pool, .. } = grad {
                dims.extend([("pool_k", pool.k), ("pool_stride", pool.stride)]);
            }
        }
        dims
    }

    /// The weight gradient's product, the bias's sum, and the input gradient's product
    /// with its activation derivative.
    fn flops(&self) -> f64 {
        let s = &self.shape;
        let params = conv_flops(s) + s.y_len() as f64;
        let input = self.dx.map_or(0.0, |g| {
            conv_flops(s) + g.dx_len(s.x_len()) as f64 * g.act().flops()
        });
        params + input
    }

    fn validate(&self) -> Result<(), ShapeError> {
        let s = &self.shape;
        s.validate()?;
        if s.kw > MAX_FUSED_KW {
            return Err(ShapeError::new(format!(
                "{}: kernels wider than {MAX_FUSED_KW} have no fused weight gradient",
                self.entry()
            )));
        }
        self.dx.map_or(Ok(()), |g| g.validate(s.n, s.c, s.h, s.w))
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
        if let Some(grad) = &mut self.dx {
            grad.set_rows(rows);
        }
    }

    fn label(&self) -> String {
        let dx = self.dx.map_or(String::new(), |g| g.label());
        format!("{}{dx}", conv_label(&self.shape))
    }
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
