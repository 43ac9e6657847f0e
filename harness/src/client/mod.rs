//! One client thread's life: pin, load phase (stage by stage, behind a
//! barrier), then the closed or open loop until the limit, then drain.
//!
//! The tag of a submitted op is an index into a per-thread slab
//! (`slab.rs`) of slots holding the op's workload token, kind, intended
//! start and send time, so a reply finds all of it without a lock or an
//! allocation. The measured loop and the closed loop are in `measured.rs`,
//! the open loop in `open.rs`.
//! Shared atomics are read only at the ~10 ms checkpoints, never per op.

mod measured;
mod open;
mod slab;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;
use socialbench_engines::{EngineError, IdlePolicy, Ledger, Op, Pending, Response, Session};
use socialbench_workload::{Generator, Workload};

use crate::clock::Clock;
use crate::config::{Limit, LoopMode, StopSignal};
use crate::pinning::pin_current;
use crate::recorder::Recorder;
use measured::Loop;
use open::Schedule;
use slab::Slab;

/// Ops a client keeps in flight during the load phase.
const LOAD_WINDOW: usize = 64;

/// State shared by the client threads and the driver of a run.
#[derive(Debug)]
pub(crate) struct Shared {
    pub clock: Clock,
    /// Stage barrier: client threads plus the driver.
    pub barrier: Barrier,
    /// Run start (end of the load phase), ns on `clock`; published between two barrier waits.
    pub start_ns: AtomicU64,
    /// Ctrl-C.
    pub user_stop: StopSignal,
    /// Set by a client that found the engine saturated (open loop).
    pub saturated: AtomicBool,
    /// Set by the collector once the throughput's interval is as narrow as
    /// asked (`RunConfig::precision`).
    pub precise: AtomicBool,
    /// A group run's barrier that failed (the other processes did not
    /// come): the clients skip the rest of the load, and the run ends.
    pub group_failed: AtomicBool,
    /// Why it failed, for the driver to report.
    pub group_error: std::sync::Mutex<Option<socialbench_engines::EngineError>>,
}

impl Shared {
    /// The state of a run with `parties` at its barrier (the client threads
    /// and the driver), stopped early by `user_stop`.
    pub(crate) fn new(parties: usize, user_stop: StopSignal) -> Shared {
        Shared {
            clock: Clock::new(),
            barrier: Barrier::new(parties),
            start_ns: AtomicU64::new(0),
            user_stop,
            saturated: AtomicBool::new(false),
            precise: AtomicBool::new(false),
            group_failed: AtomicBool::new(false),
            group_error: std::sync::Mutex::new(None),
        }
    }
}

/// What a client thread is asked to do.
#[derive(Clone, Debug)]
pub(crate) struct ClientPlan {
    pub thread: usize,
    pub threads: usize,
    pub core: Option<usize>,
    pub mode: LoopMode,
    pub limit: Limit,
    pub warmup_ns: u64,
    pub interval_ns: u64,
    pub seed: u64,
    /// Whether this thread is pinned to a core no other thread of the run
    /// uses: its open loop then waits as `idle` says instead of yielding.
    pub own_core: bool,
    /// How the open loop waits between sends on a core of its own.
    pub idle: IdlePolicy,
    /// Whether to keep the log of acknowledged writes (the engine has state
    /// to check entity by entity).
    pub keep_log: bool,
    /// Send no load phase (`run --recover`: the state comes from the logs).
    pub skip_load: bool,
}

/// Why a client stopped sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StopReason {
    /// The duration or op limit was reached.
    Limit,
    /// Ctrl-C.
    Interrupted,
    /// The open loop fell too far behind schedule.
    Saturated,
    /// The throughput's interval reached the asked precision (`--precision`).
    Precise,
    /// The engine refused a submission (shut down).
    EngineShutdown,
    /// The workload panicked in this client thread (a bug): the run is invalid.
    WorkloadPanicked,
}

/// What a client thread hands back.
#[derive(Clone, Debug)]
pub(crate) struct ClientResult {
    /// Acknowledged writes: the tally, and the log when the engine is audited entity by entity.
    pub ledger: Ledger,
    pub load_ops: u64,
    pub load_errors: u64,
    pub pinned: bool,
    pub stop: StopReason,
    /// Open loop: largest lag behind the schedule (ns), over every send
    /// (send time minus intended start), every checkpoint and the stop.
    pub max_lag_ns: u64,
    /// Open loop: lag behind the schedule when the thread stopped sending (ns):
    /// the lateness of its last due op on a limit stop, else the stop time
    /// minus the intended start of the first op it did not send.
    pub final_lag_ns: u64,
    /// Open loop: ops due (intended start before the stop and before the end
    /// of the measured window) that were never sent because the run stopped
    /// early (saturation, Ctrl-C, engine gone). Always 0 on a limit stop.
    pub unsent_due: u64,
    pub end_ns: u64,
    /// This thread's CPU time from the end of its warmup to its end.
    pub cpu: Option<crate::cpu::ThreadCpu>,
    /// Open loop: how late and how far apart its measured sends were.
    pub open: Option<Box<SendTimes>>,
}

/// How an open-loop thread's measured sends kept to their schedule: each
/// send's lateness (send minus intended start) and the realised gaps
/// between consecutive sends, as histograms (ns).
#[derive(Clone, Debug)]
pub(crate) struct SendTimes {
    /// Lateness of each send.
    pub lateness: hdrhistogram::Histogram<u64>,
    /// Gaps between consecutive sends.
    pub gaps: hdrhistogram::Histogram<u64>,
    /// Mean gap of the thread's schedule, ns.
    pub mean_gap: f64,
    /// Most ops the session had outstanding (submitted, reply not yet
    /// polled) right after any send, warmup included: the engine's count,
    /// which the slab's capacity (`max_outstanding`) must bound.
    pub peak_outstanding: usize,
    /// Sends before this are the warmup's (not recorded).
    warm_end: u64,
    last_sent: Option<u64>,
}

impl SendTimes {
    /// Empty histograms for a thread whose warmup ends at `warm_end`.
    fn new(mean_gap: f64, warm_end: u64) -> SendTimes {
        SendTimes {
            lateness: crate::recorder::new_histogram(),
            gaps: crate::recorder::new_histogram(),
            mean_gap,
            peak_outstanding: 0,
            warm_end,
            last_sent: None,
        }
    }

    /// Records a send intended at `intended`, made at `sent`.
    #[inline]
    pub(crate) fn record_send(&mut self, intended: u64, sent: u64) {
        if intended < self.warm_end {
            return;
        }
        self.lateness
            .saturating_record(sent.saturating_sub(intended).max(1));
        if let Some(last) = self.last_sent {
            self.gaps
                .saturating_record(sent.saturating_sub(last).max(1));
        }
        self.last_sent = Some(sent);
    }
}

impl ClientResult {
    /// Nothing measured yet; `pinned`: whether the thread got its core;
    /// `keep_log`: whether to log acknowledged writes.
    fn new(pinned: bool, keep_log: bool) -> ClientResult {
        ClientResult {
            ledger: Ledger::new(keep_log),
            load_ops: 0,
            load_errors: 0,
            pinned,
            stop: StopReason::Limit,
            max_lag_ns: 0,
            final_lag_ns: 0,
            unsent_due: 0,
            end_ns: 0,
            cpu: None,
            open: None,
        }
    }
}

/// Runs one client thread to the end. Always reaches every barrier and
/// always sends its last interval, even when the engine fails.
pub(crate) fn client_main<S: Session>(
    plan: ClientPlan,
    mut session: S,
    workload: &Workload,
    shared: &Shared,
    mut rec: Recorder,
) -> ClientResult {
    let mut res = ClientResult::new(pin_current(plan.core), plan.keep_log);
    // Both histogram sets allocated and mapped before the clock starts.
    rec.prepare();
    let (generator, broken) = load_phase(&plan, &mut session, workload, shared, &mut res);
    let Some(mut generator) = generator else {
        rec.finish(shared.clock.now_ns());
        res.stop = StopReason::WorkloadPanicked;
        return res;
    };
    let start = shared.start_ns.load(Ordering::Acquire);
    let mut lp = Loop::new(&plan, shared, start);
    if broken {
        lp.stopping = Some(StopReason::EngineShutdown);
    }
    let g = &mut generator;
    let mut slab;
    match plan.mode {
        LoopMode::Closed { inflight } => {
            slab = Slab::new(inflight.max(1));
            lp.closed(&mut session, g, &mut slab, &mut rec, &mut res);
        }
        LoopMode::Open {
            rate,
            max_outstanding,
            arrivals,
        } => {
            slab = Slab::new(max_outstanding.max(1));
            let mut sched = Schedule::of(&plan, rate, arrivals, start);
            res.open = Some(Box::new(SendTimes::new(
                sched.mean_gap,
                start + plan.warmup_ns,
            )));
            lp.open(&mut session, g, &mut slab, &mut rec, &mut res, &mut sched);
        }
    }
    res.stop = lp.stopping.unwrap_or(StopReason::Limit);
    lp.drain(&mut session, g, &mut slab, &mut rec, &mut res);
    res.end_ns = shared.clock.now_ns();
    rec.finish(res.end_ns);
    res.cpu = lp
        .cpu_start
        .zip(crate::cpu::this_thread())
        .map(|(a, b)| crate::cpu::ThreadCpu {
            name: format!("client-{}", plan.thread),
            cpu_ns: b.0.saturating_sub(a.0),
            runqueue_ns: b.1.saturating_sub(a.1),
        });
    res
}

/// The harness's closed loop, as [`crate::run()`] measures with, for benches:
/// sends `ops` generated ops through `session` with `inflight` outstanding,
/// recording every latency as a run does (into a recorder nobody reads), and
/// returns the time from the first send to the last reply. One client
/// thread's share: call it from each thread of a multi-threaded bench.
pub fn closed_loop<S: Session>(
    session: &mut S,
    generator: &mut Generator,
    inflight: usize,
    ops: u64,
) -> std::time::Duration {
    let shared = Shared::new(1, StopSignal::default());
    let (tx, _rx) = crossbeam_channel::unbounded();
    let (_recycle_tx, recycle_rx) = crossbeam_channel::bounded(1);
    let mut rec = Recorder::new(0, 0, tx, recycle_rx);
    rec.prepare();
    let plan = ClientPlan {
        thread: 0,
        threads: 1,
        core: None,
        mode: LoopMode::Closed { inflight },
        limit: Limit::Ops(ops),
        warmup_ns: 0,
        // One interval: the bench has no collector to roll over to.
        interval_ns: u64::MAX / 4,
        seed: 0,
        own_core: false,
        idle: IdlePolicy::default(),
        keep_log: false,
        skip_load: false,
    };
    let mut res = ClientResult::new(false, false);
    let mut slab = Slab::new(inflight.max(1));
    let start = shared.clock.now_ns();
    let mut lp = Loop::new(&plan, &shared, start);
    lp.closed(session, generator, &mut slab, &mut rec, &mut res);
    lp.drain(session, generator, &mut slab, &mut rec, &mut res);
    let end = shared.clock.now_ns();
    rec.finish(end);
    std::time::Duration::from_nanos(end.saturating_sub(start))
}

/// The load phase, stage by stage behind the run's barrier, then the two
/// waits around the driver's publishing of the start time. Returns the
/// thread's generator (`None` if making it panicked) and whether the load
/// failed (the engine is gone, or the workload panicked while loading).
///
/// A panic in the workload must not leave the other threads waiting at a
/// barrier: it is caught, the barriers are still met, and the run skipped.
fn load_phase<S: Session>(
    plan: &ClientPlan,
    session: &mut S,
    workload: &Workload,
    shared: &Shared,
    res: &mut ClientResult,
) -> (Option<Generator>, bool) {
    let generator = catch_unwind(AssertUnwindSafe(|| {
        workload.generator(plan.thread, plan.threads)
    }))
    .ok();
    let mut broken = generator.is_none();
    for stage in 0..workload.load_stages() {
        if !broken && !plan.skip_load {
            broken = catch_unwind(AssertUnwindSafe(|| {
                let ops = workload.load_ops(stage, plan.thread, plan.threads);
                load_stage(session, ops, res).is_err()
            }))
            .unwrap_or(true);
        }
        // The driver meets a group run's other processes between these two.
        shared.barrier.wait();
        shared.barrier.wait();
        broken |= shared.group_failed.load(Ordering::Acquire);
    }
    shared.barrier.wait(); // the driver publishes the start time between these two waits
    shared.barrier.wait();
    (generator, broken)
}

/// Sends one load stage with a window of ops in flight; tallies acknowledged writes.
fn load_stage<S: Session>(
    session: &mut S,
    ops: impl Iterator<Item = Op>,
    res: &mut ClientResult,
) -> Result<(), EngineError> {
    let mut pending = [Pending::Read; LOAD_WINDOW];
    let mut free: Vec<usize> = (0..LOAD_WINDOW).collect();
    let mut on_reply =
        |pending: &[Pending; LOAD_WINDOW], free: &mut Vec<usize>, tag: u64, resp: &Response| {
            if let Some(p) = pending.get(tag as usize) {
                res.ledger.record(*p, resp);
                res.load_ops += 1;
                res.load_errors += resp.is_err() as u64;
                free.push(tag as usize);
            }
        };
    for op in ops {
        while free.is_empty() {
            let n = session.poll(true, |t, r| on_reply(&pending, &mut free, t, &r));
            if n == 0 && free.is_empty() {
                return Err(EngineError::Shutdown);
            }
        }
        let i = free.pop().unwrap_or(0);
        pending[i] = Pending::of(&op);
        session.submit(i as u64, op)?;
    }
    while session.outstanding() > 0 {
        if session.poll(true, |t, r| on_reply(&pending, &mut free, t, &r)) == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
