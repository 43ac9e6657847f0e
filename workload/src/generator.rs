//! A client thread's simulated users turning into ops, and replies turning
//! back into what those users remember.
//!
//! `next_op` picks the acting user by Zipf over user activity, lets that
//! user's own random stream pick an action from its role's mix, and builds
//! the op from what the user remembers. It is O(1) and allocates nothing but
//! a body's bytes.
//!
//! # Activity
//! A user's activity rank is its id: user 0 is the most active. Nothing else
//! keys on the id in a way that correlates with activity: placement hashes
//! ids, roles and memberships hash them, popularity ranks are a shuffle of
//! them and community creators are picked through a shuffle. Client thread
//! `t` of `T` simulates users `t, t + T, ...` (ranks `t, t + T, ...`, the
//! most even split there is) in rank order, so the busiest users' states sit
//! together in a few cache lines, and draws the acting user from the exact
//! conditional Zipf law of its ranks with a [`StridedZipf`], whose tables
//! fit in L1 (an alias table over a million users misses the cache on every
//! op: commit 8705712). Each thread issues ops at its own pace, so the
//! global law is the equal mixture of the threads' laws, not exactly Zipf
//! over all users: with 2 threads, thread 0 holds 52% of the Zipf mass at
//! s = 1 and 1M users and still issues half of the ops.
//!
//! Several ops of one user may be in flight at once: nothing waits for a
//! reply. A user acts on what earlier replies showed it; an action whose
//! prerequisite is missing (a vote with no post seen yet) falls back to a
//! read that provides it (the scenario's first feed read; the inbox for a DM
//! reply). Replies update the user whenever they arrive, in any order.
//!
//! Determinism: the ops depend on the seed, the thread count and the order
//! replies are fed back; with one op in flight they depend on the seed and
//! the thread count only.

use std::io::Write as _;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};
use socialbench_engines::{
    ApiError, Body, CommentId, CommunityId, MAX_BODY_LEN, Op, PostId, Reply, Response, Target,
    UserId, VoteDir,
};

use crate::hint::prefetch;
use crate::load::{hash3, salt, stream, unit};
use crate::scenario::{Action, InvalidKind};
use crate::user::{Asked, NO_SENDERS, NONE, Senders, UserState, token};
use crate::zipf::StridedZipf;
use crate::{Role, Tables};

/// Share of votes that go to a remembered comment rather than a post.
const VOTE_COMMENT_SHARE: f64 = 0.3;
/// Vote directions: reddit's up/down ratio is strongly positive; a few votes
/// are withdrawn. Up below the first cut, down below the second, else clear.
const VOTE_CUTS: [f64; 2] = [0.75, 0.95];
/// Share of profile reads, DMs and look-ups aimed at a friend (followed at
/// load) when the user has some; the rest go to a popular user.
const FRIEND_SHARE: f64 = 0.7;
/// Draws before giving up on finding a community or user not yet joined.
const FRESH_TRIES: usize = 4;
/// How many ops ahead the acting user is drawn.
const AHEAD: usize = 16;
/// How many ops ahead the acting user's state is prefetched.
const PREFETCH_AHEAD: usize = 8;
/// Joins remembered while in flight (a join's reply does not name the community).
const PENDING: usize = 64;

/// One client thread's simulated users.
#[derive(Debug)]
pub struct Generator {
    tables: Arc<Tables>,
    /// Global id of local user `i` is `base + i * stride`.
    base: u32,
    stride: u32,
    /// Picks which user acts.
    rng: Xoshiro256PlusPlus,
    activity: StridedZipf,
    /// The users who act in the next [`AHEAD`] ops, drawn ahead (see
    /// `next_op`); `ahead[cursor]` acts next.
    ahead: [u32; AHEAD],
    cursor: usize,
    /// Local user `i`'s state (in activity order).
    users: Vec<UserState>,
    /// Local user `i`'s remembered DM senders.
    senders: Vec<Senders>,
    /// Next id for a community created in the run: `communities + thread + k * threads`.
    next_community: u32,
    /// Sequence number of the next join-like op, and the communities in flight.
    seq: u32,
    pending: [(u32, u32); PENDING],
}

/// Where [`Generator::next_op_with`] hands each op with its token. A
/// closure `FnOnce(u64, Op) -> R` is one; a hot loop implements it on a
/// small struct with an `#[inline(always)]` [`OpSink::take`], which is
/// inlined at every hand-over site however large the loop around it grows
/// (a closure's body is left to the optimiser's inlining budget: a call per
/// op, measured in the commit that introduced this trait).
pub trait OpSink {
    /// What [`OpSink::take`] returns.
    type Out;
    /// Takes the op `op` and its token.
    fn take(self, token: u64, op: Op) -> Self::Out;
}

impl<R, F: FnOnce(u64, Op) -> R> OpSink for F {
    type Out = R;
    #[inline(always)]
    fn take(self, token: u64, op: Op) -> R {
        self(token, op)
    }
}

impl Generator {
    pub(crate) fn new(tables: Arc<Tables>, seed: u64, thread: usize, threads: usize) -> Generator {
        let threads = threads.max(1) as u32;
        let thread = (thread % threads as usize) as u32;
        let n = tables.plan.users;
        let (base, stride, count) = if thread < n {
            (thread, threads, (n - thread).div_ceil(threads))
        } else {
            (thread % n, 1, 1)
        };
        // Activity rank = user id (see the module docs): this thread owns
        // ranks `base, base + stride, ...`, local index `i` is rank
        // `base + i * stride`, and the law over local indices is the exact
        // conditional Zipf law of those ranks.
        let activity = StridedZipf::new(count, stride, base, tables.user_activity)
            .or_else(|_| StridedZipf::new(count, stride, base, 0.0))
            .unwrap_or_else(|_| unreachable!("validated scenario: ranks fit u32, s finite"));
        let users = (0..count)
            .map(|i| {
                let u = base + i * stride;
                UserState::new(
                    SplitMix64::seed_from_u64(hash3(seed, salt::USER, u as u64)),
                    tables.plan.role_of(UserId(u)),
                )
            })
            .collect();
        let mut rng = stream(seed ^ (threads as u64) << 32, salt::THREAD, thread as u64);
        let ahead = std::array::from_fn(|_| activity.sample(&mut rng));
        Generator {
            next_community: tables.plan.communities + thread,
            rng,
            ahead,
            cursor: 0,
            tables,
            base,
            stride,
            activity,
            users,
            senders: vec![NO_SENDERS; count as usize],
            seq: 0,
            pending: [(NONE, NONE); PENDING],
        }
    }

    /// Number of users this generator simulates.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Approximate heap bytes of this generator (users and activity table).
    pub fn bytes(&self) -> usize {
        self.users.len() * std::mem::size_of::<UserState>()
            + self.senders.len() * std::mem::size_of::<Senders>()
            + self.activity.bytes()
    }

    #[inline]
    fn global(&self, local: u32) -> UserId {
        UserId(self.base + local * self.stride)
    }

    /// The user who acts in the op `token` came with.
    pub fn user_of(&self, token: u64) -> UserId {
        self.global(token::local(token))
    }

    /// The role of the user who acts in the op `token` came with.
    pub fn role_of(&self, token: u64) -> Role {
        self.users
            .get(token::local(token) as usize)
            .map_or(Role::Lurker, |u| u.role)
    }

    /// What the op `token` came with asked (`None` for a foreign token).
    pub fn asked(&self, token: u64) -> Option<Asked> {
        token::asked(token)
    }

    /// Whether the op `token` came with was deliberately invalid (its error
    /// is expected).
    /// The token alone says it, so no generator is needed (a caller may hold
    /// it mutably borrowed).
    pub fn is_invalid(token: u64) -> bool {
        matches!(token::asked(token), Some(Asked::Invalid(_)))
    }

    /// The next op and a token to hand back with its reply.
    #[inline]
    pub fn next_op(&mut self) -> (u64, Op) {
        self.next_op_with(|token, op| (token, op))
    }

    /// Generates the next op and hands it, with its token, to `consume` (a
    /// closure or any [`OpSink`]), returning what that returns. The same op
    /// stream as [`Generator::next_op`]; for a hot loop that submits the op
    /// at once, this spares returning it through the stack (an `Op` is built
    /// with narrow stores, and copying it out with wide loads stalls on
    /// store forwarding).
    #[inline(always)]
    pub fn next_op_with<C: OpSink>(&mut self, consume: C) -> C::Out {
        // Software pipelining in two stages: the user who acts in
        // [`AHEAD`] ops is drawn now, and the one who acts in
        // [`PREFETCH_AHEAD`] ops (drawn a few ops ago, so its address is
        // ready) has its state, memberships and follow list prefetched, so
        // that a cold user's cache misses overlap this op's work instead of
        // stalling the next ops (a plain load would stall retirement for the
        // whole miss, see [`crate::hint`]; profile in commit 64802f2). A
        // prefetch of the user just drawn waited for the draw's chain of
        // dependent loads and held up retirement behind it. The thread's
        // stream is used for nothing else and op `k` still acts with the
        // `k`-th draw, so the ops are the same as without the pipelining.
        let slot = self.cursor;
        self.cursor = (slot + 1) % AHEAD;
        let local = self.ahead[slot];
        self.ahead[slot] = self.activity.sample(&mut self.rng);
        let soon = self.ahead[(slot + PREFETCH_AHEAD) % AHEAD];
        if let Some(st) = self.users.get(soon as usize) {
            prefetch(st);
            self.tables.plan.prefetch(self.global(soon));
        }
        let user = self.global(local);
        let t = &*self.tables;
        let st = &mut self.users[local as usize];
        let senders = &mut self.senders[local as usize];
        let bits = st.rng.next_u64();
        if bits < t.invalid_below
            && let Some(kinds) = &t.invalid_kinds
        {
            let kind = InvalidKind::ALL[kinds.sample(&mut st.rng) as usize];
            let (kind, op) = invalid_op(t, st, user, kind);
            return consume.take(token::encode(local, Asked::Invalid(kind), 0), op);
        }
        let action = match &t.actions[st.role as usize] {
            Some(table) => Action::ALL[table.sample(&mut st.rng) as usize],
            None => t.discover,
        };
        let mut b = Builder {
            t,
            st,
            senders,
            user,
            next_community: &mut self.next_community,
            stride: self.stride,
        };
        let h = Handover {
            seq: &mut self.seq,
            pending: &mut self.pending,
            local,
            consume,
        };
        // The usual case inlined, the fallbacks out of line. Each arm of
        // `act` hands its op to `consume` itself, so the op is built where
        // `consume` takes it: no arm writes it to a slot that a common tail
        // then reads back. That merge was the loop's costliest instruction:
        // the op's narrow stores read back by wide loads stall on store
        // forwarding (docs/profile-2026-12-02.md); and with the op's
        // variant known in each arm, what `consume` asks of it (its kind,
        // whether it writes, its drop) folds to constants.
        match b.act(action, h) {
            Ok(out) => out,
            Err(h) => b.fallback(action, h),
        }
    }

    /// Feeds the reply to the op `token` came with back to its user. Foreign
    /// tokens are ignored.
    ///
    /// A bare `Done` teaches a user something only after a join (the
    /// community it is now a member of); every other `Done` (all of the
    /// null engine's replies, and every write's) returns here, inlined in
    /// the caller's loop, without the call and the token's decoding.
    #[inline(always)]
    pub fn on_reply(&mut self, token: u64, response: &Response) {
        if matches!(response, Ok(Reply::Done)) && !token::is_join(token) {
            return;
        }
        self.learn(token, response);
    }

    /// [`Generator::on_reply`] past its filter.
    #[inline(never)]
    fn learn(&mut self, token: u64, response: &Response) {
        let local = token::local(token) as usize;
        let Some(Asked::Action(action)) = token::asked(token) else {
            return;
        };
        let t = &*self.tables;
        let Some(st) = self.users.get_mut(local) else {
            return;
        };
        match (action, response) {
            (
                Action::HomeFeed | Action::CommunityFeed | Action::ProfileFeed,
                Ok(Reply::Feed(posts)),
            ) if !posts.is_empty() => {
                let table = &t.positions[posts.len().min(t.positions.len()) - 1];
                for slot in 0..st.seen.len() {
                    let p = &posts[table.sample(&mut st.rng) as usize];
                    st.seen[slot] = p.id;
                    if slot == 0 {
                        st.author = p.author.0;
                    }
                }
                st.seen_len = st.seen.len() as u8;
            }
            (Action::ReadPost, Ok(Reply::Post(view))) if !view.top_comments.is_empty() => {
                let n = view.top_comments.len().min(t.positions.len());
                let i = t.positions[n - 1].sample(&mut st.rng) as usize;
                st.comment = view.top_comments[i].id;
                st.has_comment = true;
            }
            (Action::Comment, Ok(Reply::Commented(id))) => {
                // One's own comment: the thread to continue.
                st.comment = *id;
                st.has_comment = true;
            }
            (Action::Inbox, Ok(Reply::Inbox(dms))) if !dms.is_empty() => {
                let table = &t.positions[dms.len().min(t.positions.len()) - 1];
                if let Some(senders) = self.senders.get_mut(local) {
                    for slot in senders {
                        *slot = dms[table.sample(&mut st.rng) as usize].from.0;
                    }
                }
            }
            (
                Action::Join | Action::CreateCommunity,
                Ok(Reply::Done) | Err(ApiError::AlreadyMember),
            ) => {
                let seq = token::seq(token);
                let (s, community) = self.pending[seq as usize % PENDING];
                if s == seq && community != NONE {
                    st.joined = community;
                }
            }
            _ => {}
        }
    }
}

/// `GetHomeFeed` of `user`, as the scenario reads it.
fn home_feed(t: &Tables, user: UserId) -> Op {
    Op::GetHomeFeed {
        user,
        sort: t.reads.home_sort.sort(),
        limit: t.reads.feed_limit,
    }
}

#[inline]
fn coin(st: &mut UserState, p: f64) -> bool {
    p > 0.0 && unit(st.rng.next_u64()) < p
}

/// A community the user belongs to (load memberships or one joined in the run).
fn member_community(t: &Tables, st: &mut UserState, user: UserId) -> Option<CommunityId> {
    let m = t.plan.memberships(user);
    let extra = usize::from(st.joined != NONE);
    let n = m.len() + extra;
    if n == 0 {
        return None;
    }
    let i = ((st.rng.next_u64() >> 32) as usize * n) >> 32;
    Some(CommunityId(m.get(i).copied().unwrap_or(st.joined)))
}

/// A community to read or search: a member one, or a popular one.
fn some_community(t: &Tables, st: &mut UserState, user: UserId) -> CommunityId {
    if coin(st, t.reads.member_communities)
        && let Some(c) = member_community(t, st, user)
    {
        return c;
    }
    match &t.communities {
        Some(table) => CommunityId(table.sample(&mut st.rng)),
        None => CommunityId::profile(some_person(t, st, user)),
    }
}

/// A popular user (by Zipf popularity).
#[inline]
fn popular(t: &Tables, st: &mut UserState) -> UserId {
    UserId(t.plan.popular.apply(t.people.sample(&mut st.rng)))
}

/// A friend (followed at load) or a popular user.
fn some_person(t: &Tables, st: &mut UserState, user: UserId) -> UserId {
    let f = t.plan.follows(user);
    if !f.is_empty() && coin(st, FRIEND_SHARE) {
        let i = ((st.rng.next_u64() >> 32) as usize * f.len()) >> 32;
        return UserId(f[i]);
    }
    popular(t, st)
}

/// Where a built op goes: the generator's note of a join in flight, then
/// the caller's [`OpSink`].
struct Handover<'a, C> {
    seq: &'a mut u32,
    pending: &'a mut [(u32, u32); PENDING],
    local: u32,
    consume: C,
}

impl<C: OpSink> Handover<'_, C> {
    /// Notes a community join or creation (its id comes back in the reply)
    /// and hands `op`, the op of `action`, to the sink.
    #[inline(always)]
    fn give(self, action: Action, op: Op) -> C::Out {
        let mut seq = 0;
        if let Op::Join { community, .. } | Op::CreateCommunity { community, .. } = &op
            && !community.is_profile()
        {
            *self.seq = (*self.seq + 1) & token::SEQ_MASK;
            seq = *self.seq;
            self.pending[seq as usize % PENDING] = (seq, community.0);
        }
        self.consume
            .take(token::encode(self.local, Asked::Action(action), seq), op)
    }

    /// [`Handover::give`] of `op` if there is one, else `self` back.
    #[inline(always)]
    fn give_some(self, action: Action, op: Option<Op>) -> Result<C::Out, Self> {
        match op {
            Some(op) => Ok(self.give(action, op)),
            None => Err(self),
        }
    }
}

/// What building the acting user's op reads and changes.
struct Builder<'a> {
    t: &'a Tables,
    st: &'a mut UserState,
    senders: &'a Senders,
    user: UserId,
    next_community: &'a mut u32,
    stride: u32,
}

impl Builder<'_> {
    /// Builds the op of `action` and hands it over, or gives `h` back when
    /// the user lacks what the action needs.
    ///
    /// A dispatch to one builder per action, inlined at its hot call site
    /// with the builders and the hand-over, so that each arm's op goes
    /// straight to the sink (see [`Generator::next_op_with`]).
    #[inline(always)]
    fn act<'h, C: OpSink>(
        &mut self,
        action: Action,
        h: Handover<'h, C>,
    ) -> Result<C::Out, Handover<'h, C>> {
        let (t, user) = (self.t, self.user);
        let st = &mut *self.st;
        let r = &t.reads;
        match action {
            Action::HomeFeed => Ok(h.give(action, home_feed(t, user))),
            Action::CommunityFeed => {
                let community = some_community(t, st, user);
                let op = Op::GetCommunityFeed {
                    community,
                    sort: r.community_sort.sort(),
                    limit: r.feed_limit,
                };
                Ok(h.give(action, op))
            }
            Action::ProfileFeed => {
                let community = CommunityId::profile(some_person(t, st, user));
                let op = Op::GetCommunityFeed {
                    community,
                    sort: socialbench_engines::Sort::New,
                    limit: r.feed_limit,
                };
                Ok(h.give(action, op))
            }
            Action::ReadPost => {
                let op = st.pick_post().map(|post| Op::GetPost {
                    post,
                    comments: r.post_comments,
                });
                h.give_some(action, op)
            }
            Action::GetProfile => Ok(h.give(action, get_profile_op(t, st, user))),
            Action::Inbox => {
                let op = Op::GetInbox {
                    user,
                    limit: r.inbox_limit,
                };
                Ok(h.give(action, op))
            }
            Action::Vote => h.give_some(action, vote_op(st, user)),
            Action::Comment => h.give_some(action, comment_op(t, st, user)),
            Action::DmReply => {
                let op = st.pick_sender(self.senders).map(|to| dm(t, st, user, to));
                h.give_some(action, op)
            }
            Action::Dm => Ok(h.give(action, dm_op(t, st, user))),
            Action::Post => Ok(h.give(action, post_op(t, st, user))),
            Action::Repost => h.give_some(action, repost_op(t, st, user)),
            Action::CreateCommunity => {
                let op = create_community_op(user, self.next_community, self.stride);
                h.give_some(action, op)
            }
            Action::Search => {
                let community = some_community(t, st, user);
                let op = Op::Search {
                    community,
                    term: t.corpus.term(st.rng.next_u64()),
                };
                Ok(h.give(action, op))
            }
            Action::Join => h.give_some(action, join_op(t, st, user)),
            Action::Follow => h.give_some(action, follow_op(t, st, user)),
        }
    }

    /// When `action` cannot be formed (nothing to read yet, say): the next
    /// thing the user would do instead, and failing that their home feed.
    #[cold]
    #[inline(never)]
    fn fallback<C: OpSink>(&mut self, action: Action, h: Handover<'_, C>) -> C::Out {
        let fallback = if action == Action::DmReply {
            Action::Inbox
        } else {
            self.t.discover
        };
        let (t, user) = (self.t, self.user);
        match self.act(fallback, h) {
            Ok(out) => out,
            Err(h) => h.give(Action::HomeFeed, home_feed(t, user)),
        }
    }
}

/// `GetProfile` of the author last seen (half the time) or of someone.
#[inline(always)]
fn get_profile_op(t: &Tables, st: &mut UserState, user: UserId) -> Op {
    let who = if st.author != NONE && coin(st, 0.5) {
        UserId(st.author)
    } else {
        some_person(t, st, user)
    };
    Op::GetProfile { user: who }
}

/// A vote on a remembered comment or post, mostly up.
#[inline(always)]
fn vote_op(st: &mut UserState, user: UserId) -> Option<Op> {
    let target = if st.has_comment && coin(st, VOTE_COMMENT_SHARE) {
        Target::Comment(st.comment)
    } else {
        Target::Post(st.pick_post()?)
    };
    let x = unit(st.rng.next_u64());
    let dir = if x < VOTE_CUTS[0] {
        VoteDir::Up
    } else if x < VOTE_CUTS[1] {
        VoteDir::Down
    } else {
        VoteDir::Clear
    };
    Some(Op::Vote {
        voter: user,
        target,
        dir,
    })
}

/// A comment under the remembered comment, or on a remembered post.
#[inline(always)]
fn comment_op(t: &Tables, st: &mut UserState, user: UserId) -> Option<Op> {
    let (post, parent) = if st.has_comment && coin(st, t.reads.reply_to_comment) {
        (st.comment.post, Some(st.comment))
    } else {
        (st.pick_post()?, None)
    };
    let len = t.comment_len.sample(&mut st.rng);
    Some(Op::Comment {
        author: user,
        post,
        parent,
        body: t.corpus.body(len, st.rng.next_u64()),
    })
}

/// A DM to a friend or a popular user, never oneself.
#[inline(always)]
fn dm_op(t: &Tables, st: &mut UserState, user: UserId) -> Op {
    let mut to = some_person(t, st, user);
    if to == user {
        to = UserId((user.0 + 1) % t.plan.users);
    }
    dm(t, st, user, to)
}

/// A post in one's profile or in a member community.
#[inline(always)]
fn post_op(t: &Tables, st: &mut UserState, user: UserId) -> Op {
    let community = if coin(st, t.reads.posts_to_profile) {
        CommunityId::profile(user)
    } else {
        member_community(t, st, user).unwrap_or(CommunityId::profile(user))
    };
    Op::CreatePost {
        author: user,
        community,
        body: t.post_body(&mut st.rng),
    }
}

/// A post in one's profile whose body starts by naming a remembered post.
#[inline(always)]
fn repost_op(t: &Tables, st: &mut UserState, user: UserId) -> Option<Op> {
    let of = st.pick_post()?;
    let mut prefix = [0u8; 48];
    let mut w = &mut prefix[..];
    // 48 bytes hold the longest prefix ("repost 4294967295/4294967295: ").
    let _ = write!(w, "repost {}/{}: ", of.community.0, of.seq);
    let used = 48 - w.len();
    let len = t.post_len.sample(&mut st.rng).clamp(used, MAX_BODY_LEN);
    Some(Op::CreatePost {
        author: user,
        community: CommunityId::profile(user),
        body: t
            .corpus
            .body_with_prefix(&prefix[..used], len, st.rng.next_u64()),
    })
}

/// A community with the thread's next fresh id; `None` once the ordinary
/// id range is used up.
#[inline(always)]
fn create_community_op(user: UserId, next_community: &mut u32, stride: u32) -> Option<Op> {
    let id = *next_community;
    if id >= CommunityId::PROFILE_BASE - 4096 {
        return None;
    }
    *next_community = id.saturating_add(stride);
    Some(Op::CreateCommunity {
        creator: user,
        community: CommunityId(id),
    })
}

/// A join of a popular community, preferably one the user is not in and
/// did not create; `None` without communities.
#[inline(always)]
fn join_op(t: &Tables, st: &mut UserState, user: UserId) -> Option<Op> {
    let table = t.communities.as_ref()?;
    let m = t.plan.memberships(user);
    let mut c = table.sample(&mut st.rng);
    for _ in 1..FRESH_TRIES {
        if !m.contains(&c) && c != st.joined && t.plan.creator_of(CommunityId(c)) != user {
            break;
        }
        c = table.sample(&mut st.rng);
    }
    Some(Op::Join {
        user,
        community: CommunityId(c),
    })
}

/// A join of a popular user's profile, preferably one not followed yet;
/// `None` when only oneself comes up.
#[inline(always)]
fn follow_op(t: &Tables, st: &mut UserState, user: UserId) -> Option<Op> {
    let f = t.plan.follows(user);
    let mut v = popular(t, st);
    for _ in 1..FRESH_TRIES {
        if v != user && !f.contains(&v.0) {
            break;
        }
        v = popular(t, st);
    }
    if v == user {
        return None;
    }
    Some(Op::Join {
        user,
        community: CommunityId::profile(v),
    })
}

/// A DM from `from` to `to` with a body of a drawn length.
fn dm(t: &Tables, st: &mut UserState, from: UserId, to: UserId) -> Op {
    let len = t.dm_len.sample(&mut st.rng);
    Op::SendDm {
        from,
        to,
        body: t.corpus.body(len, st.rng.next_u64()),
    }
}

/// Ids that never exist: the top of the ordinary community range (run-time
/// creations start at `communities`, at most 2^30) and the top sequence
/// numbers (no partition assigns 4 billion posts to one community).
const UNKNOWN_SPREAD: u64 = 1024;

/// A sequence number no partition assigns.
fn unknown_seq(bits: u64) -> u32 {
    u32::MAX - (bits % UNKNOWN_SPREAD) as u32
}

/// A deliberately invalid op of `kind` (or of a kind the user can make when
/// it lacks what `kind` needs); the acting user is always `user`.
fn invalid_op(
    t: &Tables,
    st: &mut UserState,
    user: UserId,
    kind: InvalidKind,
) -> (InvalidKind, Op) {
    let bits = st.rng.next_u64();
    let op = match kind {
        InvalidKind::UnknownCommunity => unknown_community_op(t, st, user, bits),
        InvalidKind::UnknownPost => unknown_post_op(t, st, user, bits),
        InvalidKind::UnknownComment => match st.seen_post(bits) {
            Some(post) => unknown_comment_op(t, st, user, post, bits),
            None => return invalid_op(t, st, user, InvalidKind::UnknownPost),
        },
        InvalidKind::UnknownRecipient => {
            let to = UserId(t.plan.users + (bits % UNKNOWN_SPREAD) as u32);
            dm(t, st, user, to)
        }
        InvalidKind::OversizedBody => {
            let len = MAX_BODY_LEN + 1 + (bits % UNKNOWN_SPREAD) as usize;
            Op::CreatePost {
                author: user,
                community: CommunityId::profile(user),
                body: t.corpus.body(len, st.rng.next_u64()),
            }
        }
        InvalidKind::ForeignProfile => {
            if t.plan.users < 2 {
                return invalid_op(t, st, user, InvalidKind::OversizedBody);
            }
            let mut owner = popular(t, st);
            if owner == user {
                owner = UserId((user.0 + 1) % t.plan.users);
            }
            Op::CreatePost {
                author: user,
                community: CommunityId::profile(owner),
                body: short_body(t, st),
            }
        }
    };
    (kind, op)
}

/// A short valid body, for invalid ops whose fault lies elsewhere.
fn short_body(t: &Tables, st: &mut UserState) -> Body {
    t.corpus.body(16, st.rng.next_u64())
}

/// A join of, post in, search of or feed read of a community that does not
/// exist (`bits` picks which and the id).
fn unknown_community_op(t: &Tables, st: &mut UserState, user: UserId, bits: u64) -> Op {
    let community = CommunityId(CommunityId::PROFILE_BASE - 1 - (bits % UNKNOWN_SPREAD) as u32);
    match bits >> 62 {
        0 => Op::Join { user, community },
        1 => Op::CreatePost {
            author: user,
            community,
            body: short_body(t, st),
        },
        2 => Op::Search {
            community,
            term: Body::from_static(b"the"),
        },
        _ => Op::GetCommunityFeed {
            community,
            sort: t.reads.community_sort.sort(),
            limit: t.reads.feed_limit,
        },
    }
}

/// A read of or vote on a post that does not exist in a real community.
fn unknown_post_op(t: &Tables, st: &mut UserState, user: UserId, bits: u64) -> Op {
    let community = match &t.communities {
        Some(table) => CommunityId(table.sample(&mut st.rng)),
        None => CommunityId::profile(user),
    };
    let post = PostId {
        community,
        seq: unknown_seq(bits),
    };
    if bits >> 63 == 0 {
        Op::GetPost { post, comments: 5 }
    } else {
        Op::Vote {
            voter: user,
            target: Target::Post(post),
            dir: VoteDir::Up,
        }
    }
}

/// A reply under, or vote on, a comment that does not exist under a
/// remembered post.
fn unknown_comment_op(t: &Tables, st: &mut UserState, user: UserId, post: PostId, bits: u64) -> Op {
    let parent = CommentId {
        post,
        seq: unknown_seq(bits),
    };
    if bits >> 63 == 0 {
        Op::Comment {
            author: user,
            post,
            parent: Some(parent),
            body: short_body(t, st),
        }
    } else {
        Op::Vote {
            voter: user,
            target: Target::Comment(parent),
            dir: VoteDir::Down,
        }
    }
}
