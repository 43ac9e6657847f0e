//! `--replicas` and `--replication` end to end: a replicated sharded run
//! passes its audit with every backup equal to its primary and reports its
//! replication in run.json, timeseries.csv and the table; sweep takes them
//! as a dimension of the sharded lines; a killed primary fails over and
//! the run reports it (table, run.json, timeseries.csv events); bad values
//! exit 2 with one line.

mod common;

use common::*;

#[test]
fn a_replicated_run_reports_its_backups_and_passes_the_audit() {
    let out = temp_dir("repl");
    for mode in ["sync", "async"] {
        let o = run(
            &out,
            mode,
            &[
                "--engine",
                "sharded",
                "--shards",
                "2",
                "--threads",
                "2",
                "--replicas",
                "2",
                "--replication",
                mode,
            ],
        );
        assert!(o.status.success(), "{mode}: {}", show(&o));
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(
            table.contains(&format!("replication: 2 backup(s) per shard, {mode}")),
            "{table}"
        );
        let j = run_json(&out.join(mode));
        let s = &j["summary"];
        assert_eq!(s["audit"]["verdict"], "pass", "{mode}");
        assert_eq!(s["audit"]["engine"]["replicas_diverged"], 0, "{mode}");
        assert_eq!(s["engine_threads"], 6, "{mode}: 2 shards x (1 + 2 backups)");
        let r = &s["engine_stats"]["replication"];
        assert_eq!((&r["replicas"], &r["mode"]), (&2.into(), &mode.into()));
        assert!(r["log_entries"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(
            r["lag_entries"], 0,
            "{mode}: quiesced before the final stats"
        );
        assert_eq!(j["config"]["replication"]["replicas"], 2);
        let ts = csv_rows(&out.join(mode).join("timeseries.csv"));
        assert!(
            ts.iter()
                .any(|row| row["source"] == "replication" && row["name"] == "lag"),
            "{mode}: no replication rows in timeseries.csv"
        );
    }
    // Without backups there is no replication section at all.
    let o = run(&out, "none", &["--engine", "sharded"]);
    assert!(o.status.success(), "{}", show(&o));
    let j = run_json(&out.join("none"));
    assert!(j["summary"]["engine_stats"]["replication"].is_null());
}

#[test]
fn sweep_measures_each_replication_variant_of_the_sharded_lines() {
    let out = temp_dir("replsweep");
    let mut args = vec![
        "sweep",
        "--out",
        out.to_str().unwrap(),
        "--engines",
        "sharded,actor",
        "--threads",
        "1",
        "--shards",
        "2",
        "--replicas",
        "0,1",
        "--replication",
        "sync,async",
        // A kill on the replicated lines; the others run unharmed.
        "--fault",
        "kill-primary:shard=1,at=20ms",
        "--heartbeat",
        "5ms:3",
    ];
    args.extend_from_slice(&TINY);
    let o = socialbench(&args);
    assert!(o.status.success(), "{}", show(&o));
    let rows = csv_rows(&out.join("sweep.csv"));
    let find = |engine: &str| {
        rows.iter()
            .find(|r| r["engine"] == engine)
            .unwrap_or_else(|| panic!("no {engine} row in {rows:?}"))
    };
    for (label, replicas, mode, threads) in [
        ("sharded", "0", "", "2"),
        ("sharded+r1-sync", "1", "sync", "4"),
        ("sharded+r1-async", "1", "async", "4"),
        ("actor", "0", "", "1"),
    ] {
        let r = find(label);
        assert_eq!(
            (r["replicas"].as_str(), r["replication"].as_str()),
            (replicas, mode),
            "{label}"
        );
        assert_eq!(r["engine_threads"], threads, "{label}");
        // A kill may lose acknowledged writes under async only.
        let allowed: &[&str] = if mode == "async" {
            &["pass", "lost"]
        } else {
            &["pass"]
        };
        assert!(
            allowed.contains(&r["audit"].as_str()),
            "{label}: {}",
            r["audit"]
        );
    }
    // serial (C1), null, three sharded variants, actor.
    assert_eq!(rows.len(), 6, "{rows:?}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("sharded+r1-async"), "{table}");
}

/// `--fault kill-primary` on a sync replicated run: the coordinator
/// promotes the backup, the audit passes (exit 0) even when pauses of the
/// test machine depose live primaries too, and the failover is in the
/// table, in run.json and as events in timeseries.csv.
#[test]
fn a_killed_primary_fails_over_and_the_run_reports_it() {
    let out = temp_dir("failover");
    let o = run(
        &out,
        "kill",
        &[
            "--engine",
            "sharded",
            "--shards",
            "2",
            "--replicas",
            "1",
            "--heartbeat",
            "10ms:3",
            "--fault",
            "kill-primary:shard=1,at=100ms",
            "--duration",
            "600ms",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("failover: heartbeat 10.00ms x 3; 1 kill(s)"),
        "{table}"
    );
    assert!(table.contains("shard 1: killed at"), "{table}");
    assert!(table.contains("(detection)"), "{table}");
    let j = run_json(&out.join("kill"));
    assert_eq!(j["summary"]["audit"]["verdict"], "pass");
    let f = &j["summary"]["engine_stats"]["replication"]["failover"];
    assert_eq!(f["kills"], 1, "{f}");
    // A pause of a loaded machine may depose a live primary first (a
    // false failover, counted): the kill's failover is the event with a
    // kill time.
    let events = f["events"].as_array().expect("failover events");
    assert_eq!(events.len() as u64, f["failovers"].as_u64().unwrap(), "{f}");
    let killed: Vec<_> = events
        .iter()
        .filter(|e| !e["killed_us"].is_null())
        .collect();
    assert_eq!(killed.len(), 1, "{f}");
    let event = killed[0];
    assert_eq!(event["shard"], 1, "{f}");
    let (killed, serving) = (event["killed_us"].as_i64(), event["serving_us"].as_i64());
    assert!(killed.unwrap() >= 100_000 && serving > killed, "{f}");
    assert_failover_events(&out.join("kill"));
}

#[test]
fn bad_replication_flags_exit_2_with_one_line() {
    for (args, mentions) in [
        (
            &["run", "--engine", "actor", "--replicas", "1"][..],
            "--replicas needs the sharded engine",
        ),
        (
            &["run", "--engine", "sharded", "--replicas", "3"][..],
            "0 to 2",
        ),
        (
            &["run", "--engine", "sharded", "--replicas", "1,2"][..],
            "lists are for sweep",
        ),
        (
            &["compare", "--replicas", "1", "--replication", "sync,async"][..],
            "lists are for sweep",
        ),
        (&["run", "--replication", "eventually"][..], "eventually"),
        (
            &[
                "run",
                "--engine",
                "sharded",
                "--fault",
                "kill-primary:shard=0,at=1s",
            ][..],
            "needs --replicas",
        ),
        (
            &["run", "--engine", "actor", "--fault", "kill-primary:at=1s"][..],
            "kill-primary fault needs the sharded engine",
        ),
        (
            &[
                "run",
                "--engine",
                "sharded",
                "--shards",
                "2",
                "--replicas",
                "1",
                "--fault",
                "kill-primary:shard=2,at=1s",
            ][..],
            "shard 2 outside 0..2",
        ),
        (
            &[
                "run",
                "--engine",
                "sharded",
                "--replicas",
                "1",
                "--duration",
                "2s",
                "--fault",
                "kill-primary:shard=0,at=3s",
            ][..],
            "past the run's end",
        ),
        (
            &[
                "run",
                "--engine",
                "sharded",
                "--replicas",
                "1",
                "--heartbeat",
                "0ms",
            ][..],
            "1ms to 10s",
        ),
        (
            &[
                "run",
                "--engine",
                "sharded",
                "--replicas",
                "1",
                "--heartbeat",
                "50ms:0",
            ][..],
            "misses",
        ),
        (
            &["run", "--fault", "kill-primary:node=1,at=1s"][..],
            "unknown key `node`",
        ),
        // The check without a run refuses what the run refuses.
        (
            &[
                "run",
                "--check",
                "--engine",
                "sharded",
                "--fault",
                "kill-primary:at=1s",
            ][..],
            "needs --replicas",
        ),
        (
            &[
                "run",
                "--check",
                "--engine",
                "sharded",
                "--shards",
                "2",
                "--replicas",
                "1",
                "--fault",
                "kill-primary:shard=5,at=1s",
            ][..],
            "shard 5 outside 0..2",
        ),
    ] {
        let o = socialbench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
        let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
        assert!(first.contains(mentions), "{args:?}: `{first}`\n{err}");
    }
}
