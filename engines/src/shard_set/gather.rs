//! A home feed gathered from several shards: the user's shard groups the
//! subscriptions by shard, computes its own part, asks every other shard
//! involved for theirs, and parks a continuation ([`Gather`]) that the last
//! reply completes. The shard loop never waits for a gather.

use super::PeerMsg;
use super::shard::Shard;
use crate::api::{ApiError, PostSummary, Reply, Sort, UserId};
use crate::fault::guarded;
use crate::placement;

/// A home feed waiting for gather replies.
pub(super) struct Gather {
    session: u32,
    tag: u64,
    pending: u32,
    failed: bool,
    sort: Sort,
    limit: u16,
    candidates: Vec<PostSummary>,
}

impl Shard {
    /// Starts the home feed of `user`: answers at once when every
    /// subscription lives here, else sends the gathers and parks the rest.
    pub(super) fn start_home_feed(
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
        let remote = (0..self.count)
            .filter(|&j| j != self.index && !self.groups[j].is_empty())
            .count();
        if remote == 0 {
            return self.finish_home_feed(session, tag, candidates, sort, limit);
        }
        let cont = self.free.pop().unwrap_or_else(|| {
            self.gathers.push(None);
            (self.gathers.len() - 1) as u32
        });
        let pending = self.send_gathers(cont, sort, limit);
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
                sent += 1;
            }
        }
        sent
    }

    /// One shard's part of continuation `cont` arrived (`None`: it panicked).
    pub(super) fn on_gather_reply(&mut self, cont: u32, posts: Option<Vec<PostSummary>>) {
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
        match guarded(false, || merge.merge(&mut candidates, sort, limit)) {
            Some(()) => self.reply(session, tag, Ok(Reply::Feed(candidates))),
            None => self.fault_reply(session, tag),
        }
    }
}
