//! Partition counts: the `sharded` and `striped` engines at 1, 2 and 8
//! partitions on the reddit preset, at 1 and 2 client threads, so their
//! scaling with shards or stripes is measured on the same work as `mixed`
//! (which runs them at [`common::config`]'s 2 partitions). One shard per
//! core is the sharded engine's natural point; more stripes than cores is
//! where striping earns its name.

use criterion::{BenchmarkId, Criterion, Throughput};
use socialbench_engines::{Engine, EngineConfig, EngineKind, EngineVisitor};

use crate::common;
use crate::mixed::run_mixed;

/// Partition counts measured.
const PARTITIONS: [usize; 3] = [1, 2, 8];

struct Partitions<'c> {
    c: &'c mut Criterion,
    partitions: usize,
    threads: usize,
}

impl EngineVisitor for Partitions<'_> {
    type Output = ();

    fn visit<E: Engine>(self, engine: E) {
        let workload = common::workload("reddit");
        {
            let mut session = engine.session().expect("a session");
            common::load(&mut session, &workload);
        }
        let mut group = self
            .c
            .benchmark_group(format!("partitions/{}_reddit", engine.name()));
        group.throughput(Throughput::Elements(1));
        let id = BenchmarkId::new(
            format!("{}p", self.partitions),
            format!("{}t", self.threads),
        );
        group.bench_function(id, |b| {
            b.iter_custom(|iters| run_mixed(&engine, &workload, self.threads, iters))
        });
        group.finish();
    }
}

/// Registers the partition-count benches.
pub fn bench(c: &mut Criterion) {
    for kind in [EngineKind::Sharded, EngineKind::Striped] {
        for partitions in PARTITIONS {
            for threads in [1, 2] {
                let config = EngineConfig {
                    partitions,
                    ..common::config(kind)
                };
                kind.visit(
                    &config,
                    Partitions {
                        c,
                        partitions,
                        threads,
                    },
                )
                .expect("engine builds");
            }
        }
    }
}
