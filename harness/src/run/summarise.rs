//! After the threads of a run are joined: quiesce and audit the engine
//! against every acknowledged write, and turn what the clients and the
//! collector measured into the [`RunSummary`].

use socialbench_engines::{AuditFailure, Engine, Expected, WriteTally};

use socialbench_engines::wal::acked::{SavedLedger, ledger_path};

use super::{Ctx, Recovering};
use crate::client::{ClientResult, StopReason};
use crate::collector::Collected;
use crate::config::{Limit, LoopMode, RunError};
use crate::cpu::{CpuSummary, ThreadCpu};
use crate::machine::{CoreSteal, peak_rss_bytes};
use crate::outputs::Reports;
use crate::pinning::machine_cores;
use crate::recorder::batch_rates;
use crate::recorder::new_histogram;
use crate::schema::AuditVerdict;
use crate::stats::batch::batch_means;
use crate::stats::hist::ks_exponential;
use crate::summary::{
    AuditOutcome, GroupSummary, KindSummary, LoadSummary, RecoveredAudit, RunSummary, Saturation,
    ScheduleSummary,
};

/// What the threads of a run hand back once joined.
pub(super) struct Joined {
    /// One per client thread.
    pub results: Vec<ClientResult>,
    /// The collector's totals and the reports it fed.
    pub collected: Collected,
    /// Start of the load phase (ns on the run clock).
    pub load_start: u64,
    /// Start of the measured run: end of the load phase (ns on the run clock).
    pub start: u64,
    /// Peak RSS at the end of the load phase.
    pub load_peak_rss: u64,
}

/// Audits `engine` and summarises the run; hands the reports back for
/// their final call.
///
/// `at_start`: how a recovered state differed from its ledger before the
/// run. A durable run saves its ledger of acknowledged writes beside its
/// logs; that failing is the error.
pub(super) fn summarise<E: Engine>(
    ctx: &Ctx<'_>,
    engine: &E,
    joined: Joined,
    at_start: Option<String>,
) -> Result<(RunSummary, Reports), RunError> {
    let Joined {
        results,
        collected,
        load_start,
        start,
        load_peak_rss,
    } = joined;
    let c = ctx.config;
    // Before the audit, whose expected state and engine records are the
    // harness's, not the run's.
    let peak_rss = peak_rss_bytes();
    let audit = audit(ctx, engine, &results, at_start);
    save_ledger(ctx, &audit, &results)?;
    let stopped_by = stop_reason(&results);
    let warm_end = start + c.warmup.as_nanos() as u64;
    let end = results
        .iter()
        .map(|r| r.end_ns)
        .max()
        .unwrap_or(warm_end)
        .max(collected.end_ns);
    // One denominator for every whole-run rate (RunSummary::measured_ns): the
    // nominal window when the duration limit was reached, as the intervals'
    // durations are (the last one is capped at the nominal end and holds the
    // replies drained after it).
    let measured_ns = match c.limit {
        Limit::Duration(d) if stopped_by == StopReason::Limit => d.as_nanos() as u64,
        _ => end.saturating_sub(warm_end),
    }
    .max(1);
    let ops = collected.totals.total();
    let engine_stats = engine.stats();
    let ops_per_sec = ops as f64 / (measured_ns as f64 / 1e9);
    let summary = RunSummary {
        run_id: ctx.run_id.clone(),
        out_dir: ctx.out_dir.clone(),
        engine: c.engine.name().into(),
        workload: c.workload.clone(),
        users: ctx.workload.scenario.users,
        seed: c.seed,
        client_threads: ctx.threads,
        engine_threads: ctx.engine_threads,
        partitions: ctx.engine_config.partitions,
        mode: c.mode,
        pin_map: ctx.pin_map.clone(),
        clients_pinned: results.iter().all(|r| r.pinned),
        load: load_summary(&results, start.saturating_sub(load_start), load_peak_rss),
        warmup_ns: c.warmup.as_nanos() as u64,
        measured_ns,
        intervals: collected.intervals,
        stopped_by,
        saturation: saturation(ctx, &results, stopped_by, ops_per_sec),
        schedule: schedule(ctx, &results, ops_per_sec),
        ops,
        errors: collected.totals.total_errors(),
        ops_per_sec,
        ops_per_sec_per_client_thread: ops_per_sec / ctx.threads as f64,
        clamped_latencies: collected.totals.clamped,
        kinds: KindSummary::from_totals(&collected.totals, measured_ns, &collected.batches),
        batch_means: batch_means(&batch_rates(&collected.batches, None)),
        cpu: CpuSummary::of(cpu_threads(&results, &collected.cpu), ops),
        oversubscribed: ctx.threads + ctx.engine_threads > machine_cores().len().max(1),
        audit,
        measured_log_bytes: engine_stats.durability.as_ref().map(|d| {
            d.log
                .bytes
                .saturating_sub(collected.log_bytes_at_start.unwrap_or(0))
        }),
        engine_stats,
        group: group_of(ctx).map(|g| GroupSummary {
            k: g.k,
            n: g.n,
            prefix: ctx
                .engine_config
                .redis
                .as_ref()
                .and_then(|r| r.prefix.clone())
                .unwrap_or_default(),
        }),
        clock_cost: ctx.clock_cost,
        peak_rss_bytes: peak_rss,
        steal: steal(&collected.steal_ms, measured_ns),
    };
    Ok((summary, collected.reports))
}

/// Per core, the time the hypervisor took during the measured window.
fn steal(steal_ms: &std::collections::BTreeMap<usize, u64>, measured_ns: u64) -> Vec<CoreSteal> {
    steal_ms
        .iter()
        .map(|(&core, &steal_ms)| CoreSteal {
            core,
            steal_ms,
            share: (steal_ms as f64 * 1e6 / measured_ns as f64).min(1.0),
        })
        .collect()
}

/// The client threads' CPU time (each read its own), then the others'.
fn cpu_threads(results: &[ClientResult], others: &[ThreadCpu]) -> Vec<ThreadCpu> {
    let mut all: Vec<ThreadCpu> = results.iter().filter_map(|r| r.cpu.clone()).collect();
    all.extend(others.iter().cloned());
    all
}

/// The engine's aggregates against every acknowledged write, load phase
/// included, then its entities one by one against the clients' logs (a
/// stateless engine has nothing to audit). A recovered run adds the
/// writes of the runs before it, from their ledger.
fn audit<E: Engine>(
    ctx: &Ctx<'_>,
    engine: &E,
    results: &[ClientResult],
    at_start: Option<String>,
) -> AuditOutcome {
    engine.quiesce();
    let prior = ctx.recovering.as_ref().map(|r| r.ledger.as_ref());
    let mut tally = WriteTally::default();
    if let Some(Some(ledger)) = prior {
        tally.add(&ledger.tally);
    }
    for r in results {
        tally.add(&r.ledger.tally);
    }
    let mut out = AuditOutcome {
        verdict: AuditVerdict::NotChecked,
        message: None,
        tally,
        engine: Default::default(),
        entities: None,
        log_bytes: results.iter().map(|r| r.ledger.log.bytes()).sum(),
        logged_writes: results.iter().map(|r| r.ledger.log.len() as u64).sum(),
        entity_check_ms: 0.0,
        peak_rss_bytes: 0,
        recovered: prior.map(|ledger| RecoveredAudit {
            ledger: ledger.is_some(),
            prior: ledger.map(|l| l.tally).unwrap_or_default(),
            prior_logged: ledger
                .and_then(|l| l.log.as_ref())
                .map_or(0, |l| l.len() as u64),
            at_start,
        }),
    };
    if !ctx.config.engine.is_stateful() {
        return out;
    }
    if let Some(g) = group_of(ctx) {
        out.message = Some(format!(
            "group {}/{}: the store holds every group's writes, so the audit is `socialbench merge`'s, against the sum of the groups' tallies",
            g.k, g.n
        ));
        return out;
    }
    if let Some(None) = prior {
        out.message = Some(
            "the data dir has no ledger of acknowledged writes (the run that wrote its logs was cut off): nothing to audit the recovered state against".into(),
        );
        return out;
    }
    out.engine = engine.audit();
    let started = std::time::Instant::now();
    // The runs before kept no list of their writes: only the sums are checked.
    let prior_log = match prior {
        Some(Some(ledger)) => ledger.log.as_ref().map(Some),
        _ => Some(None),
    };
    out.entities = (ctx.config.audit == crate::config::AuditMode::Entities)
        .then_some(prior_log)
        .flatten()
        .and_then(|prior_log| engine.entities().map(|e| (prior_log, e)))
        .map(|(prior_log, e)| {
            let before = prior_log.into_iter().flat_map(|l| l.iter());
            Expected::build(before.chain(results.iter().flat_map(|r| r.ledger.log.iter())))
                .check(&e)
        });
    out.entity_check_ms = started.elapsed().as_secs_f64() * 1e3;
    out.peak_rss_bytes = peak_rss_bytes();
    let check = AuditFailure::combine(out.engine.check(&tally), out.entities.as_ref());
    (out.verdict, out.message) = match check {
        Ok(()) => (AuditVerdict::Pass, None),
        Err(f) => match allowed_loss(&f, &engine.stats()) {
            Some((AuditVerdict::Pass, why)) => (
                AuditVerdict::Pass,
                Some(format!("{why} ({})", f.differences())),
            ),
            Some((verdict, why)) => (verdict, Some(format!("{why}: {f}"))),
            None => (AuditVerdict::Fail, Some(f.to_string())),
        },
    };
    out
}

/// Whether the audit's failure `f` is what the run's replication allows,
/// and if so the verdict and what was lost (`None`: a failure). In-process:
/// the failovers of `async` replication lost log entries, and the writes
/// the audit misses are no more than those entries (`lost`). A Redis
/// Cluster: see [`redis_failover_audit`]. Mismatches that follow from lost
/// writes (karma, subscriptions) are in the audit's own text.
fn allowed_loss(
    f: &AuditFailure,
    stats: &socialbench_engines::EngineStats,
) -> Option<(AuditVerdict, String)> {
    if let Some(rf) = stats.redis.as_ref().and_then(|r| r.failover.as_ref()) {
        return redis_failover_audit(f, rf);
    }
    let missing: Vec<(&str, u128)> = f
        .mismatches
        .iter()
        .filter_map(socialbench_engines::Mismatch::lost_writes)
        .collect();
    let n: u128 = missing.iter().map(|(_, d)| d).sum();
    let r = stats.replication.as_ref()?;
    let lost_entries = r.failover.as_ref().map_or(0, |fo| fo.lost_entries);
    if r.mode != socialbench_engines::ReplicationMode::Async
        || lost_entries == 0
        || n > u128::from(lost_entries)
        || f.mismatches.iter().any(|m| m.extra_writes().is_some())
    {
        return None;
    }
    let kinds: Vec<String> = missing.iter().map(|(w, d)| format!("{w} {d}")).collect();
    let failovers = r.failover.as_ref().map_or(0, |fo| fo.failovers);
    Some((
        AuditVerdict::Lost,
        format!(
            "lost {n} acknowledged writes ({}) in {failovers} failover(s) of async replication, which allows it ({lost_entries} log entries lost)",
            if kinds.is_empty() {
                "none; the effects of lost follow-ups only".to_string()
            } else {
                kinds.join(", ")
            }
        ),
    ))
}

/// The audit of a Redis Cluster run with failovers (Redis replicates
/// asynchronously, and documents that even `WAIT` does not make a failover
/// lossless). A write of unknown outcome may be applied or not, so each
/// explains one difference: an entity beyond the acknowledged ones (more
/// of those than such writes is a failure), or a membership or vote
/// difference, which the aggregates cannot tell from a lost write. Lost:
/// the entities missing, plus the membership and vote differences the
/// writes of unknown outcome left over do not explain (a lower bound). No
/// loss at all: `pass`, saying what the writes of unknown outcome explain.
fn redis_failover_audit(
    f: &AuditFailure,
    rf: &socialbench_engines::RedisFailoverStats,
) -> Option<(AuditVerdict, String)> {
    if rf.failovers == 0 {
        return None;
    }
    let (mut kinds, mut certain, mut ambiguous, mut extra) = (Vec::new(), 0u128, 0u128, 0u128);
    for m in &f.mismatches {
        if let Some((_, d)) = m.extra_writes() {
            extra += d;
        } else if let Some((what, d)) = m.lost_writes() {
            if matches!(what, "memberships" | "votes") {
                ambiguous += d;
            } else {
                certain += d;
                kinds.push(format!("{what} {d}"));
            }
        }
    }
    let unknown = u128::from(rf.unknown_outcome);
    if extra > unknown {
        return None;
    }
    let unexplained = ambiguous.saturating_sub(unknown - extra);
    if unexplained > 0 {
        kinds.push(format!("memberships or votes {unexplained}"));
    }
    let wait = match rf.wait_replicas {
        Some(w) => format!("asynchronous replication with WAIT {w}"),
        None => "asynchronous replication".to_string(),
    };
    let explained = format!(
        "of the {unknown} writes of unknown outcome, applied ones account for {extra} extra entities and {} membership or vote differences",
        ambiguous - unexplained
    );
    let lost = certain + unexplained;
    if lost == 0 {
        return Some((
            AuditVerdict::Pass,
            format!(
                "no acknowledged write lost in {} failover(s) of a Redis Cluster: {explained}",
                rf.failovers
            ),
        ));
    }
    Some((
        AuditVerdict::Lost,
        format!(
            "lost at least {lost} acknowledged writes ({}) in {} failover(s) of a Redis Cluster ({wait}, which allows it); {explained}",
            kinds.join(", "),
            rf.failovers
        ),
    ))
}

/// This process's share of a group run (`--group K/N`), if it is one.
pub(super) fn group_of<'a>(ctx: &'a Ctx<'_>) -> Option<&'a socialbench_engines::RedisGroup> {
    ctx.engine_config.redis.as_ref()?.group.as_ref()
}

/// A durable run leaves the ledger of every acknowledged write (the runs'
/// before it included) beside its logs, for `run --recover`. Nothing is
/// saved when the runs before left none: a partial ledger would fail
/// every later audit.
fn save_ledger(
    ctx: &Ctx<'_>,
    audit: &AuditOutcome,
    results: &[ClientResult],
) -> Result<(), RunError> {
    let d = &ctx.engine_config.durability;
    let (true, Some(dir)) = (d.logs() && ctx.config.engine.is_stateful(), &d.dir) else {
        return Ok(());
    };
    let prior = match &ctx.recovering {
        Some(Recovering { ledger: None }) => return Ok(()),
        Some(Recovering {
            ledger: Some(ledger),
        }) => Some(ledger),
        None => None,
    };
    // The list is kept only when every run kept one.
    let listed = ctx.config.audit == crate::config::AuditMode::Entities
        && prior.is_none_or(|p| p.log.is_some());
    let log = listed.then(|| {
        let before = prior.and_then(|p| p.log.as_ref());
        before
            .into_iter()
            .flat_map(|l| l.iter())
            .chain(results.iter().flat_map(|r| r.ledger.log.iter()))
    });
    SavedLedger::save(dir, &d.identity, &audit.tally, log).map_err(|e| RunError::Output {
        path: ledger_path(dir),
        source: Box::new(e),
    })
}

/// Why the run stopped: the most serious reason any client had.
fn stop_reason(results: &[ClientResult]) -> StopReason {
    [
        StopReason::EngineShutdown,
        StopReason::Saturated,
        StopReason::Interrupted,
        StopReason::Precise,
    ]
    .into_iter()
    .find(|r| results.iter().any(|x| x.stop == *r))
    .unwrap_or(StopReason::Limit)
}

fn load_summary(results: &[ClientResult], duration_ns: u64, peak_rss_bytes: u64) -> LoadSummary {
    let ops: u64 = results.iter().map(|r| r.load_ops).sum();
    LoadSummary {
        ops,
        errors: results.iter().map(|r| r.load_errors).sum(),
        duration_ns,
        ops_per_sec: ops as f64 / (duration_ns.max(1) as f64 / 1e9),
        peak_rss_bytes,
    }
}

fn max_lag(results: &[ClientResult]) -> u64 {
    results.iter().map(|r| r.max_lag_ns).max().unwrap_or(0)
}

fn saturation(
    ctx: &Ctx<'_>,
    results: &[ClientResult],
    stopped_by: StopReason,
    achieved: f64,
) -> Option<Saturation> {
    match ctx.config.mode {
        LoopMode::Open { rate, .. } if stopped_by == StopReason::Saturated => Some(Saturation {
            offered_ops_per_sec: rate,
            achieved_ops_per_sec: achieved,
            max_lag_ns: max_lag(results),
        }),
        _ => None,
    }
}

fn schedule(ctx: &Ctx<'_>, results: &[ClientResult], achieved: f64) -> Option<ScheduleSummary> {
    let LoopMode::Open { rate, arrivals, .. } = ctx.config.mode else {
        return None;
    };
    let mut lateness = new_histogram();
    let mut gaps = new_histogram();
    let mut mean_gap = 0.0;
    for o in results.iter().filter_map(|r| r.open.as_deref()) {
        let _ = lateness.add(&o.lateness);
        let _ = gaps.add(&o.gaps);
        mean_gap = o.mean_gap;
    }
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    Some(ScheduleSummary {
        max_lag_ns: max_lag(results),
        final_lag_ns: results.iter().map(|r| r.final_lag_ns).max().unwrap_or(0),
        unsent_due: results.iter().map(|r| r.unsent_due).sum(),
        peak_outstanding: results
            .iter()
            .filter_map(|r| r.open.as_deref())
            .map(|o| o.peak_outstanding as u64)
            .max()
            .unwrap_or(0),
        arrivals,
        offered_ops_per_sec: rate,
        achieved_ops_per_sec: achieved,
        lateness_p50_ns: q(&lateness, 0.5),
        lateness_p99_ns: q(&lateness, 0.99),
        lateness_max_ns: lateness.max(),
        gap_ks_distance: ks_exponential(&gaps, mean_gap),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use socialbench_engines::{
        EngineStats, FailoverStats, Mismatch, ReplicationMode, ReplicationStats,
    };

    fn stats(mode: ReplicationMode, lost_entries: u64) -> EngineStats {
        EngineStats {
            replication: Some(ReplicationStats {
                replicas: 1,
                mode,
                failover: Some(FailoverStats {
                    failovers: 1,
                    lost_entries,
                    ..FailoverStats::default()
                }),
                ..ReplicationStats::default()
            }),
            ..EngineStats::default()
        }
    }

    fn missing(what: &'static str, n: i128) -> Mismatch {
        Mismatch {
            what,
            engine: 100 - n,
            expected: 100,
        }
    }

    /// A shortfall under `async` that the failovers' lost entries explain
    /// is a loss the mode allows, told by kind; the same under `sync`, a
    /// larger one, or one without lost entries is a failure.
    #[test]
    fn only_async_loss_the_failovers_explain_is_allowed() {
        let f = AuditFailure {
            mismatches: vec![
                missing("users", 3),
                missing("posts", 2),
                missing("karma sum (vs score sum)", 40),
            ],
            entities: Vec::new(),
        };
        let (verdict, lost) = allowed_loss(&f, &stats(ReplicationMode::Async, 5)).expect("allowed");
        assert_eq!(verdict, AuditVerdict::Lost);
        assert!(
            lost.starts_with("lost 5 acknowledged writes (users 3, posts 2)"),
            "{lost}"
        );
        assert!(allowed_loss(&f, &stats(ReplicationMode::Sync, 5)).is_none());
        assert!(allowed_loss(&f, &stats(ReplicationMode::Async, 4)).is_none());
        assert!(allowed_loss(&f, &stats(ReplicationMode::Async, 0)).is_none());
        assert!(allowed_loss(&f, &EngineStats::default()).is_none());
        // An entity beyond the acknowledged ones is never an async loss.
        let mut extra = f.clone();
        extra.mismatches.push(missing("dms", -1));
        assert!(allowed_loss(&extra, &stats(ReplicationMode::Async, 50)).is_none());
    }

    fn redis(failovers: u64, unknown_outcome: u64) -> EngineStats {
        EngineStats {
            redis: Some(socialbench_engines::RedisStats {
                failover: Some(socialbench_engines::RedisFailoverStats {
                    failovers,
                    unknown_outcome,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..EngineStats::default()
        }
    }

    /// After a Redis failover the writes of unknown outcome explain extra
    /// entities and membership or vote differences, one each; entities
    /// missing are lost; more extras than such writes, or no failover, is
    /// a failure.
    #[test]
    fn a_redis_failover_loses_what_unknown_outcomes_do_not_explain() {
        let f = |m: Vec<Mismatch>| AuditFailure {
            mismatches: m,
            entities: Vec::new(),
        };
        // 10 score points extra (5 votes) and one extra post, 6 unknown: no loss.
        let explained = f(vec![
            missing("score sum (vs acknowledged vote deltas)", -10),
            missing("posts", -1),
        ]);
        let (verdict, why) = allowed_loss(&explained, &redis(1, 6)).expect("allowed");
        assert_eq!(verdict, AuditVerdict::Pass, "{why}");
        assert!(
            why.contains("1 extra entities and 5 membership or vote"),
            "{why}"
        );
        // Two users missing and 3 memberships off, 1 unknown: at least 4 lost.
        let lost = f(vec![missing("users", 2), missing("memberships", 3)]);
        let (verdict, why) = allowed_loss(&lost, &redis(1, 1)).expect("allowed");
        assert_eq!(verdict, AuditVerdict::Lost);
        assert!(
            why.starts_with(
                "lost at least 4 acknowledged writes (users 2, memberships or votes 2)"
            ),
            "{why}"
        );
        assert!(
            allowed_loss(&explained, &redis(1, 0)).is_none(),
            "an extra post"
        );
        assert!(allowed_loss(&lost, &redis(0, 1)).is_none(), "no failover");
    }
}
