//! After every run the engine is quiesced and audited against the
//! acknowledged writes, in aggregate and entity by entity: every engine
//! passes, a dropped follow-up or write fails the run with exit 1 and names
//! what was lost, panicking ops are counted errors.

mod common;

use common::*;

#[test]
fn audit_passes_for_every_engine() {
    let out = temp_dir("audit");
    for engine in ["null", "serial", "actor", "sharded", "striped"] {
        let threads = if engine == "serial" { "1" } else { "2" };
        let o = run(&out, engine, &["--engine", engine, "--threads", threads]);
        assert!(o.status.success(), "{engine}: {}", show(&o));
        let j = run_json(&out.join(engine));
        let verdict = if engine == "null" { "n/a" } else { "pass" };
        assert_eq!(j["summary"]["audit"]["verdict"], verdict, "{engine}");
        assert!(j["summary"]["ops"].as_u64().unwrap() > 0, "{engine}");
        // The tally includes the load phase: at least every registered user.
        assert!(
            j["summary"]["audit"]["tally"]["users"].as_u64().unwrap() >= 2000 || engine == "null"
        );
        // Every engine with partitions is also checked entity by entity.
        let entities = &j["summary"]["audit"]["entities"];
        if engine == "null" {
            assert!(entities.is_null());
        } else {
            assert!(entities["users"].as_u64().unwrap() >= 2000, "{engine}");
            assert_eq!(entities["mismatches"].as_array().unwrap().len(), 0);
            assert!(j["summary"]["audit"]["logged_writes"].as_u64().unwrap() >= 2000);
        }
    }
}

#[test]
fn a_write_acknowledged_but_not_applied_fails_the_run_naming_its_kind_and_count() {
    let out = temp_dir("dropw");
    let o = run(
        &out,
        "dropw",
        &[
            "--engine",
            "striped",
            "--threads",
            "2",
            "--fault",
            "drop-writes:rate=0.2,kind=register",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = run_json(&out.join("dropw"));
    let dropped = j["summary"]["engine_stats"]["write_faults"]["dropped"]["register"]
        .as_u64()
        .expect("the engine counts what it dropped");
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("users is") && line.contains(&format!("({dropped} missing)")),
        "{line}"
    );
    assert!(line.contains("acknowledged user missing"), "{line}");
}

#[test]
fn dropped_follow_ups_fail_the_run_naming_what_was_lost() {
    let out = temp_dir("drop");
    let o = run(
        &out,
        "drop",
        &["--engine", "sharded", "--fault", "drop-followups:rate=0.05"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(line.contains("audit failed"), "{line}");
    assert!(line.contains("missing"), "{line}");
    assert!(
        line.contains("subscriptions") || line.contains("karma"),
        "{line}"
    );
    // The outputs are still written, with the verdict.
    let j = run_json(&out.join("drop"));
    assert_eq!(j["summary"]["audit"]["verdict"], "fail");
}

#[test]
fn panicking_ops_are_counted_as_errors_and_the_run_goes_on() {
    let out = temp_dir("panic");
    let o = run(
        &out,
        "p",
        &["--engine", "striped", "--fault", "panic:rate=0.01"],
    );
    assert!(o.status.success(), "{}", show(&o));
    let j = run_json(&out.join("p"));
    let faults = j["summary"]["engine_stats"]["faults"].as_u64().unwrap();
    assert!(faults > 0, "no op panicked");
    assert!(j["summary"]["errors"].as_u64().unwrap() > 0);
    assert_eq!(j["summary"]["audit"]["verdict"], "pass");
}

#[test]
fn audit_sums_keeps_no_log_and_checks_the_aggregates_only() {
    let out = temp_dir("sums");
    let o = run(
        &out,
        "sums",
        &["--engine", "actor", "--threads", "1", "--audit", "sums"],
    );
    assert!(o.status.success(), "{}", show(&o));
    let j = run_json(&out.join("sums"));
    let a = &j["summary"]["audit"];
    assert_eq!(a["verdict"], "pass");
    assert!(a["entities"].is_null());
    assert_eq!(a["logged_writes"], 0);
    assert_eq!(j["config"]["audit"], "sums");
    // The aggregates still catch a loss without the log.
    let o = run(
        &out,
        "sums-drop",
        &[
            "--engine",
            "actor",
            "--audit",
            "sums",
            "--fault",
            "drop-writes:rate=0.2,kind=register",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}
