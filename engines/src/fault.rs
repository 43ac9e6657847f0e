//! Fault injection for testing the engines and the harness: panicking ops,
//! dropped follow-ups, writes acknowledged but not applied or applied twice,
//! and periodic stalls, decided by a deterministic per-partition random
//! stream so a faulty run is reproducible; and the one way the threaded
//! engines apply an op under fault handling (`apply_guarded`: inject, catch,
//! count, answer [`ApiError::EngineFault`]).
//!
//! The write faults live on the engines with engine threads or locks
//! (actor, sharded, striped). `serial` refuses every fault: it is the
//! reference the others are checked against. `redis` injects none: its ops
//! are server-side scripts, and a fault there would be a second code path
//! in the scripts; its audit is checked by the differential tests instead.
//!
//! Engines keep one [`FaultInjector`] per partition and test
//! [`FaultInjector::active`] once per op: with faults off that is the only
//! cost, a branch that is always predicted right.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::api::{ApiError, Op, OpKind, Reply, Response};
use crate::audit::mix64;
use crate::config::Faults;
use crate::partition::{FollowUp, Partition};
use crate::stats::WriteFaults;

/// The payload of an injected panic. Engines raise it with
/// [`std::panic::resume_unwind`], which skips the panic hook, so injected
/// faults do not print a backtrace per op; the engine catches it like a real
/// panic and answers [`crate::ApiError::EngineFault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedPanic;

/// Raises an [`InjectedPanic`] without calling the panic hook.
pub fn inject_panic() -> ! {
    std::panic::resume_unwind(Box::new(InjectedPanic))
}

/// Runs `f`, first raising an [`InjectedPanic`] when `inject`, and turns a
/// panic (injected or real) into `None`. The partition code is trusted not
/// to panic; if it does, the engine answers the op with a fault and goes on
/// serving.
#[inline]
pub(crate) fn guarded<R>(inject: bool, f: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(|| {
        if inject {
            inject_panic();
        }
        f()
    }))
    .ok()
}

/// What the fault stream decided for one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpFault {
    /// Apply it normally.
    None,
    /// Panic before it touches the partition ([`ApiError::EngineFault`]).
    Panic,
    /// Acknowledge the write without applying it
    /// ([`Partition::acknowledge_unapplied`]): the reply a client sees is
    /// the one it would have had, the state does not change, and no
    /// follow-up leaves.
    DropWrite,
    /// Apply the write, then apply it again (both follow-ups leave); the
    /// client sees the first reply. Counted only when the second
    /// application succeeded: an idempotent write repeated (a second join,
    /// the same vote again) leaves the state as it was, and no audit can or
    /// should see it.
    DuplicateWrite,
}

impl OpFault {
    /// Whether the op must panic.
    #[inline(always)]
    pub fn panics(self) -> bool {
        self == OpFault::Panic
    }
}

/// Applies `op` to `part` under [`guarded`] with the fault `fault`. An op
/// that panics pushes no follow-up (whatever it pushed is cleared), is
/// counted in `counters`, and is answered with [`ApiError::EngineFault`].
#[inline]
pub(crate) fn apply_guarded(
    part: &mut Partition,
    op: Op,
    follow_ups: &mut Vec<FollowUp>,
    fault: OpFault,
    counters: &FaultCounters,
) -> Response {
    let response = match fault {
        OpFault::None | OpFault::Panic => guarded(fault.panics(), || part.apply(op, follow_ups)),
        OpFault::DropWrite | OpFault::DuplicateWrite => {
            guarded(false, || write_fault(part, op, follow_ups, fault, counters))
        }
    };
    response.unwrap_or_else(|| {
        follow_ups.clear();
        counters.fault()
    })
}

/// The slow path of [`apply_guarded`] for the two write faults.
#[cold]
fn write_fault(
    part: &mut Partition,
    op: Op,
    follow_ups: &mut Vec<FollowUp>,
    fault: OpFault,
    counters: &FaultCounters,
) -> Response {
    let kind = op.kind();
    if fault == OpFault::DropWrite {
        if let Some(ack) = part.acknowledge_unapplied(&op) {
            if ack.is_ok() {
                counters.dropped_write(kind);
            }
            return ack;
        }
        return part.apply(op, follow_ups);
    }
    let first = part.apply(op.clone(), follow_ups);
    if first.is_ok() {
        // A vote repeated applies a delta of 0: no change, like the refused
        // second join or registration.
        let second = part.apply(op, follow_ups);
        if second.is_ok() && !matches!(second, Ok(Reply::Voted { delta: 0, .. })) {
            counters.duplicated_write(kind);
        }
    }
    first
}

/// Applies a follow-up under [`guarded`]; a panic is counted in `counters`
/// and the follow-up is lost (the audit then shows it).
#[inline]
pub(crate) fn apply_follow_up_guarded(
    part: &mut Partition,
    follow_up: FollowUp,
    counters: &FaultCounters,
) {
    if guarded(false, || part.apply_follow_up(follow_up)).is_none() {
        counters.count_fault();
    }
}

/// An engine's fault counters, written only when a fault happens (never on
/// the per-op path), read by `stats()`.
#[derive(Debug, Default)]
pub(crate) struct FaultCounters {
    faults: AtomicU64,
    dropped: AtomicU64,
    dropped_writes: [AtomicU64; OpKind::COUNT],
    duplicated_writes: [AtomicU64; OpKind::COUNT],
}

impl FaultCounters {
    /// Counts one op or follow-up that panicked.
    #[cold]
    pub(crate) fn count_fault(&self) {
        self.faults.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one op that panicked, and gives its answer.
    #[cold]
    pub(crate) fn fault(&self) -> Response {
        self.count_fault();
        Err(ApiError::EngineFault)
    }

    /// Counts one follow-up dropped by the `drop_follow_up_rate` fault.
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one write acknowledged but not applied.
    pub(crate) fn dropped_write(&self, kind: OpKind) {
        self.dropped_writes[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one write applied twice (the second time changed the state).
    pub(crate) fn duplicated_write(&self, kind: OpKind) {
        self.duplicated_writes[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Writes dropped and duplicated so far, by kind.
    pub(crate) fn write_faults(&self) -> WriteFaults {
        let load = |a: &[AtomicU64; OpKind::COUNT]| {
            OpKind::ALL
                .into_iter()
                .zip(a)
                .map(|(k, n)| (k.name(), n.load(Ordering::Relaxed)))
                .filter(|&(_, n)| n > 0)
                .collect()
        };
        WriteFaults {
            dropped: load(&self.dropped_writes),
            duplicated: load(&self.duplicated_writes),
        }
    }

    /// Ops and follow-ups that panicked so far.
    pub(crate) fn faults(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }

    /// Follow-ups dropped so far.
    pub(crate) fn dropped_follow_ups(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Fault decisions for one partition.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    active: bool,
    /// splitmix64 state: a cheap, well-mixed stream; no dependency needed.
    state: u64,
    panic_rate: f64,
    drop_rate: f64,
    drop_delivery_rate: f64,
    drop_write_rate: f64,
    duplicate_write_rate: f64,
    /// Bit per [`OpKind`]: the writes the two write faults may pick.
    write_kinds: u32,
    stall: Option<(Duration, Duration)>,
    next_stall: Option<Instant>,
}

impl FaultInjector {
    /// The injector of partition `index`, seeded from `faults.seed` and `index`.
    pub fn new(faults: &Faults, index: usize) -> Self {
        FaultInjector {
            active: faults.any(),
            state: mix64(faults.seed ^ mix64(index as u64 ^ 0xfa17)),
            panic_rate: faults.panic_rate,
            drop_rate: faults.drop_follow_up_rate,
            drop_delivery_rate: faults.drop_delivery_rate,
            drop_write_rate: faults.drop_write_rate,
            duplicate_write_rate: faults.duplicate_write_rate,
            write_kinds: match faults.write_kinds {
                0 => OpKind::ALL
                    .into_iter()
                    .filter(|k| k.is_write())
                    .fold(0, |m, k| m | 1 << k as u32),
                m => m,
            },
            stall: faults.stall.map(|s| (s.every, s.duration)),
            next_stall: None,
        }
    }

    /// Whether any fault is configured (test this first; the rest is the slow path).
    #[inline(always)]
    pub fn active(&self) -> bool {
        self.active
    }

    fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in [0, 1).
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// The decisions taken once per op of `kind`, before it touches the
    /// partition: stalls when a stall is due, then says whether the op must
    /// panic, or (a write of a picked kind) be dropped or duplicated. With
    /// faults off, one predicted branch.
    #[inline]
    pub fn before_op(&mut self, kind: OpKind) -> OpFault {
        if self.active {
            return self.decide(kind);
        }
        OpFault::None
    }

    #[cold]
    fn decide(&mut self, kind: OpKind) -> OpFault {
        self.stall_if_due();
        if self.should_panic() {
            return OpFault::Panic;
        }
        if self.write_kinds & (1 << kind as u32) == 0 {
            return OpFault::None;
        }
        if self.drop_write_rate > 0.0 && self.next_unit() < self.drop_write_rate {
            return OpFault::DropWrite;
        }
        if self.duplicate_write_rate > 0.0 && self.next_unit() < self.duplicate_write_rate {
            return OpFault::DuplicateWrite;
        }
        OpFault::None
    }

    /// Whether the next op should panic (before it touches the partition).
    #[inline]
    pub fn should_panic(&mut self) -> bool {
        self.active && self.panic_rate > 0.0 && self.next_unit() < self.panic_rate
    }

    /// Whether the next follow-up should be silently dropped.
    #[inline]
    pub fn should_drop_follow_up(&mut self) -> bool {
        self.active && self.drop_rate > 0.0 && self.next_unit() < self.drop_rate
    }

    /// Whether follow-up `f` should be silently dropped: a delivery to a
    /// timeline by the `drop_delivery_rate` fault, any follow-up by the
    /// `drop_follow_up_rate` one.
    #[inline]
    pub fn should_drop(&mut self, f: &FollowUp) -> bool {
        if !self.active {
            return false;
        }
        if matches!(f, FollowUp::Deliver { .. })
            && self.drop_delivery_rate > 0.0
            && self.next_unit() < self.drop_delivery_rate
        {
            return true;
        }
        self.should_drop_follow_up()
    }

    /// Stalls while a stall window is open: windows of the stall's duration
    /// start every period from the first call (`every=1s,for=200ms` is
    /// unavailable for [k s, k s + 200 ms), a duty cycle of exactly 20%),
    /// and a call inside one sleeps until it closes. The caller stalls
    /// whatever it holds: an engine thread, or a stripe lock.
    #[inline]
    pub fn stall_if_due(&mut self) {
        let Some((every, duration)) = self.stall else {
            return;
        };
        let now = Instant::now();
        let due = *self.next_stall.get_or_insert(now + every);
        let (sleep, next) = stall_step(due, now, every, duration);
        self.next_stall = Some(next);
        if !sleep.is_zero() {
            std::thread::sleep(sleep);
        }
    }
}

/// One call of [`FaultInjector::stall_if_due`] at `now` with the next
/// window opening at `due`: how long to sleep (to the end of an open
/// window) and when the next window opens (windows a call never saw, on an
/// idle engine, are skipped: they delayed nothing).
fn stall_step(
    due: Instant,
    now: Instant,
    every: Duration,
    duration: Duration,
) -> (Duration, Instant) {
    if now < due {
        return (Duration::ZERO, due);
    }
    let periods = (now - due).as_nanos() / every.as_nanos().max(1);
    let opened = due + every * u32::try_from(periods).unwrap_or(u32::MAX);
    (
        (opened + duration).saturating_duration_since(now),
        opened + every,
    )
}

/// When the crash fault fires (`config::Crash`): one per engine, shared by
/// its partitions, armed by [`crate::Engine::start_window`].
#[derive(Debug)]
pub(crate) struct CrashPlan {
    crash: crate::config::Crash,
    epoch: Instant,
    /// Nanoseconds from `epoch` to the window's start, plus one (0: not armed).
    start: AtomicU64,
}

impl CrashPlan {
    /// The plan of `crash`, not armed yet.
    pub(crate) fn new(crash: crate::config::Crash) -> std::sync::Arc<CrashPlan> {
        std::sync::Arc::new(CrashPlan {
            crash,
            epoch: Instant::now(),
            start: AtomicU64::new(0),
        })
    }

    /// The measured window starts at `at`.
    pub(crate) fn arm(&self, at: Instant) {
        let ns = at.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.start.store(ns + 1, Ordering::Release);
    }

    /// The partition that crashes.
    pub(crate) fn partition(&self) -> usize {
        self.crash.partition
    }

    /// A timer for the crashing partition's owner.
    pub(crate) fn timer(self: &std::sync::Arc<Self>) -> CrashTimer {
        CrashTimer {
            plan: self.clone(),
            next: None,
            countdown: 0,
            done: false,
        }
    }
}

/// The crashing partition's view of its [`CrashPlan`]: it reads the clock
/// once every [`CrashTimer::CHECK_EVERY`] ops, so a crash fires within that
/// many ops of its time.
#[derive(Debug)]
pub(crate) struct CrashTimer {
    plan: std::sync::Arc<CrashPlan>,
    next: Option<Instant>,
    countdown: u32,
    done: bool,
}

impl CrashTimer {
    /// Ops between two reads of the clock.
    pub(crate) const CHECK_EVERY: u32 = 64;

    /// Whether the partition must crash now (then the next crash is
    /// scheduled, if the fault repeats).
    #[inline]
    pub(crate) fn due(&mut self) -> bool {
        if self.countdown > 0 {
            self.countdown -= 1;
            return false;
        }
        self.countdown = Self::CHECK_EVERY - 1;
        if self.done {
            return false;
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                let start = self.plan.start.load(Ordering::Acquire);
                if start == 0 {
                    return false;
                }
                let n = self.plan.epoch + Duration::from_nanos(start - 1) + self.plan.crash.at;
                self.next = Some(n);
                n
            }
        };
        let now = Instant::now();
        if now < next {
            return false;
        }
        match self.plan.crash.every {
            Some(every) if !every.is_zero() => {
                self.next = Some(next_period_after(next, now, every));
            }
            _ => self.done = true,
        }
        true
    }
}

/// The first boundary `due + k * every` (k >= 1) strictly after `now`,
/// computed rather than stepped to: a loop would spin `(now - due) / every`
/// times, billions for a nanosecond period after a long replay.
fn next_period_after(due: Instant, now: Instant, every: Duration) -> Instant {
    let every_ns = every.as_nanos().max(1);
    let periods = now.saturating_duration_since(due).as_nanos() / every_ns + 1;
    let skip = u64::try_from(every_ns.saturating_mul(periods)).unwrap_or(u64::MAX);
    due.checked_add(Duration::from_nanos(skip))
        .unwrap_or(now + every)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(panic_rate: f64, drop: f64, seed: u64) -> Faults {
        Faults {
            panic_rate,
            drop_follow_up_rate: drop,
            seed,
            ..Faults::default()
        }
    }

    #[test]
    fn decisions_are_reproducible_per_seed_and_partition() {
        let f = faults(0.3, 0.3, 42);
        let run = |i| {
            let mut fi = FaultInjector::new(&f, i);
            (0..200).map(|_| fi.should_panic()).collect::<Vec<_>>()
        };
        assert_eq!(run(0), run(0));
        assert_ne!(run(0), run(1));
    }

    #[test]
    fn rates_are_roughly_honoured_and_zero_never_fires() {
        let mut fi = FaultInjector::new(&faults(0.25, 0.0, 7), 0);
        let n = (0..100_000).filter(|_| fi.should_panic()).count();
        assert!(
            (23_000..27_000).contains(&n),
            "{n} panics of 100000 at 0.25"
        );
        assert!((0..1000).all(|_| !fi.should_drop_follow_up()));
        let mut off = FaultInjector::new(&Faults::default(), 0);
        assert!(!off.active());
        assert!((0..1000).all(|_| !off.should_panic()));
    }

    #[test]
    fn a_repeating_crash_is_next_due_at_the_first_boundary_after_now() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_period_after(t0, t0, ms(10)), t0 + ms(10));
        assert_eq!(next_period_after(t0, t0 + ms(9), ms(10)), t0 + ms(10));
        assert_eq!(next_period_after(t0, t0 + ms(10), ms(10)), t0 + ms(20));
        assert_eq!(next_period_after(t0, t0 + ms(35), ms(10)), t0 + ms(40));
        // A 1 ns period an hour late: one step, not 3.6e12 of them.
        let late = t0 + Duration::from_secs(3600);
        let next = next_period_after(t0, late, Duration::from_nanos(1));
        assert_eq!(next, late + Duration::from_nanos(1));
    }

    #[test]
    fn stall_windows_open_every_period_from_the_first_call_not_from_the_last_end() {
        // Calls every millisecond of virtual time over 10 s; a call that
        // sleeps moves the clock on by its sleep, as the engine thread would.
        let (every, duration) = (Duration::from_secs(1), Duration::from_millis(200));
        let t0 = Instant::now();
        let (mut now, mut due, mut stalled) = (t0, t0 + every, Duration::ZERO);
        let mut starts = Vec::new();
        while now < t0 + Duration::from_secs(10) {
            let (sleep, next) = stall_step(due, now, every, duration);
            if !sleep.is_zero() {
                starts.push((now - t0).as_millis());
                stalled += sleep;
                now += sleep;
            }
            due = next;
            now += Duration::from_millis(1);
        }
        assert_eq!(starts, (1..10).map(|k| k * 1000).collect::<Vec<_>>());
        // Nine whole windows of 200 ms: a duty cycle of 20%, not 1/6.
        assert_eq!(stalled, duration * 9);
        // A call half-way through a window sleeps only to its end; one after
        // several missed windows waits for the next and skips the rest.
        let (sleep, next) = stall_step(t0, t0 + Duration::from_millis(150), every, duration);
        assert_eq!((sleep, next), (Duration::from_millis(50), t0 + every));
        let (sleep, next) = stall_step(t0, t0 + Duration::from_millis(3500), every, duration);
        assert_eq!((sleep, next), (Duration::ZERO, t0 + every * 4));
    }
}
