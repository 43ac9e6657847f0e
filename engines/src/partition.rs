//! The partition: the single-threaded state machine of one slice of the world
//! (DESIGN section 3). Written once, run by every engine, so engines differ
//! only in how they run partitions concurrently.
//!
//! SKELETON: signatures are the contract between the partition and the
//! engines; bodies are being written.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::{ApiError, CommunityId, Op, PostSummary, Response, Sort, UserId};
use crate::audit::Audit;
use crate::engine::PartitionStats;
use crate::placement;

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

/// One slice of the social state.
#[derive(Debug)]
pub struct Partition {
    index: usize,
    count: usize,
    clock: Arc<PostClock>,
}

impl Partition {
    /// Partition `index` of `count`, stamping posts with `clock` (shared by
    /// the engine's partitions).
    pub fn new(index: usize, count: usize, clock: Arc<PostClock>) -> Self {
        Partition {
            index,
            count,
            clock,
        }
    }

    /// This partition's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Applies `op`, whose home entity lives here, atomically. Cross-partition
    /// effects are pushed onto `follow_ups` (also those whose target is this
    /// partition: the engine routes every follow-up, local or not). A refused
    /// op changes nothing and pushes nothing.
    ///
    /// `GetHomeFeed` is answered from this partition's communities only, which
    /// is the whole answer when `count == 1`; engines with more partitions use
    /// [`Partition::home_feed_subscriptions`], [`Partition::feed_part`] and
    /// [`merge_feed`] instead.
    pub fn apply(&mut self, op: Op, follow_ups: &mut Vec<crate::partition::FollowUp>) -> Response {
        let _ = (op, follow_ups, &self.clock, self.count);
        unimplemented!("partition body pending")
    }

    /// Applies a follow-up addressed to this partition.
    pub fn apply_follow_up(&mut self, follow_up: FollowUp) {
        let _ = follow_up;
        unimplemented!("partition body pending")
    }

    /// First half of a home feed: validates `limit` ([`ApiError::BadLimit`])
    /// and the user ([`ApiError::UnknownUser`]), then returns the user's
    /// subscriptions (any order; own profile included).
    pub fn home_feed_subscriptions(
        &self,
        user: UserId,
        limit: u16,
    ) -> Result<&[CommunityId], ApiError> {
        let _ = (user, limit);
        unimplemented!("partition body pending")
    }

    /// Second half: appends to `out` the best `limit` posts (by `sort`) of
    /// each listed community that lives here; unknown communities are skipped.
    pub fn feed_part(
        &self,
        communities: &[CommunityId],
        sort: Sort,
        limit: u16,
        out: &mut Vec<PostSummary>,
    ) {
        let _ = (communities, sort, limit, out);
        unimplemented!("partition body pending")
    }

    /// Counts and approximate bytes.
    pub fn stats(&self) -> PartitionStats {
        unimplemented!("partition body pending")
    }

    /// Aggregates for the audit.
    pub fn audit(&self) -> Audit {
        unimplemented!("partition body pending")
    }

    /// Order-independent digest of this partition's state; the engine's digest
    /// is the wrapping sum over partitions, equal for any partitioning.
    pub fn digest(&self) -> u64 {
        unimplemented!("partition body pending")
    }
}

/// Last step of a home feed: orders `candidates` best-first by `sort`
/// (ties broken by `created`, newer first, so the order is total) and keeps `limit`.
pub fn merge_feed(candidates: &mut Vec<PostSummary>, sort: Sort, limit: u16) {
    let _ = (candidates, sort, limit);
    unimplemented!("partition body pending")
}
