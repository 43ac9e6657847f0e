//! How to build an engine: [`EngineConfig`] and its parts (channel flavour,
//! injected faults, where the `redis` engine's server is), and the one check
//! of the values every engine shares ([`EngineConfig::validate`]).
//!
//! Everything here is plain data, always compiled: the Redis types exist
//! without the `redis` feature too, so that struct literals and the CLI
//! compile either way (a build without the feature refuses `--engine redis`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::error::EngineError;

/// Which channel implementation carries mailboxes, so the two can be compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ChannelKind {
    /// crossbeam-channel (the default).
    #[default]
    Crossbeam,
    /// flume.
    Flume,
}

/// An injected engine stall: every `every`, the engine stops serving for `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// Period between stalls.
    pub every: Duration,
    /// Length of each stall.
    pub duration: Duration,
}

/// The crash fault (`--fault crash:partition=N,at=T[,every=E]`): partition
/// `partition` loses its in-memory state at `at` from the start of the
/// measured window (and every `every` after), and is rebuilt from its log
/// (see `wal/mod.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Crash {
    /// The partition that crashes.
    pub partition: usize,
    /// When, from the start of the measured window.
    pub at: Duration,
    /// Crash again this often after the first (`None`: once).
    pub every: Option<Duration>,
}

/// Faults injected to test the engines and the harness (all off by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Probability that an op panics inside the engine before it is applied;
    /// it is answered with [`crate::ApiError::EngineFault`].
    pub panic_rate: f64,
    /// Probability that a follow-up is silently dropped (the audit must catch it).
    pub drop_follow_up_rate: f64,
    /// Probability that one delivery of a pushed post to a timeline is
    /// silently dropped (`--feeds push|hybrid`; the timeline audit must
    /// catch it).
    pub drop_delivery_rate: f64,
    /// Probability that a write is acknowledged but not applied (the audit
    /// must catch it; see [`crate::fault::OpFault::DropWrite`]).
    pub drop_write_rate: f64,
    /// Probability that a write is applied twice (see
    /// [`crate::fault::OpFault::DuplicateWrite`]).
    pub duplicate_write_rate: f64,
    /// The write kinds `drop_write_rate` and `duplicate_write_rate` apply to,
    /// a bit per [`crate::OpKind`] (`1 << kind as u8`); 0 means every write.
    pub write_kinds: u32,
    /// Periodic stalls of the engine.
    pub stall: Option<Stall>,
    /// Seed of the fault decisions, so a faulty run is reproducible.
    pub seed: u64,
    /// A partition crash and its recovery (not counted by
    /// [`Faults::any`]: the serial engine, which refuses the other faults,
    /// crashes too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash: Option<Crash>,
    /// A replicated shard's primary killed (`kill-primary`: `partition` is
    /// the shard) and replaced by its most up-to-date backup; needs
    /// replication and a heartbeat ([`Failover`]). Not counted by
    /// [`Faults::any`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_primary: Option<Crash>,
}

impl Faults {
    /// Whether any fault is configured.
    pub fn any(&self) -> bool {
        self.panic_rate > 0.0
            || self.drop_follow_up_rate > 0.0
            || self.drop_delivery_rate > 0.0
            || self.drop_write_rate > 0.0
            || self.duplicate_write_rate > 0.0
            || self.stall.is_some()
    }
}

/// How a partition keeps its state (`--durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum DurabilityMode {
    /// In memory only: a crash loses the partition's state (today's
    /// behaviour, the default).
    #[default]
    None,
    /// Every applied write is appended to a write-ahead log and written
    /// before its reply leaves; synced at most once a second.
    Log,
    /// As `log`, and synced before the reply leaves (one fsync per group
    /// of writes).
    Fsync,
}

impl std::fmt::Display for DurabilityMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DurabilityMode::None => "none",
            DurabilityMode::Log => "log",
            DurabilityMode::Fsync => "fsync",
        })
    }
}

/// Where and how durable partitions log (`wal/mod.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Durability {
    /// None, log or fsync.
    pub mode: DurabilityMode,
    /// The data dir of the logs (required unless `mode` is `None`).
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    /// What the logs are for (the workload), written in every log's
    /// header and checked when one is recovered.
    #[serde(skip)]
    pub identity: String,
    /// Start from the logs in `dir` instead of an empty state.
    #[serde(skip)]
    pub recover: bool,
    /// A snapshot of each partition every this many log records, and the
    /// log compacted to what follows it (0: never; `wal/mod.rs`).
    pub snapshot_every: u64,
}

impl Durability {
    /// Whether partitions log.
    pub fn logs(&self) -> bool {
        self.mode != DurabilityMode::None
    }

    /// The data dir, which logging needs (`None`: the partitions do not log).
    pub fn log_dir(&self) -> Result<Option<&std::path::Path>, EngineError> {
        match (self.logs(), self.dir.as_deref()) {
            (false, _) => Ok(None),
            (true, Some(dir)) => Ok(Some(dir)),
            (true, None) => Err(EngineError::config(format!(
                "--durability {} needs a data dir",
                self.mode
            ))),
        }
    }

    /// Whether this is the default (in memory, nothing recovered).
    pub fn is_default(&self) -> bool {
        self.mode == DurabilityMode::None && !self.recover
    }

    /// The header identity of partition `index` of `count` of `engine`.
    pub fn identity_of(&self, engine: &str, index: usize, count: usize) -> String {
        format!("{engine} partition {index} of {count}; {}", self.identity)
    }
}

/// When a replicated shard acknowledges a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    /// After every backup has applied it: a write acknowledged is on every
    /// replica.
    #[default]
    Sync,
    /// At once; the log is shipped in the background, and replies are held
    /// only while a backup lags more than [`Replication::ASYNC_MAX_LAG`]
    /// log entries behind (the lag is bounded and reported).
    Async,
}

impl std::fmt::Display for ReplicationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReplicationMode::Sync => "sync",
            ReplicationMode::Async => "async",
        })
    }
}

/// Primary-backup replication of the `sharded` engine's shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Replication {
    /// Backups per shard, each on its own thread (0: no replication).
    pub replicas: usize,
    /// When a write is acknowledged.
    pub mode: ReplicationMode,
}

impl Replication {
    /// Most backups per shard.
    pub const MAX_REPLICAS: usize = 2;

    /// Log entries an `async` backup may lag behind its primary before the
    /// primary holds its replies (a bound on what a failover could lose
    /// and on the memory of the log in flight).
    pub const ASYNC_MAX_LAG: u64 = 4096;

    /// Whether any backup is configured.
    pub fn on(&self) -> bool {
        self.replicas > 0
    }

    /// Copies of each shard's state, each on a thread: the primary and its
    /// backups.
    pub fn copies(&self) -> usize {
        self.replicas.saturating_add(1)
    }
}

/// How a coordinator watches the primaries of a replicated shard set
/// (`--heartbeat`): it pings every primary and backup once per `interval`
/// and declares a primary dead once it has left `misses` pings in a row
/// unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Heartbeat {
    /// Time between two pings.
    pub interval: Duration,
    /// Unanswered pings in a row that make a primary dead.
    pub misses: u32,
}

impl Heartbeat {
    /// 100 ms and 3 misses: a primary is declared dead 300 to 400 ms after
    /// it stops (the first ping it misses may leave up to one interval
    /// later; the third is found unanswered one interval after it left),
    /// three times the longest vCPU pause (about 100 ms) seen on the small
    /// VMs this harness is developed on, so a paused thread is not taken
    /// for a dead one.
    pub const DEFAULT: Heartbeat = Heartbeat {
        interval: Duration::from_millis(100),
        misses: 3,
    };
}

/// Failure detection and failover of replicated shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Failover {
    /// The coordinator's heartbeat (`None`: no coordinator, so no
    /// failover; the CLI gives replicated runs [`Heartbeat::DEFAULT`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// Test knob: the primary the `kill-primary` fault kills ships
    /// nothing to its backups before its first failover, so that what an
    /// `async` failover loses is known exactly.
    #[serde(skip)]
    pub hold_shipping: bool,
}

impl Failover {
    /// Whether no coordinator runs.
    pub fn is_off(&self) -> bool {
        self.heartbeat.is_none()
    }
}

/// How home feeds are built (`--feeds`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum FeedMode {
    /// On read: merge the newest or best posts of every subscription
    /// (fan-in). Today's behaviour, the default.
    #[default]
    Pull,
    /// On write: a post is delivered to every member's materialised
    /// timeline (fan-out); a `New` home feed reads the timeline.
    Push,
    /// Push, except for sources with more than
    /// [`Feeds::push_threshold`] members, whose posts are merged in at
    /// read time.
    Hybrid,
}

impl std::fmt::Display for FeedMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeedMode::Pull => "pull",
            FeedMode::Push => "push",
            FeedMode::Hybrid => "hybrid",
        })
    }
}

/// How home feeds are built, and the bounds of push (see
/// `partition/timeline.rs` for the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Feeds {
    /// Pull, push or hybrid.
    pub mode: FeedMode,
    /// Entries a materialised timeline keeps (the newest by post stamp):
    /// the workload's feed limit. A home feed asking for more is pulled.
    pub timeline: u16,
    /// `hybrid`: a source with more members than this is not pushed.
    pub push_threshold: u32,
    /// actor and sharded: sessions wait before submitting while more
    /// deliveries than this are queued between partitions (0: the engine's
    /// default, `SOCIALBENCH_BROKER_BOUND` or 2^20).
    pub broker_bound: u64,
}

impl Feeds {
    /// The default timeline bound (reddit's listing size).
    pub const DEFAULT_TIMELINE: u16 = 25;
    /// The default hybrid threshold, in members.
    pub const DEFAULT_PUSH_THRESHOLD: u32 = 1_000;

    /// Whether posts are delivered to timelines (push or hybrid).
    pub fn pushes(&self) -> bool {
        self.mode != FeedMode::Pull
    }
}

impl Default for Feeds {
    fn default() -> Self {
        Feeds {
            mode: FeedMode::Pull,
            timeline: Self::DEFAULT_TIMELINE,
            push_threshold: Self::DEFAULT_PUSH_THRESHOLD,
            broker_bound: 0,
        }
    }
}

/// Where the `redis` engine's server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RedisTarget {
    /// One server, e.g. `redis://127.0.0.1:6379` (a `/N` suffix selects database N).
    Server(String),
    /// A Redis Cluster: one or more seed nodes as `host:port`.
    Cluster(Vec<String>),
}

/// How the `redis` engine reaches its server and which keys it owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RedisConfig {
    /// The server or cluster.
    pub target: RedisTarget,
    /// Key prefix the engine owns; `None`: `sb:<unique run token>:`.
    pub prefix: Option<String>,
    /// Connect, read and write timeout.
    pub timeout: Duration,
    /// Leave the keys on the server at shutdown (to inspect them).
    pub keep_keys: bool,
    /// Connections per session to each node, pipelined side by side
    /// (1..=[`RedisConfig::MAX_CONNECTIONS`]); the commands of one key group
    /// always take the same one, so they stay in order.
    pub connections: usize,
    /// This process's share of a run loaded from several processes
    /// (`--group K/N`); `None`: the whole run.
    pub group: Option<RedisGroup>,
    /// `--redis-wait N`: after every write, `WAIT N` (for at most
    /// [`RedisConfig::wait_timeout`]); fewer replicas answers the op
    /// unavailable. Needs a cluster whose masters have N replicas.
    pub wait: Option<u32>,
}

/// One process's share of a run loaded from several processes, which meet
/// through the Redis server they measure (see the `redis` engine's docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RedisGroup {
    /// This process's group, 1..=`n`.
    pub k: usize,
    /// Groups in the run.
    pub n: usize,
    /// What every group of the run must agree on (workload, seed, users,
    /// client threads, ...): a group that finds another identity under the
    /// prefix is refused.
    pub identity: String,
    /// How long to wait for the other groups at a barrier.
    pub timeout: Duration,
}

impl RedisConfig {
    /// Default connect, read and write timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Most connections per session per node.
    pub const MAX_CONNECTIONS: usize = 64;

    /// How long a `WAIT` of `--redis-wait` waits for its replicas: a tenth
    /// of the timeout, at most 100 ms, so that a replica that died answers
    /// short well before the read times out.
    pub fn wait_timeout(&self) -> Duration {
        (self.timeout / 10).min(Duration::from_millis(100))
    }

    /// A configuration for `target` with the defaults.
    pub fn new(target: RedisTarget) -> Self {
        RedisConfig {
            target,
            prefix: None,
            timeout: Self::DEFAULT_TIMEOUT,
            keep_keys: false,
            connections: 1,
            group: None,
            wait: None,
        }
    }
}

/// How to build an engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineConfig {
    /// Partitions: shards of `sharded`, stripes of `striped`; ignored by the others.
    pub partitions: usize,
    /// Capacity of each bounded mailbox, in ops (clients block when it is full).
    pub mailbox: usize,
    /// Mailbox implementation.
    pub channel: ChannelKind,
    /// Cores to pin engine threads to, in order (thread i on `pin[i % len]`); empty: unpinned.
    pub pin: Vec<usize>,
    /// Injected faults.
    pub faults: Faults,
    /// How idle engine threads (and sessions waiting for replies) wait.
    pub idle: IdlePolicy,
    /// Backups per shard and when writes are acknowledged; only the
    /// `sharded` engine replicates, the others refuse backups.
    pub replication: Replication,
    /// The coordinator that detects dead primaries and promotes a backup
    /// (replicated `sharded` only).
    #[serde(skip_serializing_if = "Failover::is_off")]
    pub failover: Failover,
    /// How home feeds are built (pull, push, hybrid); `redis` and `null`
    /// pull only.
    pub feeds: Feeds,
    /// The `redis` engine's server; the other engines ignore it. Not
    /// serialized: a URL may carry a password, and `run.json` keeps the
    /// format it had before this field existed.
    #[serde(skip)]
    pub redis: Option<RedisConfig>,
    /// Write-ahead logs of the in-process engines (`--durability`).
    #[serde(skip_serializing_if = "Durability::is_default")]
    pub durability: Durability,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            partitions: 1,
            mailbox: 1024,
            channel: ChannelKind::Crossbeam,
            pin: Vec::new(),
            faults: Faults::default(),
            idle: IdlePolicy::default(),
            replication: Replication::default(),
            failover: Failover::default(),
            feeds: Feeds::default(),
            redis: None,
            durability: Durability::default(),
        }
    }
}

/// How a thread with nothing to do (an idle shard or actor, a session
/// waiting for a reply) waits for its next message. A thread that shares
/// its core with another thread of the run never spins: it yields a few
/// times, then parks, whatever the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Busy-wait until the next message: the lowest wake-up latency, and a
    /// core that never idles (which a hypervisor may punish with steal).
    Spin,
    /// Park at once: no CPU burnt, a futex wake-up per idle episode.
    Park,
    /// Spin up to `max_spin` while most recent idle gaps were shorter than
    /// that (a share updated every idle episode); when most were longer,
    /// spin only a short probe (`max_spin / 8`) and park: spinning through
    /// the window would only keep the core busy before the wake-up anyway.
    Adaptive {
        /// The longest spin before parking.
        max_spin: Duration,
    },
}

impl IdlePolicy {
    /// The default spin window of `adaptive`.
    pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);
}

impl Default for IdlePolicy {
    fn default() -> IdlePolicy {
        IdlePolicy::Adaptive {
            max_spin: IdlePolicy::DEFAULT_SPIN,
        }
    }
}

/// Written as the flag's own spelling (`spin`, `park`, `adaptive:50`).
impl Serialize for IdlePolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for IdlePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdlePolicy::Spin => f.write_str("spin"),
            IdlePolicy::Park => f.write_str("park"),
            IdlePolicy::Adaptive { max_spin } => write!(f, "adaptive:{}", max_spin.as_micros()),
        }
    }
}

impl std::str::FromStr for IdlePolicy {
    type Err = String;

    /// `spin`, `park`, `adaptive` or `adaptive:SPIN_US` (microseconds,
    /// 1 to 1,000,000).
    fn from_str(s: &str) -> Result<IdlePolicy, String> {
        let bad =
            || format!("unknown idle policy `{s}` (spin, park, adaptive or adaptive:SPIN_US)");
        match s.trim() {
            "spin" => Ok(IdlePolicy::Spin),
            "park" => Ok(IdlePolicy::Park),
            "adaptive" => Ok(IdlePolicy::default()),
            other => {
                let us = other.strip_prefix("adaptive:").ok_or_else(bad)?;
                match us.trim().parse::<u64>() {
                    Ok(us @ 1..=1_000_000) => Ok(IdlePolicy::Adaptive {
                        max_spin: Duration::from_micros(us),
                    }),
                    _ => Err(format!(
                        "idle policy `{s}`: the spin window must be 1 to 1000000 microseconds"
                    )),
                }
            }
        }
    }
}

impl EngineConfig {
    /// Most partitions an engine is built with (shards or stripes): 65,536.
    /// Each is a partition's maps and (sharded) a thread, built before the
    /// first op.
    pub const MAX_PARTITIONS: usize = 1 << 16;

    /// Largest mailbox capacity, in ops: 1,048,576. A crossbeam mailbox
    /// allocates and writes every slot when it is built (about 100 MB at
    /// this bound), so an absurd capacity would eat the machine before the
    /// run began.
    pub const MAX_MAILBOX: usize = 1 << 20;

    /// Checks the values every engine shares: 1 to [`Self::MAX_PARTITIONS`]
    /// partitions and a mailbox of 1 to [`Self::MAX_MAILBOX`] ops (even
    /// where an engine ignores them, they are out of range), fault rates
    /// within 0..=1, a positive stall period. Every engine calls it first,
    /// then refuses what it cannot do itself.
    pub fn validate(&self) -> Result<(), EngineError> {
        if !(1..=Self::MAX_PARTITIONS).contains(&self.partitions) {
            return Err(EngineError::config(format!(
                "partitions {} outside 1..={}",
                self.partitions,
                Self::MAX_PARTITIONS
            )));
        }
        if !(1..=Self::MAX_MAILBOX).contains(&self.mailbox) {
            return Err(EngineError::config(format!(
                "mailbox capacity {} outside 1..={}",
                self.mailbox,
                Self::MAX_MAILBOX
            )));
        }
        let f = &self.faults;
        for (name, rate) in [
            ("panic rate", f.panic_rate),
            ("drop rate", f.drop_follow_up_rate),
            ("drop-deliveries rate", f.drop_delivery_rate),
            ("drop-writes rate", f.drop_write_rate),
            ("duplicate-writes rate", f.duplicate_write_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(EngineError::config(format!("{name} {rate} outside 0..=1")));
            }
        }
        if let Some(s) = f.stall
            && s.every.is_zero()
        {
            return Err(EngineError::config("stall period must be positive"));
        }
        if !(1..=crate::api::MAX_LIMIT).contains(&self.feeds.timeline) {
            return Err(EngineError::config(format!(
                "timeline bound {} outside 1..={}",
                self.feeds.timeline,
                crate::api::MAX_LIMIT
            )));
        }
        if self.durability.recover && !self.durability.logs() {
            return Err(EngineError::config(
                "--recover needs --durability log or fsync (the logs go on from where they ended)",
            ));
        }
        if self.replication.replicas > Replication::MAX_REPLICAS {
            return Err(EngineError::config(format!(
                "replicas {} outside 0..={}",
                self.replication.replicas,
                Replication::MAX_REPLICAS
            )));
        }
        Ok(())
    }

    /// Refuses push and hybrid feeds on `engine`, which builds home feeds
    /// on read only.
    pub fn refuse_push(&self, engine: &str) -> Result<(), EngineError> {
        if self.feeds.pushes() {
            return Err(EngineError::config(format!(
                "--feeds {} needs an in-process engine (serial, actor, sharded, striped); {engine} pulls only",
                self.feeds.mode
            )));
        }
        Ok(())
    }

    /// Refuses logs, recovery and crashes on `engine`, which does not build
    /// durable partitions.
    pub fn refuse_durability(&self, engine: &str) -> Result<(), EngineError> {
        if !self.durability.is_default() || self.faults.crash.is_some() {
            return Err(EngineError::config(format!(
                "--durability, --recover and the crash fault need the serial, actor or sharded engine; {engine} has no durable partitions"
            )));
        }
        Ok(())
    }

    /// Refuses backups on `engine`, which has no shards to replicate.
    pub fn refuse_replicas(&self, engine: &str) -> Result<(), EngineError> {
        if self.faults.kill_primary.is_some() {
            return Err(EngineError::config(format!(
                "the kill-primary fault needs the sharded engine with --replicas, or the redis engine on a cluster with replicas; {engine} has no replicated shards"
            )));
        }
        self.refuse_backups(engine)
    }

    /// Refuses `--replicas` on `engine`, whose replicas (if any) are not
    /// the engine's to make.
    pub fn refuse_backups(&self, engine: &str) -> Result<(), EngineError> {
        if self.replication.on() {
            return Err(EngineError::config(format!(
                "--replicas needs the sharded engine; {engine} has no shards to replicate"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_refuses_each_out_of_range_value() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
        let at_bounds = EngineConfig {
            partitions: EngineConfig::MAX_PARTITIONS,
            mailbox: EngineConfig::MAX_MAILBOX,
            ..EngineConfig::default()
        };
        assert_eq!(at_bounds.validate(), Ok(()));
        let bad = [
            EngineConfig {
                partitions: 0,
                ..EngineConfig::default()
            },
            EngineConfig {
                mailbox: 0,
                ..EngineConfig::default()
            },
            EngineConfig {
                partitions: EngineConfig::MAX_PARTITIONS + 1,
                ..EngineConfig::default()
            },
            EngineConfig {
                mailbox: EngineConfig::MAX_MAILBOX + 1,
                ..EngineConfig::default()
            },
            EngineConfig {
                mailbox: usize::MAX,
                ..EngineConfig::default()
            },
            EngineConfig {
                replication: Replication {
                    replicas: Replication::MAX_REPLICAS + 1,
                    mode: ReplicationMode::Sync,
                },
                ..EngineConfig::default()
            },
            EngineConfig {
                faults: Faults {
                    panic_rate: 1.5,
                    ..Faults::default()
                },
                ..EngineConfig::default()
            },
            EngineConfig {
                faults: Faults {
                    drop_follow_up_rate: -0.1,
                    ..Faults::default()
                },
                ..EngineConfig::default()
            },
            EngineConfig {
                faults: Faults {
                    stall: Some(Stall {
                        every: Duration::ZERO,
                        duration: Duration::from_millis(1),
                    }),
                    ..Faults::default()
                },
                ..EngineConfig::default()
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(EngineError::Config { .. })),
                "{c:?} must be refused"
            );
        }
    }
}
