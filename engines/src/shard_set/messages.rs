//! What travels on a shard's lanes: client ops on the client lane, and on
//! the peer lane everything a shard must never block on (follow-ups,
//! gathers, session registrations, probes, `Stop`).

use std::time::Instant;

use crate::api::{CommunityId, Op, PostId, PostSummary, Response, Sort};
use crate::mailbox::Sender;
use crate::partition::{FollowUp, Partition};

/// One client op on a client lane: 8 + 4 bytes of routing plus the op.
pub(super) struct ClientMsg {
    pub(super) session: u32,
    pub(super) tag: u64,
    pub(super) op: Op,
}

/// What a probe sees of a shard, between two batches.
pub(super) struct ShardView<'a> {
    pub(super) partition: &'a Partition,
    /// Client ops queued or taken but not applied.
    pub(super) unapplied_ops: usize,
    /// Home feeds waiting for gather replies.
    pub(super) gathers: usize,
    /// Follow-ups this shard sent to other shards.
    pub(super) sent: u64,
    /// Follow-ups from other shards this shard applied.
    pub(super) applied: u64,
    /// Its replication, when it has backups.
    pub(super) replica: Option<ReplicaView>,
    /// Its broker queue: deliveries received, not applied yet.
    pub(super) queued_deliveries: u64,
    /// The largest that queue has been.
    pub(super) max_queued: u64,
    /// Delivery delays sampled here, in microseconds.
    pub(super) staleness: &'a hdrhistogram::Histogram<u64>,
}

pub(super) type Probe = Box<dyn FnOnce(&ShardView<'_>) + Send>;
/// Replies travel in batches: one send (and at most one wake-up of the
/// client) per session per shard batch, instead of one per op.
pub(super) type ReplyBatch = Vec<(u64, Response)>;
pub(super) type ReplySender = Sender<ReplyBatch>;

/// What a dead (or deposed) primary's shard is handed: the promoted
/// backup's state and position.
pub(super) struct Takeover {
    /// The promoted backup's state; `None` when no backup answered: the
    /// shard restarts empty.
    pub(super) state: Option<Box<Partition>>,
    /// Log entries that state holds.
    pub(super) applied: u64,
    /// The shard's new epoch.
    pub(super) epoch: u64,
    /// Its index in [`FailoverStats::events`].
    pub(super) event: usize,
}

/// What a primary hears about its replication, on its peer lane.
pub(super) enum ReplMsg {
    /// Backup `backup` applied the log up to entry `upto`.
    Ack { backup: u8, upto: u64 },
    /// Backup `backup` stopped (shutdown, or a bug in its thread).
    Lost { backup: u8 },
    /// `sync`: shard `from`'s backups have the next follow-up this shard
    /// sent it (one message per follow-up, in order).
    Done { from: u32 },
}

/// What a primary's replication looks like between two batches.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ReplicaView {
    /// Entries logged.
    pub(super) logged: u64,
    /// Entries not yet acknowledged by every live backup.
    pub(super) lag: u64,
    /// The largest `lag` seen when shipping.
    pub(super) max_lag: u64,
    /// Replies waiting for the backups now.
    pub(super) held_now: usize,
    /// Replies that had to wait, in all.
    pub(super) held: u64,
    /// Backups whose thread is gone.
    pub(super) lost: u64,
}

/// Traffic a shard must never block on.
pub(super) enum PeerMsg {
    /// A follow-up from shard `from`.
    FollowUp {
        from: u32,
        f: FollowUp,
    },
    /// Posts for timelines here (`FollowUp::Deliver`s), from shard `from`:
    /// queued in the shard's broker queue and applied a chunk at a time.
    /// `at`: when the post that pushed them was applied (`None`: a backfill).
    Deliveries {
        from: u32,
        at: Option<Instant>,
        items: Vec<FollowUp>,
    },
    /// A part of a home feed: the best `limit` of the listed communities
    /// here, and the summaries of the listed posts here (a timeline's).
    Gather {
        origin: u32,
        cont: u32,
        communities: Vec<CommunityId>,
        posts: Vec<PostId>,
        sort: Sort,
        limit: u16,
    },
    /// `None`: the part panicked; the home feed is answered with a fault.
    GatherReply {
        cont: u32,
        posts: Option<Vec<PostSummary>>,
    },
    Register {
        session: u32,
        replies: ReplySender,
    },
    Unregister {
        session: u32,
    },
    /// News of this shard's replication, from a backup or another shard.
    Repl(ReplMsg),
    /// The coordinator's heartbeat `seq` (`failover.rs`).
    Ping(u64),
    /// The coordinator declared this shard's primary dead: take over with
    /// the promoted backup's state (`failover.rs`).
    Failover(Box<Takeover>),
    Probe(Probe),
    Stop,
}
