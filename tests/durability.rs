//! `--durability`, `--data-dir`, `run --recover` and the crash fault, end to
//! end: what a run leaves in its data dir, what a recovered run checks and
//! says, and what a crash without fsync is reported to lose.

mod common;

use std::path::Path;

use common::*;

/// Runs `id` into `out` with logs in `data` (or recovering `data` when
/// `recover`); returns stdout, failing on any exit but `want`.
fn durable_run(
    out: &Path,
    id: &str,
    data: &Path,
    recover: bool,
    extra: &[&str],
    want: i32,
) -> String {
    let data = data.to_str().unwrap();
    let mut args = vec![];
    if !extra.contains(&"--engine") {
        args.extend(["--engine", "serial"]);
    }
    if !extra.contains(&"--duration") {
        args.extend(["--duration", "400ms"]);
    }
    if recover {
        args.extend(["--recover", data]);
    } else {
        args.extend(["--data-dir", data]);
    }
    if !recover && !extra.contains(&"--durability") {
        args.extend(["--durability", "fsync"]);
    }
    args.extend_from_slice(extra);
    let o = run(out, id, &args);
    assert_eq!(o.status.code(), Some(want), "{}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn line<'a>(table: &'a str, start: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` line in\n{table}"))
}

/// The ledger a run saved, as its run.json tally says.
fn tally(out: &Path, id: &str) -> serde_json::Value {
    run_json(&out.join(id))["summary"]["audit"]["tally"].clone()
}

#[test]
fn a_recovered_run_starts_from_the_logs_and_audits_both_runs_writes() {
    let out = temp_dir("recover");
    let data = out.join("data");
    let first = durable_run(&out, "r1", &data, false, &[], 0);
    assert!(line(&first, "audit:").contains("passed"), "{first}");
    assert!(data.join("partition-0.wal").is_file());
    assert!(data.join("acked.ledger").is_file());
    let first_tally = tally(&out, "r1");
    assert!(first_tally["users"].as_u64().unwrap() > 0, "{first_tally}");

    let second = durable_run(&out, "r2", &data, true, &[], 0);
    assert!(line(&second, "load phase:").contains(" 0 ops"), "{second}");
    assert!(line(&second, "recovered:").contains("records"), "{second}");
    assert!(
        line(&second, "recovered state matched the ledger").contains("listed one by one"),
        "{second}"
    );
    assert!(line(&second, "audit:").contains("passed"), "{second}");
    // The second run's tally holds the first's writes and more.
    let second_tally = tally(&out, "r2");
    for k in ["users", "posts", "comments"] {
        let (a, b) = (first_tally[k].as_u64(), second_tally[k].as_u64());
        assert!(b >= a, "{k}: {a:?} then {b:?}");
    }
    assert!(
        second_tally["comments"].as_u64() > first_tally["comments"].as_u64(),
        "{first_tally} then {second_tally}"
    );
    let json = run_json(&out.join("r2"));
    assert_eq!(json["summary"]["audit"]["recovered"]["ledger"], true);
    assert_eq!(
        json["summary"]["audit"]["recovered"]["prior"], first_tally,
        "{json}"
    );
}

#[test]
fn without_a_ledger_the_recovered_state_is_not_called_audited() {
    let out = temp_dir("noledger");
    let data = out.join("data");
    durable_run(&out, "r3", &data, false, &["--audit", "sums"], 0);
    // A run killed before its end leaves logs and no ledger.
    std::fs::remove_file(data.join("acked.ledger")).unwrap();
    let t = durable_run(&out, "r4", &data, true, &[], 0);
    assert!(line(&t, "audit:").contains("not checked"), "{t}");
    assert!(line(&t, "audit:").contains("no ledger"), "{t}");
    assert!(
        !data.join("acked.ledger").exists(),
        "a partial ledger was saved"
    );
}

#[test]
fn a_crash_without_fsync_reports_the_acknowledged_writes_it_lost() {
    let out = temp_dir("crashlog");
    let data = out.join("data");
    let t = durable_run(
        &out,
        "r5",
        &data,
        false,
        &[
            "--durability",
            "log",
            "--fault",
            "crash:partition=0,at=100ms",
            "--duration",
            "600ms",
        ],
        1,
    );
    let crashes = line(&t, "crashes:");
    assert!(crashes.contains("LOST"), "{t}");
    assert!(!crashes.contains(" 0 acknowledged writes LOST"), "{t}");
    assert!(line(&t, "AUDIT FAILED").len() > 12, "{t}");
    // The ledger holds what clients were told; the logs do not: the next
    // run says so before it starts.
    let again = durable_run(&out, "r6", &data, true, &["--durability", "log"], 1);
    assert!(
        line(&again, "recovered state DIFFERED from").len() > 30,
        "{again}"
    );
}

/// With `fsync`, crashes of serial's partition and of a shard of sharded
/// lose nothing acknowledged: the audit passes.
#[test]
fn a_crash_with_fsync_loses_nothing_acknowledged() {
    let out = temp_dir("crashfsync");
    let serial: &[&str] = &["--fault", "crash:partition=0,at=100ms,every=150ms"];
    let sharded: &[&str] = &[
        "--engine",
        "sharded",
        "--shards",
        "2",
        "--fault",
        "crash:partition=1,at=100ms,every=150ms",
    ];
    for (id, extra) in [("r7", serial), ("r8", sharded)] {
        let data = out.join(format!("data-{id}"));
        let t = durable_run(&out, id, &data, false, extra, 0);
        let crashes = line(&t, "crashes:");
        assert!(crashes.contains(" 0 acknowledged writes LOST"), "{t}");
        assert!(!crashes.starts_with("crashes: 0;"), "{t}");
        assert!(line(&t, "audit:").contains("passed"), "{t}");
    }
}

/// `--snapshot-every`: the run says how many snapshots it took and how
/// long they paused the partition; the data dir holds the snapshot and a
/// compacted log; a recovered run loads the snapshot, replays only the
/// records after it, and its audit passes.
#[test]
fn snapshots_bound_what_a_recovery_replays() {
    let out = temp_dir("snapshots");
    let data = out.join("data");
    let every = ["--snapshot-every", "2000"];
    let first = durable_run(&out, "s1", &data, false, &every, 0);
    let snaps = line(&first, "snapshots:");
    assert!(snaps.contains("paused its partition"), "{first}");
    assert!(data.join("partition-0.snap").is_file());
    let json = run_json(&out.join("s1"));
    let log = &json["summary"]["engine_stats"]["durability"]["log"];
    assert!(log["snapshots"].as_u64().unwrap() > 0, "{log}");
    let records = log["records"].as_u64().unwrap();
    // The log holds at most what followed the last snapshot.
    let wal = std::fs::metadata(data.join("partition-0.wal"))
        .unwrap()
        .len();
    let logged = log["bytes"].as_u64().unwrap();
    assert!(wal < logged / 2, "log {wal} bytes of {logged} logged");

    let second = durable_run(&out, "s2", &data, true, &[], 0);
    let rec = line(&second, "recovered:");
    assert!(rec.contains("a snapshot of"), "{second}");
    let json = run_json(&out.join("s2"));
    let r = &json["summary"]["engine_stats"]["durability"]["recovered"];
    let (snap, replayed) = (r["snapshot_records"].as_u64(), r["records"].as_u64());
    assert_eq!(snap.unwrap() + replayed.unwrap(), records, "{r}");
    assert!(replayed.unwrap() < 2000, "{r}");
    assert!(line(&second, "audit:").contains("passed"), "{second}");
}
