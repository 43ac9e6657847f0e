//! Failover of replicated shards (`EngineConfig::failover`, the
//! `kill-primary` fault): a coordinator notices a dead primary by its
//! missed heartbeats and promotes a backup. With `sync` replication no
//! acknowledged write is lost, however often a primary dies under many
//! clients; with `async` the writes the dead primary had not shipped are
//! lost, exactly those (a test knob holds the shipping back); a paused
//! primary taken for a dead one is deposed all the same (a false
//! failover, counted) and loses nothing in `sync`. After quiesce every
//! backup's state equals its primary's.
//!
//! Size knob: `SOCIALBENCH_FAILOVER_OPS` ops per client (default 3,000).

mod common;

use std::time::{Duration, Instant};

use common::{env_usize, hammer_hot_communities_then};
use socialbench_engines::placement::user_partition;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::*;

/// A fast heartbeat, so that tests see several failovers in a short run.
const FAST: Heartbeat = Heartbeat {
    interval: Duration::from_millis(2),
    misses: 2,
};

fn config(shards: usize, replicas: usize, mode: ReplicationMode) -> EngineConfig {
    EngineConfig {
        partitions: shards,
        replication: Replication { replicas, mode },
        failover: Failover {
            heartbeat: Some(FAST),
            hold_shipping: false,
        },
        ..EngineConfig::default()
    }
}

fn kill(shard: usize, every: Option<Duration>) -> Option<Crash> {
    Some(Crash {
        partition: shard,
        at: Duration::ZERO,
        every,
    })
}

/// Four clients with ops in flight while shard 2's primary is killed
/// every 25 ms: in `sync` the aggregate and per-entity audits pass, some
/// ops were answered unavailable, and every backup agrees with its
/// primary afterwards.
#[test]
fn sync_failovers_lose_no_acknowledged_write() {
    let ops = env_usize("SOCIALBENCH_FAILOVER_OPS", 3_000);
    for replicas in [1, 2] {
        let label = format!("sync r={replicas}");
        let mut c = config(3, replicas, ReplicationMode::Sync);
        c.faults.kill_primary = kill(2, Some(Duration::from_millis(25)));
        let engine = ShardedEngine::new(&c).unwrap();
        let (mut tally, mut log, runs) = hammer_hot_communities_then(&engine, ops, &label, || {
            engine.start_window(Instant::now())
        });
        for r in &runs {
            tally.add(&r.tally);
            log.extend(r.log.iter().copied());
        }
        engine.quiesce();
        let f = engine
            .stats()
            .replication
            .and_then(|r| r.failover)
            .expect("failover figures");
        assert!(f.kills >= 1 && f.failovers >= f.kills, "{label}: {f:?}");
        let audit = engine.audit();
        assert_eq!(audit.replicas_diverged, 0, "{label}: {f:?}");
        audit
            .check(&tally)
            .unwrap_or_else(|e| panic!("{label}: {e}; {f:?}"));
        let entities = Expected::build(log.iter().copied()).check(&engine.entities().unwrap());
        assert!(entities.passed(), "{label}: {entities:?}");
        for e in f.events.iter().filter(|e| e.killed_us.is_some()) {
            assert_eq!(e.shard, 2, "{label}: {e:?}");
            assert!(e.killed_us <= Some(e.declared_us), "{label}: {e:?}");
            assert!(e.declared_us <= e.serving_us, "{label}: {e:?}");
        }
    }
}

/// Registers users whose home is `shard` with one session until one is
/// answered `Unavailable` (the kill took it), then `after` more. Returns
/// the users acknowledged before and after the failover.
fn register_through_a_kill(engine: &ShardedEngine, shard: usize, after: u32) -> (u32, u32) {
    let mut s = engine.session().unwrap();
    let mut users = (10_000..)
        .map(UserId)
        .filter(|&u| user_partition(u, 2) == shard);
    let (mut before, mut later) = (0, 0);
    for _ in 0..10_000 {
        match s.call(Op::Register {
            user: users.next().unwrap(),
        }) {
            Ok(_) => before += 1,
            Err(ApiError::Unavailable) => break,
            Err(e) => panic!("{e}"),
        }
    }
    for _ in 0..after {
        assert_eq!(
            s.call(Op::Register {
                user: users.next().unwrap()
            }),
            Ok(Reply::Done)
        );
        later += 1;
    }
    (before, later)
}

/// One session registers users on shard 1 until its primary dies. With
/// `async` and nothing shipped (the test knob), the promoted backup holds
/// nothing of shard 1: every user acknowledged there before the kill is
/// lost, and the failover reports those entries; the users of shard 0 and
/// those registered after the failover are kept, and the backups agree
/// with the new primaries. With `sync` the same sequence loses nothing.
#[test]
fn async_failover_loses_exactly_the_writes_not_shipped() {
    for mode in [ReplicationMode::Async, ReplicationMode::Sync] {
        let mut c = config(2, 1, mode);
        // Patient enough that no pause on a loaded test machine is taken
        // for a death: the one failover is the kill's.
        c.failover.heartbeat = Some(Heartbeat {
            interval: Duration::from_millis(20),
            misses: 25,
        });
        c.failover.hold_shipping = mode == ReplicationMode::Async;
        c.faults.kill_primary = kill(1, None);
        let engine = ShardedEngine::new(&c).unwrap();
        let mut s = engine.session().unwrap();
        let mut kept = 0u64;
        for u in 0..50 {
            let user = UserId(u);
            assert_eq!(s.call(Op::Register { user }), Ok(Reply::Done));
            kept += u64::from(user_partition(user, 2) == 0);
        }
        let lost_before = 50 - kept;
        engine.start_window(Instant::now());
        let (before, after) = register_through_a_kill(&engine, 1, 20);
        engine.quiesce();
        let f = engine.stats().replication.unwrap().failover.unwrap();
        assert_eq!(
            (f.kills, f.failovers, f.false_failovers),
            (1, 1, 0),
            "{f:?}"
        );
        assert!(f.unavailable_ops >= 1, "{f:?}");
        let audit = engine.audit();
        assert_eq!(audit.replicas_diverged, 0, "{mode}: {f:?}");
        let acked = 50 + u64::from(before + after);
        if mode == ReplicationMode::Async {
            let lost = lost_before + u64::from(before);
            assert_eq!(f.lost_entries, lost, "{f:?}");
            assert_eq!(audit.users, acked - lost, "{f:?}");
        } else {
            assert_eq!(audit.users, acked, "{f:?}");
        }
    }
}

/// Every shard stalls for 8 ms every 10 ms, several times the heartbeat's
/// patience: the coordinator takes the stalled primaries for dead ones
/// and deposes them (false failovers, counted), and in `sync` the audit
/// still passes and the backups agree. One client with ops in flight runs
/// rounds until a false failover has happened (a round may end before the
/// first stall).
#[test]
fn a_paused_primary_is_deposed_and_loses_nothing_in_sync() {
    let mut c = config(3, 1, ReplicationMode::Sync);
    c.failover.heartbeat = Some(Heartbeat {
        interval: Duration::from_millis(1),
        misses: 2,
    });
    c.faults.stall = Some(Stall {
        every: Duration::from_millis(10),
        duration: Duration::from_millis(8),
    });
    let engine = ShardedEngine::new(&c).unwrap();
    engine.start_window(Instant::now());
    let mut generator = common::OpGen::new(0xfa11, 0, 300, (0, 40), 0.05);
    let mut tally = WriteTally::default();
    let mut s = engine.session().unwrap();
    let mut f = FailoverStats::default();
    for _ in 0..200 {
        tally.add(&common::closed_loop(&mut s, &mut generator, 500, 8).tally);
        f = engine.stats().replication.unwrap().failover.unwrap();
        if f.false_failovers > 0 {
            break;
        }
    }
    engine.quiesce();
    assert_eq!(f.kills, 0, "{f:?}");
    assert!(f.false_failovers >= 1, "{f:?}");
    let f = engine.stats().replication.unwrap().failover.unwrap();
    assert_eq!(f.false_failovers, f.failovers, "{f:?}");
    let audit = engine.audit();
    assert_eq!(audit.replicas_diverged, 0, "{f:?}");
    audit.check(&tally).unwrap_or_else(|e| panic!("{e}; {f:?}"));
}

/// `kill-primary` needs backups, a heartbeat, a shard that exists, and
/// the sharded engine.
#[test]
fn kill_primary_is_refused_without_what_it_needs() {
    let mut no_backups = config(2, 0, ReplicationMode::Sync);
    no_backups.faults.kill_primary = kill(0, None);
    let mut no_heartbeat = config(2, 1, ReplicationMode::Sync);
    no_heartbeat.failover.heartbeat = None;
    no_heartbeat.faults.kill_primary = kill(0, None);
    let mut no_shard = config(2, 1, ReplicationMode::Sync);
    no_shard.faults.kill_primary = kill(2, None);
    for (c, words) in [
        (&no_backups, "--replicas"),
        (&no_heartbeat, "heartbeat"),
        (&no_shard, "outside 0..2"),
    ] {
        let e = ShardedEngine::new(c).unwrap_err().to_string();
        assert!(e.contains(words), "{e}");
    }
    let mut actor = config(1, 0, ReplicationMode::Sync);
    actor.faults.kill_primary = kill(0, None);
    let e = socialbench_engines::actor::ActorEngine::new(&actor)
        .unwrap_err()
        .to_string();
    assert!(e.contains("kill-primary"), "{e}");
}
