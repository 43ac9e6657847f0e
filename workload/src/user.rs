//! A simulated user: a small state machine that remembers what the engine
//! last showed it, and the token that carries an op's identity to its reply.
//!
//! # Memory per user (64 bytes, one cache line, plus 8)
//! A user keeps its own random stream and a fixed ring of what it saw: 4
//! posts, 1 comment, 1 author, the last community it joined, all in one
//! 64-byte-aligned cache line, so an op touches one line of user state (the
//! 2 DM senders it remembers from its last inbox live in a separate array of
//! 8 bytes per user, touched only by inbox reads and DM replies). 1,000,000
//! users take 72 MB; users are stored in activity order, so the busiest
//! users' lines sit together and stay in cache. The alternative, one
//! "recently seen" buffer shared by a client thread's users, would take a
//! few KB, but then users would act on posts other users saw, not on what
//! they last saw themselves.
//!
//! # The user's stream
//! SplitMix64 (rand_xoshiro's, 8 bytes of state, seeded from (seed, user
//! id)) rather than Xoshiro256++ (32 bytes, which made the state two cache
//! lines). SplitMix64 passes BigCrush; its 2^64 period is one cycle on which
//! users start at hashed points, so two users' streams would overlap only
//! after ~2^64 / users^2 draws, far beyond any run.
//!
//! # Feed positions
//! A feed reply of length `L` is not stored whole: the user draws the 4
//! positions it will act on later, Zipf over `0..L` (exact tables per
//! length), and keeps those posts. An action then takes one of the 4 slots
//! uniformly, so the position it acts on is exactly Zipf over the whole feed
//! while the state stays 32 bytes.

use rand_xoshiro::SplitMix64;
use socialbench_engines::{CommentId, CommunityId, PostId, UserId};

use crate::Role;
use crate::scenario::{Action, InvalidKind};

/// Posts a user remembers from its last feed.
pub const SEEN_POSTS: usize = 4;

/// DM senders a user remembers from its last inbox.
pub const SEEN_SENDERS: usize = 2;

/// No user / no community in a `u32` slot.
pub(crate) const NONE: u32 = u32::MAX;

/// One simulated user's state: exactly one cache line.
#[derive(Clone, Debug)]
#[repr(align(64))]
pub(crate) struct UserState {
    pub(crate) rng: SplitMix64,
    pub(crate) seen: [PostId; SEEN_POSTS],
    pub(crate) comment: CommentId,
    /// A community joined or created during the run (a member since its ack).
    pub(crate) joined: u32,
    /// Author of a post seen in the last feed.
    pub(crate) author: u32,
    pub(crate) seen_len: u8,
    pub(crate) has_comment: bool,
    pub(crate) role: Role,
}

/// The DM senders a user remembers (kept apart from [`UserState`]).
pub(crate) type Senders = [u32; SEEN_SENDERS];

/// No sender remembered.
pub(crate) const NO_SENDERS: Senders = [NONE; SEEN_SENDERS];

const NO_POST: PostId = PostId {
    community: CommunityId(0),
    seq: 0,
};

impl UserState {
    pub(crate) fn new(rng: SplitMix64, role: Role) -> Self {
        UserState {
            rng,
            seen: [NO_POST; SEEN_POSTS],
            comment: CommentId {
                post: NO_POST,
                seq: 0,
            },
            joined: NONE,
            author: NONE,
            seen_len: 0,
            has_comment: false,
            role,
        }
    }

    /// A remembered post, slot picked by `bits`.
    #[inline]
    pub(crate) fn seen_post(&self, bits: u64) -> Option<PostId> {
        (self.seen_len > 0).then(|| self.seen[((bits >> 32) as usize * SEEN_POSTS) >> 32])
    }

    /// A remembered post, slot drawn from the user's stream.
    #[inline]
    pub(crate) fn pick_post(&mut self) -> Option<PostId> {
        let bits = rand::Rng::next_u64(&mut self.rng);
        self.seen_post(bits)
    }

    /// A remembered DM sender of `senders`, slot drawn from the user's stream.
    #[inline]
    pub(crate) fn pick_sender(&mut self, senders: &Senders) -> Option<UserId> {
        let bits = rand::Rng::next_u64(&mut self.rng);
        sender(senders, bits)
    }
}

/// A remembered DM sender, slot picked by `bits`.
#[inline]
pub(crate) fn sender(senders: &Senders, bits: u64) -> Option<UserId> {
    let s = senders[(bits >> 63) as usize];
    let s = if s == NONE { senders[0] } else { s };
    (s != NONE).then_some(UserId(s))
}

/// What an op asked, as its token records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Asked {
    /// An ordinary action.
    Action(Action),
    /// A deliberately invalid request.
    Invalid(InvalidKind),
}

/// Token layout: bits 0..5 what was asked (actions, then invalid kinds
/// from `Action::COUNT` on), bits 5..36 the user's index in its client thread, bits 36..64 a
/// sequence number (used to match a join's reply to its community).
pub(crate) mod token {
    use super::*;

    const ASK_BITS: u32 = 5;
    const USER_BITS: u32 = 31;
    const INVALID_BASE: u8 = Action::COUNT as u8;
    const _: () = assert!(
        Action::COUNT + InvalidKind::COUNT <= 1 << ASK_BITS,
        "what an op asked must fit the token's ASK_BITS"
    );

    pub(crate) fn encode(local: u32, asked: Asked, seq: u32) -> u64 {
        let a = match asked {
            Asked::Action(a) => a as u8,
            Asked::Invalid(k) => INVALID_BASE + k as u8,
        };
        a as u64 | (local as u64) << ASK_BITS | (seq as u64) << (ASK_BITS + USER_BITS)
    }

    pub(crate) fn local(token: u64) -> u32 {
        ((token >> ASK_BITS) & ((1 << USER_BITS) - 1)) as u32
    }

    pub(crate) fn seq(token: u64) -> u32 {
        (token >> (ASK_BITS + USER_BITS)) as u32
    }

    /// The code of what was asked: an action's index, or `INVALID_BASE`
    /// plus an invalid kind's.
    #[inline(always)]
    fn ask_code(token: u64) -> u8 {
        (token & ((1 << ASK_BITS) - 1)) as u8
    }

    pub(crate) fn asked(token: u64) -> Option<Asked> {
        let a = ask_code(token);
        if a < INVALID_BASE {
            Action::ALL.get(a as usize).map(|&a| Asked::Action(a))
        } else {
            InvalidKind::ALL
                .get((a - INVALID_BASE) as usize)
                .map(|&k| Asked::Invalid(k))
        }
    }

    /// Whether the token's op was a join or a community's creation (a
    /// valid one: what [`asked`] reads as `Action::Join` or
    /// `Action::CreateCommunity`).
    #[inline(always)]
    pub(crate) fn is_join(token: u64) -> bool {
        let a = ask_code(token);
        a == Action::Join as u8 || a == Action::CreateCommunity as u8
    }

    /// Largest sequence number a token carries (28 bits).
    pub(crate) const SEQ_MASK: u32 = (1 << (64 - ASK_BITS - USER_BITS)) - 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for (local, asked, seq) in [
            (0, Asked::Action(Action::HomeFeed), 0),
            (
                (1 << 30) + 5,
                Asked::Invalid(InvalidKind::ForeignProfile),
                token::SEQ_MASK,
            ),
            (77, Asked::Action(Action::Follow), 12345),
        ] {
            let t = token::encode(local, asked, seq);
            assert_eq!(token::local(t), local);
            assert_eq!(token::asked(t), Some(asked));
            assert_eq!(token::seq(t), seq);
        }
    }

    #[test]
    fn user_state_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<UserState>(), 64);
        assert_eq!(std::mem::align_of::<UserState>(), 64);
    }
}
