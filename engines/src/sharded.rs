//! The `sharded` engine: P partitions, each owned by its own (optionally
//! pinned) thread; follow-ups and home-feed gathers are messages between
//! shards (DESIGN section 3), as hash-partitioned servers do.
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
//! # Waiting: spin on an own core, yield on a shared one
//! An idle shard, and a session waiting for a reply, first wait actively
//! before they park: with ops in flight the next message is usually
//! microseconds away, and parking at once turns every op into futex
//! wake-ups. *How* they wait depends on whether the thread has a core to
//! itself ([`Waiting`], decided once at start from `EngineConfig::pin` and
//! the cores the process may use):
//! - a thread with its own core **spins** (`spin_loop`) for up to
//!   [`SPIN`] before it parks. Spinning costs nothing to anyone on a
//!   dedicated core, and it never calls `sched_yield`: on a machine shared
//!   with other work a yield hands the core to a stranger for a whole
//!   timeslice (milliseconds), which is where the old p99 of 4-8 ms came from;
//! - a thread sharing its core with another thread of the run (two shards on
//!   one core, two sessions on one core) **yields** [`LINGER`] times, then
//!   parks, so the thread it shares with can run.
//!
//! A session spins when the live sessions fit on the cores the engine's
//! threads leave free; the count is read from one rarely-written atomic per
//! wait, not per op.
//!
//! # Home feed
//! The user's shard reads the subscriptions, groups them by shard, computes
//! its own part, sends one gather request per other shard involved and parks
//! a continuation (pending count, candidates, reply target) in a slab. The
//! last gather reply completes it ([`MergeScratch`], which gives what
//! [`crate::merge_feed`] gives, cheaper) and the session gets its
//! answer. The shard loop never waits for a gather.
//!
//! # Sessions and replies
//! A session owns one unbounded reply channel. [`Engine::session`] registers
//! its sender with every shard over the peer lane (so it is registered before
//! the session's first op is applied), and client messages carry only the
//! session's number: no per-op allocation or reference count. A shard
//! collects the replies of a batch per session and sends each session one
//! message per batch, or as soon as it holds [`FLUSH`] replies (one
//! allocation and at most one wake-up per message, instead of one per op).
//! Flushing early lets a closed-loop client refill its window while the shard
//! is still applying the rest of the batch, so client and shard work at the
//! same time instead of taking turns. A flush never precedes the follow-ups
//! of the ops it answers (they are routed before `reply`), so the causality
//! rule above holds. Measured with `examples/engine_mix.rs` and
//! `socialbench run`.
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
//! [`ApiError::Shutdown`] and drops its receivers, which releases every client
//! blocked on its full client lane; later submits fail with
//! [`EngineError::Shutdown`]. Replies to ops still queued are dropped with the
//! shard, and a session's `poll` sees its reply channel disconnect.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::api::{ApiError, CommunityId, Op, PostSummary, Reply, Response, Sort, UserId};
use crate::audit::Audit;
use crate::engine::{Engine, EngineConfig, EngineError, EngineStats, PartitionStats, Session};
use crate::fault::{FaultInjector, inject_panic};
use crate::mailbox::{self, DualReceiver, Either, Receiver, Sender, TryRecvError};
use crate::partition::{FollowUp, Partition, PostClock, sort_key};
use crate::placement;

/// Most client ops a shard takes per batch. Large enough to amortise the
/// peer-lane drain and the wake-ups, small enough that probes and `Stop` are
/// served within a batch.
pub const BATCH: usize = 128;

/// Yields an idle shard (or a session waiting for a reply) makes before it
/// parks when it shares its core with another thread of the run. Each is a
/// `sched_yield`, about a microsecond when the core is free.
pub const LINGER: usize = 8;

/// How long an idle shard (or a session waiting for a reply) with a core of
/// its own spins before it parks. Override with the environment variable
/// `SOCIALBENCH_SPIN_US` (microseconds, read once when the engine starts;
/// 0 turns spinning off).
pub const SPIN: Duration = Duration::from_micros(50);

/// A session's replies are sent as soon as this many are queued, without
/// waiting for the end of the batch. Override with `SOCIALBENCH_REPLY_FLUSH`
/// (read once when the engine starts; at least 1).
pub const FLUSH: usize = 4;

/// How a thread waits for its next message (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Own core: spin up to this long, then park.
    Spin(Duration),
    /// Shared core: yield [`LINGER`] times, then park.
    Yield,
}

/// Spins until `f` returns `Some` or `budget` has passed. Reads the clock
/// every 64 rounds only (a vDSO call is ~20 ns; a round is a few ns).
#[inline]
pub(crate) fn spin_for<T>(budget: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    if budget.is_zero() {
        return None;
    }
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if let Some(v) = f() {
                return Some(v);
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return None;
        }
    }
}

/// Tuning read once at start: the spin budget and the reply flush size.
fn tuning() -> (Duration, usize) {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let spin = var("SOCIALBENCH_SPIN_US").map_or(SPIN, Duration::from_micros);
    let flush = var("SOCIALBENCH_REPLY_FLUSH").map_or(FLUSH, |v| (v as usize).max(1));
    (spin, flush)
}

/// Which shards have a core to themselves, and how many cores are left for
/// client threads. Pinned: shard `i` runs on `pin[i % len]` and owns it when
/// no other shard maps there and some core is left for the clients (else
/// clients share the shards' cores). Unpinned: shards own cores while they number
/// fewer than the cores (the OS then has room to keep them apart).
fn placement_plan(pin: &[usize], count: usize) -> (Vec<bool>, usize) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if pin.is_empty() {
        let own = count < cores;
        return (vec![own; count], cores.saturating_sub(count));
    }
    let core_of = |i: usize| pin[i % pin.len()];
    let distinct: std::collections::BTreeSet<usize> = (0..count).map(core_of).collect();
    let client_cores = cores.saturating_sub(distinct.len());
    // With every core taken by shards, client threads share the shards'
    // cores: no shard owns one.
    let own = (0..count)
        .map(|i| client_cores > 0 && (0..count).all(|j| j == i || core_of(j) != core_of(i)))
        .collect();
    (own, client_cores)
}

/// One client op on a client lane: 8 + 4 bytes of routing plus the op.
pub(crate) struct ClientMsg {
    session: u32,
    tag: u64,
    op: Op,
}

/// What a probe sees of a shard, between two batches.
pub(crate) struct ShardView<'a> {
    partition: &'a Partition,
    /// Client ops queued or taken but not applied.
    unapplied_ops: usize,
    /// Home feeds waiting for gather replies.
    gathers: usize,
    /// Follow-ups this shard sent to other shards.
    sent: u64,
    /// Follow-ups from other shards this shard applied.
    applied: u64,
}

type Probe = Box<dyn FnOnce(&ShardView<'_>) + Send>;
/// Replies travel in batches: one send (and at most one wake-up of the
/// client) per session per shard batch, instead of one per op.
type ReplyBatch = Vec<(u64, Response)>;
type ReplySender = Sender<ReplyBatch>;

/// A registered session: its reply channel and the replies of the current batch.
struct SessionSlot {
    tx: ReplySender,
    pending: ReplyBatch,
}

/// Traffic a shard must never block on.
enum PeerMsg {
    FollowUp(FollowUp),
    Gather {
        origin: u32,
        cont: u32,
        communities: Vec<CommunityId>,
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
    Probe(Probe),
    Stop,
}

/// Fault counters, written only when a fault happens (never on the hot path).
#[derive(Debug, Default)]
struct Counters {
    faults: AtomicU64,
    dropped: AtomicU64,
}

/// Checks the parts of a configuration every engine shares.
pub(crate) fn validate(config: &EngineConfig) -> Result<(), EngineError> {
    if config.mailbox == 0 {
        return Err(EngineError::Config(
            "mailbox capacity must be at least 1".into(),
        ));
    }
    let f = &config.faults;
    for (name, rate) in [
        ("panic rate", f.panic_rate),
        ("drop rate", f.drop_follow_up_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(EngineError::Config(format!("{name} {rate} outside 0..=1")));
        }
    }
    if let Some(s) = f.stall
        && s.every.is_zero()
    {
        return Err(EngineError::Config("stall period must be positive".into()));
    }
    Ok(())
}

/// Runs `f`, turning a panic into `None` (the partition code is trusted not to
/// panic; if it does, the op is answered with a fault and the shard goes on).
#[inline]
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// A set of thread-owned partitions: the machinery of `sharded`, and of
/// `actor`, which is the one-shard case.
pub(crate) struct ShardSet {
    name: &'static str,
    kind: crate::engine::ChannelKind,
    clients: Vec<Sender<ClientMsg>>,
    peers: Vec<Sender<PeerMsg>>,
    counters: Arc<Counters>,
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
    spin: Duration,
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
    /// Starts `count` shards named by `thread_name(i)`.
    pub(crate) fn start(
        name: &'static str,
        config: &EngineConfig,
        count: usize,
        thread_name: impl Fn(usize) -> String,
    ) -> Result<ShardSet, EngineError> {
        validate(config)?;
        if count == 0 {
            return Err(EngineError::Config("partitions must be at least 1".into()));
        }
        let clock = PostClock::new();
        let counters = Arc::new(Counters::default());
        let (spin, flush) = tuning();
        let (own_core, client_cores) = placement_plan(&config.pin, count);
        let mut clients = Vec::with_capacity(count);
        let mut peers = Vec::with_capacity(count);
        let mut receivers = Vec::with_capacity(count);
        for _ in 0..count {
            let (c, p, rx) = mailbox::dual(config.channel, config.mailbox);
            clients.push(c);
            peers.push(p);
            receivers.push(rx);
        }
        let set = ShardSet {
            name,
            kind: config.channel,
            clients,
            peers,
            counters,
            threads: Mutex::new(Vec::with_capacity(count)),
            stopped: Arc::new(AtomicBool::new(false)),
            next_session: AtomicU32::new(0),
            live_sessions: Arc::new(AtomicU32::new(0)),
            client_cores,
            spin,
        };
        for (index, rx) in receivers.into_iter().enumerate() {
            let shard = Shard {
                index,
                count,
                part: Partition::new(index, count, clock.clone()),
                rx,
                peers: set.peers.clone(),
                sessions: Vec::new(),
                touched: Vec::new(),
                faults: FaultInjector::new(&config.faults, index),
                counters: set.counters.clone(),
                follow_ups: Vec::new(),
                groups: vec![Vec::new(); count],
                gathers: Vec::new(),
                free: Vec::new(),
                live_gathers: 0,
                sent: 0,
                applied: 0,
                waiting: if own_core[index] {
                    Waiting::Spin(spin)
                } else {
                    Waiting::Yield
                },
                flush_at: flush,
                merge: MergeScratch::default(),
            };
            let pin = (!config.pin.is_empty()).then(|| config.pin[index % config.pin.len()]);
            let spawned = std::thread::Builder::new()
                .name(thread_name(index))
                .spawn(move || {
                    if let Some(id) = pin {
                        // Best effort: an unknown core leaves the thread unpinned.
                        core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    shard.run();
                });
            match spawned {
                Ok(h) => set.threads.lock().push(h),
                Err(e) => {
                    set.shutdown();
                    return Err(EngineError::Spawn(e.to_string()));
                }
            }
        }
        Ok(set)
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

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
            spin: self.spin,
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
        let parts = self.probe_all(|v| (v.partition.stats(), v.sent, v.applied));
        let mut s = EngineStats::default();
        let (mut sent, mut applied) = (0u64, 0u64);
        for (p, se, ap) in &parts {
            let p: &PartitionStats = p;
            s.counts.add(&p.counts);
            s.bytes.add(&p.bytes);
            sent += se;
            applied += ap;
        }
        s.mailbox_depths = self.clients.iter().map(Sender::len).collect();
        s.pending_follow_ups = sent.saturating_sub(applied);
        s.faults = self.counters.faults.load(Ordering::Relaxed);
        s.dropped_follow_ups = self.counters.dropped.load(Ordering::Relaxed);
        s
    }

    /// Probes every shard until, in one round, no shard holds an unapplied
    /// client op or a pending gather and every follow-up sent was applied.
    /// With no client submitting, ops only drain, so once every shard reports
    /// no unapplied op the `sent` counters are final and the sums equal only
    /// when every follow-up has been applied.
    pub(crate) fn quiesce(&self) {
        loop {
            let r = self.probe_all(|v| (v.unapplied_ops, v.gathers, v.sent, v.applied));
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

    pub(crate) fn audit(&self) -> Audit {
        let mut a = Audit::default();
        for p in self.probe_all(|v| v.partition.audit()) {
            a.add(&p);
        }
        a
    }

    pub(crate) fn digest(&self) -> u64 {
        self.probe_all(|v| v.partition.digest())
            .into_iter()
            .fold(0u64, u64::wrapping_add)
    }

    pub(crate) fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
        let threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() {
            return;
        }
        for p in &self.peers {
            let _ = p.send(PeerMsg::Stop);
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

/// The last step of a home feed gathered from several partitions: the same
/// result as [`crate::merge_feed`], cheaper. Every part
/// (`Partition::feed_part`) arrives sorted best first, so the candidates are
/// a few sorted runs: the ranking key is computed once per candidate (a Hot
/// key costs a 128-bit division) and the runs are merged, instead of
/// computing two keys per comparison of a selection and a sort (the merge
/// was a third of a striped home feed's time in `perf`). More than
/// [`MergeScratch::MAX_RUNS`] runs (unsorted input) falls back to
/// `merge_feed`. The order is total (`created` is unique), so the two agree
/// exactly.
#[derive(Debug, Default)]
pub(crate) struct MergeScratch {
    keys: Vec<(i64, u64)>,
    /// Cursor and end of each sorted run.
    runs: Vec<(usize, usize)>,
    out: Vec<PostSummary>,
}

impl MergeScratch {
    /// Most sorted runs merged directly.
    pub(crate) const MAX_RUNS: usize = 16;

    /// Orders `candidates` best first by `sort` and keeps `limit` of them.
    pub(crate) fn merge(&mut self, candidates: &mut Vec<PostSummary>, sort: Sort, limit: u16) {
        let n = candidates.len();
        let keep = (limit as usize).min(n);
        self.keys.clear();
        self.keys.extend(
            candidates
                .iter()
                .map(|p| (sort_key(sort, p.score, p.created), p.created)),
        );
        self.runs.clear();
        let mut start = 0;
        for i in 1..=n {
            // A run is strictly decreasing in (key, created).
            if i == n || self.keys[i] >= self.keys[i - 1] {
                self.runs.push((start, i));
                start = i;
                if self.runs.len() > Self::MAX_RUNS {
                    crate::merge_feed(candidates, sort, limit);
                    return;
                }
            }
        }
        self.out.clear();
        while self.out.len() < keep {
            let mut best: Option<usize> = None;
            for (r, &(cur, end)) in self.runs.iter().enumerate() {
                if cur < end && best.is_none_or(|b| self.keys[cur] > self.keys[self.runs[b].0]) {
                    best = Some(r);
                }
            }
            let Some(b) = best else { break };
            let cur = self.runs[b].0;
            self.out.push(candidates[cur]);
            self.runs[b].0 += 1;
        }
        candidates.clear();
        candidates.extend_from_slice(&self.out);
    }
}

/// A home feed waiting for gather replies.
struct Gather {
    session: u32,
    tag: u64,
    pending: u32,
    failed: bool,
    sort: Sort,
    limit: u16,
    candidates: Vec<PostSummary>,
}

/// One shard: a partition and everything its thread owns.
struct Shard {
    index: usize,
    count: usize,
    part: Partition,
    rx: DualReceiver<ClientMsg, PeerMsg>,
    peers: Vec<Sender<PeerMsg>>,
    /// Registered sessions by number (numbers are never reused).
    sessions: Vec<Option<SessionSlot>>,
    /// Sessions with replies pending in this batch.
    touched: Vec<u32>,
    faults: FaultInjector,
    counters: Arc<Counters>,
    /// Scratch: follow-ups of the op being applied.
    follow_ups: Vec<FollowUp>,
    /// Scratch: a home feed's subscriptions grouped by shard.
    groups: Vec<Vec<CommunityId>>,
    /// Continuations of home feeds (a slab; `free` lists the empty slots).
    gathers: Vec<Option<Gather>>,
    free: Vec<u32>,
    live_gathers: usize,
    sent: u64,
    applied: u64,
    /// Spin or yield when idle (own core or shared).
    waiting: Waiting,
    /// Replies queued per session before they are sent mid-batch.
    flush_at: usize,
    /// Scratch of the home-feed merge.
    merge: MergeScratch,
}

impl Shard {
    fn run(mut self) {
        let mut batch: Vec<ClientMsg> = Vec::with_capacity(BATCH);
        'serve: loop {
            while batch.len() < BATCH {
                match self.rx.try_first() {
                    Some(m) => batch.push(m),
                    None => break,
                }
            }
            if batch.is_empty() {
                self.flush();
                // Before sleeping, yield a few times: the clients just woken
                // by the flush usually submit again at once, and parking now
                // would make every later op pay a wake-up of its own.
                if let Some(m) = self.linger() {
                    batch.push(m);
                    continue;
                }
                // Idle: sleep until either lane has something.
                match self.rx.recv_either() {
                    Either::First(Ok(m)) => {
                        batch.push(m);
                        continue; // take more before applying
                    }
                    Either::Second(Ok(msg)) => {
                        if self.on_peer(msg, 0) {
                            break 'serve;
                        }
                        continue;
                    }
                    // Every sender is gone: the engine itself was dropped.
                    Either::First(Err(_)) | Either::Second(Err(_)) => break 'serve,
                }
            }
            // Causality: follow-ups sent before the replies that led to this
            // batch are on the peer lane now; apply them first.
            while let Some(msg) = self.rx.try_second() {
                if self.on_peer(msg, batch.len()) {
                    for m in batch.drain(..) {
                        self.reply(m.session, m.tag, Err(ApiError::Shutdown));
                    }
                    self.flush();
                    break 'serve;
                }
            }
            for m in batch.drain(..) {
                self.on_client(m);
            }
            self.flush();
        }
        // Dropping `self.rx` here releases clients blocked on a full lane.
    }

    /// Waits a little for a client op before the caller parks: spins on an
    /// own core, yields [`LINGER`] times on a shared one. Stops early when
    /// the peer lane has something (the caller then drains it).
    fn linger(&self) -> Option<ClientMsg> {
        match self.waiting {
            Waiting::Spin(budget) => spin_for(budget, || {
                if let Some(m) = self.rx.try_first() {
                    return Some(Some(m));
                }
                (self.rx.len_second() > 0).then_some(None)
            })
            .flatten(),
            Waiting::Yield => {
                for _ in 0..LINGER {
                    std::thread::yield_now();
                    if let Some(m) = self.rx.try_first() {
                        return Some(m);
                    }
                    if self.rx.len_second() > 0 {
                        return None;
                    }
                }
                None
            }
        }
    }

    /// Queues a reply; [`Shard::flush`] sends it. A session dropped with ops
    /// outstanding just loses their replies.
    #[inline]
    fn reply(&mut self, session: u32, tag: u64, response: Response) {
        if let Some(Some(slot)) = self.sessions.get_mut(session as usize) {
            if slot.pending.is_empty() {
                self.touched.push(session);
            }
            slot.pending.push((tag, response));
            if slot.pending.len() >= self.flush_at {
                // Early flush: the client refills while the batch goes on.
                let batch = std::mem::replace(&mut slot.pending, Vec::with_capacity(self.flush_at));
                let _ = slot.tx.send(batch);
            }
        }
    }

    /// Sends every queued reply, one message per session.
    fn flush(&mut self) {
        for s in self.touched.drain(..) {
            if let Some(Some(slot)) = self.sessions.get_mut(s as usize)
                && !slot.pending.is_empty()
            {
                let _ = slot.tx.send(std::mem::take(&mut slot.pending));
            }
        }
    }

    fn on_client(&mut self, ClientMsg { session, tag, op }: ClientMsg) {
        let mut inject = false;
        if self.faults.active() {
            self.faults.stall_if_due();
            inject = self.faults.should_panic();
        }
        if self.count > 1
            && let Op::GetHomeFeed { user, sort, limit } = op
        {
            return self.start_home_feed(session, tag, user, sort, limit, inject);
        }
        let part = &mut self.part;
        let follow_ups = &mut self.follow_ups;
        let response = guarded(|| {
            if inject {
                inject_panic();
            }
            part.apply(op, follow_ups)
        })
        .unwrap_or_else(|| {
            follow_ups.clear();
            self.counters.faults.fetch_add(1, Ordering::Relaxed);
            Err(ApiError::EngineFault)
        });
        // Follow-ups leave before the reply (the causality rule above).
        self.route_follow_ups();
        self.reply(session, tag, response);
    }

    fn route_follow_ups(&mut self) {
        if self.follow_ups.is_empty() {
            return;
        }
        let mut follow_ups = std::mem::take(&mut self.follow_ups);
        for f in follow_ups.drain(..) {
            if self.faults.active() && self.faults.should_drop_follow_up() {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let dest = f.partition(self.count);
            if dest == self.index {
                self.apply_follow_up(f);
            } else {
                self.sent += 1;
                // Fails only while shutting down.
                let _ = self.peers[dest].send(PeerMsg::FollowUp(f));
            }
        }
        self.follow_ups = follow_ups;
    }

    fn apply_follow_up(&mut self, f: FollowUp) {
        let part = &mut self.part;
        if guarded(|| part.apply_follow_up(f)).is_none() {
            self.counters.faults.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Handles one peer message; returns whether the shard must stop.
    fn on_peer(&mut self, msg: PeerMsg, taken: usize) -> bool {
        match msg {
            PeerMsg::FollowUp(f) => {
                self.applied += 1;
                self.apply_follow_up(f);
            }
            PeerMsg::Gather {
                origin,
                cont,
                communities,
                sort,
                limit,
            } => {
                let part = &self.part;
                let posts = guarded(|| {
                    let mut posts = Vec::new();
                    part.feed_part(&communities, sort, limit, &mut posts);
                    posts
                });
                let reply = PeerMsg::GatherReply { cont, posts };
                let _ = self.peers[origin as usize].send(reply);
            }
            PeerMsg::GatherReply { cont, posts } => self.on_gather_reply(cont, posts),
            PeerMsg::Register { session, replies } => {
                let i = session as usize;
                if self.sessions.len() <= i {
                    self.sessions.resize_with(i + 1, || None);
                }
                self.sessions[i] = Some(SessionSlot {
                    tx: replies,
                    pending: Vec::new(),
                });
            }
            PeerMsg::Unregister { session } => {
                if let Some(slot) = self.sessions.get_mut(session as usize) {
                    *slot = None;
                }
            }
            PeerMsg::Probe(probe) => probe(&ShardView {
                partition: &self.part,
                unapplied_ops: self.rx.len_first() + taken,
                gathers: self.live_gathers,
                sent: self.sent,
                applied: self.applied,
            }),
            PeerMsg::Stop => return true,
        }
        false
    }

    fn fault_reply(&mut self, session: u32, tag: u64) {
        self.counters.faults.fetch_add(1, Ordering::Relaxed);
        self.reply(session, tag, Err(ApiError::EngineFault));
    }

    fn start_home_feed(
        &mut self,
        session: u32,
        tag: u64,
        user: UserId,
        sort: Sort,
        limit: u16,
        inject: bool,
    ) {
        let Shard {
            part,
            groups,
            count,
            index,
            ..
        } = self;
        let grouped = guarded(|| {
            if inject {
                inject_panic();
            }
            let subs = part.home_feed_subscriptions(user, limit)?;
            groups.iter_mut().for_each(Vec::clear);
            for &c in subs {
                groups[placement::community_partition(c, *count)].push(c);
            }
            Ok::<_, ApiError>(())
        });
        match grouped {
            None => return self.fault_reply(session, tag),
            Some(Err(e)) => return self.reply(session, tag, Err(e)),
            Some(Ok(())) => {}
        }
        let mut candidates = Vec::new();
        let local = &groups[*index];
        if !local.is_empty()
            && guarded(|| part.feed_part(local, sort, limit, &mut candidates)).is_none()
        {
            return self.fault_reply(session, tag);
        }
        let remote = (0..self.count)
            .filter(|&j| j != self.index && !self.groups[j].is_empty())
            .count();
        if remote == 0 {
            return self.finish_home_feed(session, tag, candidates, sort, limit);
        }
        let cont = match self.free.pop() {
            Some(c) => c,
            None => {
                self.gathers.push(None);
                (self.gathers.len() - 1) as u32
            }
        };
        let mut pending = 0u32;
        for j in 0..self.count {
            if j == self.index || self.groups[j].is_empty() {
                continue;
            }
            let msg = PeerMsg::Gather {
                origin: self.index as u32,
                cont,
                communities: std::mem::take(&mut self.groups[j]),
                sort,
                limit,
            };
            if self.peers[j].send(msg).is_ok() {
                pending += 1;
            }
        }
        if (pending as usize) < remote {
            // A peer is gone: the engine is shutting down.
            self.free.push(cont);
            return self.reply(session, tag, Err(ApiError::Shutdown));
        }
        self.gathers[cont as usize] = Some(Gather {
            session,
            tag,
            pending,
            failed: false,
            sort,
            limit,
            candidates,
        });
        self.live_gathers += 1;
    }

    fn on_gather_reply(&mut self, cont: u32, posts: Option<Vec<PostSummary>>) {
        let Some(Some(g)) = self.gathers.get_mut(cont as usize) else {
            return;
        };
        match posts {
            Some(mut p) => g.candidates.append(&mut p),
            None => g.failed = true,
        }
        g.pending -= 1;
        if g.pending > 0 {
            return;
        }
        let Some(g) = self.gathers[cont as usize].take() else {
            return;
        };
        self.free.push(cont);
        self.live_gathers -= 1;
        if g.failed {
            return self.fault_reply(g.session, g.tag);
        }
        self.finish_home_feed(g.session, g.tag, g.candidates, g.sort, g.limit);
    }

    fn finish_home_feed(
        &mut self,
        session: u32,
        tag: u64,
        mut candidates: Vec<PostSummary>,
        sort: Sort,
        limit: u16,
    ) {
        let merge = &mut self.merge;
        match guarded(|| merge.merge(&mut candidates, sort, limit)) {
            Some(()) => self.reply(session, tag, Ok(Reply::Feed(candidates))),
            None => self.fault_reply(session, tag),
        }
    }
}

/// A session of the `sharded` and `actor` engines: one
/// sender per shard's client lane and one reply channel.
pub struct ShardedSession {
    id: u32,
    clients: Vec<Sender<ClientMsg>>,
    peers: Vec<Sender<PeerMsg>>,
    stopped: Arc<AtomicBool>,
    replies: Receiver<ReplyBatch>,
    outstanding: usize,
    live_sessions: Arc<AtomicU32>,
    client_cores: usize,
    spin: Duration,
}

impl ShardedSession {
    /// Spin when the live sessions fit on the cores the shards leave free.
    fn waiting(&self) -> Waiting {
        let live = self.live_sessions.load(Ordering::Relaxed) as usize;
        if live <= self.client_cores {
            Waiting::Spin(self.spin)
        } else {
            Waiting::Yield
        }
    }

    fn deliver<F: FnMut(u64, Response)>(&mut self, batch: ReplyBatch, f: &mut F) -> usize {
        let n = batch.len();
        self.outstanding = self.outstanding.saturating_sub(n);
        for (tag, r) in batch {
            f(tag, r);
        }
        n
    }
}

impl fmt::Debug for ShardedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedSession")
            .field("id", &self.id)
            .field("outstanding", &self.outstanding)
            .finish()
    }
}

impl Session for ShardedSession {
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(EngineError::Shutdown);
        }
        let shard = placement::home_partition(op.home(), self.clients.len());
        let msg = ClientMsg {
            session: self.id,
            tag,
            op,
        };
        match self.clients[shard].send(msg) {
            Ok(()) => {
                self.outstanding += 1;
                Ok(())
            }
            Err(_) => Err(EngineError::Shutdown),
        }
    }

    fn poll<F: FnMut(u64, Response)>(&mut self, wait: bool, mut f: F) -> usize {
        let mut n = 0;
        if wait && self.outstanding > 0 {
            // Like an idle shard, wait actively a little before parking: a
            // reply is usually microseconds away, a park and wake-up cost more.
            match self.waiting() {
                Waiting::Spin(budget) => {
                    spin_for(budget, || (!self.replies.is_empty()).then_some(()));
                }
                Waiting::Yield => {
                    for _ in 0..LINGER {
                        if !self.replies.is_empty() {
                            break;
                        }
                        std::thread::yield_now();
                    }
                }
            }
            match self.replies.recv() {
                Ok(batch) => n += self.deliver(batch, &mut f),
                Err(_) => {
                    // Every shard is gone: no outstanding reply will come.
                    self.outstanding = 0;
                    return 0;
                }
            }
        }
        loop {
            match self.replies.try_recv() {
                Ok(batch) => n += self.deliver(batch, &mut f),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.outstanding = 0;
                    break;
                }
            }
        }
        n
    }

    fn outstanding(&self) -> usize {
        self.outstanding
    }
}

impl Drop for ShardedSession {
    fn drop(&mut self) {
        self.live_sessions.fetch_sub(1, Ordering::Relaxed);
        for p in &self.peers {
            let _ = p.send(PeerMsg::Unregister { session: self.id });
        }
    }
}

/// The `sharded` engine: `config.partitions` shards on as many threads
/// (`sb-shard-<i>`, pinned to `config.pin[i % len]` when given).
#[derive(Debug)]
pub struct ShardedEngine {
    set: ShardSet,
}

impl ShardedEngine {
    /// Starts the shards.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let set = ShardSet::start("sharded", config, config.partitions, |i| {
            format!("sb-shard-{i}")
        })?;
        Ok(ShardedEngine { set })
    }
}

impl Engine for ShardedEngine {
    type Session = ShardedSession;
    fn name(&self) -> &'static str {
        self.set.name()
    }
    fn session(&self) -> Result<ShardedSession, EngineError> {
        self.set.session()
    }
    fn stats(&self) -> EngineStats {
        self.set.stats()
    }
    fn quiesce(&self) {
        self.set.quiesce()
    }
    fn audit(&self) -> Audit {
        self.set.audit()
    }
    fn digest(&self) -> u64 {
        self.set.digest()
    }
    fn shutdown(&self) {
        self.set.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PostId;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn post(rng: &mut Xoshiro256PlusPlus, created: u64) -> PostSummary {
        PostSummary {
            id: PostId {
                community: CommunityId(rng.random_range(0..50)),
                seq: created as u32,
            },
            author: UserId(1),
            score: rng.random_range(-30..3000),
            comments: 0,
            created,
        }
    }

    /// Sorted parts (as `feed_part` makes them) and unsorted input (the
    /// fallback) must both give exactly what `merge_feed` gives.
    #[test]
    fn merge_scratch_agrees_with_merge_feed_on_sorted_parts_and_on_anything() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut m = MergeScratch::default();
        let mut created = 0u64;
        for round in 0..2000 {
            let sort = [Sort::Hot, Sort::Top, Sort::New][round % 3];
            let limit: u16 = rng.random_range(0..40);
            let parts = rng.random_range(0..5);
            let mut candidates = Vec::new();
            for _ in 0..parts {
                let len = rng.random_range(0..=limit as usize);
                let mut part: Vec<PostSummary> = (0..len)
                    .map(|_| {
                        created += rng.random_range(1..5000);
                        post(&mut rng, created)
                    })
                    .collect();
                if round % 7 != 0 {
                    crate::merge_feed(&mut part, sort, limit);
                }
                candidates.extend(part);
            }
            let mut expected = candidates.clone();
            crate::merge_feed(&mut expected, sort, limit);
            m.merge(&mut candidates, sort, limit);
            assert_eq!(candidates, expected, "round {round} {sort:?} limit {limit}");
        }
    }
}
