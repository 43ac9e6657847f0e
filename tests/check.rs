//! Property tests of bad input through `--check`: generated command lines
//! (valid flags, valid flags with bad, huge, negative or garbage values,
//! unknown flags) and generated workload files (a preset with fields set to
//! extreme or wrong-typed values). Whatever the input, `socialbench`
//! exits 0 with one `ok:` line, or exits 2 with exactly one line on stderr
//! that names something the input said; it never panics, and it exits
//! within a few seconds (it is killed and the case fails otherwise).
//!
//! The case count is `PROPTEST_CASES` (default 16 per property, a few
//! seconds); the ignored tests run 1,000 cases each (`cargo test -- --ignored`).

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Longest a `--check` may take before the case fails. Checks take tens of
/// milliseconds; the slack is for a loaded two-core machine.
const LIMIT: Duration = Duration::from_secs(5);

/// Values no flag should choke on: huge, negative, fractional, garbage.
const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "4294967296",
    "1073741824",
    "1e300",
    "-1e300",
    "NaN",
    "inf",
    "1G",
    "5T",
    "",
    " ",
    "%",
    "1ns",
    "999999999999s",
    "1e9h",
    "0-18446744073709551615",
    "x",
    "\u{1F600}",
    "1,,2",
    "p99=",
];

/// The flags of run, compare, sweep and capacity, with values they accept.
const FLAGS: &[(&str, &[&str])] = &[
    (
        "--engine",
        &["null", "serial", "actor", "sharded", "striped", "redis"],
    ),
    ("--engines", &["null,actor", "serial,striped", "sharded"]),
    ("--baseline", &["serial", "null"]),
    ("--threads", &["1", "2", "1024", "1,2"]),
    ("--shards", &["1", "2", "1024"]),
    ("--stripes", &["1", "64", "65536"]),
    ("--users", &["1", "1000", "100k", "1G", "1000,2000"]),
    ("--mailbox", &["1", "1024", "1048576"]),
    ("--inflight", &["1", "16", "1048576"]),
    ("--max-outstanding", &["1", "1048576"]),
    ("--rate", &["1", "50k", "1G"]),
    ("--rates", &["10k", "50%", "1000%"]),
    ("--duration", &["1ms", "10s", "7d", "604800s"]),
    ("--warmup", &["0", "100ms"]),
    ("--interval", &["1ms", "1s"]),
    ("--ops", &["1", "1000000000000"]),
    ("--passes", &["1", "6", "1000"]),
    ("--repeat", &["1", "1000"]),
    ("--precision", &["2%", "0.5"]),
    ("--max-time", &["1s"]),
    ("--pin", &["auto", "none", "0", "0-1", "65535"]),
    (
        "--fault",
        &[
            "stall:every=1s,for=200ms",
            "panic:rate=0.1",
            "drop-followups:rate=1",
        ],
    ),
    ("--idle", &["spin", "park", "adaptive:50"]),
    ("--channel", &["crossbeam", "flume"]),
    ("--arrivals", &["poisson", "fixed"]),
    (
        "--workload",
        &["reddit", "chat", "/dev/zero", "/nonexistent.toml"],
    ),
    ("--seed", &["0", "18446744073709551615"]),
    ("--slo", &["p99=1ms", "p50=1s"]),
    ("--tolerance", &["5%"]),
    ("--probe", &["2s"]),
    ("--max-probe", &["16s"]),
    ("--redis-url", &["redis://127.0.0.1:1"]),
    ("--redis-prefix", &["sb:", "{x}"]),
    ("--bogus", &["1"]),
];

/// A flag and a value: one it accepts, or a hostile one.
fn flag() -> impl Strategy<Value = Vec<String>> {
    (0..FLAGS.len(), any::<bool>(), any::<prop::sample::Index>()).prop_map(|(f, good, i)| {
        let (name, valid) = FLAGS[f];
        let value = if good {
            valid[i.index(valid.len())]
        } else {
            HOSTILE[i.index(HOSTILE.len())]
        };
        vec![name.to_string(), value.to_string()]
    })
}

/// A checked command line: a command, `--check`, a small population (so
/// that a valid case checks quickly), then up to five generated flags,
/// which may override any of it.
fn command_line(out: String) -> impl Strategy<Value = Vec<String>> {
    let command = prop::sample::select(vec!["run", "compare", "sweep", "capacity"]);
    (command, prop::collection::vec(flag(), 0..6)).prop_map(move |(cmd, flags)| {
        let mut args = vec![
            cmd.to_string(),
            "--check".into(),
            "--out".into(),
            out.clone(),
        ];
        if cmd == "capacity" {
            args.extend(["--engine".into(), "actor".into()]);
            args.extend(["--slo".into(), "p99=1ms".into()]);
        }
        args.extend(["--users".into(), "1000".into()]);
        args.extend(flags.into_iter().flatten());
        args
    })
}

/// Words of `args` an error may name: flag names without their dashes,
/// values of three characters or more, and the first two characters of a
/// value that starts with a dash (clap reads `-1e300` as the flag `-1`).
fn nameable(args: &[String]) -> Vec<String> {
    let mut names: Vec<String> = args
        .iter()
        .map(|a| a.trim_start_matches('-').trim().to_string())
        .filter(|a| a.chars().count() >= 3)
        .collect();
    names.extend(
        args.iter()
            .filter(|a| a.starts_with('-') && !a.starts_with("--"))
            .map(|a| a.chars().take(2).collect()),
    );
    names
}

/// The property: exit 0 with one `ok:` line, or exit 2 with one line on
/// stderr naming one of `names`; no panic; within [`LIMIT`].
fn checked(args: &[String], names: &[String]) -> Result<(), TestCaseError> {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = socialbench_within(&argv, LIMIT);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
    match o.status.code() {
        Some(0) => {
            prop_assert_eq!(out.lines().count(), 1, "{:?}: {}", args, out);
            prop_assert!(out.starts_with("ok: "), "{:?}: {}", args, out);
        }
        Some(2) => {
            prop_assert_eq!(err.lines().count(), 1, "{:?}: {}", args, err);
            prop_assert!(err.starts_with("error: "), "{:?}: {}", args, err);
            prop_assert!(
                names.iter().any(|n| err.contains(n.as_str())),
                "{:?}: `{}` names none of {:?}",
                args,
                err.trim(),
                names
            );
        }
        other => prop_assert!(false, "{args:?}: exit {other:?}\n{out}\n{err}"),
    }
    Ok(())
}

/// Workload file fields: (section, key) and values to set them to.
const FIELDS: &[(&str, &str)] = &[
    ("", "users"),
    ("", "communities"),
    ("", "think_time_ms"),
    ("", "preset"),
    ("", "bogus"),
    ("population", "memberships_per_user"),
    ("population", "follows_per_user"),
    ("population", "seed_posts_per_community"),
    ("population", "seed_posts_per_profile"),
    ("population", "mutual_follows"),
    ("reads", "feed_limit"),
    ("reads", "post_comments"),
    ("reads", "member_communities"),
    ("zipf", "community"),
    ("zipf", "words"),
    ("bodies.post", "median"),
    ("bodies.post", "sigma"),
    ("bodies.post", "max"),
    ("invalid", "share"),
    ("mix", "home_feed"),
    ("mix", "vote"),
    ("roles.lurker", "share"),
    ("roles.lurker", "actions"),
];

/// TOML values: in range for some fields, extreme or of the wrong type for most.
const TOML_VALUES: &[&str] = &[
    "0",
    "1",
    "10",
    "10000",
    "10001",
    "1073741824",
    "4294967296",
    "18446744073709551615",
    "-1",
    "0.5",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "true",
    "\"reddit\"",
    "\"x\"",
    "[]",
    "[\"vote\"]",
    "[\"fly\"]",
    "{}",
    "1979-05-27",
    "=",
];

/// A workload file: a preset and small population, then up to four fields
/// set to generated values (grouped by table, as TOML requires).
fn workload_file() -> impl Strategy<Value = (String, Vec<String>)> {
    let preset = prop::sample::select(vec!["reddit", "microblog", "messenger", "chat"]);
    let field = (0..FIELDS.len(), 0..TOML_VALUES.len());
    (preset, prop::collection::vec(field, 1..5)).prop_map(|(preset, fields)| {
        let mut tables: Vec<(&str, Vec<String>)> = vec![(
            "",
            vec![format!("preset = \"{preset}\""), "users = 1000".into()],
        )];
        let mut keys = Vec::new();
        for (f, v) in fields {
            let (table, key) = FIELDS[f];
            keys.push(key.to_string());
            let line = format!("{key} = {}", TOML_VALUES[v]);
            match tables.iter_mut().find(|(t, _)| *t == table) {
                Some((_, lines)) => lines.push(line),
                None => tables.push((table, vec![line])),
            }
        }
        let mut text = String::new();
        for (table, lines) in tables {
            if !table.is_empty() {
                text.push_str(&format!("[{table}]\n"));
            }
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
        }
        (text, keys)
    })
}

/// `run --check` on a generated workload file.
fn file_checked(
    dir: &std::path::Path,
    n: &std::sync::atomic::AtomicU32,
    text: &str,
    keys: &[String],
) -> Result<(), TestCaseError> {
    let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("w{n}.toml"));
    std::fs::write(&path, text).expect("write the workload file");
    let args: Vec<String> = ["run", "--check", "--engine", "striped", "--workload"]
        .iter()
        .map(|s| s.to_string())
        .chain([path.display().to_string()])
        .collect();
    let mut names = keys.to_vec();
    names.push(format!("w{n}.toml"));
    checked(&args, &names).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))
}

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn command_lines(cases: u32) {
    let out = temp_dir("props-args");
    let out = out.join("out").display().to_string();
    let mut runner = TestRunner::new(config(cases));
    runner
        .run(&command_line(out), |args| {
            // Or a flag the line lacks: `--max-time` needs `--precision`.
            let mut names = nameable(&args);
            names.extend(FLAGS.iter().map(|(f, _)| f.to_string()));
            checked(&args, &names)
        })
        .unwrap();
}

fn workload_files(cases: u32) {
    let dir = temp_dir("props-toml");
    let n = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(config(cases));
    runner
        .run(&workload_file(), |(text, keys)| {
            file_checked(&dir, &n, &text, &keys)
        })
        .unwrap();
}

#[test]
fn any_command_line_is_checked_quickly() {
    command_lines(16);
}

#[test]
fn any_workload_file_is_checked_quickly() {
    workload_files(16);
}

#[test]
#[ignore = "slow tier: 1,000 generated command lines"]
fn many_command_lines_are_checked_quickly() {
    command_lines(1000);
}

#[test]
#[ignore = "slow tier: 1,000 generated workload files"]
fn many_workload_files_are_checked_quickly() {
    workload_files(1000);
}
