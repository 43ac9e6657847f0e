//! Mixed scenarios: the reddit, microblog, messenger and chat presets against
//! every engine at 1 and 2 client threads, timed with `iter_custom` (the
//! flume benches' model for multi-threaded timing). Each client thread runs
//! its own generator and session through the harness's closed loop with
//! [`common::INFLIGHT`] ops in flight, recording latencies as a run does;
//! the time is wall time from the common start to the last reply.

use std::sync::Barrier;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use socialbench_engines::{Engine, EngineKind, EngineVisitor};
use socialbench_harness::client::closed_loop;
use socialbench_workload::Workload;

use crate::common::{self, INFLIGHT};

/// Runs `iters` generated ops split over `threads` client threads, each
/// through the harness's own closed loop ([`closed_loop`], the one `run`
/// measures with) with [`INFLIGHT`] ops outstanding, and returns the wall
/// time of the slowest.
pub fn run_mixed<E: Engine>(
    engine: &E,
    workload: &Workload,
    threads: usize,
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads);
    let per_thread = iters.div_ceil(threads as u64);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut session = engine.session().expect("a session");
                    let mut generator = workload.generator(t, threads);
                    barrier.wait();
                    closed_loop(&mut session, &mut generator, INFLIGHT, per_thread)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .max()
            .unwrap_or_default()
    })
}

struct Mixed<'c> {
    c: &'c mut Criterion,
    preset: &'static str,
    threads: usize,
}

impl EngineVisitor for Mixed<'_> {
    type Output = ();

    fn visit<E: Engine>(self, engine: E) {
        let workload = common::workload(self.preset);
        {
            let mut session = engine.session().expect("a session");
            common::load(&mut session, &workload);
        }
        let mut group = self.c.benchmark_group(format!("mixed/{}", self.preset));
        group.throughput(Throughput::Elements(1));
        let id = BenchmarkId::new(engine.name(), format!("{}t", self.threads));
        group.bench_function(id, |b| {
            b.iter_custom(|iters| run_mixed(&engine, &workload, self.threads, iters))
        });
        group.finish();
    }
}

/// Registers the mixed-scenario benches.
pub fn bench(c: &mut Criterion) {
    for preset in ["reddit", "microblog", "messenger", "chat"] {
        for threads in [1, 2] {
            for kind in EngineKind::ALL {
                if kind.max_sessions().is_some_and(|m| m < threads) {
                    continue; // serial serves one session: it is the 1-thread baseline
                }
                kind.visit(&common::config(kind), Mixed { c, preset, threads })
                    .expect("engine builds");
            }
        }
    }
}
