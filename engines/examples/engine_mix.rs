//! Throughput of the engines on a simple Reddit-like op mix, closed loop,
//! several ops in flight per session: a quick check of the engines' plumbing
//! (not the harness's measured run: no latency, no open loop).
//!
//! ```text
//! cargo run --release -p socialbench-engines --example engine_mix [OPS_PER_THREAD [FILTER]]
//! ```
//!
//! Ops are generated before the clock starts; every cell loads the same state
//! (users, communities, memberships, posts) and then runs the same mix:
//! 70% home feed, 12% community feed, 1% inbox, 11% votes, 2% comments,
//! 2% posts, 2% post reads.

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::*;

const USERS: u32 = 10_000;
const COMMUNITIES: u32 = 200;
const SEED_POSTS: u32 = 20;
const INFLIGHT: usize = 32;

fn skewed(rng: &mut Xoshiro256PlusPlus, n: u32) -> u32 {
    let u: f64 = rng.random();
    ((u * u * u) * n as f64) as u32 % n
}

fn load<E: Engine>(engine: &E) {
    let mut s = engine.session().expect("session");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut n = 0u64;
    let mut submit = |s: &mut E::Session, op: Op| {
        s.submit(n, op).expect("submit");
        n += 1;
        if s.outstanding() >= INFLIGHT {
            s.poll(true, |_, _| {});
        }
    };
    for u in 0..USERS {
        submit(&mut s, Op::Register { user: UserId(u) });
    }
    for c in 0..COMMUNITIES {
        let community = CommunityId(c);
        submit(
            &mut s,
            Op::CreateCommunity {
                creator: UserId(c),
                community,
            },
        );
    }
    for u in 0..USERS {
        for _ in 0..5 {
            let community = CommunityId(skewed(&mut rng, COMMUNITIES));
            submit(
                &mut s,
                Op::Join {
                    user: UserId(u),
                    community,
                },
            );
        }
    }
    for c in 0..COMMUNITIES {
        for _ in 0..SEED_POSTS {
            let body = Body::from("seed post about rust actors and shards");
            submit(
                &mut s,
                Op::CreatePost {
                    author: UserId(c),
                    community: CommunityId(c),
                    body,
                },
            );
        }
    }
    while s.outstanding() > 0 {
        s.poll(true, |_, _| {});
    }
    drop(s);
    engine.quiesce();
}

fn mix(seed: u64, n: usize) -> Vec<Op> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let user = UserId(rng.random_range(0..USERS));
            let community = CommunityId(skewed(&mut rng, COMMUNITIES));
            let post = PostId {
                community,
                seq: skewed(&mut rng, SEED_POSTS),
            };
            match rng.random_range(0..100) {
                0..70 => Op::GetHomeFeed {
                    user,
                    sort: Sort::Hot,
                    limit: 10,
                },
                70..82 => Op::GetCommunityFeed {
                    community,
                    sort: Sort::Hot,
                    limit: 10,
                },
                82..83 => Op::GetInbox { user, limit: 10 },
                83..94 => {
                    let dir = [VoteDir::Up, VoteDir::Down][rng.random_range(0..2)];
                    Op::Vote {
                        voter: user,
                        target: Target::Post(post),
                        dir,
                    }
                }
                94..96 => Op::Comment {
                    author: user,
                    post,
                    parent: None,
                    body: Body::from("a comment"),
                },
                96..98 => Op::CreatePost {
                    author: user,
                    community: CommunityId::profile(user),
                    body: Body::from("a post in my profile"),
                },
                _ => Op::GetPost { post, comments: 5 },
            }
        })
        .collect()
}

struct Cell {
    threads: usize,
    ops: usize,
}

impl EngineVisitor for Cell {
    type Output = f64;
    fn visit<E: Engine>(self, engine: E) -> f64 {
        load(&engine);
        let work: Vec<Vec<Op>> = (0..self.threads)
            .map(|t| mix(7 + t as u64, self.ops))
            .collect();
        let start = Instant::now();
        std::thread::scope(|scope| {
            for ops in work {
                let engine = &engine;
                scope.spawn(move || {
                    let mut s = engine.session().expect("session");
                    for (i, op) in ops.into_iter().enumerate() {
                        s.submit(i as u64, op).expect("submit");
                        if s.outstanding() >= INFLIGHT {
                            s.poll(true, |_, r| {
                                let _ = std::hint::black_box(r);
                            });
                        }
                    }
                    while s.outstanding() > 0 {
                        s.poll(true, |_, r| {
                            let _ = std::hint::black_box(r);
                        });
                    }
                });
            }
        });
        let secs = start.elapsed().as_secs_f64();
        engine.shutdown();
        (self.threads * self.ops) as f64 / secs
    }
}

fn main() {
    let ops: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    // Optional second argument: run only cells whose label contains it.
    let only = std::env::args().nth(2).unwrap_or_default();
    println!("{:<22} {:>8} {:>14}", "engine", "clients", "ops/s");
    let cells: &[(EngineKind, usize, ChannelKind, &[usize])] = &[
        (EngineKind::Serial, 1, ChannelKind::Crossbeam, &[1]),
        (EngineKind::Actor, 1, ChannelKind::Crossbeam, &[1, 2]),
        (EngineKind::Actor, 1, ChannelKind::Flume, &[1, 2]),
        (EngineKind::Sharded, 1, ChannelKind::Crossbeam, &[1, 2]),
        (EngineKind::Sharded, 2, ChannelKind::Crossbeam, &[1, 2]),
        (EngineKind::Sharded, 2, ChannelKind::Flume, &[1, 2]),
        (EngineKind::Striped, 1, ChannelKind::Crossbeam, &[1, 2]),
        (EngineKind::Striped, 2, ChannelKind::Crossbeam, &[1, 2]),
        (EngineKind::Striped, 8, ChannelKind::Crossbeam, &[1, 2]),
    ];
    for &(kind, partitions, channel, threads) in cells {
        for &t in threads {
            let config = EngineConfig {
                partitions,
                channel,
                ..EngineConfig::default()
            };
            let label = if kind.is_partitioned() {
                format!("{}({partitions})/{channel:?}", kind.name())
            } else {
                format!("{}/{channel:?}", kind.name())
            };
            if !label.contains(&only) {
                continue;
            }
            match kind.visit(&config, Cell { threads: t, ops }) {
                Ok(rate) => println!("{label:<22} {t:>8} {rate:>14.0}"),
                Err(e) => println!("{label:<22} {t:>8} {e}"),
            }
        }
    }
}
