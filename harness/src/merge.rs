//! `socialbench merge`: one run out of the folders of a group run.
//!
//! A group run (`run --group K/N`) is one load split over N processes that
//! share one store and whose measured windows start at the same wall-clock
//! moment, so interval i of every process covers the same time. Each
//! process writes an ordinary run folder, with `summary.group` in its
//! `run.json` and its audit deferred (the store holds every group's writes).
//! [`GroupRuns::read`] reads and checks those folders; [`merge`] writes one
//! run folder for the whole group, in the format of a run, so that every
//! reader of runs (plots, `diff`) reads it too.
//!
//! The merge is honest about latency: per interval, each process's
//! histograms (from its `latency.hlog`) are added, never their
//! percentiles averaged. Only the intervals every process has are merged
//! (the common window); an interval's length is the shortest any process
//! measured for it, and the throughput is the merged replies over the
//! summed lengths, so the sum over the processes of their rates in that
//! window. Ops a process measured outside the common window are reported
//! per process ([`ProcessShare::ops_outside`]), not merged.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde::Serialize;
use serde_json::Value;
use socialbench_engines::{Audit, EngineStats, WriteTally};

use crate::config::RunError;
use crate::outputs::csv::{TimeseriesCsv, summary_row};
use crate::outputs::hlog::Hlog;
use crate::outputs::{IntervalReport, Report};
use crate::recorder::{Batch, IntervalData, ROWS, batch_rates, new_histogram, row_name};
use crate::schema::run::TimeseriesRow;
use crate::schema::{
    AuditVerdict, HLOG, RUN_JSON, SCHEMA_VERSION, SUMMARY_CSV, TIMESERIES_CSV, read_csv,
};
use crate::stats::batch::{BatchMeans, batch_means};
use crate::summary::{AuditOutcome, KindSummary};
use crate::units::{human_ns, human_rate};

/// A merge that cannot be done: a one-line message (the CLI prints it and
/// exits 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No folders were given.
    #[error("nothing to merge: no run folders given")]
    NoRuns,
    /// A folder has no readable `run.json` with a summary.
    #[error("{}: not a run folder: {why}", dir.display())]
    NotARun {
        /// The folder.
        dir: PathBuf,
        /// What is missing or malformed.
        why: String,
    },
    /// A run that is not part of a group run.
    #[error("{}: not part of a group run (its run.json has no summary.group; run with --group K/N)", dir.display())]
    NotAGroup {
        /// The run's folder.
        dir: PathBuf,
    },
    /// Two runs disagree on what must be the same in one group run.
    #[error("{}: {what} is {found}, but {} has {expected}: not one group run", dir.display(), first.display())]
    Mismatch {
        /// The setting (`seed`, `group.n`, ...).
        what: &'static str,
        /// The run that disagrees.
        dir: PathBuf,
        /// Its value (as JSON).
        found: String,
        /// The first run.
        first: PathBuf,
        /// The first run's value (as JSON).
        expected: String,
    },
    /// A run's group number is not in 1..=n.
    #[error("{}: group {k} is not in 1..={n}", dir.display())]
    GroupOutOfRange {
        /// The run.
        dir: PathBuf,
        /// Its group.
        k: usize,
        /// Groups in the run.
        n: usize,
    },
    /// Two runs are the same group.
    #[error("group {k} appears twice: {} and {}", first.display(), dir.display())]
    DuplicateGroup {
        /// The group.
        k: usize,
        /// The first run of that group.
        first: PathBuf,
        /// The other.
        dir: PathBuf,
    },
    /// Groups of the run have no folder.
    #[error("group(s) {missing} of {n} missing: a merge needs every group's run")]
    MissingGroups {
        /// The missing groups, comma-separated.
        missing: String,
        /// Groups in the run.
        n: usize,
    },
    /// A run's `timeseries.csv` or `latency.hlog` is unreadable, or the two
    /// disagree.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong (one line).
        message: String,
    },
    /// The runs' intervals are not the same stretches of time.
    #[error("{}: interval {interval} starts at {found_ns} ns, but in {} at {expected_ns} ns: the runs' intervals differ in length", dir.display(), first.display())]
    Misaligned {
        /// The run that disagrees.
        dir: PathBuf,
        /// The interval.
        interval: u64,
        /// Its start there (ns from the end of the warmup).
        found_ns: u64,
        /// The first run.
        first: PathBuf,
        /// Its start in the first run.
        expected_ns: u64,
    },
    /// No measured interval is in every run.
    #[error("the runs have no measured interval in common: nothing to merge")]
    NoCommonWindow,
    /// The output folder already holds a run.
    #[error("{}: already holds a run ({RUN_JSON}); merge into a new folder", dir.display())]
    OutExists {
        /// The output folder.
        dir: PathBuf,
    },
    /// An output could not be written.
    #[error("{}: {message}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause (one line).
        message: String,
    },
}

/// `s` on one line.
fn one_line(s: impl std::fmt::Display) -> String {
    s.to_string().replace(['\n', '\r'], " ")
}

/// A sink's error as a merge error.
fn write_error(e: RunError) -> MergeError {
    match e {
        RunError::Output { path, source } => MergeError::Write {
            path,
            message: one_line(source),
        },
        e => MergeError::Write {
            path: PathBuf::new(),
            message: one_line(e),
        },
    }
}

/// One process's run of a group run.
#[derive(Clone, Debug)]
pub struct GroupRun {
    /// Its folder.
    pub dir: PathBuf,
    /// Its group, 1..=n.
    pub k: usize,
    /// Its client threads.
    pub client_threads: usize,
    /// Its engine threads.
    pub engine_threads: usize,
    /// Its acknowledged writes (`summary.audit.tally`).
    pub tally: WriteTally,
    /// Its whole `run.json` summary.
    pub summary: Value,
}

/// The runs of one group run, read and checked.
#[derive(Clone, Debug)]
pub struct GroupRuns {
    runs: Vec<GroupRun>,
    n: usize,
    prefix: String,
    engine: String,
    workload: String,
    seed: u64,
    users: u32,
}

/// What every run of a group run must agree on, as named in messages.
const AGREED: [&str; 7] = [
    "engine",
    "workload",
    "seed",
    "users",
    "client_threads",
    "group.n",
    "group.prefix",
];

/// `summary`'s value at the dotted `path`.
fn at<'a>(summary: &'a Value, path: &str) -> Option<&'a Value> {
    summary.pointer(&format!("/{}", path.replace('.', "/")))
}

impl GroupRuns {
    /// Reads `dirs`: each must be a run folder (has a parseable run.json
    /// with a summary) of a group run (has `summary.group`); all must agree
    /// on engine, workload, seed, users, client_threads, `group.n` and
    /// `group.prefix`; their `k` must be exactly 1..=n, each once.
    pub fn read(dirs: &[PathBuf]) -> Result<GroupRuns, MergeError> {
        if dirs.is_empty() {
            return Err(MergeError::NoRuns);
        }
        let runs: Vec<GroupRun> = dirs.iter().map(|d| read_run(d)).collect::<Result<_, _>>()?;
        let first = &runs[0];
        for r in &runs[1..] {
            for what in AGREED {
                let (a, b) = (at(&first.summary, what), at(&r.summary, what));
                if a != b {
                    let show = |v: Option<&Value>| v.map_or("missing".into(), Value::to_string);
                    return Err(MergeError::Mismatch {
                        what,
                        dir: r.dir.clone(),
                        found: show(b),
                        first: first.dir.clone(),
                        expected: show(a),
                    });
                }
            }
        }
        let s = &first.summary;
        let str_of = |path: &str| at(s, path).and_then(Value::as_str).map(String::from);
        let u64_of = |path: &str| at(s, path).and_then(Value::as_u64);
        let not_a_run = |why: &str| MergeError::NotARun {
            dir: first.dir.clone(),
            why: why.into(),
        };
        let n = u64_of("group.n")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| not_a_run("summary.group.n is not a positive integer"))?;
        let prefix =
            str_of("group.prefix").ok_or_else(|| not_a_run("summary.group.prefix is missing"))?;
        let engine = str_of("engine").ok_or_else(|| not_a_run("summary.engine is missing"))?;
        let workload =
            str_of("workload").ok_or_else(|| not_a_run("summary.workload is missing"))?;
        let seed = u64_of("seed").ok_or_else(|| not_a_run("summary.seed is missing"))?;
        let users = u64_of("users")
            .and_then(|u| u32::try_from(u).ok())
            .ok_or_else(|| not_a_run("summary.users is missing"))?;
        let mut by_k: BTreeMap<usize, GroupRun> = BTreeMap::new();
        for r in runs {
            if !(1..=n).contains(&r.k) {
                return Err(MergeError::GroupOutOfRange {
                    dir: r.dir,
                    k: r.k,
                    n,
                });
            }
            if let Some(other) = by_k.get(&r.k) {
                return Err(MergeError::DuplicateGroup {
                    k: r.k,
                    first: other.dir.clone(),
                    dir: r.dir,
                });
            }
            by_k.insert(r.k, r);
        }
        let missing: Vec<String> = (1..=n)
            .filter(|k| !by_k.contains_key(k))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::MissingGroups {
                missing: missing.join(", "),
                n,
            });
        }
        Ok(GroupRuns {
            runs: by_k.into_values().collect(),
            n,
            prefix,
            engine,
            workload,
            seed,
            users,
        })
    }

    /// The runs, by group (k = 1 first).
    pub fn runs(&self) -> &[GroupRun] {
        &self.runs
    }

    /// Groups in the run.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The Redis key prefix the groups shared.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The engine's name.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    /// The sum of the processes' tallies of acknowledged writes.
    pub fn tally(&self) -> WriteTally {
        let mut t = WriteTally::default();
        for r in &self.runs {
            t.add(&r.tally);
        }
        t
    }

    /// The audit of the store's aggregates `engine` (read once every group
    /// is done) against [`GroupRuns::tally`]: pass or fail.
    pub fn audit(&self, engine: Audit) -> AuditOutcome {
        match engine.check(&self.tally()) {
            Ok(()) => self.outcome(AuditVerdict::Pass, None, engine),
            Err(f) => self.outcome(AuditVerdict::Fail, Some(one_line(f)), engine),
        }
    }

    /// An audit that was not done, saying `why` (verdict `n/a`, never pass).
    pub fn not_audited(&self, why: &str) -> AuditOutcome {
        self.outcome(AuditVerdict::NotChecked, Some(why.into()), Audit::default())
    }

    /// The outcome of the store's aggregates `engine` against the groups'
    /// tally (no per-entity audit: the redis engine reports none).
    fn outcome(
        &self,
        verdict: AuditVerdict,
        message: Option<String>,
        engine: Audit,
    ) -> AuditOutcome {
        AuditOutcome {
            verdict,
            message,
            tally: self.tally(),
            engine,
            entities: None,
            log_bytes: 0,
            logged_writes: 0,
            entity_check_ms: 0.0,
            peak_rss_bytes: 0,
            recovered: None,
        }
    }
}

/// Reads the run.json of `dir` as one process's run of a group run.
fn read_run(dir: &Path) -> Result<GroupRun, MergeError> {
    let not_a_run = |why: String| MergeError::NotARun {
        dir: dir.to_path_buf(),
        why,
    };
    let path = dir.join(RUN_JSON);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| not_a_run(format!("cannot read {RUN_JSON}: {}", one_line(e))))?;
    let mut doc: Value = serde_json::from_str(&text)
        .map_err(|e| not_a_run(format!("{RUN_JSON} does not parse: {}", one_line(e))))?;
    if let Some(v) = doc.get("schema").and_then(Value::as_u64)
        && v > u64::from(SCHEMA_VERSION)
    {
        return Err(not_a_run(format!(
            "{RUN_JSON} has schema version {v}, newer than this build reads ({SCHEMA_VERSION})"
        )));
    }
    let summary = match doc.get_mut("summary").map(Value::take) {
        Some(s @ Value::Object(_)) => s,
        _ => return Err(not_a_run(format!("{RUN_JSON} has no summary"))),
    };
    if at(&summary, "group").is_none_or(Value::is_null) {
        return Err(MergeError::NotAGroup {
            dir: dir.to_path_buf(),
        });
    }
    let num = |path: &str| {
        at(&summary, path)
            .and_then(Value::as_u64)
            .ok_or_else(|| not_a_run(format!("summary.{path} is not a count")))
    };
    let size = |path: &str| num(path).map(|v| usize::try_from(v).unwrap_or(usize::MAX));
    let t = |field: &str| num(&format!("audit.tally.{field}"));
    let vote_delta_sum = at(&summary, "audit.tally.vote_delta_sum")
        .and_then(Value::as_i64)
        .ok_or_else(|| not_a_run("summary.audit.tally.vote_delta_sum is not a number".into()))?;
    let tally = WriteTally {
        users: t("users")?,
        communities: t("communities")?,
        posts: t("posts")?,
        comments: t("comments")?,
        dms: t("dms")?,
        vote_delta_sum,
        joins: t("joins")?,
        leaves: t("leaves")?,
    };
    Ok(GroupRun {
        dir: dir.to_path_buf(),
        k: size("group.k")?,
        client_threads: size("client_threads")?,
        engine_threads: size("engine_threads")?,
        tally,
        summary,
    })
}

/// One process's share of the merged run.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessShare {
    /// Its folder.
    pub dir: PathBuf,
    /// Its group.
    pub k: usize,
    /// Its replies in the common window.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// Its replies per second of the common window.
    pub ops_per_sec: f64,
    /// Its measured intervals (the common window's and any others).
    pub intervals: u64,
    /// Its replies in intervals outside the common window (not merged).
    pub ops_outside: u64,
}

/// What a merged run reports (`run.json`'s `summary`).
#[derive(Clone, Debug, Serialize)]
pub struct MergedSummary {
    /// Where the merged run went.
    pub out_dir: PathBuf,
    /// Engine name.
    pub engine: String,
    /// Workload preset or file.
    pub workload: String,
    /// Simulated users.
    pub users: u32,
    /// Seed.
    pub seed: u64,
    /// Processes (groups) merged.
    pub groups: usize,
    /// The key prefix the groups shared.
    pub prefix: String,
    /// Client threads, summed over the processes.
    pub client_threads: usize,
    /// Engine threads of one process (the largest; the processes share one
    /// store, so they are not summed).
    pub engine_threads: usize,
    /// The nominal interval length (ns).
    pub interval_ns: u64,
    /// Measured intervals every process has (the common window).
    pub intervals: u64,
    /// The common window's length: the sum of its intervals' lengths, each
    /// the shortest any process measured (ns).
    pub measured_ns: u64,
    /// Replies in the common window, over every process.
    pub ops: u64,
    /// Of which errors.
    pub errors: u64,
    /// `ops` per second of `measured_ns`.
    pub ops_per_sec: f64,
    /// The throughput's batch means over the merged intervals (`None` with
    /// fewer than 3).
    pub batch_means: Option<BatchMeans>,
    /// Rows per op kind, then `all`, from the added histograms.
    pub kinds: Vec<KindSummary>,
    /// Each process's share, by group.
    pub processes: Vec<ProcessShare>,
    /// The audit of the store against the sum of the groups' tallies.
    pub audit: AuditOutcome,
}

impl MergedSummary {
    /// The `all` row.
    pub fn all(&self) -> Option<&KindSummary> {
        self.kinds.iter().find(|k| k.kind == "all")
    }
}

/// The `run.json` of a merged run.
#[derive(Serialize)]
struct MergedDocument<'a> {
    schema: u32,
    merged_from: Vec<&'a Path>,
    summary: &'a MergedSummary,
}

/// Where one histogram of a process's `latency.hlog` is.
#[derive(Clone, Copy, Debug)]
struct HistRef {
    row: usize,
    intended: bool,
    /// Byte range of its base64 text in the log.
    at: usize,
    len: usize,
}

/// One measured interval of one process.
#[derive(Debug, Default)]
struct ProcInterval {
    start_ns: u64,
    duration_ns: u64,
    count: [u64; ROWS],
    errors: [u64; ROWS],
    rss: u64,
    hists: Vec<HistRef>,
}

impl ProcInterval {
    fn total(&self) -> u64 {
        self.count.iter().sum()
    }
}

/// One process's intervals and log.
#[derive(Debug)]
struct ProcessData {
    dir: PathBuf,
    intervals: BTreeMap<u64, ProcInterval>,
    hlog_path: PathBuf,
    hlog: Vec<u8>,
    start_time: Option<SystemTime>,
}

/// The recorder row named `name` (an op kind or `invalid`).
fn row_index(name: &str) -> Option<usize> {
    (0..ROWS).find(|&k| row_name(k) == name)
}

impl ProcessData {
    /// Reads `dir/timeseries.csv` and indexes `dir/latency.hlog` by interval.
    fn read(dir: &Path) -> Result<ProcessData, MergeError> {
        let ts_path = dir.join(TIMESERIES_CSV);
        let bad = |path: &Path, message: String| MergeError::Read {
            path: path.to_path_buf(),
            message,
        };
        let rows: Vec<TimeseriesRow<'static>> =
            read_csv(&ts_path).map_err(|e| bad(&ts_path, one_line(e)))?;
        let mut intervals: BTreeMap<u64, ProcInterval> = BTreeMap::new();
        for r in rows {
            let iv = intervals.entry(r.interval).or_insert_with(|| ProcInterval {
                start_ns: r.start_ns,
                duration_ns: r.duration_ns,
                ..ProcInterval::default()
            });
            match (&*r.source, &*r.name, &*r.metric) {
                ("op", "all", _) => {}
                ("op", name, metric @ ("count" | "errors")) => {
                    let row = row_index(name)
                        .ok_or_else(|| bad(&ts_path, format!("unknown op kind `{name}`")))?;
                    let cell = if metric == "count" {
                        &mut iv.count[row]
                    } else {
                        &mut iv.errors[row]
                    };
                    *cell += r.value;
                }
                ("process", "rss", "bytes") => iv.rss = r.value,
                _ => {}
            }
        }
        let hlog_path = dir.join(HLOG);
        let hlog = std::fs::read(&hlog_path).map_err(|e| bad(&hlog_path, one_line(e)))?;
        let starts: Vec<(u64, u64)> = intervals.iter().map(|(&i, v)| (v.start_ns, i)).collect();
        let mut start_time = None;
        for entry in IntervalLogIterator::new(&hlog) {
            let entry = entry.map_err(|e| bad(&hlog_path, format!("malformed log: {e:?}")))?;
            let h = match entry {
                LogEntry::StartTime(d) => {
                    start_time.get_or_insert(UNIX_EPOCH + d);
                    continue;
                }
                LogEntry::BaseTime(_) => continue,
                LogEntry::Interval(h) => h,
            };
            let tag = h.tag().map(|t| t.as_str()).unwrap_or("");
            let (intended, name) = match tag.split_once('.') {
                Some(("intended", name)) => (true, name),
                Some(("service", name)) => (false, name),
                _ => return Err(bad(&hlog_path, format!("unexpected tag `{tag}`"))),
            };
            let row = row_index(name)
                .ok_or_else(|| bad(&hlog_path, format!("unknown op kind in tag `{tag}`")))?;
            let ts = h.start_timestamp().as_nanos() as u64;
            // The log writes seconds with 3 decimals: the nearest interval
            // start within a millisecond.
            let index = starts
                .iter()
                .min_by_key(|(s, _)| s.abs_diff(ts))
                .filter(|(s, _)| s.abs_diff(ts) <= 1_000_000)
                .map(|&(_, i)| i)
                .ok_or_else(|| {
                    bad(
                        &hlog_path,
                        format!(
                            "a histogram at {:.3}s matches no interval of {TIMESERIES_CSV}",
                            ts as f64 / 1e9
                        ),
                    )
                })?;
            let text = h.encoded_histogram();
            let at = text.as_ptr() as usize - hlog.as_ptr() as usize;
            if let Some(iv) = intervals.get_mut(&index) {
                iv.hists.push(HistRef {
                    row,
                    intended,
                    at,
                    len: text.len(),
                });
            }
        }
        Ok(ProcessData {
            dir: dir.to_path_buf(),
            intervals,
            hlog_path,
            hlog,
            start_time,
        })
    }
}

/// One histogram of a process's log.
fn decode(
    p: &ProcessData,
    r: &HistRef,
    de: &mut Deserializer,
) -> Result<Histogram<u64>, MergeError> {
    let bad = |message: String| MergeError::Read {
        path: p.hlog_path.clone(),
        message,
    };
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&p.hlog[r.at..r.at + r.len])
        .map_err(|e| bad(format!("a histogram is not valid base64: {e}")))?;
    de.deserialize(&mut bytes.as_slice())
        .map_err(|e| bad(format!("a histogram does not decode: {e:?}")))
}

/// Merges the runs into `out` (created if missing; refused if it already
/// holds a `run.json`): writes `latency.hlog`, `timeseries.csv`,
/// `summary.csv` and `run.json` (with `audit`, which the caller computes
/// against the store from [`GroupRuns::tally`], e.g. with
/// [`GroupRuns::audit`]), then the plots (a failure to draw them is a
/// warning on stderr: the measurements are saved). `run.json` is written
/// last, so a folder with one holds a whole merge.
pub fn merge(
    runs: &GroupRuns,
    out: &Path,
    audit: AuditOutcome,
) -> Result<MergedSummary, MergeError> {
    if out.join(RUN_JSON).exists() {
        return Err(MergeError::OutExists {
            dir: out.to_path_buf(),
        });
    }
    let procs: Vec<ProcessData> = runs
        .runs
        .iter()
        .map(|r| ProcessData::read(&r.dir))
        .collect::<Result<_, _>>()?;
    let first = &procs[0];
    let common: Vec<u64> = first
        .intervals
        .keys()
        .copied()
        .filter(|i| procs.iter().all(|p| p.intervals.contains_key(i)))
        .collect();
    if common.is_empty() {
        return Err(MergeError::NoCommonWindow);
    }
    for &i in &common {
        let expected_ns = first.intervals[&i].start_ns;
        for p in &procs[1..] {
            let found_ns = p.intervals[&i].start_ns;
            if found_ns != expected_ns {
                return Err(MergeError::Misaligned {
                    dir: p.dir.clone(),
                    interval: i,
                    found_ns,
                    first: first.dir.clone(),
                    expected_ns,
                });
            }
        }
    }
    let nominal = procs
        .iter()
        .flat_map(|p| p.intervals.values().map(|v| v.duration_ns))
        .max()
        .unwrap_or(0);

    std::fs::create_dir_all(out).map_err(|e| MergeError::Write {
        path: out.to_path_buf(),
        message: one_line(e),
    })?;
    let mut hlog = Hlog::create(out).map_err(write_error)?;
    let mut ts = TimeseriesCsv::create(out).map_err(write_error)?;
    let warm_end_wall = first.start_time.unwrap_or_else(SystemTime::now);
    let mut de = Deserializer::new();
    let mut merged = IntervalData::new();
    let mut totals = IntervalData::new();
    let mut batches = Vec::with_capacity(common.len());
    let mut measured_ns = 0u64;
    for &i in &common {
        merged.clear();
        let duration_ns = procs
            .iter()
            .map(|p| p.intervals[&i].duration_ns)
            .min()
            .unwrap_or(0);
        let mut rss_bytes = 0;
        for p in &procs {
            let iv = &p.intervals[&i];
            rss_bytes += iv.rss;
            let mut seen = [0u64; ROWS];
            for r in &iv.hists {
                let h = decode(p, r, &mut de)?;
                if r.intended {
                    seen[r.row] += h.len();
                }
                let slot = if r.intended {
                    &mut merged.intended[r.row]
                } else {
                    &mut merged.service[r.row]
                };
                slot.get_or_insert_with(new_histogram)
                    .add(&h)
                    .map_err(|e| MergeError::Read {
                        path: p.hlog_path.clone(),
                        message: format!("a histogram does not fit the harness's range: {e:?}"),
                    })?;
            }
            if let Some(k) = (0..ROWS).find(|&k| seen[k] != iv.count[k]) {
                return Err(MergeError::Read {
                    path: p.hlog_path.clone(),
                    message: format!(
                        "interval {i}: {} {} replies here but {} in {TIMESERIES_CSV}",
                        seen[k],
                        row_name(k),
                        iv.count[k]
                    ),
                });
            }
            merged.count.iter_mut().zip(seen).for_each(|(c, s)| *c += s);
            merged
                .errors
                .iter_mut()
                .zip(iv.errors)
                .for_each(|(c, e)| *c += e);
        }
        let report = IntervalReport {
            index: i,
            warmup: false,
            start_ns: first.intervals[&i].start_ns,
            duration_ns,
            data: &merged,
            engine: EngineStats::default(),
            rss_bytes,
            steal: &[],
            warm_end_wall,
        };
        hlog.interval(&report).map_err(write_error)?;
        ts.interval(&report).map_err(write_error)?;
        totals.add(&merged);
        batches.push(Batch {
            duration_ns,
            partial: duration_ns < nominal,
            counts: merged.count,
        });
        measured_ns += duration_ns;
    }
    ts.w.flush().map_err(|e| MergeError::Write {
        path: out.join(TIMESERIES_CSV),
        message: one_line(e),
    })?;
    hlog.file.flush().map_err(|e| MergeError::Write {
        path: out.join(HLOG),
        message: one_line(e),
    })?;

    let kinds = KindSummary::from_totals(&totals, measured_ns, &batches);
    let summary_path = out.join(SUMMARY_CSV);
    let csv_error = |e: csv::Error| MergeError::Write {
        path: summary_path.clone(),
        message: one_line(e),
    };
    let mut w = csv::Writer::from_path(&summary_path).map_err(csv_error)?;
    for k in &kinds {
        w.serialize(summary_row(k)).map_err(csv_error)?;
    }
    w.flush().map_err(|e| csv_error(e.into()))?;

    let secs = (measured_ns as f64 / 1e9).max(1e-9);
    let processes = procs
        .iter()
        .zip(&runs.runs)
        .map(|(p, r)| {
            let (mut ops, mut errors, mut outside) = (0, 0, 0);
            for (i, iv) in &p.intervals {
                if common.binary_search(i).is_ok() {
                    ops += iv.total();
                    errors += iv.errors.iter().sum::<u64>();
                } else {
                    outside += iv.total();
                }
            }
            ProcessShare {
                dir: r.dir.clone(),
                k: r.k,
                ops,
                errors,
                ops_per_sec: ops as f64 / secs,
                intervals: p.intervals.len() as u64,
                ops_outside: outside,
            }
        })
        .collect();
    let summary = MergedSummary {
        out_dir: out.to_path_buf(),
        engine: runs.engine.clone(),
        workload: runs.workload.clone(),
        users: runs.users,
        seed: runs.seed,
        groups: runs.n,
        prefix: runs.prefix.clone(),
        client_threads: runs.runs.iter().map(|r| r.client_threads).sum(),
        engine_threads: runs
            .runs
            .iter()
            .map(|r| r.engine_threads)
            .max()
            .unwrap_or(0),
        interval_ns: nominal,
        intervals: common.len() as u64,
        measured_ns,
        ops: totals.total(),
        errors: totals.total_errors(),
        ops_per_sec: totals.total() as f64 / secs,
        batch_means: batch_means(&batch_rates(&batches, None)),
        kinds,
        processes,
        audit,
    };
    let doc = MergedDocument {
        schema: SCHEMA_VERSION,
        merged_from: runs.runs.iter().map(|r| r.dir.as_path()).collect(),
        summary: &summary,
    };
    let json_path = out.join(RUN_JSON);
    let text = serde_json::to_string_pretty(&doc).map_err(|e| MergeError::Write {
        path: json_path.clone(),
        message: one_line(e),
    })?;
    std::fs::write(&json_path, text + "\n").map_err(|e| MergeError::Write {
        path: json_path.clone(),
        message: one_line(e),
    })?;
    if let Err(e) = crate::plot::plot_run(out) {
        eprintln!("warning: plots not drawn: {e}");
    }
    Ok(summary)
}

/// The merged run as a table: the rows per op kind of a run's table, a
/// line per process, the audit.
pub fn render(s: &MergedSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} on {} ({} users, seed {}): {} group(s), {} client thread(s) in all",
        s.engine, s.workload, s.users, s.seed, s.groups, s.client_threads
    );
    let _ = writeln!(
        o,
        "merged {} over {} interval(s) every group measured",
        human_ns(s.measured_ns),
        s.intervals
    );
    crate::outputs::table::kind_rows(&mut o, &s.kinds);
    let _ = writeln!(
        o,
        "throughput: {} ops/s, the sum over the groups; latency from the intended start, percentiles of the groups' added histograms",
        human_rate(s.ops_per_sec)
    );
    for p in &s.processes {
        let _ = writeln!(
            o,
            "group {}/{}: {} ops/s ({} ops{}) {}",
            p.k,
            s.groups,
            human_rate(p.ops_per_sec),
            p.ops,
            if p.ops_outside > 0 {
                format!("; {} outside the common window, not merged", p.ops_outside)
            } else {
                String::new()
            },
            p.dir.display()
        );
    }
    let a = &s.audit;
    let _ = match a.verdict {
        AuditVerdict::Pass => writeln!(
            o,
            "audit: passed ({} users, {} posts, {} comments, {} DMs, score sum {}) against the sum of the {} groups' acknowledged writes",
            a.engine.users,
            a.engine.posts,
            a.engine.comments,
            a.engine.dms,
            a.engine.score_sum,
            s.groups
        ),
        AuditVerdict::Fail => writeln!(o, "AUDIT FAILED: {}", a.message.as_deref().unwrap_or("")),
        AuditVerdict::Lost => writeln!(o, "audit: {}", a.message.as_deref().unwrap_or("lost")),
        AuditVerdict::NotChecked => writeln!(
            o,
            "audit: not checked ({})",
            a.message.as_deref().unwrap_or("no store to check")
        ),
    };
    let _ = writeln!(o, "results: {}", s.out_dir.display());
    o
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_histogram_round_trips_through_the_log_format() {
        use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
        let mut h = new_histogram();
        for v in [1u64, 17, 4_000, 9_999_999] {
            h.record(v).unwrap();
        }
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
        let mut log = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let mut w = hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder::new()
            .begin_log_with(&mut log, &mut ser)
            .unwrap();
        w.write_histogram(&h, Duration::ZERO, Duration::from_millis(100), None)
            .unwrap();
        let line = String::from_utf8(log).unwrap();
        let b64 = line.trim_end().rsplit(',').next().unwrap();
        let bytes = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        };
        let back: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .unwrap();
        assert!(back == h);
    }
}
