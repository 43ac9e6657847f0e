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
//!   acknowledged write is on every backup of the shard that took it, and
//!   no reply (a read included, here or on a shard a follow-up or gather
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
//! A limit of `sync` as built: a write's reply waits for the backups of the
//! shard that took it, not for those of the shards its follow-ups (karma,
//! subscriptions) land on; those replicate the follow-up before they reveal
//! it. Covering them (the sender keeps a follow-up until the destination's
//! backups have it) belongs with failover, which is not built.
//!
//! A backup whose thread is gone (ended by a bug: a guard tells the
//! primary, or found by a failed send) stops counting: the primary goes on
//! with the others, and the loss is reported and fails the audit.

use std::collections::VecDeque;

use crossbeam_channel::{Receiver, Sender as LogSender};

use super::messages::PeerMsg;
use crate::api::{Op, Response};
use crate::config::{Replication, ReplicationMode};
use crate::fault::{FaultCounters, OpFault, apply_follow_up_guarded, apply_guarded};
use crate::mailbox::Sender;
use crate::partition::{FollowUp, Partition};

/// One state change of a primary, in the order it applied them.
#[derive(Clone, Debug)]
pub(super) enum LogEntry {
    /// A client write, the fault decision it was applied under and the
    /// post stamps it took (0: none).
    Op {
        op: Op,
        fault: OpFault,
        stamps: [u64; 2],
    },
    /// A follow-up applied here (sent by another shard or by this one).
    FollowUp(FollowUp),
}

/// A probe of a backup: its partition and how many log entries it applied.
pub(super) type BackupProbe = Box<dyn FnOnce(&Partition, u64) + Send>;

/// What a backup receives from its primary and from the shard set.
pub(super) enum BackupMsg {
    /// The log entries numbered `upto - entries.len() + 1 ..= upto`.
    Log { upto: u64, entries: Vec<LogEntry> },
    /// Runs between two log messages.
    Probe(BackupProbe),
    /// Ends the thread.
    Stop,
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
                BackupMsg::Log { upto, entries } => {
                    for e in entries {
                        self.apply(e);
                    }
                    self.applied = upto;
                    let ack = PeerMsg::ReplAck {
                        backup: self.index,
                        upto,
                    };
                    // Fails only once the primary is gone.
                    let _ = self.primary.send(ack);
                }
                BackupMsg::Probe(p) => p(&self.part, self.applied),
                BackupMsg::Stop => break,
            }
        }
    }

    fn apply(&mut self, e: LogEntry) {
        match e {
            LogEntry::Op { op, fault, stamps } => {
                self.part.stamps.give(stamps);
                let _ = apply_guarded(&mut self.part, op, &mut self.scratch, fault, &self.counters);
                self.scratch.clear();
            }
            LogEntry::FollowUp(f) => apply_follow_up_guarded(&mut self.part, f, &self.counters),
        }
    }
}

/// Tells a backup's primary, when dropped, that the backup is gone.
struct Lost {
    primary: Sender<PeerMsg>,
    backup: u8,
}

impl Drop for Lost {
    fn drop(&mut self) {
        // Fails only once the primary is gone too.
        let _ = self.primary.send(PeerMsg::BackupLost {
            backup: self.backup,
        });
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

/// Something waiting for the backups.
struct Held {
    /// The log entry the backups must have acknowledged (less the allowed lag).
    seq: u64,
    out: Out,
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

/// A primary's side of replication (see the module docs).
pub(super) struct Replicator {
    backups: Vec<LogSender<BackupMsg>>,
    /// Highest entry each backup acknowledged; `u64::MAX` once it is gone.
    acked: Vec<u64>,
    /// Entries logged, not shipped yet.
    outbox: Vec<LogEntry>,
    /// A reply may leave once every backup has all but this many entries.
    allowed_lag: u64,
    held: VecDeque<Held>,
    view: ReplicaView,
}

impl Replicator {
    /// The replication of a primary with these backups.
    pub(super) fn new(backups: Vec<LogSender<BackupMsg>>, config: Replication) -> Replicator {
        Replicator {
            acked: vec![0; backups.len()],
            backups,
            outbox: Vec::new(),
            allowed_lag: match config.mode {
                ReplicationMode::Sync => 0,
                ReplicationMode::Async => Replication::ASYNC_MAX_LAG,
            },
            held: VecDeque::new(),
            view: ReplicaView::default(),
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
    /// behind anything held before it); gives it back when it may leave at
    /// once.
    #[inline]
    pub(super) fn hold(&mut self, out: Out) -> Option<Out> {
        let seq = self.view.logged;
        if seq <= self.min_acked().saturating_add(self.allowed_lag) && self.held.is_empty() {
            return Some(out);
        }
        self.view.held += u64::from(matches!(out, Out::Reply { .. }));
        self.held.push_back(Held { seq, out });
        None
    }

    /// Backup `backup` has applied every entry up to `upto`.
    pub(super) fn on_ack(&mut self, backup: u8, upto: u64) {
        if let Some(a) = self.acked.get_mut(backup as usize)
            && *a != u64::MAX
        {
            *a = (*a).max(upto);
        }
    }

    /// Backup `backup`'s thread is gone: it no longer holds anything back.
    pub(super) fn on_lost(&mut self, backup: u8) {
        if let Some(a) = self.acked.get_mut(backup as usize)
            && *a != u64::MAX
        {
            *a = u64::MAX;
            self.view.lost += 1;
        }
    }

    /// The next held message that may leave now.
    pub(super) fn pop_ready(&mut self) -> Option<Out> {
        let upto = self.min_acked().saturating_add(self.allowed_lag);
        if self.held.front()?.seq > upto {
            return None;
        }
        self.held.pop_front().map(|h| h.out)
    }

    /// Sends the entries logged since the last call to every live backup.
    pub(super) fn ship(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let upto = self.view.logged;
        let entries = std::mem::take(&mut self.outbox);
        let live: Vec<usize> = (0..self.backups.len())
            .filter(|&b| self.acked[b] != u64::MAX)
            .collect();
        let mut entries = Some(entries);
        for (i, &b) in live.iter().enumerate() {
            let batch = if i + 1 == live.len() {
                entries.take().unwrap_or_default()
            } else {
                entries.clone().unwrap_or_default()
            };
            if self.backups[b]
                .send(BackupMsg::Log {
                    upto,
                    entries: batch,
                })
                .is_err()
            {
                self.acked[b] = u64::MAX;
                self.view.lost += 1;
            }
        }
        let lag = upto - self.min_acked();
        self.view.max_lag = self.view.max_lag.max(lag);
    }

    /// The replication's figures now.
    pub(super) fn view(&self) -> ReplicaView {
        ReplicaView {
            lag: self.view.logged - self.min_acked(),
            held_now: self.held.len(),
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

    /// The audit's replica check sees a backup that missed nothing as
    /// converged, and one handed an entry its primary never applied as
    /// diverged.
    #[test]
    fn the_audit_counts_a_backup_whose_state_differs() {
        let config = EngineConfig {
            partitions: 2,
            replication: Replication {
                replicas: 2,
                mode: ReplicationMode::Sync,
            },
            ..EngineConfig::default()
        };
        let set = ShardSet::start("sharded", &config, 2, |i| format!("t-{i}")).unwrap();
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
        let config = EngineConfig {
            partitions: 1,
            replication: Replication {
                replicas: 2,
                mode: ReplicationMode::Sync,
            },
            ..EngineConfig::default()
        };
        let set = ShardSet::start("sharded", &config, 1, |i| format!("g-{i}")).unwrap();
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
}
