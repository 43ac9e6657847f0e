//! What the Redis engine and its sessions share: the server's layout (nodes,
//! slots, script, clock key), the flags that stop a run, and each session's
//! counters of acknowledged writes.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::wire;
use crate::api::OpKind;

/// What one session's ops of one kind asked of the server.
#[derive(Debug, Default)]
pub(super) struct KindCounters {
    /// Ops answered.
    pub(super) ops: AtomicU64,
    /// Commands the session sent (each script call is one).
    pub(super) commands: AtomicU64,
    /// `redis.call`s the scripts made, as they reported them.
    pub(super) script_calls: AtomicU64,
}

/// Adds `by` to a counter only its session writes: a plain load and store,
/// no locked read-modify-write on the session's hot path.
pub(super) fn bump(a: &AtomicU64, by: u64) {
    a.store(a.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

/// Counts of one session's acknowledged writes and server calls (only that
/// session writes them; the engine reads them for its stats).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) users: AtomicI64,
    pub(super) communities: AtomicI64,
    pub(super) posts: AtomicI64,
    pub(super) comments: AtomicI64,
    pub(super) dms: AtomicI64,
    pub(super) votes: AtomicI64,
    pub(super) memberships: AtomicI64,
    pub(super) faults: AtomicI64,
    /// Per op kind (index `OpKind as usize`).
    pub(super) kinds: [KindCounters; OpKind::COUNT],
}

/// What the engine and its sessions share (read-only but for flags and logs).
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) prefix: String,
    /// Node URLs (masters of a cluster; the one server otherwise).
    pub(super) urls: Vec<String>,
    /// Node of every slot; empty for a single server.
    pub(super) slots: Vec<u16>,
    pub(super) timeout: Duration,
    /// SHA1 of the script, loaded on every node.
    pub(super) sha: String,
    pub(super) clock_key: String,
    /// Connections per node in each session.
    pub(super) connections: usize,
    pub(super) shut_down: AtomicBool,
    /// Set once the connection loss has been reported.
    pub(super) lost_reported: AtomicBool,
    /// Set once a server error has been reported.
    pub(super) error_reported: AtomicBool,
    pub(super) server_errors: AtomicU64,
}

impl Shared {
    /// The session connection for `key`: one of the `connections` to the
    /// node serving its slot, chosen by the slot, so every command on one key
    /// group takes the same connection and stays in order. Connections are
    /// numbered node by node.
    pub(super) fn conn_of(&self, key: &[u8]) -> usize {
        let slot = wire::slot(key);
        let node = if self.slots.is_empty() {
            0
        } else {
            self.slots[slot] as usize
        };
        node * self.connections + slot % self.connections
    }

    pub(super) fn note_connection_lost(&self, why: &str) {
        if !self.lost_reported.swap(true, Ordering::Relaxed) {
            eprintln!("redis engine: lost the connection ({why}); stopping the run");
        }
    }

    pub(super) fn note_server_error(&self, what: &str) {
        self.server_errors.fetch_add(1, Ordering::Relaxed);
        if !self.error_reported.swap(true, Ordering::Relaxed) {
            eprintln!("redis engine: the server answered an op with an error: {what}");
        }
    }
}
