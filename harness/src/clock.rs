//! The harness clock: quanta's TSC-based clock (a `rdtsc` and a scale, where
//! `std::time::Instant` makes a `clock_gettime` call), read as nanoseconds
//! since the run's base so that every thread shares one timeline.

use std::time::Instant as StdInstant;

use serde::Serialize;

/// A cheap monotonic clock giving nanoseconds since a base instant.
#[derive(Clone, Debug)]
pub struct Clock {
    clock: quanta::Clock,
    base: u64,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn new() -> Clock {
        let clock = quanta::Clock::new();
        let base = clock.raw();
        Clock { clock, base }
    }

    /// Nanoseconds since the base.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.clock.delta_as_nanos(self.base, self.clock.raw())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Measured cost of one clock read, reported in `run.json` and on stdout.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ClockCost {
    /// Nanoseconds per [`Clock::now_ns`] (quanta).
    pub quanta_ns: f64,
    /// Nanoseconds per `std::time::Instant::now()`.
    pub std_instant_ns: f64,
}

/// Times `reads` reads of each clock back to back.
pub fn measure_clock_cost(reads: u32) -> ClockCost {
    let clock = Clock::new();
    let reads = reads.max(1);
    let t = StdInstant::now();
    let mut acc = 0u64;
    for _ in 0..reads {
        acc = acc.wrapping_add(std::hint::black_box(clock.now_ns()));
    }
    let quanta_ns = t.elapsed().as_nanos() as f64 / reads as f64;
    std::hint::black_box(acc);
    let t = StdInstant::now();
    for _ in 0..reads {
        std::hint::black_box(StdInstant::now());
    }
    let std_instant_ns = t.elapsed().as_nanos() as f64 / reads as f64;
    ClockCost {
        quanta_ns,
        std_instant_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic_across_many_reads() {
        let c = Clock::new();
        let mut last = c.now_ns();
        for _ in 0..100_000 {
            let t = c.now_ns();
            assert!(t >= last);
            last = t;
        }
    }

    #[test]
    fn clones_share_the_base_so_threads_share_a_timeline() {
        let a = Clock::new();
        let b = a.clone();
        let t1 = a.now_ns();
        let t2 = std::thread::spawn(move || b.now_ns()).join().unwrap();
        assert!(t2 >= t1);
    }
}
