//! The command line (clap derive) and its translation into the harness's
//! configurations. Every value is parsed by a typed parser (clap's own, a
//! `ValueEnum`, or the harness's `FromStr`), lists by clap's
//! `value_delimiter`, and what several commands share lives in flattened
//! groups ([`WorkloadArgs`], [`EngineArgs`], [`LoopArgs`], [`OutputArgs`],
//! [`PrecisionArgs`]). A flag that is one value in `run` and a list in
//! `sweep` (`--threads`, `--users`, `--shards`) keeps its own shape per
//! command. Defaults come from the harness (`config::defaults`), once.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use socialbench_engines::{
    ChannelKind, DurabilityMode, EngineConfig, EngineKind, Failover, Faults, FeedMode, Feeds,
    Heartbeat, IdlePolicy, RedisConfig, RedisTarget, Replication, ReplicationMode,
};
use socialbench_harness::capacity::Slo;
use socialbench_harness::config::{AuditMode, defaults};
use socialbench_harness::limits;
use socialbench_harness::sweep::{RateSpec, SweepSpec};
use socialbench_harness::{
    Arrivals, CompareSpec, Limit, LoopMode, PinSpec, ProgressMode, RunConfig, RunError,
};

/// Simulated users of a social platform driving interchangeable concurrency
/// engines; honest latency and throughput. Without a command: `compare`
/// with its defaults (every engine, 8 interleaved passes, about 2 minutes).
#[derive(Debug, Parser)]
#[command(name = "socialbench", version, about)]
pub struct Cli {
    /// What to do (default: `compare`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one engine on one workload and write results/<run-id>/.
    Run(Box<RunArgs>),
    /// Every engine in interleaved passes, with ratios to a baseline and verdicts.
    Compare(Box<CompareArgs>),
    /// A matrix of engines x threads x shards/stripes x users x rates, one
    /// cell at a time; a row per cell in DIR/sweep.csv; resumable.
    Sweep(Box<SweepArgs>),
    /// The highest offered rate at which an engine meets a latency SLO.
    Capacity(Box<CapacityArgs>),
    /// Two saved runs, comparisons or sweeps compared, B against A.
    Diff(DiffArgs),
    /// (Re)draw the plots of a run, comparison or sweep folder.
    Plot(PlotArgs),
    /// One run's outputs from the folders of a group run's processes
    /// (`run --group K/N`): histograms added, throughput summed over the
    /// common window, the audit against the sum of their tallies.
    Merge(MergeArgs),
    /// Print the generated ops as JSON lines (no engine).
    Trace(TraceArgs),
    /// List engines, workloads and their parameters.
    List,
}

/// A bad-input error (the binary exits 2 on it).
pub fn bad_input(m: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(RunError::BadInput(m.into()))
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    let d = socialbench_harness::parse_duration(s).map_err(|e| e.to_string())?;
    if d > limits::MAX_DURATION {
        return Err(format!("`{s}` is longer than 7 days"));
    }
    Ok(d)
}

fn interval_arg(s: &str) -> Result<Duration, String> {
    let d = duration_arg(s)?;
    if d < limits::MIN_INTERVAL {
        return Err(format!("`{s}` is shorter than 1ms"));
    }
    Ok(d)
}

fn rate_arg(s: &str) -> Result<f64, String> {
    let r = socialbench_harness::parse_rate(s).map_err(|e| e.to_string())?;
    if r > limits::MAX_RATE {
        return Err(format!("`{s}` is above 1G ops/s"));
    }
    Ok(r)
}

fn pin_arg(s: &str) -> Result<PinSpec, String> {
    PinSpec::parse(s).map_err(|e| e.to_string())
}

/// An integer in `1..=max`.
fn count(s: &str, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n > max => Err(format!("`{s}` is above the bound of {max}")),
        Ok(n) => Ok(n),
        Err(_) if s.trim().parse::<u128>().is_ok() => {
            Err(format!("`{s}` is above the bound of {max}"))
        }
        Err(_) => Err(format!("`{s}` is not a positive integer")),
    }
}

/// Backups per shard: 0 to [`Replication::MAX_REPLICAS`].
fn replicas_arg(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n <= Replication::MAX_REPLICAS => Ok(n),
        _ => Err(format!(
            "`{s}` is not a count of backups from 0 to {}",
            Replication::MAX_REPLICAS
        )),
    }
}

/// A heartbeat: `off`, or `INTERVAL[:MISSES]` (e.g. `100ms:3`; misses
/// default to 3), the interval from 1 ms to 10 s, misses from 1 to 100.
fn heartbeat_arg(s: &str) -> Result<HeartbeatArg, String> {
    let t = s.trim();
    if t == "off" {
        return Ok(HeartbeatArg(None));
    }
    let (interval, misses) = t.split_once(':').unwrap_or((t, "3"));
    let interval = socialbench_harness::parse_duration(interval).map_err(|e| e.to_string())?;
    if interval < Duration::from_millis(1) || interval > Duration::from_secs(10) {
        return Err(format!(
            "heartbeat interval in `{s}` must be from 1ms to 10s"
        ));
    }
    let misses = match misses.trim().parse::<u32>() {
        Ok(m) if (1..=100).contains(&m) => m,
        _ => return Err(format!("misses in `{s}` must be a count from 1 to 100")),
    };
    Ok(HeartbeatArg(Some(Heartbeat { interval, misses })))
}

/// `--heartbeat`'s value (`None`: off).
#[derive(Clone, Copy, Debug)]
pub struct HeartbeatArg(pub Option<Heartbeat>);

/// Defines a value parser per bounded count flag.
macro_rules! counts {
    ($($name:ident: $t:ty = $max:expr;)+) => {
        $(
            fn $name(s: &str) -> Result<$t, String> {
                count(s, $max as u64).map(|n| n as $t)
            }
        )+
    };
}

counts! {
    threads_arg: usize = limits::MAX_CLIENT_THREADS;
    shards_arg: usize = limits::MAX_SHARDS;
    stripes_arg: usize = EngineConfig::MAX_PARTITIONS;
    mailbox_arg: usize = EngineConfig::MAX_MAILBOX;
    outstanding_arg: usize = limits::MAX_OUTSTANDING;
    passes_arg: usize = limits::MAX_PASSES;
    repeat_arg: u32 = limits::MAX_PASSES;
    ops_arg: u64 = limits::MAX_OPS;
}

fn users_arg(s: &str) -> Result<u32, String> {
    socialbench_harness::sweep::parse_users(s)
}

/// A group `K/N` of a run loaded from several processes: 1 <= K <= N <= 1024.
fn group_arg(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}`: a group is K/N with 1 <= K <= N <= 1024 (e.g. 1/2 and 2/2)");
    let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n || n > 1024 {
        return Err(bad());
    }
    Ok((k, n))
}

fn fault_arg(s: &str) -> Result<String, String> {
    socialbench_harness::parse_fault(s, &mut Faults::default())
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// A share such as `2%`, `2` (percent) or `0.5%`: above 0 and below 100.
fn percent_arg(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage (e.g. 2%)"))?;
    if !(v > 0.0 && v < 100.0) {
        return Err(format!("`{s}` must be above 0% and below 100%"));
    }
    Ok(v / 100.0)
}

/// What the workload is, for every command that runs one.
#[derive(Debug, Args, Clone)]
pub struct WorkloadArgs {
    /// Workload preset (see `socialbench list`) or TOML file.
    #[arg(long, default_value = defaults::WORKLOAD)]
    pub workload: String,
    /// Seed of the workload, the open-loop arrivals and the faults.
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
}

/// How the engines are built, for every command that builds them.
#[derive(Debug, Args, Clone)]
pub struct EngineArgs {
    /// Capacity of each engine mailbox, in ops (a full one blocks the
    /// client); at most 1048576.
    #[arg(long, value_parser = mailbox_arg, default_value_t = defaults::MAILBOX)]
    pub mailbox: usize,
    /// Mailbox channel.
    #[arg(long, value_enum, default_value_t = ChannelKind::Crossbeam)]
    pub channel: ChannelKind,
    /// How idle engine threads and waiting clients wait: spin, park,
    /// adaptive or adaptive:SPIN_US.
    #[arg(long, default_value_t = IdlePolicy::default())]
    pub idle: IdlePolicy,
    /// What the audit after the run checks: every entity against the
    /// clients' logs of acknowledged writes (and the aggregates), or the
    /// aggregates only, with no log kept (for memory measurements at scale).
    #[arg(long, value_enum, default_value_t = AuditMode::Entities)]
    pub audit: AuditMode,
    /// Fault to inject (repeatable): stall:every=1s,for=200ms |
    /// drop-followups:rate=P | drop-deliveries:rate=P (push feeds) |
    /// panic:rate=P | drop-writes:rate=P[,kind=K] |
    /// duplicate-writes:rate=P[,kind=K] (K a write kind, e.g. create_post) |
    /// crash:partition=N,at=T[,every=E] (the partition loses its memory at T
    /// from the start of the measured window and recovers from its log) |
    /// kill-primary:shard=N,at=T[,every=E] (with --replicas: the shard's
    /// primary dies at T and the coordinator promotes a backup).
    #[arg(long, value_parser = fault_arg)]
    pub fault: Vec<String>,
    /// Backups per shard of the sharded engine (0 to 2, default 0), each on
    /// its own thread, fed the primary's log; compare and sweep give them
    /// to sharded alone. A list (0,1,2) is a dimension of sweep.
    #[arg(long, value_parser = replicas_arg, value_delimiter = ',')]
    pub replicas: Vec<usize>,
    /// When a replicated shard acknowledges a write: once every backup has
    /// it (sync, the default), or at once, holding replies only while a
    /// backup lags more than 4096 log entries (async). A list (sync,async)
    /// is a dimension of sweep.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub replication: Vec<ReplicationMode>,
    /// How the coordinator of a replicated shard set watches the
    /// primaries: a ping every INTERVAL, a primary that misses MISSES in a
    /// row is declared dead and its most up-to-date backup promoted
    /// (default 100ms:3, which outlasts this VM's vCPU pauses of ~100 ms);
    /// `off`: no coordinator, no failover.
    #[arg(long, value_name = "INTERVAL[:MISSES]|off", value_parser = heartbeat_arg)]
    pub heartbeat: Option<HeartbeatArg>,
    /// How home feeds are built: on read (pull, the default), pushed on
    /// write to materialised timelines (push), or pushed except for
    /// sources above --push-threshold members (hybrid). Push serves `New`
    /// home feeds; `Hot` and `Top` are pulled in every mode. The serial,
    /// actor, sharded and striped engines push; compare and sweep leave
    /// null and redis pulling. A list (pull,push,hybrid) is a dimension of
    /// sweep.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub feeds: Vec<FeedMode>,
    /// Hybrid feeds: a source with more members than this is pulled at
    /// read time instead of pushed (0 to 4294967295).
    #[arg(long, default_value_t = Feeds::DEFAULT_PUSH_THRESHOLD)]
    pub push_threshold: u32,
    /// How partitions keep their state: in memory only (none, the
    /// default), a write-ahead log written before each reply and synced
    /// once a second (log), or synced before each reply, one fsync per
    /// group of writes (fsync). The serial, actor, sharded and striped
    /// engines log;
    /// compare and sweep leave the others in memory. A list
    /// (none,log,fsync) is a dimension of sweep.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub durability: Vec<DurabilityMode>,
    /// Where `run` keeps its logs (default: data/ in the run's folder); it
    /// must be empty or new. compare and sweep keep each run's logs in its
    /// own folder.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// With --durability log or fsync: snapshot each partition's state
    /// every this many log records and start its log afresh, so recovery
    /// loads the snapshot and replays only the records after it (default:
    /// never). A snapshot pauses its partition (serial, striped) or its
    /// log thread (actor, sharded); the run reports how long.
    #[arg(long, value_name = "RECORDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every: Option<u64>,
    #[command(flatten)]
    /// Where the redis engine's server is.
    pub redis: RedisArgs,
}

/// How the clients offer load and how long they run.
#[derive(Debug, Args, Clone)]
pub struct LoopArgs {
    /// Warmup after the load phase, excluded from the results (at most 7 days).
    #[arg(long, value_parser = duration_arg)]
    pub warmup: Option<Duration>,
    /// Recording interval (default: 1s, or a tenth of a shorter measured
    /// window); at least 1ms, at most 1000000 per measured window.
    #[arg(long, value_parser = interval_arg)]
    pub interval: Option<Duration>,
    /// Ops outstanding per client thread (closed loop); at most 1048576.
    #[arg(long, value_parser = outstanding_arg, default_value_t = defaults::INFLIGHT)]
    pub inflight: usize,
    /// Most ops outstanding per client thread in the open loop; at most 1048576.
    #[arg(long, value_parser = outstanding_arg, default_value_t = defaults::MAX_OUTSTANDING)]
    pub max_outstanding: usize,
    /// How the open loop spaces its arrivals.
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
}

/// Where results go and how progress shows.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Progress on stderr: a bar on a terminal (auto), plain lines, or nothing.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Repeat until an interval is this narrow.
#[derive(Debug, Args, Clone)]
pub struct PrecisionArgs {
    /// Stop when the main interval's half-width is at most this (e.g. 2%):
    /// a run's throughput, a comparison's or sweep's ratios to the baseline.
    #[arg(long, value_parser = percent_arg)]
    pub precision: Option<f64>,
    /// The time budget of --precision (a run's --duration is its budget).
    #[arg(long, value_parser = duration_arg, requires = "precision")]
    pub max_time: Option<Duration>,
}

/// Where the `redis` engine finds its server; the other engines ignore these.
#[derive(Debug, Args, Clone, Default)]
pub struct RedisArgs {
    /// Redis server of the redis engine: redis://HOST:PORT (a /N suffix selects database N).
    #[arg(long, conflicts_with = "redis_cluster")]
    pub redis_url: Option<String>,
    /// Redis Cluster of the redis engine: seed nodes HOST:PORT,HOST:PORT,...
    #[arg(long, value_delimiter = ',')]
    pub redis_cluster: Option<Vec<String>>,
    /// Key prefix the redis engine owns; it must hold no keys yet (default: sb:<unique token>:).
    #[arg(long)]
    pub redis_prefix: Option<String>,
    /// Leave the redis engine's keys on the server after the run (to inspect them).
    #[arg(long)]
    pub redis_keep_keys: bool,
    /// Connections of each client thread to each Redis node, pipelined side by side (1-64; default 1). A key group's commands always take the same one.
    #[arg(long)]
    pub connections: Option<usize>,
    /// Send WAIT N after every write of the redis engine (a cluster whose masters have N replicas); fewer acknowledgements answer the op unavailable.
    #[arg(long, value_name = "N")]
    pub redis_wait: Option<u32>,
}

impl EngineArgs {
    /// The coordinator's settings: the `--heartbeat` given, else the
    /// default one when any backup is asked for.
    pub fn failover(&self) -> Failover {
        let heartbeat = match self.heartbeat {
            Some(HeartbeatArg(h)) => h,
            None if self.replicas.iter().any(|&r| r > 0) => Some(Heartbeat::DEFAULT),
            None => None,
        };
        Failover {
            heartbeat,
            hold_shipping: false,
        }
    }

    /// The one replication setting of `run`, `compare` and `capacity`;
    /// lists are for `sweep` ([`EngineArgs::replications`]).
    pub fn replication(&self) -> anyhow::Result<Replication> {
        match self.replications()[..] {
            [one] => Ok(one),
            _ => Err(bad_input(
                "--replicas and --replication take one value here; lists are for sweep",
            )),
        }
    }

    /// The one durability mode of `run`, `compare` and `capacity` (default
    /// none); lists are for `sweep`.
    pub fn durability_mode(&self) -> anyhow::Result<DurabilityMode> {
        match self.durability[..] {
            [] => Ok(DurabilityMode::None),
            [one] => Ok(one),
            _ => Err(bad_input(
                "--durability takes one value here; lists are for sweep",
            )),
        }
    }

    /// Refuses `--data-dir` on a command that runs several engines.
    fn refuse_data_dir(&self, command: &str) -> anyhow::Result<()> {
        match &self.data_dir {
            Some(_) => Err(bad_input(format!(
                "--data-dir is for run; {command} keeps each run's logs in its own folder"
            ))),
            None => Ok(()),
        }
    }

    /// The one feed mode of `run`, `compare` and `capacity` (default pull);
    /// lists are for `sweep`.
    pub fn feed_mode(&self) -> anyhow::Result<FeedMode> {
        match self.feeds[..] {
            [] => Ok(FeedMode::Pull),
            [one] => Ok(one),
            _ => Err(bad_input(
                "--feeds takes one value here; lists are for sweep",
            )),
        }
    }

    /// Every (backups, mode) pair the flags name: each count of
    /// `--replicas` with each mode of `--replication` (a count of 0 once,
    /// without a mode). Defaults: 0 backups, sync.
    pub fn replications(&self) -> Vec<Replication> {
        let counts = if self.replicas.is_empty() {
            vec![0]
        } else {
            self.replicas.clone()
        };
        let modes = if self.replication.is_empty() {
            vec![ReplicationMode::Sync]
        } else {
            self.replication.clone()
        };
        let mut out: Vec<Replication> = Vec::new();
        for &replicas in &counts {
            for &mode in &modes {
                let r = if replicas == 0 {
                    Replication::default()
                } else {
                    Replication { replicas, mode }
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }
}

impl RedisArgs {
    /// The redis engine's configuration from the flags, for
    /// `RunConfig::redis`. Without a server flag it is `None`, and
    /// `--engine redis` then says what it needs (exit 2). In a build without
    /// the `redis` feature any of these flags is bad input.
    pub fn config(&self) -> anyhow::Result<Option<RedisConfig>> {
        let any = self.redis_url.is_some()
            || self.redis_cluster.is_some()
            || self.redis_prefix.is_some()
            || self.redis_keep_keys
            || self.connections.is_some()
            || self.redis_wait.is_some();
        if cfg!(not(feature = "redis")) && any {
            return Err(bad_input(
                "this build has no redis engine (built without the `redis` feature)",
            ));
        }
        let target = match (&self.redis_url, &self.redis_cluster) {
            (Some(url), _) => RedisTarget::Server(url.clone()),
            (None, Some(seeds)) => {
                let seeds: Vec<String> = seeds
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if seeds.is_empty() {
                    return Err(bad_input("--redis-cluster needs at least one HOST:PORT"));
                }
                RedisTarget::Cluster(seeds)
            }
            (None, None) if any => {
                return Err(bad_input(
                    "--redis-prefix, --redis-keep-keys, --redis-wait and --connections need --redis-url or --redis-cluster",
                ));
            }
            (None, None) => return Ok(None),
        };
        let mut config = RedisConfig::new(target);
        config.prefix = self.redis_prefix.clone();
        config.keep_keys = self.redis_keep_keys;
        config.wait = self.redis_wait;
        if let Some(c) = self.connections {
            if !(1..=RedisConfig::MAX_CONNECTIONS).contains(&c) {
                return Err(bad_input(format!(
                    "--connections {c}: the connections per Redis node are 1..={}",
                    RedisConfig::MAX_CONNECTIONS
                )));
            }
            config.connections = c;
        }
        Ok(Some(config))
    }
}

/// A run configuration with the shared groups applied, replication apart:
/// one value for `run`, `compare` and `capacity`
/// ([`EngineArgs::replication`]), a dimension of `sweep`.
/// Refuses `--snapshot-every` where nothing logs (`modes`: the durability
/// modes the command runs).
fn check_snapshots(e: &EngineArgs, modes: &[DurabilityMode]) -> anyhow::Result<()> {
    if e.snapshot_every.is_some() && !modes.iter().any(|m| *m != DurabilityMode::None) {
        return Err(bad_input(
            "--snapshot-every snapshots the logs: give --durability log or fsync",
        ));
    }
    Ok(())
}

fn base_config(
    engine: EngineKind,
    w: &WorkloadArgs,
    e: &EngineArgs,
    l: &LoopArgs,
    o: &OutputArgs,
) -> anyhow::Result<RunConfig> {
    let mut c = RunConfig::new(engine);
    c.workload = w.workload.clone();
    c.seed = w.seed;
    c.mailbox = e.mailbox;
    c.channel = e.channel;
    c.idle = e.idle;
    c.audit = e.audit;
    c.feeds.push_threshold = e.push_threshold;
    c.durability.snapshot_every = e.snapshot_every.unwrap_or(0);
    for f in &e.fault {
        socialbench_harness::parse_fault(f, &mut c.faults)?;
    }
    c.redis = e.redis.config()?;
    c.failover = e.failover();
    if let Some(w) = l.warmup {
        c.warmup = w;
    }
    c.interval = l.interval;
    c.mode = LoopMode::Closed {
        inflight: l.inflight,
    };
    c.progress = o.progress;
    Ok(c)
}

/// The open loop at `rate` with the group's bound and arrivals.
fn open_loop(l: &LoopArgs, rate: f64) -> LoopMode {
    LoopMode::Open {
        rate,
        max_outstanding: l.max_outstanding,
        arrivals: l.arrivals,
    }
}

/// `socialbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Check everything (flags, workload, engine configuration, the memory
    /// the run needs) without running: prints one line starting `ok:` and
    /// exits 0, or the error and exits 2.
    #[arg(long)]
    pub check: bool,
    /// Engine.
    #[arg(long, value_enum, default_value_t = EngineKind::Sharded)]
    pub engine: EngineKind,
    /// Client threads (default: the cores left after the engine's
    /// threads); at most 1024.
    #[arg(long, value_parser = threads_arg)]
    pub threads: Option<usize>,
    /// Shards of the sharded engine (sets the partition count); at most 1024.
    #[arg(long, value_parser = shards_arg, conflicts_with = "stripes")]
    pub shards: Option<usize>,
    /// Stripes of the striped engine (sets the partition count); at most 65536.
    #[arg(long, value_parser = stripes_arg)]
    pub stripes: Option<usize>,
    /// Core placement: auto, none, or a list like 0,1 or 0-3 (engine threads first).
    #[arg(long, value_parser = pin_arg, default_value = "auto")]
    pub pin: PinSpec,
    /// Simulated users (overrides the scenario's), e.g. 100k; at most 2^30,
    /// and the run must fit in the memory available (see --check).
    #[arg(long, value_parser = users_arg)]
    pub users: Option<u32>,
    /// Open loop at this total rate in ops/s (e.g. 50k); at most 1G.
    #[arg(long, value_parser = rate_arg)]
    pub rate: Option<f64>,
    /// Open loop at users x the scenario's per-user rate.
    #[arg(long, conflicts_with = "rate")]
    pub open: bool,
    /// Measured duration (default 10s, at most 7 days); with --precision,
    /// the longest the run may take.
    #[arg(long, value_parser = duration_arg, conflicts_with = "ops")]
    pub duration: Option<Duration>,
    /// Measured ops in total instead of a duration; at most 10^12.
    #[arg(long, value_parser = ops_arg)]
    pub ops: Option<u64>,
    /// Name of the run's folder (default: timestamp-engine).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Root folder of the results.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Stop as soon as the throughput's interval has at most this half-width (e.g. 2%).
    #[arg(long, value_parser = percent_arg)]
    pub precision: Option<f64>,
    /// Start from the logs of a durable run's data dir instead of a load
    /// phase (`--durability` defaults to fsync here): the partitions replay
    /// their logs, the recovered state is checked against the one the run
    /// that wrote them ended with, and the audit expects that run's
    /// acknowledged writes plus this one's.
    #[arg(long)]
    pub recover: Option<PathBuf>,
    /// Run group K of N of one run loaded from N processes (redis engine,
    /// e.g. 1/2 on one machine and 2/2 on another): each runs a disjoint
    /// slice of the users and of the load phase; they meet through the Redis
    /// server (after each load stage, and to start the measured window
    /// together) under one shared --redis-prefix, and --rate and --ops are
    /// the whole run's. Needs --threads (the same in every group). The audit
    /// is `socialbench merge`'s, which also deletes the keys.
    #[arg(long, value_parser = group_arg, value_name = "K/N")]
    pub group: Option<(usize, usize)>,
    /// How long a group's process waits for the others at a barrier
    /// (default 60s).
    #[arg(long, value_parser = duration_arg, requires = "group")]
    pub group_timeout: Option<Duration>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine_args: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loops: LoopArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

impl RunArgs {
    /// The run's configuration.
    pub fn config(&self) -> anyhow::Result<RunConfig> {
        let mut c = base_config(
            self.engine,
            &self.workload,
            &self.engine_args,
            &self.loops,
            &self.output,
        )?;
        c.replication = self.engine_args.replication()?;
        c.feeds.mode = self.engine_args.feed_mode()?;
        c.durability.mode = self.engine_args.durability_mode()?;
        c.durability.dir = self.engine_args.data_dir.clone();
        if let Some(dir) = &self.recover {
            if self.engine_args.data_dir.is_some() {
                return Err(bad_input(
                    "--recover DIR names the data dir: leave --data-dir out",
                ));
            }
            c.durability.recover = true;
            c.durability.dir = Some(dir.clone());
            if c.durability.mode == DurabilityMode::None {
                c.durability.mode = DurabilityMode::Fsync;
            }
        }
        check_snapshots(&self.engine_args, &[c.durability.mode])?;
        c.users = self.users;
        c.threads = self.threads;
        c.partitions = self.shards.or(self.stripes);
        c.pin = self.pin.clone();
        c.run_id = self.run_id.clone();
        c.out_root = Some(self.out.clone());
        c.precision = self.precision;
        c.limit = match (self.ops, self.duration) {
            (Some(n), _) => Limit::Ops(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => Limit::Duration(defaults::DURATION),
        };
        if let Some(rate) = self.rate {
            c.mode = open_loop(&self.loops, rate);
        } else if self.open {
            // users x per-user rate: needs the scenario.
            let mut s = socialbench_workload::Scenario::from_arg(&c.workload)
                .map_err(|e| bad_input(e.to_string()))?;
            if let Some(u) = c.users {
                s.users = u;
            }
            c.mode = open_loop(&self.loops, s.users as f64 * s.per_user_rate());
        }
        if let Some((k, n)) = self.group {
            self.group_config(&mut c, k, n)?;
        }
        Ok(c)
    }

    /// `--group K/N`: what every group must agree on becomes the group's
    /// identity, which the engine checks against the others'.
    fn group_config(&self, c: &mut RunConfig, k: usize, n: usize) -> anyhow::Result<()> {
        use std::hash::{Hash, Hasher};
        if self.engine != EngineKind::Redis {
            return Err(bad_input(
                "--group: only the redis engine runs from several processes (they meet through its server)",
            ));
        }
        if self.recover.is_some() {
            return Err(bad_input("--group and --recover do not go together"));
        }
        let Some(threads) = self.threads else {
            return Err(bad_input(
                "--group needs --threads, the same in every group (the default depends on the machine)",
            ));
        };
        let Some(redis) = c.redis.as_mut() else {
            return Err(bad_input(
                "--group needs the shared server: --redis-url or --redis-cluster, and --redis-prefix",
            ));
        };
        if redis.prefix.is_none() {
            return Err(bad_input(
                "--group needs --redis-prefix: the key prefix every group of the run shares",
            ));
        }
        let scenario = socialbench_workload::Scenario::from_arg(&c.workload)
            .map_err(|e| bad_input(e.to_string()))?;
        // The scenario itself, not its file's name: every group must load and
        // run the same one. Same binary, same hash.
        let mut h = std::hash::DefaultHasher::new();
        serde_json::to_string(&scenario)
            .unwrap_or_default()
            .hash(&mut h);
        let identity = format!(
            "workload {} #{:016x}, seed {}, users {}, {threads} client threads per group, {n} groups, {:?}, {:?}, warm-up {:?}, {} connections",
            c.workload,
            h.finish(),
            c.seed,
            c.users
                .map_or("of the scenario".to_string(), |u| u.to_string()),
            c.mode,
            c.limit,
            c.warmup,
            redis.connections,
        );
        redis.group = Some(socialbench_engines::RedisGroup {
            k,
            n,
            identity,
            timeout: self.group_timeout.unwrap_or(Duration::from_secs(60)),
        });
        Ok(())
    }
}

/// `socialbench compare` (also bare `socialbench`, with these defaults).
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Check everything (flags, workload, engine configuration, the memory
    /// the run needs) without running: prints one line starting `ok:` and
    /// exits 0, or the error and exits 2.
    #[arg(long)]
    pub check: bool,
    /// Engines to compare, comma-separated (default: every in-process engine).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub engines: Vec<EngineKind>,
    /// The engine every other is compared with (one of --engines).
    #[arg(long, value_enum, default_value_t = EngineKind::Serial)]
    pub baseline: EngineKind,
    /// Interleaved passes (every engine once per pass); a verdict needs 6;
    /// at most 1000.
    #[arg(long, value_parser = passes_arg, default_value_t = 8)]
    pub passes: usize,
    /// Simulated users.
    #[arg(long, value_parser = users_arg, default_value = "10000")]
    pub users: u32,
    /// Measured duration of each run.
    #[arg(long, value_parser = duration_arg, default_value = "1500ms")]
    pub duration: Duration,
    /// Root folder of the results.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Name of the comparison's folder (default: timestamp-compare).
    #[arg(long)]
    pub run_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub precision: PrecisionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine_args: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loops: LoopArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

impl CompareArgs {
    /// The defaults of bare `socialbench`.
    pub fn defaults() -> CompareArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: CompareArgs,
        }
        Only::parse_from(["compare"]).args
    }

    /// The comparison's spec.
    pub fn spec(&self) -> anyhow::Result<CompareSpec> {
        let mut base = base_config(
            EngineKind::Null,
            &self.workload,
            &self.engine_args,
            &self.loops,
            &self.output,
        )?;
        base.replication = self.engine_args.replication()?;
        base.feeds.mode = self.engine_args.feed_mode()?;
        base.durability.mode = self.engine_args.durability_mode()?;
        check_snapshots(&self.engine_args, &[base.durability.mode])?;
        self.engine_args.refuse_data_dir("compare")?;
        if self.loops.warmup.is_none() {
            base.warmup = Duration::from_millis(500);
        }
        base.users = Some(self.users);
        base.limit = Limit::Duration(self.duration);
        base.out_root = Some(self.out.clone());
        base.run_id = self.run_id.clone();
        let engines = if self.engines.is_empty() {
            EngineKind::ALL.to_vec()
        } else {
            self.engines.clone()
        };
        Ok(CompareSpec {
            base,
            engines,
            baseline: self.baseline,
            passes: self.passes,
            precision: self.precision.precision,
            max_time: self.precision.max_time,
        })
    }
}

/// `socialbench sweep`. Lists are comma-separated; defaults fit the machine.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Check everything (flags, workload, engine configuration, the memory
    /// the run needs) without running: prints one line starting `ok:` and
    /// exits 0, or the error and exits 2.
    #[arg(long)]
    pub check: bool,
    /// Engines (null and serial always run as baselines); redis needs --redis-url or --redis-cluster.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "actor,sharded,striped"
    )]
    pub engines: Vec<EngineKind>,
    /// Client thread counts (default: powers of two up to the cores, and
    /// the cores); each at most 1024.
    #[arg(long, value_parser = threads_arg, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Shard counts of the sharded engine (default: as --threads); each at most 1024.
    #[arg(long, value_parser = shards_arg, value_delimiter = ',')]
    pub shards: Vec<usize>,
    /// Stripe counts of the striped engine (default: as --shards); each at most 65536.
    #[arg(long, value_parser = stripes_arg, value_delimiter = ',')]
    pub stripes: Vec<usize>,
    /// Users values, e.g. 1000,100k (default: the scenario's); each at most
    /// 2^30, and each cell must fit in the memory available.
    #[arg(long, value_parser = users_arg, value_delimiter = ',')]
    pub users: Vec<u32>,
    /// Open-loop rates (at most 1G ops/s), e.g. 10k,50k, or shares of each line's own
    /// closed-loop capacity, e.g. 50%: after each closed-loop cell,
    /// ascending until saturated.
    #[arg(long, value_parser = clap::value_parser!(RateSpec), value_delimiter = ',')]
    pub rates: Vec<RateSpec>,
    /// Measure every cell this many times (passes over the matrix); the
    /// table and COST use each cell's median; verdicts need 6; at most
    /// 1000. A sweep has at most 100000 cells.
    #[arg(long, value_parser = repeat_arg, default_value_t = 1)]
    pub repeat: u32,
    /// Measured duration of each cell.
    #[arg(long, value_parser = duration_arg, default_value = "5s")]
    pub duration: Duration,
    /// The sweep's folder; give an existing sweep's folder to resume it
    /// (default: results/sweep-YYYYMMDD-HHMMSS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub precision: PrecisionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine_args: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loops: LoopArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

impl SweepArgs {
    /// The sweep's spec.
    pub fn spec(&self) -> anyhow::Result<SweepSpec> {
        // Replication is a dimension here (`replications`): each line gets its own.
        let mut base = base_config(
            EngineKind::Null,
            &self.workload,
            &self.engine_args,
            &self.loops,
            &self.output,
        )?;
        base.limit = Limit::Duration(self.duration);
        self.engine_args.refuse_data_dir("sweep")?;
        check_snapshots(&self.engine_args, &self.engine_args.durability)?;
        let cores = socialbench_harness::pinning::machine_cores().len().max(1);
        let or = |v: &[usize], d: Vec<usize>| if v.is_empty() { d } else { v.to_vec() };
        let threads = or(
            &self.threads,
            socialbench_harness::sweep::default_thread_counts(cores),
        );
        let shards = or(&self.shards, threads.clone());
        let stripes = or(&self.stripes, shards.clone());
        let users = if self.users.is_empty() {
            let s = socialbench_workload::Scenario::from_arg(&self.workload.workload)
                .map_err(|e| bad_input(e.to_string()))?;
            vec![s.users]
        } else {
            self.users.clone()
        };
        let out_dir = self.out.clone().unwrap_or_else(|| {
            PathBuf::from("results").join(socialbench_harness::run::new_run_id("sweep"))
        });
        Ok(SweepSpec {
            engines: self.engines.clone(),
            threads,
            shards,
            stripes,
            replications: self.engine_args.replications(),
            feeds: self.engine_args.feeds.clone(),
            durabilities: self.engine_args.durability.clone(),
            users,
            rates: self.rates.clone(),
            max_outstanding: self.loops.max_outstanding,
            repeat: self.repeat,
            precision: self.precision.precision,
            max_time: self.precision.max_time,
            base,
            out_dir,
        })
    }
}

/// `socialbench capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// Check everything (flags, workload, engine configuration, the memory
    /// the run needs) without running: prints one line starting `ok:` and
    /// exits 0, or the error and exits 2.
    #[arg(long)]
    pub check: bool,
    /// Engine.
    #[arg(long, value_enum)]
    pub engine: EngineKind,
    /// The latency SLO on intended latency, e.g. p99=1ms (p50, p90, p99, p99.9, p99.99).
    #[arg(long)]
    pub slo: Slo,
    /// Client threads (default: the cores left after the engine's
    /// threads); at most 1024.
    #[arg(long, value_parser = threads_arg)]
    pub threads: Option<usize>,
    /// Shards of the sharded engine; at most 1024.
    #[arg(long, value_parser = shards_arg, conflicts_with = "stripes")]
    pub shards: Option<usize>,
    /// Stripes of the striped engine; at most 65536.
    #[arg(long, value_parser = stripes_arg)]
    pub stripes: Option<usize>,
    /// Simulated users (overrides the scenario's).
    #[arg(long, value_parser = users_arg)]
    pub users: Option<u32>,
    /// Stop when the highest rate meeting the SLO and the lowest missing it are this close.
    #[arg(long, value_parser = percent_arg, default_value = "5%")]
    pub tolerance: f64,
    /// First duration of each probe (doubled while undecided).
    #[arg(long, value_parser = duration_arg, default_value = "2s")]
    pub probe: Duration,
    /// Longest a probe is extended to.
    #[arg(long, value_parser = duration_arg, default_value = "16s")]
    pub max_probe: Duration,
    /// The search's folder (default: results/capacity-YYYYMMDD-HHMMSS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine_args: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loops: LoopArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

impl CapacityArgs {
    /// The base configuration of every probe (the search sets the loop).
    pub fn config(&self) -> anyhow::Result<RunConfig> {
        let mut c = base_config(
            self.engine,
            &self.workload,
            &self.engine_args,
            &self.loops,
            &self.output,
        )?;
        c.replication = self.engine_args.replication()?;
        c.feeds.mode = self.engine_args.feed_mode()?;
        c.durability.mode = self.engine_args.durability_mode()?;
        check_snapshots(&self.engine_args, &[c.durability.mode])?;
        self.engine_args.refuse_data_dir("capacity")?;
        c.users = self.users;
        c.threads = self.threads;
        c.partitions = self.shards.or(self.stripes);
        c.mode = open_loop(&self.loops, 1.0);
        Ok(c)
    }
}

/// `socialbench diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The reference: a run, comparison or sweep folder.
    pub a: PathBuf,
    /// The folder compared with it (same kind).
    pub b: PathBuf,
    /// Exit 1 when any throughput of B is slower than A's.
    #[arg(long)]
    pub fail_if_slower: bool,
}

/// `socialbench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A run, comparison or sweep folder.
    pub dir: PathBuf,
}

/// `socialbench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Folder to write the merged run to (created; must not hold a run).
    pub out: PathBuf,
    /// The group runs' folders, one per group (1/N .. N/N).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The groups' Redis server, to audit the run and then delete its keys
    /// (without it the audit is not done and the keys stay).
    #[arg(long, conflicts_with = "redis_cluster")]
    pub redis_url: Option<String>,
    /// The groups' Redis Cluster: seed nodes HOST:PORT,...
    #[arg(long, value_delimiter = ',')]
    pub redis_cluster: Option<Vec<String>>,
    /// Leave the run's keys on the server after the audit.
    #[arg(long)]
    pub redis_keep_keys: bool,
}

impl MergeArgs {
    /// The server to audit against, with the groups' `prefix`; `None`
    /// without a server flag.
    pub fn redis(&self, prefix: &str) -> anyhow::Result<Option<RedisConfig>> {
        let server = RedisArgs {
            redis_url: self.redis_url.clone(),
            redis_cluster: self.redis_cluster.clone(),
            redis_prefix: Some(prefix.to_string()),
            redis_keep_keys: self.redis_keep_keys,
            connections: None,
            redis_wait: None,
        };
        if self.redis_url.is_none() && self.redis_cluster.is_none() {
            return Ok(None);
        }
        server.config()
    }
}

/// `socialbench trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Ops to generate (run phase); at most 10^12.
    #[arg(long, value_parser = ops_arg, default_value_t = 1000)]
    pub ops: u64,
    /// Simulated users (overrides the scenario's).
    #[arg(long, value_parser = users_arg)]
    pub users: Option<u32>,
    /// Also print the load phase's ops first.
    #[arg(long)]
    pub include_load: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_socialbench_compares_every_in_process_engine_against_c1() {
        let spec = CompareArgs::defaults().spec().unwrap();
        assert_eq!(spec.engines, EngineKind::ALL.to_vec());
        assert_eq!(spec.baseline, EngineKind::Serial);
        assert_eq!(spec.passes, 8);
        assert_eq!(spec.base.users, Some(10_000));
    }

    #[test]
    fn lists_take_typed_items_and_reject_bad_ones() {
        let parse = |args: &[&str]| Cli::try_parse_from(["socialbench"].iter().chain(args));
        let cli = parse(&[
            "sweep",
            "--threads",
            "2,1",
            "--rates",
            "10k,50%",
            "--users",
            "1k",
        ])
        .unwrap();
        let Some(Command::Sweep(s)) = cli.command else {
            panic!()
        };
        assert_eq!(s.threads, vec![2, 1]);
        assert_eq!(
            s.rates,
            vec![RateSpec::PerSec(10_000.0), RateSpec::OfCapacity(0.5)]
        );
        assert_eq!(s.users, vec![1000]);
        for bad in [
            &["sweep", "--threads", "0"][..],
            &["sweep", "--engines", "actor,quantum"],
            &["sweep", "--rates", "2000%"],
            &["run", "--precision", "0"],
            &["run", "--precision", "150%"],
            &["run", "--idle", "adaptive:0"],
            &["capacity", "--engine", "actor", "--slo", "p99"],
            &["capacity", "--engine", "actor", "--slo", "p99=1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
