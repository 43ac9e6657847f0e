//! The `redis` engine against real servers: every test here starts its own
//! `redis-server` (or a 3-node cluster) on free loopback ports and talks to it.
//! Without `redis-server` on PATH they are ignored with the reason (see
//! engines/build.rs); with `SOCIALBENCH_REQUIRE_REDIS=1` (CI) a missing server
//! is a failure.
//!
//! Size knobs: `SOCIALBENCH_REDIS_DIFF_OPS` (default 20,000 ops per
//! differential run), `SOCIALBENCH_REDIS_CONC_OPS` (default 3,000 ops per client).
#![cfg(feature = "redis")]

mod common;
mod redis_server;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{
    OpGen, Reference, closed_loop, env_usize, hammer_hot_communities, replay_op_by_op,
    serial_reference,
};
use redis_server::{RedisCluster, RedisServer};
use socialbench_engines::redis::RedisEngine;
use socialbench_engines::*;

const NO_SERVER: &str = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests";

#[test]
fn redis_server_is_on_path_when_required() {
    if std::env::var("SOCIALBENCH_REQUIRE_REDIS").as_deref() != Ok("1") {
        return;
    }
    let runs = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(runs, "SOCIALBENCH_REQUIRE_REDIS=1 but {NO_SERVER}");
    // Found now but not when the tests were built: they would all be ignored.
    let built_with_server = cfg!(redis_server);
    assert!(
        built_with_server,
        "redis-server is on PATH but the tests were built without it (so ignored): \
         rebuild them (touch engines/build.rs)"
    );
}

fn engine(target: RedisTarget, prefix: Option<&str>) -> Result<RedisEngine, EngineError> {
    engine_with(target, prefix, 1)
}

/// An engine whose sessions open `connections` connections to each node.
fn engine_with(
    target: RedisTarget,
    prefix: Option<&str>,
    connections: usize,
) -> Result<RedisEngine, EngineError> {
    let mut c = RedisConfig::new(target);
    c.prefix = prefix.map(str::to_string);
    c.connections = connections;
    c.timeout = Duration::from_secs(3);
    RedisEngine::new(&EngineConfig {
        redis: Some(c),
        ..EngineConfig::default()
    })
}

fn server_engine(s: &RedisServer) -> RedisEngine {
    engine(RedisTarget::Server(s.url()), None).expect("redis engine")
}

// ---- differential ----------------------------------------------------------

/// The engines' differential sequence (same generator and seed), shorter.
fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let n = env_usize("SOCIALBENCH_REDIS_DIFF_OPS", 20_000);
        let reference = serial_reference(n);
        let mut kinds: Vec<OpKind> = reference.ops.iter().map(Op::kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds, OpKind::ALL.to_vec(), "every op kind is exercised");
        let errors = reference.replies.iter().filter(|r| r.is_err()).count();
        assert!(errors > n / 50, "invalid ops are exercised");
        reference
    })
}

fn replays_like_serial(engine: &RedisEngine, label: &str) {
    let reference = reference();
    let mut session = engine.session().expect("session");
    replay_op_by_op(&mut session, reference, label);
    engine.quiesce();
    server_calls_are_counted(engine, reference, label);
    assert_eq!(engine.digest(), reference.digest, "{label}: final digest");
    if let Err(e) = engine.audit().check(&reference.tally) {
        panic!("{label}: {e}");
    }
    let stats = engine.stats();
    assert_eq!(stats.counts, reference.counts, "{label}: entity counts");
    assert!(stats.bytes.total() > 0, "{label}: used_memory grew");
}

/// The engine's count of server calls per op kind adds up to the servers'
/// own (`INFO commandstats`) and every op is counted once under its kind.
fn server_calls_are_counted(engine: &RedisEngine, reference: &Reference, label: &str) {
    let costs = engine
        .stats()
        .redis
        .expect("the redis engine reports its costs");
    let by_kind = |kind: OpKind| {
        costs
            .kinds
            .iter()
            .find(|k| k.kind == kind.name())
            .cloned()
            .unwrap_or_default()
    };
    for kind in OpKind::ALL {
        let ops = reference.ops.iter().filter(|o| o.kind() == kind).count() as u64;
        assert_eq!(
            by_kind(kind).ops,
            ops,
            "{label}: {} ops counted",
            kind.name()
        );
    }
    let counted: u64 = costs.kinds.iter().map(RedisKindCost::calls).sum();
    assert_eq!(
        counted, costs.server_calls,
        "{label}: the sessions' count of server calls against the servers' ({:?})",
        costs.commands
    );
    // A home feed: its subscriptions script, then one read of each
    // subscribed community's index and nothing else (the members are the
    // summaries): at most 2 + 64 commands, 1 + the subscriptions.
    let feeds = reference
        .ops
        .iter()
        .filter(|o| matches!(o, Op::GetHomeFeed { .. }))
        .count() as u64;
    let home = by_kind(OpKind::GetHomeFeed);
    assert!(feeds > 100, "{label}: home feeds are exercised");
    assert!(
        home.commands >= feeds && home.commands < feeds * 64,
        "{label}: {home:?} for {feeds} home feeds"
    );
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn redis_server_replies_like_serial_op_by_op() {
    let server = RedisServer::start();
    let e = server_engine(&server);
    replays_like_serial(&e, "redis");
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn redis_cluster_replies_like_serial_op_by_op() {
    let cluster = RedisCluster::start();
    // Two connections per node: a key group's commands keep to one of them.
    let e = engine_with(RedisTarget::Cluster(cluster.seeds()), None, 2).expect("cluster engine");
    assert_eq!(e.nodes().len(), 3, "the masters");
    replays_like_serial(&e, "redis cluster");
    // The state really is spread: every master holds some of the run's keys.
    for n in &cluster.nodes {
        match n.query(&["DBSIZE"]) {
            Ok(::redis::Value::Int(k)) => assert!(k > 0, "node {} holds no key", n.port),
            other => panic!("DBSIZE: {other:?}"),
        }
    }
}

// ---- concurrency -----------------------------------------------------------

/// Several sessions with many ops in flight on the same hot communities and
/// posts; then the audit equals the clients' tallies.
fn hammer(engine: &RedisEngine, label: &str) {
    let ops = env_usize("SOCIALBENCH_REDIS_CONC_OPS", 3_000);
    let (mut tally, _, runs) = hammer_hot_communities(engine, ops, label);
    for run in &runs {
        assert_eq!(run.replies as usize, ops, "{label}: every op answered once");
        assert_eq!(run.faults, 0, "{label}: no engine fault");
        tally.add(&run.tally);
    }
    assert!(tally.joins > 30 && tally.leaves > 10, "{label}: {tally:?}");
    assert!(
        tally.posts > 50 && tally.comments > 30,
        "{label}: {tally:?}"
    );
    engine.quiesce();
    if let Err(e) = engine.audit().check(&tally) {
        panic!("{label}: {e}");
    }
    let stats = engine.stats();
    assert_eq!(stats.counts.posts, tally.posts, "{label}: stats agree");
    assert_eq!(stats.pending_follow_ups, 0);
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn redis_server_loses_and_duplicates_nothing_under_concurrent_clients() {
    let server = RedisServer::start();
    hammer(&server_engine(&server), "redis");
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn redis_cluster_loses_and_duplicates_nothing_under_concurrent_clients() {
    let cluster = RedisCluster::start();
    // Several connections per node, read oldest command first.
    let e = engine_with(RedisTarget::Cluster(cluster.seeds()), None, 3).expect("cluster engine");
    hammer(&e, "redis cluster, 3 connections per node");
}

// ---- key space -------------------------------------------------------------

fn keys(server: &RedisServer, pattern: &str) -> Vec<String> {
    match server.query(&["KEYS", pattern]) {
        Ok(::redis::Value::Array(v)) => v
            .into_iter()
            .map(|k| match k {
                ::redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("key {other:?}"),
            })
            .collect(),
        other => panic!("KEYS: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn engines_keep_to_their_own_prefix_and_refuse_a_used_one() {
    let server = RedisServer::start();
    server
        .query(&["SET", "someone:else", "1"])
        .expect("foreign key");
    let url = RedisTarget::Server(server.url());
    let a = engine(url.clone(), Some("sb:test-a:")).expect("engine a");
    let mut s = a.session().expect("session");
    for op in [
        Op::Register { user: UserId(1) },
        Op::CreateCommunity {
            creator: UserId(1),
            community: CommunityId(3),
        },
    ] {
        assert_eq!(s.call(op), Ok(Reply::Done));
    }
    let digest_a = a.digest();
    let keys_a = keys(&server, "sb:test-a:*");
    assert!(!keys_a.is_empty());

    // A used prefix is refused, with a message naming it.
    match engine(url.clone(), Some("sb:test-a:")) {
        Err(EngineError::Config { message, .. }) => {
            assert!(message.contains("sb:test-a:"), "{message}")
        }
        other => panic!("a used prefix must be refused: {other:?}"),
    }

    // Another engine on the same server works beside it and leaves it alone.
    let b = engine(url, Some("sb:test-b:")).expect("engine b");
    let mut t = b.session().expect("session");
    assert_eq!(t.call(Op::Register { user: UserId(1) }), Ok(Reply::Done));
    assert_eq!(
        t.call(Op::Register { user: UserId(2) }),
        Ok(Reply::Done),
        "b's users are its own"
    );
    assert_eq!(
        s.call(Op::Register { user: UserId(1) }),
        Err(ApiError::AlreadyExists)
    );
    drop(t);
    b.shutdown();
    assert!(
        keys(&server, "sb:test-b:*").is_empty(),
        "b deletes its keys"
    );
    assert_eq!(keys(&server, "sb:test-a:*").len(), keys_a.len());
    assert_eq!(a.digest(), digest_a, "b's run left a's state alone");
    drop(s);
    drop(a);
    assert!(
        keys(&server, "sb:test-a:*").is_empty(),
        "a deletes its keys"
    );
    assert_eq!(keys(&server, "*"), vec!["someone:else".to_string()]);
}

// ---- faults ----------------------------------------------------------------

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_killed_server_answers_ops_in_flight_with_faults_and_stops_submits() {
    let mut server = RedisServer::start();
    let e = server_engine(&server);
    let mut s = e.session().expect("session");
    let mut generator = OpGen::new(7, 0, 50, (0, 8), 0.0);
    closed_loop(&mut s, &mut generator, 500, 8);
    for tag in 0..32 {
        s.submit(tag, generator.next_op()).expect("submit");
    }
    server.kill();
    let started = Instant::now();
    let mut answered = 0;
    let mut faults = 0;
    while s.outstanding() > 0 {
        let n = s.poll(true, |_, r| {
            answered += 1;
            faults += u32::from(r == Err(ApiError::EngineFault));
        });
        assert!(n > 0, "poll answered nothing with ops outstanding");
    }
    assert_eq!(answered, 32, "every op in flight is answered");
    assert!(faults > 0, "ops on the dead connection are faults");
    assert_eq!(
        s.submit(99, Op::GetProfile { user: UserId(0) }),
        Err(EngineError::Shutdown),
        "a broken session refuses submits"
    );
    // Bounded by the read timeout (3 s), never a hang.
    assert!(started.elapsed() < Duration::from_secs(10));
    // Reading the state fails cleanly too.
    assert_eq!(e.audit(), Audit::default());
}

/// Submits `ops` pipelined and returns every reply, by tag (the op's index).
fn pipelined(s: &mut impl Session, ops: &[Op]) -> Vec<Response> {
    for (tag, op) in ops.iter().enumerate() {
        s.submit(tag as u64, op.clone()).expect("submit");
    }
    let mut replies: Vec<Option<Response>> = vec![None; ops.len()];
    while s.outstanding() > 0 {
        let n = s.poll(true, |tag, r| {
            let slot = &mut replies[tag as usize];
            assert!(slot.is_none(), "op {tag} answered twice");
            *slot = Some(r);
        });
        assert!(n > 0, "poll answered nothing with ops outstanding");
    }
    replies.into_iter().map(|r| r.expect("answered")).collect()
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn error_replies_fault_their_own_ops_and_leave_the_session_in_step() {
    let server = RedisServer::start();
    let e = server_engine(&server);
    let mut s = e.session().expect("session");
    let register = |u| Op::Register { user: UserId(u) };
    let profile = |u| Op::GetProfile { user: UserId(u) };
    assert_eq!(s.call(register(1)), Ok(Reply::Done));
    // Every EVALSHA now gets `NOSCRIPT`: each pipelined op is answered with
    // a fault, and none takes effect.
    server.query(&["SCRIPT", "FLUSH"]).expect("SCRIPT FLUSH");
    let refused = pipelined(&mut s, &[register(2), profile(1), register(3)]);
    assert_eq!(refused, vec![Err(ApiError::EngineFault); 3]);
    assert_eq!(e.stats().faults, 3);
    // The session still works, and its replies still pair with their ops.
    let script = include_str!("../src/redis/ops.lua");
    server
        .query(&["SCRIPT", "LOAD", script])
        .expect("SCRIPT LOAD");
    let replies = pipelined(&mut s, &[register(2), profile(1), register(1), register(3)]);
    assert_eq!(
        replies[0],
        Ok(Reply::Done),
        "the refused register had no effect"
    );
    assert!(
        matches!(replies[1], Ok(Reply::Profile(_))),
        "{:?}",
        replies[1]
    );
    assert_eq!(replies[2], Err(ApiError::AlreadyExists));
    assert_eq!(replies[3], Ok(Reply::Done));
}

/// A stand-in for Redis on a free loopback port: it answers the engine's
/// setup (handshake, SCAN, SCRIPT LOAD, INFO) like a server and every script
/// call with bytes that are not RESP. Serves the engine's control connection
/// and one session's, then stops listening.
fn garbling_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2).flatten() {
            std::thread::spawn(move || serve_garbled(stream));
        }
    });
    port
}

/// Answers one connection's commands until the client closes it.
fn serve_garbled(stream: std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{BufRead, Read, Write};
    let mut out = stream.try_clone()?;
    let mut input = std::io::BufReader::new(stream);
    let mut line = String::new();
    let mut header = |input: &mut std::io::BufReader<_>, mark: char| -> std::io::Result<usize> {
        line.clear();
        input.read_line(&mut line)?;
        line.trim()
            .trim_start_matches(mark)
            .parse()
            .map_err(std::io::Error::other)
    };
    loop {
        let mut name = Vec::new();
        for i in 0..header(&mut input, '*')? {
            let mut arg = vec![0; header(&mut input, '$')? + 2];
            input.read_exact(&mut arg)?;
            if i == 0 {
                name = arg[..arg.len() - 2].to_ascii_uppercase();
            }
        }
        let info = "used_memory:0";
        let reply = match name.as_slice() {
            b"SCAN" => "*2\r\n$1\r\n0\r\n*0\r\n".to_string(),
            b"SCRIPT" => format!("$40\r\n{}\r\n", "0".repeat(40)),
            b"INFO" => format!("${}\r\n{info}\r\n", info.len()),
            b"EVALSHA" => "@ not RESP\r\n".to_string(),
            _ => "+OK\r\n".to_string(),
        };
        out.write_all(reply.as_bytes())?;
    }
}

#[test]
fn a_reply_that_does_not_parse_ends_the_session_rather_than_shifting_replies() {
    let port = garbling_server();
    let e = engine(
        RedisTarget::Server(format!("redis://127.0.0.1:{port}")),
        None,
    )
    .expect("an engine against the stand-in");
    let mut s = e.session().expect("session");
    let ops: Vec<Op> = (0..4).map(|u| Op::GetProfile { user: UserId(u) }).collect();
    assert_eq!(pipelined(&mut s, &ops), vec![Err(ApiError::EngineFault); 4]);
    assert_eq!(
        s.submit(9, Op::GetProfile { user: UserId(0) }),
        Err(EngineError::Shutdown),
        "replies can no longer be paired with ops: the session stops"
    );
}

#[test]
fn without_a_redis_configuration_the_engine_says_which_flags_it_needs() {
    match RedisEngine::new(&EngineConfig::default()) {
        Err(EngineError::Config { message, source }) => {
            assert!(message.contains("--redis-url"), "{message}");
            assert!(source.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connections_per_node_outside_their_bounds_are_a_config_error() {
    for n in [0, RedisConfig::MAX_CONNECTIONS + 1] {
        // Refused before anything connects (nothing listens there).
        match engine_with(RedisTarget::Server("redis://127.0.0.1:1".into()), None, n) {
            Err(EngineError::Config { message, .. }) => {
                assert!(message.contains("connections per node"), "{message}")
            }
            other => panic!("{n} connections: {other:?}"),
        }
    }
}

#[test]
fn a_refused_connection_or_a_bad_url_is_a_config_error() {
    // A port nothing listens on: bind, read it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    for target in [
        RedisTarget::Server(format!("redis://127.0.0.1:{port}")),
        RedisTarget::Server("not a url".into()),
        RedisTarget::Cluster(vec![format!("127.0.0.1:{port}")]),
    ] {
        match engine(target.clone(), None) {
            Err(e @ EngineError::Config { .. }) => {
                let line = e.detail();
                assert!(!line.contains('\n'), "one line: {line}");
                // The client's error is kept as the source, not only as text.
                assert!(std::error::Error::source(&e).is_some(), "{e:?}");
            }
            other => panic!("{target:?}: {other:?}"),
        }
    }
}

// ---- failover --------------------------------------------------------------

/// One failover under load: a cluster of 3 masters with a replica each
/// (`cluster-node-timeout` 500 ms); the `kill-primary` fault kills the
/// master of slot 0 200 ms into the window while four clients have ops in
/// flight, and they go on until the new master has answered an op. Returns
/// the engine's failover figures, the clients' runs and the setup's tally.
fn kill_a_master_under_load(
    wait: Option<u32>,
) -> (
    RedisFailoverStats,
    Vec<common::ClientRun>,
    WriteTally,
    Audit,
) {
    let cluster = RedisCluster::with_replicas(500);
    let mut c = RedisConfig::new(RedisTarget::Cluster(cluster.seeds()));
    c.timeout = Duration::from_secs(3);
    c.wait = wait;
    let faults = Faults {
        kill_primary: Some(Crash {
            partition: 0,
            at: Duration::from_millis(200),
            every: None,
        }),
        ..Faults::default()
    };
    let engine = RedisEngine::new(&EngineConfig {
        redis: Some(c),
        faults,
        ..EngineConfig::default()
    })
    .expect("cluster engine");
    let served = std::sync::atomic::AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (tally, runs) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while Instant::now() < deadline {
                let f = engine.stats().redis.and_then(|r| r.failover);
                if f.is_some_and(|f| f.events.iter().any(|e| e.first_op_us.is_some())) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            served.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let (tally, _, runs) = common::hammer_until(
            &engine,
            "redis failover",
            || engine.start_window(Instant::now()),
            || served.load(std::sync::atomic::Ordering::Relaxed),
        );
        watcher.join().expect("watcher");
        (tally, runs)
    });
    engine.quiesce();
    let f = engine
        .stats()
        .redis
        .and_then(|r| r.failover)
        .expect("failover figures");
    let audit = engine.audit();
    (f, runs, tally, audit)
}

/// The sessions follow a Redis Cluster failover: the killed master's
/// replica takes its slots, ops meanwhile are answered `Unavailable` (none
/// with an engine fault), every op is answered, and the audit misses no
/// more than Redis's asynchronous replication can lose while the entities
/// beyond the acknowledged ones are no more than the writes of unknown
/// outcome. With `--redis-wait 1` the same, and the writes to the new
/// master (which has no replica left) come back short.
#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn redis_cluster_failover_is_followed_and_loses_only_what_it_reports() {
    for wait in [None, Some(1)] {
        let label = format!("WAIT {wait:?}");
        let (f, runs, mut tally, audit) = kill_a_master_under_load(wait);
        let mut faults = 0;
        for r in &runs {
            tally.add(&r.tally);
            faults += r.faults;
        }
        assert_eq!(faults, 0, "{label}: no engine fault: {f:?}");
        assert_eq!((f.kills, f.replicas), (1, 1), "{label}: {f:?}");
        assert!(f.failovers >= 1 && f.unavailable_ops >= 1, "{label}: {f:?}");
        let e = f
            .events
            .iter()
            .find(|e| e.killed_us.is_some())
            .unwrap_or_else(|| panic!("{label}: no event of the kill: {f:?}"));
        assert_eq!(e.shard, 0, "{label}: {f:?}");
        let killed = e.killed_us.unwrap();
        assert!(
            killed >= 200_000 && killed <= e.declared_us && e.declared_us <= e.serving_us,
            "{label}: {e:?}"
        );
        assert!(
            e.first_op_us.is_some_and(|t| t >= e.serving_us),
            "{label}: {e:?}"
        );
        assert_eq!(f.wait_replicas, wait, "{label}");
        if wait.is_some() {
            assert!(f.wait_short >= 1, "{label}: {f:?}");
        }
        let (lost, extra) = match audit.check(&tally) {
            Ok(()) => (0, 0),
            Err(failure) => (
                failure
                    .mismatches
                    .iter()
                    .filter_map(Mismatch::lost_writes)
                    .map(|m| m.1)
                    .sum::<u128>(),
                failure
                    .mismatches
                    .iter()
                    .filter_map(Mismatch::extra_writes)
                    .map(|m| m.1)
                    .sum(),
            ),
        };
        assert!(
            extra <= u128::from(f.unknown_outcome),
            "{label}: {extra} writes applied beyond the acknowledged ones, {} of unknown outcome: {f:?}",
            f.unknown_outcome
        );
        eprintln!(
            "{label}: detection {} ms, handover {} ms, first op {} ms after the kill; {} unavailable, {} unknown, {} short; audit: {lost} missing or ambiguous (memberships, votes), {extra} extra",
            (e.declared_us - killed) / 1000,
            (e.serving_us - e.declared_us) / 1000,
            (e.first_op_us.unwrap() - killed) / 1000,
            f.unavailable_ops,
            f.unknown_outcome,
            f.wait_short
        );
    }
}
