//! The `redis` engine through the binary: a run against a real server passes
//! its audit and cleans up its keys; a missing, wrong or refused server is
//! exit 2 with one line; a server killed mid-run stops the run with a clear
//! error (exit 1) and what was measured is written. Each test starts its own
//! `redis-server` on a free loopback port; without one on PATH they are
//! ignored with the reason (engines/build.rs sets `cfg(redis_server)`). A
//! cluster with replicas whose master is killed fails over, and the run
//! says what it cost.
#![cfg(feature = "redis")]

mod common;
#[path = "../engines/tests/redis_server/mod.rs"]
mod redis_server;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use redis_server::{RedisCluster, RedisServer};

fn first_error_line(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("")
        .to_string()
}

#[test]
fn redis_without_a_server_flag_says_what_it_needs() {
    let out = temp_dir("redis-noflag");
    let o = run(&out, "r", &["--engine", "redis"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(first_error_line(&o).contains("--redis-url"), "{}", show(&o));
}

#[test]
fn a_refused_connection_or_bad_url_is_exit_2_with_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = temp_dir("redis-refused");
    let refused = format!("redis://127.0.0.1:{port}");
    let seed = format!("127.0.0.1:{port}");
    for flags in [
        ["--redis-url", refused.as_str()],
        ["--redis-url", "no-such-scheme://x"],
        ["--redis-cluster", seed.as_str()],
    ] {
        let mut args = vec!["--engine", "redis"];
        args.extend_from_slice(&flags);
        let o = run(&out, "r", &args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
    }
}

fn db_keys(server: &RedisServer) -> i64 {
    match server.query(&["DBSIZE"]) {
        Ok(redis::Value::Int(n)) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_redis_run_passes_its_audit_writes_outputs_and_removes_its_keys() {
    let server = RedisServer::start();
    server
        .query(&["SET", "not:ours", "1"])
        .expect("foreign key");
    let out = temp_dir("redis-run");
    let url = server.url();
    let o = run(
        &out,
        "r",
        &["--engine", "redis", "--redis-url", &url, "--ops", "3000"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dir = out.join("r");
    let json = run_json(&dir);
    assert_eq!(json["summary"]["engine"], "redis", "{json}");
    assert_eq!(json["summary"]["audit"]["verdict"], "pass", "{json}");
    let acked_posts = json["summary"]["audit"]["tally"]["posts"].as_u64();
    assert!(acked_posts.is_some_and(|p| p > 0), "{json}");
    assert!(
        json["summary"]["ops"].as_u64().is_some_and(|n| n >= 3_000),
        "{json}"
    );
    assert!(
        csv_rows(&dir.join("summary.csv"))
            .iter()
            .any(|r| r["kind"] == "all")
    );
    // Its own keys are gone; the foreign key is untouched.
    assert_eq!(db_keys(&server), 1, "only the foreign key is left");
    assert_eq!(
        server.query(&["GET", "not:ours"]),
        Ok(redis::Value::BulkString(b"1".to_vec()))
    );
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_server_killed_mid_run_stops_the_run_with_a_clear_error_and_keeps_the_results() {
    let mut server = RedisServer::start();
    let out = temp_dir("redis-kill");
    let url = server.url();
    let child = Command::new(env!("CARGO_BIN_EXE_socialbench"))
        .args([
            "run",
            "--out",
            out.to_str().expect("utf-8"),
            "--run-id",
            "k",
        ])
        .args(QUICK)
        .args([
            "--engine",
            "redis",
            "--redis-url",
            &url,
            "--duration",
            "60s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn socialbench");
    // Wait until the measured phase has booked its first interval (the
    // plain progress line), so there is something to keep.
    let mut child = child;
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).expect("read stderr") > 0 {
        seen.push_str(&line);
        if line.contains("interval   1") {
            break;
        }
        line.clear();
    }
    assert!(
        line.contains("interval   1"),
        "the run never got under way:\n{seen}"
    );
    let killed_at = Instant::now();
    server.kill();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).expect("read stderr");
    let status = child.wait().expect("socialbench exits");
    // It stopped because of the kill, long before its 60 s.
    assert!(killed_at.elapsed() < Duration::from_secs(30), "{rest}");
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    assert!(rest.contains("lost the connection"), "{rest}");
    let first_error = rest.lines().find(|l| l.starts_with("error")).unwrap_or("");
    assert!(first_error.contains("stopped serving mid-run"), "{rest}");
    let json = run_json(&out.join("k"));
    assert_eq!(json["summary"]["stopped_by"], "EngineShutdown", "{json}");
    assert!(out.join("k").join("summary.csv").is_file());
}

/// `--fault kill-primary` on a Redis Cluster with a replica per master
/// (`cluster-node-timeout` 500 ms): the master of slot 0 is killed 300 ms
/// into the window, its replica takes over, and the run ends with exit 0
/// and an audit of `pass` or `lost` (Redis replicates asynchronously,
/// `WAIT` or not); the failover is in the table, in run.json and as events
/// in timeseries.csv. A bad `--redis-wait` or kill is exit 2.
#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_killed_cluster_master_fails_over_and_the_run_reports_it() {
    let cluster = RedisCluster::with_replicas(500);
    let seeds = cluster.seeds().join(",");
    let out = temp_dir("redis-failover");
    for (bad, says) in [
        (&["--redis-wait", "2"][..], "at least 2 replica(s)"),
        (
            &["--fault", "kill-primary:shard=3,at=100ms"][..],
            "has 3 masters",
        ),
        (
            &["--fault", "kill-primary:shard=0,at=100ms,every=1s"][..],
            "every=",
        ),
    ] {
        let mut args = vec!["--engine", "redis", "--redis-cluster", &seeds];
        args.extend_from_slice(bad);
        let o = run(&out, "bad", &args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", show(&o));
        assert!(first_error_line(&o).contains(says), "{bad:?}: {}", show(&o));
    }
    let o = run(
        &out,
        "kill",
        &[
            "--engine",
            "redis",
            "--redis-cluster",
            &seeds,
            "--fault",
            "kill-primary:shard=0,at=300ms",
            "--redis-wait",
            "1",
            "--duration",
            "4s",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("redis failover: 1 replica(s) per master, cluster-node-timeout 500 ms, WAIT 1 after each write; 1 kill(s)"),
        "{table}"
    );
    assert!(table.contains("shard 0: killed at"), "{table}");
    let j = run_json(&out.join("kill"));
    let verdict = j["summary"]["audit"]["verdict"].as_str().unwrap_or("");
    assert!(
        ["pass", "lost"].contains(&verdict),
        "{verdict}: {}",
        show(&o)
    );
    // A loaded machine may fail another master over too (no kill): the
    // kill's failover is the event with a kill time.
    let f = &j["summary"]["engine_stats"]["redis"]["failover"];
    assert!(f["failovers"].as_u64() >= Some(1), "{f}");
    let events = f["events"].as_array().expect("failover events");
    let event = events
        .iter()
        .find(|e| !e["killed_us"].is_null())
        .unwrap_or_else(|| panic!("no event of the kill: {f}"));
    assert_eq!(event["shard"], 0, "{f}");
    let (killed, serving) = (event["killed_us"].as_i64(), event["serving_us"].as_i64());
    assert!(killed.unwrap() >= 300_000 && serving > killed, "{f}");
    assert!(event["first_op_us"].as_i64() > serving, "{f}");
    assert_failover_events(&out.join("kill"));
}
