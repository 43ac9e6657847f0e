//! Fault injection: a dropped follow-up must make the audit fail (and no
//! drops must let it pass); a panicking op is answered with `EngineFault`,
//! counted, and the engine keeps serving with an audit that still passes on
//! the acknowledged writes; stalls delay but break nothing. On crossbeam and
//! flume channels alike. Every write kind acknowledged but not applied, and
//! every write kind whose repetition changes state applied twice, fails both
//! audits (the aggregates' and the per-entity one), naming what and how many.
//!
//! Size knob: `SOCIALBENCH_FAULT_OPS` ops per client (default 3,000).

mod common;

use std::time::Duration;

use common::{ClientRun, OpGen, closed_loop, env_usize};
use socialbench_engines::actor::ActorEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::*;

const CLIENTS: usize = 2;

struct Outcome {
    runs: Vec<ClientRun>,
    tally: WriteTally,
    audit: Result<(), AuditFailure>,
    entities: EntityReport,
    stats: EngineStats,
}

fn drive<E: Engine>(engine: E) -> Outcome {
    let ops = env_usize("SOCIALBENCH_FAULT_OPS", 3_000);
    let mut tally = WriteTally::default();
    let runs: Vec<ClientRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|k| {
                let engine = &engine;
                scope.spawn(move || {
                    let mut session = engine.session().expect("session");
                    let mut generator =
                        OpGen::new(0xfa + k as u64, 10_000 * k as u32, 40, (0, 8), 0.05);
                    closed_loop(&mut session, &mut generator, ops, 8)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    for r in &runs {
        tally.add(&r.tally);
    }
    engine.quiesce();
    let logs = runs.iter().flat_map(|r| &r.log).copied();
    let entities = engine
        .entities()
        .expect("a partitioned engine reports its entities");
    Outcome {
        entities: Expected::build(logs).check(&entities),
        audit: engine.audit().check(&tally),
        stats: engine.stats(),
        runs,
        tally,
    }
}

fn faulty(channel: ChannelKind, faults: Faults) -> EngineConfig {
    EngineConfig {
        faults,
        ..common::config(3, channel)
    }
}

/// Runs `check` on the outcome of each faulty engine, on both channel kinds.
fn on_every_engine(faults: Faults, check: impl Fn(&str, Outcome)) {
    for channel in [ChannelKind::Crossbeam, ChannelKind::Flume] {
        let c = faulty(channel, faults.clone());
        check(
            &format!("actor/{channel:?}"),
            drive(ActorEngine::new(&c).unwrap()),
        );
        check(
            &format!("sharded(3)/{channel:?}"),
            drive(ShardedEngine::new(&c).unwrap()),
        );
        check(
            &format!("striped(3)/{channel:?}"),
            drive(StripedEngine::new(&c).unwrap()),
        );
    }
}

#[test]
fn dropped_follow_ups_make_the_audit_fail() {
    let faults = Faults {
        drop_follow_up_rate: 0.1,
        seed: 3,
        ..Faults::default()
    };
    on_every_engine(faults, |label, o| {
        assert!(
            o.stats.dropped_follow_ups > 0,
            "{label}: nothing was dropped"
        );
        let failure = o
            .audit
            .expect_err(&format!("{label}: the audit missed dropped follow-ups"));
        // Karma or subscriptions must disagree: that is what follow-ups carry.
        assert!(
            failure
                .mismatches
                .iter()
                .any(|m| m.what.starts_with("karma") || m.what.starts_with("subscription")),
            "{label}: {failure}"
        );
    });
}

#[test]
fn without_dropped_follow_ups_the_same_run_passes_the_audit() {
    let faults = Faults {
        drop_follow_up_rate: 0.0,
        seed: 3,
        ..Faults::default()
    };
    on_every_engine(faults, |label, o| {
        assert_eq!(o.stats.dropped_follow_ups, 0, "{label}");
        if let Err(e) = o.audit {
            panic!("{label}: {e}");
        }
    });
}

#[test]
fn panicking_ops_get_engine_fault_and_the_engine_keeps_serving() {
    let faults = Faults {
        panic_rate: 0.05,
        seed: 11,
        ..Faults::default()
    };
    on_every_engine(faults, |label, o| {
        let faulted: u64 = o.runs.iter().map(|r| r.faults).sum();
        let ok: u64 = o.runs.iter().map(|r| r.ok).sum();
        assert!(faulted > 0, "{label}: no op was answered with EngineFault");
        assert_eq!(o.stats.faults, faulted, "{label}: stats count every fault");
        // Each client got a reply to every op, most of them successes.
        assert!(ok > faulted * 5, "{label}: {ok} ok vs {faulted} faults");
        assert!(o.tally.posts > 0, "{label}: writes were acknowledged");
        if let Err(e) = o.audit {
            panic!("{label}: a panicking op left a trace: {e}");
        }
    });
}

#[test]
fn stalls_delay_the_engine_but_lose_nothing() {
    let faults = Faults {
        stall: Some(Stall {
            every: Duration::from_millis(5),
            duration: Duration::from_millis(1),
        }),
        seed: 5,
        ..Faults::default()
    };
    on_every_engine(faults, |label, o| {
        if let Err(e) = o.audit {
            panic!("{label}: {e}");
        }
    });
}

/// The engines with write faults, each with the fault `faults` (crossbeam
/// channels: the fault path does not depend on the channel).
fn on_each_engine(faults: Faults, check: impl Fn(&str, Outcome)) {
    let c = faulty(ChannelKind::Crossbeam, faults);
    check("actor", drive(ActorEngine::new(&c).unwrap()));
    check("sharded(3)", drive(ShardedEngine::new(&c).unwrap()));
    check("striped(3)", drive(StripedEngine::new(&c).unwrap()));
}

fn write_fault(kind: OpKind, drop: f64, duplicate: f64) -> Faults {
    Faults {
        drop_write_rate: drop,
        duplicate_write_rate: duplicate,
        write_kinds: 1 << kind as u32,
        seed: 0x5eed ^ kind as u64,
        ..Faults::default()
    }
}

/// The aggregate named `what`: engine minus expected.
fn aggregate_diff(f: &AuditFailure, what: &str) -> i128 {
    f.mismatches
        .iter()
        .find(|m| m.what == what)
        .map_or(0, |m| m.engine - m.expected)
}

#[test]
fn every_write_kind_acknowledged_but_not_applied_fails_both_audits_with_its_count() {
    // (kind, the aggregate that counts it, its sign when lost, the
    // per-entity check). A community whose creation was lost may be created
    // again by another client: its member count shows the loss then.
    let cases: [(OpKind, &str, i128, &[&str]); 7] = [
        (
            OpKind::Register,
            "users",
            -1,
            &["acknowledged user missing"],
        ),
        (
            OpKind::CreateCommunity,
            "communities",
            -1,
            &["acknowledged community missing", "community member count"],
        ),
        (OpKind::Join, "memberships", -1, &["community member count"]),
        (OpKind::Leave, "memberships", 1, &["community member count"]),
        (OpKind::CreatePost, "posts", -1, &["community post count"]),
        (OpKind::Comment, "comments", -1, &["post comment count"]),
        (OpKind::SendDm, "dms", -1, &["user inbox size"]),
    ];
    for (kind, aggregate, sign, per_entity) in cases {
        on_each_engine(write_fault(kind, 0.2, 0.0), |label, o| {
            let label = format!("{label}, {} dropped", kind.name());
            let dropped = o.stats.write_faults.dropped_of(kind);
            assert!(dropped > 0, "{label}: the fault fired");
            let f = o.audit.expect_err(&label);
            assert_eq!(
                aggregate_diff(&f, aggregate),
                sign * dropped as i128,
                "{label}: {f}"
            );
            let word = if sign < 0 { "missing" } else { "extra" };
            assert!(
                f.to_string().contains(&format!("({dropped} {word})")),
                "{label}: the message names the count: {f}"
            );
            assert!(
                o.entities
                    .mismatches
                    .iter()
                    .any(|m| per_entity.contains(&m.what)),
                "{label}: {}",
                o.entities
            );
        });
    }
}

#[test]
fn dropped_votes_fail_the_per_entity_audit_even_where_the_sums_cancel() {
    on_each_engine(write_fault(OpKind::Vote, 0.2, 0.0), |label, o| {
        assert!(o.stats.write_faults.dropped_of(OpKind::Vote) > 0, "{label}");
        let checks = ["post score", "user post karma", "user comment karma"];
        assert!(
            o.entities
                .mismatches
                .iter()
                .any(|m| checks.contains(&m.what)),
            "{label}: {}",
            o.entities
        );
    });
}

#[test]
fn writes_applied_twice_fail_both_audits_where_repetition_changes_state() {
    let cases = [
        (OpKind::CreatePost, "posts", "post not acknowledged"),
        (OpKind::Comment, "comments", "post comment count"),
        (OpKind::SendDm, "dms", "user inbox size"),
    ];
    for (kind, aggregate, per_entity) in cases {
        on_each_engine(write_fault(kind, 0.0, 0.2), |label, o| {
            let label = format!("{label}, {} duplicated", kind.name());
            let doubled = o.stats.write_faults.duplicated_of(kind);
            assert!(doubled > 0, "{label}: the fault fired");
            let f = o.audit.expect_err(&label);
            assert_eq!(
                aggregate_diff(&f, aggregate),
                doubled as i128,
                "{label}: {f}"
            );
            assert!(
                f.to_string().contains(&format!("({doubled} extra)")),
                "{label}: {f}"
            );
            assert!(
                o.entities.mismatches.iter().any(|m| m.what == per_entity),
                "{label}: {}",
                o.entities
            );
        });
    }
}

#[test]
fn idempotent_writes_applied_twice_leave_the_state_as_it_was() {
    for kind in [
        OpKind::Register,
        OpKind::CreateCommunity,
        OpKind::Join,
        OpKind::Leave,
        OpKind::Vote,
    ] {
        on_each_engine(write_fault(kind, 0.0, 1.0), |label, o| {
            let label = format!("{label}, {} repeated", kind.name());
            assert_eq!(o.stats.write_faults.duplicated_of(kind), 0, "{label}");
            if let Err(f) = &o.audit {
                panic!("{label}: {f}");
            }
            assert!(o.entities.passed(), "{label}: {}", o.entities);
        });
    }
}
