//! socialbench-engines: the social API, the partition state machine that
//! holds the state, and interchangeable concurrency engines that run it.
//!
//! Every engine runs the same [`Partition`] code; they differ only in how
//! partitions run concurrently (see `docs/ARCHITECTURE.md`):
//!
//! | engine | how partitions run |
//! |---|---|
//! | [`null`] | no state: replies at once (the harness's ceiling) |
//! | [`serial`] | one partition applied inline by one session (the baseline C1) |
//! | [`actor`] | one partition owned by one thread behind a bounded mailbox |
//! | [`sharded`] | P partitions on P threads; follow-ups and gathers are messages |
//! | [`striped`] | P partitions behind locks, applied inline by the callers |
//! | `redis` | an external Redis server or cluster, one script per op (feature `redis`) |
//!
//! # Module graph
//! The data modules ([`api`], [`audit`], [`placement`], [`config`]) and the
//! trait module [`engine`] sit at the bottom; [`partition`], [`fault`] and
//! [`mailbox`] build on them; each engine builds on those (`actor` and
//! `sharded` on their shared thread-owned shard machinery); [`kind`], the
//! dispatch over every engine, sits on top, and nothing below it depends on
//! it.

pub mod actor;
pub mod api;
pub mod audit;
mod bytes;
pub mod config;
pub mod engine;
mod error;
pub mod fault;
pub mod kind;
pub mod mailbox;
pub mod null;
pub mod partition;
pub mod placement;
#[cfg(feature = "redis")]
pub mod redis;
pub mod serial;
mod shard_set;
pub mod sharded;
pub mod stats;
pub mod striped;
pub mod wal;

pub use api::*;
pub use audit::{
    Acked, Audit, AuditFailure, Entities, EntityReport, Expected, Ledger, Mismatch, Pending,
    WriteTally,
};
pub use config::{
    ChannelKind, Crash, Durability, DurabilityMode, EngineConfig, Failover, Faults, FeedMode,
    Feeds, Heartbeat, IdlePolicy, RedisConfig, RedisGroup, RedisTarget, Replication,
    ReplicationMode, Stall,
};
pub use engine::{Engine, Session};
pub use error::EngineError;
pub use fault::{FaultInjector, InjectedPanic, OpFault};
pub use kind::{EngineKind, EngineVisitor};
pub use partition::{FollowUp, Partition, PostClock, TimelinePlan, merge_feed};
pub use stats::{
    DurabilityStats, EngineStats, EntityBytes, EntityCounts, FailoverEvent, FailoverStats,
    FeedStats, PartitionStats, RedisCommandCost, RedisFailoverStats, RedisKindCost, RedisStats,
    ReplicationStats, Staleness, WriteFaults,
};
