//! A comparison's files: `comparison.csv` (one row per engine) and
//! `passes.csv` (one row per run).

use serde::{Deserialize, Serialize};

use super::{AuditVerdict, CsvRow};
use crate::stats::Verdict;

/// A row of `comparison.csv`: one engine over every pass of a comparison;
/// medians over passes with their intervals, and its paired ratios to the
/// baseline with their intervals and verdicts (`crate::stats::paired`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Engine threads.
    pub engine_threads: u32,
    /// Partitions (shards or stripes; 1 for the others).
    pub partitions: u32,
    /// Passes measured (runs of this engine).
    pub passes: u32,
    /// Measured replies, summed over passes.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Median throughput over the passes, ops/s.
    pub ops_per_sec: f64,
    /// Lower end of the median's 95% order-statistic interval.
    pub ops_per_sec_low: f64,
    /// Upper end of that interval.
    pub ops_per_sec_high: f64,
    /// Median over passes of the median latency, ns.
    pub p50_ns: u64,
    /// Median over passes of p99, ns.
    pub p99_ns: u64,
    /// Lower end of that median's 95% interval, ns.
    pub p99_low_ns: u64,
    /// Upper end of that interval, ns.
    pub p99_high_ns: u64,
    /// Median over passes of p99.9, ns.
    pub p999_ns: u64,
    /// Largest latency of any pass, ns.
    pub max_ns: u64,
    /// Median over passes of CPU time per op (every thread of the process), ns.
    pub cpu_ns_per_op: f64,
    /// The engine the ratios are to.
    pub baseline: String,
    /// Geometric mean of the per-pass throughput ratios to the baseline.
    pub ratio: Option<f64>,
    /// Lower end of its 95% t-interval (paired log-ratios).
    pub ratio_low: Option<f64>,
    /// Upper end of that interval.
    pub ratio_high: Option<f64>,
    /// `faster`, `slower`, `indistinguishable` or `too_few_passes`, from the
    /// interval; empty for the baseline itself and without passes to pair.
    pub verdict: Option<Verdict>,
    /// Geometric mean of the per-pass p99 ratios to the baseline.
    pub p99_ratio: Option<f64>,
    /// Lower end of its 95% interval.
    pub p99_ratio_low: Option<f64>,
    /// Upper end of that interval.
    pub p99_ratio_high: Option<f64>,
    /// The verdict for p99 (faster: lower latency).
    pub p99_verdict: Option<Verdict>,
    /// `fail` if any pass failed its audit, else `pass` (`n/a` for `null`).
    pub audit: AuditVerdict,
    /// Its threads outnumbered the cores in some pass.
    pub oversubscribed: bool,
    /// Schema version.
    pub schema: u32,
}

impl CsvRow for ComparisonRow {
    const FILE: &'static str = super::COMPARISON_CSV;
    const COLUMNS: &'static [&'static str] = &[
        "engine",
        "client_threads",
        "engine_threads",
        "partitions",
        "passes",
        "ops",
        "errors",
        "ops_per_sec",
        "ops_per_sec_low",
        "ops_per_sec_high",
        "p50_ns",
        "p99_ns",
        "p99_low_ns",
        "p99_high_ns",
        "p999_ns",
        "max_ns",
        "cpu_ns_per_op",
        "baseline",
        "ratio",
        "ratio_low",
        "ratio_high",
        "verdict",
        "p99_ratio",
        "p99_ratio_low",
        "p99_ratio_high",
        "p99_verdict",
        "audit",
        "oversubscribed",
        "schema",
    ];
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// A row of `passes.csv`: one run of a comparison (one engine in one pass),
/// with its within-run intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassRow {
    /// Engine name.
    pub engine: String,
    /// Pass, from 0: every engine runs once per pass, in a rotated order.
    pub pass: u32,
    /// Its place in the pass's order, from 0.
    pub position: u32,
    /// Client threads.
    pub client_threads: u32,
    /// Engine threads.
    pub engine_threads: u32,
    /// Partitions.
    pub partitions: u32,
    /// Measured replies.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Throughput, ops/s.
    pub ops_per_sec: f64,
    /// Lower end of its within-run 95% interval (batch means).
    pub ops_per_sec_low: f64,
    /// Upper end of that interval.
    pub ops_per_sec_high: f64,
    /// No significant trend over the run (batch means).
    pub stationary: bool,
    /// Median intended latency, ns.
    pub p50_ns: u64,
    /// p99, ns.
    pub p99_ns: u64,
    /// Lower end of its within-run 95% rank interval, ns.
    pub p99_low_ns: u64,
    /// Upper end of that interval, ns.
    pub p99_high_ns: u64,
    /// p99.9, ns.
    pub p999_ns: u64,
    /// Max, ns.
    pub max_ns: u64,
    /// CPU time per op, every thread of the process, ns.
    pub cpu_ns_per_op: f64,
    /// The largest share of the window the hypervisor took from one core.
    pub steal_share: f64,
    /// Its threads outnumbered the cores.
    pub oversubscribed: bool,
    /// Audit verdict.
    pub audit: AuditVerdict,
    /// The run's folder, relative to the comparison's.
    pub run_dir: String,
    /// Schema version.
    pub schema: u32,
}

impl CsvRow for PassRow {
    const FILE: &'static str = super::PASSES_CSV;
    const COLUMNS: &'static [&'static str] = &[
        "engine",
        "pass",
        "position",
        "client_threads",
        "engine_threads",
        "partitions",
        "ops",
        "errors",
        "ops_per_sec",
        "ops_per_sec_low",
        "ops_per_sec_high",
        "stationary",
        "p50_ns",
        "p99_ns",
        "p99_low_ns",
        "p99_high_ns",
        "p999_ns",
        "max_ns",
        "cpu_ns_per_op",
        "steal_share",
        "oversubscribed",
        "audit",
        "run_dir",
        "schema",
    ];
    fn schema(&self) -> u32 {
        self.schema
    }
}
