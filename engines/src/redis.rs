//! The `redis` engine: the social API served by an external Redis server or a
//! Redis Cluster, so the harness compares the in-process engines with an
//! external store on the same work.
//!
//! # Design decisions
//! - **One script per op step, atomic on one key group.** Every op is one
//!   `EVALSHA` of the script in `redis/ops.lua` on its home key group (the
//!   op's home entity, as [`crate::Op::home`] names it). A group is one placement key: `<prefix>{u<id>}` holds a user,
//!   their subscriptions, inbox *and their profile community* (a profile lives
//!   with its owner, as in [`crate::placement`]); `<prefix>{c<id>}` holds an
//!   ordinary community with its members, posts, comments, votes and ranking
//!   indexes. The hash tag puts a group in one cluster slot, so every script
//!   touches one slot.
//! - **Follow-ups in order, then the reply.** Join/Leave/CreateCommunity send
//!   the subscription follow-up, and a Vote with a nonzero delta the karma
//!   follow-up, to the user's group right after the home script succeeds; the
//!   op is answered once the follow-up is acknowledged. A session sends every
//!   command on one key group through the same connection, so a session's
//!   commands on a group (follow-ups included) are applied in the order it
//!   sent them; subscriptions are counts, as in the partition, so arrival
//!   order across sessions cannot change the final state. Nothing is pending
//!   once sessions have drained their replies, so [`Engine::quiesce`] has
//!   nothing to wait for.
//! - **Connections** ([`RedisConfig::connections`], `--connections C`): each
//!   session opens C connections to every node and sends a key group's
//!   commands on connection `slot % C` of its node, pipelined; it reads
//!   replies from the connection whose oldest command was sent first (a sync
//!   connection cannot peek, so reading the others first would wait behind a
//!   reply not yet due). On one single-threaded server more connections only
//!   split the pipeline (measured in the README); they are for keeping the
//!   nodes of a cluster busy from one client.
//! - **Feeds read the indexes alone.** A post's index member is its stamp and
//!   seq (the order among equal sort keys, and uniqueness) then its summary
//!   `:author:score:comments`; a vote or comment that changes the summary
//!   replaces the member in the three indexes (hot, top, new) in the same
//!   script. So a community feed is one `ZREVRANGE` inside its script, and a
//!   **home feed** is the `subs` script on the user's group, then one plain
//!   `ZREVRANGE <community>:<sort> 0 limit-1` per subscribed community
//!   (pipelined, possibly on several nodes), merged in Rust by
//!   [`merge_feed`](crate::partition::merge_feed) exactly as the sharded
//!   engine merges its shards' parts: 1 + subscriptions commands, no script
//!   per community and no read of a post hash. Each community's part is an
//!   atomic snapshot of that community; the parts are read at slightly
//!   different moments, as the sharded engine's are. Why not the scores:
//!   `WITHSCORES` formats each score as a double, most of such a read's
//!   server time (measured in the README, Redis); the sort key is
//!   recomputed in Rust from the summary instead.
//! - **Server calls per op, counted.** Every script returns how many
//!   `redis.call`s it made; each session counts per op kind the ops, the
//!   commands it sent and the scripts' calls ([`RedisStats`], `run.json`
//!   `engine_stats.redis`, a line of the run's table), over the measured
//!   window with its warm-up (from [`Engine::start_window`] to the first
//!   [`Engine::quiesce`] after it), beside the servers' own `INFO
//!   commandstats` (whose call total it must equal: a test checks it) and
//!   `INFO cpu`.
//! - **Value checks in Rust.** Limits, body and term lengths are checked by the
//!   session before anything is sent, with the partition's own check
//!   ([`crate::Op::check_values`]); such ops are answered without a round trip.
//! - **The post clock** (`PostSummary::created`) is one counter key
//!   `<prefix>{g}:clock`, in its own slot. The partition ticks it only for a
//!   post that succeeds, so a post is three steps: a read-only `post_check`
//!   script on the community's group, `INCR` of the clock, then the `post`
//!   script with the stamp (which checks again). With one session and one op
//!   in flight the check and the apply see the same state, so the clock ticks
//!   exactly as the partition's and replies and digests match `serial`, on one
//!   server and on a cluster alike. Under concurrency a post refused between
//!   its check and its apply wastes one stamp (a gap, never a duplicate). Cost:
//!   two extra round trips per post (posts are ~2% of the reddit mix) and one
//!   `INCR` on the clock's node per post: on a cluster that node serves one call per post more than the others
//!   (README, Redis). Kept: a per-community clock would give stamps that
//!   disagree with `serial`'s, and the differential test is what shows that
//!   the Redis engine does the same work.
//! - **Hot ranking in Lua** reproduces [`hot_key`](crate::partition::hot_key)
//!   exactly: the time part in split integer arithmetic on doubles, the log
//!   term with the same libm `log10`, rounded half away from zero; every value
//!   is below 2^53, so ZSET scores hold it exactly. Index members are the post's
//!   stamp (16 digits) then its seq (10), zero-padded, so ties order newest
//!   first as the partition's `(key, created)` order does; `new` has its own
//!   index scored by the stamp. Not by seq: with several sessions a post's
//!   clock tick and its apply are two round trips, so within a community seq
//!   order and stamp order can disagree. The differential test checks the
//!   keys and ties; the concurrent tests check every feed's order.
//! - **Digest and audit** are computed in Rust from a dump of the owned key
//!   space (SCAN of the prefix on every node), with the partition's own
//!   per-entity digest chains: O(state), meant for the end of a run.
//! - **Stats**: entity counts come from the sessions' acknowledged writes
//!   (per-session counters, no shared atomics between sessions); bytes are
//!   Redis's `used_memory` summed over nodes, less its value when the engine
//!   started, apportioned to entity kinds by their counts (Redis cannot say
//!   which bytes belong to which kind without a per-key census; the total is
//!   the measured part). [`RedisEngine::server_stats`] gives the raw figures
//!   and the owned key count.
//! - **Owned key space.** Every key starts with the engine's prefix
//!   (default `sb:<unique run token>:`). Creation refuses a prefix under which
//!   keys already exist (a stale or concurrent run), and `shutdown` deletes
//!   the keys under its own prefix, never any other (unless
//!   [`RedisConfig::keep_keys`]).
//! - **Faults**: connect, read and write timeouts ([`RedisConfig::timeout`]);
//!   an unreachable server or bad URL at creation is
//!   [`EngineError::Config`] with a one-line message and the client's error
//!   as its source (the CLI exits 2); a
//!   connection lost mid-run answers the ops in flight with
//!   [`ApiError::EngineFault`](crate::ApiError::EngineFault), makes later
//!   submits fail (the harness then stops its clients) and prints one line on
//!   stderr saying why. The injected faults of [`crate::Faults`] are refused
//!   (the server is the system under test), but for `kill-primary` below.
//! - **Failover** (a Redis Cluster whose masters all have replicas when the
//!   engine starts; [`RedisFailoverStats`] in `engine_stats.redis.failover`).
//!   Sessions follow a master's death instead of stopping: a command the
//!   cluster refused unrun (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
//!   `MASTERDOWN`, `READONLY`) or meant for a lost node answers its op
//!   [`ApiError::Unavailable`](crate::ApiError::Unavailable), but a refused
//!   follow-up is kept and sent again once its slot has a master (its home
//!   step was applied; it was not); a command in flight on a connection that
//!   died answers its op `Unavailable` too, counted as a write of unknown
//!   outcome when it writes. Nothing is sent twice: no op ids and dedupe
//!   window are kept on the server, so a write whose reply was lost is not
//!   retried, and the audit allows writes of unknown outcome to be present or
//!   not. The layout is read again every 50 ms while a slot's master is
//!   unreachable; the new master gets connections and the script. The
//!   failover's times come from the engine's view: killed (the fault),
//!   declared (CLUSTER NODES first flags the master `fail`), serving (CLUSTER
//!   SLOTS names the new master), first op answered by it. A session waits
//!   `max(4 x cluster-node-timeout, 10 s)` for every slot to be served again,
//!   then stops as a single server's loss does. On a single server, or a
//!   cluster without replicas, a lost connection stops the run (exit 1).
//! - **`kill-primary:shard=N,at=T`** kills master N (in CLUSTER SLOTS' order
//!   when the engine starts; it must run on this machine, its process id from
//!   `INFO server`) with SIGKILL T after the window starts; once (`every=` is
//!   refused). The cluster, not the engine, detects it and promotes a
//!   replica.
//! - **`--redis-wait N`** ([`RedisConfig::wait`]): `WAIT N` after every write
//!   (on the write's connection, pipelined); the op is answered once both
//!   replies are in, and fewer than N replicas make it `Unavailable`, of
//!   unknown outcome. Redis documents that `WAIT` does not make a failover
//!   lossless (the replica promoted may not be one that acknowledged); the
//!   README measures the loss with and without it.
//! - **How the engine finds its server**: [`EngineConfig::redis`], which the
//!   CLI fills from `--redis-url`/`--redis-cluster`; without it,
//!   [`RedisEngine::new`] says which flags it needs.

mod dump;
mod layout;
mod session;
mod shared;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use session::RedisSession;
pub use wire::ServerError;

use crate::api::OpKind;
use crate::audit::Audit;
use crate::config::{EngineConfig, RedisConfig, RedisGroup, RedisTarget};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::stats::{
    EngineStats, EntityBytes, EntityCounts, RedisCommandCost, RedisFailoverStats, RedisKindCost,
    RedisStats,
};
use layout::Layout;
use shared::{Counters, FailoverLog, Shared, Wait};
use wire::Node;

/// What [`RedisEngine::server_stats`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// Keys under the engine's prefix (all nodes).
    pub keys: u64,
    /// `used_memory` summed over the nodes.
    pub used_memory: u64,
    /// `used_memory` summed over the nodes when the engine started.
    pub used_memory_at_start: u64,
}

/// The servers' own counts at one moment: per command (calls, microseconds)
/// and CPU microseconds, summed over nodes.
#[derive(Clone, Debug, Default)]
struct ServerCounts {
    commands: std::collections::BTreeMap<String, (u64, u64)>,
    cpu_micros: u64,
}

/// Per op kind: ops, commands, script calls, summed over sessions.
type KindCounts = [[u64; 3]; OpKind::COUNT];

/// Where the figures of [`RedisStats`] start, or what they were at the end.
#[derive(Debug)]
struct Mark {
    at: std::time::Instant,
    server: ServerCounts,
    kinds: KindCounts,
    /// The masters the server counts come from.
    masters: Vec<String>,
}

/// The span [`RedisStats`] covers: its start, and its figures once frozen
/// by the first `quiesce` after the window started.
#[derive(Debug)]
struct CostSpan {
    start: Mark,
    frozen: Option<RedisStats>,
}

/// The `redis` engine: see the module docs.
pub struct RedisEngine {
    shared: Arc<Shared>,
    /// The engine's own connections (stats, digest, audit, shutdown), per node.
    control: Mutex<Vec<Option<::redis::Connection>>>,
    counters: Mutex<Vec<Arc<Counters>>>,
    costs: Mutex<CostSpan>,
    /// This process's share of a group run.
    group: Option<RedisGroup>,
    memory_at_start: u64,
    keep_keys: bool,
    deleted: AtomicBool,
    /// The cluster's `cluster-node-timeout` (zero for a single server).
    node_timeout: Duration,
    /// Replicas of each master at the start (the fewest).
    replicas: usize,
    /// The `kill-primary` fault: node, process id, when.
    kill: Option<Kill>,
    /// The thread that carries the kill out, and how to call it off.
    killer: Mutex<Option<Killer>>,
}

/// The `kill-primary` fault on a cluster: master `node` (index in the
/// layout), whose process on this machine is `pid`, dies `at` after the
/// window's start.
#[derive(Clone, Copy, Debug)]
struct Kill {
    node: usize,
    pid: u32,
    at: Duration,
}

/// The kill's timer thread; dropping the sender calls it off.
struct Killer {
    cancel: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("prefix", &self.shared.prefix)
            .field("nodes", &self.shared.layout().urls)
            .finish()
    }
}

/// At creation, a server that cannot be used is a configuration error: the
/// user named it.
impl From<ServerError> for EngineError {
    fn from(e: ServerError) -> Self {
        let (message, source) = e.into_parts();
        EngineError::Config {
            message,
            source: source.map(|s| s as Arc<dyn std::error::Error + Send + Sync>),
        }
    }
}

/// A prefix unique to this process and moment.
fn unique_prefix() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "sb:{:x}{:x}{}:",
        nanos,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// `used_memory` of the server behind `conn`.
fn used_memory(conn: &mut ::redis::Connection) -> Result<u64, ::redis::RedisError> {
    let info: String = ::redis::cmd("INFO").arg("memory").query(conn)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

/// `INFO commandstats` and `INFO cpu` of the server behind `conn`; the
/// engine's own `INFO` is left out.
fn server_counts(conn: &mut ::redis::Connection) -> Result<ServerCounts, ::redis::RedisError> {
    let info: String = ::redis::cmd("INFO")
        .arg("commandstats")
        .arg("cpu")
        .query(conn)?;
    let mut out = ServerCounts::default();
    let mut cpu = 0.0;
    for line in info.lines() {
        if let Some(rest) = line.strip_prefix("cmdstat_") {
            let Some((name, fields)) = rest.split_once(':') else {
                continue;
            };
            if name == "info" {
                continue;
            }
            let field = |key: &str| {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            out.commands
                .insert(name.to_string(), (field("calls"), field("usec")));
        } else if let Some(v) = line
            .strip_prefix("used_cpu_user:")
            .or_else(|| line.strip_prefix("used_cpu_sys:"))
        {
            cpu += v.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    out.cpu_micros = (cpu * 1e6).round() as u64;
    Ok(out)
}

/// The engine's settings, checked before anything is sent: the timeout and
/// the key prefix (a fresh unique one when none is given).
/// What the redis engine refuses before it connects: faults, a missing
/// server, a bad timeout or key prefix. Returns the server and the prefix.
pub(crate) fn check_config(config: &EngineConfig) -> Result<(&RedisConfig, String), EngineError> {
    if config.faults.any() {
        return Err(EngineError::config(
            "the redis engine injects no faults (the server is the system under test)",
        ));
    }
    let redis = config.redis.as_ref().ok_or_else(|| {
        EngineError::config(
            "the redis engine needs a server: --redis-url redis://HOST:PORT \
             or --redis-cluster HOST:PORT,...",
        )
    })?;
    Ok((redis, checked_prefix(redis)?))
}

fn checked_prefix(redis: &RedisConfig) -> Result<String, EngineError> {
    if redis.timeout.is_zero() {
        return Err(EngineError::config("the Redis timeout must be positive"));
    }
    if !(1..=RedisConfig::MAX_CONNECTIONS).contains(&redis.connections) {
        return Err(EngineError::config(format!(
            "connections per node {} outside 1..={}",
            redis.connections,
            RedisConfig::MAX_CONNECTIONS
        )));
    }
    if let Some(g) = &redis.group
        && redis.prefix.is_none()
    {
        return Err(EngineError::config(format!(
            "group {}/{}: a group run needs the key prefix its processes share (--redis-prefix)",
            g.k, g.n
        )));
    }
    let prefix = redis.prefix.clone().unwrap_or_else(unique_prefix);
    if prefix.is_empty() || prefix.contains(['{', '}', '*', '?', '[', ']', '\\']) {
        return Err(EngineError::config(format!(
            "Redis key prefix `{prefix}` must be non-empty, without {{ }} * ? [ ] \\"
        )));
    }
    Ok(prefix)
}

/// The nodes to talk to, and for a cluster the node of every slot (learnt
/// from the first seed that answers `CLUSTER SLOTS`).
fn discover(target: &RedisTarget, timeout: Duration) -> Result<Layout, ServerError> {
    let seeds = match target {
        RedisTarget::Server(url) => return Ok(Layout::single(url.clone())),
        RedisTarget::Cluster(seeds) => seeds,
    };
    let mut last = ServerError::new("no seed node given");
    for seed in seeds {
        let url = format!("redis://{seed}");
        match wire::connect(&url, timeout).and_then(|mut c| {
            let reply = wire::cluster_slots(&mut c)?;
            synced_replicas(&mut c, reply)
        }) {
            Ok(reply) => return Ok(Layout::cluster(reply)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// How long the engine waits, at creation, for the replicas CLUSTER NODES
/// names to show in CLUSTER SLOTS.
const REPLICA_SYNC_WAIT: Duration = Duration::from_secs(10);

/// `reply`, or a later CLUSTER SLOTS once it lists every replica CLUSTER
/// NODES names (but failed ones): a replica shows in CLUSTER SLOTS only once
/// it has synced with its master (a second or two after `redis-cli
/// --cluster create`), and the engine follows failovers only when every
/// master has one. Waits at most [`REPLICA_SYNC_WAIT`].
fn synced_replicas(
    conn: &mut ::redis::Connection,
    mut reply: wire::SlotsReply,
) -> Result<wire::SlotsReply, ServerError> {
    let named = ::redis::cmd("CLUSTER")
        .arg("NODES")
        .query::<String>(conn)
        .map_or(0, |nodes| {
            nodes
                .lines()
                .filter_map(|l| l.split(' ').nth(2))
                .filter(|flags| {
                    let mut flags = flags.split(',');
                    flags.clone().any(|f| f == "slave")
                        && !flags.any(|f| f.starts_with("fail") || f == "noaddr")
                })
                .count()
        });
    let deadline = Instant::now() + REPLICA_SYNC_WAIT;
    while reply.replicas.iter().map(Vec::len).sum::<usize>() < named && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        reply = wire::cluster_slots(conn)?;
    }
    Ok(reply)
}

/// The cluster's `cluster-node-timeout` as `conn`'s node has it (the
/// Redis default, 15 s, when it cannot be read).
fn node_timeout(conn: &mut ::redis::Connection) -> Duration {
    let v: Result<Vec<String>, _> = ::redis::cmd("CONFIG")
        .arg("GET")
        .arg("cluster-node-timeout")
        .query(conn);
    let ms = v
        .ok()
        .and_then(|v| v.get(1).and_then(|ms| ms.parse().ok()))
        .unwrap_or(15_000);
    Duration::from_millis(ms)
}

/// The `kill-primary` fault on the redis engine, checked: a cluster whose
/// masters have replicas, one kill, a master that exists and runs on this
/// machine (its process is killed with SIGKILL). `conn` is the master's.
fn check_kill(
    k: &crate::config::Crash,
    layout: &Layout,
    follow: bool,
    control: &mut [Option<::redis::Connection>],
) -> Result<Kill, EngineError> {
    if !follow {
        return Err(EngineError::config(
            "the kill-primary fault on the redis engine needs a Redis Cluster whose masters have replicas (--redis-cluster)",
        ));
    }
    if k.every.is_some() {
        return Err(EngineError::config(
            "the kill-primary fault on the redis engine kills one master: every= is for the sharded engine",
        ));
    }
    let masters = layout.masters().count();
    if k.partition >= masters {
        return Err(EngineError::config(format!(
            "kill-primary shard={}: the cluster has {masters} masters (0..={})",
            k.partition,
            masters - 1
        )));
    }
    let url = &layout.urls[k.partition];
    let host = url
        .strip_prefix("redis://")
        .and_then(|a| a.rsplit_once(':'))
        .map_or("", |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]") {
        return Err(EngineError::config(format!(
            "the kill-primary fault kills a process on this machine; {url} is not on loopback"
        )));
    }
    let conn = control[k.partition]
        .as_mut()
        .ok_or_else(|| EngineError::config(format!("no connection to {url}")))?;
    let info: String = ::redis::cmd("INFO")
        .arg("server")
        .query(conn)
        .map_err(|e| ServerError::caused(format!("INFO server on {url}"), e))?;
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| EngineError::config(format!("{url} does not say its process id")))?;
    Ok(Kill {
        node: k.partition,
        pid,
        at: k.at,
    })
}

/// Kills process `pid` with SIGKILL (`kill -9`).
fn kill_process(pid: u32) -> Result<(), String> {
    let out = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .output()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A node made ready for the engine: connected, holding no key under
/// `prefix`, the script loaded. Returns the control connection, the
/// script's SHA1 and the node's `used_memory` now.
fn prepare_node(
    url: &str,
    prefix: &str,
    timeout: Duration,
    group: bool,
) -> Result<(::redis::Connection, String, u64), EngineError> {
    let mut c = wire::connect(url, timeout)?;
    // A group's peers may be there already: `join_group` checks for others.
    let existing = if group {
        None
    } else {
        dump::first_key(&mut c, prefix, None).map_err(|e| {
            ServerError::caused(format!("scanning {url} for keys under `{prefix}`"), e)
        })?
    };
    if let Some(key) = existing {
        return Err(EngineError::config(format!(
            "keys under the prefix `{prefix}` already exist on {url} (e.g. `{key}`): \
             the engine owns an empty key space; choose another prefix or delete them"
        )));
    }
    let sha = wire::load_script(&mut c)
        .map_err(|e| ServerError::caused(format!("loading the script on {url}"), e))?;
    let memory =
        used_memory(&mut c).map_err(|e| ServerError::caused(format!("INFO memory on {url}"), e))?;
    Ok((c, sha, memory))
}

impl RedisEngine {
    /// Builds the engine against [`EngineConfig::redis`]: checks the
    /// settings, connects, learns the cluster's slots, checks that no key
    /// exists under the prefix, and loads the script on every node. Every
    /// failure is [`EngineError::Config`] with a one-line message (with the
    /// client's error as its source when there is one); without a Redis
    /// configuration, the message says which flags the CLI needs.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        Self::build(config, false)
    }

    /// The engine on the keys a finished group run left under its prefix
    /// (`socialbench merge` audits them, then its `shutdown` deletes them
    /// unless [`RedisConfig::keep_keys`]). Refused unless the prefix
    /// ([`RedisConfig::prefix`], required) holds a group run.
    pub fn attach(config: &EngineConfig) -> Result<Self, EngineError> {
        let engine = Self::build(config, true)?;
        let (key, node) = engine.group_key("group");
        let exists: i64 = engine.with_node(node, |c| ::redis::cmd("EXISTS").arg(&key).query(c))?;
        if exists == 0 {
            return Err(EngineError::config(format!(
                "the prefix `{}` holds no group run (no `{key}`): nothing to merge there",
                engine.shared.prefix
            )));
        }
        Ok(engine)
    }

    fn build(config: &EngineConfig, attach: bool) -> Result<Self, EngineError> {
        config.validate()?;
        config.refuse_backups("redis")?;
        config.refuse_push("redis")?;
        config.refuse_durability("redis")?;
        let (redis, prefix) = check_config(config)?;
        let timeout = redis.timeout;
        let layout = discover(&redis.target, timeout)?;
        let mut control = Vec::with_capacity(layout.urls.len());
        let mut sha = String::new();
        let mut memory_at_start = 0;
        for url in &layout.urls {
            let (c, script, memory) =
                prepare_node(url, &prefix, timeout, attach || redis.group.is_some())?;
            sha = script;
            memory_at_start += memory;
            control.push(Some(c));
        }
        let cluster = !layout.slots.is_empty();
        let replicas = layout.min_replicas();
        let follow = cluster && replicas > 0;
        let node_timeout = match control.first_mut() {
            Some(Some(c)) if cluster => node_timeout(c),
            _ => Duration::ZERO,
        };
        let wait = match redis.wait {
            None => None,
            Some(n) if n == 0 || n as usize > replicas || !cluster => {
                return Err(EngineError::config(format!(
                    "--redis-wait {n} needs a Redis Cluster whose masters have at least {n} replica(s) ({})",
                    if cluster {
                        format!("they have {replicas}")
                    } else {
                        "this is a single server".to_string()
                    }
                )));
            }
            Some(n) => Some(Wait {
                replicas: n,
                timeout_ms: redis.wait_timeout().as_millis().max(1) as u64,
            }),
        };
        let kill = match &config.faults.kill_primary {
            Some(k) => Some(check_kill(k, &layout, follow, &mut control)?),
            None => None,
        };
        let clock_key = format!("{prefix}{{g}}:clock");
        let shared = Shared {
            connections: redis.connections,
            clock_key,
            prefix,
            layout: Mutex::new(Arc::new(layout)),
            follow,
            failover_wait: (node_timeout * 4).max(Duration::from_secs(10)),
            wait,
            failovers: Mutex::new(FailoverLog::new()),
            timeout,
            sha,
            shut_down: AtomicBool::new(false),
            lost_reported: AtomicBool::new(false),
            error_reported: AtomicBool::new(false),
            server_errors: AtomicU64::new(0),
        };
        let mut engine = RedisEngine {
            shared: Arc::new(shared),
            control: Mutex::new(control),
            counters: Mutex::new(Vec::new()),
            costs: Mutex::new(CostSpan {
                start: Mark {
                    at: std::time::Instant::now(),
                    server: ServerCounts::default(),
                    kinds: [[0; 3]; OpKind::COUNT],
                    masters: Vec::new(),
                },
                frozen: None,
            }),
            memory_at_start,
            // A group run's keys are the whole run's: `socialbench merge`
            // audits them, then deletes them.
            keep_keys: redis.keep_keys || redis.group.is_some(),
            deleted: AtomicBool::new(false),
            group: redis.group.clone(),
            node_timeout,
            replicas,
            kill,
            killer: Mutex::new(None),
        };
        if let Some(g) = &redis.group {
            engine.join_group(g)?;
        }
        let start = engine.mark();
        engine
            .costs
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .start = start;
        Ok(engine)
    }

    /// The sessions' and the servers' counts now (the servers' left at zero
    /// when they cannot be read).
    fn mark(&self) -> Mark {
        let mut kinds = [[0u64; 3]; OpKind::COUNT];
        for s in self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (k, c) in kinds.iter_mut().zip(&s.kinds) {
                k[0] += c.ops.load(Ordering::Relaxed);
                k[1] += c.commands.load(Ordering::Relaxed);
                k[2] += c.script_calls.load(Ordering::Relaxed);
            }
        }
        let mut server = ServerCounts::default();
        if !self.shared.lost_reported.load(Ordering::Relaxed)
            && let Ok(nodes) = self.with_control(server_counts)
        {
            for n in nodes {
                server.cpu_micros += n.cpu_micros;
                for (name, (calls, micros)) in n.commands {
                    let e = server.commands.entry(name).or_default();
                    e.0 += calls;
                    e.1 += micros;
                }
            }
        }
        Mark {
            at: std::time::Instant::now(),
            server,
            kinds,
            masters: self.nodes(),
        }
    }

    /// The figures from `start` to now; the servers' are left out (zero,
    /// `masters_changed`) when a failover changed the masters in between:
    /// a dead master's counts are gone and a promoted one's started before.
    fn costs_since(&self, start: &Mark) -> RedisStats {
        let mut end = self.mark();
        let masters_changed = end.masters != start.masters;
        if masters_changed {
            end.server = start.server.clone();
        }
        let kinds = OpKind::ALL
            .iter()
            .zip(end.kinds.iter().zip(&start.kinds))
            .filter_map(|(kind, (e, s))| {
                let ops = e[0].saturating_sub(s[0]);
                (ops > 0).then(|| RedisKindCost {
                    kind: kind.name(),
                    ops,
                    commands: e[1].saturating_sub(s[1]),
                    script_calls: e[2].saturating_sub(s[2]),
                })
            })
            .collect();
        let commands: Vec<RedisCommandCost> = end
            .server
            .commands
            .iter()
            .filter_map(|(name, &(calls, micros))| {
                let (c0, m0) = start.server.commands.get(name).copied().unwrap_or((0, 0));
                let calls = calls.saturating_sub(c0);
                (calls > 0).then(|| RedisCommandCost {
                    name: name.clone(),
                    calls,
                    micros: micros.saturating_sub(m0),
                })
            })
            .collect();
        RedisStats {
            span_micros: end.at.duration_since(start.at).as_micros() as u64,
            kinds,
            server_calls: commands.iter().map(|c| c.calls).sum(),
            server_cpu_micros: end
                .server
                .cpu_micros
                .saturating_sub(start.server.cpu_micros),
            commands,
            masters_changed,
            failover: None,
        }
    }

    /// The key prefix this engine owns.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The nodes it talks to now (one URL per cluster master).
    pub fn nodes(&self) -> Vec<String> {
        let layout = self.shared.layout();
        layout.masters().map(|n| layout.urls[n].clone()).collect()
    }

    /// Runs `f` on each master's control connection, reconnecting a node
    /// whose connection failed before; the first error is returned. The
    /// layout is the last one published (sessions publish a failover's).
    fn with_control<R>(
        &self,
        mut f: impl FnMut(&mut ::redis::Connection) -> Result<R, ::redis::RedisError>,
    ) -> Result<Vec<R>, ServerError> {
        self.shared
            .layout()
            .masters()
            .map(|node| self.with_node(node, &mut f))
            .collect()
    }

    /// Keys under the prefix and the servers' memory: O(keys), not for a hot loop.
    pub fn server_stats(&self) -> Result<ServerStats, ServerError> {
        let prefix = self.shared.prefix.clone();
        let per_node = self.with_control(|c| {
            let keys = dump::count_keys(c, &prefix)?;
            let mem = used_memory(c)?;
            Ok((keys, mem))
        })?;
        Ok(ServerStats {
            keys: per_node.iter().map(|p| p.0).sum(),
            used_memory: per_node.iter().map(|p| p.1).sum(),
            used_memory_at_start: self.memory_at_start,
        })
    }

    /// The owned key space of every master. Following failovers, the layout
    /// is read first: a master may have died after the sessions' last op.
    fn dump(&self) -> Result<dump::State, ServerError> {
        if self.shared.follow {
            // Unreadable: the masters' own errors below say where.
            let _ = self.shared.refresh();
        }
        let prefix = self.shared.prefix.clone();
        let mut state = dump::State::default();
        self.with_control(|c| dump::read(c, &prefix, &mut state))?;
        Ok(state)
    }

    /// The key `<prefix>{g}:<what>` of the group run's coordination, and the
    /// node that serves it.
    fn group_key(&self, what: &str) -> (String, usize) {
        let key = format!("{}{{g}}:{what}", self.shared.prefix);
        let node = self.shared.layout().node_of(key.as_bytes());
        (key, node)
    }

    /// Runs `f` on node `node`'s control connection (reconnecting it if it
    /// failed before).
    fn with_node<R>(
        &self,
        node: usize,
        f: impl FnOnce(&mut ::redis::Connection) -> Result<R, ::redis::RedisError>,
    ) -> Result<R, ServerError> {
        let mut control = self.control.lock().unwrap_or_else(|e| e.into_inner());
        let url = self.shared.layout().urls[node].clone();
        let url = &url;
        if control.len() <= node {
            control.resize_with(node + 1, || None);
        }
        let slot = &mut control[node];
        let conn = match slot {
            Some(conn) => conn,
            None => slot.insert(wire::connect(url, self.shared.timeout)?),
        };
        f(conn).map_err(|e| {
            *slot = None;
            ServerError::caused(format!("Redis at {url}"), e)
        })
    }

    /// Joins group `g` of the run under the prefix: the first group to come
    /// claims the prefix with the run's identity (refused if it holds keys
    /// of something else); a later one must find the same identity and a
    /// group number not taken yet. No group writes anything else before
    /// every group has passed here (the harness's `start` barrier).
    fn join_group(&self, g: &RedisGroup) -> Result<(), EngineError> {
        let prefix = self.shared.prefix.clone();
        let (key, node) = self.group_key("group");
        let claimed: bool = self.with_node(node, |c| {
            let set: Option<String> = ::redis::cmd("SET")
                .arg(&key)
                .arg(&g.identity)
                .arg("NX")
                .query(c)?;
            Ok(set.is_some())
        })?;
        let ours = format!("{prefix}{{g}}:");
        if claimed {
            let foreign = self.with_control(|c| dump::first_key(c, &prefix, Some(&ours)))?;
            if let Some(k) = foreign.into_iter().flatten().next() {
                let _ = self.with_node(node, |c| ::redis::cmd("DEL").arg(&key).query::<()>(c));
                return Err(EngineError::config(format!(
                    "group {}/{}: keys under the prefix `{prefix}` already exist (e.g. `{k}`): \
                     a group run starts from an empty prefix",
                    g.k, g.n
                )));
            }
        } else {
            let found: Option<String> =
                self.with_node(node, |c| ::redis::cmd("GET").arg(&key).query(c))?;
            let found = found.unwrap_or_default();
            if found != g.identity {
                return Err(EngineError::config(format!(
                    "group {}/{}: the prefix `{prefix}` holds a group run of other settings \
                     ({found}; this one: {}): start every group with the same workload, \
                     seed, users, threads and engine settings",
                    g.k, g.n, g.identity
                )));
            }
        }
        let (members, node) = self.group_key("members");
        let added: i64 = self.with_node(node, |c| {
            ::redis::cmd("SADD").arg(&members).arg(g.k).query(c)
        })?;
        if added == 0 {
            return Err(EngineError::config(format!(
                "group {}/{}: another process has already joined this run as group {}",
                g.k, g.n, g.k
            )));
        }
        Ok(())
    }

    /// [`RedisStats`]: frozen at the end of the run's ops, or up to now.
    fn costs(&self) -> RedisStats {
        let costs = self.costs.lock().unwrap_or_else(|e| e.into_inner());
        match &costs.frozen {
            Some(frozen) => frozen.clone(),
            None => self.costs_since(&costs.start),
        }
    }

    /// Starts the thread that kills `k`'s master `k.at` after `at` (once per
    /// engine).
    fn start_killer(&self, k: Kill, at: Instant) {
        let mut killer = self.killer.lock().unwrap_or_else(|e| e.into_inner());
        if killer.is_some() {
            return;
        }
        let (cancel, called_off) = std::sync::mpsc::channel::<()>();
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::Builder::new()
            .name("redis-kill".into())
            .spawn(move || {
                let due = (at + k.at).saturating_duration_since(Instant::now());
                if called_off.recv_timeout(due) != Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                    return;
                }
                match kill_process(k.pid) {
                    Ok(()) => shared.note_killed(k.node),
                    Err(e) => eprintln!(
                        "redis engine: the kill-primary fault could not kill process {}: {e}",
                        k.pid
                    ),
                }
            });
        match thread {
            Ok(thread) => *killer = Some(Killer { cancel, thread }),
            Err(e) => eprintln!("redis engine: cannot start the kill-primary timer: {e}"),
        }
    }

    /// The failovers seen and what they cost (`None` unless the engine
    /// follows failovers).
    fn failover_stats(&self) -> Option<RedisFailoverStats> {
        if !self.shared.follow {
            return None;
        }
        let (kills, events) = self
            .shared
            .failovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events();
        let mut f = RedisFailoverStats {
            replicas: self.replicas,
            node_timeout_ms: self.node_timeout.as_millis() as u64,
            wait_replicas: self.shared.wait.map(|w| w.replicas),
            failover_wait_ms: self.shared.failover_wait.as_millis() as u64,
            kills,
            failovers: events.len() as u64,
            events,
            ..RedisFailoverStats::default()
        };
        for c in self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            f.unavailable_ops += c.unavailable.load(Ordering::Relaxed);
            f.unknown_outcome += c.unknown_outcome.load(Ordering::Relaxed);
            f.wait_short += c.wait_short.load(Ordering::Relaxed);
            f.follow_ups_resent += c.follow_ups_resent.load(Ordering::Relaxed);
        }
        Some(f)
    }

    fn report(&self, what: &str, e: &ServerError) {
        eprintln!("redis engine: {what} failed: {}", e.detail());
    }
}

impl Engine for RedisEngine {
    type Session = RedisSession;

    fn name(&self) -> &'static str {
        "redis"
    }

    /// A session with [`RedisConfig::connections`] connections per node. A failure to connect is
    /// [`EngineError::Config`] (one line, naming the server).
    fn session(&self) -> Result<RedisSession, EngineError> {
        if self.shared.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        let layout = self.shared.layout();
        let nodes = (0..layout.urls.len())
            .flat_map(|n| std::iter::repeat_n(n, self.shared.connections))
            .map(|n| match layout.serving[n] {
                true => Node::open(&layout.urls[n], self.shared.timeout),
                false => Ok(Node::down(&layout.urls[n])),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let counters = Arc::new(Counters::default());
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&counters));
        Ok(RedisSession::new(
            Arc::clone(&self.shared),
            counters,
            layout,
            nodes,
        ))
    }

    /// Counts from the sessions' acknowledged writes; bytes from the servers'
    /// `used_memory` (see the module docs). A server that does not answer
    /// leaves the bytes at zero; stats never fail.
    fn stats(&self) -> EngineStats {
        let mut c = [0i64; 8];
        for s in self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (i, a) in [
                &s.users,
                &s.communities,
                &s.posts,
                &s.comments,
                &s.dms,
                &s.votes,
                &s.memberships,
                &s.faults,
            ]
            .into_iter()
            .enumerate()
            {
                c[i] += a.load(Ordering::Relaxed);
            }
        }
        let n = |i: usize| c[i].max(0) as u64;
        let counts = EntityCounts {
            users: n(0),
            communities: n(1),
            posts: n(2),
            comments: n(3),
            dms: n(4),
            votes: n(5),
            memberships: n(6),
        };
        let used = if self.shared.lost_reported.load(Ordering::Relaxed) {
            0
        } else {
            self.with_control(used_memory)
                .map_or(0, |v| v.iter().sum::<u64>())
        };
        let grown = used.saturating_sub(self.memory_at_start);
        let weights = [
            counts.users + counts.memberships,
            counts.communities,
            counts.posts,
            counts.comments,
            counts.dms,
            counts.votes,
        ];
        let total: u64 = weights.iter().sum();
        let share = |w: u64| {
            if total == 0 {
                0
            } else {
                (grown as u128 * w as u128 / total as u128) as u64
            }
        };
        EngineStats {
            counts,
            bytes: EntityBytes {
                users: share(weights[0]),
                communities: share(weights[1]),
                posts: share(weights[2]),
                comments: share(weights[3]),
                dms: share(weights[4]),
                votes: share(weights[5]),
            },
            mailbox_depths: Vec::new(),
            pending_follow_ups: 0,
            faults: n(7),
            dropped_follow_ups: 0,
            write_faults: Default::default(),
            replication: None,
            feeds: None,
            durability: None,
            redis: Some(RedisStats {
                failover: self.failover_stats(),
                ..self.costs()
            }),
        }
    }

    /// Nothing to wait for: a session answers an op only after its
    /// follow-ups are acknowledged (module docs). The first call after the
    /// window started freezes [`RedisStats`], before an audit's reads.
    fn quiesce(&self) {
        let mut costs = self.costs.lock().unwrap_or_else(|e| e.into_inner());
        if costs.frozen.is_none() {
            costs.frozen = Some(self.costs_since(&costs.start));
        }
    }

    /// Every group's process counts itself in at `<prefix>{g}:b:<name>`; the
    /// last to arrive sets the moment to go on from, 50 ms ahead (so that
    /// every process, polling every 2 ms, reads it before it comes), at
    /// `<prefix>{g}:t:<name>`. Wall clocks of one machine (or NTP-synced
    /// ones) agree well within that.
    fn group_barrier(&self, name: &str) -> Result<Option<std::time::SystemTime>, EngineError> {
        let Some(g) = &self.group else {
            return Ok(None);
        };
        let (count, node) = self.group_key(&format!("b:{name}"));
        let (release, _) = self.group_key(&format!("t:{name}"));
        let arrived: i64 = self.with_node(node, |c| ::redis::cmd("INCR").arg(&count).query(c))?;
        if arrived == g.n as i64 {
            let at = std::time::SystemTime::now() + Duration::from_millis(50);
            let nanos = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            self.with_node(node, |c| {
                ::redis::cmd("SET").arg(&release).arg(nanos).query::<()>(c)
            })?;
        }
        let started = std::time::Instant::now();
        loop {
            let at: Option<u64> =
                self.with_node(node, |c| ::redis::cmd("GET").arg(&release).query(c))?;
            if let Some(nanos) = at {
                return Ok(Some(std::time::UNIX_EPOCH + Duration::from_nanos(nanos)));
            }
            if started.elapsed() >= g.timeout {
                let arrived: i64 = self
                    .with_node(node, |c| ::redis::cmd("GET").arg(&count).query(c))
                    .unwrap_or(0);
                return Err(EngineError::config(format!(
                    "group {}/{}: waited {:?} at `{name}` and {arrived} of {} groups arrived: \
                     start every group (--group 1/{n} .. {n}/{n}) with the same settings",
                    g.k,
                    g.n,
                    g.timeout,
                    g.n,
                    n = g.n
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// [`RedisStats`] start now (the load phase is over); failover times
    /// count from `at`, and the `kill-primary` fault's timer starts.
    fn start_window(&self, at: Instant) {
        let start = self.mark();
        let mut costs = self.costs.lock().unwrap_or_else(|e| e.into_inner());
        *costs = CostSpan {
            start,
            frozen: None,
        };
        self.shared.start_window(at);
        if let Some(k) = self.kill {
            self.start_killer(k, at);
        }
    }

    /// Aggregates from a dump of the owned key space (O(state)). When the
    /// server cannot be read, says why on stderr and returns all zeros, which
    /// fails any check against acknowledged writes.
    fn audit(&self) -> Audit {
        match self.dump() {
            Ok(s) => s.audit(),
            Err(e) => {
                self.report("audit (reading the key space)", &e);
                Audit::default()
            }
        }
    }

    /// The partition's digest of the dumped state (O(state)); 0 when the
    /// server cannot be read (said on stderr).
    fn digest(&self) -> u64 {
        match self.dump() {
            Ok(s) => s.digest(),
            Err(e) => {
                self.report("digest (reading the key space)", &e);
                0
            }
        }
    }

    /// Refuses new sessions and submits, then deletes the keys under the
    /// engine's prefix (once; not with `keep_keys`). A server that does not
    /// answer is left as it is (said on stderr).
    fn shutdown(&self) {
        self.shared.shut_down.store(true, Ordering::Relaxed);
        if self.keep_keys || self.deleted.swap(true, Ordering::Relaxed) {
            return;
        }
        if self.shared.lost_reported.load(Ordering::Relaxed) {
            return;
        }
        let prefix = self.shared.prefix.clone();
        if let Err(e) = self.with_control(|c| dump::delete(c, &prefix)) {
            self.report("deleting the run's keys", &e);
        }
    }
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        if let Some(k) = self
            .killer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            drop(k.cancel);
            let _ = k.thread.join();
        }
        self.shutdown();
    }
}
