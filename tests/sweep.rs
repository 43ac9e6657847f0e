//! `socialbench sweep` and `socialbench plot` end to end: the columns of
//! `sweep.csv`, COST in `sweep.json`, plots, resume without re-running
//! cells, spec mismatches and bad specs (exit 2), plot of a non-results
//! folder (exit 2).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::*;

/// `socialbench sweep --out OUT` with TINY's flags, `extra` overriding any
/// of them (clap refuses a flag given twice).
fn sweep(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep", "--out", out.to_str().expect("utf-8 path")];
    for pair in TINY.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend_from_slice(pair);
        }
    }
    args.extend_from_slice(extra);
    socialbench(&args)
}

fn rows(dir: &Path) -> Vec<HashMap<String, String>> {
    csv_rows(&dir.join("sweep.csv"))
}

/// The raw data lines of sweep.csv (header excluded).
fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("sweep.csv"))
        .expect("sweep.csv")
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

fn sweep_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("sweep.json")).expect("sweep.json");
    serde_json::from_str(&text).expect("sweep.json parses")
}

#[test]
fn sweep_writes_documented_columns_baselines_cost_and_plots() {
    let out = temp_dir("sweep-basic");
    let dir = out.join("s");
    let o = sweep(
        &dir,
        &[
            "--engines",
            "actor,sharded",
            "--threads",
            "1,2",
            "--shards",
            "1,2",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        csv_header(&dir.join("sweep.csv")),
        [
            "engine",
            "client_threads",
            "engine_threads",
            "cores_used",
            "users",
            "rate",
            "ops_per_sec",
            "ops_per_sec_low",
            "ops_per_sec_high",
            "p50_ns",
            "p99_ns",
            "p99_low_ns",
            "p99_high_ns",
            "p999_ns",
            "max_ns",
            "errors",
            "audit",
            "efficiency",
            "c1_ops_per_sec",
            "partitions",
            "saturated",
            "rep",
            "stopped_by",
            "measured_ns",
            "cpu_ns_per_op",
            "oversubscribed",
            "replicas",
            "replication",
            "finished_at_unix_ms",
            "schema",
        ]
    );
    let rows = rows(&dir);
    let cells: Vec<(String, u32, u32)> = rows
        .iter()
        .map(|r| {
            (
                r["engine"].clone(),
                r["client_threads"].parse().unwrap(),
                r["partitions"].parse().unwrap(),
            )
        })
        .collect();
    // C1 once, null per thread count, actor per thread count (partitions do
    // not multiply it), sharded per thread count x shard count.
    let count = |e: &str| cells.iter().filter(|c| c.0 == e).count();
    assert_eq!(count("serial"), 1, "{cells:?}");
    assert!(cells.contains(&("serial".into(), 1, 1)));
    assert_eq!(count("null"), 2);
    assert_eq!(count("actor"), 2);
    assert_eq!(count("sharded"), 4);
    assert!(cells.contains(&("sharded".into(), 2, 2)));
    let c1: f64 = rows
        .iter()
        .find(|r| r["engine"] == "serial")
        .map(|r| r["ops_per_sec"].parse().unwrap())
        .unwrap();
    assert!(c1 > 0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    for r in &rows {
        let ops: f64 = r["ops_per_sec"].parse().unwrap();
        let used: u32 = r["cores_used"].parse().unwrap();
        let threads: u32 = r["client_threads"].parse::<u32>().unwrap()
            + r["engine_threads"].parse::<u32>().unwrap();
        assert_eq!(used, threads.min(cores), "{r:?}");
        assert_eq!(r["oversubscribed"], (threads > cores).to_string(), "{r:?}");
        let (low, high): (f64, f64) = (
            r["ops_per_sec_low"].parse().unwrap(),
            r["ops_per_sec_high"].parse().unwrap(),
        );
        assert!(low <= ops && ops <= high, "{r:?}");
        assert_eq!(r["c1_ops_per_sec"].parse::<f64>().unwrap(), c1, "{r:?}");
        let eff: f64 = r["efficiency"].parse().unwrap();
        let expected = ops / (used as f64 * c1);
        assert!((eff - expected).abs() <= 1e-4 * expected.max(1.0), "{r:?}");
        assert_eq!(r["rate"], "", "closed loop only: {r:?}");
        assert_eq!(r["saturated"], "false");
        let audit = if r["engine"] == "null" { "n/a" } else { "pass" };
        assert_eq!(r["audit"], audit, "{r:?}");
    }
    // COST for each non-baseline engine, consistent with the rows.
    let j = sweep_json(&dir);
    assert_eq!(j["complete"], true);
    assert_eq!(j["settings"]["duration_ns"], 200_000_000u64);
    assert_eq!(j["c1"][0]["ops_per_sec"].as_f64(), Some(c1));
    let costs = j["cost"].as_array().expect("cost array");
    let engines: Vec<&str> = costs
        .iter()
        .map(|c| c["engine"].as_str().unwrap())
        .collect();
    assert_eq!(engines, ["actor", "sharded"]);
    for c in costs {
        let engine = c["engine"].as_str().unwrap();
        let beat: Option<u32> = rows
            .iter()
            .filter(|r| r["engine"] == engine && r["ops_per_sec"].parse::<f64>().unwrap() > c1)
            .map(|r| r["cores_used"].parse().unwrap())
            .min();
        assert_eq!(c["cores"].as_u64().map(|n| n as u32), beat, "{c}");
        let label = c["label"].as_str().unwrap();
        match beat {
            Some(n) => assert_eq!(label, n.to_string()),
            None => assert!(label.starts_with("> "), "{label}"),
        }
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("COST (1.0k users"), "{stdout}");
    assert!(stdout.contains("plots: "), "{stdout}");
    for stem in ["scaling", "efficiency", "latency_vs_throughput"] {
        for ext in ["svg", "png"] {
            let f = dir.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&f).is_ok_and(|m| m.len() > 0),
                "{}",
                f.display()
            );
        }
    }
}

#[test]
fn rate_sweep_stops_raising_the_rate_of_a_line_once_it_saturates() {
    let out = temp_dir("sweep-rates");
    let dir = out.join("s");
    // 500 ops/s any engine sustains; 50M ops/s none does, so 100M is never run.
    let o = sweep(
        &dir,
        &[
            "--engines",
            "actor",
            "--threads",
            "1",
            "--rates",
            "500,50M,100M",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let rows = rows(&dir);
    for engine in ["serial", "actor"] {
        let of = |rate: &str| {
            rows.iter()
                .find(|r| r["engine"] == engine && r["rate"] == rate)
                .cloned()
        };
        let closed = of("").expect("closed-loop cell");
        assert_eq!(closed["saturated"], "false");
        let low = of("500.0").expect("500 ops/s cell");
        assert_eq!(low["saturated"], "false", "{low:?}");
        let high = of("50000000.0").expect("50M ops/s cell");
        assert_eq!(high["saturated"], "true", "{high:?}");
        assert!(of("100000000.0").is_none(), "ran past saturation: {rows:?}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("beyond saturation"), "{stdout}");
    assert!(dir.join("latency_vs_throughput.png").is_file());
}

#[test]
fn repeated_sweep_measures_each_cell_per_pass_at_shares_of_the_first_capacity() {
    let out = temp_dir("sweep-repeat");
    let dir = out.join("s");
    let o = sweep(
        &dir,
        &[
            "--engines",
            "actor",
            "--threads",
            "1",
            "--rates",
            "50%",
            "--repeat",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let rows = rows(&dir);
    // serial, null, actor: closed + 50% each, twice.
    assert_eq!(rows.len(), 12, "{rows:?}");
    for engine in ["serial", "null", "actor"] {
        let of = |rep: &str, open: bool| -> Vec<&HashMap<String, String>> {
            rows.iter()
                .filter(|r| {
                    r["engine"] == engine && r["rep"] == rep && r["rate"].is_empty() != open
                })
                .collect()
        };
        for rep in ["0", "1"] {
            assert_eq!(
                (of(rep, false).len(), of(rep, true).len()),
                (1, 1),
                "{engine} {rep}"
            );
        }
        // Both passes offer half of the first pass's capacity.
        let capacity: f64 = of("0", false)[0]["ops_per_sec"].parse().unwrap();
        for rep in ["0", "1"] {
            let rate: f64 = of(rep, true)[0]["rate"].parse().unwrap();
            assert_eq!(rate, (capacity * 0.5).round(), "{engine} rep {rep}");
        }
    }
    let doc = sweep_json(&dir);
    assert_eq!(doc["matrix"]["repeat"], 2);
    assert_eq!(doc["matrix"]["rates"][0], "50%");
    // C1 is the median (lower middle of two) of the serial repetitions.
    let mut c1s: Vec<f64> = rows
        .iter()
        .filter(|r| r["engine"] == "serial" && r["rate"].is_empty())
        .map(|r| r["ops_per_sec"].parse().unwrap())
        .collect();
    c1s.sort_by(f64::total_cmp);
    assert_eq!(doc["c1"][0]["ops_per_sec"].as_f64(), Some(c1s[0]));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("repetitions: up to 2 per cell"), "{stdout}");
    // One folder per repetition.
    assert!(dir.join("cells/actor-c1-p1-u1000-closed").is_dir());
    assert!(dir.join("cells/actor-c1-p1-u1000-closed-rep1").is_dir());
    // Resuming finds every cell, open-loop shares included.
    let again = sweep(
        &dir,
        &[
            "--engines",
            "actor",
            "--threads",
            "1",
            "--rates",
            "50%",
            "--repeat",
            "2",
        ],
    );
    assert!(again.status.success(), "{}", show(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 cells run, 12 skipped"),
        "{}",
        show(&again)
    );
}

#[test]
fn resumed_sweep_skips_measured_cells_and_keeps_their_rows() {
    let out = temp_dir("sweep-resume");
    let dir = out.join("s");
    let small = ["--engines", "actor", "--threads", "1"];
    let o = sweep(&dir, &small);
    assert!(o.status.success(), "{}", show(&o));
    let first = lines(&dir);
    // serial (C1), null, actor.
    assert_eq!(first.len(), 3, "{first:?}");

    // Same spec, bigger matrix: only the new cells run, old rows are untouched.
    let o = sweep(&dir, &["--engines", "actor,striped", "--threads", "1"]);
    assert!(o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 cells run, 3 skipped"),
        "{}",
        show(&o)
    );
    let second = lines(&dir);
    assert_eq!(second.len(), 4, "{second:?}");
    assert_eq!(&second[..3], &first[..], "old rows changed\n{err}");
    assert!(second[3].starts_with("striped,"), "{second:?}");

    // An interrupted sweep lost its last row: only that cell runs again.
    let kept = &second[..3];
    let mut text = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    text.truncate(cut);
    std::fs::write(dir.join("sweep.csv"), &text).unwrap();
    let o = sweep(&dir, &["--engines", "actor,striped", "--threads", "1"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 cells run, 3 skipped"),
        "{}",
        show(&o)
    );
    let third = lines(&dir);
    assert_eq!(&third[..3], kept);
    assert_eq!(third.len(), 4);
    assert!(third[3].starts_with("striped,"));
    assert_ne!(third[3], second[3], "the lost cell was measured again");
    assert_eq!(sweep_json(&dir)["cells"], 4);

    // Everything measured: nothing runs, the table and plots are redrawn.
    let o = sweep(&dir, &["--engines", "actor,striped", "--threads", "1"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 cells run, 4 skipped"),
        "{}",
        show(&o)
    );
    assert_eq!(lines(&dir), third);
}

#[test]
fn resuming_with_another_spec_is_refused() {
    let out = temp_dir("sweep-mismatch");
    let dir = out.join("s");
    let o = sweep(&dir, &["--engines", "actor", "--threads", "1"]);
    assert!(o.status.success(), "{}", show(&o));
    let before = lines(&dir);
    for (flag, value, field) in [
        ("--duration", "300ms", "duration_ns"),
        ("--seed", "7", "seed"),
        ("--workload", "chat", "workload"),
    ] {
        let o = sweep(&dir, &["--engines", "actor", "--threads", "1", flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        let line = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
        assert!(
            line.contains("another spec") && line.contains(field),
            "{flag}: {err}"
        );
        assert_eq!(lines(&dir), before);
    }
    // A folder that is not a sweep is not taken over.
    let other = out.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = sweep(&other, &["--engines", "actor", "--threads", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a sweep folder"));
}

fn assert_bad_sweep(extra: &[&str], mentions: &str) {
    let out = temp_dir("sweep-bad");
    let o = sweep(&out.join("s"), extra);
    assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
    assert!(
        first.contains(mentions),
        "{extra:?}: `{first}` does not mention `{mentions}`"
    );
    assert!(!out.join("s").join("sweep.csv").exists(), "a bad spec ran");
}

#[test]
fn bad_sweep_specs_exit_2_with_a_clear_message() {
    assert_bad_sweep(&["--engines", "actor,quantum"], "invalid value 'quantum'");
    assert_bad_sweep(
        &["--engines", "actor,quantum"],
        "possible values: null, serial",
    );
    assert_bad_sweep(&["--threads", "0"], "at least 1");
    assert_bad_sweep(&["--threads", ""], "--threads");
    assert_bad_sweep(&["--shards", "1,,2"], "--shards");
    assert_bad_sweep(&["--rates", "10k,fast"], "fast");
    assert_bad_sweep(&["--rates", "0"], "rate");
    assert_bad_sweep(&["--rates", "0%"], "share of capacity");
    assert_bad_sweep(&["--repeat", "0"], "--repeat");
    assert_bad_sweep(&["--users", "lots"], "lots");
    assert_bad_sweep(&["--duration", "soon"], "soon");
}

#[test]
fn plot_redraws_a_run_folder_and_refuses_a_non_results_folder() {
    let out = temp_dir("plot");
    let o = run(&out, "r", &["--engine", "striped", "--threads", "1"]);
    assert!(o.status.success(), "{}", show(&o));
    let dir = out.join("r");
    // The run drew its plots at the end and said where.
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("plots: "),
        "{}",
        show(&o)
    );
    let png = dir.join("throughput.png");
    assert!(png.is_file());
    std::fs::remove_file(&png).unwrap();
    let o = socialbench(&["plot", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(png.is_file(), "plot did not redraw throughput.png");
    assert!(dir.join("throughput.svg").is_file());

    let empty = temp_dir("plot-empty");
    std::fs::write(empty.join("notes.txt"), "not results").unwrap();
    for bad in [empty.clone(), empty.join("missing")] {
        let o = socialbench(&["plot", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}
