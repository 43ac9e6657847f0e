//! The open loop: Poisson arrivals on a schedule fixed in advance, latency
//! from each op's intended start (coordinated omission corrected, as wrk2
//! does).

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::{IdlePolicy, Session};
use socialbench_workload::Generator;

use super::measured::{Loop, submit_into};
use super::slab::{InFlight, Slab};
use super::{ClientPlan, ClientResult, StopReason};
use crate::config::Arrivals;
use crate::recorder::Recorder;

/// Open loop: with nothing outstanding, a wait longer than this sleeps
/// (unless the idle policy is `spin`)...
const SLEEP_MIN_NS: u64 = 200_000;
/// ...and wakes this early, then busy-polls (or yields) to send on time: it
/// covers the default 50 us timer slack and a wake-up on a busy machine.
const WAKE_EARLY_NS: u64 = 100_000;

/// Open loop, busy-waiting: the engine's replies are looked at again every
/// this often.
const SPIN_POLL_NS: u64 = 2_000;

/// The open loop's schedule: arrivals from `start`, accumulated in f64
/// nanoseconds so the gaps' fractions are not truncated away (which would
/// raise the rate).
pub(crate) struct Schedule {
    rng: Xoshiro256PlusPlus,
    arrivals: Arrivals,
    /// Mean gap between this thread's arrivals, ns.
    pub mean_gap: f64,
    start: u64,
    offset: f64,
    /// Intended start of the next op (ns on the run clock).
    pub next: u64,
}

impl Schedule {
    /// The schedule of `plan`'s client thread: its share of `rate` ops/s,
    /// seeded from the run's seed and the thread.
    pub(crate) fn of(plan: &ClientPlan, rate: f64, arrivals: Arrivals, start: u64) -> Schedule {
        let rng = Xoshiro256PlusPlus::seed_from_u64(
            plan.seed ^ (plan.thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mean_gap = 1e9 * plan.threads as f64 / rate;
        let mut s = Schedule::new(rng, mean_gap, start);
        if arrivals == Arrivals::Fixed {
            // Threads offset by a fraction of a gap, so their sends interleave.
            s = Schedule::fixed(
                mean_gap,
                start + (mean_gap * plan.thread as f64 / plan.threads as f64) as u64,
            );
        }
        s
    }

    /// Equal gaps of `gap` ns from `start` (the first arrival one gap in).
    pub(crate) fn fixed(gap: f64, start: u64) -> Schedule {
        let mut s = Schedule::new(Xoshiro256PlusPlus::seed_from_u64(0), gap, start);
        s.arrivals = Arrivals::Fixed;
        s.offset = 0.0;
        s.advance();
        s
    }

    /// Poisson arrivals with mean gap `mean_gap` ns from `start`, drawn from `rng`.
    pub(crate) fn new(rng: Xoshiro256PlusPlus, mean_gap: f64, start: u64) -> Schedule {
        let mut s = Schedule {
            rng,
            arrivals: Arrivals::Poisson,
            mean_gap,
            start,
            offset: 0.0,
            next: start,
        };
        s.advance();
        s
    }

    /// Moves to the next arrival.
    #[inline]
    pub(crate) fn advance(&mut self) {
        self.offset += match self.arrivals {
            Arrivals::Poisson => {
                let u: f64 = self.rng.random();
                -(1.0 - u).ln() * self.mean_gap
            }
            Arrivals::Fixed => self.mean_gap,
        };
        self.next = self.start.saturating_add(self.offset as u64);
    }

    /// The saturation bound: max(1 s, 100 mean gaps) behind schedule.
    fn lag_bound(&self) -> u64 {
        1_000_000_000u64.max((100.0 * self.mean_gap) as u64)
    }
}

/// Arrivals the schedule walks one by one when counting the ops due but
/// never sent; past them the rest is counted from the mean gap.
const WALK_DUE: u64 = 1 << 20;

/// The arrivals of `sched` from its next one to `until` that are measured
/// (at or after `warm_end`), at most `budget`. The first [`WALK_DUE`] are
/// walked (the schedule's own draws); the rest, if any, are counted as
/// their expected number, the time left over the mean gap: a run stopped
/// far behind a high rate has billions due, and drawing each one would
/// outlast the run itself.
pub(crate) fn count_due(sched: &mut Schedule, warm_end: u64, until: u64, budget: u64) -> u64 {
    let mut due = 0u64;
    let mut walked = 0u64;
    while sched.next < until && due < budget {
        if walked == WALK_DUE {
            let from = sched.next.max(warm_end);
            let rest = (until.saturating_sub(from) as f64 / sched.mean_gap).ceil();
            return due
                .saturating_add(rest.min(u64::MAX as f64) as u64)
                .min(budget);
        }
        due += u64::from(sched.next >= warm_end);
        sched.advance();
        walked += 1;
    }
    due
}

impl Loop<'_> {
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
    /// At most the slab's capacity (`max_outstanding`) of ops are
    /// outstanding: with every slot taken, due ops wait unsent, the lag
    /// grows and the saturation bound stops the run, so an engine that falls
    /// behind never makes the client hold an unbounded backlog. The largest
    /// count the session reported after a send is kept in
    /// [`super::SendTimes::peak_outstanding`].
    ///
    /// Replies are looked at after every send (not once per burst of due
    /// sends), so a reply is stamped when it could first be seen.
    ///
    /// Waiting for the next send time ([`Loop::idle`]): with nothing
    /// outstanding and the send more than 200 us away, sleep until 100 us
    /// before it (except under `--idle spin`). Otherwise a thread with a core
    /// of its own busy-waits when the send is due within the policy's spin
    /// window (`spin`: always; `adaptive:W`: within W; `park`: never),
    /// spinning on the clock, no syscall, polling replies every ~2 us, so it
    /// sends within ~2 us of the intended time instead of after a
    /// `sched_yield` (which can hand the core to any runnable thread for a
    /// whole time slice); otherwise it yields, and a thread sharing its core
    /// always yields, leaving the core to the engine thread that may be
    /// serving its ops. A late send never hides anything (latency
    /// counts from the intended start), but it shows up as client-made latency.
    /// With replies outstanding the loop never sleeps: a reply is stamped
    /// when the loop sees it, so sleeping would add to its service time.
    pub(super) fn open<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        rec: &mut Recorder,
        res: &mut ClientResult,
        sched: &mut Schedule,
    ) {
        loop {
            self.send_due(session, generator, slab, rec, res, sched);
            if sched.next >= self.end && self.stopping.is_none() {
                // Every op of the measured window has been sent.
                self.stopping = Some(StopReason::Limit);
            }
            let got = session.poll(false, |tag, resp| {
                self.on_reply(slab, rec, &mut res.ledger, generator, tag, &resp)
            });
            let now = self.clock.now_ns();
            let check = now >= self.next_check;
            self.tick(now, rec);
            if check && self.stopping.is_none() {
                let lag = now.saturating_sub(sched.next);
                res.max_lag_ns = res.max_lag_ns.max(lag);
                if lag > sched.lag_bound() {
                    self.saturate();
                }
            }
            match self.stopping {
                // `final_lag_ns` holds the lateness of the last send.
                Some(StopReason::Limit) => return,
                Some(_) => return self.count_unsent(res, sched, now),
                None => {}
            }
            if got == 0 && sched.next > now {
                self.idle(session.outstanding() == 0, sched.next, now);
            }
        }
    }

    /// Sends every op due by now (a burst when behind schedule), looking at
    /// the replies after each send.
    #[inline]
    fn send_due<S: Session>(
        &mut self,
        session: &mut S,
        generator: &mut Generator,
        slab: &mut Slab,
        rec: &mut Recorder,
        res: &mut ClientResult,
        sched: &mut Schedule,
    ) {
        let now = self.clock.now_ns();
        while sched.next <= now
            && sched.next < self.end
            && slab.has_free()
            && self.may_send(sched.next)
        {
            let (token, op) = generator.next_op();
            let sent = self.clock.now_ns();
            let f = InFlight::new(token, &op, sched.next, sent);
            if !submit_into(session, slab, None, f, op) {
                self.stopping = Some(StopReason::EngineShutdown);
                break;
            }
            let lag = sent.saturating_sub(sched.next);
            res.final_lag_ns = lag;
            res.max_lag_ns = res.max_lag_ns.max(lag);
            if let Some(o) = res.open.as_deref_mut() {
                o.record_send(sched.next, sent);
                o.peak_outstanding = o.peak_outstanding.max(session.outstanding());
            }
            if lag > sched.lag_bound() {
                // Checked per send, not only between bursts: a burst sends
                // every op due when it started, and behind schedule each
                // burst outlasts the last many times over, so the run's end
                // could come before the next check and the late ops pass
                // for on time.
                self.saturate();
            }
            sched.advance();
            // Observe what has arrived before the next send of a burst: an
            // engine that answers inside `submit` (serial, striped) has this
            // op's reply ready now, and stamping it only after the rest of
            // the burst ran would charge those ops to it.
            session.poll(false, |tag, resp| {
                self.on_reply(slab, rec, &mut res.ledger, generator, tag, &resp)
            });
        }
    }

    /// Stopped early (saturation, Ctrl-C, engine gone) at `now`: the lag at
    /// the stop, and the measured ops already due that were never sent.
    fn count_unsent(&self, res: &mut ClientResult, sched: &mut Schedule, now: u64) {
        let lag = now.saturating_sub(sched.next);
        res.final_lag_ns = lag;
        res.max_lag_ns = res.max_lag_ns.max(lag);
        let until = now.min(self.end);
        let budget_left = self.budget.saturating_sub(self.measured_sent);
        let left = budget_left.saturating_sub(res.unsent_due);
        res.unsent_due += count_due(sched, self.warm_end, until, left);
    }

    /// Waits for the next send at `next` (see [`Loop::open`]); `empty`: no
    /// reply is outstanding.
    fn idle(&self, empty: bool, next: u64, now: u64) {
        let wait = next - now;
        let spin_window = match self.idle {
            IdlePolicy::Spin => u64::MAX,
            IdlePolicy::Park => 0,
            IdlePolicy::Adaptive { max_spin } => max_spin.as_nanos() as u64,
        };
        if empty && wait > SLEEP_MIN_NS && self.idle != IdlePolicy::Spin {
            // Nothing to receive: sleep, waking early to send on time.
            std::thread::sleep(std::time::Duration::from_nanos(
                (wait - WAKE_EARLY_NS).min(self.next_check.saturating_sub(now).max(1)),
            ));
        } else if self.own_core && wait <= spin_window {
            // Busy-wait on the clock alone (polling the engine's reply queue
            // in a tight loop would bounce its cache lines with the engine
            // thread writing them), polling again every ~2 us.
            let until = next.min(now + SPIN_POLL_NS);
            while self.clock.now_ns() < until {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}
