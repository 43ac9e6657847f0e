//! The one interface every engine implements: [`Engine`] hands each client
//! thread a [`Session`]; a session keeps many ops in flight (`submit` then
//! `poll`) or makes a blocking `call`.
//!
//! The hot loop is statically dispatched: the harness is generic over
//! `E: Engine`, and [`crate::EngineKind::visit`] picks the concrete type once.
//!
//! This is the bottom of the engines' module graph: every engine depends on
//! it, and it depends on no engine (the dispatch over engines is
//! [`crate::kind`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::api::{ApiError, Op, Response};
use crate::audit::Audit;

/// Why an engine could not be built or could not hand out a session.
///
/// `Clone` and `PartialEq` so that replies and tests can carry and compare
/// it: a source is held in an `Arc`, and equality compares kinds (the
/// message of a configuration error, the [`std::io::ErrorKind`] of a failed
/// spawn), never the sources themselves, which are not comparable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The configuration cannot be used: a value out of range, or a server
    /// that cannot be reached or set up at the configured address. The CLI
    /// reports it as bad input (exit 2), with [`EngineError::detail`].
    #[error("invalid engine configuration: {message}")]
    Config {
        /// What is wrong, on one line.
        message: String,
        /// The error behind it, when the refusal comes from elsewhere (the
        /// Redis client's error for an unreachable server).
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// The engine serves a limited number of sessions (the `serial` engine: one).
    #[error("the {engine} engine serves at most {max} session(s) at a time")]
    SessionLimit {
        /// Engine name.
        engine: &'static str,
        /// How many sessions it serves at once.
        max: usize,
    },
    /// An engine thread could not be spawned.
    #[error("could not start an engine thread")]
    Spawn(#[source] Arc<std::io::Error>),
    /// The engine is shut down.
    #[error("the engine is shut down")]
    Shutdown,
}

impl EngineError {
    /// A configuration error with no source (a value out of range).
    pub fn config(message: impl Into<String>) -> Self {
        EngineError::Config {
            message: message.into(),
            source: None,
        }
    }

    /// A configuration error caused by `source` (a server that cannot be used).
    pub fn config_caused_by(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        EngineError::Config {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// What went wrong on one line, for a user: the message (a
    /// configuration error's without the "invalid engine configuration"
    /// heading) and its direct cause, joined by ": ". Deeper causes are left
    /// out: a client error's text already repeats the I/O error under it.
    /// A cause that spans lines (a client's parse error quoting a reply) is
    /// put on one line.
    pub fn detail(&self) -> String {
        let head = match self {
            EngineError::Config { message, .. } => message.clone(),
            e => e.to_string(),
        };
        let text = match std::error::Error::source(self) {
            Some(cause) => format!("{head}: {cause}"),
            None => head,
        };
        if !text.contains(['\n', '\r']) {
            return text;
        }
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl PartialEq for EngineError {
    fn eq(&self, other: &Self) -> bool {
        use EngineError::*;
        match (self, other) {
            (Config { message: a, .. }, Config { message: b, .. }) => a == b,
            (
                SessionLimit { engine, max },
                SessionLimit {
                    engine: e2,
                    max: m2,
                },
            ) => engine == e2 && max == m2,
            (Spawn(a), Spawn(b)) => a.kind() == b.kind(),
            (Shutdown, Shutdown) => true,
            _ => false,
        }
    }
}

impl Eq for EngineError {}

/// A session: one client thread's connection to an engine, with one reply
/// channel for all its requests.
pub trait Session: Send {
    /// Sends `op`, tagged with `tag` (echoed with its reply). Blocks while the
    /// engine's mailbox is full (backpressure). Fails only when the engine is shut down.
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError>;

    /// Hands every reply that has arrived to `f`, and returns how many. With
    /// `wait` and at least one op outstanding, blocks until one reply arrives.
    fn poll<F: FnMut(u64, Response)>(&mut self, wait: bool, f: F) -> usize;

    /// Ops submitted whose replies have not yet been polled.
    fn outstanding(&self) -> usize;

    /// Submits `op` and waits for its reply. Replies to earlier submissions
    /// that arrive meanwhile are discarded, so mix `call` with `submit` only
    /// when nothing else is outstanding.
    fn call(&mut self, op: Op) -> Response {
        const CALL_TAG: u64 = u64::MAX;
        if let Err(e) = self.submit(CALL_TAG, op) {
            return Err(match e {
                EngineError::Shutdown => ApiError::Shutdown,
                _ => ApiError::EngineFault,
            });
        }
        let mut out = None;
        while out.is_none() {
            let n = self.poll(true, |tag, r| {
                if tag == CALL_TAG {
                    out = Some(r);
                }
            });
            if n == 0 && self.outstanding() == 0 && out.is_none() {
                return Err(ApiError::Shutdown);
            }
        }
        out.unwrap_or(Err(ApiError::Shutdown))
    }
}

/// Entity counts of an engine's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntityCounts {
    /// Registered users.
    pub users: u64,
    /// Ordinary communities (profiles not counted).
    pub communities: u64,
    /// Posts.
    pub posts: u64,
    /// Comments.
    pub comments: u64,
    /// Direct messages.
    pub dms: u64,
    /// Non-zero votes stored.
    pub votes: u64,
    /// (user, community) memberships, profiles included.
    pub memberships: u64,
}

impl EntityCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &EntityCounts) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.votes += o.votes;
        self.memberships += o.memberships;
    }
}

/// Approximate heap bytes per entity kind (capacity-based estimates, not an
/// allocator census).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntityBytes {
    /// User records, subscription lists, karma.
    pub users: u64,
    /// Community records and member sets.
    pub communities: u64,
    /// Posts with their bodies and ranking indexes.
    pub posts: u64,
    /// Comments with their bodies.
    pub comments: u64,
    /// Inboxes with DM bodies.
    pub dms: u64,
    /// The vote table.
    pub votes: u64,
}

impl EntityBytes {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &EntityBytes) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.votes += o.votes;
    }

    /// Sum over kinds.
    pub fn total(&self) -> u64 {
        self.users + self.communities + self.posts + self.comments + self.dms + self.votes
    }
}

/// A partition's view of itself, for [`EngineStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PartitionStats {
    /// Entity counts.
    pub counts: EntityCounts,
    /// Approximate bytes.
    pub bytes: EntityBytes,
}

/// A snapshot of an engine, cheap enough to take once per interval during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Entity counts, summed over partitions.
    pub counts: EntityCounts,
    /// Approximate bytes, summed over partitions.
    pub bytes: EntityBytes,
    /// Ops waiting in each client mailbox (one entry per engine thread; empty without threads).
    pub mailbox_depths: Vec<usize>,
    /// Follow-ups sent but not yet applied.
    pub pending_follow_ups: u64,
    /// Ops answered with [`ApiError::EngineFault`] because they panicked.
    pub faults: u64,
    /// Follow-ups dropped by the `drop_follow_up_rate` fault.
    pub dropped_follow_ups: u64,
    /// Writes dropped or duplicated by the write faults, by kind.
    pub write_faults: WriteFaults,
    /// The shards' replication (`None`: no backups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStats>,
    /// Push and hybrid feeds' figures (`None`: pulling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeds: Option<FeedStats>,
    /// Write-ahead logs, recoveries and crashes (`None`: in memory, no
    /// crash configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<DurabilityStats>,
    /// What the ops asked of the Redis server (`redis` engine only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisStats>,
}

impl EngineStats {
    /// The failovers of the run, the in-process coordinator's or a Redis
    /// Cluster's (empty without either).
    pub fn failover_events(&self) -> &[FailoverEvent] {
        let own = self.replication.as_ref().and_then(|r| r.failover.as_ref());
        match (own, self.redis.as_ref().and_then(|r| r.failover.as_ref())) {
            (Some(f), _) => &f.events,
            (None, Some(f)) => &f.events,
            (None, None) => &[],
        }
    }
}

/// What a run's ops asked of a Redis server or cluster (the `redis`
/// engine), from the start of the measured window (warm-up included) to
/// the end of its ops (the first [`Engine::quiesce`] after it); before
/// [`Engine::start_window`], from the engine's creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisStats {
    /// Microseconds the figures cover.
    pub span_micros: u64,
    /// Per op kind that ran, counted by the sessions.
    pub kinds: Vec<RedisKindCost>,
    /// Server calls by the servers' own count (`INFO commandstats`, every
    /// node): commands sent plus the scripts' calls; the engine's own `INFO`
    /// left out. It should equal the sum of the kinds' counts.
    pub server_calls: u64,
    /// Server CPU time (`INFO cpu`, user + system, every node), microseconds:
    /// commands, scripts, parsing and network I/O.
    pub server_cpu_micros: u64,
    /// Per command (`INFO commandstats`, every node, `INFO` left out): a
    /// script's time includes the time of the calls it makes, which are also
    /// listed under their own names.
    pub commands: Vec<RedisCommandCost>,
    /// A failover changed the masters during the span: the servers' own
    /// figures (`server_calls`, `server_cpu_micros`, `commands`) are left
    /// at zero, since a dead master's counts are gone.
    pub masters_changed: bool,
    /// Failovers of a cluster whose masters have replicas (`None`: a single
    /// server or a cluster without replicas, which the engine does not follow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<RedisFailoverStats>,
}

/// What a Redis Cluster's failovers cost the engine's sessions: see the
/// redis engine's docs (Failover).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisFailoverStats {
    /// Replicas of each master when the engine started (the fewest).
    pub replicas: usize,
    /// The cluster's `cluster-node-timeout`, in milliseconds: how long a
    /// master may stay silent before the others mark it failed.
    pub node_timeout_ms: u64,
    /// `--redis-wait`: replicas every write waited for (`None`: no `WAIT`).
    pub wait_replicas: Option<u32>,
    /// How long a session waits for every slot to be served again before it
    /// stops, in milliseconds.
    pub failover_wait_ms: u64,
    /// Masters killed by the `kill-primary` fault.
    pub kills: u64,
    /// Masters whose slots a replica took over.
    pub failovers: u64,
    /// Ops answered [`crate::ApiError::Unavailable`].
    pub unavailable_ops: u64,
    /// Writes answered unavailable that may have been applied: sent before
    /// their connection died, or acknowledged by fewer replicas than
    /// `WAIT` asked for. The audit allows them to be there or not.
    pub unknown_outcome: u64,
    /// Writes whose `WAIT` came back short.
    pub wait_short: u64,
    /// Follow-ups a failover refused, sent again once their slot had a master.
    pub follow_ups_resent: u64,
    /// Each failover, in order (`shard`: the dead master's node index;
    /// `promoted`: the new master's).
    pub events: Vec<FailoverEvent>,
}

impl RedisStats {
    /// Ops over all kinds.
    pub fn ops(&self) -> u64 {
        self.kinds.iter().map(|k| k.ops).sum()
    }

    /// Server calls per op over all kinds, as the sessions counted them.
    pub fn calls_per_op(&self) -> f64 {
        let calls: u64 = self.kinds.iter().map(RedisKindCost::calls).sum();
        calls as f64 / self.ops().max(1) as f64
    }
}

/// What one op kind's ops asked of the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisKindCost {
    /// The op kind ([`crate::OpKind::name`]).
    pub kind: &'static str,
    /// Ops answered.
    pub ops: u64,
    /// Commands sent: script calls (`EVALSHA`) and plain commands.
    pub commands: u64,
    /// Calls the scripts made (`redis.call`), as they reported them.
    pub script_calls: u64,
}

impl RedisKindCost {
    /// Server calls: commands sent plus the scripts' calls.
    pub fn calls(&self) -> u64 {
        self.commands + self.script_calls
    }

    /// Server calls per op.
    pub fn calls_per_op(&self) -> f64 {
        self.calls() as f64 / self.ops.max(1) as f64
    }
}

/// One command's figures from `INFO commandstats`, summed over nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisCommandCost {
    /// The command, lower case as Redis names it (`evalsha`, `hmget`).
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Microseconds spent in it.
    pub micros: u64,
}

/// What durable partitions did (`wal/mod.rs`), summed over partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DurabilityStats {
    /// None, log or fsync.
    pub mode: crate::config::DurabilityMode,
    /// What the logs wrote and synced.
    pub log: crate::wal::WalCounters,
    /// What `--recover` replayed when the engine started (`None`: it
    /// started empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<crate::wal::Recovery>,
    /// Crashes injected.
    pub crashes: u64,
    /// Acknowledged writes the crashes lost (0 with `fsync`; with `none`,
    /// every write the partition had taken).
    pub lost_writes: u64,
    /// Ops in flight at a crash, answered [`crate::ApiError::Crashed`]
    /// (none of them was applied).
    pub failed_ops: u64,
    /// The last crash's recovery (records replayed, time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_recovery: Option<crate::wal::Recovery>,
    /// The longest recovery, in microseconds.
    pub max_recovery_micros: u64,
}

impl DurabilityStats {
    /// Adds another partition's figures (the mode is the engine's, the
    /// same for both).
    pub fn add(&mut self, o: DurabilityStats) {
        self.log.add(&o.log);
        if let Some(r) = o.recovered {
            self.recovered.get_or_insert_with(Default::default).add(r);
        }
        self.crashes += o.crashes;
        self.lost_writes += o.lost_writes;
        self.failed_ops += o.failed_ops;
        self.max_recovery_micros = self.max_recovery_micros.max(o.max_recovery_micros);
        if o.last_recovery.is_some() {
            self.last_recovery = o.last_recovery;
        }
    }
}

/// What pushing posts to timelines did (`--feeds push|hybrid`), summed over
/// partitions. See `partition/timeline.rs` for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FeedStats {
    /// Push or hybrid.
    pub mode: crate::config::FeedMode,
    /// Posts delivered to their members' timelines.
    pub pushed_posts: u64,
    /// Deliveries those posts made (their write amplification).
    pub deliveries: u64,
    /// The most deliveries one post made (the worst post)...
    pub max_fanout: u64,
    /// ...and that post.
    pub max_fanout_post: Option<crate::api::PostId>,
    /// Posts sent to joiners' timelines (backfills).
    pub backfills: u64,
    /// Deliveries inserted in a timeline.
    pub delivered: u64,
    /// Deliveries not inserted: the user had left the source, or it is
    /// pulled, or the post was there already or older than the timeline
    /// keeps.
    pub skipped: u64,
    /// Entries dropped past the timeline bound.
    pub trimmed: u64,
    /// Entries held in timelines now.
    pub timeline_entries: u64,
    /// Hybrid: sources marked pulled (too many members).
    pub celebrities: u64,
    /// `New` home feeds answered from a timeline.
    pub served: u64,
    /// `New` home feeds pulled because the timeline held too few posts
    /// (after a leave, or a backfill cut by the bound).
    pub fallbacks: u64,
    /// Deliveries queued between partitions now (actor, sharded; 0 where
    /// delivery is synchronous).
    pub backlog: u64,
    /// The largest backlog seen.
    pub max_backlog: u64,
    /// Time from a post's apply to its delivery into a follower's timeline,
    /// sampled (actor and sharded; `None` where delivery is synchronous
    /// inside the post).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staleness: Option<Staleness>,
}

impl FeedStats {
    /// Adds another partition's figures (the staleness is the engine's).
    pub fn add(&mut self, o: &FeedStats) {
        self.mode = o.mode;
        self.pushed_posts += o.pushed_posts;
        self.deliveries += o.deliveries;
        if o.max_fanout > self.max_fanout || self.max_fanout_post.is_none() {
            self.max_fanout = o.max_fanout;
            self.max_fanout_post = o.max_fanout_post;
        }
        self.backfills += o.backfills;
        self.delivered += o.delivered;
        self.skipped += o.skipped;
        self.trimmed += o.trimmed;
        self.timeline_entries += o.timeline_entries;
        self.celebrities += o.celebrities;
        self.served += o.served;
        self.fallbacks += o.fallbacks;
        self.backlog += o.backlog;
        self.max_backlog = self.max_backlog.max(o.max_backlog);
    }

    /// Deliveries per pushed post.
    pub fn fanout_mean(&self) -> f64 {
        self.deliveries as f64 / self.pushed_posts.max(1) as f64
    }
}

/// Sampled delivery delays, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Staleness {
    /// Samples: one per post per destination partition.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

/// How the backups of a replicated engine keep up, summed over its shards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplicationStats {
    /// Backups per shard.
    pub replicas: usize,
    /// When writes are acknowledged.
    pub mode: crate::config::ReplicationMode,
    /// Log entries the primaries wrote (writes and follow-ups applied).
    pub log_entries: u64,
    /// Entries some live backup has not acknowledged yet, now.
    pub lag_entries: u64,
    /// The largest lag of any shard, in entries, seen when it shipped.
    pub max_lag_entries: u64,
    /// Replies that waited for the backups (all of them in `sync` while
    /// the log is ahead; in `async` only beyond the lag bound).
    pub held_replies: u64,
    /// Backups whose thread is gone.
    pub lost_backups: u64,
    /// The coordinator's figures (`None`: no coordinator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverStats>,
}

/// What the coordinator of a replicated engine saw and did: heartbeats,
/// failovers and what they cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailoverStats {
    /// Time between two heartbeats, in microseconds.
    pub heartbeat_micros: u64,
    /// Unanswered heartbeats in a row that make a primary dead.
    pub misses: u32,
    /// Primaries killed by the `kill-primary` fault.
    pub kills: u64,
    /// Primaries declared dead and replaced by a backup.
    pub failovers: u64,
    /// Failovers of a primary that was alive (a pause taken for a death):
    /// it was deposed and fenced all the same.
    pub false_failovers: u64,
    /// Ops answered [`crate::ApiError::Unavailable`].
    pub unavailable_ops: u64,
    /// Log entries the failovers lost: applied by the old primary, on no
    /// backup.
    pub lost_entries: u64,
    /// Log entries backups refused because a deposed primary sent them.
    pub fenced_entries: u64,
    /// Times a backup left the heartbeats unanswered long enough to be
    /// declared dead (it is reported, not replaced).
    pub silent_backups: u64,
    /// Each failover, in order.
    pub events: Vec<FailoverEvent>,
}

/// One failover. Times are microseconds from the start of the measured
/// window (negative: before it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailoverEvent {
    /// The shard.
    pub shard: usize,
    /// When its primary was killed (`None`: it was not; a false failover).
    pub killed_us: Option<i64>,
    /// When the coordinator declared it dead.
    pub declared_us: i64,
    /// When the new primary took over.
    pub serving_us: i64,
    /// When the new primary first answered an op without an error.
    pub first_op_us: Option<i64>,
    /// The backup promoted (`None`: none answered; the shard restarted empty).
    pub promoted: Option<u8>,
    /// Log entries the promoted state holds.
    pub applied: u64,
    /// Log entries lost.
    pub lost_entries: u64,
    /// Ops answered unavailable.
    pub unavailable_ops: u64,
}

/// Writes the write faults changed, by kind name ([`crate::OpKind::name`]; kinds
/// with none are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteFaults {
    /// Writes acknowledged but not applied.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Writes applied twice (the second application changed the state).
    pub duplicated: BTreeMap<&'static str, u64>,
}

impl WriteFaults {
    /// How many writes of `kind` were dropped.
    pub fn dropped_of(&self, kind: crate::api::OpKind) -> u64 {
        self.dropped.get(kind.name()).copied().unwrap_or(0)
    }

    /// How many writes of `kind` were duplicated.
    pub fn duplicated_of(&self, kind: crate::api::OpKind) -> u64 {
        self.duplicated.get(kind.name()).copied().unwrap_or(0)
    }
}

/// An engine: owns the state and the threads that serve it.
///
/// Dropping an engine shuts it down and joins every thread it started.
pub trait Engine: Send + Sync + 'static {
    /// The per-client-thread handle.
    type Session: Session + 'static;

    /// The engine's name, as on the command line.
    fn name(&self) -> &'static str;

    /// A new session for one client thread.
    fn session(&self) -> Result<Self::Session, EngineError>;

    /// A snapshot of counts, bytes and queues.
    fn stats(&self) -> EngineStats;

    /// Returns once every follow-up sent so far has been applied. Call it when
    /// no client is submitting (after a run), before [`Engine::audit`].
    fn quiesce(&self);

    /// Aggregates to check against the acknowledged writes ([`Audit`]).
    fn audit(&self) -> Audit;

    /// An order-independent digest of the whole state: equal states (same
    /// entities, any partitioning) give equal digests.
    fn digest(&self) -> u64;

    /// Every entity, for the per-entity audit ([`crate::audit::entities`]);
    /// call it after [`Engine::quiesce`]. `None`: the engine has no state
    /// to report this way (`null`), or reads it otherwise (`redis`, whose
    /// state is checked by the aggregate audit and the differential tests).
    fn entities(&self) -> Option<crate::audit::Entities> {
        None
    }

    /// The measured window starts at `at`: the crash fault's times count
    /// from it. Engines without timed faults ignore it.
    fn start_window(&self, _at: std::time::Instant) {}

    /// A run loaded from several processes (`--group K/N`, the `redis`
    /// engine): waits until every process has reached the point `name`,
    /// then returns the moment they all go on from (a little after the last
    /// arrived), which the caller waits for. `Ok(None)`: not a group run,
    /// go on at once. An error says which point timed out and how many
    /// processes had arrived.
    fn group_barrier(&self, _name: &str) -> Result<Option<std::time::SystemTime>, EngineError> {
        Ok(None)
    }

    /// Stops serving and joins the engine's threads. Idempotent. Ops submitted
    /// after (or pending at) shutdown are answered with `Shutdown` or dropped with
    /// their session; a session's `submit` then fails.
    fn shutdown(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_one_line_even_when_the_cause_spans_several() {
        let cause = std::io::Error::other("unexpected reply:\n  -ERR x\r\n  (line 2)\n");
        let e = EngineError::config_caused_by("cannot use redis://h:1", cause);
        assert_eq!(
            e.detail(),
            "cannot use redis://h:1: unexpected reply: -ERR x (line 2)"
        );
        assert_eq!(
            EngineError::config("partitions 0 outside 1..=65536").detail(),
            "partitions 0 outside 1..=65536"
        );
    }
}
