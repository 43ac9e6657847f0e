//! Single-threaded throughput of the partition on a reddit-like mix, plus the
//! per-op cost of the `null` and `serial` engines on the same ops.
//!
//! ```text
//! cargo run --release -p socialbench-engines --example partition_mix
//! MIX_USERS=100000 MIX_COMMUNITIES=5000 MIX_OPS=3000000 cargo run --release ...
//! ```
//!
//! Ops are generated before the clock starts (bodies included), so the figure
//! is the partition's own cost. The mix follows the `reddit` preset of DESIGN
//! section 4 per op: home feed 72%, community feed 12%, inbox 1%, vote 11%,
//! comment 1.8%, post 1.9%, join 0.2%, search 0.02%, the rest profile reads.
//! Popularity is skewed (a cubic power law standing in for Zipf).

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::null::NullEngine;
use socialbench_engines::serial::SerialEngine;
use socialbench_engines::*;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A skewed index in 0..n: small indexes are far more popular.
fn skewed(rng: &mut Xoshiro256PlusPlus, n: u32) -> u32 {
    let u: f64 = rng.random_range(0.0..1.0);
    ((u * u * u) * n as f64) as u32 % n.max(1)
}

fn text(rng: &mut Xoshiro256PlusPlus) -> Body {
    const WORDS: [&str; 8] = [
        "cat", "dog", "rust", "actor", "shard", "lock", "zipf", "feed",
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(4..40) {
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        s.push(' ');
    }
    Body::from(s.as_str())
}

fn main() {
    let users = knob("MIX_USERS", 20_000) as u32;
    let communities = knob("MIX_COMMUNITIES", 1_000) as u32;
    let n_ops = knob("MIX_OPS", 2_000_000) as usize;
    let seed_posts = 20u32;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);

    // Load phase: users, communities, ~10 memberships per user, seed posts.
    let mut load = Vec::new();
    for u in 0..users {
        load.push(Op::Register { user: UserId(u) });
    }
    for c in 0..communities {
        load.push(Op::CreateCommunity {
            creator: UserId(c % users),
            community: CommunityId(c),
        });
    }
    for u in 0..users {
        for _ in 0..10 {
            let community = CommunityId(skewed(&mut rng, communities));
            load.push(Op::Join {
                user: UserId(u),
                community,
            });
        }
    }
    for c in 0..communities {
        for _ in 0..seed_posts {
            let body = text(&mut rng);
            load.push(Op::CreatePost {
                author: UserId(c % users),
                community: CommunityId(c),
                body,
            });
        }
    }

    // Run phase ops. Posts target communities whose creator is the author.
    let mut ops = Vec::with_capacity(n_ops);
    let sorts = [Sort::Hot, Sort::Hot, Sort::New, Sort::Top];
    for _ in 0..n_ops {
        let user = UserId(skewed(&mut rng, users));
        let c = CommunityId(skewed(&mut rng, communities));
        let post = PostId {
            community: c,
            seq: rng.random_range(0..seed_posts),
        };
        let sort = sorts[rng.random_range(0..sorts.len())];
        let r = rng.random_range(0..10_000u32);
        ops.push(match r {
            0..7_200 => Op::GetHomeFeed {
                user,
                sort,
                limit: 25,
            },
            7_200..8_400 => Op::GetCommunityFeed {
                community: c,
                sort,
                limit: 25,
            },
            8_400..8_500 => Op::GetInbox { user, limit: 25 },
            8_500..9_600 => {
                let dir = if rng.random_bool(0.8) {
                    VoteDir::Up
                } else {
                    VoteDir::Down
                };
                Op::Vote {
                    voter: user,
                    target: Target::Post(post),
                    dir,
                }
            }
            9_600..9_780 => Op::Comment {
                author: user,
                post,
                parent: None,
                body: text(&mut rng),
            },
            9_780..9_970 => Op::CreatePost {
                author: UserId(c.0 % users),
                community: c,
                body: text(&mut rng),
            },
            9_970..9_975 => Op::SendDm {
                from: user,
                to: UserId(skewed(&mut rng, users)),
                body: text(&mut rng),
            },
            9_975..9_995 => Op::Join { user, community: c },
            9_995..9_997 => Op::Search {
                community: c,
                term: Body::from("shard lock"),
            },
            _ => Op::GetProfile { user },
        });
    }

    // 1. The bare partition.
    let mut p = Partition::new(0, 1, PostClock::new());
    let mut fus = Vec::new();
    let t = Instant::now();
    for op in load.clone() {
        let _ = p.apply(op, &mut fus);
        for f in fus.drain(..) {
            p.apply_follow_up(f);
        }
    }
    let load_s = t.elapsed().as_secs_f64();
    let mut errors = 0u64;
    let t = Instant::now();
    for op in ops.clone() {
        if black_box(p.apply(op, &mut fus)).is_err() {
            errors += 1;
        }
        for f in fus.drain(..) {
            p.apply_follow_up(f);
        }
    }
    let run_s = t.elapsed().as_secs_f64();
    if std::env::var_os("MIX_BREAKDOWN").is_some() {
        breakdown(&mut p, &ops);
    }
    let stats = p.stats();
    println!(
        "partition: load {} ops in {load_s:.2}s; run {n_ops} ops in {run_s:.2}s = {:.0} ops/s ({:.0} ns/op, {errors} refused)",
        load.len(),
        n_ops as f64 / run_s,
        run_s * 1e9 / n_ops as f64
    );
    println!(
        "  state: {:?}, {} MB approx",
        stats.counts,
        stats.bytes.total() >> 20
    );

    // 2. The serial engine on the same ops (submit + poll every 16).
    let serial = SerialEngine::new(&EngineConfig::default()).expect("serial engine");
    let mut s = serial.session().expect("session");
    for (i, op) in load.iter().cloned().enumerate() {
        let _ = s.submit(i as u64, op);
        s.poll(false, |_, r| drop(black_box(r)));
    }
    let t = Instant::now();
    for (i, op) in ops.iter().cloned().enumerate() {
        let _ = s.submit(i as u64, op);
        if i % 16 == 15 {
            s.poll(false, |_, r| drop(black_box(r)));
        }
    }
    s.poll(false, |_, r| drop(black_box(r)));
    let serial_s = t.elapsed().as_secs_f64();
    drop(s);
    println!(
        "serial engine: {:.0} ops/s ({:.0} ns/op)",
        n_ops as f64 / serial_s,
        serial_s * 1e9 / n_ops as f64
    );

    // 3. The null engine: submit + poll only (ops without bodies, so the
    //    figure is the engine's cost, not the freeing of bodies).
    let null = NullEngine::new(&EngineConfig::default()).expect("null engine");
    let mut s = null.session().expect("session");
    let rounds = 20_000_000u64;
    let mut sum = 0u64;
    let t = Instant::now();
    for i in 0..rounds {
        let _ = s.submit(
            i,
            Op::GetProfile {
                user: UserId(i as u32),
            },
        );
        if i % 16 == 15 {
            s.poll(false, |tag, _| sum = sum.wrapping_add(tag));
        }
    }
    s.poll(false, |tag, _| sum = sum.wrapping_add(tag));
    let null_s = t.elapsed().as_secs_f64();
    black_box(sum);
    println!(
        "null engine: {:.0} ops/s ({:.1} ns/op submit+poll)",
        rounds as f64 / null_s,
        null_s * 1e9 / rounds as f64
    );
}

/// Mean cost per op kind, timing each op (adds ~20 ns of clock reads per op).
fn breakdown(p: &mut Partition, ops: &[Op]) {
    let mut fus = Vec::new();
    let mut ns = [(0u64, 0f64); OpKind::COUNT];
    for op in ops.iter().cloned() {
        let kind = op.kind() as usize;
        let t = Instant::now();
        black_box(p.apply(op, &mut fus)).ok();
        for f in fus.drain(..) {
            p.apply_follow_up(f);
        }
        ns[kind].0 += 1;
        ns[kind].1 += t.elapsed().as_nanos() as f64;
    }
    for k in OpKind::ALL {
        let (n, total) = ns[k as usize];
        if n > 0 {
            println!(
                "  {:<20} {n:>9} ops {:>9.0} ns/op",
                k.name(),
                total / n as f64
            );
        }
    }
}
