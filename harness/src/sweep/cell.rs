//! Measuring one cell: its run configuration, the run, and its row of
//! `sweep.csv`.

use socialbench_engines::EngineKind;
use socialbench_workload::Workload;

use super::SweepSpec;
use super::plan::Line;
use crate::client::StopReason;
use crate::config::{LoopMode, RunError};
use crate::run::run_with_workload;
use crate::schema::SCHEMA_VERSION;
use crate::schema::sweep::SweepRow;
use crate::summary::RunSummary;

/// One cell to measure: a line at a users value, a rate (`None`: closed
/// loop) and a repetition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell<'a> {
    /// The line.
    pub line: &'a Line,
    /// Simulated users.
    pub users: u32,
    /// Offered rate of an open-loop cell.
    pub rate: Option<f64>,
    /// Repetition, from 0.
    pub rep: u32,
}

/// Runs `cell` on `workload` (prepared for its users value) with a fresh
/// engine, writing its run folder under `cells/`, and returns what the run
/// measured and the cell's row. `c1` is the serial baseline of the cell's
/// repetition, if measured (the C1 cell is its own baseline).
pub(crate) fn run_cell(
    spec: &SweepSpec,
    cell: Cell<'_>,
    workload: &Workload,
    c1: Option<f64>,
    machine_cores: usize,
) -> Result<(RunSummary, SweepRow), RunError> {
    let line = cell.line;
    let mut c = spec.base.for_engine(line.engine);
    c.replication = line.replication;
    if !c.replication.on() {
        // A kill needs a backup to promote: lines without one run unharmed.
        c.faults.kill_primary = None;
    }
    c.feeds.mode = line.feeds;
    c.durability.mode = line.durability;
    c.threads = Some(line.threads);
    c.partitions = line.partitions;
    c.users = Some(cell.users);
    if let Some(rate) = cell.rate {
        c.mode = LoopMode::Open {
            rate,
            max_outstanding: spec.max_outstanding,
            arrivals: Default::default(),
        };
    }
    c.out_root = Some(spec.out_dir.join("cells"));
    c.run_id = Some(line.cell_id(cell.users, cell.rate, cell.rep));
    c.link_latest = false;
    c.print_table = false;
    let s = run_with_workload(&c, workload)?;
    let c1 = if line.engine == EngineKind::Serial && cell.rate.is_none() {
        Some(round_rate(s.ops_per_sec))
    } else {
        c1
    };
    let mut row = row_of(&s, cell.rate, c1, machine_cores);
    row.rep = cell.rep;
    row.engine = line.label();
    row.replicas = line.replication.replicas as u32;
    row.replication = line
        .replication
        .on()
        .then(|| line.replication.mode.to_string());
    Ok((s, row))
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether an open-loop run fell behind its offered rate (module docs).
fn is_saturated(s: &RunSummary, rate: Option<f64>) -> bool {
    let Some(rate) = rate else { return false };
    if s.stopped_by == StopReason::Saturated {
        return true;
    }
    // Every op due in the window is sent however late, and the rate counts
    // them over the nominal window: a client still far behind at the end
    // (more than a tenth of the window) did not sustain the rate.
    if s.schedule
        .as_ref()
        .is_some_and(|sch| sch.final_lag_ns > s.measured_ns / 10)
    {
        return true;
    }
    let expected = rate * s.measured_ns as f64 / 1e9;
    let tolerance = (4.0 / expected.max(1.0).sqrt()).max(0.10);
    s.ops_per_sec < rate * (1.0 - tolerance)
}

/// Rates to 0.1 ops/s, as written in `sweep.csv`.
fn round_rate(r: f64) -> f64 {
    (r * 10.0).round() / 10.0
}

/// The `sweep.csv` row of a run (its repetition set by the caller).
fn row_of(s: &RunSummary, rate: Option<f64>, c1: Option<f64>, machine_cores: usize) -> SweepRow {
    let all = s.all().map(|k| k.intended).unwrap_or_default();
    let throughput = s.all().map(|k| k.throughput);
    let cores_used = (s.client_threads + s.engine_threads).min(machine_cores.max(1)) as u32;
    let ops_per_sec = round_rate(s.ops_per_sec);
    let cpu = s.cpu.total_ns_per_op;
    SweepRow {
        engine: s.engine.clone(),
        client_threads: s.client_threads as u32,
        engine_threads: s.engine_threads as u32,
        cores_used,
        users: s.users as u64,
        rate,
        ops_per_sec,
        ops_per_sec_low: throughput.map(|t| round_rate(t.low)),
        ops_per_sec_high: throughput.map(|t| round_rate(t.high)),
        p50_ns: all.p50_ns as f64,
        p99_ns: all.p99_ns as f64,
        p99_low_ns: s.all().map(|k| k.intended.low_ns[2] as f64),
        p99_high_ns: s.all().map(|k| k.intended.high_ns[2] as f64),
        p999_ns: all.p999_ns as f64,
        max_ns: all.max_ns as f64,
        errors: s.errors,
        audit: s.audit.verdict,
        efficiency: c1.and_then(|c| crate::schema::cells::efficiency(ops_per_sec, cores_used, c)),
        c1_ops_per_sec: c1,
        partitions: s.partitions as u32,
        saturated: is_saturated(s, rate),
        stopped_by: format!("{:?}", s.stopped_by),
        measured_ns: s.measured_ns,
        cpu_ns_per_op: (cpu > 0.0).then(|| round_rate(cpu)),
        oversubscribed: s.oversubscribed,
        // Set from the line by the caller.
        replicas: 0,
        replication: None,
        finished_at_unix_ms: unix_ms(),
        rep: 0,
        schema: SCHEMA_VERSION,
    }
}
