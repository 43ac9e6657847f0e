//! Live progress on stderr: an indicatif bar with ops/s on a terminal, a plain
//! line per interval otherwise (logs, CI, pipes).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::{IntervalReport, Report};
use crate::config::{ProgressMode, RunError};
use crate::summary::RunSummary;
use crate::units::{human_ns, human_rate};

/// Progress display.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
}

impl Progress {
    /// A display for `mode`; `total_ns` sizes the bar (0: unknown length).
    pub fn new(mode: ProgressMode, label: &str, total_ns: u64) -> Option<Progress> {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Quiet => None,
            ProgressMode::Plain => Some(Progress {
                bar: None,
                label: label.into(),
            }),
            ProgressMode::Auto if !terminal => Some(Progress {
                bar: None,
                label: label.into(),
            }),
            ProgressMode::Auto => {
                let bar = if total_ns > 0 {
                    ProgressBar::new(total_ns / 1_000_000)
                } else {
                    ProgressBar::new_spinner()
                };
                let style =
                    ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_prefix(label.to_string());
                Some(Progress {
                    bar: Some(bar),
                    label: label.into(),
                })
            }
        }
    }
}

impl Report for Progress {
    fn interval(&mut self, iv: &IntervalReport<'_>) -> Result<(), RunError> {
        let secs = (iv.duration_ns as f64 / 1e9).max(1e-9);
        let n = iv.data.total();
        let (i, _) = iv.data.merged_all();
        let p99 = if i.is_empty() {
            0
        } else {
            i.value_at_quantile(0.99)
        };
        let phase = if iv.warmup { "warmup" } else { "run" };
        let mut msg = format!(
            "{phase} {:>8} ops/s  p99 {:>9}  errors {}  rss {} MiB",
            human_rate(n as f64 / secs),
            human_ns(p99),
            iv.data.total_errors(),
            iv.rss_bytes >> 20
        );
        if let Some(w) = crate::machine::worst_steal(iv.steal) {
            msg.push_str(&format!(
                "  steal {:.0}% cpu{} ({} ms)",
                w.share * 100.0,
                w.core,
                w.steal_ms
            ));
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position((iv.start_ns + iv.duration_ns) / 1_000_000);
                bar.set_message(msg);
            }
            None => eprintln!("[{}] interval {:>3}: {msg}", self.label, iv.index),
        }
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> Result<(), RunError> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        Ok(())
    }
}
