//! What a run is asked to do ([`RunConfig`]), the parsers for the values a
//! user types (durations, rates, faults, pin lists) and the run's error type.
//!
//! Parsers return [`RunError::BadInput`] naming the offending text, so the
//! binary can print one line and exit 2.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use socialbench_engines::{
    AuditFailure, ChannelKind, Crash, Durability, EngineError, EngineKind, Failover, Faults, Feeds,
    IdlePolicy, OpKind, RedisConfig, Replication, Stall,
};

use crate::pinning::PinSpec;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A value given by the user is invalid (flags, files, folders): exit 2.
    #[error("{0}")]
    BadInput(String),
    /// The workload (preset name, scenario file or its values) is invalid:
    /// exit 2.
    #[error(transparent)]
    Workload(#[from] socialbench_workload::WorkloadError),
    /// A file the user pointed at (a sweep folder's table or spec) cannot
    /// be read by this version: exit 2.
    #[error("reading {}{}", .path.display(), .hint)]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// What the user can do, after the path (may be empty).
        hint: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `--pin` that does not parse or names cores the machine lacks:
    /// exit 2.
    #[error(transparent)]
    Pin(#[from] crate::pinning::PinError),
    /// The engine could not be built or refused a session.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The audit found lost or duplicated writes: the run is invalid.
    #[error(transparent)]
    Audit(#[from] AuditFailure),
    /// An output folder the user named cannot be created or listed: exit 2.
    #[error("{} is not writable", .path.display())]
    NotWritable {
        /// The folder.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing an output failed.
    #[error("writing {}", .path.display())]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The engine stopped serving before the run's end (its own message, on
    /// stderr, says why); what was measured until then is written.
    #[error("the {engine} engine stopped serving mid-run (see its message above){}", .out_dir.as_ref().map(|d| format!("; what was measured is in {}", d.display())).unwrap_or_default())]
    EngineStopped {
        /// The engine's name.
        engine: String,
        /// The run's folder, when it wrote one.
        out_dir: Option<std::path::PathBuf>,
    },
    /// A client or collector thread died or could not start.
    #[error("harness thread failed")]
    Thread(#[source] ThreadFailure),
}

/// How a harness thread failed ([`RunError::Thread`]).
#[derive(Debug, thiserror::Error)]
pub enum ThreadFailure {
    /// The OS refused a client thread.
    #[error("cannot spawn a client thread")]
    Spawn(#[source] std::io::Error),
    /// No client thread started, so the collector was never run.
    #[error("client threads could not start")]
    NotStarted,
    /// A client thread panicked outside the workload.
    #[error("a client thread panicked")]
    ClientPanicked,
    /// The workload's generator panicked in a client thread.
    #[error("the workload panicked in a client thread")]
    WorkloadPanicked,
    /// The collector thread panicked.
    #[error("the collector panicked")]
    CollectorPanicked,
}

impl RunError {
    /// Whether the error comes from bad user input (exit code 2) rather than the run (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RunError::BadInput(_)
                | RunError::Pin(_)
                | RunError::Workload(_)
                | RunError::Unreadable { .. }
                | RunError::NotWritable { .. }
        )
    }

    /// Writing `path` failed because of `source`.
    pub(crate) fn output(
        path: &std::path::Path,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> RunError {
        RunError::Output {
            path: path.to_path_buf(),
            source: source.into(),
        }
    }
}

/// The defaults of every run, in one place (the CLI shows them).
pub mod defaults {
    use std::time::Duration;

    /// Workload preset.
    pub const WORKLOAD: &str = "reddit";
    /// Seed of the workload, the arrivals and the faults.
    pub const SEED: u64 = 42;
    /// Capacity of each bounded mailbox, in ops.
    pub const MAILBOX: usize = 1024;
    /// Ops outstanding per client thread in the closed loop.
    pub const INFLIGHT: usize = 16;
    /// Most ops outstanding per client thread in the open loop.
    pub const MAX_OUTSTANDING: usize = 10_000;
    /// Warmup after the load phase.
    pub const WARMUP: Duration = Duration::from_secs(1);
    /// Measured duration of a run.
    pub const DURATION: Duration = Duration::from_secs(10);
}

/// How clients offer load.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum LoopMode {
    /// Each client thread keeps `inflight` ops outstanding (capacity).
    Closed {
        /// Ops outstanding per client thread.
        inflight: usize,
    },
    /// Arrivals at `rate` ops/s in total on a schedule fixed in advance;
    /// latency from the intended start.
    Open {
        /// Total target rate, ops/s.
        rate: f64,
        /// Most ops outstanding per client thread before sends wait (bounds memory).
        max_outstanding: usize,
        /// How arrivals are spaced.
        arrivals: Arrivals,
    },
}

/// How an open loop spaces its arrivals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process): independent users.
    #[default]
    Poisson,
    /// Equal gaps (wrk2's constant throughput).
    Fixed,
}

/// When the measured run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Limit {
    /// After this long (warmup excluded).
    Duration(Duration),
    /// After this many measured ops in total.
    Ops(u64),
}

/// A flag that asks a running run to stop early (Ctrl-C); what was measured is kept.
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// Asks every run watching this signal to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was asked.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How progress is shown while a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ProgressMode {
    /// A progress bar on a terminal, plain lines otherwise.
    Auto,
    /// Plain lines on stderr, one per interval.
    Plain,
    /// Nothing.
    Quiet,
}

/// Everything a run needs. Build one with [`RunConfig::new`] and adjust fields.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    /// The engine.
    pub engine: EngineKind,
    /// Partitions (shards or stripes); `None`: a default that fits the machine.
    pub partitions: Option<usize>,
    /// Mailbox capacity of channel-based engines.
    pub mailbox: usize,
    /// Mailbox implementation.
    pub channel: ChannelKind,
    /// Injected faults (their seed is derived from [`RunConfig::seed`]).
    pub faults: Faults,
    /// How idle engine threads, waiting sessions and the open loop's
    /// clients wait.
    pub idle: IdlePolicy,
    /// Backups per shard and when writes are acknowledged (the `sharded`
    /// engine only; `compare` and `sweep` give it to `sharded` alone).
    pub replication: Replication,
    /// The coordinator of a replicated `sharded` engine (`--heartbeat`):
    /// it detects dead primaries and promotes a backup.
    pub failover: Failover,
    /// How home feeds are built (pull, push, hybrid) and hybrid's
    /// threshold; the timeline bound is the workload's feed limit, set
    /// when the run starts.
    pub feeds: Feeds,
    /// Write-ahead logs (`--durability`, `--data-dir`, `--recover`): the
    /// mode is serialized, the dir and the identity are filled in when the
    /// run starts (the dir defaults to `data/` in the run's folder).
    pub durability: Durability,
    /// How much the audit checks after the run.
    pub audit: AuditMode,
    /// The `redis` engine's server (copied into `EngineConfig::redis`); not
    /// serialized, as a URL may carry a password.
    #[serde(skip)]
    pub redis: Option<RedisConfig>,
    /// Workload preset name or TOML path.
    pub workload: String,
    /// Overrides the scenario's user count.
    pub users: Option<u32>,
    /// Seed of the workload and of the open-loop arrivals.
    pub seed: u64,
    /// Client threads; `None`: a default that fits the machine.
    pub threads: Option<usize>,
    /// Core placement.
    pub pin: PinSpec,
    /// Closed or open loop.
    pub mode: LoopMode,
    /// Excluded warmup after the load phase.
    pub warmup: Duration,
    /// End of the measured run.
    pub limit: Limit,
    /// Stop as soon as the throughput's within-run interval (batch means,
    /// at least 10 batches) has at most this relative half-width (`0.02`
    /// for 2%); the limit is then the longest the run may take.
    pub precision: Option<f64>,
    /// Length of a recording interval; `None`: [`RunConfig::interval`]'s
    /// default (1 s, or a tenth of a shorter measured window, so that the
    /// throughput's batch means have at least 10 batches).
    pub interval: Option<Duration>,
    /// Root of the output folders (`None`: write nothing).
    pub out_root: Option<PathBuf>,
    /// Name of the run's folder under `out_root` (`None`: a timestamp and the engine).
    pub run_id: Option<String>,
    /// Whether `out_root/latest` points at this run.
    pub link_latest: bool,
    /// Progress display.
    pub progress: ProgressMode,
    /// Print the summary table on stdout.
    pub print_table: bool,
    /// Early stop (Ctrl-C).
    #[serde(skip)]
    pub stop: StopSignal,
}

/// How much the audit checks after a run (every engine with state is audited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum AuditMode {
    /// Aggregates and every entity against the clients' logs of
    /// acknowledged writes (the logs cost memory: about 12 bytes per
    /// logged write, see results/README.md).
    #[default]
    Entities,
    /// Aggregates only: no log is kept (for memory measurements at scale).
    Sums,
}

impl RunConfig {
    /// A closed-loop run of `engine` on the `reddit` preset, 10 s after 1 s of warmup.
    pub fn new(engine: EngineKind) -> RunConfig {
        RunConfig {
            engine,
            partitions: None,
            mailbox: defaults::MAILBOX,
            channel: ChannelKind::Crossbeam,
            faults: Faults::default(),
            idle: IdlePolicy::default(),
            replication: Replication::default(),
            failover: Failover::default(),
            feeds: Feeds::default(),
            durability: Durability::default(),
            audit: AuditMode::Entities,
            redis: None,
            workload: defaults::WORKLOAD.into(),
            users: None,
            seed: defaults::SEED,
            threads: None,
            pin: PinSpec::Auto,
            mode: LoopMode::Closed {
                inflight: defaults::INFLIGHT,
            },
            warmup: defaults::WARMUP,
            limit: Limit::Duration(defaults::DURATION),
            precision: None,
            interval: None,
            out_root: Some(PathBuf::from("results")),
            run_id: None,
            link_latest: true,
            progress: ProgressMode::Auto,
            print_table: true,
            stop: StopSignal::default(),
        }
    }
}

impl RunConfig {
    /// This configuration for `engine` among others (`compare`, `sweep`):
    /// the replication goes to `sharded` only, the one engine with shards
    /// to replicate (and the kill-primary fault to it alone); push and
    /// hybrid feeds to the in-process engines (`null` builds no feeds,
    /// `redis` pulls).
    pub fn for_engine(&self, engine: EngineKind) -> RunConfig {
        let mut c = self.clone();
        c.engine = engine;
        if engine != EngineKind::Sharded {
            c.replication = Replication::default();
            c.failover = Failover::default();
            // Also for `redis`: a kill there uses up a replica of a real
            // cluster, and a comparison repeats its runs (`run` applies it).
            c.faults.kill_primary = None;
        }
        if matches!(engine, EngineKind::Null | EngineKind::Redis) {
            c.feeds.mode = socialbench_engines::FeedMode::Pull;
        }
        if !engine.is_durable() {
            c.durability = Durability::default();
        }
        c
    }

    /// The recording interval: as given, else 1 s or a tenth of the
    /// measured window if that is shorter (at least 1 ms).
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(match self.limit {
            Limit::Duration(d) => (d / 10).clamp(Duration::from_millis(1), Duration::from_secs(1)),
            Limit::Ops(_) => Duration::from_secs(1),
        })
    }
}

/// Parses a duration: a number with a unit `ns`, `us`, `ms`, `s`, `m` or `h`
/// (`1.5s`, `200ms`); a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, RunError> {
    let bad = || {
        RunError::BadInput(format!(
            "malformed duration `{s}` (expected e.g. 500ms, 2s, 1.5m)"
        ))
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a rate in ops/s: `50000`, `50k`, `2.5M`, `1e6`; must be positive.
pub fn parse_rate(s: &str) -> Result<f64, RunError> {
    let bad = || {
        RunError::BadInput(format!(
            "malformed rate `{s}` (expected a positive number of ops/s, e.g. 20000, 50k, 1.5M)"
        ))
    };
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let r = v * mult;
    if !r.is_finite() || r <= 0.0 {
        return Err(bad());
    }
    Ok(r)
}

/// Parses one `--fault` spec into `faults`:
/// `stall:every=1s,for=200ms`, `drop-followups:rate=0.001`, `panic:rate=0.0001`,
/// `drop-writes:rate=0.01` and `duplicate-writes:rate=0.01` (both take an
/// optional `kind=` naming one write kind, e.g. `kind=create_post`; the two
/// share that choice), `crash:partition=0,at=3s[,every=5s]` and
/// `kill-primary:shard=0,at=3s[,every=5s]`.
pub fn parse_fault(spec: &str, faults: &mut Faults) -> Result<(), RunError> {
    let bad = |why: &str| RunError::BadInput(format!("bad fault `{spec}`: {why}"));
    let (kind, params) = spec.split_once(':').unwrap_or((spec, ""));
    let mut kv = Vec::new();
    for p in params.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| bad(&format!("`{p}` is not key=value")))?;
        kv.push((k.trim(), v.trim()));
    }
    let get = |key: &str| kv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let known = |allowed: &[&str]| -> Result<(), RunError> {
        match kv.iter().find(|(k, _)| !allowed.contains(k)) {
            Some((k, _)) => Err(bad(&format!(
                "unknown key `{k}` (allowed: {})",
                allowed.join(", ")
            ))),
            None => Ok(()),
        }
    };
    let probability = |v: Option<&str>| -> Result<f64, RunError> {
        let v = v.ok_or_else(|| bad("missing rate=P"))?;
        match v.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(bad(&format!("rate `{v}` is not a probability in 0..=1"))),
        }
    };
    match kind {
        "stall" => {
            known(&["every", "for"])?;
            let every = parse_duration(get("every").ok_or_else(|| bad("missing every=DURATION"))?)?;
            let duration = parse_duration(get("for").ok_or_else(|| bad("missing for=DURATION"))?)?;
            if every.is_zero() || duration >= every {
                return Err(bad("need 0 < for < every"));
            }
            faults.stall = Some(Stall { every, duration });
        }
        "crash" | "kill-primary" => {
            let key = if kind == "crash" {
                "partition"
            } else {
                "shard"
            };
            known(&[key, "at", "every"])?;
            let partition = match get(key) {
                None => 0,
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| bad(&format!("{key} `{v}` is not a {key} index")))?,
            };
            let at = parse_duration(get("at").ok_or_else(|| bad("missing at=DURATION"))?)?;
            let every = get("every").map(parse_duration).transpose()?;
            if every.is_some_and(|e| e.is_zero()) {
                return Err(bad("every must be positive"));
            }
            let c = Crash {
                partition,
                at,
                every,
            };
            if kind == "crash" {
                faults.crash = Some(c);
            } else {
                faults.kill_primary = Some(c);
            }
        }
        "drop-followups" => {
            known(&["rate"])?;
            faults.drop_follow_up_rate = probability(get("rate"))?;
        }
        "drop-deliveries" => {
            known(&["rate"])?;
            faults.drop_delivery_rate = probability(get("rate"))?;
        }
        "panic" => {
            known(&["rate"])?;
            faults.panic_rate = probability(get("rate"))?;
        }
        "drop-writes" | "duplicate-writes" => {
            known(&["rate", "kind"])?;
            let rate = probability(get("rate"))?;
            if let Some(name) = get("kind") {
                let kind = OpKind::ALL
                    .into_iter()
                    .find(|k| k.is_write() && k.name() == name)
                    .ok_or_else(|| {
                        let writes: Vec<_> = OpKind::ALL
                            .into_iter()
                            .filter(|k| k.is_write())
                            .map(OpKind::name)
                            .collect();
                        bad(&format!(
                            "`{name}` is not a write kind (writes: {})",
                            writes.join(", ")
                        ))
                    })?;
                faults.write_kinds = 1 << kind as u32;
            }
            if kind == "drop-writes" {
                faults.drop_write_rate = rate;
            } else {
                faults.duplicate_write_rate = rate;
            }
        }
        _ => {
            return Err(bad(
                "unknown fault (known: stall:every=D,for=D; drop-followups:rate=P; \
                 drop-deliveries:rate=P; panic:rate=P; drop-writes:rate=P[,kind=K]; \
                 duplicate-writes:rate=P[,kind=K]; crash:partition=N,at=D[,every=D]; \
                 kill-primary:shard=N,at=D[,every=D])",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("3m").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        for bad in ["", "abc", "1x", "-1s", "1.2.3s", "ms"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rates_parse_with_suffixes_and_must_be_positive() {
        assert_eq!(parse_rate("50k").unwrap(), 50_000.0);
        assert_eq!(parse_rate("2.5M").unwrap(), 2_500_000.0);
        assert_eq!(parse_rate("1e3").unwrap(), 1000.0);
        for bad in ["0", "-5", "fast", "", "NaN", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn faults_map_to_engine_faults() {
        let mut f = Faults::default();
        parse_fault("stall:every=1s,for=200ms", &mut f).unwrap();
        parse_fault("drop-followups:rate=0.001", &mut f).unwrap();
        parse_fault("panic:rate=0.0001", &mut f).unwrap();
        assert_eq!(
            f.stall,
            Some(Stall {
                every: Duration::from_secs(1),
                duration: Duration::from_millis(200)
            })
        );
        assert_eq!(f.drop_follow_up_rate, 0.001);
        assert_eq!(f.panic_rate, 0.0001);
    }

    #[test]
    fn malformed_faults_are_rejected_with_the_spec_named() {
        let mut f = Faults::default();
        for bad in [
            "stall:every=1s",
            "stall:every=100ms,for=1s",
            "panic:rate=2",
            "panic:p=0.1",
            "explode:rate=0.1",
            "drop-followups:rate",
        ] {
            let e = parse_fault(bad, &mut f).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
