//! The client side of a shard set: one sender per shard's client lane and
//! one reply channel, shared by the `sharded` and `actor` engines.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::messages::{ClientMsg, PeerMsg, ReplyBatch};
use super::waiting::Idler;
use crate::api::{Op, Response};
use crate::engine::Session;
use crate::error::EngineError;
use crate::mailbox::{Receiver, Sender, TryRecvError};
use crate::placement;

/// A session of the `sharded` and `actor` engines: one sender per shard's
/// client lane and one reply channel.
pub struct ShardedSession {
    pub(super) id: u32,
    /// One sender per shard's client lane.
    pub(super) clients: Vec<Sender<ClientMsg>>,
    /// One sender per shard's peer lane (to unregister at drop).
    pub(super) peers: Vec<Sender<PeerMsg>>,
    /// Set by the engine's `shutdown`.
    pub(super) stopped: Arc<AtomicBool>,
    pub(super) replies: Receiver<ReplyBatch>,
    pub(super) outstanding: usize,
    /// Sessions alive now and the cores left to clients: spin while the
    /// first fits in the second.
    pub(super) live_sessions: Arc<AtomicU32>,
    pub(super) client_cores: usize,
    /// How this session waits for a reply while it has a core of its own
    /// (the policy; the only idler that times its episodes)...
    pub(super) own: Idler,
    /// ...and while it shares one (a few yields, or park at once).
    pub(super) shared: Idler,
    /// Push feeds: deliveries queued in the shards' broker queues...
    pub(super) backlog: Arc<AtomicU64>,
    /// ...and the bound this session waits under before submitting (0:
    /// pulling, no check).
    pub(super) broker_bound: u64,
}

impl ShardedSession {
    /// Admission control of push feeds: waits until the broker queues hold
    /// no more than the bound (the shards drain them without waiting on
    /// anyone, so the wait ends), or the engine stops.
    #[cold]
    fn admit(&self) -> Result<(), EngineError> {
        while self.backlog.load(Ordering::Relaxed) > self.broker_bound {
            if self.stopped.load(Ordering::Acquire) {
                return Err(EngineError::Shutdown);
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        Ok(())
    }

    /// Waits a little for a reply before the caller parks: by the policy
    /// while the live sessions fit on the cores the shards leave free, by
    /// yielding otherwise. `true`: a reply is there.
    fn linger(&mut self) -> bool {
        let live = self.live_sessions.load(Ordering::Relaxed) as usize;
        let idler = if live <= self.client_cores {
            &mut self.own
        } else {
            &mut self.shared
        };
        let replies = &self.replies;
        idler
            .linger(|| (!replies.is_empty()).then_some(()))
            .is_some()
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
    fn submit(&mut self, tag: u64, mut op: Op) -> Result<(), EngineError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(EngineError::Shutdown);
        }
        if self.broker_bound != 0 && self.backlog.load(Ordering::Relaxed) > self.broker_bound {
            self.admit()?;
        }
        let shard = placement::home_partition(op.home(), self.clients.len());
        // The body a shard keeps is allocated here, on the client's thread
        // (see `Op::own_body`), not by the shard; only for an op admitted.
        op.own_body();
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
            let lingered = self.linger();
            let got = self.replies.recv();
            if !lingered {
                self.own.woke();
            }
            match got {
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
