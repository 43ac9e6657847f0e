//! The harness's own parts, each measured alone: op generation per preset,
//! a clock read (std and quanta), a histogram record, and a submit/poll
//! round trip on the null engine. Their sum bounds the harness's ceiling.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use hdrhistogram::Histogram;
use socialbench_engines::null::NullEngine;
use socialbench_engines::{Engine, EngineConfig, Op, Reply, Session, UserId};

use crate::common;

/// Registers the harness-part benches.
pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("harness/generate");
    group.throughput(Throughput::Elements(1));
    for preset in ["reddit", "microblog", "messenger", "chat"] {
        let workload = common::workload(preset);
        let mut generator = workload.generator(0, 1);
        let reply = Ok(Reply::Done);
        group.bench_function(BenchmarkId::from_parameter(preset), |b| {
            b.iter(|| {
                let (token, op) = generator.next_op();
                generator.on_reply(token, &reply);
                black_box(op)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("harness/clock");
    group.throughput(Throughput::Elements(1));
    group.bench_function("std_instant", |b| b.iter(|| black_box(Instant::now())));
    let clock = quanta::Clock::new();
    group.bench_function("quanta_now", |b| b.iter(|| black_box(clock.now())));
    group.bench_function("quanta_raw", |b| b.iter(|| black_box(clock.raw())));
    group.finish();

    let mut group = c.benchmark_group("harness/record");
    group.throughput(Throughput::Elements(1));
    // The harness's histogram shape: ns, 3 significant digits, up to an hour.
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    let mut v = 1u64;
    group.bench_function("hdr_record", |b| {
        b.iter(|| {
            // A cheap varying value: an LCG step over a microsecond range.
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            hist.record(black_box((v >> 40) + 1)).expect("in range");
        })
    });
    group.finish();

    let mut group = c.benchmark_group("harness/null_round_trip");
    group.throughput(Throughput::Elements(1));
    let engine = NullEngine::new(&EngineConfig::default()).expect("null engine");
    let mut session = engine.session().expect("a session");
    group.bench_function("submit_poll", |b| {
        b.iter(|| {
            session
                .submit(1, Op::GetProfile { user: UserId(7) })
                .expect("null accepts");
            session.poll(false, |tag, r| {
                let _ = black_box((tag, r));
            })
        })
    });
    group.finish();
}
