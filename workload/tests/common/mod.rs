//! Helpers shared by the integration tests: a loaded partition, fake replies.
#![allow(dead_code)]

use socialbench_engines::{
    CommentId, CommentSummary, DmId, DmSummary, FollowUp, Op, Partition, PostClock, PostId,
    PostSummary, PostView, Reply, Response, UserId,
};
use socialbench_workload::{Scenario, Workload};

/// A small workload of `preset` with `users` users.
pub fn small(preset: &str, users: u32, seed: u64) -> Workload {
    let s = Scenario::preset(preset).unwrap().with_users(users);
    Workload::new(s, seed).unwrap()
}

/// Applies `op` and its follow-ups to a single partition.
pub fn apply(p: &mut Partition, op: Op, follow_ups: &mut Vec<FollowUp>) -> Response {
    let r = p.apply(op, follow_ups);
    for f in follow_ups.drain(..) {
        p.apply_follow_up(f);
    }
    r
}

/// A partition after the load phase of `w`, sent as `threads` client threads
/// would (stage by stage); panics on the first refused load op.
pub fn loaded(w: &Workload, threads: usize) -> Partition {
    let mut p = Partition::new(0, 1, PostClock::new());
    let mut f = Vec::new();
    for stage in 0..w.load_stages() {
        for t in 0..threads {
            for op in w.load_ops(stage, t, threads) {
                let shown = format!("{op:?}");
                let r = apply(&mut p, op, &mut f);
                assert!(r.is_ok(), "load stage {stage} thread {t}: {shown} -> {r:?}");
            }
        }
    }
    p
}

/// A plausible reply to `op` without an engine (feeds of 25 posts, inboxes
/// of 5 DMs, posts with 3 comments).
pub fn fake_reply(op: &Op) -> Response {
    let post = |community, seq| PostId { community, seq };
    Ok(match op {
        Op::GetHomeFeed { user, .. } => Reply::Feed(
            (0..25)
                .map(|i| PostSummary {
                    id: post(socialbench_engines::CommunityId(i % 7), i),
                    author: UserId(user.0 ^ i),
                    score: 1,
                    comments: 0,
                    created: i as u64,
                })
                .collect(),
        ),
        Op::GetCommunityFeed { community, .. } => Reply::Feed(
            (0..25)
                .map(|i| PostSummary {
                    id: post(*community, i),
                    author: UserId(i),
                    score: 1,
                    comments: 0,
                    created: i as u64,
                })
                .collect(),
        ),
        Op::GetPost { post: p, .. } => Reply::Post(Box::new(PostView {
            post: PostSummary {
                id: *p,
                author: UserId(0),
                score: 0,
                comments: 3,
                created: 0,
            },
            body: "x".into(),
            top_comments: (0..3)
                .map(|i| CommentSummary {
                    id: CommentId { post: *p, seq: i },
                    author: UserId(i),
                    parent: None,
                    score: 0,
                })
                .collect(),
        })),
        Op::GetInbox { user, .. } => Reply::Inbox(
            (0..5)
                .map(|i| DmSummary {
                    id: DmId { to: *user, seq: i },
                    from: UserId(i),
                    len: 10,
                })
                .collect(),
        ),
        Op::CreatePost { community, .. } => Reply::Posted(post(*community, 0)),
        Op::Comment { post, .. } => Reply::Commented(CommentId {
            post: *post,
            seq: 0,
        }),
        Op::SendDm { to, .. } => Reply::Sent(DmId { to: *to, seq: 0 }),
        Op::Vote { .. } => Reply::Voted { delta: 1, score: 1 },
        _ => Reply::Done,
    })
}

/// The acting user of an op, if it has one.
pub fn actor(op: &Op) -> Option<UserId> {
    Some(match op {
        Op::Register { user }
        | Op::Join { user, .. }
        | Op::Leave { user, .. }
        | Op::GetHomeFeed { user, .. }
        | Op::GetInbox { user, .. } => *user,
        Op::CreateCommunity { creator, .. } => *creator,
        Op::CreatePost { author, .. } | Op::Comment { author, .. } => *author,
        Op::Vote { voter, .. } => *voter,
        Op::SendDm { from, .. } => *from,
        _ => return None,
    })
}
