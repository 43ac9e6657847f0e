//! Per-thread latency recording: one HdrHistogram per op kind for the latency
//! from the intended start and one for the service time, swapped out whole at
//! each interval rollover and sent to the collector.
//!
//! Nothing per op locks, allocates or touches a shared atomic: a histogram is
//! created the first time its kind is seen (once per kind per thread for the
//! whole run, because the collector hands cleared sets back for reuse) and a
//! record is an index computation and an add.

use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::Histogram;
use serde::Serialize;
use socialbench_engines::OpKind;

/// Largest latency a histogram tracks: one hour in nanoseconds. Larger values
/// are clamped to it (auto-resize is off so memory is fixed).
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Significant decimal digits of every histogram.
pub const SIGFIG: u8 = 3;

/// A new empty histogram with the harness's fixed range.
pub fn new_histogram() -> Histogram<u64> {
    // 1 ns .. 1 h at 3 digits are valid bounds, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIG).expect("valid histogram bounds")
}

/// One interval's recordings for one thread (or, merged, for all threads).
#[derive(Debug)]
pub struct IntervalData {
    /// Latency from the intended start, per op kind (`None`: kind not seen yet).
    pub intended: Vec<Option<Histogram<u64>>>,
    /// Service time from the actual send, per op kind.
    pub service: Vec<Option<Histogram<u64>>>,
    /// Replies per kind (errors included).
    pub count: [u64; OpKind::COUNT],
    /// Error replies per kind.
    pub errors: [u64; OpKind::COUNT],
}

impl IntervalData {
    /// An empty set.
    pub fn new() -> IntervalData {
        IntervalData {
            intended: (0..OpKind::COUNT).map(|_| None).collect(),
            service: (0..OpKind::COUNT).map(|_| None).collect(),
            count: [0; OpKind::COUNT],
            errors: [0; OpKind::COUNT],
        }
    }

    /// Records one reply.
    #[inline]
    pub fn record(&mut self, kind: OpKind, intended_ns: u64, service_ns: u64, error: bool) {
        let k = kind as usize;
        self.count[k] += 1;
        self.errors[k] += error as u64;
        self.intended[k]
            .get_or_insert_with(new_histogram)
            .saturating_record(intended_ns.max(1));
        self.service[k]
            .get_or_insert_with(new_histogram)
            .saturating_record(service_ns.max(1));
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &IntervalData) {
        for k in 0..OpKind::COUNT {
            self.count[k] += other.count[k];
            self.errors[k] += other.errors[k];
            for (mine, theirs) in [
                (&mut self.intended[k], &other.intended[k]),
                (&mut self.service[k], &other.service[k]),
            ] {
                if let Some(h) = theirs {
                    // Same bounds on both sides: `add` cannot fail.
                    let _ = mine.get_or_insert_with(new_histogram).add(h);
                }
            }
        }
    }

    /// Empties the set, keeping its histograms' memory.
    pub fn clear(&mut self) {
        self.count = [0; OpKind::COUNT];
        self.errors = [0; OpKind::COUNT];
        for h in self
            .intended
            .iter_mut()
            .chain(self.service.iter_mut())
            .flatten()
        {
            h.reset();
        }
    }

    /// Replies over all kinds.
    pub fn total(&self) -> u64 {
        self.count.iter().sum()
    }

    /// Errors over all kinds.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Both latencies merged over all kinds.
    pub fn merged_all(&self) -> (Histogram<u64>, Histogram<u64>) {
        let mut i = new_histogram();
        let mut s = new_histogram();
        for h in self.intended.iter().flatten() {
            let _ = i.add(h);
        }
        for h in self.service.iter().flatten() {
            let _ = s.add(h);
        }
        (i, s)
    }
}

impl Default for IntervalData {
    fn default() -> Self {
        IntervalData::new()
    }
}

/// A thread's report of one interval.
#[derive(Debug)]
pub struct Snapshot {
    /// The client thread.
    pub thread: usize,
    /// Interval index: 0 is the warmup, measured intervals count from 1.
    pub index: u64,
    /// Whether this is the thread's last report.
    pub last: bool,
    /// When the thread stopped (ns on the run clock), for the last report.
    pub end_ns: u64,
    /// The recordings.
    pub data: Box<IntervalData>,
}

/// Messages from client threads to the collector.
#[derive(Debug)]
pub enum ToCollector {
    /// An interval's recordings.
    Interval(Snapshot),
}

/// A client thread's recorder: the current interval's data, and the channels
/// to send it off and get cleared sets back.
#[derive(Debug)]
pub struct Recorder {
    thread: usize,
    current: Box<IntervalData>,
    index: u64,
    to_collector: Sender<ToCollector>,
    recycled: Receiver<Box<IntervalData>>,
}

impl Recorder {
    /// A recorder for client thread `thread`, starting in interval `index`.
    pub fn new(
        thread: usize,
        index: u64,
        to_collector: Sender<ToCollector>,
        recycled: Receiver<Box<IntervalData>>,
    ) -> Recorder {
        Recorder {
            thread,
            current: Box::new(IntervalData::new()),
            index,
            to_collector,
            recycled,
        }
    }

    /// Records one reply in the current interval.
    #[inline]
    pub fn record(&mut self, kind: OpKind, intended_ns: u64, service_ns: u64, error: bool) {
        self.current.record(kind, intended_ns, service_ns, error);
    }

    /// The current interval index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Sends the current interval and moves on to interval `next`.
    pub fn rollover(&mut self, next: u64) {
        let fresh = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Box::new(IntervalData::new()));
        let data = std::mem::replace(&mut self.current, fresh);
        // A gone collector means the run is being torn down: nothing to keep.
        let _ = self.to_collector.send(ToCollector::Interval(Snapshot {
            thread: self.thread,
            index: self.index,
            last: false,
            end_ns: 0,
            data,
        }));
        self.index = next;
    }

    /// Sends the final, partial interval.
    pub fn finish(self, end_ns: u64) {
        let _ = self.to_collector.send(ToCollector::Interval(Snapshot {
            thread: self.thread,
            index: self.index,
            last: true,
            end_ns,
            data: self.current,
        }));
    }
}

/// Summary statistics of one histogram, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// 99.99th percentile.
    pub p9999_ns: u64,
    /// Largest value (at the histogram's precision).
    pub max_ns: u64,
}

impl LatencyStats {
    /// Statistics of `h` (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> LatencyStats {
        if h.is_empty() {
            return LatencyStats::default();
        }
        LatencyStats {
            count: h.len(),
            mean_ns: h.mean().round() as u64,
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_land_in_their_kind_and_merge_adds_counts() {
        let mut a = IntervalData::new();
        let mut b = IntervalData::new();
        for i in 1..=1000u64 {
            a.record(OpKind::Vote, i * 1000, i * 500, i % 10 == 0);
            b.record(OpKind::GetHomeFeed, i, i, false);
        }
        a.add(&b);
        assert_eq!(a.count[OpKind::Vote as usize], 1000);
        assert_eq!(a.errors[OpKind::Vote as usize], 100);
        assert_eq!(a.count[OpKind::GetHomeFeed as usize], 1000);
        assert_eq!(a.total(), 2000);
        let v = LatencyStats::of(a.intended[OpKind::Vote as usize].as_ref().unwrap());
        // p50 of 1..=1000 us at 3 significant digits.
        assert!((499_000..=501_000).contains(&v.p50_ns), "{v:?}");
        let s = LatencyStats::of(a.service[OpKind::Vote as usize].as_ref().unwrap());
        assert!(s.p50_ns < v.p50_ns);
    }

    #[test]
    fn values_beyond_the_range_are_clamped_not_lost() {
        let mut a = IntervalData::new();
        a.record(OpKind::Search, u64::MAX, 0, false);
        let h = a.intended[OpKind::Search as usize].as_ref().unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.max() >= MAX_LATENCY_NS - MAX_LATENCY_NS / 1000);
        assert_eq!(
            a.service[OpKind::Search as usize].as_ref().unwrap().len(),
            1
        );
    }

    #[test]
    fn clear_keeps_histograms_but_empties_them() {
        let mut a = IntervalData::new();
        a.record(OpKind::Join, 10, 10, false);
        a.clear();
        assert_eq!(a.total(), 0);
        assert!(
            a.intended[OpKind::Join as usize]
                .as_ref()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rollover_sends_the_interval_and_reuses_recycled_sets() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (rtx, rrx) = crossbeam_channel::unbounded();
        let mut r = Recorder::new(3, 0, tx, rrx);
        r.record(OpKind::Vote, 5, 5, false);
        r.rollover(1);
        let ToCollector::Interval(s) = rx.recv().unwrap();
        assert_eq!(
            (s.thread, s.index, s.last, s.data.total()),
            (3, 0, false, 1)
        );
        let mut back = s.data;
        back.clear();
        rtx.send(back).unwrap();
        r.rollover(2); // takes the recycled set
        r.record(OpKind::Vote, 5, 5, true);
        r.finish(99);
        let ToCollector::Interval(s1) = rx.recv().unwrap();
        assert_eq!((s1.index, s1.data.total()), (1, 0));
        let ToCollector::Interval(s2) = rx.recv().unwrap();
        assert_eq!(
            (s2.index, s2.last, s2.end_ns, s2.data.total_errors()),
            (2, true, 99, 1)
        );
    }
}
