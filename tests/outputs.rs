//! A run writes every documented file with the documented columns, and the
//! latency log decodes with HdrHistogram's own (Python) implementation.

mod common;

use common::*;

const SUMMARY_COLUMNS: [&str; 41] = [
    "kind",
    "count",
    "errors",
    "ops_per_sec",
    "ops_per_sec_low",
    "ops_per_sec_high",
    "intended_mean_ns",
    "intended_p50_ns",
    "intended_p50_low_ns",
    "intended_p50_high_ns",
    "intended_p90_ns",
    "intended_p90_low_ns",
    "intended_p90_high_ns",
    "intended_p99_ns",
    "intended_p99_low_ns",
    "intended_p99_high_ns",
    "intended_p999_ns",
    "intended_p999_low_ns",
    "intended_p999_high_ns",
    "intended_p9999_ns",
    "intended_p9999_low_ns",
    "intended_p9999_high_ns",
    "intended_max_ns",
    "service_mean_ns",
    "service_p50_ns",
    "service_p50_low_ns",
    "service_p50_high_ns",
    "service_p90_ns",
    "service_p90_low_ns",
    "service_p90_high_ns",
    "service_p99_ns",
    "service_p99_low_ns",
    "service_p99_high_ns",
    "service_p999_ns",
    "service_p999_low_ns",
    "service_p999_high_ns",
    "service_p9999_ns",
    "service_p9999_low_ns",
    "service_p9999_high_ns",
    "service_max_ns",
    "schema",
];

const TIMESERIES_COLUMNS: [&str; 8] = [
    "interval",
    "start_ns",
    "duration_ns",
    "source",
    "name",
    "metric",
    "value",
    "schema",
];

#[test]
fn closed_loop_run_writes_documented_files_and_columns() {
    let out = temp_dir("outputs");
    let o = run(&out, "r1", &["--engine", "striped", "--threads", "2"]);
    assert!(o.status.success(), "{}", show(&o));
    let dir = out.join("r1");
    assert_eq!(csv_header(&dir.join("summary.csv")), SUMMARY_COLUMNS);
    assert_eq!(csv_header(&dir.join("timeseries.csv")), TIMESERIES_COLUMNS);
    let rows = csv_rows(&dir.join("summary.csv"));
    let all = rows
        .iter()
        .find(|r| r["kind"] == "all")
        .expect("an all row");
    let total: u64 = rows
        .iter()
        .filter(|r| r["kind"] != "all")
        .map(|r| r["count"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(all["count"].parse::<u64>().unwrap(), total);
    assert!(total > 0);
    let ts = csv_rows(&dir.join("timeseries.csv"));
    for source in ["op", "engine", "process"] {
        assert!(ts.iter().any(|r| r["source"] == source), "no {source} rows");
    }
    assert!(ts.iter().any(|r| r["name"] == "rss" && r["value"] != "0"));
    let j = run_json(&dir);
    assert_eq!(j["config"]["engine"], "Striped");
    assert!(j["machine"]["cpu_model"].is_string());
    assert!(j["machine"]["usable_cores"].is_array());
    assert!(j["summary"]["pin_map"]["clients"].as_array().unwrap().len() == 2);
    assert_eq!(j["summary"]["audit"]["verdict"], "pass");
    assert_eq!(j["summary"]["ops"].as_u64().unwrap(), total);
    assert!(j["summary"]["load"]["ops"].as_u64().unwrap() > 0);
    assert!(j["summary"]["peak_rss_bytes"].as_u64().unwrap() > 0);
    let hlog = std::fs::read_to_string(dir.join("latency.hlog")).unwrap();
    assert!(hlog.contains("Tag=intended.") && hlog.contains("Tag=service."));
    let latest = out.join("latest");
    assert!(
        latest.join("run.json").exists(),
        "latest does not point at the run"
    );
    check_hlog_with_python(&dir);
}

/// Decodes `latency.hlog` with the `hdrhistogram` PyPI package and compares
/// it with `summary.csv`. The interpreter is `SOCIALBENCH_HLOG_PYTHON`
/// (CI points it at a virtual environment holding the package), else
/// `python3`. Without the package the check is skipped and says so, unless
/// `SOCIALBENCH_REQUIRE_HLOG_READER=1` (CI), which makes that a failure.
fn check_hlog_with_python(dir: &std::path::Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_hlog.py");
    let python = std::env::var("SOCIALBENCH_HLOG_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import hdrh.histogram"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        let why = format!(
            "latency.hlog python check: `{python} -c 'import hdrh.histogram'` failed \
             (needs python3 and `pip install hdrhistogram`)"
        );
        let required = std::env::var("SOCIALBENCH_REQUIRE_HLOG_READER").as_deref() == Ok("1");
        assert!(!required, "SOCIALBENCH_REQUIRE_HLOG_READER=1 but {why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let o = std::process::Command::new(&python)
        .arg(script)
        .arg(dir)
        .output()
        .expect("run the hlog reader");
    assert!(o.status.success(), "{}", show(&o));
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn open_loop_run_records_intended_and_service_latency() {
    let out = temp_dir("open");
    let o = run(
        &out,
        "open",
        &[
            "--engine",
            "actor",
            "--rate",
            "20k",
            "--fault",
            "stall:every=100ms,for=30ms",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let dir = out.join("open");
    let rows = csv_rows(&dir.join("summary.csv"));
    let all = rows.iter().find(|r| r["kind"] == "all").unwrap();
    let n = |k: &str| all[k].parse::<u64>().unwrap();
    assert!(n("count") > 0);
    // Latency from the intended start includes the wait for a stalled engine;
    // service time from the send cannot exceed it.
    assert!(n("intended_max_ns") >= n("service_max_ns"), "{all:?}");
    assert!(n("intended_p99_ns") >= n("service_p99_ns"), "{all:?}");
    assert!(n("service_p50_ns") > 0);
    let j = run_json(&dir);
    assert!(j["config"]["mode"]["Open"]["rate"].as_f64().unwrap() == 20_000.0);
    // A run that reached its limit sent every op of its window.
    assert_eq!(j["summary"]["stopped_by"], "Limit", "{}", show(&o));
    let sch = &j["summary"]["schedule"];
    assert_eq!(sch["unsent_due"].as_u64(), Some(0), "{sch}");
    assert!(sch["max_lag_ns"].as_u64().unwrap() >= sch["final_lag_ns"].as_u64().unwrap());
    check_hlog_with_python(&dir);
}

#[test]
fn open_loop_beyond_capacity_reports_saturation_and_stops() {
    let out = temp_dir("saturate");
    // A 2 s stall every 3 s against a 1 s lag bound: the schedule cannot be met.
    let o = run(
        &out,
        "sat",
        &[
            "--engine",
            "actor",
            "--rate",
            "5k",
            "--duration",
            "5s",
            "--fault",
            "stall:every=2500ms,for=2s",
            "--max-outstanding",
            "64",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let j = run_json(&out.join("sat"));
    assert_eq!(j["summary"]["stopped_by"], "Saturated", "{}", show(&o));
    let sat = &j["summary"]["saturation"];
    assert!(
        sat["offered_ops_per_sec"].as_f64().unwrap()
            > sat["achieved_ops_per_sec"].as_f64().unwrap()
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("SATURATED"));
    // Stopped behind schedule: the ops already due but never sent are counted.
    let sch = &j["summary"]["schedule"];
    assert!(sch["unsent_due"].as_u64().unwrap() > 0, "{sch}");
    assert!(sch["final_lag_ns"].as_u64().unwrap() > 0, "{sch}");
    assert!(
        sch["max_lag_ns"].as_u64().unwrap() >= 1_000_000_000,
        "{sch}"
    );
}
