//! The matmul family: C = op(A) · op(B), the three products of a `Linear` layer.

use super::{OpDef, ShapeError, Slot, View};

/// The logical product op(A) (m,k) · op(B) (k,n) -> C (m,n). `trans_a` means A is stored
/// (k,m); `trans_b` means B is stored (n,k). Row-major throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl MatmulShape {
    pub fn new(m: usize, k: usize, n: usize) -> Self {
        MatmulShape {
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
        }
    }

    pub fn a_len(&self) -> usize {
        self.m * self.k
    }

    pub fn b_len(&self) -> usize {
        self.k * self.n
    }

    pub fn c_len(&self) -> usize {
        self.m * self.n
    }

    /// Multiply-adds count twice.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// Which dimension of a product is the batch, so that a partial batch can shrink it: `M`
/// for a layer's forward (x·Wᵀ) and input gradient (dy·W), `K` for its weight gradient
/// (dyᵀ·x, a sum over the batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchDim {
    /// A product of fixed size, such as the benchmark's squares.
    #[default]
    None,
    M,
    K,
}

// a (M,K) or (K,M), b (K,N) or (N,K) -> c (M,N)
#[derive(Clone, Debug, PartialEq)]
pub struct Matmul {
    pub a: View,
    pub b: View,
    pub c: View,
    pub shape: MatmulShape,
    pub batch: BatchDim,
}

impl OpDef for Matmul {
    fn entry(&self) -> &'static str {
        "matmul"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        vec![
            Slot::input("a", &mut self.a, s.a_len()),
            Slot::input("b", &mut self.b, s.b_len()),
            Slot::output("c", &mut self.c, s.c_len()),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        let s = self.shape;
        vec![
            ("m", s.m),
            ("k", s.k),
            ("n", s.n),
            ("trans_a", s.trans_a as usize),
            ("trans_b", s.trans_b as usize),
        ]
    }

    fn flops(&self) -> f64 {
        self.shape.flops()
    }

    fn validate(&self) -> Result<(), ShapeError> {
        let s = self.shape;
        if s.m == 0 || s.k == 0 || s.n == 0 {
            return Err(ShapeError::new(format!(
                "every size must be positive, got [{}, {}, {}]",
                s.m, s.k, s.n
            )));
        }
        Ok(())
    }

    fn set_rows(&mut self, rows: usize) {
        match self.batch {
            BatchDim::None => {}
            BatchDim::M => self.shape.m = rows,
            BatchDim::K => self.shape.k = rows,
        }
    }

    /// `[M,K,N] NT`: the logical sizes, then whether A and B are stored transposed.
    fn label(&self) -> String {
        let s = self.shape;
        let t = |b: bool| if b { "T" } else { "N" };
        format!("[{},{},{}] {}{}", s.m, s.k, s.n, t(s.trans_a), t(s.trans_b))
    }
}
