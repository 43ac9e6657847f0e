//! Dispatch over the engines this crate provides: [`EngineKind`] names them
//! (command-line names, the default comparison's list) and
//! [`EngineKind::visit`] builds one and hands it, statically typed, to an
//! [`EngineVisitor`], so that code generic over `E: Engine` runs without
//! dynamic dispatch.
//!
//! This is the only module that knows every engine; the engines know only
//! the [`Engine`] trait ([`crate::engine`]), so there is no cycle between them.

use serde::Serialize;

use crate::actor::ActorEngine;
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::null::NullEngine;
use crate::serial::SerialEngine;
use crate::sharded::ShardedEngine;
use crate::striped::StripedEngine;

/// The engines this crate provides, by command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum EngineKind {
    /// Replies at once, keeps nothing: the harness's ceiling.
    Null,
    /// One partition applied inline by a single session: the serial baseline C1.
    Serial,
    /// One partition owned by one engine thread behind a bounded mailbox.
    Actor,
    /// P partitions on P pinned threads, messages between shards.
    Sharded,
    /// P partitions behind parking_lot locks, applied inline by callers.
    Striped,
    /// An external Redis server or Redis Cluster, each op one server-side
    /// script (see `crate::redis`). Not in [`EngineKind::ALL`]: it needs a
    /// server, so the default comparison and engine lists leave it out;
    /// name it explicitly (`--engine redis`).
    #[cfg_attr(
        feature = "cli",
        value(help = "An external Redis server or cluster (--redis-url, --redis-cluster)")
    )]
    Redis,
}

impl EngineKind {
    /// Every engine, in the order tables list them.
    pub const ALL: [EngineKind; 5] = [
        EngineKind::Null,
        EngineKind::Serial,
        EngineKind::Actor,
        EngineKind::Sharded,
        EngineKind::Striped,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Null => "null",
            EngineKind::Serial => "serial",
            EngineKind::Actor => "actor",
            EngineKind::Sharded => "sharded",
            EngineKind::Striped => "striped",
            EngineKind::Redis => "redis",
        }
    }

    /// Engines that need an external server: named explicitly, never part
    /// of [`EngineKind::ALL`].
    pub const EXTERNAL: [EngineKind; 1] = [EngineKind::Redis];

    /// Every engine a user can name: [`EngineKind::ALL`], then [`EngineKind::EXTERNAL`].
    pub fn known() -> impl Iterator<Item = EngineKind> {
        Self::ALL.into_iter().chain(Self::EXTERNAL)
    }

    /// The names of [`EngineKind::known`], comma-separated (for messages).
    pub fn known_names() -> String {
        Self::known()
            .map(EngineKind::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses a command-line name (any of [`EngineKind::known`]).
    pub fn parse(s: &str) -> Option<EngineKind> {
        Self::known().find(|k| k.name() == s)
    }

    /// Whether the engine keeps state (all but `null`).
    pub fn is_stateful(self) -> bool {
        self != EngineKind::Null
    }

    /// Whether the engine builds durable partitions (`--durability`,
    /// `--recover`, the crash fault): serial, actor, sharded and striped.
    pub fn is_durable(self) -> bool {
        matches!(
            self,
            EngineKind::Serial | EngineKind::Actor | EngineKind::Sharded | EngineKind::Striped
        )
    }

    /// Whether `partitions` in the config means anything to this engine.
    pub fn is_partitioned(self) -> bool {
        matches!(self, EngineKind::Sharded | EngineKind::Striped)
    }

    /// Engine threads it starts for `config` (cores it occupies besides the clients').
    ///
    /// `redis` counts one: the server's single command thread (Redis runs
    /// commands on one thread), which the harness cannot pin but must leave
    /// a core for, and which the efficiency (ops/s per core used) must count. Pin the
    /// server yourself to the core the pin map reserves (`taskset`).
    pub fn engine_threads(self, config: &EngineConfig) -> usize {
        match self {
            EngineKind::Actor | EngineKind::Redis => 1,
            // A primary and its backups per shard.
            EngineKind::Sharded => config
                .partitions
                .saturating_mul(config.replication.copies()),
            _ => 0,
        }
    }

    /// Most sessions served at once (`None`: unlimited).
    pub fn max_sessions(self) -> Option<usize> {
        (self == EngineKind::Serial).then_some(1)
    }

    /// Checks `config` as building this engine would, without building it:
    /// no thread, no mailbox, no connection ([`EngineConfig::validate`],
    /// then what the engine itself refuses before it starts: the redis
    /// engine's server, key prefix and faults).
    pub fn check(self, config: &EngineConfig) -> Result<(), EngineError> {
        config.validate()?;
        match self {
            EngineKind::Sharded => {}
            // A kill on a Redis Cluster is checked against the cluster.
            EngineKind::Redis => config.refuse_backups(self.name())?,
            _ => config.refuse_replicas(self.name())?,
        }
        if matches!(self, EngineKind::Redis | EngineKind::Null) {
            config.refuse_push(self.name())?;
        }
        if !self.is_durable() {
            config.refuse_durability(self.name())?;
        }
        if matches!(self, EngineKind::Actor | EngineKind::Sharded) {
            let count = if self == EngineKind::Actor {
                1
            } else {
                config.partitions
            };
            crate::shard_set::check_durability(config, count.max(1))?;
            crate::shard_set::check_failover(config, count.max(1))?;
        }
        match self {
            #[cfg(feature = "redis")]
            EngineKind::Redis => crate::redis::check_config(config).map(drop),
            #[cfg(not(feature = "redis"))]
            EngineKind::Redis => Err(EngineError::config(
                "this build has no redis engine (built without the `redis` feature)",
            )),
            _ => Ok(()),
        }
    }

    /// Bytes of the bounded mailboxes the engine allocates when it is built
    /// (a crossbeam mailbox allocates every slot up front): one mailbox for
    /// `actor`, one per shard for `sharded`, none for the others.
    pub fn mailbox_bytes(self, config: &EngineConfig) -> u64 {
        let mailboxes = match self {
            EngineKind::Actor => 1,
            EngineKind::Sharded => config.partitions as u64,
            _ => 0,
        };
        mailboxes
            .saturating_mul(config.mailbox as u64)
            .saturating_mul(crate::shard_set::MAILBOX_SLOT_BYTES as u64)
    }

    /// Builds the engine and hands it to `visitor`, statically typed.
    pub fn visit<V: EngineVisitor>(
        self,
        config: &EngineConfig,
        visitor: V,
    ) -> Result<V::Output, EngineError> {
        Ok(match self {
            EngineKind::Null => visitor.visit(NullEngine::new(config)?),
            EngineKind::Serial => visitor.visit(SerialEngine::new(config)?),
            EngineKind::Actor => visitor.visit(ActorEngine::new(config)?),
            EngineKind::Sharded => visitor.visit(ShardedEngine::new(config)?),
            EngineKind::Striped => visitor.visit(StripedEngine::new(config)?),
            #[cfg(feature = "redis")]
            EngineKind::Redis => visitor.visit(crate::redis::RedisEngine::new(config)?),
            #[cfg(not(feature = "redis"))]
            EngineKind::Redis => {
                return Err(EngineError::config(
                    "this build has no redis engine (built without the `redis` feature)",
                ));
            }
        })
    }
}

/// Receives a concretely typed engine from [`EngineKind::visit`], so code
/// generic over `E: Engine` runs without dynamic dispatch.
pub trait EngineVisitor {
    /// What the visit returns.
    type Output;
    /// Called once with the built engine.
    fn visit<E: Engine>(self, engine: E) -> Self::Output;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_what_building_would_without_building() {
        let ok = EngineConfig::default();
        for kind in EngineKind::ALL {
            assert_eq!(kind.check(&ok), Ok(()), "{}", kind.name());
            let huge = EngineConfig {
                mailbox: usize::MAX,
                ..EngineConfig::default()
            };
            assert!(kind.check(&huge).is_err(), "{}", kind.name());
        }
        // No server named: refused before any connection is tried.
        assert!(EngineKind::Redis.check(&ok).is_err());
    }

    struct Shutdown;

    impl EngineVisitor for Shutdown {
        type Output = ();
        fn visit<E: Engine>(self, engine: E) {
            engine.shutdown();
        }
    }

    #[test]
    fn an_absurd_mailbox_is_refused_before_any_mailbox_is_built() {
        // A crossbeam mailbox allocates and writes every slot when it is
        // built: these capacities once ate the machine (or panicked inside
        // crossbeam) before the run began.
        for mailbox in [100_000_000_000, usize::MAX] {
            let c = EngineConfig {
                mailbox,
                partitions: 2,
                ..EngineConfig::default()
            };
            for kind in [EngineKind::Actor, EngineKind::Sharded] {
                let r = kind.visit(&c, Shutdown);
                assert!(
                    matches!(r, Err(EngineError::Config { .. })),
                    "{} with mailbox {mailbox}: {r:?}",
                    kind.name()
                );
            }
        }
        let at_bound = EngineConfig {
            mailbox: EngineConfig::MAX_MAILBOX,
            ..EngineConfig::default()
        };
        assert_eq!(EngineKind::Actor.visit(&at_bound, Shutdown), Ok(()));
    }

    #[test]
    fn mailbox_bytes_count_the_mailboxes_each_engine_builds() {
        let c = EngineConfig {
            partitions: 4,
            mailbox: 1000,
            ..EngineConfig::default()
        };
        let one = EngineKind::Actor.mailbox_bytes(&c);
        assert!(one >= 1000 * 16, "{one}");
        assert_eq!(EngineKind::Sharded.mailbox_bytes(&c), 4 * one);
        for kind in [EngineKind::Null, EngineKind::Serial, EngineKind::Striped] {
            assert_eq!(kind.mailbox_bytes(&c), 0);
        }
    }
}
