//! Progress bars for a training run, on a terminal only: when stdout is a pipe or a file
//! (CI logs), nothing is drawn and the one line per epoch stays exactly as it is.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::Progress;

/// A rate is shown once its phase has run this long: over less, it says more about when
/// the bar was drawn than about the device (a first frame showed millions of images/s).
const MIN_RATE_SPAN: Duration = Duration::from_millis(500);

/// One epoch's bars: training (images, running loss, images/s, ETA), then evaluation.
pub struct EpochBars {
    enabled: bool,
    label: String,
    loss_name: &'static str,
    bar: Option<(bool, ProgressBar)>,
    /// When the phase the bar shows began: the epoch's start for training, the last
    /// training update for evaluation (which starts right after it).
    phase_start: Instant,
    /// When the last update came, or the bars were made (just before the epoch starts).
    last_update: Instant,
}

/// Whether bars are drawn: stdout is a terminal and the user did not ask for quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stdout().is_terminal()
}

/// Images per second over `elapsed`, once that is long enough to mean something.
fn rate(done: usize, elapsed: Duration) -> Option<f64> {
    (elapsed >= MIN_RATE_SPAN).then(|| done as f64 / elapsed.as_secs_f64())
}

impl EpochBars {
    /// Made just before the epoch starts: its training rate is counted from now.
    pub fn new(enabled: bool, epoch: usize, epochs: usize, loss_name: &'static str) -> Self {
        let now = Instant::now();
        EpochBars {
            enabled,
            label: format!("epoch {epoch:>3}/{epochs}"),
            loss_name,
            bar: None,
            phase_start: now,
            last_update: now,
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

    /// What the bar says beside its count: the running loss (training) and the rate, once
    /// the phase has run long enough for one.
    fn message(&self, p: Progress, now: Instant) -> String {
        let (done, loss) = match p {
            Progress::Train { done, loss, .. } => (done, Some(loss)),
            Progress::Eval { done, .. } => (done, None),
        };
        let rate =
            rate(done, now.duration_since(self.phase_start)).map(|r| format!("{r:.0} img/s"));
        let loss = loss.map(|l| format!("{} {l:.6}", self.loss_name));
        [loss, rate]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("  ")
    }

    pub fn update(&mut self, p: Progress) {
        let now = Instant::now();
        let (eval, done, total) = match p {
            Progress::Train { done, total, .. } => (false, done, total),
            Progress::Eval { done, total } => (true, done, total),
        };
        if self.bar.as_ref().is_none_or(|(e, _)| *e != eval) {
            self.clear();
            self.phase_start = self.last_update;
            if self.enabled {
                self.bar = Some((eval, self.start(eval, total)));
            }
        }
        self.last_update = now;
        if let Some((_, bar)) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(self.message(p, now));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rate_until_the_phase_has_run_long_enough() {
        assert_eq!(rate(128, Duration::from_micros(120)), None);
        assert_eq!(rate(1000, Duration::from_secs(2)), Some(500.0));
    }

    #[test]
    fn each_bar_counts_its_rate_from_where_its_phase_began() {
        let mut bars = EpochBars::new(false, 1, 1, "mse");
        let epoch_start = bars.phase_start;
        let train = |done| Progress::Train {
            done,
            total: 256,
            loss: 0.5,
        };
        bars.update(train(128));
        // The first frame comes at once: a loss, and no rate yet.
        let first = bars.message(train(128), epoch_start + Duration::from_millis(1));
        assert_eq!(first, "mse 0.500000");
        // Later frames: images since the epoch began, over the time since.
        let later = bars.message(train(256), epoch_start + Duration::from_secs(2));
        assert_eq!(later, "mse 0.500000  128 img/s");
        // Evaluation starts after the last training update, and is counted from there.
        bars.update(train(256));
        let last_train = bars.last_update;
        let eval = Progress::Eval {
            done: 1000,
            total: 10000,
        };
        bars.update(eval);
        assert_eq!(bars.phase_start, last_train);
        assert_eq!(
            bars.message(eval, last_train + Duration::from_millis(2)),
            ""
        );
        let message = bars.message(eval, last_train + Duration::from_secs(1));
        assert_eq!(message, "1000 img/s");
    }
}
