//! The figures an engine reports about itself ([`EngineStats`], taken once
//! per interval during a run) and their parts: entity counts and bytes,
//! write faults, replication and failover, push feeds, durability (the
//! write-ahead log's counters and recoveries), and the Redis server's costs.
//! Plain data: the subsystems that produce a part (the partition, the log,
//! the fault injector, the shard set, the Redis engine) depend on this
//! module, and it depends only on the configuration's modes and the API's ids.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{OpKind, PostId};
use crate::config::{DurabilityMode, FeedMode, ReplicationMode};

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
    /// Ops answered with [`crate::ApiError::EngineFault`] because they panicked.
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
/// the end of its ops (the first [`crate::Engine::quiesce`] after it); before
/// [`crate::Engine::start_window`], from the engine's creation.
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
    pub mode: DurabilityMode,
    /// What the logs wrote and synced.
    pub log: WalCounters,
    /// What `--recover` replayed when the engine started (`None`: it
    /// started empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Recovery>,
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
    pub last_recovery: Option<Recovery>,
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
    pub mode: FeedMode,
    /// Posts delivered to their members' timelines.
    pub pushed_posts: u64,
    /// Deliveries those posts made (their write amplification).
    pub deliveries: u64,
    /// The most deliveries one post made (the worst post)...
    pub max_fanout: u64,
    /// ...and that post.
    pub max_fanout_post: Option<PostId>,
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
    pub mode: ReplicationMode,
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
    pub fn dropped_of(&self, kind: OpKind) -> u64 {
        self.dropped.get(kind.name()).copied().unwrap_or(0)
    }

    /// How many writes of `kind` were duplicated.
    pub fn duplicated_of(&self, kind: OpKind) -> u64 {
        self.duplicated.get(kind.name()).copied().unwrap_or(0)
    }
}

/// What opening a log found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Log records replayed (after the snapshot's state).
    pub records: u64,
    /// Records the snapshot covered (0: there was none).
    pub snapshot_records: u64,
    /// Bytes of the snapshot loaded.
    pub snapshot_bytes: u64,
    /// Log records skipped because the snapshot covered them (a crash
    /// between a snapshot and the compaction of its log).
    pub skipped_records: u64,
    /// Bytes of valid log (header included).
    pub bytes: u64,
    /// Bytes cut off the end: a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Why the tail was cut (`None`: the log ended cleanly).
    pub truncated_because: Option<String>,
    /// Time to read and replay it, in microseconds.
    pub micros: u64,
}

impl Recovery {
    /// Adds another partition's recovery (times summed: partitions recover
    /// one after another).
    pub fn add(&mut self, o: Recovery) {
        self.records += o.records;
        self.snapshot_records += o.snapshot_records;
        self.snapshot_bytes += o.snapshot_bytes;
        self.skipped_records += o.skipped_records;
        self.bytes += o.bytes;
        self.truncated_bytes += o.truncated_bytes;
        self.micros += o.micros;
        if self.truncated_because.is_none() {
            self.truncated_because = o.truncated_because;
        }
    }
}

/// What one partition's log did, for [`EngineStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WalCounters {
    /// Records written.
    pub records: u64,
    /// Bytes written (header included).
    pub bytes: u64,
    /// Group commits (writes of a non-empty buffer).
    pub commits: u64,
    /// The most records one commit wrote.
    pub max_group: u64,
    /// fsyncs.
    pub fsyncs: u64,
    /// Time spent in fsync, in microseconds.
    pub fsync_micros: u64,
    /// The longest fsync, in microseconds.
    pub max_fsync_micros: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Bytes of the last snapshot (summed over partitions: the size of the
    /// last snapshot of each).
    pub snapshot_bytes: u64,
    /// Time the snapshots paused their partition (encode, write, fsync,
    /// log compaction), in microseconds, summed...
    pub snapshot_pause_micros: u64,
    /// ...and the longest.
    pub max_snapshot_pause_micros: u64,
    /// Of the pauses, the time spent encoding the state, in microseconds.
    pub snapshot_encode_micros: u64,
}

impl WalCounters {
    /// Adds another partition's counters.
    pub fn add(&mut self, o: &WalCounters) {
        self.records += o.records;
        self.bytes += o.bytes;
        self.commits += o.commits;
        self.max_group = self.max_group.max(o.max_group);
        self.fsyncs += o.fsyncs;
        self.fsync_micros += o.fsync_micros;
        self.max_fsync_micros = self.max_fsync_micros.max(o.max_fsync_micros);
        self.snapshots += o.snapshots;
        self.snapshot_bytes += o.snapshot_bytes;
        self.snapshot_pause_micros += o.snapshot_pause_micros;
        self.max_snapshot_pause_micros = self
            .max_snapshot_pause_micros
            .max(o.max_snapshot_pause_micros);
        self.snapshot_encode_micros += o.snapshot_encode_micros;
    }
}
