//! One run, start to finish: resolve the configuration (defaults that fit the
//! machine, pin map, output folder), build the workload and the engine, run
//! the client threads and the collector, audit, and write the outputs.
//!
//! [`run`] is the reusable entry point (a sweep calls it once per cell).

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use socialbench_engines::{
    Engine, EngineConfig, EngineError, EngineKind, EngineVisitor, WriteTally,
};
use socialbench_workload::{Scenario, Workload};

use crate::client::{ClientPlan, ClientResult, Shared, StopReason, client_main};
use crate::clock::{Clock, ClockCost, measure_clock_cost};
use crate::collector::{Timeline, collect};
use crate::config::{Limit, LoopMode, RunConfig, RunError};
use crate::machine::CoreSteal;
use crate::machine::{MachineInfo, peak_rss_bytes};
use crate::outputs::{Reports, csv, hlog, json, progress, table};
use crate::pinning::{PinMap, machine_cores};
use crate::recorder::Recorder;
use crate::summary::{
    AuditOutcome, KindSummary, LoadSummary, RunSummary, Saturation, ScheduleSummary,
};

/// Runs `config` and fails with [`RunError::EngineStopped`] when the engine
/// stopped serving mid-run (an external server lost, say), else with
/// [`RunError::Audit`] when the audit finds a lost or duplicated write
/// (outputs are written either way).
pub fn run(config: &RunConfig) -> Result<RunSummary, RunError> {
    let s = run_report(config)?;
    if s.stopped_by == crate::client::StopReason::EngineShutdown {
        return Err(RunError::EngineStopped {
            engine: s.engine.clone(),
            out_dir: s.out_dir.as_ref().map(|d| d.display().to_string()),
        });
    }
    audit_verdict(&s)?;
    Ok(s)
}

/// The audit failure of a finished run as an error, if it failed.
pub fn audit_verdict(s: &RunSummary) -> Result<(), RunError> {
    if s.audit.passed {
        return Ok(());
    }
    let (engine, tally) = (s.audit.engine, s.audit.tally);
    match engine.check(&tally) {
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
            println!("plots: {}", crate::sweep::describe_plots(dir, &files))
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: plots not drawn: {e}"),
    }
}

/// Resolves the scenario (preset or file, `users` override) and prepares it.
pub fn build_workload(config: &RunConfig) -> Result<Workload, RunError> {
    let mut scenario =
        Scenario::from_arg(&config.workload).map_err(|e| RunError::BadInput(e.to_string()))?;
    if let Some(u) = config.users {
        if u == 0 {
            return Err(RunError::BadInput("--users must be at least 1".into()));
        }
        scenario.users = u;
    }
    Workload::new(scenario, config.seed).map_err(|e| RunError::BadInput(e.to_string()))
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

fn check_config(c: &RunConfig) -> Result<(), RunError> {
    let bad = |m: &str| Err(RunError::BadInput(m.into()));
    if c.threads == Some(0) {
        return bad("--threads must be at least 1");
    }
    if c.partitions == Some(0) {
        return bad("--shards/--stripes must be at least 1");
    }
    if c.mailbox == 0 {
        return bad("--mailbox must be at least 1");
    }
    if c.interval.is_zero() {
        return bad("--interval must be positive");
    }
    match c.limit {
        Limit::Duration(d) if d.is_zero() => return bad("--duration must be positive"),
        Limit::Ops(0) => return bad("--ops must be at least 1"),
        _ => {}
    }
    match c.mode {
        LoopMode::Closed { inflight: 0 } => bad("--inflight must be at least 1"),
        LoopMode::Open { rate, .. } if !(rate > 0.0 && rate.is_finite()) => {
            bad("--rate must be a positive number of ops/s")
        }
        LoopMode::Open {
            max_outstanding: 0, ..
        } => bad("--max-outstanding must be at least 1"),
        _ => Ok(()),
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
        redis: config.redis.clone(),
    };
    let engine_threads = config.engine.engine_threads(&engine_config);
    let threads = config
        .threads
        .unwrap_or_else(|| default_threads(config.engine, ncores, engine_threads));
    if let Some(max) = config.engine.max_sessions() {
        if threads > max {
            return Err(RunError::BadInput(format!(
                "the {} engine serves {max} session(s): use --threads {max} (got {threads})",
                config.engine.name()
            )));
        }
    }
    let pin_map = PinMap::plan(&config.pin, &cores, engine_threads, threads)?;
    engine_config.pin = pin_map.engine_pins();
    let run_id = config
        .run_id
        .clone()
        .unwrap_or_else(|| new_run_id(config.engine.name()));
    let out_dir = match &config.out_root {
        Some(root) => Some(prepare_out_dir(root, &run_id)?),
        None => None,
    };
    let clock_cost = measure_clock_cost(200_000);
    let ctx = Ctx {
        config,
        workload,
        engine_config: &engine_config,
        pin_map,
        threads,
        engine_threads,
        run_id,
        out_dir,
        clock_cost,
    };
    let summary = config
        .engine
        .visit(&engine_config, Visit(ctx))
        .map_err(|e| match e {
            // A configuration the engine refuses came from the user's flags.
            e @ EngineError::Config { .. } => {
                RunError::BadInput(format!("{} engine: {}", config.engine.name(), e.detail()))
            }
            e => RunError::Engine(e),
        })??;
    if let (Some(root), Some(dir), true) = (&config.out_root, &summary.out_dir, config.link_latest)
    {
        link_latest(root, dir);
    }
    Ok(summary)
}

/// Everything resolved before the engine exists.
struct Ctx<'a> {
    config: &'a RunConfig,
    workload: &'a Workload,
    engine_config: &'a EngineConfig,
    pin_map: PinMap,
    threads: usize,
    engine_threads: usize,
    run_id: String,
    out_dir: Option<PathBuf>,
    clock_cost: ClockCost,
}

struct Visit<'a>(Ctx<'a>);

impl EngineVisitor for Visit<'_> {
    type Output = Result<RunSummary, RunError>;
    fn visit<E: Engine>(self, engine: E) -> Self::Output {
        let r = drive(&self.0, &engine);
        engine.shutdown();
        r
    }
}

fn build_reports(ctx: &Ctx<'_>) -> Result<Reports, RunError> {
    let c = ctx.config;
    let mut reports = Reports::new();
    let total_ns = match c.limit {
        Limit::Duration(d) => (c.warmup + d).as_nanos() as u64,
        Limit::Ops(_) => 0,
    };
    if let Some(p) = progress::Progress::new(c.progress, c.engine.name(), total_ns) {
        reports.push(p);
    }
    if let Some(dir) = &ctx.out_dir {
        reports.push(csv::TimeseriesCsv::create(dir)?);
        reports.push(hlog::Hlog::create(dir)?);
        reports.push(csv::SummaryCsv::new(dir));
        reports.push(json::RunJson::new(
            dir,
            c.clone(),
            ctx.engine_config.clone(),
            MachineInfo::probe(),
        ));
    }
    if c.print_table {
        reports.push(table::Table);
    }
    Ok(reports)
}

/// The run proper, generic over the engine so the hot loop is statically dispatched.
fn drive<E: Engine>(ctx: &Ctx<'_>, engine: &E) -> Result<RunSummary, RunError> {
    let c = ctx.config;
    let threads = ctx.threads;
    let mut sessions = Vec::with_capacity(threads);
    for _ in 0..threads {
        sessions.push(engine.session()?);
    }
    let reports = build_reports(ctx)?;
    if !matches!(c.progress, crate::config::ProgressMode::Quiet) {
        eprintln!("[{}] pin map: {}", c.engine.name(), ctx.pin_map.describe());
        eprintln!(
            "[{}] clock read: quanta {:.1} ns, std::time::Instant {:.1} ns",
            c.engine.name(),
            ctx.clock_cost.quanta_ns,
            ctx.clock_cost.std_instant_ns
        );
    }
    let shared = Shared {
        clock: Clock::new(),
        barrier: Barrier::new(threads + 1),
        start_ns: AtomicU64::new(0),
        user_stop: c.stop.clone(),
        saturated: AtomicBool::new(false),
    };
    let warmup_ns = c.warmup.as_nanos() as u64;
    let interval_ns = (c.interval.as_nanos() as u64).max(1);
    let (tx, rx) = crossbeam_channel::unbounded();
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(4 * threads);
    let load_start = shared.clock.now_ns();
    let (results, collected, start, load_peak_rss) = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for (t, session) in sessions.into_iter().enumerate() {
            let plan = ClientPlan {
                thread: t,
                threads,
                core: ctx.pin_map.clients[t],
                mode: c.mode,
                limit: c.limit,
                warmup_ns,
                interval_ns,
                seed: c.seed,
                own_core: ctx.pin_map.clients[t].is_some_and(|core| {
                    let pins = ctx.pin_map.engine.iter().chain(&ctx.pin_map.clients);
                    pins.filter(|p| **p == Some(core)).count() == 1
                }),
            };
            let rec = Recorder::new(t, 0, tx.clone(), recycle_rx.clone());
            let (workload, shared) = (ctx.workload, &shared);
            let h = std::thread::Builder::new()
                .name(format!("client-{t}"))
                .spawn_scoped(s, move || client_main(plan, session, workload, shared, rec));
            handles.push(h);
        }
        drop(tx);
        // Every spawned client waits on the barrier; if a spawn failed, the
        // barrier would never open, so fail before waiting.
        let spawn_failed = handles.iter().any(|h| h.is_err());
        let mut start = 0;
        let mut load_peak_rss = 0;
        let collector_handle;
        if spawn_failed {
            shared.user_stop.stop();
            collector_handle = None;
        } else {
            for _ in 0..ctx.workload.load_stages() {
                shared.barrier.wait();
            }
            shared.barrier.wait();
            start = shared.clock.now_ns();
            load_peak_rss = peak_rss_bytes();
            shared.start_ns.store(start, Ordering::Release);
            let timeline = Timeline {
                warm_end_ns: start + warmup_ns,
                interval_ns,
                warm_end_wall: std::time::SystemTime::now() + c.warmup,
            };
            let rx = rx.clone();
            collector_handle =
                Some(s.spawn(move || collect(rx, recycle_tx, threads, engine, timeline, reports)));
            shared.barrier.wait();
            if !matches!(c.progress, crate::config::ProgressMode::Quiet) {
                eprintln!(
                    "[{}] load phase done in {:.2} s, peak RSS {} MiB",
                    c.engine.name(),
                    (start - load_start) as f64 / 1e9,
                    load_peak_rss >> 20
                );
            }
        }
        let mut results: Vec<Result<ClientResult, RunError>> = Vec::new();
        for h in handles {
            results.push(match h {
                Ok(h) => h
                    .join()
                    .map_err(|_| RunError::Thread("a client thread panicked".into())),
                Err(e) => Err(RunError::Thread(format!(
                    "cannot spawn a client thread: {e}"
                ))),
            });
        }
        let collected = match collector_handle {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(RunError::Thread("the collector panicked".into()))),
            None => Err(RunError::Thread("client threads could not start".into())),
        };
        (results, collected, start, load_peak_rss)
    });
    let results: Vec<ClientResult> = results.into_iter().collect::<Result<_, _>>()?;
    if results
        .iter()
        .any(|r| r.stop == StopReason::WorkloadPanicked)
    {
        return Err(RunError::Thread(
            "the workload panicked in a client thread".into(),
        ));
    }
    let mut collected = collected?;

    // Audit: the engine's aggregates against every acknowledged write, load phase included.
    engine.quiesce();
    let mut tally = WriteTally::default();
    for r in &results {
        tally.add(&r.tally);
    }
    let audit = if c.engine.is_stateful() {
        let a = engine.audit();
        let verdict = a.check(&tally);
        AuditOutcome {
            checked: true,
            passed: verdict.is_ok(),
            message: verdict.err().map(|f| f.to_string()),
            tally,
            engine: a,
        }
    } else {
        AuditOutcome {
            checked: false,
            passed: true,
            message: None,
            tally,
            engine: Default::default(),
        }
    };

    let warm_end = start + warmup_ns;
    let end = results
        .iter()
        .map(|r| r.end_ns)
        .max()
        .unwrap_or(warm_end)
        .max(collected.end_ns);
    let stopped_by = [
        StopReason::EngineShutdown,
        StopReason::Saturated,
        StopReason::Interrupted,
    ]
    .into_iter()
    .find(|r| results.iter().any(|x| x.stop == *r))
    .unwrap_or(StopReason::Limit);
    // One denominator for every whole-run rate (RunSummary::measured_ns): the
    // nominal window when the duration limit was reached, as the intervals'
    // durations are (the last one is capped at the nominal end and holds the
    // replies drained after it).
    let measured_ns = match c.limit {
        Limit::Duration(d) if stopped_by == StopReason::Limit => d.as_nanos() as u64,
        _ => end.saturating_sub(warm_end),
    }
    .max(1);
    let kinds = KindSummary::from_totals(&collected.totals, measured_ns);
    let ops = collected.totals.total();
    let ops_per_sec = ops as f64 / (measured_ns as f64 / 1e9);
    let saturation = match c.mode {
        LoopMode::Open { rate, .. } if stopped_by == StopReason::Saturated => Some(Saturation {
            offered_ops_per_sec: rate,
            achieved_ops_per_sec: ops_per_sec,
            max_lag_ns: results.iter().map(|r| r.max_lag_ns).max().unwrap_or(0),
        }),
        _ => None,
    };
    let schedule = match c.mode {
        LoopMode::Open { .. } => Some(ScheduleSummary {
            max_lag_ns: results.iter().map(|r| r.max_lag_ns).max().unwrap_or(0),
            final_lag_ns: results.iter().map(|r| r.final_lag_ns).max().unwrap_or(0),
            unsent_due: results.iter().map(|r| r.unsent_due).sum(),
        }),
        LoopMode::Closed { .. } => None,
    };
    let load_ops: u64 = results.iter().map(|r| r.load_ops).sum();
    let load_ns = start.saturating_sub(load_start);
    let summary = RunSummary {
        run_id: ctx.run_id.clone(),
        out_dir: ctx.out_dir.clone(),
        engine: c.engine.name().into(),
        workload: c.workload.clone(),
        users: ctx.workload.scenario.users,
        seed: c.seed,
        client_threads: threads,
        engine_threads: ctx.engine_threads,
        partitions: ctx.engine_config.partitions,
        mode: c.mode,
        pin_map: ctx.pin_map.clone(),
        clients_pinned: results.iter().all(|r| r.pinned),
        load: LoadSummary {
            ops: load_ops,
            errors: results.iter().map(|r| r.load_errors).sum(),
            duration_ns: load_ns,
            ops_per_sec: load_ops as f64 / (load_ns.max(1) as f64 / 1e9),
            peak_rss_bytes: load_peak_rss,
        },
        warmup_ns,
        measured_ns,
        intervals: collected.intervals,
        stopped_by,
        saturation,
        schedule,
        ops,
        errors: collected.totals.total_errors(),
        ops_per_sec,
        ops_per_sec_per_client_thread: ops_per_sec / threads as f64,
        clamped_latencies: collected.totals.clamped,
        kinds,
        audit,
        engine_stats: engine.stats(),
        clock_cost: ctx.clock_cost,
        peak_rss_bytes: peak_rss_bytes(),
        steal: collected
            .steal_ms
            .iter()
            .map(|(&core, &steal_ms)| CoreSteal {
                core,
                steal_ms,
                share: (steal_ms as f64 * 1e6 / measured_ns as f64).min(1.0),
            })
            .collect(),
    };
    collected.reports.finish(&summary)?;
    Ok(summary)
}
