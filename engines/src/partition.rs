//! The partition: the single-threaded state machine of one slice of the world
//! (DESIGN section 3). Written once, run by every engine, so engines differ
//! only in how they run partitions concurrently.
//!
//! # Validation order
//! Every op checks, in this order, and refuses at the first failure:
//! 1. its values: `limit` ([`ApiError::BadLimit`]), body length
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
//! Memberships are one partition-wide set of (community, user) pairs; votes one
//! map of (voter, target) to -1/+1 (a cleared vote is removed).
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
mod posts;
mod ranking;

use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memchr::memmem;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::api::{
    ApiError, Body, CommunityId, DmId, DmSummary, MAX_BODY_LEN, MAX_LIMIT, MAX_TERM_LEN, Op,
    PostId, PostSummary, ProfileView, Reply, Response, Sort, UserId,
};
use crate::placement;

use ranking::{Candidate, best_of, drain_best, for_best_posts};
pub use ranking::{HOT_DECAY, hot_key, merge_feed, sort_key};

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
            | FollowUp::Karma { user, .. } => user,
        }
    }

    /// The partition (0..count) that applies this follow-up.
    pub fn partition(&self, count: usize) -> usize {
        placement::user_partition(self.user(), count)
    }
}

/// A user record. It may exist unregistered: follow-ups (karma,
/// subscriptions) are keyed by user and never refused.
#[derive(Debug, Default)]
struct User {
    registered: bool,
    post_karma: i64,
    comment_karma: i64,
    /// Communities with a positive subscription count, in no particular order.
    subs: Vec<CommunityId>,
    inbox: Vec<Dm>,
}

#[derive(Debug)]
struct Dm {
    from: UserId,
    body: Body,
}

/// A (user, community) subscription count and, while positive, the pair's
/// position in the user's `subs` vector (for O(1) removal).
#[derive(Debug, Clone, Copy)]
struct SubEntry {
    count: i32,
    pos: u32,
}

#[derive(Debug)]
struct Community {
    creator: UserId,
    members: u32,
    posts: Vec<Post>,
    /// (hot key, seq): a post's seq grows with its `created`, so the pair
    /// orders key descending then newer first when iterated in reverse.
    hot: BTreeSet<(i64, u32)>,
    /// (score, seq), same idea.
    top: BTreeSet<(i64, u32)>,
}

impl Community {
    fn new(creator: UserId) -> Self {
        Community {
            creator,
            members: 1,
            posts: Vec::new(),
            hot: BTreeSet::new(),
            top: BTreeSet::new(),
        }
    }
}

#[derive(Debug)]
struct Post {
    author: UserId,
    score: i64,
    created: u64,
    body: Body,
    comments: Vec<Comment>,
}

#[derive(Debug)]
struct Comment {
    author: UserId,
    parent: Option<u32>,
    score: i64,
    body: Body,
}

/// Comment seq standing for "the post itself" in a [`VoteKey`]. A post
/// would need 2^32 comments to collide, which memory rules out.
const POST_ITSELF: u32 = u32::MAX;

/// One voter's vote on one post or comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct VoteKey {
    voter: u32,
    community: u32,
    post: u32,
    comment: u32,
}

/// Running totals, so `stats()` and `audit()` counts cost O(1).
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    users: u64,
    communities: u64,
    posts: u64,
    comments: u64,
    dms: u64,
    post_bytes: u64,
    comment_bytes: u64,
    dm_bytes: u64,
    /// Pairs with a positive subscription count.
    subscribed_pairs: u64,
}

/// One slice of the social state.
#[derive(Debug)]
pub struct Partition {
    index: usize,
    count: usize,
    clock: Arc<PostClock>,
    users: FxHashMap<UserId, User>,
    communities: FxHashMap<CommunityId, Community>,
    /// (community << 32 | user).
    members: FxHashSet<u64>,
    /// (user << 32 | community), the layout of [`crate::audit::pair_digest`].
    subs: FxHashMap<u64, SubEntry>,
    votes: FxHashMap<VoteKey, i8>,
    totals: Totals,
    /// Reused by local home feeds, so they allocate only their reply.
    scratch: BinaryHeap<Candidate>,
}

fn member_key(community: CommunityId, user: UserId) -> u64 {
    ((community.0 as u64) << 32) | user.0 as u64
}

fn sub_key(user: UserId, community: CommunityId) -> u64 {
    ((user.0 as u64) << 32) | community.0 as u64
}

fn check_limit(limit: u16) -> Result<usize, ApiError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadLimit {
            limit,
            max: MAX_LIMIT,
        });
    }
    Ok(limit as usize)
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn check_body(body: &Body) -> Result<(), ApiError> {
    if body.len() > MAX_BODY_LEN {
        return Err(ApiError::BodyTooLarge {
            len: clamp_u32(body.len()),
            max: MAX_BODY_LEN as u32,
        });
    }
    Ok(())
}

fn summary(community: CommunityId, seq: u32, p: &Post) -> PostSummary {
    PostSummary {
        id: PostId { community, seq },
        author: p.author,
        score: p.score,
        comments: clamp_u32(p.comments.len()),
        created: p.created,
    }
}

impl Partition {
    /// Partition `index` of `count`, stamping posts with `clock` (shared by
    /// the engine's partitions).
    pub fn new(index: usize, count: usize, clock: Arc<PostClock>) -> Self {
        Partition {
            index,
            count,
            clock,
            users: FxHashMap::default(),
            communities: FxHashMap::default(),
            members: FxHashSet::default(),
            subs: FxHashMap::default(),
            votes: FxHashMap::default(),
            totals: Totals::default(),
            scratch: BinaryHeap::new(),
        }
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
    /// op changes nothing and pushes nothing.
    ///
    /// `Register` subscribes the user to their own profile directly, without
    /// a follow-up: a profile always lives on its owner's partition.
    ///
    /// `GetHomeFeed` is answered from this partition's communities only, which
    /// is the whole answer when `count == 1`; engines with more partitions use
    /// [`Partition::home_feed_subscriptions`], [`Partition::feed_part`] and
    /// [`merge_feed`] instead.
    pub fn apply(&mut self, op: Op, follow_ups: &mut Vec<FollowUp>) -> Response {
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
            } => self.create_post(author, community, body),
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
    /// Costs O(subscriptions x log n + limit x log limit), plus one small heap
    /// allocation (engines gather from `&self`, so there is no scratch to reuse).
    pub fn feed_part(
        &self,
        communities: &[CommunityId],
        sort: Sort,
        limit: u16,
        out: &mut Vec<PostSummary>,
    ) {
        let limit = limit.min(MAX_LIMIT) as usize;
        let mut heap = BinaryHeap::with_capacity(limit + 1);
        best_of(&self.communities, communities, sort, limit, &mut heap);
        drain_best(&mut heap, out);
    }

    // ---- users -------------------------------------------------------------

    fn register(&mut self, user: UserId) -> Response {
        if !user.is_valid() {
            return Err(ApiError::UnknownUser);
        }
        let rec = self.users.entry(user).or_default();
        if rec.registered {
            return Err(ApiError::AlreadyExists);
        }
        rec.registered = true;
        self.totals.users += 1;
        let profile = CommunityId::profile(user);
        self.communities.insert(profile, Community::new(user));
        self.members.insert(member_key(profile, user));
        self.add_subscription(user, profile, 1);
        Ok(Reply::Done)
    }

    /// Moves the (user, community) subscription count by `by` (+1 or -1).
    fn add_subscription(&mut self, user: UserId, community: CommunityId, by: i32) {
        let key = sub_key(user, community);
        let entry = self.subs.entry(key).or_insert(SubEntry {
            count: 0,
            pos: u32::MAX,
        });
        let was = entry.count;
        entry.count = was.saturating_add(by);
        let now = entry.count;
        let entry = *entry;
        if now == 0 {
            self.subs.remove(&key);
        }
        if was <= 0 && now > 0 {
            let rec = self.users.entry(user).or_default();
            let pos = clamp_u32(rec.subs.len());
            rec.subs.push(community);
            if let Some(e) = self.subs.get_mut(&key) {
                e.pos = pos;
            }
            self.totals.subscribed_pairs += 1;
        } else if was > 0 && now <= 0 {
            let Some(rec) = self.users.get_mut(&user) else {
                return;
            };
            let pos = entry.pos as usize;
            if pos < rec.subs.len() {
                rec.subs.swap_remove(pos);
                if let Some(&moved) = rec.subs.get(pos)
                    && let Some(e) = self.subs.get_mut(&sub_key(user, moved))
                {
                    e.pos = pos as u32;
                }
            }
            self.totals.subscribed_pairs -= 1;
        }
    }

    fn registered(&self, user: UserId) -> Result<&User, ApiError> {
        match self.users.get(&user) {
            Some(u) if u.registered => Ok(u),
            _ => Err(ApiError::UnknownUser),
        }
    }

    fn send_dm(&mut self, from: UserId, to: UserId, body: Body) -> Response {
        check_body(&body)?;
        let rec = match self.users.get_mut(&to) {
            Some(u) if u.registered => u,
            _ => return Err(ApiError::UnknownUser),
        };
        let seq = clamp_u32(rec.inbox.len());
        self.totals.dms += 1;
        self.totals.dm_bytes += body.len() as u64;
        rec.inbox.push(Dm { from, body });
        Ok(Reply::Sent(DmId { to, seq }))
    }

    fn inbox(&self, user: UserId, limit: u16) -> Response {
        let limit = check_limit(limit)?;
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
        let (followers, profile_posts) = self
            .communities
            .get(&CommunityId::profile(user))
            .map_or((0, 0), |c| (c.members, clamp_u32(c.posts.len())));
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
        let limit = check_limit(limit)?;
        let subs = match self.users.get(&user) {
            Some(u) if u.registered => &u.subs,
            _ => return Err(ApiError::UnknownUser),
        };
        best_of(&self.communities, subs, sort, limit, &mut self.scratch);
        let mut feed = Vec::with_capacity(self.scratch.len());
        drain_best(&mut self.scratch, &mut feed);
        Ok(Reply::Feed(feed))
    }

    // ---- communities -------------------------------------------------------

    fn create_community(
        &mut self,
        creator: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        if community.is_profile() {
            return Err(ApiError::Forbidden);
        }
        if self.communities.contains_key(&community) {
            return Err(ApiError::AlreadyExists);
        }
        self.communities.insert(community, Community::new(creator));
        self.members.insert(member_key(community, creator));
        self.totals.communities += 1;
        follow_ups.push(FollowUp::Subscribe {
            user: creator,
            community,
        });
        Ok(Reply::Done)
    }

    fn join(
        &mut self,
        user: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let c = self
            .communities
            .get_mut(&community)
            .ok_or(ApiError::UnknownCommunity)?;
        if !self.members.insert(member_key(community, user)) {
            return Err(ApiError::AlreadyMember);
        }
        c.members += 1;
        follow_ups.push(FollowUp::Subscribe { user, community });
        Ok(Reply::Done)
    }

    fn leave(
        &mut self,
        user: UserId,
        community: CommunityId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let c = self
            .communities
            .get_mut(&community)
            .ok_or(ApiError::UnknownCommunity)?;
        if community.profile_owner() == Some(user) {
            return Err(ApiError::Forbidden);
        }
        if !self.members.remove(&member_key(community, user)) {
            return Err(ApiError::NotMember);
        }
        c.members -= 1;
        follow_ups.push(FollowUp::Unsubscribe { user, community });
        Ok(Reply::Done)
    }

    fn community_feed(&self, community: CommunityId, sort: Sort, limit: u16) -> Response {
        let limit = check_limit(limit)?;
        let c = self
            .communities
            .get(&community)
            .ok_or(ApiError::UnknownCommunity)?;
        let mut feed = Vec::with_capacity(limit.min(c.posts.len()));
        for_best_posts(c, sort, limit, |_, seq, p| {
            feed.push(summary(community, seq, p));
            true
        });
        Ok(Reply::Feed(feed))
    }

    fn search(&self, community: CommunityId, term: &Body) -> Response {
        if term.is_empty() || term.len() > MAX_TERM_LEN {
            return Err(ApiError::BadTerm {
                len: clamp_u32(term.len()),
                max: MAX_TERM_LEN as u32,
            });
        }
        let c = self
            .communities
            .get(&community)
            .ok_or(ApiError::UnknownCommunity)?;
        // A real scan of every body, newest first: the deliberate long task.
        let finder = memmem::Finder::new(term.as_bytes());
        let mut matches = 0u32;
        let mut newest = Vec::new();
        for (seq, p) in c.posts.iter().enumerate().rev() {
            if finder.find(p.body.as_bytes()).is_some() {
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
