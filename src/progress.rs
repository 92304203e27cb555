//! Progress bars for a training run, on a terminal only: when stdout is a pipe or a file
//! (CI logs), nothing is drawn and the one line per epoch stays exactly as it is.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::Progress;

/// One epoch's bars: training (images, running loss, images/s, ETA), then evaluation.
pub struct EpochBars {
    enabled: bool,
    label: String,
    loss_name: &'static str,
    bar: Option<(bool, ProgressBar)>,
}

/// Whether bars are drawn: stdout is a terminal and the user did not ask for quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stdout().is_terminal()
}

impl EpochBars {
    pub fn new(enabled: bool, epoch: usize, epochs: usize, loss_name: &'static str) -> Self {
        EpochBars {
            enabled,
            label: format!("epoch {epoch:>3}/{epochs}"),
            loss_name,
            bar: None,
        }
    }

    fn start(&self, eval: bool, total: usize) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
        let template = match eval {
            false => "{prefix} train [{bar:30}] {pos}/{len} images  {msg}  ETA {eta}",
            true => "{prefix} test  [{bar:30}] {pos}/{len} images  {msg}  ETA {eta}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.label.clone());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    pub fn update(&mut self, p: Progress) {
        if !self.enabled {
            return;
        }
        let (eval, done, total) = match p {
            Progress::Train { done, total, .. } => (false, done, total),
            Progress::Eval { done, total } => (true, done, total),
        };
        if self.bar.as_ref().is_none_or(|(e, _)| *e != eval) {
            self.clear();
            self.bar = Some((eval, self.start(eval, total)));
        }
        if let Some((_, bar)) = &self.bar {
            bar.set_position(done as u64);
            let rate = done as f64 / bar.elapsed().as_secs_f64().max(1e-9);
            let message = match p {
                Progress::Train { loss, .. } => {
                    format!("{} {loss:.6}  {rate:.0} img/s", self.loss_name)
                }
                Progress::Eval { .. } => format!("{rate:.0} img/s"),
            };
            bar.set_message(message);
        }
    }

    /// Removes the bars, so that the epoch's line takes their place.
    pub fn clear(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for EpochBars {
    fn drop(&mut self) {
        self.clear();
    }
}
