//! The files of one run: `summary.csv`, `timeseries.csv`, and what readers
//! take from `run.json`.

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CsvRow, SCHEMA_VERSION};

/// A row of `summary.csv`: one op kind, `invalid` (the deliberately invalid
/// requests of any kind) or `all`; latencies in ns, from the intended start
/// (`intended_*`) and from the actual send (`service_*`), each percentile
/// with its within-run interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Op kind, `invalid` or `all`.
    pub kind: String,
    /// Replies in the measured run.
    pub count: u64,
    /// Of which errors.
    pub errors: u64,
    /// Replies per second of measured time.
    pub ops_per_sec: f64,
    /// Lower end of the throughput's within-run 95% interval (batch means).
    pub ops_per_sec_low: f64,
    /// Upper end of that interval.
    pub ops_per_sec_high: f64,
    /// Intended latency: mean.
    pub intended_mean_ns: u64,
    /// Intended latency: median.
    pub intended_p50_ns: u64,
    /// Intended latency: lower end of the median's within-run 95% rank interval.
    pub intended_p50_low_ns: u64,
    /// Intended latency: upper end of that interval.
    pub intended_p50_high_ns: u64,
    /// Intended latency: p90.
    pub intended_p90_ns: u64,
    /// Intended latency: lower end of the p90's within-run 95% rank interval.
    pub intended_p90_low_ns: u64,
    /// Intended latency: upper end of that interval.
    pub intended_p90_high_ns: u64,
    /// Intended latency: p99.
    pub intended_p99_ns: u64,
    /// Intended latency: lower end of the p99's within-run 95% rank interval.
    pub intended_p99_low_ns: u64,
    /// Intended latency: upper end of that interval.
    pub intended_p99_high_ns: u64,
    /// Intended latency: p99.9.
    pub intended_p999_ns: u64,
    /// Intended latency: lower end of the p99.9's within-run 95% rank interval.
    pub intended_p999_low_ns: u64,
    /// Intended latency: upper end of that interval.
    pub intended_p999_high_ns: u64,
    /// Intended latency: p99.99.
    pub intended_p9999_ns: u64,
    /// Intended latency: lower end of the p99.99's within-run 95% rank interval.
    pub intended_p9999_low_ns: u64,
    /// Intended latency: upper end of that interval.
    pub intended_p9999_high_ns: u64,
    /// Intended latency: max.
    pub intended_max_ns: u64,
    /// Service time: mean.
    pub service_mean_ns: u64,
    /// Service time: median.
    pub service_p50_ns: u64,
    /// Service time: lower end of the median's within-run 95% rank interval.
    pub service_p50_low_ns: u64,
    /// Service time: upper end of that interval.
    pub service_p50_high_ns: u64,
    /// Service time: p90.
    pub service_p90_ns: u64,
    /// Service time: lower end of the p90's within-run 95% rank interval.
    pub service_p90_low_ns: u64,
    /// Service time: upper end of that interval.
    pub service_p90_high_ns: u64,
    /// Service time: p99.
    pub service_p99_ns: u64,
    /// Service time: lower end of the p99's within-run 95% rank interval.
    pub service_p99_low_ns: u64,
    /// Service time: upper end of that interval.
    pub service_p99_high_ns: u64,
    /// Service time: p99.9.
    pub service_p999_ns: u64,
    /// Service time: lower end of the p99.9's within-run 95% rank interval.
    pub service_p999_low_ns: u64,
    /// Service time: upper end of that interval.
    pub service_p999_high_ns: u64,
    /// Service time: p99.99.
    pub service_p9999_ns: u64,
    /// Service time: lower end of the p99.99's within-run 95% rank interval.
    pub service_p9999_low_ns: u64,
    /// Service time: upper end of that interval.
    pub service_p9999_high_ns: u64,
    /// Service time: max.
    pub service_max_ns: u64,
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
}

impl SummaryRow {
    /// The percentiles the spectrum figure shows, max last as 100.
    pub const SPECTRUM: [f64; 6] = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0];

    /// The intended or service spectrum as (percentile, ns), in the order
    /// of [`SummaryRow::SPECTRUM`].
    pub fn spectrum(&self, intended: bool) -> [(f64, f64); 6] {
        let v = if intended {
            [
                self.intended_p50_ns,
                self.intended_p90_ns,
                self.intended_p99_ns,
                self.intended_p999_ns,
                self.intended_p9999_ns,
                self.intended_max_ns,
            ]
        } else {
            [
                self.service_p50_ns,
                self.service_p90_ns,
                self.service_p99_ns,
                self.service_p999_ns,
                self.service_p9999_ns,
                self.service_max_ns,
            ]
        };
        std::array::from_fn(|i| (Self::SPECTRUM[i], v[i] as f64))
    }
}

impl CsvRow for SummaryRow {
    const FILE: &'static str = super::SUMMARY_CSV;
    const COLUMNS: &'static [&'static str] = &[
        "kind",
        "count",
        "errors",
        "ops_per_sec",
        "ops_per_sec_low",
        "ops_per_sec_high",
        "intended_mean_ns",
        "intended_p50_ns",
        "intended_p50_low_ns",
        "intended_p50_high_ns",
        "intended_p90_ns",
        "intended_p90_low_ns",
        "intended_p90_high_ns",
        "intended_p99_ns",
        "intended_p99_low_ns",
        "intended_p99_high_ns",
        "intended_p999_ns",
        "intended_p999_low_ns",
        "intended_p999_high_ns",
        "intended_p9999_ns",
        "intended_p9999_low_ns",
        "intended_p9999_high_ns",
        "intended_max_ns",
        "service_mean_ns",
        "service_p50_ns",
        "service_p50_low_ns",
        "service_p50_high_ns",
        "service_p90_ns",
        "service_p90_low_ns",
        "service_p90_high_ns",
        "service_p99_ns",
        "service_p99_low_ns",
        "service_p99_high_ns",
        "service_p999_ns",
        "service_p999_low_ns",
        "service_p999_high_ns",
        "service_p9999_ns",
        "service_p9999_low_ns",
        "service_p9999_high_ns",
        "service_max_ns",
        "schema",
    ];
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// A row of `timeseries.csv` (tidy, long format: one value per row).
///
/// The writer borrows its names; rows read back own them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow<'a> {
    /// Interval index, from 1.
    pub interval: u64,
    /// Interval start, ns from the end of the warmup.
    pub start_ns: u64,
    /// Interval length, ns.
    pub duration_ns: u64,
    /// `op`, `engine`, `process` or `machine`.
    pub source: Cow<'a, str>,
    /// Op kind, `invalid` or `all`; engine quantity; `rss`; `cpuN`.
    pub name: Cow<'a, str>,
    /// What is measured (`ops_per_sec`, `intended_p99_ns`, `bytes`, ...).
    pub metric: Cow<'a, str>,
    /// The value: an integer; ns for latencies, bytes for sizes.
    pub value: u64,
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
}

impl<'a> TimeseriesRow<'a> {
    /// A row of the current version.
    pub fn new(
        (interval, start_ns, duration_ns): (u64, u64, u64),
        source: &'a str,
        name: &'a str,
        metric: &'a str,
        value: u64,
    ) -> TimeseriesRow<'a> {
        TimeseriesRow {
            interval,
            start_ns,
            duration_ns,
            source: Cow::Borrowed(source),
            name: Cow::Borrowed(name),
            metric: Cow::Borrowed(metric),
            value,
            schema: SCHEMA_VERSION,
        }
    }

    /// Seconds from the end of the warmup to the middle of the interval,
    /// where a figure places a rate or a percentile of the whole interval.
    pub fn midpoint_s(&self) -> f64 {
        (self.start_ns as f64 + self.duration_ns as f64 / 2.0) / 1e9
    }
}

impl CsvRow for TimeseriesRow<'static> {
    const FILE: &'static str = super::TIMESERIES_CSV;
    const COLUMNS: &'static [&'static str] = &[
        "interval",
        "start_ns",
        "duration_ns",
        "source",
        "name",
        "metric",
        "value",
        "schema",
    ];
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// What a reader of `run.json` takes from it to name a run: the engine and
/// its threads. The harness writes the whole configuration, machine and
/// summary (see `results/README.md`); fields not named here are ignored.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RunCaption {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u64,
    /// Engine threads.
    pub engine_threads: u64,
}

impl RunCaption {
    /// The caption of the run in `dir`, if its `run.json` can be read (every
    /// version has these fields under `summary`).
    pub fn of(dir: &Path) -> Option<RunCaption> {
        #[derive(Deserialize)]
        struct Doc {
            summary: RunCaption,
        }
        let text = std::fs::read_to_string(dir.join(super::RUN_JSON)).ok()?;
        serde_json::from_str::<Doc>(&text).ok().map(|d| d.summary)
    }
}
