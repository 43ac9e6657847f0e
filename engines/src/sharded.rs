//! The `sharded` engine: P partitions, each owned by its own (optionally
//! pinned) thread; follow-ups and home-feed gathers are messages between
//! shards, as hash-partitioned servers do (the Erlang microblog and
//! distributed Twitter designs).
//!
//! This file is the engine's adapter; the machinery (lanes, the shard loop,
//! causality, gathers, sessions, waiting) is the crate's shard set, which the
//! `actor` engine shares as its one-shard case. Its rules, in short: a
//! client lane per shard, bounded (backpressure), and an unbounded peer lane
//! a shard only ever sends on, so shards never wait on each other; a
//! follow-up leaves before the reply of the op that caused it, so a session
//! reads its own writes; replies travel in batches, flushed every [`FLUSH`]
//! replies per session; an idle thread waits as `EngineConfig::idle` says
//! on a core of its own and yields on a shared one ([`LINGER`] times)
//! before it parks.

use crate::audit::Audit;
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::shard_set::ShardSet;
use crate::stats::EngineStats;

pub use crate::shard_set::{BATCH, FLUSH, LINGER, SPIN_CAP, ShardedSession};

/// The `sharded` engine: `config.partitions` shards on as many threads
/// (`sb-shard-<i>`, pinned to `config.pin[i % len]` when given).
#[derive(Debug)]
pub struct ShardedEngine {
    set: ShardSet,
}

impl ShardedEngine {
    /// Starts the shards.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let set = ShardSet::start("sharded", config, config.partitions, |i| {
            format!("sb-shard-{i}")
        })?;
        Ok(ShardedEngine { set })
    }
}

impl Engine for ShardedEngine {
    type Session = ShardedSession;
    fn name(&self) -> &'static str {
        self.set.name()
    }
    fn session(&self) -> Result<ShardedSession, EngineError> {
        self.set.session()
    }
    fn stats(&self) -> EngineStats {
        self.set.stats()
    }
    fn start_window(&self, at: std::time::Instant) {
        self.set.start_window(at)
    }
    fn quiesce(&self) {
        self.set.quiesce()
    }
    fn audit(&self) -> Audit {
        self.set.audit()
    }
    fn digest(&self) -> u64 {
        self.set.digest()
    }
    fn entities(&self) -> Option<crate::audit::Entities> {
        Some(self.set.entities())
    }
    fn shutdown(&self) {
        self.set.shutdown()
    }
}
