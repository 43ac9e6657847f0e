//! Primary-backup replication of a shard (`EngineConfig::replication`):
//! the primary's side ([`Replicator`]: its log, what each backup has
//! acknowledged, the replies held until they may leave) and a backup's
//! thread ([`Backup`]).
//!
//! # The log
//! A primary logs every state change in the order it applied it: each
//! client write (with the fault decision it was applied under, so that a
//! dropped or duplicated write replays as it happened, and the post stamps
//! it took: posts are stamped by the engine-wide clock, which a replay must
//! not tick again) and each follow-up it applied, its own or another
//! shard's. Reads and injected panics (which never reach the partition) are
//! not logged. A backup applies the entries through the same [`Partition`]
//! code, so it converges on the same state: after `quiesce` every backup's
//! digest equals its primary's, and the audit checks it.
//!
//! # Shipping and acknowledgement
//! The log is shipped once per shard batch (and when the shard goes idle),
//! one message per backup on an unbounded channel; a backup applies a
//! message's entries and acknowledges the last one on its primary's peer
//! lane. Nobody waits on anybody: the backup only ever blocks on its own
//! empty channel, and the primary never blocks at all, so replication adds
//! no cycle of waiting threads to the shard set (see its module docs).
//!
//! # When a reply leaves
//! Whatever a shard sends that reveals its state (a reply, a follow-up to
//! another shard, a part of a home feed) is held, in order, while the log
//! holds entries the backups have not acknowledged:
//! - `sync`: until they have every entry logged before it, so that an
//!   acknowledged write is on every backup of the shard that took it (and,
//!   below, of the shards its follow-ups reached), and no reply (a read included, here or on a shard a follow-up or gather
//!   reached) reveals a write a backup lacks;
//! - `async`: until they have all but the last
//!   [`Replication::ASYNC_MAX_LAG`] entries: it leaves at once unless the
//!   backups fall that far behind, which bounds the lag (and what a
//!   failover could lose).
//!
//! Reads are held too in `sync` for that reason: a primary-backup store
//! that answered reads before replication could show a client a write that
//! a failover then loses. Held follow-ups keep the causality rule: they are
//! released in order, before the reply they preceded.
//!
//! In `sync` a write's reply also waits for the backups of the shards its
//! follow-ups (karma, subscriptions) land on: after sending a follow-up the
//! shard queues a barrier that no reply after it passes until the
//! destination answers `ReplMsg::Done`, which the destination sends once its
//! own backups have the follow-up. Those answers wait for the backups only,
//! in a queue of their own, never behind a barrier: two shards awaiting each
//! other's answers would otherwise wait forever. So an acknowledged write
//! and all its effects are on every backup.
//!
//! Messages to other shards (follow-ups, feed parts) wait only for this
//! shard's own backups, in a line of their own beside the replies': a
//! barrier holding them too would let one follow-up through per round trip
//! to the destination's backups (with durable shards, one fsync there per
//! follow-up) instead of letting them stream and be acknowledged in groups.
//! The replies keep the causality rule: a message sent before a reply has a
//! lower or equal log position, so it is ready whenever the reply is, and
//! leaves first.
//!
//! A durable shard that crashes
//! (`--fault crash`) keeps each follow-up it applied until it has sent its
//! `Done`, and applies the ones its crash lost again
//! ([`Replicator::after_crash`]): in one process that stands for the
//! senders' resends; a failover (`failover.rs`) settles what the old
//! primary held the same way ([`Replicator::failover`]). The entries a
//! crash lost leave a gap in the log's numbering: the log counts as having
//! every entry up to the last one logged before the crash, so nothing held
//! afterwards waits for them.
//!
//! A backup whose thread is gone (ended by a bug: a guard tells the
//! primary, or found by a failed send) stops counting: the primary goes on
//! with the others, and the loss is reported and fails the audit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender as LogSender};

use super::messages::{PeerMsg, ReplMsg, ReplicaView};
use crate::api::{ApiError, Op, Response};
use crate::config::{Replication, ReplicationMode};
use crate::fault::{FaultCounters, OpFault};
use crate::mailbox::Sender;
use crate::partition::{FollowUp, Partition};
pub(super) use crate::wal::LogEntry;

/// A probe of a backup: its partition and how many log entries it applied.
pub(super) type BackupProbe = Box<dyn FnOnce(&Partition, u64) + Send>;

/// What a backup receives from its primary and from the shard set.
pub(super) enum BackupMsg {
    /// The log entries numbered `upto - entries.len() + 1 ..= upto`, from
    /// the primary of `epoch` (refused after a fence at a later one).
    Log {
        epoch: u64,
        upto: u64,
        entries: Vec<LogEntry>,
    },
    /// The coordinator's heartbeat `seq` (`failover.rs`).
    Ping(u64),
    /// The shard failed over to `epoch`: refuse older entries from now on
    /// and answer how many entries were applied.
    Fence {
        epoch: u64,
        reply: crossbeam_channel::Sender<u64>,
    },
    /// Hand the state over: it becomes the new primary's. The backup
    /// encodes it first (`Partition::encode_state`), sends the partition
    /// itself with the encoding, and only then rebuilds its own copy from
    /// the encoding, so the decoding is not part of the handover.
    Promote {
        reply: crossbeam_channel::Sender<(Box<Partition>, Arc<Vec<u8>>)>,
    },
    /// Take this state, which holds `applied` entries: the promoted
    /// backup's, further ahead than this one.
    Reset { state: Arc<Vec<u8>>, applied: u64 },
    /// Runs between two log messages.
    Probe(BackupProbe),
    /// Ends the thread.
    Stop,
    /// The shard crashed (`--fault crash`; only its log thread gets this):
    /// the log drops what it has not synced and rebuilds `fresh` from the
    /// snapshot and the log (`log_writer.rs`).
    Crash {
        fresh: Box<Partition>,
        reply: crossbeam_channel::Sender<Recovered>,
    },
}

/// What a log thread answers a crash with.
pub(super) struct Recovered {
    /// The rebuilt partition, or why the log could not be read back (the
    /// shard then restarts empty).
    pub(super) part: Result<Box<Partition>, String>,
    /// The last log entry on disk: everything after it is lost.
    pub(super) synced_upto: u64,
    /// Records written but not synced: acknowledged in `log` mode, lost.
    pub(super) lost_records: u64,
    /// What the rebuild read.
    pub(super) recovery: crate::stats::Recovery,
}

/// What a crash leaves the shard to do (`Replicator::after_crash`).
pub(super) struct AfterCrash {
    /// To send now: `crashed` replies for the ops whose entries were lost,
    /// and the feed parts held (reads, which other shards wait for).
    pub(super) now: Vec<Out>,
    /// Replies answered `crashed`.
    pub(super) failed: u64,
    /// Follow-ups of lost writes that were held: never sent.
    pub(super) dropped: u64,
    /// Follow-ups from other shards applied here whose entries were lost,
    /// with their senders: applied again, as the senders' resends would
    /// be (they keep each follow-up until this shard's `Done`).
    pub(super) lost_incoming: Vec<(usize, FollowUp)>,
}

/// A backup's thread: applies its primary's log, acknowledges each message.
pub(super) struct Backup {
    /// Which of its shard's backups this is.
    pub(super) index: u8,
    pub(super) part: Partition,
    pub(super) rx: Receiver<BackupMsg>,
    /// The primary's peer lane, for acknowledgements.
    pub(super) primary: Sender<PeerMsg>,
    /// Entries applied.
    pub(super) applied: u64,
    /// Faults replayed here are the primary's, already counted there.
    pub(super) counters: FaultCounters,
    /// Scratch: the follow-ups an op pushes (the primary routed them; they
    /// come back as entries of the log of the shard they landed on).
    pub(super) scratch: Vec<FollowUp>,
    /// The shard's epoch as last fenced: older log entries are refused.
    pub(super) epoch: u64,
    /// What it reports to the coordinator (`None`: no coordinator).
    pub(super) watch: Option<Arc<BackupWatch>>,
}

/// What a backup reports to the coordinator (`failover.rs`): the last
/// heartbeat it answered, and the log entries of deposed primaries it
/// refused. Written by the backup's thread only.
#[derive(Debug, Default)]
pub(super) struct BackupWatch {
    pub(super) beat: AtomicU64,
    pub(super) fenced: AtomicU64,
}

impl Backup {
    /// The thread: until `Stop` or until every sender is gone. However it
    /// ends (a panic included), its primary is told, so that nothing waits
    /// for it any longer.
    pub(super) fn run(mut self) {
        let _lost = Lost {
            primary: self.primary.clone(),
            backup: self.index,
        };
        while let Ok(msg) = self.rx.recv() {
            match msg {
                BackupMsg::Log {
                    epoch,
                    upto,
                    entries,
                } => {
                    if epoch < self.epoch {
                        if let Some(w) = &self.watch {
                            w.fenced.fetch_add(entries.len() as u64, Ordering::Relaxed);
                        }
                        continue;
                    }
                    for e in entries {
                        self.apply(e);
                    }
                    self.applied = upto;
                    let ack = PeerMsg::Repl(ReplMsg::Ack {
                        backup: self.index,
                        upto,
                    });
                    // Fails only once the primary is gone.
                    let _ = self.primary.send(ack);
                }
                BackupMsg::Probe(p) => p(&self.part, self.applied),
                BackupMsg::Ping(seq) => {
                    if let Some(w) = &self.watch {
                        w.beat.store(seq, Ordering::Release);
                    }
                }
                BackupMsg::Fence { epoch, reply } => {
                    self.epoch = self.epoch.max(epoch);
                    let _ = reply.send(self.applied);
                }
                BackupMsg::Promote { reply } => {
                    let mut state = Vec::new();
                    self.part.encode_state(&mut state);
                    let state = Arc::new(state);
                    let fresh = self.part.empty_like();
                    let part = std::mem::replace(&mut self.part, fresh);
                    let _ = reply.send((Box::new(part), state.clone()));
                    // Its own encoding, just made: decoding it cannot fail.
                    let _ = self.part.restore_state(&state);
                }
                BackupMsg::Reset { state, applied } => {
                    let mut part = self.part.empty_like();
                    // The promoted backup's own encoding: it decodes.
                    if part.restore_state(&state).is_ok() {
                        self.part = part;
                        self.applied = applied;
                    }
                }
                BackupMsg::Stop => break,
                // Durable shards have no backups: never sent here.
                BackupMsg::Crash { .. } => {}
            }
        }
    }

    fn apply(&mut self, e: LogEntry) {
        crate::wal::replay(&mut self.part, e, false, &mut self.scratch, &self.counters);
    }
}

/// Tells a backup's primary, when dropped, that the backup is gone.
pub(super) struct Lost {
    pub(super) primary: Sender<PeerMsg>,
    pub(super) backup: u8,
}

impl Drop for Lost {
    fn drop(&mut self) {
        // Fails only once the primary is gone too.
        let _ = self.primary.send(PeerMsg::Repl(ReplMsg::Lost {
            backup: self.backup,
        }));
    }
}

/// What a shard sends that may reveal its state: it leaves no earlier than
/// the log entries before it allow.
pub(super) enum Out {
    /// A reply to a session.
    Reply {
        session: u32,
        tag: u64,
        response: Response,
    },
    /// A follow-up or a gather reply to another shard: in `sync` it waits
    /// too, or a read there could reveal a write this shard's backups lack.
    Peer { dest: usize, msg: PeerMsg },
}

/// Something waiting, in line.
enum Held {
    /// `out` leaves once the backups have acknowledged entry `seq` (less
    /// the allowed lag).
    Out { seq: u64, out: Out },
    /// `sync`: no reply after it leaves before shard `dest` has said its
    /// backups have the `count`-th follow-up this shard sent it.
    Barrier { dest: usize, count: u64 },
}

/// A primary's side of replication (see the module docs).
pub(super) struct Replicator {
    backups: Vec<LogSender<BackupMsg>>,
    /// Highest entry each backup acknowledged; `u64::MAX` once it is gone.
    acked: Vec<u64>,
    /// Entries logged, not shipped yet.
    outbox: Vec<LogEntry>,
    /// A reply may leave once every backup has all but this many entries.
    allowed_lag: u64,
    /// Replies and barriers, in line.
    held: VecDeque<Held>,
    /// Messages to other shards, in line: (log position, message).
    held_peers: VecDeque<(u64, Out)>,
    view: ReplicaView,
    /// This shard's index (the `from` of its `ReplMsg::Done`s).
    index: u32,
    /// `sync`: follow-ups sent to each shard, and how many of them that
    /// shard said its backups have (empty in `async`).
    sent_to: Vec<u64>,
    done_from: Vec<u64>,
    /// `ReplMsg::Done`s owed, in order: (log entry, shard). They wait for
    /// the backups only, never behind a barrier (two shards awaiting each
    /// other's would wait forever).
    dones: VecDeque<(u64, usize, FollowUp)>,
    /// The entries logged when the shard last crashed: each is on disk or
    /// was lost and settled then, so a later crash loses only those after
    /// it (the log thread's last sync may still be older).
    settled: u64,
    /// The shard's epoch (raised by each failover), sent with the log.
    epoch: u64,
    /// Test knob ([`crate::config::Failover::hold_shipping`]): ship
    /// nothing until the next failover.
    hold_shipping: bool,
}

impl Replicator {
    /// The replication of shard `index` of `shards`, with these backups.
    pub(super) fn new(
        backups: Vec<LogSender<BackupMsg>>,
        config: Replication,
        (index, shards): (usize, usize),
    ) -> Replicator {
        let sync = config.mode == ReplicationMode::Sync;
        Replicator {
            acked: vec![0; backups.len()],
            backups,
            outbox: Vec::new(),
            allowed_lag: if sync { 0 } else { Replication::ASYNC_MAX_LAG },
            held: VecDeque::new(),
            held_peers: VecDeque::new(),
            view: ReplicaView::default(),
            index: index as u32,
            sent_to: if sync { vec![0; shards] } else { Vec::new() },
            done_from: if sync { vec![0; shards] } else { Vec::new() },
            dones: VecDeque::new(),
            settled: 0,
            epoch: 0,
            hold_shipping: false,
        }
    }

    /// Test knob: ship nothing until the next failover.
    pub(super) fn hold_shipping(&mut self) {
        self.hold_shipping = true;
    }

    /// The primary was killed: what it had not shipped is lost with it.
    pub(super) fn die(&mut self) {
        self.outbox.clear();
    }

    /// The shard failed over to `epoch`, whose primary starts from the
    /// promoted backup's state of `applied` entries: what was held for an
    /// entry after it is answered unavailable or dropped, as
    /// [`Replicator::after_crash`] does; the log goes on from `applied`,
    /// which every live backup has now (the coordinator reset those that
    /// lagged). Gives back what to send, and how many entries were lost.
    pub(super) fn failover(&mut self, applied: u64, epoch: u64) -> (AfterCrash, u64) {
        self.outbox.clear();
        self.epoch = epoch;
        self.hold_shipping = false;
        let lost = self.view.logged.saturating_sub(applied);
        let after = self.settle_lost(applied, ApiError::Unavailable);
        self.view.logged = applied;
        self.settled = applied;
        for a in &mut self.acked {
            if *a != u64::MAX {
                *a = applied;
            }
        }
        (after, lost)
    }

    /// A follow-up to shard `dest` has just been handed to [`Replicator::hold`]:
    /// in `sync` no reply after it leaves before `dest`'s backups have it.
    pub(super) fn await_follow_up(&mut self, dest: usize) {
        if let Some(n) = self.sent_to.get_mut(dest) {
            *n += 1;
            let count = *n;
            self.held.push_back(Held::Barrier { dest, count });
        }
    }

    /// A follow-up `f` from shard `from` has just been applied and
    /// logged: in `sync`, tell `from` once the backups have it (kept until
    /// then, for a crash to apply again).
    pub(super) fn owe_done(&mut self, from: usize, f: FollowUp) {
        if !self.sent_to.is_empty() {
            self.dones.push_back((self.view.logged, from, f));
        }
    }

    /// The shard crashed: the entries not shipped are lost with it, and
    /// the log thread (the only sink of a durable shard) is told.
    pub(super) fn crash_log(&mut self, msg: BackupMsg) -> bool {
        self.outbox.clear();
        self.backups.first().is_some_and(|b| b.send(msg).is_ok())
    }

    /// The log kept entries up to `synced` and lost the rest: what was
    /// held for a lost entry is answered `crashed` (replies), dropped
    /// (follow-ups of lost writes, with their barriers) or sent (feed
    /// parts); follow-ups from other shards applied in lost entries are
    /// handed back to be applied again. (Deliveries are never held here:
    /// the crash fault refuses push feeds on shard sets.)
    pub(super) fn after_crash(&mut self, synced: u64) -> AfterCrash {
        let synced = synced.max(self.settled);
        self.settled = self.view.logged;
        // The entries after `synced` are gone, and what was held for them
        // is settled below: the log has all that is left up to `logged`.
        // The numbering goes on after `logged` (the log thread acknowledges
        // the numbers shipped to it), so short of this, what is held at
        // `logged` until the next entry (a read's reply, a feed part) would
        // wait for the acknowledgement of a lost entry, which never comes.
        if let Some(a) = self.acked.first_mut()
            && *a != u64::MAX
        {
            *a = (*a).max(self.view.logged);
        }
        self.settle_lost(synced, ApiError::Crashed)
    }

    /// Settles what was held for the entries after `kept`, which are lost:
    /// replies are answered `error`, follow-ups of lost writes dropped
    /// with their barriers, feed parts sent; follow-ups from other shards
    /// applied in lost entries are handed back to be applied again.
    fn settle_lost(&mut self, kept: u64, error: ApiError) -> AfterCrash {
        let mut after = AfterCrash {
            now: Vec::new(),
            failed: 0,
            dropped: 0,
            lost_incoming: Vec::new(),
        };
        let mut dropped = vec![0u64; self.sent_to.len()];
        let peers = std::mem::take(&mut self.held_peers);
        for (seq, out) in peers {
            match out {
                Out::Peer {
                    dest,
                    msg: PeerMsg::FollowUp { .. },
                } if seq > kept => {
                    if let Some(d) = dropped.get_mut(dest) {
                        *d += 1;
                    }
                    after.dropped += 1;
                }
                out if seq > kept => after.now.push(out),
                out => self.held_peers.push_back((seq, out)),
            }
        }
        for (dest, d) in dropped.iter().enumerate() {
            self.sent_to[dest] -= d;
        }
        let held = std::mem::take(&mut self.held);
        for h in held {
            match h {
                Held::Out {
                    seq,
                    out: Out::Reply { session, tag, .. },
                } if seq > kept => {
                    after.failed += 1;
                    after.now.push(Out::Reply {
                        session,
                        tag,
                        response: Err(error),
                    });
                }
                Held::Barrier { dest, count } if count > self.sent_to[dest] => {}
                h => self.held.push_back(h),
            }
        }
        let dones = std::mem::take(&mut self.dones);
        for (seq, from, f) in dones {
            if seq > kept {
                after.lost_incoming.push((from, f));
            } else {
                self.dones.push_back((seq, from, f));
            }
        }
        after
    }

    /// Takes in what a backup or another shard says.
    pub(super) fn on(&mut self, m: ReplMsg) {
        match m {
            ReplMsg::Ack { backup, upto } => {
                if let Some(a) = self.acked.get_mut(backup as usize)
                    && *a != u64::MAX
                {
                    *a = (*a).max(upto);
                }
            }
            ReplMsg::Lost { backup } => self.lose(backup as usize),
            ReplMsg::Done { from } => {
                if let Some(n) = self.done_from.get_mut(from as usize) {
                    *n += 1;
                }
            }
        }
    }

    /// Backup `backup` is gone: it no longer holds anything back.
    fn lose(&mut self, backup: usize) {
        if let Some(a) = self.acked.get_mut(backup)
            && *a != u64::MAX
        {
            *a = u64::MAX;
            self.view.lost += 1;
        }
    }

    /// The highest entry every live backup has (everything logged when none is left).
    fn min_acked(&self) -> u64 {
        self.acked
            .iter()
            .copied()
            .min()
            .map_or(self.view.logged, |a| a.min(self.view.logged))
    }

    /// Logs a client write applied under `fault`, which took `stamps`.
    pub(super) fn log_op(&mut self, op: Op, fault: OpFault, stamps: [u64; 2]) {
        self.push(LogEntry::Op { op, fault, stamps });
    }

    /// Logs a follow-up applied.
    pub(super) fn log_follow_up(&mut self, f: FollowUp) {
        self.push(LogEntry::FollowUp(f));
    }

    #[inline]
    fn push(&mut self, e: LogEntry) {
        self.outbox.push(e);
        self.view.logged += 1;
    }

    /// Holds `out`, given now, while the backups are too far behind (and
    /// behind anything held before it in its line: a reply behind the
    /// replies, barriers and messages to other shards before it; such a
    /// message behind the messages before it); gives it back when it may
    /// leave at once.
    #[inline]
    pub(super) fn hold(&mut self, out: Out) -> Option<Out> {
        let seq = self.view.logged;
        let ready = seq <= self.min_acked().saturating_add(self.allowed_lag);
        match out {
            Out::Peer { .. } => {
                if ready && self.held_peers.is_empty() {
                    return Some(out);
                }
                self.held_peers.push_back((seq, out));
            }
            Out::Reply { .. } => {
                if ready && self.held.is_empty() && self.held_peers.is_empty() {
                    return Some(out);
                }
                self.view.held += 1;
                self.held.push_back(Held::Out { seq, out });
            }
        }
        None
    }

    /// The next held message that may leave now.
    pub(super) fn pop_ready(&mut self) -> Option<Out> {
        let upto = self.min_acked().saturating_add(self.allowed_lag);
        if let Some(&(seq, dest, _)) = self.dones.front()
            && seq <= upto
        {
            self.dones.pop_front();
            let msg = PeerMsg::Repl(ReplMsg::Done { from: self.index });
            return Some(Out::Peer { dest, msg });
        }
        if let Some(&(seq, _)) = self.held_peers.front()
            && seq <= upto
        {
            return self.held_peers.pop_front().map(|(_, out)| out);
        }
        loop {
            let ready = match *self.held.front()? {
                Held::Barrier { dest, count } => self.done_from[dest] >= count,
                Held::Out { seq, .. } => seq <= upto,
            };
            if !ready {
                return None;
            }
            if let Some(Held::Out { out, .. }) = self.held.pop_front() {
                return Some(out);
            }
        }
    }

    /// Sends the entries logged since the last call to every live backup.
    pub(super) fn ship(&mut self) {
        if self.outbox.is_empty() || self.hold_shipping {
            return;
        }
        let upto = self.view.logged;
        let mut entries = Some(std::mem::take(&mut self.outbox));
        // The last live backup takes the entries, the others a copy.
        let last = self.acked.iter().rposition(|&a| a != u64::MAX);
        for b in 0..self.backups.len() {
            if self.acked[b] == u64::MAX {
                continue;
            }
            let batch = if Some(b) == last {
                entries.take()
            } else {
                entries.clone()
            };
            let msg = BackupMsg::Log {
                epoch: self.epoch,
                upto,
                entries: batch.unwrap_or_default(),
            };
            if self.backups[b].send(msg).is_err() {
                self.lose(b);
            }
        }
        let lag = upto - self.min_acked();
        self.view.max_lag = self.view.max_lag.max(lag);
    }

    /// The replication's figures now.
    pub(super) fn view(&self) -> ReplicaView {
        ReplicaView {
            lag: self.view.logged - self.min_acked(),
            held_now: self.held.len() + self.held_peers.len() + self.dones.len(),
            ..self.view
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CommunityId, UserId};
    use crate::config::EngineConfig;
    use crate::engine::Session;
    use crate::shard_set::ShardSet;

    fn follow_up(dest: usize, user: u32) -> Out {
        let f = FollowUp::Karma {
            user: UserId(user),
            post: 1,
            comment: 0,
        };
        let msg = PeerMsg::FollowUp { from: 0, f };
        Out::Peer { dest, msg }
    }

    fn reply(tag: u64) -> Out {
        let response = Ok(crate::api::Reply::Done);
        Out::Reply {
            session: 0,
            tag,
            response,
        }
    }

    fn what(o: Option<Out>) -> String {
        match o {
            None => "none".into(),
            Some(Out::Reply { tag, .. }) => format!("reply {tag}"),
            Some(Out::Peer {
                msg: PeerMsg::FollowUp { f, .. },
                ..
            }) => format!("follow-up {}", f.user().0),
            Some(Out::Peer { .. }) => "another peer message".into(),
        }
    }

    /// Everything that may leave now, in order.
    fn ready(r: &mut Replicator) -> Vec<String> {
        std::iter::from_fn(|| r.pop_ready())
            .map(|o| what(Some(o)))
            .collect()
    }

    /// In `sync`, a write's reply waits behind the barrier of its
    /// follow-up until the destination says its backups have it, but the
    /// follow-ups after it do not: they wait only for this shard's backups,
    /// and leave before any reply they preceded.
    #[test]
    fn follow_ups_pass_a_barrier_that_holds_the_replies_after_it() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let sync = Replication {
            replicas: 1,
            mode: ReplicationMode::Sync,
        };
        let mut r = Replicator::new(vec![tx], sync, (0, 3));
        let mut sent = Vec::new();
        // Op 1: a write with a follow-up to shard 1, then its reply.
        r.log_op(Op::Register { user: UserId(1) }, OpFault::None, [0; 2]);
        sent.push(what(r.hold(follow_up(1, 10))));
        r.await_follow_up(1);
        sent.push(what(r.hold(reply(1))));
        // Op 2: a write with a follow-up to shard 2, then its reply.
        r.log_op(Op::Register { user: UserId(2) }, OpFault::None, [0; 2]);
        sent.push(what(r.hold(follow_up(2, 20))));
        r.await_follow_up(2);
        sent.push(what(r.hold(reply(2))));
        assert_eq!(sent, ["none"; 4], "nothing leaves before the backup has it");
        r.ship();
        r.on(ReplMsg::Ack { backup: 0, upto: 2 });
        assert_eq!(ready(&mut r), ["follow-up 10", "follow-up 20"]);
        // Shard 2 answers first: reply 1 still waits for shard 1.
        r.on(ReplMsg::Done { from: 2 });
        assert!(ready(&mut r).is_empty());
        r.on(ReplMsg::Done { from: 1 });
        assert_eq!(ready(&mut r), ["reply 1", "reply 2"]);
    }

    /// A durable shard's crash lost entries its log thread had not synced:
    /// a read that follows (logging nothing) leaves at once instead of
    /// waiting for their acknowledgement, which never comes; a second crash
    /// before the next sync loses only what was logged after the first, not
    /// a read of the recovered state held there.
    #[test]
    fn after_a_crash_nothing_waits_for_the_entries_it_lost() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let log = Replication {
            replicas: 1,
            mode: ReplicationMode::Sync,
        };
        let mut r = Replicator::new(vec![tx], log, (1, 2));
        let write = |u| Op::Register { user: UserId(u) };
        // Entry 1: a write with a follow-up to shard 0, synced; its reply
        // waits behind the barrier for shard 0's `Done`.
        r.log_op(write(1), OpFault::None, [0; 2]);
        assert_eq!(what(r.hold(follow_up(0, 10))), "none");
        r.await_follow_up(0);
        assert_eq!(what(r.hold(reply(1))), "none");
        r.ship();
        r.on(ReplMsg::Ack { backup: 0, upto: 1 });
        assert_eq!(ready(&mut r), ["follow-up 10"]);
        // Entry 2: shipped, not synced when the shard crashes.
        r.log_op(write(2), OpFault::None, [0; 2]);
        assert_eq!(what(r.hold(reply(2))), "none");
        r.ship();
        let after = r.after_crash(1);
        assert_eq!((after.failed, after.dropped), (1, 0));
        assert_eq!(
            after
                .now
                .into_iter()
                .map(|o| what(Some(o)))
                .collect::<Vec<_>>(),
            ["reply 2"]
        );
        assert_eq!(r.view().lag, 0, "the lost entry is still awaited");
        // A read: nothing before it is held but reply 1, behind the barrier.
        assert_eq!(what(r.hold(reply(3))), "none");
        // Entry 3, then a second crash before the log thread syncs again:
        // its last sync is still entry 1.
        r.log_op(write(4), OpFault::None, [0; 2]);
        assert_eq!(what(r.hold(reply(4))), "none");
        r.ship();
        let after = r.after_crash(1);
        assert_eq!(after.failed, 1, "only reply 4's entry was lost");
        r.on(ReplMsg::Done { from: 0 });
        assert_eq!(ready(&mut r), ["reply 1", "reply 3"]);
        assert_eq!(what(r.hold(reply(5))), "reply 5");
        assert!(r.view().held_now == 0 && r.view().lag == 0);
    }

    /// `shards` shards with two backups each, in `sync`.
    fn sync_set(shards: usize) -> ShardSet {
        let config = EngineConfig {
            partitions: shards,
            replication: Replication {
                replicas: 2,
                mode: ReplicationMode::Sync,
            },
            ..EngineConfig::default()
        };
        ShardSet::start("sharded", &config, shards, |i| format!("t-{i}")).unwrap()
    }

    /// The audit's replica check sees a backup that missed nothing as
    /// converged, and one handed an entry its primary never applied as
    /// diverged.
    #[test]
    fn the_audit_counts_a_backup_whose_state_differs() {
        let set = sync_set(2);
        let mut s = set.session().unwrap();
        for u in 0..20 {
            assert!(s.call(Op::Register { user: UserId(u) }).is_ok());
        }
        let community = CommunityId(3);
        assert!(
            s.call(Op::CreateCommunity {
                creator: UserId(1),
                community
            })
            .is_ok()
        );
        for u in 2..20 {
            assert!(
                s.call(Op::Join {
                    user: UserId(u),
                    community
                })
                .is_ok()
            );
        }
        set.quiesce();
        assert_eq!(set.audit().replicas_diverged, 0);
        let logged = set.stats().replication.unwrap().log_entries;
        let digests = set.replica_digests();
        let applied: u64 = digests.iter().map(|(_, b)| b[0].0).sum();
        assert_eq!(applied, logged, "{digests:?}");
        for (primary, backups) in &digests {
            assert!(backups.iter().all(|(_, d)| d == primary), "{digests:?}");
        }
        // An entry shard 0's primary never applied, given to one backup.
        let upto = digests[0].1[1].0;
        let stray = LogEntry::Op {
            op: Op::Register { user: UserId(1000) },
            fault: OpFault::None,
            stamps: [0; 2],
        };
        set.backups[0][1]
            .send(BackupMsg::Log {
                epoch: 0,
                upto,
                entries: vec![stray],
            })
            .unwrap();
        assert_eq!(set.audit().replicas_diverged, 1);
    }

    /// A backup that stops holds nothing back: sync writes go on with the
    /// other backup, the loss is counted, and the audit fails on it.
    #[test]
    fn a_backup_gone_is_counted_and_no_longer_waited_for() {
        let set = sync_set(1);
        let mut s = set.session().unwrap();
        assert!(s.call(Op::Register { user: UserId(1) }).is_ok());
        set.backups[0][0].send(BackupMsg::Stop).unwrap();
        // Every later write needs the backups: each returns (no hang) once
        // the primary has heard the first one is gone.
        for u in 2..200 {
            assert!(s.call(Op::Register { user: UserId(u) }).is_ok());
        }
        set.quiesce();
        let r = set.stats().replication.unwrap();
        assert_eq!(r.lost_backups, 1, "{r:?}");
        let a = set.audit();
        assert_eq!(a.replicas_diverged, 1, "the backup gone");
        assert_eq!(a.users, 199);
        let digests = set.replica_digests();
        assert_eq!(digests[0].1.len(), 1);
        assert_eq!(digests[0].1[0].1, digests[0].0, "the other backup kept up");
    }

    /// In sync, a write's reply waits for the backups of the shards its
    /// follow-ups land on too: right after a join returns, the backups of
    /// the joining user's shard have acknowledged the subscription.
    #[test]
    fn in_sync_a_join_returns_once_the_users_shard_backups_have_the_subscription() {
        use crate::placement::{community_partition, user_partition};
        let set = sync_set(2);
        let mut s = set.session().unwrap();
        let community = CommunityId(7);
        let home = community_partition(community, 2);
        let creator = (0..)
            .map(UserId)
            .find(|&u| user_partition(u, 2) == home)
            .unwrap();
        assert!(s.call(Op::Register { user: creator }).is_ok());
        assert!(s.call(Op::CreateCommunity { creator, community }).is_ok());
        let mut joins = 0;
        for u in (100..)
            .map(UserId)
            .filter(|&u| user_partition(u, 2) != home)
            .take(100)
        {
            assert!(s.call(Op::Register { user: u }).is_ok());
            // The membership lands on `home`, the subscription on the
            // user's shard, as a follow-up.
            assert!(s.call(Op::Join { user: u, community }).is_ok());
            joins += 1;
            // The follow-up reached the user's shard before the reply left
            // (causality), so the probe finds it applied there; its backups
            // must have acknowledged it too.
            let shard = user_partition(u, 2);
            let lag = set.probe_all(|v| v.replica.map(|r| r.lag))[shard];
            assert_eq!(
                lag,
                Some(0),
                "join {joins}: shard {shard}'s backups lack it"
            );
        }
    }
}
