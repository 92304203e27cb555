//! The elementwise family: bias and the activations (ReLU, Sigmoid, Tanh, and the identity
//! of a linear output), with their
//! gradients. Every op here works on a (rows, cols) matrix, rows being the batch.

use super::{OpDef, Slot, View};

/// An activation, and its code: the one table of activations. The WGSL constants
/// (`ACT_RELU`, … in shaders/parts/activations.wgsl) are generated from `ALL` and `code`
/// when a module's source is put together, and benchmark rows name the activation
/// (`name`) for the PyTorch peer, so no other file writes a code down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Relu = 0,
    Sigmoid = 1,
    Tanh = 2,
    /// A linear output (`nn.Identity`): a model's last layer on standardised rows.
    Identity = 3,
}

impl Activation {
    /// Every activation, in code order.
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Identity,
    ];

    /// How kernels' params and benchmark rows carry it: its place in `ALL`.
    pub fn code(self) -> usize {
        self as usize
    }

    /// The activation of a code, if any has it.
    pub fn from_code(code: usize) -> Option<Activation> {
        Activation::ALL.get(code).copied()
    }

    /// Its name as PyTorch spells the function (`torch.relu`, …), and as labels show it.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
        }
    }

    /// The activation of a name (`name()`), if any has it.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Its elementwise entry points (and reference functions): forward and backward.
    pub fn entries(self) -> (&'static str, &'static str) {
        match self {
            Activation::Relu => ("relu_forward", "relu_backward"),
            Activation::Sigmoid => ("sigmoid_forward", "sigmoid_backward"),
            Activation::Tanh => ("tanh_forward", "tanh_backward"),
            Activation::Identity => ("identity_forward", "identity_backward"),
        }
    }

    /// Per element: ReLU one compare; Sigmoid an exp, an add, a divide and a negation;
    /// Tanh as many; the identity a copy, counted as one.
    pub fn flops(self) -> f64 {
        match self {
            Activation::Relu | Activation::Identity => 1.0,
            Activation::Sigmoid | Activation::Tanh => 4.0,
        }
    }

    /// Per element of its gradient, from the output y: ReLU a select; Sigmoid
    /// y·(1−y)·dy; Tanh (1−y²)·dy; the identity dy itself, counted as one.
    pub fn grad_flops(self) -> f64 {
        match self {
            Activation::Relu | Activation::Identity => 1.0,
            Activation::Sigmoid | Activation::Tanh => 3.0,
        }
    }
}

// x (R,C), b (C) -> y (R,C)
#[derive(Clone, Debug, PartialEq)]
pub struct BiasForward {
    pub x: View,
    pub b: View,
    pub y: View,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for BiasForward {
    fn entry(&self) -> &'static str {
        "bias_forward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (len, cols) = (self.rows * self.cols, self.cols);
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::input("b", &mut self.b, cols),
            Slot::output("y", &mut self.y, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    /// One add per element.
    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

// dy (R,C) -> db (C): the sum over the batch
#[derive(Clone, Debug, PartialEq)]
pub struct BiasBackward {
    pub dy: View,
    pub db: View,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for BiasBackward {
    fn entry(&self) -> &'static str {
        "bias_backward"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (len, cols) = (self.rows * self.cols, self.cols);
        vec![
            Slot::input("dy", &mut self.dy, len),
            Slot::output("db", &mut self.db, cols),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

// x (R,C) -> y (R,C)
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationForward {
    pub act: Activation,
    pub x: View,
    pub y: View,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for ActivationForward {
    fn entry(&self) -> &'static str {
        self.act.entries().0
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::output("y", &mut self.y, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64 * self.act.flops()
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

// y (R,C), dy (R,C) -> dx (R,C): the derivative taken from the forward's output
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationBackward {
    pub act: Activation,
    pub y: View,
    pub dy: View,
    pub dx: View,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for ActivationBackward {
    fn entry(&self) -> &'static str {
        self.act.entries().1
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.rows * self.cols;
        vec![
            Slot::input("y", &mut self.y, len),
            Slot::input("dy", &mut self.dy, len),
            Slot::output("dx", &mut self.dx, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64 * self.act.grad_flops()
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;

    #[test]
    fn every_activation_has_its_place_in_all_as_its_code() {
        for (i, act) in Activation::ALL.into_iter().enumerate() {
            assert_eq!(act.code(), i, "{act:?}");
            assert_eq!(Activation::from_code(i), Some(act));
        }
        assert_eq!(Activation::from_code(Activation::ALL.len()), None);
    }
}
