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
use redis_server::RedisServer;

/// Group `k` of `n` against `url` under `prefix`, with `extra` flags.
fn group(out: &Path, url: &str, prefix: &str, k: usize, n: usize, extra: &[&str]) -> Output {
    let g = format!("{k}/{n}");
    let id = format!("g{k}");
    let mut args = vec![
        "--engine",
        "redis",
        "--redis-url",
        url,
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
