//! Failure detection and failover of a replicated shard set
//! (`EngineConfig::failover`): the coordinator's thread, which pings every
//! primary and backup, declares a primary dead and promotes a backup, and
//! the figures it shares with the shards ([`Shared`]).
//!
//! # Detection
//! Once per heartbeat interval the coordinator sends every primary a
//! `PeerMsg::Ping` and every backup a `BackupMsg::Ping`, numbered; each
//! answers by storing the number in its slot of [`Shared`] when its loop
//! next turns. Before each round the coordinator looks at the slots: a
//! primary that left the last `misses` pings unanswered is dead. A pause of
//! the coordinator itself sends no pings, so it never counts as misses. A
//! backup that misses as many is reported (`silent_backups`), once per
//! silence.
//!
//! # Promotion and fencing
//! A dead primary's shard gets a new epoch. The coordinator sends every
//! backup of the shard `Fence`: from then on the backup refuses log
//! entries of an older epoch (a deposed primary that is still alive cannot
//! make it diverge), and answers how many entries it applied, after every
//! message queued before. The most up-to-date backup hands its state over
//! (`BackupMsg::Promote`): it encodes it, sends the partition itself, and
//! rebuilds its own copy from the encoding afterwards, so that it stays a
//! backup of the new primary; any other backup that applied fewer entries
//! is reset to the same state, so that every copy of the shard agrees
//! again and its log goes on from the promoted backup's position. The new
//! primary then hears `PeerMsg::Failover` with that state: what the old
//! primary applied beyond it is lost (in `sync` no reply of it left; in
//! `async` some did, and the audit counts those).
//!
//! # What stands for what
//! In one process the promoted backup's state moves into the shard's own
//! thread, which keeps the shard's lanes: the lanes stand for the address
//! the coordinator publishes with the new epoch, and the backup thread
//! stays a backup, which stands for the replacement a real store would seed
//! from the new primary. The encoding of the state is on the handover's
//! path, so the handover grows with the shard's state, a cost a real
//! promotion (the backup starts serving what it has) does not pay: the
//! figures give detection (kill to declared dead) and handover (declared
//! dead to serving) apart. The killed primary's thread stops serving (it
//! answers no ping and takes no op) until it is handed the promoted state.
//! Its mailbox and unshipped log are lost: the client ops queued on it, or
//! taken and not answered, are answered [`crate::ApiError::Unavailable`];
//! the messages other shards sent it are applied by the new primary, as
//! their senders would resend them on the lost connection. A held reply
//! whose log entry the promoted backup has leaves as it would have, which
//! is what a session's retry would get from a replicated dedupe window of
//! op ids (that window is not built: no op is retried, so none is applied
//! twice).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender as BackupSender};
use parking_lot::Mutex;

use super::messages::{PeerMsg, Takeover};
use super::replica::{BackupMsg, BackupWatch};
use crate::config::Heartbeat;
use crate::mailbox::Sender;
use crate::stats::{FailoverEvent, FailoverStats};

/// What the coordinator and the shards share.
pub(super) struct Shared {
    epoch0: Instant,
    /// The measured window's start ([`Shared::stamp`]; 0: not started).
    window: AtomicU64,
    /// The last ping each primary answered.
    beats: Vec<AtomicU64>,
    /// What each backup reports, by shard: the last ping it answered and
    /// the entries of deposed primaries it refused.
    backups: Vec<Vec<Arc<BackupWatch>>>,
    /// When each shard's primary was killed and not replaced yet
    /// ([`Shared::stamp`]; 0: alive).
    killed: Vec<AtomicU64>,
    /// The figures, changed only at failovers.
    stats: Mutex<FailoverStats>,
}

impl Shared {
    /// The shared state of `shards` shards of `replicas` backups each.
    pub(super) fn new(shards: usize, replicas: usize, heartbeat: Heartbeat) -> Arc<Shared> {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Arc::new(Shared {
            epoch0: Instant::now(),
            window: AtomicU64::new(0),
            beats: zeros(shards),
            backups: (0..shards)
                .map(|_| (0..replicas).map(|_| Arc::default()).collect())
                .collect(),
            killed: zeros(shards),
            stats: Mutex::new(FailoverStats {
                heartbeat_micros: heartbeat.interval.as_micros() as u64,
                misses: heartbeat.misses,
                ..FailoverStats::default()
            }),
        })
    }

    /// `t` as stored in an atomic: nanoseconds from `epoch0`, plus one so
    /// that 0 can mean "none".
    fn stamp(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch0).as_nanos() as u64 + 1
    }

    /// The measured window starts at `at`: event times count from it.
    pub(super) fn start_window(&self, at: Instant) {
        self.window.store(self.stamp(at), Ordering::Release);
    }

    /// Microseconds from the window's start to the instant `stamp`
    /// (negative before it; from the engine's start while no window has
    /// started).
    fn micros(&self, stamp: u64) -> i64 {
        let start = self.window.load(Ordering::Acquire).max(1);
        (stamp as i64 - start as i64) / 1000
    }

    /// [`Shared::micros`] of now.
    fn micros_now(&self) -> i64 {
        self.micros(self.stamp(Instant::now()))
    }

    /// Primary `shard` answered ping `seq`.
    #[inline]
    pub(super) fn beat(&self, shard: usize, seq: u64) {
        self.beats[shard].store(seq, Ordering::Release);
    }

    /// What backup `backup` of `shard` reports through.
    pub(super) fn backup_watch(&self, shard: usize, backup: usize) -> Option<Arc<BackupWatch>> {
        self.backups.get(shard)?.get(backup).cloned()
    }

    /// Primary `shard` was killed now.
    pub(super) fn kill(&self, shard: usize) {
        self.killed[shard].store(self.stamp(Instant::now()), Ordering::Release);
        self.stats.lock().kills += 1;
    }

    /// Shard `shard`'s new primary took over for failover `event`: it
    /// lost `lost` log entries and answered `unavailable` ops so. A
    /// primary that was not killed was deposed alive: a false failover.
    pub(super) fn took_over(&self, shard: usize, event: usize, lost: u64, unavailable: u64) {
        let now = self.micros_now();
        let killed = self.killed[shard].swap(0, Ordering::AcqRel) != 0;
        let mut s = self.stats.lock();
        s.false_failovers += u64::from(!killed);
        s.lost_entries += lost;
        s.unavailable_ops += unavailable;
        if let Some(e) = s.events.get_mut(event) {
            e.serving_us = now;
            e.lost_entries = lost;
            e.unavailable_ops += unavailable;
        }
    }

    /// More ops of failover `event` answered unavailable (the batch the
    /// old primary had taken).
    pub(super) fn unavailable(&self, event: usize, n: u64) {
        let mut s = self.stats.lock();
        s.unavailable_ops += n;
        if let Some(e) = s.events.get_mut(event) {
            e.unavailable_ops += n;
        }
    }

    /// The new primary of failover `event` answered its first op without
    /// an error.
    pub(super) fn first_op(&self, event: usize) {
        let now = self.micros_now();
        if let Some(e) = self.stats.lock().events.get_mut(event) {
            e.first_op_us = Some(now);
        }
    }

    /// The figures now.
    pub(super) fn stats(&self) -> FailoverStats {
        let mut s = self.stats.lock().clone();
        s.fenced_entries = self
            .backups
            .iter()
            .flatten()
            .map(|w| w.fenced.load(Ordering::Relaxed))
            .sum();
        s
    }
}

/// The coordinator's thread.
pub(super) struct Coordinator {
    pub(super) shared: Arc<Shared>,
    pub(super) heartbeat: Heartbeat,
    pub(super) peers: Vec<Sender<PeerMsg>>,
    pub(super) backups: Vec<Vec<BackupSender<BackupMsg>>>,
    /// Disconnected when the set shuts down.
    pub(super) stop: Receiver<()>,
}

impl Coordinator {
    /// Pings, checks and fails over until the set shuts down.
    pub(super) fn run(self) {
        let shards = self.peers.len();
        let mut epochs = vec![0u64; shards];
        let mut silent: Vec<Vec<bool>> =
            self.backups.iter().map(|b| vec![false; b.len()]).collect();
        let misses = u64::from(self.heartbeat.misses.max(1));
        let mut seq = 0u64;
        loop {
            match self.stop.recv_timeout(self.heartbeat.interval) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            for (shard, epoch) in epochs.iter_mut().enumerate() {
                let beat = self.shared.beats[shard].load(Ordering::Acquire);
                if seq.saturating_sub(beat) >= misses {
                    *epoch += 1;
                    self.fail_over(shard, *epoch);
                    // The new primary starts with a clean record.
                    self.shared.beats[shard].store(seq, Ordering::Release);
                }
                for (b, quiet) in silent[shard].iter_mut().enumerate() {
                    let beat = self.shared.backups[shard][b].beat.load(Ordering::Acquire);
                    let now_silent = seq.saturating_sub(beat) >= misses;
                    if now_silent && !*quiet {
                        self.shared.stats.lock().silent_backups += 1;
                    }
                    *quiet = now_silent;
                }
            }
            seq += 1;
            for p in &self.peers {
                let _ = p.send(PeerMsg::Ping(seq));
            }
            for b in self.backups.iter().flatten() {
                let _ = b.send(BackupMsg::Ping(seq));
            }
        }
    }

    /// Declares `shard`'s primary dead: fences its backups at `epoch`,
    /// promotes the most up-to-date one and hands its state to the shard.
    fn fail_over(&self, shard: usize, epoch: u64) {
        let declared = self.shared.micros_now();
        let killed = self.shared.killed[shard].load(Ordering::Acquire);
        let backups = &self.backups[shard];
        let mut applied: Vec<(usize, u64)> = Vec::with_capacity(backups.len());
        for (b, tx) in backups.iter().enumerate() {
            let (reply, rx) = crossbeam_channel::bounded(1);
            // A backup whose thread is gone drops the request: no answer.
            if tx.send(BackupMsg::Fence { epoch, reply }).is_ok()
                && let Ok(a) = rx.recv()
            {
                applied.push((b, a));
            }
        }
        let best = applied
            .iter()
            .copied()
            .max_by_key(|&(b, a)| (a, std::cmp::Reverse(b)));
        let promoted = best.and_then(|(b, _)| {
            let (reply, rx) = crossbeam_channel::bounded(1);
            backups[b].send(BackupMsg::Promote { reply }).ok()?;
            rx.recv().ok()
        });
        let upto = best.map_or(0, |(_, a)| a);
        let state = promoted.map(|(part, bytes)| {
            for &(b, a) in &applied {
                if a != upto {
                    let reset = BackupMsg::Reset {
                        state: bytes.clone(),
                        applied: upto,
                    };
                    let _ = backups[b].send(reset);
                }
            }
            part
        });
        let event = {
            let mut s = self.shared.stats.lock();
            s.failovers += 1;
            s.events.push(FailoverEvent {
                shard,
                killed_us: (killed != 0).then(|| self.shared.micros(killed)),
                declared_us: declared,
                promoted: best.map(|(b, _)| b as u8),
                applied: upto,
                ..FailoverEvent::default()
            });
            s.events.len() - 1
        };
        let takeover = Takeover {
            state,
            applied: upto,
            epoch,
            event,
        };
        let _ = self.peers[shard].send(PeerMsg::Failover(Box::new(takeover)));
    }
}
