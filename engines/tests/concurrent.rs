//! Concurrency: several client threads, each with many ops in flight, hammer
//! the same hot communities and posts (joins and leaves, votes flipping up,
//! down and clear); after `quiesce` the audit must equal the clients' tallies
//! of acknowledged writes (nothing lost or duplicated), memberships must
//! mirror subscriptions, and every post, user and community must hold what
//! the clients' logs of acknowledged writes (each client's own order, with
//! the ids its replies gave it) say it holds.
//!
//! Size knob: `SOCIALBENCH_CONC_OPS` ops per client (default 5,000).

mod common;

use common::{env_usize, hammer_hot_communities};
use socialbench_engines::actor::ActorEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::*;

fn hammer<E: Engine + Sync>(engine: E, label: &str) {
    let ops = env_usize("SOCIALBENCH_CONC_OPS", 5_000);
    let (mut tally, setup_log, runs) = hammer_hot_communities(&engine, ops, label);
    for run in &runs {
        assert_eq!(
            run.replies as usize, ops,
            "{label}: every op is answered once"
        );
        tally.add(&run.tally);
    }
    // The mix must really conflict, or the test proves little.
    assert!(tally.joins > 50 && tally.leaves > 20, "{label}: {tally:?}");
    assert!(
        tally.posts > 100 && tally.comments > 50,
        "{label}: {tally:?}"
    );
    engine.quiesce();
    let stats = engine.stats();
    assert_eq!(
        stats.pending_follow_ups, 0,
        "{label}: pending after quiesce"
    );
    assert_eq!(stats.faults, 0, "{label}");
    if let Err(e) = engine.audit().check(&tally) {
        panic!("{label}: {e}");
    }
    let logs = setup_log
        .iter()
        .chain(runs.iter().flat_map(|r| &r.log))
        .copied();
    let entities = engine
        .entities()
        .expect("a partitioned engine reports its entities");
    let report = Expected::build(logs).check(&entities);
    assert!(report.passed(), "{label}: {report}");
    assert!(
        report.posts as usize > 100 && report.users as usize >= 100,
        "{label}: the check saw the state: {report:?}"
    );
    assert_eq!(
        stats.counts.posts, tally.posts,
        "{label}: stats agree with audit"
    );
}

fn cfg(partitions: usize, channel: ChannelKind) -> EngineConfig {
    EngineConfig {
        // Small mailboxes so clients really block on backpressure.
        mailbox: 8,
        ..common::config(partitions, channel)
    }
}

#[test]
fn actor_loses_and_duplicates_nothing_under_concurrent_clients() {
    hammer(
        ActorEngine::new(&cfg(1, ChannelKind::Crossbeam)).unwrap(),
        "actor",
    );
}

#[test]
fn actor_on_flume_loses_and_duplicates_nothing_under_concurrent_clients() {
    hammer(
        ActorEngine::new(&cfg(1, ChannelKind::Flume)).unwrap(),
        "actor/flume",
    );
}

#[test]
fn sharded_3_loses_and_duplicates_nothing_under_concurrent_clients() {
    let e = ShardedEngine::new(&cfg(3, ChannelKind::Crossbeam)).unwrap();
    hammer(e, "sharded(3)");
}

#[test]
fn sharded_8_loses_and_duplicates_nothing_under_concurrent_clients() {
    let e = ShardedEngine::new(&cfg(8, ChannelKind::Crossbeam)).unwrap();
    hammer(e, "sharded(8)");
}

#[test]
fn sharded_3_on_flume_loses_and_duplicates_nothing_under_concurrent_clients() {
    let e = ShardedEngine::new(&cfg(3, ChannelKind::Flume)).unwrap();
    hammer(e, "sharded(3)/flume");
}

#[test]
fn striped_3_loses_and_duplicates_nothing_under_concurrent_clients() {
    let e = StripedEngine::new(&cfg(3, ChannelKind::Crossbeam)).unwrap();
    hammer(e, "striped(3)");
}

#[test]
fn striped_8_loses_and_duplicates_nothing_under_concurrent_clients() {
    let e = StripedEngine::new(&cfg(8, ChannelKind::Crossbeam)).unwrap();
    hammer(e, "striped(8)");
}

/// Every idle policy, on the actor and on three shards: spinning, parking
/// at once and the adaptive switch between them change how threads wait,
/// never what they do.
#[test]
fn every_idle_policy_loses_and_duplicates_nothing() {
    let policies = [
        IdlePolicy::Spin,
        IdlePolicy::Park,
        IdlePolicy::default(),
        IdlePolicy::Adaptive {
            max_spin: std::time::Duration::from_micros(1),
        },
    ];
    for idle in policies {
        let c = |partitions| EngineConfig {
            idle,
            ..cfg(partitions, ChannelKind::Crossbeam)
        };
        hammer(
            ActorEngine::new(&c(1)).unwrap(),
            &format!("actor --idle {idle}"),
        );
        hammer(
            ShardedEngine::new(&c(3)).unwrap(),
            &format!("sharded(3) --idle {idle}"),
        );
    }
}
