//! `socialbench merge` without Redis: two short `serial` runs made into the
//! two groups of a group run (their `run.json` patched with
//! `summary.group`), then merged. The merge must add what the parts
//! measured (counts exactly, histograms rather than percentiles) and write
//! a run folder every reader of runs reads; folders that are not one whole
//! group run are refused with one line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use socialbench_engines::{EngineKind, WriteTally};
use socialbench_harness::merge::{GroupRuns, MergeError, MergedSummary, merge, render};
use socialbench_harness::run::{build_workload, run_with_workload};
use socialbench_harness::schema::run::{RunCaption, SummaryRow, TimeseriesRow};
use socialbench_harness::schema::{self, read_csv};
use socialbench_harness::{Limit, ProgressMode, RunConfig};

/// The two base runs, made once for every test (a second each).
fn base_runs() -> &'static [PathBuf; 2] {
    static RUNS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    RUNS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("merge-base");
        let _ = std::fs::remove_dir_all(&root);
        ["one", "two"].map(|id| {
            let mut c = RunConfig::new(EngineKind::Serial);
            c.users = Some(1_000);
            c.threads = Some(1);
            c.warmup = Duration::from_millis(100);
            c.limit = Limit::Duration(Duration::from_millis(500));
            c.interval = Some(Duration::from_millis(100));
            c.out_root = Some(root.clone());
            c.run_id = Some(id.into());
            c.link_latest = false;
            c.progress = ProgressMode::Quiet;
            c.print_table = false;
            let workload = build_workload(&c).unwrap();
            run_with_workload(&c, &workload)
                .unwrap()
                .out_dir
                .expect("the run wrote a folder")
        })
    })
}

/// A fresh scratch folder for `test`.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("merge")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a run folder's data files (not its plots) to `to`.
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in [
        schema::RUN_JSON,
        schema::SUMMARY_CSV,
        schema::TIMESERIES_CSV,
        schema::HLOG,
    ] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

fn read_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(schema::RUN_JSON)).unwrap()).unwrap()
}

/// Rewrites `dir/run.json` through `f`.
fn patch(dir: &Path, f: impl FnOnce(&mut Value)) {
    let mut doc = read_json(dir);
    f(&mut doc);
    std::fs::write(
        dir.join(schema::RUN_JSON),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
}

/// Makes the run in `dir` group `k` of `n`, as a group run's process writes it.
fn make_group(dir: &Path, k: usize, n: usize) {
    patch(dir, |doc| {
        doc["summary"]["group"] = json!({"k": k, "n": n, "prefix": "p:"});
        doc["summary"]["audit"]["verdict"] = json!("n/a");
    });
}

/// The base runs copied into `test`'s scratch folder as groups 1 and 2 of 2.
fn group_pair(test: &str) -> (PathBuf, [PathBuf; 2]) {
    let root = scratch(test);
    let dirs = [root.join("g1"), root.join("g2")];
    for (k, (from, to)) in base_runs().iter().zip(&dirs).enumerate() {
        copy_run(from, to);
        make_group(to, k + 1, 2);
    }
    (root, dirs)
}

/// A run's acknowledged writes as its run.json has them.
fn tally_of(dir: &Path) -> WriteTally {
    let t = &read_json(dir)["summary"]["audit"]["tally"];
    let n = |f: &str| t[f].as_u64().unwrap();
    WriteTally {
        users: n("users"),
        communities: n("communities"),
        posts: n("posts"),
        comments: n("comments"),
        dms: n("dms"),
        vote_delta_sum: t["vote_delta_sum"].as_i64().unwrap(),
        joins: n("joins"),
        leaves: n("leaves"),
    }
}

/// (count, errors) per op kind name (`all` included) over `intervals` of a
/// run's `timeseries.csv`, and the set of its intervals.
fn counts_in(dir: &Path, intervals: Option<&BTreeSet<u64>>) -> BTreeMap<String, (u64, u64)> {
    let rows: Vec<TimeseriesRow<'static>> = read_csv(&dir.join(schema::TIMESERIES_CSV)).unwrap();
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.source == "op" && intervals.is_none_or(|s| s.contains(&r.interval)))
    {
        let e = out.entry(r.name.to_string()).or_default();
        match &*r.metric {
            "count" => e.0 += r.value,
            "errors" => e.1 += r.value,
            _ => {}
        }
    }
    out
}

fn intervals_of(dir: &Path) -> BTreeSet<u64> {
    let rows: Vec<TimeseriesRow<'static>> = read_csv(&dir.join(schema::TIMESERIES_CSV)).unwrap();
    rows.iter().map(|r| r.interval).collect()
}

fn summary_rows(dir: &Path) -> Vec<SummaryRow> {
    read_csv(&dir.join(schema::SUMMARY_CSV)).unwrap()
}

fn merged(test: &str) -> (PathBuf, [PathBuf; 2], MergedSummary) {
    let (root, dirs) = group_pair(test);
    // Given out of order: the runs are taken by group.
    let runs = GroupRuns::read(&[dirs[1].clone(), dirs[0].clone()]).unwrap();
    let out = root.join("merged");
    let s = merge(&runs, &out, runs.not_audited("no store in this test")).unwrap();
    (out, dirs, s)
}

#[test]
fn merged_counts_are_the_sums_of_the_parts_and_the_p99_lies_between_theirs() {
    let (_, dirs, s) = merged("sums");
    let runs = GroupRuns::read(&dirs).unwrap();
    assert_eq!(
        runs.runs().iter().map(|r| r.k).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(runs.prefix(), "p:");
    let mut tally = tally_of(&dirs[0]);
    tally.add(&tally_of(&dirs[1]));
    assert_eq!(runs.tally(), tally);
    assert_eq!(s.audit.tally, tally);

    let sets = dirs.each_ref().map(|d| intervals_of(d));
    let common: BTreeSet<u64> = sets[0].intersection(&sets[1]).copied().collect();
    assert_eq!(s.intervals, common.len() as u64);
    // Per kind, over the common window: the sum of the parts.
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for d in &dirs {
        for (kind, (c, e)) in counts_in(d, Some(&common)) {
            let x = expected.entry(kind).or_default();
            x.0 += c;
            x.1 += e;
        }
    }
    let got: BTreeMap<String, (u64, u64)> = s
        .kinds
        .iter()
        .map(|k| (k.kind.clone(), (k.count, k.errors)))
        .collect();
    assert_eq!(got, expected);
    assert!(got.len() > 3, "{got:?}");
    assert!(
        got["invalid"].1 > 0,
        "the invalid requests' errors are summed"
    );
    assert_eq!(s.ops, expected["all"].0);
    assert_eq!(s.processes.iter().map(|p| p.ops).sum::<u64>(), s.ops);
    assert_eq!(
        s.processes.iter().map(|p| p.k).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let secs = s.measured_ns as f64 / 1e9;
    assert!((s.ops_per_sec - s.ops as f64 / secs).abs() < 1e-6);

    // Same intervals in both: the whole runs add up, as their summaries say.
    assert_eq!(sets[0], sets[1], "both 500 ms runs have the same intervals");
    let parts = dirs.each_ref().map(|d| summary_rows(d));
    for k in &s.kinds {
        let part = |i: usize| parts[i].iter().find(|r| r.kind == k.kind);
        let sum: u64 = (0..2).filter_map(part).map(|r| r.count).sum();
        assert_eq!(k.count, sum, "{}", k.kind);
    }
    assert_eq!(s.processes.iter().map(|p| p.ops_outside).sum::<u64>(), 0);
    // A mixture's quantile lies between its components'.
    let p99 = |rows: &[SummaryRow]| {
        rows.iter()
            .find(|r| r.kind == "all")
            .unwrap()
            .intended_p99_ns
    };
    let (a, b) = (p99(&parts[0]), p99(&parts[1]));
    let m = s.all().unwrap().intended.p99_ns;
    assert!(a.min(b) <= m && m <= a.max(b), "{a} {m} {b}");
    // The measured window is the parts' (both the same here).
    let window: u64 = read_json(&dirs[0])["summary"]["measured_ns"]
        .as_u64()
        .unwrap();
    assert_eq!(s.measured_ns, window);

    let table = render(&s);
    assert!(table.contains("group 2/2"), "{table}");
    assert!(table.contains("audit: not checked"), "{table}");
}

#[test]
fn the_merged_folder_is_a_run_every_reader_reads() {
    let (out, _, s) = merged("files");
    let ts: Vec<TimeseriesRow<'static>> = read_csv(&out.join(schema::TIMESERIES_CSV)).unwrap();
    let all_counts: u64 = ts
        .iter()
        .filter(|r| r.source == "op" && r.name == "all" && r.metric == "count")
        .map(|r| r.value)
        .sum();
    assert_eq!(all_counts, s.ops);
    let rss = ts
        .iter()
        .find(|r| r.source == "process" && r.name == "rss")
        .unwrap();
    assert!(rss.value > 0, "the processes' rss is summed");
    let summary = summary_rows(&out);
    assert_eq!(summary.last().unwrap().kind, "all");
    assert_eq!(summary.last().unwrap().count, s.ops);

    let doc = read_json(&out);
    assert_eq!(doc["schema"], json!(schema::SCHEMA_VERSION));
    assert_eq!(doc["merged_from"].as_array().unwrap().len(), 2);
    assert_eq!(doc["summary"]["groups"], json!(2));
    let caption = RunCaption::of(&out).expect("run.json names the run");
    assert_eq!(
        (caption.engine.as_str(), caption.client_threads),
        ("serial", 2)
    );
    assert!(out.join("throughput.png").is_file());
    assert!(out.join("latency_over_time.png").is_file());

    // The merged latency.hlog decodes and agrees with its timeseries.csv:
    // merged again as a group of one, it gives the same counts.
    let again = out.parent().unwrap().join("again");
    copy_run(&out, &again);
    make_group(&again, 1, 1);
    let runs = GroupRuns::read(std::slice::from_ref(&again)).unwrap();
    let twice = merge(
        &runs,
        &out.parent().unwrap().join("twice"),
        runs.not_audited("test"),
    )
    .unwrap();
    let counts = |s: &MergedSummary| {
        s.kinds
            .iter()
            .map(|k| (k.kind.clone(), k.count, k.errors, k.intended.p99_ns))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&twice), counts(&s));
    assert_eq!(twice.measured_ns, s.measured_ns);
}

/// The error of reading `dirs`, checked to be one line.
fn refusal(dirs: &[PathBuf]) -> MergeError {
    let e = GroupRuns::read(dirs).unwrap_err();
    let msg = e.to_string();
    assert!(!msg.contains('\n') && !msg.is_empty(), "{msg:?}");
    e
}

#[test]
fn folders_that_are_not_one_whole_group_run_are_refused_in_one_line() {
    let (root, [g1, g2]) = group_pair("refusals");

    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = refusal(&[g1.clone(), empty.clone()]);
    assert!(
        matches!(&e, MergeError::NotARun { dir, .. } if *dir == empty),
        "{e}"
    );
    assert!(e.to_string().contains("run.json"), "{e}");

    let plain = root.join("plain");
    copy_run(&base_runs()[0], &plain);
    let e = refusal(&[plain.clone(), g2.clone()]);
    assert!(
        matches!(&e, MergeError::NotAGroup { dir } if *dir == plain),
        "{e}"
    );

    let seeded = root.join("seeded");
    copy_run(&g2, &seeded);
    patch(&seeded, |doc| doc["summary"]["seed"] = json!(43));
    let e = refusal(&[g1.clone(), seeded.clone()]);
    assert!(
        matches!(&e, MergeError::Mismatch { what: "seed", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("43"), "{e}");

    let twin = root.join("twin");
    copy_run(&g2, &twin);
    make_group(&twin, 1, 2);
    let e = refusal(&[g1.clone(), twin]);
    assert!(matches!(e, MergeError::DuplicateGroup { k: 1, .. }), "{e}");

    let e = refusal(std::slice::from_ref(&g1));
    assert!(
        matches!(&e, MergeError::MissingGroups { n: 2, missing } if missing == "2"),
        "{e}"
    );

    let e = refusal(&[]);
    assert!(matches!(e, MergeError::NoRuns), "{e}");

    // The output folder already holds a run: nothing is overwritten.
    let runs = GroupRuns::read(&[g1.clone(), g2]).unwrap();
    let before = std::fs::read(g1.join(schema::SUMMARY_CSV)).unwrap();
    let e = merge(&runs, &g1, runs.not_audited("test")).unwrap_err();
    assert!(
        matches!(&e, MergeError::OutExists { dir } if *dir == g1),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'));
    assert_eq!(std::fs::read(g1.join(schema::SUMMARY_CSV)).unwrap(), before);
}

#[test]
fn only_the_intervals_every_group_has_are_merged() {
    let (root, dirs) = group_pair("window");
    // Group 2 lost its last interval (from both its files).
    let last = *intervals_of(&dirs[1]).last().unwrap();
    let ts_path = dirs[1].join(schema::TIMESERIES_CSV);
    let text = std::fs::read_to_string(&ts_path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{last},")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&ts_path, kept).unwrap();
    let hlog_path = dirs[1].join(schema::HLOG);
    let start = format!(",{:.3},", (last - 1) as f64 * 0.1);
    let text = std::fs::read_to_string(&hlog_path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains(&start))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.len() < text.len(), "{start} found in the log");
    std::fs::write(&hlog_path, kept).unwrap();

    let runs = GroupRuns::read(&dirs).unwrap();
    let s = merge(&runs, &root.join("merged"), runs.not_audited("test")).unwrap();
    let common: BTreeSet<u64> = (1..last).collect();
    assert_eq!(s.intervals, common.len() as u64);
    assert_eq!(s.measured_ns, common.len() as u64 * 100_000_000);
    let all = |d: &Path, set: Option<&BTreeSet<u64>>| counts_in(d, set)["all"].0;
    assert_eq!(
        s.ops,
        all(&dirs[0], Some(&common)) + all(&dirs[1], Some(&common))
    );
    let outside = all(&dirs[0], None) - all(&dirs[0], Some(&common));
    assert!(outside > 0);
    assert_eq!(
        s.processes
            .iter()
            .map(|p| p.ops_outside)
            .collect::<Vec<_>>(),
        vec![outside, 0]
    );
    assert!(render(&s).contains("outside the common window"));
}
