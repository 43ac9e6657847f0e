//! One run, start to finish: resolve the configuration (defaults that fit the
//! machine, pin map, output folder), build the workload and the engine, run
//! the client threads and the collector, audit, and write the outputs.
//!
//! [`run`] is the reusable entry point (a sweep calls it once per cell).
//! This module resolves what a run needs; `drive` runs the threads of one
//! run on a built engine, and `summarise` audits the engine and turns what
//! the threads measured into the [`RunSummary`].

mod drive;
mod summarise;

use std::path::{Path, PathBuf};

use socialbench_engines::wal::acked::SavedLedger;
use socialbench_engines::{
    AuditFailure, Engine, EngineConfig, EngineError, EngineKind, EngineVisitor,
};
use socialbench_workload::{Scenario, Workload};

use crate::clock::{ClockCost, measure_clock_cost};
use crate::config::{Limit, LoopMode, RunConfig, RunError};
use crate::pinning::{PinMap, machine_cores};
use crate::schema::AuditVerdict;
use crate::summary::RunSummary;

/// Runs `config` and fails with [`RunError::EngineStopped`] when the engine
/// stopped serving mid-run (an external server lost, say), else with
/// [`RunError::Audit`] when the audit finds a lost or duplicated write
/// (outputs are written either way).
pub fn run(config: &RunConfig) -> Result<RunSummary, RunError> {
    let s = run_report(config)?;
    if s.stopped_by == crate::client::StopReason::EngineShutdown {
        return Err(RunError::EngineStopped {
            engine: s.engine.clone(),
            out_dir: s.out_dir.clone(),
        });
    }
    audit_verdict(&s)?;
    Ok(s)
}

/// The audit failure of a finished run as an error, if it failed.
pub fn audit_verdict(s: &RunSummary) -> Result<(), RunError> {
    if s.audit.verdict != AuditVerdict::Fail {
        return Ok(());
    }
    let (engine, tally) = (s.audit.engine, s.audit.tally);
    match AuditFailure::combine(engine.check(&tally), s.audit.entities.as_ref()) {
        Err(f) => Err(RunError::Audit(f)),
        Ok(()) => Ok(()),
    }
}

/// Runs `config` and returns what it measured, audit verdict included (a failed
/// audit is in [`RunSummary::audit`], not an error).
///
/// When the run wrote outputs, its plots are drawn into its folder too (a
/// failure to draw is a warning: the measurements are already saved).
pub fn run_report(config: &RunConfig) -> Result<RunSummary, RunError> {
    let workload = build_workload(config)?;
    let summary = run_with_workload(config, &workload)?;
    if let Some(dir) = &summary.out_dir {
        report_plots(crate::plot::plot_run(dir), dir, config.print_table);
    }
    Ok(summary)
}

/// Prints where plots went (with the results on stdout when `print`), or a
/// warning on stderr when they could not be drawn.
pub(crate) fn report_plots(
    plots: Result<Vec<PathBuf>, crate::plot::PlotError>,
    dir: &Path,
    print: bool,
) {
    match plots {
        Ok(files) if print => {
            outln!("plots: {}", crate::plot::describe_plots(dir, &files))
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: plots not drawn: {e}"),
    }
}

/// The scenario of `config` (preset or file, `users` override), validated.
pub fn scenario_of(config: &RunConfig) -> Result<Scenario, RunError> {
    let mut scenario = Scenario::from_arg(&config.workload)?;
    if let Some(u) = config.users {
        if u == 0 {
            return Err(RunError::BadInput("--users must be at least 1".into()));
        }
        scenario.users = u;
    }
    scenario.validate()?;
    Ok(scenario)
}

/// Resolves the scenario ([`scenario_of`]), checks that the run fits in
/// memory ([`check_with`], for `config`'s engine), and prepares it.
pub fn build_workload(config: &RunConfig) -> Result<Workload, RunError> {
    let scenario = scenario_of(config)?;
    check_with(config, &scenario)?;
    Ok(Workload::new(scenario, config.seed)?)
}

/// What a check of a run found: the run as it would start, and the memory
/// it needs ([`check`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The engine.
    pub engine: EngineKind,
    /// The scenario's preset.
    pub preset: String,
    /// Simulated users.
    pub users: u32,
    /// Client threads.
    pub threads: usize,
    /// Partitions the engine gets.
    pub partitions: usize,
    /// Engine threads.
    pub engine_threads: usize,
    /// The memory estimate ([`crate::limits::estimate`]), bytes.
    pub needed: u64,
    /// `MemAvailable`, bytes, where the machine tells.
    pub available: Option<u64>,
}

/// `engine=sharded workload=reddit users=100000 threads=1 partitions=2
/// engine-threads=2, needs ~180 MiB of 20000 MiB available`.
impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::limits::mib;
        write!(
            f,
            "engine={} workload={} users={} threads={} partitions={} engine-threads={}, needs ~{} MiB",
            self.engine.name(),
            self.preset,
            self.users,
            self.threads,
            self.partitions,
            self.engine_threads,
            mib(self.needed)
        )?;
        crate::limits::write_available(f, self.available)
    }
}

/// Every check `config`'s run does before it starts, without building
/// anything (no workload tables, engine, thread or file): its values
/// against their bounds, `scenario` (already validated by
/// [`scenario_of`]), the engine's configuration ([`EngineKind::check`]),
/// the pin map, and that the memory it needs is available.
pub fn check_with(config: &RunConfig, scenario: &Scenario) -> Result<Checked, RunError> {
    let p = plan(config, None)?;
    config
        .engine
        .check(&p.engine_config)
        .map_err(|e| engine_error(config.engine, e))?;
    let estimate = crate::limits::estimate(&footprint(config, scenario, &p));
    let available = crate::limits::mem_available();
    crate::limits::check_memory(&estimate, available)?;
    Ok(Checked {
        engine: config.engine,
        preset: scenario.preset.clone(),
        users: scenario.users,
        threads: p.threads,
        partitions: p.engine_config.partitions,
        engine_threads: p.engine_threads,
        needed: estimate.total(),
        available,
    })
}

/// [`check_with`] on `config`'s scenario, and that its output folder could
/// be created (nothing is created): what `socialbench run --check` does.
pub fn check(config: &RunConfig) -> Result<Checked, RunError> {
    let checked = check_with(config, &scenario_of(config)?)?;
    if let Some(root) = &config.out_root {
        check_writable(root)?;
    }
    Ok(checked)
}

/// Whether a folder could be created at `dir` (or is one) and written in,
/// without creating it: its nearest existing ancestor must be a folder in
/// which a probe file can be made (and is removed at once).
pub fn check_writable(dir: &Path) -> Result<(), RunError> {
    let not_writable = |source| RunError::NotWritable {
        path: dir.to_path_buf(),
        source,
    };
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(not_writable(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a folder", existing.display()),
        )));
    }
    let probe = existing.join(format!(".socialbench-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(not_writable)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// What `config`'s run on `scenario` holds in memory ([`crate::limits::Footprint`]).
fn footprint(config: &RunConfig, s: &Scenario, p: &Plan) -> crate::limits::Footprint {
    let users = u64::from(s.users);
    let communities = u64::from(s.communities);
    let pop = &s.population;
    let body = &s.bodies.post;
    let mean_body =
        (f64::from(body.median) * (body.sigma * body.sigma / 2.0).exp()).min(f64::from(body.max));
    let seed_posts = (communities as f64 * f64::from(pop.seed_posts_per_community)
        + users as f64 * pop.seed_posts_per_profile) as u64;
    crate::limits::Footprint {
        users,
        communities,
        memberships: users * u64::from(pop.memberships_per_user).min(communities),
        follows: users * u64::from(pop.follows_per_user),
        seed_posts,
        post_body: mean_body,
        stateful: config.engine.is_stateful() && !EngineKind::EXTERNAL.contains(&config.engine),
        copies: p.engine_config.replication.copies() as u64,
        partitions: p.engine_config.partitions as u64,
        engine_threads: p.engine_threads as u64,
        mailbox: config.mailbox as u64,
        mailbox_bytes: config.engine.mailbox_bytes(&p.engine_config),
        client_threads: p.threads as u64,
        outstanding: match config.mode {
            LoopMode::Closed { inflight } => inflight as u64,
            LoopMode::Open {
                max_outstanding, ..
            } => max_outstanding as u64,
        },
    }
}

/// Default partitions: a shard per core the engine gets (at least 2, so the
/// engine really is sharded); 16 stripes per core for lock striping.
pub fn default_partitions(engine: EngineKind, cores: usize) -> usize {
    match engine {
        EngineKind::Sharded => (cores / 2).max(2),
        EngineKind::Striped => 16 * cores.max(1),
        _ => 1,
    }
}

/// Default client threads: one for `serial`; the cores left after the
/// engine's threads (at least one) for the rest.
pub fn default_threads(engine: EngineKind, cores: usize, engine_threads: usize) -> usize {
    if engine.max_sessions() == Some(1) {
        return 1;
    }
    cores.saturating_sub(engine_threads).max(1)
}

/// Checks every value of `c` against its bound ([`crate::limits`]); the
/// message names the flag and the value.
fn check_config(c: &RunConfig) -> Result<(), RunError> {
    use crate::limits::{self as l, check_count, check_duration};
    let bad = |m: String| Err(RunError::BadInput(m));
    if let Some(t) = c.threads {
        check_count("--threads", t, l::MAX_CLIENT_THREADS)?;
    }
    if let Some(p) = c.partitions {
        check_count("--shards/--stripes", p, EngineConfig::MAX_PARTITIONS)?;
    }
    check_count("--mailbox", c.mailbox, EngineConfig::MAX_MAILBOX)?;
    check_duration("--warmup", c.warmup, false)?;
    let interval = c.interval();
    if interval < l::MIN_INTERVAL {
        return bad(format!(
            "--interval {} is shorter than 1ms",
            crate::units::human_ns(interval.as_nanos() as u64)
        ));
    }
    check_duration("--interval", interval, true)?;
    match c.limit {
        Limit::Duration(d) => {
            check_duration("--duration", d, true)?;
            let intervals = d.as_nanos() / interval.as_nanos();
            if intervals > l::MAX_INTERVALS as u128 {
                return bad(format!(
                    "--duration {} / --interval {} is {intervals} intervals, more than {}",
                    crate::units::human_ns(d.as_nanos() as u64),
                    crate::units::human_ns(interval.as_nanos() as u64),
                    l::MAX_INTERVALS
                ));
            }
        }
        Limit::Ops(n) if !(1..=l::MAX_OPS).contains(&n) => {
            return bad(format!("--ops {n} is outside 1..={}", l::MAX_OPS));
        }
        Limit::Ops(_) => {}
    }
    if let (Some(k), Limit::Duration(d)) = (&c.faults.kill_primary, c.limit)
        && k.at >= d
    {
        return bad(format!(
            "the kill-primary fault at {} is past the run's end (--duration {})",
            crate::units::human_ns(k.at.as_nanos() as u64),
            crate::units::human_ns(d.as_nanos() as u64)
        ));
    }
    match c.mode {
        LoopMode::Closed { inflight } => check_count("--inflight", inflight, l::MAX_OUTSTANDING),
        LoopMode::Open {
            rate,
            max_outstanding,
            ..
        } => {
            if !(rate > 0.0 && rate <= l::MAX_RATE) {
                return bad(format!(
                    "open-loop rate (--rate) {rate} ops/s is outside (0, {}]",
                    l::MAX_RATE
                ));
            }
            check_count("--max-outstanding", max_outstanding, l::MAX_OUTSTANDING)
        }
    }
}

/// Creates the run's folder under `root` and proves it writable.
fn prepare_out_dir(root: &Path, run_id: &str) -> Result<PathBuf, RunError> {
    let dir = root.join(run_id);
    let fail = |e: std::io::Error| {
        RunError::BadInput(format!(
            "output folder {} is not writable: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(probe);
    Ok(dir)
}

/// A run id from the wall clock: `YYYYMMDD-HHMMSS-<suffix>` (UTC).
pub fn new_run_id(suffix: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{suffix}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Points `root/latest` at `dir` (a symlink; a copy of the path in
/// `latest.txt` where symlinks are unavailable).
pub fn link_latest(root: &Path, dir: &Path) {
    let latest = root.join("latest");
    let _ = std::fs::remove_file(&latest);
    let target = dir
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&target, &latest).is_ok();
    #[cfg(not(unix))]
    let linked = false;
    if !linked {
        let _ = std::fs::write(root.join("latest.txt"), dir.display().to_string());
    }
}

/// Runs `config` on a prepared workload.
pub fn run_with_workload(config: &RunConfig, workload: &Workload) -> Result<RunSummary, RunError> {
    let mut r = resolve(config, None)?;
    // A timeline keeps what a home feed of the workload asks for.
    r.plan.engine_config.feeds.timeline = workload.scenario.reads.feed_limit;
    let d = &mut r.plan.engine_config.durability;
    if d.logs() {
        if d.dir.is_none() {
            d.dir = r.out_dir.as_ref().map(|o| o.join("data"));
        }
        if d.dir.is_none() {
            return Err(RunError::BadInput(
                "--durability needs --data-dir when the run writes no output folder".into(),
            ));
        }
        d.identity = log_identity(config, workload);
    }
    let mut ctx = r.ctx(config, workload);
    let d = &ctx.engine_config.durability;
    if d.recover
        && let Some(dir) = &d.dir
    {
        let ledger = SavedLedger::load(dir, &d.identity)
            .map_err(|e| RunError::BadInput(format!("--recover: {e}")))?;
        ctx.recovering = Some(Recovering { ledger });
    }
    let summary = config
        .engine
        .visit(&r.plan.engine_config, Visit(ctx))
        .map_err(|e| engine_error(config.engine, e))??;
    finish(config, summary)
}

/// What a run's logs are for, in their headers: a log is recovered only
/// by a run of the same workload, size, seed and feed mode (the engine and
/// its partitioning are added per partition).
fn log_identity(config: &RunConfig, workload: &Workload) -> String {
    format!(
        "socialbench {}; workload {}; users {}; seed {}; feeds {}",
        env!("CARGO_PKG_VERSION"),
        config.workload,
        workload.scenario.users,
        config.seed,
        config.feeds.mode
    )
}

/// Runs `config` on `engine`, an engine built by the caller (one that
/// [`EngineKind`] does not list: a test's fake engine, say), which starts
/// `engine_threads` threads of its own. `config.engine` names the run.
pub fn run_with_engine<E: Engine>(
    config: &RunConfig,
    workload: &Workload,
    engine: E,
    engine_threads: usize,
) -> Result<RunSummary, RunError> {
    let r = resolve(config, Some(engine_threads))?;
    let summary = drive::drive(&r.ctx(config, workload), &engine);
    engine.shutdown();
    finish(config, summary?)
}

/// A configuration the engine refuses came from the user's flags (bad
/// input); any other engine error is the run's.
fn engine_error(engine: EngineKind, e: EngineError) -> RunError {
    match e {
        e @ EngineError::Config { .. } => {
            RunError::BadInput(format!("{} engine: {}", engine.name(), e.detail()))
        }
        e => RunError::Engine(e),
    }
}

/// Points `latest` at the run when asked.
fn finish(config: &RunConfig, summary: RunSummary) -> Result<RunSummary, RunError> {
    if let (Some(root), Some(dir), true) = (&config.out_root, &summary.out_dir, config.link_latest)
    {
        link_latest(root, dir);
    }
    Ok(summary)
}

/// What a run resolves before its engine exists.
struct Resolved {
    plan: Plan,
    run_id: String,
    out_dir: Option<PathBuf>,
    clock_cost: ClockCost,
}

impl Resolved {
    fn ctx<'a>(&'a self, config: &'a RunConfig, workload: &'a Workload) -> Ctx<'a> {
        Ctx {
            config,
            workload,
            engine_config: &self.plan.engine_config,
            pin_map: self.plan.pin_map.clone(),
            threads: self.plan.threads,
            engine_threads: self.plan.engine_threads,
            run_id: self.run_id.clone(),
            out_dir: self.out_dir.clone(),
            clock_cost: self.clock_cost,
            recovering: None,
        }
    }
}

/// The threads, partitions and engine configuration of a run, and where
/// its threads go: everything decided before anything is built.
#[derive(Clone, Debug)]
struct Plan {
    engine_config: EngineConfig,
    pin_map: PinMap,
    threads: usize,
    engine_threads: usize,
}

/// Checks `config` and resolves its defaults and pin map; `engine_threads`
/// overrides what `config.engine` would start.
fn plan(config: &RunConfig, engine_threads: Option<usize>) -> Result<Plan, RunError> {
    check_config(config)?;
    let cores = machine_cores();
    let ncores = cores.len().max(1);
    let partitions = config
        .partitions
        .unwrap_or_else(|| default_partitions(config.engine, ncores));
    let mut faults = config.faults.clone();
    faults.seed = config.seed ^ 0xFA17_5EED;
    let mut engine_config = EngineConfig {
        partitions,
        mailbox: config.mailbox,
        channel: config.channel,
        pin: Vec::new(),
        faults,
        idle: config.idle,
        replication: config.replication,
        failover: config.failover,
        feeds: config.feeds,
        redis: config.redis.clone(),
        durability: config.durability.clone(),
    };
    let engine_threads =
        engine_threads.unwrap_or_else(|| config.engine.engine_threads(&engine_config));
    if engine_threads > crate::limits::MAX_SHARDS {
        return Err(RunError::BadInput(format!(
            "the {} engine would start {engine_threads} engine threads, more than {}",
            config.engine.name(),
            crate::limits::MAX_SHARDS
        )));
    }
    let threads = config
        .threads
        .unwrap_or_else(|| default_threads(config.engine, ncores, engine_threads));
    if let Some(max) = config.engine.max_sessions()
        && threads > max
    {
        return Err(RunError::BadInput(format!(
            "the {} engine serves {max} session(s): use --threads {max} (got {threads})",
            config.engine.name()
        )));
    }
    let pin_map = PinMap::plan(&config.pin, &cores, engine_threads, threads)?;
    engine_config.pin = pin_map.engine_pins();
    Ok(Plan {
        engine_config,
        pin_map,
        threads,
        engine_threads,
    })
}

/// Checks `config` ([`plan`]) and resolves its run id and output folder.
fn resolve(config: &RunConfig, engine_threads: Option<usize>) -> Result<Resolved, RunError> {
    let plan = plan(config, engine_threads)?;
    let run_id = config
        .run_id
        .clone()
        .unwrap_or_else(|| new_run_id(config.engine.name()));
    let out_dir = match &config.out_root {
        Some(root) => Some(prepare_out_dir(root, &run_id)?),
        None => None,
    };
    Ok(Resolved {
        plan,
        run_id,
        out_dir,
        clock_cost: measure_clock_cost(200_000),
    })
}

/// Everything resolved before the engine exists.
struct Ctx<'a> {
    config: &'a RunConfig,
    workload: &'a Workload,
    engine_config: &'a EngineConfig,
    pin_map: PinMap,
    /// Client threads.
    threads: usize,
    engine_threads: usize,
    run_id: String,
    out_dir: Option<PathBuf>,
    clock_cost: ClockCost,
    /// `run --recover`: no load phase, and the audit starts from the
    /// ledger saved beside the logs.
    recovering: Option<Recovering>,
}

/// What a recovered run starts from besides its logs.
struct Recovering {
    /// The acknowledged writes of the runs that wrote the logs (`None`:
    /// the last of them was cut off before it saved its ledger).
    ledger: Option<SavedLedger>,
}

impl Ctx<'_> {
    /// Whether progress lines go to stderr.
    fn chatty(&self) -> bool {
        self.config.progress != crate::config::ProgressMode::Quiet
    }
}

struct Visit<'a>(Ctx<'a>);

impl EngineVisitor for Visit<'_> {
    type Output = Result<RunSummary, RunError>;
    fn visit<E: Engine>(self, engine: E) -> Self::Output {
        let r = drive::drive(&self.0, &engine);
        engine.shutdown();
        r
    }
}
