//! Fault injection: a dropped follow-up must make the audit fail (and no
//! drops must let it pass); a panicking op is answered with `EngineFault`,
//! counted, and the engine keeps serving with an audit that still passes on
//! the acknowledged writes; stalls delay but break nothing. On crossbeam and
//! flume channels alike.
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
    Outcome {
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
