//! `cargo bench`: criterion benchmarks that compare the engines on the same
//! work. One main, one module per topic, one generic function per scenario
//! instantiated for every engine (the flume benches' model).
//!
//! - `per_op`: each engine x each op kind on a pre-loaded reddit state, and
//!   `gather`: home feeds on serial and on sharded at 1, 2 and 8 shards;
//! - `mixed`: the four presets against each engine at 1 and 2 client threads;
//! - `partitions`: sharded and striped at 1, 2 and 8 partitions (reddit);
//! - `harness_parts`: op generation, clock reads, histogram records, null round trips;
//! - `channels`: crossbeam-channel vs flume mailboxes in the actor and sharded engines.
//!
//! Filter as usual (`cargo bench -- per_op/vote`); `cargo bench -- --quick`
//! gives a fast pass; `cargo bench -- --test` runs each once (CI).

mod channels;
mod common;
mod harness_parts;
mod mixed;
mod partitions;
mod per_op;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// Short warm-up and measurement: about 70 per-op, 36 mixed and 12
/// partition-count benches must fit in minutes on 2 cores. Criterion's statistics still apply; pass
/// `--measurement-time` to trade time for tighter intervals.
fn config() -> Criterion {
    // Criterion draws its charts with plotters; our plots enable plotters'
    // ab_glyph feature, which then needs a registered font (else it panics).
    socialbench_harness::plot::register_bundled_font();
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = harness_parts::bench, per_op::bench, mixed::bench, partitions::bench, channels::bench
}
criterion_main!(benches);
