//! The batch family: a mini-batch gathered on the device from the resident dataset, held as
//! packed bytes (images) or as floats (rows, and images given as floats).

use super::{OpDef, Slot, View};

// data (images·cols bytes, packed four to a word), perm (images) -> x (rows, cols) = byte / 255
#[derive(Clone, Debug, PartialEq)]
pub struct GatherBatch {
    pub data: View,
    pub perm: View,
    pub x: View,
    /// Images held in `data`, and so the length of `perm`.
    pub images: usize,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for GatherBatch {
    fn entry(&self) -> &'static str {
        "gather_batch"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (images, rows, cols) = (self.images, self.rows, self.cols);
        vec![
            Slot::input("data", &mut self.data, (images * cols).div_ceil(4)).u32s(),
            Slot::input("perm", &mut self.perm, images).u32s(),
            Slot::output("x", &mut self.x, rows * cols),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    /// One scale per pixel.
    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    fn uses_step(&self) -> bool {
        true
    }

    /// Only the gathered rows of the dataset are read, a byte per pixel, and their indices.
    fn bytes(&mut self) -> f64 {
        (self.rows * self.cols) as f64 * 5.0 + self.rows as f64 * 4.0
    }
}

// data (images·cols floats), perm (images) -> x (rows, cols) = data[perm[row]]
#[derive(Clone, Debug, PartialEq)]
pub struct GatherRows {
    pub data: View,
    pub perm: View,
    pub x: View,
    /// Samples held in `data`, and so the length of `perm`.
    pub images: usize,
    pub rows: usize,
    pub cols: usize,
}

impl OpDef for GatherRows {
    fn entry(&self) -> &'static str {
        "gather_rows"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (images, rows, cols) = (self.images, self.rows, self.cols);
        vec![
            // The floats' bits, as the shader reads them (one layout for both gathers).
            Slot::input("data", &mut self.data, images * cols).u32s(),
            Slot::input("perm", &mut self.perm, images).u32s(),
            Slot::output("x", &mut self.x, rows * cols),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("rows", self.rows), ("cols", self.cols)]
    }

    /// A copy: no arithmetic, counted as one per value so that its rate reads as copies.
    fn flops(&self) -> f64 {
        (self.rows * self.cols) as f64
    }

    fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    fn uses_step(&self) -> bool {
        true
    }

    /// The gathered rows read and written, four bytes a value, and their indices.
    fn bytes(&mut self) -> f64 {
        (self.rows * self.cols) as f64 * 8.0 + self.rows as f64 * 4.0
    }
}
