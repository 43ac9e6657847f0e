//! Output sinks behind one small trait with a fan-out (criterion's
//! `Report`/`Reports`): each sink sees every interval as the collector
//! completes it, then the run's summary.
//!
//! | sink | output |
//! |---|---|
//! | [`table::Table`] | summary table on stdout |
//! | [`csv::SummaryCsv`] | `summary.csv` |
//! | [`csv::TimeseriesCsv`] | `timeseries.csv` |
//! | [`hlog::Hlog`] | `latency.hlog` |
//! | [`json::RunJson`] | `run.json` |
//! | [`progress::Progress`] | progress bar or plain lines on stderr |

pub mod csv;
pub mod hlog;
pub mod json;
pub mod progress;
pub mod table;

use socialbench_engines::EngineStats;

use crate::config::RunError;
use crate::recorder::IntervalData;
use crate::summary::RunSummary;

/// One completed interval, merged over client threads.
#[derive(Debug)]
pub struct IntervalReport<'a> {
    /// Index: 0 is the warmup, measured intervals count from 1.
    pub index: u64,
    /// Whether this is the warmup (file sinks skip it).
    pub warmup: bool,
    /// Start relative to the end of the warmup (ns).
    pub start_ns: u64,
    /// Length (ns); the last interval may be short.
    pub duration_ns: u64,
    /// The recordings.
    pub data: &'a IntervalData,
    /// Engine stats sampled as the interval was emitted.
    pub engine: EngineStats,
    /// Process RSS at that moment (bytes).
    pub rss_bytes: u64,
    /// Time the hypervisor took from each CPU since the previous interval
    /// was emitted (empty off Linux).
    pub steal: &'a [crate::machine::CoreSteal],
    /// Wall-clock time of the end of the warmup (interval starts count from it).
    pub warm_end_wall: std::time::SystemTime,
}

/// An output sink.
pub trait Report: Send {
    /// Called for every completed interval, in order.
    fn interval(&mut self, _iv: &IntervalReport<'_>) -> Result<(), RunError> {
        Ok(())
    }
    /// Called once at the end with the summary.
    fn finish(&mut self, _summary: &RunSummary) -> Result<(), RunError> {
        Ok(())
    }
}

/// A fan-out over sinks.
#[derive(Default)]
pub struct Reports(Vec<Box<dyn Report>>);

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reports({} sinks)", self.0.len())
    }
}

impl Reports {
    /// No sinks.
    pub fn new() -> Reports {
        Reports(Vec::new())
    }

    /// Adds a sink.
    pub fn push(&mut self, r: impl Report + 'static) {
        self.0.push(Box::new(r));
    }

    /// Every sink sees the interval; the first error is returned after all ran.
    pub fn interval(&mut self, iv: &IntervalReport<'_>) -> Result<(), RunError> {
        let mut first = Ok(());
        for r in &mut self.0 {
            if let Err(e) = r.interval(iv)
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }

    /// Every sink sees the summary; the first error is returned after all ran.
    pub fn finish(&mut self, s: &RunSummary) -> Result<(), RunError> {
        let mut first = Ok(());
        for r in &mut self.0 {
            if let Err(e) = r.finish(s)
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }
}

/// Writes a table or a line to stdout. A closed stdout (`socialbench ... |
/// head -1`) is the reader having had enough: the rest is dropped quietly
/// and the command goes on to its own exit code (its files are written
/// before it prints). Another write error is a warning on stderr, once per
/// call: the results are in the files either way.
pub fn print_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("warning: writing to stdout: {e}");
        }
        _ => {}
    }
}
