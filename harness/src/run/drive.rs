//! The threads of one run on a built engine: open a session per client
//! thread, start the pinned client threads, walk them through the load
//! stages and the measured loop behind barriers, run the collector, and join
//! everything. Generic over the engine so the hot loop is statically
//! dispatched.

use std::sync::atomic::Ordering;
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam_channel::{Receiver, Sender};
use socialbench_engines::Engine;

use super::Ctx;
use super::summarise::{Joined, summarise};
use crate::client::{ClientPlan, ClientResult, Shared, StopReason, client_main};
use crate::collector::{Collected, PrecisionStop, Timeline, collect};
use crate::config::{Limit, RunError, ThreadFailure};
use crate::machine::{MachineInfo, peak_rss_bytes};
use crate::outputs::{Reports, csv, hlog, json, progress, table};
use crate::recorder::{RawInterval, Recorder, ToCollector};
use crate::summary::RunSummary;

/// Runs the client threads and the collector on `engine`, then audits and
/// summarises; every report sees the summary.
pub(super) fn drive<E: Engine>(ctx: &Ctx<'_>, engine: &E) -> Result<RunSummary, RunError> {
    // A recovered state is checked before this run's first op changes it,
    // and before any session (serial's audit waits for its session to end).
    let at_start = ctx
        .recovering
        .as_ref()
        .and_then(|r| r.ledger.as_ref())
        .and_then(|ledger| {
            engine.quiesce();
            engine
                .audit()
                .check(&ledger.tally)
                .err()
                .map(|f| f.to_string())
        });
    let mut sessions = Vec::with_capacity(ctx.threads);
    for _ in 0..ctx.threads {
        sessions.push(engine.session()?);
    }
    // A group run: every process has checked the prefix before any loads.
    if let Some(at) = engine.group_barrier("start").map_err(group_error)? {
        sleep_until(at);
    }
    let reports = build_reports(ctx)?;
    announce(ctx);
    let shared = Shared::new(ctx.threads + 1, ctx.config.stop.clone());
    let joined = run_threads(ctx, engine, sessions, reports, &shared);
    let group_error = shared
        .group_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(e) = group_error {
        return Err(self::group_error(e));
    }
    let joined = joined?;
    if joined
        .results
        .iter()
        .any(|r| r.stop == StopReason::WorkloadPanicked)
    {
        return Err(RunError::Thread(ThreadFailure::WorkloadPanicked));
    }
    let (summary, mut reports) = summarise(ctx, engine, joined, at_start)?;
    reports.finish(&summary)?;
    Ok(summary)
}

/// The sinks of this run: progress, then the files, then the table.
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

/// The pin map and the measured cost of a clock read, on stderr.
fn announce(ctx: &Ctx<'_>) {
    if ctx.chatty() {
        let name = ctx.config.engine.name();
        eprintln!("[{name}] pin map: {}", ctx.pin_map.describe());
        eprintln!(
            "[{name}] clock read: quanta {:.1} ns, std::time::Instant {:.1} ns",
            ctx.clock_cost.quanta_ns, ctx.clock_cost.std_instant_ns
        );
    }
}

/// A group run whose processes did not all come (or the server failed
/// them): the groups were started wrong, as bad input is (exit 2).
fn group_error(e: socialbench_engines::EngineError) -> RunError {
    RunError::BadInput(e.detail())
}

/// Sleeps until the wall-clock moment `at` (at once if it has passed).
fn sleep_until(at: std::time::SystemTime) {
    if let Ok(wait) = at.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

/// Meets a group run's other processes at `name` (nothing for a run of one
/// process), and waits for the moment they all go on from. A failure stops
/// the run: the clients skip the rest of the load and the driver reports it.
fn group_point<E: Engine>(engine: &E, shared: &Shared, name: &str) {
    if shared.group_failed.load(Ordering::Acquire) {
        return;
    }
    match engine.group_barrier(name) {
        Ok(Some(at)) => sleep_until(at),
        Ok(None) => {}
        Err(e) => {
            *shared.group_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            shared.group_failed.store(true, Ordering::Release);
            shared.user_stop.stop();
        }
    }
}

/// What client thread `t` is asked to do. In a group run (`--group K/N`)
/// the thread is `(K-1)*T + t` of `N*T`, so that the groups' users and load
/// ops are disjoint slices of one run's.
fn plan(ctx: &Ctx<'_>, t: usize) -> ClientPlan {
    let c = ctx.config;
    let core = ctx.pin_map.clients[t];
    let (first, all) = match ctx
        .engine_config
        .redis
        .as_ref()
        .and_then(|r| r.group.as_ref())
    {
        Some(g) => ((g.k - 1) * ctx.threads, g.n * ctx.threads),
        None => (0, ctx.threads),
    };
    ClientPlan {
        thread: first + t,
        threads: all,
        core,
        mode: c.mode,
        limit: c.limit,
        warmup_ns: c.warmup.as_nanos() as u64,
        interval_ns: (c.interval().as_nanos() as u64).max(1),
        seed: c.seed,
        // Alone on its core: no engine or other client thread pinned there.
        own_core: core.is_some_and(|core| {
            let pins = ctx.pin_map.engine.iter().chain(&ctx.pin_map.clients);
            pins.filter(|p| **p == Some(core)).count() == 1
        }),
        idle: c.idle,
        keep_log: c.engine.is_stateful() && c.audit == crate::config::AuditMode::Entities,
        skip_load: ctx.recovering.is_some(),
    }
}

type ClientHandle<'scope> = std::io::Result<ScopedJoinHandle<'scope, ClientResult>>;

/// Starts one pinned client thread per session.
fn spawn_clients<'scope, 'env, S: socialbench_engines::Session + 'scope>(
    scope: &'scope Scope<'scope, 'env>,
    ctx: &'env Ctx<'env>,
    sessions: Vec<S>,
    shared: &'env Shared,
    (tx, recycle): (&Sender<ToCollector>, &Receiver<Box<RawInterval>>),
) -> Vec<ClientHandle<'scope>> {
    sessions
        .into_iter()
        .enumerate()
        .map(|(t, session)| {
            let plan = plan(ctx, t);
            let rec = Recorder::new(t, 0, tx.clone(), recycle.clone());
            let workload = ctx.workload;
            std::thread::Builder::new()
                .name(format!("client-{t}"))
                .spawn_scoped(scope, move || {
                    client_main(plan, session, workload, shared, rec)
                })
        })
        .collect()
}

/// Starts and joins every thread of the run. The driver meets the client
/// threads at each load stage's barrier, publishes the start of the
/// measured run, starts the collector, and joins them all.
fn run_threads<E: Engine>(
    ctx: &Ctx<'_>,
    engine: &E,
    sessions: Vec<E::Session>,
    reports: Reports,
    shared: &Shared,
) -> Result<Joined, RunError> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(4 * ctx.threads);
    let load_start = shared.clock.now_ns();
    let (results, collected, start, load_peak_rss) = std::thread::scope(|s| {
        let handles = spawn_clients(s, ctx, sessions, shared, (&tx, &recycle_rx));
        drop(tx);
        // Every spawned client waits on the barrier; if a spawn failed, the
        // barrier would never open, so fail before waiting.
        let collector = if handles.iter().any(|h| h.is_err()) {
            shared.user_stop.stop();
            None
        } else {
            Some(start_measuring(
                s,
                ctx,
                engine,
                shared,
                (rx, recycle_tx),
                reports,
                load_start,
            ))
        };
        let results = join_clients(handles);
        let (collected, start, rss) = match collector {
            Some((h, start, rss)) => (join_collector(h), start, rss),
            None => (Err(RunError::Thread(ThreadFailure::NotStarted)), 0, 0),
        };
        (results, collected, start, rss)
    });
    Ok(Joined {
        results: results.into_iter().collect::<Result<_, _>>()?,
        collected: collected?,
        load_start,
        start,
        load_peak_rss,
    })
}

type CollectorHandle<'scope> = ScopedJoinHandle<'scope, Result<Collected, RunError>>;

/// Walks the client threads through the load stages, publishes the start
/// of the run and starts the collector. Returns the collector, the start
/// (ns on the run clock) and the peak RSS of the load phase.
fn start_measuring<'scope, 'env, E: Engine>(
    scope: &'scope Scope<'scope, 'env>,
    ctx: &Ctx<'_>,
    engine: &'env E,
    shared: &'env Shared,
    (rx, recycle): (Receiver<ToCollector>, Sender<Box<RawInterval>>),
    reports: Reports,
    load_start: u64,
) -> (CollectorHandle<'scope>, u64, u64) {
    for stage in 0..ctx.workload.load_stages() {
        shared.barrier.wait();
        group_point(engine, shared, &format!("load-{stage}"));
        shared.barrier.wait();
    }
    shared.barrier.wait();
    // A group run's processes start their measured windows together.
    group_point(engine, shared, "measure");
    let start = shared.clock.now_ns();
    let load_peak_rss = peak_rss_bytes();
    shared.start_ns.store(start, Ordering::Release);
    let warmup = ctx.config.warmup;
    // Timed faults (the crash) count from the start of the measured window.
    engine.start_window(std::time::Instant::now() + warmup);
    let timeline = Timeline {
        warm_end_ns: start + warmup.as_nanos() as u64,
        interval_ns: (ctx.config.interval().as_nanos() as u64).max(1),
        warm_end_wall: std::time::SystemTime::now() + warmup,
    };
    let threads = ctx.threads;
    let ctx_precision = ctx.config.precision;
    let collector = std::thread::Builder::new()
        .name("collector".into())
        .spawn_scoped(scope, move || {
            let precision = ctx_precision.map(|precision| PrecisionStop {
                precision,
                flag: &shared.precise,
            });
            collect(rx, recycle, (threads, engine), timeline, reports, precision)
        })
        .expect("the collector thread starts");
    shared.barrier.wait();
    if ctx.chatty() {
        eprintln!(
            "[{}] load phase done in {:.2} s, peak RSS {} MiB",
            ctx.config.engine.name(),
            (start - load_start) as f64 / 1e9,
            load_peak_rss >> 20
        );
    }
    (collector, start, load_peak_rss)
}

fn join_clients(handles: Vec<ClientHandle<'_>>) -> Vec<Result<ClientResult, RunError>> {
    handles
        .into_iter()
        .map(|h| match h {
            Ok(h) => h
                .join()
                .map_err(|_| RunError::Thread(ThreadFailure::ClientPanicked)),
            Err(e) => Err(RunError::Thread(ThreadFailure::Spawn(e))),
        })
        .collect()
}

fn join_collector(h: CollectorHandle<'_>) -> Result<Collected, RunError> {
    h.join()
        .unwrap_or_else(|_| Err(RunError::Thread(ThreadFailure::CollectorPanicked)))
}
