//! The client's side of the per-entity audit: an append-only log of the
//! writes the engine acknowledged, each with the ids its op named and the
//! ids its reply gave ([`Acked`]). A client keeps one [`Ledger`] per thread
//! (no shared state); recording an acknowledgement is an amortised push.

use crate::api::{CommentId, CommunityId, DmId, Op, PostId, Reply, Response, Target, UserId};

use super::WriteTally;

/// What a client keeps of a write in flight: the ids of its op that the
/// reply does not repeat. `Copy` and 16 bytes, so it rides in the client's
/// in-flight slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// Not a write: nothing to log.
    Read,
    /// [`Op::Register`].
    Register(UserId),
    /// [`Op::CreateCommunity`].
    Community(UserId, CommunityId),
    /// [`Op::Join`].
    Join(UserId, CommunityId),
    /// [`Op::Leave`].
    Leave(UserId, CommunityId),
    /// [`Op::CreatePost`]: its author.
    Post(UserId),
    /// [`Op::Comment`]: its author.
    Comment(UserId),
    /// [`Op::Vote`]: its target.
    Vote(Target),
    /// [`Op::SendDm`].
    Dm,
}

impl Pending {
    /// What to keep of `op` until its reply.
    #[inline]
    pub fn of(op: &Op) -> Pending {
        match *op {
            Op::Register { user } => Pending::Register(user),
            Op::CreateCommunity { creator, community } => Pending::Community(creator, community),
            Op::Join { user, community } => Pending::Join(user, community),
            Op::Leave { user, community } => Pending::Leave(user, community),
            Op::CreatePost { author, .. } => Pending::Post(author),
            Op::Comment { author, .. } => Pending::Comment(author),
            Op::Vote { target, .. } => Pending::Vote(target),
            Op::SendDm { .. } => Pending::Dm,
            _ => Pending::Read,
        }
    }

    /// The acknowledged write, if `response` acknowledges this one.
    #[inline]
    pub fn acked(self, response: &Response) -> Option<Acked> {
        let Ok(reply) = response else { return None };
        Some(match (self, reply) {
            (Pending::Register(u), Reply::Done) => Acked::Register(u),
            (Pending::Community(creator, community), Reply::Done) => {
                Acked::Community { creator, community }
            }
            (Pending::Join(user, community), Reply::Done) => Acked::Join { user, community },
            (Pending::Leave(user, community), Reply::Done) => Acked::Leave { user, community },
            (Pending::Post(author), Reply::Posted(id)) => Acked::Post { author, id: *id },
            (Pending::Comment(author), Reply::Commented(id)) => Acked::Comment { author, id: *id },
            (Pending::Vote(target), Reply::Voted { delta, .. }) => Acked::Vote {
                target,
                delta: *delta,
            },
            (Pending::Dm, Reply::Sent(id)) => Acked::Dm(*id),
            _ => return None,
        })
    }
}

/// One acknowledged write, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acked {
    /// A user registered.
    Register(UserId),
    /// A community created (its creator its first member).
    Community {
        /// The creator.
        creator: UserId,
        /// The community.
        community: CommunityId,
    },
    /// A join.
    Join {
        /// Who joined.
        user: UserId,
        /// What.
        community: CommunityId,
    },
    /// A leave.
    Leave {
        /// Who left.
        user: UserId,
        /// What.
        community: CommunityId,
    },
    /// A post, with the id the reply gave it.
    Post {
        /// The author.
        author: UserId,
        /// The post.
        id: PostId,
    },
    /// A comment, with the id the reply gave it.
    Comment {
        /// The author.
        author: UserId,
        /// The comment.
        id: CommentId,
    },
    /// A vote and the delta the reply says it applied.
    Vote {
        /// What was voted on.
        target: Target,
        /// New minus previous vote value.
        delta: i8,
    },
    /// A direct message, with the id the reply gave it.
    Dm(DmId),
}

/// One client thread's acknowledged writes: the aggregate [`WriteTally`]
/// and, when `keep_log`, the per-entity log.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Counts and sums of the acknowledged writes.
    pub tally: WriteTally,
    /// Every acknowledged write, in the order this thread saw the replies.
    pub log: Vec<Acked>,
    keep_log: bool,
}

impl Ledger {
    /// An empty ledger; `keep_log` false keeps only the tally (an engine
    /// with no state to check).
    pub fn new(keep_log: bool) -> Ledger {
        Ledger {
            keep_log,
            ..Ledger::default()
        }
    }

    /// Records `response` to the write `pending` if it acknowledges it.
    #[inline]
    pub fn record(&mut self, pending: Pending, response: &Response) {
        if let Some(a) = pending.acked(response) {
            self.tally.add_acked(&a);
            if self.keep_log {
                self.log.push(a);
            }
        }
    }

    /// Bytes the log holds (its capacity), for the run's memory figures.
    pub fn log_bytes(&self) -> u64 {
        (self.log.capacity() * size_of::<Acked>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiError, Body, VoteDir};

    #[test]
    fn writes_are_logged_with_the_ids_of_their_reply_and_refusals_are_not() {
        let post = PostId {
            community: CommunityId(3),
            seq: 7,
        };
        let op = Op::CreatePost {
            author: UserId(1),
            community: CommunityId(3),
            body: Body::from("x"),
        };
        let mut l = Ledger::new(true);
        l.record(Pending::of(&op), &Ok(Reply::Posted(post)));
        l.record(Pending::of(&op), &Err(ApiError::NotMember));
        let vote = Op::Vote {
            voter: UserId(2),
            target: Target::Post(post),
            dir: VoteDir::Down,
        };
        l.record(
            Pending::of(&vote),
            &Ok(Reply::Voted {
                delta: -1,
                score: -1,
            }),
        );
        // A reply of the wrong shape is not an acknowledgement.
        l.record(Pending::of(&vote), &Ok(Reply::Done));
        assert_eq!(
            l.log,
            vec![
                Acked::Post {
                    author: UserId(1),
                    id: post
                },
                Acked::Vote {
                    target: Target::Post(post),
                    delta: -1
                }
            ]
        );
        assert_eq!((l.tally.posts, l.tally.vote_delta_sum), (1, -1));
        let mut tally_only = Ledger::new(false);
        tally_only.record(Pending::of(&op), &Ok(Reply::Posted(post)));
        assert!(tally_only.log.is_empty());
        assert_eq!(tally_only.tally.posts, 1);
        assert!(size_of::<Pending>() <= 20, "{}", size_of::<Pending>());
    }
}
