//! Shutdown: with four clients still submitting in a loop (some blocked on a
//! full mailbox), `shutdown` returns, releases every client (their `submit`
//! fails with `Shutdown`), and leaves no engine thread running; dropping an
//! engine does the same. One test function on purpose: it counts this
//! process's engine threads, so no other test may run engines beside it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use socialbench_engines::actor::ActorEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::*;

const CLIENTS: usize = 4;

/// Threads of this process whose name marks them as engine threads.
fn engine_threads() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.starts_with("sb-"))
        .count()
}

/// Engine threads once the kernel has reaped the joined ones: `join` returns
/// when a thread has cleared its tid, a moment before its `/proc` entry goes,
/// so a joined thread may be listed briefly. Waits (yielding, up to 10 s)
/// for the count to reach `expected`, and returns the last count seen.
fn settled_engine_threads(expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = engine_threads();
        if n == expected || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::yield_now();
    }
}

fn shutdown_under_load<E: Engine>(engine: E, threads: usize, label: &str) {
    // A thread names itself once it runs; a stats probe reaches every shard.
    engine.stats();
    assert_eq!(
        settled_engine_threads(threads),
        threads,
        "{label}: engine threads at start"
    );
    let submitted: [AtomicUsize; CLIENTS] = std::array::from_fn(|_| AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for k in 0..CLIENTS {
            let (engine, submitted) = (&engine, &submitted[k]);
            scope.spawn(move || {
                let mut s = engine.session().expect("session");
                let mut i = 0u32;
                loop {
                    // Writes and a scan: real work, so mailboxes fill up.
                    let op = if i.is_multiple_of(2) {
                        Op::Register {
                            user: UserId(k as u32 * 10_000_000 + i),
                        }
                    } else {
                        Op::GetProfile {
                            user: UserId(k as u32 * 10_000_000),
                        }
                    };
                    match s.submit(u64::from(i), op) {
                        Ok(()) => submitted.fetch_add(1, Ordering::Relaxed),
                        Err(EngineError::Shutdown) => break,
                        Err(e) => panic!("{label}: unexpected {e}"),
                    };
                    i += 1;
                    s.poll(false, |_, _| {});
                }
                // Everything after shutdown is refused, nothing hangs.
                assert_eq!(
                    s.call(Op::GetProfile { user: UserId(0) }),
                    Err(ApiError::Shutdown)
                );
                s.poll(true, |_, _| {});
                assert!(s.submit(0, Op::Register { user: UserId(1) }).is_err());
            });
        }
        // Let every client get going (no sleep: wait for evidence of load).
        while submitted.iter().any(|n| n.load(Ordering::Relaxed) < 300) {
            std::thread::yield_now();
        }
        engine.shutdown();
        engine.shutdown(); // idempotent
    });
    assert_eq!(
        settled_engine_threads(0),
        0,
        "{label}: engine threads after shutdown"
    );
    assert!(
        matches!(engine.session(), Err(EngineError::Shutdown)),
        "{label}: no session after shutdown"
    );
}

#[test]
fn shutdown_under_load_releases_clients_and_joins_every_engine_thread() {
    for channel in [ChannelKind::Crossbeam, ChannelKind::Flume] {
        let c = |partitions| EngineConfig {
            partitions,
            mailbox: 4,
            channel,
            ..EngineConfig::default()
        };
        shutdown_under_load(
            ActorEngine::new(&c(1)).unwrap(),
            1,
            &format!("actor/{channel:?}"),
        );
        shutdown_under_load(
            ShardedEngine::new(&c(3)).unwrap(),
            3,
            &format!("sharded(3)/{channel:?}"),
        );
        shutdown_under_load(
            StripedEngine::new(&c(3)).unwrap(),
            0,
            &format!("striped/{channel:?}"),
        );

        // Dropping an engine (with a live session) joins its threads too.
        let e = ShardedEngine::new(&c(4)).unwrap();
        e.stats();
        assert_eq!(settled_engine_threads(4), 4);
        let mut s = e.session().unwrap();
        assert!(s.call(Op::Register { user: UserId(5) }).is_ok());
        drop(e);
        assert_eq!(
            settled_engine_threads(0),
            0,
            "{channel:?}: drop joins every thread"
        );
        assert!(matches!(
            s.submit(1, Op::GetProfile { user: UserId(5) }),
            Err(EngineError::Shutdown)
        ));
    }
}
