//! The home feeds a shard is gathering from other shards: each one a
//! continuation (who asked, how many parts are still to come, the
//! candidates so far) parked in a slab until its last part arrives. The
//! shard loop never waits for a gather.

use crate::api::{PostSummary, Sort};

/// A home feed waiting for gather replies.
pub(super) struct Gather {
    /// Who asked: the session and the op's tag.
    pub(super) session: u32,
    pub(super) tag: u64,
    /// Parts still to come.
    pending: u32,
    /// Some part panicked: the feed is answered with a fault.
    pub(super) failed: bool,
    pub(super) sort: Sort,
    pub(super) limit: u16,
    /// The local part and the parts received so far.
    pub(super) candidates: Vec<PostSummary>,
}

impl Gather {
    /// A home feed for (`session`, `tag`) whose local part is `candidates`,
    /// waiting for `pending` parts from other shards.
    pub(super) fn new(
        session: u32,
        tag: u64,
        pending: u32,
        sort: Sort,
        limit: u16,
        candidates: Vec<PostSummary>,
    ) -> Gather {
        Gather {
            session,
            tag,
            pending,
            failed: false,
            sort,
            limit,
            candidates,
        }
    }
}

/// The continuations of a shard's home feeds: a slab whose free slots are
/// reused, so a gather allocates nothing once the slab has grown.
#[derive(Default)]
pub(super) struct Gathers {
    slots: Vec<Option<Gather>>,
    free: Vec<u32>,
    live: usize,
}

impl Gathers {
    /// Home feeds waiting for parts.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// A free continuation number, for the gather requests to carry.
    pub(super) fn reserve(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            (self.slots.len() - 1) as u32
        })
    }

    /// Gives back a reserved number whose requests could not all be sent.
    pub(super) fn release(&mut self, cont: u32) {
        self.free.push(cont);
    }

    /// Parks `gather` under the reserved number `cont`.
    pub(super) fn park(&mut self, cont: u32, gather: Gather) {
        self.slots[cont as usize] = Some(gather);
        self.live += 1;
    }

    /// Adds one part (`None`: it panicked) to continuation `cont`; returns
    /// the home feed once its last part has arrived, and frees its slot.
    pub(super) fn on_reply(
        &mut self,
        cont: u32,
        posts: Option<Vec<PostSummary>>,
    ) -> Option<Gather> {
        let g = self.slots.get_mut(cont as usize)?.as_mut()?;
        match posts {
            Some(mut p) => g.candidates.append(&mut p),
            None => g.failed = true,
        }
        g.pending -= 1;
        if g.pending > 0 {
            return None;
        }
        let g = self.slots[cont as usize].take()?;
        self.free.push(cont);
        self.live -= 1;
        Some(g)
    }
}
