//! The result of one run ([`RunSummary`]): what every report's `finish` sees,
//! what `run.json` embeds, and what a sweep makes a row of.

use std::path::PathBuf;

use serde::Serialize;
use socialbench_engines::{Audit, EngineStats, EntityReport, WriteTally};

use crate::client::StopReason;
use crate::clock::ClockCost;
use crate::config::LoopMode;
use crate::cpu::CpuSummary;
use crate::pinning::PinMap;
use crate::recorder::{Batch, batch_rates};
use crate::recorder::{INVALID_ROW, IntervalData, LatencyStats, ROWS, row_name};
use crate::schema::AuditVerdict;
use crate::stats::Estimate;
use crate::stats::batch::{BatchMeans, batch_means};

/// Throughput and latency of one op kind, of the deliberately invalid
/// requests (`kind == "invalid"`, any op kind; their errors are expected), or
/// of all (`kind == "all"`). A kind's row holds only valid requests, so its
/// `errors` are unexpected ones.
#[derive(Clone, Debug, Serialize)]
pub struct KindSummary {
    /// Op kind name, `invalid`, or `all`.
    pub kind: String,
    /// Replies received in the measured run.
    pub count: u64,
    /// Of which errors.
    pub errors: u64,
    /// Replies per second of measured time.
    pub ops_per_sec: f64,
    /// `ops_per_sec` with its within-run 95% interval: the half-width of
    /// the batch means of the measured intervals (`crate::stats::batch`);
    /// no spread (low = high) with fewer than 3 intervals.
    pub throughput: Estimate,
    /// Latency from the intended start: coordinated-omission corrected in
    /// the open loop; in the closed loop the intended start is the send, so
    /// this is the service time (see results/README.md).
    pub intended: LatencyStats,
    /// Service time from the actual send.
    pub service: LatencyStats,
}

impl KindSummary {
    /// Summaries per kind seen, then `invalid` (if any), then the `all` row,
    /// from merged measured data and the measured intervals as batches.
    pub fn from_totals(
        totals: &IntervalData,
        measured_ns: u64,
        batches: &[Batch],
    ) -> Vec<KindSummary> {
        let secs = (measured_ns as f64 / 1e9).max(1e-9);
        let throughput = |count: u64, row: Option<usize>| {
            let rate = count as f64 / secs;
            match batch_means(&batch_rates(batches, row)) {
                Some(m) => {
                    let half = (m.throughput.high - m.throughput.low) / 2.0;
                    Estimate {
                        value: rate,
                        low: (rate - half).max(0.0),
                        high: rate + half,
                    }
                }
                None => Estimate::exact(rate),
            }
        };
        let mut rows = Vec::new();
        debug_assert_eq!(INVALID_ROW, ROWS - 1);
        for k in 0..ROWS {
            if totals.count[k] == 0 {
                continue;
            }
            let stats = |h: &Option<hdrhistogram::Histogram<u64>>| {
                h.as_ref()
                    .map(LatencyStats::with_intervals)
                    .unwrap_or_default()
            };
            rows.push(KindSummary {
                kind: row_name(k).to_string(),
                count: totals.count[k],
                errors: totals.errors[k],
                ops_per_sec: totals.count[k] as f64 / secs,
                throughput: throughput(totals.count[k], Some(k)),
                intended: stats(&totals.intended[k]),
                service: stats(&totals.service[k]),
            });
        }
        let (i, s) = totals.merged_all();
        rows.push(KindSummary {
            kind: "all".into(),
            count: totals.total(),
            errors: totals.total_errors(),
            ops_per_sec: totals.total() as f64 / secs,
            throughput: throughput(totals.total(), None),
            intended: LatencyStats::with_intervals(&i),
            service: LatencyStats::with_intervals(&s),
        });
        rows
    }
}

/// The load phase, timed apart from the run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LoadSummary {
    /// Load ops replied to.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Wall time of the load phase.
    pub duration_ns: u64,
    /// Load ops per second.
    pub ops_per_sec: f64,
    /// Peak resident set size of the process at the end of the load phase
    /// (`VmHWM`: the kernel's high-water mark, so no transient is missed).
    pub peak_rss_bytes: u64,
}

/// The open loop could not keep up with its schedule.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Saturation {
    /// Target rate, ops/s.
    pub offered_ops_per_sec: f64,
    /// Achieved rate over the measured time, ops/s.
    pub achieved_ops_per_sec: f64,
    /// Largest lag behind schedule seen by a client (ns).
    pub max_lag_ns: u64,
}

/// How closely an open loop kept to its schedule (reported for every open-loop run).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ScheduleSummary {
    /// Largest lag behind the schedule seen by any client (ns): over every
    /// send (send time minus intended start), every 10 ms checkpoint and the stop.
    pub max_lag_ns: u64,
    /// Largest lag of any client when it stopped sending (ns).
    pub final_lag_ns: u64,
    /// Measured ops that were due (intended start before the stop and the end
    /// of the window) but never sent because the run stopped early
    /// (saturation, Ctrl-C, engine gone). 0 when the run reached its limit:
    /// then every op of the window was sent and its reply recorded.
    pub unsent_due: u64,
    /// Most ops any client thread had outstanding (submitted, reply not yet
    /// seen) right after a send, warmup included, as its engine session
    /// counts them: at most the loop's `max_outstanding`, which bounds the
    /// memory of the ops in flight however far the engine falls behind.
    pub peak_outstanding: u64,
    /// How the arrivals were spaced.
    pub arrivals: crate::config::Arrivals,
    /// The rate asked for, ops/s.
    pub offered_ops_per_sec: f64,
    /// The rate of replies over the measured window, ops/s.
    pub achieved_ops_per_sec: f64,
    /// How late the measured sends were against their schedule, ns: p50.
    pub lateness_p50_ns: u64,
    /// .. p99.
    pub lateness_p99_ns: u64,
    /// .. max.
    pub lateness_max_ns: u64,
    /// Kolmogorov-Smirnov distance of the realised gaps between a thread's
    /// sends from the exponential of the schedule's mean gap: 0 for a
    /// perfect Poisson stream, larger as late sends bunch up. A statistic,
    /// not a test (with millions of gaps any test rejects); `None` without
    /// measured sends.
    pub gap_ks_distance: Option<f64>,
}

/// The audit of a run: its verdict and what it compared.
#[derive(Clone, Debug, Serialize)]
pub struct AuditOutcome {
    /// Pass, fail, or not checked (the stateless `null` engine has nothing
    /// to audit): never "pass" for an audit that did not run.
    pub verdict: AuditVerdict,
    /// What was lost or duplicated, when it failed.
    pub message: Option<String>,
    /// Acknowledged writes, load phase included, merged over client threads.
    pub tally: WriteTally,
    /// What the engine reported.
    pub engine: Audit,
    /// The per-entity audit against the clients' logs, when the engine
    /// reports its entities.
    pub entities: Option<EntityReport>,
    /// Bytes the clients' logs of acknowledged writes held.
    pub log_bytes: u64,
    /// Acknowledged writes in those logs.
    pub logged_writes: u64,
    /// Wall time of the per-entity audit (building the expected state from
    /// the logs, reading the engine's entities, comparing), in ms.
    pub entity_check_ms: f64,
    /// Peak RSS of the process once the audit is done (the run's own peak,
    /// `RunSummary::peak_rss_bytes`, is read before it); 0 if not audited.
    pub peak_rss_bytes: u64,
    /// `run --recover`: what the recovered state was audited against.
    pub recovered: Option<RecoveredAudit>,
}

/// One process's share of a group run (`--group K/N`), as `socialbench
/// merge` reads it from `run.json`.
#[derive(Clone, Debug, Serialize)]
pub struct GroupSummary {
    /// This process's group, 1..=`n`.
    pub k: usize,
    /// Groups in the run.
    pub n: usize,
    /// The Redis key prefix the groups share.
    pub prefix: String,
}

/// The audit of a run that started from a data dir's logs (`run --recover`).
/// Its expected state is the acknowledged writes of the runs that wrote the
/// logs (their ledger, saved beside the logs) plus this run's.
#[derive(Clone, Debug, Serialize)]
pub struct RecoveredAudit {
    /// Whether the data dir had a ledger (none: the run that wrote the logs
    /// was cut off before saving it, so the state cannot be audited).
    pub ledger: bool,
    /// The acknowledged writes of the runs before, from the ledger.
    pub prior: WriteTally,
    /// Acknowledged writes the ledger listed one by one (0: it kept only
    /// counts, so the entities are not checked).
    pub prior_logged: u64,
    /// How the recovered state differed from the ledger before this run's
    /// first op (`None`: it matched, or there was no ledger).
    pub at_start: Option<String>,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The run's folder name.
    pub run_id: String,
    /// Where outputs went, if anywhere.
    pub out_dir: Option<PathBuf>,
    /// Engine name.
    pub engine: String,
    /// Workload preset or file.
    pub workload: String,
    /// Simulated users.
    pub users: u32,
    /// Seed.
    pub seed: u64,
    /// Client threads.
    pub client_threads: usize,
    /// Engine threads.
    pub engine_threads: usize,
    /// Partitions (shards or stripes).
    pub partitions: usize,
    /// Closed or open loop.
    pub mode: LoopMode,
    /// Thread placement.
    pub pin_map: PinMap,
    /// Whether every client thread got the core it was assigned.
    pub clients_pinned: bool,
    /// Load phase.
    pub load: LoadSummary,
    /// Warmup length (excluded).
    pub warmup_ns: u64,
    /// The denominator of every whole-run ops/s: the nominal measured window
    /// (`--duration`) when a duration-limited run reached its limit (replies
    /// drained after it count, being to ops sent in the window); otherwise
    /// end of warmup to the last client's end.
    pub measured_ns: u64,
    /// Measured intervals.
    pub intervals: u64,
    /// Why the run stopped.
    pub stopped_by: StopReason,
    /// Set when the open loop fell behind.
    pub saturation: Option<Saturation>,
    /// Open loop only: lag behind the schedule and ops left unsent.
    pub schedule: Option<ScheduleSummary>,
    /// Replies in the measured run.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Measured ops per second.
    pub ops_per_sec: f64,
    /// Measured ops per second per client thread.
    pub ops_per_sec_per_client_thread: f64,
    /// The throughput's batch means over the measured intervals: the
    /// within-run interval and whether the run was stationary (`None` with
    /// fewer than 3 intervals).
    pub batch_means: Option<BatchMeans>,
    /// CPU time per thread and per op over the measured window.
    pub cpu: CpuSummary,
    /// The run's threads (clients and engine) outnumbered the cores it may
    /// use: they took turns, so throughput and latency describe sharing.
    pub oversubscribed: bool,
    /// Measured replies whose latency exceeded the histograms' range (one
    /// hour) and was recorded as one hour.
    pub clamped_latencies: u64,
    /// Rows per op kind, then `all`.
    pub kinds: Vec<KindSummary>,
    /// The audit.
    pub audit: AuditOutcome,
    /// Engine stats after the run.
    pub engine_stats: EngineStats,
    /// This process's share of a run loaded from several (`--group K/N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSummary>,
    /// Bytes the write-ahead logs wrote from the end of the warm-up to the
    /// end of the run (`engine_stats`' counters cover the load phase and the
    /// warm-up too); `None` without logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_log_bytes: Option<u64>,
    /// Cost of a clock read.
    pub clock_cost: ClockCost,
    /// Peak RSS of the process through the end of the run, read before the
    /// audit (bytes; `VmHWM`, so the load phase's peak counts too).
    pub peak_rss_bytes: u64,
    /// Time the hypervisor took from each CPU during the measured intervals
    /// (`/proc/stat` steal; empty off Linux). On a VM, a core losing a few
    /// ms at a time puts those ms into the open loop's tail latencies.
    pub steal: Vec<crate::machine::CoreSteal>,
}

impl RunSummary {
    /// The `all` row.
    pub fn all(&self) -> Option<&KindSummary> {
        self.kinds.iter().find(|k| k.kind == "all")
    }
}
