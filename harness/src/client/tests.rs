//! The measured loops against a fake session: stops, drains, late sends,
//! saturation, interval booking.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::{ApiError, EngineError, IdlePolicy, Op, OpKind, Response, Session};
use socialbench_workload::{Scenario, Workload};

use super::measured::Loop;
use super::open::{Schedule, count_due};
use super::slab::{InFlight, Slab};
use super::{ClientResult, Shared, StopReason};
use crate::clock::Clock;
use crate::config::StopSignal;
use crate::recorder::{IntervalData, Recorder, ToCollector};

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
    Shared::new(1, StopSignal::default())
}

fn generator() -> socialbench_workload::Generator {
    let mut sc = Scenario::preset("reddit").unwrap();
    sc.users = 300;
    Workload::new(sc, 7).unwrap().generator(0, 1)
}

fn result() -> ClientResult {
    ClientResult {
        ledger: socialbench_engines::Ledger::new(true),
        load_ops: 0,
        load_errors: 0,
        pinned: false,
        stop: StopReason::Limit,
        max_lag_ns: 0,
        final_lag_ns: 0,
        unsent_due: 0,
        end_ns: 0,
        cpu: None,
        open: None,
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
        idle: IdlePolicy::default(),
        open_loop,
        cpu_start: None,
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
        let rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut sched = Schedule::new(rng, mean_gap, start);
        lp.open(
            &mut session,
            &mut gen_,
            &mut slab,
            &mut rec,
            &mut res,
            &mut sched,
        );
        while session.outstanding() > 0 {
            session.poll(true, |tag, resp| {
                lp.on_reply(&mut slab, &mut rec, &mut res.ledger, &mut gen_, tag, &resp)
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
        let rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut sched = Schedule::new(rng, 1_000.0, start);
        lp.open(
            &mut session,
            &mut gen_,
            &mut slab,
            &mut rec,
            &mut res,
            &mut sched,
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
        let rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut sched = Schedule::new(rng, mean_gap, start);
        lp.open(
            &mut session,
            &mut gen_,
            &mut slab,
            &mut rec,
            &mut res,
            &mut sched,
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
    let mut tally = socialbench_engines::Ledger::new(false);
    // Warmup ends at 1000, 100 ns intervals, window ends at 2000.
    let mut lp = new_loop(&shared, 0, 2000, false);
    lp.warm_end = 1000;
    lp.next_roll = 1000;
    lp.interval = 100;
    let op = |intended| InFlight {
        token: 0,
        write: socialbench_engines::Pending::Read,
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

/// An engine that stalls `stall` ns in every `period` ns of the run clock,
/// counted from `origin`: a submit made during a stall blocks until it ends
/// (as with a full mailbox, or an engine that answers inside `submit`),
/// every other op is answered at once.
struct StallingSession<'a> {
    clock: &'a Clock,
    origin: u64,
    period: u64,
    stall: u64,
    queued: Vec<u64>,
}

impl Session for StallingSession<'_> {
    fn submit(&mut self, tag: u64, _op: Op) -> Result<(), EngineError> {
        loop {
            let phase = (self.clock.now_ns() - self.origin) % self.period;
            if phase >= self.stall {
                break;
            }
            std::thread::sleep(std::time::Duration::from_nanos(self.stall - phase));
        }
        self.queued.push(tag);
        Ok(())
    }
    fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
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

/// Coordinated omission, checked against the analytic answer: with arrivals
/// at a fixed rate and an engine that blocks S ms in every P ms, an op
/// intended `u` into a stall waits `S - u`, so P(latency > x) = (S - x) / P
/// for 0 <= x <= S and the mean latency is S^2 / 2P. Service time (from the
/// actual send) stays small: only the one send per stall that blocked
/// carries it. A correction applied twice would double the mean.
#[test]
fn open_loop_latency_under_a_periodic_stall_matches_the_analytic_distribution() {
    const MS: u64 = 1_000_000;
    let (period, stall) = (300 * MS, 60 * MS);
    let (intended, service, sent) = must_return(move || {
        let shared = shared();
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_rtx, rrx) = crossbeam_channel::unbounded();
        let mut rec = Recorder::new(0, 1, tx, rrx);
        let mut gen_ = generator();
        let start = shared.clock.now_ns();
        let mut session = StallingSession {
            clock: &shared.clock,
            origin: start,
            period,
            stall,
            queued: Vec::new(),
        };
        let mut slab = Slab::new(1 << 16);
        let mut res = result();
        let end = start + 10 * period;
        let mut lp = new_loop(&shared, start, end, true);
        // 2,000 ops/s: 120 ops intended in each stall.
        let mut sched = Schedule::fixed(500_000.0, start);
        lp.open(
            &mut session,
            &mut gen_,
            &mut slab,
            &mut rec,
            &mut res,
            &mut sched,
        );
        lp.drain(&mut session, &mut gen_, &mut slab, &mut rec, &mut res);
        rec.finish(shared.clock.now_ns());
        let mut all = IntervalData::new();
        for ToCollector::Interval(mut s) in rx.try_iter() {
            s.data.drain_into(&mut all);
        }
        let (i, s) = all.merged_all();
        (i, s, all.total())
    });
    assert!(sent > 5_000, "{sent}");
    let share_above = |x: u64| {
        let above: u64 = intended
            .iter_recorded()
            .filter(|v| v.value_iterated_to() > x)
            .map(|v| v.count_at_value())
            .sum();
        above as f64 / intended.len() as f64
    };
    for x_ms in [15, 30, 45] {
        let expected = (60 - x_ms) as f64 / 300.0;
        let got = share_above(x_ms * MS);
        assert!(
            (got - expected).abs() < 0.025,
            "P(latency > {x_ms} ms) = {got:.3}, expected {expected:.3}"
        );
    }
    // The mean: 6 ms, 12 ms if corrected twice. The upper bound leaves room
    // for the test's own thread being descheduled on a loaded machine (a
    // late send adds to every op behind it, mostly to the mean); the shares
    // above already pin the shape.
    let mean_ms = intended.mean() / 1e6;
    assert!(
        (4.5..9.5).contains(&mean_ms),
        "mean latency {mean_ms:.2} ms, expected 6 (12 if corrected twice)"
    );
    // At most the one blocked send per stall (10 of ~6,000) waits in service.
    assert!(
        service.value_at_quantile(0.99) < 5 * MS,
        "{}",
        service.value_at_quantile(0.99)
    );
}

#[test]
fn ops_due_at_an_absurd_rate_are_counted_without_drawing_each_one() {
    // A mean gap of 1 ps over 10 s: 10^13 arrivals due. Walking them one by
    // one (as the open loop once did when it stopped behind schedule) would
    // take hours; past the walk they are counted from the mean gap.
    let rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut sched = Schedule::new(rng, 0.001, 0);
    let due = count_due(&mut sched, 0, 10_000_000_000, u64::MAX);
    assert!((due as f64 / 1e13 - 1.0).abs() < 1e-3, "{due}");
    // Measured arrivals only, and never more than the budget.
    let mut sched = Schedule::new(Xoshiro256PlusPlus::seed_from_u64(2), 0.001, 0);
    let due = count_due(&mut sched, 5_000_000_000, 10_000_000_000, u64::MAX);
    assert!((due as f64 / 5e12 - 1.0).abs() < 1e-3, "{due}");
    let mut sched = Schedule::new(Xoshiro256PlusPlus::seed_from_u64(3), 0.001, 0);
    assert_eq!(count_due(&mut sched, 0, 10_000_000_000, 12_345), 12_345);
    // Below the walk the schedule's own arrivals count, exactly: equal gaps
    // of 1 us from 1 us on, those in [0.5 ms, 1 ms).
    let mut fixed = Schedule::fixed(1000.0, 0);
    assert_eq!(count_due(&mut fixed, 500_000, 1_000_000, u64::MAX), 500);
}
