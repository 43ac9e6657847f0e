//! Push and hybrid feeds (`--feeds`) against pull, on the microblog preset
//! with unfollows added: after quiesce every engine that pushes gives every
//! user the `New` home feed the serial engine gives by pulling; the engines
//! that deliver inside the op (serial, striped) give the same replies op by
//! op; the timeline audit passes, and fails when deliveries are dropped.
//!
//! Size knob: `SOCIALBENCH_FEED_OPS` (run-phase ops, default 12,000).

use std::sync::OnceLock;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::actor::ActorEngine;
use socialbench_engines::serial::SerialEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::*;
use socialbench_workload::{Scenario, Workload};

/// Users of the workload.
const USERS: u32 = 600;
/// The timeline bound of the pushing engines: below the preset's feed
/// limit (20), so that timelines trim and reads fall back.
const BOUND: u16 = 12;

fn ops_knob() -> usize {
    std::env::var("SOCIALBENCH_FEED_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12_000)
}

/// The op sequence and the serial (pull) engine's replies to it.
struct Reference {
    ops: Vec<Op>,
    replies: Vec<Response>,
    users: Vec<UserId>,
    engine: SerialEngine,
    /// Held while reading `engine`: it takes one session at a time, and
    /// the tests run in parallel.
    engine_lock: std::sync::Mutex<()>,
}

/// The microblog load and run phases (the generator reacting to the serial
/// engine's replies), with an unfollow of a followed profile after every
/// 20th op and a re-follow of an unfollowed one after every 50th.
fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let scenario = Scenario::preset("microblog").unwrap().with_users(USERS);
        let workload = Workload::new(scenario, 7).unwrap();
        let engine = SerialEngine::new(&EngineConfig::default()).unwrap();
        let mut rec = Recorder {
            session: engine.session().unwrap(),
            ops: Vec::new(),
            replies: Vec::new(),
            follows: Vec::new(),
            users: Vec::new(),
        };
        let mut unfollowed: Vec<(UserId, CommunityId)> = Vec::new();
        for stage in 0..workload.load_stages() {
            for op in workload.load_ops(stage, 0, 1) {
                let _ = rec.step(op);
            }
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut generator = workload.generator(0, 1);
        for i in 0..ops_knob() {
            let (token, op) = generator.next_op();
            let r = rec.step(op);
            generator.on_reply(token, &r);
            if i % 20 == 0 && !rec.follows.is_empty() {
                let at = rng.random_range(0..rec.follows.len());
                let (user, community) = rec.follows.swap_remove(at);
                let _ = rec.step(Op::Leave { user, community });
                unfollowed.push((user, community));
            }
            if i % 50 == 0 && !unfollowed.is_empty() {
                let at = rng.random_range(0..unfollowed.len());
                let (user, community) = unfollowed.swap_remove(at);
                let _ = rec.step(Op::Join { user, community });
            }
        }
        let Recorder {
            session,
            ops,
            replies,
            users,
            ..
        } = rec;
        drop(session);
        let leaves = ops.iter().filter(|o| matches!(o, Op::Leave { .. })).count();
        assert!(leaves > 100, "only {leaves} unfollows");
        Reference {
            ops,
            replies,
            users,
            engine,
            engine_lock: std::sync::Mutex::new(()),
        }
    })
}

/// The reference's ops and replies as they are made, and what the
/// unfollows need: the follows made so far and the users registered.
struct Recorder {
    session: <SerialEngine as Engine>::Session,
    ops: Vec<Op>,
    replies: Vec<Response>,
    follows: Vec<(UserId, CommunityId)>,
    users: Vec<UserId>,
}

impl Recorder {
    fn step(&mut self, op: Op) -> Response {
        let r = self.session.call(op.clone());
        match (&op, &r) {
            (Op::Join { user, community }, Ok(_)) if community.is_profile() => {
                self.follows.push((*user, *community));
            }
            (Op::Register { user }, Ok(_)) => self.users.push(*user),
            _ => {}
        }
        self.ops.push(op);
        self.replies.push(r.clone());
        r
    }
}

fn config(partitions: usize, mode: FeedMode, threshold: u32) -> EngineConfig {
    EngineConfig {
        partitions,
        feeds: Feeds {
            mode,
            timeline: BOUND,
            push_threshold: threshold,
            broker_bound: 0,
        },
        ..EngineConfig::default()
    }
}

/// Every user's `New` home feed of `limit` posts.
fn feeds<E: Engine>(engine: &E, users: &[UserId], limit: u16) -> Vec<Response> {
    let mut s = engine.session().unwrap();
    users
        .iter()
        .map(|&user| {
            s.call(Op::GetHomeFeed {
                user,
                sort: Sort::New,
                limit,
            })
        })
        .collect()
}

/// Replays the reference through `engine` (one op in flight): writes get
/// the serial engine's replies, and every reply does when `same_feeds`
/// (delivery inside the op); after quiesce every user's `New` home feed
/// equals the pulled one, and the per-entity audit (timelines included)
/// passes. Returns the engine's stats.
fn pushes_like_pull<E: Engine>(engine: E, same_feeds: bool, label: &str) -> EngineStats {
    let r = reference();
    let mut log = Vec::new();
    {
        let mut s = engine.session().unwrap();
        for (i, (op, want)) in r.ops.iter().zip(&r.replies).enumerate() {
            let got = s.call(op.clone());
            if same_feeds || op.kind().is_write() {
                assert_eq!(&got, want, "{label}: op {i} {op:?}");
            }
            log.extend(Pending::of(op).acked(&got));
        }
    }
    engine.quiesce();
    for limit in [5, BOUND, 20] {
        let want = {
            let _one_session = r.engine_lock.lock().unwrap_or_else(|e| e.into_inner());
            feeds(&r.engine, &r.users, limit)
        };
        let got = feeds(&engine, &r.users, limit);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g, w,
                "{label}: home feed of {:?}, limit {limit}",
                r.users[i]
            );
        }
    }
    let report = Expected::build(log).check(&engine.entities().unwrap());
    assert!(report.passed(), "{label}: {report}");
    assert_eq!(report.timelines, r.users.len() as u64, "{label}");
    let stats = engine.stats();
    engine.shutdown();
    stats
}

#[test]
fn serial_push_replies_like_pull_op_by_op_and_serves_from_timelines() {
    let e = SerialEngine::new(&config(1, FeedMode::Push, 0)).unwrap();
    let f = pushes_like_pull(e, true, "serial push").feeds.unwrap();
    assert!(
        f.pushed_posts > 0 && f.deliveries >= f.pushed_posts,
        "{f:?}"
    );
    assert!(f.served > 0, "no feed came from a timeline: {f:?}");
    assert!(f.fallbacks > 0, "limit 20 is above the bound: {f:?}");
    assert!(f.trimmed > 0, "{f:?}");
    assert!(f.staleness.is_none(), "delivery is inside the op");
}

#[test]
fn serial_hybrid_replies_like_pull_op_by_op() {
    let e = SerialEngine::new(&config(1, FeedMode::Hybrid, 8)).unwrap();
    let f = pushes_like_pull(e, true, "serial hybrid").feeds.unwrap();
    assert!(f.celebrities > 0, "no source crossed the threshold: {f:?}");
    assert!(f.served > 0, "{f:?}");
}

#[test]
fn striped_push_replies_like_pull_op_by_op() {
    let e = StripedEngine::new(&config(3, FeedMode::Push, 0)).unwrap();
    pushes_like_pull(e, true, "striped(3) push");
    let e = StripedEngine::new(&config(3, FeedMode::Hybrid, 8)).unwrap();
    pushes_like_pull(e, true, "striped(3) hybrid");
}

#[test]
fn actor_push_gives_the_pulled_feeds_after_quiesce() {
    let e = ActorEngine::new(&config(1, FeedMode::Push, 0)).unwrap();
    let f = pushes_like_pull(e, false, "actor push").feeds.unwrap();
    assert!(f.staleness.is_some_and(|s| s.samples > 0), "{f:?}");
    assert_eq!(f.backlog, 0, "quiesced: {f:?}");
}

#[test]
fn sharded_push_and_hybrid_give_the_pulled_feeds_after_quiesce() {
    let e = ShardedEngine::new(&config(3, FeedMode::Push, 0)).unwrap();
    let f = pushes_like_pull(e, false, "sharded(3) push").feeds.unwrap();
    assert!(f.staleness.is_some_and(|s| s.samples > 0), "{f:?}");
    let e = ShardedEngine::new(&config(3, FeedMode::Hybrid, 8)).unwrap();
    pushes_like_pull(e, false, "sharded(3) hybrid");
}

#[test]
fn replicated_sharded_push_gives_the_pulled_feeds_and_backups_converge() {
    let mut c = config(2, FeedMode::Push, 0);
    c.replication = Replication {
        replicas: 1,
        mode: ReplicationMode::Sync,
    };
    let e = ShardedEngine::new(&c).unwrap();
    // `pushes_like_pull` shuts the engine down: check the backups first,
    // on a second engine run the same way.
    let f = pushes_like_pull(e, false, "sharded(2) push, 1 backup")
        .feeds
        .unwrap();
    assert!(f.delivered > 0, "{f:?}");
    let e = ShardedEngine::new(&c).unwrap();
    {
        let mut s = e.session().unwrap();
        for op in &reference().ops {
            let _ = s.call(op.clone());
        }
    }
    e.quiesce();
    assert_eq!(e.audit().replicas_diverged, 0);
    e.shutdown();
}

/// A broker bound of one delivery: sessions wait at submit for the shards
/// to drain (admission control), and nothing hangs or is lost.
#[test]
fn a_tiny_broker_bound_makes_sessions_wait_without_losing_anything() {
    let mut c = config(3, FeedMode::Push, 0);
    c.feeds.broker_bound = 1;
    let e = ShardedEngine::new(&c).unwrap();
    pushes_like_pull(e, false, "sharded(3) push, broker bound 1");
}

#[test]
fn dropped_deliveries_fail_the_timeline_audit() {
    let mut c = config(3, FeedMode::Push, 0);
    c.faults.drop_delivery_rate = 0.05;
    c.faults.seed = 3;
    let engine = ShardedEngine::new(&c).unwrap();
    let r = reference();
    let mut log = Vec::new();
    {
        let mut s = engine.session().unwrap();
        for op in &r.ops {
            let got = s.call(op.clone());
            log.extend(Pending::of(op).acked(&got));
        }
    }
    engine.quiesce();
    let report = Expected::build(log).check(&engine.entities().unwrap());
    let what: Vec<&str> = report.mismatches.iter().map(|m| m.what).collect();
    assert_eq!(
        what,
        ["post missing from a follower's timeline"],
        "{report}"
    );
    assert!(engine.stats().dropped_follow_ups > 0);
    engine.shutdown();
}

/// Several client threads with ops in flight on engines that push: after
/// quiesce the timeline invariant holds for every user (the audit), and
/// nothing is left queued.
#[test]
fn concurrent_clients_leave_every_timeline_consistent() {
    let threads = 4;
    let ops = ops_knob() / 2;
    let scenario = Scenario::preset("microblog").unwrap().with_users(USERS);
    let workload = Workload::new(scenario, 9).unwrap();
    fn hammer<E: Engine + Sync>(engine: E, workload: &Workload, threads: usize, ops: usize) {
        let mut log = Vec::new();
        {
            let mut s = engine.session().unwrap();
            for stage in 0..workload.load_stages() {
                for op in workload.load_ops(stage, 0, 1) {
                    let r = s.call(op.clone());
                    log.extend(Pending::of(&op).acked(&r));
                }
            }
        }
        let logs: Vec<Vec<Acked>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let engine = &engine;
                    scope.spawn(move || {
                        let mut s = engine.session().unwrap();
                        let mut g = workload.generator(t, threads);
                        let mut log = Vec::new();
                        let mut inflight = std::collections::HashMap::new();
                        let mut sent = 0;
                        while sent < ops || s.outstanding() > 0 {
                            while sent < ops && inflight.len() < 16 {
                                let (token, op) = g.next_op();
                                s.submit(sent as u64, op.clone()).unwrap();
                                inflight.insert(sent as u64, (token, op));
                                sent += 1;
                            }
                            let mut got = Vec::new();
                            s.poll(true, |tag, r| got.push((tag, r)));
                            for (tag, r) in got {
                                let (token, op) = inflight.remove(&tag).unwrap();
                                g.on_reply(token, &r);
                                log.extend(Pending::of(&op).acked(&r));
                            }
                        }
                        log
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        engine.quiesce();
        log.extend(logs.into_iter().flatten());
        let report = Expected::build(log).check(&engine.entities().unwrap());
        assert!(report.passed(), "{}: {report}", engine.name());
        assert!(report.timelines > 0);
        let f = engine.stats().feeds.unwrap();
        assert_eq!(f.backlog, 0, "{f:?}");
        assert!(f.delivered > 0, "{f:?}");
        engine.shutdown();
    }
    hammer(
        ShardedEngine::new(&config(3, FeedMode::Push, 0)).unwrap(),
        &workload,
        threads,
        ops,
    );
    hammer(
        ShardedEngine::new(&config(2, FeedMode::Hybrid, 8)).unwrap(),
        &workload,
        threads,
        ops,
    );
    hammer(
        StripedEngine::new(&config(3, FeedMode::Push, 0)).unwrap(),
        &workload,
        threads,
        ops,
    );
    hammer(
        ActorEngine::new(&config(1, FeedMode::Hybrid, 8)).unwrap(),
        &workload,
        threads,
        ops,
    );
}
