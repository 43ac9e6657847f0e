//! Overload: an open loop offered far more than an engine can serve (a
//! stalled one, or `serial`, which injects no faults, at a rate far above
//! its capacity) stops with `Saturated`, writes its outputs, loses no
//! acknowledged write, and never holds more ops outstanding than
//! `--max-outstanding`, on every in-process engine.

mod common;

use common::*;

/// Ops a client thread may keep outstanding in these runs.
const CAP: u64 = 64;

/// A stall of 2 s every 2.5 s against the open loop's 1 s lag bound: at
/// any rate the schedule cannot be met.
const STALLED: [&str; 4] = ["--rate", "5k", "--fault", "stall:every=2500ms,for=2s"];

/// Runs `engine` overloaded as `load` says for up to 5 s and checks what an
/// overloaded run must leave behind. Returns the run's `summary.schedule`.
fn overload(engine: &str, load: &[&str]) -> serde_json::Value {
    let out = temp_dir(&format!("overload-{engine}"));
    let cap = CAP.to_string();
    let mut args = vec![
        "--engine",
        engine,
        "--duration",
        "5s",
        "--max-outstanding",
        &cap,
    ];
    args.extend_from_slice(load);
    let o = run(&out, "over", &args);
    assert!(o.status.success(), "{}", show(&o));
    let dir = out.join("over");
    for f in [
        "run.json",
        "summary.csv",
        "timeseries.csv",
        "latency.hlog",
        "throughput.svg",
    ] {
        let len = std::fs::metadata(dir.join(f)).map_or(0, |m| m.len());
        assert!(len > 0, "{engine}: {f} missing or empty\n{}", show(&o));
    }
    let j = run_json(&dir);
    let s = &j["summary"];
    assert_eq!(s["stopped_by"], "Saturated", "{engine}: {}", show(&o));
    assert!(s["saturation"].is_object(), "{engine}: {s}");
    assert_eq!(s["audit"]["verdict"], "pass", "{engine}: {}", show(&o));
    let sch = s["schedule"].clone();
    let peak = sch["peak_outstanding"].as_u64().unwrap();
    assert!(
        (1..=CAP).contains(&peak),
        "{engine}: {peak} ops outstanding against a cap of {CAP}: {sch}"
    );
    // Stopped behind schedule: what was due but not sent is counted, not queued.
    assert!(sch["unsent_due"].as_u64().unwrap() > 0, "{engine}: {sch}");
    sch
}

/// An engine with its own threads queues the ops sent before the stall: the
/// client fills every slot, and not one more.
#[test]
fn overloaded_actor_fills_its_slots_and_no_more() {
    let sch = overload("actor", &STALLED);
    assert_eq!(sch["peak_outstanding"].as_u64(), Some(CAP), "{sch}");
}

#[test]
fn overloaded_sharded_fills_its_slots_and_no_more() {
    let sch = overload("sharded", &STALLED);
    assert_eq!(sch["peak_outstanding"].as_u64(), Some(CAP), "{sch}");
}

/// An inline engine answers inside `submit`, so one op at a time is
/// outstanding. `serial` injects no faults: offered 50M ops/s, many times
/// what it serves at these 2,000 users even in a release build on a fast
/// host, it falls 1 s behind within seconds.
#[test]
fn overloaded_serial_stops_with_one_op_outstanding() {
    let sch = overload("serial", &["--rate", "50M"]);
    assert_eq!(sch["peak_outstanding"].as_u64(), Some(1), "{sch}");
}

/// A stalled stripe blocks the thread that applies an op inline.
#[test]
fn overloaded_striped_stops_with_one_op_outstanding_per_thread() {
    let sch = overload("striped", &STALLED);
    assert_eq!(sch["peak_outstanding"].as_u64(), Some(1), "{sch}");
}
