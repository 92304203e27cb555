//! The pool family: 2-D max pooling (PyTorch `MaxPool2d`, square kernel and stride, no
//! padding, no dilation, floor mode). The forward keeps each window's argmax (h·W + w
//! within its plane) so that the backward routes the gradient without the input.

use super::{OpDef, ShapeError, Slot, View};

/// Sizes of one max-pool call. Activations are NCHW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
}

impl Pool2dShape {
    /// `floor((H - K) / stride) + 1`, or 0 for a shape `validate` rejects.
    pub fn out_h(&self) -> usize {
        if self.stride == 0 || self.k == 0 || self.h < self.k {
            return 0;
        }
        (self.h - self.k) / self.stride + 1
    }

    pub fn out_w(&self) -> usize {
        if self.stride == 0 || self.k == 0 || self.w < self.k {
            return 0;
        }
        (self.w - self.k) / self.stride + 1
    }

    pub fn validate(&self) -> Result<(), ShapeError> {
        let dims = [
            ("batch size", self.n),
            ("channels", self.c),
            ("input height", self.h),
            ("input width", self.w),
        ];
        for (name, v) in dims {
            if v == 0 {
                return Err(ShapeError::new(format!(
                    "max_pool2d: {name} must be positive, got 0 (shape {self:?})"
                )));
            }
        }
        if self.k == 0 {
            return Err(ShapeError::new(
                "max_pool2d: kernel size should be greater than zero, but got 0",
            ));
        }
        if self.stride == 0 {
            return Err(ShapeError::new(
                "max_pool2d: stride should be greater than zero, but got 0",
            ));
        }
        if self.k > self.h || self.k > self.w {
            return Err(ShapeError::new(format!(
                "max_pool2d: given input size ({}x{}), kernel size {} gives an output \
                 size that is too small",
                self.h, self.w, self.k
            )));
        }
        Ok(())
    }

    pub fn x_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn y_len(&self) -> usize {
        self.n * self.c * self.out_h() * self.out_w()
    }
}

fn pool_dims(s: &Pool2dShape) -> Vec<(&'static str, usize)> {
    vec![
        ("n", s.n),
        ("c", s.c),
        ("h", s.h),
        ("w", s.w),
        ("k", s.k),
        ("stride", s.stride),
    ]
}

/// `[N,C,H,W] k2 s2`
fn pool_label(s: &Pool2dShape) -> String {
    format!("[{},{},{},{}] k{} s{}", s.n, s.c, s.h, s.w, s.k, s.stride)
}

// x (N,C,H,W) -> y (N,C,OH,OW), idx (N,C,OH,OW)
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2dForward {
    pub x: View,
    pub y: View,
    pub idx: View,
    pub shape: Pool2dShape,
}

impl OpDef for MaxPool2dForward {
    fn entry(&self) -> &'static str {
        "max_pool2d_forward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("x", &mut self.x, s.x_len()),
            Slot::output("y", &mut self.y, s.y_len()),
            Slot::output("idx", &mut self.idx, s.y_len()).u32s(),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        pool_dims(&self.shape)
    }

    /// K·K compares per output.
    fn flops(&self) -> f64 {
        (self.shape.y_len() * self.shape.k * self.shape.k) as f64
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        pool_label(&self.shape)
    }
}

// dy (N,C,OH,OW), idx (N,C,OH,OW) -> dx (N,C,H,W)
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2dBackward {
    pub dy: View,
    pub idx: View,
    pub dx: View,
    pub shape: Pool2dShape,
}

impl OpDef for MaxPool2dBackward {
    fn entry(&self) -> &'static str {
        "max_pool2d_backward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("dy", &mut self.dy, s.y_len()),
            Slot::input("idx", &mut self.idx, s.y_len()).u32s(),
            Slot::output("dx", &mut self.dx, s.x_len()),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        pool_dims(&self.shape)
    }

    /// One add per gradient routed.
    fn flops(&self) -> f64 {
        self.shape.y_len() as f64
    }

    fn validate(&self) -> Result<(), ShapeError> {
        self.shape.validate()
    }

    fn set_rows(&mut self, rows: usize) {
        self.shape.n = rows;
    }

    fn label(&self) -> String {
        pool_label(&self.shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n: usize, c: usize, h: usize, w: usize, k: usize, stride: usize) -> Pool2dShape {
        Pool2dShape {
            n,
            c,
            h,
            w,
            k,
            stride,
        }
    }

    #[test]
    fn max_pool2d_validate_rejects_bad_shapes() {
        let ok = shape(1, 1, 4, 3, 3, 2);
        ok.validate().unwrap();
        let err = |s: Pool2dShape| s.validate().unwrap_err().to_string();
        let e = err(Pool2dShape { stride: 0, ..ok });
        assert!(e.contains("stride should be greater than zero"), "{e}");
        let e = err(Pool2dShape { k: 0, ..ok });
        assert!(e.contains("kernel size should be greater than zero"), "{e}");
        let e = err(Pool2dShape { k: 4, ..ok });
        assert!(e.contains("too small"), "{e}");
        assert_eq!(Pool2dShape { k: 4, ..ok }.out_w(), 0);
        for bad in [
            Pool2dShape { n: 0, ..ok },
            Pool2dShape { c: 0, ..ok },
            Pool2dShape { h: 0, ..ok },
            Pool2dShape { w: 0, ..ok },
        ] {
            let e = err(bad);
            assert!(e.contains("must be positive"), "{e}");
        }
    }
}
