//! The trace: JSON lines of ops and replies, byte-for-byte deterministic.

mod common;

use std::hash::{DefaultHasher, Hash, Hasher};

use socialbench_workload::trace;

fn run(preset: &str, seed: u64, ops: u64, include_load: bool) -> (u64, Vec<u8>) {
    let w = common::small(preset, 500, seed);
    let mut out = Vec::new();
    let n = trace(&w, ops, include_load, &mut out).unwrap();
    (n, out)
}

fn hash(b: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    for preset in ["reddit", "chat"] {
        let (n1, a) = run(preset, 7, 3_000, true);
        let (n2, b) = run(preset, 7, 3_000, true);
        assert_eq!(n1, n2);
        assert_eq!(hash(&a), hash(&b), "{preset}");
        let (_, c) = run(preset, 8, 3_000, true);
        assert_ne!(hash(&a), hash(&c), "{preset}: seed ignored");
    }
}

#[test]
fn lines_are_json_with_every_field_and_count_the_ops() {
    let (n, out) = run("reddit", 1, 2_000, true);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, n);
    let mut load = 0;
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["i"].as_u64(), Some(i as u64));
        let phase = v["phase"].as_str().unwrap();
        if phase == "load" {
            load += 1;
            // Load ops all succeed.
            assert!(v["reply"].get("Ok").is_some(), "{line}");
        } else {
            assert_eq!(phase, "run");
        }
        assert!(v["user"].as_u64().unwrap() < 500, "{line}");
        assert!(["Creator", "Contributor", "Lurker"].contains(&v["role"].as_str().unwrap()));
        assert!(v["op"].is_object() && v["reply"].is_object());
    }
    assert_eq!(n - load, 2_000);
    let (n_run, _) = run("reddit", 1, 2_000, false);
    assert_eq!(n_run, 2_000);
}
