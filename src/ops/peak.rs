//! The peak family: kernels that measure the card (its fp32 FMA rate and its memory
//! bandwidth) rather than train a model. They are ops like any other, so that they run
//! through the same backends and are checked against a CPU twin like every kernel.

use super::{OpDef, ShapeError, Slot, View};

/// FMA steps per loop iteration of `peak_fma`: four steps of sixteen chains.
pub const FMA_STEPS_PER_ITER: usize = 64;

// x (L) -> y (L): sixteen chains a ← a·mul + add from x[i] − c/16, summed
#[derive(Clone, Debug, PartialEq)]
pub struct PeakFma {
    pub x: View,
    pub y: View,
    pub len: usize,
    /// Loop iterations per invocation, each `FMA_STEPS_PER_ITER` FMAs.
    pub iters: usize,
    pub mul: f32,
    pub add: f32,
}

impl OpDef for PeakFma {
    fn entry(&self) -> &'static str {
        "peak_fma"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.len;
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::output("y", &mut self.y, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("len", self.len), ("iters", self.iters)]
    }

    /// Two per FMA; the starting offsets and the final sum are left out, as vkpeak does.
    fn flops(&self) -> f64 {
        2.0 * (self.len * self.iters * FMA_STEPS_PER_ITER) as f64
    }

    fn validate(&self) -> Result<(), ShapeError> {
        if !(self.mul.abs() < 1.0 && self.add.is_finite()) {
            return Err(ShapeError::new(format!(
                "mul {} must lie in (-1, 1) and add {} be finite, or the chains grow without bound",
                self.mul, self.add
            )));
        }
        Ok(())
    }
}

/// Both streaming kernels load four floats at a time.
fn check_vec4(len: usize) -> Result<(), ShapeError> {
    if !len.is_multiple_of(4) {
        return Err(ShapeError::new(format!(
            "length {len} is not a multiple of 4"
        )));
    }
    Ok(())
}

// x (L) -> y (L)
#[derive(Clone, Debug, PartialEq)]
pub struct PeakCopy {
    pub x: View,
    pub y: View,
    pub len: usize,
}

impl OpDef for PeakCopy {
    fn entry(&self) -> &'static str {
        "peak_copy"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let len = self.len;
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::output("y", &mut self.y, len),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("len", self.len)]
    }

    fn flops(&self) -> f64 {
        0.0
    }

    fn validate(&self) -> Result<(), ShapeError> {
        check_vec4(self.len)
    }
}

// x (L) -> y (⌈L/chunk⌉): the sum of each chunk
#[derive(Clone, Debug, PartialEq)]
pub struct PeakRead {
    pub x: View,
    pub y: View,
    pub len: usize,
    /// Elements each workgroup sums.
    pub chunk: usize,
}

impl PeakRead {
    pub fn groups(&self) -> usize {
        self.len.div_ceil(self.chunk.max(1))
    }
}

impl OpDef for PeakRead {
    fn entry(&self) -> &'static str {
        "peak_read"
    }

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let (len, groups) = (self.len, self.groups());
        vec![
            Slot::input("x", &mut self.x, len),
            Slot::output("y", &mut self.y, groups),
        ]
    }

    fn dims(&self) -> Vec<(&'static str, usize)> {
        vec![("len", self.len), ("chunk", self.chunk)]
    }

    /// One add per element read.
    fn flops(&self) -> f64 {
        self.len as f64
    }

    fn validate(&self) -> Result<(), ShapeError> {
        check_vec4(self.len)?;
        if self.chunk == 0 || !self.chunk.is_multiple_of(4) {
            return Err(ShapeError::new(format!(
                "chunk {} is not a positive multiple of 4",
                self.chunk
            )));
        }
        Ok(())
    }
}
