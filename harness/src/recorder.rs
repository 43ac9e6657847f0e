//! Per-thread latency recording: per op kind, one histogram of the latency
//! from the intended start and one of the service time, swapped out whole at
//! each interval rollover and sent to the collector.
//!
//! A client thread records into [`RawInterval`]: bare count arrays laid out
//! exactly like an HdrHistogram's (same bucket and sub-bucket index for every
//! value, at [`SIGFIG`] digits over 1 ns..[`MAX_LATENCY_NS`]), so a record is
//! a leading-zero count, a shift and an add (~10 instructions, where
//! `Histogram::saturating_record` spends ~60 on range checks, min/max and the
//! total). The collector folds each raw set into real HdrHistograms
//! ([`IntervalData`]) bucket by bucket with `record_n`, which yields the very
//! histogram that recording each value directly would have: same counts, same
//! min, max, mean and percentiles. Nothing is sampled or rounded away.
//!
//! Rows: one per op kind, plus [`INVALID_ROW`] for the requests the workload
//! makes invalid on purpose (whatever their kind), so a kind's row holds only
//! valid requests and its `errors` are unexpected ones.
//!
//! Nothing per op locks, allocates or touches a shared atomic: each client
//! thread allocates and pre-touches two full sets (every row's histograms)
//! before the run starts ([`Recorder::prepare`]), and the collector zeroes the
//! sets it folds and hands them back for reuse, so no page fault or
//! allocation happens while the clock runs.

use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::Histogram;
use serde::Serialize;
use socialbench_engines::OpKind;

/// Rows of a recording: one per op kind, then [`INVALID_ROW`].
pub const ROWS: usize = OpKind::COUNT + 1;

/// The row of deliberately invalid requests (their errors are expected).
pub const INVALID_ROW: usize = OpKind::COUNT;

/// The row a reply is recorded in: its kind's, or [`INVALID_ROW`] for a
/// request the workload made invalid on purpose.
#[inline(always)]
pub fn row_of(kind: OpKind, invalid: bool) -> usize {
    if invalid { INVALID_ROW } else { kind as usize }
}

/// The name of row `row` (an op kind's name, or `invalid`).
pub fn row_name(row: usize) -> &'static str {
    OpKind::ALL.get(row).map_or("invalid", |k| k.name())
}

/// Largest latency a histogram tracks: one hour in nanoseconds. Larger values
/// are clamped to it (auto-resize is off so memory is fixed), and counted
/// ([`IntervalData::clamped`], `clamped_latencies` in `run.json`).
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Significant decimal digits of every histogram.
pub const SIGFIG: u8 = 3;

/// A new empty histogram with the harness's fixed range.
pub fn new_histogram() -> Histogram<u64> {
    // 1 ns .. 1 h at 3 digits are valid bounds, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIG).expect("valid histogram bounds")
}

/// log2 of the sub-buckets per bucket: the smallest power of two >= 2 x 10^SIGFIG.
const SUB_BUCKET_MAGNITUDE: u32 = (2 * 10u64.pow(SIGFIG as u32))
    .next_power_of_two()
    .trailing_zeros();
/// log2 of half the sub-buckets: a bucket past the first uses its upper half only.
const HALF_MAGNITUDE: u32 = SUB_BUCKET_MAGNITUDE - 1;
/// Values below this land in bucket 0 (unit magnitude 0: the lowest value is 1 ns).
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_MAGNITUDE) - 1;

/// Buckets an HdrHistogram needs to cover [`MAX_LATENCY_NS`] (its `buckets_to_cover`).
const fn buckets() -> usize {
    let mut untrackable = 1u64 << SUB_BUCKET_MAGNITUDE;
    let mut n = 1;
    while untrackable <= MAX_LATENCY_NS {
        untrackable <<= 1;
        n += 1;
    }
    n
}

/// Counts per histogram: HdrHistogram's `num_bins` for our bounds.
pub const RAW_LEN: usize = (buckets() + 1) << HALF_MAGNITUDE;

/// HdrHistogram's counts index of `value` (its `index_for`, unit magnitude 0).
#[inline(always)]
const fn hdr_index(value: u64) -> usize {
    let bucket = 64 - SUB_BUCKET_MAGNITUDE - (value | SUB_BUCKET_MASK).leading_zeros();
    // ((bucket + 1) << half) + (value >> bucket) - (1 << half)
    ((bucket as usize) << HALF_MAGNITUDE) + (value >> bucket) as usize
}

/// Where values above the range go: HdrHistogram's saturating record clamps
/// them to the highest trackable value.
const CLAMP_INDEX: usize = hdr_index(MAX_LATENCY_NS);

/// The lowest value whose counts index is `index` (HdrHistogram's `value_for`).
#[inline]
fn hdr_value(index: usize) -> u64 {
    let half = 1usize << HALF_MAGNITUDE;
    let bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
    let sub = (index & (half - 1)) + half;
    if bucket < 0 {
        (sub - half) as u64
    } else {
        (sub as u64) << bucket
    }
}

/// Bare counts with an HdrHistogram's layout, for the hot path of one thread.
pub struct RawHistogram {
    counts: Box<[u64; RAW_LEN]>,
}

impl RawHistogram {
    /// All counts zero (the allocation is zeroed memory: pages never touched
    /// by a record stay unmapped).
    pub fn new() -> RawHistogram {
        let counts: Box<[u64]> = vec![0u64; RAW_LEN].into_boxed_slice();
        RawHistogram {
            // The length is RAW_LEN by construction.
            counts: counts.try_into().expect("RAW_LEN counts"),
        }
    }

    /// Counts one value (0 counts as 1 ns, beyond the range as [`MAX_LATENCY_NS`],
    /// exactly as the summaries' `saturating_record(value.max(1))` did).
    #[inline(always)]
    pub fn record(&mut self, value: u64) {
        let i = hdr_index(value.max(1));
        let i = if i < RAW_LEN { i } else { CLAMP_INDEX };
        self.counts[i] += 1;
    }

    /// Writes every page of the counts once, so that recording later never
    /// page-faults (the zeroed allocation is otherwise left unmapped).
    pub fn pre_touch(&mut self) {
        // black_box: the compiler may not assume the memory is zero and drop
        // the stores.
        let counts = std::hint::black_box(&mut self.counts[..]);
        for i in (0..RAW_LEN).step_by(512) {
            counts[i] = 0;
        }
    }

    /// Adds every count to `h` and zeroes them. `h` must have the harness's
    /// bounds ([`new_histogram`]).
    pub fn drain_into(&mut self, h: &mut Histogram<u64>) {
        self.drain_with(|v, n| {
            // In range by construction, so `record_n` cannot fail.
            let _ = h.record_n(v, n);
        });
    }

    /// Adds every count to both `a` and `b` and zeroes them (bounds as for
    /// [`RawHistogram::drain_into`]).
    pub fn drain_into_both(&mut self, a: &mut Histogram<u64>, b: &mut Histogram<u64>) {
        self.drain_with(|v, n| {
            let _ = a.record_n(v, n);
            let _ = b.record_n(v, n);
        });
    }

    /// Calls `f(value, count)` for every non-zero count, zeroing it.
    fn drain_with(&mut self, mut f: impl FnMut(u64, u64)) {
        for (i, c) in self.counts.iter_mut().enumerate() {
            if *c != 0 {
                f(hdr_value(i), *c);
                *c = 0;
            }
        }
    }
}

impl Default for RawHistogram {
    fn default() -> Self {
        RawHistogram::new()
    }
}

impl std::fmt::Debug for RawHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: u64 = self.counts.iter().sum();
        write!(f, "RawHistogram({n} values)")
    }
}

/// One thread's interval as recorded in its hot path (see the module docs).
///
/// A *mirrored* set ([`RawInterval::set_mirrored`]) is one whose every reply
/// has a service time equal to its latency (the closed loop sends an op at
/// its intended start): it records the one value once, into the latency
/// histogram, and folds that histogram into both outputs. The outputs are
/// exactly those of recording both; the hot path saves one histogram
/// increment (a cache line of its own) per op.
#[derive(Debug)]
pub struct RawInterval {
    intended: [Box<RawHistogram>; ROWS],
    service: [Box<RawHistogram>; ROWS],
    count: [u64; ROWS],
    errors: [u64; ROWS],
    clamped: u64,
    mirrored: bool,
}

impl RawInterval {
    /// An empty set with every row's histograms allocated (untouched).
    pub fn new() -> RawInterval {
        RawInterval {
            intended: std::array::from_fn(|_| Box::default()),
            service: std::array::from_fn(|_| Box::default()),
            count: [0; ROWS],
            errors: [0; ROWS],
            clamped: 0,
            mirrored: false,
        }
    }

    /// Makes the set mirrored (see the type's docs) or not. Only between
    /// intervals: a set must not hold both kinds of records.
    pub fn set_mirrored(&mut self, mirrored: bool) {
        debug_assert!(
            self.total() == 0 || self.mirrored == mirrored,
            "a set changed mode with records in it"
        );
        self.mirrored = mirrored;
    }

    /// An empty set whose memory is all mapped ([`RawHistogram::pre_touch`]).
    pub fn new_touched() -> RawInterval {
        let mut r = RawInterval::new();
        r.pre_touch();
        r
    }

    /// Maps every page of the set's histograms ([`RawHistogram::pre_touch`]).
    pub fn pre_touch(&mut self) {
        for h in self.intended.iter_mut().chain(self.service.iter_mut()) {
            h.pre_touch();
        }
    }

    /// Records one reply in row `row` ([`row_of`]; out-of-range rows are
    /// ignored). In a mirrored set `service_ns` must equal `intended_ns`
    /// (checked in debug builds) and only the latency is recorded.
    #[inline(always)]
    pub fn record(&mut self, row: usize, intended_ns: u64, service_ns: u64, error: bool) {
        if row >= ROWS {
            return;
        }
        self.count[row] += 1;
        self.errors[row] += error as u64;
        self.clamped += u64::from(intended_ns.max(service_ns) > MAX_LATENCY_NS);
        self.intended[row].record(intended_ns);
        if self.mirrored {
            debug_assert_eq!(intended_ns, service_ns, "mirrored set, service != latency");
        } else {
            self.service[row].record(service_ns);
        }
    }

    /// Replies over all rows.
    pub fn total(&self) -> u64 {
        self.count.iter().sum()
    }

    /// Adds everything into `out` as HdrHistograms and empties `self`
    /// (keeping its allocations for reuse). Rows without replies are skipped.
    pub fn drain_into(&mut self, out: &mut IntervalData) {
        out.clamped += std::mem::take(&mut self.clamped);
        for k in 0..ROWS {
            if self.count[k] == 0 {
                continue;
            }
            out.count[k] += std::mem::take(&mut self.count[k]);
            out.errors[k] += std::mem::take(&mut self.errors[k]);
            if self.mirrored {
                self.intended[k].drain_into_both(
                    out.intended[k].get_or_insert_with(new_histogram),
                    out.service[k].get_or_insert_with(new_histogram),
                );
                continue;
            }
            for (raw, hdr) in [
                (&mut self.intended[k], &mut out.intended[k]),
                (&mut self.service[k], &mut out.service[k]),
            ] {
                raw.drain_into(hdr.get_or_insert_with(new_histogram));
            }
        }
    }
}

impl Default for RawInterval {
    fn default() -> Self {
        RawInterval::new()
    }
}

/// One interval's recordings for one thread (or, merged, for all threads).
#[derive(Debug)]
pub struct IntervalData {
    /// Latency from the intended start, per row ([`ROWS`]: op kinds, then
    /// invalid requests; `None`: row not seen yet).
    pub intended: Vec<Option<Histogram<u64>>>,
    /// Service time from the actual send, per row.
    pub service: Vec<Option<Histogram<u64>>>,
    /// Replies per row (errors included).
    pub count: [u64; ROWS],
    /// Error replies per row.
    pub errors: [u64; ROWS],
    /// Replies with a latency beyond [`MAX_LATENCY_NS`] (recorded as that).
    pub clamped: u64,
}

impl IntervalData {
    /// An empty set.
    pub fn new() -> IntervalData {
        IntervalData {
            intended: (0..ROWS).map(|_| None).collect(),
            service: (0..ROWS).map(|_| None).collect(),
            count: [0; ROWS],
            errors: [0; ROWS],
            clamped: 0,
        }
    }

    /// Records one reply in row `row` ([`row_of`]).
    #[inline]
    pub fn record(&mut self, row: usize, intended_ns: u64, service_ns: u64, error: bool) {
        let k = row.min(ROWS - 1);
        self.clamped += u64::from(intended_ns.max(service_ns) > MAX_LATENCY_NS);
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
        self.clamped += other.clamped;
        for k in 0..ROWS {
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
        self.count = [0; ROWS];
        self.errors = [0; ROWS];
        self.clamped = 0;
        for h in self
            .intended
            .iter_mut()
            .chain(self.service.iter_mut())
            .flatten()
        {
            h.reset();
        }
    }

    /// Replies over all rows.
    pub fn total(&self) -> u64 {
        self.count.iter().sum()
    }

    /// Errors over all rows.
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
    /// The recordings (the collector folds them and sends the emptied set back).
    pub data: Box<RawInterval>,
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
    current: Box<RawInterval>,
    /// A second set for the first rollover (before the collector recycles any).
    spare: Option<Box<RawInterval>>,
    index: u64,
    /// Whether every set this recorder fills is mirrored ([`Recorder::mirror_service`]).
    mirrored: bool,
    to_collector: Sender<ToCollector>,
    recycled: Receiver<Box<RawInterval>>,
}

impl Recorder {
    /// A recorder for client thread `thread`, starting in interval `index`.
    /// Its sets are allocated by [`Recorder::prepare`] (on the client thread,
    /// before the run), or on first use.
    pub fn new(
        thread: usize,
        index: u64,
        to_collector: Sender<ToCollector>,
        recycled: Receiver<Box<RawInterval>>,
    ) -> Recorder {
        Recorder {
            thread,
            current: Box::new(RawInterval::new()),
            spare: None,
            index,
            mirrored: false,
            to_collector,
            recycled,
        }
    }

    /// Allocates and pre-touches the current set and a spare one, so that
    /// neither the first records nor the first rollover fault in a page or
    /// allocate. Call it on the client thread before the run's clock starts.
    pub fn prepare(&mut self) {
        self.current.pre_touch();
        self.spare = Some(Box::new(RawInterval::new_touched()));
    }

    /// Declares that every reply recorded from now on has a service time equal
    /// to its latency (the closed loop), so each interval's sets record it
    /// once (see [`RawInterval`]). Call it before the first record.
    pub fn mirror_service(&mut self) {
        self.mirrored = true;
        self.current.set_mirrored(true);
        if let Some(s) = self.spare.as_mut() {
            s.set_mirrored(true);
        }
    }

    /// Records one reply in row `row` ([`row_of`]) of the current interval
    /// (`service_ns` must equal `intended_ns` after [`Recorder::mirror_service`]).
    #[inline(always)]
    pub fn record(&mut self, row: usize, intended_ns: u64, service_ns: u64, error: bool) {
        self.current.record(row, intended_ns, service_ns, error);
    }

    /// The current interval index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Sends the current interval and moves on to interval `next`.
    pub fn rollover(&mut self, next: u64) {
        let mut fresh = match self.recycled.try_recv() {
            Ok(set) => set,
            Err(_) => self
                .spare
                .take()
                .unwrap_or_else(|| Box::new(RawInterval::new())),
        };
        fresh.set_mirrored(self.mirrored);
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

/// Summary statistics of one histogram, in nanoseconds. The `*_low_ns` and
/// `*_high_ns` bounds are the within-run 95% rank intervals of each
/// percentile (`crate::stats::hist`) when computed with
/// [`LatencyStats::with_intervals`]; [`LatencyStats::of`] (per interval,
/// where nobody reads them) leaves them equal to the percentile.
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
    /// Lower bounds of p50, p90, p99, p99.9, p99.99.
    pub low_ns: [u64; 5],
    /// Upper bounds of p50, p90, p99, p99.9, p99.99.
    pub high_ns: [u64; 5],
}

/// The quantiles of [`LatencyStats`], in the order of its bounds.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 0.9999];

impl LatencyStats {
    /// Statistics of `h` (all zero when empty), bounds equal to the values.
    pub fn of(h: &Histogram<u64>) -> LatencyStats {
        if h.is_empty() {
            return LatencyStats::default();
        }
        let q = QUANTILES.map(|q| h.value_at_quantile(q));
        LatencyStats {
            count: h.len(),
            mean_ns: h.mean().round() as u64,
            p50_ns: q[0],
            p90_ns: q[1],
            p99_ns: q[2],
            p999_ns: q[3],
            p9999_ns: q[4],
            max_ns: h.max(),
            low_ns: q,
            high_ns: q,
        }
    }

    /// Statistics of `h` with each percentile's rank interval.
    pub fn with_intervals(h: &Histogram<u64>) -> LatencyStats {
        let mut s = LatencyStats::of(h);
        for (i, q) in QUANTILES.into_iter().enumerate() {
            if let Some(e) = crate::stats::hist::percentile_interval(h, q) {
                s.low_ns[i] = e.low as u64;
                s.high_ns[i] = e.high as u64;
            }
        }
        s
    }

    /// The percentiles in the order of [`QUANTILES`].
    pub fn percentiles(&self) -> [u64; 5] {
        [
            self.p50_ns,
            self.p90_ns,
            self.p99_ns,
            self.p999_ns,
            self.p9999_ns,
        ]
    }
}

/// One measured interval as a batch of the throughput's batch means.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    /// Its length, ns.
    pub duration_ns: u64,
    /// Shorter than the nominal interval: the run ended inside it.
    pub partial: bool,
    /// Replies per recorder row.
    pub counts: [u64; ROWS],
}

/// Throughput (ops/s) of each full batch in time order, of one recorder row
/// or (`None`) of all. Batch means assume batches of one length: the partial
/// last one is left out (its ops still count in the totals). Besides being
/// shorter, it is the run-down after a stop decision, when the clients may
/// already be leaving; with it a run stopped by `--precision` could report an
/// interval wider than the one that stopped it.
pub fn batch_rates(batches: &[Batch], row: Option<usize>) -> Vec<f64> {
    batches
        .iter()
        .filter(|b| !b.partial && b.duration_ns > 0)
        .map(|b| {
            let n = row.map_or_else(|| b.counts.iter().sum(), |k| b.counts[k]);
            n as f64 / (b.duration_ns as f64 / 1e9)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_land_in_their_kind_and_merge_adds_counts() {
        let mut a = IntervalData::new();
        let mut b = IntervalData::new();
        for i in 1..=1000u64 {
            a.record(OpKind::Vote as usize, i * 1000, i * 500, i % 10 == 0);
            b.record(OpKind::GetHomeFeed as usize, i, i, false);
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
        a.record(OpKind::Search as usize, u64::MAX, 0, false);
        let h = a.intended[OpKind::Search as usize].as_ref().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(a.clamped, 1);
        let mut raw = RawInterval::new();
        raw.record(0, MAX_LATENCY_NS + 1, 5, false);
        raw.record(0, MAX_LATENCY_NS, 5, false);
        let mut out = IntervalData::new();
        raw.drain_into(&mut out);
        assert_eq!(out.clamped, 1);
        assert!(h.max() >= MAX_LATENCY_NS - MAX_LATENCY_NS / 1000);
        assert_eq!(
            a.service[OpKind::Search as usize].as_ref().unwrap().len(),
            1
        );
    }

    #[test]
    fn clear_keeps_histograms_but_empties_them() {
        let mut a = IntervalData::new();
        a.record(OpKind::Join as usize, 10, 10, false);
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
        r.record(OpKind::Vote as usize, 5, 5, false);
        r.rollover(1);
        let ToCollector::Interval(s) = rx.recv().unwrap();
        assert_eq!(
            (s.thread, s.index, s.last, s.data.total()),
            (3, 0, false, 1)
        );
        let mut back = s.data;
        back.drain_into(&mut IntervalData::new());
        assert_eq!(back.total(), 0);
        rtx.send(back).unwrap();
        r.rollover(2); // takes the recycled set
        r.record(row_of(OpKind::Vote, true), 5, 5, true);
        r.finish(99);
        let ToCollector::Interval(s1) = rx.recv().unwrap();
        assert_eq!((s1.index, s1.data.total()), (1, 0));
        let ToCollector::Interval(mut s2) = rx.recv().unwrap();
        let mut merged = IntervalData::new();
        s2.data.drain_into(&mut merged);
        assert_eq!(
            (s2.index, s2.last, s2.end_ns, merged.total_errors()),
            (2, true, 99, 1)
        );
    }

    #[test]
    fn raw_layout_matches_the_hdr_histogram_it_stands_for() {
        assert_eq!(RAW_LEN, new_histogram().distinct_values());
    }

    /// Values spread over every bucket, both ends of each, and beyond the range.
    fn awkward_values() -> Vec<u64> {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut v = vec![0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, u64::MAX];
        v.extend([MAX_LATENCY_NS - 1, MAX_LATENCY_NS, MAX_LATENCY_NS + 1]);
        v.extend([MAX_LATENCY_NS * 2, 1 << 50, (1 << 42) - 1]);
        for shift in 0..64 {
            for _ in 0..200 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                v.push(rng >> shift);
            }
        }
        v
    }

    #[test]
    fn raw_recording_folds_into_the_same_histogram_as_direct_recording() {
        let values = awkward_values();
        let mut direct = IntervalData::new();
        let mut raw = RawInterval::new();
        for (i, &v) in values.iter().enumerate() {
            let kind = i % ROWS;
            let svc = v / 3;
            direct.record(kind, v, svc, i % 7 == 0);
            raw.record(kind, v, svc, i % 7 == 0);
        }
        let mut folded = IntervalData::new();
        raw.drain_into(&mut folded);
        assert_eq!(folded.count, direct.count);
        assert_eq!(folded.errors, direct.errors);
        for k in 0..ROWS {
            for (a, b) in [
                (&folded.intended[k], &direct.intended[k]),
                (&folded.service[k], &direct.service[k]),
            ] {
                let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                assert!(a == b, "kind {k}: folded and direct histograms differ");
                assert_eq!(LatencyStats::of(a), LatencyStats::of(b));
                assert_eq!(a.min(), b.min());
            }
        }
        // Draining empties the raw set, which is then reusable.
        assert_eq!(raw.total(), 0);
        let mut again = IntervalData::new();
        raw.drain_into(&mut again);
        assert_eq!(again.total(), 0);
        assert!(again.intended.iter().flatten().all(|h| h.is_empty()));
    }

    #[test]
    fn mirrored_set_folds_into_the_same_histograms_as_recording_both() {
        let values = awkward_values();
        let mut direct = IntervalData::new();
        let mut raw = RawInterval::new();
        raw.set_mirrored(true);
        for (i, &v) in values.iter().enumerate() {
            direct.record(i % ROWS, v, v, i % 5 == 0);
            raw.record(i % ROWS, v, v, i % 5 == 0);
        }
        let mut folded = IntervalData::new();
        raw.drain_into(&mut folded);
        assert_eq!(
            (folded.count, folded.errors, folded.clamped),
            (direct.count, direct.errors, direct.clamped)
        );
        for k in 0..ROWS {
            for (a, b) in [
                (&folded.intended[k], &direct.intended[k]),
                (&folded.service[k], &direct.service[k]),
            ] {
                let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                assert!(a == b, "row {k}: mirrored and direct histograms differ");
            }
        }
    }

    #[test]
    fn a_mirroring_recorder_mirrors_every_set_it_rolls_into() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (rtx, rrx) = crossbeam_channel::unbounded();
        // A recycled set that was not mirrored before.
        rtx.send(Box::new(RawInterval::new())).unwrap();
        let mut r = Recorder::new(0, 0, tx, rrx);
        r.prepare();
        r.mirror_service();
        for i in 0..3u64 {
            r.record(0, 100 + i, 100 + i, false);
            r.rollover(i + 1);
        }
        r.finish(9);
        let sets: Vec<_> = rx.try_iter().collect();
        assert_eq!(sets.len(), 4);
        for ToCollector::Interval(mut s) in sets {
            let mut out = IntervalData::new();
            s.data.drain_into(&mut out);
            if s.index == 3 {
                assert_eq!(out.total(), 0);
                continue;
            }
            let v = 100 + s.index;
            for h in [&out.intended[0], &out.service[0]] {
                let h = h.as_ref().expect("both histograms filled");
                assert_eq!(
                    (h.len(), h.min(), h.max()),
                    (1, v, v),
                    "interval {}",
                    s.index
                );
            }
        }
    }

    #[test]
    fn invalid_requests_have_their_own_row_whatever_their_kind() {
        assert_eq!(row_name(INVALID_ROW), "invalid");
        assert_eq!(row_name(OpKind::Vote as usize), "vote");
        let mut raw = RawInterval::new_touched();
        raw.record(row_of(OpKind::CreatePost, true), 10, 10, true);
        raw.record(row_of(OpKind::SendDm, true), 20, 20, true);
        raw.record(row_of(OpKind::CreatePost, false), 30, 30, false);
        let mut out = IntervalData::new();
        raw.drain_into(&mut out);
        assert_eq!(out.count[INVALID_ROW], 2);
        assert_eq!(out.errors[INVALID_ROW], 2);
        assert_eq!(out.count[OpKind::CreatePost as usize], 1);
        assert_eq!(out.errors[OpKind::CreatePost as usize], 0);
        assert_eq!(out.count[OpKind::SendDm as usize], 0);
        assert!(out.intended[OpKind::SendDm as usize].is_none());
        assert_eq!(out.intended[INVALID_ROW].as_ref().unwrap().len(), 2);
    }

    #[test]
    fn prepared_recorder_rolls_over_into_its_spare_set() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_rtx, rrx) = crossbeam_channel::unbounded();
        let mut r = Recorder::new(0, 0, tx, rrx);
        r.prepare();
        assert!(r.spare.is_some());
        r.record(0, 5, 5, false);
        r.rollover(1);
        assert!(
            r.spare.is_none(),
            "the first rollover did not use the spare set"
        );
        r.record(0, 5, 5, false);
        r.finish(9);
        let totals: Vec<u64> = rx
            .try_iter()
            .map(|ToCollector::Interval(s)| s.data.total())
            .collect();
        assert_eq!(totals, vec![1, 1]);
    }

    #[test]
    fn batch_rates_leave_out_the_partial_batch_and_read_one_row_or_all() {
        let mut full = [0u64; ROWS];
        full[0] = 100;
        full[1] = 300;
        let batch = |duration_ns, partial, counts| Batch {
            duration_ns,
            partial,
            counts,
        };
        let batches = [
            batch(1_000_000_000, false, full),
            batch(500_000_000, false, full),
            // The run-down after a stop: 1 ms holding a burst of late replies.
            batch(1_000_000, true, full),
        ];
        assert_eq!(batch_rates(&batches, None), vec![400.0, 800.0]);
        assert_eq!(batch_rates(&batches, Some(1)), vec![300.0, 600.0]);
    }
}
