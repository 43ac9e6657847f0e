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
//! built from the logs, then one lookup per engine record; linear in the
//! state and in the acknowledged writes.

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
}

impl Entities {
    /// Appends another partition's entities.
    pub fn extend(&mut self, o: Entities) {
        self.users.extend(o.users);
        self.communities.extend(o.communities);
        self.posts.extend(o.posts);
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
    comment_authors: FxHashMap<CommentId, UserId>,
    /// Votes on posts or comments no log created (their author, and so the
    /// karma they moved, is unknown).
    orphan_votes: u64,
}

impl Expected {
    /// Builds the expected state from every client thread's log. Two passes:
    /// creations first, then votes, because a vote may sit in another
    /// thread's log than the creation of its target.
    pub fn build<'a>(logs: impl Iterator<Item = &'a [Acked]> + Clone) -> Expected {
        let mut e = Expected::default();
        for log in logs.clone() {
            for a in log {
                e.creation(a);
            }
        }
        for log in logs {
            for a in log {
                if let Acked::Vote { target, delta } = *a {
                    e.vote(target, i64::from(delta));
                }
            }
        }
        e
    }

    fn creation(&mut self, a: &Acked) {
        match *a {
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
                self.comment_authors.insert(id, author);
            }
            Acked::Dm(id) => self.users.entry(id.to).or_default().inbox += 1,
            Acked::Vote { .. } => {}
        }
    }

    fn membership(&mut self, user: UserId, community: CommunityId, by: i64) {
        self.communities.entry(community).or_default().members += by;
        self.users.entry(user).or_default().subscriptions += by;
    }

    fn vote(&mut self, target: Target, delta: i64) {
        let author = match target {
            Target::Post(id) => {
                let p = self.posts.entry(id).or_default();
                p.score += delta;
                p.author
            }
            Target::Comment(id) => self.comment_authors.get(&id).copied(),
        };
        let Some(author) = author else {
            self.orphan_votes += 1;
            return;
        };
        let u = self.users.entry(author).or_default();
        match target {
            Target::Post(_) => u.post_karma += delta,
            Target::Comment(_) => u.comment_karma += delta,
        }
    }

    /// Checks the engine's `entities` against this state; every entity that
    /// differs is counted under the check it fails.
    pub fn check(&self, entities: &Entities) -> EntityReport {
        let mut r = EntityReport::default();
        self.check_posts(&entities.posts, &mut r);
        self.check_users(&entities.users, &mut r);
        self.check_communities(&entities.communities, &mut r);
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
        if acked > seen {
            r.differ(
                "acknowledged post missing",
                || "posts".to_owned(),
                seen as i64,
                acked as i64,
            );
        }
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
        if acked > seen {
            r.differ(
                "acknowledged user missing",
                || "users".to_owned(),
                seen as i64,
                acked as i64,
            );
        }
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
        if acked > seen {
            r.differ(
                "acknowledged community missing",
                || "communities".to_owned(),
                seen as i64,
                acked as i64,
            );
        }
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
    /// Acknowledged votes on targets no log created (their karma could not
    /// be attributed; not a failure by itself).
    pub orphan_votes: u64,
    /// The checks that failed.
    pub mismatches: Vec<EntityMismatch>,
}

impl EntityReport {
    /// Whether every entity passed.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
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
