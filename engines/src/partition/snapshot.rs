//! A partition's whole state as bytes, and back: the body of a durable
//! partition's snapshot (`wal/snapshot.rs` frames it in a file).
//!
//! Fixed-width little-endian fields, as the log's entries have them
//! (`bytes.rs`); collections as a count and their items, maps in
//! their iteration order. What can be recomputed is left out and rebuilt on
//! load: a community's `hot` and `top` orders (from its posts' scores and
//! stamps) and the capacities `stats()` sums (from the rebuilt containers).
//! The feed counters are kept, so a recovered run's figures go on from the
//! snapshot's. A decoded partition has the digest of the encoded one; the
//! map iteration orders may differ, and no reply depends on them.

use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::{FxHashMap, FxHashSet};
use thin_vec::ThinVec;

use super::Partition;
use super::index::RankIndex;
use super::ranking::hot_key;
use super::state::{Comment, Community, Dm, Post, Totals, User, VoteKey};
use super::timeline::{FeedTotals, Timeline};
use crate::bytes::{DecodeError, Reader, put_body, put_post, put_u32, put_u64};

/// A count read from a snapshot, bounded by the bytes left (each item takes
/// at least one), so a damaged count cannot reserve absurd memory.
fn count(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let n = r.u64()?;
    if n > r.0.len() as u64 {
        return Err(DecodeError("a count larger than the snapshot"));
    }
    Ok(n as usize)
}

fn len32(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let n = r.u32()? as usize;
    if n > r.0.len() {
        return Err(DecodeError("a length larger than the snapshot"));
    }
    Ok(n)
}

fn i64_of(r: &mut Reader<'_>) -> Result<i64, DecodeError> {
    r.u64().map(|v| v as i64)
}

impl Partition {
    /// A copy of this partition's state and settings with a post clock of
    /// its own (at this one's time), for a copy kept apart from the engine.
    pub(crate) fn detached_copy(&self) -> Partition {
        let clock = super::PostClock::new();
        let mut p = Partition::new(self.index, self.count, clock);
        p.set_feeds(self.feeds);
        let mut bytes = Vec::new();
        self.encode_state(&mut bytes);
        p.restore_state(&bytes)
            .expect("a state this partition encoded decodes");
        p
    }

    /// Appends this partition's state to `out`.
    pub(crate) fn encode_state(&self, out: &mut Vec<u8>) {
        put_u64(out, self.clock.current());
        let t = &self.totals;
        for v in [
            t.users,
            t.communities,
            t.posts,
            t.comments,
            t.dms,
            t.post_bytes,
            t.comment_bytes,
            t.dm_bytes,
            t.subscribed_pairs,
            t.memberships,
        ] {
            put_u64(out, v);
        }
        put_u64(out, self.users.len() as u64);
        for (id, u) in &self.users {
            put_u32(out, id.0);
            out.push(u8::from(u.registered));
            put_u64(out, u.post_karma as u64);
            put_u64(out, u.comment_karma as u64);
            put_u32(out, u.subs.len() as u32);
            for c in &u.subs {
                put_u32(out, c.0);
            }
            put_u32(out, u.inbox.len() as u32);
            for dm in &u.inbox {
                put_u32(out, dm.from.0);
                put_body(out, &dm.body);
            }
        }
        put_u64(out, self.communities.len() as u64);
        for (id, c) in &self.communities {
            put_u32(out, id.0);
            put_u32(out, c.creator.0);
            out.push(u8::from(c.celebrity));
            put_u32(out, c.members.len() as u32);
            for m in &c.members {
                put_u32(out, *m);
            }
            put_u32(out, c.posts.len() as u32);
            for p in &c.posts {
                put_u32(out, p.author.0);
                put_u64(out, p.score as u64);
                put_u64(out, p.created);
                put_body(out, &p.body);
                put_u32(out, p.comments.len() as u32);
                for cm in &p.comments {
                    put_u32(out, cm.author.0);
                    match cm.parent {
                        None => out.push(0),
                        Some(seq) => {
                            out.push(1);
                            put_u32(out, seq);
                        }
                    }
                    put_u64(out, cm.score as u64);
                    put_body(out, &cm.body);
                }
            }
        }
        put_u64(out, self.odd_subs.len() as u64);
        for (key, n) in &self.odd_subs {
            put_u64(out, *key);
            put_u32(out, *n as u32);
        }
        put_u64(out, self.votes.len() as u64);
        for (k, dir) in &self.votes {
            for v in [k.voter, k.community, k.post, k.comment] {
                put_u32(out, v);
            }
            out.push(*dir as u8);
        }
        put_u64(out, self.timelines.len() as u64);
        for (user, tl) in &self.timelines {
            put_u32(out, user.0);
            put_u64(out, tl.floor);
            put_u32(out, tl.entries.len() as u32);
            for (stamp, post) in &tl.entries {
                put_u64(out, *stamp);
                put_post(out, *post);
            }
            put_u32(out, tl.pulled.len() as u32);
            for c in &tl.pulled {
                put_u32(out, c.0);
            }
        }
        let f = &self.feed_totals;
        for v in [
            f.pushed_posts,
            f.deliveries,
            f.max_fanout,
            f.backfills,
            f.delivered,
            f.skipped,
            f.trimmed,
            f.entries,
            f.celebrities,
            f.served.load(Ordering::Relaxed),
            f.fallbacks.load(Ordering::Relaxed),
        ] {
            put_u64(out, v);
        }
        match f.max_fanout_post {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                put_post(out, p);
            }
        }
    }

    /// Replaces this partition's state with the one `bytes` encodes
    /// ([`Partition::encode_state`]) and moves the post clock past its
    /// stamps. Its place, clock and feed settings stay. On an error the
    /// partition is left as it was.
    pub(crate) fn restore_state(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader(bytes);
        let clock = r.u64()?;
        let mut t = Totals::default();
        for v in [
            &mut t.users,
            &mut t.communities,
            &mut t.posts,
            &mut t.comments,
            &mut t.dms,
            &mut t.post_bytes,
            &mut t.comment_bytes,
            &mut t.dm_bytes,
            &mut t.subscribed_pairs,
            &mut t.memberships,
        ] {
            *v = r.u64()?;
        }
        let n = count(&mut r)?;
        let mut users = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let id = r.user()?;
            let registered = r.u8()? != 0;
            let post_karma = i64_of(&mut r)?;
            let comment_karma = i64_of(&mut r)?;
            let subs = (0..len32(&mut r)?)
                .map(|_| r.community())
                .collect::<Result<Vec<_>, _>>()?;
            let inbox = (0..len32(&mut r)?)
                .map(|_| {
                    Ok(Dm {
                        from: r.user()?,
                        body: r.body_bytes()?,
                    })
                })
                .collect::<Result<ThinVec<_>, DecodeError>>()?;
            t.sub_capacity += subs.capacity() as u64;
            let user = User {
                registered,
                post_karma,
                comment_karma,
                subs,
                inbox,
            };
            users.insert(id, user);
        }
        let n = count(&mut r)?;
        let mut communities = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let id = r.community()?;
            let creator = r.user()?;
            let celebrity = r.u8()? != 0;
            let m = len32(&mut r)?;
            let mut members = FxHashSet::with_capacity_and_hasher(m, Default::default());
            for _ in 0..m {
                members.insert(r.u32()?);
            }
            let np = len32(&mut r)?;
            let (mut hot, mut top) = (Vec::with_capacity(np), Vec::with_capacity(np));
            let mut posts = Vec::with_capacity(np);
            for seq in 0..np as u32 {
                let author = r.user()?;
                let score = i64_of(&mut r)?;
                let created = r.u64()?;
                let body = r.body_bytes()?;
                let comments = (0..len32(&mut r)?)
                    .map(|_| {
                        let author = r.user()?;
                        let parent = match r.u8()? {
                            0 => None,
                            _ => Some(r.u32()?),
                        };
                        Ok(Comment {
                            author,
                            parent,
                            score: i64_of(&mut r)?,
                            body: r.body_bytes()?,
                        })
                    })
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                hot.push((hot_key(score, created), seq));
                top.push((score, seq));
                posts.push(Post {
                    author,
                    score,
                    created,
                    body,
                    comments,
                });
            }
            t.member_capacity += members.capacity() as u64;
            let c = Community {
                creator,
                members,
                posts,
                hot: RankIndex::from_unsorted(hot),
                top: RankIndex::from_unsorted(top),
                celebrity,
            };
            communities.insert(id, c);
        }
        let n = count(&mut r)?;
        let mut odd_subs = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            odd_subs.insert(r.u64()?, r.u32()? as i32);
        }
        let n = count(&mut r)?;
        let mut votes = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let key = VoteKey {
                voter: r.u32()?,
                community: r.u32()?,
                post: r.u32()?,
                comment: r.u32()?,
            };
            votes.insert(key, r.u8()? as i8);
        }
        let n = count(&mut r)?;
        let mut timelines = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let user = r.user()?;
            let floor = r.u64()?;
            let entries = (0..len32(&mut r)?)
                .map(|_| Ok((r.u64()?, r.post()?)))
                .collect::<Result<Vec<_>, DecodeError>>()?;
            let pulled = (0..len32(&mut r)?)
                .map(|_| r.community())
                .collect::<Result<Vec<_>, _>>()?;
            timelines.insert(
                user,
                Timeline {
                    entries,
                    floor,
                    pulled,
                },
            );
        }
        let mut f = FeedTotals::default();
        for v in [
            &mut f.pushed_posts,
            &mut f.deliveries,
            &mut f.max_fanout,
            &mut f.backfills,
            &mut f.delivered,
            &mut f.skipped,
            &mut f.trimmed,
            &mut f.entries,
            &mut f.celebrities,
        ] {
            *v = r.u64()?;
        }
        f.served = AtomicU64::new(r.u64()?);
        f.fallbacks = AtomicU64::new(r.u64()?);
        f.max_fanout_post = match r.u8()? {
            0 => None,
            _ => Some(r.post()?),
        };
        if !r.0.is_empty() {
            return Err(DecodeError("trailing bytes after the state"));
        }
        self.totals = t;
        self.users = users;
        self.communities = communities;
        self.odd_subs = odd_subs;
        self.votes = votes;
        self.timelines = timelines;
        self.feed_totals = f;
        self.clock.advance_to(clock);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Body, CommentId, CommunityId, Op, PostId, Sort, Target, UserId, VoteDir};
    use crate::config::{FeedMode, Feeds};
    use crate::partition::PostClock;

    /// A partition holding one of everything the encoding covers: users
    /// with karma, subscriptions and DMs, communities with members, posts,
    /// threaded comments and votes, a profile with a follower, timelines
    /// (push feeds) and an odd subscription count.
    fn everything() -> Partition {
        let mut p = Partition::new(0, 1, PostClock::new());
        p.set_feeds(Feeds {
            mode: FeedMode::Push,
            ..Feeds::default()
        });
        let c = CommunityId(3);
        let post = PostId {
            community: c,
            seq: 0,
        };
        let ops = [
            Op::Register { user: UserId(1) },
            Op::Register { user: UserId(2) },
            Op::CreateCommunity {
                creator: UserId(1),
                community: c,
            },
            Op::Join {
                user: UserId(2),
                community: c,
            },
            Op::Join {
                user: UserId(2),
                community: CommunityId::profile(UserId(1)),
            },
            Op::CreatePost {
                author: UserId(1),
                community: c,
                body: Body::from(vec![0, 255, 7]),
            },
            Op::CreatePost {
                author: UserId(1),
                community: CommunityId::profile(UserId(1)),
                body: Body::from("hello"),
            },
            Op::Comment {
                author: UserId(2),
                post,
                parent: None,
                body: Body::from("first"),
            },
            Op::Comment {
                author: UserId(1),
                post,
                parent: Some(CommentId { post, seq: 0 }),
                body: Body::from("reply"),
            },
            Op::Vote {
                voter: UserId(2),
                target: Target::Post(post),
                dir: VoteDir::Up,
            },
            Op::Vote {
                voter: UserId(1),
                target: Target::Comment(CommentId { post, seq: 0 }),
                dir: VoteDir::Down,
            },
            Op::SendDm {
                from: UserId(2),
                to: UserId(1),
                body: Body::from("dm"),
            },
        ];
        let mut follow_ups = Vec::new();
        for op in ops {
            assert!(p.apply(op, &mut follow_ups).is_ok());
            for f in follow_ups.drain(..) {
                p.apply_follow_up(f);
            }
        }
        // A duplicated subscription: a count of 2, kept aside.
        p.apply_follow_up(crate::partition::FollowUp::Subscribe {
            user: UserId(2),
            community: c,
        });
        p
    }

    fn reads(p: &mut Partition) -> Vec<crate::api::Response> {
        let mut out = Vec::new();
        let mut follow_ups = Vec::new();
        for user in 0..3 {
            for sort in [Sort::New, Sort::Hot, Sort::Top] {
                let op = Op::GetHomeFeed {
                    user: UserId(user),
                    sort,
                    limit: 10,
                };
                out.push(p.apply(op, &mut follow_ups));
            }
            let inbox = Op::GetInbox {
                user: UserId(user),
                limit: 10,
            };
            out.push(p.apply(inbox, &mut follow_ups));
            out.push(p.apply(Op::GetProfile { user: UserId(user) }, &mut follow_ups));
        }
        let post = Op::GetPost {
            post: PostId {
                community: CommunityId(3),
                seq: 0,
            },
            comments: 10,
        };
        out.push(p.apply(post, &mut follow_ups));
        out
    }

    #[test]
    fn a_restored_partition_has_the_digest_counts_feeds_and_answers_of_the_original() {
        let mut p = everything();
        let mut copy = p.detached_copy();
        assert_eq!(copy.digest(), p.digest());
        assert_eq!(copy.audit(), p.audit());
        assert_eq!(copy.stats().counts, p.stats().counts);
        assert_eq!(copy.feed_stats(), p.feed_stats());
        assert!(p.feed_stats().deliveries > 0, "the fixture pushed nothing");
        assert_eq!(copy.clock.current(), p.clock.current());
        assert_eq!(reads(&mut copy), reads(&mut p));
        // Served from the timelines alike (a lost timeline is pulled: the
        // same answer, but counted as a fallback).
        assert_eq!(copy.feed_stats(), p.feed_stats());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        p.encode_state(&mut a);
        copy.encode_state(&mut b);
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn a_cut_or_padded_state_is_an_error_and_changes_nothing() {
        let p = everything();
        let mut bytes = Vec::new();
        p.encode_state(&mut bytes);
        let mut target = Partition::new(0, 1, PostClock::new());
        let empty = target.digest();
        for cut in 0..bytes.len() {
            assert!(target.restore_state(&bytes[..cut]).is_err(), "cut at {cut}");
            assert_eq!(target.digest(), empty);
        }
        bytes.push(0);
        assert!(target.restore_state(&bytes).is_err());
        bytes.pop();
        assert!(target.restore_state(&bytes).is_ok());
        assert_eq!(target.digest(), p.digest());
    }
}
