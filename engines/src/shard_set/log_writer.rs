//! A durable shard's log thread (`--durability log|fsync`, `wal/mod.rs`).
//!
//! The shard's [`super::replica::Replicator`] ships its log here exactly
//! as it ships it to a backup: the thread is one more sink of the same log,
//! in `sync` mode, so the replication's hold gives durability its rule for
//! free: a reply (and a follow-up, and a gather part) leaves only once every
//! entry logged before it is written (`log`) or synced (`fsync`), and a
//! write's reply waits for the shards its follow-ups reached to have them on
//! disk too (the `sync` barrier). One mechanism for both.
//!
//! Group commit: the thread takes every log message waiting in its channel,
//! appends them all, writes them with one `write` and syncs them with one
//! fsync, then acknowledges the last entry. While it syncs, the shard goes
//! on serving and the next group gathers in the channel, so the group grows
//! with the load and one fsync covers as many writes as arrived during the
//! previous one.
//!
//! Snapshots (`--snapshot-every`): the thread applies every entry it logs
//! to its own copy of the shard's state ([`Shadow`], as a backup would)
//! and snapshots that copy after acknowledging a group, so the shard
//! thread never stops for a snapshot; the groups that follow wait for it.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use parking_lot::Mutex;

use super::messages::{PeerMsg, ReplMsg};
use super::replica::{BackupMsg, Lost, Recovered};
use crate::fault::FaultCounters;
use crate::mailbox::Sender;
use crate::partition::{FollowUp, Partition};
use crate::stats::{Recovery, WalCounters};
use crate::wal::{LogEntry, Wal, recover_into, replay};

/// The log thread's copy of its shard's state.
pub(super) struct Shadow {
    part: Partition,
    scratch: Vec<FollowUp>,
    counters: FaultCounters,
}

impl Shadow {
    /// A copy of `part` (as recovered, or empty) with a clock of its own:
    /// replayed entries carry their stamps, and the engine's clock is the
    /// shard's to tick.
    pub(super) fn of(part: &Partition) -> Shadow {
        Shadow {
            part: part.detached_copy(),
            scratch: Vec::new(),
            counters: FaultCounters::default(),
        }
    }

    fn apply(&mut self, entries: Vec<LogEntry>) {
        for e in entries {
            replay(&mut self.part, e, false, &mut self.scratch, &self.counters);
        }
    }
}

/// A shard's log thread.
pub(super) struct LogWriter {
    /// Its slot among the replicator's sinks.
    pub(super) index: u8,
    pub(super) wal: Wal,
    pub(super) rx: Receiver<BackupMsg>,
    /// The primary's peer lane, for acknowledgements.
    pub(super) primary: Sender<PeerMsg>,
    /// The log's figures, published after each group.
    pub(super) counters: Arc<Mutex<WalCounters>>,
    /// With snapshots, the copy of the shard's state they encode.
    pub(super) shadow: Option<Shadow>,
}

/// What the thread does after taking a message.
enum Step {
    Go,
    Stop,
    Crash(Box<Partition>, crossbeam_channel::Sender<Recovered>),
}

impl LogWriter {
    /// The thread: a group per wake-up, until `Stop` or until the shard is
    /// gone; then a last sync. A write that fails ends it, and its guard
    /// tells the primary, which stops waiting for it (the failure is
    /// counted as a lost sink, like a backup gone). A crash drops the
    /// group being gathered and what was written but not synced, rebuilds
    /// the shard's partition from disk and hands it back.
    pub(super) fn run(mut self) {
        let _lost = Lost {
            primary: self.primary.clone(),
            backup: self.index,
        };
        // The last entry written, and the last one on disk.
        let (mut written_upto, mut synced_upto) = (0u64, 0u64);
        let mut stop = false;
        while !stop {
            let Ok(first) = self.rx.recv() else { break };
            let mut upto = None;
            let mut take = |m: BackupMsg, wal: &mut Wal, shadow: &mut Option<Shadow>| match m {
                BackupMsg::Log {
                    upto: u, entries, ..
                } => {
                    for e in &entries {
                        wal.append(e);
                    }
                    if let Some(s) = shadow {
                        s.apply(entries);
                    }
                    upto = Some(u);
                    Step::Go
                }
                // A durable shard has no coordinator: none of these come.
                BackupMsg::Probe(_)
                | BackupMsg::Ping(_)
                | BackupMsg::Fence { .. }
                | BackupMsg::Promote { .. }
                | BackupMsg::Reset { .. } => Step::Go,
                BackupMsg::Stop => Step::Stop,
                BackupMsg::Crash { fresh, reply } => Step::Crash(fresh, reply),
            };
            let mut step = take(first, &mut self.wal, &mut self.shadow);
            while matches!(step, Step::Go)
                && let Ok(m) = self.rx.try_recv()
            {
                step = take(m, &mut self.wal, &mut self.shadow);
            }
            if let Step::Crash(fresh, reply) = step {
                let _ = reply.send(self.crash(fresh, synced_upto));
                written_upto = synced_upto;
                *self.counters.lock() = self.wal.counters();
                continue;
            }
            stop = matches!(step, Step::Stop);
            if let Err(e) = self.wal.commit() {
                eprintln!("socialbench: a shard's log cannot be written: {e}");
                return;
            }
            written_upto = upto.unwrap_or(written_upto);
            if self.wal.unsynced_records() == 0 {
                synced_upto = written_upto;
            }
            *self.counters.lock() = self.wal.counters();
            if let Some(upto) = upto {
                let ack = PeerMsg::Repl(ReplMsg::Ack {
                    backup: self.index,
                    upto,
                });
                // Fails only once the primary is gone.
                let _ = self.primary.send(ack);
            }
            if let Some(s) = &self.shadow
                && self.wal.snapshot_due()
            {
                if let Err(e) = self.wal.snapshot(&s.part) {
                    eprintln!("socialbench: a shard's snapshot cannot be written: {e}");
                    return;
                }
                synced_upto = written_upto;
                *self.counters.lock() = self.wal.counters();
            }
        }
        if self.wal.unsynced_records() > 0 {
            let _ = self.wal.sync();
        }
        *self.counters.lock() = self.wal.counters();
    }

    /// The crash (`wal/mod.rs`): the log cut to its last sync, `fresh`
    /// rebuilt from the snapshot and the log, the copy the snapshots
    /// encode rebuilt from it too.
    fn crash(&mut self, mut fresh: Box<Partition>, synced_upto: u64) -> Recovered {
        let lost_records = self.wal.unsynced_records();
        let (part, recovery) = match self.wal.crash(recover_into(&mut fresh, false)) {
            Ok((_, _, recovery)) => {
                if self.shadow.is_some() {
                    self.shadow = Some(Shadow::of(&fresh));
                }
                (Ok(fresh), recovery)
            }
            Err(e) => (Err(e.to_string()), Recovery::default()),
        };
        Recovered {
            part,
            synced_upto,
            lost_records,
            recovery,
        }
    }
}
