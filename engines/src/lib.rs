//! socialbench-engines: the social API, the partition state machine that
//! holds the state, and interchangeable concurrency engines that run it.
//!
//! Every engine runs the same [`Partition`] code; they differ only in how
//! partitions run concurrently (DESIGN sections 2, 3 and 6):
//!
//! | engine | how partitions run |
//! |---|---|
//! | [`null`] | no state: replies at once (the harness's ceiling) |
//! | [`serial`] | one partition applied inline by one session (the baseline C1) |
//! | [`actor`] | one partition owned by one thread behind a bounded mailbox |
//! | [`sharded`] | P partitions on P threads; follow-ups and gathers are messages |
//! | [`striped`] | P partitions behind locks, applied inline by the callers |
//! | `redis` | an external Redis server or cluster, one script per op (feature `redis`) |

pub mod actor;
pub mod api;
pub mod audit;
pub mod engine;
pub mod fault;
pub mod mailbox;
pub mod null;
pub mod partition;
pub mod placement;
#[cfg(feature = "redis")]
pub mod redis;
pub mod serial;
pub mod sharded;
pub mod striped;

pub use api::*;
pub use audit::{Audit, AuditFailure, Mismatch, WriteTally};
pub use engine::{
    ChannelKind, Engine, EngineConfig, EngineError, EngineKind, EngineStats, EngineVisitor,
    EntityBytes, EntityCounts, Faults, PartitionStats, Session, Stall,
};
pub use fault::{FaultInjector, InjectedPanic};
pub use partition::{FeedGather, FollowUp, Partition, PostClock, merge_feed};
