//! Channels: the mailboxes of the thread-owned engines on crossbeam-channel
//! versus flume, on the same reddit scenario with one client thread: the
//! actor (one mailbox) and the sharded engine at 2 shards (client lanes,
//! peer lanes and reply channels, all of the one flavour).

use criterion::{BenchmarkId, Criterion, Throughput};
use socialbench_engines::{ChannelKind, Engine, EngineKind, EngineVisitor};

use crate::common;
use crate::mixed::run_mixed;

struct Channels<'c> {
    c: &'c mut Criterion,
    channel: ChannelKind,
}

impl EngineVisitor for Channels<'_> {
    type Output = ();

    fn visit<E: Engine>(self, engine: E) {
        let workload = common::workload("reddit");
        {
            let mut session = engine.session().expect("a session");
            common::load(&mut session, &workload);
        }
        let mut group = self
            .c
            .benchmark_group(format!("channels/{}_reddit", engine.name()));
        group.throughput(Throughput::Elements(1));
        let name = match self.channel {
            ChannelKind::Crossbeam => "crossbeam",
            ChannelKind::Flume => "flume",
        };
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| run_mixed(&engine, &workload, 1, iters))
        });
        group.finish();
    }
}

/// Registers the channel comparison.
pub fn bench(c: &mut Criterion) {
    for kind in [EngineKind::Actor, EngineKind::Sharded] {
        for channel in [ChannelKind::Crossbeam, ChannelKind::Flume] {
            let config = socialbench_engines::EngineConfig {
                channel,
                ..common::config(kind)
            };
            kind.visit(&config, Channels { c, channel })
                .expect("engine builds");
        }
    }
}
