//! The elementwise family: bias, ReLU and Sigmoid, with their gradients. Every op here
//! works on a (rows, cols) matrix, rows being the batch.

use super::{OpDef, Slot, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Sigmoid,
}

impl Activation {
    /// Every activation, in code order.
    pub const ALL: [Activation; 2] = [Activation::Relu, Activation::Sigmoid];

    /// Its name in flags, checkpoints and messages: `relu`, `sigmoid`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// The activation of that name, if any.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// How kernels, benchmark rows and the PyTorch peer name it as a number.
    pub fn code(self) -> usize {
        match self {
            Activation::Relu => 0,
            Activation::Sigmoid => 1,
        }
    }

    /// Per element: ReLU one compare; Sigmoid an exp, an add, a divide and a negation.
    pub fn flops(self) -> f64 {
        match self {
            Activation::Relu => 1.0,
            Activation::Sigmoid => 4.0,
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
        match self.act {
            Activation::Relu => "relu_forward",
            Activation::Sigmoid => "sigmoid_forward",
        }
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
        match self.act {
            Activation::Relu => "relu_backward",
            Activation::Sigmoid => "sigmoid_backward",
        }
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

    /// ReLU: a select; Sigmoid: y·(1−y)·dy.
    fn flops(&self) -> f64 {
        let per = match self.act {
            Activation::Relu => 1.0,
            Activation::Sigmoid => 3.0,
        };
        (self.rows * self.cols) as f64 * per
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }
}
