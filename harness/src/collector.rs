//! The collector thread: merges the client threads' interval snapshots, samples
//! engine stats, process RSS and per-core steal once per interval, feeds the
//! reports, and keeps the run's totals.
//!
//! Interval `k` is complete when every client thread has reported an interval
//! `>= k` or has finished; a client that slept through intervals (a stalled
//! engine) simply has no report for them, and intervals nobody reported are
//! emitted empty, so a stall shows as a gap of zero throughput.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender};
use socialbench_engines::{Engine, EngineStats};

use crate::config::RunError;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cpu::{ThreadCpu, ThreadTimes};
use crate::machine::{CoreSteal, StealMeter, rss_bytes};
use crate::outputs::{IntervalReport, Reports};
use crate::recorder::{Batch, IntervalData, RawInterval, ToCollector, batch_rates};
use crate::stats::batch::{MIN_BATCHES, batch_means};

/// The fixed timeline of a run, shared with the client threads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    /// End of the warmup (ns on the run clock).
    pub warm_end_ns: u64,
    /// Interval length (ns).
    pub interval_ns: u64,
    /// Wall-clock time of the end of the warmup (captured at the run start).
    pub warm_end_wall: std::time::SystemTime,
}

/// What the collector hands back when every client is done.
#[derive(Debug)]
pub(crate) struct Collected {
    /// Merged measured intervals (warmup excluded).
    pub totals: IntervalData,
    /// Measured intervals emitted.
    pub intervals: u64,
    /// When the last client stopped (ns on the run clock).
    pub end_ns: u64,
    /// The reports, for the final summary.
    pub reports: Reports,
    /// Steal per core summed over the measured intervals (ms), sampled as
    /// each interval was emitted.
    pub steal_ms: BTreeMap<usize, u64>,
    /// Each measured interval's length and replies per row: the batches of
    /// the throughput's batch means.
    pub batches: Vec<Batch>,
    /// CPU time of the threads other than the clients (engine threads, the
    /// collector) from the end of the warmup to the last client's end.
    pub cpu: Vec<ThreadCpu>,
    /// Bytes the write-ahead logs had written when the warm-up's interval
    /// was emitted (`None` without logs).
    pub log_bytes_at_start: Option<u64>,
}

/// Asks the clients to stop once the throughput's interval is this narrow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PrecisionStop<'a> {
    /// Relative half-width to reach.
    pub precision: f64,
    /// Set when reached.
    pub flag: &'a AtomicBool,
}

impl PrecisionStop<'_> {
    /// Checks the batches so far; sets the flag when precise enough.
    fn check(&self, batches: &[Batch]) {
        if batches.len() < MIN_BATCHES {
            return;
        }
        if batch_means(&batch_rates(batches, None))
            .is_some_and(|m| m.throughput.relative_half_width() <= self.precision)
        {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs until every client has sent its last snapshot (or the channel closes).
pub(crate) fn collect<E: Engine>(
    rx: Receiver<ToCollector>,
    recycle: Sender<Box<RawInterval>>,
    (threads, engine): (usize, &E),
    timeline: Timeline,
    mut reports: Reports,
    precision: Option<PrecisionStop<'_>>,
) -> Result<Collected, RunError> {
    let mut pending: BTreeMap<u64, IntervalData> = BTreeMap::new();
    // Highest interval index each thread has reported; u64::MAX once finished.
    let mut upto: Vec<Option<u64>> = vec![None; threads];
    let mut done = vec![false; threads];
    let mut next_emit = 0u64;
    let mut measured = Measured::default();
    let mut end_ns = 0u64;
    let mut first_error = None;
    let mut meter = StealMeter::start();
    let mut cpu_start = None;
    let mut log_bytes_at_start = None;
    while done.iter().any(|d| !d) {
        let Ok(ToCollector::Interval(snap)) = rx.recv() else {
            break;
        };
        let t = snap.thread.min(threads - 1);
        upto[t] = Some(snap.index);
        if snap.last {
            done[t] = true;
            end_ns = end_ns.max(snap.end_ns);
        }
        // Fold the raw counts into the interval's HdrHistograms (this empties
        // them) and hand the set back for reuse.
        let mut data = snap.data;
        data.drain_into(pending.entry(snap.index).or_default());
        let _ = recycle.try_send(data);
        // Emit every interval all live threads have moved past.
        let all_done = done.iter().all(|d| *d);
        let limit = complete_before(&done, &upto, &pending, next_emit);
        while next_emit < limit {
            let data = pending.remove(&next_emit).unwrap_or_default();
            let steal = meter.sample();
            let stats = engine.stats();
            if next_emit == 0 {
                log_bytes_at_start = stats.durability.as_ref().map(|d| d.log.bytes);
            }
            let r = emit(
                next_emit,
                &data,
                all_done.then_some(end_ns),
                (stats, &steal),
                timeline,
                &mut reports,
            );
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
            if next_emit > 0 {
                let (start, end) = bounds(next_emit, all_done.then_some(end_ns), timeline);
                let length = end - start;
                measured.add(&data, &steal, (length, length < timeline.interval_ns));
                if let Some(p) = &precision {
                    p.check(&measured.batches);
                }
            } else {
                cpu_start = Some(ThreadTimes::sample());
            }
            next_emit += 1;
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let cpu = cpu_start
        .map(|start| start.until(&ThreadTimes::sample()))
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !t.name.starts_with("client-"))
        .collect();
    Ok(Collected {
        totals: measured.totals,
        intervals: measured.intervals,
        end_ns,
        reports,
        steal_ms: measured.steal_ms,
        batches: measured.batches,
        cpu,
        log_bytes_at_start,
    })
}

/// What the measured intervals emitted so far add up to.
#[derive(Default)]
struct Measured {
    totals: IntervalData,
    intervals: u64,
    steal_ms: BTreeMap<usize, u64>,
    batches: Vec<Batch>,
}

impl Measured {
    /// Adds one measured interval of `duration_ns` and the steal sampled
    /// when it was emitted.
    fn add(
        &mut self,
        data: &IntervalData,
        steal: &[CoreSteal],
        (duration_ns, partial): (u64, bool),
    ) {
        self.totals.add(data);
        self.intervals += 1;
        for c in steal {
            *self.steal_ms.entry(c.core).or_default() += c.steal_ms;
        }
        self.batches.push(Batch {
            duration_ns,
            partial,
            counts: data.count,
        });
    }
}

/// The first interval some live thread may still report into (every
/// interval before it is complete), or, with every thread done, one past
/// the last interval anyone reported.
fn complete_before(
    done: &[bool],
    upto: &[Option<u64>],
    pending: &BTreeMap<u64, IntervalData>,
    next_emit: u64,
) -> u64 {
    let live = (0..done.len())
        .filter(|&i| !done[i])
        .map(|i| upto[i].map_or(0, |u| u + 1))
        .min();
    match live {
        // A live thread's reports come in index order: having reported u,
        // it has nothing more for any interval up to u.
        Some(u) => u,
        None => pending.keys().next_back().map_or(next_emit, |k| k + 1),
    }
}

/// Start and end (ns on the run clock) of interval `index`: the warmup for
/// 0, else a nominal interval, the last one cut at the run's end.
fn bounds(index: u64, run_end: Option<u64>, tl: Timeline) -> (u64, u64) {
    let (start, nominal_end) = if index == 0 {
        (0, tl.warm_end_ns)
    } else {
        let s = tl.warm_end_ns + (index - 1) * tl.interval_ns;
        (s, s + tl.interval_ns)
    };
    (
        start,
        run_end.map_or(nominal_end, |e| nominal_end.min(e.max(start + 1))),
    )
}

fn emit(
    index: u64,
    data: &IntervalData,
    run_end: Option<u64>,
    (stats, steal): (EngineStats, &[CoreSteal]),
    tl: Timeline,
    reports: &mut Reports,
) -> Result<(), RunError> {
    let (start, end) = bounds(index, run_end, tl);
    let report = IntervalReport {
        index,
        warmup: index == 0,
        start_ns: start.saturating_sub(tl.warm_end_ns),
        duration_ns: end - start,
        data,
        engine: stats,
        rss_bytes: rss_bytes(),
        steal,
        warm_end_wall: tl.warm_end_wall,
    };
    reports.interval(&report)
}
