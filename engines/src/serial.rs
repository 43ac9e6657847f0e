//! The `serial` engine: one [`Partition`] applied inline by its single
//! session, with no lock, no thread and no channel on the op path. It is the
//! serial baseline C1 (McSherry et al., "Scalability! But at what COST?")
//! that every parallel engine must beat.
//!
//! [`Engine::session`] moves the partition into the session; dropping the
//! session moves it back. The mutex around the partition's slot is touched
//! only then (and every [`STATS_EVERY`] ops to publish a stats snapshot),
//! never once per op. A second session while one is live is refused with
//! [`EngineError::SessionLimit`].
//!
//! Follow-ups are applied right after their op, before the reply is queued:
//! with one partition they are all local, so `quiesce` has nothing to wait for.
//!
//! Durability (`--durability`, `wal/mod.rs`): the session appends each
//! applied write to the log as it applies it, and commits the group when it
//! is polled, before the replies leave: one `write` (and in `fsync` mode one
//! fsync) per poll. The crash fault fires inline, between two ops: the
//! partition is rebuilt from its log and the ops not yet polled are answered
//! [`ApiError::Crashed`] (none of them is on disk, so none is applied).
//!
//! Faults: the serial engine injects none but the crash. It is the reference the faulty
//! engines are compared against, and a silent no-op would let a fault test
//! pass vacuously, so [`SerialEngine::new`] refuses a configuration with any
//! fault set. The hook, should the serial engine ever inject faults, is the
//! one `p.apply(..)` call in [`SerialSession::submit`]: replace it with
//! `crate::fault::apply_guarded`, as the threaded engines do. (Panic safety: an op that panics
//! unwinds through the client's thread and the partition is lost with the
//! session; no op in this crate panics on any input.)

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::api::{ApiError, Op, Response};
use crate::audit::Audit;
use crate::config::EngineConfig;
use crate::engine::{Engine, Session};
use crate::error::EngineError;
use crate::fault::CrashPlan;
use crate::partition::{FollowUp, Partition, PostClock};
use crate::stats::{DurabilityStats, EngineStats, FeedStats, PartitionStats};
use crate::wal::{Durable, prepare_fresh_dir};

/// A live session publishes a stats snapshot every this many ops: one lock
/// and an O(1) [`Partition::stats`] per 4096 ops, so [`Engine::stats`] lags a
/// live run by at most 4096 ops at no per-op cost.
pub const STATS_EVERY: u32 = 4096;

#[derive(Debug)]
struct Slot {
    /// `None` while a session holds the partition.
    partition: Option<Partition>,
    /// The latest snapshot a live session published.
    snapshot: PartitionStats,
    /// The push figures published with it (`None`: pulling).
    feed_snapshot: Option<FeedStats>,
    /// The partition's log and crash timer, which move with it.
    durable: Option<Durable>,
    /// The durability figures published with the snapshot.
    durable_snapshot: Option<DurabilityStats>,
}

#[derive(Debug)]
struct Shared {
    slot: Mutex<Slot>,
    /// Signalled when a session gives the partition back.
    returned: Condvar,
    shut_down: AtomicBool,
}

/// The `serial` engine: one partition, one session at a time, applied inline.
#[derive(Debug)]
pub struct SerialEngine {
    shared: Arc<Shared>,
    crash: Option<Arc<CrashPlan>>,
}

/// The only session of a [`SerialEngine`]: it owns the partition while it lives.
#[derive(Debug)]
pub struct SerialSession {
    shared: Arc<Shared>,
    /// Always `Some` until the session is dropped.
    partition: Option<Partition>,
    durable: Option<Durable>,
    follow_ups: Vec<FollowUp>,
    /// Replies not yet polled, in submission order (reused across polls).
    replies: VecDeque<(u64, Response)>,
    since_snapshot: u32,
}

impl SerialEngine {
    /// Builds the engine after checking `config`
    /// ([`EngineConfig::validate`]). `partitions`, `mailbox`, `channel` and
    /// `pin` are otherwise ignored (one partition, no thread, no mailbox);
    /// any configured fault is refused with [`EngineError::Config`] (see the
    /// module docs).
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        config.refuse_replicas("serial")?;
        if config.faults.any() {
            return Err(EngineError::config(
                "the serial engine injects no faults but the crash (it is the fault-free \
                 baseline); use the actor, sharded or striped engine to test faults",
            ));
        }
        let crash = config.faults.crash.map(CrashPlan::new);
        if let Some(c) = &crash
            && c.partition() != 0
        {
            return Err(EngineError::config(format!(
                "crash partition {} outside 0..1: the serial engine has one partition",
                c.partition()
            )));
        }
        if let Some(dir) = config.durability.log_dir()?
            && !config.durability.recover
        {
            prepare_fresh_dir(dir).map_err(|e| EngineError::config(e.to_string()))?;
        }
        let mut partition = Partition::new(0, 1, PostClock::new());
        partition.set_feeds(config.feeds);
        let durable = Durable::open(config, "serial", (0, 1), &mut partition, crash.as_ref())
            .map_err(|e| EngineError::config(e.to_string()))?;
        Ok(SerialEngine {
            shared: Arc::new(Shared {
                slot: Mutex::new(Slot {
                    snapshot: partition.stats(),
                    feed_snapshot: feed_stats(&partition),
                    durable_snapshot: durable.as_ref().map(Durable::snapshot),
                    durable,
                    partition: Some(partition),
                }),
                returned: Condvar::new(),
                shut_down: AtomicBool::new(false),
            }),
            crash,
        })
    }

    /// Runs `f` on the partition, waiting for a live session to give it back.
    fn with_partition<R>(&self, f: impl FnOnce(&Partition) -> R) -> R {
        let mut slot = self.shared.slot.lock();
        loop {
            if let Some(p) = slot.partition.as_ref() {
                return f(p);
            }
            self.shared.returned.wait(&mut slot);
        }
    }
}

impl Session for SerialSession {
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError> {
        if self.shared.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        let Some(p) = self.partition.as_mut() else {
            return Err(EngineError::Shutdown);
        };
        let response = match self.durable.as_mut() {
            None => p.apply(op, &mut self.follow_ups),
            Some(d) => {
                if d.crash.as_mut().is_some_and(|t| t.due()) {
                    d.crash(p, true);
                    fail_in_flight(d, &mut self.replies);
                }
                durable_apply(p, d, op, &mut self.follow_ups)
            }
        };
        for f in self.follow_ups.drain(..) {
            p.apply_follow_up(f);
        }
        self.replies.push_back((tag, response));
        self.since_snapshot += 1;
        if self.since_snapshot >= STATS_EVERY {
            self.since_snapshot = 0;
            let mut slot = self.shared.slot.lock();
            slot.snapshot = p.stats();
            slot.feed_snapshot = feed_stats(p);
            slot.durable_snapshot = self.durable.as_ref().map(Durable::snapshot);
        }
        Ok(())
    }

    /// Every op is answered during `submit`, so `wait` never blocks. A
    /// durable partition first commits the writes of the replies about to
    /// leave (group commit); a log that cannot be written is a crash.
    fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
        if let (Some(d), Some(p)) = (self.durable.as_mut(), self.partition.as_mut()) {
            let failed = d.wal.as_mut().is_some_and(|w| w.commit().is_err());
            if failed {
                d.crash(p, true);
                fail_in_flight(d, &mut self.replies);
            } else if d.snapshot_if_due(p, true) {
                fail_in_flight(d, &mut self.replies);
            }
            d.unacked = 0;
        }
        let n = self.replies.len();
        for (tag, r) in self.replies.drain(..) {
            f(tag, r);
        }
        n
    }

    fn outstanding(&self) -> usize {
        self.replies.len()
    }
}

impl Drop for SerialSession {
    fn drop(&mut self) {
        if let Some(p) = self.partition.take() {
            // Replies never polled were never acknowledged, but their
            // writes are applied: commit them so that the state and the
            // log agree.
            if let Some(w) = self.durable.as_mut().and_then(|d| d.wal.as_mut()) {
                let _ = w.commit();
            }
            let mut slot = self.shared.slot.lock();
            slot.snapshot = p.stats();
            slot.feed_snapshot = feed_stats(&p);
            slot.durable_snapshot = self.durable.as_ref().map(Durable::snapshot);
            slot.durable = self.durable.take();
            slot.partition = Some(p);
            drop(slot);
            self.shared.returned.notify_all();
        }
    }
}

impl Engine for SerialEngine {
    type Session = SerialSession;

    fn name(&self) -> &'static str {
        "serial"
    }

    /// Moves the partition into a new session; fails with
    /// [`EngineError::SessionLimit`] while another session is live.
    fn session(&self) -> Result<SerialSession, EngineError> {
        if self.shared.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        let mut slot = self.shared.slot.lock();
        let partition = slot.partition.take().ok_or(EngineError::SessionLimit {
            engine: "serial",
            max: 1,
        })?;
        let durable = slot.durable.take();
        drop(slot);
        Ok(SerialSession {
            shared: Arc::clone(&self.shared),
            partition: Some(partition),
            durable,
            follow_ups: Vec::with_capacity(4),
            replies: VecDeque::with_capacity(64),
            since_snapshot: 0,
        })
    }

    /// Fresh when no session is live; otherwise the snapshot the session
    /// published last (at most [`STATS_EVERY`] ops old). No threads, no
    /// mailboxes, no pending follow-ups.
    fn stats(&self) -> EngineStats {
        let slot = self.shared.slot.lock();
        let (s, feeds, durability) = match slot.partition.as_ref() {
            Some(p) => (
                p.stats(),
                feed_stats(p),
                slot.durable.as_ref().map(Durable::snapshot),
            ),
            None => (
                slot.snapshot,
                slot.feed_snapshot.clone(),
                slot.durable_snapshot.clone(),
            ),
        };
        EngineStats {
            counts: s.counts,
            bytes: s.bytes,
            feeds,
            durability,
            ..EngineStats::default()
        }
    }

    /// Nothing to do: follow-ups are applied inline before each reply.
    fn quiesce(&self) {}

    /// The partition's audit. While a session is live this **waits until the
    /// session is dropped** (the partition lives in the session): call it after
    /// the run's sessions end, never from the thread that holds the session.
    fn audit(&self) -> Audit {
        self.with_partition(Partition::audit)
    }

    /// The partition's digest; waits for a live session like [`Engine::audit`].
    fn digest(&self) -> u64 {
        self.with_partition(Partition::digest)
    }

    /// The partition's entities; waits for a live session like [`Engine::audit`].
    fn entities(&self) -> Option<crate::audit::Entities> {
        Some(self.with_partition(Partition::entities))
    }

    /// Arms the crash fault.
    fn start_window(&self, at: std::time::Instant) {
        if let Some(c) = &self.crash {
            c.arm(at);
        }
    }

    /// Marks the engine shut down: a live session's next `submit` fails, and
    /// no new session is handed out. There is no thread to join. The state
    /// stays readable by `audit`, `digest` and `stats`.
    fn shutdown(&self) {
        self.shared.shut_down.store(true, Ordering::Relaxed);
    }
}

/// Applies `op` to the durable partition `p`, appending it to the log when
/// it is a write that changed the state.
#[inline]
fn durable_apply(
    p: &mut Partition,
    d: &mut Durable,
    op: Op,
    follow_ups: &mut Vec<FollowUp>,
) -> Response {
    if !op.kind().is_write() {
        return p.apply(op, follow_ups);
    }
    let mark = d
        .wal
        .as_mut()
        .map(|w| w.begin_op(&op, crate::fault::OpFault::None));
    let response = p.apply(op, follow_ups);
    let stamps = p.stamps.take();
    if let (Some(w), Some(m)) = (d.wal.as_mut(), mark) {
        w.end_op(m, stamps, response.is_ok());
    }
    if response.is_ok() {
        d.writes += 1;
        d.unacked += 1;
    }
    response
}

/// A crash answers every op not yet polled with [`ApiError::Crashed`]:
/// none of them reached the disk, so none survives it.
fn fail_in_flight(d: &mut Durable, replies: &mut VecDeque<(u64, Response)>) {
    for (_, r) in replies.iter_mut() {
        *r = Err(ApiError::Crashed);
    }
    d.stats.failed_ops += replies.len() as u64;
}

/// The partition's push figures, when it pushes (delivery is synchronous
/// inside the post here: no backlog, no staleness).
fn feed_stats(p: &Partition) -> Option<FeedStats> {
    p.feeds().pushes().then(|| p.feed_stats())
}
