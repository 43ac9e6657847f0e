//! Helpers shared by the engines' integration tests: engine construction for
//! every engine under test, a seeded op generator mixing valid and invalid ops
//! of every kind, and a closed-loop client that keeps many ops in flight.

#![allow(dead_code)] // each test binary uses a subset

use std::collections::HashSet;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::*;

/// Reads a size knob from the environment, with a default for quick runs.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A configuration with `partitions` and `channel`, no faults.
pub fn config(partitions: usize, channel: ChannelKind) -> EngineConfig {
    EngineConfig {
        partitions,
        channel,
        ..EngineConfig::default()
    }
}

/// Words bodies are made of, so that `Search` finds something.
const WORDS: [&str; 12] = [
    "rust", "actor", "shard", "stripe", "lock", "queue", "vote", "feed", "karma", "post", "thread",
    "zipf",
];

/// A seeded generator of ops that tracks what the engine acknowledged
/// (users, communities, posts, comments, memberships) so that most ops are
/// valid, and makes a share of them invalid in every way the API names.
pub struct OpGen {
    rng: Xoshiro256PlusPlus,
    /// Users this generator registers: `first_user..first_user + max_users`.
    first_user: u32,
    max_users: u32,
    next_user: u32,
    users: Vec<UserId>,
    /// Ordinary community ids this generator may create or join.
    community_range: (u32, u32),
    communities: Vec<CommunityId>,
    posts: Vec<PostId>,
    comments: Vec<CommentId>,
    members: HashSet<(UserId, CommunityId)>,
    invalid: f64,
}

const KNOWN_CAP: usize = 2048;

impl OpGen {
    /// A generator owning users `first_user..first_user + max_users`,
    /// creating and joining communities in `community_range`, with
    /// `invalid` the share of deliberately invalid ops.
    pub fn new(
        seed: u64,
        first_user: u32,
        max_users: u32,
        community_range: (u32, u32),
        invalid: f64,
    ) -> Self {
        OpGen {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            first_user,
            max_users,
            next_user: first_user,
            users: Vec::new(),
            community_range,
            communities: Vec::new(),
            posts: Vec::new(),
            comments: Vec::new(),
            members: HashSet::new(),
            invalid,
        }
    }

    /// Tells the generator that `community` exists (created by someone else).
    pub fn know_community(&mut self, community: CommunityId) {
        if !self.communities.contains(&community) {
            self.communities.push(community);
        }
    }

    /// A skewed index in `0..n` (n > 0): low indexes are hot.
    fn hot(&mut self, n: usize) -> usize {
        let u: f64 = self.rng.random();
        ((u * u * u) * n as f64) as usize % n
    }

    fn body(&mut self) -> Body {
        let n = self.rng.random_range(1..6);
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(WORDS[self.rng.random_range(0..WORDS.len())]);
        }
        Body::from(s.as_str())
    }

    fn big_body() -> Body {
        Body::from(vec![b'x'; MAX_BODY_LEN + 1])
    }

    fn user(&mut self) -> UserId {
        let i = self.rng.random_range(0..self.users.len());
        self.users[i]
    }

    fn unknown_user(&mut self) -> UserId {
        UserId(1 << 30 | self.rng.random_range(0..1000u32))
    }

    fn community(&mut self) -> CommunityId {
        if !self.communities.is_empty() && self.rng.random_bool(0.85) {
            let i = self.hot(self.communities.len());
            self.communities[i]
        } else {
            // A profile: following a user.
            let u = self.user();
            CommunityId::profile(u)
        }
    }

    fn unknown_community(&mut self) -> CommunityId {
        CommunityId(1 << 30 | self.rng.random_range(0..1000u32))
    }

    fn post(&mut self) -> Option<PostId> {
        (!self.posts.is_empty()).then(|| {
            let i = self.hot(self.posts.len());
            self.posts[i]
        })
    }

    fn comment(&mut self) -> Option<CommentId> {
        (!self.comments.is_empty()).then(|| {
            let i = self.hot(self.comments.len());
            self.comments[i]
        })
    }

    fn limit(&mut self) -> u16 {
        self.rng.random_range(1..=25)
    }

    fn sort(&mut self) -> Sort {
        [Sort::Hot, Sort::New, Sort::Top][self.rng.random_range(0..3)]
    }

    fn bad_limit(&mut self) -> u16 {
        if self.rng.random_bool(0.5) {
            0
        } else {
            MAX_LIMIT + 1
        }
    }

    /// The next op.
    pub fn next_op(&mut self) -> Op {
        let room = self.next_user < self.first_user + self.max_users;
        if room && (self.users.len() < 3 || self.rng.random_bool(0.03)) {
            let user = UserId(self.next_user);
            self.next_user += 1;
            return Op::Register { user };
        }
        let bad = self.rng.random_bool(self.invalid);
        let kind = self.rng.random_range(0..100u32);
        match kind {
            0..3 => self.register(bad),
            3..6 => self.create_community(bad),
            6..16 => self.join(bad),
            16..21 => self.leave(bad),
            21..33 => self.create_post(bad),
            33..43 => self.comment_op(bad),
            43..61 => self.vote(bad),
            61..67 => self.get_post(bad),
            67..75 => self.community_feed(bad),
            75..85 => self.home_feed(bad),
            85..90 => self.send_dm(bad),
            90..94 => self.inbox(bad),
            94..97 => Op::GetProfile {
                user: if bad {
                    self.unknown_user()
                } else {
                    self.user()
                },
            },
            _ => self.search(bad),
        }
    }

    fn register(&mut self, bad: bool) -> Op {
        if bad || self.next_user >= self.first_user + self.max_users {
            let user = if self.rng.random_bool(0.5) {
                self.user() // AlreadyExists
            } else {
                UserId(UserId::MAX + 5) // out of range
            };
            return Op::Register { user };
        }
        let user = UserId(self.next_user);
        self.next_user += 1;
        Op::Register { user }
    }

    fn create_community(&mut self, bad: bool) -> Op {
        let creator = self.user();
        let community = if bad {
            if self.rng.random_bool(0.5) {
                CommunityId::profile(creator) // Forbidden (or exists)
            } else if let Some(&c) = self.communities.first() {
                c // AlreadyExists
            } else {
                CommunityId::profile(creator)
            }
        } else {
            let (lo, hi) = self.community_range;
            CommunityId(self.rng.random_range(lo..hi))
        };
        Op::CreateCommunity { creator, community }
    }

    fn join(&mut self, bad: bool) -> Op {
        let user = self.user();
        let community = if bad {
            if self.rng.random_bool(0.5) {
                self.unknown_community()
            } else {
                CommunityId::profile(user) // AlreadyMember
            }
        } else {
            self.community()
        };
        Op::Join { user, community }
    }

    fn leave(&mut self, bad: bool) -> Op {
        let user = self.user();
        let community = if bad {
            match self.rng.random_range(0..3) {
                0 => self.unknown_community(),
                1 => CommunityId::profile(user), // Forbidden
                _ => self.community(),           // maybe NotMember
            }
        } else {
            // Prefer a community the user is in.
            let mine: Vec<CommunityId> = self
                .members
                .iter()
                .filter(|(u, c)| *u == user && *c != CommunityId::profile(user))
                .map(|&(_, c)| c)
                .collect();
            if mine.is_empty() {
                self.community()
            } else {
                let mut mine = mine;
                mine.sort();
                mine[self.rng.random_range(0..mine.len())]
            }
        };
        Op::Leave { user, community }
    }

    fn create_post(&mut self, bad: bool) -> Op {
        let author = self.user();
        if bad {
            return match self.rng.random_range(0..3) {
                0 => Op::CreatePost {
                    author,
                    community: CommunityId::profile(author),
                    body: Self::big_body(),
                },
                1 => Op::CreatePost {
                    author,
                    community: self.unknown_community(),
                    body: self.body(),
                },
                _ => {
                    // Someone else's profile: Forbidden (or unknown).
                    let other = self.user();
                    let other = if other == author {
                        UserId(other.0 + 1)
                    } else {
                        other
                    };
                    Op::CreatePost {
                        author,
                        community: CommunityId::profile(other),
                        body: self.body(),
                    }
                }
            };
        }
        let community = if self.rng.random_bool(0.3) {
            CommunityId::profile(author)
        } else {
            let joined: Option<CommunityId> = {
                let mut mine: Vec<CommunityId> = self
                    .members
                    .iter()
                    .filter(|(u, c)| *u == author && !c.is_profile())
                    .map(|&(_, c)| c)
                    .collect();
                mine.sort();
                (!mine.is_empty()).then(|| mine[self.rng.random_range(0..mine.len())])
            };
            joined.unwrap_or_else(|| self.community())
        };
        Op::CreatePost {
            author,
            community,
            body: self.body(),
        }
    }

    fn comment_op(&mut self, bad: bool) -> Op {
        let author = self.user();
        let Some(post) = self.post() else {
            return self.create_post(bad);
        };
        let parent = self
            .comment()
            .filter(|c| c.post == post && self.rng.random_bool(0.5));
        if bad {
            return match self.rng.random_range(0..3) {
                0 => Op::Comment {
                    author,
                    post: PostId {
                        community: post.community,
                        seq: 1 << 30,
                    },
                    parent: None,
                    body: self.body(),
                },
                1 => Op::Comment {
                    author,
                    post,
                    parent: Some(CommentId { post, seq: 1 << 30 }),
                    body: self.body(),
                },
                _ => Op::Comment {
                    author,
                    post,
                    parent,
                    body: Self::big_body(),
                },
            };
        }
        Op::Comment {
            author,
            post,
            parent,
            body: self.body(),
        }
    }

    fn vote(&mut self, bad: bool) -> Op {
        let voter = self.user();
        let dir = [VoteDir::Up, VoteDir::Down, VoteDir::Clear][self.rng.random_range(0..3)];
        let target = if bad {
            match self.post() {
                Some(p) if self.rng.random_bool(0.5) => Target::Comment(CommentId {
                    post: p,
                    seq: 1 << 30,
                }),
                _ => Target::Post(PostId {
                    community: self.unknown_community(),
                    seq: 0,
                }),
            }
        } else {
            match (self.comment(), self.post()) {
                (Some(c), _) if self.rng.random_bool(0.3) => Target::Comment(c),
                (_, Some(p)) => Target::Post(p),
                _ => return self.create_post(false),
            }
        };
        Op::Vote { voter, target, dir }
    }

    fn get_post(&mut self, bad: bool) -> Op {
        match self.post() {
            Some(post) if !bad => Op::GetPost {
                post,
                comments: self.rng.random_range(0..8),
            },
            Some(post) if self.rng.random_bool(0.5) => Op::GetPost {
                post,
                comments: MAX_LIMIT + 1,
            },
            _ => Op::GetPost {
                post: PostId {
                    community: self.unknown_community(),
                    seq: 3,
                },
                comments: 3,
            },
        }
    }

    fn community_feed(&mut self, bad: bool) -> Op {
        let sort = self.sort();
        if bad {
            return if self.rng.random_bool(0.5) {
                Op::GetCommunityFeed {
                    community: self.community(),
                    sort,
                    limit: self.bad_limit(),
                }
            } else {
                Op::GetCommunityFeed {
                    community: self.unknown_community(),
                    sort,
                    limit: 10,
                }
            };
        }
        Op::GetCommunityFeed {
            community: self.community(),
            sort,
            limit: self.limit(),
        }
    }

    fn home_feed(&mut self, bad: bool) -> Op {
        let sort = self.sort();
        if bad {
            return if self.rng.random_bool(0.5) {
                Op::GetHomeFeed {
                    user: self.user(),
                    sort,
                    limit: self.bad_limit(),
                }
            } else {
                Op::GetHomeFeed {
                    user: self.unknown_user(),
                    sort,
                    limit: 10,
                }
            };
        }
        Op::GetHomeFeed {
            user: self.user(),
            sort,
            limit: self.limit(),
        }
    }

    fn send_dm(&mut self, bad: bool) -> Op {
        let from = self.user();
        if bad {
            return if self.rng.random_bool(0.5) {
                Op::SendDm {
                    from,
                    to: self.unknown_user(),
                    body: self.body(),
                }
            } else {
                Op::SendDm {
                    from,
                    to: self.user(),
                    body: Self::big_body(),
                }
            };
        }
        Op::SendDm {
            from,
            to: self.user(),
            body: self.body(),
        }
    }

    fn inbox(&mut self, bad: bool) -> Op {
        if bad {
            return if self.rng.random_bool(0.5) {
                Op::GetInbox {
                    user: self.unknown_user(),
                    limit: 5,
                }
            } else {
                Op::GetInbox {
                    user: self.user(),
                    limit: self.bad_limit(),
                }
            };
        }
        Op::GetInbox {
            user: self.user(),
            limit: self.limit(),
        }
    }

    fn search(&mut self, bad: bool) -> Op {
        if bad {
            let term = match self.rng.random_range(0..3) {
                0 => Body::from(""),
                1 => Body::from(vec![b'a'; MAX_TERM_LEN + 1]),
                _ => {
                    return Op::Search {
                        community: self.unknown_community(),
                        term: Body::from("rust"),
                    };
                }
            };
            return Op::Search {
                community: self.community(),
                term,
            };
        }
        let term = Body::from(WORDS[self.rng.random_range(0..WORDS.len())]);
        Op::Search {
            community: self.community(),
            term,
        }
    }

    fn remember_post(&mut self, p: PostId) {
        if self.posts.len() < KNOWN_CAP {
            self.posts.push(p);
        } else {
            let i = self.rng.random_range(0..KNOWN_CAP);
            self.posts[i] = p;
        }
    }

    fn remember_comment(&mut self, c: CommentId) {
        if self.comments.len() < KNOWN_CAP {
            self.comments.push(c);
        } else {
            let i = self.rng.random_range(0..KNOWN_CAP);
            self.comments[i] = c;
        }
    }

    /// Learns from the reply to `op`: acknowledged creations, memberships,
    /// and posts seen in feeds.
    pub fn observe(&mut self, op: &Op, response: &Response) {
        let Ok(reply) = response else { return };
        match (op, reply) {
            (Op::Register { user }, Reply::Done) => {
                self.users.push(*user);
                self.members.insert((*user, CommunityId::profile(*user)));
            }
            (Op::CreateCommunity { creator, community }, Reply::Done) => {
                self.know_community(*community);
                self.members.insert((*creator, *community));
            }
            (Op::Join { user, community }, Reply::Done) => {
                self.members.insert((*user, *community));
            }
            (Op::Leave { user, community }, Reply::Done) => {
                self.members.remove(&(*user, *community));
            }
            (_, Reply::Posted(p)) => self.remember_post(*p),
            (_, Reply::Commented(c)) => self.remember_comment(*c),
            (_, Reply::Feed(feed)) => {
                for s in feed.iter().take(3) {
                    if !self.posts.contains(&s.id) {
                        self.remember_post(s.id);
                    }
                }
            }
            (_, Reply::Post(view)) => {
                for c in view.top_comments.iter().take(2) {
                    self.remember_comment(c.id);
                }
            }
            _ => {}
        }
    }
}

/// Result of a closed-loop client run.
#[derive(Debug, Default)]
pub struct ClientRun {
    /// Acknowledged writes.
    pub tally: WriteTally,
    /// The same, one by one with the ids of their replies (the per-entity audit's log).
    pub log: Vec<Acked>,
    /// Replies answered with `EngineFault`.
    pub faults: u64,
    /// Replies received.
    pub replies: u64,
    /// Successful replies.
    pub ok: u64,
    /// Replies to writes (refused ones included).
    pub write_replies: u64,
}

/// Panics unless a feed's reply holds at most its limit of posts, each once,
/// ordered best first by its sort (key, then newer first) as the summaries
/// state them: true of every engine under any concurrency, since each
/// partition ranks from one consistent state and gathers re-rank by the
/// summaries they return.
pub fn check_feed(op: &Op, r: &Response) {
    let (sort, limit) = match *op {
        Op::GetHomeFeed { sort, limit, .. } | Op::GetCommunityFeed { sort, limit, .. } => {
            (sort, limit)
        }
        _ => return,
    };
    let Ok(Reply::Feed(posts)) = r else {
        return;
    };
    assert!(
        posts.len() <= usize::from(limit),
        "{op:?}: {} posts",
        posts.len()
    );
    let rank = |p: &PostSummary| (partition::sort_key(sort, p.score, p.created), p.created);
    for w in posts.windows(2) {
        assert!(rank(&w[0]) > rank(&w[1]), "{op:?}: out of order: {w:?}");
    }
    let ids: std::collections::HashSet<PostId> = posts.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), posts.len(), "{op:?}: a post listed twice");
}

/// Runs `ops` ops from `generator` through `session`, keeping up to
/// `inflight` submitted before polling; tallies every acknowledged write
/// and checks every feed ([`check_feed`]).
pub fn closed_loop<S: Session>(
    session: &mut S,
    generator: &mut OpGen,
    ops: usize,
    inflight: usize,
) -> ClientRun {
    let mut run = ClientRun::default();
    // Slot i holds the op submitted with tag i until its reply arrives.
    let mut slots: Vec<Option<Op>> = (0..inflight).map(|_| None).collect();
    let mut free: Vec<usize> = (0..inflight).rev().collect();
    let mut sent = 0;
    let mut got = Vec::with_capacity(inflight);
    while sent < ops || session.outstanding() > 0 {
        while sent < ops {
            let Some(i) = free.pop() else { break };
            let op = generator.next_op();
            slots[i] = Some(op.clone());
            session.submit(i as u64, op).expect("engine is running");
            sent += 1;
        }
        session.poll(true, |t, r| got.push((t, r)));
        for (tag, r) in got.drain(..) {
            let i = tag as usize;
            let op = slots[i]
                .take()
                .expect("a reply for a tag that is in flight");
            run.replies += 1;
            run.write_replies += u64::from(op.kind().is_write());
            match &r {
                Ok(_) => run.ok += 1,
                Err(ApiError::EngineFault) => run.faults += 1,
                Err(_) => {}
            }
            check_feed(&op, &r);
            run.tally.record_op(&op, &r);
            run.log.extend(Pending::of(&op).acked(&r));
            generator.observe(&op, &r);
            free.push(i);
        }
    }
    run
}

/// An op sequence with the serial engine's replies to it, its final digest,
/// acknowledged writes and entity counts: what every engine must reproduce
/// with one session and one op in flight.
pub struct Reference {
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// The serial engine's reply to each.
    pub replies: Vec<Response>,
    /// The serial engine's digest after the last op.
    pub digest: u64,
    /// Acknowledged writes.
    pub tally: WriteTally,
    /// The serial engine's entity counts at the end.
    pub counts: EntityCounts,
}

/// `n` ops of the differential generator (fixed seed, valid and invalid ops
/// of every kind) applied one at a time to a fresh serial engine; the
/// generator reacts to its replies, so every engine then replays the very
/// same ops.
pub fn serial_reference(n: usize) -> Reference {
    let engine = serial::SerialEngine::new(&EngineConfig::default()).expect("serial engine");
    let mut session = engine.session().expect("session");
    let mut generator = OpGen::new(0xd1ff_5eed, 0, 300, (0, 40), 0.08);
    let (mut ops, mut replies) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut tally = WriteTally::default();
    for _ in 0..n {
        let op = generator.next_op();
        let r = session.call(op.clone());
        generator.observe(&op, &r);
        tally.record_op(&op, &r);
        ops.push(op);
        replies.push(r);
    }
    drop(session);
    engine.quiesce();
    engine
        .audit()
        .check(&tally)
        .expect("the serial reference passes its own audit");
    Reference {
        ops,
        replies,
        digest: engine.digest(),
        tally,
        counts: engine.stats().counts,
    }
}

/// Replays `reference` through one session of `engine`, one op at a time,
/// and panics at the first reply that differs from the serial engine's.
pub fn replay_op_by_op<S: Session>(session: &mut S, reference: &Reference, label: &str) {
    for (i, (op, want)) in reference.ops.iter().zip(&reference.replies).enumerate() {
        let got = session.call(op.clone());
        assert!(
            got == *want,
            "{label}: first divergence at op {i}: {op:?}\n  {label} replied {got:?}\n  serial replied {want:?}"
        );
    }
}

/// Client threads of the concurrency tests.
pub const CLIENTS: usize = 4;
/// Ops in flight per client thread.
pub const INFLIGHT: usize = 16;
/// Hot communities every client knows.
pub const HOT: u32 = 12;

/// Creates the [`HOT`] communities (by a trusted actor) and returns their
/// tally; then [`CLIENTS`] threads, each a session with [`INFLIGHT`] ops in
/// flight, run `ops` ops each over them, overlapping joins, leaves and votes.
/// Returns the setup's tally and log, and each client's run; every feed
/// reply is checked ([`check_feed`]).
pub fn hammer_hot_communities<E: Engine + Sync>(
    engine: &E,
    ops: usize,
    label: &str,
) -> (WriteTally, Vec<Acked>, Vec<ClientRun>) {
    hammer_hot_communities_then(engine, ops, label, || {})
}

impl ClientRun {
    /// Adds a later run of the same client.
    pub fn absorb(&mut self, later: ClientRun) {
        self.tally.add(&later.tally);
        self.log.extend(later.log);
        self.faults += later.faults;
        self.replies += later.replies;
        self.ok += later.ok;
        self.write_replies += later.write_replies;
    }
}

/// [`hammer_hot_communities_then`] with clients that run rounds of 200 ops
/// until `stop` says so (at least one round each).
pub fn hammer_until<E: Engine + Sync>(
    engine: &E,
    label: &str,
    then: impl FnOnce(),
    stop: impl Fn() -> bool + Sync,
) -> (WriteTally, Vec<Acked>, Vec<ClientRun>) {
    let (tally, log, _) = hammer_hot_communities_then(engine, 0, label, then);
    let runs = hot_clients(engine, 0xfa10, |session, generator| {
        let mut run = ClientRun::default();
        loop {
            run.absorb(closed_loop(session, generator, 200, INFLIGHT));
            if stop() {
                return run;
            }
        }
    });
    (tally, log, runs)
}

/// [`CLIENTS`] threads, each with a session and a generator (seeded from
/// `seed`) that knows the [`HOT`] communities, running `client`.
fn hot_clients<E: Engine + Sync>(
    engine: &E,
    seed: u64,
    client: impl Fn(&mut E::Session, &mut OpGen) -> ClientRun + Sync,
) -> Vec<ClientRun> {
    let client = &client;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|k| {
                scope.spawn(move || {
                    let mut session = engine.session().expect("session");
                    let first = 1_000 * k as u32;
                    let mut generator = OpGen::new(seed + k as u64, first, 60, (0, HOT + 4), 0.05);
                    for c in 0..HOT {
                        generator.know_community(CommunityId(c));
                    }
                    client(&mut session, &mut generator)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Vec<_>>()
    })
}

/// [`hammer_hot_communities`], calling `then` between the setup and the
/// clients (to arm a fault that the setup must not meet).
pub fn hammer_hot_communities_then<E: Engine + Sync>(
    engine: &E,
    ops: usize,
    label: &str,
    then: impl FnOnce(),
) -> (WriteTally, Vec<Acked>, Vec<ClientRun>) {
    let mut tally = WriteTally::default();
    let mut log = Vec::new();
    {
        let mut s = engine.session().expect("session");
        for c in 0..HOT {
            let op = Op::CreateCommunity {
                creator: UserId(900_000),
                community: CommunityId(c),
            };
            let r = s.call(op.clone());
            assert_eq!(r, Ok(Reply::Done), "{label}: setup");
            tally.record_op(&op, &r);
            log.extend(Pending::of(&op).acked(&r));
        }
    }
    then();
    let runs = hot_clients(engine, 0xc0c0, |session, generator| {
        closed_loop(session, generator, ops, INFLIGHT)
    });
    (tally, log, runs)
}
