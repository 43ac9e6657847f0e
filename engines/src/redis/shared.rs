//! What the Redis engine and its sessions share: the server's layout (nodes,
//! slots, script, clock key), the flags that stop a run, each session's
//! counters of acknowledged writes, and the failovers seen.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::layout::Layout;
use super::wire::{self, ServerError};
use crate::api::OpKind;
use crate::stats::FailoverEvent;

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
    /// Ops answered [`crate::ApiError::Unavailable`] (a failover).
    pub(super) unavailable: AtomicU64,
    /// Writes answered unavailable whose outcome is unknown: their
    /// connection died, or `WAIT` came back short, after they were sent.
    pub(super) unknown_outcome: AtomicU64,
    /// Writes whose `WAIT` came back with fewer replicas than asked.
    pub(super) wait_short: AtomicU64,
    /// Follow-ups sent again after a failover refused them.
    pub(super) follow_ups_resent: AtomicU64,
    /// Per op kind (index `OpKind as usize`).
    pub(super) kinds: [KindCounters; OpKind::COUNT],
}

/// `--redis-wait N`: `WAIT N <timeout>` after every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wait {
    /// Replicas that must acknowledge.
    pub(super) replicas: u32,
    /// `WAIT`'s timeout in milliseconds.
    pub(super) timeout_ms: u64,
}

/// One master's death as the engine saw it; times in microseconds from the
/// window's start.
#[derive(Clone, Debug, Default)]
struct Death {
    node: usize,
    killed_us: Option<i64>,
    /// A session lost its connection to it.
    lost_us: Option<i64>,
    /// The layout's reading first found it flagged `fail` in CLUSTER NODES
    /// (the masters agreed that it is dead).
    failed_us: Option<i64>,
    /// A layout showed its slots served by `promoted`.
    serving_us: Option<i64>,
    promoted: Option<usize>,
    first_op_us: Option<i64>,
}

/// The failovers seen, in order.
#[derive(Debug)]
pub(super) struct FailoverLog {
    /// Where event times count from: the window's start once it started.
    origin: Instant,
    kills: u64,
    deaths: Vec<Death>,
}

impl FailoverLog {
    /// No failover yet; times count from now until the window starts.
    pub(super) fn new() -> FailoverLog {
        FailoverLog {
            origin: Instant::now(),
            kills: 0,
            deaths: Vec::new(),
        }
    }

    fn us(&self, t: Instant) -> i64 {
        if t >= self.origin {
            t.duration_since(self.origin).as_micros() as i64
        } else {
            -(self.origin.duration_since(t).as_micros() as i64)
        }
    }

    fn death(&mut self, node: usize) -> &mut Death {
        let i = match self
            .deaths
            .iter()
            .position(|d| d.node == node && d.serving_us.is_none())
        {
            Some(i) => i,
            None => {
                self.deaths.push(Death {
                    node,
                    ..Death::default()
                });
                self.deaths.len() - 1
            }
        };
        &mut self.deaths[i]
    }

    /// Whether `next` gives slots back to a master whose slots were seen
    /// taken over: the view of a node that has not heard of the failover.
    fn regresses(&self, next: &Layout) -> bool {
        self.deaths
            .iter()
            .any(|d| d.serving_us.is_some() && next.serving.get(d.node) == Some(&true))
    }

    /// Kills and the failovers (a master whose slots another serves now),
    /// as [`FailoverEvent`]s: detection ends when the master was first seen
    /// flagged `fail` (or at the handover, when the promotion came first).
    pub(super) fn events(&self) -> (u64, Vec<FailoverEvent>) {
        let events = self
            .deaths
            .iter()
            .filter_map(|d| {
                let serving = d.serving_us?;
                Some(FailoverEvent {
                    shard: d.node,
                    killed_us: d.killed_us,
                    declared_us: d.failed_us.unwrap_or(serving).min(serving),
                    serving_us: serving,
                    first_op_us: d.first_op_us,
                    promoted: d.promoted.map(|p| p.min(255) as u8),
                    applied: 0,
                    lost_entries: 0,
                    unavailable_ops: 0,
                })
            })
            .collect();
        (self.kills, events)
    }
}

/// What the engine and its sessions share (read-only but for flags, logs
/// and the layout).
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) prefix: String,
    /// The nodes and their slots, as last read (a failover changes them).
    pub(super) layout: Mutex<Arc<Layout>>,
    /// Sessions follow failovers (a cluster whose masters have replicas):
    /// see the session's docs. Otherwise a lost connection stops the run.
    pub(super) follow: bool,
    /// How long a session waits for every slot to be served again.
    pub(super) failover_wait: Duration,
    /// `--redis-wait`, if given.
    pub(super) wait: Option<Wait>,
    pub(super) failovers: Mutex<FailoverLog>,
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
    /// The layout as last read.
    pub(super) fn layout(&self) -> Arc<Layout> {
        Arc::clone(&self.layout.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads CLUSTER SLOTS from the first of the layout's seeds that
    /// answers and publishes the merged layout; a master whose slots another
    /// node serves now is a failover, timed here.
    pub(super) fn refresh(&self) -> Result<Arc<Layout>, ServerError> {
        let seeds = self.layout().seeds();
        let mut last = ServerError::new("no node to ask for the cluster's slots");
        let timeout = self.timeout.min(Duration::from_millis(500));
        for url in &seeds {
            let Ok(mut conn) = wire::connect(url, timeout).map_err(|e| last = e) else {
                continue;
            };
            match wire::cluster_slots(&mut conn) {
                Ok(reply) => {
                    self.note_failed(&mut conn);
                    return Ok(self.publish(reply));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Times the detection of the deaths under way: a master a session
    /// lost (or the fault killed) that `conn`'s CLUSTER NODES flags `fail`.
    fn note_failed(&self, conn: &mut ::redis::Connection) {
        let layout = self.layout();
        let watched: Vec<(usize, String)> = {
            let log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
            log.deaths
                .iter()
                .filter(|d| d.failed_us.is_none() && d.serving_us.is_none())
                .filter_map(|d| {
                    let addr = layout.urls.get(d.node)?.strip_prefix("redis://")?;
                    Some((d.node, format!(" {addr}@")))
                })
                .collect()
        };
        if watched.is_empty() {
            return;
        }
        let Ok(nodes) = ::redis::cmd("CLUSTER").arg("NODES").query::<String>(conn) else {
            return;
        };
        let mut log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        let now = log.us(Instant::now());
        for (node, addr) in watched {
            // `<id> <ip:port@cport> <flags> ...`: `fail?` is one master's
            // suspicion, `fail` the cluster's verdict.
            let failed = nodes.lines().any(|l| {
                l.contains(&addr)
                    && l.split(' ')
                        .nth(2)
                        .is_some_and(|f| f.split(',').any(|f| f == "fail"))
            });
            if failed {
                log.death(node).failed_us.get_or_insert(now);
            }
        }
    }

    /// Merges `reply` into the layout and publishes it, timing the
    /// handover of every master whose slots another node serves now; a
    /// stale view ([`FailoverLog::regresses`]) is dropped. Locks the layout,
    /// then the log (the only place that holds both).
    fn publish(&self, reply: wire::SlotsReply) -> Arc<Layout> {
        let mut layout = self.layout.lock().unwrap_or_else(|e| e.into_inner());
        let next = Arc::new(layout.merged(reply));
        let mut log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        if log.regresses(&next) {
            // A node that has not heard of the failover yet: keep the newer view.
            return Arc::clone(&layout);
        }
        let now = log.us(Instant::now());
        for dead in layout.masters().filter(|&n| !next.serving[n]) {
            let Some(slot) = layout.slots.iter().position(|&m| m as usize == dead) else {
                continue;
            };
            let d = log.death(dead);
            d.serving_us = Some(now);
            d.promoted = Some(next.slots[slot] as usize);
        }
        *layout = Arc::clone(&next);
        next
    }

    /// Event times count from `at`, the window's start.
    pub(super) fn start_window(&self, at: Instant) {
        self.failovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .origin = at;
    }

    /// The fault killed `node`'s process.
    pub(super) fn note_killed(&self, node: usize) {
        let mut log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        let now = log.us(Instant::now());
        log.kills += 1;
        log.death(node).killed_us.get_or_insert(now);
    }

    /// A session lost its connection to `node` (the first loss is kept).
    pub(super) fn note_lost(&self, node: usize) {
        let mut log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        let now = log.us(Instant::now());
        log.death(node).lost_us.get_or_insert(now);
    }

    /// `node`, promoted in a failover, answered an op without an error.
    pub(super) fn note_first_op(&self, node: usize) {
        let mut log = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        let now = log.us(Instant::now());
        for d in log.deaths.iter_mut().filter(|d| d.promoted == Some(node)) {
            d.first_op_us.get_or_insert(now);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::wire::{SLOTS, SlotsReply};

    fn layout(master: &str) -> Layout {
        Layout::cluster(SlotsReply {
            masters: vec![master.to_string()],
            slots: vec![0; SLOTS],
            replicas: vec![Vec::new()],
        })
    }

    /// Once a master's slots were seen taken over, a layout that gives it
    /// slots again is a stale view; one that does not, or a master not
    /// failed over, is not.
    #[test]
    fn a_layout_giving_slots_back_to_a_failed_over_master_is_stale() {
        let (old, new) = (
            layout("a:1"),
            layout("a:1").merged(SlotsReply {
                masters: vec!["b:2".to_string()],
                slots: vec![0; SLOTS],
                replicas: vec![Vec::new()],
            }),
        );
        let mut log = FailoverLog::new();
        log.death(0).lost_us = Some(1);
        assert!(!log.regresses(&old), "a death not yet taken over");
        log.death(0).serving_us = Some(2);
        assert!(log.regresses(&old));
        assert!(!log.regresses(&new));
    }
}
