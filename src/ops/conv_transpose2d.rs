//! The conv_transpose2d family: transposed 2-D convolution (PyTorch `ConvTranspose2d`,
//! no dilation, no groups) with square stride, padding and output padding. Its ops are
//! conv2d's, generic over the shape (`ConvShape`), and its bias gradient is
//! `conv2d_backward_bias`; on the GPU it runs on conv2d's kernels as the adjoint of
//! `ConvShape::conv2d()` (see shaders/parts/conv_io.wgsl).

use super::conv2d::{
    act_forward_dims, act_forward_flops, backward_dims, backward_flops, backward_validate,
    check_sizes, layer_dims, layer_label, BackwardViews, ConvBackwardInput, ConvBackwardWeight,
    ConvForward, ConvShape, InputGrad,
};
use super::{Activation, Conv2dShape, OpDef, ShapeError, Slot, View};

/// Sizes of one conv_transpose2d call: `c` input channels, `o` output channels.
/// Activations are NCHW, the weight is (C, O, KH, KW) as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub out_pad: usize,
}

/// `(size - 1)*stride - 2*pad + k + out_pad`, or 0 where that is not positive, so that
/// the length helpers never panic on a shape `validate` would reject.
fn tconv_out(size: usize, k: usize, stride: usize, pad: usize, out_pad: usize) -> usize {
    (size.saturating_sub(1) * stride + k + out_pad).saturating_sub(2 * pad)
}

impl ConvTranspose2dShape {
    pub fn out_h(&self) -> usize {
        tconv_out(self.h, self.kh, self.stride, self.pad, self.out_pad)
    }

    pub fn out_w(&self) -> usize {
        tconv_out(self.w, self.kw, self.stride, self.pad, self.out_pad)
    }

    pub fn validate(&self) -> Result<(), ShapeError> {
        let sizes = [self.n, self.c, self.h, self.w, self.o, self.kh, self.kw];
        check_sizes("conv_transpose2d", self, sizes, self.stride)?;
        if self.out_pad >= self.stride {
            return Err(ShapeError::new(format!(
                "conv_transpose2d: output padding must be smaller than either stride or \
                 dilation, but got output_padding {} with stride {} and dilation 1",
                self.out_pad, self.stride
            )));
        }
        let full = |size: usize, k: usize| (size - 1) * self.stride + k + self.out_pad;
        let (fh, fw) = (full(self.h, self.kh), full(self.w, self.kw));
        if fh <= 2 * self.pad || fw <= 2 * self.pad {
            let signed = |f: usize| f as i64 - 2 * self.pad as i64;
            return Err(ShapeError::new(format!(
                "conv_transpose2d: given input size per channel: ({} x {}). Calculated \
                 output size per channel: ({} x {}). Output size is too small",
                self.h,
                self.w,
                signed(fh),
                signed(fw)
            )));
        }
        Ok(())
    }

    pub fn x_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn w_len(&self) -> usize {
        self.c * self.o * self.kh * self.kw
    }

    pub fn y_len(&self) -> usize {
        self.n * self.o * self.out_h() * self.out_w()
    }
}

impl ConvShape for ConvTranspose2dShape {
    const ENTRIES: [&'static str; 3] = [
        "conv_transpose2d_forward",
        "conv_transpose2d_backward_input",
        "conv_transpose2d_backward_weight",
    ];
    const TRANSPOSED: bool = true;

    /// The conv2d this transposed conv is the adjoint of: its input is the transposed
    /// conv's output (o channels of out_h × out_w), its output the transposed conv's
    /// input (c channels of h × w), and the weight (C, O, KH, KW) is its (O, C, KH, KW).
    /// Output padding only adds rows the conv2d's floor division drops again.
    fn conv2d(&self) -> Conv2dShape {
        Conv2dShape {
            n: self.n,
            c: self.o,
            h: self.out_h(),
            w: self.out_w(),
            o: self.c,
            kh: self.kh,
            kw: self.kw,
            stride: self.stride,
            pad: self.pad,
        }
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
        ConvTranspose2dShape::validate(self)
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        let mut dims = layer_dims(
            self.input(),
            self.o,
            [self.kh, self.kw, self.stride, self.pad],
        );
        dims.push(("out_pad", self.out_pad));
        dims
    }

    /// `[N,C,H,W]->O k3 s2 p1 op1`
    fn label(&self) -> String {
        let conv = layer_label(self.input(), self.o, [self.kh, self.stride, self.pad]);
        format!("{conv} op{}", self.out_pad)
    }

    fn y_len(&self) -> usize {
        ConvTranspose2dShape::y_len(self)
    }
}

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW)
pub type ConvTranspose2dForward = ConvForward<ConvTranspose2dShape>;
// dy (N,O,OH,OW), w (C,O,KH,KW) -> dx (N,C,H,W)
pub type ConvTranspose2dBackwardInput = ConvBackwardInput<ConvTranspose2dShape>;
// x (N,C,H,W), dy (N,O,OH,OW) -> dw (C,O,KH,KW)
pub type ConvTranspose2dBackwardWeight = ConvBackwardWeight<ConvTranspose2dShape>;

// x (N,C,H,W), w (C,O,KH,KW), b (O) -> y (N,O,OH,OW) = act(conv_transpose2d + b)
/// A transposed conv with its bias and activation in one pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTranspose2dActForward {
    pub x: View,
    pub w: View,
    pub b: View,
    pub y: View,
    pub shape: ConvTranspose2dShape,
    pub act: Activation,
}

impl OpDef for ConvTranspose2dActForward {
    fn entry(&self) -> &'static str {
        "conv_transpose2d_act_forward"
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
        act_forward_dims(&self.shape, self.act, None)
    }

    fn flops(&self) -> f64 {
        act_forward_flops(&self.shape, self.act, None)
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        format!("{} {}", ConvShape::label(&self.shape), self.act.name())
    }
}

// x (N,C,H,W), dy (N,O,OH,OW), w (C,O,KH,KW) [, idx] -> dw (C,O,KH,KW), db (O), dx
/// All of a transposed conv's gradients in one dispatch (see `Conv2dBackward`); a
/// transposed conv is never a model's first layer, so it always has an input gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTranspose2dBackward {
    pub x: View,
    pub dy: View,
    pub w: View,
    pub dw: View,
    pub db: View,
    pub dx: InputGrad,
    pub shape: ConvTranspose2dShape,
}

impl OpDef for ConvTranspose2dBackward {
    fn entry(&self) -> &'static str {
        match self.dx {
            InputGrad::Act { .. } => "conv_transpose2d_backward_act",
            InputGrad::PoolAct { .. } => "conv_transpose2d_backward_pool_act",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let views = BackwardViews {
            x: &mut self.x,
            dy: &mut self.dy,
            w: &mut self.w,
            dw: &mut self.dw,
            db: &mut self.db,
        };
        views.slots(self.shape, Some(&mut self.dx))
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        backward_dims(&self.shape, Some(&self.dx))
    }

    fn flops(&self) -> f64 {
        backward_flops(&self.shape, Some(&self.dx))
    }

    fn validate(&self) -> Result<(), ShapeError> {
        backward_validate(&self.shape, Some(&self.dx), self.entry())
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
        self.dx.set_rows(rows);
    }

    fn label(&self) -> String {
        format!("{}{}", ConvShape::label(&self.shape), self.dx.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn mk(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        o: usize,
        k: usize,
        stride: usize,
        pad: usize,
        out_pad: usize,
    ) -> ConvTranspose2dShape {
        ConvTranspose2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
            out_pad,
        }
    }

    #[test]
    fn conv_transpose2d_validate_rejects_bad_shapes() {
        let ok = mk(1, 1, 3, 3, 1, 3, 2, 1, 1);
        ok.validate().unwrap();
        assert_eq!((ok.out_h(), ok.out_w()), (6, 6));
        let err = |s: ConvTranspose2dShape| s.validate().unwrap_err().to_string();

        let e = err(ConvTranspose2dShape { out_pad: 2, ..ok });
        assert!(e.contains("output padding must be smaller"), "{e}");
        let e = err(ConvTranspose2dShape { stride: 1, ..ok });
        assert!(e.contains("output padding must be smaller"), "{e}");
        let e = err(ConvTranspose2dShape { stride: 0, ..ok });
        assert!(e.contains("non-positive stride"), "{e}");
        // (1-1)*1 - 2*1 + 2 + 0 = 0: an empty output.
        let empty = mk(1, 1, 1, 1, 1, 2, 1, 1, 0);
        let e = err(empty);
        assert!(e.contains("Output size is too small"), "{e}");
        assert!(e.contains("(0 x 0)"), "{e}");
        assert_eq!(empty.out_h(), 0);
        let e = err(mk(1, 1, 1, 1, 1, 1, 1, 2, 0));
        assert!(e.contains("(-3 x -3)"), "{e}");
        for bad in [
            ConvTranspose2dShape { n: 0, ..ok },
            ConvTranspose2dShape { c: 0, ..ok },
            ConvTranspose2dShape { h: 0, ..ok },
            ConvTranspose2dShape { w: 0, ..ok },
            ConvTranspose2dShape { o: 0, ..ok },
            ConvTranspose2dShape { kh: 0, ..ok },
            ConvTranspose2dShape { kw: 0, ..ok },
        ] {
            let e = err(bad);
            assert!(e.contains("must be positive"), "{e}");
        }
    }
}
