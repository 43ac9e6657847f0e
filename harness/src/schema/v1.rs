//! Version 1: the files socialbench wrote before they carried a schema
//! version (the committed sweeps in `docs/`, resumable sweep folders, runs
//! of that time), and their upgrade to the current types. This is the one
//! place that knows their differences:
//! - no `schema` column or field (the JSON documents had `format: 1`);
//! - `comparison.csv` wrote the audit as `passed`/`failed`, and readers
//!   accepted files without `p50_ns`, `p999_ns` or `audit`;
//! - `sweep.csv` gained `partitions`, `saturated` and `rep` over time, and
//!   tables written only for plotting lacked the sweep's own trailing
//!   columns (`stopped_by`, `measured_ns`, `finished_at_unix_ms`).

use serde::Deserialize;

use super::compare::{ComparisonRow, PassRow};
use super::run::{SummaryRow, TimeseriesRow};
use super::sweep::{Baseline, Cost, Matrix, SweepDocument, SweepRow, SweepSettings};
use super::{AuditVerdict, SCHEMA_VERSION, UpgradeV1};

/// `summary.csv`, version 1: the current columns without `schema`.
#[derive(Debug, Deserialize)]
pub struct SummaryRowV1 {
    kind: String,
    count: u64,
    errors: u64,
    ops_per_sec: f64,
    #[serde(default)]
    intended_mean_ns: u64,
    intended_p50_ns: u64,
    intended_p90_ns: u64,
    intended_p99_ns: u64,
    intended_p999_ns: u64,
    intended_p9999_ns: u64,
    intended_max_ns: u64,
    #[serde(default)]
    service_mean_ns: u64,
    service_p50_ns: u64,
    service_p90_ns: u64,
    service_p99_ns: u64,
    service_p999_ns: u64,
    service_p9999_ns: u64,
    service_max_ns: u64,
}

impl From<SummaryRowV1> for SummaryRow {
    fn from(r: SummaryRowV1) -> SummaryRow {
        // Version 1 had no intervals: each bound is the figure itself.
        SummaryRow {
            kind: r.kind,
            count: r.count,
            errors: r.errors,
            ops_per_sec: r.ops_per_sec,
            ops_per_sec_low: r.ops_per_sec,
            ops_per_sec_high: r.ops_per_sec,
            intended_mean_ns: r.intended_mean_ns,
            intended_p50_ns: r.intended_p50_ns,
            intended_p50_low_ns: r.intended_p50_ns,
            intended_p50_high_ns: r.intended_p50_ns,
            intended_p90_ns: r.intended_p90_ns,
            intended_p90_low_ns: r.intended_p90_ns,
            intended_p90_high_ns: r.intended_p90_ns,
            intended_p99_ns: r.intended_p99_ns,
            intended_p99_low_ns: r.intended_p99_ns,
            intended_p99_high_ns: r.intended_p99_ns,
            intended_p999_ns: r.intended_p999_ns,
            intended_p999_low_ns: r.intended_p999_ns,
            intended_p999_high_ns: r.intended_p999_ns,
            intended_p9999_ns: r.intended_p9999_ns,
            intended_p9999_low_ns: r.intended_p9999_ns,
            intended_p9999_high_ns: r.intended_p9999_ns,
            intended_max_ns: r.intended_max_ns,
            service_mean_ns: r.service_mean_ns,
            service_p50_ns: r.service_p50_ns,
            service_p50_low_ns: r.service_p50_ns,
            service_p50_high_ns: r.service_p50_ns,
            service_p90_ns: r.service_p90_ns,
            service_p90_low_ns: r.service_p90_ns,
            service_p90_high_ns: r.service_p90_ns,
            service_p99_ns: r.service_p99_ns,
            service_p99_low_ns: r.service_p99_ns,
            service_p99_high_ns: r.service_p99_ns,
            service_p999_ns: r.service_p999_ns,
            service_p999_low_ns: r.service_p999_ns,
            service_p999_high_ns: r.service_p999_ns,
            service_p9999_ns: r.service_p9999_ns,
            service_p9999_low_ns: r.service_p9999_ns,
            service_p9999_high_ns: r.service_p9999_ns,
            service_max_ns: r.service_max_ns,
            schema: SCHEMA_VERSION,
        }
    }
}

/// `timeseries.csv`, version 1: the current columns without `schema`.
#[derive(Debug, Deserialize)]
pub struct TimeseriesRowV1 {
    interval: u64,
    start_ns: u64,
    duration_ns: u64,
    source: String,
    name: String,
    metric: String,
    value: u64,
}

impl From<TimeseriesRowV1> for TimeseriesRow<'static> {
    fn from(r: TimeseriesRowV1) -> TimeseriesRow<'static> {
        TimeseriesRow {
            interval: r.interval,
            start_ns: r.start_ns,
            duration_ns: r.duration_ns,
            source: r.source.into(),
            name: r.name.into(),
            metric: r.metric.into(),
            value: r.value,
            schema: SCHEMA_VERSION,
        }
    }
}

/// An audit verdict as version 1 wrote it: `pass`/`fail` in sweeps,
/// `passed`/`failed` in comparisons, `n/a` in both.
#[derive(Clone, Copy, Debug, Deserialize)]
enum AuditV1 {
    #[serde(alias = "passed", rename = "pass")]
    Pass,
    #[serde(alias = "failed", rename = "fail")]
    Fail,
    #[serde(rename = "n/a")]
    NotChecked,
}

impl From<AuditV1> for AuditVerdict {
    fn from(a: AuditV1) -> AuditVerdict {
        match a {
            AuditV1::Pass => AuditVerdict::Pass,
            AuditV1::Fail => AuditVerdict::Fail,
            AuditV1::NotChecked => AuditVerdict::NotChecked,
        }
    }
}

/// `comparison.csv`, version 1.
#[derive(Debug, Deserialize)]
pub struct ComparisonRowV1 {
    engine: String,
    #[serde(default)]
    client_threads: u32,
    #[serde(default)]
    engine_threads: u32,
    #[serde(default)]
    partitions: Option<u32>,
    #[serde(default)]
    ops: u64,
    #[serde(default)]
    errors: u64,
    ops_per_sec: f64,
    #[serde(default)]
    p50_ns: Option<f64>,
    p99_ns: f64,
    #[serde(default)]
    p999_ns: Option<f64>,
    #[serde(default)]
    max_ns: Option<f64>,
    #[serde(default)]
    audit: Option<AuditV1>,
}

impl From<ComparisonRowV1> for ComparisonRow {
    fn from(r: ComparisonRowV1) -> ComparisonRow {
        // A latency the file did not have reads as 0: figures leave zeros
        // off their log axes. Version 1 ran each engine once: one pass, no
        // interval, no ratio.
        let ns = |v: Option<f64>| v.map_or(0, |v| v.max(0.0).round() as u64);
        let p99 = ns(Some(r.p99_ns));
        ComparisonRow {
            engine: r.engine,
            client_threads: r.client_threads,
            engine_threads: r.engine_threads,
            partitions: r.partitions.unwrap_or(1),
            passes: 1,
            ops: r.ops,
            errors: r.errors,
            ops_per_sec: r.ops_per_sec,
            ops_per_sec_low: r.ops_per_sec,
            ops_per_sec_high: r.ops_per_sec,
            p50_ns: ns(r.p50_ns),
            p99_ns: p99,
            p99_low_ns: p99,
            p99_high_ns: p99,
            p999_ns: ns(r.p999_ns),
            max_ns: ns(r.max_ns),
            cpu_ns_per_op: 0.0,
            baseline: String::new(),
            ratio: None,
            ratio_low: None,
            ratio_high: None,
            verdict: None,
            p99_ratio: None,
            p99_ratio_low: None,
            p99_ratio_high: None,
            p99_verdict: None,
            audit: r.audit.map_or(AuditVerdict::NotChecked, Into::into),
            oversubscribed: false,
            schema: SCHEMA_VERSION,
        }
    }
}

/// `sweep.csv`, version 1.
#[derive(Debug, Deserialize)]
pub struct SweepRowV1 {
    engine: String,
    client_threads: u32,
    engine_threads: u32,
    cores_used: u32,
    users: u64,
    rate: Option<f64>,
    ops_per_sec: f64,
    p50_ns: f64,
    p99_ns: f64,
    p999_ns: f64,
    max_ns: f64,
    errors: u64,
    audit: AuditV1,
    efficiency: Option<f64>,
    c1_ops_per_sec: Option<f64>,
    #[serde(default)]
    partitions: Option<u32>,
    #[serde(default)]
    saturated: Option<bool>,
    #[serde(default)]
    rep: Option<u32>,
    #[serde(default)]
    stopped_by: Option<String>,
    #[serde(default)]
    measured_ns: Option<u64>,
    #[serde(default)]
    finished_at_unix_ms: Option<u64>,
}

impl From<SweepRowV1> for SweepRow {
    fn from(r: SweepRowV1) -> SweepRow {
        // Tables without `partitions` predate the shard/stripe dimension:
        // a sharded cell then ran a shard per engine thread, every other
        // engine one partition as far as the matrix is concerned.
        let partitions = r.partitions.unwrap_or(if r.engine == "sharded" {
            r.engine_threads.max(1)
        } else {
            1
        });
        SweepRow {
            engine: r.engine,
            client_threads: r.client_threads,
            engine_threads: r.engine_threads,
            cores_used: r.cores_used,
            users: r.users,
            rate: r.rate,
            ops_per_sec: r.ops_per_sec,
            ops_per_sec_low: None,
            ops_per_sec_high: None,
            p50_ns: r.p50_ns,
            p99_ns: r.p99_ns,
            p99_low_ns: None,
            p99_high_ns: None,
            p999_ns: r.p999_ns,
            max_ns: r.max_ns,
            errors: r.errors,
            audit: r.audit.into(),
            efficiency: r.efficiency,
            c1_ops_per_sec: r.c1_ops_per_sec,
            partitions,
            saturated: r.saturated.unwrap_or(false),
            // Tables without `rep` had one repetition per cell.
            rep: r.rep.unwrap_or(0),
            stopped_by: r.stopped_by.unwrap_or_else(|| "Limit".into()),
            measured_ns: r.measured_ns.unwrap_or(0),
            cpu_ns_per_op: None,
            // `cores_used` is the threads capped at the machine's cores.
            oversubscribed: r.client_threads + r.engine_threads > r.cores_used,
            replicas: 0,
            replication: None,
            finished_at_unix_ms: r.finished_at_unix_ms.unwrap_or(0),
            schema: SCHEMA_VERSION,
        }
    }
}

/// `sweep.json`, version 1 (`format: 1`; `repeat` missing before `--repeat`).
#[derive(Debug, Deserialize)]
pub struct SweepDocumentV1 {
    settings: SweepSettingsV1,
    matrix: MatrixV1,
    cells: usize,
    complete: bool,
    c1: Vec<Baseline>,
    null_ceiling: Vec<Baseline>,
    cost: Vec<Cost>,
    machine: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct SweepSettingsV1 {
    workload: String,
    scenario: serde_json::Value,
    seed: u64,
    warmup_ns: u64,
    duration_ns: u64,
    interval_ns: u64,
    inflight: usize,
    max_outstanding: usize,
    mailbox: usize,
    channel: String,
    cpu_model: String,
    machine_cores: usize,
    release_build: bool,
    #[serde(default)]
    git_commit: Option<String>,
    #[serde(default)]
    rustc: String,
}

#[derive(Debug, Deserialize)]
struct MatrixV1 {
    engines: Vec<String>,
    threads: Vec<usize>,
    shards: Vec<usize>,
    stripes: Vec<usize>,
    users: Vec<u32>,
    /// Strings (`50k`, `50%`) since shares of capacity exist; ops/s as
    /// numbers before.
    rates: Vec<serde_json::Value>,
    #[serde(default)]
    repeat: Option<u32>,
}

impl From<SweepDocumentV1> for SweepDocument {
    fn from(d: SweepDocumentV1) -> SweepDocument {
        let s = d.settings;
        let m = d.matrix;
        SweepDocument {
            schema: SCHEMA_VERSION,
            settings: SweepSettings {
                workload: s.workload,
                scenario: s.scenario,
                seed: s.seed,
                warmup_ns: s.warmup_ns,
                duration_ns: s.duration_ns,
                interval_ns: s.interval_ns,
                inflight: s.inflight,
                max_outstanding: s.max_outstanding,
                mailbox: s.mailbox,
                channel: s.channel,
                cpu_model: s.cpu_model,
                machine_cores: s.machine_cores,
                release_build: s.release_build,
                git_commit: s.git_commit,
                rustc: s.rustc,
            },
            matrix: Matrix {
                engines: m.engines,
                threads: m.threads,
                shards: m.shards,
                stripes: m.stripes,
                users: m.users,
                rates: m
                    .rates
                    .into_iter()
                    .map(|r| match r {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
                repeat: m.repeat.unwrap_or(1),
            },
            cells: d.cells,
            complete: d.complete,
            c1: d.c1,
            null_ceiling: d.null_ceiling,
            cost: d.cost,
            verdicts: Vec::new(),
            machine: d.machine,
        }
    }
}

// How each output type reads from its version-1 file.

impl UpgradeV1 for SummaryRow {
    type V1 = SummaryRowV1;
    const V1_REQUIRED: &'static [&'static str] = &[
        "kind",
        "count",
        "errors",
        "ops_per_sec",
        "intended_p99_ns",
        "service_p99_ns",
    ];
}

impl UpgradeV1 for TimeseriesRow<'static> {
    type V1 = TimeseriesRowV1;
    const V1_REQUIRED: &'static [&'static str] = &[
        "interval",
        "start_ns",
        "duration_ns",
        "source",
        "name",
        "metric",
        "value",
    ];
}

impl UpgradeV1 for ComparisonRow {
    type V1 = ComparisonRowV1;
    const V1_REQUIRED: &'static [&'static str] = &["engine", "ops_per_sec", "p99_ns"];
}

// Comparisons of version 1 had no passes: no file without a `schema`
// column is read as one.
impl UpgradeV1 for PassRow {
    type V1 = PassRow;
    const V1_REQUIRED: &'static [&'static str] = &["engine", "pass", "schema"];
}

impl UpgradeV1 for SweepRow {
    type V1 = SweepRowV1;
    const V1_REQUIRED: &'static [&'static str] = &[
        "engine",
        "client_threads",
        "engine_threads",
        "cores_used",
        "users",
        "rate",
        "ops_per_sec",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "max_ns",
        "errors",
        "audit",
        "efficiency",
        "c1_ops_per_sec",
    ];
}

impl UpgradeV1 for SweepDocument {
    type V1 = SweepDocumentV1;
    const V1_REQUIRED: &'static [&'static str] = &[];
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::super::sweep::SweepDocument;
    use super::super::{SchemaError, read_csv, read_json, read_lenient, run, sweep};
    use super::*;

    fn docs(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    #[test]
    fn the_committed_sweeps_of_version_1_read_as_the_current_rows() {
        for dir in ["docs/sweep-2026-11-22", "docs/sweep-2026-12-02"] {
            let rows: Vec<sweep::SweepRow> = read_csv(&docs(dir).join("sweep.csv")).unwrap();
            assert!(rows.len() > 20, "{dir}");
            assert!(rows.iter().all(|r| r.schema == SCHEMA_VERSION));
            assert!(
                rows.iter()
                    .any(|r| r.engine == "serial" && r.audit == AuditVerdict::Pass)
            );
            assert!(rows.iter().any(|r| r.audit == AuditVerdict::NotChecked));
            let doc: SweepDocument = read_json(&docs(dir).join("sweep.json")).unwrap();
            assert_eq!(doc.schema, SCHEMA_VERSION);
            assert!(!doc.cost.is_empty(), "{dir}");
        }
        let cell = docs("docs/sweep-2026-12-02/cells/actor-c1-p1-u100000-closed");
        let summary: Vec<run::SummaryRow> = read_csv(&cell.join("summary.csv")).unwrap();
        assert_eq!(summary.last().unwrap().kind, "all");
    }

    fn temp(name: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("schema-v1-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn comparisons_of_version_1_spell_the_audit_as_passed_and_may_lack_columns() {
        let p = temp(
            "comparison.csv",
            "engine,ops_per_sec,p99_ns,audit\nserial,90000.0,27000,passed\nnull,1e6,900,n/a\n",
        );
        let rows: Vec<ComparisonRow> = read_csv(&p).unwrap();
        assert_eq!(rows[0].audit, AuditVerdict::Pass);
        assert_eq!(
            (rows[0].p50_ns, rows[0].p99_ns, rows[0].partitions),
            (0, 27000, 1)
        );
        assert_eq!(rows[1].audit, AuditVerdict::NotChecked);
    }

    #[test]
    fn a_sweep_table_without_partitions_or_rep_gets_them_from_its_cells() {
        let p = temp(
            "sweep.csv",
            "engine,client_threads,engine_threads,cores_used,users,rate,ops_per_sec,p50_ns,p99_ns,p999_ns,max_ns,errors,audit,efficiency,c1_ops_per_sec\n\
             sharded,1,4,5,100,,10,1,2,3,4,0,fail,,\n\
             striped,2,0,2,100,500,10,1,2,3,4,0,pass,0.5,10\n",
        );
        let rows: Vec<sweep::SweepRow> = read_csv(&p).unwrap();
        assert_eq!(
            (rows[0].partitions, rows[0].rep, rows[0].saturated),
            (4, 0, false)
        );
        assert_eq!(rows[0].audit, AuditVerdict::Fail);
        assert_eq!((rows[1].partitions, rows[1].rate), (1, Some(500.0)));
    }

    #[test]
    fn a_newer_file_is_refused_and_a_broken_line_is_dropped_only_when_lenient() {
        use super::super::CsvRow;
        let header = run::SummaryRow::COLUMNS.join(",");
        // kind, then numbers for every column but the last, then the version.
        let row = |schema: u32| {
            let n = run::SummaryRow::COLUMNS.len() - 2;
            format!("all,{},{schema}", vec!["1"; n].join(","))
        };
        let newer = temp("newer.csv", &format!("{header}\n{}\n", row(99)));
        let e = read_csv::<run::SummaryRow>(&newer).unwrap_err();
        assert!(matches!(e, SchemaError::Newer { found: 99, .. }), "{e}");
        let broken = temp("broken.csv", &format!("{header}\n{}\nall,1,0\n", row(2)));
        assert!(read_csv::<run::SummaryRow>(&broken).is_err());
        let l = read_lenient::<run::SummaryRow>(&broken).unwrap();
        assert_eq!((l.rows.len(), l.dropped), (1, 1));
    }
}
