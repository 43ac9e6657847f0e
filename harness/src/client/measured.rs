//! The measured loop of one client thread ([`Loop`]): its clocks, limits,
//! interval rollovers and stop checks, the booking of a reply, and the
//! closed loop. The open loop is in `open.rs`.

use std::sync::atomic::Ordering;

use socialbench_engines::{IdlePolicy, Ledger, Session};
use socialbench_workload::{Generator, OpSink};

use super::slab::{InFlight, Slab};
use super::{ClientPlan, ClientResult, Shared, StopReason};
use crate::clock::Clock;
use crate::config::{Limit, LoopMode};
use crate::recorder::Recorder;

/// How often (ns) a client looks at the shared stop flags: 10 ms.
const CHECK_EVERY_NS: u64 = 10_000_000;

/// The measured loop's clocks, limits and checkpoints.
pub(crate) struct Loop<'a> {
    pub(super) clock: &'a Clock,
    pub(super) shared: &'a Shared,
    /// End of the warmup: replies to ops intended before it are not recorded.
    pub(super) warm_end: u64,
    /// End of the measured run (duration limit).
    pub(super) end: u64,
    /// Measured ops this thread may send (op limit).
    pub(super) budget: u64,
    pub(super) interval: u64,
    pub(super) next_roll: u64,
    pub(super) next_check: u64,
    pub(super) measured_sent: u64,
    pub(super) stopping: Option<StopReason>,
    /// See [`ClientPlan::own_core`].
    pub(super) own_core: bool,
    /// See [`ClientPlan::idle`].
    pub(super) idle: IdlePolicy,
    /// Open loop: the duration limit ends the schedule, not the clock (see
    /// [`Loop::open`]), so [`Loop::tick`] does not stop it at `end`.
    pub(super) open_loop: bool,
    /// This thread's (run, runqueue) CPU times when its warmup ended.
    pub(super) cpu_start: Option<(u64, u64)>,
}

impl<'a> Loop<'a> {
    /// The loop of `plan`'s client thread, whose run started at `start` (ns
    /// on the run clock).
    pub(crate) fn new(plan: &ClientPlan, shared: &'a Shared, start: u64) -> Loop<'a> {
        Loop {
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
            idle: plan.idle,
            open_loop: matches!(plan.mode, LoopMode::Open { .. }),
            cpu_start: None,
        }
    }

    /// After the loop: every reply still outstanding is received, so every
    /// acknowledged write reaches the tally and every reply the recorder.
    pub(crate) fn drain<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        rec: &mut Recorder,
        res: &mut ClientResult,
    ) {
        while session.outstanding() > 0 {
            let n = session.poll(true, |tag, resp| {
                self.on_reply(slab, rec, &mut res.ledger, generator, tag, &resp)
            });
            if n == 0 && session.outstanding() > 0 {
                break; // the engine is gone; nothing more will come
            }
        }
    }

    /// Handles one reply: latency to the recorder, write to the tally, reply to its user.
    #[inline(always)]
    pub(super) fn on_reply(
        &mut self,
        slab: &mut Slab,
        rec: &mut Recorder,
        ledger: &mut Ledger,
        generator: &mut Generator,
        tag: u64,
        resp: &socialbench_engines::Response,
    ) {
        let Some(f) = slab.remove(tag) else { return };
        let now = self.clock.now_ns();
        self.finish(f, rec, ledger, generator, resp, now);
    }

    /// The part of [`Loop::on_reply`] after the slab and the clock: `f` was
    /// answered with `resp`, observed at `now`.
    #[inline(always)]
    pub(super) fn finish(
        &mut self,
        f: InFlight,
        rec: &mut Recorder,
        ledger: &mut Ledger,
        generator: &mut Generator,
        resp: &socialbench_engines::Response,
        now: u64,
    ) {
        self.roll(now, rec);
        self.book(f, rec, resp.is_err(), now);
        ledger.record(f.write, resp);
        generator.on_reply(f.token, resp);
    }

    /// Records `f`'s latency and service time to `now` in the recorder's
    /// current interval, which the caller has rolled to the one `now` falls
    /// in ([`Loop::roll`]), so a burst of late replies after a stall lands in
    /// the interval it arrived in, not the one before the stall.
    #[inline(always)]
    pub(super) fn book(&self, f: InFlight, rec: &mut Recorder, error: bool, now: u64) {
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
    pub(super) fn tick(&mut self, now: u64, rec: &mut Recorder) {
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
                } else if self.shared.precise.load(Ordering::Relaxed) {
                    self.stopping = Some(StopReason::Precise);
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
    pub(super) fn roll(&mut self, now: u64, rec: &mut Recorder) {
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
            if rec.index() == 0 {
                // Leaving the warmup: the start of this thread's CPU window.
                self.cpu_start = crate::cpu::this_thread();
            }
            rec.rollover(next);
        }
        self.next_roll = if now >= self.end {
            u64::MAX
        } else {
            self.warm_end + next * self.interval
        };
    }

    /// Stops this open loop, and tells the others, for falling too far behind.
    pub(super) fn saturate(&mut self) {
        self.shared.saturated.store(true, Ordering::Relaxed);
        self.stopping = Some(StopReason::Saturated);
    }

    /// Whether one more op may be sent now (counts it against the op budget).
    #[inline]
    pub(super) fn may_send(&mut self, intended: u64) -> bool {
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
    pub(super) fn send_now<S: Session>(
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
        let sent = generator.next_op_with(SubmitNow {
            session,
            slab,
            slot,
            now,
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
    /// replacements (at most `inflight` sends: an op's generation each with
    /// the null engine, see the `harness/generate` bench, and its execution
    /// too with an engine that runs it inside `submit`), a wait its latency then includes: a bias that can only
    /// overstate latency, never hide engine time, and the wait a closed-loop
    /// client's users have anyway (one thread sends for all of them). Service
    /// time is stamped the same way, so here it equals latency, and the
    /// recorder records it once ([`Recorder::mirror_service`]); the open loop
    /// stamps each send. The same read drives the interval and stop checks.
    ///
    /// Stamping per poll rather than per reply also keeps the clock (an
    /// rdtsc; every run measures and prints its cost) off the per-op path
    /// when replies come in batches: with the null engine, one read per 16
    /// ops.
    pub(super) fn closed<S: Session>(
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
        // reply through this buffer (it stalled on store forwarding; commit
        // a0f4e88 has the figures). Its capacity covers every op outstanding.
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
                    res.ledger.record(f.write, &resp);
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
}

/// The closed loop's [`OpSink`]: submits each op as it is generated, with
/// `now` as its intended start and send time, through [`submit_into`].
struct SubmitNow<'a, S> {
    session: &'a mut S,
    slab: &'a mut Slab,
    slot: Option<u64>,
    now: u64,
}

impl<S: Session> OpSink for SubmitNow<'_, S> {
    type Out = bool;

    #[inline(always)]
    fn take(self, token: u64, op: socialbench_engines::Op) -> bool {
        let f = InFlight::new(token, &op, self.now, self.now);
        submit_into(self.session, self.slab, self.slot, f, op)
    }
}

/// Puts `f` into slot `slot` of `slab` (the slot a reply just freed) or a
/// free one, and submits `op` with that slot as its tag; on failure (the
/// engine is gone) the slot is freed again. Both loops send through it.
#[inline(always)]
pub(super) fn submit_into<S: Session>(
    session: &mut S,
    slab: &mut Slab,
    slot: Option<u64>,
    f: InFlight,
    op: socialbench_engines::Op,
) -> bool {
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
}
