//! Materialised home timelines (`--feeds push|hybrid`): fan-out on write.
//!
//! # What a timeline holds
//! With push, a post is delivered ([`FollowUp::Deliver`]) to every member
//! of its community (a profile's owner included) and inserted in each one's
//! timeline: the newest [`Feeds::timeline`] entries by post stamp, each a
//! post id and its stamp (the summary is read from the post at read time,
//! so votes and comments show as they do in a pulled feed). A timeline's
//! *sources* are the user's subscriptions, less (hybrid) the ones marked
//! pulled. The rules keep one invariant, which the audit checks after
//! quiesce ([`crate::audit::entities`]):
//!
//! > every post of a source stamped above the timeline's `floor` is in it,
//! > exactly once, and nothing else is.
//!
//! - **Delivery** inserts the post unless the user no longer follows its
//!   source (deliveries may lag the subscription changes on engines that
//!   deliver asynchronously), it is there already, or it is stamped at or
//!   below `floor`. Past the bound the oldest entry goes, and `floor` rises
//!   to its stamp: trimmed by stamp, not by arrival order.
//! - **Joining** backfills the source's newest `timeline` posts; when the
//!   source has more, `floor` rises to the oldest one sent (the older ones
//!   are not here).
//! - **Leaving** purges the source's entries. The invariant holds (the
//!   newest posts of a union, less one source's, are the newest of the
//!   rest), but the timeline may now hold fewer posts above `floor` than a
//!   read asks for: that read is pulled (a *fallback*, counted) until new
//!   posts refill it.
//! - **Reading** a `New` home feed of `limit` posts: when `floor` is 0 (the
//!   timeline has every post of its sources) or at least `limit` entries
//!   lie above it, the newest `limit` entries are exactly the newest
//!   `limit` posts of the sources; the pulled sources (hybrid) are merged
//!   in. Otherwise the feed is pulled. So a pushed feed gives, once
//!   deliveries have landed, what a pulled one gives.
//!
//! # Sort orders
//! Push serves `New` only: `Hot` and `Top` depend on votes cast after the
//! delivery, so a timeline would have to be re-ranked at every vote of
//! every post it holds. Those home feeds are pulled in every mode.
//!
//! # Hybrid
//! A source with more members than [`Feeds::push_threshold`] becomes a
//! *celebrity* when a join (or a post) finds it so: its community tells
//! every member ([`FollowUp::Celebrity`]), and later joiners too, and posts
//! nothing more to timelines. Its members purge its entries and pull it at
//! read time. The mark is never taken back (a source that shrinks stays
//! pulled), so a timeline never needs a backfill of posts it was not sent.

use std::sync::atomic::{AtomicU64, Ordering};

use super::state::{Community, summary};
use super::{FollowUp, Partition};
use crate::api::{
    ApiError, CommunityId, MAX_LIMIT, PostId, PostSummary, Sort, UserId, check_limit,
};
use crate::config::{FeedMode, Feeds};
use crate::stats::FeedStats;

/// One user's materialised timeline.
#[derive(Debug, Default)]
pub(super) struct Timeline {
    /// (stamp, post), ascending: the newest at the end.
    pub(super) entries: Vec<(u64, PostId)>,
    /// Every post of a source stamped above this is in `entries`.
    pub(super) floor: u64,
    /// Hybrid: the subscriptions pulled at read time, sorted.
    pub(super) pulled: Vec<CommunityId>,
}

impl Timeline {
    /// Entries stamped above `floor`.
    fn above_floor(&self) -> usize {
        self.entries.len() - self.entries.partition_point(|e| e.0 <= self.floor)
    }

    fn purge(&mut self, community: CommunityId) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.1.community != community);
        before - self.entries.len()
    }
}

/// A partition's push figures (see [`FeedStats`]). The two read counters
/// are atomics because reads run under shared access (`&self`, several
/// readers at once on `striped`); they are touched only when pushing.
#[derive(Debug, Default)]
pub(super) struct FeedTotals {
    pub(super) pushed_posts: u64,
    pub(super) deliveries: u64,
    pub(super) max_fanout: u64,
    pub(super) max_fanout_post: Option<PostId>,
    pub(super) backfills: u64,
    pub(super) delivered: u64,
    pub(super) skipped: u64,
    pub(super) trimmed: u64,
    pub(super) entries: u64,
    pub(super) celebrities: u64,
    pub(super) served: AtomicU64,
    pub(super) fallbacks: AtomicU64,
}

/// What a `New` home feed reads when a timeline can answer it.
#[derive(Debug, Default)]
pub struct TimelinePlan {
    /// Hybrid: the subscriptions to pull and merge in.
    pub pulled: Vec<CommunityId>,
    /// The timeline's newest entries, newest first...
    pub posts: Vec<PostId>,
    /// ...and their stamps, so that a merge can rank them before it looks
    /// them up.
    pub stamps: Vec<u64>,
}

impl TimelinePlan {
    /// Empties the lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.pulled.clear();
        self.posts.clear();
        self.stamps.clear();
    }

    /// Appends to `out` the newest `limit` of the planned posts and of
    /// `pulled` (the pulled sources' newest, newest first), newest first,
    /// in one pass: a planned post is looked up (`hydrate`) only once it
    /// wins its place. A post `hydrate` cannot find is skipped.
    pub fn merge_into(
        &self,
        pulled: &[PostSummary],
        limit: u16,
        mut hydrate: impl FnMut(PostId) -> Option<PostSummary>,
        out: &mut Vec<PostSummary>,
    ) {
        let limit = usize::from(limit.min(MAX_LIMIT));
        let (mut t, mut p) = (0, 0);
        while out.len() < limit {
            let take_planned = match (self.stamps.get(t), pulled.get(p)) {
                (Some(&created), Some(s)) => created > s.created,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_planned {
                if let Some(s) = hydrate(self.posts[t]) {
                    out.push(s);
                }
                t += 1;
            } else {
                out.push(pulled[p]);
                p += 1;
            }
        }
    }
}

impl Partition {
    /// How this partition builds home feeds (set once, before the first op).
    pub fn set_feeds(&mut self, feeds: Feeds) {
        self.feeds = feeds;
    }

    /// How this partition builds home feeds.
    pub fn feeds(&self) -> Feeds {
        self.feeds
    }

    /// The members a post of `c` is delivered to: the listed members and,
    /// for a profile, its owner (an implicit member).
    fn for_each_reader(id: CommunityId, c: &Community, mut f: impl FnMut(UserId)) {
        if let Some(owner) = id.profile_owner() {
            f(owner);
        }
        for &m in &c.members {
            f(UserId(m));
        }
    }

    /// Hybrid: marks `community` a celebrity once it has more members than
    /// the threshold, telling every member. Returns whether it is one.
    fn check_celebrity(&mut self, community: CommunityId, follow_ups: &mut Vec<FollowUp>) -> bool {
        let threshold = self.feeds.push_threshold;
        let hybrid = self.feeds.mode == FeedMode::Hybrid;
        let Some(c) = self.communities.get_mut(&community) else {
            return false;
        };
        if c.celebrity || !hybrid {
            return c.celebrity;
        }
        if c.member_count(community) <= threshold {
            return false;
        }
        c.celebrity = true;
        self.feed_totals.celebrities += 1;
        Self::for_each_reader(community, c, |user| {
            follow_ups.push(FollowUp::Celebrity { user, community });
        });
        true
    }

    /// After a post `seq` of `community` stamped `created`: delivers it to
    /// every member's timeline (push), unless the community is a celebrity
    /// (hybrid).
    pub(super) fn push_post(
        &mut self,
        community: CommunityId,
        seq: u32,
        created: u64,
        follow_ups: &mut Vec<FollowUp>,
    ) {
        if self.check_celebrity(community, follow_ups) {
            return;
        }
        let Some(c) = self.communities.get(&community) else {
            return;
        };
        let post = PostId { community, seq };
        let before = follow_ups.len();
        Self::for_each_reader(community, c, |user| {
            follow_ups.push(FollowUp::Deliver {
                user,
                post,
                created,
                floor: false,
            });
        });
        let fanout = (follow_ups.len() - before) as u64;
        let t = &mut self.feed_totals;
        t.pushed_posts += 1;
        t.deliveries += fanout;
        if fanout > t.max_fanout || t.max_fanout_post.is_none() {
            t.max_fanout = fanout;
            t.max_fanout_post = Some(post);
        }
    }

    /// After `user` joined `community` (its subscription already pushed):
    /// the newest posts of the community for the user's timeline, or
    /// (hybrid) the news that it is pulled.
    pub(super) fn push_join(
        &mut self,
        user: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) {
        let was = self
            .communities
            .get(&community)
            .is_some_and(|c| c.celebrity);
        if self.check_celebrity(community, follow_ups) {
            // A new mark told every member, the joiner included.
            if was {
                follow_ups.push(FollowUp::Celebrity { user, community });
            }
            return;
        }
        let Some(c) = self.communities.get(&community) else {
            return;
        };
        let bound = usize::from(self.feeds.timeline);
        let n = c.posts.len();
        let first = n.saturating_sub(bound);
        for (seq, p) in c.posts.iter().enumerate().skip(first) {
            follow_ups.push(FollowUp::Deliver {
                user,
                post: PostId {
                    community,
                    seq: seq as u32,
                },
                created: p.created,
                // The oldest one sent, when older ones are not.
                floor: first > 0 && seq == first,
            });
        }
        self.feed_totals.backfills += (n - first) as u64;
    }

    /// Applies a [`FollowUp::Deliver`].
    pub(super) fn deliver(&mut self, user: UserId, post: PostId, created: u64, floor: bool) {
        let bound = usize::from(self.feeds.timeline);
        let subscribed = self
            .users
            .get(&user)
            .is_some_and(|u| u.subs.binary_search(&post.community).is_ok());
        let t = &mut self.feed_totals;
        if !subscribed {
            t.skipped += 1;
            return;
        }
        let tl = self.timelines.entry(user).or_default();
        if tl.pulled.binary_search(&post.community).is_ok() {
            t.skipped += 1;
            return;
        }
        let key = (created, post);
        let inserted = match tl.entries.binary_search(&key) {
            Ok(_) => false,
            Err(_) if created <= tl.floor => false,
            Err(at) => {
                tl.entries.insert(at, key);
                true
            }
        };
        if floor {
            tl.floor = tl.floor.max(created);
        }
        if !inserted {
            t.skipped += 1;
            return;
        }
        t.delivered += 1;
        t.entries += 1;
        if tl.entries.len() > bound {
            let (old, _) = tl.entries.remove(0);
            tl.floor = tl.floor.max(old);
            t.trimmed += 1;
            t.entries -= 1;
        }
    }

    /// Applies a [`FollowUp::Celebrity`]: `community` is pulled from now on.
    pub(super) fn on_celebrity(&mut self, user: UserId, community: CommunityId) {
        let subscribed = self
            .users
            .get(&user)
            .is_some_and(|u| u.subs.binary_search(&community).is_ok());
        if !subscribed {
            return;
        }
        let tl = self.timelines.entry(user).or_default();
        if let Err(at) = tl.pulled.binary_search(&community) {
            tl.pulled.insert(at, community);
        }
        let purged = tl.purge(community);
        self.feed_totals.entries -= purged as u64;
    }

    /// `user` no longer follows `community`: its entries go.
    pub(super) fn purge_source(&mut self, user: UserId, community: CommunityId) {
        if let Some(tl) = self.timelines.get_mut(&user) {
            if let Ok(at) = tl.pulled.binary_search(&community) {
                tl.pulled.remove(at);
            }
            let purged = tl.purge(community);
            self.feed_totals.entries -= purged as u64;
        }
    }

    /// Whether `user`'s timeline answers a home feed of `sort` and `limit`,
    /// and if so what it reads, in `plan` (cleared first): `Ok(false)` when
    /// the feed must be pulled (pull mode, `Hot` or `Top`, a limit above
    /// the bound, or too few entries above the floor: a fallback, counted).
    /// Checks `limit` and the user first, as a pulled feed does.
    pub fn timeline_plan(
        &self,
        user: UserId,
        sort: Sort,
        limit: u16,
        plan: &mut TimelinePlan,
    ) -> Result<bool, ApiError> {
        check_limit(limit)?;
        if !self.users.get(&user).is_some_and(|u| u.registered) {
            return Err(ApiError::UnknownUser);
        }
        if !self.feeds.pushes() || sort != Sort::New {
            return Ok(false);
        }
        let t = &self.feed_totals;
        plan.clear();
        let limit = usize::from(limit);
        let tl = self.timelines.get(&user);
        let serves = limit <= usize::from(self.feeds.timeline)
            && tl.is_none_or(|tl| tl.floor == 0 || tl.above_floor() >= limit);
        if !serves {
            t.fallbacks.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        t.served.fetch_add(1, Ordering::Relaxed);
        if let Some(tl) = tl {
            plan.pulled.extend_from_slice(&tl.pulled);
            for &(created, post) in tl.entries.iter().rev().take(limit) {
                plan.posts.push(post);
                plan.stamps.push(created);
            }
        }
        Ok(true)
    }

    /// Appends to `out` the summaries of the listed posts that live here
    /// (the others are skipped).
    pub fn hydrate(&self, posts: &[PostId], out: &mut Vec<PostSummary>) {
        out.extend(posts.iter().filter_map(|&id| self.summary_of(id)));
    }

    /// The summary of post `id`, if it lives here.
    pub fn summary_of(&self, id: PostId) -> Option<PostSummary> {
        let c = self.communities.get(&id.community)?;
        let p = c.posts.get(id.seq as usize)?;
        Some(summary(id.community, id.seq, p))
    }

    /// A home feed answered from a timeline: the planned posts and the
    /// pulled sources' newest, merged (newest first, at most `limit`).
    pub(super) fn timeline_feed(
        &self,
        plan: &TimelinePlan,
        limit: u16,
        out: &mut Vec<PostSummary>,
    ) {
        if plan.pulled.is_empty() {
            return self.hydrate(&plan.posts, out);
        }
        let mut pulled = Vec::with_capacity(usize::from(limit));
        self.feed_part(&plan.pulled, Sort::New, limit, &mut pulled);
        plan.merge_into(&pulled, limit, |id| self.summary_of(id), out);
    }

    /// This partition's push figures (the engine adds its broker's).
    pub fn feed_stats(&self) -> FeedStats {
        let t = &self.feed_totals;
        FeedStats {
            mode: self.feeds.mode,
            pushed_posts: t.pushed_posts,
            deliveries: t.deliveries,
            max_fanout: t.max_fanout,
            max_fanout_post: t.max_fanout_post,
            backfills: t.backfills,
            delivered: t.delivered,
            skipped: t.skipped,
            trimmed: t.trimmed,
            timeline_entries: t.entries,
            celebrities: t.celebrities,
            served: t.served.load(Ordering::Relaxed),
            fallbacks: t.fallbacks.load(Ordering::Relaxed),
            ..FeedStats::default()
        }
    }

    /// Every registered user's timeline, for the audit: its sources, its
    /// entries and its floor (push and hybrid only; empty otherwise).
    pub(super) fn timeline_records(&self) -> Vec<crate::audit::TimelineRecord> {
        if !self.feeds.pushes() {
            return Vec::new();
        }
        let empty = Timeline::default();
        self.users
            .iter()
            .filter(|(_, u)| u.registered)
            .map(|(&id, u)| {
                let tl = self.timelines.get(&id).unwrap_or(&empty);
                crate::audit::TimelineRecord {
                    user: id,
                    sources: u
                        .subs
                        .iter()
                        .copied()
                        .filter(|c| tl.pulled.binary_search(c).is_err())
                        .collect(),
                    entries: tl.entries.clone(),
                    floor: tl.floor,
                }
            })
            .collect()
    }
}
