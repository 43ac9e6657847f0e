//! What a partition reports about itself: stats (counts and approximate
//! bytes, O(1)), audit aggregates ([`Audit`]) and the order-independent
//! digest of its whole state.
//!
//! The digest is a wrapping sum of one [`mix64`] chain per entity (user,
//! subscription, community, membership, post, comment, vote, DM). Each chain
//! names its entity by id, never by position in a map, so equal logical states
//! give equal sums however entities are spread over partitions.

use std::mem::size_of;

use super::Partition;
use super::state::{Comment, Community, Dm, POST_ITSELF, Post, User, VoteKey, member_key, sub_key};
use crate::api::{CommentId, CommunityId, PostId, UserId};
use crate::audit::{Audit, mix64, pair_digest};
use crate::stats::{EntityBytes, EntityCounts, PartitionStats};

/// Entity tags, so that two kinds of entity with equal fields never cancel.
const TAG_USER: u64 = 1;
const TAG_SUB: u64 = 2;
const TAG_COMMUNITY: u64 = 3;
const TAG_MEMBER: u64 = 4;
const TAG_POST: u64 = 5;
const TAG_COMMENT: u64 = 6;
const TAG_VOTE: u64 = 7;
const TAG_DM: u64 = 8;

/// Chains `parts` through [`mix64`]: order-dependent within one entity.
fn chain(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |z, &p| mix64(z.wrapping_add(p)))
}

/// A hash of body bytes: their length, then 8-byte little-endian words.
fn body_hash(bytes: &[u8]) -> u64 {
    let mut z = mix64(bytes.len() as u64);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        z = mix64(z ^ u64::from_le_bytes(a));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a[..rest.len()].copy_from_slice(rest);
        z = mix64(z ^ u64::from_le_bytes(a));
    }
    z
}

/// Bytes of one hash-table slot holding `T` (plus hashbrown's control byte).
fn slot<T>() -> u64 {
    size_of::<T>() as u64 + 1
}

/// Bytes of a hash set of `items` capacity holding `T`: hashbrown keeps
/// capacity at 7/8 of its buckets.
fn set_bytes<T>(items: u64) -> u64 {
    items * 8 / 7 * slot::<T>()
}

/// Approximate bytes per ranked-index entry: a 16-byte pair in a vector
/// that doubles when full, so about three-quarters full on average.
const INDEX_ENTRY_BYTES: u64 = 21;

/// The per-entity digest chains: [`Partition::digest`] sums them, and so do
/// engines that keep the state outside a [`Partition`] (the Redis engine
/// digests a dump of its key space), so equal states give equal digests.
impl Partition {
    /// A (user, community) subscription with a nonzero `count`.
    pub(crate) fn digest_subscription(user: UserId, community: CommunityId, count: i32) -> u64 {
        chain(&[TAG_SUB, sub_key(user, community), count as i64 as u64])
    }

    /// A user record (skip those neither registered nor holding karma).
    pub(crate) fn digest_user(
        user: UserId,
        registered: bool,
        post_karma: i64,
        comment_karma: i64,
    ) -> u64 {
        chain(&[
            TAG_USER,
            user.0 as u64,
            registered as u64,
            post_karma as u64,
            comment_karma as u64,
        ])
    }

    /// A membership, the implicit one of a profile's owner included.
    pub(crate) fn digest_membership(community: CommunityId, user: UserId) -> u64 {
        chain(&[TAG_MEMBER, member_key(community, user)])
    }

    /// A community itself (stored or an implicit profile), by its member count.
    pub(crate) fn digest_community(community: CommunityId, creator: UserId, members: u32) -> u64 {
        chain(&[
            TAG_COMMUNITY,
            community.0 as u64,
            creator.0 as u64,
            members as u64,
        ])
    }

    /// A post.
    pub(crate) fn digest_post(
        post: PostId,
        author: UserId,
        score: i64,
        created: u64,
        comments: u32,
        body: &[u8],
    ) -> u64 {
        chain(&[
            TAG_POST,
            post.community.0 as u64,
            post.seq as u64,
            author.0 as u64,
            score as u64,
            created,
            comments as u64,
            body_hash(body),
        ])
    }

    /// A comment (`parent`: the seq of the comment it answers).
    pub(crate) fn digest_comment(
        comment: CommentId,
        author: UserId,
        parent: Option<u32>,
        score: i64,
        body: &[u8],
    ) -> u64 {
        chain(&[
            TAG_COMMENT,
            comment.post.community.0 as u64,
            comment.post.seq as u64,
            comment.seq as u64,
            author.0 as u64,
            parent.map_or(u64::MAX, |s| s as u64),
            score as u64,
            body_hash(body),
        ])
    }

    /// A stored vote: `comment` is `None` for a vote on the post itself.
    pub(crate) fn digest_vote(voter: UserId, post: PostId, comment: Option<u32>, value: i8) -> u64 {
        chain(&[
            TAG_VOTE,
            voter.0 as u64,
            post.community.0 as u64,
            post.seq as u64,
            comment.unwrap_or(POST_ITSELF) as u64,
            value as i64 as u64,
        ])
    }

    /// A direct message in `to`'s inbox.
    pub(crate) fn digest_dm(to: UserId, seq: u32, from: UserId, body: &[u8]) -> u64 {
        chain(&[
            TAG_DM,
            to.0 as u64,
            seq as u64,
            from.0 as u64,
            body_hash(body),
        ])
    }
}

impl Partition {
    /// Counts and approximate bytes, in O(1) (running totals and hash-table
    /// capacities; per-owner vectors are estimated from their lengths).
    pub fn stats(&self) -> PartitionStats {
        let t = &self.totals;
        let counts = EntityCounts {
            users: t.users,
            communities: t.communities,
            posts: t.posts,
            comments: t.comments,
            dms: t.dms,
            votes: self.votes.len() as u64,
            memberships: t.memberships,
        };
        let bytes = EntityBytes {
            users: set_bytes::<(UserId, User)>(self.users.capacity() as u64)
                + set_bytes::<(u64, i32)>(self.odd_subs.capacity() as u64)
                + t.sub_capacity * size_of::<CommunityId>() as u64,
            communities: set_bytes::<(CommunityId, Community)>(self.communities.capacity() as u64)
                + set_bytes::<u32>(t.member_capacity),
            posts: t.posts * (size_of::<Post>() as u64 + 2 * INDEX_ENTRY_BYTES) + t.post_bytes,
            comments: t.comments * size_of::<Comment>() as u64 + t.comment_bytes,
            dms: t.dms * size_of::<Dm>() as u64 + t.dm_bytes,
            votes: set_bytes::<(VoteKey, i8)>(self.votes.capacity() as u64),
        };
        PartitionStats { counts, bytes }
    }

    /// Aggregates for the audit.
    ///
    /// Users counts registered users only, but karma sums every user record,
    /// registered or not (a follow-up may reach a user never registered here).
    /// `subscriptions` counts pairs with a positive count, while
    /// `subscription_digest` weighs every pair by its signed count, so a lost
    /// or duplicated follow-up shows even when the counts happen to match.
    pub fn audit(&self) -> Audit {
        let t = &self.totals;
        let mut a = Audit {
            users: t.users,
            communities: t.communities,
            posts: t.posts,
            comments: t.comments,
            dms: t.dms,
            memberships: t.memberships,
            subscriptions: t.subscribed_pairs,
            ..Audit::default()
        };
        for c in self.communities.values() {
            for p in &c.posts {
                a.score_sum += p.score;
                a.score_sum += p.comments.iter().map(|cm| cm.score).sum::<i64>();
            }
        }
        for (&id, c) in &self.communities {
            for &m in &c.members {
                a.membership_digest = a.membership_digest.wrapping_add(pair_digest(UserId(m), id));
            }
        }
        for (&id, u) in &self.users {
            a.karma_sum += u.post_karma + u.comment_karma;
            if u.registered {
                // The owner's implicit membership of their profile.
                a.membership_digest = a
                    .membership_digest
                    .wrapping_add(pair_digest(id, CommunityId::profile(id)));
            }
        }
        self.for_each_subscription(|user, community, count| {
            a.subscription_digest = a
                .subscription_digest
                .wrapping_add(pair_digest(user, community).wrapping_mul(count as i64 as u64));
        });
        a
    }

    /// Calls `visit(user, community, count)` for every pair with a nonzero
    /// subscription count.
    fn for_each_subscription(&self, mut visit: impl FnMut(UserId, CommunityId, i32)) {
        for (&user, u) in &self.users {
            for &community in &u.subs {
                if self.odd_subs.is_empty()
                    || !self.odd_subs.contains_key(&sub_key(user, community))
                {
                    visit(user, community, 1);
                }
            }
        }
        for (&k, &count) in &self.odd_subs {
            visit(UserId((k >> 32) as u32), CommunityId(k as u32), count);
        }
    }

    /// Order-independent digest of this partition's state; the engine's digest
    /// is the wrapping sum over partitions, equal for any partitioning.
    ///
    /// It covers users (registered flag, karma), subscriptions (pair, count),
    /// communities (creator, member count), memberships, posts (author, score,
    /// created, body, comment count), comments (author, parent, score, body),
    /// votes and DMs (sender, body). User records that hold nothing (never
    /// registered, zero karma) are skipped, so their presence cannot differ.
    pub fn digest(&self) -> u64 {
        let mut sum = 0u64;
        let mut add = |h: u64| sum = sum.wrapping_add(h);
        self.for_each_subscription(|user, community, count| {
            add(Self::digest_subscription(user, community, count));
        });
        self.digest_users(&mut add);
        for (k, &value) in &self.votes {
            let post = PostId {
                community: CommunityId(k.community),
                seq: k.post,
            };
            let comment = (k.comment != POST_ITSELF).then_some(k.comment);
            add(Self::digest_vote(UserId(k.voter), post, comment, value));
        }
        self.digest_communities(&mut add);
        sum
    }

    /// The digest chains of the users: records, inboxes, and each registered
    /// owner's implicit profile membership (and the profile itself while it
    /// is not stored).
    fn digest_users(&self, add: &mut impl FnMut(u64)) {
        for (&id, u) in &self.users {
            if u.registered {
                let profile = CommunityId::profile(id);
                add(Self::digest_membership(profile, id));
                if !self.communities.contains_key(&profile) {
                    add(Self::digest_community(profile, id, 1));
                }
            }
            if u.registered || u.post_karma != 0 || u.comment_karma != 0 {
                add(Self::digest_user(
                    id,
                    u.registered,
                    u.post_karma,
                    u.comment_karma,
                ));
            }
            for (seq, dm) in u.inbox.iter().enumerate() {
                add(Self::digest_dm(id, seq as u32, dm.from, &dm.body));
            }
        }
    }

    /// The digest chains of the stored communities: each community, its
    /// members, its posts and their comments.
    fn digest_communities(&self, add: &mut impl FnMut(u64)) {
        for (&community, c) in &self.communities {
            add(Self::digest_community(
                community,
                c.creator,
                c.member_count(community),
            ));
            for &m in &c.members {
                add(Self::digest_membership(community, UserId(m)));
            }
            for (seq, p) in c.posts.iter().enumerate() {
                let post = PostId {
                    community,
                    seq: seq as u32,
                };
                add(Self::digest_post(
                    post,
                    p.author,
                    p.score,
                    p.created,
                    p.comments.len() as u32,
                    &p.body,
                ));
                for (cs, cm) in p.comments.iter().enumerate() {
                    let id = CommentId {
                        post,
                        seq: cs as u32,
                    };
                    add(Self::digest_comment(
                        id, cm.author, cm.parent, cm.score, &cm.body,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_sees_every_byte_and_the_length() {
        let a = body_hash(b"hello world, twelve+");
        assert_ne!(a, body_hash(b"hello world, twelve-"));
        assert_ne!(body_hash(b"ab"), body_hash(b"ab\0"));
        assert_eq!(a, body_hash(b"hello world, twelve+"));
    }
}
