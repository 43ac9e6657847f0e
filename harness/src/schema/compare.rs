//! `comparison.csv`: one row per engine of a comparison.

use serde::{Deserialize, Serialize};

use super::{AuditVerdict, CsvRow};

/// A row of `comparison.csv`: one engine's run; latencies in ns from the
/// intended start, over all ops.
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
    /// Measured replies.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Replies per second.
    pub ops_per_sec: f64,
    /// Median latency.
    pub p50_ns: u64,
    /// p99.
    pub p99_ns: u64,
    /// p99.9.
    pub p999_ns: u64,
    /// Max.
    pub max_ns: u64,
    /// Audit verdict.
    pub audit: AuditVerdict,
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
        "ops",
        "errors",
        "ops_per_sec",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "max_ns",
        "audit",
        "schema",
    ];
    const V1_REQUIRED: &'static [&'static str] = &["engine", "ops_per_sec", "p99_ns"];
    type V1 = super::v1::ComparisonRowV1;
    fn schema(&self) -> u32 {
        self.schema
    }
}
