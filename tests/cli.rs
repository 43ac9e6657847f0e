//! `socialbench list` and `socialbench trace`.

mod common;

use common::*;

#[test]
fn list_names_every_engine_and_workload() {
    let o = socialbench(&["list"]);
    assert!(o.status.success(), "{}", show(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for name in [
        "null",
        "serial",
        "actor",
        "sharded",
        "striped",
        "reddit",
        "microblog",
        "messenger",
        "chat",
        "twitter",
    ] {
        assert!(s.contains(name), "list lacks {name}");
    }
}

#[test]
fn trace_prints_one_json_object_per_op() {
    let o = socialbench(&[
        "trace",
        "--workload",
        "reddit",
        "--ops",
        "50",
        "--users",
        "500",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<_> = s.lines().collect();
    assert_eq!(lines.len(), 50);
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("json line");
        assert!(v.is_object());
    }
    let again = socialbench(&[
        "trace",
        "--workload",
        "reddit",
        "--ops",
        "50",
        "--users",
        "500",
        "--seed",
        "7",
    ]);
    assert_eq!(
        o.stdout, again.stdout,
        "trace is not deterministic for a seed"
    );
}
