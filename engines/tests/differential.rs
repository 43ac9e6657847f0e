//! Differential test: with one session and one op in flight, every engine
//! returns the same replies as the serial baseline, op by op, and ends in the
//! same state (digest); and invalid ops get their typed error on every engine
//! and leave the state untouched.
//!
//! Size knob: `SOCIALBENCH_DIFF_OPS` (default 100,000 ops).

mod common;

use std::sync::OnceLock;

use common::{Reference, env_usize, replay_op_by_op, serial_reference};
use socialbench_engines::actor::ActorEngine;
use socialbench_engines::serial::SerialEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::*;

/// Generated once per test binary (see [`serial_reference`]).
fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let n = env_usize("SOCIALBENCH_DIFF_OPS", 100_000);
        let reference = serial_reference(n);
        let ok = reference.replies.iter().filter(|r| r.is_ok()).count();
        assert!(
            ok > n / 2 && ok < n,
            "the sequence should be mostly valid with some errors: {ok} of {n} ok"
        );
        reference
    })
}

fn replays_like_serial<E: Engine>(engine: E, label: &str) {
    let reference = reference();
    let mut session = engine.session().expect("session");
    replay_op_by_op(&mut session, reference, label);
    engine.quiesce();
    assert_eq!(engine.digest(), reference.digest, "{label}: final digest");
    let audit = engine.audit();
    if let Err(e) = audit.check(&reference.tally) {
        panic!("{label}: {e}");
    }
    let stats = engine.stats();
    assert_eq!(stats.counts, reference.counts, "{label}: entity counts");
    assert_eq!(
        stats.pending_follow_ups, 0,
        "{label}: pending after quiesce"
    );
    drop(session);
    engine.shutdown();
}

fn cfg(partitions: usize) -> EngineConfig {
    common::config(partitions, ChannelKind::Crossbeam)
}

#[test]
fn actor_replies_like_serial_op_by_op() {
    replays_like_serial(ActorEngine::new(&cfg(1)).unwrap(), "actor");
}

#[test]
fn actor_on_flume_replies_like_serial_op_by_op() {
    let c = common::config(1, ChannelKind::Flume);
    replays_like_serial(ActorEngine::new(&c).unwrap(), "actor/flume");
}

#[test]
fn sharded_1_replies_like_serial_op_by_op() {
    replays_like_serial(ShardedEngine::new(&cfg(1)).unwrap(), "sharded(1)");
}

#[test]
fn sharded_3_replies_like_serial_op_by_op() {
    replays_like_serial(ShardedEngine::new(&cfg(3)).unwrap(), "sharded(3)");
}

#[test]
fn sharded_8_on_flume_replies_like_serial_op_by_op() {
    let c = common::config(8, ChannelKind::Flume);
    replays_like_serial(ShardedEngine::new(&c).unwrap(), "sharded(8)/flume");
}

#[test]
fn sharded_8_replies_like_serial_op_by_op() {
    replays_like_serial(ShardedEngine::new(&cfg(8)).unwrap(), "sharded(8)");
}

#[test]
fn striped_1_replies_like_serial_op_by_op() {
    replays_like_serial(StripedEngine::new(&cfg(1)).unwrap(), "striped(1)");
}

#[test]
fn striped_3_replies_like_serial_op_by_op() {
    replays_like_serial(StripedEngine::new(&cfg(3)).unwrap(), "striped(3)");
}

#[test]
fn striped_8_replies_like_serial_op_by_op() {
    replays_like_serial(StripedEngine::new(&cfg(8)).unwrap(), "striped(8)");
}

// ---- invalid ops --------------------------------------------------------------

fn body(s: &str) -> Body {
    Body::from(s)
}

fn big() -> Body {
    Body::from(vec![b'x'; MAX_BODY_LEN + 1])
}

/// The entities the invalid ops refer to: two users, a community of `u1`
/// with one post and one comment, and ids that name nothing.
#[derive(Clone, Copy)]
struct Fixture {
    u1: UserId,
    u2: UserId,
    ghost: UserId,
    c: CommunityId,
    nowhere: CommunityId,
    post: PostId,
    comment: CommentId,
}

/// Creates the fixture's entities through `s`.
fn set_up<S: Session>(s: &mut S, label: &str) -> Fixture {
    let (u1, u2, c) = (UserId(1), UserId(2), CommunityId(10));
    for op in [
        Op::Register { user: u1 },
        Op::Register { user: u2 },
        Op::CreateCommunity {
            creator: u1,
            community: c,
        },
    ] {
        assert_eq!(s.call(op), Ok(Reply::Done), "{label}: setup");
    }
    let post = match s.call(Op::CreatePost {
        author: u1,
        community: c,
        body: body("hello rust"),
    }) {
        Ok(Reply::Posted(p)) => p,
        other => panic!("{label}: setup post: {other:?}"),
    };
    let comment = match s.call(Op::Comment {
        author: u2,
        post,
        parent: None,
        body: body("hi"),
    }) {
        Ok(Reply::Commented(c)) => c,
        other => panic!("{label}: setup comment: {other:?}"),
    };
    Fixture {
        u1,
        u2,
        ghost: UserId(77),
        c,
        nowhere: CommunityId(999),
        post,
        comment,
    }
}

fn too_large() -> ApiError {
    ApiError::BodyTooLarge {
        len: MAX_BODY_LEN as u32 + 1,
        max: MAX_BODY_LEN as u32,
    }
}

fn bad_limit(limit: u16) -> ApiError {
    ApiError::BadLimit {
        limit,
        max: MAX_LIMIT,
    }
}

fn no_post(f: &Fixture) -> PostId {
    PostId {
        community: f.c,
        seq: 9,
    }
}

fn no_comment(f: &Fixture) -> CommentId {
    CommentId {
        post: f.post,
        seq: 9,
    }
}

/// Invalid registrations, community creations, joins and leaves.
fn user_and_community_cases(f: &Fixture) -> Vec<(Op, ApiError)> {
    let Fixture {
        u1, u2, c, nowhere, ..
    } = *f;
    vec![
        (Op::Register { user: u1 }, ApiError::AlreadyExists),
        (
            Op::Register {
                user: UserId(UserId::MAX),
            },
            ApiError::UnknownUser,
        ),
        (
            Op::CreateCommunity {
                creator: u2,
                community: c,
            },
            ApiError::AlreadyExists,
        ),
        (
            Op::CreateCommunity {
                creator: u2,
                community: CommunityId::profile(u2),
            },
            ApiError::Forbidden,
        ),
        (
            Op::Join {
                user: u2,
                community: nowhere,
            },
            ApiError::UnknownCommunity,
        ),
        (
            Op::Join {
                user: u1,
                community: c,
            },
            ApiError::AlreadyMember,
        ),
        (
            Op::Leave {
                user: u2,
                community: c,
            },
            ApiError::NotMember,
        ),
        (
            Op::Leave {
                user: u1,
                community: CommunityId::profile(u1),
            },
            ApiError::Forbidden,
        ),
        (
            Op::Leave {
                user: u1,
                community: nowhere,
            },
            ApiError::UnknownCommunity,
        ),
    ]
}

/// Invalid posts and comments.
fn post_cases(f: &Fixture) -> Vec<(Op, ApiError)> {
    let Fixture {
        u1,
        u2,
        c,
        nowhere,
        post,
        comment,
        ..
    } = *f;
    vec![
        (
            Op::CreatePost {
                author: u2,
                community: c,
                body: body("x"),
            },
            ApiError::NotMember,
        ),
        (
            Op::CreatePost {
                author: u1,
                community: CommunityId::profile(u2),
                body: body("x"),
            },
            ApiError::Forbidden,
        ),
        (
            Op::CreatePost {
                author: u1,
                community: c,
                body: big(),
            },
            too_large(),
        ),
        (
            Op::CreatePost {
                author: u1,
                community: nowhere,
                body: body("x"),
            },
            ApiError::UnknownCommunity,
        ),
        (
            Op::Comment {
                author: u1,
                post: no_post(f),
                parent: None,
                body: body("x"),
            },
            ApiError::UnknownPost,
        ),
        (
            Op::Comment {
                author: u1,
                post,
                parent: Some(no_comment(f)),
                body: body("x"),
            },
            ApiError::UnknownComment,
        ),
        (
            Op::Comment {
                author: u1,
                post,
                parent: Some(comment),
                body: big(),
            },
            too_large(),
        ),
    ]
}

/// Invalid votes.
fn vote_cases(f: &Fixture) -> Vec<(Op, ApiError)> {
    let u2 = f.u2;
    vec![
        (
            Op::Vote {
                voter: u2,
                target: Target::Post(no_post(f)),
                dir: VoteDir::Up,
            },
            ApiError::UnknownPost,
        ),
        (
            Op::Vote {
                voter: u2,
                target: Target::Comment(no_comment(f)),
                dir: VoteDir::Down,
            },
            ApiError::UnknownComment,
        ),
    ]
}

/// Invalid post reads and feeds.
fn feed_cases(f: &Fixture) -> Vec<(Op, ApiError)> {
    let Fixture {
        u1,
        ghost,
        c,
        nowhere,
        post,
        ..
    } = *f;
    vec![
        (
            Op::GetPost {
                post: no_post(f),
                comments: 1,
            },
            ApiError::UnknownPost,
        ),
        (
            Op::GetPost {
                post,
                comments: MAX_LIMIT + 1,
            },
            bad_limit(MAX_LIMIT + 1),
        ),
        (
            Op::GetCommunityFeed {
                community: nowhere,
                sort: Sort::Hot,
                limit: 5,
            },
            ApiError::UnknownCommunity,
        ),
        (
            Op::GetCommunityFeed {
                community: c,
                sort: Sort::New,
                limit: 0,
            },
            bad_limit(0),
        ),
        (
            Op::GetHomeFeed {
                user: ghost,
                sort: Sort::Top,
                limit: 5,
            },
            ApiError::UnknownUser,
        ),
        (
            Op::GetHomeFeed {
                user: u1,
                sort: Sort::Hot,
                limit: MAX_LIMIT + 1,
            },
            bad_limit(MAX_LIMIT + 1),
        ),
    ]
}

/// Invalid DMs, inbox and profile reads, searches.
fn user_cases(f: &Fixture) -> Vec<(Op, ApiError)> {
    let Fixture {
        u1,
        u2,
        ghost,
        c,
        nowhere,
        ..
    } = *f;
    vec![
        (
            Op::SendDm {
                from: u1,
                to: ghost,
                body: body("x"),
            },
            ApiError::UnknownUser,
        ),
        (
            Op::SendDm {
                from: u1,
                to: u2,
                body: big(),
            },
            too_large(),
        ),
        (
            Op::GetInbox {
                user: ghost,
                limit: 5,
            },
            ApiError::UnknownUser,
        ),
        (Op::GetInbox { user: u2, limit: 0 }, bad_limit(0)),
        (Op::GetProfile { user: ghost }, ApiError::UnknownUser),
        (
            Op::Search {
                community: c,
                term: body(""),
            },
            ApiError::BadTerm {
                len: 0,
                max: MAX_TERM_LEN as u32,
            },
        ),
        (
            Op::Search {
                community: nowhere,
                term: body("rust"),
            },
            ApiError::UnknownCommunity,
        ),
    ]
}

/// Every invalid op gets its typed error and leaves the digest and the audit
/// as they were.
fn invalid_ops_are_refused<E: Engine>(engine: E, label: &str) {
    let mut s = engine.session().expect("session");
    let fixture = set_up(&mut s, label);
    // The serial engine lends its partition to the session: give it back
    // before reading the state.
    drop(s);
    engine.quiesce();
    let (digest, audit) = (engine.digest(), engine.audit());
    let mut s = engine.session().expect("session");
    let mut cases = user_and_community_cases(&fixture);
    cases.extend(post_cases(&fixture));
    cases.extend(vote_cases(&fixture));
    cases.extend(feed_cases(&fixture));
    cases.extend(user_cases(&fixture));
    let mut kinds: Vec<OpKind> = cases.iter().map(|(op, _)| op.kind()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        OpKind::ALL.to_vec(),
        "every kind has an invalid case"
    );

    for (op, want) in cases {
        let got = s.call(op.clone());
        assert_eq!(got, Err(want), "{label}: {op:?}");
    }
    drop(s);
    engine.quiesce();
    assert_eq!(
        engine.digest(),
        digest,
        "{label}: invalid ops changed the state"
    );
    assert_eq!(
        engine.audit(),
        audit,
        "{label}: invalid ops changed the audit"
    );
}

#[test]
fn invalid_ops_get_typed_errors_and_change_nothing_on_every_engine() {
    invalid_ops_are_refused(SerialEngine::new(&cfg(1)).unwrap(), "serial");
    invalid_ops_are_refused(ActorEngine::new(&cfg(1)).unwrap(), "actor");
    for p in [1, 3, 8] {
        invalid_ops_are_refused(
            ShardedEngine::new(&cfg(p)).unwrap(),
            &format!("sharded({p})"),
        );
        invalid_ops_are_refused(
            StripedEngine::new(&cfg(p)).unwrap(),
            &format!("striped({p})"),
        );
    }
}
