//! The client's side of the per-entity audit: an append-only log of the
//! writes the engine acknowledged, each with the ids its op named and the
//! ids its reply gave ([`Acked`]). A client keeps one [`Ledger`] per thread
//! (no shared state); recording an acknowledgement is an amortised push onto
//! a per-kind list of fixed-size chunks ([`AckLog`]).

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

/// Entries per chunk of an [`AckLog`] list: appends never copy what was
/// logged (no doubling), and each list wastes at most one partial chunk.
const CHUNK: usize = 16 * 1024;

/// An append-only list in fixed-size chunks.
#[derive(Clone, Debug)]
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T: Copy> Chunked<T> {
    #[inline]
    fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(v),
            _ => self.grow(v),
        }
    }

    #[cold]
    fn grow(&mut self, v: T) {
        let mut c = Vec::with_capacity(CHUNK);
        c.push(v);
        self.chunks.push(c);
    }

    fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.chunks.iter().flatten().copied()
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum::<usize>() * size_of::<T>()
    }
}

/// A client thread's acknowledged writes, one compact list per kind (the
/// load phase's millions of joins take 8 bytes each, not the size of the
/// largest [`Acked`]). Iterates as [`Acked`] values, grouped by kind.
#[derive(Clone, Debug, Default)]
pub struct AckLog {
    users: Chunked<UserId>,
    pairs: Chunked<(u8, UserId, CommunityId)>,
    posts: Chunked<(UserId, PostId)>,
    comments: Chunked<(UserId, CommentId)>,
    votes: Chunked<(Target, i8)>,
    dms: Chunked<DmId>,
}

const COMMUNITY: u8 = 0;
const JOIN: u8 = 1;
const LEAVE: u8 = 2;

impl AckLog {
    /// Appends one acknowledged write.
    #[inline]
    pub fn push(&mut self, a: Acked) {
        match a {
            Acked::Register(u) => self.users.push(u),
            Acked::Community { creator, community } => {
                self.pairs.push((COMMUNITY, creator, community))
            }
            Acked::Join { user, community } => self.pairs.push((JOIN, user, community)),
            Acked::Leave { user, community } => self.pairs.push((LEAVE, user, community)),
            Acked::Post { author, id } => self.posts.push((author, id)),
            Acked::Comment { author, id } => self.comments.push((author, id)),
            Acked::Vote { target, delta } => self.votes.push((target, delta)),
            Acked::Dm(id) => self.dms.push(id),
        }
    }

    /// Every logged write, grouped by kind (each client's order within a kind).
    pub fn iter(&self) -> impl Iterator<Item = Acked> + '_ {
        let pair = |(tag, user, community)| match tag {
            COMMUNITY => Acked::Community {
                creator: user,
                community,
            },
            JOIN => Acked::Join { user, community },
            _ => Acked::Leave { user, community },
        };
        self.users
            .iter()
            .map(Acked::Register)
            .chain(self.pairs.iter().map(pair))
            .chain(
                self.posts
                    .iter()
                    .map(|(author, id)| Acked::Post { author, id }),
            )
            .chain(
                self.comments
                    .iter()
                    .map(|(author, id)| Acked::Comment { author, id }),
            )
            .chain(
                self.votes
                    .iter()
                    .map(|(target, delta)| Acked::Vote { target, delta }),
            )
            .chain(self.dms.iter().map(Acked::Dm))
    }

    /// Writes logged.
    pub fn len(&self) -> usize {
        self.users.len()
            + self.pairs.len()
            + self.posts.len()
            + self.comments.len()
            + self.votes.len()
            + self.dms.len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the lists hold (their capacity).
    pub fn bytes(&self) -> u64 {
        (self.users.bytes()
            + self.pairs.bytes()
            + self.posts.bytes()
            + self.comments.bytes()
            + self.votes.bytes()
            + self.dms.bytes()) as u64
    }
}

/// One client thread's acknowledged writes: the aggregate [`WriteTally`]
/// and, when `keep_log`, the per-entity log.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Counts and sums of the acknowledged writes.
    pub tally: WriteTally,
    /// Every acknowledged write (empty unless `keep_log`).
    pub log: AckLog,
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
    /// Reads, most of any mix, return here, inlined into the client loop;
    /// the write's bookkeeping is a call of its own.
    #[inline(always)]
    pub fn record(&mut self, pending: Pending, response: &Response) {
        if pending != Pending::Read {
            self.record_write(pending, response);
        }
    }

    /// [`Ledger::record`] of a write.
    #[inline(never)]
    fn record_write(&mut self, pending: Pending, response: &Response) {
        if let Some(a) = pending.acked(response) {
            self.tally.add_acked(&a);
            if self.keep_log {
                self.log.push(a);
            }
        }
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
            l.log.iter().collect::<Vec<_>>(),
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

    #[test]
    fn the_log_keeps_every_write_across_chunks_grouped_by_kind_in_order() {
        let mut log = AckLog::default();
        let n = 2 * CHUNK as u32 + 5;
        for i in 0..n {
            log.push(Acked::Join {
                user: UserId(i),
                community: CommunityId(i % 7),
            });
            if i % 3 == 0 {
                log.push(Acked::Register(UserId(i)));
            }
        }
        assert_eq!(log.len(), (n + n.div_ceil(3)) as usize);
        let all: Vec<Acked> = log.iter().collect();
        // Registrations first (their list), each list in push order.
        let regs: Vec<u32> = all
            .iter()
            .filter_map(|a| match a {
                Acked::Register(u) => Some(u.0),
                _ => None,
            })
            .collect();
        assert_eq!(regs, (0..n).step_by(3).collect::<Vec<_>>());
        assert!(matches!(
            all[regs.len()],
            Acked::Join {
                user: UserId(0),
                ..
            }
        ));
        let last = all.last().copied();
        assert_eq!(
            last,
            Some(Acked::Join {
                user: UserId(n - 1),
                community: CommunityId((n - 1) % 7)
            })
        );
        // Three chunks of joins, one of registrations: no doubling slack.
        let join_bytes = 3 * CHUNK * size_of::<(u8, UserId, CommunityId)>();
        assert_eq!(
            log.bytes() as usize,
            join_bytes + CHUNK * size_of::<UserId>()
        );
    }
}
