//! The summary table printed on stdout at the end of a run.

use std::fmt::Write as _;

use super::Report;
use crate::config::{LoopMode, RunError};
use crate::schema::AuditVerdict;
use crate::summary::RunSummary;
use crate::units::{human_ns, human_rate};

/// Prints the summary table on stdout.
#[derive(Debug, Default)]
pub struct Table;

/// The table as text: what ran, one row per op kind and `all` (intended and
/// service latency), how to read it, and the verdicts.
pub fn render(s: &RunSummary) -> String {
    let mut o = String::new();
    heading(&mut o, s);
    kinds(&mut o, s);
    notes(&mut o, s);
    verdicts(&mut o, s);
    o
}

/// What ran, the load phase and the measured window.
fn heading(o: &mut String, s: &RunSummary) {
    let _ = writeln!(
        o,
        "{} on {} ({} users): {} client thread(s), {} engine thread(s), {} partition(s), {:?}",
        s.engine, s.workload, s.users, s.client_threads, s.engine_threads, s.partitions, s.mode
    );
    let _ = writeln!(
        o,
        "load phase: {} ops ({} errors) in {} ({} ops/s), peak RSS {} MiB, excluded from the run{}",
        s.load.ops,
        s.load.errors,
        human_ns(s.load.duration_ns),
        human_rate(s.load.ops_per_sec),
        s.load.peak_rss_bytes >> 20,
        if s.audit.recovered.is_some() {
            " (skipped: the state was recovered from the logs)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "measured {} over {} interval(s) after {} warmup; stopped by {:?}",
        human_ns(s.measured_ns),
        s.intervals,
        human_ns(s.warmup_ns),
        s.stopped_by
    );
}

/// The rows per op kind.
fn kinds(o: &mut String, s: &RunSummary) {
    kind_rows(o, &s.kinds);
}

/// The header and a row per op kind: count, errors, throughput, intended
/// latency percentiles, service time (a run's table, and a merged run's).
pub(crate) fn kind_rows(o: &mut String, kinds: &[crate::summary::KindSummary]) {
    let _ = writeln!(
        o,
        "{:<19}{:>10}{:>8}{:>9} | {:>9}{:>9}{:>9}{:>9}{:>9} | {:>9}{:>9}{:>9}",
        "op (latency)",
        "count",
        "errors",
        "ops/s",
        "p50",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "svc p50",
        "svc p99",
        "svc max"
    );
    for k in kinds {
        let i = &k.intended;
        let v = &k.service;
        let _ = writeln!(
            o,
            "{:<19}{:>10}{:>8}{:>9} | {:>9}{:>9}{:>9}{:>9}{:>9} | {:>9}{:>9}{:>9}",
            k.kind,
            k.count,
            k.errors,
            human_rate(k.ops_per_sec),
            human_ns(i.p50_ns),
            human_ns(i.p99_ns),
            human_ns(i.p999_ns),
            human_ns(i.p9999_ns),
            human_ns(i.max_ns),
            human_ns(v.p50_ns),
            human_ns(v.p99_ns),
            human_ns(v.max_ns),
        );
    }
}

/// How to read the rows: throughput, which latency, the open loop's schedule, steal.
fn notes(o: &mut String, s: &RunSummary) {
    let _ = writeln!(
        o,
        "throughput: {} ops/s ({} ops/s per client thread); latency columns from the intended start, svc = service time from the send",
        human_rate(s.ops_per_sec),
        human_rate(s.ops_per_sec_per_client_thread)
    );
    intervals(o, s);
    let _ = match s.mode {
        LoopMode::Closed { .. } => writeln!(
            o,
            "closed loop: latency = service time from the send (intended start == send); coordinated-omission correction applies to the open loop only"
        ),
        LoopMode::Open { .. } => writeln!(
            o,
            "open loop: latency from the intended start on the schedule (coordinated-omission corrected)"
        ),
    };
    if s.kinds.iter().any(|k| k.kind == "invalid") {
        let _ = writeln!(
            o,
            "invalid = requests the workload makes invalid on purpose (any kind; errors expected); other rows' errors are unexpected"
        );
    }
    if let Some(sch) = &s.schedule {
        let _ = writeln!(
            o,
            "schedule: offered {} ops/s, achieved {}; sends late by p50 {} / p99 {} / max {}, {} due op(s) never sent, at most {} outstanding per client thread{}; KS distance of the gaps from {:?} arrivals' exponential {}",
            human_rate(sch.offered_ops_per_sec),
            human_rate(sch.achieved_ops_per_sec),
            human_ns(sch.lateness_p50_ns),
            human_ns(sch.lateness_p99_ns),
            human_ns(sch.lateness_max_ns),
            sch.unsent_due,
            sch.peak_outstanding,
            match s.mode {
                LoopMode::Open {
                    max_outstanding, ..
                } => format!(" (cap {max_outstanding})"),
                LoopMode::Closed { .. } => String::new(),
            },
            sch.arrivals,
            sch.gap_ks_distance
                .map_or("-".into(), |d| format!("{d:.3}")),
        );
    }
    if s.steal.iter().any(|c| c.steal_ms > 0) {
        let cores: Vec<String> = s
            .steal
            .iter()
            .map(|c| format!("cpu{} {} ms ({:.1}%)", c.core, c.steal_ms, c.share * 100.0))
            .collect();
        let _ = writeln!(
            o,
            "steal (time the hypervisor ran something else) during the measured window: {}",
            cores.join(", ")
        );
    }
}

/// The within-run intervals of the headline figures, CPU time per op and
/// oversubscription, compactly.
fn intervals(o: &mut String, s: &RunSummary) {
    let mut parts = Vec::new();
    if let Some(b) = &s.batch_means {
        parts.push(format!(
            "throughput [{}, {}] ({} batch means{})",
            human_rate(b.throughput.low),
            human_rate(b.throughput.high),
            b.batches,
            if b.stationary {
                String::new()
            } else {
                format!(", NOT stationary: trend {:+.0}%", b.trend.value * 100.0)
            }
        ));
    }
    if let Some(all) = s.kinds.iter().find(|k| k.kind == "all") {
        let i = &all.intended;
        for (name, q) in [("p50", 0), ("p99", 2), ("p99.9", 3)] {
            parts.push(format!(
                "{name} [{}, {}]",
                human_ns(i.low_ns[q]),
                human_ns(i.high_ns[q])
            ));
        }
    }
    if !parts.is_empty() {
        let _ = writeln!(
            o,
            "95% intervals within this run (run-to-run spread not included; see `socialbench compare`): {}",
            parts.join(", ")
        );
    }
    if s.cpu.total_ns_per_op > 0.0 {
        let _ = writeln!(
            o,
            "cpu time per op: {} (client threads {}), from the kernel's per-thread accounting",
            human_ns(s.cpu.total_ns_per_op.round() as u64),
            human_ns(s.cpu.client_ns_per_op.round() as u64)
        );
    }
    if s.oversubscribed {
        let _ = writeln!(
            o,
            "OVERSUBSCRIBED: the run's threads outnumber its cores; latency and throughput include waiting for a core"
        );
    }
    if let Some(r) = &s.engine_stats.replication {
        let _ = writeln!(
            o,
            "replication: {} backup(s) per shard, {}; {} log entries, largest lag {} entries, {} replies waited for the backups{}",
            r.replicas,
            r.mode,
            r.log_entries,
            r.max_lag_entries,
            r.held_replies,
            if r.lost_backups > 0 {
                format!(", {} BACKUP(S) LOST", r.lost_backups)
            } else {
                String::new()
            }
        );
        if let Some(f) = &r.failover {
            failover_lines(o, f);
        }
    }
}

/// The coordinator's line, and one per failover: when the primary died,
/// how long until it was declared dead (detection) and until the new
/// primary served (handover: in the in-process model mostly the copy of
/// the promoted state), and what it cost (a kill's unavailability window
/// runs from the kill to the first op served without an error).
fn failover_lines(o: &mut String, f: &socialbench_engines::FailoverStats) {
    let _ = writeln!(
        o,
        "failover: heartbeat {} x {}; {} kill(s), {} failover(s) ({} false), {} ops unavailable, {} log entries lost, {} fenced{}",
        crate::units::human_ns(f.heartbeat_micros * 1000),
        f.misses,
        f.kills,
        f.failovers,
        f.false_failovers,
        f.unavailable_ops,
        f.lost_entries,
        f.fenced_entries,
        if f.silent_backups > 0 {
            format!(", {} backup(s) silent", f.silent_backups)
        } else {
            String::new()
        }
    );
    event_lines(o, &f.events, "primary", true);
}

/// A Redis Cluster's failovers as the engine followed them: the cluster's
/// settings, what the sessions saw, and a line per failover (as
/// [`failover_lines`]: shard is the dead master's node index).
fn redis_failover_lines(o: &mut String, f: &socialbench_engines::RedisFailoverStats) {
    let _ = writeln!(
        o,
        "redis failover: {} replica(s) per master, cluster-node-timeout {} ms, {}; {} kill(s), {} failover(s), {} ops unavailable, {} writes of unknown outcome, {} follow-ups sent again{}",
        f.replicas,
        f.node_timeout_ms,
        match f.wait_replicas {
            Some(n) => format!("WAIT {n} after each write"),
            None => "no WAIT".to_string(),
        },
        f.kills,
        f.failovers,
        f.unavailable_ops,
        f.unknown_outcome,
        f.follow_ups_resent,
        if f.wait_short > 0 {
            format!(", {} WAIT(s) short", f.wait_short)
        } else {
            String::new()
        }
    );
    event_lines(o, &f.events, "master", false);
}

/// One line per failover event (`what`: the primary or master that died;
/// `costs`: the event's own unavailable ops and lost entries are known).
fn event_lines(
    o: &mut String,
    events: &[socialbench_engines::FailoverEvent],
    what: &str,
    costs: bool,
) {
    let ms = |us: i64| us as f64 / 1e3;
    for e in events.iter().take(8) {
        let line = match e.killed_us {
            Some(k) => format!(
                "killed at {:.1} ms, declared dead {:.1} ms later (detection), serving {:.1} ms after that (handover), first op {}",
                ms(k),
                ms(e.declared_us - k),
                ms(e.serving_us - e.declared_us),
                e.first_op_us.map_or("none".into(), |t| format!(
                    "{:.1} ms after the kill",
                    ms(t - k)
                ))
            ),
            None => format!(
                "a live {what} deposed at {:.1} ms (false failover)",
                ms(e.serving_us)
            ),
        };
        let costs = if costs {
            format!(
                "; {} ops unavailable, {} entries lost",
                e.unavailable_ops, e.lost_entries
            )
        } else {
            String::new()
        };
        let _ = writeln!(o, "  shard {}: {line}{costs}", e.shard);
    }
    if events.len() > 8 {
        let _ = writeln!(o, "  ... {} more in run.json", events.len() - 8);
    }
}

/// What the write-ahead logs and the crashes did (`--durability`,
/// `--recover`, `--fault crash`).
fn durability_lines(o: &mut String, s: &RunSummary) {
    let Some(d) = &s.engine_stats.durability else {
        return;
    };
    let l = &d.log;
    if l.records > 0 || d.mode != socialbench_engines::DurabilityMode::None {
        let per_op = match s.measured_log_bytes {
            Some(bytes) if s.ops > 0 => {
                format!(", {:.0} bytes per measured op", bytes as f64 / s.ops as f64)
            }
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "durability: {}; {} records, {} MiB logged{per_op}; {} group commits of {:.1} records on average (largest {}); {} fsyncs, mean {}, max {}",
            d.mode,
            l.records,
            l.bytes >> 20,
            l.commits,
            l.records as f64 / l.commits.max(1) as f64,
            l.max_group,
            l.fsyncs,
            human_ns(l.fsync_micros.saturating_mul(1000) / l.fsyncs.max(1)),
            human_ns(l.max_fsync_micros.saturating_mul(1000)),
        );
    }
    if l.snapshots > 0 {
        let _ = writeln!(
            o,
            "snapshots: {} (the last {} KiB); each paused its {} for {} on average (encoding {}), longest {}",
            l.snapshots,
            l.snapshot_bytes >> 10,
            match s.engine.as_str() {
                "serial" => "partition",
                "striped" => "stripe",
                _ => "log thread",
            },
            human_ns(l.snapshot_pause_micros.saturating_mul(1000) / l.snapshots),
            human_ns(l.snapshot_encode_micros.saturating_mul(1000) / l.snapshots),
            human_ns(l.max_snapshot_pause_micros.saturating_mul(1000)),
        );
    }
    if let Some(r) = &d.recovered {
        let snapshot = if r.snapshot_records > 0 {
            format!(
                "a snapshot of {} records ({} MiB) loaded, then ",
                r.snapshot_records,
                r.snapshot_bytes >> 20
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "recovered: {snapshot}{} log records ({} MiB) replayed in {}{}",
            r.records,
            r.bytes >> 20,
            human_ns(r.micros.saturating_mul(1000)),
            match &r.truncated_because {
                Some(why) => format!("; {} bytes cut off the end: {why}", r.truncated_bytes),
                None => String::new(),
            }
        );
    }
    if d.crashes > 0 {
        let last = d
            .last_recovery
            .as_ref()
            .map(|r| {
                format!(
                    "; last recovery replayed {} records in {}",
                    r.records,
                    human_ns(r.micros.saturating_mul(1000))
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "crashes: {}; {} ops in flight answered `crashed`; {} acknowledged writes LOST{last}; longest recovery {}",
            d.crashes,
            d.failed_ops,
            d.lost_writes,
            human_ns(d.max_recovery_micros.saturating_mul(1000)),
        );
    }
}

/// What pushing posts to timelines did (`--feeds push|hybrid`).
fn feed_lines(o: &mut String, s: &RunSummary) {
    let Some(f) = &s.engine_stats.feeds else {
        return;
    };
    let worst = f
        .max_fanout_post
        .map(|p| match p.community.profile_owner() {
            Some(owner) => format!(" (post {} of user {}'s profile)", p.seq, owner.0),
            None => format!(" (post {} of community {})", p.seq, p.community.0),
        })
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "feeds: {}; {} posts pushed, {:.1} deliveries per post, worst {}{worst}; {} New home feeds from timelines, {} pulled (timeline too short){}",
        f.mode,
        f.pushed_posts,
        f.fanout_mean(),
        f.max_fanout,
        f.served,
        f.fallbacks,
        if f.celebrities > 0 {
            format!("; {} sources pulled as celebrities", f.celebrities)
        } else {
            String::new()
        }
    );
    match &f.staleness {
        Some(st) => {
            let _ = writeln!(
                o,
                "staleness (post applied to follower's timeline, {} samples): p50 {}, p99 {}, max {}; broker queue peak {} deliveries",
                st.samples,
                human_ns(st.p50_us.saturating_mul(1000)),
                human_ns(st.p99_us.saturating_mul(1000)),
                human_ns(st.max_us.saturating_mul(1000)),
                f.max_backlog
            );
        }
        None => {
            let _ = writeln!(o, "staleness: none (delivery is inside the post op here)");
        }
    }
}

/// What the ops asked of a Redis server (`redis` engine): server calls
/// per op, as the sessions and as the servers counted them, and server CPU
/// per op, over the measured window with its warm-up.
fn redis_lines(o: &mut String, s: &RunSummary) {
    let Some(r) = &s.engine_stats.redis else {
        return;
    };
    let ops = r.ops();
    if ops == 0 {
        return;
    }
    if r.masters_changed {
        let _ = writeln!(
            o,
            "redis: {:.1} server calls per op (the servers' own counts left out: a failover changed the masters)",
            r.calls_per_op(),
        );
    } else {
        let _ = writeln!(
            o,
            "redis: {:.1} server calls per op ({:.1} by the servers' count{}), {} of server CPU per op (warm-up included)",
            r.calls_per_op(),
            r.server_calls as f64 / ops as f64,
            if s.group.is_some() {
                ", which includes the other groups' calls"
            } else {
                ""
            },
            human_ns(r.server_cpu_micros.saturating_mul(1000) / ops),
        );
    }
    let kinds: Vec<String> = r
        .kinds
        .iter()
        .map(|k| format!("{} {:.1}", k.kind, k.calls_per_op()))
        .collect();
    let _ = writeln!(o, "redis calls per op by kind: {}", kinds.join(", "));
    if let Some(f) = &r.failover {
        redis_failover_lines(o, f);
    }
}

/// Saturation, the audit and where the results are.
fn verdicts(o: &mut String, s: &RunSummary) {
    feed_lines(o, s);
    durability_lines(o, s);
    redis_lines(o, s);
    if let Some(sat) = &s.saturation {
        let _ = writeln!(
            o,
            "SATURATED: offered {} ops/s, achieved {} ops/s (lag behind schedule reached {})",
            human_rate(sat.offered_ops_per_sec),
            human_rate(sat.achieved_ops_per_sec),
            human_ns(sat.max_lag_ns)
        );
    }
    let a = &s.audit;
    if let Some(r) = &a.recovered
        && r.ledger
    {
        let p = &r.prior;
        let _ = writeln!(
            o,
            "recovered state {} the ledger of the runs before ({} users, {} posts, {} comments, {} DMs acknowledged{})",
            match &r.at_start {
                None => "matched".to_string(),
                Some(m) => format!("DIFFERED from ({m})"),
            },
            p.users,
            p.posts,
            p.comments,
            p.dms,
            if r.prior_logged > 0 {
                format!("; {} listed one by one", r.prior_logged)
            } else {
                "; counts only".into()
            }
        );
    }
    let _ = match a.verdict {
        AuditVerdict::NotChecked => writeln!(
            o,
            "audit: not checked ({})",
            a.message.as_deref().unwrap_or("stateless engine")
        ),
        AuditVerdict::Pass => writeln!(
            o,
            "audit: passed ({} users, {} posts, {} comments, {} DMs, score sum {}){}",
            a.engine.users,
            a.engine.posts,
            a.engine.comments,
            a.engine.dms,
            a.engine.score_sum,
            match &a.entities {
                Some(_) => format!(
                    "; each entity against {} logged writes ({:.1} MiB, {:.0} ms)",
                    a.logged_writes,
                    a.log_bytes as f64 / (1u64 << 20) as f64,
                    a.entity_check_ms
                ),
                None => String::new(),
            }
        )
        .and_then(|()| match &a.message {
            // What a pass allowed (writes of unknown outcome after a failover).
            Some(m) => writeln!(o, "  {m}"),
            None => Ok(()),
        }),
        AuditVerdict::Fail => writeln!(o, "AUDIT FAILED: {}", a.message.as_deref().unwrap_or("")),
        AuditVerdict::Lost => writeln!(o, "audit: {}", a.message.as_deref().unwrap_or("lost")),
    };
    if let Some(d) = &s.out_dir {
        let _ = writeln!(o, "results: {}", d.display());
    }
}

impl Report for Table {
    fn finish(&mut self, s: &RunSummary) -> Result<(), RunError> {
        out!("{}", render(s));
        Ok(())
    }
}
