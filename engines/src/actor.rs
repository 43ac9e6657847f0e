//! The `actor` engine: one partition owned by one engine thread (`sb-actor`,
//! pinned to `config.pin[0]` when given), fed by one bounded mailbox. It is
//! the reddit-sim design: one serial actor, whose ceiling and head-of-line
//! blocking (a long `Search` delays everyone queued behind it) the benchmark
//! exposes.
//!
//! The actor is exactly the one-shard case of the shard set the `sharded`
//! engine runs on ([`crate::sharded`]), so the two compare on identical
//! plumbing: a bounded client lane, an unbounded control lane that is never
//! blocked on, batches of up to [`crate::sharded::BATCH`] ops, and one reply
//! channel per session.
//! With one partition every follow-up is local and is applied at once, right
//! after its op and before the reply; a home feed is answered by
//! `Partition::apply` directly, with no gather.

use crate::audit::Audit;
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::shard_set::{ShardSet, ShardedSession};
use crate::stats::EngineStats;

/// The `actor` engine.
#[derive(Debug)]
pub struct ActorEngine {
    set: ShardSet,
}

/// A session of the `actor` engine: a sender on the actor's mailbox and one
/// reply channel.
pub type ActorSession = ShardedSession;

impl ActorEngine {
    /// Starts the actor thread (`config.partitions` is ignored).
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        config.refuse_replicas("actor")?;
        let set = ShardSet::start("actor", config, 1, |_| "sb-actor".to_string())?;
        Ok(ActorEngine { set })
    }
}

impl Engine for ActorEngine {
    type Session = ActorSession;
    fn name(&self) -> &'static str {
        self.set.name()
    }
    fn session(&self) -> Result<ActorSession, EngineError> {
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
