//! Per op: every engine x every op kind through one session, each kind on a
//! fresh engine pre-loaded from the reddit preset ([`common::USERS`] users),
//! reported by criterion as ops/s (`Throughput::Elements`).
//!
//! Ops are built in chunks outside the timed region; the session keeps
//! [`common::INFLIGHT`] in flight, so the figure is a throughput per op kind,
//! not a round-trip latency. Writes that cannot repeat get fresh ids
//! (Register, CreateCommunity); Join and Leave alternate on fresh pairs, so
//! both succeed.
//!
//! `gather/get_home_feed` runs the same home feeds on `serial` and on
//! `sharded` at 1, 2 and 8 shards: the cost of the cross-shard gather.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use socialbench_engines::{
    Body, CommunityId, Engine, EngineConfig, EngineKind, EngineVisitor, Op, OpKind, Sort, Target,
    UserId, VoteDir,
};

use crate::common::{self, Loaded, USERS};

/// Ops built per chunk outside the timed region.
const CHUNK: u64 = 4096;

/// Builds the `i`-th op of `kind` against the loaded state.
struct OpMaker<'a> {
    loaded: &'a Loaded,
    communities: u32,
    body: Body,
}

impl OpMaker<'_> {
    fn make(&self, kind: OpKind, i: u64) -> Op {
        // A multiplicative hash spreads consecutive i over the population.
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
        let user = UserId((h % USERS as u64) as u32);
        let other = UserId(((h >> 17) % USERS as u64) as u32);
        let community = CommunityId((h % self.communities.max(1) as u64) as u32);
        let post = self.loaded.posts[(h % self.loaded.posts.len() as u64) as usize];
        let comment = self.loaded.comments[(h % self.loaded.comments.len() as u64) as usize];
        // Fresh ids far above the loaded population, unique per i.
        let fresh = 1 << 24 | (i as u32 & 0x7f_ffff);
        match kind {
            OpKind::Register => Op::Register {
                user: UserId(fresh + USERS),
            },
            OpKind::CreateCommunity => Op::CreateCommunity {
                creator: user,
                community: CommunityId(fresh),
            },
            OpKind::Join => Op::Join {
                user: UserId(fresh),
                community: CommunityId::profile(user),
            },
            OpKind::Leave => Op::Leave {
                user: UserId(fresh),
                community: CommunityId::profile(user),
            },
            OpKind::CreatePost => Op::CreatePost {
                author: user,
                community: CommunityId::profile(user),
                body: self.body.clone(),
            },
            OpKind::Comment => Op::Comment {
                author: user,
                post,
                parent: None,
                body: self.body.clone(),
            },
            OpKind::Vote => Op::Vote {
                voter: user,
                target: if i.is_multiple_of(2) {
                    Target::Post(post)
                } else {
                    Target::Comment(comment)
                },
                dir: if i.is_multiple_of(3) {
                    VoteDir::Down
                } else {
                    VoteDir::Up
                },
            },
            OpKind::GetPost => Op::GetPost { post, comments: 10 },
            OpKind::GetCommunityFeed => Op::GetCommunityFeed {
                community,
                sort: Sort::Hot,
                limit: 25,
            },
            OpKind::GetHomeFeed => Op::GetHomeFeed {
                user,
                sort: Sort::Hot,
                limit: 25,
            },
            OpKind::SendDm => Op::SendDm {
                from: user,
                to: other,
                body: self.body.clone(),
            },
            OpKind::GetInbox => Op::GetInbox { user, limit: 25 },
            OpKind::GetProfile => Op::GetProfile { user },
            OpKind::Search => Op::Search {
                community,
                term: "social".into(),
            },
        }
    }
}

struct PerOp<'c> {
    c: &'c mut Criterion,
    /// The op kind to measure.
    kind: OpKind,
    /// Group name prefix: the group is `<prefix>/<kind>`.
    prefix: &'static str,
    /// Bench id within the group (the engine, and its partition count where
    /// that is what is compared).
    id: String,
}

impl EngineVisitor for PerOp<'_> {
    type Output = ();

    fn visit<E: Engine>(self, engine: E) {
        let workload = common::workload("reddit");
        let mut session = engine.session().expect("a session");
        let loaded = common::load(&mut session, &workload);
        if loaded.posts.is_empty() && engine.name() != "null" {
            panic!("the reddit load phase created no posts");
        }
        let fallback = Loaded {
            posts: vec![socialbench_engines::PostId {
                community: CommunityId(0),
                seq: 0,
            }],
            comments: vec![socialbench_engines::CommentId {
                post: socialbench_engines::PostId {
                    community: CommunityId(0),
                    seq: 0,
                },
                seq: 0,
            }],
        };
        let loaded = if loaded.posts.is_empty() || loaded.comments.is_empty() {
            &fallback
        } else {
            &loaded
        };
        let maker = OpMaker {
            loaded,
            communities: workload.scenario.communities,
            body: Body::from(vec![b'x'; 200]),
        };
        let kind = self.kind;
        let mut group = self
            .c
            .benchmark_group(format!("{}/{}", self.prefix, kind.name()));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(&self.id), |b| {
            let mut next = 0u64;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = CHUNK.min(iters - done);
                    let ops: Vec<Op> = (next..next + n).map(|i| maker.make(kind, i)).collect();
                    let start = Instant::now();
                    common::drive(&mut session, ops);
                    timed += start.elapsed();
                    done += n;
                    next += n;
                }
                timed
            })
        });
        group.finish();
    }
}

/// Registers the per-op benches, then the gather benches.
pub fn bench(c: &mut Criterion) {
    // A fresh engine and load phase per op kind: the write benches run as
    // many ops as criterion asks for, more on a faster engine, so a state
    // shared across kinds would give each engine's reads a different state
    // (created communities, for one, lengthen every later home feed).
    for kind in EngineKind::ALL {
        for op in OpKind::ALL {
            let per_op = PerOp {
                c,
                kind: op,
                prefix: "per_op",
                id: kind.name().to_string(),
            };
            kind.visit(&common::config(kind), per_op)
                .expect("engine builds");
        }
    }
    gather(c);
}

/// Shard counts of the gather benches.
const GATHER_SHARDS: [usize; 3] = [1, 2, 8];

/// The cost of a home feed's cross-shard gather: the same home feeds on
/// `serial` (the partition called inline) and on `sharded` at 1, 2 and 8
/// shards. At 1 shard every subscription is local, so the feed is one
/// message each way; at more shards the user's shard asks each shard that
/// holds one of the user's communities for its best posts and merges the
/// answers, so the difference is the gather's own cost (messages, the
/// partial lists, the merge) on this machine's cores.
fn gather(c: &mut Criterion) {
    let kind = OpKind::GetHomeFeed;
    let serial = EngineKind::Serial;
    let per_op = PerOp {
        c,
        kind,
        prefix: "gather",
        id: "serial".to_string(),
    };
    serial
        .visit(&common::config(serial), per_op)
        .expect("engine builds");
    for shards in GATHER_SHARDS {
        let sharded = EngineKind::Sharded;
        let config = EngineConfig {
            partitions: shards,
            ..common::config(sharded)
        };
        let per_op = PerOp {
            c,
            kind,
            prefix: "gather",
            id: format!("sharded_{shards}"),
        };
        sharded.visit(&config, per_op).expect("engine builds");
    }
}
