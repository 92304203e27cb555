//! The terminal's shell around the core: the command line (`cli`, `app`), files written
//! atomically and read only when regular (`files`), run folders and their locks
//! (`rundir`), Ctrl-C and SIGTERM (`interrupt`), progress bars, the pictures as PNG files
//! (`plots`, `roofline`), the `data` command (`inspect`), and what lives on disk: the
//! data sources' files (`data`), checkpoints
//! (`checkpoint`), `metrics.jsonl` (`metrics`), a run's record (`record`), the saved
//! peaks (`peaks`) and `compare`'s inputs. The core never names this module; it builds
//! without it for the browser (`--no-default-features`).

pub mod adapter_cache;
pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod data;
pub mod files;
pub mod inspect;
pub mod interrupt;
pub mod metrics;
pub mod peaks;
pub mod plots;
pub mod progress;
pub mod record;
pub mod reflect;
pub mod roofline;
pub mod rundir;
pub mod score;
pub mod score_plots;
pub mod tuned;
pub mod tuning;
