//! The page's "Climb the ladder" panel: a family's rungs (one WGSL file each), each
//! checked against the CPU reference compiled to wasm at the ladder's quick shape, then
//! timed on the visitor's GPU at the shape the page asks for (`bench --ladder`'s rows).

use std::sync::Arc;

use wgsl_autoencoder::bench::ladder::{ladder, time_step, LadderRow, Step};
use wgsl_autoencoder::bench::Options;
use wgsl_autoencoder::check::check_variants;
use wgsl_autoencoder::gpu::kernels::ladder::Family;
use wgsl_autoencoder::{Error, Gpu, Result};

/// A climb the page has planned: the rungs at the timed shape and at the checked one.
pub struct Climb {
    family: Family,
    quick: bool,
    shape: String,
    timed: Vec<Step>,
    checked: Vec<Step>,
}

/// A rung as the panel lists it before it runs.
#[derive(serde::Serialize)]
pub struct RungInfo {
    pub step: usize,
    pub rung: String,
    pub file: String,
    pub idea: String,
    /// The rung's WGSL, shown in the page.
    pub source: &'static str,
    /// Its kernels at the timed shape, and whether this adapter runs any of them.
    pub kernels: usize,
    pub runs: bool,
    pub shape: String,
}

impl Climb {
    /// The ladder of `family` ("matmul" or "conv"), timed at its full shape or the quick one.
    pub fn plan(family: &str, quick: bool) -> Result<Climb> {
        let family = Family::parse(family)
            .ok_or_else(|| Error::Other(format!("{family:?} is not a ladder: matmul or conv")))?;
        let timed = ladder(family, quick)?;
        Ok(Climb {
            family,
            quick,
            shape: timed.shape,
            timed: timed.steps,
            checked: ladder(family, true)?.steps,
        })
    }

    pub fn rungs(&self, gpu: &Gpu) -> Vec<RungInfo> {
        self.timed
            .iter()
            .map(|s| RungInfo {
                step: s.rung.step,
                rung: s.rung.slug.to_string(),
                file: s.rung.path(),
                idea: s.rung.idea(),
                source: s.rung.source,
                kernels: s.cases.len(),
                runs: s.cases.iter().any(|c| gpu.runs(c.variant)),
                shape: self.shape.clone(),
            })
            .collect()
    }

    /// Rung `index`: checked against the reference, then timed unless it failed.
    pub async fn climb(&self, gpu: &Arc<Gpu>, index: usize) -> Result<LadderRow> {
        let (timed, checked) = match (self.timed.get(index), self.checked.get(index)) {
            (Some(t), Some(c)) => (t, c),
            _ => {
                return Err(Error::Other(format!(
                    "the {} ladder has no rung {index}",
                    self.family.name()
                )))
            }
        };
        let opts = Options::new(self.quick);
        if !timed.cases.iter().any(|c| gpu.runs(c.variant)) {
            // Nothing to check or time here (a rung that needs subgroups): no figures.
            return time_step(gpu, timed, &self.shape, &opts).await;
        }
        let (passed, failure) = check_variants(gpu, &checked.cases).await?;
        let mut row = time_step(gpu, timed, &self.shape, &opts).await?;
        if !passed {
            // A rung that computes the wrong numbers has no speed worth showing.
            row.gpu_ms = None;
            row.gflops = None;
        }
        row.checked = Some(passed);
        row.failure = failure;
        Ok(row)
    }
}
