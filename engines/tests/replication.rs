//! Replicated shards (`EngineConfig::replication`): under many clients with
//! many ops in flight, every backup converges on its primary's state (the
//! audit compares their digests after `quiesce`), with write faults
//! replayed as they happened; `sync` holds every write's reply until the
//! backups have it; the other engines and out-of-range counts are refused.
//!
//! Size knob: `SOCIALBENCH_REPLICATION_OPS` ops per client (default 3,000).

mod common;

use common::{env_usize, hammer_hot_communities};
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::*;

fn replicated(replicas: usize, mode: ReplicationMode, faults: Faults) -> ShardedEngine {
    let config = EngineConfig {
        partitions: 3,
        replication: Replication { replicas, mode },
        faults,
        ..EngineConfig::default()
    };
    ShardedEngine::new(&config).expect("a replicated sharded engine")
}

/// Hammers `engine`, quiesces it, and returns its audit, the acknowledged
/// writes and how many write replies the clients got.
fn hammer(engine: &ShardedEngine, label: &str) -> (Audit, WriteTally, u64) {
    let ops = env_usize("SOCIALBENCH_REPLICATION_OPS", 3_000);
    let (mut tally, _, runs) = hammer_hot_communities(engine, ops, label);
    for r in &runs {
        tally.add(&r.tally);
    }
    engine.quiesce();
    let writes = runs.iter().map(|r| r.write_replies).sum();
    (engine.audit(), tally, writes)
}

#[test]
fn backups_converge_on_their_primary_in_both_modes() {
    for mode in [ReplicationMode::Sync, ReplicationMode::Async] {
        for replicas in [1, 2] {
            let label = format!("{mode} r={replicas}");
            let engine = replicated(replicas, mode, Faults::default());
            let (audit, tally, writes) = hammer(&engine, &label);
            assert_eq!(audit.replicas_diverged, 0, "{label}");
            audit
                .check(&tally)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let r = engine.stats().replication.expect("replication stats");
            assert_eq!((r.replicas, r.mode), (replicas, mode), "{label}");
            // Every write was logged (follow-ups add more entries).
            assert!(r.log_entries >= writes, "{label}: {r:?}, {writes} writes");
            assert_eq!((r.lag_entries, r.lost_backups), (0, 0), "{label}: {r:?}");
            if mode == ReplicationMode::Sync {
                // A write's reply is given before its entry can have been
                // shipped: in sync every one waited for the backups.
                assert!(r.held_replies >= writes, "{label}: {r:?}, {writes} writes");
            }
            assert!(
                audit.posts > 0 && audit.memberships > 0,
                "{label}: {audit:?}"
            );
        }
    }
}

#[test]
fn dropped_and_duplicated_writes_replay_as_they_happened() {
    for mode in [ReplicationMode::Sync, ReplicationMode::Async] {
        let faults = Faults {
            drop_write_rate: 0.02,
            duplicate_write_rate: 0.02,
            seed: 7,
            ..Faults::default()
        };
        let engine = replicated(2, mode, faults);
        let (audit, _, _) = hammer(&engine, "faults");
        let stats = engine.stats();
        let faulted: u64 = stats
            .write_faults
            .dropped
            .values()
            .chain(stats.write_faults.duplicated.values())
            .sum();
        assert!(faulted > 0, "{mode}: the faults fired: {stats:?}");
        // The primaries diverge from the acknowledged writes (the audit
        // against the tally fails); their backups do not diverge from them.
        assert_eq!(audit.replicas_diverged, 0, "{mode}");
    }
}

#[test]
fn replicas_are_refused_beyond_two_and_on_engines_without_shards() {
    let config = EngineConfig {
        replication: Replication {
            replicas: 3,
            mode: ReplicationMode::Sync,
        },
        ..EngineConfig::default()
    };
    assert!(matches!(
        ShardedEngine::new(&config),
        Err(EngineError::Config { .. })
    ));
    let one = EngineConfig {
        replication: Replication {
            replicas: 1,
            mode: ReplicationMode::Async,
        },
        ..EngineConfig::default()
    };
    for kind in [
        EngineKind::Serial,
        EngineKind::Actor,
        EngineKind::Striped,
        EngineKind::Null,
    ] {
        assert!(
            matches!(kind.check(&one), Err(EngineError::Config { .. })),
            "{kind:?}"
        );
    }
    assert_eq!(EngineKind::Sharded.check(&one), Ok(()));
    // Backups are engine threads: the harness leaves cores for them.
    let mut c = one.clone();
    c.partitions = 4;
    assert_eq!(EngineKind::Sharded.engine_threads(&c), 8);
}
