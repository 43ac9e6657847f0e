//! The partition: the single-threaded state machine of one slice of the
//! world. Written once, run by every engine, so engines differ only in how
//! they run partitions concurrently.
//!
//! # Validation order
//! Every op checks, in this order, and refuses at the first failure:
//! 1. its values ([`Op::check_values`], which the `redis` engine shares):
//!    `limit` ([`ApiError::BadLimit`]), body length
//!    ([`ApiError::BodyTooLarge`]), search term ([`ApiError::BadTerm`]);
//! 2. the existence of its home entity, then of the entities under it
//!    (community, then post, then comment): a missing community or post is
//!    [`ApiError::UnknownPost`] for post-addressed ops, a missing comment
//!    [`ApiError::UnknownComment`];
//! 3. permission ([`ApiError::Forbidden`]), then membership state
//!    ([`ApiError::AlreadyMember`], [`ApiError::NotMember`]).
//!
//! A refused op changes nothing and pushes no follow-up.
//!
//! # State layout
//! Caller-chosen ids (users, communities) key `FxHashMap`s, never a `Vec`
//! index, so huge or bogus ids cost nothing. Posts, comments and DMs are dense
//! per owner and live in `Vec`s, indexed by their validated sequence number.
//! Votes are one map of (voter, target) to -1/+1 (a cleared vote is removed).
//!
//! # Memory layout of the large load (10^6 users in 1 GiB)
//! Memberships and subscriptions are the same pairs seen from two sides and
//! live on different partitions (the community's and the user's), so each
//! side is stored once, per owner, never in one partition-wide hash table
//! (whose doubling would briefly hold old and new tables, hundreds of MB at
//! 10^7 pairs):
//! - a community holds its members as a set of user ids; a profile's owner is
//!   its member implicitly (the owner can neither join nor leave it);
//! - a user holds the communities with a positive subscription count as a
//!   sorted `Vec` (binary search; a change costs O(subscriptions) memmove,
//!   no more than one home feed of that user). Counts other than 0 and 1
//!   (only a lost or duplicated follow-up makes them) sit in a side map.
//!
//! A profile is stored as a `Community` only once it needs one (a follower
//! besides its owner, or a post). Until then it exists implicitly while its
//! owner is registered here (a profile lives on its owner's partition), with
//! the owner as its only member and no posts. The engine cannot know the
//! population upfront, so maps grow by doubling; the per-owner layout keeps
//! every such growth step small except the `users` and `communities` maps.
//!
//! # Subscriptions are counted, not flagged
//! A user's subscription to a community is a signed count, +1 per
//! [`FollowUp::Subscribe`] and -1 per [`FollowUp::Unsubscribe`]; the user is
//! subscribed while the count is positive. Follow-ups between two partitions
//! arrive in FIFO order and a community's Join/Leave strictly alternate, so a
//! correct engine only ever sees counts 0 and 1. Counting makes the state
//! independent of arrival order anyway, and keeps a lost or duplicated
//! follow-up visible: the audit's subscription digest weighs each pair by its
//! count, so it no longer matches the membership digest.

mod digest;
mod entities;
mod index;
mod posts;
mod ranking;
mod snapshot;
mod state;
mod timeline;
mod unapplied;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memchr::memmem;
use rustc_hash::FxHashMap;

use crate::api::{
    ApiError, Body, CommunityId, DmId, DmSummary, MAX_LIMIT, Op, PostId, PostSummary, ProfileView,
    Reply, Response, Sort, UserId, check_limit, clamp_u32,
};
use crate::placement;

pub use ranking::{HOT_DECAY, hot_key, merge_feed, sort_key};
use ranking::{for_best_posts, merge_best};
use state::{Community, Dm, Totals, User, VoteKey, sub_key, summary};
pub use timeline::TimelinePlan;
use timeline::{FeedTotals, Timeline};

/// How many matches a [`Reply::Found`] lists.
pub const SEARCH_NEWEST: usize = 10;

/// The engine-wide logical clock that stamps posts (`PostSummary::created`).
///
/// Ticked once per created post, under the home partition's exclusive
/// access, so `New` and `Hot` depend only on the order of ops, never on the
/// wall clock. With one session and one op in flight every engine ticks it
/// in the same order, which keeps replies identical across engines.
#[derive(Debug, Default)]
pub struct PostClock(AtomicU64);

impl PostClock {
    /// A clock at zero, shared by an engine's partitions.
    pub fn new() -> Arc<Self> {
        Arc::new(PostClock(AtomicU64::new(0)))
    }

    /// The next stamp (1, 2, 3, ...).
    pub fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The last stamp handed out (0: none yet).
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Moves the clock past `stamp`, which a replayed post took: a
    /// recovered engine never stamps two posts alike.
    pub fn advance_to(&self, stamp: u64) {
        self.0.fetch_max(stamp, Ordering::Relaxed);
    }
}

/// Where a partition's post stamps come from. A primary takes them from the
/// engine's [`PostClock`] and, when it is replicated, notes them so that its
/// log can carry them; a backup replaying that log is handed the primary's
/// stamps instead of ticking a clock (replay must not tick it again, and
/// the backup's posts must sort as the primary's do).
#[derive(Debug, Default)]
pub(crate) struct Stamps {
    /// Note every stamp taken in `taken`.
    pub(crate) record: bool,
    /// Stamps taken since the last [`Stamps::take`] (at most two per op: a
    /// duplicated post).
    taken: [u64; 2],
    /// Stamps to hand out before ticking the clock, in order (0: none).
    given: [u64; 2],
}

impl Stamps {
    /// The next stamp: a given one, else a tick of `clock`.
    #[inline]
    fn next(&mut self, clock: &PostClock) -> u64 {
        let s = if self.given[0] != 0 {
            let s = self.given[0];
            self.given = [self.given[1], 0];
            s
        } else {
            clock.tick()
        };
        if self.record {
            self.taken[usize::from(self.taken[0] != 0)] = s;
        }
        s
    }

    /// The stamps taken since the last call, and forgets them.
    pub(crate) fn take(&mut self) -> [u64; 2] {
        std::mem::take(&mut self.taken)
    }

    /// Hands out `stamps` (0: none) before the clock is ticked again.
    pub(crate) fn give(&mut self, stamps: [u64; 2]) {
        self.given = stamps;
    }
}

/// A cross-partition effect of an op, applied at the partition of `user()`.
/// Follow-ups never fail: they are keyed by user whether or not that user is
/// registered (the acting user is trusted), so they can never be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FollowUp {
    /// Join / CreateCommunity: add `community` to `user`'s subscriptions.
    Subscribe {
        /// The subscriber.
        user: UserId,
        /// The community joined.
        community: CommunityId,
    },
    /// Leave: remove `community` from `user`'s subscriptions.
    Unsubscribe {
        /// The subscriber.
        user: UserId,
        /// The community left.
        community: CommunityId,
    },
    /// A post for `user`'s timeline (`--feeds push|hybrid`): pushed by a
    /// new post, or sent by a join as a backfill (`timeline.rs`).
    Deliver {
        /// The follower.
        user: UserId,
        /// The post.
        post: PostId,
        /// Its stamp (`PostSummary::created`): timelines keep the newest.
        created: u64,
        /// The oldest post of a backfill that left older ones out.
        floor: bool,
    },
    /// Hybrid: `community` has too many members to push to; `user` pulls it.
    Celebrity {
        /// The member.
        user: UserId,
        /// The community now pulled.
        community: CommunityId,
    },
    /// Vote: move the target author's karma.
    Karma {
        /// The author of the voted post or comment.
        user: UserId,
        /// Change of post karma.
        post: i64,
        /// Change of comment karma.
        comment: i64,
    },
}

impl FollowUp {
    /// The user whose partition applies this follow-up.
    pub fn user(&self) -> UserId {
        match *self {
            FollowUp::Subscribe { user, .. }
            | FollowUp::Unsubscribe { user, .. }
            | FollowUp::Deliver { user, .. }
            | FollowUp::Celebrity { user, .. }
            | FollowUp::Karma { user, .. } => user,
        }
    }

    /// The partition (0..count) that applies this follow-up.
    pub fn partition(&self, count: usize) -> usize {
        placement::user_partition(self.user(), count)
    }
}

/// One slice of the social state.
#[derive(Debug)]
pub struct Partition {
    index: usize,
    count: usize,
    clock: Arc<PostClock>,
    /// Stamps given by a replication log, or noted for one.
    pub(crate) stamps: Stamps,
    users: FxHashMap<UserId, User>,
    /// Ordinary communities and the profiles that need storage (module docs).
    communities: FxHashMap<CommunityId, Community>,
    /// Subscription counts other than 0 and 1, keyed by [`sub_key`]; a pair
    /// is in its user's `subs` exactly while its count is positive.
    odd_subs: FxHashMap<u64, i32>,
    votes: FxHashMap<VoteKey, i8>,
    totals: Totals,
    /// How home feeds are built (pull unless the engine was told otherwise).
    feeds: crate::config::Feeds,
    /// Push and hybrid: the materialised timelines of this partition's
    /// users (empty when pulling, so pulling pays nothing for them).
    timelines: FxHashMap<UserId, Timeline>,
    feed_totals: FeedTotals,
    /// Scratch of a home feed read from a timeline.
    feed_plan: TimelinePlan,
}

impl Partition {
    /// Partition `index` of `count`, stamping posts with `clock` (shared by
    /// the engine's partitions).
    pub fn new(index: usize, count: usize, clock: Arc<PostClock>) -> Self {
        Partition {
            index,
            count,
            clock,
            stamps: Stamps::default(),
            users: FxHashMap::default(),
            communities: FxHashMap::default(),
            odd_subs: FxHashMap::default(),
            votes: FxHashMap::default(),
            totals: Totals::default(),
            feeds: crate::config::Feeds::default(),
            timelines: FxHashMap::default(),
            feed_totals: FeedTotals::default(),
            feed_plan: TimelinePlan::default(),
        }
    }

    /// An empty partition with this one's place, clock and feed settings:
    /// what a crashed partition restarts from.
    pub(crate) fn empty_like(&self) -> Partition {
        let mut p = Partition::new(self.index, self.count, self.clock.clone());
        p.set_feeds(self.feeds);
        p.stamps.record = self.stamps.record;
        p
    }

    /// The post clock this partition stamps with.
    pub(crate) fn clock_handle(&self) -> Arc<PostClock> {
        self.clock.clone()
    }

    /// Moves this partition onto `clock` (a backup's state becoming a
    /// primary's), first moving `clock` past every stamp this one's gave.
    pub(crate) fn set_clock(&mut self, clock: Arc<PostClock>) {
        clock.advance_to(self.clock.current());
        self.clock = clock;
    }

    /// A replayed op took `stamps`: the engine's clock must not hand them
    /// out again.
    pub(crate) fn see_stamps(&self, stamps: [u64; 2]) {
        self.clock.advance_to(stamps[0].max(stamps[1]));
    }

    /// This partition's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many partitions the engine has (as given to [`Partition::new`]).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Applies `op`, whose home entity lives here, atomically. Cross-partition
    /// effects are pushed onto `follow_ups` (also those whose target is this
    /// partition: the engine routes every follow-up, local or not). A refused
    /// op changes nothing and pushes nothing. The op's values are checked
    /// first ([`Op::check_values`]); the methods below rely on it.
    ///
    /// `Register` subscribes the user to their own profile directly, without
    /// a follow-up: a profile always lives on its owner's partition.
    ///
    /// `GetHomeFeed` is answered from this partition's communities only, which
    /// is the whole answer when `count == 1`; engines with more partitions use
    /// [`Partition::home_feed_subscriptions`], [`Partition::feed_part`] and
    /// [`merge_feed`] instead.
    pub fn apply(&mut self, op: Op, follow_ups: &mut Vec<FollowUp>) -> Response {
        op.check_values()?;
        match op {
            Op::Register { user } => self.register(user),
            Op::CreateCommunity { creator, community } => {
                self.create_community(creator, community, follow_ups)
            }
            Op::Join { user, community } => self.join(user, community, follow_ups),
            Op::Leave { user, community } => self.leave(user, community, follow_ups),
            Op::CreatePost {
                author,
                community,
                body,
            } => self.create_post(author, community, body, follow_ups),
            Op::Comment {
                author,
                post,
                parent,
                body,
            } => self.comment(author, post, parent, body),
            Op::Vote { voter, target, dir } => self.vote(voter, target, dir, follow_ups),
            Op::GetPost { post, comments } => self.get_post(post, comments),
            Op::GetCommunityFeed {
                community,
                sort,
                limit,
            } => self.community_feed(community, sort, limit),
            Op::GetHomeFeed { user, sort, limit } => self.local_home_feed(user, sort, limit),
            Op::SendDm { from, to, body } => self.send_dm(from, to, body),
            Op::GetInbox { user, limit } => self.inbox(user, limit),
            Op::GetProfile { user } => self.profile(user),
            Op::Search { community, term } => self.search(community, &term),
        }
    }

    /// Applies a follow-up addressed to this partition. Never fails; see the
    /// module docs for why subscriptions are counts.
    pub fn apply_follow_up(&mut self, follow_up: FollowUp) {
        match follow_up {
            FollowUp::Subscribe { user, community } => self.add_subscription(user, community, 1),
            FollowUp::Unsubscribe { user, community } => self.add_subscription(user, community, -1),
            FollowUp::Deliver {
                user,
                post,
                created,
                floor,
            } => self.deliver(user, post, created, floor),
            FollowUp::Celebrity { user, community } => self.on_celebrity(user, community),
            FollowUp::Karma {
                user,
                post,
                comment,
            } => {
                let u = self.users.entry(user).or_default();
                u.post_karma = u.post_karma.wrapping_add(post);
                u.comment_karma = u.comment_karma.wrapping_add(comment);
            }
        }
    }

    /// First half of a home feed: validates `limit` ([`ApiError::BadLimit`])
    /// and the user ([`ApiError::UnknownUser`]), then returns the user's
    /// subscriptions (any order; own profile included).
    pub fn home_feed_subscriptions(
        &self,
        user: UserId,
        limit: u16,
    ) -> Result<&[CommunityId], ApiError> {
        check_limit(limit)?;
        match self.users.get(&user) {
            Some(u) if u.registered => Ok(&u.subs),
            _ => Err(ApiError::UnknownUser),
        }
    }

    /// Second half: appends to `out` the best `limit` posts (by `sort`, best
    /// first) among the listed communities that live here; unknown communities
    /// are skipped. That is all [`merge_feed`] needs: the global best `limit`
    /// are among the union of every partition's local best `limit`.
    ///
    /// A k-way merge of the communities' ordered indexes
    /// (`ranking::merge_best`): it reads each community's best post and
    /// then only the posts it returns, O(subscriptions + limit x
    /// log subscriptions), with two small allocations (engines gather from
    /// `&self`, so there is no scratch to reuse).
    pub fn feed_part(
        &self,
        communities: &[CommunityId],
        sort: Sort,
        limit: u16,
        out: &mut Vec<PostSummary>,
    ) {
        let limit = limit.min(MAX_LIMIT) as usize;
        let lookup = |id| self.communities.get(&id);
        merge_best(communities, lookup, sort, limit, out);
    }

    /// Appends to `out` the best `limit` posts (by `sort`, best first) of
    /// the listed communities, each looked up in the partition `partition_of`
    /// gives for it (unknown ones skipped): one k-way merge across
    /// partitions, for a caller that holds all of them at once (the striped
    /// engine, under its stripes' read locks). The posts read and the result
    /// are those of a home feed over the same subscriptions in one partition.
    pub fn feed_across<'a>(
        listed: &[CommunityId],
        partition_of: impl Fn(CommunityId) -> &'a Partition,
        sort: Sort,
        limit: u16,
        out: &mut Vec<PostSummary>,
    ) {
        let limit = limit.min(MAX_LIMIT) as usize;
        let lookup = |id| partition_of(id).communities.get(&id);
        merge_best(listed, lookup, sort, limit, out);
    }

    // ---- users -------------------------------------------------------------

    fn register(&mut self, user: UserId) -> Response {
        let rec = self.users.entry(user).or_default();
        if rec.registered {
            return Err(ApiError::AlreadyExists);
        }
        rec.registered = true;
        self.totals.users += 1;
        // The profile exists implicitly from now on, its owner a member.
        self.totals.memberships += 1;
        self.add_subscription(user, CommunityId::profile(user), 1);
        Ok(Reply::Done)
    }

    /// Whether `community` is a profile that exists here without being
    /// stored: its owner is registered and it has no stored [`Community`].
    fn is_implicit_profile(&self, community: CommunityId) -> bool {
        community.profile_owner().is_some_and(|owner| {
            self.users.get(&owner).is_some_and(|u| u.registered)
                && !self.communities.contains_key(&community)
        })
    }

    /// Adds `user` to the members of `c`, keeping the capacity total.
    /// Returns false if already a member.
    fn insert_member(totals: &mut Totals, c: &mut Community, user: UserId) -> bool {
        let before = c.members.capacity();
        if !c.members.insert(user.0) {
            return false;
        }
        totals.member_capacity += (c.members.capacity() - before) as u64;
        totals.memberships += 1;
        true
    }

    /// Moves the (user, community) subscription count by `by` (+1 or -1).
    fn add_subscription(&mut self, user: UserId, community: CommunityId, by: i32) {
        let key = sub_key(user, community);
        let odd = self.odd_subs.get(&key).copied();
        let rec = self.users.entry(user).or_default();
        let at = rec.subs.binary_search(&community);
        let was = odd.unwrap_or(i32::from(at.is_ok()));
        let now = was.saturating_add(by);
        match at {
            Err(at) if now > 0 => {
                let before = rec.subs.capacity();
                if rec.subs.len() == before {
                    // Grow by half, not double: most users hold a handful of
                    // subscriptions, and 10^6 of them pay for the slack.
                    rec.subs.reserve_exact((before / 2).max(4));
                }
                self.totals.sub_capacity += (rec.subs.capacity() - before) as u64;
                rec.subs.insert(at, community);
                self.totals.subscribed_pairs += 1;
            }
            Ok(at) if now <= 0 => {
                rec.subs.remove(at);
                self.totals.subscribed_pairs -= 1;
                if self.feeds.pushes() {
                    self.purge_source(user, community);
                }
            }
            _ => {}
        }
        if (0..=1).contains(&now) {
            if odd.is_some() {
                self.odd_subs.remove(&key);
            }
        } else {
            self.odd_subs.insert(key, now);
        }
    }

    fn registered(&self, user: UserId) -> Result<&User, ApiError> {
        match self.users.get(&user) {
            Some(u) if u.registered => Ok(u),
            _ => Err(ApiError::UnknownUser),
        }
    }

    fn send_dm(&mut self, from: UserId, to: UserId, body: Body) -> Response {
        let rec = match self.users.get_mut(&to) {
            Some(u) if u.registered => u,
            _ => return Err(ApiError::UnknownUser),
        };
        let seq = clamp_u32(rec.inbox.len());
        self.totals.dms += 1;
        self.totals.dm_bytes += body.len() as u64;
        rec.inbox.push(Dm {
            from,
            body: body.into_boxed(),
        });
        Ok(Reply::Sent(DmId { to, seq }))
    }

    fn inbox(&self, user: UserId, limit: u16) -> Response {
        let limit = usize::from(limit);
        let rec = self.registered(user)?;
        let dms = rec
            .inbox
            .iter()
            .enumerate()
            .rev()
            .take(limit)
            .map(|(seq, d)| DmSummary {
                id: DmId {
                    to: user,
                    seq: seq as u32,
                },
                from: d.from,
                len: clamp_u32(d.body.len()),
            })
            .collect();
        Ok(Reply::Inbox(dms))
    }

    fn profile(&self, user: UserId) -> Response {
        let rec = self.registered(user)?;
        let id = CommunityId::profile(user);
        let (followers, profile_posts) = self
            .communities
            .get(&id)
            .map_or((1, 0), |c| (c.member_count(id), clamp_u32(c.posts.len())));
        Ok(Reply::Profile(ProfileView {
            post_karma: rec.post_karma,
            comment_karma: rec.comment_karma,
            subscriptions: clamp_u32(rec.subs.len()),
            followers,
            profile_posts,
            inbox: clamp_u32(rec.inbox.len()),
        }))
    }

    fn local_home_feed(&mut self, user: UserId, sort: Sort, limit: u16) -> Response {
        if self.feeds.pushes() {
            // The plan's lists are kept between feeds (no allocation).
            let mut plan = std::mem::take(&mut self.feed_plan);
            let served = self.timeline_plan(user, sort, limit, &mut plan);
            let mut feed = Vec::new();
            if let Ok(true) = served {
                feed.reserve(usize::from(limit));
                self.timeline_feed(&plan, limit, &mut feed);
            }
            self.feed_plan = plan;
            if served? {
                return Ok(Reply::Feed(feed));
            }
        }
        let limit = usize::from(limit);
        let subs = match self.users.get(&user) {
            Some(u) if u.registered => &u.subs,
            _ => return Err(ApiError::UnknownUser),
        };
        let mut feed = Vec::new();
        let lookup = |id| self.communities.get(&id);
        merge_best(subs, lookup, sort, limit, &mut feed);
        Ok(Reply::Feed(feed))
    }

    // ---- communities -------------------------------------------------------

    fn create_community(
        &mut self,
        creator: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        if self.communities.contains_key(&community) {
            return Err(ApiError::AlreadyExists);
        }
        let c = Community::new(creator);
        self.totals.member_capacity += c.members.capacity() as u64;
        self.totals.memberships += 1;
        self.communities.insert(community, c);
        self.totals.communities += 1;
        follow_ups.push(FollowUp::Subscribe {
            user: creator,
            community,
        });
        if self.feeds.pushes() {
            self.push_join(creator, community, follow_ups);
        }
        Ok(Reply::Done)
    }

    fn join(
        &mut self,
        user: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let c = match community.profile_owner() {
            Some(owner) => {
                if !self.communities.contains_key(&community)
                    && !self.is_implicit_profile(community)
                {
                    return Err(ApiError::UnknownCommunity);
                }
                if owner == user {
                    return Err(ApiError::AlreadyMember);
                }
                self.communities
                    .entry(community)
                    .or_insert_with(|| Community::profile(owner))
            }
            None => self
                .communities
                .get_mut(&community)
                .ok_or(ApiError::UnknownCommunity)?,
        };
        if !Self::insert_member(&mut self.totals, c, user) {
            return Err(ApiError::AlreadyMember);
        }
        follow_ups.push(FollowUp::Subscribe { user, community });
        if self.feeds.pushes() {
            self.push_join(user, community, follow_ups);
        }
        Ok(Reply::Done)
    }

    fn leave(
        &mut self,
        user: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let implicit = self.is_implicit_profile(community);
        let c = self.communities.get_mut(&community);
        if c.is_none() && !implicit {
            return Err(ApiError::UnknownCommunity);
        }
        if community.profile_owner() == Some(user) {
            return Err(ApiError::Forbidden);
        }
        // An implicit profile has no member but its owner.
        if !c.is_some_and(|c| c.members.remove(&user.0)) {
            return Err(ApiError::NotMember);
        }
        self.totals.memberships -= 1;
        follow_ups.push(FollowUp::Unsubscribe { user, community });
        Ok(Reply::Done)
    }

    fn community_feed(&self, community: CommunityId, sort: Sort, limit: u16) -> Response {
        let limit = usize::from(limit);
        let Some(c) = self.communities.get(&community) else {
            return if self.is_implicit_profile(community) {
                Ok(Reply::Feed(Vec::new()))
            } else {
                Err(ApiError::UnknownCommunity)
            };
        };
        let mut feed = Vec::with_capacity(limit.min(c.posts.len()));
        for_best_posts(c, sort, limit, |_, seq, p| {
            feed.push(summary(community, seq, p));
            true
        });
        Ok(Reply::Feed(feed))
    }

    fn search(&self, community: CommunityId, term: &Body) -> Response {
        let Some(c) = self.communities.get(&community) else {
            return if self.is_implicit_profile(community) {
                Ok(Reply::Found {
                    matches: 0,
                    newest: Vec::new(),
                })
            } else {
                Err(ApiError::UnknownCommunity)
            };
        };
        // A real scan of every body, newest first: the deliberate long task.
        let finder = memmem::Finder::new(term.as_bytes());
        let mut matches = 0u32;
        let mut newest = Vec::new();
        for (seq, p) in c.posts.iter().enumerate().rev() {
            if finder.find(&p.body).is_some() {
                matches += 1;
                if newest.len() < SEARCH_NEWEST {
                    newest.push(PostId {
                        community,
                        seq: seq as u32,
                    });
                }
            }
        }
        Ok(Reply::Found { matches, newest })
    }
}
