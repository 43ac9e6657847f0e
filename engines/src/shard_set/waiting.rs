//! How a shard thread or a session waits for its next message: spin on a
//! core of its own, yield on a shared one, then park.
//!
//! With ops in flight the next message is usually microseconds away, and
//! parking at once turns every op into futex wake-ups, so both an idle shard
//! and a session waiting for a reply first wait actively. *How* depends on
//! whether the thread has a core to itself ([`Waiting`], decided once at
//! start from `EngineConfig::pin` and the cores the process may use):
//! - a thread with its own core **spins** (`spin_loop`) for up to [`SPIN`]
//!   before it parks. Spinning costs nothing to anyone on a dedicated core,
//!   and it never calls `sched_yield`: on a machine shared with other work a
//!   yield hands the core to a stranger for a whole timeslice
//!   (milliseconds), which shows up as millisecond tail latencies;
//! - a thread sharing its core with another thread of the run (two shards
//!   on one core, two sessions on one core) **yields** [`LINGER`] times,
//!   then parks, so the thread it shares with can run.
//!
//! A session spins when the live sessions fit on the cores the engine's
//! threads leave free; the count is read from one rarely-written atomic per
//! wait, not per op.

use std::time::{Duration, Instant};

/// Yields an idle shard (or a session waiting for a reply) makes before it
/// parks when it shares its core with another thread of the run. Each is a
/// `sched_yield`, about a microsecond when the core is free.
pub const LINGER: usize = 8;

/// How long an idle shard (or a session waiting for a reply) with a core of
/// its own spins before it parks. Override with the environment variable
/// `SOCIALBENCH_SPIN_US` (microseconds, read once when the engine starts;
/// 0 turns spinning off).
pub const SPIN: Duration = Duration::from_micros(50);

/// How a thread waits for its next message (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Own core: spin up to this long, then park.
    Spin(Duration),
    /// Shared core: yield [`LINGER`] times, then park.
    Yield,
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
