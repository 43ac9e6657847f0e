//! Command-line flags (clap derive) and their translation into a
//! [`RunConfig`]. Value parsers reuse the harness's parsers, so a malformed
//! duration, rate, pin list or fault is a clap usage error: one line, exit 2.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use socialbench_engines::{ChannelKind, EngineKind, Faults, RedisConfig, RedisTarget};
use socialbench_harness::sweep::{self, SweepSpec};
use socialbench_harness::{Limit, LoopMode, PinSpec, ProgressMode, RunConfig};

/// Simulated users of a social platform driving interchangeable concurrency
/// engines; honest latency and throughput. Without a command: a quick
/// comparison of every engine (about 30 s).
#[derive(Debug, Parser)]
#[command(name = "socialbench", version, about)]
pub struct Cli {
    /// What to do (default: compare every engine quickly).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one engine on one workload and write results/<run-id>/.
    Run(Box<RunArgs>),
    /// Run a matrix of engines x threads x shards/stripes x users x rates,
    /// one cell at a time; a row per cell in DIR/sweep.csv; resumable.
    Sweep(Box<SweepArgs>),
    /// (Re)draw the plots of a run, comparison or sweep folder.
    Plot(PlotArgs),
    /// Print the generated ops as JSON lines (no engine).
    Trace(TraceArgs),
    /// List engines, workloads and their parameters.
    List,
}

fn engine_arg(s: &str) -> Result<EngineKind, String> {
    EngineKind::parse(s).ok_or_else(|| {
        format!(
            "unknown engine `{s}` (known: {})",
            EngineKind::known_names()
        )
    })
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    socialbench_harness::parse_duration(s).map_err(|e| e.to_string())
}

fn rate_arg(s: &str) -> Result<f64, String> {
    socialbench_harness::parse_rate(s).map_err(|e| e.to_string())
}

fn pin_arg(s: &str) -> Result<PinSpec, String> {
    PinSpec::parse(s).map_err(|e| e.to_string())
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a positive integer")),
    }
}

fn positive_u64(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a positive integer")),
    }
}

fn fault_arg(s: &str) -> Result<String, String> {
    socialbench_harness::parse_fault(s, &mut Faults::default())
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn channel_arg(s: &str) -> Result<ChannelKind, String> {
    match s {
        "crossbeam" => Ok(ChannelKind::Crossbeam),
        "flume" => Ok(ChannelKind::Flume),
        _ => Err(format!("unknown channel `{s}` (known: crossbeam, flume)")),
    }
}

/// Flags shared by `run` and the default comparison.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Workload preset (see `socialbench list`) or TOML file.
    #[arg(long, default_value = "reddit")]
    pub workload: String,
    /// Simulated users (overrides the scenario's).
    #[arg(long, value_parser = positive_u64)]
    pub users: Option<u64>,
    /// Seed of the workload and arrivals.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Warmup after the load phase, excluded from the results.
    #[arg(long, value_parser = duration_arg)]
    pub warmup: Option<Duration>,
    /// Recording interval (default: 1s, or a tenth of a shorter measured window).
    #[arg(long, value_parser = duration_arg)]
    pub interval: Option<Duration>,
    /// Root folder of the results.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Progress: auto (bar on a terminal), plain, quiet.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "quiet"])]
    pub progress: String,
}

/// `socialbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Engine: null, serial, actor, sharded, striped, redis.
    #[arg(long, value_parser = engine_arg, default_value = "sharded")]
    pub engine: EngineKind,
    /// Client threads (default: the cores left after the engine's threads).
    #[arg(long, value_parser = positive)]
    pub threads: Option<usize>,
    /// Shards of the sharded engine (sets the partition count).
    #[arg(long, value_parser = positive, conflicts_with = "stripes")]
    pub shards: Option<usize>,
    /// Stripes of the striped engine (sets the partition count).
    #[arg(long, value_parser = positive)]
    pub stripes: Option<usize>,
    /// Core placement: auto, none, or a list like 0,1 or 0-3 (engine threads first).
    #[arg(long, value_parser = pin_arg, default_value = "auto")]
    pub pin: PinSpec,
    /// Ops outstanding per client thread (closed loop).
    #[arg(long, value_parser = positive, default_value_t = 16)]
    pub inflight: usize,
    /// Open loop at this total rate in ops/s (e.g. 50k), Poisson arrivals.
    #[arg(long, value_parser = rate_arg)]
    pub rate: Option<f64>,
    /// Open loop at users x the scenario's per-user rate.
    #[arg(long, conflicts_with = "rate")]
    pub open: bool,
    /// Most ops outstanding per client thread in the open loop.
    #[arg(long, value_parser = positive, default_value_t = 10_000)]
    pub max_outstanding: usize,
    /// Measured duration (default 10s).
    #[arg(long, value_parser = duration_arg, conflicts_with = "ops")]
    pub duration: Option<Duration>,
    /// Measured ops in total instead of a duration.
    #[arg(long, value_parser = positive_u64)]
    pub ops: Option<u64>,
    /// Mailbox capacity of channel-based engines.
    #[arg(long, value_parser = positive, default_value_t = 1024)]
    pub mailbox: usize,
    /// Mailbox channel: crossbeam or flume.
    #[arg(long, value_parser = channel_arg, default_value = "crossbeam")]
    pub channel: ChannelKind,
    /// Fault to inject (repeatable): stall:every=1s,for=200ms | drop-followups:rate=P | panic:rate=P.
    #[arg(long, value_parser = fault_arg)]
    pub fault: Vec<String>,
    /// Name of the run's folder (default: timestamp-engine).
    #[arg(long)]
    pub run_id: Option<String>,
    #[command(flatten)]
    /// Shared flags.
    pub common: CommonArgs,
    #[command(flatten)]
    /// Where the redis engine's server is.
    pub redis: RedisArgs,
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
}

impl RedisArgs {
    /// The redis engine's configuration from the flags, for
    /// `RunConfig::redis`. Without a server flag it is `None`, and
    /// `--engine redis` then says what it needs (exit 2). In a build without
    /// the `redis` feature any of these flags is bad input.
    pub fn config(&self) -> anyhow::Result<Option<RedisConfig>> {
        if cfg!(not(feature = "redis"))
            && (self.redis_url.is_some()
                || self.redis_cluster.is_some()
                || self.redis_prefix.is_some()
                || self.redis_keep_keys)
        {
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
            (None, None) => {
                if self.redis_prefix.is_some() || self.redis_keep_keys {
                    return Err(bad_input(
                        "--redis-prefix and --redis-keep-keys need --redis-url or --redis-cluster",
                    ));
                }
                return Ok(None);
            }
        };
        let mut config = RedisConfig::new(target);
        config.prefix = self.redis_prefix.clone();
        config.keep_keys = self.redis_keep_keys;
        Ok(Some(config))
    }
}

/// A bad-input error (the binary exits 2 on it).
pub fn bad_input(m: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(socialbench_harness::RunError::BadInput(m.into()))
}

/// `socialbench sweep`. Lists are comma-separated; defaults fit the machine.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Engines (null and serial always run as baselines); redis needs --redis-url or --redis-cluster.
    #[arg(long, default_value = "actor,sharded,striped")]
    pub engines: String,
    /// Client thread counts (default: powers of two up to the cores, and the cores).
    #[arg(long)]
    pub threads: Option<String>,
    /// Shard counts of the sharded engine (default: as --threads).
    #[arg(long)]
    pub shards: Option<String>,
    /// Stripe counts of the striped engine (default: as --shards).
    #[arg(long)]
    pub stripes: Option<String>,
    /// Users values, e.g. 1000,100k (default: the scenario's).
    #[arg(long)]
    pub users: Option<String>,
    /// Open-loop rates, e.g. 10k,50k, or shares of each line's own closed-loop capacity, e.g. 50%: after each closed-loop cell, ascending until saturated.
    #[arg(long)]
    pub rates: Option<String>,
    /// Measure every cell this many times (passes over the matrix); the table and COST use each cell's median.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Measured duration of each cell.
    #[arg(long, value_parser = duration_arg, default_value = "5s")]
    pub duration: Duration,
    /// Warmup of each cell.
    #[arg(long, value_parser = duration_arg, default_value = "1s")]
    pub warmup: Duration,
    /// Workload preset (see `socialbench list`) or TOML file.
    #[arg(long, default_value = "reddit")]
    pub workload: String,
    /// Seed of the workload and arrivals.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Ops outstanding per client thread (closed loop).
    #[arg(long, value_parser = positive, default_value_t = 16)]
    pub inflight: usize,
    /// Most ops outstanding per client thread in the open loop.
    #[arg(long, value_parser = positive, default_value_t = 10_000)]
    pub max_outstanding: usize,
    /// Mailbox capacity of channel-based engines.
    #[arg(long, value_parser = positive, default_value_t = 1024)]
    pub mailbox: usize,
    /// Mailbox channel: crossbeam or flume.
    #[arg(long, value_parser = channel_arg, default_value = "crossbeam")]
    pub channel: ChannelKind,
    /// Recording interval (default: 1s, or a tenth of a shorter measured window).
    #[arg(long, value_parser = duration_arg)]
    pub interval: Option<Duration>,
    /// The sweep's folder; give an existing sweep's folder to resume it
    /// (default: results/sweep-YYYYMMDD-HHMMSS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Progress of each cell: auto (bar on a terminal), plain, quiet.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "quiet"])]
    pub progress: String,
    #[command(flatten)]
    /// Where the redis engine's server is (when --engines names redis).
    pub redis: RedisArgs,
}

impl SweepArgs {
    /// The sweep's spec (bad lists are bad input: exit 2).
    pub fn spec(&self) -> anyhow::Result<SweepSpec> {
        let redis = self.redis.config()?;
        let cores = socialbench_harness::pinning::machine_cores().len().max(1);
        let threads = match &self.threads {
            Some(s) => sweep::parse_counts("--threads", s)?,
            None => sweep::default_thread_counts(cores),
        };
        let shards = match &self.shards {
            Some(s) => sweep::parse_counts("--shards", s)?,
            None => threads.clone(),
        };
        let stripes = match &self.stripes {
            Some(s) => sweep::parse_counts("--stripes", s)?,
            None => shards.clone(),
        };
        let users = match &self.users {
            Some(s) => sweep::parse_users(s)?,
            None => {
                let s = socialbench_workload::Scenario::from_arg(&self.workload)
                    .map_err(|e| bad_input(e.to_string()))?;
                vec![s.users]
            }
        };
        let rates = match &self.rates {
            Some(s) => sweep::parse_rates(s)?,
            None => Vec::new(),
        };
        let mut base = RunConfig::new(EngineKind::Null);
        base.redis = redis;
        base.workload = self.workload.clone();
        base.seed = self.seed;
        base.warmup = self.warmup;
        base.limit = Limit::Duration(self.duration);
        base.interval = self.interval;
        base.mailbox = self.mailbox;
        base.channel = self.channel;
        base.mode = LoopMode::Closed {
            inflight: self.inflight,
        };
        base.progress = progress_mode(&self.progress);
        let out_dir = self.out.clone().unwrap_or_else(|| {
            PathBuf::from("results").join(socialbench_harness::run::new_run_id("sweep"))
        });
        Ok(SweepSpec {
            engines: sweep::parse_engines(&self.engines)?,
            threads,
            shards,
            stripes,
            users,
            rates,
            max_outstanding: self.max_outstanding,
            repeat: self.repeat,
            precision: None,
            max_time: None,
            base,
            out_dir,
        })
    }
}

/// `socialbench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A run folder (timeseries.csv, summary.csv), a comparison folder, or a sweep folder (sweep.csv).
    pub dir: PathBuf,
}

/// `socialbench trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Workload preset or TOML file.
    #[arg(long, default_value = "reddit")]
    pub workload: String,
    /// Ops to generate (run phase).
    #[arg(long, value_parser = positive_u64, default_value_t = 1000)]
    pub ops: u64,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated users (overrides the scenario's).
    #[arg(long, value_parser = positive_u64)]
    pub users: Option<u64>,
    /// Also print the load phase's ops first.
    #[arg(long)]
    pub include_load: bool,
}

fn progress_mode(s: &str) -> ProgressMode {
    match s {
        "plain" => ProgressMode::Plain,
        "quiet" => ProgressMode::Quiet,
        _ => ProgressMode::Auto,
    }
}

/// Users as the scenario's u32, or a bad-input message.
pub fn users_u32(users: Option<u64>) -> anyhow::Result<Option<u32>> {
    users
        .map(|u| {
            u32::try_from(u)
                .ok()
                .filter(|u| *u < (1 << 31))
                .ok_or_else(|| bad_input(format!("--users {u} is too large (at most 2147483647)")))
        })
        .transpose()
}

impl CommonArgs {
    /// Applies the shared flags to `c`.
    pub fn apply(&self, c: &mut RunConfig) -> anyhow::Result<()> {
        c.workload = self.workload.clone();
        c.users = users_u32(self.users)?;
        c.seed = self.seed;
        if let Some(w) = self.warmup {
            c.warmup = w;
        }
        c.interval = self.interval;
        c.out_root = Some(self.out.clone());
        c.progress = progress_mode(&self.progress);
        Ok(())
    }
}

impl RunArgs {
    /// The run's configuration.
    pub fn config(&self) -> anyhow::Result<RunConfig> {
        let mut c = RunConfig::new(self.engine);
        c.redis = self.redis.config()?;
        self.common.apply(&mut c)?;
        c.threads = self.threads;
        c.partitions = self.shards.or(self.stripes);
        c.pin = self.pin.clone();
        c.mailbox = self.mailbox;
        c.channel = self.channel;
        c.run_id = self.run_id.clone();
        for f in &self.fault {
            socialbench_harness::parse_fault(f, &mut c.faults)?;
        }
        c.limit = match (self.ops, self.duration) {
            (Some(n), _) => Limit::Ops(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => Limit::Duration(Duration::from_secs(10)),
        };
        c.mode = match (self.rate, self.open) {
            (Some(rate), _) => LoopMode::Open {
                rate,
                max_outstanding: self.max_outstanding,
                arrivals: Default::default(),
            },
            (None, true) => {
                // users x per-user rate: needs the scenario.
                let mut s = socialbench_workload::Scenario::from_arg(&c.workload)
                    .map_err(|e| bad_input(e.to_string()))?;
                if let Some(u) = c.users {
                    s.users = u;
                }
                LoopMode::Open {
                    rate: s.users as f64 * s.per_user_rate(),
                    max_outstanding: self.max_outstanding,
                    arrivals: Default::default(),
                }
            }
            (None, false) => LoopMode::Closed {
                inflight: self.inflight,
            },
        };
        Ok(c)
    }
}
