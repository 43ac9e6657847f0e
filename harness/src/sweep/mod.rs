//! Sweeps: a matrix of engines x client threads x
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
//! cell's median repetition ([`crate::schema::cells::medians`]), and the table ends with
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

mod cell;
mod folder;
pub mod plan;
pub mod report;
pub mod row;

use std::collections::HashMap;
use std::path::PathBuf;

use socialbench_engines::{DurabilityMode, EngineKind, FeedMode, Replication};
use socialbench_workload::Workload;

pub use plan::{RateSpec, default_thread_counts, normalize, parse_users};
pub use row::{CellKey, SweepCsv};

use crate::client::StopReason;
use crate::config::{Limit, ProgressMode, RunConfig, RunError};
use crate::machine::MachineInfo;
use crate::pinning::machine_cores;
use crate::run::build_workload;
use crate::schema::cells::medians;
use crate::schema::sweep::{Cost, Matrix, SweepRow, SweepSettings};
use crate::schema::{AuditVerdict, SWEEP_CSV};
use crate::units::{human_ns, human_rate};
use cell::{Cell, run_cell};
use plan::{Line, line_rates, lines};

/// What a sweep is asked to do. `base` carries the fixed settings
/// (workload, seed, warmup, duration, interval, mailbox, channel, inflight
/// via a closed `LoopMode`, progress, stop signal); engine, threads,
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
    /// Replication variants of the sharded engine (backups per shard and
    /// mode; empty or `[none]`: unreplicated only).
    pub replications: Vec<Replication>,
    /// Feed modes of the in-process engines (empty or `[pull]`: pull only).
    pub feeds: Vec<FeedMode>,
    /// Durability modes of serial, actor, sharded and striped (empty or `[none]`:
    /// in memory only); each run logs in its own folder.
    pub durabilities: Vec<DurabilityMode>,
    /// Users values.
    pub users: Vec<u32>,
    /// Open-loop rates (empty: closed loop only).
    pub rates: Vec<RateSpec>,
    /// Most ops outstanding per client thread in the open loop.
    pub max_outstanding: usize,
    /// Times each cell is measured (at least 1; see the module docs).
    pub repeat: u32,
    /// Add repetitions past `repeat` until every closed-loop line's
    /// throughput ratio to C1 has an interval of at most this relative
    /// half-width, or until `max_time`.
    pub precision: Option<f64>,
    /// The time budget of `precision` (a started pass is finished).
    pub max_time: Option<std::time::Duration>,
    /// The fixed settings of every cell.
    pub base: RunConfig,
    /// The sweep's folder.
    pub out_dir: PathBuf,
}

/// Checks the lists and values of a normalized spec against their bounds
/// ([`crate::limits`]), before the matrix is built.
fn check_spec(spec: &SweepSpec) -> Result<(), RunError> {
    use crate::limits::{self as l, check_count};
    let bad = |m: String| Err(RunError::BadInput(m));
    for (flag, list, max) in [
        ("--threads", &spec.threads, l::MAX_CLIENT_THREADS),
        ("--shards", &spec.shards, l::MAX_SHARDS),
        (
            "--stripes",
            &spec.stripes,
            socialbench_engines::EngineConfig::MAX_PARTITIONS,
        ),
    ] {
        if list.is_empty() {
            return bad(format!("{flag}: empty list"));
        }
        for &v in list {
            check_count(flag, v, max)?;
        }
    }
    if spec.users.is_empty() {
        return bad("--users: empty list".into());
    }
    if spec.users.contains(&0) {
        return bad("--users: must be at least 1".into());
    }
    for r in &spec.rates {
        let (RateSpec::PerSec(v) | RateSpec::OfCapacity(v)) = *r;
        if !(v.is_finite() && v > 0.0) {
            return bad("--rates: rates must be positive".into());
        }
        if matches!(r, RateSpec::PerSec(v) if *v > l::MAX_RATE) {
            return bad(format!("--rates {r} is above {} ops/s", l::MAX_RATE));
        }
    }
    check_count(
        "--max-outstanding",
        spec.max_outstanding,
        l::MAX_OUTSTANDING,
    )?;
    check_count("--repeat", spec.repeat as usize, l::MAX_PASSES)?;
    if let Some(m) = spec.max_time {
        l::check_duration("--max-time", m, true)?;
    }
    if let Limit::Duration(d) = spec.base.limit {
        l::check_duration("--duration", d, true)?;
    }
    let cells = cell_count(spec);
    if cells > l::MAX_SWEEP_CELLS as u128 {
        return bad(format!(
            "the sweep has {cells} cells, more than {}: fewer --users, --threads, --shards, --stripes, --rates or --repeat values",
            l::MAX_SWEEP_CELLS
        ));
    }
    Ok(())
}

/// The cells of a normalized spec, counted without listing them.
fn cell_count(spec: &SweepSpec) -> u128 {
    let n = |v: usize| v as u128;
    let per_engine = |e: &EngineKind| match e {
        EngineKind::Null | EngineKind::Serial => 0,
        EngineKind::Sharded => n(spec.threads.len()) * n(spec.shards.len()),
        EngineKind::Striped => n(spec.threads.len()) * n(spec.stripes.len()),
        _ => n(spec.threads.len()),
    };
    // C1, then null at each thread count, then the engines asked for.
    let lines = 1 + n(spec.threads.len()) + spec.engines.iter().map(per_engine).sum::<u128>();
    n(spec.users.len()) * lines * (1 + n(spec.rates.len())) * u128::from(spec.repeat.max(1))
}

/// What a check of a sweep found ([`check`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepChecked {
    /// Cells of the matrix (at most; rates past a saturated one are skipped).
    pub cells: usize,
    /// The largest users value.
    pub users: u32,
    /// The memory the largest cell needs, bytes.
    pub needed: u64,
    /// `MemAvailable`, bytes, where the machine tells.
    pub available: Option<u64>,
}

impl std::fmt::Display for SweepChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::limits::mib;
        write!(
            f,
            "cells={} users<={}, the largest cell needs ~{} MiB",
            self.cells,
            self.users,
            mib(self.needed)
        )?;
        crate::limits::write_available(f, self.available)
    }
}

/// Every check the sweep does before its first cell, without running or
/// creating anything: the lists and their bounds, the settings, the folder
/// (a resumed one must hold this sweep), and each users value's scenario
/// and memory at its largest line of each engine ([`crate::run::check_with`]).
pub fn check(spec: &SweepSpec) -> Result<SweepChecked, RunError> {
    let mut spec = spec.clone();
    normalize(&mut spec);
    check_spec(&spec)?;
    let settings = folder::settings_of(&spec, &MachineInfo::probe())?;
    folder::check_folder(&spec.out_dir, &settings)?;
    let lines = lines(&spec);
    let mut engines: Vec<EngineKind> = lines.iter().map(|l| l.engine).collect();
    engines.dedup();
    let mut needed = 0;
    let mut available = None;
    for &users in &spec.users {
        let mut base = spec.base.clone();
        base.users = Some(users);
        let scenario = crate::run::scenario_of(&base)?;
        for &engine in &engines {
            let of = |f: fn(&Line) -> Option<usize>| {
                lines
                    .iter()
                    .filter(|l| l.engine == engine)
                    .filter_map(f)
                    .max()
            };
            let mut c = base.for_engine(engine);
            c.threads = of(|l| Some(l.threads));
            c.partitions = of(|l| l.partitions);
            // The most backups any line of the engine has (the most threads).
            if let Some(r) = lines
                .iter()
                .filter(|l| l.engine == engine)
                .map(|l| l.replication)
                .max_by_key(|r| r.replicas)
            {
                c.replication = r;
            }
            let closed = crate::run::check_with(&c, &scenario)?;
            needed = needed.max(closed.needed);
            available = closed.available;
            if !spec.rates.is_empty() {
                c.mode = crate::config::LoopMode::Open {
                    rate: 1.0,
                    max_outstanding: spec.max_outstanding,
                    arrivals: Default::default(),
                };
                needed = needed.max(crate::run::check_with(&c, &scenario)?.needed);
            }
        }
    }
    Ok(SweepChecked {
        cells: cell_count(&spec) as usize,
        users: spec.users.iter().copied().max().unwrap_or(0),
        needed,
        available,
    })
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

/// Runs the sweep (see the module docs): resumes from the folder's rows,
/// measures the missing cells one at a time, writes `sweep.json` with the
/// COST, prints the table, and draws the plots.
pub fn sweep(spec: &SweepSpec) -> Result<SweepOutcome, RunError> {
    check(spec)?;
    let mut spec = spec.clone();
    normalize(&mut spec);
    let spec = &spec;
    let mut s = Sweeper::open(spec)?;
    s.announce();
    let interrupted = s.measure_all()?;
    s.finish(interrupted)
}

/// Whether to go on after a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Interrupted,
}

/// A sweep in progress: its folder, the rows so far, and its counters.
struct Sweeper<'a> {
    spec: &'a SweepSpec,
    machine: MachineInfo,
    machine_cores: usize,
    settings: SweepSettings,
    matrix: Matrix,
    lines: Vec<Line>,
    csv: SweepCsv,
    rows: Vec<SweepRow>,
    /// Cells in `sweep.csv`, and whether each saturated.
    done: HashMap<CellKey, bool>,
    /// The workload of the users value being measured, prepared on first use.
    workload: Option<Workload>,
    /// Position in the plan (for progress lines) and its size.
    index: usize,
    total: usize,
    ran: usize,
    skipped: usize,
    beyond: usize,
    /// How a precision asked ended.
    precision_note: Option<String>,
}

impl<'a> Sweeper<'a> {
    /// Checks or creates the folder and reads the rows it already has.
    fn open(spec: &'a SweepSpec) -> Result<Sweeper<'a>, RunError> {
        let machine = MachineInfo::probe();
        let settings = folder::settings_of(spec, &machine)?;
        let dir = &spec.out_dir;
        folder::prepare_folder(dir, &settings)?;
        let (csv, rows, dropped) = SweepCsv::open(dir)?;
        let matrix = folder::matrix_of(spec);
        let lines = lines(spec);
        let total =
            spec.users.len() * lines.len() * (1 + spec.rates.len()) * spec.repeat.max(1) as usize;
        let s = Sweeper {
            spec,
            machine,
            machine_cores: machine_cores().len().max(1),
            settings,
            matrix,
            lines,
            done: rows.iter().map(|r| (CellKey::of(r), r.saturated)).collect(),
            csv,
            rows,
            workload: None,
            index: 0,
            total,
            ran: 0,
            skipped: 0,
            beyond: 0,
            precision_note: None,
        };
        if dropped > 0 {
            s.say(format!(
                "sweep: dropped {dropped} unreadable line(s) of {} (their cells run again)",
                dir.join(SWEEP_CSV).display()
            ));
        }
        s.write_document(false)?;
        Ok(s)
    }

    /// A progress line on stderr, unless quiet.
    fn say(&self, m: String) {
        if self.spec.base.progress != ProgressMode::Quiet {
            eprintln!("{m}");
        }
    }

    fn write_document(&self, complete: bool) -> Result<(), RunError> {
        let doc = folder::document(
            &self.settings,
            &self.matrix,
            &self.machine,
            &self.rows,
            complete,
        );
        folder::write_document(&self.spec.out_dir, &doc)
    }

    /// The closed-loop throughput of a line's first repetition, once
    /// measured: shares of capacity are taken of it, so every repetition of
    /// a line offers the same rates.
    fn capacity(&self, line: &Line, users: u32) -> Option<f64> {
        let key = line.key(users, None, 0);
        self.rows
            .iter()
            .find(|r| CellKey::of(r) == key)
            .map(|r| r.ops_per_sec)
    }

    /// Says how big the sweep is and how much of it the folder already has.
    fn announce(&self) {
        let reps = self.spec.repeat.max(1);
        let mut present = 0;
        for &u in &self.spec.users {
            for l in &self.lines {
                let opens = line_rates(&self.spec.rates, self.capacity(l, u));
                for rep in 0..reps {
                    let rates = std::iter::once(None).chain(opens.iter().map(|&r| Some(r)));
                    present += rates
                        .filter(|&r| self.done.contains_key(&l.key(u, r, rep)))
                        .count();
                }
            }
        }
        if present > 0 {
            self.say(format!(
                "sweep: resuming {}: skipping {present} cells already in sweep.csv",
                self.spec.out_dir.display()
            ));
        }
        self.say(format!(
            "sweep: {} users value(s) x {} line(s) x {} loop(s) x {reps} repetition(s) = {} cells, {} s each + warmup + load",
            self.spec.users.len(),
            self.lines.len(),
            1 + self.spec.rates.len(),
            self.total,
            self.settings.duration_ns as f64 / 1e9
        ));
    }

    /// Every cell, users value by users value; within one, repetitions
    /// outermost, so each pass measures every line once and a slow spell of
    /// the machine spreads over engines instead of falling on one engine's
    /// repetitions. Returns whether Ctrl-C stopped it.
    fn measure_all(&mut self) -> Result<bool, RunError> {
        let lines = self.lines.clone();
        let started = std::time::Instant::now();
        for &users in &self.spec.users {
            self.workload = None;
            for rep in 0.. {
                if rep >= self.spec.repeat.max(1) && !self.wants_more(users, started) {
                    break;
                }
                for line in &lines {
                    if self.measure_line(line, users, rep)? == Flow::Interrupted {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// With a precision asked: whether a users value needs another pass
    /// (some line's ratio to C1 is not yet that precise, and time remains).
    fn wants_more(&mut self, users: u32, started: std::time::Instant) -> bool {
        let Some(p) = self.spec.precision else {
            return false;
        };
        if self.spec.max_time.is_some_and(|m| started.elapsed() >= m) {
            self.precision_note = Some(format!(
                "precision {:.1}% not reached for users={users} before the time budget",
                p * 100.0
            ));
            return false;
        }
        let verdicts = report::verdicts(&self.rows);
        let open = verdicts
            .iter()
            .filter(|v| v.users == u64::from(users))
            .any(|v| v.throughput.ratio.relative_half_width() > p);
        if !open {
            self.precision_note = Some(format!("precision {:.1}% reached", p * 100.0));
        }
        open
    }

    /// A line's closed-loop cell, then its rates ascending until one saturates.
    fn measure_line(&mut self, line: &Line, users: u32, rep: u32) -> Result<Flow, RunError> {
        let mut saturated_below = None;
        let closed = Cell {
            line,
            users,
            rate: None,
            rep,
        };
        if self.measure_cell(closed, &mut saturated_below)? == Flow::Interrupted {
            return Ok(Flow::Interrupted);
        }
        for rate in line_rates(&self.spec.rates, self.capacity(line, users)) {
            let cell = Cell {
                rate: Some(rate),
                ..closed
            };
            if self.measure_cell(cell, &mut saturated_below)? == Flow::Interrupted {
                return Ok(Flow::Interrupted);
            }
        }
        Ok(Flow::Go)
    }

    /// Measures `cell` unless the folder has it or its line saturated at a
    /// lower rate (`saturated_below`, updated here).
    fn measure_cell(
        &mut self,
        cell: Cell<'_>,
        saturated_below: &mut Option<f64>,
    ) -> Result<Flow, RunError> {
        self.index += 1;
        let key = cell.line.key(cell.users, cell.rate, cell.rep);
        let mut what = cell.line.describe(cell.users, cell.rate);
        if self.spec.repeat > 1 {
            what.push_str(&format!(" rep={}/{}", cell.rep + 1, self.spec.repeat));
        }
        if let Some(&sat) = self.done.get(&key) {
            self.skipped += 1;
            if sat {
                *saturated_below = cell.rate;
            }
            return Ok(Flow::Go);
        }
        if let Some(r) = *saturated_below {
            self.beyond += 1;
            let (i, n) = (self.index, self.total);
            self.say(format!(
                "[{i}/{n}] {what}: not run, saturated at {} ops/s",
                human_rate(r)
            ));
            return Ok(Flow::Go);
        }
        if self.spec.base.stop.is_stopped() {
            return Ok(Flow::Interrupted);
        }
        self.say(format!("[{}/{}] {what}", self.index, self.total));
        let row = match self.run(cell)? {
            Some(row) => row,
            None => return Ok(Flow::Interrupted),
        };
        self.csv.append(&row)?;
        self.say(format!(
            "[{}/{}] {what}: {} ops/s, p99 {}, audit {}{}",
            self.index,
            self.total,
            human_rate(row.ops_per_sec),
            human_ns(row.p99_ns as u64),
            row.audit,
            if row.saturated { ", saturated" } else { "" }
        ));
        if row.saturated {
            *saturated_below = cell.rate;
        }
        self.done.insert(key, row.saturated);
        self.rows.push(row);
        self.ran += 1;
        Ok(Flow::Go)
    }

    /// Runs `cell`; `None` when Ctrl-C stopped it (no row is written, so the
    /// next invocation measures it again).
    fn run(&mut self, cell: Cell<'_>) -> Result<Option<SweepRow>, RunError> {
        if self.workload.is_none() {
            // The workload is every line's: built from the base settings
            // less those only some engines take (backups, a kill).
            let mut c = self.spec.base.for_engine(EngineKind::Null);
            c.users = Some(cell.users);
            self.workload = Some(build_workload(&c)?);
        }
        let Some(workload) = &self.workload else {
            return Ok(None);
        };
        // C1 of this repetition (`lines` puts the C1 line first); the median
        // over repetitions is what the table and COST use.
        let c1_key = self.lines[0].key(cell.users, None, cell.rep);
        let c1 = self
            .rows
            .iter()
            .find(|r| CellKey::of(r) == c1_key)
            .map(|r| r.ops_per_sec);
        let (s, row) = run_cell(self.spec, cell, workload, c1, self.machine_cores)?;
        Ok((s.stopped_by != StopReason::Interrupted).then_some(row))
    }

    /// Writes the conclusions, prints the table and draws the plots.
    fn finish(mut self, interrupted: bool) -> Result<SweepOutcome, RunError> {
        self.write_document(!interrupted)?;
        let doc = folder::document(
            &self.settings,
            &self.matrix,
            &self.machine,
            &self.rows,
            !interrupted,
        );
        let dir = self.spec.out_dir.clone();
        let print = self.spec.base.print_table;
        if print {
            let order: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
            out!(
                "{}",
                report::render(&medians(&self.rows), &order, &doc.cost)
            );
            if self.spec.repeat > 1 {
                outln!("{}", report::spread(&self.rows));
            }
            out!("{}", report::render_verdicts(&doc.verdicts));
            if let Some(n) = &self.precision_note {
                outln!("{n}");
            }
        }
        let (plots, plot_error) = if self.rows.is_empty() {
            (Vec::new(), Some("no rows to plot".to_string()))
        } else {
            match crate::plot::plot_sweep(&dir) {
                Ok(p) => (p, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        if print {
            outln!(
                "sweep: {} cells run, {} skipped (already measured), {} beyond saturation{}",
                self.ran,
                self.skipped,
                self.beyond,
                if interrupted {
                    "; interrupted: run the same command again to resume"
                } else {
                    ""
                }
            );
            outln!("results: {}", dir.display());
            match &plot_error {
                None => outln!("plots: {}", crate::plot::describe_plots(&dir, &plots)),
                Some(e) => eprintln!("warning: sweep plots not drawn: {e}"),
            }
        }
        let rows = std::mem::take(&mut self.rows);
        Ok(SweepOutcome {
            rows,
            ran: self.ran,
            skipped: self.skipped,
            beyond_saturation: self.beyond,
            interrupted,
            cost: doc.cost,
            out_dir: dir,
            plots,
            plot_error,
        })
    }
}
