//! The records a partition stores (users, communities, posts, comments,
//! votes, DMs) and the running totals it keeps of them; the partition's
//! methods in `partition.rs`, `posts.rs`, `ranking.rs` and `digest.rs` work
//! on these.

use rustc_hash::FxHashSet;
use thin_vec::ThinVec;

use super::index::RankIndex;

use crate::api::{CommunityId, PostId, PostSummary, UserId, clamp_u32};

/// A user record. It may exist unregistered: follow-ups (karma,
/// subscriptions) are keyed by user and never refused.
#[derive(Debug, Default)]
pub(super) struct User {
    pub(super) registered: bool,
    pub(super) post_karma: i64,
    pub(super) comment_karma: i64,
    /// Communities with a positive subscription count, sorted ascending.
    pub(super) subs: Vec<CommunityId>,
    /// A thin vector (its length and capacity live in its allocation, none
    /// when empty): 8 bytes here, so a user's entry in the partition's map
    /// is one cache line, which every op on the user reads; DMs are a small
    /// share of any mix.
    pub(super) inbox: ThinVec<Dm>,
}

// A user's map entry (key and record) fits one cache line.
const _: () = assert!(size_of::<(UserId, User)>() <= 64);

#[derive(Debug)]
pub(super) struct Dm {
    pub(super) from: UserId,
    /// Bytes of its own (see [`crate::api::Body`]), 16 bytes rather than a body's 24.
    pub(super) body: Box<[u8]>,
}

#[derive(Debug)]
pub(super) struct Community {
    pub(super) creator: UserId,
    /// Member user ids. A profile's owner is a member implicitly and is never
    /// listed (see [`Community::member_count`]).
    pub(super) members: FxHashSet<u32>,
    pub(super) posts: Vec<Post>,
    /// (hot key, seq): a post's seq grows with its `created`, so the pair
    /// orders key descending then newer first read best first.
    pub(super) hot: RankIndex,
    /// (score, seq), same idea.
    pub(super) top: RankIndex,
    /// Hybrid feeds: too many members to push to; members pull it.
    pub(super) celebrity: bool,
}

impl Community {
    /// An ordinary community whose only member is its creator.
    pub(super) fn new(creator: UserId) -> Self {
        let mut c = Community::profile(creator);
        c.members.insert(creator.0);
        c
    }

    /// The stored form of `owner`'s profile, with no followers yet.
    pub(super) fn profile(owner: UserId) -> Self {
        Community {
            creator: owner,
            members: FxHashSet::default(),
            posts: Vec::new(),
            hot: RankIndex::default(),
            top: RankIndex::default(),
            celebrity: false,
        }
    }

    /// Members of community `id` (this community), the implicit owner included.
    pub(super) fn member_count(&self, id: CommunityId) -> u32 {
        clamp_u32(self.members.len()) + u32::from(id.is_profile())
    }

    /// Whether `user` is a member of community `id` (this community).
    pub(super) fn is_member(&self, id: CommunityId, user: UserId) -> bool {
        id.profile_owner() == Some(user) || self.members.contains(&user.0)
    }
}

#[derive(Debug)]
pub(super) struct Post {
    pub(super) author: UserId,
    pub(super) score: i64,
    pub(super) created: u64,
    /// Bytes of its own (see [`crate::api::Body`]).
    pub(super) body: Box<[u8]>,
    pub(super) comments: Vec<Comment>,
}

#[derive(Debug)]
pub(super) struct Comment {
    pub(super) author: UserId,
    pub(super) parent: Option<u32>,
    pub(super) score: i64,
    /// Bytes of its own (see [`crate::api::Body`]).
    pub(super) body: Box<[u8]>,
}

/// Comment seq standing for "the post itself" in a [`VoteKey`]. A post
/// would need 2^32 comments to collide, which memory rules out.
pub(super) const POST_ITSELF: u32 = u32::MAX;

/// One voter's vote on one post or comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct VoteKey {
    pub(super) voter: u32,
    pub(super) community: u32,
    pub(super) post: u32,
    pub(super) comment: u32,
}

/// Running totals, so `stats()` and `audit()` counts cost O(1).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Totals {
    pub(super) users: u64,
    pub(super) communities: u64,
    pub(super) posts: u64,
    pub(super) comments: u64,
    pub(super) dms: u64,
    pub(super) post_bytes: u64,
    pub(super) comment_bytes: u64,
    pub(super) dm_bytes: u64,
    /// Pairs with a positive subscription count.
    pub(super) subscribed_pairs: u64,
    /// Memberships, implicit profile owners included.
    pub(super) memberships: u64,
    /// Summed capacity of the communities' member sets (for `stats()`).
    pub(super) member_capacity: u64,
    /// Summed capacity of the users' `subs` vectors (for `stats()`).
    pub(super) sub_capacity: u64,
}

/// (community << 32 | user): how the digest names a membership.
pub(super) fn member_key(community: CommunityId, user: UserId) -> u64 {
    ((community.0 as u64) << 32) | user.0 as u64
}

/// (user << 32 | community), the layout of [`crate::audit::pair_digest`].
pub(super) fn sub_key(user: UserId, community: CommunityId) -> u64 {
    ((user.0 as u64) << 32) | community.0 as u64
}

pub(super) fn summary(community: CommunityId, seq: u32, p: &Post) -> PostSummary {
    PostSummary {
        id: PostId { community, seq },
        author: p.author,
        score: p.score,
        comments: clamp_u32(p.comments.len()),
        created: p.created,
    }
}
