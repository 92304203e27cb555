//! The kernel ladders: a family with variants keeps one WGSL file per variant group in
//! shaders/<family>/, numbered in teaching order, from the readable kernel to the fast
//! ones (as SGEMM_CUDA's kernels 1 to 10, or llm.c's numbered versions). What the rungs of
//! a family share lives in shaders/parts/. The family's module is its parts, then its
//! rungs in order (`Shader::source`), so splitting a family into rungs changes no
//! pipeline: the entry points, constants and numerics are the same.
//!
//! Each file opens with a header of at most ten comment lines: its title, the one-line
//! idea (`// Idea: …`), what it changes from the rung before, why that is faster and on
//! which hardware, and its rows in `bench`. `bench --ladder` and the page's ladder panel
//! read the idea from there, so it is written once.

use super::{launch, Variant};
use crate::ops::Op;

/// A family whose variants form a ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Matmul,
    Conv2d,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Matmul, Family::Conv2d];

    /// Its folder in shaders/, and its name on the command line (`bench --ladder`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Matmul => "matmul",
            Family::Conv2d => "conv2d",
        }
    }

    /// The family by its name, or by `conv` for conv2d.
    pub fn parse(name: &str) -> Option<Family> {
        match name {
            "matmul" => Some(Family::Matmul),
            "conv" | "conv2d" => Some(Family::Conv2d),
            _ => None,
        }
    }
}

/// One rung: a WGSL file of a family's ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rung {
    pub family: Family,
    /// Its place in teaching order, from 1.
    pub step: usize,
    /// The file's name after the step: `register_blocked` in `3_register_blocked.wgsl`.
    pub slug: &'static str,
    /// The file's text, embedded in the binary.
    pub source: &'static str,
}

/// A rung, its source included from shaders/<dir>/<step>_<slug>.wgsl.
macro_rules! rung {
    ($family:ident, $dir:literal, $step:literal, $slug:literal) => {
        Rung {
            family: Family::$family,
            step: $step,
            slug: $slug,
            source: include_str!(concat!(
                "../../../shaders/",
                $dir,
                "/",
                $step,
                "_",
                $slug,
                ".wgsl"
            )),
        }
    };
}

/// Every rung, by family, in teaching order.
pub const RUNGS: [Rung; 11] = [
    rung!(Matmul, "matmul", 1, "naive"),
    rung!(Matmul, "matmul", 2, "tiled"),
    rung!(Matmul, "matmul", 3, "register_blocked"),
    rung!(Matmul, "matmul", 4, "thin_split_k"),
    rung!(Matmul, "matmul", 5, "subgroup"),
    rung!(Conv2d, "conv2d", 1, "direct"),
    rung!(Conv2d, "conv2d", 2, "fused_stage"),
    rung!(Conv2d, "conv2d", 3, "batch_split"),
    rung!(Conv2d, "conv2d", 4, "register_blocks"),
    rung!(Conv2d, "conv2d", 5, "row_blocks"),
    rung!(Conv2d, "conv2d", 6, "implicit_gemm"),
];

/// The rungs of a family, in teaching order.
pub fn rungs(family: Family) -> impl Iterator<Item = &'static Rung> {
    RUNGS.iter().filter(move |r| r.family == family)
}

/// The rung whose file holds the entry point that runs `op` as `variant` (a batch
/// split's or a register block's fold is timed with it, in its row).
pub fn rung_of(op: &Op, variant: Variant) -> Option<&'static Rung> {
    let entry = launch(op, variant).ok()?.entry;
    RUNGS.iter().find(|r| r.defines(entry))
}

impl Rung {
    /// Its path from the repository's root: `shaders/matmul/3_register_blocked.wgsl`.
    pub fn path(&self) -> String {
        format!(
            "shaders/{}/{}_{}.wgsl",
            self.family.name(),
            self.step,
            self.slug
        )
    }

    /// How rows and the page name it: `matmul 3 register_blocked`.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.family.name(), self.step, self.slug)
    }

    /// The header: the file's opening comment lines, up to the first blank line.
    pub fn header(&self) -> Vec<&'static str> {
        self.source
            .lines()
            .take_while(|l| l.starts_with("//"))
            .collect()
    }

    /// The header's field `key` (`Idea`, `From the rung before`, `Why faster`, `Bench
    /// rows`), with its continuation lines (those indented after `//`) joined.
    pub fn field(&self, key: &str) -> Option<String> {
        let header = self.header();
        let prefix = format!("// {key}: ");
        let at = header.iter().position(|l| l.starts_with(&prefix))?;
        let mut text = header[at][prefix.len()..].to_string();
        for more in header[at + 1..]
            .iter()
            .map_while(|l| l.strip_prefix("//   "))
        {
            text.push(' ');
            text.push_str(more.trim());
        }
        Some(text)
    }

    /// The one-line idea that `bench --ladder` prints beside the rung's time.
    pub fn idea(&self) -> String {
        self.field("Idea").unwrap_or_default()
    }

    /// Whether the file defines the entry point or function `name`.
    pub fn defines(&self, name: &str) -> bool {
        let def = format!("fn {name}(");
        self.source.lines().any(|l| l.starts_with(&def))
    }

    /// Whether its kernels use subgroup operations (only in the module of devices that
    /// have them: `Shader::MatmulSubgroup`).
    pub fn needs_subgroups(&self) -> bool {
        self.source.contains("subgroupBroadcast")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_join_their_continuation_lines() {
        let rung = &RUNGS[2];
        assert_eq!(rung.path(), "shaders/matmul/3_register_blocked.wgsl");
        let why = rung.field("Why faster").unwrap();
        assert!(why.contains("the limit: each value"), "{why}");
        assert!(rung.idea().starts_with("8×8 outputs per invocation"));
        assert!(rung.defines("matmul_sgemm"));
        assert!(!rung.defines("matmul_naive"));
    }
}
