//! Measurement honesty, end to end: replies are booked into the interval they
//! arrived in (a stall shows where it happened), and deliberately invalid
//! requests have a row of their own.

mod common;

use std::collections::HashMap;

use common::*;

/// The `op`/`all` rows of `timeseries.csv`: interval -> metric -> value.
fn all_series(dir: &std::path::Path) -> Vec<(u64, HashMap<String, u64>)> {
    let mut by: std::collections::BTreeMap<u64, HashMap<String, u64>> = Default::default();
    for r in csv_rows(&dir.join("timeseries.csv")) {
        if r["source"] == "op" && r["name"] == "all" {
            by.entry(r["interval"].parse().unwrap())
                .or_default()
                .insert(r["metric"].clone(), r["value"].parse().unwrap());
        }
    }
    by.into_iter().collect()
}

#[test]
fn a_stall_is_booked_into_the_interval_its_late_replies_arrive_in() {
    // One engine thread that sleeps 400 ms every second, 100 ms intervals:
    // while it sleeps nothing is answered; the ops it held are answered when
    // it wakes, each about 400 ms after it was sent.
    let out = temp_dir("stall");
    let o = run(
        &out,
        "stall",
        &[
            "--engine",
            "actor",
            "--threads",
            "1",
            "--duration",
            "2500ms",
            "--interval",
            "100ms",
            "--fault",
            "stall:every=1s,for=400ms",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let series = all_series(&out.join("stall"));
    let last = series.last().map(|(i, _)| *i).unwrap();
    let spikes: Vec<usize> = (0..series.len())
        .filter(|&i| series[i].1["intended_max_ns"] >= 300_000_000)
        .collect();
    assert!(!spikes.is_empty(), "no stall seen: {series:?}");
    for &i in &spikes {
        let (index, m) = &series[i];
        assert!(m["count"] > 0);
        if *index == last {
            // Replies drained after the end of the window all go to the last
            // interval, whenever they arrived: nothing to say about its neighbours.
            continue;
        }
        // The late replies arrived at the end of the stall, inside this
        // interval: the whole interval before it lay inside the stall, so
        // nothing was answered then...
        // (Unless the burst itself straddled the boundary: then that interval
        // is a spike too.)
        if *index > 1 && !spikes.contains(&(i - 1)) {
            let (prev_index, prev) = &series[i - 1];
            assert_eq!(*prev_index, index - 1);
            assert_eq!(
                prev["count"], 0,
                "interval {prev_index} before the spike in {index} got replies: {series:?}"
            );
        }
        // ...and the engine served again right after it. (Were the replies
        // booked where the stall began, the next three intervals would be
        // empty; two leave room for a scheduling hiccup on a busy machine.)
        let after: Vec<u64> = series[i + 1..]
            .iter()
            .take_while(|(j, _)| *j < last)
            .take(2)
            .map(|(_, m)| m["count"])
            .collect();
        assert!(
            after.is_empty() || after.iter().any(|c| *c > 0),
            "the intervals after the spike in {index} are empty: {series:?}"
        );
    }
}

#[test]
fn deliberately_invalid_requests_have_their_own_row() {
    let out = temp_dir("invalid");
    let o = run(&out, "inv", &["--engine", "serial", "--ops", "30000"]);
    assert!(o.status.success(), "{}", show(&o));
    let dir = out.join("inv");
    let rows = csv_rows(&dir.join("summary.csv"));
    let n = |r: &HashMap<String, String>, k: &str| r[k].parse::<u64>().unwrap();
    let invalid = rows
        .iter()
        .find(|r| r["kind"] == "invalid")
        .unwrap_or_else(|| panic!("no invalid row: {rows:?}"));
    assert!(n(invalid, "count") > 0);
    // Invalid on purpose: (almost) all of them fail.
    assert!(
        n(invalid, "errors") * 2 > n(invalid, "count"),
        "{invalid:?}"
    );
    let all = rows.iter().find(|r| r["kind"] == "all").unwrap();
    let parts: u64 = rows
        .iter()
        .filter(|r| r["kind"] != "all")
        .map(|r| n(r, "count"))
        .sum();
    assert_eq!(parts, n(all, "count"));
    assert_eq!(n(all, "count"), 30_000);
    let hlog = std::fs::read_to_string(dir.join("latency.hlog")).unwrap();
    assert!(hlog.contains("Tag=intended.invalid,"));
    let ts = csv_rows(&dir.join("timeseries.csv"));
    assert!(ts.iter().any(|r| r["name"] == "invalid"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("\ninvalid "), "{stdout}");
    assert!(
        stdout.contains("closed loop: latency = service time"),
        "{stdout}"
    );
}
