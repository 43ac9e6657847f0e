//! The `striped` engine: P partitions, each behind a `parking_lot`
//! reader-writer lock (a *stripe*); the calling client thread applies its ops
//! inline. Ops take a stripe for writing, except home feeds (most of a
//! Reddit-like mix), which only read (`home_feed_subscriptions`,
//! `feed_across`) and take read locks, so two clients' feeds over the same
//! stripe run at the same time. It shows shared state with lock striping,
//! and its contention under Zipf skew.
//!
//! # Follow-ups
//! Each stripe has an inbound lock-free queue (`SegQueue`) of follow-ups.
//! While holding the home stripe's lock, an op pushes its follow-ups onto
//! their destinations' queues, so the pushes from one stripe are ordered like
//! its ops (FIFO between two stripes). After releasing the home lock, the
//! caller locks each destination in turn and drains its queue in order.
//! Whoever locks a stripe, for any reason, first drains its queue (a reader
//! that finds the queue non-empty under its read lock takes the write lock
//! to drain it), so queued follow-ups are always applied before anything
//! reads that stripe. `submit`
//! returns only after the op's follow-ups are applied: a session reads its
//! own writes, and with one op in flight replies match every other engine.
//!
//! # Home feed
//! Read-lock the user's stripe, copy the subscriptions into the session's
//! scratch vector, unlock; then read-lock every stripe that holds one of
//! them, in ascending stripe order, and run the partition's k-way merge over
//! all the communities' ordered indexes at once
//! ([`Partition::feed_across`]): the same posts read as `serial` reads (each
//! community's best, then only the posts returned), the same order. Holding
//! the stripes together is what the merge needs: read one stripe at a time,
//! a feed would have to keep up to `limit` posts of each community, because
//! it could not tell yet which will lose. Writers to those stripes wait for
//! the merge (about a microsecond); other feeds do not. The feed is a
//! snapshot of the stripes it holds, taken after the subscriptions were read.
//!
//! # Lock order
//! No thread ever waits for a lock while holding one of a lower-or-equal
//! stripe index: a writer holds one stripe at a time (its follow-ups are
//! pushed lock-free and their destinations locked one by one after the home
//! lock is released), and a home feed takes its read locks in ascending
//! order, its upgrade to a write lock to drain a queue only on the stripe it
//! is acquiring, higher than every stripe it holds. Every wait is thus for a
//! higher stripe than the waiter holds, so no cycle of waits, and no
//! deadlock, can form (parking_lot's fair queueing included: a reader queued
//! behind a writer waits for that writer, which holds nothing).
//!
//! # Sessions
//! `submit` applies the op at once and queues the reply in the session's own
//! `VecDeque` (reused, so no allocation per op); `poll` hands them over.
//! There are no engine threads: `shutdown` only closes the engine, after
//! which `submit` fails with [`EngineError::Shutdown`].
//!
//! Faults are decided per stripe under its write lock (a home feed then
//! takes the user's stripe for writing); an injected stall sleeps
//! while holding the stripe lock, which is what a stalled lock holder does
//! to everyone queued behind it.
//!
//! # Durability
//! With `--durability log|fsync` each stripe has its own write-ahead log
//! (`wal/mod.rs`), appended to and committed under the stripe's write lock:
//! whoever changes a stripe (an op, or a drain of its follow-ups) writes
//! (and in `fsync` mode syncs) the records before releasing the lock. So no
//! reader ever sees a write that is not on disk, and a crash loses nothing
//! acknowledged with `fsync`, but there is no group commit across sessions:
//! every write pays its own fsync while holding its stripe, which is what a
//! lock-per-partition store without a commit queue costs. The crash fault
//! fires when a session takes the crashing stripe's write lock: the stripe
//! is rebuilt from its snapshot and log while the lock is held; its queue
//! of follow-ups (not applied yet) survives, as a mailbox would.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::api::{
    ApiError, CommunityId, MAX_LIMIT, Op, OpKind, PostId, Reply, Response, Sort, UserId,
};
use crate::audit::Audit;
use crate::config::EngineConfig;
use crate::engine::{Engine, Session};
use crate::error::EngineError;
use crate::fault::{
    CrashPlan, FaultCounters, FaultInjector, apply_follow_up_guarded, apply_guarded, guarded,
};
use crate::partition::{FollowUp, Partition, PostClock, TimelinePlan};
use crate::placement;
use crate::stats::EngineStats;
use crate::wal::{Durable, LogEntry};

/// What a stripe's lock protects.
struct StripeState {
    part: Partition,
    faults: FaultInjector,
    /// Its log and crash timer (`None`: in memory only, never crashes).
    durable: Option<Durable>,
}

impl StripeState {
    /// Writes (and syncs, as the mode says) what the lock holder logged;
    /// a log that cannot be written is a crash.
    fn commit(&mut self) {
        if let Some(d) = &mut self.durable {
            if d.wal.as_mut().is_some_and(|w| w.commit().is_err()) {
                d.crash(&mut self.part, false);
            }
            d.unacked = 0;
            // No reply waits here: a failed snapshot's crash fails none.
            d.snapshot_if_due(&mut self.part, false);
        }
    }
}

/// One stripe: the locked partition and its inbound follow-ups.
struct Stripe {
    state: RwLock<StripeState>,
    inbox: SegQueue<FollowUp>,
}

/// State shared by the engine and its sessions.
struct Shared {
    /// Padded so two stripes' locks never share a cache line.
    stripes: Box<[CachePadded<Stripe>]>,
    closed: AtomicBool,
    /// Whether faults are configured: home feeds then take the user's stripe
    /// for writing, since fault decisions mutate the stripe's injector.
    faulty: bool,
    counters: FaultCounters,
    /// `--fault crash`: armed when the measured window starts.
    crash: Option<Arc<CrashPlan>>,
}

impl Shared {
    /// Locks stripe `i` for writing and applies its queued follow-ups
    /// first (committed: see "Durability"). A crash due fires here.
    fn lock(&self, i: usize) -> RwLockWriteGuard<'_, StripeState> {
        let stripe = &self.stripes[i];
        let mut g = stripe.state.write();
        let st = &mut *g;
        if let Some(d) = &mut st.durable
            && d.crash.as_mut().is_some_and(|t| t.due())
        {
            d.crash(&mut st.part, false);
        }
        if self.drain(stripe, st) {
            st.commit();
        }
        g
    }

    /// Locks stripe `i` for reading, with no follow-up queued: if the queue
    /// is not empty once the read lock is held, takes the write lock, drains
    /// and downgrades. Checking *under* the read lock is what keeps the
    /// causality rule: a follow-up pushed before anything this reader has
    /// seen (it is pushed under its op's home lock, before that op is
    /// visible) is in the queue by then, so it is applied first; one pushed
    /// later belongs to an op concurrent with this read.
    fn read(&self, i: usize) -> RwLockReadGuard<'_, StripeState> {
        let stripe = &self.stripes[i];
        let g = stripe.state.read();
        if stripe.inbox.is_empty() {
            return g;
        }
        drop(g);
        RwLockWriteGuard::downgrade(self.lock(i))
    }

    /// Applies (and logs) the stripe's queued follow-ups; returns whether
    /// there were any.
    fn drain(&self, stripe: &Stripe, st: &mut StripeState) -> bool {
        let mut any = false;
        while let Some(f) = stripe.inbox.pop() {
            any = true;
            apply_follow_up_guarded(&mut st.part, f, &self.counters);
            if let Some(w) = st.durable.as_mut().and_then(|d| d.wal.as_mut()) {
                w.append(&LogEntry::FollowUp(f));
            }
        }
        any
    }

    fn apply(&self, op: Op, s: &mut Scratch) -> Response {
        let count = self.stripes.len();
        if let Op::GetHomeFeed { user, sort, limit } = op {
            return self.home_feed(user, sort, limit, s);
        }
        let home = placement::home_partition(op.home(), count);
        let mut g = self.lock(home);
        let st = &mut *g;
        // The fault decisions are taken once per op, under the home lock.
        let fault = st.faults.before_op(op.kind());
        let write = op.kind().is_write();
        // A write is logged unless its injected panic keeps it from the
        // partition; it replays under the same fault decision.
        let mark = match st.durable.as_mut().and_then(|d| d.wal.as_mut()) {
            Some(w) if write && !fault.panics() => Some(w.begin_op(&op, fault)),
            _ => None,
        };
        let response = apply_guarded(&mut st.part, op, &mut s.follow_ups, fault, &self.counters);
        if let Some(d) = &mut st.durable {
            let stamps = st.part.stamps.take();
            if let (Some(w), Some(m)) = (d.wal.as_mut(), mark) {
                w.end_op(m, stamps, true);
            }
            d.writes += u64::from(write && response.is_ok());
        }
        if s.follow_ups.is_empty() {
            st.commit();
            return response;
        }
        // Push under the home lock: pushes from one stripe keep its op order.
        s.dests.clear();
        let mut local = false;
        for f in s.follow_ups.drain(..) {
            if st.faults.active() && st.faults.should_drop(&f) {
                self.counters.dropped();
                continue;
            }
            let d = f.partition(count);
            self.stripes[d].inbox.push(f);
            if d == home {
                local = true;
            } else if !s.dests.contains(&d) {
                s.dests.push(d);
            }
        }
        if local {
            self.drain(&self.stripes[home], st);
        }
        st.commit();
        drop(g);
        for &d in &s.dests {
            drop(self.lock(d));
        }
        response
    }

    /// A home feed under read locks only (with faults configured, the user's
    /// stripe is taken for writing, for the fault decisions), so feeds run in
    /// parallel with each other. With one stripe it gives what
    /// `Partition::apply` gives: the same selection over the same
    /// subscriptions, in the same order.
    fn home_feed(&self, user: UserId, sort: Sort, limit: u16, s: &mut Scratch) -> Response {
        let count = self.stripes.len();
        let home = placement::user_partition(user, count);
        let (subs, plan) = (&mut s.subs, &mut s.plan);
        // The timeline's plan when it answers (push and hybrid, `New`), else
        // the subscriptions to pull.
        let mut copy = |part: &Partition, inject: bool, subs: &mut Vec<CommunityId>| {
            guarded(inject, || {
                if part.feeds().pushes() && part.timeline_plan(user, sort, limit, plan)? {
                    return Ok::<_, ApiError>(true);
                }
                let found = part.home_feed_subscriptions(user, limit)?;
                subs.clear();
                subs.extend_from_slice(found);
                Ok(false)
            })
        };
        let copied = if self.faulty {
            let mut g = self.lock(home);
            let inject = g.faults.before_op(OpKind::GetHomeFeed).panics();
            copy(&g.part, inject, subs)
        } else {
            copy(&self.read(home).part, false, subs)
        };
        let pushed = match copied {
            None => return self.counters.fault(),
            Some(Err(e)) => return Err(e),
            Some(Ok(pushed)) => pushed,
        };
        if pushed {
            // Pull the hybrid's pulled sources with the rest.
            s.subs.clear();
            s.subs.extend_from_slice(&s.plan.pulled);
        }
        // Read-lock every stripe holding one of the subscriptions (or of the
        // timeline's posts), in ascending stripe order (see "Lock order" in
        // the module docs), then merge the communities' streams as the
        // partition does.
        s.slot.clear();
        s.slot.resize(count, NONE);
        // Mark the stripes needed, then number their guards in stripe order.
        for &c in &s.subs {
            s.slot[placement::community_partition(c, count)] = 0;
        }
        if pushed {
            for p in &s.plan.posts {
                s.slot[placement::community_partition(p.community, count)] = 0;
            }
        }
        let needed = s.slot.iter().filter(|&&x| x != NONE).count();
        let mut guards = Vec::with_capacity(needed);
        for (j, slot) in s.slot.iter_mut().enumerate() {
            if *slot != NONE {
                *slot = guards.len() as u32;
                guards.push(self.read(j));
            }
        }
        let slot = &s.slot;
        let partition_of = |c| {
            let g = &guards[slot[placement::community_partition(c, count)] as usize];
            &g.part
        };
        let mut out = Vec::with_capacity(usize::from(limit.min(MAX_LIMIT)));
        let merge = || {
            if pushed && s.subs.is_empty() {
                let found = s
                    .plan
                    .posts
                    .iter()
                    .map(|&p| partition_of(p.community).summary_of(p));
                out.extend(found.flatten());
            } else if pushed {
                // The pulled sources' newest, then one merge with the
                // timeline's posts, looked up only when they win a place.
                let mut pulled = Vec::with_capacity(usize::from(limit.min(MAX_LIMIT)));
                Partition::feed_across(&s.subs, partition_of, sort, limit, &mut pulled);
                let hydrate = |p: PostId| partition_of(p.community).summary_of(p);
                s.plan.merge_into(&pulled, limit, hydrate, &mut out);
            } else {
                Partition::feed_across(&s.subs, partition_of, sort, limit, &mut out);
            }
        };
        if guarded(false, merge).is_none() {
            return self.counters.fault();
        }
        Ok(Reply::Feed(out))
    }
}

/// Per-session scratch buffers, reused across ops.
#[derive(Default)]
struct Scratch {
    follow_ups: Vec<FollowUp>,
    dests: Vec<usize>,
    subs: Vec<CommunityId>,
    /// A home feed's timeline plan (push and hybrid).
    plan: TimelinePlan,
    /// Per stripe, during a home feed: the index of its read guard, or
    /// [`NONE`] when no subscription lives there.
    slot: Vec<u32>,
}

/// A stripe that holds none of a home feed's communities.
const NONE: u32 = u32::MAX;

/// The `striped` engine.
pub struct StripedEngine {
    shared: Arc<Shared>,
}

impl fmt::Debug for StripedEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripedEngine")
            .field("stripes", &self.shared.stripes.len())
            .finish()
    }
}

impl StripedEngine {
    /// Builds `config.partitions` stripes (no threads are started), after
    /// checking `config` ([`EngineConfig::validate`]).
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        config.refuse_replicas("striped")?;
        let count = config.partitions;
        let crash = config.faults.crash.map(CrashPlan::new);
        if let Some(c) = &crash
            && c.partition() >= count
        {
            return Err(EngineError::config(format!(
                "crash partition {} outside 0..{count}",
                c.partition()
            )));
        }
        if let Some(dir) = config.durability.log_dir()?
            && !config.durability.recover
        {
            crate::wal::prepare_fresh_dir(dir).map_err(|e| EngineError::config(e.to_string()))?;
        }
        let clock = PostClock::new();
        let mut stripes = Vec::with_capacity(count);
        for i in 0..count {
            let mut part = Partition::new(i, count, clock.clone());
            part.set_feeds(config.feeds);
            let durable = Durable::open(config, "striped", (i, count), &mut part, crash.as_ref())
                .map_err(|e| EngineError::config(e.to_string()))?;
            stripes.push(CachePadded::new(Stripe {
                state: RwLock::new(StripeState {
                    part,
                    faults: FaultInjector::new(&config.faults, i),
                    durable,
                }),
                inbox: SegQueue::new(),
            }));
        }
        Ok(StripedEngine {
            shared: Arc::new(Shared {
                stripes: stripes.into_boxed_slice(),
                closed: AtomicBool::new(false),
                faulty: config.faults.any(),
                counters: FaultCounters::default(),
                crash,
            }),
        })
    }

    fn each_stripe<R>(&self, mut f: impl FnMut(&StripeState) -> R) -> Vec<R> {
        (0..self.shared.stripes.len())
            .map(|i| f(&self.shared.lock(i)))
            .collect()
    }
}

/// A session of the `striped` engine: applies its ops inline and keeps their
/// replies until polled.
pub struct StripedSession {
    shared: Arc<Shared>,
    replies: VecDeque<(u64, Response)>,
    scratch: Scratch,
}

impl fmt::Debug for StripedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripedSession")
            .field("outstanding", &self.replies.len())
            .finish()
    }
}

impl Session for StripedSession {
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError> {
        if self.shared.closed.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        let response = self.shared.apply(op, &mut self.scratch);
        self.replies.push_back((tag, response));
        Ok(())
    }

    /// Every reply is ready when `submit` returns, so `wait` never blocks.
    fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
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

impl Engine for StripedEngine {
    type Session = StripedSession;
    fn name(&self) -> &'static str {
        "striped"
    }
    fn session(&self) -> Result<StripedSession, EngineError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(EngineError::Shutdown);
        }
        Ok(StripedSession {
            shared: self.shared.clone(),
            replies: VecDeque::with_capacity(64),
            scratch: Scratch::default(),
        })
    }
    fn stats(&self) -> EngineStats {
        let sh = &self.shared;
        // Queue depths first: taking the locks below drains the queues.
        let pending = sh.stripes.iter().map(|s| s.inbox.len() as u64).sum();
        let mut s = EngineStats {
            pending_follow_ups: pending,
            faults: sh.counters.faults(),
            dropped_follow_ups: sh.counters.dropped_follow_ups(),
            write_faults: sh.counters.write_faults(),
            ..EngineStats::default()
        };
        let pushes = config_pushes(sh);
        let each = self.each_stripe(|st| {
            let d = st.durable.as_ref().map(Durable::snapshot);
            (st.part.stats(), st.part.feed_stats(), d)
        });
        for (p, f, d) in each {
            s.counts.add(&p.counts);
            s.bytes.add(&p.bytes);
            if pushes {
                s.feeds.get_or_insert_with(Default::default).add(&f);
            }
            if let Some(d) = d {
                match &mut s.durability {
                    Some(total) => total.add(d),
                    None => s.durability = Some(d),
                }
            }
        }
        s
    }
    fn start_window(&self, at: std::time::Instant) {
        if let Some(c) = &self.shared.crash {
            c.arm(at);
        }
    }
    /// Locks every stripe once, draining its queue. Draining creates no new
    /// follow-ups, so with no client submitting one pass empties them all.
    fn quiesce(&self) {
        self.each_stripe(|_| ());
    }
    fn audit(&self) -> Audit {
        let mut a = Audit::default();
        for p in self.each_stripe(|st| st.part.audit()) {
            a.add(&p);
        }
        a
    }
    fn entities(&self) -> Option<crate::audit::Entities> {
        let mut e = crate::audit::Entities::default();
        for p in self.each_stripe(|st| st.part.entities()) {
            e.extend(p);
        }
        Some(e)
    }
    fn digest(&self) -> u64 {
        self.each_stripe(|st| st.part.digest())
            .into_iter()
            .fold(0u64, u64::wrapping_add)
    }
    fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

/// Whether the stripes push posts to timelines (they share one setting).
fn config_pushes(sh: &Shared) -> bool {
    sh.stripes[0].state.read().part.feeds().pushes()
}
