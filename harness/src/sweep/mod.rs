//! Sweeps (DESIGN sections 5 and 9): a matrix of engines x client threads x
//! partitions (shards or stripes) x users x open-loop rates, run one cell at a
//! time on this machine, each cell a row of `sweep.csv`.
//!
//! # The matrix
//! For each users value the workload is prepared once and shared by every
//! cell (a [`Workload`] is immutable); each cell builds a fresh engine. A
//! *line* is one (engine, client threads, partitions, users) setting: its
//! closed-loop cell (capacity) runs first, then one open-loop cell per rate,
//! ascending, until a cell saturates; higher rates of that line are not run
//! (the curve has reached its knee, and past it a cell only measures a
//! queue). A rate is either absolute (`100k` ops/s, the same for every line)
//! or a share of the line's own capacity (`50%`: half the ops/s its
//! closed-loop cell measured, rounded to whole ops/s), so `--rates 50%`
//! puts every engine at half *its* capacity. A resumed sweep derives the
//! shares from the closed-loop rows in `sweep.csv`, so it finds the same
//! cells. Partition lists apply to partitioned engines only (`sharded`,
//! `striped`); the others run one partition and are not multiplied.
//!
//! # Repetitions
//! `--repeat N` measures every cell N times, in N passes over the lines of a
//! users value (pass k runs every line once), so that a slow spell of the
//! machine (a virtual machine's neighbours come and go over minutes) spreads
//! over the engines instead of landing on one of them. Each repetition is a
//! row (`rep` column); the table, C1, the null ceiling and COST use each
//! cell's median repetition ([`crate::stats::cells::medians`]), and the table ends with
//! the widest spread of throughput between repetitions of one cell.
//!
//! # Baselines in the same run
//! Whatever `engines` lists, every users value also measures the serial
//! baseline C1 (the `serial` engine, one client thread, closed loop, run
//! first) and the `null` engine (the harness's ceiling) at each client-thread
//! count; `serial` only ever runs with one client thread. A row's efficiency
//! is `ops_per_sec / (cores_used x C1)` with
//! `cores_used = min(client threads + engine threads, machine cores)`, and an
//! engine's COST is the fewest cores on which a closed-loop cell beat C1
//! ([`report::costs`]), all from figures of one run on one machine.
//!
//! # Saturation
//! An open-loop cell is saturated when the harness stopped it for falling
//! behind its schedule, when its clients were still behind schedule at the
//! end by more than a tenth of the measured window, or when it achieved less
//! than the offered rate by more than Poisson noise explains: `achieved <
//! offered x (1 - max(10%, 4 / sqrt(expected ops)))`.
//!
//! # Resume
//! The folder holds `sweep.json` (the spec, the last matrix, the baselines
//! and the COST) and `sweep.csv`. A row is appended and flushed as soon as
//! its cell is done. Started again with the same folder, a sweep reads the
//! rows already there, keys them by their matrix coordinates ([`CellKey`])
//! and skips those cells. The folder's *spec* is everything a cell's numbers
//! depend on other than its coordinates: the scenario (resolved, users
//! aside), seed, warmup, duration, interval, inflight, open-loop bound,
//! mailbox, channel, the machine (CPU model, cores, release build) and the
//! code (git commit, rustc), so C1 and every cell come from one build. A
//! different spec is refused (bad input, exit 2), naming the fields that
//! differ. The matrix lists may change between invocations: a bigger matrix
//! adds cells, and rows outside the new matrix stay in the file and in the
//! table and COST. A cell interrupted by Ctrl-C writes no row, so the next
//! invocation measures it again.

pub mod report;
pub mod row;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use socialbench_engines::EngineKind;
use socialbench_workload::Workload;

pub use row::{CellKey, SweepCsv};

use crate::client::StopReason;
use crate::config::{Limit, LoopMode, ProgressMode, RunConfig, RunError};
use crate::machine::MachineInfo;
use crate::pinning::machine_cores;
use crate::run::{build_workload, run_with_workload};
use crate::schema::sweep::{Baseline, Cost, Matrix, SweepDocument, SweepRow, SweepSettings};
use crate::schema::{AuditVerdict, SCHEMA_VERSION, SWEEP_CSV, SWEEP_JSON};
use crate::summary::RunSummary;
use crate::units::human_rate;

/// What a sweep is asked to do. `base` carries the fixed settings
/// (workload, seed, warmup, duration, interval, mailbox, channel, inflight
/// via a closed [`LoopMode`], progress, stop signal); engine, threads,
/// partitions, users, mode and outputs are set per cell.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// Engines to measure (`null` and `serial` are added as baselines).
    pub engines: Vec<EngineKind>,
    /// Client thread counts.
    pub threads: Vec<usize>,
    /// Shard counts of `sharded`.
    pub shards: Vec<usize>,
    /// Stripe counts of `striped`.
    pub stripes: Vec<usize>,
    /// Users values.
    pub users: Vec<u32>,
    /// Open-loop rates (empty: closed loop only).
    pub rates: Vec<RateSpec>,
    /// Most ops outstanding per client thread in the open loop.
    pub max_outstanding: usize,
    /// Times each cell is measured (at least 1; see the module docs).
    pub repeat: u32,
    /// The fixed settings of every cell.
    pub base: RunConfig,
    /// The sweep's folder.
    pub out_dir: PathBuf,
}

/// The thread counts a sweep tries by default: powers of two below the
/// machine's core count, and the core count itself (2 cores: 1, 2; 6 cores:
/// 1, 2, 4, 6).
pub fn default_thread_counts(cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n < cores)
        .collect();
    v.push(cores);
    v
}

fn list_items<'a>(flag: &str, s: &'a str) -> Result<Vec<&'a str>, RunError> {
    let items: Vec<&str> = s.split(',').map(str::trim).collect();
    if items.iter().all(|i| i.is_empty()) {
        return Err(RunError::BadInput(format!("{flag}: empty list")));
    }
    if let Some(pos) = items.iter().position(|i| i.is_empty()) {
        return Err(RunError::BadInput(format!(
            "{flag} `{s}`: empty item at position {}",
            pos + 1
        )));
    }
    Ok(items)
}

/// Parses `--engines a,b,c` (duplicates dropped, order kept).
pub fn parse_engines(s: &str) -> Result<Vec<EngineKind>, RunError> {
    let mut out = Vec::new();
    for item in list_items("--engines", s)? {
        let k = EngineKind::parse(item).ok_or_else(|| {
            RunError::BadInput(format!(
                "--engines: unknown engine `{item}` (known: {})",
                EngineKind::known_names()
            ))
        })?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Parses a list of counts such as `--threads 1,2,4` (each at least 1;
/// sorted, duplicates dropped).
pub fn parse_counts(flag: &str, s: &str) -> Result<Vec<usize>, RunError> {
    let mut out = BTreeSet::new();
    for item in list_items(flag, s)? {
        match item.parse::<usize>() {
            Ok(0) => {
                return Err(RunError::BadInput(format!(
                    "{flag}: `0` is not allowed, counts must be at least 1"
                )));
            }
            Ok(n) => {
                out.insert(n);
            }
            Err(_) => {
                return Err(RunError::BadInput(format!(
                    "{flag}: `{item}` is not a positive integer"
                )));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Parses `--users 1000,100k` (`k`/`M` suffixes; 1 to 2^31 - 1; sorted).
pub fn parse_users(s: &str) -> Result<Vec<u32>, RunError> {
    let mut out = BTreeSet::new();
    for item in list_items("--users", s)? {
        let bad = || {
            RunError::BadInput(format!(
                "--users: `{item}` is not a user count from 1 to 2147483647"
            ))
        };
        let v = crate::config::parse_rate(item).map_err(|_| bad())?;
        if v.fract() != 0.0 || !(1.0..(1u64 << 31) as f64).contains(&v) {
            return Err(bad());
        }
        out.insert(v as u32);
    }
    Ok(out.into_iter().collect())
}

/// One open-loop rate of a sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateSpec {
    /// Ops/s, the same for every line.
    PerSec(f64),
    /// A share of the line's closed-loop ops/s (`0.5` for `50%`).
    OfCapacity(f64),
}

impl std::fmt::Display for RateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateSpec::PerSec(r) => write!(f, "{r}"),
            RateSpec::OfCapacity(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

/// Parses `--rates 10k,50k,50%` (positive ops/s with `k`/`M` suffixes, or
/// a share of each line's capacity ending in `%`, above 0 and at most
/// 1000%; absolute rates first, ascending, then shares, ascending;
/// duplicates dropped).
pub fn parse_rates(s: &str) -> Result<Vec<RateSpec>, RunError> {
    let (mut abs, mut rel) = (Vec::new(), Vec::new());
    for item in list_items("--rates", s)? {
        if let Some(pct) = item.strip_suffix('%') {
            match pct.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && p > 0.0 && p <= 1000.0 => rel.push(p / 100.0),
                _ => {
                    return Err(RunError::BadInput(format!(
                        "--rates: `{item}` is not a share of capacity above 0% and at most 1000%"
                    )));
                }
            }
        } else {
            let r = crate::config::parse_rate(item)
                .map_err(|e| RunError::BadInput(format!("--rates: {e}")))?;
            abs.push(r);
        }
    }
    for v in [&mut abs, &mut rel] {
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    Ok(abs
        .into_iter()
        .map(RateSpec::PerSec)
        .chain(rel.into_iter().map(RateSpec::OfCapacity))
        .collect())
}

/// The open-loop rates of one line, ascending, given the ops/s its
/// closed-loop cell measured (shares of capacity are left out without it).
fn line_rates(rates: &[RateSpec], capacity: Option<f64>) -> Vec<f64> {
    let mut out: Vec<f64> = rates
        .iter()
        .filter_map(|r| match *r {
            RateSpec::PerSec(r) => Some(r),
            RateSpec::OfCapacity(x) => capacity
                .map(|c| (c * x).round())
                .filter(|r| r.is_finite() && *r >= 1.0),
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// The settings of `spec` on `machine` (see the module docs, "Resume").
fn settings_of(spec: &SweepSpec, machine: &MachineInfo) -> Result<SweepSettings, RunError> {
    let c = &spec.base;
    let scenario = socialbench_workload::Scenario::from_arg(&c.workload)
        .map_err(|e| RunError::BadInput(e.to_string()))?;
    let mut scenario =
        serde_json::to_value(&scenario).map_err(|e| RunError::BadInput(e.to_string()))?;
    if let Some(m) = scenario.as_object_mut() {
        m.remove("users");
    }
    let duration_ns = match c.limit {
        Limit::Duration(d) => d.as_nanos() as u64,
        Limit::Ops(_) => {
            return Err(RunError::BadInput(
                "a sweep's cells are limited by --duration, not --ops".into(),
            ));
        }
    };
    let inflight = match c.mode {
        LoopMode::Closed { inflight } => inflight,
        LoopMode::Open { .. } => {
            return Err(RunError::BadInput(
                "a sweep's base mode is closed loop; rates come from --rates".into(),
            ));
        }
    };
    let settings = SweepSettings {
        workload: c.workload.clone(),
        scenario,
        seed: c.seed,
        warmup_ns: c.warmup.as_nanos() as u64,
        duration_ns,
        interval_ns: c.interval.as_nanos() as u64,
        inflight,
        max_outstanding: spec.max_outstanding,
        mailbox: c.mailbox,
        channel: format!("{:?}", c.channel).to_lowercase(),
        cpu_model: machine.cpu_model.clone(),
        machine_cores: machine.usable_cores.len().max(1),
        release_build: machine.release_build,
        git_commit: machine.git_commit.clone(),
        rustc: machine.rustc.clone(),
    };
    // Round-trip through JSON text so the comparison with a stored spec
    // sees floats exactly as they will be read back.
    let text = serde_json::to_string(&settings).map_err(|e| RunError::BadInput(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| RunError::BadInput(e.to_string()))
}

/// What a sweep did.
#[derive(Debug)]
pub struct SweepOutcome {
    /// Every row now in `sweep.csv`.
    pub rows: Vec<SweepRow>,
    /// Cells measured by this invocation.
    pub ran: usize,
    /// Cells skipped because `sweep.csv` had them.
    pub skipped: usize,
    /// Rates not run because the line had saturated at a lower rate.
    pub beyond_saturation: usize,
    /// Whether Ctrl-C stopped the sweep before its end.
    pub interrupted: bool,
    /// COST per engine and users value.
    pub cost: Vec<Cost>,
    /// The folder.
    pub out_dir: PathBuf,
    /// Plot files written (empty if drawing failed; see `plot_error`).
    pub plots: Vec<PathBuf>,
    /// Why the plots could not be drawn, if they could not.
    pub plot_error: Option<String>,
}

impl SweepOutcome {
    /// Rows whose audit failed.
    pub fn failed_audits(&self) -> Vec<&SweepRow> {
        self.rows
            .iter()
            .filter(|r| r.audit == AuditVerdict::Fail)
            .collect()
    }
}

/// One (engine, client threads, partitions) setting: a closed-loop cell,
/// then the rates.
#[derive(Clone, Copy, Debug)]
struct Line {
    engine: EngineKind,
    threads: usize,
    /// `Some` for partitioned engines.
    partitions: Option<usize>,
}

impl Line {
    fn key(&self, users: u32, rate: Option<f64>, rep: u32) -> CellKey {
        CellKey {
            engine: self.engine.name().into(),
            client_threads: self.threads as u32,
            partitions: self.partitions.unwrap_or(1) as u32,
            users: users as u64,
            rate_bits: rate.map(f64::to_bits),
            rep,
        }
    }

    fn describe(&self, users: u32, rate: Option<f64>) -> String {
        let parts = match (self.engine, self.partitions) {
            (EngineKind::Sharded, Some(p)) => format!(" shards={p}"),
            (EngineKind::Striped, Some(p)) => format!(" stripes={p}"),
            _ => String::new(),
        };
        format!(
            "{} clients={}{parts} users={} {}",
            self.engine.name(),
            self.threads,
            users,
            rate.map_or("closed".into(), |r| format!("rate={}", human_rate(r)))
        )
    }

    fn cell_id(&self, users: u32, rate: Option<f64>, rep: u32) -> String {
        format!(
            "{}-c{}-p{}-u{}-{}{}",
            self.engine.name(),
            self.threads,
            self.partitions.unwrap_or(1),
            users,
            rate.map_or("closed".into(), |r| format!("r{r}")),
            if rep > 0 {
                format!("-rep{rep}")
            } else {
                String::new()
            }
        )
    }
}

/// The lines of one users value: C1 first, the null ceiling, then the engines.
fn lines(spec: &SweepSpec) -> Vec<Line> {
    let mut v = vec![Line {
        engine: EngineKind::Serial,
        threads: 1,
        partitions: None,
    }];
    let mut engines = vec![EngineKind::Null];
    engines.extend(
        spec.engines
            .iter()
            .copied()
            .filter(|e| !matches!(e, EngineKind::Null | EngineKind::Serial)),
    );
    for e in engines {
        for &t in &spec.threads {
            let parts: Vec<Option<usize>> = match e {
                EngineKind::Sharded => spec.shards.iter().map(|&p| Some(p)).collect(),
                EngineKind::Striped => spec.stripes.iter().map(|&p| Some(p)).collect(),
                _ => vec![None],
            };
            for partitions in parts {
                v.push(Line {
                    engine: e,
                    threads: t,
                    partitions,
                });
            }
        }
    }
    v
}

fn check_spec(spec: &SweepSpec) -> Result<(), RunError> {
    let bad = |m: String| Err(RunError::BadInput(m));
    for (flag, list) in [
        ("--threads", &spec.threads),
        ("--shards", &spec.shards),
        ("--stripes", &spec.stripes),
    ] {
        if list.is_empty() {
            return bad(format!("{flag}: empty list"));
        }
        if list.contains(&0) {
            return bad(format!("{flag}: counts must be at least 1"));
        }
    }
    if spec.users.is_empty() {
        return bad("--users: empty list".into());
    }
    if spec.users.contains(&0) {
        return bad("--users: must be at least 1".into());
    }
    if spec.rates.iter().any(|r| {
        let (RateSpec::PerSec(v) | RateSpec::OfCapacity(v)) = *r;
        !(v.is_finite() && v > 0.0)
    }) {
        return bad("--rates: rates must be positive".into());
    }
    if spec.max_outstanding == 0 {
        return bad("--max-outstanding must be at least 1".into());
    }
    if spec.repeat == 0 {
        return bad("--repeat must be at least 1".into());
    }
    if let Limit::Duration(d) = spec.base.limit {
        if d.is_zero() {
            return bad("--duration must be positive".into());
        }
    }
    Ok(())
}

/// Creates the folder, or checks that an existing one is this sweep's:
/// empty, or holding a `sweep.json` with the same settings.
fn prepare_folder(dir: &Path, settings: &SweepSettings) -> Result<(), RunError> {
    let not_writable = |e: std::io::Error| {
        RunError::BadInput(format!(
            "sweep folder {} is not writable: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(not_writable)?;
    let json = dir.join(SWEEP_JSON);
    if json.is_file() {
        let doc: SweepDocument = crate::schema::read_json(&json)
            .map_err(|e| RunError::BadInput(format!("{e}: not a sweep spec this version reads")))?;
        let diff = settings.differences(&doc.settings);
        if !diff.is_empty() {
            return Err(RunError::BadInput(format!(
                "{} holds a sweep with another spec ({}); resume needs the same spec, or use another --out",
                dir.display(),
                diff.join("; ")
            )));
        }
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir).map_err(not_writable)?;
    if entries.next().is_some() {
        return Err(RunError::BadInput(format!(
            "{} is not empty and holds no {SWEEP_JSON}: not a sweep folder to resume; use another --out",
            dir.display()
        )));
    }
    Ok(())
}

fn write_document(dir: &Path, doc: &SweepDocument) -> Result<(), RunError> {
    let path = dir.join(SWEEP_JSON);
    let tmp = dir.join(format!("{SWEEP_JSON}.tmp"));
    let text = serde_json::to_string_pretty(doc).map_err(|e| RunError::output(&path, e))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| RunError::output(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| RunError::output(&path, e))
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

fn row_of(s: &RunSummary, rate: Option<f64>, c1: Option<f64>, machine_cores: usize) -> SweepRow {
    let all = s.all().map(|k| k.intended).unwrap_or_default();
    let cores_used = (s.client_threads + s.engine_threads).min(machine_cores.max(1)) as u32;
    let ops_per_sec = round_rate(s.ops_per_sec);
    SweepRow {
        engine: s.engine.clone(),
        client_threads: s.client_threads as u32,
        engine_threads: s.engine_threads as u32,
        cores_used,
        users: s.users as u64,
        rate,
        ops_per_sec,
        p50_ns: all.p50_ns as f64,
        p99_ns: all.p99_ns as f64,
        p999_ns: all.p999_ns as f64,
        max_ns: all.max_ns as f64,
        errors: s.errors,
        audit: s.audit.verdict,
        efficiency: c1.and_then(|c| crate::stats::cells::efficiency(ops_per_sec, cores_used, c)),
        c1_ops_per_sec: c1,
        partitions: s.partitions as u32,
        saturated: is_saturated(s, rate),
        stopped_by: format!("{:?}", s.stopped_by),
        measured_ns: s.measured_ns,
        finished_at_unix_ms: unix_ms(),
        rep: 0,
        schema: SCHEMA_VERSION,
    }
}

/// Runs the sweep (see the module docs): resumes from the folder's rows,
/// measures the missing cells one at a time, writes `sweep.json` with the
/// COST, prints the table, and draws the plots.
pub fn sweep(spec: &SweepSpec) -> Result<SweepOutcome, RunError> {
    check_spec(spec)?;
    let machine = MachineInfo::probe();
    let ncores = machine_cores().len().max(1);
    let settings = settings_of(spec, &machine)?;
    let dir = &spec.out_dir;
    prepare_folder(dir, &settings)?;
    let (mut csv, mut rows, dropped) = SweepCsv::open(dir)?;
    let quiet = spec.base.progress == ProgressMode::Quiet;
    let say = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    if dropped > 0 {
        say(format!(
            "sweep: dropped {dropped} unreadable line(s) of {} (their cells run again)",
            dir.join(SWEEP_CSV).display()
        ));
    }
    let matrix = Matrix {
        engines: spec.engines.iter().map(|e| e.name().to_string()).collect(),
        threads: spec.threads.clone(),
        shards: spec.shards.clone(),
        stripes: spec.stripes.clone(),
        users: spec.users.clone(),
        rates: spec.rates.iter().map(ToString::to_string).collect(),
        repeat: spec.repeat,
    };
    let document = |all: &[SweepRow], complete: bool| {
        // Conclusions from the median repetition of each cell.
        let rows = &crate::stats::cells::medians(all)[..];
        SweepDocument {
            schema: SCHEMA_VERSION,
            settings: settings.clone(),
            matrix: matrix.clone(),
            cells: all.len(),
            complete,
            c1: crate::stats::cells::c1_by_users(rows)
                .into_iter()
                .map(|(users, ops)| Baseline {
                    users,
                    client_threads: 1,
                    ops_per_sec: ops,
                })
                .collect(),
            null_ceiling: rows
                .iter()
                .filter(|r| r.engine == "null" && r.rate.is_none())
                .map(|r| Baseline {
                    users: r.users,
                    client_threads: r.client_threads,
                    ops_per_sec: r.ops_per_sec,
                })
                .collect(),
            cost: report::costs(rows),
            machine: serde_json::to_value(&machine).unwrap_or_default(),
        }
    };
    write_document(dir, &document(&rows, false))?;

    let mut done: HashMap<CellKey, bool> =
        rows.iter().map(|r| (CellKey::of(r), r.saturated)).collect();
    let lines = lines(spec);
    // The closed-loop capacity of a line, once measured (shares of capacity
    // are taken of it).
    // are taken of it): the first repetition's, so that every repetition
    // of a line offers the same rates.
    let capacity = |rows: &[SweepRow], key: &CellKey| {
        rows.iter()
            .find(|r| CellKey::of(r) == *key)
            .map(|r| r.ops_per_sec)
    };
    let loops = 1 + spec.rates.len();
    let reps = spec.repeat.max(1);
    let total = spec.users.len() * lines.len() * loops * reps as usize;
    let mut planned_present = 0;
    for &u in &spec.users {
        for l in &lines {
            let opens = line_rates(&spec.rates, capacity(&rows, &l.key(u, None, 0)));
            for rep in 0..reps {
                planned_present += usize::from(done.contains_key(&l.key(u, None, rep)));
                for &r in &opens {
                    planned_present += usize::from(done.contains_key(&l.key(u, Some(r), rep)));
                }
            }
        }
    }
    if planned_present > 0 {
        say(format!(
            "sweep: resuming {}: skipping {planned_present} cells already in sweep.csv",
            dir.display()
        ));
    }
    say(format!(
        "sweep: {} users value(s) x {} line(s) x {} loop(s) x {reps} repetition(s) = {total} cells, {} s each + warmup + load",
        spec.users.len(),
        lines.len(),
        loops,
        settings.duration_ns as f64 / 1e9
    ));

    let (mut ran, mut skipped, mut beyond, mut index) = (0, 0, 0, 0);
    let mut interrupted = false;
    'users: for &users in &spec.users {
        let mut workload: Option<Workload> = None;
        // Repetitions outermost (after users): each pass measures every
        // line once, so a slow spell of the machine spreads over engines
        // instead of falling on one engine's repetitions.
        for rep in 0..reps {
            for line in &lines {
                let mut saturated_below: Option<f64> = None;
                // The closed-loop cell first; the open-loop rates once its
                // capacity is known.
                let mut queue: Vec<Option<f64>> = vec![None];
                let mut qi = 0;
                loop {
                    if qi == 1 {
                        let c = capacity(&rows, &line.key(users, None, 0));
                        queue.extend(line_rates(&spec.rates, c).into_iter().map(Some));
                    }
                    let Some(&rate) = queue.get(qi) else { break };
                    qi += 1;
                    index += 1;
                    let key = line.key(users, rate, rep);
                    let mut what = line.describe(users, rate);
                    if reps > 1 {
                        what.push_str(&format!(" rep={}/{reps}", rep + 1));
                    }
                    if let Some(&sat) = done.get(&key) {
                        skipped += 1;
                        if sat {
                            saturated_below = rate;
                        }
                        continue;
                    }
                    if let Some(r) = saturated_below {
                        beyond += 1;
                        say(format!(
                            "[{index}/{total}] {what}: not run, saturated at {} ops/s",
                            human_rate(r)
                        ));
                        continue;
                    }
                    if spec.base.stop.is_stopped() {
                        interrupted = true;
                        break 'users;
                    }
                    let w = match &mut workload {
                        Some(w) => &*w,
                        None => {
                            let mut c = spec.base.clone();
                            c.users = Some(users);
                            &*workload.insert(build_workload(&c)?)
                        }
                    };
                    say(format!("[{index}/{total}] {what}"));
                    let mut c = spec.base.clone();
                    c.engine = line.engine;
                    c.threads = Some(line.threads);
                    c.partitions = line.partitions;
                    c.users = Some(users);
                    if let Some(rate) = rate {
                        c.mode = LoopMode::Open {
                            rate,
                            max_outstanding: spec.max_outstanding,
                        };
                    }
                    c.out_root = Some(dir.join("cells"));
                    c.run_id = Some(line.cell_id(users, rate, rep));
                    c.link_latest = false;
                    c.print_table = false;
                    let s = run_with_workload(&c, w)?;
                    if s.stopped_by == StopReason::Interrupted {
                        interrupted = true;
                        break 'users;
                    }
                    // C1 of this repetition (the median over repetitions is
                    // what the table and COST use; see stats::cells::medians).
                    // (`lines` puts the C1 line first.)
                    let c1 = capacity(&rows, &lines[0].key(users, None, rep));
                    // The C1 cell is its own baseline.
                    let c1 = if line.engine == EngineKind::Serial && rate.is_none() {
                        Some(round_rate(s.ops_per_sec))
                    } else {
                        c1
                    };
                    let mut row = row_of(&s, rate, c1, ncores);
                    row.rep = rep;
                    csv.append(&row)?;
                    say(format!(
                        "[{index}/{total}] {what}: {} ops/s, p99 {}, audit {:?}{}",
                        human_rate(row.ops_per_sec),
                        crate::units::human_ns(row.p99_ns as u64),
                        row.audit,
                        if row.saturated { ", saturated" } else { "" }
                    ));
                    if row.saturated {
                        saturated_below = rate;
                    }
                    done.insert(key, row.saturated);
                    rows.push(row);
                    ran += 1;
                }
            }
        }
    }
    let complete = !interrupted;
    let doc = document(&rows, complete);
    write_document(dir, &doc)?;
    let order: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
    if spec.base.print_table {
        print!(
            "{}",
            report::render(&crate::stats::cells::medians(&rows), &order, &doc.cost)
        );
        if reps > 1 {
            println!("{}", report::spread(&rows));
        }
    }
    let (plots, plot_error) = if rows.is_empty() {
        (Vec::new(), Some("no rows to plot".to_string()))
    } else {
        match crate::plot::plot_sweep(dir) {
            Ok(p) => (p, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    };
    if spec.base.print_table {
        println!(
            "sweep: {ran} cells run, {skipped} skipped (already measured), {beyond} beyond saturation{}",
            if interrupted {
                "; interrupted: run the same command again to resume"
            } else {
                ""
            }
        );
        println!("results: {}", dir.display());
        match &plot_error {
            None => println!("plots: {}", crate::plot::describe_plots(dir, &plots)),
            Some(e) => eprintln!("warning: sweep plots not drawn: {e}"),
        }
    }
    Ok(SweepOutcome {
        rows,
        ran,
        skipped,
        beyond_saturation: beyond,
        interrupted,
        cost: doc.cost,
        out_dir: dir.clone(),
        plots,
        plot_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_thread_counts_are_powers_of_two_then_the_core_count() {
        assert_eq!(default_thread_counts(1), vec![1]);
        assert_eq!(default_thread_counts(2), vec![1, 2]);
        assert_eq!(default_thread_counts(6), vec![1, 2, 4, 6]);
        assert_eq!(default_thread_counts(8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn lists_parse_sorted_and_reject_empty_zero_and_garbage() {
        assert_eq!(parse_counts("--threads", "4,1,2,2").unwrap(), vec![1, 2, 4]);
        assert_eq!(
            parse_rates("50%,50k,10k,25%,50%").unwrap(),
            vec![
                RateSpec::PerSec(10_000.0),
                RateSpec::PerSec(50_000.0),
                RateSpec::OfCapacity(0.25),
                RateSpec::OfCapacity(0.5)
            ]
        );
        assert_eq!(parse_users("100k,1000").unwrap(), vec![1000, 100_000]);
        assert_eq!(
            parse_engines("striped,actor,striped").unwrap(),
            vec![EngineKind::Striped, EngineKind::Actor]
        );
        for (r, needle) in [
            (parse_counts("--threads", ""), "empty list"),
            (parse_counts("--threads", "1,,2"), "empty item"),
            (parse_counts("--threads", "0,1"), "at least 1"),
            (parse_counts("--threads", "two"), "`two`"),
            (parse_rates("10k,fast").map(|_| vec![]), "fast"),
            (parse_rates("0%").map(|_| vec![]), "`0%`"),
            (parse_rates("2000%").map(|_| vec![]), "`2000%`"),
            (parse_rates("half%").map(|_| vec![]), "`half%`"),
            (parse_users("1.5").map(|_| vec![]), "1.5"),
            (parse_engines("actor,quantum").map(|_| vec![]), "quantum"),
        ] {
            let e = r.unwrap_err();
            assert!(e.is_bad_input() && e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn shares_of_capacity_follow_each_lines_closed_loop_figure() {
        let r = [
            RateSpec::PerSec(100_000.0),
            RateSpec::OfCapacity(0.5),
            RateSpec::OfCapacity(2.0),
        ];
        // Ascending whatever the order of absolute and relative rates.
        assert_eq!(
            line_rates(&r, Some(150_001.0)),
            vec![75_001.0, 100_000.0, 300_002.0]
        );
        // A share equal to an absolute rate runs once.
        assert_eq!(line_rates(&r, Some(200_000.0)), vec![100_000.0, 400_000.0]);
        // Without a capacity (or one too small to give 1 op/s) only the absolute rates remain.
        assert_eq!(line_rates(&r, None), vec![100_000.0]);
        assert_eq!(line_rates(&r[1..2], Some(0.8)), Vec::<f64>::new());
    }

    fn spec(engines: &[EngineKind]) -> SweepSpec {
        SweepSpec {
            engines: engines.to_vec(),
            threads: vec![1, 2],
            shards: vec![1, 2, 4],
            stripes: vec![8],
            users: vec![1000],
            rates: vec![],
            max_outstanding: 100,
            repeat: 1,
            base: RunConfig::new(EngineKind::Null),
            out_dir: PathBuf::new(),
        }
    }

    #[test]
    fn partitions_multiply_only_partitioned_engines_and_baselines_come_first() {
        let l = lines(&spec(&[
            EngineKind::Actor,
            EngineKind::Sharded,
            EngineKind::Striped,
        ]));
        let names: Vec<(&str, usize, Option<usize>)> = l
            .iter()
            .map(|l| (l.engine.name(), l.threads, l.partitions))
            .collect();
        assert_eq!(names[0], ("serial", 1, None));
        assert_eq!(&names[1..3], &[("null", 1, None), ("null", 2, None)]);
        let count = |e: &str| names.iter().filter(|n| n.0 == e).count();
        assert_eq!(count("serial"), 1);
        assert_eq!(count("actor"), 2);
        assert_eq!(count("sharded"), 2 * 3);
        assert_eq!(count("striped"), 2);
        assert!(names.contains(&("striped", 2, Some(8))));
    }

    #[test]
    fn serial_and_null_listed_by_the_user_are_not_run_twice() {
        let l = lines(&spec(&[EngineKind::Null, EngineKind::Serial]));
        assert_eq!(l.len(), 1 + 2);
    }
}
