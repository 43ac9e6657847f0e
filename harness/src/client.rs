//! One client thread's life: pin, load phase (stage by stage, behind a
//! barrier), then the closed or open loop until the limit, then drain.
//!
//! The tag of a submitted op is an index into a per-thread slab of
//! [`InFlight`] slots holding the op's workload token, kind, intended start
//! and send time, so a reply finds all of it without a lock or an allocation.
//! Shared atomics are read only at the ~10 ms checkpoints, never per op.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use socialbench_engines::{OpKind, Session, WriteTally};
use socialbench_workload::{Generator, Workload};

use crate::clock::Clock;
use crate::config::{Limit, LoopMode, StopSignal};
use crate::pinning::pin_current;
use crate::recorder::{Recorder, row_of};

/// How often (ns) a client looks at the shared stop flags: 10 ms.
const CHECK_EVERY_NS: u64 = 10_000_000;

/// Open loop: with nothing outstanding, a wait longer than this sleeps...
const SLEEP_MIN_NS: u64 = 200_000;
/// ...and wakes this early, then busy-polls (or yields) to send on time: it
/// covers the default 50 us timer slack and a wake-up on a busy machine.
const WAKE_EARLY_NS: u64 = 100_000;

/// Open loop, thread with a core of its own: a send due within this busy-waits...
const SPIN_WINDOW_NS: u64 = 50_000;
/// ...looking at the engine's replies again every this often.
const SPIN_POLL_NS: u64 = 2_000;

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
    /// uses: its open loop then busy-polls while waiting instead of yielding.
    pub own_core: bool,
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
    /// The engine refused a submission (shut down).
    EngineShutdown,
    /// The workload panicked in this client thread (a bug): the run is invalid.
    WorkloadPanicked,
}

/// What a client thread hands back.
#[derive(Clone, Debug)]
pub(crate) struct ClientResult {
    pub tally: WriteTally,
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
}

/// A submitted op, found again by its tag.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    token: u64,
    kind: OpKind,
    /// Recorder row: the kind's, or the invalid-request row.
    row: u8,
    intended_ns: u64,
    sent_ns: u64,
}

impl InFlight {
    /// The generator's op `token`/`kind`, intended at `intended_ns`, sent at `sent_ns`.
    #[inline(always)]
    fn new(token: u64, kind: OpKind, intended_ns: u64, sent_ns: u64) -> InFlight {
        InFlight {
            token,
            kind,
            row: row_of(kind, Generator::is_invalid(token)) as u8,
            intended_ns,
            sent_ns,
        }
    }
}

/// Fixed-capacity slots with a free list: insert and remove are O(1), no allocation.
/// Debug builds also track which slots are taken and assert that a tag
/// removed or read is one handed out and not yet freed (a reply with a stale
/// or duplicated tag would otherwise be booked against another op).
struct Slab {
    slots: Vec<InFlight>,
    free: Vec<u32>,
    #[cfg(debug_assertions)]
    taken: Vec<bool>,
}

impl Slab {
    fn new(capacity: usize) -> Slab {
        let empty = InFlight {
            token: 0,
            kind: OpKind::Register,
            row: 0,
            intended_ns: 0,
            sent_ns: 0,
        };
        Slab {
            slots: vec![empty; capacity],
            free: (0..capacity as u32).rev().collect(),
            #[cfg(debug_assertions)]
            taken: vec![false; capacity],
        }
    }
    /// Debug builds: marks slot `tag` taken or free, asserting it was the other.
    #[inline(always)]
    fn mark(&mut self, _tag: u64, _taken: bool) {
        #[cfg(debug_assertions)]
        if let Some(t) = self.taken.get_mut(_tag as usize) {
            debug_assert_ne!(*t, _taken, "slab slot {_tag} marked twice");
            *t = _taken;
        }
    }
    /// Debug builds: asserts slot `tag` is taken.
    #[inline(always)]
    fn check_taken(&self, _tag: u64) {
        #[cfg(debug_assertions)]
        debug_assert!(
            self.taken.get(_tag as usize).is_none_or(|t| *t),
            "slab slot {_tag} is not in use"
        );
    }
    #[inline]
    fn has_free(&self) -> bool {
        !self.free.is_empty()
    }
    #[inline]
    fn insert(&mut self, f: InFlight) -> u64 {
        // Callers check `has_free` first.
        let i = self.free.pop().unwrap_or(0);
        self.slots[i as usize] = f;
        self.mark(i as u64, true);
        i as u64
    }
    #[inline]
    fn remove(&mut self, tag: u64) -> Option<InFlight> {
        let slot = *self.slots.get(tag as usize)?;
        self.mark(tag, false);
        self.free.push(tag as u32);
        Some(slot)
    }
    /// The op in slot `tag`, leaving the slot taken: the caller refills it
    /// with [`Slab::put`] or frees it with [`Slab::release`].
    #[inline]
    fn get(&self, tag: u64) -> Option<InFlight> {
        self.check_taken(tag);
        self.slots.get(tag as usize).copied()
    }
    /// Stores `f` in slot `tag`, taken by [`Slab::get`].
    #[inline]
    fn put(&mut self, tag: u64, f: InFlight) {
        self.check_taken(tag);
        if let Some(s) = self.slots.get_mut(tag as usize) {
            *s = f;
        }
    }
    /// Frees slot `tag`, taken by [`Slab::get`].
    #[inline]
    fn release(&mut self, tag: u64) {
        self.mark(tag, false);
        self.free.push(tag as u32);
    }
    fn capacity(&self) -> usize {
        self.slots.len()
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
    let pinned = pin_current(plan.core);
    // A panic in the workload before or during the load phase must not leave
    // the other threads waiting at a barrier: catch it, keep meeting the
    // barriers, and skip the run.
    let generator = catch_unwind(AssertUnwindSafe(|| {
        workload.generator(plan.thread, plan.threads)
    }));
    let mut broken = generator.is_err();
    let mut res = ClientResult {
        tally: WriteTally::default(),
        load_ops: 0,
        load_errors: 0,
        pinned,
        stop: StopReason::Limit,
        max_lag_ns: 0,
        final_lag_ns: 0,
        unsent_due: 0,
        end_ns: 0,
    };
    // Both histogram sets allocated and mapped before the clock starts.
    rec.prepare();
    for stage in 0..workload.load_stages() {
        if !broken {
            broken = catch_unwind(AssertUnwindSafe(|| {
                let ops = workload.load_ops(stage, plan.thread, plan.threads);
                load_stage(&mut session, ops, &mut res).is_err()
            }))
            .unwrap_or(true);
        }
        shared.barrier.wait();
    }
    shared.barrier.wait(); // the driver publishes the start time between these two waits
    shared.barrier.wait();
    let Ok(mut generator) = generator else {
        rec.finish(shared.clock.now_ns());
        res.stop = StopReason::WorkloadPanicked;
        return res;
    };
    let start = shared.start_ns.load(Ordering::Acquire);
    let mut lp = Loop {
        clock: &shared.clock,
        shared,
        warm_end: start + plan.warmup_ns,
        end: match plan.limit {
            Limit::Duration(d) => start + plan.warmup_ns + d.as_nanos() as u64,
            Limit::Ops(_) => u64::MAX,
        },
        budget: match plan.limit {
            Limit::Ops(n) => {
                let t = plan.threads as u64;
                n / t + u64::from((plan.thread as u64) < n % t)
            }
            Limit::Duration(_) => u64::MAX,
        },
        interval: plan.interval_ns.max(1),
        next_roll: start + plan.warmup_ns,
        next_check: start + CHECK_EVERY_NS,
        measured_sent: 0,
        stopping: None,
        own_core: plan.own_core,
        open_loop: matches!(plan.mode, LoopMode::Open { .. }),
    };
    if broken {
        lp.stopping = Some(StopReason::EngineShutdown);
    }
    let mut slab;
    match plan.mode {
        LoopMode::Closed { inflight } => {
            slab = Slab::new(inflight.max(1));
            lp.closed(&mut session, &mut generator, &mut slab, &mut rec, &mut res);
        }
        LoopMode::Open {
            rate,
            max_outstanding,
        } => {
            slab = Slab::new(max_outstanding.max(1));
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                plan.seed ^ (plan.thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mean_gap = 1e9 * plan.threads as f64 / rate;
            lp.open(
                &mut session,
                &mut generator,
                &mut slab,
                &mut rec,
                &mut res,
                (&mut rng, mean_gap, start),
            );
        }
    }
    res.stop = lp.stopping.unwrap_or(StopReason::Limit);
    // Drain: every acknowledged write must reach the tally, every reply the recorder.
    while session.outstanding() > 0 {
        let n = session.poll(true, |tag, resp| {
            lp.on_reply(
                &mut slab,
                &mut rec,
                &mut res.tally,
                &mut generator,
                tag,
                &resp,
            )
        });
        if n == 0 && session.outstanding() > 0 {
            break; // the engine is gone; nothing more will come
        }
    }
    res.end_ns = shared.clock.now_ns();
    rec.finish(res.end_ns);
    res
}

/// Sends one load stage with a window of ops in flight; tallies acknowledged writes.
fn load_stage<S: Session>(
    session: &mut S,
    ops: impl Iterator<Item = socialbench_engines::Op>,
    res: &mut ClientResult,
) -> Result<(), socialbench_engines::EngineError> {
    let mut kinds = [OpKind::Register; LOAD_WINDOW];
    let mut free: Vec<usize> = (0..LOAD_WINDOW).collect();
    let mut on_reply = |kinds: &[OpKind; LOAD_WINDOW],
                        free: &mut Vec<usize>,
                        tag: u64,
                        resp: &socialbench_engines::Response| {
        if let Some(kind) = kinds.get(tag as usize) {
            res.tally.record(*kind, resp);
            res.load_ops += 1;
            res.load_errors += resp.is_err() as u64;
            free.push(tag as usize);
        }
    };
    for op in ops {
        while free.is_empty() {
            let n = session.poll(true, |t, r| on_reply(&kinds, &mut free, t, &r));
            if n == 0 && free.is_empty() {
                return Err(socialbench_engines::EngineError::Shutdown);
            }
        }
        let i = free.pop().unwrap_or(0);
        kinds[i] = op.kind();
        session.submit(i as u64, op)?;
    }
    while session.outstanding() > 0 {
        if session.poll(true, |t, r| on_reply(&kinds, &mut free, t, &r)) == 0 {
            break;
        }
    }
    Ok(())
}

/// The measured loop's clocks, limits and checkpoints.
struct Loop<'a> {
    clock: &'a Clock,
    shared: &'a Shared,
    /// End of the warmup: replies to ops intended before it are not recorded.
    warm_end: u64,
    /// End of the measured run (duration limit).
    end: u64,
    /// Measured ops this thread may send (op limit).
    budget: u64,
    interval: u64,
    next_roll: u64,
    next_check: u64,
    measured_sent: u64,
    stopping: Option<StopReason>,
    /// See [`ClientPlan::own_core`].
    own_core: bool,
    /// Open loop: the duration limit ends the schedule, not the clock (see
    /// [`Loop::open`]), so [`Loop::tick`] does not stop it at `end`.
    open_loop: bool,
}

impl Loop<'_> {
    /// Handles one reply: latency to the recorder, write to the tally, reply to its user.
    #[inline(always)]
    fn on_reply(
        &mut self,
        slab: &mut Slab,
        rec: &mut Recorder,
        tally: &mut WriteTally,
        generator: &mut Generator,
        tag: u64,
        resp: &socialbench_engines::Response,
    ) {
        let Some(f) = slab.remove(tag) else { return };
        let now = self.clock.now_ns();
        self.finish(f, rec, tally, generator, resp, now);
    }

    /// The part of [`Loop::on_reply`] after the slab and the clock: `f` was
    /// answered with `resp`, observed at `now`.
    #[inline(always)]
    fn finish(
        &mut self,
        f: InFlight,
        rec: &mut Recorder,
        tally: &mut WriteTally,
        generator: &mut Generator,
        resp: &socialbench_engines::Response,
        now: u64,
    ) {
        self.roll(now, rec);
        self.book(f, rec, resp.is_err(), now);
        tally.record(f.kind, resp);
        generator.on_reply(f.token, resp);
    }

    /// Records `f`'s latency and service time to `now` in the recorder's
    /// current interval, which the caller has rolled to the one `now` falls
    /// in ([`Loop::roll`]), so a burst of late replies after a stall lands in
    /// the interval it arrived in, not the one before the stall.
    #[inline(always)]
    fn book(&self, f: InFlight, rec: &mut Recorder, error: bool, now: u64) {
        // Warmup replies go to interval 0 (discarded); an op intended during the
        // warmup whose reply comes after it is not measured at all.
        if f.intended_ns >= self.warm_end || rec.index() == 0 {
            rec.record(
                f.row as usize,
                now.saturating_sub(f.intended_ns),
                now.saturating_sub(f.sent_ns),
                error,
            );
        }
    }

    /// Interval rollover, limits and stop flags; cheap unless a deadline passed.
    #[inline]
    fn tick(&mut self, now: u64, rec: &mut Recorder) {
        if now >= self.end && self.stopping.is_none() && !self.open_loop {
            self.stopping = Some(StopReason::Limit);
        }
        self.roll(now, rec);
        if now >= self.next_check {
            self.next_check = now + CHECK_EVERY_NS;
            if self.stopping.is_none() {
                if self.shared.user_stop.is_stopped() {
                    self.stopping = Some(StopReason::Interrupted);
                } else if self.shared.saturated.load(Ordering::Relaxed) {
                    self.stopping = Some(StopReason::Saturated);
                }
            }
        }
    }

    /// Moves the recorder to the interval `now` falls in, if it passed the
    /// current one's end; a compare unless it did. From the end of the
    /// measured window on, that is the last interval: replies drained after
    /// the end (to ops sent before it) belong there, not to whichever
    /// interval the thread was in when it last looked at the clock (say,
    /// before an engine stall that outlasted the run).
    #[inline(always)]
    fn roll(&mut self, now: u64, rec: &mut Recorder) {
        if now < self.next_roll {
            return;
        }
        let at = now.min(self.end - 1);
        // Intervals the thread slept through get no report from it.
        let next = if at < self.warm_end {
            0
        } else {
            1 + (at - self.warm_end) / self.interval
        };
        if next != rec.index() {
            rec.rollover(next);
        }
        self.next_roll = if now >= self.end {
            u64::MAX
        } else {
            self.warm_end + next * self.interval
        };
    }

    /// Stops this open loop, and tells the others, for falling too far behind.
    fn saturate(&mut self) {
        self.shared.saturated.store(true, Ordering::Relaxed);
        self.stopping = Some(StopReason::Saturated);
    }

    /// Whether one more op may be sent now (counts it against the op budget).
    #[inline]
    fn may_send(&mut self, intended: u64) -> bool {
        if self.stopping.is_some() {
            return false;
        }
        if intended >= self.warm_end {
            if self.measured_sent >= self.budget {
                self.stopping = Some(StopReason::Limit);
                return false;
            }
            self.measured_sent += 1;
        }
        true
    }

    /// Generates one op and submits it with `now` as its intended start and
    /// send time, into slot `slot` when given (the slot a reply just freed),
    /// else a free one. Returns false (and sets `stopping`) when it cannot.
    #[inline(always)]
    fn send_now<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        slot: Option<u64>,
        now: u64,
    ) -> bool {
        if !self.may_send(now) {
            if let Some(tag) = slot {
                slab.release(tag);
            }
            return false;
        }
        // The op goes from the generator to the session without a return trip.
        let sent = generator.next_op_with(|token, op| {
            let f = InFlight::new(token, op.kind(), now, now);
            let tag = match slot {
                Some(tag) => {
                    slab.put(tag, f);
                    tag
                }
                None => slab.insert(f),
            };
            let sent = session.submit(tag, op).is_ok();
            if !sent {
                slab.remove(tag);
            }
            sent
        });
        if !sent {
            self.stopping = Some(StopReason::EngineShutdown);
        }
        sent
    }

    /// Closed loop: keep `inflight` ops outstanding, block for replies.
    ///
    /// One clock read per poll. A poll hands over a batch of replies; each
    /// goes to the write tally and back to its user as it comes, and once the
    /// poll has returned, one read stamps them all (every one of them had
    /// arrived by then, so no latency is understated) and the ops replacing
    /// them are generated and sent, each with that stamp as its intended start
    /// and send time: a closed-loop user's next op is due the moment the
    /// previous reply is seen, so that read *is* its intended start. An op's
    /// actual send follows after generating it and the batch's earlier
    /// replacements (at most `inflight` sends, ~60 ns each with the null
    /// engine, an op's execution each with an engine that runs it inside
    /// `submit`), a wait its latency then includes: a bias that can only
    /// overstate latency, never hide engine time, and the wait a closed-loop
    /// client's users have anyway (one thread sends for all of them). Service
    /// time is stamped the same way, so here it equals latency, and the
    /// recorder records it once ([`Recorder::mirror_service`]); the open loop
    /// stamps each send. The same read drives the interval and stop checks.
    ///
    /// Stamping per poll rather than per reply also keeps the clock (an
    /// rdtsc, ~12 ns on this project's VM) off the per-op path when replies
    /// come in batches: with the null engine, one read per 16 ops.
    fn closed<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        rec: &mut Recorder,
        res: &mut ClientResult,
    ) {
        rec.mirror_service();
        // Slots a poll freed and whether their replies were errors. Keeping
        // 16 bytes each rather than the `Response` spares a copy of every
        // reply through this buffer (it stalled on store forwarding: ~8 ns
        // per op with the null engine). Its capacity covers every op
        // outstanding.
        let mut freed: Vec<(u64, bool)> = Vec::with_capacity(slab.capacity());
        while slab.has_free() {
            let now = self.clock.now_ns();
            if !self.send_now(session, generator, slab, None, now) {
                break;
            }
        }
        loop {
            if self.stopping.is_some() {
                return; // the caller drains what is outstanding
            }
            let got = session.poll(true, |tag, resp| {
                if let Some(f) = slab.get(tag) {
                    res.tally.record(f.kind, &resp);
                    generator.on_reply(f.token, &resp);
                    freed.push((tag, resp.is_err()));
                }
            });
            if got == 0 {
                // poll(true) returns nothing only when nothing is outstanding
                // (every slot's send failed) or the engine is gone: either way
                // no reply will ever come, so stop instead of spinning.
                self.stopping.get_or_insert(StopReason::EngineShutdown);
                continue;
            }
            let now = self.clock.now_ns();
            self.roll(now, rec);
            for (tag, error) in freed.drain(..) {
                if let Some(f) = slab.get(tag) {
                    self.book(f, rec, error, now);
                }
                // A failed send leaves this slot free (and stops the loop);
                // the rest of the batch's slots are released by `send_now`.
                self.send_now(session, generator, slab, Some(tag), now);
            }
            self.tick(now, rec);
        }
    }

    /// Open loop: Poisson arrivals on a schedule fixed in advance; latency from
    /// each op's intended start. Stops the run when the lag behind schedule
    /// exceeds max(1 s, 100 mean gaps): the engine is saturated.
    ///
    /// End of a duration-limited run: the schedule ends, not the clock. Every
    /// op intended before the end of the measured window is sent, however
    /// late (the saturation bound still applies), then the caller drains the
    /// replies; dropping the late ones would drop exactly the slowest ops. On
    /// any other stop (saturation, Ctrl-C, engine gone) the measured ops
    /// already due but never sent are counted in [`ClientResult::unsent_due`],
    /// and the lag at the stop is kept in [`ClientResult::final_lag_ns`].
    ///
    /// The schedule is accumulated in f64 nanoseconds from `start`, so the
    /// gaps' fractions are not truncated away (which would raise the rate).
    ///
    /// Replies are looked at after every send (not once per burst of due
    /// sends), so a reply is stamped when it could first be seen.
    ///
    /// Waiting for the next send time: with nothing outstanding and the send
    /// more than 200 us away, sleep until 100 us before it. Otherwise, a thread
    /// with a core of its own busy-waits when the send is due within 50 us
    /// (spinning on the clock, no syscall, polling replies every ~2 us), so it
    /// sends within ~2 us of the intended time instead of after a
    /// `sched_yield` (which can hand the core to any runnable thread for a
    /// whole time slice); otherwise it yields, and a thread sharing its core
    /// always yields, leaving the core to the engine thread that may be
    /// serving its ops. A late send never hides anything (latency
    /// counts from the intended start), but it shows up as client-made latency.
    fn open<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        rec: &mut Recorder,
        res: &mut ClientResult,
        (rng, mean_gap, start): (&mut Xoshiro256PlusPlus, f64, u64),
    ) {
        let mut gap = || {
            let u: f64 = rng.random();
            -(1.0 - u).ln() * mean_gap
        };
        let lag_bound = 1_000_000_000u64.max((100.0 * mean_gap) as u64);
        let mut offset = gap();
        let mut next_intended = start.saturating_add(offset as u64);
        // Lateness of the last send.
        let mut last_lag = 0u64;
        loop {
            let mut now = self.clock.now_ns();
            while next_intended <= now
                && next_intended < self.end
                && slab.has_free()
                && self.may_send(next_intended)
            {
                // Not through `send_now`'s closure: with a second caller LLVM
                // stopped inlining it and the session's `submit` into the
                // closed loop (null ceiling 12.46M -> 11.84M ops/s, 7
                // alternating runs). The open loop's sends are not its
                // bottleneck, so it keeps the plain `next_op`.
                let (token, op) = generator.next_op();
                let sent = self.clock.now_ns();
                let tag = slab.insert(InFlight::new(token, op.kind(), next_intended, sent));
                if session.submit(tag, op).is_err() {
                    slab.remove(tag);
                    self.stopping = Some(StopReason::EngineShutdown);
                    break;
                }
                last_lag = sent.saturating_sub(next_intended);
                res.max_lag_ns = res.max_lag_ns.max(last_lag);
                if last_lag > lag_bound {
                    // Checked per send, not only between bursts: a burst
                    // sends every op due when it started, and behind
                    // schedule each burst outlasts the last many times over,
                    // so the run's end could come before the next check and
                    // the late ops pass for on time.
                    self.saturate();
                }
                offset += gap();
                next_intended = start.saturating_add(offset as u64);
                // Observe what has arrived before the next send of a burst:
                // an engine that answers inside `submit` (serial, striped)
                // has this op's reply ready now, and stamping it only after
                // the rest of the burst ran would charge those ops to it.
                session.poll(false, |tag, resp| {
                    self.on_reply(slab, rec, &mut res.tally, generator, tag, &resp)
                });
            }
            if next_intended >= self.end && self.stopping.is_none() {
                // Every op of the measured window has been sent.
                self.stopping = Some(StopReason::Limit);
            }
            let got = session.poll(false, |tag, resp| {
                self.on_reply(slab, rec, &mut res.tally, generator, tag, &resp)
            });
            now = self.clock.now_ns();
            let check = now >= self.next_check;
            self.tick(now, rec);
            if check && self.stopping.is_none() {
                let lag = now.saturating_sub(next_intended);
                res.max_lag_ns = res.max_lag_ns.max(lag);
                if lag > lag_bound {
                    self.saturate();
                }
            }
            match self.stopping {
                Some(StopReason::Limit) => {
                    res.final_lag_ns = last_lag;
                    return;
                }
                Some(_) => {
                    // Stopped early: count the measured ops already due.
                    let lag = now.saturating_sub(next_intended);
                    res.final_lag_ns = lag;
                    res.max_lag_ns = res.max_lag_ns.max(lag);
                    let until = now.min(self.end);
                    let budget_left = self.budget.saturating_sub(self.measured_sent);
                    while next_intended < until && res.unsent_due < budget_left {
                        res.unsent_due += u64::from(next_intended >= self.warm_end);
                        offset += gap();
                        next_intended = start.saturating_add(offset as u64);
                    }
                    return;
                }
                None => {}
            }
            if got == 0 && next_intended > now {
                let wait = next_intended - now;
                if session.outstanding() == 0 && wait > SLEEP_MIN_NS {
                    // Nothing to receive: sleep, waking early to send on time.
                    std::thread::sleep(std::time::Duration::from_nanos(
                        (wait - WAKE_EARLY_NS).min(self.next_check.saturating_sub(now).max(1)),
                    ));
                } else if self.own_core && wait <= SPIN_WINDOW_NS {
                    // Busy-wait on the clock alone (polling the engine's reply
                    // queue in a tight loop would bounce its cache lines with
                    // the engine thread writing them), polling again every ~2 us.
                    let until = next_intended.min(now + SPIN_POLL_NS);
                    while self.clock.now_ns() < until {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "marked twice")]
    fn slab_rejects_a_tag_freed_twice_in_debug_builds() {
        let mut s = Slab::new(2);
        let f = InFlight {
            token: 7,
            kind: OpKind::Vote,
            row: 0,
            intended_ns: 1,
            sent_ns: 2,
        };
        let a = s.insert(f);
        s.remove(a);
        s.remove(a); // a duplicated reply
    }

    #[test]
    fn slab_reuses_freed_slots_and_rejects_unknown_tags() {
        let mut s = Slab::new(2);
        let f = InFlight {
            token: 7,
            kind: OpKind::Vote,
            row: 0,
            intended_ns: 1,
            sent_ns: 2,
        };
        let a = s.insert(f);
        let b = s.insert(InFlight { token: 8, ..f });
        assert!(!s.has_free());
        assert_ne!(a, b);
        assert_eq!(s.remove(a).unwrap().token, 7);
        assert!(s.has_free());
        let c = s.insert(InFlight { token: 9, ..f });
        assert_eq!(c, a);
        assert_eq!(s.remove(b).unwrap().token, 8);
        assert!(s.remove(99).is_none());
    }

    use socialbench_engines::{ApiError, EngineError, Op, Response};
    use socialbench_workload::Scenario;

    use crate::recorder::{IntervalData, ToCollector};

    /// A fake engine: answers every submitted op with an error reply (the
    /// workload ignores those) when polled, unless `silent`; after `alive`
    /// submissions it "goes away": outstanding ops are dropped and polls
    /// return nothing (what a disconnected reply channel does).
    struct FakeSession {
        queued: Vec<u64>,
        submitted: u64,
        alive: u64,
        silent: bool,
        submit_sleep: std::time::Duration,
        /// Most replies ready but not yet polled when an op was submitted.
        unseen_at_submit: usize,
    }

    impl FakeSession {
        fn new(alive: u64) -> FakeSession {
            FakeSession {
                queued: Vec::new(),
                submitted: 0,
                alive,
                silent: false,
                submit_sleep: std::time::Duration::ZERO,
                unseen_at_submit: 0,
            }
        }
        fn gone(&self) -> bool {
            self.submitted >= self.alive
        }
    }

    impl Session for FakeSession {
        fn submit(&mut self, tag: u64, _op: Op) -> Result<(), EngineError> {
            if !self.submit_sleep.is_zero() {
                // A slow engine (backpressure), so the open loop falls behind.
                std::thread::sleep(self.submit_sleep);
            }
            self.submitted += 1;
            self.unseen_at_submit = self.unseen_at_submit.max(self.queued.len());
            self.queued.push(tag);
            Ok(())
        }
        fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
            if self.gone() {
                self.queued.clear();
                return 0;
            }
            if self.silent {
                return 0;
            }
            let n = self.queued.len();
            for tag in self.queued.drain(..) {
                f(tag, Err(ApiError::UnknownUser));
            }
            n
        }
        fn outstanding(&self) -> usize {
            self.queued.len()
        }
    }

    fn shared() -> Shared {
        Shared {
            clock: Clock::new(),
            barrier: Barrier::new(1),
            start_ns: AtomicU64::new(0),
            user_stop: StopSignal::default(),
            saturated: AtomicBool::new(false),
        }
    }

    fn generator() -> socialbench_workload::Generator {
        let mut sc = Scenario::preset("reddit").unwrap();
        sc.users = 300;
        Workload::new(sc, 7).unwrap().generator(0, 1)
    }

    fn result() -> ClientResult {
        ClientResult {
            tally: WriteTally::default(),
            load_ops: 0,
            load_errors: 0,
            pinned: false,
            stop: StopReason::Limit,
            max_lag_ns: 0,
            final_lag_ns: 0,
            unsent_due: 0,
            end_ns: 0,
        }
    }

    fn new_loop<'a>(shared: &'a Shared, start: u64, end: u64, open_loop: bool) -> Loop<'a> {
        Loop {
            clock: &shared.clock,
            shared,
            warm_end: start,
            end,
            budget: u64::MAX,
            interval: 1_000_000_000,
            next_roll: start,
            next_check: 0,
            measured_sent: 0,
            stopping: None,
            own_core: false,
            open_loop,
        }
    }

    /// Replies recorded (every interval of the recorder, warmup included).
    fn recorded(rx: &crossbeam_channel::Receiver<ToCollector>) -> u64 {
        let mut all = IntervalData::new();
        for ToCollector::Interval(mut s) in rx.try_iter() {
            s.data.drain_into(&mut all);
        }
        all.total()
    }

    /// Runs `f` on its own thread and fails (instead of hanging) if it does not return.
    fn must_return<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("the loop never returned")
    }

    #[test]
    fn closed_loop_stops_when_the_engine_goes_away() {
        let (stop, res, replies) = must_return(|| {
            let shared = shared();
            let (tx, rx) = crossbeam_channel::unbounded();
            let (_rtx, rrx) = crossbeam_channel::unbounded();
            let mut rec = Recorder::new(0, 1, tx, rrx);
            let mut gen_ = generator();
            let mut session = FakeSession::new(1000);
            let mut slab = Slab::new(8);
            let mut res = result();
            // An op limit: no deadline would ever end the loop.
            let mut lp = new_loop(&shared, 0, u64::MAX, false);
            lp.closed(&mut session, &mut gen_, &mut slab, &mut rec, &mut res);
            rec.finish(shared.clock.now_ns());
            (lp.stopping, res, recorded(&rx))
        });
        assert_eq!(stop, Some(StopReason::EngineShutdown));
        // Every op answered before the engine went away was recorded; the
        // ones it dropped were not. It answered the first 1000 - 8 + (at most
        // 8 of the last batch), so at least 1000 - 16 replies.
        assert!((1000 - 16..1000).contains(&replies), "{replies} replies");
        assert_eq!(res.unsent_due, 0);
    }

    /// Schedule of the open loop as [`Loop::open`] draws it: intended starts before `end`.
    fn scheduled(seed: u64, mean_gap: f64, start: u64, end: u64) -> Vec<u64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut offset = 0f64;
        let mut out = Vec::new();
        loop {
            let u: f64 = rng.random();
            offset += -(1.0 - u).ln() * mean_gap;
            let t = start + offset as u64;
            if t >= end {
                return out;
            }
            out.push(t);
        }
    }

    #[test]
    fn open_loop_sends_every_op_due_in_the_window_even_when_late() {
        // 2000 ops/s for 50 ms (~100 ops) against an engine that takes 1 ms
        // per submission: by the end of the window about half are sent, and
        // the lag (~50 ms) is far below the saturation bound (1 s).
        let mean_gap = 500_000.0;
        let (res, stop, replies, expected) = must_return(move || {
            let shared = shared();
            let (tx, rx) = crossbeam_channel::unbounded();
            let (_rtx, rrx) = crossbeam_channel::unbounded();
            let mut rec = Recorder::new(0, 1, tx, rrx);
            let mut gen_ = generator();
            let mut session = FakeSession::new(u64::MAX);
            session.submit_sleep = std::time::Duration::from_millis(1);
            let mut slab = Slab::new(4096);
            let mut res = result();
            let start = shared.clock.now_ns();
            let end = start + 50_000_000;
            let mut lp = new_loop(&shared, start, end, true);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            lp.open(
                &mut session,
                &mut gen_,
                &mut slab,
                &mut rec,
                &mut res,
                (&mut rng, mean_gap, start),
            );
            while session.outstanding() > 0 {
                session.poll(true, |tag, resp| {
                    lp.on_reply(&mut slab, &mut rec, &mut res.tally, &mut gen_, tag, &resp)
                });
            }
            rec.finish(shared.clock.now_ns());
            let expected = scheduled(11, mean_gap, start, end).len() as u64;
            assert_eq!(
                session.unseen_at_submit, 0,
                "a burst of late sends must look at each reply before the next send"
            );
            (res, lp.stopping, recorded(&rx), expected)
        });
        assert_eq!(stop, Some(StopReason::Limit));
        assert!(expected > 50, "{expected}");
        assert_eq!(replies, expected, "due ops were dropped at the end");
        assert_eq!(res.unsent_due, 0);
        // The last ops went out well after their intended start.
        assert!(res.final_lag_ns > 0 && res.max_lag_ns >= res.final_lag_ns);
    }

    #[test]
    fn open_loop_far_behind_schedule_stops_saturated_within_a_burst() {
        // 1M ops/s offered to an engine that answers at once but takes
        // 100 us per submission (10k ops/s): the lag passes the bound (1 s)
        // about a second in, long before the 30 s window ends.
        let (res, stop) = must_return(move || {
            let shared = shared();
            let (tx, _rx) = crossbeam_channel::unbounded();
            let (_rtx, rrx) = crossbeam_channel::unbounded();
            let mut rec = Recorder::new(0, 1, tx, rrx);
            let mut gen_ = generator();
            let mut session = FakeSession::new(u64::MAX);
            session.submit_sleep = std::time::Duration::from_micros(100);
            let mut slab = Slab::new(1 << 16);
            let mut res = result();
            let start = shared.clock.now_ns();
            let mut lp = new_loop(&shared, start, start + 30_000_000_000, true);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
            lp.open(
                &mut session,
                &mut gen_,
                &mut slab,
                &mut rec,
                &mut res,
                (&mut rng, 1_000.0, start),
            );
            (res, lp.stopping)
        });
        assert_eq!(stop, Some(StopReason::Saturated));
        assert!(res.max_lag_ns > 1_000_000_000, "{}", res.max_lag_ns);
        // Stopped at the first send past the bound, not a burst later.
        assert!(res.max_lag_ns < 5_000_000_000, "{}", res.max_lag_ns);
    }

    #[test]
    fn open_loop_stopped_early_counts_the_due_ops_it_never_sent() {
        let mean_gap = 500_000.0;
        let (res, stop, due_at_call) = must_return(move || {
            let shared = shared();
            shared.user_stop.stop(); // Ctrl-C already pressed
            let (tx, _rx) = crossbeam_channel::unbounded();
            let (_rtx, rrx) = crossbeam_channel::unbounded();
            let mut rec = Recorder::new(0, 1, tx, rrx);
            let mut gen_ = generator();
            let mut session = FakeSession::new(u64::MAX);
            session.silent = true; // no reply frees a slot
            let mut slab = Slab::new(4);
            let mut res = result();
            // The schedule started 20 ms ago: ~40 ops are due at once. (The
            // run clock starts at 0 when created: let it pass 20 ms first.)
            while shared.clock.now_ns() < 20_000_000 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let start = shared.clock.now_ns() - 20_000_000;
            let end = start + 1_000_000_000;
            let due_at_call = scheduled(11, mean_gap, start, shared.clock.now_ns()).len() as u64;
            let mut lp = new_loop(&shared, start, end, true);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            lp.open(
                &mut session,
                &mut gen_,
                &mut slab,
                &mut rec,
                &mut res,
                (&mut rng, mean_gap, start),
            );
            (res, lp.stopping, due_at_call)
        });
        assert_eq!(stop, Some(StopReason::Interrupted));
        assert!(due_at_call > 10, "{due_at_call}");
        // 4 were sent (the slab's capacity); every other due op is counted.
        assert!(res.unsent_due >= due_at_call - 4, "{res:?} {due_at_call}");
        assert!(res.final_lag_ns > 0);
    }

    #[test]
    fn replies_are_booked_into_the_interval_they_arrive_in() {
        let shared = shared();
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_rtx, rrx) = crossbeam_channel::unbounded();
        let mut rec = Recorder::new(0, 0, tx, rrx);
        let mut gen_ = generator();
        let mut tally = WriteTally::default();
        // Warmup ends at 1000, 100 ns intervals, window ends at 2000.
        let mut lp = new_loop(&shared, 0, 2000, false);
        lp.warm_end = 1000;
        lp.next_roll = 1000;
        lp.interval = 100;
        let op = |intended| InFlight {
            token: 0,
            kind: OpKind::Vote,
            row: OpKind::Vote as usize as u8,
            intended_ns: intended,
            sent_ns: intended,
        };
        let err: Response = Err(ApiError::UnknownUser);
        // Still in the warmup: interval 0.
        lp.finish(op(900), &mut rec, &mut tally, &mut gen_, &err, 950);
        // The first measured reply, before anything ticked: interval 1, not 0.
        lp.finish(op(1010), &mut rec, &mut tally, &mut gen_, &err, 1050);
        // A reply after a long silence (a stall): the interval it came in (6).
        lp.finish(op(1060), &mut rec, &mut tally, &mut gen_, &err, 1520);
        // Drained after the end: the last interval (10), whatever came before.
        lp.finish(op(1990), &mut rec, &mut tally, &mut gen_, &err, 2600);
        lp.finish(op(1995), &mut rec, &mut tally, &mut gen_, &err, 2700);
        rec.finish(2700);
        let got: Vec<(u64, u64)> = rx
            .try_iter()
            .map(|ToCollector::Interval(s)| (s.index, s.data.total()))
            .collect();
        assert_eq!(got, vec![(0, 1), (1, 1), (6, 1), (10, 2)]);
    }
}
