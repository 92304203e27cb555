//! The conv2d family: 2-D convolution (PyTorch `Conv2d`, no dilation, no groups) with
//! square stride and padding, and its three gradients.

use super::{OpDef, ShapeError, Slot, View};

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
