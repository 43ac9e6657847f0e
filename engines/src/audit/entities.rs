//! The per-entity audit: what each post, user and community holds in the
//! engine ([`Entities`], reported by the partitions after `quiesce`)
//! against what the clients' logs of acknowledged writes say it must hold
//! ([`Expected`], built from every thread's [`Acked`] log, load phase
//! included). Sums can cancel (a lost vote here, a doubled one there); a
//! per-entity check cannot, and it names the entity.
//!
//! Checked: per post its score and comment count; per user their post and
//! comment karma (the author of a voted post or comment is known from the
//! log of its creation), inbox size and subscription count; per community
//! its post count and member count. Cost: one hash-map entry per entity
//! built from the logs (in any order, in one pass), then one lookup per
//! engine record; linear in the state and in the acknowledged writes.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::ledger::Acked;
use crate::api::{CommentId, CommunityId, PostId, Target, UserId};

/// One post as the engine holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostRecord {
    /// The post.
    pub id: PostId,
    /// Its author.
    pub author: UserId,
    /// Its score.
    pub score: i64,
    /// How many comments it has.
    pub comments: u32,
    /// Its stamp (`PostSummary::created`).
    pub created: u64,
}

/// One user's materialised timeline (`--feeds push|hybrid`), for the
/// timeline check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineRecord {
    /// The user.
    pub user: UserId,
    /// The subscriptions the timeline serves (hybrid: the pulled ones left
    /// out), sorted.
    pub sources: Vec<CommunityId>,
    /// (stamp, post), ascending.
    pub entries: Vec<(u64, PostId)>,
    /// Every post of a source stamped above this must be an entry.
    pub floor: u64,
}

/// One registered user as the engine holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The user.
    pub id: UserId,
    /// Post karma.
    pub post_karma: i64,
    /// Comment karma.
    pub comment_karma: i64,
    /// Direct messages received.
    pub inbox: u32,
    /// Subscriptions, each weighted by its count (a correct engine holds
    /// only counts of 1: a doubled follow-up shows as 2).
    pub subscriptions: i64,
}

/// One community (a profile included) as the engine holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommunityRecord {
    /// The community.
    pub id: CommunityId,
    /// Its posts.
    pub posts: u32,
    /// Its members (a profile's owner included).
    pub members: u32,
}

/// Every entity of an engine's state, as its partitions report them.
#[derive(Clone, Debug, Default)]
pub struct Entities {
    /// Registered users.
    pub users: Vec<UserRecord>,
    /// Communities and the profiles of registered users.
    pub communities: Vec<CommunityRecord>,
    /// Posts.
    pub posts: Vec<PostRecord>,
    /// Timelines (push and hybrid feeds only).
    pub timelines: Vec<TimelineRecord>,
}

impl Entities {
    /// Appends another partition's entities.
    pub fn extend(&mut self, o: Entities) {
        self.users.extend(o.users);
        self.communities.extend(o.communities);
        self.posts.extend(o.posts);
        self.timelines.extend(o.timelines);
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct ExpectedPost {
    author: Option<UserId>,
    /// How many acknowledged creations gave this id (more than one: an id
    /// reused after a lost write).
    created: u32,
    score: i64,
    comments: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct ExpectedUser {
    registered: bool,
    post_karma: i64,
    comment_karma: i64,
    inbox: u32,
    subscriptions: i64,
}

#[derive(Clone, Copy, Debug, Default)]
struct ExpectedCommunity {
    created: bool,
    posts: u32,
    members: i64,
}

/// What the state must hold, built from the clients' logs.
#[derive(Debug, Default)]
pub struct Expected {
    users: FxHashMap<UserId, ExpectedUser>,
    communities: FxHashMap<CommunityId, ExpectedCommunity>,
    posts: FxHashMap<PostId, ExpectedPost>,
    /// Each comment's author (once its creation is seen) and score.
    comments: FxHashMap<CommentId, (Option<UserId>, i64)>,
    /// Posts and comments voted on that no log created (their author, and
    /// so the karma they moved, is unknown).
    orphan_votes: u64,
}

impl Expected {
    /// Builds the expected state from every acknowledged write of every
    /// client thread, in any order: scores add up per target, and karma is
    /// derived at the end from each post's and comment's author and score
    /// (a vote may sit in another thread's log than its target's creation).
    pub fn build(writes: impl IntoIterator<Item = Acked>) -> Expected {
        let mut e = Expected::default();
        for a in writes {
            e.add(a);
        }
        e.karma();
        e
    }

    fn add(&mut self, a: Acked) {
        match a {
            Acked::Register(u) => {
                let user = self.users.entry(u).or_default();
                user.registered = true;
                user.subscriptions += 1;
                let profile = self.communities.entry(CommunityId::profile(u)).or_default();
                profile.created = true;
                profile.members += 1;
            }
            Acked::Community { creator, community } => {
                let c = self.communities.entry(community).or_default();
                c.created = true;
                c.members += 1;
                self.users.entry(creator).or_default().subscriptions += 1;
            }
            Acked::Join { user, community } => self.membership(user, community, 1),
            Acked::Leave { user, community } => self.membership(user, community, -1),
            Acked::Post { author, id } => {
                self.communities.entry(id.community).or_default().posts += 1;
                let p = self.posts.entry(id).or_default();
                p.author = Some(author);
                p.created += 1;
            }
            Acked::Comment { author, id } => {
                self.posts.entry(id.post).or_default().comments += 1;
                self.comments.entry(id).or_default().0 = Some(author);
            }
            Acked::Vote { target, delta } => match target {
                Target::Post(id) => self.posts.entry(id).or_default().score += i64::from(delta),
                Target::Comment(id) => self.comments.entry(id).or_default().1 += i64::from(delta),
            },
            Acked::Dm(id) => self.users.entry(id.to).or_default().inbox += 1,
        }
    }

    fn membership(&mut self, user: UserId, community: CommunityId, by: i64) {
        self.communities.entry(community).or_default().members += by;
        self.users.entry(user).or_default().subscriptions += by;
    }

    /// Each author's karma: the scores of their posts and comments.
    fn karma(&mut self) {
        for p in self.posts.values() {
            match p.author {
                Some(a) => self.users.entry(a).or_default().post_karma += p.score,
                None => self.orphan_votes += u64::from(p.score != 0),
            }
        }
        for &(author, score) in self.comments.values() {
            match author {
                Some(a) => self.users.entry(a).or_default().comment_karma += score,
                None => self.orphan_votes += u64::from(score != 0),
            }
        }
    }

    /// Checks the engine's `entities` against this state; every entity that
    /// differs is counted under the check it fails.
    pub fn check(&self, entities: &Entities) -> EntityReport {
        let mut r = EntityReport::default();
        self.check_posts(&entities.posts, &mut r);
        self.check_users(&entities.users, &mut r);
        self.check_communities(&entities.communities, &mut r);
        check_timelines(entities, &mut r);
        r.orphan_votes = self.orphan_votes;
        r
    }

    fn check_posts(&self, posts: &[PostRecord], r: &mut EntityReport) {
        r.posts = posts.len() as u64;
        let mut seen = 0u64;
        for p in posts {
            let e = self.posts.get(&p.id).copied().unwrap_or_default();
            let id = || format!("post {}/{}", p.id.community.0, p.id.seq);
            if e.created > 0 {
                seen += 1;
            } else {
                r.differ("post not acknowledged", id, 1, 0);
            }
            if e.created > 1 {
                r.differ("post id acknowledged twice", id, 1, e.created.into());
            }
            r.differ("post score", id, p.score, e.score);
            r.differ(
                "post comment count",
                id,
                p.comments.into(),
                e.comments.into(),
            );
        }
        let acked = self.posts.values().filter(|e| e.created > 0).count() as u64;
        r.missing("acknowledged post missing", "posts", seen, acked);
    }

    fn check_users(&self, users: &[UserRecord], r: &mut EntityReport) {
        r.users = users.len() as u64;
        let mut seen = 0u64;
        for u in users {
            let e = self.users.get(&u.id).copied().unwrap_or_default();
            let id = || format!("user {}", u.id.0);
            if e.registered {
                seen += 1;
            } else {
                r.differ("user not acknowledged", id, 1, 0);
            }
            r.differ("user post karma", id, u.post_karma, e.post_karma);
            r.differ("user comment karma", id, u.comment_karma, e.comment_karma);
            r.differ("user inbox size", id, u.inbox.into(), e.inbox.into());
            r.differ("user subscriptions", id, u.subscriptions, e.subscriptions);
        }
        let acked = self.users.values().filter(|e| e.registered).count() as u64;
        r.missing("acknowledged user missing", "users", seen, acked);
    }

    fn check_communities(&self, communities: &[CommunityRecord], r: &mut EntityReport) {
        r.communities = communities.len() as u64;
        let mut seen = 0u64;
        for c in communities {
            let e = self.communities.get(&c.id).copied().unwrap_or_default();
            seen += u64::from(e.created);
            let id = || match c.id.profile_owner() {
                Some(owner) => format!("profile of user {}", owner.0),
                None => format!("community {}", c.id.0),
            };
            r.differ("community post count", id, c.posts.into(), e.posts.into());
            r.differ("community member count", id, c.members.into(), e.members);
        }
        let acked = self.communities.values().filter(|e| e.created).count() as u64;
        r.missing("acknowledged community missing", "communities", seen, acked);
    }
}

/// The timeline check (push and hybrid feeds): every post of a timeline's
/// sources stamped above its floor is in it once, and every entry is a
/// post of a source (`partition/timeline.rs` gives the rules). Checked
/// against the engine's own posts, which the post checks have checked
/// against the acknowledged writes.
fn check_timelines(entities: &Entities, r: &mut EntityReport) {
    if entities.timelines.is_empty() {
        return;
    }
    // Each community's post stamps, ascending, with the post's seq.
    let mut by_source: FxHashMap<CommunityId, Vec<(u64, u32)>> = FxHashMap::default();
    for p in &entities.posts {
        by_source
            .entry(p.id.community)
            .or_default()
            .push((p.created, p.id.seq));
    }
    for v in by_source.values_mut() {
        v.sort_unstable();
    }
    for t in &entities.timelines {
        r.timelines += 1;
        let id = || format!("timeline of user {}", t.user.0);
        let mut strays = 0i64;
        let mut dupes = 0i64;
        for (i, &(created, post)) in t.entries.iter().enumerate() {
            let known = t.sources.binary_search(&post.community).is_ok()
                && by_source
                    .get(&post.community)
                    .is_some_and(|v| v.binary_search(&(created, post.seq)).is_ok());
            strays += i64::from(!known);
            dupes += i64::from(i > 0 && t.entries[i - 1] >= (created, post));
        }
        r.differ("timeline entry of no followed post", id, strays, 0);
        r.differ("timeline entry twice or out of order", id, dupes, 0);
        let mut missing = 0i64;
        for source in &t.sources {
            let Some(posts) = by_source.get(source) else {
                continue;
            };
            let above = posts.partition_point(|p| p.0 <= t.floor);
            for &(created, seq) in &posts[above..] {
                let key = (
                    created,
                    PostId {
                        community: *source,
                        seq,
                    },
                );
                missing += i64::from(t.entries.binary_search(&key).is_err());
            }
        }
        r.differ("post missing from a follower's timeline", id, missing, 0);
    }
}

/// One per-entity check that some entities fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntityMismatch {
    /// The check, e.g. `post score`.
    pub what: &'static str,
    /// How many entities fail it.
    pub entities: u64,
    /// The engine's values summed over those entities.
    pub engine: i64,
    /// The expected values summed over them.
    pub expected: i64,
    /// The first entity that failed, with its two values.
    pub example: String,
}

/// The per-entity audit's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntityReport {
    /// Posts the engine reported.
    pub posts: u64,
    /// Registered users the engine reported.
    pub users: u64,
    /// Communities and profiles the engine reported.
    pub communities: u64,
    /// Timelines checked (push and hybrid feeds; 0 when pulling).
    pub timelines: u64,
    /// Posts and comments with acknowledged votes but no logged creation
    /// (their karma could not be attributed; not a failure by itself).
    pub orphan_votes: u64,
    /// The checks that failed.
    pub mismatches: Vec<EntityMismatch>,
}

impl EntityReport {
    /// Whether every entity passed.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// Fails `what` when the engine holds fewer of the acknowledged entities
    /// (`seen`) than the logs acknowledged (`acked`).
    fn missing(&mut self, what: &'static str, all: &str, seen: u64, acked: u64) {
        if acked > seen {
            self.differ(what, || all.to_owned(), seen as i64, acked as i64);
        }
    }

    fn differ(&mut self, what: &'static str, id: impl Fn() -> String, engine: i64, expected: i64) {
        if engine == expected {
            return;
        }
        if let Some(m) = self.mismatches.iter_mut().find(|m| m.what == what) {
            m.entities += 1;
            m.engine += engine;
            m.expected += expected;
            return;
        }
        self.mismatches.push(EntityMismatch {
            what,
            entities: 1,
            engine,
            expected,
            example: format!("{} holds {engine}, expected {expected}", id()),
        });
    }
}

impl fmt::Display for EntityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            return write!(
                f,
                "every entity matches ({} posts, {} users, {} communities)",
                self.posts, self.users, self.communities
            );
        }
        for (i, m) in self.mismatches.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            let s = if m.entities == 1 {
                "y differs"
            } else {
                "ies differ"
            };
            write!(
                f,
                "{sep}{}: {} entit{s} (engine {} vs expected {}; e.g. {})",
                m.what, m.entities, m.engine, m.expected, m.example
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(c: u32, seq: u32) -> PostId {
        PostId {
            community: CommunityId(c),
            seq,
        }
    }

    /// Two users, a community both are in, a post by user 1 voted up by user
    /// 2 in another thread's log before its creation appears, a comment by
    /// user 2 voted down, a DM to user 1.
    fn log() -> Vec<Acked> {
        let (u1, u2, c) = (UserId(1), UserId(2), CommunityId(5));
        let p = post(5, 0);
        let cm = CommentId { post: p, seq: 0 };
        vec![
            Acked::Vote {
                target: Target::Post(p),
                delta: 1,
            },
            Acked::Register(u1),
            Acked::Register(u2),
            Acked::Community {
                creator: u1,
                community: c,
            },
            Acked::Join {
                user: u2,
                community: c,
            },
            Acked::Post { author: u1, id: p },
            Acked::Comment { author: u2, id: cm },
            Acked::Vote {
                target: Target::Comment(cm),
                delta: -1,
            },
            Acked::Dm(crate::api::DmId { to: u1, seq: 0 }),
        ]
    }

    fn state() -> Entities {
        let user = |id, post_karma, comment_karma, inbox| UserRecord {
            id: UserId(id),
            post_karma,
            comment_karma,
            inbox,
            subscriptions: 2,
        };
        let community = |id: CommunityId, posts, members| CommunityRecord { id, posts, members };
        Entities {
            users: vec![user(1, 1, 0, 1), user(2, 0, -1, 0)],
            communities: vec![
                community(CommunityId(5), 1, 2),
                community(CommunityId::profile(UserId(1)), 0, 1),
                community(CommunityId::profile(UserId(2)), 0, 1),
            ],
            posts: vec![PostRecord {
                id: post(5, 0),
                author: UserId(1),
                score: 1,
                comments: 1,
                created: 1,
            }],
            timelines: Vec::new(),
        }
    }

    #[test]
    fn a_state_that_holds_every_acknowledged_write_passes_in_any_log_order() {
        let r = Expected::build(log()).check(&state());
        assert!(r.passed(), "{r}");
        let r = Expected::build(log().into_iter().rev()).check(&state());
        assert!(r.passed(), "{r}");
        assert_eq!((r.posts, r.users, r.communities), (1, 2, 3));
    }

    #[test]
    fn each_difference_is_named_with_its_entity() {
        let mut s = state();
        s.posts[0].score = 0; // the score lost a vote the author's karma kept
        s.users[1].inbox = 1; // a DM that was never acknowledged
        s.communities.pop(); // user 2's profile is gone
        let r = Expected::build(log()).check(&s);
        let what: Vec<&str> = r.mismatches.iter().map(|m| m.what).collect();
        assert_eq!(
            what,
            [
                "post score",
                "user inbox size",
                "acknowledged community missing"
            ],
            "{r}"
        );
        assert_eq!(r.mismatches[0].example, "post 5/0 holds 0, expected 1");
        assert!(r.to_string().contains("user inbox size: 1 entity differs"));
    }
}
