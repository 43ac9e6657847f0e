//! Integration tests of the partition state machine and of the `serial`
//! engine: every op's happy path and errors, ranking, follow-ups, and the
//! property every engine relies on: the same ops give the same replies and
//! the same digest on one partition as on several.
//!
//! `SOCIALBENCH_TEST_OPS` sets the size of the randomized tests (default 30,000).

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::partition::{HOT_DECAY, hot_key};
use socialbench_engines::placement::home_partition;
use socialbench_engines::serial::SerialEngine;
use socialbench_engines::*;

// ---- helpers -----------------------------------------------------------------

fn ops_knob() -> usize {
    std::env::var("SOCIALBENCH_TEST_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000)
}

/// Several partitions run the way an engine runs them: each op at its home
/// partition, each follow-up at its user's partition, home feeds gathered.
struct World {
    parts: Vec<Partition>,
    follow_ups: Vec<FollowUp>,
}

impl World {
    fn new(count: usize) -> Self {
        let clock = PostClock::new();
        World {
            parts: (0..count)
                .map(|i| Partition::new(i, count, Arc::clone(&clock)))
                .collect(),
            follow_ups: Vec::new(),
        }
    }

    fn apply(&mut self, op: Op) -> Response {
        let n = self.parts.len();
        let r = match op {
            Op::GetHomeFeed { user, sort, limit } if n > 1 => self.gather(user, sort, limit),
            op => {
                let home = home_partition(op.home(), n);
                self.parts[home].apply(op, &mut self.follow_ups)
            }
        };
        for f in self.follow_ups.drain(..) {
            self.parts[f.partition(n)].apply_follow_up(f);
        }
        r
    }

    fn gather(&self, user: UserId, sort: Sort, limit: u16) -> Response {
        let n = self.parts.len();
        let home = placement::user_partition(user, n);
        let subs = self.parts[home].home_feed_subscriptions(user, limit)?;
        let mut out = Vec::new();
        for p in &self.parts {
            p.feed_part(subs, sort, limit, &mut out);
        }
        merge_feed(&mut out, sort, limit);
        Ok(Reply::Feed(out))
    }

    fn digest(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |s, p| s.wrapping_add(p.digest()))
    }

    fn audit(&self) -> Audit {
        let mut a = Audit::default();
        for p in &self.parts {
            a.add(&p.audit());
        }
        a
    }
}

/// One partition, with follow-ups applied locally.
fn one() -> World {
    World::new(1)
}

fn ok(w: &mut World, op: Op) -> Reply {
    let dbg = format!("{op:?}");
    w.apply(op)
        .unwrap_or_else(|e| panic!("{dbg} refused: {e:?}"))
}

/// Asserts `op` is refused with `err`, pushes no follow-up and changes nothing.
fn refused(w: &mut World, op: Op, err: ApiError) {
    let before = w.digest();
    let audit = w.audit();
    let dbg = format!("{op:?}");
    let n = w.parts.len();
    let home = home_partition(op.home(), n);
    let mut fus = Vec::new();
    let r = match op {
        Op::GetHomeFeed { user, sort, limit } if n > 1 => w.gather(user, sort, limit),
        op => w.parts[home].apply(op, &mut fus),
    };
    assert_eq!(r, Err(err), "{dbg}");
    assert!(fus.is_empty(), "{dbg} pushed follow-ups {fus:?}");
    assert_eq!(w.digest(), before, "{dbg} changed the state");
    assert_eq!(w.audit(), audit, "{dbg} changed the audit");
}

fn body(s: &str) -> Body {
    Body::from(s)
}

fn posted(r: Reply) -> PostId {
    match r {
        Reply::Posted(id) => id,
        other => panic!("expected Posted, got {other:?}"),
    }
}

fn feed(r: Reply) -> Vec<PostSummary> {
    match r {
        Reply::Feed(f) => f,
        other => panic!("expected Feed, got {other:?}"),
    }
}

fn profile(w: &mut World, user: UserId) -> ProfileView {
    match ok(w, Op::GetProfile { user }) {
        Reply::Profile(p) => p,
        other => panic!("expected Profile, got {other:?}"),
    }
}

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const C: UserId = UserId(3);
const CAT: CommunityId = CommunityId(10);
const DOG: CommunityId = CommunityId(11);

/// Users A, B, C registered; A created CAT and DOG; B joined CAT.
fn small_world() -> World {
    let mut w = one();
    for u in [A, B, C] {
        ok(&mut w, Op::Register { user: u });
    }
    for c in [CAT, DOG] {
        ok(
            &mut w,
            Op::CreateCommunity {
                creator: A,
                community: c,
            },
        );
    }
    ok(
        &mut w,
        Op::Join {
            user: B,
            community: CAT,
        },
    );
    w
}

fn post(w: &mut World, author: UserId, community: CommunityId, text: &str) -> PostId {
    posted(ok(
        w,
        Op::CreatePost {
            author,
            community,
            body: body(text),
        },
    ))
}

fn vote(w: &mut World, voter: UserId, target: Target, dir: VoteDir) -> (i8, i64) {
    match ok(w, Op::Vote { voter, target, dir }) {
        Reply::Voted { delta, score } => (delta, score),
        other => panic!("expected Voted, got {other:?}"),
    }
}

// ---- users -------------------------------------------------------------------

#[test]
fn register_creates_user_and_profile_with_self_as_follower() {
    let mut w = one();
    ok(&mut w, Op::Register { user: A });
    let p = profile(&mut w, A);
    assert_eq!(
        (p.subscriptions, p.followers, p.profile_posts, p.inbox),
        (1, 1, 0, 0)
    );
    let a = w.audit();
    assert_eq!(
        (a.users, a.communities, a.memberships, a.subscriptions),
        (1, 0, 1, 1)
    );
    assert_eq!(a.membership_digest, a.subscription_digest);
    // The profile exists: it can be read and posted to by its owner.
    let id = post(&mut w, A, CommunityId::profile(A), "hello");
    assert_eq!(
        id,
        PostId {
            community: CommunityId::profile(A),
            seq: 0
        }
    );
}

#[test]
fn a_profile_followed_then_left_equals_one_never_followed() {
    // Profiles are stored only once followed or posted to; the state must not
    // show whether that ever happened.
    let mut never = World::new(3);
    let mut left = World::new(3);
    for w in [&mut never, &mut left] {
        ok(w, Op::Register { user: A });
        ok(w, Op::Register { user: B });
    }
    let pa = CommunityId::profile(A);
    ok(
        &mut left,
        Op::Join {
            user: B,
            community: pa,
        },
    );
    assert_eq!(profile(&mut left, A).followers, 2);
    assert_eq!(left.audit().memberships, 3);
    ok(
        &mut left,
        Op::Leave {
            user: B,
            community: pa,
        },
    );
    assert_eq!(left.digest(), never.digest());
    assert_eq!(left.audit(), never.audit());
    for w in [&mut never, &mut left] {
        assert_unfollowed_profile_of_a(w);
    }
    // A first post stores the profile and counts once.
    post(&mut never, A, pa, "first");
    let p = profile(&mut never, A);
    assert_eq!((p.followers, p.profile_posts), (1, 1));
    let a = never.audit();
    assert_eq!(a.membership_digest, a.subscription_digest);
}

/// A's profile has no follower but A and no post: empty feed and search,
/// and the membership refusals of an unfollowed profile.
fn assert_unfollowed_profile_of_a(w: &mut World) {
    let pa = CommunityId::profile(A);
    assert_eq!(profile(w, A).followers, 1);
    let hot = Op::GetCommunityFeed {
        community: pa,
        sort: Sort::Hot,
        limit: 5,
    };
    assert!(feed(ok(w, hot)).is_empty());
    let found = ok(
        w,
        Op::Search {
            community: pa,
            term: body("x"),
        },
    );
    assert_eq!(
        found,
        Reply::Found {
            matches: 0,
            newest: vec![]
        }
    );
    refused(
        w,
        Op::Leave {
            user: B,
            community: pa,
        },
        ApiError::NotMember,
    );
    refused(
        w,
        Op::Leave {
            user: A,
            community: pa,
        },
        ApiError::Forbidden,
    );
    refused(
        w,
        Op::Join {
            user: A,
            community: pa,
        },
        ApiError::AlreadyMember,
    );
    let unknown = CommunityId::profile(C);
    refused(
        w,
        Op::Join {
            user: A,
            community: unknown,
        },
        ApiError::UnknownCommunity,
    );
    refused(
        w,
        Op::Leave {
            user: A,
            community: unknown,
        },
        ApiError::UnknownCommunity,
    );
}

#[test]
fn register_refuses_duplicates_and_out_of_range_ids() {
    let mut w = one();
    ok(&mut w, Op::Register { user: A });
    refused(&mut w, Op::Register { user: A }, ApiError::AlreadyExists);
    refused(
        &mut w,
        Op::Register {
            user: UserId(UserId::MAX),
        },
        ApiError::UnknownUser,
    );
    refused(
        &mut w,
        Op::Register {
            user: UserId(u32::MAX),
        },
        ApiError::UnknownUser,
    );
}

#[test]
fn register_after_follow_ups_reached_the_user_keeps_their_karma() {
    let mut w = one();
    // A karma follow-up may reach a user's partition before (or without) Register.
    w.parts[0].apply_follow_up(FollowUp::Karma {
        user: A,
        post: 3,
        comment: -1,
    });
    ok(&mut w, Op::Register { user: A });
    let p = profile(&mut w, A);
    assert_eq!((p.post_karma, p.comment_karma), (3, -1));
    assert_eq!(w.audit().users, 1);
}

#[test]
fn dms_are_numbered_per_inbox_and_listed_newest_first() {
    let mut w = small_world();
    for (i, from) in [A, C, A].into_iter().enumerate() {
        let r = ok(
            &mut w,
            Op::SendDm {
                from,
                to: B,
                body: body(&"x".repeat(i + 1)),
            },
        );
        assert_eq!(
            r,
            Reply::Sent(DmId {
                to: B,
                seq: i as u32
            })
        );
    }
    ok(
        &mut w,
        Op::SendDm {
            from: B,
            to: A,
            body: body("hi"),
        },
    );
    let Reply::Inbox(dms) = ok(&mut w, Op::GetInbox { user: B, limit: 2 }) else {
        panic!("expected Inbox")
    };
    let got: Vec<_> = dms.iter().map(|d| (d.id.seq, d.from, d.len)).collect();
    assert_eq!(got, vec![(2, A, 3), (1, C, 2)]);
    assert_eq!(profile(&mut w, B).inbox, 3);
    assert_eq!(w.audit().dms, 4);
}

#[test]
fn dm_and_inbox_errors_leave_state_untouched() {
    let mut w = small_world();
    let big = Body::from(vec![b'a'; MAX_BODY_LEN + 1]);
    refused(
        &mut w,
        Op::SendDm {
            from: A,
            to: B,
            body: big,
        },
        ApiError::BodyTooLarge {
            len: MAX_BODY_LEN as u32 + 1,
            max: MAX_BODY_LEN as u32,
        },
    );
    refused(
        &mut w,
        Op::SendDm {
            from: A,
            to: UserId(99),
            body: body("?"),
        },
        ApiError::UnknownUser,
    );
    refused(
        &mut w,
        Op::GetInbox { user: A, limit: 0 },
        ApiError::BadLimit {
            limit: 0,
            max: MAX_LIMIT,
        },
    );
    refused(
        &mut w,
        Op::GetInbox {
            user: A,
            limit: MAX_LIMIT + 1,
        },
        ApiError::BadLimit {
            limit: MAX_LIMIT + 1,
            max: MAX_LIMIT,
        },
    );
    refused(
        &mut w,
        Op::GetInbox {
            user: UserId(99),
            limit: 5,
        },
        ApiError::UnknownUser,
    );
    refused(
        &mut w,
        Op::GetProfile { user: UserId(99) },
        ApiError::UnknownUser,
    );
    // A body of exactly the limit is accepted.
    let max = Body::from(vec![b'a'; MAX_BODY_LEN]);
    ok(
        &mut w,
        Op::SendDm {
            from: A,
            to: B,
            body: max,
        },
    );
}

// ---- communities -------------------------------------------------------------

#[test]
fn create_community_makes_creator_member_and_subscriber() {
    let mut w = one();
    ok(&mut w, Op::Register { user: A });
    let mut fus = Vec::new();
    let r = w.parts[0].apply(
        Op::CreateCommunity {
            creator: A,
            community: CAT,
        },
        &mut fus,
    );
    assert_eq!(r, Ok(Reply::Done));
    assert_eq!(
        fus,
        vec![FollowUp::Subscribe {
            user: A,
            community: CAT
        }]
    );
    w.parts[0].apply_follow_up(fus[0]);
    assert_eq!(profile(&mut w, A).subscriptions, 2);
    let a = w.audit();
    assert_eq!((a.communities, a.memberships, a.subscriptions), (1, 2, 2));
    assert_eq!(a.membership_digest, a.subscription_digest);
}

#[test]
fn create_community_errors() {
    let mut w = small_world();
    refused(
        &mut w,
        Op::CreateCommunity {
            creator: B,
            community: CAT,
        },
        ApiError::AlreadyExists,
    );
    refused(
        &mut w,
        Op::CreateCommunity {
            creator: B,
            community: CommunityId::profile(C),
        },
        ApiError::Forbidden,
    );
    // Even a profile of nobody is in the reserved range.
    refused(
        &mut w,
        Op::CreateCommunity {
            creator: B,
            community: CommunityId(u32::MAX),
        },
        ApiError::Forbidden,
    );
}

#[test]
fn join_and_leave_push_subscription_follow_ups() {
    let mut w = small_world();
    let mut fus = Vec::new();
    let r = w.parts[0].apply(
        Op::Join {
            user: C,
            community: CAT,
        },
        &mut fus,
    );
    assert_eq!(r, Ok(Reply::Done));
    let r = w.parts[0].apply(
        Op::Leave {
            user: B,
            community: CAT,
        },
        &mut fus,
    );
    assert_eq!(r, Ok(Reply::Done));
    assert_eq!(
        fus,
        vec![
            FollowUp::Subscribe {
                user: C,
                community: CAT
            },
            FollowUp::Unsubscribe {
                user: B,
                community: CAT
            },
        ]
    );
    for f in fus {
        w.parts[0].apply_follow_up(f);
    }
    assert_eq!(profile(&mut w, C).subscriptions, 2);
    assert_eq!(profile(&mut w, B).subscriptions, 1);
    // Following a user is joining their profile.
    ok(
        &mut w,
        Op::Join {
            user: C,
            community: CommunityId::profile(A),
        },
    );
    assert_eq!(profile(&mut w, A).followers, 2);
    let a = w.audit();
    assert_eq!(a.memberships, a.subscriptions);
    assert_eq!(a.membership_digest, a.subscription_digest);
}

#[test]
fn join_and_leave_errors() {
    let mut w = small_world();
    refused(
        &mut w,
        Op::Join {
            user: B,
            community: CommunityId(99),
        },
        ApiError::UnknownCommunity,
    );
    // A profile community exists only once its owner registered.
    refused(
        &mut w,
        Op::Join {
            user: B,
            community: CommunityId::profile(UserId(99)),
        },
        ApiError::UnknownCommunity,
    );
    refused(
        &mut w,
        Op::Join {
            user: B,
            community: CAT,
        },
        ApiError::AlreadyMember,
    );
    refused(
        &mut w,
        Op::Join {
            user: A,
            community: CommunityId::profile(A),
        },
        ApiError::AlreadyMember,
    );
    refused(
        &mut w,
        Op::Leave {
            user: C,
            community: CAT,
        },
        ApiError::NotMember,
    );
    refused(
        &mut w,
        Op::Leave {
            user: C,
            community: CommunityId(99),
        },
        ApiError::UnknownCommunity,
    );
    refused(
        &mut w,
        Op::Leave {
            user: A,
            community: CommunityId::profile(A),
        },
        ApiError::Forbidden,
    );
}

#[test]
fn subscriptions_are_counts_so_arrival_order_does_not_matter() {
    let mut fwd = one();
    let mut rev = one();
    let sub = FollowUp::Subscribe {
        user: A,
        community: CAT,
    };
    let unsub = FollowUp::Unsubscribe {
        user: A,
        community: CAT,
    };
    for f in [sub, unsub, sub] {
        fwd.parts[0].apply_follow_up(f);
    }
    for f in [unsub, sub, sub] {
        rev.parts[0].apply_follow_up(f);
    }
    assert_eq!(fwd.digest(), rev.digest());
    assert_eq!(fwd.audit(), rev.audit());
    assert_eq!(fwd.audit().subscriptions, 1);
    // A duplicated Subscribe stays visible to the audit's digest.
    fwd.parts[0].apply_follow_up(sub);
    let a = fwd.audit();
    assert_eq!(a.subscriptions, 1);
    assert_eq!(
        a.subscription_digest,
        rev.audit().subscription_digest.wrapping_mul(2)
    );
}

// ---- posts and comments -----------------------------------------------------

#[test]
fn posts_are_numbered_per_community_and_stamped_by_the_clock() {
    let mut w = small_world();
    assert_eq!(post(&mut w, A, CAT, "a").seq, 0);
    assert_eq!(post(&mut w, A, DOG, "b").seq, 0);
    assert_eq!(post(&mut w, B, CAT, "c").seq, 1);
    let f = feed(ok(
        &mut w,
        Op::GetCommunityFeed {
            community: CAT,
            sort: Sort::New,
            limit: 10,
        },
    ));
    let got: Vec<_> = f.iter().map(|p| (p.id.seq, p.author, p.created)).collect();
    assert_eq!(got, vec![(1, B, 3), (0, A, 1)]);
    assert_eq!(w.audit().posts, 3);
}

#[test]
fn create_post_errors_in_validation_order() {
    let mut w = small_world();
    let big = || Body::from(vec![b'z'; MAX_BODY_LEN + 7]);
    let too_large = ApiError::BodyTooLarge {
        len: MAX_BODY_LEN as u32 + 7,
        max: MAX_BODY_LEN as u32,
    };
    // Value checks come before existence and permission.
    refused(
        &mut w,
        Op::CreatePost {
            author: C,
            community: CommunityId(99),
            body: big(),
        },
        too_large,
    );
    refused(
        &mut w,
        Op::CreatePost {
            author: C,
            community: CommunityId(99),
            body: body("x"),
        },
        ApiError::UnknownCommunity,
    );
    refused(
        &mut w,
        Op::CreatePost {
            author: B,
            community: CommunityId::profile(A),
            body: body("x"),
        },
        ApiError::Forbidden,
    );
    refused(
        &mut w,
        Op::CreatePost {
            author: C,
            community: CAT,
            body: body("x"),
        },
        ApiError::NotMember,
    );
    // A follower of a profile still may not post in it.
    ok(
        &mut w,
        Op::Join {
            user: B,
            community: CommunityId::profile(A),
        },
    );
    refused(
        &mut w,
        Op::CreatePost {
            author: B,
            community: CommunityId::profile(A),
            body: body("x"),
        },
        ApiError::Forbidden,
    );
}

#[test]
fn comments_thread_under_one_post_and_count_in_summaries() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    let c0 = ok(
        &mut w,
        Op::Comment {
            author: C,
            post: p,
            parent: None,
            body: body("first"),
        },
    );
    let c0 = match c0 {
        Reply::Commented(id) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(c0, CommentId { post: p, seq: 0 });
    let r = ok(
        &mut w,
        Op::Comment {
            author: B,
            post: p,
            parent: Some(c0),
            body: body("reply"),
        },
    );
    assert_eq!(r, Reply::Commented(CommentId { post: p, seq: 1 }));
    let Reply::Post(view) = ok(
        &mut w,
        Op::GetPost {
            post: p,
            comments: 10,
        },
    ) else {
        panic!("expected Post")
    };
    assert_eq!(view.post.comments, 2);
    assert_eq!(view.body, body("post"));
    assert_eq!(view.top_comments[1].parent, Some(c0));
    assert_eq!(view.top_comments[0].parent, None);
    assert_eq!(w.audit().comments, 2);
}

#[test]
fn comment_errors() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    let q = post(&mut w, A, CAT, "other");
    ok(
        &mut w,
        Op::Comment {
            author: C,
            post: q,
            parent: None,
            body: body("on q"),
        },
    );
    let big = Body::from(vec![b'a'; MAX_BODY_LEN + 1]);
    refused(
        &mut w,
        Op::Comment {
            author: C,
            post: p,
            parent: None,
            body: big,
        },
        ApiError::BodyTooLarge {
            len: MAX_BODY_LEN as u32 + 1,
            max: MAX_BODY_LEN as u32,
        },
    );
    for bad in [
        PostId {
            community: CAT,
            seq: 2,
        },
        PostId {
            community: CommunityId(99),
            seq: 0,
        },
    ] {
        refused(
            &mut w,
            Op::Comment {
                author: C,
                post: bad,
                parent: None,
                body: body("?"),
            },
            ApiError::UnknownPost,
        );
    }
    // A parent must be a comment of the same post.
    let of_q = CommentId { post: q, seq: 0 };
    refused(
        &mut w,
        Op::Comment {
            author: C,
            post: p,
            parent: Some(of_q),
            body: body("?"),
        },
        ApiError::UnknownComment,
    );
    let missing = CommentId { post: q, seq: 1 };
    refused(
        &mut w,
        Op::Comment {
            author: C,
            post: q,
            parent: Some(missing),
            body: body("?"),
        },
        ApiError::UnknownComment,
    );
}

#[test]
fn get_post_lists_top_comments_by_score_older_first_on_ties() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    for i in 0..6 {
        ok(
            &mut w,
            Op::Comment {
                author: B,
                post: p,
                parent: None,
                body: body(&format!("c{i}")),
            },
        );
    }
    let c = |seq| Target::Comment(CommentId { post: p, seq });
    // Scores: c0 0, c1 +1, c2 -1, c3 +2, c4 +1, c5 0.
    vote(&mut w, A, c(1), VoteDir::Up);
    vote(&mut w, A, c(2), VoteDir::Down);
    vote(&mut w, A, c(3), VoteDir::Up);
    vote(&mut w, B, c(3), VoteDir::Up);
    vote(&mut w, C, c(4), VoteDir::Up);
    let Reply::Post(view) = ok(
        &mut w,
        Op::GetPost {
            post: p,
            comments: 4,
        },
    ) else {
        panic!("expected Post")
    };
    let got: Vec<_> = view
        .top_comments
        .iter()
        .map(|c| (c.id.seq, c.score))
        .collect();
    assert_eq!(got, vec![(3, 2), (1, 1), (4, 1), (0, 0)]);
    let Reply::Post(none) = ok(
        &mut w,
        Op::GetPost {
            post: p,
            comments: 0,
        },
    ) else {
        panic!("expected Post")
    };
    assert!(none.top_comments.is_empty());
    assert_eq!(none.post.comments, 6);
    refused(
        &mut w,
        Op::GetPost {
            post: p,
            comments: MAX_LIMIT + 1,
        },
        ApiError::BadLimit {
            limit: MAX_LIMIT + 1,
            max: MAX_LIMIT,
        },
    );
    refused(
        &mut w,
        Op::GetPost {
            post: PostId {
                community: CAT,
                seq: 1,
            },
            comments: 1,
        },
        ApiError::UnknownPost,
    );
}

// ---- votes -------------------------------------------------------------------

#[test]
fn vote_up_down_clear_reply_deltas_and_move_karma() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    let t = Target::Post(p);
    let mut fus = Vec::new();
    let v = |w: &mut World, voter, dir, fus: &mut Vec<FollowUp>| {
        w.parts[0].apply(
            Op::Vote {
                voter,
                target: t,
                dir,
            },
            fus,
        )
    };
    assert_eq!(
        v(&mut w, B, VoteDir::Up, &mut fus),
        Ok(Reply::Voted { delta: 1, score: 1 })
    );
    assert_eq!(
        v(&mut w, B, VoteDir::Up, &mut fus),
        Ok(Reply::Voted { delta: 0, score: 1 })
    );
    assert_eq!(
        v(&mut w, B, VoteDir::Down, &mut fus),
        Ok(Reply::Voted {
            delta: -2,
            score: -1
        })
    );
    assert_eq!(
        v(&mut w, C, VoteDir::Down, &mut fus),
        Ok(Reply::Voted {
            delta: -1,
            score: -2
        })
    );
    assert_eq!(
        v(&mut w, B, VoteDir::Clear, &mut fus),
        Ok(Reply::Voted {
            delta: 1,
            score: -1
        })
    );
    // Clearing a vote never cast changes nothing and moves no karma.
    assert_eq!(
        v(&mut w, B, VoteDir::Clear, &mut fus),
        Ok(Reply::Voted {
            delta: 0,
            score: -1
        })
    );
    let karma = |post| FollowUp::Karma {
        user: A,
        post,
        comment: 0,
    };
    assert_eq!(fus, vec![karma(1), karma(-2), karma(-1), karma(1)]);
    for f in fus {
        w.parts[0].apply_follow_up(f);
    }
    assert_eq!(profile(&mut w, A).post_karma, -1);
    let a = w.audit();
    assert_eq!((a.score_sum, a.karma_sum), (-1, -1));
    assert_eq!(w.parts[0].stats().counts.votes, 1);
}

#[test]
fn comment_votes_move_comment_karma_of_the_comment_author() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    ok(
        &mut w,
        Op::Comment {
            author: C,
            post: p,
            parent: None,
            body: body("c"),
        },
    );
    let t = Target::Comment(CommentId { post: p, seq: 0 });
    assert_eq!(vote(&mut w, B, t, VoteDir::Up), (1, 1));
    assert_eq!(vote(&mut w, A, t, VoteDir::Up), (1, 2));
    let pc = profile(&mut w, C);
    assert_eq!((pc.post_karma, pc.comment_karma), (0, 2));
    assert_eq!(profile(&mut w, A).post_karma, 0);
    // A vote on the comment is not a vote on the post.
    assert_eq!(vote(&mut w, B, Target::Post(p), VoteDir::Up), (1, 1));
}

#[test]
fn vote_errors_name_the_missing_link() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    let unknown_post = PostId {
        community: CAT,
        seq: 1,
    };
    refused(
        &mut w,
        Op::Vote {
            voter: B,
            target: Target::Post(unknown_post),
            dir: VoteDir::Up,
        },
        ApiError::UnknownPost,
    );
    let nowhere = PostId {
        community: CommunityId(99),
        seq: 0,
    };
    refused(
        &mut w,
        Op::Vote {
            voter: B,
            target: Target::Post(nowhere),
            dir: VoteDir::Up,
        },
        ApiError::UnknownPost,
    );
    let on_missing_post = CommentId {
        post: unknown_post,
        seq: 0,
    };
    refused(
        &mut w,
        Op::Vote {
            voter: B,
            target: Target::Comment(on_missing_post),
            dir: VoteDir::Down,
        },
        ApiError::UnknownPost,
    );
    let missing = CommentId { post: p, seq: 0 };
    refused(
        &mut w,
        Op::Vote {
            voter: B,
            target: Target::Comment(missing),
            dir: VoteDir::Up,
        },
        ApiError::UnknownComment,
    );
}

// ---- feeds -------------------------------------------------------------------

/// The reference order of a feed: sort every post by the documented key.
fn reference(mut posts: Vec<PostSummary>, sort: Sort, limit: usize) -> Vec<PostSummary> {
    let key = |p: &PostSummary| match sort {
        Sort::New => (p.created as i64, p.created),
        Sort::Top => (p.score, p.created),
        Sort::Hot => (hot_key(p.score, p.created), p.created),
    };
    posts.sort_by_key(|p| std::cmp::Reverse(key(p)));
    posts.truncate(limit);
    posts
}

#[test]
fn community_feeds_order_by_hot_new_and_top() {
    let mut w = small_world();
    let ids: Vec<_> = (0..5)
        .map(|i| post(&mut w, A, CAT, &format!("p{i}")))
        .collect();
    // Scores: p0 +2, p1 -1, p2 +1, p3 0, p4 +1.
    for (voter, i, dir) in [
        (A, 0, VoteDir::Up),
        (B, 0, VoteDir::Up),
        (B, 1, VoteDir::Down),
        (C, 2, VoteDir::Up),
        (C, 4, VoteDir::Up),
    ] {
        vote(&mut w, voter, Target::Post(ids[i]), dir);
    }
    let seqs = |w: &mut World, sort| -> Vec<u32> {
        feed(ok(
            w,
            Op::GetCommunityFeed {
                community: CAT,
                sort,
                limit: 10,
            },
        ))
        .iter()
        .map(|p| p.id.seq)
        .collect()
    };
    assert_eq!(seqs(&mut w, Sort::New), vec![4, 3, 2, 1, 0]);
    assert_eq!(seqs(&mut w, Sort::Top), vec![0, 4, 2, 3, 1]);
    // Within one decay constant, log10(2) beats 4 ticks of age; +1 and 0 both
    // have log term 0, so age decides among them; -1 is last but only by age.
    assert_eq!(seqs(&mut w, Sort::Hot), vec![0, 4, 3, 2, 1]);
    let all = feed(ok(
        &mut w,
        Op::GetCommunityFeed {
            community: CAT,
            sort: Sort::New,
            limit: 10,
        },
    ));
    for sort in [Sort::Hot, Sort::New, Sort::Top] {
        let got = feed(ok(
            &mut w,
            Op::GetCommunityFeed {
                community: CAT,
                sort,
                limit: 3,
            },
        ));
        assert_eq!(got, reference(all.clone(), sort, 3), "{sort:?}");
    }
}

#[test]
fn hot_lets_newer_posts_overtake_older_high_scores() {
    let mut w = small_world();
    let old = post(&mut w, A, CAT, "old");
    for voter in 0..10u32 {
        vote(&mut w, UserId(100 + voter), Target::Post(old), VoteDir::Up);
    }
    // Push the clock a full decay constant ahead with posts elsewhere.
    for _ in 0..HOT_DECAY {
        post(&mut w, A, DOG, "filler");
    }
    let new = post(&mut w, A, CAT, "new");
    vote(&mut w, B, Target::Post(new), VoteDir::Up);
    let hot = feed(ok(
        &mut w,
        Op::GetCommunityFeed {
            community: CAT,
            sort: Sort::Hot,
            limit: 2,
        },
    ));
    // old: log10(10) = 1; new: 0 + (HOT_DECAY + 1) / HOT_DECAY > 1.
    assert_eq!(hot.iter().map(|p| p.id).collect::<Vec<_>>(), vec![new, old]);
    let top = feed(ok(
        &mut w,
        Op::GetCommunityFeed {
            community: CAT,
            sort: Sort::Top,
            limit: 2,
        },
    ));
    assert_eq!(top.iter().map(|p| p.id).collect::<Vec<_>>(), vec![old, new]);
}

#[test]
fn feed_errors() {
    let mut w = small_world();
    refused(
        &mut w,
        Op::GetCommunityFeed {
            community: CommunityId(99),
            sort: Sort::Hot,
            limit: 0,
        },
        ApiError::BadLimit {
            limit: 0,
            max: MAX_LIMIT,
        },
    );
    refused(
        &mut w,
        Op::GetCommunityFeed {
            community: CommunityId(99),
            sort: Sort::Hot,
            limit: 5,
        },
        ApiError::UnknownCommunity,
    );
    refused(
        &mut w,
        Op::GetHomeFeed {
            user: UserId(99),
            sort: Sort::New,
            limit: 101,
        },
        ApiError::BadLimit {
            limit: 101,
            max: MAX_LIMIT,
        },
    );
    refused(
        &mut w,
        Op::GetHomeFeed {
            user: UserId(99),
            sort: Sort::New,
            limit: 5,
        },
        ApiError::UnknownUser,
    );
}

/// Builds a world where B subscribes to CAT, A's profile and C's profile
/// (not DOG), with scored posts everywhere.
fn feed_world(count: usize, rng: &mut Xoshiro256PlusPlus) -> World {
    let mut w = World::new(count);
    for u in [A, B, C] {
        ok(&mut w, Op::Register { user: u });
    }
    for c in [CAT, DOG] {
        ok(
            &mut w,
            Op::CreateCommunity {
                creator: A,
                community: c,
            },
        );
    }
    ok(
        &mut w,
        Op::Join {
            user: B,
            community: CAT,
        },
    );
    ok(
        &mut w,
        Op::Join {
            user: B,
            community: CommunityId::profile(A),
        },
    );
    ok(
        &mut w,
        Op::Join {
            user: B,
            community: CommunityId::profile(C),
        },
    );
    let places = [
        (A, CAT),
        (A, DOG),
        (A, CommunityId::profile(A)),
        (C, CommunityId::profile(C)),
    ];
    let mut posts = Vec::new();
    for _ in 0..300 {
        let (author, community) = places[rng.random_range(0..places.len())];
        posts.push(post(&mut w, author, community, "p"));
        for _ in 0..rng.random_range(0..4) {
            let target = Target::Post(posts[rng.random_range(0..posts.len())]);
            let dir = if rng.random_bool(0.7) {
                VoteDir::Up
            } else {
                VoteDir::Down
            };
            w.apply(Op::Vote {
                voter: UserId(rng.random_range(0..50)),
                target,
                dir,
            })
            .unwrap();
        }
    }
    w
}

#[test]
fn home_feed_merges_subscriptions_in_sort_order() {
    for count in [1, 3] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut w = feed_world(count, &mut rng);
        let mut subscribed = Vec::new();
        for c in [CAT, CommunityId::profile(A), CommunityId::profile(C)] {
            subscribed.extend(feed(ok(
                &mut w,
                Op::GetCommunityFeed {
                    community: c,
                    sort: Sort::New,
                    limit: MAX_LIMIT,
                },
            )));
        }
        assert!(
            subscribed.len() > 150,
            "the three communities hold most posts"
        );
        for sort in [Sort::Hot, Sort::New, Sort::Top] {
            for limit in [1, 25, MAX_LIMIT] {
                let got = feed(ok(
                    &mut w,
                    Op::GetHomeFeed {
                        user: B,
                        sort,
                        limit,
                    },
                ));
                let want = reference(subscribed.clone(), sort, limit as usize);
                assert_eq!(got, want, "{count} partitions, {sort:?}, limit {limit}");
            }
        }
        // After leaving CAT, its posts leave B's home feed.
        ok(
            &mut w,
            Op::Leave {
                user: B,
                community: CAT,
            },
        );
        let got = feed(ok(
            &mut w,
            Op::GetHomeFeed {
                user: B,
                sort: Sort::New,
                limit: MAX_LIMIT,
            },
        ));
        assert!(
            got.iter()
                .all(|p| p.id.community != CAT && p.id.community != DOG)
        );
        assert!(!got.is_empty());
    }
}

#[test]
fn merge_feed_orders_candidates_totally() {
    let s = |seq, score, created| PostSummary {
        id: PostId {
            community: CAT,
            seq,
        },
        author: A,
        score,
        comments: 0,
        created,
    };
    let mut c = vec![s(0, 5, 1), s(1, 5, 3), s(2, 9, 2), s(3, -4, 4)];
    merge_feed(&mut c, Sort::Top, 3);
    assert_eq!(
        c.iter().map(|p| p.id.seq).collect::<Vec<_>>(),
        vec![2, 1, 0]
    );
    let mut c = vec![s(0, 5, 1), s(1, 5, 3), s(2, 9, 2), s(3, -4, 4)];
    merge_feed(&mut c, Sort::New, 10);
    assert_eq!(
        c.iter().map(|p| p.id.seq).collect::<Vec<_>>(),
        vec![3, 1, 2, 0]
    );
}

// ---- search ------------------------------------------------------------------

#[test]
fn search_scans_bodies_and_lists_newest_matches() {
    let mut w = small_world();
    let mut matching = Vec::new();
    for i in 0..25 {
        let text = if i % 2 == 0 {
            format!("{i} likes cats")
        } else {
            format!("{i} likes dogs")
        };
        let id = post(&mut w, A, CAT, &text);
        if i % 2 == 0 {
            matching.push(id);
        }
    }
    post(&mut w, A, DOG, "cats elsewhere");
    let r = ok(
        &mut w,
        Op::Search {
            community: CAT,
            term: body("cats"),
        },
    );
    matching.reverse();
    matching.truncate(10);
    assert_eq!(
        r,
        Reply::Found {
            matches: 13,
            newest: matching
        }
    );
    let r = ok(
        &mut w,
        Op::Search {
            community: CAT,
            term: body("birds"),
        },
    );
    assert_eq!(
        r,
        Reply::Found {
            matches: 0,
            newest: vec![]
        }
    );
}

#[test]
fn search_errors() {
    let mut w = small_world();
    refused(
        &mut w,
        Op::Search {
            community: CAT,
            term: body(""),
        },
        ApiError::BadTerm {
            len: 0,
            max: MAX_TERM_LEN as u32,
        },
    );
    let long = Body::from(vec![b'a'; MAX_TERM_LEN + 1]);
    refused(
        &mut w,
        Op::Search {
            community: CommunityId(99),
            term: long,
        },
        ApiError::BadTerm {
            len: MAX_TERM_LEN as u32 + 1,
            max: MAX_TERM_LEN as u32,
        },
    );
    refused(
        &mut w,
        Op::Search {
            community: CommunityId(99),
            term: body("a"),
        },
        ApiError::UnknownCommunity,
    );
}

// ---- randomized: partitioning, determinism, audit ----------------------------

/// Generates a reddit-like mix with a share of invalid requests, acting on
/// the ids earlier replies handed out.
struct Gen {
    rng: Xoshiro256PlusPlus,
    users: u32,
    communities: u32,
    posts: Vec<(PostId, u32)>,
    next_user: u32,
    next_community: u32,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Gen {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            users: 0,
            communities: 0,
            posts: Vec::new(),
            next_user: 0,
            next_community: 0,
        }
    }

    fn user(&mut self) -> UserId {
        UserId(self.rng.random_range(0..self.users.max(1) + 2))
    }

    fn community(&mut self) -> CommunityId {
        if self.rng.random_bool(0.3) {
            let u = self.user();
            CommunityId::profile(u)
        } else {
            CommunityId(self.rng.random_range(0..self.communities.max(1) + 1))
        }
    }

    fn post(&mut self) -> (PostId, u32) {
        if self.posts.is_empty() || self.rng.random_bool(0.02) {
            return (
                PostId {
                    community: CommunityId(7),
                    seq: 9_999,
                },
                0,
            );
        }
        let i = self.posts.len()
            - 1
            - (self.rng.random_range(0.0f64..1.0).powi(3) * self.posts.len() as f64) as usize;
        self.posts[i.min(self.posts.len() - 1)]
    }

    fn body(&mut self) -> Body {
        let words = [
            "cat", "dog", "rust", "actor", "shard", "lock", "zipf", "feed",
        ];
        if self.rng.random_bool(0.01) {
            return Body::from(vec![b'x'; MAX_BODY_LEN + 1]);
        }
        let n = self.rng.random_range(1..12);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(words[self.rng.random_range(0..words.len())]);
            s.push(' ');
        }
        Body::from(s.as_str())
    }

    fn sort(&mut self) -> Sort {
        [Sort::Hot, Sort::New, Sort::Top][self.rng.random_range(0..3)]
    }

    fn limit(&mut self) -> u16 {
        if self.rng.random_bool(0.01) {
            0
        } else {
            self.rng.random_range(1..=40)
        }
    }

    fn next(&mut self) -> Op {
        let r = self.rng.random_range(0..1000);
        match r {
            _ if self.users < 20 || r < 15 => self.register(),
            15..30 => {
                self.next_community += 1;
                Op::CreateCommunity {
                    creator: self.user(),
                    community: CommunityId(self.next_community),
                }
            }
            30..90 => Op::Join {
                user: self.user(),
                community: self.community(),
            },
            90..110 => Op::Leave {
                user: self.user(),
                community: self.community(),
            },
            110..200 => self.create_post(),
            200..280 => self.comment(),
            280..500 => self.vote(),
            500..560 => {
                let (post, _) = self.post();
                Op::GetPost {
                    post,
                    comments: self.rng.random_range(0..12),
                }
            }
            560..700 => Op::GetCommunityFeed {
                community: self.community(),
                sort: self.sort(),
                limit: self.limit(),
            },
            700..900 => Op::GetHomeFeed {
                user: self.user(),
                sort: self.sort(),
                limit: self.limit(),
            },
            900..930 => Op::SendDm {
                from: self.user(),
                to: self.user(),
                body: self.body(),
            },
            930..960 => Op::GetInbox {
                user: self.user(),
                limit: self.limit(),
            },
            960..990 => Op::GetProfile { user: self.user() },
            _ => {
                let words = ["cat", "rust", "zz", "shard lock", ""];
                Op::Search {
                    community: self.community(),
                    term: body(words[self.rng.random_range(0..words.len())]),
                }
            }
        }
    }

    /// A new user, or now and then one registered before (refused).
    fn register(&mut self) -> Op {
        self.next_user += 1;
        let user = UserId(if self.rng.random_bool(0.05) {
            self.next_user / 2
        } else {
            self.next_user
        });
        Op::Register { user }
    }

    /// A post, half of them in the author's own profile (always allowed
    /// when registered).
    fn create_post(&mut self) -> Op {
        let author = self.user();
        let community = if self.rng.random_bool(0.5) {
            CommunityId::profile(author)
        } else {
            self.community()
        };
        Op::CreatePost {
            author,
            community,
            body: self.body(),
        }
    }

    /// A comment, half of them under another comment (which may not exist).
    fn comment(&mut self) -> Op {
        let (post, comments) = self.post();
        let parent = (comments > 0 && self.rng.random_bool(0.5)).then(|| CommentId {
            post,
            seq: self.rng.random_range(0..comments + 1),
        });
        Op::Comment {
            author: self.user(),
            post,
            parent,
            body: self.body(),
        }
    }

    /// A vote on a post or (30%) one of its comments, mostly up.
    fn vote(&mut self) -> Op {
        let (post, comments) = self.post();
        let target = if comments > 0 && self.rng.random_bool(0.3) {
            Target::Comment(CommentId {
                post,
                seq: self.rng.random_range(0..comments + 1),
            })
        } else {
            Target::Post(post)
        };
        let dir =
            [VoteDir::Up, VoteDir::Up, VoteDir::Down, VoteDir::Clear][self.rng.random_range(0..4)];
        Op::Vote {
            voter: self.user(),
            target,
            dir,
        }
    }

    /// Learns the ids a reply handed out.
    fn saw(&mut self, op: &Op, r: &Response) {
        match (op, r) {
            (Op::Register { user }, Ok(_)) => self.users = self.users.max(user.0 + 1),
            (Op::CreateCommunity { community, .. }, Ok(_)) => {
                self.communities = self.communities.max(community.0 + 1)
            }
            (_, Ok(Reply::Posted(id))) => self.posts.push((*id, 0)),
            (_, Ok(Reply::Commented(c))) => {
                if let Some(e) = self.posts.iter_mut().rev().find(|(p, _)| *p == c.post) {
                    e.1 = e.1.max(c.seq + 1);
                }
            }
            _ => {}
        }
    }
}

fn audit_world(w: &World, tally: &WriteTally) {
    if let Err(e) = w.audit().check(tally) {
        panic!("{e}");
    }
}

#[test]
fn one_partition_and_three_agree_on_every_reply_and_the_digest() {
    let n = ops_knob();
    let mut one = World::new(1);
    let mut three = World::new(3);
    let mut ops = Gen::new(42);
    let mut tally = WriteTally::default();
    let (mut oks, mut errs) = (0, 0);
    for i in 0..n {
        let op = ops.next();
        let r1 = one.apply(op.clone());
        let r3 = three.apply(op.clone());
        assert_eq!(r1, r3, "op {i}: {op:?}");
        ops.saw(&op, &r1);
        tally.record_op(&op, &r1);
        if r1.is_ok() {
            oks += 1
        } else {
            errs += 1
        }
        if i % 5000 == 0 {
            assert_eq!(one.digest(), three.digest(), "after op {i}");
        }
    }
    assert!(
        oks > n / 2 && errs > n / 50,
        "the mix exercises both paths: {oks} ok, {errs} refused"
    );
    assert!(ops.posts.len() > n / 40, "{} posts", ops.posts.len());
    assert_eq!(one.digest(), three.digest());
    assert_eq!(one.audit(), three.audit());
    audit_world(&one, &tally);
    audit_world(&three, &tally);
    // Each of the three partitions holds a share of the state.
    for p in &three.parts {
        assert!(p.stats().counts.posts > 0);
    }
}

#[test]
fn same_ops_give_same_replies_and_digest_run_to_run() {
    let n = ops_knob() / 3;
    let run = |seed| {
        let mut w = World::new(1);
        let mut ops = Gen::new(seed);
        let mut replies = Vec::with_capacity(n);
        for _ in 0..n {
            let op = ops.next();
            let r = w.apply(op.clone());
            ops.saw(&op, &r);
            replies.push(r);
        }
        (replies, w.digest())
    };
    let (r1, d1) = run(5);
    let (r2, d2) = run(5);
    assert_eq!(d1, d2);
    assert!(r1 == r2);
    let (_, other) = run(6);
    assert_ne!(
        d1, other,
        "a different op sequence reaches a different state"
    );
}

#[test]
fn audit_holds_after_random_ops_across_seeds() {
    for seed in [1, 2, 3] {
        let mut w = World::new(2);
        let mut ops = Gen::new(seed);
        let mut tally = WriteTally::default();
        for _ in 0..ops_knob() / 3 {
            let op = ops.next();
            let r = w.apply(op.clone());
            ops.saw(&op, &r);
            tally.record_op(&op, &r);
        }
        audit_world(&w, &tally);
        let a = w.audit();
        assert!(a.score_sum != 0 || a.posts == 0);
        let counts = w.parts.iter().fold(EntityCounts::default(), |mut c, p| {
            c.add(&p.stats().counts);
            c
        });
        assert_eq!(
            (counts.users, counts.posts, counts.comments, counts.dms),
            (a.users, a.posts, a.comments, a.dms)
        );
        assert_eq!(counts.memberships, a.memberships);
    }
}

#[test]
fn a_dropped_follow_up_fails_the_audit() {
    let mut w = small_world();
    let p = post(&mut w, A, CAT, "post");
    let mut tally = WriteTally::default();
    // Lose the karma follow-up of a vote.
    let op = Op::Vote {
        voter: B,
        target: Target::Post(p),
        dir: VoteDir::Up,
    };
    let mut lost = Vec::new();
    let r = w.parts[0].apply(op.clone(), &mut lost);
    tally.record_op(&op, &r);
    assert_eq!(lost.len(), 1);
    let e = w.audit().check(&tally).unwrap_err();
    assert!(
        e.mismatches.iter().any(|m| m.what.starts_with("karma")),
        "{e}"
    );
    // Lose a Subscribe, then deliver the matching Unsubscribe: counts agree,
    // but the digests do not.
    let mut w = small_world();
    let mut lost = Vec::new();
    w.parts[0]
        .apply(
            Op::Join {
                user: C,
                community: DOG,
            },
            &mut lost,
        )
        .unwrap();
    let mut fus = Vec::new();
    w.parts[0]
        .apply(
            Op::Leave {
                user: C,
                community: DOG,
            },
            &mut fus,
        )
        .unwrap();
    w.parts[0].apply_follow_up(fus[0]);
    let a = w.audit();
    assert_eq!(a.memberships, a.subscriptions);
    assert_ne!(a.membership_digest, a.subscription_digest);
}

#[test]
fn stats_count_entities_and_bytes_grow_with_bodies() {
    let mut w = small_world();
    let before = w.parts[0].stats();
    post(&mut w, A, CAT, &"x".repeat(10_000));
    let after = w.parts[0].stats();
    assert_eq!(after.counts.posts, before.counts.posts + 1);
    assert!(after.bytes.posts >= before.bytes.posts + 10_000);
    assert_eq!(
        (
            after.counts.users,
            after.counts.communities,
            after.counts.memberships
        ),
        (3, 2, 6)
    );
}

#[test]
fn huge_and_bogus_ids_are_cheap_and_refused_cleanly() {
    let mut w = small_world();
    let huge = CommunityId(CommunityId::PROFILE_BASE - 1);
    ok(
        &mut w,
        Op::CreateCommunity {
            creator: UserId(UserId::MAX - 1),
            community: huge,
        },
    );
    ok(
        &mut w,
        Op::Register {
            user: UserId(UserId::MAX - 1),
        },
    );
    let p = post(&mut w, UserId(UserId::MAX - 1), huge, "edge");
    assert_eq!(p.seq, 0);
    let far = PostId {
        community: huge,
        seq: u32::MAX,
    };
    refused(
        &mut w,
        Op::GetPost {
            post: far,
            comments: 3,
        },
        ApiError::UnknownPost,
    );
    let far_comment = CommentId {
        post: p,
        seq: u32::MAX,
    };
    refused(
        &mut w,
        Op::Vote {
            voter: A,
            target: Target::Comment(far_comment),
            dir: VoteDir::Up,
        },
        ApiError::UnknownComment,
    );
}

// ---- serial engine -----------------------------------------------------------

fn serial() -> SerialEngine {
    SerialEngine::new(&EngineConfig::default()).unwrap()
}

#[test]
fn serial_serves_one_session_at_a_time() {
    let e = serial();
    let s = e.session().unwrap();
    assert!(matches!(
        e.session(),
        Err(EngineError::SessionLimit {
            engine: "serial",
            max: 1
        })
    ));
    drop(s);
    let mut s = e.session().unwrap();
    assert_eq!(s.call(Op::Register { user: A }), Ok(Reply::Done));
    drop(s);
    // State survives the session that wrote it.
    let mut s = e.session().unwrap();
    assert_eq!(
        s.call(Op::Register { user: A }),
        Err(ApiError::AlreadyExists)
    );
}

#[test]
fn serial_replies_in_submission_order_with_tags() {
    let e = serial();
    let mut s = e.session().unwrap();
    s.submit(7, Op::Register { user: A }).unwrap();
    s.submit(3, Op::Register { user: A }).unwrap();
    s.submit(
        9,
        Op::CreateCommunity {
            creator: A,
            community: CAT,
        },
    )
    .unwrap();
    s.submit(
        1,
        Op::CreatePost {
            author: A,
            community: CAT,
            body: body("hi"),
        },
    )
    .unwrap();
    assert_eq!(s.outstanding(), 4);
    let mut got = Vec::new();
    assert_eq!(s.poll(false, |t, r| got.push((t, r))), 4);
    assert_eq!(
        got,
        vec![
            (7, Ok(Reply::Done)),
            (3, Err(ApiError::AlreadyExists)),
            (9, Ok(Reply::Done)),
            (
                1,
                Ok(Reply::Posted(PostId {
                    community: CAT,
                    seq: 0
                }))
            ),
        ]
    );
    assert_eq!(s.outstanding(), 0);
    assert_eq!(s.poll(true, |_, _| panic!("nothing outstanding")), 0);
    // Follow-ups were applied inline: A is subscribed to CAT already.
    let Ok(Reply::Profile(p)) = s.call(Op::GetProfile { user: A }) else {
        panic!()
    };
    assert_eq!(p.subscriptions, 2);
}

#[test]
fn serial_matches_a_bare_partition_and_passes_its_audit() {
    let e = serial();
    let mut s = e.session().unwrap();
    let mut w = World::new(1);
    let mut ops = Gen::new(11);
    let mut tally = WriteTally::default();
    let n = ops_knob() / 3;
    for i in 0..n {
        let op = ops.next();
        s.submit(i as u64, op.clone()).unwrap();
        let want = w.apply(op.clone());
        let mut seen = 0;
        s.poll(false, |t, r| {
            assert_eq!((t, &r), (i as u64, &want));
            seen += 1;
        });
        assert_eq!(seen, 1);
        ops.saw(&op, &want);
        tally.record_op(&op, &want);
    }
    // A live session publishes a snapshot at least every STATS_EVERY ops.
    let live = e.stats();
    let exact = w.parts[0].stats().counts;
    assert!(exact.posts - live.counts.posts <= socialbench_engines::serial::STATS_EVERY as u64);
    drop(s);
    e.quiesce();
    assert_eq!(e.digest(), w.digest());
    assert_eq!(e.stats().counts, exact);
    if let Err(f) = e.audit().check(&tally) {
        panic!("{f}");
    }
}

#[test]
fn serial_audit_waits_for_the_session_to_return_the_partition() {
    let e = Arc::new(serial());
    let mut s = e.session().unwrap();
    s.call(Op::Register { user: A }).unwrap();
    let reader = {
        let e = Arc::clone(&e);
        std::thread::spawn(move || e.audit())
    };
    s.call(Op::Register { user: B }).unwrap();
    drop(s);
    // The audit can only have run on the returned partition, so it sees both users.
    assert_eq!(reader.join().unwrap().users, 2);
}

#[test]
fn serial_shutdown_fails_submits_but_keeps_state() {
    let e = serial();
    let mut s = e.session().unwrap();
    s.call(Op::Register { user: A }).unwrap();
    e.shutdown();
    assert_eq!(
        s.submit(1, Op::Register { user: B }),
        Err(EngineError::Shutdown)
    );
    drop(s);
    assert!(matches!(e.session(), Err(EngineError::Shutdown)));
    assert_eq!(e.audit().users, 1);
}

#[test]
fn serial_refuses_faults_it_cannot_inject() {
    let mut config = EngineConfig::default();
    config.faults.drop_follow_up_rate = 0.1;
    assert!(matches!(
        SerialEngine::new(&config),
        Err(EngineError::Config { .. })
    ));
}
