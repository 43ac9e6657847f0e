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
//!   stderr saying why. The injected faults of [`crate::Faults`] are refused:
//!   the server is the system under test.
//! - **How the engine finds its server**: [`EngineConfig::redis`], which the
//!   CLI fills from `--redis-url`/`--redis-cluster`; without it,
//!   [`RedisEngine::new`] says which flags it needs.

mod dump;
mod session;
mod shared;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use session::RedisSession;
pub use wire::ServerError;

use crate::api::OpKind;
use crate::audit::Audit;
use crate::config::{EngineConfig, RedisConfig, RedisGroup, RedisTarget};
use crate::engine::{
    Engine, EngineError, EngineStats, EntityBytes, EntityCounts, RedisCommandCost, RedisKindCost,
    RedisStats,
};
use shared::{Counters, Shared};
use wire::{Node, SLOTS};

/// The script every op runs (see its header for the reply format).
const SCRIPT: &str = include_str!("redis/ops.lua");

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
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("prefix", &self.shared.prefix)
            .field("nodes", &self.shared.urls)
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
fn discover(
    target: &RedisTarget,
    timeout: Duration,
) -> Result<(Vec<String>, Vec<u16>), ServerError> {
    let seeds = match target {
        RedisTarget::Server(url) => return Ok((vec![url.clone()], Vec::new())),
        RedisTarget::Cluster(seeds) => seeds,
    };
    let mut last = ServerError::new("no seed node given");
    for seed in seeds {
        let url = format!("redis://{seed}");
        match wire::connect(&url, timeout).and_then(|mut c| wire::cluster_slots(&mut c)) {
            Ok((masters, slots)) => {
                let urls = masters.iter().map(|m| format!("redis://{m}")).collect();
                return Ok((urls, slots));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
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
    let sha = ::redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(SCRIPT)
        .query(&mut c)
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
        config.refuse_replicas("redis")?;
        config.refuse_push("redis")?;
        config.refuse_durability("redis")?;
        let (redis, prefix) = check_config(config)?;
        let timeout = redis.timeout;
        let (urls, slots) = discover(&redis.target, timeout)?;
        debug_assert!(slots.is_empty() || slots.len() == SLOTS);
        let mut control = Vec::with_capacity(urls.len());
        let mut sha = String::new();
        let mut memory_at_start = 0;
        for url in &urls {
            let (c, script, memory) =
                prepare_node(url, &prefix, timeout, attach || redis.group.is_some())?;
            sha = script;
            memory_at_start += memory;
            control.push(Some(c));
        }
        let clock_key = format!("{prefix}{{g}}:clock");
        let shared = Shared {
            connections: redis.connections,
            clock_key,
            prefix,
            urls,
            slots,
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
                },
                frozen: None,
            }),
            memory_at_start,
            // A group run's keys are the whole run's: `socialbench merge`
            // audits them, then deletes them.
            keep_keys: redis.keep_keys || redis.group.is_some(),
            deleted: AtomicBool::new(false),
            group: redis.group.clone(),
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
        }
    }

    /// The figures from `start` to now.
    fn costs_since(&self, start: &Mark) -> RedisStats {
        let end = self.mark();
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
        }
    }

    /// The key prefix this engine owns.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The nodes it talks to (one URL per cluster master).
    pub fn nodes(&self) -> &[String] {
        &self.shared.urls
    }

    /// Runs `f` on each node's control connection, reconnecting a node whose
    /// connection failed before; the first error is returned.
    fn with_control<R>(
        &self,
        mut f: impl FnMut(&mut ::redis::Connection) -> Result<R, ::redis::RedisError>,
    ) -> Result<Vec<R>, ServerError> {
        (0..self.shared.urls.len())
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

    fn dump(&self) -> Result<dump::State, ServerError> {
        let prefix = self.shared.prefix.clone();
        let mut state = dump::State::default();
        self.with_control(|c| dump::read(c, &prefix, &mut state))?;
        Ok(state)
    }

    /// The key `<prefix>{g}:<what>` of the group run's coordination, and the
    /// node that serves it.
    fn group_key(&self, what: &str) -> (String, usize) {
        let key = format!("{}{{g}}:{what}", self.shared.prefix);
        let node = self.shared.conn_of(key.as_bytes()) / self.shared.connections;
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
        let url = &self.shared.urls[node];
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
        let nodes = self
            .shared
            .urls
            .iter()
            .flat_map(|u| std::iter::repeat_n(u, self.shared.connections))
            .map(|u| Node::open(u, self.shared.timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let counters = Arc::new(Counters::default());
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&counters));
        Ok(RedisSession::new(Arc::clone(&self.shared), counters, nodes))
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
            redis: Some(self.costs()),
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

    /// [`RedisStats`] start now (the load phase is over).
    fn start_window(&self, _at: std::time::Instant) {
        let start = self.mark();
        let mut costs = self.costs.lock().unwrap_or_else(|e| e.into_inner());
        *costs = CostSpan {
            start,
            frozen: None,
        };
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
        self.shutdown();
    }
}
