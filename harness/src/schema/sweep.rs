//! A sweep's files: `sweep.csv` (a row per measured cell) and `sweep.json`
//! (the settings every row shares, the matrix, and the conclusions).

use serde::{Deserialize, Serialize};

use super::{AuditVerdict, CsvRow, JsonDocument};
use crate::stats::Paired;

/// A row of `sweep.csv`: one measured cell (one repetition of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Threads the engine starts (actor 1, sharded one per shard, else 0).
    pub engine_threads: u32,
    /// `min(client_threads + engine_threads, machine cores)`.
    pub cores_used: u32,
    /// Simulated users.
    pub users: u64,
    /// Offered rate (ops/s) of an open-loop cell; empty for closed loop.
    pub rate: Option<f64>,
    /// Achieved ops/s over the measured time.
    pub ops_per_sec: f64,
    /// Lower end of `ops_per_sec`'s within-run 95% interval (batch means, as
    /// `summary.csv`'s `ops_per_sec_low`); empty in rows written before it.
    #[serde(default)]
    pub ops_per_sec_low: Option<f64>,
    /// Upper end of that interval.
    #[serde(default)]
    pub ops_per_sec_high: Option<f64>,
    /// Intended latency p50 of all ops, ns.
    pub p50_ns: f64,
    /// p99, ns.
    pub p99_ns: f64,
    /// Lower end of p99's within-run 95% rank interval, ns; empty in rows
    /// written before it.
    #[serde(default)]
    pub p99_low_ns: Option<f64>,
    /// Upper end of that interval, ns.
    #[serde(default)]
    pub p99_high_ns: Option<f64>,
    /// p99.9, ns.
    pub p999_ns: f64,
    /// Max, ns.
    pub max_ns: f64,
    /// Error replies.
    pub errors: u64,
    /// Audit verdict.
    pub audit: AuditVerdict,
    /// `ops_per_sec / (cores_used x c1_ops_per_sec)`, if C1 is known.
    pub efficiency: Option<f64>,
    /// The serial baseline C1 of the same users value, ops/s, if measured.
    pub c1_ops_per_sec: Option<f64>,
    /// Partitions: shards of `sharded`, stripes of `striped`, 1 otherwise.
    pub partitions: u32,
    /// The open loop could not keep up with the offered rate; always false
    /// for closed loop.
    pub saturated: bool,
    /// Repetition of the cell, from 0 (`--repeat`).
    pub rep: u32,
    /// Why the cell's run stopped: `Limit` or `Saturated`.
    pub stopped_by: String,
    /// Measured time, ns.
    pub measured_ns: u64,
    /// CPU time of every thread of the process per measured op, ns; empty
    /// when not measured (no ops, no per-thread times on this OS) and in
    /// rows written before it.
    #[serde(default)]
    pub cpu_ns_per_op: Option<f64>,
    /// The cell's threads (clients and engine) outnumbered the cores it
    /// could use, so they took turns; false in rows written before it.
    #[serde(default)]
    pub oversubscribed: bool,
    /// Backups per shard (`sharded` with `--replicas`; 0 otherwise and in
    /// rows written before it).
    #[serde(default)]
    pub replicas: u32,
    /// `sync` or `async` with backups, empty without. The `engine` column
    /// names the variant too (`sharded+r1-sync`).
    #[serde(default)]
    pub replication: Option<String>,
    /// When the cell finished (ms since the Unix epoch): tells a resumed
    /// sweep's old rows from new ones.
    pub finished_at_unix_ms: u64,
    /// Schema version.
    pub schema: u32,
}

impl SweepRow {
    /// Whether the cell ran open loop.
    pub fn open_loop(&self) -> bool {
        self.rate.is_some()
    }
}

impl CsvRow for SweepRow {
    const FILE: &'static str = super::SWEEP_CSV;
    const COLUMNS: &'static [&'static str] = &[
        "engine",
        "client_threads",
        "engine_threads",
        "cores_used",
        "users",
        "rate",
        "ops_per_sec",
        "ops_per_sec_low",
        "ops_per_sec_high",
        "p50_ns",
        "p99_ns",
        "p99_low_ns",
        "p99_high_ns",
        "p999_ns",
        "max_ns",
        "errors",
        "audit",
        "efficiency",
        "c1_ops_per_sec",
        "partitions",
        "saturated",
        "rep",
        "stopped_by",
        "measured_ns",
        "cpu_ns_per_op",
        "oversubscribed",
        "replicas",
        "replication",
        "finished_at_unix_ms",
        "schema",
    ];
    const ADDED: &'static [&'static str] = &[
        "ops_per_sec_low",
        "ops_per_sec_high",
        "p99_low_ns",
        "p99_high_ns",
        "cpu_ns_per_op",
        "oversubscribed",
        "replicas",
        "replication",
    ];
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// Everything a cell's numbers depend on besides its coordinates; equal for
/// every row of one sweep folder (a resumed sweep must have the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Workload preset name or TOML path, as given.
    pub workload: String,
    /// The resolved scenario, `users` removed (a matrix dimension).
    pub scenario: serde_json::Value,
    /// Seed.
    pub seed: u64,
    /// Warmup per cell, ns.
    pub warmup_ns: u64,
    /// Measured duration per cell, ns.
    pub duration_ns: u64,
    /// Recording interval, ns.
    pub interval_ns: u64,
    /// Ops outstanding per client thread in closed-loop cells.
    pub inflight: usize,
    /// Most ops outstanding per client thread in open-loop cells.
    pub max_outstanding: usize,
    /// Mailbox capacity.
    pub mailbox: usize,
    /// Mailbox channel.
    pub channel: String,
    /// CPU model.
    pub cpu_model: String,
    /// Cores the process may use.
    pub machine_cores: usize,
    /// Whether the binary is an optimised build.
    pub release_build: bool,
    /// Source commit (`-dirty` with local changes): a resumed sweep must not
    /// compare cells, or their C1, measured with different code.
    pub git_commit: Option<String>,
    /// Compiler version, for the same reason.
    pub rustc: String,
}

impl SweepSettings {
    /// Names of the fields that differ from `other`, with both values.
    pub fn differences(&self, other: &SweepSettings) -> Vec<String> {
        let (a, b) = match (serde_json::to_value(self), serde_json::to_value(other)) {
            (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => (a, b),
            _ => return vec!["(unreadable)".into()],
        };
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| {
                let show = |v: Option<&serde_json::Value>| match v {
                    Some(serde_json::Value::Object(_)) => "{..}".to_string(),
                    Some(v) => v.to_string(),
                    None => "missing".into(),
                };
                format!("{k} {} (folder has {})", show(Some(v)), show(b.get(k)))
            })
            .collect()
    }
}

/// The matrix of one invocation, as given (after defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Engines asked for (baselines are added regardless).
    pub engines: Vec<String>,
    /// Client threads.
    pub threads: Vec<usize>,
    /// Shards of `sharded`.
    pub shards: Vec<usize>,
    /// Stripes of `striped`.
    pub stripes: Vec<usize>,
    /// Users values.
    pub users: Vec<u32>,
    /// Open-loop rates as given: ops/s, or `N%` of each line's capacity.
    pub rates: Vec<String>,
    /// Repetitions of each cell.
    pub repeat: u32,
}

/// A baseline figure of one users value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Simulated users.
    pub users: u64,
    /// Client threads (1 for C1).
    pub client_threads: u32,
    /// Closed-loop ops/s.
    pub ops_per_sec: f64,
}

/// The COST of one engine for one users value: the fewest cores on which
/// it beats C1 ("Scalability! But at what COST?", McSherry et al., HotOS 2015).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Engine name.
    pub engine: String,
    /// Simulated users.
    pub users: u64,
    /// C1 the engine was compared with, ops/s.
    pub c1_ops_per_sec: f64,
    /// Fewest cores (`cores_used`) of a closed-loop cell that beat C1 with a
    /// passing audit; `None` if no cell did.
    pub cores: Option<u32>,
    /// Most cores any closed-loop cell of the engine used.
    pub max_cores_measured: u32,
    /// `"2"`, or `"> 4"` when no cell on up to 4 cores beat C1.
    pub label: String,
    /// The engine's best closed-loop throughput, ops/s.
    pub best_ops_per_sec: f64,
}

/// A line's throughput and p99 against C1 of the same users value, paired
/// repetition by repetition (`crate::stats::paired`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineVerdict {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Partitions.
    pub partitions: u32,
    /// Simulated users.
    pub users: u64,
    /// Throughput / C1: geometric mean over repetitions, 95% interval, verdict.
    pub throughput: Paired,
    /// p99 / C1's p99, the same way (faster: lower).
    pub p99: Paired,
}

/// `sweep.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepDocument {
    /// Schema version.
    pub schema: u32,
    /// The spec every row shares.
    pub settings: SweepSettings,
    /// The matrix of the latest invocation.
    pub matrix: Matrix,
    /// Rows in `sweep.csv`.
    pub cells: usize,
    /// Whether every cell of the latest matrix is in `sweep.csv`.
    pub complete: bool,
    /// C1 per users value.
    pub c1: Vec<Baseline>,
    /// The null engine's closed-loop ops/s per users value and thread count.
    pub null_ceiling: Vec<Baseline>,
    /// COST per engine and users value.
    pub cost: Vec<Cost>,
    /// Each closed-loop line against C1, paired by repetition.
    #[serde(default)]
    pub verdicts: Vec<LineVerdict>,
    /// The machine and build of the latest invocation (`run.json`'s `machine`).
    pub machine: serde_json::Value,
}

impl JsonDocument for SweepDocument {}
