//! How a shard thread or a session waits for its next message: the
//! [`IdlePolicy`] on a core of its own, a few yields on a shared one, then
//! park.
//!
//! With ops in flight the next message is usually microseconds away, and
//! parking at once turns every op into futex wake-ups (a few microseconds
//! each, more on a VM); spinning through a long gap keeps a vCPU busy for
//! nothing, which a hypervisor may answer with steal. Each thread has an
//! [`Idler`], decided once at start from the policy and from whether it has
//! a core to itself (`EngineConfig::pin` and the cores the process may use):
//! - a thread with its own core follows the policy: `spin` spins until the
//!   message comes (up to [`SPIN_CAP`], so that a dead peer cannot keep it
//!   spinning forever); `park` parks at once; `adaptive:W` spins up to `W`
//!   while most recent idle gaps were shorter than `W` (a moving share over
//!   idle episodes, timed only when the thread goes idle, never per op),
//!   and otherwise spins only a short probe (`W / 8`) before it parks: when
//!   most gaps outlast the window, spinning through it is paid for with the
//!   wake-up anyway. A share rather than a mean gap: a few long gaps (a
//!   descheduled peer on a busy machine) do not turn spinning off while
//!   most replies still come within microseconds, and the probe lets the
//!   share recover once they do. It never calls `sched_yield` on its own core: on a
//!   machine shared with other work a yield hands the core to a stranger for
//!   a whole timeslice (milliseconds), which shows up as millisecond tails;
//! - a thread sharing its core with another thread of the run (two shards
//!   on one core, two sessions on one core) **yields** [`LINGER`] times,
//!   then parks, so the thread it shares with can run (`park` skips the
//!   yields).
//!
//! A session counts as having its own core when the live sessions fit on
//! the cores the engine's threads leave free; the count is read from one
//! rarely-written atomic per wait, not per op.

use std::time::{Duration, Instant};

use crate::config::IdlePolicy;

/// Yields an idle shard (or a session waiting for a reply) makes before it
/// parks when it shares its core with another thread of the run. Each is a
/// `sched_yield`, about a microsecond when the core is free.
pub const LINGER: usize = 8;

/// [`Idler`]'s share of hits when every recent gap was one.
const FULL: u32 = 1024;

/// The longest a `spin` thread spins before it parks after all.
pub const SPIN_CAP: Duration = Duration::from_millis(10);

/// How one thread waits when idle (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Idler {
    mode: Mode,
    /// `adaptive`: share of recent idle gaps no longer than the window, in
    /// 1/1024 (a moving average over episodes, weight 1/16).
    hits: u32,
    /// `adaptive`: when the current idle episode began and the window, if
    /// it is timed.
    since: Option<(Instant, Duration)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Own core: spin up to this long, then park.
    Spin(Duration),
    /// Own core: spin up to this long while the gaps are short.
    Adaptive(Duration),
    /// Park at once.
    Park,
    /// Shared core: yield [`LINGER`] times, then park.
    Yield,
}

impl Idler {
    /// The idler of a thread with `policy` that has (or has not) a core of
    /// its own.
    pub(crate) fn new(policy: IdlePolicy, own_core: bool) -> Idler {
        let mode = match (policy, own_core) {
            (IdlePolicy::Park, _) => Mode::Park,
            (_, false) => Mode::Yield,
            (IdlePolicy::Spin, true) => Mode::Spin(SPIN_CAP),
            (IdlePolicy::Adaptive { max_spin }, true) => Mode::Adaptive(max_spin),
        };
        Idler {
            mode,
            hits: FULL,
            since: None,
        }
    }

    /// Waits actively for `f` to return `Some` before the caller parks;
    /// `None`: park (and call [`Idler::woke`] once a message came).
    #[inline]
    pub(crate) fn linger<T>(&mut self, mut f: impl FnMut() -> Option<T>) -> Option<T> {
        match self.mode {
            Mode::Spin(budget) => spin_for(budget, f),
            Mode::Park => None,
            Mode::Yield => (0..LINGER).find_map(|_| {
                std::thread::yield_now();
                f()
            }),
            Mode::Adaptive(max) => {
                let start = Instant::now();
                let budget = if self.hits >= FULL / 2 { max } else { max / 8 };
                if let Some(v) = spin_for(budget, &mut f) {
                    self.observe(true);
                    return Some(v);
                }
                self.since = Some((start, max));
                None
            }
        }
    }

    /// The thread parked after [`Idler::linger`] returned `None` and has a
    /// message now: the idle gap is timed for `adaptive`.
    #[inline]
    pub(crate) fn woke(&mut self) {
        if let Some((start, max)) = self.since.take() {
            self.observe(start.elapsed() <= max);
        }
    }

    /// Folds one idle gap (`hit`: no longer than the window) into the
    /// moving share (weight 1/16).
    fn observe(&mut self, hit: bool) {
        self.hits = self.hits - self.hits / 16 + if hit { FULL / 16 } else { 0 };
    }
}

/// Spins until `f` returns `Some` or `budget` has passed. Reads the clock
/// every 64 rounds only (a vDSO call is ~20 ns; a round is a few ns).
#[inline]
pub(crate) fn spin_for<T>(budget: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    if budget.is_zero() {
        return None;
    }
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if let Some(v) = f() {
                return Some(v);
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return None;
        }
    }
}

/// Which shards have a core to themselves, and how many cores are left for
/// client threads. Pinned: shard `i` runs on `pin[i % len]` and owns it when
/// no other shard maps there and some core is left for the clients (else
/// clients share the shards' cores). Unpinned: shards own cores while they number
/// fewer than the cores (the OS then has room to keep them apart).
pub(crate) fn placement_plan(pin: &[usize], count: usize) -> (Vec<bool>, usize) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if pin.is_empty() {
        let own = count < cores;
        return (vec![own; count], cores.saturating_sub(count));
    }
    let core_of = |i: usize| pin[i % pin.len()];
    let distinct: std::collections::BTreeSet<usize> = (0..count).map(core_of).collect();
    let client_cores = cores.saturating_sub(distinct.len());
    // With every core taken by shards, client threads share the shards'
    // cores: no shard owns one.
    let own = (0..count)
        .map(|i| client_cores > 0 && (0..count).all(|j| j == i || core_of(j) != core_of(i)))
        .collect();
    (own, client_cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive(us: u64) -> Idler {
        let max_spin = Duration::from_micros(us);
        Idler::new(IdlePolicy::Adaptive { max_spin }, true)
    }

    #[test]
    fn the_policy_decides_on_an_own_core_and_a_shared_core_only_yields_or_parks() {
        let spin = IdlePolicy::Spin;
        assert_eq!(Idler::new(spin, true).mode, Mode::Spin(SPIN_CAP));
        assert_eq!(Idler::new(spin, false).mode, Mode::Yield);
        assert_eq!(Idler::new(IdlePolicy::Park, true).mode, Mode::Park);
        assert_eq!(Idler::new(IdlePolicy::Park, false).mode, Mode::Park);
        assert_eq!(adaptive(40).mode, Mode::Adaptive(Duration::from_micros(40)));
        // Park never calls `f`: it returns at once for the caller to park.
        let mut calls = 0;
        let got: Option<()> = Idler::new(IdlePolicy::Park, true).linger(|| {
            calls += 1;
            None
        });
        assert_eq!((got, calls), (None, 0));
    }

    #[test]
    fn adaptive_spins_while_most_gaps_are_short_and_only_probes_when_most_are_long() {
        let mut idler = adaptive(1_000);
        // No history: it spins, and a message that is there is taken.
        assert_eq!(idler.linger(|| Some(7)), Some(7));
        // Mostly long gaps (parked episodes longer than the window): the
        // share of hits falls under a half, and a linger is only the short
        // probe (W/8 = 125 us), then park.
        for _ in 0..40 {
            idler.observe(false);
        }
        assert!(idler.hits < FULL / 2);
        let start = Instant::now();
        let got: Option<()> = idler.linger(|| None);
        let spun = start.elapsed();
        assert_eq!(got, None);
        assert!(spun >= Duration::from_micros(125), "{spun:?}");
        assert!(idler.since.is_some(), "a parked episode is timed");
        idler.woke();
        assert!(idler.since.is_none());
        // A few long gaps among many short ones keep it spinning: 1 in 4
        // long is a share of hits of 3/4.
        for i in 0..200 {
            idler.observe(i % 4 != 0);
        }
        assert!(idler.hits >= FULL / 2, "{}", idler.hits);
        let mut calls = 0;
        let got = idler.linger(|| {
            calls += 1;
            (calls == 3).then_some(())
        });
        assert_eq!((got, calls), (Some(()), 3));
    }
}
