//! The matmul family: C = op(A) · op(B), the three products of a `Linear` layer, each
//! with the elementwise op next to it fused into its store when the graph asks for it.

use super::{Activation, OpDef, ShapeError, Slot, View};

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

/// What a product does with C on its way out: nothing, or the elementwise op a `Linear`
/// layer would otherwise run as a dispatch of its own right after it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Epilogue {
    #[default]
    None,
    /// c = act(op(A)·op(B) + bias), bias (N): a layer's forward with its activation.
    BiasAct { bias: View, act: Activation },
    /// c = (op(A)·op(B)) ⊙ act'(y), y (M,N) the output of the activation that produced
    /// this layer's input: the input gradient, carried on through that activation.
    ActBackward { y: View, act: Activation },
    /// c = op(A)·op(B) and db (M) = Σ_k op(A): with A = dy stored (batch, out), the weight
    /// gradient dyᵀ·x and the bias gradient (the column sums of dy) in one pass.
    BiasBackward { db: View },
}

impl Epilogue {
    pub fn act(&self) -> Option<Activation> {
        match *self {
            Epilogue::None | Epilogue::BiasBackward { .. } => None,
            Epilogue::BiasAct { act, .. } | Epilogue::ActBackward { act, .. } => Some(act),
        }
    }
}

// a (M,K) or (K,M), b (K,N) or (N,K) [, bias (N) | y (M,N)] -> c (M,N) [, db (M)]
#[derive(Clone, Debug, PartialEq)]
pub struct Matmul {
    pub a: View,
    pub b: View,
    pub c: View,
    pub shape: MatmulShape,
    pub batch: BatchDim,
    pub epilogue: Epilogue,
}

impl Matmul {
    /// A plain product.
    pub fn new(a: View, b: View, c: View, shape: MatmulShape, batch: BatchDim) -> Matmul {
        Matmul {
            a,
            b,
            c,
            shape,
            batch,
            epilogue: Epilogue::None,
        }
    }
}

impl OpDef for Matmul {
    fn entry(&self) -> &'static str {
        match self.epilogue {
            Epilogue::None => "matmul",
            Epilogue::BiasAct { .. } => "matmul_bias_act",
            Epilogue::ActBackward { .. } => "matmul_act_backward",
            Epilogue::BiasBackward { .. } => "matmul_bias_backward",
        }
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let s = self.shape;
        let (a, b) = (
            Slot::input("a", &mut self.a, s.a_len()),
            Slot::input("b", &mut self.b, s.b_len()),
        );
        let c = Slot::output("c", &mut self.c, s.c_len());
        match &mut self.epilogue {
            Epilogue::None => vec![a, b, c],
            Epilogue::BiasAct { bias, .. } => vec![a, b, Slot::input("bias", bias, s.n), c],
            Epilogue::ActBackward { y, .. } => vec![a, b, Slot::input("y", y, s.c_len()), c],
            Epilogue::BiasBackward { db } => vec![a, b, c, Slot::output("db", db, s.m)],
        }
    }

    /// The sizes, the layout, and the fused activation (`Activation::code`) if any.
    fn dims(&self) -> Vec<(&'static str, usize)> {
        let s = self.shape;
        let mut dims = vec![
            ("m", s.m),
            ("k", s.k),
            ("n", s.n),
            ("trans_a", s.trans_a as usize),
            ("trans_b", s.trans_b as usize),
        ];
        dims.extend(self.epilogue.act().map(|a| ("act", a.code())));
        dims
    }

    /// The product's, plus the epilogue's per element of C (an add and an activation, a
    /// derivative, or a sum over K for the bias gradient).
    fn flops(&self) -> f64 {
        let s = self.shape;
        let extra = match self.epilogue {
            Epilogue::None => 0.0,
            Epilogue::BiasAct { act, .. } => s.c_len() as f64 * (1.0 + act.flops()),
            Epilogue::ActBackward { act, .. } => s.c_len() as f64 * act.flops(),
            Epilogue::BiasBackward { .. } => (s.m * s.k) as f64,
        };
        s.flops() + extra
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

    /// `[M,K,N] NT`: the logical sizes, then whether A and B are stored transposed, then
    /// the epilogue's activation.
    fn label(&self) -> String {
        let s = self.shape;
        let t = |b: bool| if b { "T" } else { "N" };
        let act = self
            .epilogue
            .act()
            .map_or(String::new(), |a| format!(" {}", a.name()));
        format!(
            "[{},{},{}] {}{}{act}",
            s.m,
            s.k,
            s.n,
            t(s.trans_a),
            t(s.trans_b)
        )
    }
}
