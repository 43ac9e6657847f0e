//! Fault injection for testing the engines and the harness (DESIGN section 5):
//! panicking ops, dropped follow-ups and periodic stalls, decided by a
//! deterministic per-partition random stream so a faulty run is reproducible.
//!
//! Engines keep one [`FaultInjector`] per partition and test
//! [`FaultInjector::active`] once per op: with faults off that is the only
//! cost, a branch that is always predicted right.

use std::time::{Duration, Instant};

use crate::audit::mix64;
use crate::engine::Faults;

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

/// Fault decisions for one partition.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    active: bool,
    /// splitmix64 state: a cheap, well-mixed stream; no dependency needed.
    state: u64,
    panic_rate: f64,
    drop_rate: f64,
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

    /// Sleeps for the stall's duration when a stall period has elapsed since
    /// the last one (the first period starts at the first call). The caller
    /// stalls whatever it holds: an engine thread, or a stripe lock.
    #[inline]
    pub fn stall_if_due(&mut self) {
        let Some((every, duration)) = self.stall else {
            return;
        };
        let now = Instant::now();
        match self.next_stall {
            None => self.next_stall = Some(now + every),
            Some(due) if now >= due => {
                std::thread::sleep(duration);
                self.next_stall = Some(Instant::now() + every);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(panic_rate: f64, drop: f64, seed: u64) -> Faults {
        Faults {
            panic_rate,
            drop_follow_up_rate: drop,
            stall: None,
            seed,
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
}
