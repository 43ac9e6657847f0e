//! `socialbench diff A B`: two saved results of the same kind compared the
//! way a regression check needs, B against A.
//!
//! | folders | compared | interval |
//! |---|---|---|
//! | two runs | throughput and p99 of all ops | within-run only: batch means and rank intervals, combined on the log scale |
//! | two comparisons | each engine's passes | Welch t-interval of the log values (the builds ran at different times: nothing pairs them) |
//! | two sweeps | each cell's repetitions | the same, cell by cell |
//!
//! Folders that measured different things (another workload, users, seed,
//! engine or loop for runs; another scenario for sweeps) are refused as bad
//! input: a ratio between them would mean nothing.

use std::path::Path;

use serde::Deserialize;

use crate::config::RunError;
use crate::plot::{FolderKind, classify};
use crate::schema::compare::PassRow;
use crate::schema::run::SummaryRow;
use crate::schema::sweep::{SweepDocument, SweepRow};
use crate::schema::{self, PASSES_CSV, RUN_JSON, SUMMARY_CSV, SWEEP_CSV, SWEEP_JSON};
use crate::stats::paired::{interval_ratio, unpaired_ratio};
use crate::stats::{Estimate, Paired, Verdict};
use crate::units::human_rate;

/// One compared figure: what, and B against A.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffLine {
    /// What is compared (`actor`, `sharded clients=2 parts=2 users=100k closed`, `run`).
    pub what: String,
    /// Throughput B / A.
    pub throughput: Option<Paired>,
    /// p99 B / A (faster: lower).
    pub p99: Option<Paired>,
}

/// What `diff` found.
#[derive(Clone, Debug)]
pub struct Diff {
    /// The kind of both folders.
    pub kind: FolderKind,
    /// A line per compared figure.
    pub lines: Vec<DiffLine>,
    /// Whether the intervals are within-run only (two single runs).
    pub within_run_only: bool,
}

impl Diff {
    /// Whether any throughput came out slower in B.
    pub fn any_slower(&self) -> bool {
        self.lines
            .iter()
            .any(|l| l.throughput.is_some_and(|p| p.verdict == Verdict::Slower))
    }
}

fn bad(m: String) -> RunError {
    RunError::BadInput(m)
}

fn schema_err(e: schema::SchemaError) -> RunError {
    bad(e.to_string())
}

/// Compares B against A (module docs).
pub fn diff(a: &Path, b: &Path) -> Result<Diff, RunError> {
    let kind_of = |d: &Path| -> Result<FolderKind, RunError> {
        classify(d).map_err(|e| bad(e.to_string()))?.ok_or_else(|| {
            bad(format!(
                "{}: not a run, comparison or sweep folder",
                d.display()
            ))
        })
    };
    let (ka, kb) = (kind_of(a)?, kind_of(b)?);
    if ka != kb {
        return Err(bad(format!(
            "cannot diff a {ka:?} ({}) with a {kb:?} ({})",
            a.display(),
            b.display()
        )));
    }
    let lines = match ka {
        FolderKind::Run => vec![runs(a, b)?],
        FolderKind::Comparison => comparisons(a, b)?,
        FolderKind::Sweep => sweeps(a, b)?,
    };
    if lines.is_empty() {
        return Err(bad(format!(
            "{} and {} have nothing in common to compare",
            a.display(),
            b.display()
        )));
    }
    Ok(Diff {
        kind: ka,
        lines,
        within_run_only: ka == FolderKind::Run,
    })
}

/// What identifies what a run measured (the parts of `run.json` two runs
/// must share to be compared).
#[derive(Debug, Deserialize, PartialEq)]
struct RunIdentity {
    engine: String,
    workload: String,
    users: u64,
    seed: u64,
    client_threads: u64,
    partitions: u64,
    mode: serde_json::Value,
}

fn identity(dir: &Path) -> Result<RunIdentity, RunError> {
    #[derive(Deserialize)]
    struct Doc {
        summary: RunIdentity,
    }
    let path = dir.join(RUN_JSON);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str::<Doc>(&text)
        .map(|d| d.summary)
        .map_err(|e| bad(format!("{}: {e}", path.display())))
}

fn runs(a: &Path, b: &Path) -> Result<DiffLine, RunError> {
    let (ia, ib) = (identity(a)?, identity(b)?);
    if ia != ib {
        return Err(bad(format!(
            "{} and {} measured different things ({ia:?} vs {ib:?}); diff compares the same run of two builds",
            a.display(),
            b.display()
        )));
    }
    let all = |d: &Path| -> Result<SummaryRow, RunError> {
        let rows: Vec<SummaryRow> = schema::read_csv(&d.join(SUMMARY_CSV)).map_err(schema_err)?;
        rows.into_iter()
            .find(|r| r.kind == "all")
            .ok_or_else(|| bad(format!("{}: no `all` row", d.join(SUMMARY_CSV).display())))
    };
    let (ra, rb) = (all(a)?, all(b)?);
    let ops = |r: &SummaryRow| Estimate {
        value: r.ops_per_sec,
        low: r.ops_per_sec_low,
        high: r.ops_per_sec_high,
    };
    let p99 = |r: &SummaryRow| Estimate {
        value: r.intended_p99_ns as f64,
        low: r.intended_p99_low_ns as f64,
        high: r.intended_p99_high_ns as f64,
    };
    Ok(DiffLine {
        what: ia.engine,
        throughput: interval_ratio(ops(&ra), ops(&rb), true),
        p99: interval_ratio(p99(&ra), p99(&rb), false),
    })
}

fn comparisons(a: &Path, b: &Path) -> Result<Vec<DiffLine>, RunError> {
    let read = |d: &Path| -> Result<Vec<PassRow>, RunError> {
        schema::read_csv(&d.join(PASSES_CSV)).map_err(|e| {
            bad(format!(
                "{e} (a comparison without passes.csv predates passes: nothing to diff)"
            ))
        })
    };
    let (pa, pb) = (read(a)?, read(b)?);
    let mut engines: Vec<&str> = pa.iter().map(|p| p.engine.as_str()).collect();
    engines.dedup();
    Ok(engines
        .into_iter()
        .filter(|e| pb.iter().any(|p| p.engine == *e))
        .map(|e| {
            let of = |ps: &[PassRow], f: fn(&PassRow) -> f64| -> Vec<f64> {
                ps.iter().filter(|p| p.engine == e).map(f).collect()
            };
            DiffLine {
                what: e.to_string(),
                throughput: unpaired_ratio(
                    &of(&pa, |p| p.ops_per_sec),
                    &of(&pb, |p| p.ops_per_sec),
                    true,
                ),
                p99: unpaired_ratio(
                    &of(&pa, |p| p.p99_ns as f64),
                    &of(&pb, |p| p.p99_ns as f64),
                    false,
                ),
            }
        })
        .collect())
}

fn sweeps(a: &Path, b: &Path) -> Result<Vec<DiffLine>, RunError> {
    let doc = |d: &Path| -> Result<SweepDocument, RunError> {
        schema::read_json(&d.join(SWEEP_JSON)).map_err(schema_err)
    };
    let (da, db) = (doc(a)?, doc(b)?);
    if da.settings.scenario != db.settings.scenario || da.settings.workload != db.settings.workload
    {
        return Err(bad(format!(
            "{} and {} swept different workloads; diff compares the same sweep of two builds",
            a.display(),
            b.display()
        )));
    }
    let rows = |d: &Path| -> Result<Vec<SweepRow>, RunError> {
        schema::read_csv(&d.join(SWEEP_CSV)).map_err(schema_err)
    };
    let (ra, rb) = (rows(a)?, rows(b)?);
    let cell = |r: &SweepRow| crate::schema::cells::cell_of(r);
    let mut cells = Vec::new();
    for r in &ra {
        let c = cell(r);
        if !cells.contains(&c) && rb.iter().any(|x| cell(x) == c) {
            cells.push(c);
        }
    }
    Ok(cells
        .into_iter()
        .map(|c| {
            let of = |rs: &[SweepRow], f: fn(&SweepRow) -> f64| -> Vec<f64> {
                rs.iter().filter(|r| cell(r) == c).map(f).collect()
            };
            let rate = c.4.map_or("closed".to_string(), |bits| {
                format!("rate={}", human_rate(f64::from_bits(bits)))
            });
            DiffLine {
                what: format!(
                    "{} clients={} parts={} users={} {rate}",
                    c.0,
                    c.1,
                    c.2,
                    human_rate(c.3 as f64)
                ),
                throughput: unpaired_ratio(
                    &of(&ra, |r| r.ops_per_sec),
                    &of(&rb, |r| r.ops_per_sec),
                    true,
                ),
                p99: unpaired_ratio(&of(&ra, |r| r.p99_ns), &of(&rb, |r| r.p99_ns), false),
            }
        })
        .collect())
}

/// The diff as a table.
pub fn render(d: &Diff, a: &Path, b: &Path) -> String {
    let cell = |p: &Option<Paired>| match p {
        Some(p) => format!(
            "{:.3} [{:.3}, {:.3}] {}",
            p.ratio.value, p.ratio.low, p.ratio.high, p.verdict
        ),
        None => "-".into(),
    };
    let mut o = format!(
        "B = {} against A = {}\n{:<48} {:<40} {}\n",
        b.display(),
        a.display(),
        "",
        "throughput B/A [95% CI]",
        "p99 B/A [95% CI]"
    );
    for l in &d.lines {
        o.push_str(&format!(
            "{:<48} {:<40} {}\n",
            l.what,
            cell(&l.throughput),
            cell(&l.p99)
        ));
    }
    o.push_str(if d.within_run_only {
        "intervals are within-run only (one run each side: run-to-run spread is not in them; compare passes for a verdict that includes it)\n"
    } else {
        "ratios of geometric means over passes/repetitions; 95% Welch t-intervals of the log values; a verdict needs 3 values a side\n"
    });
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{COMPARISON_CSV, SCHEMA_VERSION};

    fn comparison(dir: &Path, speed: f64) {
        std::fs::create_dir_all(dir).unwrap();
        let mut w = csv::Writer::from_path(dir.join(PASSES_CSV)).unwrap();
        for pass in 0..8u32 {
            for (engine, ops) in [("serial", 100.0), ("actor", 120.0)] {
                let noise = 1.0 + 0.01 * f64::from(pass % 3);
                let ops = ops * noise * if engine == "actor" { speed } else { 1.0 };
                w.serialize(PassRow {
                    engine: engine.into(),
                    pass,
                    position: 0,
                    client_threads: 1,
                    engine_threads: 0,
                    partitions: 1,
                    ops: 1,
                    errors: 0,
                    ops_per_sec: ops,
                    ops_per_sec_low: ops,
                    ops_per_sec_high: ops,
                    stationary: true,
                    p50_ns: 1,
                    p99_ns: 1000 + u64::from(pass),
                    p99_low_ns: 1,
                    p99_high_ns: 1,
                    p999_ns: 1,
                    max_ns: 1,
                    cpu_ns_per_op: 1.0,
                    steal_share: 0.0,
                    oversubscribed: false,
                    audit: crate::schema::AuditVerdict::Pass,
                    run_dir: String::new(),
                    schema: SCHEMA_VERSION,
                })
                .unwrap();
            }
        }
        w.flush().unwrap();
        // classify() knows a comparison by its comparison.csv.
        std::fs::write(dir.join(COMPARISON_CSV), "engine\n").unwrap();
    }

    #[test]
    fn a_slower_build_is_called_slower_and_the_same_build_indistinguishable() {
        let root = std::env::temp_dir().join(format!("diff-{}", std::process::id()));
        let (a, same, slow) = (root.join("a"), root.join("same"), root.join("slow"));
        comparison(&a, 1.0);
        comparison(&same, 1.0);
        comparison(&slow, 0.8);
        let d = diff(&a, &slow).unwrap();
        let actor = d.lines.iter().find(|l| l.what == "actor").unwrap();
        assert_eq!(actor.throughput.unwrap().verdict, Verdict::Slower);
        assert!(d.any_slower());
        let serial = d.lines.iter().find(|l| l.what == "serial").unwrap();
        assert_ne!(serial.throughput.unwrap().verdict, Verdict::Slower);
        assert!(!diff(&a, &same).unwrap().any_slower());
        // A comparison against a folder of another kind is bad input.
        let e = diff(&a, &root).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
    }
}
