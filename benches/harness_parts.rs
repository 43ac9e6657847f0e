//! The harness's own parts, each measured alone: op generation per preset,
//! a clock read (std and quanta), a histogram record, and a submit/poll
//! round trip on the null engine. Their sum bounds the harness's ceiling.
//!
//! Op generation is measured three ways: `harness/generate` answers every op
//! with `Done`, so users never see a post and their votes, comments and
//! replies fall back to reads (the null engine's case), and takes each op by
//! value; `harness/generate_sink` is the same with each op handed to a sink,
//! as the client loops take it; `harness/generate_seen`
//! answers with feeds, inboxes and posts, so every action forms as it
//! would against an engine that keeps state, and adds a million-user
//! reddit whose user states do not fit in cache.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use hdrhistogram::Histogram;
use socialbench_engines::null::NullEngine;
use socialbench_engines::{
    CommentId, CommentSummary, CommunityId, DmId, DmSummary, Engine, EngineConfig, Op, PostId,
    PostSummary, PostView, Reply, Response, Session, UserId,
};
use socialbench_workload::{Generator, Scenario, Workload};

use crate::common;

/// Registers the harness-part benches.
pub fn bench(c: &mut Criterion) {
    generate(c);
    generate_sink(c);
    generate_seen(c);
    parts(c);
}

/// Op generation with `Done` for every reply, each op taken by value.
fn generate(c: &mut Criterion) {
    generate_done(c, "harness/generate", |generator, reply| {
        let (token, op) = generator.next_op();
        generator.on_reply(token, reply);
        black_box(op)
    });
}

/// Op generation as the client loops consume it: each op handed to a sink
/// ([`Generator::next_op_with`]) that keeps it in memory (`black_box(&op)`)
/// and drops it, instead of returned by value and copied out (a copy of a
/// freshly built op stalls on store forwarding, which the loops avoid).
/// Replies are `Done`, as in `harness/generate`.
fn generate_sink(c: &mut Criterion) {
    generate_done(c, "harness/generate_sink", |generator, reply| {
        let token = generator.next_op_with(|token, op: Op| {
            black_box(&op);
            token
        });
        generator.on_reply(token, reply);
    });
}

/// Group `name`: `step` timed for each preset on its own generator, with
/// `Done` for every reply.
fn generate_done<O>(
    c: &mut Criterion,
    name: &str,
    mut step: impl FnMut(&mut Generator, &Response) -> O,
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    for preset in ["reddit", "microblog", "messenger", "chat"] {
        let workload = common::workload(preset);
        let mut generator = workload.generator(0, 1);
        let reply = Ok(Reply::Done);
        group.bench_function(BenchmarkId::from_parameter(preset), |b| {
            b.iter(|| step(&mut generator, &reply))
        });
    }
    group.finish();
}

/// Op generation with replies that show posts, comments and DM senders.
/// Workloads are built only for the benches the filter selects (a
/// million-user one takes seconds and hundreds of MB).
fn generate_seen(c: &mut Criterion) {
    let mut group = c.benchmark_group("harness/generate_seen");
    group.throughput(Throughput::Elements(1));
    let replies = Replies::new();
    let cases = Scenario::PRESETS
        .iter()
        .map(|&p| (p.to_string(), p, common::USERS))
        .chain([("reddit_1m".to_string(), "reddit", 1_000_000)]);
    for (id, preset, users) in cases {
        let mut state: Option<(Workload, Generator)> = None;
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            let (_, generator) = state.get_or_insert_with(|| {
                // `users` set as `--users` sets it (communities as the preset has them).
                let mut scenario = Scenario::preset(preset).expect("known preset");
                scenario.users = users;
                let workload = Workload::new(scenario, 42).expect("valid scenario");
                let mut generator = workload.generator(0, 1);
                // A user's first actions fall back to reads until it has
                // seen something: two ops per user before the clock starts.
                for _ in 0..2 * users {
                    let (token, op) = generator.next_op();
                    generator.on_reply(token, replies.to(&op));
                }
                (workload, generator)
            });
            b.iter(|| {
                let (token, op) = generator.next_op();
                generator.on_reply(token, replies.to(&op));
                black_box(op)
            })
        });
    }
    group.finish();
}

/// Plausible replies, one per kind of op: a 25-post feed, a 20-DM inbox, a
/// post with 3 comments, and the ids writes get back.
struct Replies([Response; 6]);

impl Replies {
    fn new() -> Replies {
        let post = |seq| PostId {
            community: CommunityId(seq % 50),
            seq,
        };
        let summary = |i: u32| PostSummary {
            id: post(i),
            author: UserId(i * 7919),
            score: 3,
            comments: 1,
            created: i as u64,
        };
        let feed = Reply::Feed((0..25).map(summary).collect());
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
            post: summary(1),
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
        let commented = Reply::Commented(CommentId {
            post: post(2),
            seq: 4,
        });
        Replies([
            Ok(feed),
            Ok(inbox),
            Ok(view),
            Ok(Reply::Posted(post(9))),
            Ok(commented),
            Ok(Reply::Done),
        ])
    }

    /// The reply to `op`.
    fn to(&self, op: &Op) -> &Response {
        let i = match op {
            Op::GetHomeFeed { .. } | Op::GetCommunityFeed { .. } => 0,
            Op::GetInbox { .. } => 1,
            Op::GetPost { .. } => 2,
            Op::CreatePost { .. } => 3,
            Op::Comment { .. } => 4,
            _ => 5,
        };
        &self.0[i]
    }
}

/// Clock reads, histogram records and the null engine's round trip.
fn parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("harness/clock");
    group.throughput(Throughput::Elements(1));
    group.bench_function("std_instant", |b| b.iter(|| black_box(Instant::now())));
    let clock = quanta::Clock::new();
    group.bench_function("quanta_now", |b| b.iter(|| black_box(clock.now())));
    group.bench_function("quanta_raw", |b| b.iter(|| black_box(clock.raw())));
    group.finish();

    let mut group = c.benchmark_group("harness/record");
    group.throughput(Throughput::Elements(1));
    // The harness's histogram shape: ns, 3 significant digits, up to an hour.
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    let mut v = 1u64;
    group.bench_function("hdr_record", |b| {
        b.iter(|| {
            // A cheap varying value: an LCG step over a microsecond range.
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            hist.record(black_box((v >> 40) + 1)).expect("in range");
        })
    });
    group.finish();

    let mut group = c.benchmark_group("harness/null_round_trip");
    group.throughput(Throughput::Elements(1));
    let engine = NullEngine::new(&EngineConfig::default()).expect("null engine");
    let mut session = engine.session().expect("a session");
    group.bench_function("submit_poll", |b| {
        b.iter(|| {
            session
                .submit(1, Op::GetProfile { user: UserId(7) })
                .expect("null accepts");
            session.poll(false, |tag, r| {
                let _ = black_box((tag, r));
            })
        })
    });
    group.finish();
}
