//! One shard's thread: its loop over the two lanes, the replies it batches
//! per session, the follow-ups it routes, and the home feeds it answers
//! (gathered from other shards when the user's subscriptions are spread).
//! The shard set's module docs give the causality rule they keep.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::failover::Shared;
use super::gather::{Gather, Gathers};
use super::merge::MergeScratch;
use super::messages::{ClientMsg, PeerMsg, ReplyBatch, ReplySender, ShardView, Takeover};
use super::replica::{AfterCrash, BackupMsg, Out, Recovered, Replicator};
use super::waiting::Idler;
use crate::api::{ApiError, CommunityId, Op, PostId, PostSummary, Reply, Response, Sort, UserId};
use crate::config::Faults;
use crate::fault::{
    CrashTimer, FaultCounters, FaultInjector, apply_follow_up_guarded, apply_guarded, guarded,
};
use crate::mailbox::{DualReceiver, Either, Sender};
use crate::partition::{FollowUp, Partition, PostClock, TimelinePlan};
use crate::placement;
use crate::stats::DurabilityStats;
use crate::stats::Recovery;

/// Most client ops a shard takes per batch. Large enough to amortise the
/// peer-lane drain and the wake-ups, small enough that probes and `Stop` are
/// served within a batch.
pub const BATCH: usize = 128;

/// Most deliveries a shard applies from its broker queue per turn of its
/// loop: a celebrity's post (hundreds of thousands of deliveries) is spread
/// over many turns, with client batches served between them.
pub const DELIVERY_CHUNK: usize = 256;

/// Deliveries for this shard's timelines, as one post (or one join's
/// backfill) sent them: applied in order, a chunk at a time.
struct Parcel {
    /// The shard that sent them (`None`: this one).
    from: Option<u32>,
    /// When the post that pushed them was applied (`None`: a backfill).
    at: Option<Instant>,
    items: Vec<FollowUp>,
    /// The next one to apply.
    next: usize,
}

/// A registered session: its reply channel and the replies of the current batch.
struct SessionSlot {
    tx: ReplySender,
    pending: ReplyBatch,
}

/// What every shard of a set is built from.
pub(super) struct ShardPlan<'a> {
    pub(super) count: usize,
    pub(super) peers: &'a [Sender<PeerMsg>],
    pub(super) counters: &'a Arc<FaultCounters>,
    pub(super) faults: &'a Faults,
    /// The engine-wide post clock, shared by the partitions.
    pub(super) clock: Arc<PostClock>,
    /// Replies queued per session before they are sent mid-batch.
    pub(super) flush: usize,
    /// Deliveries queued in every shard's broker queue.
    pub(super) backlog: &'a Arc<AtomicU64>,
}

/// One shard: a partition and everything its thread owns.
pub(super) struct Shard {
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
    counters: Arc<FaultCounters>,
    /// Scratch: follow-ups of the op being applied.
    follow_ups: Vec<FollowUp>,
    /// Scratch: a home feed's subscriptions grouped by shard.
    groups: Vec<Vec<CommunityId>>,
    /// Home feeds waiting for other shards' parts.
    gathers: Gathers,
    /// Follow-ups this shard sent to other shards.
    sent: u64,
    /// Follow-ups from other shards this shard applied.
    applied: u64,
    /// How the shard waits when idle (policy, own core or shared).
    idler: Idler,
    /// Replies queued per session before they are sent mid-batch.
    flush_at: usize,
    /// Scratch of the home-feed merge.
    merge: MergeScratch,
    /// Its backups' log and the replies waiting for them (`None`: no backups).
    repl: Option<Replicator>,
    /// Push feeds: the broker queue of deliveries for this shard's
    /// timelines, from any shard, and how many items it holds.
    parcels: VecDeque<Parcel>,
    queued: u64,
    max_queued: u64,
    /// Scratch: an op's deliveries, per destination shard.
    outgoing: Vec<Vec<FollowUp>>,
    /// Deliveries queued in every shard's broker queue (sessions wait
    /// while it is over the bound: admission control).
    backlog: Arc<AtomicU64>,
    /// Delivery delays sampled here (microseconds).
    staleness: Histogram<u64>,
    /// Scratch: a home feed's timeline plan, and its posts per shard.
    plan: TimelinePlan,
    posts_by: Vec<Vec<PostId>>,
    /// `--fault crash` on this shard: its timer, and the figures it
    /// shares with the engine's stats.
    crash: Option<(CrashTimer, Arc<parking_lot::Mutex<DurabilityStats>>)>,
    /// Client writes applied since the start or the last crash (what a
    /// crash without a log loses).
    writes: u64,
    /// The coordinator's watch over this shard (`None`: no coordinator).
    failover: Option<Watched>,
    /// Deposed by a failover while holding a batch: the batch is answered
    /// unavailable instead of applied.
    fenced: Option<usize>,
}

/// A shard watched by the coordinator (`failover.rs`).
pub(super) struct Watched {
    pub(super) shared: Arc<Shared>,
    /// `--fault kill-primary` on this shard.
    pub(super) kill: Option<CrashTimer>,
    /// The failover whose first op served is not recorded yet.
    pub(super) first_op: Option<usize>,
}

impl Shard {
    /// Shard `index` of `plan`, receiving on `rx`.
    pub(super) fn new(
        index: usize,
        rx: DualReceiver<ClientMsg, PeerMsg>,
        idler: Idler,
        plan: &ShardPlan<'_>,
        repl: Option<Replicator>,
        mut part: Partition,
    ) -> Shard {
        let count = plan.count;
        part.stamps.record = repl.is_some();
        Shard {
            index,
            count,
            part,
            rx,
            peers: plan.peers.to_vec(),
            sessions: Vec::new(),
            touched: Vec::new(),
            faults: FaultInjector::new(plan.faults, index),
            counters: plan.counters.clone(),
            follow_ups: Vec::new(),
            groups: vec![Vec::new(); count],
            gathers: Gathers::default(),
            sent: 0,
            applied: 0,
            idler,
            flush_at: plan.flush,
            merge: MergeScratch::default(),
            repl,
            parcels: VecDeque::new(),
            queued: 0,
            max_queued: 0,
            outgoing: vec![Vec::new(); count],
            backlog: plan.backlog.clone(),
            staleness: Histogram::new(2).expect("2 significant figures are valid"),
            plan: TimelinePlan::default(),
            posts_by: vec![Vec::new(); count],
            crash: None,
            writes: 0,
            failover: None,
            fenced: None,
        }
    }

    /// Makes the coordinator watch this shard (and, with `kill`, the
    /// shard `--fault kill-primary` kills).
    pub(super) fn watched(&mut self, shared: Arc<Shared>, kill: Option<CrashTimer>, hold: bool) {
        self.failover = Some(Watched {
            shared,
            kill,
            first_op: None,
        });
        if let Some(r) = &mut self.repl
            && hold
        {
            r.hold_shipping();
        }
    }

    /// The kill (`failover.rs`): the primary stops serving, its unshipped
    /// log is lost, and it waits, answering no heartbeat, until the
    /// coordinator hands it the promoted backup's state. What reaches its
    /// peer lane meanwhile is kept for the new primary (the senders would
    /// resend it); its client lane is answered unavailable at the takeover.
    /// Returns true if the set stopped meanwhile.
    fn die(&mut self) -> bool {
        if let Some(w) = &self.failover {
            w.shared.kill(self.index);
        }
        if let Some(r) = &mut self.repl {
            r.die();
        }
        let mut kept = Vec::new();
        loop {
            match self.rx.recv_second() {
                Ok(PeerMsg::Failover(t)) => {
                    self.take_over(*t, true);
                    break;
                }
                Ok(PeerMsg::Stop) | Err(_) => return true,
                Ok(PeerMsg::Ping(_)) => {}
                Ok(m) => kept.push(m),
            }
        }
        for m in kept {
            if self.on_peer(m, 0) {
                return true;
            }
        }
        false
    }

    /// Takes over from a dead or deposed primary with the promoted
    /// backup's state: what the old primary held for entries the backup
    /// lacks is answered unavailable (replies) or dropped (follow-ups of
    /// lost writes), the follow-ups of other shards it had applied in
    /// them are applied again (`sync`: their senders keep them), and the
    /// ops queued on its client lane are answered unavailable. The batch
    /// in hand (`in_hand`) is answered so by the loop (`fenced`).
    fn take_over(&mut self, t: Takeover, in_hand: bool) {
        let Some(w) = &self.failover else { return };
        let shared = w.shared.clone();
        let part = match t.state {
            Some(mut part) => {
                // The backup's post clock followed the log's stamps; the
                // engine's goes on from the later of the two.
                part.set_clock(self.part.clock_handle());
                part.stamps.record = true;
                *part
            }
            None => self.part.empty_like(),
        };
        let old = std::mem::replace(&mut self.part, part);
        // The dead primary's memory is freed off the handover's path (a
        // large partition takes a while to drop); without a thread to
        // spare, the failed spawn drops it here.
        let _ = std::thread::Builder::new()
            .name("sb-drop".into())
            .spawn(move || drop(old));
        let (after, lost) = match &mut self.repl {
            Some(r) => r.failover(t.applied, t.epoch),
            None => return,
        };
        let mut unavailable = after.failed;
        self.settle(after);
        while let Some(m) = self.rx.try_first() {
            self.queue(m.session, m.tag, Err(ApiError::Unavailable));
            unavailable += 1;
        }
        shared.took_over(self.index, t.event, lost, unavailable);
        self.fenced = in_hand.then_some(t.event);
        if let Some(w) = &mut self.failover {
            w.first_op = Some(t.event);
        }
    }

    /// Carries out what a crash or a failover left to do: sends what was
    /// held for lost entries (answers, feed parts), forgets the follow-ups
    /// of lost writes, and applies again the follow-ups of other shards
    /// that the lost entries held (their senders would resend them).
    fn settle(&mut self, after: AfterCrash) {
        self.sent -= after.dropped;
        for out in after.now {
            self.send_out(out);
        }
        for (from, f) in after.lost_incoming {
            apply_follow_up_guarded(&mut self.part, f, &self.counters);
            if let Some(r) = &mut self.repl {
                r.log_follow_up(f);
                r.owe_done(from, f);
            }
        }
    }

    /// Whether `--fault kill-primary` kills this shard now.
    #[inline]
    fn kill_due(&mut self) -> bool {
        self.failover
            .as_mut()
            .and_then(|w| w.kill.as_mut())
            .is_some_and(CrashTimer::due)
    }

    /// Answers the ops of `batch` unavailable: a failover deposed the
    /// primary that had taken them (failover `event`).
    fn refuse(&mut self, batch: &mut Vec<ClientMsg>, event: usize) {
        let n = batch.len() as u64;
        for m in batch.drain(..) {
            self.queue(m.session, m.tag, Err(ApiError::Unavailable));
        }
        if let Some(w) = &self.failover
            && n > 0
        {
            w.shared.unavailable(event, n);
        }
    }

    /// Makes this the shard `--fault crash` crashes.
    pub(super) fn crashes(
        &mut self,
        timer: CrashTimer,
        stats: Arc<parking_lot::Mutex<DurabilityStats>>,
    ) {
        self.crash = Some((timer, stats));
    }

    /// The crash (`wal/mod.rs`): the partition is thrown away and rebuilt
    /// by the log thread from the snapshot and the log cut to its last
    /// sync (empty without a log); what was held for the lost entries is
    /// answered `crashed` or dropped, and the follow-ups other shards sent
    /// that were applied in lost entries are applied again (their senders
    /// keep them until this shard's `Done`, so they would resend them).
    /// The mailboxes survive: ops not yet taken are served afterwards.
    fn crash_now(&mut self) {
        let started = Instant::now();
        let acked = std::mem::take(&mut self.writes);
        // The log thread's answer (`None`: no log, or its thread is gone).
        let recovered = self.repl.as_mut().and_then(|r| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let fresh = Box::new(self.part.empty_like());
            let asked = r.crash_log(BackupMsg::Crash { fresh, reply: tx });
            asked.then(|| rx.recv().ok()).flatten()
        });
        let after = match (&recovered, self.repl.as_mut()) {
            (Some(rec), Some(r)) => Some(r.after_crash(rec.synced_upto)),
            _ => None,
        };
        let (part, lost, mut recovery) = match recovered {
            Some(Recovered {
                part: Ok(p),
                lost_records,
                recovery,
                ..
            }) => (*p, lost_records, recovery),
            // No log, or one that could not be read back: restart empty.
            _ => (self.part.empty_like(), acked, Recovery::default()),
        };
        self.part = part;
        let failed = after.as_ref().map_or(0, |a| a.failed);
        if let Some(after) = after {
            self.settle(after);
        }
        if let Some((_, stats)) = &self.crash {
            let mut s = stats.lock();
            s.crashes += 1;
            s.lost_writes += lost;
            s.failed_ops += failed;
            recovery.micros = started.elapsed().as_micros() as u64;
            s.max_recovery_micros = s.max_recovery_micros.max(recovery.micros);
            s.last_recovery = Some(recovery);
        }
    }

    /// The shard's thread: batches of client ops, the peer lane drained
    /// before each batch, until `Stop` or until every sender is gone.
    pub(super) fn run(mut self) {
        let mut batch: Vec<ClientMsg> = Vec::with_capacity(BATCH);
        'serve: loop {
            while batch.len() < BATCH {
                match self.rx.try_first() {
                    Some(m) => batch.push(m),
                    None => break,
                }
            }
            if batch.is_empty() && !self.parcels.is_empty() {
                // Deliveries queued: serve the peer lane and a chunk of
                // them instead of sleeping.
                while let Some(msg) = self.rx.try_second() {
                    if self.on_peer(msg, 0) {
                        break 'serve;
                    }
                }
                self.drain_deliveries(DELIVERY_CHUNK);
                self.flush();
                continue;
            }
            if batch.is_empty() {
                self.flush();
                // Before sleeping, wait a little: the clients just woken by
                // the flush usually submit again at once, and parking now
                // would make every later op pay a wake-up of its own.
                if let Some(m) = self.linger() {
                    batch.push(m);
                    continue;
                }
                // Idle: sleep until either lane has something.
                let got = self.rx.recv_either();
                self.idler.woke();
                match got {
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
            let mut stop = false;
            while let Some(msg) = self.rx.try_second() {
                if self.on_peer(msg, batch.len()) {
                    stop = true;
                    break;
                }
            }
            if stop {
                // Shutdown errors reveal nothing: they need no backup.
                for m in batch.drain(..) {
                    self.queue(m.session, m.tag, Err(ApiError::Shutdown));
                }
                self.flush();
                break 'serve;
            }
            if let Some(event) = self.fenced.take() {
                self.refuse(&mut batch, event);
            }
            let mut ops = batch.drain(..);
            while let Some(m) = ops.next() {
                // The kill may fall between any two ops of a batch: the
                // replies of the ops before it may have left (an early
                // flush) while their log entries were not shipped yet.
                if self.kill_due() {
                    let mut rest: Vec<ClientMsg> = std::iter::once(m).chain(ops.by_ref()).collect();
                    if self.die() {
                        for m in rest {
                            self.queue(m.session, m.tag, Err(ApiError::Shutdown));
                        }
                        self.flush();
                        break 'serve;
                    }
                    if let Some(event) = self.fenced.take() {
                        self.refuse(&mut rest, event);
                    }
                    break;
                }
                self.on_client(m);
            }
            self.drain_deliveries(DELIVERY_CHUNK);
            self.flush();
        }
        // Dropping `self.rx` here releases clients blocked on a full lane.
    }

    /// Waits a little for a client op before the caller parks, as the
    /// shard's [`Idler`] says. Stops early when the peer lane has something
    /// (the caller then drains it).
    fn linger(&mut self) -> Option<ClientMsg> {
        let rx = &self.rx;
        self.idler
            .linger(|| {
                if let Some(m) = rx.try_first() {
                    return Some(Some(m));
                }
                (rx.len_second() > 0).then_some(None)
            })
            .flatten()
    }

    /// Queues a reply; [`Shard::flush`] sends it. A replicated shard holds
    /// it first while its backups lag (`replica.rs`). A session dropped with
    /// ops outstanding just loses their replies.
    #[inline]
    fn reply(&mut self, session: u32, tag: u64, response: Response) {
        self.send(Out::Reply {
            session,
            tag,
            response,
        });
    }

    /// Sends `msg` to shard `dest`; a replicated shard holds it first, in
    /// line with its replies (`replica.rs`).
    fn send_peer(&mut self, dest: usize, msg: PeerMsg) {
        self.send(Out::Peer { dest, msg });
    }

    /// Sends `out` now, or holds it while the backups lag.
    #[inline]
    fn send(&mut self, out: Out) {
        let out = match &mut self.repl {
            Some(r) => r.hold(out),
            None => Some(out),
        };
        if let Some(out) = out {
            self.send_out(out);
        }
    }

    /// Sends what may leave now: queues a reply, or sends to a peer (which
    /// fails only while shutting down).
    #[inline]
    fn send_out(&mut self, out: Out) {
        match out {
            Out::Reply {
                session,
                tag,
                response,
            } => self.queue(session, tag, response),
            Out::Peer { dest, msg } => {
                let _ = self.peers[dest].send(msg);
            }
        }
    }

    /// Sends what the backups have now caught up with.
    fn release_held(&mut self) {
        while let Some(out) = self.repl.as_mut().and_then(Replicator::pop_ready) {
            self.send_out(out);
        }
    }

    /// Queues a reply that may leave (the second half of [`Shard::reply`]).
    #[inline]
    fn queue(&mut self, session: u32, tag: u64, response: Response) {
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

    /// Ships the log to the backups, then sends every queued reply, one
    /// message per session.
    fn flush(&mut self) {
        if let Some(r) = &mut self.repl {
            r.ship();
            // A backup found gone no longer holds replies back.
            self.release_held();
        }
        for s in self.touched.drain(..) {
            if let Some(Some(slot)) = self.sessions.get_mut(s as usize)
                && !slot.pending.is_empty()
            {
                let _ = slot.tx.send(std::mem::take(&mut slot.pending));
            }
        }
    }

    fn on_client(&mut self, ClientMsg { session, tag, op }: ClientMsg) {
        if self.crash.as_mut().is_some_and(|(t, _)| t.due()) {
            self.crash_now();
        }
        let fault = self.faults.before_op(op.kind());
        let posted = matches!(op, Op::CreatePost { .. });
        if self.count > 1
            && let Op::GetHomeFeed { user, sort, limit } = op
        {
            return self.start_home_feed(session, tag, user, sort, limit, fault.panics());
        }
        // An injected panic never reaches the partition: nothing to log.
        let write = op.kind().is_write();
        let logged = (self.repl.is_some() && write && !fault.panics()).then(|| op.clone());
        let response = apply_guarded(
            &mut self.part,
            op,
            &mut self.follow_ups,
            fault,
            &self.counters,
        );
        self.writes += u64::from(write && response.is_ok());
        if let Some(w) = &mut self.failover
            && response.is_ok()
            && let Some(event) = w.first_op.take()
        {
            w.shared.first_op(event);
        }
        if let (Some(r), Some(op)) = (&mut self.repl, logged) {
            r.log_op(op, fault, self.part.stamps.take());
        }
        // Follow-ups leave before the reply (the causality rule).
        self.route_follow_ups(posted);
        self.reply(session, tag, response);
    }

    /// Routes the follow-ups of the op just applied (`posted`: a post,
    /// whose deliveries are timed for the staleness figure).
    fn route_follow_ups(&mut self, posted: bool) {
        if self.follow_ups.is_empty() {
            return;
        }
        let mut follow_ups = std::mem::take(&mut self.follow_ups);
        let mut deliveries = false;
        for f in follow_ups.drain(..) {
            if self.faults.active() && self.faults.should_drop(&f) {
                self.counters.dropped();
                continue;
            }
            let dest = f.partition(self.count);
            if matches!(f, FollowUp::Deliver { .. }) {
                self.outgoing[dest].push(f);
                deliveries = true;
                continue;
            }
            if dest == self.index {
                apply_follow_up_guarded(&mut self.part, f, &self.counters);
                if let Some(r) = &mut self.repl {
                    r.log_follow_up(f);
                }
            } else {
                self.sent += 1;
                let from = self.index as u32;
                self.send_peer(dest, PeerMsg::FollowUp { from, f });
                if let Some(r) = &mut self.repl {
                    r.await_follow_up(dest);
                }
            }
        }
        self.follow_ups = follow_ups;
        if deliveries {
            self.ship_deliveries(posted.then(Instant::now));
        }
    }

    /// Sends the deliveries of the op just applied through the broker: one
    /// parcel per destination shard, queued there (here: in this shard's
    /// own queue), applied later; the op's reply does not wait for them.
    /// In `sync` replication a parcel leaves once the backups have the post,
    /// like any message that reveals it, but the reply waits for no
    /// destination's backups: delivery is asynchronous by design.
    fn ship_deliveries(&mut self, at: Option<Instant>) {
        for dest in 0..self.count {
            if self.outgoing[dest].is_empty() {
                continue;
            }
            let items = std::mem::take(&mut self.outgoing[dest]);
            let n = items.len() as u64;
            self.backlog.fetch_add(n, Ordering::Relaxed);
            if dest == self.index {
                self.enqueue(Parcel {
                    from: None,
                    at,
                    items,
                    next: 0,
                });
            } else {
                self.sent += n;
                let from = self.index as u32;
                self.send_peer(dest, PeerMsg::Deliveries { from, at, items });
            }
        }
    }

    /// Queues a parcel of deliveries in this shard's broker queue.
    fn enqueue(&mut self, parcel: Parcel) {
        self.queued += parcel.items.len() as u64;
        self.max_queued = self.max_queued.max(self.queued);
        self.parcels.push_back(parcel);
    }

    /// Applies up to `budget` queued deliveries, in order; a parcel's
    /// last one samples its post's staleness.
    fn drain_deliveries(&mut self, budget: usize) {
        let Shard {
            parcels,
            part,
            counters,
            repl,
            applied,
            staleness,
            ..
        } = self;
        let mut done = 0usize;
        while done < budget {
            let Some(p) = parcels.front_mut() else { break };
            while p.next < p.items.len() && done < budget {
                let f = p.items[p.next];
                p.next += 1;
                done += 1;
                apply_follow_up_guarded(part, f, counters);
                if let Some(r) = repl.as_mut() {
                    r.log_follow_up(f);
                }
                *applied += u64::from(p.from.is_some());
            }
            if p.next == p.items.len() {
                if let Some(at) = p.at {
                    let us = at.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
                    let _ = staleness.record(us.max(1));
                }
                parcels.pop_front();
            }
        }
        if done > 0 {
            self.queued -= done as u64;
            self.backlog.fetch_sub(done as u64, Ordering::Relaxed);
        }
    }

    /// Handles one peer message; returns whether the shard must stop.
    fn on_peer(&mut self, msg: PeerMsg, taken: usize) -> bool {
        match msg {
            PeerMsg::FollowUp { from, f } => {
                self.applied += 1;
                apply_follow_up_guarded(&mut self.part, f, &self.counters);
                if let Some(r) = &mut self.repl {
                    r.log_follow_up(f);
                    r.owe_done(from as usize, f);
                }
            }
            PeerMsg::Repl(m) => {
                if let Some(r) = &mut self.repl {
                    r.on(m);
                }
                self.release_held();
            }
            PeerMsg::Deliveries { from, at, items } => self.enqueue(Parcel {
                from: Some(from),
                at,
                items,
                next: 0,
            }),
            PeerMsg::Gather {
                origin,
                cont,
                communities,
                posts,
                sort,
                limit,
            } => {
                let part = &self.part;
                let posts = guarded(false, || {
                    let mut out = Vec::new();
                    part.feed_part(&communities, sort, limit, &mut out);
                    part.hydrate(&posts, &mut out);
                    out
                });
                // A part of a home feed reveals this shard's state.
                self.send_peer(origin as usize, PeerMsg::GatherReply { cont, posts });
            }
            PeerMsg::GatherReply { cont, posts } => {
                if let Some(g) = self.gathers.on_reply(cont, posts) {
                    self.finish_gather(g);
                }
            }
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
                unapplied_ops: self.rx.len_first() + taken + self.queued as usize,
                gathers: self.gathers.live(),
                sent: self.sent,
                applied: self.applied,
                replica: self.repl.as_ref().map(Replicator::view),
                queued_deliveries: self.queued,
                max_queued: self.max_queued,
                staleness: &self.staleness,
            }),
            PeerMsg::Ping(seq) => {
                if let Some(w) = &self.failover {
                    w.shared.beat(self.index, seq);
                }
            }
            // Deposed alive (a false failover): fenced all the same.
            PeerMsg::Failover(t) => self.take_over(*t, taken > 0),
            PeerMsg::Stop => return true,
        }
        false
    }

    /// Answers an op that panicked with [`ApiError::EngineFault`], counted.
    fn fault_reply(&mut self, session: u32, tag: u64) {
        let response = self.counters.fault();
        self.reply(session, tag, response);
    }

    // ---- home feeds ------------------------------------------------------

    /// Starts the home feed of `user`: answers at once when every
    /// subscription lives here, else sends the gathers and parks the rest.
    fn start_home_feed(
        &mut self,
        session: u32,
        tag: u64,
        user: UserId,
        sort: Sort,
        limit: u16,
        inject: bool,
    ) {
        if self.part.feeds().pushes() {
            let (part, plan) = (&self.part, &mut self.plan);
            match guarded(inject, || part.timeline_plan(user, sort, limit, plan)) {
                None => return self.fault_reply(session, tag),
                Some(Err(e)) => return self.reply(session, tag, Err(e)),
                Some(Ok(true)) => return self.start_timeline_feed(session, tag, sort, limit),
                // Pulled: the fault decision is taken.
                Some(Ok(false)) => {
                    return self.start_pull_feed(session, tag, user, sort, limit, false);
                }
            }
        }
        self.start_pull_feed(session, tag, user, sort, limit, inject)
    }

    /// A home feed answered from the user's timeline: its posts' summaries
    /// and (hybrid) the pulled sources' best, gathered from their shards.
    fn start_timeline_feed(&mut self, session: u32, tag: u64, sort: Sort, limit: u16) {
        self.groups.iter_mut().for_each(Vec::clear);
        self.posts_by.iter_mut().for_each(Vec::clear);
        for &c in &self.plan.pulled {
            self.groups[placement::community_partition(c, self.count)].push(c);
        }
        for &p in &self.plan.posts {
            self.posts_by[placement::community_partition(p.community, self.count)].push(p);
        }
        let mut candidates = Vec::with_capacity(usize::from(limit));
        let (part, local, posts) = (
            &self.part,
            &self.groups[self.index],
            &self.posts_by[self.index],
        );
        let read = guarded(false, || {
            part.feed_part(local, sort, limit, &mut candidates);
            part.hydrate(posts, &mut candidates);
        });
        if read.is_none() {
            return self.fault_reply(session, tag);
        }
        self.gather_rest(session, tag, candidates, sort, limit);
    }

    /// A home feed pulled from the user's subscriptions (`inject`: the
    /// fault decision says it panics).
    fn start_pull_feed(
        &mut self,
        session: u32,
        tag: u64,
        user: UserId,
        sort: Sort,
        limit: u16,
        inject: bool,
    ) {
        match self.group_subscriptions(user, limit, inject) {
            None => return self.fault_reply(session, tag),
            Some(Err(e)) => return self.reply(session, tag, Err(e)),
            Some(Ok(())) => {}
        }
        let mut candidates = Vec::new();
        let (part, local) = (&self.part, &self.groups[self.index]);
        if !local.is_empty()
            && guarded(false, || {
                part.feed_part(local, sort, limit, &mut candidates)
            })
            .is_none()
        {
            return self.fault_reply(session, tag);
        }
        self.gather_rest(session, tag, candidates, sort, limit);
    }

    /// Asks the other shards for their parts (`self.groups`,
    /// `self.posts_by`) of a home feed whose local part is `candidates`,
    /// or answers at once when no other shard holds any.
    fn gather_rest(
        &mut self,
        session: u32,
        tag: u64,
        candidates: Vec<PostSummary>,
        sort: Sort,
        limit: u16,
    ) {
        let remote = (0..self.count)
            .filter(|&j| {
                j != self.index && (!self.groups[j].is_empty() || !self.posts_by[j].is_empty())
            })
            .count();
        if remote == 0 {
            return self.finish_home_feed(session, tag, candidates, sort, limit);
        }
        let cont = self.gathers.reserve();
        let pending = self.send_gathers(cont, sort, limit);
        if (pending as usize) < remote {
            // A peer is gone: the engine is shutting down.
            self.gathers.release(cont);
            return self.reply(session, tag, Err(ApiError::Shutdown));
        }
        let gather = Gather::new(session, tag, pending, sort, limit, candidates);
        self.gathers.park(cont, gather);
    }

    /// Reads `user`'s subscriptions into `self.groups`, one list per shard.
    /// `None`: the read panicked (or `inject` made it panic).
    fn group_subscriptions(
        &mut self,
        user: UserId,
        limit: u16,
        inject: bool,
    ) -> Option<Result<(), ApiError>> {
        let Shard {
            part,
            groups,
            count,
            ..
        } = self;
        guarded(inject, || {
            let subs = part.home_feed_subscriptions(user, limit)?;
            groups.iter_mut().for_each(Vec::clear);
            for &c in subs {
                groups[placement::community_partition(c, *count)].push(c);
            }
            Ok(())
        })
    }

    /// Sends one gather request per other shard holding subscriptions, for
    /// continuation `cont`; returns how many were sent.
    fn send_gathers(&mut self, cont: u32, sort: Sort, limit: u16) -> u32 {
        let mut sent = 0;
        for j in 0..self.count {
            if j == self.index || (self.groups[j].is_empty() && self.posts_by[j].is_empty()) {
                continue;
            }
            let msg = PeerMsg::Gather {
                origin: self.index as u32,
                cont,
                communities: std::mem::take(&mut self.groups[j]),
                posts: std::mem::take(&mut self.posts_by[j]),
                sort,
                limit,
            };
            if self.peers[j].send(msg).is_ok() {
                sent += 1;
            }
        }
        sent
    }

    /// A gathered home feed whose last part has arrived: merge and answer.
    fn finish_gather(&mut self, g: Gather) {
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
        match guarded(false, || merge.merge(&mut candidates, sort, limit)) {
            Some(()) => self.reply(session, tag, Ok(Reply::Feed(candidates))),
            None => self.fault_reply(session, tag),
        }
    }
}
