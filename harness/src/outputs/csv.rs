//! `summary.csv` (wide: one row per op kind and `all`) and `timeseries.csv`
//! (long/tidy: one row per interval, source, name and metric). Every column
//! is documented in `results/README.md`; durations are integer nanoseconds.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{IntervalReport, Report};
use crate::config::RunError;
use crate::recorder::{LatencyStats, ROWS, row_name};
use crate::schema::run::{SummaryRow, TimeseriesRow};
use crate::schema::{SCHEMA_VERSION, SUMMARY_CSV, TIMESERIES_CSV};
use crate::summary::{KindSummary, RunSummary};

/// The `summary.csv` row of one kind (or `invalid`, or `all`).
pub fn summary_row(k: &KindSummary) -> SummaryRow {
    let (i, s) = (&k.intended, &k.service);
    let round = |v: f64| (v * 10.0).round() / 10.0;
    SummaryRow {
        kind: k.kind.clone(),
        count: k.count,
        errors: k.errors,
        ops_per_sec: round(k.ops_per_sec),
        ops_per_sec_low: round(k.throughput.low),
        ops_per_sec_high: round(k.throughput.high),
        intended_mean_ns: i.mean_ns,
        intended_p50_ns: i.p50_ns,
        intended_p50_low_ns: i.low_ns[0],
        intended_p50_high_ns: i.high_ns[0],
        intended_p90_ns: i.p90_ns,
        intended_p90_low_ns: i.low_ns[1],
        intended_p90_high_ns: i.high_ns[1],
        intended_p99_ns: i.p99_ns,
        intended_p99_low_ns: i.low_ns[2],
        intended_p99_high_ns: i.high_ns[2],
        intended_p999_ns: i.p999_ns,
        intended_p999_low_ns: i.low_ns[3],
        intended_p999_high_ns: i.high_ns[3],
        intended_p9999_ns: i.p9999_ns,
        intended_p9999_low_ns: i.low_ns[4],
        intended_p9999_high_ns: i.high_ns[4],
        intended_max_ns: i.max_ns,
        service_mean_ns: s.mean_ns,
        service_p50_ns: s.p50_ns,
        service_p50_low_ns: s.low_ns[0],
        service_p50_high_ns: s.high_ns[0],
        service_p90_ns: s.p90_ns,
        service_p90_low_ns: s.low_ns[1],
        service_p90_high_ns: s.high_ns[1],
        service_p99_ns: s.p99_ns,
        service_p99_low_ns: s.low_ns[2],
        service_p99_high_ns: s.high_ns[2],
        service_p999_ns: s.p999_ns,
        service_p999_low_ns: s.low_ns[3],
        service_p999_high_ns: s.high_ns[3],
        service_p9999_ns: s.p9999_ns,
        service_p9999_low_ns: s.low_ns[4],
        service_p9999_high_ns: s.high_ns[4],
        service_max_ns: s.max_ns,
        schema: SCHEMA_VERSION,
    }
}

/// Writes `summary.csv` at the end of the run.
#[derive(Debug)]
pub struct SummaryCsv {
    path: PathBuf,
}

impl SummaryCsv {
    /// A sink writing `dir/summary.csv`.
    pub fn new(dir: &Path) -> SummaryCsv {
        SummaryCsv {
            path: dir.join(SUMMARY_CSV),
        }
    }
}

impl Report for SummaryCsv {
    fn finish(&mut self, s: &RunSummary) -> Result<(), RunError> {
        let path = &self.path;
        let mut w = ::csv::Writer::from_path(path).map_err(|e| RunError::output(path, e))?;
        for k in &s.kinds {
            w.serialize(summary_row(k))
                .map_err(|e| RunError::output(path, e))?;
        }
        w.flush().map_err(|e| RunError::output(path, e))
    }
}

/// Streams `timeseries.csv`, one batch of rows per measured interval.
pub struct TimeseriesCsv {
    path: PathBuf,
    pub(crate) w: ::csv::Writer<BufWriter<File>>,
    /// Failover events written so far (name, shard, time).
    marked: Vec<(&'static str, usize, i64)>,
}

impl std::fmt::Debug for TimeseriesCsv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TimeseriesCsv({})", self.path.display())
    }
}

impl TimeseriesCsv {
    /// Creates `dir/timeseries.csv`.
    pub fn create(dir: &Path) -> Result<TimeseriesCsv, RunError> {
        let path = dir.join(TIMESERIES_CSV);
        let f = File::create(&path).map_err(|e| RunError::output(&path, e))?;
        Ok(TimeseriesCsv {
            w: ::csv::Writer::from_writer(BufWriter::new(f)),
            path,
            marked: Vec::new(),
        })
    }
}

/// Metrics of an op-kind row set.
fn op_rows<'a>(
    out: &mut Vec<Value<'a>>,
    name: &'static str,
    count: u64,
    errors: u64,
    dur_ns: u64,
    i: &LatencyStats,
    s: &LatencyStats,
) {
    let secs = (dur_ns as f64 / 1e9).max(1e-9);
    for (metric, v) in [
        ("count", count),
        ("errors", errors),
        ("ops_per_sec", (count as f64 / secs).round() as u64),
        ("intended_p50_ns", i.p50_ns),
        ("intended_p99_ns", i.p99_ns),
        ("intended_max_ns", i.max_ns),
        ("service_p50_ns", s.p50_ns),
        ("service_p99_ns", s.p99_ns),
        ("service_max_ns", s.max_ns),
    ] {
        out.push(("op", name, metric, v));
    }
}

/// One value of `timeseries.csv`: source, name, metric, value.
type Value<'a> = (&'static str, &'a str, &'static str, u64);

/// The op rows of an interval: per kind seen, then `all`.
fn interval_op_rows<'a>(out: &mut Vec<Value<'a>>, iv: &IntervalReport<'a>) {
    let d = iv.data;
    let stats = |h: &Option<hdrhistogram::Histogram<u64>>| {
        h.as_ref().map(LatencyStats::of).unwrap_or_default()
    };
    for k in 0..ROWS {
        if d.count[k] > 0 {
            let (i, s) = (stats(&d.intended[k]), stats(&d.service[k]));
            op_rows(
                out,
                row_name(k),
                d.count[k],
                d.errors[k],
                iv.duration_ns,
                &i,
                &s,
            );
        }
    }
    let (i, s) = d.merged_all();
    let (i, s) = (LatencyStats::of(&i), LatencyStats::of(&s));
    op_rows(
        out,
        "all",
        d.total(),
        d.total_errors(),
        iv.duration_ns,
        &i,
        &s,
    );
}

/// The engine's counts, bytes, queues and faults as sampled for an interval.
fn interval_engine_rows(out: &mut Vec<Value<'_>>, e: &socialbench_engines::EngineStats) {
    let c = &e.counts;
    for (name, v) in [
        ("users", c.users),
        ("communities", c.communities),
        ("posts", c.posts),
        ("comments", c.comments),
        ("dms", c.dms),
        ("votes", c.votes),
        ("memberships", c.memberships),
    ] {
        out.push(("engine", name, "count", v));
    }
    let b = &e.bytes;
    for (name, v) in [
        ("users", b.users),
        ("communities", b.communities),
        ("posts", b.posts),
        ("comments", b.comments),
        ("dms", b.dms),
        ("votes", b.votes),
        ("total", b.total()),
    ] {
        out.push(("engine", name, "bytes", v));
    }
    let depth_sum: usize = e.mailbox_depths.iter().sum();
    let depth_max = e.mailbox_depths.iter().copied().max().unwrap_or(0);
    out.push(("engine", "mailbox", "depth_sum", depth_sum as u64));
    out.push(("engine", "mailbox", "depth_max", depth_max as u64));
    out.push((
        "engine",
        "pending_follow_ups",
        "count",
        e.pending_follow_ups,
    ));
    out.push(("engine", "faults", "count", e.faults));
    out.push((
        "engine",
        "dropped_follow_ups",
        "count",
        e.dropped_follow_ups,
    ));
    if let Some(r) = &e.replication {
        out.push(("replication", "log", "entries", r.log_entries));
        out.push(("replication", "lag", "entries", r.lag_entries));
        out.push(("replication", "held_replies", "count", r.held_replies));
        out.push(("replication", "lost_backups", "count", r.lost_backups));
        if let Some(f) = &r.failover {
            for (name, v) in [
                ("kills", f.kills),
                ("failovers", f.failovers),
                ("false_failovers", f.false_failovers),
                ("unavailable_ops", f.unavailable_ops),
                ("lost_entries", f.lost_entries),
            ] {
                out.push(("failover", name, "count", v));
            }
        }
    }
    if let Some(f) = e.redis.as_ref().and_then(|r| r.failover.as_ref()) {
        for (name, v) in [
            ("kills", f.kills),
            ("failovers", f.failovers),
            ("unavailable_ops", f.unavailable_ops),
            ("unknown_outcome", f.unknown_outcome),
            ("wait_short", f.wait_short),
        ] {
            out.push(("failover", name, "count", v));
        }
    }
    if let Some(f) = &e.feeds {
        out.push(("feeds", "backlog", "deliveries", f.backlog));
        out.push(("feeds", "pushed_posts", "count", f.pushed_posts));
        out.push(("feeds", "deliveries", "count", f.deliveries));
        out.push(("feeds", "delivered", "count", f.delivered));
        out.push(("feeds", "served", "count", f.served));
        out.push(("feeds", "fallbacks", "count", f.fallbacks));
        out.push(("feeds", "timeline_entries", "count", f.timeline_entries));
        if let Some(st) = &f.staleness {
            out.push(("feeds", "staleness_p50", "us", st.p50_us));
            out.push(("feeds", "staleness_p99", "us", st.p99_us));
            out.push(("feeds", "staleness_max", "us", st.max_us));
        }
    }
}

/// The failover events the engine reported by the end of an interval and
/// not written before (`event` rows; `at_us`, from the start of the
/// measured window, is when it happened, which may fall in an earlier
/// interval: a Redis Cluster reports its kill with its failover):
/// `kill_primary` when a primary was killed, `failover` when a new primary
/// took over after a kill, `false_failover` when a live one was deposed;
/// each with its `shard`. `marked` keeps what was written.
fn interval_events(
    out: &mut Vec<Value<'_>>,
    iv: &IntervalReport<'_>,
    marked: &mut Vec<(&'static str, usize, i64)>,
) {
    let end = ((iv.start_ns + iv.duration_ns) / 1000) as i64;
    for e in iv.engine.failover_events() {
        let failover = if e.killed_us.is_some() {
            "failover"
        } else {
            "false_failover"
        };
        let kill = e.killed_us.map(|k| ("kill_primary", k));
        for (name, at) in kill.into_iter().chain([(failover, e.serving_us)]) {
            let key = (name, e.shard, at);
            if at < end && !marked.contains(&key) {
                marked.push(key);
                out.push(("event", name, "at_us", at.max(0) as u64));
                out.push(("event", name, "shard", e.shard as u64));
            }
        }
    }
}

impl Report for TimeseriesCsv {
    fn interval(&mut self, iv: &IntervalReport<'_>) -> Result<(), RunError> {
        if iv.warmup {
            return Ok(());
        }
        let cpus: Vec<(String, u64)> = iv
            .steal
            .iter()
            .map(|c| (format!("cpu{}", c.core), c.steal_ms))
            .collect();
        let mut rows = Vec::with_capacity(160);
        interval_op_rows(&mut rows, iv);
        interval_engine_rows(&mut rows, &iv.engine);
        interval_events(&mut rows, iv, &mut self.marked);
        rows.push(("process", "rss", "bytes", iv.rss_bytes));
        for (cpu, ms) in &cpus {
            rows.push(("machine", cpu, "steal_ms", *ms));
        }
        for (source, name, metric, value) in rows {
            self.w
                .serialize(TimeseriesRow::new(
                    (iv.index, iv.start_ns, iv.duration_ns),
                    source,
                    name,
                    metric,
                    value,
                ))
                .map_err(|e| RunError::output(&self.path, e))?;
        }
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> Result<(), RunError> {
        self.w.flush().map_err(|e| RunError::output(&self.path, e))
    }
}
