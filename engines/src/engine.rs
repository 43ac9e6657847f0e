//! The one interface every engine implements: [`Engine`] hands each client
//! thread a [`Session`]; a session keeps many ops in flight (`submit` then
//! `poll`) or makes a blocking `call`.
//!
//! The hot loop is statically dispatched: the harness is generic over
//! `E: Engine`, and [`EngineKind::visit`] picks the concrete type once.

use std::time::Duration;

use serde::Serialize;

use crate::api::{Op, Response};
use crate::audit::Audit;

/// Why an engine could not be built or could not hand out a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A configuration value is out of range.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// The engine serves a limited number of sessions (the `serial` engine: one).
    #[error("the {engine} engine serves at most {max} session(s) at a time")]
    SessionLimit {
        /// Engine name.
        engine: &'static str,
        /// How many sessions it serves at once.
        max: usize,
    },
    /// An engine thread could not be spawned.
    #[error("could not start an engine thread: {0}")]
    Spawn(String),
    /// The engine is shut down.
    #[error("the engine is shut down")]
    Shutdown,
}

/// Which channel implementation carries mailboxes, so the two can be compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ChannelKind {
    /// crossbeam-channel (the default).
    #[default]
    Crossbeam,
    /// flume.
    Flume,
}

/// An injected engine stall: every `every`, the engine stops serving for `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// Period between stalls.
    pub every: Duration,
    /// Length of each stall.
    pub duration: Duration,
}

/// Faults injected to test the engines and the harness (all off by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Probability that an op panics inside the engine before it is applied;
    /// it is answered with [`crate::ApiError::EngineFault`].
    pub panic_rate: f64,
    /// Probability that a follow-up is silently dropped (the audit must catch it).
    pub drop_follow_up_rate: f64,
    /// Periodic stalls of the engine.
    pub stall: Option<Stall>,
    /// Seed of the fault decisions, so a faulty run is reproducible.
    pub seed: u64,
}

impl Faults {
    /// Whether any fault is configured.
    pub fn any(&self) -> bool {
        self.panic_rate > 0.0 || self.drop_follow_up_rate > 0.0 || self.stall.is_some()
    }
}

/// How to build an engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineConfig {
    /// Partitions: shards of `sharded`, stripes of `striped`; ignored by the others.
    pub partitions: usize,
    /// Capacity of each bounded mailbox, in ops (clients block when it is full).
    pub mailbox: usize,
    /// Mailbox implementation.
    pub channel: ChannelKind,
    /// Cores to pin engine threads to, in order (thread i on `pin[i % len]`); empty: unpinned.
    pub pin: Vec<usize>,
    /// Injected faults.
    pub faults: Faults,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            partitions: 1,
            mailbox: 1024,
            channel: ChannelKind::Crossbeam,
            pin: Vec::new(),
            faults: Faults::default(),
        }
    }
}

/// A session: one client thread's connection to an engine, with one reply
/// channel for all its requests.
pub trait Session: Send {
    /// Sends `op`, tagged with `tag` (echoed with its reply). Blocks while the
    /// engine's mailbox is full (backpressure). Fails only when the engine is shut down.
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError>;

    /// Hands every reply that has arrived to `f`, and returns how many. With
    /// `wait` and at least one op outstanding, blocks until one reply arrives.
    fn poll<F: FnMut(u64, Response)>(&mut self, wait: bool, f: F) -> usize;

    /// Ops submitted whose replies have not yet been polled.
    fn outstanding(&self) -> usize;

    /// Submits `op` and waits for its reply. Replies to earlier submissions
    /// that arrive meanwhile are discarded, so mix `call` with `submit` only
    /// when nothing else is outstanding.
    fn call(&mut self, op: Op) -> Response {
        const CALL_TAG: u64 = u64::MAX;
        if let Err(e) = self.submit(CALL_TAG, op) {
            return Err(match e {
                EngineError::Shutdown => crate::ApiError::Shutdown,
                _ => crate::ApiError::EngineFault,
            });
        }
        let mut out = None;
        while out.is_none() {
            let n = self.poll(true, |tag, r| {
                if tag == CALL_TAG {
                    out = Some(r);
                }
            });
            if n == 0 && self.outstanding() == 0 && out.is_none() {
                return Err(crate::ApiError::Shutdown);
            }
        }
        out.unwrap_or(Err(crate::ApiError::Shutdown))
    }
}

/// Entity counts of an engine's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntityCounts {
    /// Registered users.
    pub users: u64,
    /// Ordinary communities (profiles not counted).
    pub communities: u64,
    /// Posts.
    pub posts: u64,
    /// Comments.
    pub comments: u64,
    /// Direct messages.
    pub dms: u64,
    /// Non-zero votes stored.
    pub votes: u64,
    /// (user, community) memberships, profiles included.
    pub memberships: u64,
}

impl EntityCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &EntityCounts) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.votes += o.votes;
        self.memberships += o.memberships;
    }
}

/// Approximate heap bytes per entity kind (capacity-based estimates, not an
/// allocator census).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntityBytes {
    /// User records, subscription lists, karma.
    pub users: u64,
    /// Community records and member sets.
    pub communities: u64,
    /// Posts with their bodies and ranking indexes.
    pub posts: u64,
    /// Comments with their bodies.
    pub comments: u64,
    /// Inboxes with DM bodies.
    pub dms: u64,
    /// The vote table.
    pub votes: u64,
}

impl EntityBytes {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &EntityBytes) {
        self.users += o.users;
        self.communities += o.communities;
        self.posts += o.posts;
        self.comments += o.comments;
        self.dms += o.dms;
        self.votes += o.votes;
    }

    /// Sum over kinds.
    pub fn total(&self) -> u64 {
        self.users + self.communities + self.posts + self.comments + self.dms + self.votes
    }
}

/// A partition's view of itself, for [`EngineStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PartitionStats {
    /// Entity counts.
    pub counts: EntityCounts,
    /// Approximate bytes.
    pub bytes: EntityBytes,
}

/// A snapshot of an engine, cheap enough to take once per interval during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Entity counts, summed over partitions.
    pub counts: EntityCounts,
    /// Approximate bytes, summed over partitions.
    pub bytes: EntityBytes,
    /// Ops waiting in each client mailbox (one entry per engine thread; empty without threads).
    pub mailbox_depths: Vec<usize>,
    /// Follow-ups sent but not yet applied.
    pub pending_follow_ups: u64,
    /// Ops answered with [`crate::ApiError::EngineFault`] because they panicked.
    pub faults: u64,
    /// Follow-ups dropped by the `drop_follow_up_rate` fault.
    pub dropped_follow_ups: u64,
}

/// An engine: owns the state and the threads that serve it.
///
/// Dropping an engine shuts it down and joins every thread it started.
pub trait Engine: Send + Sync + 'static {
    /// The per-client-thread handle.
    type Session: Session + 'static;

    /// The engine's name, as on the command line.
    fn name(&self) -> &'static str;

    /// A new session for one client thread.
    fn session(&self) -> Result<Self::Session, EngineError>;

    /// A snapshot of counts, bytes and queues.
    fn stats(&self) -> EngineStats;

    /// Returns once every follow-up sent so far has been applied. Call it when
    /// no client is submitting (after a run), before [`Engine::audit`].
    fn quiesce(&self);

    /// Aggregates to check against the acknowledged writes (DESIGN section 6).
    fn audit(&self) -> Audit;

    /// An order-independent digest of the whole state: equal states (same
    /// entities, any partitioning) give equal digests.
    fn digest(&self) -> u64;

    /// Stops serving and joins the engine's threads. Idempotent. Ops submitted
    /// after (or pending at) shutdown are answered with `Shutdown` or dropped with
    /// their session; a session's `submit` then fails.
    fn shutdown(&self);
}

/// The engines this crate provides, by command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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
    /// server, so the default comparison and engine lists leave it out; name
    /// it explicitly (`--engine redis`).
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

    /// Whether `partitions` in the config means anything to this engine.
    pub fn is_partitioned(self) -> bool {
        matches!(self, EngineKind::Sharded | EngineKind::Striped)
    }

    /// Engine threads it starts for `config` (cores it occupies besides the clients').
    ///
    /// `redis` counts one: the server's single command thread (Redis runs
    /// commands on one thread), which the harness cannot pin but must leave
    /// a core for, and which the efficiency of section 9 must count. Pin the
    /// server yourself to the core the pin map reserves (`taskset`).
    pub fn engine_threads(self, config: &EngineConfig) -> usize {
        match self {
            EngineKind::Actor | EngineKind::Redis => 1,
            EngineKind::Sharded => config.partitions,
            _ => 0,
        }
    }

    /// Most sessions served at once (`None`: unlimited).
    pub fn max_sessions(self) -> Option<usize> {
        (self == EngineKind::Serial).then_some(1)
    }

    /// Builds the engine and hands it to `visitor`, statically typed.
    pub fn visit<V: EngineVisitor>(
        self,
        config: &EngineConfig,
        visitor: V,
    ) -> Result<V::Output, EngineError> {
        Ok(match self {
            EngineKind::Null => visitor.visit(crate::null::NullEngine::new(config)?),
            EngineKind::Serial => visitor.visit(crate::serial::SerialEngine::new(config)?),
            EngineKind::Actor => visitor.visit(crate::actor::ActorEngine::new(config)?),
            EngineKind::Sharded => visitor.visit(crate::sharded::ShardedEngine::new(config)?),
            EngineKind::Striped => visitor.visit(crate::striped::StripedEngine::new(config)?),
            #[cfg(feature = "redis")]
            EngineKind::Redis => visitor.visit(crate::redis::RedisEngine::new(config)?),
            #[cfg(not(feature = "redis"))]
            EngineKind::Redis => {
                return Err(EngineError::Config(
                    "this build has no redis engine (built without the `redis` feature)".into(),
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
