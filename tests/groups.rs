//! Runs loaded from several processes (`run --group K/N`) against a real
//! Redis server: the groups split the users and the load, meet at the
//! server's barriers and defer the audit; a group whose peers never come,
//! groups of different settings, a group number taken twice and a prefix
//! holding other keys are refused with one line (exit 2). Each test starts
//! its own `redis-server`; without one on PATH they are ignored with the
//! reason (engines/build.rs sets `cfg(redis_server)`).
#![cfg(feature = "redis")]

mod common;
#[path = "../engines/tests/redis_server/mod.rs"]
mod redis_server;

use std::path::Path;
use std::process::Output;

use common::*;
use redis_server::{RedisCluster, RedisServer};

/// The server flag for `url`: `--redis-cluster SEEDS` for `cluster:SEEDS`.
fn target(url: &str) -> [&str; 2] {
    match url.strip_prefix("cluster:") {
        Some(seeds) => ["--redis-cluster", seeds],
        None => ["--redis-url", url],
    }
}

/// Group `k` of `n` against `url` (a server's URL, or a cluster's seeds
/// after `cluster:`) under `prefix`, with `extra` flags.
fn group(out: &Path, url: &str, prefix: &str, k: usize, n: usize, extra: &[&str]) -> Output {
    let g = format!("{k}/{n}");
    let id = format!("g{k}");
    let [flag, target] = target(url);
    let mut args = vec![
        "--engine",
        "redis",
        flag,
        target,
        "--redis-prefix",
        prefix,
        "--group",
        &g,
        "--threads",
        "1",
    ];
    if !extra.contains(&"--group-timeout") {
        args.extend_from_slice(&["--group-timeout", "20s"]);
    }
    args.extend_from_slice(extra);
    run(out, &id, &args)
}

/// Groups 1..=n started together, with `extra(k)` flags each.
fn groups(
    out: &Path,
    url: &str,
    prefix: &str,
    n: usize,
    extra: fn(usize) -> Vec<&'static str>,
) -> Vec<Output> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..=n)
            .map(|k| s.spawn(move || group(out, url, prefix, k, n, &extra(k))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("group"))
            .collect()
    })
}

fn error_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("")
        .to_string()
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn two_groups_split_the_users_and_the_load_and_leave_the_audit_to_merge() {
    let server = RedisServer::start();
    let out = temp_dir("groups-two");
    let outs = groups(&out, &server.url(), "sb:two:", 2, |_| vec!["--ops", "2000"]);
    let mut users = 0;
    for (k, o) in (1..=2).zip(&outs) {
        assert_eq!(o.status.code(), Some(0), "group {k}: {}", show(o));
        let json = run_json(&out.join(format!("g{k}")));
        let s = &json["summary"];
        assert_eq!(s["group"]["k"], k, "{json}");
        assert_eq!(s["group"]["n"], 2, "{json}");
        assert_eq!(s["group"]["prefix"], "sb:two:", "{json}");
        assert_eq!(s["audit"]["verdict"], "n/a", "deferred to merge: {json}");
        // Half the users each: the slices are disjoint and cover them all.
        let registered = s["audit"]["tally"]["users"].as_u64().expect("users");
        assert_eq!(registered, 1000, "group {k}: {json}");
        users += registered;
    }
    assert_eq!(users, 2000);
    // The keys stay for the merge to audit.
    match server.query(&["EXISTS", "sb:two:{g}:group"]) {
        Ok(redis::Value::Int(1)) => {}
        other => panic!("the group key: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_group_whose_peers_never_come_gives_up_with_a_clear_error() {
    let server = RedisServer::start();
    let out = temp_dir("groups-alone");
    let o = group(
        &out,
        &server.url(),
        "sb:alone:",
        1,
        2,
        &["--group-timeout", "500ms"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let line = error_line(&o);
    assert!(
        line.contains("group 1/2") && line.contains("1 of 2 groups arrived"),
        "{line}"
    );
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn groups_of_other_settings_a_number_taken_twice_or_a_used_prefix_are_refused() {
    let server = RedisServer::start();
    let url = server.url();
    let out = temp_dir("groups-refused");
    // Another seed: whichever comes second finds other settings; the first
    // then waits for a peer that never comes.
    let outs = groups(&out, &url, "sb:seeds:", 2, |k| {
        vec![
            "--seed",
            if k == 1 { "1" } else { "2" },
            "--group-timeout",
            "2s",
        ]
    });
    let lines: Vec<String> = outs.iter().map(error_line).collect();
    assert!(outs.iter().all(|o| o.status.code() == Some(2)), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("other settings")),
        "{lines:?}"
    );
    // The same group number twice.
    let outs = groups(&out, &url, "sb:twice:", 2, |_| {
        vec!["--group-timeout", "2s"]
    });
    assert!(outs.iter().all(|o| o.status.code() == Some(0)), "first run");
    server
        .query(&["SREM", "sb:twice:{g}:members", "2"])
        .expect("SREM");
    let o = group(&out, &url, "sb:twice:", 1, 2, &["--group-timeout", "2s"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(error_line(&o).contains("already joined"), "{}", show(&o));
    // A prefix holding keys of something else.
    server.query(&["SET", "sb:used:x", "1"]).expect("SET");
    let o = group(&out, &url, "sb:used:", 1, 1, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(error_line(&o).contains("already exist"), "{}", show(&o));
}

/// `socialbench merge OUT g1 .. gn` against `url` (as [`group`] takes it).
fn merge(out: &Path, url: &str, n: usize) -> Output {
    let [flag, target] = target(url);
    let merged = out.join("merged");
    let dirs: Vec<String> = (1..=n)
        .map(|k| out.join(format!("g{k}")).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["merge", merged.to_str().expect("utf-8"), flag, target];
    args.extend(dirs.iter().map(String::as_str));
    socialbench(&args)
}

/// Two groups, then their merge: counts add up, the audit of the store
/// against the sum of the tallies passes, and the plots are drawn.
fn two_groups_then_merge(url: &str, label: &str) {
    let out = temp_dir(&format!("groups-merge-{label}"));
    let outs = groups(&out, url, "sb:m:", 2, |_| vec!["--ops", "3000"]);
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{label}: {}", show(o));
    }
    let o = merge(&out, url, 2);
    assert_eq!(o.status.code(), Some(0), "{label}: {}", show(&o));
    let merged = run_json(&out.join("merged"));
    let m = &merged["summary"];
    assert_eq!(m["audit"]["verdict"], "pass", "{label}: {merged}");
    assert_eq!(m["audit"]["tally"]["users"], 2000, "{label}: {merged}");
    let part = |k: usize, key: &str| {
        run_json(&out.join(format!("g{k}")))["summary"]["audit"]["tally"][key]
            .as_u64()
            .expect("tally")
    };
    for key in ["posts", "joins", "comments"] {
        assert_eq!(
            m["audit"]["tally"][key].as_u64(),
            Some(part(1, key) + part(2, key)),
            "{label}: {key}"
        );
    }
    // The merged replies are the groups' over their common intervals.
    let ops = |k: usize| run_json(&out.join(format!("g{k}")))["summary"]["ops"].as_u64();
    let (a, b) = (ops(1).expect("ops"), ops(2).expect("ops"));
    let all = csv_rows(&out.join("merged").join("summary.csv"))
        .into_iter()
        .find(|r| r["kind"] == "all")
        .expect("all row");
    let merged_ops: u64 = all["count"].parse().expect("count");
    assert!(
        merged_ops <= a + b && merged_ops * 10 > (a + b) * 9,
        "{label}: {merged_ops} of {a} + {b}"
    );
    assert!(out.join("merged").join("throughput.png").exists());
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn two_groups_merged_add_up_and_pass_the_audit_then_their_keys_go() {
    let server = RedisServer::start();
    two_groups_then_merge(&server.url(), "server");
    match server.query(&["DBSIZE"]) {
        Ok(redis::Value::Int(0)) => {}
        other => panic!("the merge deletes the run's keys: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn two_groups_on_a_cluster_merged_pass_the_audit() {
    let cluster = RedisCluster::start();
    two_groups_then_merge(&format!("cluster:{}", cluster.seeds().join(",")), "cluster");
}

#[test]
#[cfg_attr(
    not(redis_server),
    ignore = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis tests"
)]
fn a_lost_follow_up_fails_the_merged_audit_and_folders_of_no_group_run_are_refused() {
    let server = RedisServer::start();
    let url = server.url();
    let out = temp_dir("groups-lost");
    let outs = groups(&out, &url, "sb:lost:", 2, |_| vec!["--ops", "1000"]);
    assert!(outs.iter().all(|o| o.status.code() == Some(0)));
    // A subscription follow-up that never landed: one of user 7's
    // subscriptions, gone from the store.
    let key = "sb:lost:{u7}:s";
    let field = match server.query(&["HKEYS", key]) {
        Ok(redis::Value::Array(f)) => match f.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("user 7's subscriptions: {other:?}"),
        },
        other => panic!("user 7's subscriptions: {other:?}"),
    };
    server.query(&["HDEL", key, &field]).expect("HDEL");
    // Folders that are not one group run: refused (exit 2) before the store
    // is read.
    let m1 = out.join("m1");
    let g1 = out.join("g1");
    let o = socialbench(&[
        "merge",
        m1.to_str().expect("utf-8"),
        "--redis-url",
        &url,
        g1.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "group 2 missing: {}", show(&o));
    let m2 = out.join("m2");
    let o = socialbench(&[
        "merge",
        m2.to_str().expect("utf-8"),
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "not a run: {}", show(&o));
    // The whole run: the audit finds the lost subscription (exit 1).
    let o = merge(&out, &url, 2);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let merged = run_json(&out.join("merged"));
    assert_eq!(merged["summary"]["audit"]["verdict"], "fail", "{merged}");
}
