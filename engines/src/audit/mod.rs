//! The audit: the aggregates an engine reports after `quiesce()` (entity
//! counts, score and karma sums, membership and subscription digests), the
//! tallies a client keeps of its acknowledged writes, and the check between
//! the two that fails a run when a write was lost or duplicated; and, entity
//! by entity, the same check against the clients' logs ([`entities`],
//! [`ledger`]).

pub mod entities;
pub mod ledger;

pub use entities::{
    CommunityRecord, Entities, EntityMismatch, EntityReport, Expected, PostRecord, TimelineRecord,
    UserRecord,
};
pub use ledger::{AckLog, Acked, Ledger, Pending};

use std::fmt;

use serde::Serialize;

use crate::api::{CommunityId, Op, Response, UserId};

/// Mixes a (user, community) pair into 64 bits; membership and subscription
/// digests are wrapping sums of it, so they are independent of order.
pub fn pair_digest(user: UserId, community: CommunityId) -> u64 {
    mix64(((user.0 as u64) << 32) | community.0 as u64)
}

/// A strong 64-bit finalizer (splitmix64's), used for order-independent digests.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What an engine's state adds up to. Partitions report theirs; an engine
/// merges them with [`Audit::add`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// Registered users.
    pub users: u64,
    /// Ordinary communities.
    pub communities: u64,
    /// Posts.
    pub posts: u64,
    /// Comments.
    pub comments: u64,
    /// Direct messages.
    pub dms: u64,
    /// Sum of the scores of all posts and comments.
    pub score_sum: i64,
    /// Sum of every user's post karma plus comment karma.
    pub karma_sum: i64,
    /// (user, community) pairs as the communities see them.
    pub memberships: u64,
    /// Wrapping sum of [`pair_digest`] over memberships.
    pub membership_digest: u64,
    /// (user, community) pairs as the users see them.
    pub subscriptions: u64,
    /// Wrapping sum of [`pair_digest`] over subscriptions.
    pub subscription_digest: u64,
    /// Backups gone, or whose state (digest) differs from their primary's,
    /// once quiesced (0 without replication).
    pub replicas_diverged: u64,
}

impl Audit {
    /// Adds another partition's aggregates.
    pub fn add(&mut self, o: &Audit) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.score_sum += o.score_sum;
        self.karma_sum += o.karma_sum;
        self.memberships += o.memberships;
        self.membership_digest = self.membership_digest.wrapping_add(o.membership_digest);
        self.subscriptions += o.subscriptions;
        self.subscription_digest = self.subscription_digest.wrapping_add(o.subscription_digest);
        self.replicas_diverged += o.replicas_diverged;
    }

    /// Checks the state against itself (karma mirrors scores, subscriptions
    /// mirror memberships) and against the acknowledged writes in `tally`.
    pub fn check(&self, tally: &WriteTally) -> Result<(), AuditFailure> {
        let mut m = Vec::new();
        let mut eq = |what: &'static str, engine: i128, expected: i128| {
            if engine != expected {
                m.push(Mismatch {
                    what,
                    engine,
                    expected,
                });
            }
        };
        eq("users", self.users as i128, tally.users as i128);
        eq(
            "communities",
            self.communities as i128,
            tally.communities as i128,
        );
        eq("posts", self.posts as i128, tally.posts as i128);
        eq("comments", self.comments as i128, tally.comments as i128);
        eq("dms", self.dms as i128, tally.dms as i128);
        eq(
            SCORE_SUM,
            self.score_sum as i128,
            tally.vote_delta_sum as i128,
        );
        eq(
            "karma sum (vs score sum)",
            self.karma_sum as i128,
            self.score_sum as i128,
        );
        eq(
            "memberships",
            self.memberships as i128,
            tally.expected_memberships(),
        );
        eq(
            "subscriptions (vs memberships)",
            self.subscriptions as i128,
            self.memberships as i128,
        );
        eq(
            "subscription digest (vs membership digest)",
            self.subscription_digest as i128,
            self.membership_digest as i128,
        );
        eq(
            "backups gone or whose state differs from their primary's",
            self.replicas_diverged as i128,
            0,
        );
        if m.is_empty() {
            Ok(())
        } else {
            Err(AuditFailure {
                mismatches: m,
                entities: Vec::new(),
            })
        }
    }
}

/// One aggregate that disagrees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Which aggregate.
    pub what: &'static str,
    /// What the engine holds.
    pub engine: i128,
    /// What it should hold.
    pub expected: i128,
}

/// The label of the score sum's mismatch: a lost or extra vote shows there.
const SCORE_SUM: &str = "score sum (vs acknowledged vote deltas)";

impl Mismatch {
    /// The acknowledged writes this mismatch shows lost, with the word for
    /// their kind, if a lost write makes it: an entity count that lacks
    /// some, memberships (a lost join, or one a lost leave left), or the
    /// score sum (a vote, which moves it by at most 2). `None` for the mismatches that only
    /// follow from others (karma, subscriptions, digests, backups).
    pub fn lost_writes(&self) -> Option<(&'static str, u128)> {
        let diff = (self.expected - self.engine).unsigned_abs();
        match self.what {
            "users" | "communities" | "posts" | "comments" | "dms"
                if self.engine < self.expected =>
            {
                Some((self.what, diff))
            }
            "memberships" => Some((self.what, diff)),
            SCORE_SUM => Some(("votes", diff.div_ceil(2))),
            _ => None,
        }
    }

    /// The writes this mismatch shows applied without an acknowledgement:
    /// more entities of a kind than were acknowledged. `None` for the other
    /// mismatches.
    pub fn extra_writes(&self) -> Option<(&'static str, u128)> {
        match self.what {
            "users" | "communities" | "posts" | "comments" | "dms"
                if self.engine > self.expected =>
            {
                Some((self.what, (self.engine - self.expected).unsigned_abs()))
            }
            _ => None,
        }
    }
}

/// The audit failed: what was lost or duplicated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct AuditFailure {
    /// Every aggregate that disagrees.
    pub mismatches: Vec<Mismatch>,
    /// Every per-entity check that some entities fail ([`entities`]).
    pub entities: Vec<EntityMismatch>,
}

impl AuditFailure {
    /// The verdict of both audits: the aggregates' (`aggregate`) and, when
    /// the engine reported its entities, the per-entity one.
    pub fn combine(
        aggregate: Result<(), AuditFailure>,
        entities: Option<&EntityReport>,
    ) -> Result<(), AuditFailure> {
        let mut f = aggregate.err().unwrap_or(AuditFailure {
            mismatches: Vec::new(),
            entities: Vec::new(),
        });
        if let Some(r) = entities {
            f.entities = r.mismatches.clone();
        }
        if f.mismatches.is_empty() && f.entities.is_empty() {
            Ok(())
        } else {
            Err(f)
        }
    }
}

impl AuditFailure {
    /// What disagrees, without the failure's heading: each aggregate, then
    /// the per-entity report (what a verdict that allows the differences
    /// prints).
    pub fn differences(&self) -> impl fmt::Display + '_ {
        Differences(self)
    }
}

/// [`AuditFailure::differences`].
struct Differences<'a>(&'a AuditFailure);

impl fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit failed: {}", self.differences())
    }
}

impl fmt::Display for Differences<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failure = self.0;
        for (i, m) in failure.mismatches.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            let diff = m.engine - m.expected;
            let word = if diff < 0 { "missing" } else { "extra" };
            write!(
                f,
                "{sep}{} is {} but should be {} ({} {word})",
                m.what,
                m.engine,
                m.expected,
                diff.abs()
            )?;
        }
        if !failure.entities.is_empty() {
            let report = EntityReport {
                mismatches: failure.entities.clone(),
                ..EntityReport::default()
            };
            let sep = if failure.mismatches.is_empty() {
                ""
            } else {
                "; "
            };
            write!(f, "{sep}per entity: {report}")?;
        }
        Ok(())
    }
}

/// Acknowledged writes, tallied by a client as replies arrive (a few adds per
/// reply, no allocation). Tallies of several threads merge with [`WriteTally::add`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteTally {
    /// Acknowledged Register.
    pub users: u64,
    /// Acknowledged CreateCommunity.
    pub communities: u64,
    /// Acknowledged CreatePost.
    pub posts: u64,
    /// Acknowledged Comment.
    pub comments: u64,
    /// Acknowledged SendDm.
    pub dms: u64,
    /// Sum of the deltas of acknowledged votes.
    pub vote_delta_sum: i64,
    /// Acknowledged Join.
    pub joins: u64,
    /// Acknowledged Leave.
    pub leaves: u64,
}

impl WriteTally {
    /// Counts one acknowledged write from a client's log.
    #[inline]
    pub fn add_acked(&mut self, a: &Acked) {
        match a {
            Acked::Register(_) => self.users += 1,
            Acked::Community { .. } => self.communities += 1,
            Acked::Join { .. } => self.joins += 1,
            Acked::Leave { .. } => self.leaves += 1,
            Acked::Post { .. } => self.posts += 1,
            Acked::Comment { .. } => self.comments += 1,
            Acked::Vote { delta, .. } => self.vote_delta_sum += *delta as i64,
            Acked::Dm(_) => self.dms += 1,
        }
    }

    /// Counts `response` to `op` if it acknowledges a write (the same
    /// decision as the client's [`Ledger`], through [`Pending::acked`]).
    pub fn record_op(&mut self, op: &Op, response: &Response) {
        if let Some(a) = Pending::of(op).acked(response) {
            self.add_acked(&a);
        }
    }

    /// Adds another thread's tally.
    pub fn add(&mut self, o: &WriteTally) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.vote_delta_sum += o.vote_delta_sum;
        self.joins += o.joins;
        self.leaves += o.leaves;
    }

    /// Memberships the state must hold: each user is a member of their own
    /// profile, each creator of their community, plus joins minus leaves.
    pub fn expected_memberships(&self) -> i128 {
        self.users as i128 + self.communities as i128 + self.joins as i128 - self.leaves as i128
    }
}
