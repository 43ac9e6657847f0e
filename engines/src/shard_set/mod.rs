//! Thread-owned partitions: the machinery of the `sharded` engine, and of
//! the `actor` engine, which is its one-shard case. A [`ShardSet`] starts one
//! thread per shard, each owning a [`Partition`]; clients talk to it through
//! [`ShardedSession`]s. Follow-ups and home-feed gathers are messages between
//! shards, as hash-partitioned servers do.
//!
//! Files: this one starts and controls the set; `messages.rs` is what
//! travels on the lanes; `shard.rs` is a shard's thread (its loop, replies,
//! follow-ups, home feeds), `gather.rs` the home feeds it is gathering from
//! other shards, `merge.rs` the merge of their parts; `session.rs` is the
//! client side; `waiting.rs` how an idle thread waits (spin, yield, park);
//! `replica.rs` a shard's backups (the primary's log and a backup's thread);
//! `failover.rs` the coordinator that replaces a dead primary.
//! `messages.rs` uses none of the others; `replica.rs` builds on it,
//! `failover.rs` on both, and the shard, the session and this file use
//! them all: no file depends back on one that uses it.
//!
//! # Lanes
//! Each shard receives on two lanes of one channel flavour
//! ([`crate::mailbox::dual`]):
//! - the **client lane**, bounded at `EngineConfig::mailbox` ops: a full lane
//!   blocks the submitting client (backpressure);
//! - the **peer lane**, unbounded, carrying follow-ups, gather requests and
//!   replies, session registrations and control probes. A shard only ever
//!   *sends* on peer lanes, which never block, and only blocks when both of
//!   its own lanes are empty (`recv_either`), so no cycle of shards can wait
//!   on each other: the engine is deadlock-free by construction. The peer
//!   lane is bounded in practice by the client lanes: every peer message
//!   stems from a client op, at most a few per op.
//!
//! # Loop and causality
//! A shard takes a batch of up to [`BATCH`] client ops, then drains its peer
//! lane completely, then applies the batch. A follow-up is sent *before* the
//! reply of the op that caused it, so any op a client submits after seeing
//! that reply finds the follow-up already queued on its shard's peer lane, and
//! it is applied first: a session reads its own writes, and with one op in
//! flight every engine gives the same replies. Follow-ups between two shards
//! are FIFO because each destination has one channel. Follow-ups whose
//! destination is the shard itself are applied at once, after the op.
//!
//! # Waiting
//! An idle shard, and a session waiting for a reply, may wait actively
//! before they park: on a core of their own as the engine's `IdlePolicy`
//! says (spin, park, or adaptive: spin while the gaps are short), on a
//! shared one by yielding a few times (`waiting.rs` says how that is
//! decided).
//!
//! # Home feed
//! The user's shard reads the subscriptions, groups them by shard, computes
//! its own part, sends one gather request per other shard involved and parks
//! a continuation (pending count, candidates, reply target) in a slab. The
//! last gather reply completes it (`MergeScratch`, which gives what
//! [`crate::merge_feed`] gives, cheaper) and the session gets its answer.
//! The shard loop never waits for a gather.
//!
//! # Sessions and replies
//! A session owns one unbounded reply channel. [`ShardSet::session`]
//! registers its sender with every shard over the peer lane (so it is
//! registered before the session's first op is applied), and client messages
//! carry only the session's number: no per-op allocation or reference count.
//! A shard collects the replies of a batch per session and sends each
//! session one message per batch, or as soon as it holds [`FLUSH`] replies
//! (one allocation and at most one wake-up per message, instead of one per
//! op). Flushing early lets a closed-loop client refill its window while the
//! shard is still applying the rest of the batch, so client and shard work
//! at the same time instead of taking turns. A flush never precedes the
//! follow-ups of the ops it answers (they are routed before `reply`), so the
//! causality rule above holds.
//!
//! # Replication
//! With `EngineConfig::replication.replicas` R > 0 every shard is a primary
//! with R backups, each on its own thread (`sb-shard-<i>-b<r>`), fed the
//! primary's ordered log; `sync` holds a reply until every backup has the
//! log up to it, `async` only while they lag more than a bound.
//! `replica.rs` has the rules; nothing in them blocks a shard.
//!
//! # Failover
//! With a heartbeat (`EngineConfig::failover`) a coordinator thread pings
//! every primary and backup, declares a primary that stops answering dead,
//! fences its backups at a new epoch and hands the most up-to-date one's
//! state to the shard's thread, which goes on as the new primary
//! (`failover.rs` has the protocol and what it stands for). The
//! `kill-primary` fault stops a primary between two ops until then.
//!
//! # Push feeds and the broker
//! With `--feeds push|hybrid` a post's deliveries to its members' timelines
//! leave as one parcel per destination shard (`PeerMsg::Deliveries`; the
//! post's own shard queues its parcel locally). Each shard keeps a queue of
//! parcels, its part of the broker, and applies [`DELIVERY_CHUNK`] of them
//! per turn of its loop, after the client batch; the post is acknowledged
//! before its deliveries land. Shards never wait on delivery: the bound on
//! the queues ([`BROKER_BOUND`] deliveries in all) is enforced where
//! sessions submit, which wait while the shared count is over it.
//!
//! # Control
//! `stats`, `audit`, `digest` and `quiesce` send a probe closure over each
//! peer lane; the shard runs it between batches against its partition. The
//! hot path pays nothing for them; a probe waits at most one batch (or an
//! injected stall).
//!
//! # Shutdown
//! `shutdown` sends `Stop` on every peer lane (it never blocks) and joins the
//! threads. A stopping shard answers the batch it holds with
//! [`crate::ApiError::Shutdown`] and drops its receivers, which releases
//! every client blocked on its full client lane; later submits fail with
//! [`EngineError::Shutdown`]. Replies to ops still queued are dropped with
//! the shard, and a session's `poll` sees its reply channel disconnect.

mod failover;
mod gather;
mod log_writer;
mod merge;
mod messages;
mod replica;
mod session;
mod shard;
mod waiting;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::audit::{Audit, Entities};
use crate::config::{ChannelKind, DurabilityMode, EngineConfig, Feeds, IdlePolicy};
use crate::error::EngineError;
use crate::fault::{CrashPlan, FaultCounters};
use crate::mailbox::{self, DualReceiver, Sender};
use crate::partition::{Partition, PostClock};
use crate::stats::{
    DurabilityStats, EngineStats, FeedStats, PartitionStats, ReplicationStats, Staleness,
};

pub use session::ShardedSession;
pub use shard::BATCH;
pub use waiting::{LINGER, SPIN_CAP};

use log_writer::LogWriter;
use messages::{ClientMsg, PeerMsg, Probe, ShardView};
use replica::{Backup, BackupMsg, Replicator};
use shard::{Shard, ShardPlan};
use waiting::{Idler, placement_plan};

/// A session's replies are sent as soon as this many are queued, without
/// waiting for the end of the batch. Override with `SOCIALBENCH_REPLY_FLUSH`
/// (read once when the engine starts; at least 1).
pub const FLUSH: usize = 4;

/// Push feeds: sessions wait before submitting while more deliveries than
/// this are queued in the shards' broker queues (admission control: the
/// bound is enforced where clients submit, never by a shard waiting).
/// Override with `SOCIALBENCH_BROKER_BOUND` (read once when the engine
/// starts; at least 1).
pub const BROKER_BOUND: u64 = 1 << 20;

/// The broker bound ([`BROKER_BOUND`], or `SOCIALBENCH_BROKER_BOUND`).
fn broker_bound() -> u64 {
    std::env::var("SOCIALBENCH_BROKER_BOUND")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(BROKER_BOUND, |v| v.max(1))
}

/// The reply flush size ([`FLUSH`], or `SOCIALBENCH_REPLY_FLUSH`), read
/// once at start.
fn flush_size() -> usize {
    std::env::var("SOCIALBENCH_REPLY_FLUSH")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(FLUSH, |v| v.max(1))
}

/// A set of thread-owned partitions (see the module docs).
pub(crate) struct ShardSet {
    name: &'static str,
    kind: ChannelKind,
    clients: Vec<Sender<ClientMsg>>,
    peers: Vec<Sender<PeerMsg>>,
    counters: Arc<FaultCounters>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Set first thing by `shutdown`; sessions read it before each send so
    /// that once any submit has failed, every later one fails too (shards
    /// stop one after another). A read of a line written once: no contention.
    stopped: Arc<AtomicBool>,
    next_session: AtomicU32,
    /// Sessions alive now and the cores left to client threads: a session
    /// spins while the first fits in the second.
    live_sessions: Arc<AtomicU32>,
    client_cores: usize,
    idle: IdlePolicy,
    /// Each shard's backups (empty lists without replication).
    backups: Vec<Vec<crossbeam_channel::Sender<BackupMsg>>>,
    replication: crate::config::Replication,
    feeds: Feeds,
    /// Push feeds: deliveries queued in every shard's broker queue.
    backlog: Arc<AtomicU64>,
    /// Durable shards: each log thread's figures, and what `--recover`
    /// replayed (`None`: in memory).
    logs: Option<DurableSet>,
    /// `--fault crash`: its plan and the figures of the shard it crashes.
    crash: Option<(Arc<CrashPlan>, Arc<Mutex<DurabilityStats>>)>,
    /// The coordinator's shared state (`None`: no coordinator), the
    /// `kill-primary` plan, and the channel whose drop stops the
    /// coordinator.
    failover: Option<Arc<failover::Shared>>,
    kill: Option<Arc<CrashPlan>>,
    coordinator_stop: Mutex<Option<crossbeam_channel::Sender<()>>>,
}

/// Refuses what failover does not do: `kill-primary` without backups to
/// promote or a heartbeat to notice the death, on a shard that does not
/// exist, or with push feeds (the deliveries queued in the dead primary's
/// memory are not replicated).
pub(crate) fn check_failover(config: &EngineConfig, count: usize) -> Result<(), EngineError> {
    let Some(k) = &config.faults.kill_primary else {
        return Ok(());
    };
    if !config.replication.on() {
        return Err(EngineError::config(
            "the kill-primary fault needs --replicas 1 or 2 (a backup to promote)",
        ));
    }
    if config.failover.heartbeat.is_none() {
        return Err(EngineError::config(
            "the kill-primary fault needs a heartbeat to notice the death (--heartbeat)",
        ));
    }
    if k.partition >= count {
        return Err(EngineError::config(format!(
            "kill-primary shard {} outside 0..{count}",
            k.partition
        )));
    }
    if config.feeds.pushes() {
        return Err(EngineError::config(
            "the kill-primary fault with push or hybrid feeds is not built (queued deliveries are not replicated)",
        ));
    }
    Ok(())
}

/// The logs of a durable shard set.
struct DurableSet {
    mode: DurabilityMode,
    counters: Vec<Arc<Mutex<crate::stats::WalCounters>>>,
    recovered: Option<crate::stats::Recovery>,
}

/// Refuses what durable shard sets do not do yet: logs together with
/// backups (the backups would start empty after `--recover`), and the
/// crash fault with backups (a replicated shard's death is `kill-primary`,
/// which fails over) or with push feeds
/// (the deliveries queued in a shard's memory would be lost).
pub(crate) fn check_durability(config: &EngineConfig, count: usize) -> Result<(), EngineError> {
    if let Some(c) = &config.faults.crash {
        if c.partition >= count {
            return Err(EngineError::config(format!(
                "crash partition {} outside 0..{count}",
                c.partition
            )));
        }
        if config.replication.on() {
            return Err(EngineError::config(
                "the crash fault with --replicas is not built: a replicated shard dies by --fault kill-primary",
            ));
        }
        if config.feeds.pushes() {
            return Err(EngineError::config(
                "the crash fault with push or hybrid feeds is not built on actor and sharded (queued deliveries would be lost)",
            ));
        }
    }
    if config.durability.logs() && config.replication.on() {
        return Err(EngineError::config(
            "--durability with --replicas is not built yet: choose one",
        ));
    }
    Ok(())
}

impl fmt::Debug for ShardSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardSet")
            .field("name", &self.name)
            .field("shards", &self.peers.len())
            .field("channel", &self.kind)
            .finish()
    }
}

impl ShardSet {
    /// Starts `count` shards named by `thread_name(i)`, after checking
    /// `config` ([`EngineConfig::validate`]).
    pub(crate) fn start(
        name: &'static str,
        config: &EngineConfig,
        count: usize,
        thread_name: impl Fn(usize) -> String,
    ) -> Result<ShardSet, EngineError> {
        config.validate()?;
        if count == 0 {
            return Err(EngineError::config("partitions must be at least 1"));
        }
        check_durability(config, count)?;
        check_failover(config, count)?;
        if let Some(dir) = config.durability.log_dir()?
            && !config.durability.recover
        {
            crate::wal::prepare_fresh_dir(dir).map_err(|e| EngineError::config(e.to_string()))?;
        }
        let flush = flush_size();
        // Backups are threads too: primaries own cores only if there are
        // enough for every thread of the set.
        let threads = count.saturating_mul(config.replication.copies());
        let (own_core, client_cores) = placement_plan(&config.pin, threads);
        let Lanes {
            clients,
            peers,
            receivers,
        } = Lanes::new(config, count);
        let mut set = ShardSet {
            name,
            kind: config.channel,
            clients,
            peers,
            counters: Arc::new(FaultCounters::default()),
            threads: Mutex::new(Vec::with_capacity(count)),
            stopped: Arc::new(AtomicBool::new(false)),
            next_session: AtomicU32::new(0),
            live_sessions: Arc::new(AtomicU32::new(0)),
            client_cores,
            idle: config.idle,
            backups: Vec::with_capacity(count),
            replication: config.replication,
            feeds: config.feeds,
            backlog: Arc::new(AtomicU64::new(0)),
            logs: None,
            crash: config.faults.crash.map(|c| {
                let stats = DurabilityStats {
                    mode: config.durability.mode,
                    ..DurabilityStats::default()
                };
                (CrashPlan::new(c), Arc::new(Mutex::new(stats)))
            }),
            failover: config
                .failover
                .heartbeat
                .filter(|_| config.replication.on())
                .map(|h| failover::Shared::new(count, config.replication.replicas, h)),
            kill: config.faults.kill_primary.map(CrashPlan::new),
            coordinator_stop: Mutex::new(None),
        };
        let mut logs = config.durability.logs().then(|| DurableSet {
            mode: config.durability.mode,
            counters: Vec::with_capacity(count),
            recovered: None,
        });
        let plan = ShardPlan {
            count,
            peers: &set.peers,
            counters: &set.counters,
            faults: &config.faults,
            clock: PostClock::new(),
            flush,
            backlog: &set.backlog,
        };
        let pin_of =
            |thread: usize| (!config.pin.is_empty()).then(|| config.pin[thread % config.pin.len()]);
        let mut backups = Vec::with_capacity(count);
        for (index, rx) in receivers.into_iter().enumerate() {
            let idler = Idler::new(config.idle, own_core[index]);
            let mut part = Partition::new(index, count, plan.clock.clone());
            part.set_feeds(config.feeds);
            let started = set
                .start_backups((index, count), &thread_name, &pin_of, &mut backups)
                .map_err(|e| EngineError::Spawn(Arc::new(e)))
                .and_then(|repl| {
                    let at = (index, count);
                    set.start_log(config, at, &thread_name, (&mut part, &mut logs), repl)
                })
                .and_then(|repl| {
                    let mut shard = Shard::new(index, rx, idler, &plan, repl, part);
                    if let Some((crash, stats)) = &set.crash
                        && crash.partition() == index
                    {
                        shard.crashes(crash.timer(), stats.clone());
                    }
                    if let Some(shared) = &set.failover {
                        let kill = set.kill.as_ref().filter(|k| k.partition() == index);
                        let hold = config.failover.hold_shipping && kill.is_some();
                        shard.watched(shared.clone(), kill.map(|k| k.timer()), hold);
                    }
                    set.spawn(thread_name(index), pin_of(index), move || shard.run())
                        .map_err(|e| EngineError::Spawn(Arc::new(e)))
                });
            if let Err(e) = started {
                // The backups started so far stop once their primaries
                // (stopped here) and these channels are gone.
                drop(backups);
                set.shutdown();
                return Err(e);
            }
        }
        set.backups = backups;
        set.logs = logs;
        if let Err(e) = set.start_coordinator(config) {
            set.shutdown();
            return Err(EngineError::Spawn(Arc::new(e)));
        }
        Ok(set)
    }

    /// Starts the coordinator thread (`failover.rs`), if there is one.
    fn start_coordinator(&self, config: &EngineConfig) -> std::io::Result<()> {
        let (Some(shared), Some(heartbeat)) = (&self.failover, config.failover.heartbeat) else {
            return Ok(());
        };
        let (stop_tx, stop) = crossbeam_channel::bounded(0);
        let coordinator = failover::Coordinator {
            shared: shared.clone(),
            heartbeat,
            peers: self.peers.clone(),
            backups: self.backups.clone(),
            stop,
        };
        self.spawn(format!("sb-{}-coord", self.name), None, move || {
            coordinator.run()
        })?;
        *self.coordinator_stop.lock() = Some(stop_tx);
        Ok(())
    }

    /// Starts shard `index`'s backups (threads `count + index * R + r` of
    /// the pin list), adds their channels to `all` and returns the primary's
    /// side of their replication (`None` without backups).
    fn start_backups(
        &self,
        (index, count): (usize, usize),
        thread_name: &impl Fn(usize) -> String,
        pin_of: &impl Fn(usize) -> Option<usize>,
        all: &mut Vec<Vec<crossbeam_channel::Sender<BackupMsg>>>,
    ) -> std::io::Result<Option<Replicator>> {
        let replicas = self.replication.replicas;
        let mut senders = Vec::with_capacity(replicas);
        for r in 0..replicas {
            let (tx, rx) = crossbeam_channel::unbounded();
            let mut part = Partition::new(index, count, PostClock::new());
            part.set_feeds(self.feeds);
            let backup = Backup {
                index: r as u8,
                part,
                rx,
                primary: self.peers[index].clone(),
                applied: 0,
                counters: FaultCounters::default(),
                scratch: Vec::new(),
                epoch: 0,
                watch: self
                    .failover
                    .as_ref()
                    .and_then(|f| f.backup_watch(index, r)),
            };
            let name = format!("{}-b{r}", thread_name(index));
            self.spawn(name, pin_of(count + index * replicas + r), move || {
                backup.run()
            })?;
            senders.push(tx);
        }
        all.push(senders.clone());
        Ok((replicas > 0).then(|| Replicator::new(senders, self.replication, (index, count))))
    }

    /// Durable shards: creates shard `index`'s log (or opens it and replays
    /// it into `part` with `--recover`), starts its log thread and adds it
    /// to the shard's replicator as one more sink, in `sync` mode
    /// (`log_writer.rs`). Without durability, gives `repl` back.
    fn start_log(
        &self,
        config: &EngineConfig,
        (index, count): (usize, usize),
        thread_name: &impl Fn(usize) -> String,
        (part, logs): (&mut Partition, &mut Option<DurableSet>),
        repl: Option<Replicator>,
    ) -> Result<Option<Replicator>, EngineError> {
        let d = &config.durability;
        let (Some(logs), Some(dir)) = (logs.as_mut(), d.dir.as_deref()) else {
            return Ok(repl);
        };
        let identity = d.identity_of(self.name, index, count);
        let wal = if d.recover {
            let (wal, rec) = crate::wal::Wal::open(
                dir,
                index,
                &identity,
                d.mode,
                crate::wal::recover_into(part, false),
            )
            .map_err(|e| EngineError::config(e.to_string()))?;
            logs.recovered.get_or_insert_with(Default::default).add(rec);
            wal
        } else {
            crate::wal::Wal::create(dir, index, &identity, d.mode)
                .map_err(|e| EngineError::config(e.to_string()))?
        };
        let wal = wal.with_snapshots(d.snapshot_every);
        // The log thread's copy of the shard's state, which its snapshots
        // encode (`wal/mod.rs`).
        let shadow = (d.snapshot_every > 0).then(|| log_writer::Shadow::of(part));
        let counters = Arc::new(Mutex::new(wal.counters()));
        logs.counters.push(counters.clone());
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = LogWriter {
            index: 0,
            wal,
            rx,
            primary: self.peers[index].clone(),
            counters,
            shadow,
        };
        self.spawn(format!("{}-log", thread_name(index)), None, move || {
            writer.run()
        })
        .map_err(|e| EngineError::Spawn(Arc::new(e)))?;
        // `check_durability` refused backups with logs: the writer is the
        // replicator's only sink.
        debug_assert!(repl.is_none());
        let sync = crate::config::Replication {
            replicas: 1,
            mode: crate::config::ReplicationMode::Sync,
        };
        Ok(Some(Replicator::new(vec![tx], sync, (index, count))))
    }

    /// Starts one of the set's threads, pinned to `pin` when given.
    fn spawn(
        &self,
        name: String,
        pin: Option<usize>,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            if let Some(id) = pin {
                // Best effort: an unknown core leaves the thread unpinned.
                core_affinity::set_for_current(core_affinity::CoreId { id });
            }
            body();
        })?;
        self.threads.lock().push(handle);
        Ok(())
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// A new session, registered with every shard before it is returned.
    pub(crate) fn session(&self) -> Result<ShardedSession, EngineError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(EngineError::Shutdown);
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mailbox::unbounded(self.kind);
        for p in &self.peers {
            let msg = PeerMsg::Register {
                session: id,
                replies: tx.clone(),
            };
            if p.send(msg).is_err() {
                return Err(EngineError::Shutdown);
            }
        }
        self.live_sessions.fetch_add(1, Ordering::Relaxed);
        Ok(ShardedSession {
            id,
            clients: self.clients.clone(),
            peers: self.peers.clone(),
            stopped: self.stopped.clone(),
            replies: rx,
            outstanding: 0,
            live_sessions: self.live_sessions.clone(),
            client_cores: self.client_cores,
            own: Idler::new(self.idle, true),
            shared: Idler::new(self.idle, false),
            backlog: self.backlog.clone(),
            broker_bound: if self.feeds.pushes() {
                match self.feeds.broker_bound {
                    0 => broker_bound(),
                    n => n,
                }
            } else {
                0
            },
        })
    }

    /// Runs `f` on every shard between two batches and collects the results
    /// in shard order. Returns fewer results once the engine is shut down.
    fn probe_all<R, F>(&self, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&ShardView<'_>) -> R + Send + Clone + 'static,
    {
        if self.stopped.load(Ordering::Acquire) {
            return Vec::new();
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut asked = 0;
        for (i, p) in self.peers.iter().enumerate() {
            let (tx, f) = (tx.clone(), f.clone());
            let probe: Probe = Box::new(move |v| {
                let _ = tx.send((i, f(v)));
            });
            if p.send(PeerMsg::Probe(probe)).is_ok() {
                asked += 1;
            }
        }
        drop(tx);
        let mut out = Vec::with_capacity(asked);
        while out.len() < asked {
            // A shard that stops drops its probe unanswered; the timeout only
            // lets us notice a concurrent shutdown, it never decides a result.
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(r) => out.push(r),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if self.stopped.load(Ordering::Acquire) {
                        break;
                    }
                }
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect()
    }

    pub(crate) fn stats(&self) -> EngineStats {
        let pushes = self.feeds.pushes();
        let parts = self.probe_all(move |v| {
            let feeds = pushes.then(|| {
                let mut f = v.partition.feed_stats();
                f.backlog = v.queued_deliveries;
                f.max_backlog = v.max_queued;
                (f, v.staleness.clone())
            });
            (v.partition.stats(), v.sent, v.applied, v.replica, feeds)
        });
        let mut s = EngineStats::default();
        let (mut sent, mut applied) = (0u64, 0u64);
        let mut repl = self.replication.on().then(|| ReplicationStats {
            replicas: self.replication.replicas,
            mode: self.replication.mode,
            ..ReplicationStats::default()
        });
        let mut delays: Option<hdrhistogram::Histogram<u64>> = None;
        for (p, se, ap, view, feeds) in &parts {
            if let Some((f, h)) = feeds {
                s.feeds.get_or_insert_with(FeedStats::default).add(f);
                match &mut delays {
                    Some(d) => {
                        let _ = d.add(h);
                    }
                    None => delays = Some(h.clone()),
                }
            }
            let p: &PartitionStats = p;
            s.counts.add(&p.counts);
            s.bytes.add(&p.bytes);
            sent += se;
            applied += ap;
            if let (Some(r), Some(v)) = (&mut repl, view) {
                r.log_entries += v.logged;
                r.lag_entries += v.lag;
                r.max_lag_entries = r.max_lag_entries.max(v.max_lag);
                r.held_replies += v.held;
                r.lost_backups += v.lost;
            }
        }
        if let (Some(r), Some(f)) = (&mut repl, &self.failover) {
            r.failover = Some(f.stats());
        }
        s.replication = repl;
        let crashes = self.crash.as_ref().map(|(_, c)| c.lock().clone());
        s.durability = match (&self.logs, crashes) {
            (None, crashes) => crashes,
            (Some(l), crashes) => {
                let mut d = crashes.unwrap_or_default();
                d.mode = l.mode;
                d.recovered = l.recovered.clone();
                for c in &l.counters {
                    d.log.add(&c.lock());
                }
                Some(d)
            }
        };
        if let (Some(f), Some(h)) = (&mut s.feeds, &delays)
            && !h.is_empty()
        {
            f.staleness = Some(Staleness {
                samples: h.len(),
                p50_us: h.value_at_quantile(0.5),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            });
        }
        s.mailbox_depths = self.clients.iter().map(Sender::len).collect();
        s.pending_follow_ups = sent.saturating_sub(applied);
        s.faults = self.counters.faults();
        s.dropped_follow_ups = self.counters.dropped_follow_ups();
        s.write_faults = self.counters.write_faults();
        s
    }

    /// Arms the crash fault: the measured window starts at `at`.
    pub(crate) fn start_window(&self, at: std::time::Instant) {
        if let Some((plan, _)) = &self.crash {
            plan.arm(at);
        }
        if let Some(f) = &self.failover {
            f.start_window(at);
        }
        if let Some(k) = &self.kill {
            k.arm(at);
        }
    }

    /// Probes every shard until, in one round, no shard holds an unapplied
    /// client op or a pending gather and every follow-up sent was applied.
    /// With no client submitting, ops only drain, so once every shard reports
    /// no unapplied op the `sent` counters are final and the sums equal only
    /// when every follow-up has been applied.
    pub(crate) fn quiesce(&self) {
        loop {
            let r = self.probe_all(|v| {
                // Backups behind, or replies held for them, are work left too.
                let repl = v.replica.map_or(0, |r| r.lag + r.held_now as u64);
                (
                    v.unapplied_ops + repl as usize,
                    v.gathers,
                    v.sent,
                    v.applied,
                )
            });
            if r.len() < self.peers.len() {
                return; // shut down
            }
            let idle = r
                .iter()
                .all(|&(ops, gathers, _, _)| ops == 0 && gathers == 0);
            let sent: u64 = r.iter().map(|x| x.2).sum();
            let applied: u64 = r.iter().map(|x| x.3).sum();
            if idle && sent == applied {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// The primaries' aggregates, and (replicated, after `quiesce`) how
    /// many backups are gone or hold a digest other than their primary's.
    pub(crate) fn audit(&self) -> Audit {
        let mut a = Audit::default();
        for p in self.probe_all(|v| v.partition.audit()) {
            a.add(&p);
        }
        if self.replication.on() {
            let primaries = self.probe_all(|v| v.partition.digest());
            for (shard, digest) in primaries.iter().enumerate() {
                let backups = self.backup_digests(shard);
                // A backup that did not answer is gone: count it too.
                let gone = self.replication.replicas.saturating_sub(backups.len());
                a.replicas_diverged += gone as u64;
                for (_, d) in backups {
                    a.replicas_diverged += u64::from(d != *digest);
                }
            }
        }
        a
    }

    /// Each live backup of `shard`: the log entries it applied and its
    /// partition's digest.
    pub(crate) fn backup_digests(&self, shard: usize) -> Vec<(u64, u64)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut asked = 0;
        for b in self.backups.get(shard).into_iter().flatten() {
            let tx = tx.clone();
            let probe: replica::BackupProbe = Box::new(move |part, applied| {
                let _ = tx.send((applied, part.digest()));
            });
            asked += usize::from(b.send(BackupMsg::Probe(probe)).is_ok());
        }
        drop(tx);
        // A backup that stops drops the probe: the channel then closes.
        rx.iter().take(asked).collect()
    }

    /// Each shard's digest and its live backups' (entries applied, digest),
    /// for tests of convergence (call `quiesce` first).
    #[cfg(test)]
    pub(crate) fn replica_digests(&self) -> Vec<(u64, Vec<(u64, u64)>)> {
        self.probe_all(|v| v.partition.digest())
            .into_iter()
            .enumerate()
            .map(|(i, d)| (d, self.backup_digests(i)))
            .collect()
    }

    pub(crate) fn entities(&self) -> Entities {
        let mut e = Entities::default();
        for p in self.probe_all(|v| v.partition.entities()) {
            e.extend(p);
        }
        e
    }

    pub(crate) fn digest(&self) -> u64 {
        self.probe_all(|v| v.partition.digest())
            .into_iter()
            .fold(0u64, u64::wrapping_add)
    }

    pub(crate) fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
        // The coordinator stops at once, before it could fail a stopping
        // shard over.
        drop(self.coordinator_stop.lock().take());
        let threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() {
            return;
        }
        for p in &self.peers {
            let _ = p.send(PeerMsg::Stop);
        }
        for b in self.backups.iter().flatten() {
            let _ = b.send(BackupMsg::Stop);
        }
        for t in threads {
            // A shard that died of a bug has already dropped its lanes.
            let _ = t.join();
        }
    }
}

impl Drop for ShardSet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Bytes of one slot of a client lane: the message and the channel's own
/// word per slot (crossbeam's stamp; flume's queue entry is no larger).
pub(crate) const MAILBOX_SLOT_BYTES: usize =
    std::mem::size_of::<ClientMsg>() + std::mem::size_of::<usize>();

/// The two lanes of every shard: the senders clients and peers use, and
/// each shard's receiver.
struct Lanes {
    clients: Vec<Sender<ClientMsg>>,
    peers: Vec<Sender<PeerMsg>>,
    receivers: Vec<DualReceiver<ClientMsg, PeerMsg>>,
}

impl Lanes {
    /// The lanes of `count` shards, of `config`'s channel flavour and
    /// client-lane capacity.
    fn new(config: &EngineConfig, count: usize) -> Lanes {
        let mut lanes = Lanes {
            clients: Vec::with_capacity(count),
            peers: Vec::with_capacity(count),
            receivers: Vec::with_capacity(count),
        };
        for _ in 0..count {
            let (c, p, rx) = mailbox::dual(config.channel, config.mailbox);
            lanes.clients.push(c);
            lanes.peers.push(p);
            lanes.receivers.push(rx);
        }
        lanes
    }
}
