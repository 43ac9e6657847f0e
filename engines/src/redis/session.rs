//! A session of the Redis engine: C connections per node (one by default),
//! many ops in flight through pipelining, each op a small state machine of
//! script calls and plain commands.
//!
//! `submit` packs the op's first script call into its node's buffer and
//! returns; `poll` writes the buffers and reads replies in order, each reply
//! driving its op one step: a Join's home script, then its subscription
//! follow-up on the user's group; a post's check, clock tick and apply; a home
//! feed's subscription read, then one `ZREVRANGE` of each subscribed
//! community's index, whose members are the posts' summaries, merged in Rust.
//! An op is answered once its last step (follow-ups included) is acknowledged,
//! so nothing is pending once every session has drained its replies.
//!
//! Failures: a Redis error reply answers its op with
//! [`ApiError::EngineFault`] (a follow-up's error too: the audit then shows
//! the lost effect). On a single server, or a cluster without replicas, a
//! broken connection, a read timeout or a reply that does not parse answers
//! every op in flight with `EngineFault`, logs one line on stderr (once per
//! engine), and every later `submit` fails with [`EngineError::Shutdown`], so
//! the client stops at once and nothing waits for a reply that cannot come.
//!
//! **Failover** (a cluster whose masters have replicas, `Shared::follow`):
//! a master that dies is replaced by one of its replicas, and the session
//! follows, never applying a write twice:
//! - A step the cluster refused (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
//!   `MASTERDOWN`, `READONLY`) or that routes to a node the session lost was
//!   not carried out. Its op is answered [`ApiError::Unavailable`], unless
//!   the op's home step was applied and this is its follow-up: then the
//!   follow-up is kept (parked) and sent again once its master is reachable,
//!   and the op is answered after that, so an acknowledged op never lacks
//!   its follow-up.
//! - A step whose connection died after it was sent may or may not have
//!   been applied. Sending it again could apply it twice (nothing here
//!   dedupes by op id), so its op is answered `Unavailable` and, when the
//!   step writes, counted as of unknown outcome (the audit allows those to be
//!   present or not). Reads are answered `Unavailable` too.
//! - The layout is read again (CLUSTER SLOTS from a live master or any
//!   replica) at most every `REFRESH_EVERY` while some slot's master is
//!   unreachable or a step was refused; new masters get connections and the
//!   script. A session that cannot reach every slot's master within
//!   `Shared::failover_wait` stops as a single server's loss does.
//! - `--redis-wait N` sends `WAIT N <timeout>` after every write on the
//!   write's connection and answers the op once both replies are in; fewer
//!   than N replicas is an `Unavailable` of unknown outcome (the write is on
//!   the master, maybe not on the replica that takes over).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ::redis::{ErrorKind, Value};

use super::layout::Layout;
use super::shared::{Counters, Shared, bump};
use super::wire::{self, Arg, Node, community_home, group, int, one_line, pack, user_home};
use crate::api::{
    ApiError, Body, CommentId, CommentSummary, CommunityId, DmId, DmSummary, Home, Op, OpKind,
    PostId, PostSummary, PostView, ProfileView, Reply, Response, Sort, Target, UserId,
};
use crate::engine::Session;
use crate::error::EngineError;
use crate::partition::merge_feed;

/// How often a session reads the layout again while a failover is under way.
pub(super) const REFRESH_EVERY: Duration = Duration::from_millis(50);

/// A pending command's part: which of its op's commands it answers (a home
/// feed's community), flags in the bits above.
const PART: u32 = (1 << 29) - 1;
/// The command writes: if its connection dies before the reply, whether it
/// was applied is unknown.
const WRITES: u32 = 1 << 29;
/// A `WAIT` follows the command: its reply is held until the WAIT's.
const ACKED: u32 = 1 << 30;
/// The `WAIT` after a write.
const WAIT: u32 = 1 << 31;

/// A follow-up to send (again, after a failover refused it): the script
/// `name` on `user`'s group with two integer arguments.
#[derive(Clone, Copy, Debug)]
struct FollowUp {
    user: UserId,
    name: &'static [u8],
    a: i64,
    b: i64,
}

/// A write's reply held until its `WAIT` is answered.
#[derive(Debug)]
enum Held {
    /// A reply (a server error among them).
    Reply(Value),
    /// An error reply the client handed over as an error: code, text.
    Error(String, String),
}

/// Where an op is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for its home script; its reply is the op's reply.
    Home,
    /// Home script of an op with a follow-up (Join, Leave, CreateCommunity, Vote).
    HomeThenFollow,
    /// Waiting for the follow-up; the reply is kept in `InFlight::reply`.
    Follow,
    /// CreatePost: waiting for the read-only check.
    PostCheck,
    /// CreatePost: waiting for the clock tick.
    PostClock,
    /// GetHomeFeed: waiting for the user's registration flag (`HGET`).
    Registered,
    /// GetHomeFeed: waiting for the subscriptions (`HGETALL`).
    Subs,
    /// GetHomeFeed: waiting for `waiting` communities' best posts.
    Ranks,
}

#[derive(Debug)]
struct InFlight {
    tag: u64,
    op: Op,
    phase: Phase,
    /// Home-feed parts not yet answered.
    waiting: u32,
    /// Home feed: the subscribed communities, in the order their ranks were asked.
    subs: Vec<u32>,
    /// Home feed: the candidates.
    feed: Vec<PostSummary>,
    /// The reply held back until the follow-up is acknowledged.
    reply: Option<Reply>,
    /// A part of the home feed failed.
    failed: bool,
    /// A part of the home feed was not served (a failover).
    unavailable: bool,
    /// The follow-up, once the home step succeeded.
    follow: Option<FollowUp>,
    /// A write's reply (with its part) held until its `WAIT` is answered.
    held: Option<(u32, Held)>,
}

/// A session of [`super::RedisEngine`]: see the module docs.
#[derive(Debug)]
pub struct RedisSession {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    /// The layout the session routes by.
    layout: Arc<Layout>,
    /// `connections` per node of the layout, node by node.
    nodes: Vec<Node>,
    ops: Vec<Option<InFlight>>,
    free: Vec<u32>,
    /// Answered ops not yet polled.
    ready: VecDeque<(u64, Response)>,
    /// Ops submitted and not yet polled.
    outstanding: usize,
    /// Why the session stopped working, once it has.
    broken: Option<String>,
    /// Scratch for key-group names.
    key: String,
    /// Commands sent so far (their send order).
    sent: u64,
    /// Since when a step was refused or a master unreachable, until the
    /// layout serves every slot again (failover: see the module docs).
    stale: Option<Instant>,
    /// When the layout may be read again.
    next_refresh: Instant,
    /// Ops whose follow-up waits for a master.
    parked: Vec<u32>,
    /// Per node: a new master whose first answered op is to be reported.
    watch: Vec<bool>,
    /// Some node is watched.
    watching: bool,
}

/// A server's error reply as it sent it: code, then detail
/// (`NOSCRIPT No matching script...`).
fn error_line(e: &::redis::ServerError) -> String {
    match e.details() {
        Some(detail) => format!("{} {}", e.code(), one_line(&detail)),
        None => e.code().to_string(),
    }
}

fn code_error(code: i64) -> ApiError {
    match code {
        1 => ApiError::AlreadyExists,
        2 => ApiError::UnknownUser,
        3 => ApiError::UnknownCommunity,
        4 => ApiError::UnknownPost,
        5 => ApiError::UnknownComment,
        6 => ApiError::AlreadyMember,
        7 => ApiError::NotMember,
        8 => ApiError::Forbidden,
        _ => ApiError::EngineFault,
    }
}

/// The owner of a profile as a script argument ("" for an ordinary community).
fn owner_arg(c: CommunityId, buf: &mut [u8; 12]) -> &[u8] {
    match c.profile_owner() {
        Some(o) => {
            let mut w = &mut buf[..];
            let _ = std::io::Write::write_fmt(&mut w, format_args!("{}", o.0));
            let n = 12 - w.len();
            &buf[..n]
        }
        None => b"",
    }
}

fn sort_arg(s: Sort) -> &'static [u8] {
    match s {
        Sort::Hot => b"h",
        Sort::New => b"n",
        Sort::Top => b"t",
    }
}

/// Most script arguments after the key (a post: name, community, owner,
/// author, stamp, body).
const MAX_ARGS: usize = 6;

/// The first script call of an op: its arguments after the key group, and
/// the phase it leaves the op in.
struct FirstStep<'a> {
    args: [Arg<'a>; MAX_ARGS],
    len: usize,
    phase: Phase,
}

impl<'a> FirstStep<'a> {
    fn new(phase: Phase, args: &[Arg<'a>]) -> Self {
        let mut all = [Arg::I(0); MAX_ARGS];
        all[..args.len()].copy_from_slice(args);
        FirstStep {
            args: all,
            len: args.len(),
            phase,
        }
    }

    fn args(&self) -> &[Arg<'a>] {
        &self.args[..self.len]
    }
}

/// An id as a script argument.
fn id(n: u32) -> Arg<'static> {
    Arg::I(i64::from(n))
}

/// The first step of `op`, whose home key group the call runs on; `owner`
/// is scratch for a profile owner's id.
fn first_step<'a>(op: &'a Op, owner: &'a mut [u8; 12]) -> FirstStep<'a> {
    use Arg::B;
    let step = FirstStep::new;
    match op {
        Op::Register { user } => step(
            Phase::Home,
            &[B(b"register"), id(CommunityId::profile(*user).0)],
        ),
        Op::CreateCommunity { creator, community } => step(
            Phase::HomeThenFollow,
            &[B(b"create"), id(community.0), id(creator.0)],
        ),
        Op::Join { user, community } => community_step(
            Phase::HomeThenFollow,
            b"join",
            *community,
            owner,
            &[id(user.0)],
        ),
        Op::Leave { user, community } => community_step(
            Phase::HomeThenFollow,
            b"leave",
            *community,
            owner,
            &[id(user.0)],
        ),
        Op::CreatePost {
            author, community, ..
        } => community_step(
            Phase::PostCheck,
            b"post_check",
            *community,
            owner,
            &[id(author.0)],
        ),
        Op::Comment {
            author,
            post,
            parent,
            body,
        } => comment_step(*author, *post, *parent, body),
        Op::Vote { voter, target, dir } => vote_step(*voter, *target, dir.value()),
        Op::GetPost { post, comments } => step(
            Phase::Home,
            &[
                B(b"get_post"),
                id(post.community.0),
                id(post.seq),
                id(u32::from(*comments)),
            ],
        ),
        Op::GetCommunityFeed {
            community,
            sort,
            limit,
        } => community_step(
            Phase::Home,
            b"feed",
            *community,
            owner,
            &[B(sort_arg(*sort)), id(u32::from(*limit))],
        ),
        // Plain commands, not a script: see `RedisSession::home_feed`.
        Op::GetHomeFeed { .. } => step(Phase::Registered, &[]),
        Op::SendDm { from, body, .. } => {
            step(Phase::Home, &[B(b"dm"), id(from.0), B(body.as_bytes())])
        }
        Op::GetInbox { limit, .. } => step(Phase::Home, &[B(b"inbox"), id(u32::from(*limit))]),
        Op::GetProfile { user } => step(
            Phase::Home,
            &[B(b"profile"), id(CommunityId::profile(*user).0)],
        ),
        Op::Search { community, term } => community_step(
            Phase::Home,
            b"search",
            *community,
            owner,
            &[B(term.as_bytes())],
        ),
    }
}

/// A script call on a community's group: `name`, the community, its
/// profile owner ("" for an ordinary one), then `rest`.
fn community_step<'a>(
    phase: Phase,
    name: &'static [u8],
    community: CommunityId,
    owner: &'a mut [u8; 12],
    rest: &[Arg<'a>],
) -> FirstStep<'a> {
    let owner = owner_arg(community, owner);
    let mut args = [
        Arg::B(name),
        id(community.0),
        Arg::B(owner),
        Arg::I(0),
        Arg::I(0),
    ];
    args[3..3 + rest.len()].copy_from_slice(rest);
    FirstStep::new(phase, &args[..3 + rest.len()])
}

/// A comment: the parent is -1 for a top-level comment, -2 for a parent
/// under another post (the script refuses it as an unknown comment).
fn comment_step(
    author: UserId,
    post: PostId,
    parent: Option<CommentId>,
    body: &Body,
) -> FirstStep<'_> {
    let parent = match parent {
        None => -1,
        Some(pc) if pc.post == post => i64::from(pc.seq),
        Some(_) => -2,
    };
    FirstStep::new(
        Phase::Home,
        &[
            Arg::B(b"comment"),
            id(post.community.0),
            id(post.seq),
            Arg::I(parent),
            id(author.0),
            Arg::B(body.as_bytes()),
        ],
    )
}

/// A vote on a post (comment seq -1) or a comment.
fn vote_step(voter: UserId, target: Target, value: i8) -> FirstStep<'static> {
    let (post, comment) = match target {
        Target::Post(p) => (p, -1),
        Target::Comment(c) => (c.post, i64::from(c.seq)),
    };
    FirstStep::new(
        Phase::HomeThenFollow,
        &[
            Arg::B(b"vote"),
            id(post.community.0),
            id(post.seq),
            Arg::I(comment),
            id(voter.0),
            Arg::I(i64::from(value)),
        ],
    )
}

/// A script's reply: the server calls the script made, and its items after
/// the status code and the call count, or the refusal.
fn script_reply(v: Value) -> (u64, Result<Vec<Value>, ApiError>) {
    let Value::Array(mut a) = v else {
        return (0, Err(ApiError::EngineFault));
    };
    let calls = a.get(1).and_then(int).map_or(0, |c| c.max(0) as u64);
    let r = match a.first().and_then(int) {
        Some(0) if a.len() >= 2 => {
            a.drain(..2);
            Ok(a)
        }
        Some(code) if code != 0 => Err(code_error(code)),
        _ => Err(ApiError::EngineFault),
    };
    (calls, r)
}

fn get(a: &[Value], i: usize) -> Result<i64, ApiError> {
    a.get(i).and_then(int).ok_or(ApiError::EngineFault)
}

fn u32_at(a: &[Value], i: usize) -> Result<u32, ApiError> {
    u32::try_from(get(a, i)?).map_err(|_| ApiError::EngineFault)
}

/// Appends the summaries of `community`'s posts from index members (the
/// post's stamp in 16 digits, its seq in 10, then `:author:score:comments`;
/// see ops.lua). `None` when a member is not that.
fn summaries(community: CommunityId, a: &[Value], out: &mut Vec<PostSummary>) -> Option<()> {
    for v in a {
        let Value::BulkString(m) = v else { return None };
        out.push(member_summary(community, m)?);
    }
    Some(())
}

/// One field of a user's subscriptions hash (community id, count): keeps
/// the community in `out` when the count is positive. False when the field
/// is not that.
fn subscribed(cid: &Value, count: &Value, out: &mut Vec<u32>) -> bool {
    match (int(cid).and_then(|c| u32::try_from(c).ok()), int(count)) {
        (Some(cid), Some(count)) => {
            if count > 0 {
                out.push(cid);
            }
            true
        }
        _ => false,
    }
}

/// One index member's summary (see [`summaries`]).
fn member_summary(community: CommunityId, m: &[u8]) -> Option<PostSummary> {
    let text = std::str::from_utf8(m).ok()?;
    let (created, seq) = (
        text.get(..16)?.parse().ok()?,
        text.get(16..26)?.parse().ok()?,
    );
    let mut rest = text.get(26..)?.strip_prefix(':')?.split(':');
    let mut next = || rest.next();
    let summary = PostSummary {
        id: PostId { community, seq },
        author: UserId(next()?.parse().ok()?),
        score: next()?.parse().ok()?,
        comments: next()?.parse().ok()?,
        created,
    };
    rest.next().is_none().then_some(summary)
}

/// Decodes a post reply: (author, score, comments, created, body), then
/// (seq, author, parent, score) per top comment.
fn post_view(post: PostId, a: &[Value]) -> Result<PostView, ApiError> {
    let body = match a.get(4) {
        Some(Value::BulkString(b)) => Body::from(b.clone()),
        _ => return Err(ApiError::EngineFault),
    };
    let mut top = Vec::with_capacity((a.len().saturating_sub(5)) / 4);
    for i in (0..(a.len().saturating_sub(5)) / 4).map(|k| 5 + k * 4) {
        let parent = get(a, i + 2)?;
        top.push(CommentSummary {
            id: CommentId {
                post,
                seq: u32_at(a, i)?,
            },
            author: UserId(u32_at(a, i + 1)?),
            parent: u32::try_from(parent)
                .ok()
                .map(|seq| CommentId { post, seq }),
            score: get(a, i + 3)?,
        });
    }
    Ok(PostView {
        post: PostSummary {
            id: post,
            author: UserId(u32_at(a, 0)?),
            score: get(a, 1)?,
            comments: u32_at(a, 2)?,
            created: get(a, 3)? as u64,
        },
        body,
        top_comments: top,
    })
}

/// Decodes an inbox reply: (seq, from, length) per DM, newest first.
fn inbox(user: UserId, a: &[Value]) -> Result<Vec<DmSummary>, ApiError> {
    let mut dms = Vec::with_capacity(a.len() / 3);
    for i in (0..a.len() / 3).map(|k| k * 3) {
        dms.push(DmSummary {
            id: DmId {
                to: user,
                seq: u32_at(a, i)?,
            },
            from: UserId(u32_at(a, i + 1)?),
            len: u32_at(a, i + 2)?,
        });
    }
    Ok(dms)
}

/// The reply to a one-step op (or the home step of an op with a follow-up),
/// from its script's items.
fn decode(op: &Op, a: Result<Vec<Value>, ApiError>) -> Response {
    let a = a?;
    Ok(match op {
        Op::Register { .. } | Op::CreateCommunity { .. } | Op::Join { .. } | Op::Leave { .. } => {
            Reply::Done
        }
        Op::CreatePost { community, .. } => Reply::Posted(PostId {
            community: *community,
            seq: u32_at(&a, 0)?,
        }),
        Op::Comment { post, .. } => Reply::Commented(CommentId {
            post: *post,
            seq: u32_at(&a, 0)?,
        }),
        Op::Vote { .. } => Reply::Voted {
            delta: get(&a, 0)? as i8,
            score: get(&a, 1)?,
        },
        Op::GetPost { post, .. } => Reply::Post(Box::new(post_view(*post, &a)?)),
        Op::GetCommunityFeed { community, .. } => {
            let mut feed = Vec::with_capacity(a.len());
            summaries(*community, &a, &mut feed).ok_or(ApiError::EngineFault)?;
            Reply::Feed(feed)
        }
        Op::SendDm { to, .. } => Reply::Sent(DmId {
            to: *to,
            seq: u32_at(&a, 0)?,
        }),
        Op::GetInbox { user, .. } => Reply::Inbox(inbox(*user, &a)?),
        Op::GetProfile { .. } => Reply::Profile(ProfileView {
            post_karma: get(&a, 0)?,
            comment_karma: get(&a, 1)?,
            subscriptions: u32_at(&a, 2)?,
            followers: u32_at(&a, 3)?,
            profile_posts: u32_at(&a, 4)?,
            inbox: u32_at(&a, 5)?,
        }),
        Op::Search { community, .. } => Reply::Found {
            matches: u32_at(&a, 0)?,
            newest: (1..a.len())
                .map(|i| {
                    Ok(PostId {
                        community: *community,
                        seq: u32_at(&a, i)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        // Multi-step ops never reach here with their home reply.
        Op::GetHomeFeed { .. } => return Err(ApiError::EngineFault),
    })
}

/// Packs the command `args` for connection `n`, answering part `to.1` of
/// the op in slot `to.0`, an op of `kind` (counted); `sent` numbers the
/// session's commands in the order they are sent.
fn send(
    (n, sent): (&mut Node, &mut u64),
    counters: &Counters,
    to: (u32, u32),
    kind: OpKind,
    args: &[Arg<'_>],
) {
    pack(&mut n.out, args);
    *sent += 1;
    n.pending.push_back((to.0, to.1, *sent));
    bump(&counters.kinds[kind as usize].commands, 1);
}

/// [`send`], and for a command that writes (`wait` is `Some`, holding
/// `--redis-wait`) marked so (a lost connection leaves its outcome unknown)
/// and followed by `WAIT` when one is asked for.
fn send_step(
    (n, sent): (&mut Node, &mut u64),
    counters: &Counters,
    to: (u32, u32),
    kind: OpKind,
    args: &[Arg<'_>],
    wait: Option<Option<super::shared::Wait>>,
) {
    match wait {
        None => send((n, sent), counters, to, kind, args),
        Some(None) => send((n, sent), counters, (to.0, to.1 | WRITES), kind, args),
        Some(Some(w)) => {
            send(
                (n, sent),
                counters,
                (to.0, to.1 | WRITES | ACKED),
                kind,
                args,
            );
            let wait = [
                Arg::B(b"WAIT"),
                Arg::I(i64::from(w.replicas)),
                Arg::I(w.timeout_ms as i64),
            ];
            send((n, sent), counters, (to.0, WAIT), kind, &wait);
        }
    }
}

impl RedisSession {
    pub(super) fn new(
        shared: Arc<Shared>,
        counters: Arc<Counters>,
        layout: Arc<Layout>,
        nodes: Vec<Node>,
    ) -> Self {
        RedisSession {
            watch: vec![false; layout.urls.len()],
            watching: false,
            shared,
            counters,
            layout,
            nodes,
            ops: Vec::with_capacity(64),
            free: Vec::with_capacity(64),
            ready: VecDeque::with_capacity(64),
            outstanding: 0,
            broken: None,
            key: String::with_capacity(64),
            sent: 0,
            stale: None,
            next_refresh: Instant::now(),
            parked: Vec::new(),
        }
    }

    /// The session connection for `key` (see [`Layout::conn_of`]).
    fn conn_of(&self, key: &[u8]) -> usize {
        self.layout.conn_of(key, self.shared.connections)
    }

    /// Packs `EVALSHA <sha> 1 <group of home> <args>` for op slot `idx`, an
    /// op of `kind`; `writes`: the script may write (see [`send_step`]).
    fn eval(&mut self, idx: u32, kind: OpKind, home: Home, args: &[Arg<'_>], writes: bool) {
        group(&self.shared.prefix, home, &mut self.key);
        let mut all: [Arg<'_>; 10] = [Arg::I(0); 10];
        all[0] = Arg::B(b"EVALSHA");
        all[1] = Arg::B(self.shared.sha.as_bytes());
        all[2] = Arg::I(1);
        all[3] = Arg::B(self.key.as_bytes());
        all[4..4 + args.len()].copy_from_slice(args);
        let node = self
            .layout
            .conn_of(self.key.as_bytes(), self.shared.connections);
        let wait = if writes { Some(self.shared.wait) } else { None };
        send_step(
            (&mut self.nodes[node], &mut self.sent),
            &self.counters,
            (idx, 0),
            kind,
            &all[..4 + args.len()],
            wait,
        );
    }

    /// [`send`] to `node`.
    fn send(&mut self, node: usize, to: (u32, u32), kind: OpKind, args: &[Arg<'_>]) {
        send(
            (&mut self.nodes[node], &mut self.sent),
            &self.counters,
            to,
            kind,
            args,
        );
    }

    /// A script's items after its status and call count (which is added to
    /// the counts of `kind`), or its refusal.
    fn script_items(&self, kind: OpKind, v: Value) -> Result<Vec<Value>, ApiError> {
        let (calls, r) = script_reply(v);
        bump(&self.counters.kinds[kind as usize].script_calls, calls);
        r
    }

    /// Sends the first step of the op in slot `idx`.
    fn start(&mut self, idx: u32) {
        let Some(f) = self.ops[idx as usize].take() else {
            return;
        };
        let mut owner = [0u8; 12];
        let step = first_step(&f.op, &mut owner);
        if let Op::GetHomeFeed { user, .. } = f.op {
            self.home_feed(idx, user);
        } else {
            let writes = f.op.kind().is_write() && step.phase != Phase::PostCheck;
            self.eval(idx, f.op.kind(), f.op.home(), step.args(), writes);
        }
        let phase = step.phase;
        self.ops[idx as usize] = Some(InFlight { phase, ..f });
    }

    /// A home feed's first step: `HGET <user>:u reg` and `HGETALL <user>:s`
    /// pipelined on the user's group, as plain commands: a script would
    /// spend most of its time converting the hash to Lua values and back
    /// (measured in the README, Redis). Two reads of one group, not
    /// atomic together: a user registered between them reads as unknown,
    /// which is the state at the first read.
    fn home_feed(&mut self, idx: u32, user: UserId) {
        group(&self.shared.prefix, user_home(user), &mut self.key);
        let base = self.key.len();
        let conn = self.conn_of(self.key.as_bytes());
        let mut key = std::mem::take(&mut self.key);
        key.push_str(":u");
        let kind = OpKind::GetHomeFeed;
        self.send(
            conn,
            (idx, 0),
            kind,
            &[Arg::B(b"HGET"), Arg::B(key.as_bytes()), Arg::B(b"reg")],
        );
        key.truncate(base);
        key.push_str(":s");
        self.send(
            conn,
            (idx, 1),
            kind,
            &[Arg::B(b"HGETALL"), Arg::B(key.as_bytes())],
        );
        self.key = key;
    }

    /// Answers the op in slot `idx` and frees the slot.
    fn finish(&mut self, idx: u32, f: InFlight, r: Response) {
        bump(&self.counters.kinds[f.op.kind() as usize].ops, 1);
        if let Ok(reply) = &r {
            self.count(&f.op, reply);
        }
        match r {
            Err(ApiError::EngineFault) => {
                self.counters.faults.fetch_add(1, Ordering::Relaxed);
            }
            Err(ApiError::Unavailable) => bump(&self.counters.unavailable, 1),
            _ => {}
        }
        self.ready.push_back((f.tag, r));
        self.ops[idx as usize] = None;
        self.free.push(idx);
    }

    /// Keeps the session's entity counts (for `stats()`) from acknowledged writes.
    fn count(&self, op: &Op, reply: &Reply) {
        let c = &self.counters;
        let add = |a: &std::sync::atomic::AtomicI64, by: i64| {
            a.fetch_add(by, Ordering::Relaxed);
        };
        match (op, reply) {
            (Op::Register { .. }, Reply::Done) => {
                add(&c.users, 1);
                add(&c.memberships, 1);
            }
            (Op::CreateCommunity { .. }, Reply::Done) => {
                add(&c.communities, 1);
                add(&c.memberships, 1);
            }
            (Op::Join { .. }, Reply::Done) => add(&c.memberships, 1),
            (Op::Leave { .. }, Reply::Done) => add(&c.memberships, -1),
            (_, Reply::Posted(_)) => add(&c.posts, 1),
            (_, Reply::Commented(_)) => add(&c.comments, 1),
            (_, Reply::Sent(_)) => add(&c.dms, 1),
            _ => {}
        }
    }

    /// Drives the op the reply `v` (from connection `conn`) belongs to.
    fn on_reply(&mut self, conn: usize, v: Value) {
        let Some((idx, part, _)) = self.nodes[conn].pending.pop_front() else {
            return;
        };
        if self.watching && !matches!(v, Value::ServerError(_)) {
            self.first_op(conn / self.shared.connections);
        }
        let Some(mut f) = self.ops[idx as usize].take() else {
            return;
        };
        if part & WAIT != 0 {
            return self.acked(idx, f, &v);
        }
        if part & ACKED != 0 {
            f.held = Some((part, Held::Reply(v)));
            self.ops[idx as usize] = Some(f);
            return;
        }
        self.step(idx, f, part, v);
    }

    /// An error reply the client handed over as an error (`code`, `text`)
    /// answers command `part` of the op in slot `idx`.
    fn error_reply(&mut self, idx: u32, mut f: InFlight, part: u32, code: String, text: String) {
        if part & ACKED != 0 {
            f.held = Some((part, Held::Error(code, text)));
            self.ops[idx as usize] = Some(f);
        } else if self.refused(&code) {
            self.unserved(idx, f, part, false);
        } else {
            self.server_error(idx, f, &text);
        }
    }

    /// The `WAIT` after a write came back (`v`): the write's held reply
    /// drives its op if enough replicas have it.
    fn acked(&mut self, idx: u32, mut f: InFlight, v: &Value) {
        let Some((part, held)) = f.held.take() else {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        };
        let held = match held {
            Held::Reply(v) => v,
            Held::Error(code, text) => return self.error_reply(idx, f, part & !ACKED, code, text),
        };
        let want = self.shared.wait.map_or(0, |w| i64::from(w.replicas));
        let short = !matches!(held, Value::ServerError(_)) && int(v).is_none_or(|n| n < want);
        if short {
            bump(&self.counters.wait_short, 1);
            return self.unserved(idx, f, part, true);
        }
        self.step(idx, f, part, held);
    }

    /// A reply without an error came from `node`: if it is a new master,
    /// its first answered op is reported.
    fn first_op(&mut self, node: usize) {
        if self.watch[node] {
            self.watch[node] = false;
            self.shared.note_first_op(node);
            self.watching = self.watch.contains(&true);
        }
    }

    /// The cluster refused a command with `code` without running it (a
    /// failover or a resharding; `READONLY`: a master demoted to a replica),
    /// when the session follows failovers.
    fn refused(&self, code: &str) -> bool {
        self.shared.follow
            && matches!(
                code,
                "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "READONLY"
            )
    }

    /// Drives the op in slot `idx` with the reply `v` to its command `part`.
    fn step(&mut self, idx: u32, mut f: InFlight, part: u32, v: Value) {
        if let Value::ServerError(e) = &v {
            if self.refused(e.code()) {
                return self.unserved(idx, f, part, false);
            }
            return self.server_error(idx, f, &error_line(e));
        }
        let kind = f.op.kind();
        match f.phase {
            Phase::Home => {
                let r = decode(&f.op, self.script_items(kind, v));
                self.finish(idx, f, r);
            }
            Phase::HomeThenFollow => {
                let a = self.script_items(kind, v);
                self.home_then_follow(idx, f, a)
            }
            Phase::Follow => {
                let r = match self.script_items(kind, v) {
                    Ok(_) => f.reply.take().ok_or(ApiError::EngineFault),
                    Err(_) => Err(ApiError::EngineFault),
                };
                self.finish(idx, f, r);
            }
            Phase::PostCheck => match self.script_items(kind, v) {
                Ok(_) => self.tick_clock(idx, f),
                Err(e) => self.finish(idx, f, Err(e)),
            },
            Phase::PostClock => self.post_with_stamp(idx, f, v),
            Phase::Registered => {
                // Not registered: answered once the subscriptions' reply,
                // already on its way, has been read.
                f.failed = int(&v) != Some(1);
                f.phase = Phase::Subs;
                self.ops[idx as usize] = Some(f);
            }
            Phase::Subs => self.rank(idx, f, v),
            Phase::Ranks => self.ranked(idx, f, part & PART, v),
        }
    }

    /// Command `part` of the op in slot `idx` was not carried out (`lost`:
    /// whether it was is unknown: its connection died, or its `WAIT` came
    /// back short). See the module docs for what follows.
    fn unserved(&mut self, idx: u32, mut f: InFlight, part: u32, lost: bool) {
        self.stale.get_or_insert_with(Instant::now);
        let unknown = lost && part & WRITES != 0 && f.phase != Phase::PostClock;
        match f.phase {
            Phase::Follow if !unknown => {
                self.parked.push(idx);
                self.ops[idx as usize] = Some(f);
            }
            Phase::Ranks if f.waiting > 1 => {
                f.unavailable = true;
                f.waiting -= 1;
                self.ops[idx as usize] = Some(f);
            }
            Phase::Registered => {
                f.unavailable = true;
                f.phase = Phase::Subs;
                self.ops[idx as usize] = Some(f);
            }
            _ => {
                if unknown {
                    bump(&self.counters.unknown_outcome, 1);
                }
                self.finish(idx, f, Err(ApiError::Unavailable));
            }
        }
    }

    /// CreatePost, its check passed: tick the post clock.
    fn tick_clock(&mut self, idx: u32, mut f: InFlight) {
        let key = self.shared.clock_key.as_bytes();
        let conn = self.layout.conn_of(key, self.shared.connections);
        send_step(
            (&mut self.nodes[conn], &mut self.sent),
            &self.counters,
            (idx, 0),
            OpKind::CreatePost,
            &[Arg::B(b"INCR"), Arg::B(key)],
            Some(self.shared.wait),
        );
        f.phase = Phase::PostClock;
        self.ops[idx as usize] = Some(f);
    }

    /// CreatePost, the clock ticked (`v` is the stamp): apply the post.
    fn post_with_stamp(&mut self, idx: u32, mut f: InFlight, v: Value) {
        let Some(stamp) = int(&v) else {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        };
        if let Op::CreatePost {
            author,
            community,
            body,
        } = &f.op
        {
            let mut ob = [0u8; 12];
            let owner = owner_arg(*community, &mut ob);
            // `f` is out of `self.ops` here, so its body is borrowed, not copied.
            self.eval(
                idx,
                OpKind::CreatePost,
                community_home(*community),
                &[
                    Arg::B(b"post"),
                    id(community.0),
                    Arg::B(owner),
                    id(author.0),
                    Arg::I(stamp),
                    Arg::B(body.as_bytes()),
                ],
                true,
            );
        }
        f.phase = Phase::Home;
        self.ops[idx as usize] = Some(f);
    }

    /// The server answered a step of the op in slot `idx` with an error.
    fn server_error(&mut self, idx: u32, mut f: InFlight, what: &str) {
        self.shared.note_server_error(what);
        if f.phase == Phase::Ranks && f.waiting > 1 {
            f.failed = true;
            f.waiting -= 1;
            self.ops[idx as usize] = Some(f);
        } else {
            self.finish(idx, f, Err(ApiError::EngineFault));
        }
    }

    /// Home step of Join, Leave, CreateCommunity, Vote: on success, send the follow-up.
    fn home_then_follow(&mut self, idx: u32, mut f: InFlight, a: Result<Vec<Value>, ApiError>) {
        let a = match a {
            Ok(a) => a,
            Err(e) => return self.finish(idx, f, Err(e)),
        };
        let sub = |user: UserId, community: CommunityId, by: i64| FollowUp {
            user,
            name: b"sub",
            a: i64::from(community.0),
            b: by,
        };
        let follow = match &f.op {
            Op::CreateCommunity { creator, community } => sub(*creator, *community, 1),
            Op::Join { user, community } => sub(*user, *community, 1),
            Op::Leave { user, community } => sub(*user, *community, -1),
            Op::Vote { target, dir, .. } => {
                let (delta, score, author, old) =
                    match (get(&a, 0), get(&a, 1), u32_at(&a, 2), get(&a, 3)) {
                        (Ok(d), Ok(s), Ok(au), Ok(o)) => (d, s, au, o),
                        _ => return self.finish(idx, f, Err(ApiError::EngineFault)),
                    };
                let new = dir.value() as i64;
                let votes = i64::from(new != 0) - i64::from(old != 0);
                if votes != 0 {
                    self.counters.votes.fetch_add(votes, Ordering::Relaxed);
                }
                let reply = Reply::Voted {
                    delta: delta as i8,
                    score,
                };
                if delta == 0 {
                    return self.finish(idx, f, Ok(reply));
                }
                f.reply = Some(reply);
                let (pk, ck) = match target {
                    Target::Post(_) => (delta, 0),
                    Target::Comment(_) => (0, delta),
                };
                FollowUp {
                    user: UserId(author),
                    name: b"karma",
                    a: pk,
                    b: ck,
                }
            }
            _ => return self.finish(idx, f, Err(ApiError::EngineFault)),
        };
        if f.reply.is_none() {
            f.reply = Some(Reply::Done);
        }
        f.follow = Some(follow);
        self.send_follow(idx, f);
    }

    /// Sends the follow-up of the op in slot `idx` (again, after a failover
    /// refused it: it was not applied, so this applies it once).
    fn send_follow(&mut self, idx: u32, mut f: InFlight) {
        let Some(u) = f.follow else {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        };
        self.eval(
            idx,
            f.op.kind(),
            user_home(u.user),
            &[Arg::B(u.name), Arg::I(u.a), Arg::I(u.b)],
            true,
        );
        f.phase = Phase::Follow;
        self.ops[idx as usize] = Some(f);
    }

    /// Home feed: the subscriptions are in; ask each community's index for
    /// its best `limit` posts (`ZREVRANGE`: the members are the summaries).
    fn rank(&mut self, idx: u32, mut f: InFlight, v: Value) {
        if f.unavailable {
            return self.finish(idx, f, Err(ApiError::Unavailable));
        }
        if f.failed {
            return self.finish(idx, f, Err(ApiError::UnknownUser));
        }
        let Op::GetHomeFeed { sort, limit, .. } = f.op else {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        };
        // Communities with a positive subscription count (a count, not a
        // flag: see the partition's docs).
        f.subs.clear();
        let ok = match &v {
            Value::Array(a) if a.len() % 2 == 0 => {
                a.chunks(2).all(|p| subscribed(&p[0], &p[1], &mut f.subs))
            }
            Value::Map(m) => m.iter().all(|(c, n)| subscribed(c, n, &mut f.subs)),
            _ => false,
        };
        if !ok {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        }
        if f.subs.is_empty() || limit == 0 {
            return self.finish(idx, f, Ok(Reply::Feed(Vec::new())));
        }
        let top = i64::from(limit) - 1;
        for part in 0..f.subs.len() {
            let c = CommunityId(f.subs[part]);
            self.post_key(c, None);
            self.key
                .push_str(std::str::from_utf8(sort_arg(sort)).unwrap_or("h"));
            let node = self.conn_of(self.key.as_bytes());
            let key = std::mem::take(&mut self.key);
            self.send(
                node,
                (idx, part as u32),
                OpKind::GetHomeFeed,
                &[
                    Arg::B(b"ZREVRANGE"),
                    Arg::B(key.as_bytes()),
                    Arg::I(0),
                    Arg::I(top),
                ],
            );
            self.key = key;
        }
        f.waiting = f.subs.len() as u32;
        f.feed.clear();
        f.phase = Phase::Ranks;
        self.ops[idx as usize] = Some(f);
    }

    /// Writes into `self.key` the key of community `c`'s post `seq` (`None`:
    /// the prefix of its indexes, `<group>:c<id>:`).
    fn post_key(&mut self, c: CommunityId, seq: Option<u32>) {
        use std::fmt::Write as _;
        group(&self.shared.prefix, community_home(c), &mut self.key);
        let _ = match seq {
            Some(seq) => write!(self.key, ":c{}:p{seq}", c.0),
            None => write!(self.key, ":c{}:", c.0),
        };
    }

    /// Home feed: community `part`'s best posts arrived; the last part
    /// answers the op with the best `limit` of them all.
    fn ranked(&mut self, idx: u32, mut f: InFlight, part: u32, v: Value) {
        let community = CommunityId(f.subs.get(part as usize).copied().unwrap_or(u32::MAX));
        let parsed = match &v {
            Value::Array(a) => summaries(community, a, &mut f.feed),
            _ => None,
        };
        if parsed.is_none() {
            f.failed = true;
        }
        f.waiting -= 1;
        if f.waiting > 0 {
            self.ops[idx as usize] = Some(f);
            return;
        }
        let Op::GetHomeFeed { sort, limit, .. } = f.op else {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        };
        if f.unavailable {
            return self.finish(idx, f, Err(ApiError::Unavailable));
        }
        if f.failed {
            return self.finish(idx, f, Err(ApiError::EngineFault));
        }
        let mut feed = std::mem::take(&mut f.feed);
        merge_feed(&mut feed, sort, limit);
        self.finish(idx, f, Ok(Reply::Feed(feed)));
    }

    /// The connection failed (or a failover did not end in time): answer
    /// every op in flight with `EngineFault` and stop.
    fn fail(&mut self, why: String) {
        self.shared.note_connection_lost(&why);
        for n in &mut self.nodes {
            n.pending.clear();
            n.out.clear();
        }
        self.parked.clear();
        for idx in 0..self.ops.len() {
            if let Some(f) = self.ops[idx].take() {
                self.finish(idx as u32, f, Err(ApiError::EngineFault));
            }
        }
        self.broken = Some(why);
    }

    /// Connection `conn` failed (`why`): following failovers, its commands
    /// are settled as of unknown outcome and the node is down until the
    /// layout serves its slots again; otherwise the session stops.
    fn lose(&mut self, conn: usize, why: String) {
        if !self.shared.follow {
            return self.fail(why);
        }
        self.shared.note_lost(conn / self.shared.connections);
        self.settle(conn, true);
    }

    /// Drops connection `conn` and settles every command queued on it:
    /// unknown outcome (`lost`) or refused, unsent.
    fn settle(&mut self, conn: usize, lost: bool) {
        let n = &mut self.nodes[conn];
        n.conn = None;
        n.out.clear();
        let pending = std::mem::take(&mut n.pending);
        for (idx, part, _) in pending {
            let Some(mut f) = self.ops[idx as usize].take() else {
                continue;
            };
            // A WAIT whose write's reply is held: the write's outcome is
            // unknown; one whose write was settled before has no op left.
            let part = if part & WAIT != 0 {
                match f.held.take() {
                    Some((p, _)) => p,
                    None => {
                        // Its write was settled already (parked or answered).
                        self.ops[idx as usize] = Some(f);
                        continue;
                    }
                }
            } else {
                part
            };
            self.unserved(idx, f, part, lost);
        }
        self.stale.get_or_insert_with(Instant::now);
    }

    /// Writes every node's buffered commands.
    fn flush(&mut self) -> bool {
        for i in 0..self.nodes.len() {
            if let Err(e) = self.nodes[i].flush() {
                let why = format!(
                    "writing to Redis at {}: {}",
                    self.nodes[i].addr,
                    one_line(&e)
                );
                self.lose(i, why);
                if self.broken.is_some() {
                    return false;
                }
            }
        }
        true
    }

    /// Reads one reply from a node that owes one; false when none does.
    fn read_one(&mut self) -> bool {
        // The connection whose oldest command was sent first: with several
        // connections, the reply most likely to be there already.
        let oldest = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.pending.front().map(|p| (p.2, i)))
            .min();
        let Some((_, node)) = oldest else {
            return false;
        };
        match self.nodes[node].recv() {
            Some(Ok(v)) => self.on_reply(node, v),
            // A command queued for a node that is down: refused, unsent.
            None => self.settle(node, false),
            // A whole error reply the crate hands over as an error rather than
            // as `Value::ServerError`: the stream is still in step, so it is
            // that op's reply.
            Some(Err(e)) if matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension) => {
                let entry = self.nodes[node].pending.pop_front();
                if let Some((idx, part, _)) = entry
                    && let Some(f) = self.ops[idx as usize].take()
                {
                    let code = e.code().unwrap_or_default().to_string();
                    self.error_reply(idx, f, part, code, e.to_string());
                }
            }
            // I/O (a dropped connection, a read timeout) or a reply that does
            // not parse: the rest of the stream can no longer be paired with
            // the ops waiting on it.
            Some(Err(e)) => {
                let what = if e.is_timeout() {
                    format!("no reply within {:?}", self.shared.timeout)
                } else {
                    one_line(&e)
                };
                let why = format!("reading from Redis at {}: {what}", self.nodes[node].addr);
                self.lose(node, why);
            }
        }
        true
    }

    /// A failover is under way: reads the layout again (at most every
    /// `REFRESH_EVERY`), connects to new masters, sends parked follow-ups;
    /// stops the session when it has lasted longer than the engine waits.
    fn recover(&mut self) {
        let Some(since) = self.stale else { return };

        let now = Instant::now();
        if now < self.next_refresh {
            return;
        }
        self.next_refresh = now + REFRESH_EVERY;
        if let Ok(layout) = self.shared.refresh() {
            self.adopt(layout);
        }
        let c = self.shared.connections;
        let healed = self.layout.masters().all(|n| {
            self.nodes[n * c..(n + 1) * c]
                .iter()
                .all(|x| x.conn.is_some())
        });
        if healed && self.parked.is_empty() {
            self.stale = None;
        } else if since.elapsed() > self.shared.failover_wait {
            self.fail(format!(
                "the cluster did not serve every slot again within {:?} of a failover",
                self.shared.failover_wait
            ));
        }
    }

    /// Routes by `layout` from now on: connects to its masters that have no
    /// connection (loading the script), watches new masters for their first
    /// op, and sends the parked follow-ups whose master it reaches.
    fn adopt(&mut self, layout: Arc<Layout>) {
        let c = self.shared.connections;
        while self.nodes.len() < layout.urls.len() * c {
            let url = &layout.urls[self.nodes.len() / c];
            self.nodes.push(Node::down(url));
        }
        self.watch.resize(layout.urls.len(), false);
        for n in layout.masters() {
            if !self.layout.serving.get(n).copied().unwrap_or(false) {
                self.watch[n] = true;
                self.watching = true;
            }
            for k in n * c..(n + 1) * c {
                if self.nodes[k].conn.is_some() {
                    continue;
                }
                // Commands queued while it was down are refused first, so
                // that no reply of the new connection pairs with them.
                self.settle(k, false);
                self.nodes[k].conn = self.connect(&layout.urls[n]);
            }
        }
        self.layout = layout;
        for idx in std::mem::take(&mut self.parked) {
            let Some(u) = self.ops[idx as usize].as_ref().and_then(|f| f.follow) else {
                continue;
            };
            group(&self.shared.prefix, user_home(u.user), &mut self.key);
            let conn = self.conn_of(self.key.as_bytes());
            if self.nodes[conn].conn.is_none() {
                // Its master is still unreachable: kept for the next reading.
                self.parked.push(idx);
            } else if let Some(f) = self.ops[idx as usize].take() {
                bump(&self.counters.follow_ups_resent, 1);
                self.send_follow(idx, f);
            }
        }
    }

    /// A connection to `url` with the script loaded, if the node answers.
    fn connect(&self, url: &str) -> Option<::redis::Connection> {
        let mut conn = wire::connect(url, self.shared.timeout).ok()?;
        wire::load_script(&mut conn).ok()?;
        Some(conn)
    }

    fn in_flight(&self) -> usize {
        self.outstanding - self.ready.len()
    }
}

impl Session for RedisSession {
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError> {
        if self.broken.is_some() || self.shared.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        self.outstanding += 1;
        if let Err(e) = op.check_values() {
            bump(&self.counters.kinds[op.kind() as usize].ops, 1);
            self.ready.push_back((tag, Err(e)));
            return Ok(());
        }
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.ops.push(None);
                (self.ops.len() - 1) as u32
            }
        };
        self.ops[idx as usize] = Some(InFlight {
            tag,
            op,
            phase: Phase::Home,
            waiting: 0,
            subs: Vec::new(),
            feed: Vec::new(),
            reply: None,
            failed: false,
            unavailable: false,
            follow: None,
            held: None,
        });
        self.start(idx);
        // Keep the write buffer bounded when many ops are submitted at once.
        if self.nodes.iter().any(|n| n.out.len() > 64 * 1024) {
            self.flush();
        }
        Ok(())
    }

    /// Writes the pipelined commands, then hands over every answered op. With
    /// ops on the wire and none answered yet, reads until one is answered,
    /// whether or not `wait` is set (so `poll(false)` may wait up to one
    /// server round trip: a sync connection cannot peek without risking a
    /// half-read reply). A read times out after the engine's timeout.
    fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
        loop {
            self.recover();
            if !(self.ready.is_empty() && self.in_flight() > 0 && self.broken.is_none()) {
                break;
            }
            if !self.flush() {
                break;
            }
            if !self.read_one() {
                // Only parked follow-ups are in flight: wait for the next
                // reading of the layout.
                let until = self.next_refresh.saturating_duration_since(Instant::now());
                std::thread::sleep(until.max(Duration::from_millis(1)));
            }
        }
        let n = self.ready.len();
        self.outstanding -= n;
        for (tag, r) in self.ready.drain(..) {
            f(tag, r);
        }
        n
    }

    fn outstanding(&self) -> usize {
        self.outstanding
    }
}
