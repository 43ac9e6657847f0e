//! Helpers for the end-to-end tests: run the real binary with short
//! durations into a fresh temporary output folder.

#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh, empty folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "socialbench-e2e-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs `socialbench` with `args`.
pub fn socialbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_socialbench"))
        .args(args)
        .output()
        .expect("run the socialbench binary")
}

/// Short-run flags: small population, 100 ms warmup (and 300 ms measured
/// unless the test gives `--duration` or `--ops`).
pub const QUICK: [&str; 6] = [
    "--warmup",
    "100ms",
    "--users",
    "2000",
    "--progress",
    "plain",
];

/// Tiny sweep cells: 1,000 users, 50 ms warmup, 200 ms measured.
pub const TINY: [&str; 10] = [
    "--users",
    "1000",
    "--warmup",
    "50ms",
    "--duration",
    "200ms",
    "--progress",
    "quiet",
    "--interval",
    "100ms",
];

/// Runs `socialbench run` with `extra` flags into `out`, named `id`.
pub fn run(out: &Path, id: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--out",
        out.to_str().expect("utf-8 path"),
        "--run-id",
        id,
    ];
    args.extend_from_slice(&QUICK);
    if !extra.iter().any(|a| *a == "--duration" || *a == "--ops") {
        args.extend_from_slice(&["--duration", "300ms"]);
    }
    args.extend_from_slice(extra);
    socialbench(&args)
}

/// stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The header of a CSV file.
pub fn csv_header(path: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect()
}

/// The rows of a CSV file as column -> value maps.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let h: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            h.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Parsed `run.json`.
pub fn run_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json parses")
}

/// Runs `socialbench` with `args`, killing it and failing the test if it
/// has not exited after `limit` (a hang is a failure, not a slow test).
pub fn socialbench_within(args: &[&str], limit: std::time::Duration) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_socialbench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the socialbench binary");
    // Drain both pipes on their own threads, so a chatty child never blocks.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for socialbench") {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("socialbench {args:?} still running after {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Panics unless `dir`'s timeseries.csv has a `kill_primary` and a
/// `failover` event row.
pub fn assert_failover_events(dir: &Path) {
    let ts = csv_rows(&dir.join("timeseries.csv"));
    for name in ["kill_primary", "failover"] {
        assert!(
            ts.iter()
                .any(|r| r["source"] == "event" && r["name"] == name),
            "no {name} event in {}",
            dir.display()
        );
    }
}
