//! Generation cost per op: `Generator::next_op` + `on_reply` with a plausible
//! canned reply, one thread, 1,000,000 users, for every preset.
//!
//! `cargo run --release -p socialbench-workload --example gen_cost [users] [ops] [preset]`
//!
//! After a warm-up of `ops / 5`, the `ops` are timed in 5 equal segments;
//! `ns_min` is the fastest segment (the least disturbed by other processes
//! on a shared machine), `ns_med` the median one.
//!
//! The op (and its body) is dropped after the reply, so the figure includes
//! one allocation and one free for write ops; an engine would keep the body.

use std::time::Instant;

use socialbench_engines::{
    CommentId, CommentSummary, CommunityId, DmId, DmSummary, Op, PostId, PostSummary, PostView,
    Reply, Response, UserId,
};
use socialbench_workload::{Scenario, Workload};

fn canned() -> [Response; 6] {
    let post = |seq| PostId {
        community: CommunityId(seq % 50),
        seq,
    };
    let feed = Reply::Feed(
        (0..25)
            .map(|i| PostSummary {
                id: post(i),
                author: UserId(i * 7919),
                score: 3,
                comments: 1,
                created: i as u64,
            })
            .collect(),
    );
    let inbox = Reply::Inbox(
        (0..20)
            .map(|i| DmSummary {
                id: DmId {
                    to: UserId(0),
                    seq: i,
                },
                from: UserId(i * 104_729),
                len: 40,
            })
            .collect(),
    );
    let view = Reply::Post(Box::new(PostView {
        post: PostSummary {
            id: post(1),
            author: UserId(1),
            score: 1,
            comments: 3,
            created: 1,
        },
        body: "hello".into(),
        top_comments: (0..3)
            .map(|i| CommentSummary {
                id: CommentId {
                    post: post(1),
                    seq: i,
                },
                author: UserId(i),
                parent: None,
                score: 0,
            })
            .collect(),
    }));
    [
        Ok(feed),
        Ok(inbox),
        Ok(view),
        Ok(Reply::Posted(post(9))),
        Ok(Reply::Commented(CommentId {
            post: post(2),
            seq: 4,
        })),
        Ok(Reply::Done),
    ]
}

fn reply_for<'a>(op: &Op, c: &'a [Response; 6]) -> &'a Response {
    match op {
        Op::GetHomeFeed { .. } | Op::GetCommunityFeed { .. } => &c[0],
        Op::GetInbox { .. } => &c[1],
        Op::GetPost { .. } => &c[2],
        Op::CreatePost { .. } => &c[3],
        Op::Comment { .. } => &c[4],
        _ => &c[5],
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let users: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let ops: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let only = args.next();
    let c = canned();
    println!("preset     users    setup_ms  gen_mb  ns_min  ns_med");
    for preset in Scenario::PRESETS {
        if only.as_deref().is_some_and(|p| p != preset) {
            continue;
        }
        let t0 = Instant::now();
        let s = match Scenario::preset(preset) {
            Ok(s) => s.with_users(users),
            Err(e) => panic!("{e}"),
        };
        let w = match Workload::new(s, 42) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        };
        let mut g = w.generator(0, 1);
        let setup = t0.elapsed();
        // Warm up: every user gets to see something.
        for _ in 0..ops / 5 {
            let (t, op) = g.next_op();
            g.on_reply(t, reply_for(&op, &c));
        }
        const SEGMENTS: u64 = 5;
        let per = (ops / SEGMENTS).max(1);
        let mut ns: Vec<f64> = (0..SEGMENTS)
            .map(|_| {
                let t1 = Instant::now();
                for _ in 0..per {
                    let (t, op) = g.next_op();
                    g.on_reply(t, reply_for(&op, &c));
                    std::hint::black_box(&op);
                }
                t1.elapsed().as_nanos() as f64 / per as f64
            })
            .collect();
        ns.sort_by(f64::total_cmp);
        println!(
            "{preset:<10} {users:<8} {:>8.0}  {:>6.0}  {:>6.1}  {:>6.1}",
            setup.as_secs_f64() * 1000.0,
            (g.bytes() + w.bytes()) as f64 / 1e6,
            ns[0],
            ns[ns.len() / 2],
        );
    }
}
