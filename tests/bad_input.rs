//! Bad flags and files: a one-line error naming the problem and exit code 2,
//! never a panic or a hang; `--check`; a closed stdout.

mod common;

use common::*;

fn assert_bad(args: &[&str], mentions: &str) {
    let o = socialbench(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
    assert!(
        first.contains(mentions),
        "{args:?}: `{first}` does not mention `{mentions}`\n{err}"
    );
}

#[test]
fn unknown_engine_is_rejected() {
    assert_bad(&["run", "--engine", "quantum"], "quantum");
}

#[test]
fn malformed_duration_and_rate_are_rejected() {
    assert_bad(&["run", "--duration", "10parsecs"], "10parsecs");
    assert_bad(&["run", "--rate", "fast"], "fast");
    assert_bad(&["run", "--rate", "0"], "rate");
    assert_bad(&["run", "--fault", "explode:rate=1"], "explode");
}

#[test]
fn zero_threads_is_rejected() {
    assert_bad(&["run", "--threads", "0"], "at least 1");
}

#[test]
fn unreadable_workload_file_is_rejected() {
    let out = temp_dir("badwl");
    let o = out.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--out",
            o,
            "--workload",
            "/nonexistent/dir/w.toml",
            "--duration",
            "1s",
        ],
        "w.toml",
    );
}

#[test]
fn unwritable_output_folder_is_rejected() {
    let out = temp_dir("ro");
    let file = out.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    // A folder under a regular file cannot be created, whoever we are.
    let o = file.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--engine",
            "null",
            "--out",
            o,
            "--users",
            "100",
            "--duration",
            "1s",
        ],
        "not writable",
    );
}

#[test]
fn serial_engine_with_more_than_one_thread_is_rejected() {
    let out = temp_dir("serial");
    let o = out.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--engine",
            "serial",
            "--threads",
            "2",
            "--out",
            o,
            "--users",
            "100",
        ],
        "--threads 1",
    );
}

#[test]
fn errors_fit_on_one_line() {
    let o = socialbench(&[
        "run",
        "--engine",
        "serial",
        "--threads",
        "3",
        "--users",
        "10",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    assert!(err.lines().count() <= 3, "{err}");
}

/// Runs `args` with a deadline: exit 2, one line on stderr naming `mentions`.
fn assert_refused_quickly(args: &[&str], mentions: &str) {
    let o = socialbench_within(args, std::time::Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains(mentions),
        "{args:?}: `{err}` lacks `{mentions}`"
    );
}

#[test]
fn an_absurd_mailbox_is_refused_at_once() {
    // Once: the actor engine wrote mailbox slots until the machine ran out
    // of memory, printing nothing; at usize::MAX it panicked in crossbeam.
    for m in [
        "100000000000",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        assert_refused_quickly(
            &["run", "--engine", "actor", "--mailbox", m, "--users", "100"],
            m,
        );
    }
}

#[test]
fn every_count_and_size_has_a_bound() {
    for (args, mentions) in [
        (&["run", "--threads", "1025"][..], "1025"),
        (&["run", "--engine", "sharded", "--shards", "1025"], "1025"),
        (
            &["run", "--engine", "striped", "--stripes", "65537"],
            "65537",
        ),
        (&["run", "--inflight", "1048577"], "1048577"),
        (&["run", "--rate", "10", "--max-outstanding", "1e9"], "1e9"),
        (&["run", "--rate", "2G"], "2G"),
        (&["run", "--duration", "8000000s"], "8000000s"),
        (&["run", "--warmup", "1000000000s"], "1000000000s"),
        (&["run", "--interval", "1ns"], "1ns"),
        (
            &["run", "--duration", "2000s", "--interval", "1ms"],
            "intervals",
        ),
        (&["run", "--ops", "1000000000001"], "1000000000001"),
        (
            &["run", "--pin", "0-18446744073709551615"],
            "18446744073709551615",
        ),
        (&["run", "--users", "4G"], "4G"),
        (&["run", "--users", "1073741824"], "users=1073741824"),
        // 1024 client threads with a million in-flight slots each: ~64 GiB.
        (
            &[
                "run",
                "--engine",
                "null",
                "--threads",
                "1024",
                "--rate",
                "10",
                "--max-outstanding",
                "1048576",
            ],
            "--threads 1024",
        ),
        (&["compare", "--passes", "1001"], "1001"),
        (&["sweep", "--repeat", "1001"], "1001"),
        (&["sweep", "--rates", "5G"], "5G"),
        (
            &[
                "sweep",
                "--threads",
                "1,2,3,4,5,6,7,8",
                "--users",
                "1,2,3,4,5,6,7,8,9,10",
                "--repeat",
                "1000",
            ],
            "cells",
        ),
        (&["trace", "--ops", "1000000000001"], "1000000000001"),
        (&["trace", "--users", "1073741824"], "users=1073741824"),
        (&["run", "--workload", "/dev/zero"], "not a regular file"),
    ] {
        let mut with_check = args.to_vec();
        if args[0] != "trace" {
            with_check.push("--check");
        }
        assert_refused_quickly(&with_check, mentions);
    }
}

#[test]
fn a_run_that_would_not_fit_in_memory_is_refused_before_it_starts() {
    // No --check: the real command refuses before building the workload.
    assert_refused_quickly(
        &[
            "run",
            "--engine",
            "serial",
            "--users",
            "1G",
            "--duration",
            "1s",
        ],
        "users=1000000000",
    );
}

#[test]
fn check_validates_without_running_and_says_ok_on_one_line() {
    let out = temp_dir("check");
    let o = out.join("not-yet").join("deeper");
    let o = o.to_str().unwrap();
    for args in [
        &[
            "run", "--check", "--out", o, "--engine", "actor", "--users", "1000",
        ][..],
        &["compare", "--check", "--out", o, "--passes", "6"],
        &[
            "sweep",
            "--check",
            "--out",
            o,
            "--threads",
            "1,2",
            "--rates",
            "50%",
        ],
        &[
            "capacity", "--check", "--out", o, "--engine", "striped", "--slo", "p99=1ms",
        ],
    ] {
        let r = socialbench_within(args, std::time::Duration::from_secs(20));
        assert_eq!(r.status.code(), Some(0), "{args:?}: {}", show(&r));
        let text = String::from_utf8_lossy(&r.stdout);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with(&format!("ok: {} ", args[0])), "{text}");
        assert!(text.contains("MiB"), "{text}");
    }
    // Nothing was created, not even the output folder.
    assert!(!out.join("not-yet").exists());
    // What the real command refuses, --check refuses too.
    assert_refused_quickly(
        &["run", "--check", "--engine", "serial", "--threads", "2"],
        "--threads 1",
    );
    let file = out.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert_refused_quickly(
        &["run", "--check", "--out", file.to_str().unwrap()],
        "not writable",
    );
}

#[test]
fn clap_errors_are_one_line_and_help_is_not_an_error() {
    for args in [
        &["run", "--bogus"][..],
        &["run", "--engine"],
        &["nonsense"],
        &["sweep", "--threads", "1,x"],
        &["run", "--duration", "1s", "--ops", "5"],
    ] {
        let o = socialbench_within(args, std::time::Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("Usage"), "{err}");
    }
    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let o = socialbench_within(args, std::time::Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", show(&o));
        assert!(!o.stdout.is_empty());
    }
}

/// Runs `args` and closes the read end of its stdout after `keep` bytes.
fn with_stdout_closed_after(args: &[&str], keep: usize) -> std::process::Output {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_socialbench"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn socialbench");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = vec![0u8; keep];
    stdout.read_exact(&mut first).expect("the first bytes");
    drop(stdout);
    child.wait_with_output().expect("wait for socialbench")
}

#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    // `socialbench trace ... | head -1`: a million ops, read one line's worth.
    let o = with_stdout_closed_after(&["trace", "--ops", "1000000", "--users", "1000"], 64);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
    let o = with_stdout_closed_after(&["list"], 8);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
}

#[test]
fn a_closed_stdout_does_not_hide_a_failed_audit() {
    // `socialbench run ... | head -0` with every registration lost: the
    // table cannot be printed, the run still exits 1 for its audit.
    let out = temp_dir("closedaudit");
    let args = [
        "run",
        "--out",
        out.to_str().unwrap(),
        "--engine",
        "actor",
        "--users",
        "1000",
        "--warmup",
        "50ms",
        "--duration",
        "300ms",
        "--progress",
        "quiet",
        "--fault",
        "drop-writes:rate=0.2,kind=register",
    ];
    let o = with_stdout_closed_after(&args, 0);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("users"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn push_feeds_on_an_engine_that_pulls_only_and_bad_thresholds_are_rejected() {
    assert_bad(
        &[
            "run",
            "--engine",
            "null",
            "--feeds",
            "push",
            "--duration",
            "1s",
        ],
        "--feeds push",
    );
    assert_bad(
        &[
            "run",
            "--engine",
            "redis",
            "--feeds",
            "hybrid",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--duration",
            "1s",
        ],
        "--feeds hybrid",
    );
    assert_bad(&["run", "--feeds", "sideways"], "sideways");
    assert_bad(
        &["run", "--feeds", "hybrid", "--push-threshold", "-3"],
        "-3",
    );
    assert_bad(&["run", "--push-threshold", "many"], "many");
    assert_bad(&["run", "--fault", "drop-deliveries:rate=2"], "rate");
}

#[test]
fn durability_flags_that_cannot_work_are_refused() {
    let out = temp_dir("durability");
    let o = out.to_str().unwrap();
    let full = out.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("mine.txt"), b"keep").unwrap();
    let full_s = full.to_str().unwrap();
    let run = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["run", "--out", o, "--duration", "100ms", "--users", "500"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let bad = |extra: &[&str], mentions: &str| {
        let a = run(extra);
        assert_bad(&a.iter().map(String::as_str).collect::<Vec<_>>(), mentions);
    };
    bad(
        &[
            "--engine",
            "serial",
            "--durability",
            "fsync",
            "--data-dir",
            full_s,
        ],
        "not empty",
    );
    assert_eq!(std::fs::read(full.join("mine.txt")).unwrap(), b"keep");
    bad(&["--engine", "null", "--durability", "log"], "durab");
    bad(
        &["--engine", "serial", "--durability", "sometimes"],
        "sometimes",
    );
    bad(
        &[
            "--engine",
            "serial",
            "--recover",
            full_s,
            "--data-dir",
            full_s,
        ],
        "--recover",
    );
    bad(&["--engine", "serial", "--recover", full_s], "missing");
    bad(
        &["--engine", "serial", "--fault", "crash:partition=0,at=soon"],
        "soon",
    );
    bad(
        &["--engine", "serial", "--snapshot-every", "100"],
        "--durability",
    );
    bad(
        &[
            "--engine",
            "serial",
            "--durability",
            "fsync",
            "--snapshot-every",
            "0",
        ],
        "snapshot-every",
    );
}

#[cfg(feature = "redis")]
#[test]
fn connections_outside_their_bounds_or_without_a_server_are_refused() {
    let url = ["--engine", "redis", "--redis-url", "redis://127.0.0.1:1"];
    for (n, mentions) in [("0", "--connections 0"), ("65", "--connections 65")] {
        let mut args = vec!["run"];
        args.extend(url);
        args.extend(["--connections", n]);
        assert_bad(&args, mentions);
    }
    assert_bad(&["run", "--connections", "many"], "many");
    assert_bad(
        &["run", "--engine", "serial", "--connections", "2"],
        "--connections need --redis-url",
    );
}

#[cfg(feature = "redis")]
#[test]
fn a_group_that_cannot_be_is_refused() {
    for g in ["3/2", "0/0", "0/2", "1/0", "1", "a/b", "1/2000"] {
        assert_bad(&["run", "--engine", "redis", "--group", g], g);
    }
    let url = ["--redis-url", "redis://127.0.0.1:1"];
    let with = |extra: &[&'static str]| {
        let mut a = vec!["run", "--group", "1/2"];
        a.extend_from_slice(extra);
        a
    };
    assert_bad(
        &with(&["--engine", "serial", "--threads", "1"]),
        "only the redis engine",
    );
    let mut no_threads = with(&["--engine", "redis", "--redis-prefix", "p:"]);
    no_threads.extend_from_slice(&url);
    assert_bad(&no_threads, "--group needs --threads");
    let mut no_prefix = with(&["--engine", "redis", "--threads", "1"]);
    no_prefix.extend_from_slice(&url);
    assert_bad(&no_prefix, "--group needs --redis-prefix");
    assert_bad(&["run", "--group-timeout", "5s"], "--group");
}
