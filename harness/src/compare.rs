//! `socialbench compare` (and bare `socialbench`): every engine on one
//! workload, in interleaved passes, with verdicts a reader can trust.
//!
//! # Passes
//! A pass runs every engine once (a fresh engine each time, on one workload
//! prepared up front). Passes repeat (8 by default, at least
//! [`MIN_PASSES`](crate::stats::paired::MIN_PASSES) for a verdict), and the
//! order rotates from pass to pass (A B C, B C A, C A B, ...), so a slow
//! spell of the machine falls on every engine alike and no engine always
//! runs first or last. Each engine runs with its default threads and
//! partitions, as `run` would pick them.
//!
//! # What is reported
//! Per engine: the median of its passes' throughput and p99 with their
//! order-statistic intervals (`stats::interval`), its throughput and p99
//! against the baseline as paired ratios (pass by pass) with their 95%
//! t-intervals and a verdict (`stats::paired`), CPU time per op, and the
//! audit (failed if any pass failed). The baseline is C1, the serial
//! engine, unless `--baseline` names another engine of the comparison.
//!
//! # Precision
//! With a precision `P`, passes go on past the asked number until every
//! engine's throughput ratio has an interval of half-width at most `P`
//! (relative), or until the time budget is spent; the outcome says which.
//!
//! # Files
//! `<root>/<id>/`: `comparison.csv` (a row per engine), `passes.csv` (a row
//! per run), `comparison.json` (spec, outcome, machine), the `comparison`
//! figure, and each run's folder as `<engine>/pass-<k>/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use socialbench_engines::EngineKind;

use crate::config::{RunConfig, RunError};
use crate::machine::MachineInfo;
use crate::run::{build_workload, link_latest, new_run_id, run_with_workload};
use crate::schema::compare::{ComparisonRow, PassRow};
use crate::schema::{AuditVerdict, COMPARISON_CSV, PASSES_CSV, SCHEMA_VERSION};
use crate::stats::interval::median_interval;
use crate::stats::paired::paired_ratio;
use crate::stats::{Estimate, Verdict};
use crate::summary::RunSummary;
use crate::units::{human_ns, human_rate};

/// What a comparison is asked to do.
#[derive(Clone, Debug)]
pub struct CompareSpec {
    /// The settings every run shares (workload, users, seed, warmup,
    /// duration, loop, outputs, progress, stop signal); engine, threads and
    /// partitions are each engine's defaults.
    pub base: RunConfig,
    /// The engines, in table order.
    pub engines: Vec<EngineKind>,
    /// The engine every other is compared with (one of `engines`).
    pub baseline: EngineKind,
    /// Passes to measure at least.
    pub passes: usize,
    /// Go on until every throughput ratio's interval has at most this
    /// relative half-width (`0.02` for 2%).
    pub precision: Option<f64>,
    /// Stop adding passes after this long (a started pass is finished).
    pub max_time: Option<Duration>,
}

/// Why a comparison stopped adding passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareEnd {
    /// The asked number of passes (no precision asked).
    Passes,
    /// Every ratio reached the asked precision.
    PrecisionReached,
    /// The time budget ran out first.
    MaxTime,
    /// Ctrl-C.
    Interrupted,
}

/// What a comparison measured.
#[derive(Debug)]
pub struct Comparison {
    /// A row per engine, in `engines` order.
    pub rows: Vec<ComparisonRow>,
    /// A row per run.
    pub passes: Vec<PassRow>,
    /// Why it stopped.
    pub end: CompareEnd,
    /// The comparison's folder.
    pub out_dir: Option<PathBuf>,
}

impl Comparison {
    /// Engines with a pass whose audit failed.
    pub fn failed_audits(&self) -> Vec<&ComparisonRow> {
        self.rows
            .iter()
            .filter(|r| r.audit == AuditVerdict::Fail)
            .collect()
    }
}

/// `comparison.json`: what was asked, how it ended, on what machine.
#[derive(Debug, Serialize)]
struct CompareDocument<'a> {
    schema: u32,
    config: &'a RunConfig,
    engines: Vec<&'static str>,
    baseline: &'static str,
    passes_asked: usize,
    passes_run: usize,
    precision: Option<f64>,
    max_time_ns: Option<u64>,
    end: CompareEnd,
    rows: &'a [ComparisonRow],
    machine: MachineInfo,
}

/// The values of `spec` against their bounds.
fn check_values(spec: &CompareSpec) -> Result<(), RunError> {
    let bad = |m: String| Err(RunError::BadInput(m));
    if spec.engines.is_empty() {
        return bad("compare: no engines".into());
    }
    if !spec.engines.contains(&spec.baseline) {
        let names: Vec<&str> = spec.engines.iter().map(|e| e.name()).collect();
        return bad(format!(
            "--baseline {} is not one of the engines compared ({})",
            spec.baseline.name(),
            names.join(", ")
        ));
    }
    crate::limits::check_count("--passes", spec.passes, crate::limits::MAX_PASSES)?;
    if let Some(m) = spec.max_time {
        crate::limits::check_duration("--max-time", m, true)?;
    }
    if let Some(p) = spec.precision
        && !(p > 0.0 && p < 1.0)
    {
        return bad(format!(
            "--precision {}% must be above 0% and below 100%",
            p * 100.0
        ));
    }
    Ok(())
}

/// What a check of a comparison found ([`check`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CompareChecked {
    /// Engines compared.
    pub engines: usize,
    /// Passes asked.
    pub passes: usize,
    /// Simulated users.
    pub users: u32,
    /// The memory the largest engine's run needs, bytes.
    pub needed: u64,
    /// `MemAvailable`, bytes, where the machine tells.
    pub available: Option<u64>,
}

impl std::fmt::Display for CompareChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "engines={} passes={} users={}, the largest run needs ~{} MiB",
            self.engines,
            self.passes,
            self.users,
            crate::limits::mib(self.needed)
        )?;
        crate::limits::write_available(f, self.available)
    }
}

/// Every check the comparison does before its first run, without running
/// or creating anything: its values, the scenario, each engine's run as
/// [`crate::run::check_with`] sees it (the workload is shared, an engine
/// is built at a time: the largest run is what must fit), and the folder.
pub fn check(spec: &CompareSpec) -> Result<CompareChecked, RunError> {
    check_values(spec)?;
    let scenario = crate::run::scenario_of(&spec.base)?;
    let mut needed = 0;
    let mut available = None;
    for &engine in &spec.engines {
        let mut c = spec.base.for_engine(engine);
        c.threads = None;
        c.partitions = None;
        let checked = crate::run::check_with(&c, &scenario)?;
        needed = needed.max(checked.needed);
        available = checked.available;
    }
    if let Some(root) = &spec.base.out_root {
        crate::run::check_writable(root)?;
    }
    Ok(CompareChecked {
        engines: spec.engines.len(),
        passes: spec.passes,
        users: scenario.users,
        needed,
        available,
    })
}

/// Runs the comparison (module docs), writes its files, prints its table
/// and draws its figure.
pub fn compare(spec: &CompareSpec) -> Result<Comparison, RunError> {
    check(spec)?;
    let base = &spec.base;
    let id = base.run_id.clone().unwrap_or_else(|| new_run_id("compare"));
    let root = base.out_root.as_ref().map(|r| r.join(&id));
    if let Some(r) = &root {
        std::fs::create_dir_all(r).map_err(|e| {
            RunError::BadInput(format!(
                "output folder {} is not writable: {e}",
                r.display()
            ))
        })?;
    }
    let workload = build_workload(base)?;
    let started = Instant::now();
    let mut passes: Vec<PassRow> = Vec::new();
    let mut end = CompareEnd::Passes;
    for pass in 0.. {
        if let Some(e) = stop_before(spec, pass, &passes, started) {
            end = e;
            break;
        }
        let n = spec.engines.len();
        for position in 0..n {
            let engine = spec.engines[(pass + position) % n];
            if base.stop.is_stopped() {
                break;
            }
            let mut c = base.for_engine(engine);
            c.threads = None;
            c.partitions = None;
            c.out_root = root.as_ref().map(|r| r.join(engine.name()));
            c.run_id = Some(format!("pass-{pass}"));
            c.link_latest = false;
            c.print_table = false;
            let s = run_with_workload(&c, &workload)?;
            if s.stopped_by == crate::client::StopReason::Interrupted {
                break;
            }
            passes.push(pass_row(&s, pass as u32, position as u32));
            say(base, &passes[passes.len() - 1]);
        }
    }
    let rows = rows_of(&passes, &spec.engines, spec.baseline);
    if let Some(r) = &root {
        write_files(spec, r, &rows, &passes, end)?;
        if let Some(base_root) = &base.out_root {
            link_latest(base_root, r);
        }
    }
    if base.print_table {
        out!("{}", render(&rows, spec.baseline, end, passes_run(&passes)));
        if let Some(r) = &root {
            outln!("results: {}", r.display());
        }
    }
    if let Some(r) = &root {
        match crate::plot::plot_comparison(r) {
            Ok(files) if base.print_table => {
                outln!("plots: {}", crate::plot::describe_plots(r, &files))
            }
            Ok(_) => {}
            Err(e) => eprintln!("warning: plots not drawn: {e}"),
        }
    }
    Ok(Comparison {
        rows,
        passes,
        end,
        out_dir: root,
    })
}

/// Whether to stop before pass `pass`, and why.
fn stop_before(
    spec: &CompareSpec,
    pass: usize,
    passes: &[PassRow],
    started: Instant,
) -> Option<CompareEnd> {
    if spec.base.stop.is_stopped() {
        return Some(CompareEnd::Interrupted);
    }
    if pass < spec.passes {
        return None;
    }
    let Some(precision) = spec.precision else {
        return Some(CompareEnd::Passes);
    };
    let rows = rows_of(passes, &spec.engines, spec.baseline);
    let reached = rows.iter().all(|r| {
        r.engine == spec.baseline.name()
            || matches!((r.ratio, r.ratio_low, r.ratio_high), (Some(v), Some(l), Some(h)) if (h - l) / 2.0 / v <= precision)
    });
    if reached {
        return Some(CompareEnd::PrecisionReached);
    }
    if spec.max_time.is_some_and(|m| started.elapsed() >= m) {
        return Some(CompareEnd::MaxTime);
    }
    None
}

fn passes_run(passes: &[PassRow]) -> usize {
    passes
        .iter()
        .map(|p| p.pass as usize + 1)
        .max()
        .unwrap_or(0)
}

/// One progress line per run, unless quiet.
fn say(base: &RunConfig, p: &PassRow) {
    if base.progress != crate::config::ProgressMode::Quiet {
        eprintln!(
            "[compare] pass {} {}: {} ops/s, p99 {}, audit {}",
            p.pass + 1,
            p.engine,
            human_rate(p.ops_per_sec),
            human_ns(p.p99_ns),
            p.audit
        );
    }
}

/// The `passes.csv` row of one run.
pub fn pass_row(s: &RunSummary, pass: u32, position: u32) -> PassRow {
    let all = s.all();
    let intended = all.map(|k| k.intended).unwrap_or_default();
    let throughput = all.map_or(Estimate::exact(s.ops_per_sec), |k| k.throughput);
    PassRow {
        engine: s.engine.clone(),
        pass,
        position,
        client_threads: s.client_threads as u32,
        engine_threads: s.engine_threads as u32,
        partitions: s.partitions as u32,
        ops: s.ops,
        errors: s.errors,
        ops_per_sec: (s.ops_per_sec * 10.0).round() / 10.0,
        ops_per_sec_low: (throughput.low * 10.0).round() / 10.0,
        ops_per_sec_high: (throughput.high * 10.0).round() / 10.0,
        stationary: s.batch_means.is_none_or(|b| b.stationary),
        p50_ns: intended.p50_ns,
        p99_ns: intended.p99_ns,
        p99_low_ns: intended.low_ns[2],
        p99_high_ns: intended.high_ns[2],
        p999_ns: intended.p999_ns,
        max_ns: intended.max_ns,
        cpu_ns_per_op: (s.cpu.total_ns_per_op * 10.0).round() / 10.0,
        steal_share: s.steal.iter().map(|c| c.share).fold(0.0, f64::max),
        oversubscribed: s.oversubscribed,
        audit: s.audit.verdict,
        run_dir: format!("{}/pass-{pass}", s.engine),
        schema: SCHEMA_VERSION,
    }
}

/// The rows of `comparison.csv` from the passes so far (module docs).
pub fn rows_of(
    passes: &[PassRow],
    engines: &[EngineKind],
    baseline: EngineKind,
) -> Vec<ComparisonRow> {
    let n = passes_run(passes);
    // Per engine, per pass: its figure (None where the pass lacks it).
    let by_pass = |engine: &str, f: &dyn Fn(&PassRow) -> f64| -> Vec<Option<f64>> {
        (0..n)
            .map(|k| {
                passes
                    .iter()
                    .find(|p| p.engine == engine && p.pass as usize == k)
                    .map(f)
            })
            .collect()
    };
    let base_ops = by_pass(baseline.name(), &|p| p.ops_per_sec);
    let base_p99 = by_pass(baseline.name(), &|p| p.p99_ns as f64);
    engines
        .iter()
        .filter_map(|e| {
            let mine: Vec<&PassRow> = passes.iter().filter(|p| p.engine == e.name()).collect();
            let first = mine.first()?;
            let median = |f: &dyn Fn(&PassRow) -> f64| {
                let v: Vec<f64> = mine.iter().map(|p| f(p)).collect();
                median_interval(&v).map_or(Estimate::default(), |(e, _)| e)
            };
            let ops = median(&|p| p.ops_per_sec);
            let p99 = median(&|p| p.p99_ns as f64);
            let is_base = *e == baseline;
            let ratio = (!is_base)
                .then(|| paired_ratio(&by_pass(e.name(), &|p| p.ops_per_sec), &base_ops, true))
                .flatten();
            let p99_ratio = (!is_base)
                .then(|| paired_ratio(&by_pass(e.name(), &|p| p.p99_ns as f64), &base_p99, false))
                .flatten();
            let audit = if mine.iter().any(|p| p.audit == AuditVerdict::Fail) {
                AuditVerdict::Fail
            } else {
                first.audit
            };
            Some(ComparisonRow {
                engine: e.name().into(),
                client_threads: first.client_threads,
                engine_threads: first.engine_threads,
                partitions: first.partitions,
                passes: mine.len() as u32,
                ops: mine.iter().map(|p| p.ops).sum(),
                errors: mine.iter().map(|p| p.errors).sum(),
                ops_per_sec: ops.value,
                ops_per_sec_low: ops.low,
                ops_per_sec_high: ops.high,
                p50_ns: median(&|p| p.p50_ns as f64).value as u64,
                p99_ns: p99.value as u64,
                p99_low_ns: p99.low as u64,
                p99_high_ns: p99.high as u64,
                p999_ns: median(&|p| p.p999_ns as f64).value as u64,
                max_ns: mine.iter().map(|p| p.max_ns).max().unwrap_or(0),
                cpu_ns_per_op: median(&|p| p.cpu_ns_per_op).value,
                baseline: baseline.name().into(),
                ratio: ratio.map(|r| r.ratio.value),
                ratio_low: ratio.map(|r| r.ratio.low),
                ratio_high: ratio.map(|r| r.ratio.high),
                verdict: ratio.map(|r| r.verdict),
                p99_ratio: p99_ratio.map(|r| r.ratio.value),
                p99_ratio_low: p99_ratio.map(|r| r.ratio.low),
                p99_ratio_high: p99_ratio.map(|r| r.ratio.high),
                p99_verdict: p99_ratio.map(|r| r.verdict),
                audit,
                oversubscribed: mine.iter().any(|p| p.oversubscribed),
                schema: SCHEMA_VERSION,
            })
        })
        .collect()
}

fn write_files(
    spec: &CompareSpec,
    dir: &std::path::Path,
    rows: &[ComparisonRow],
    passes: &[PassRow],
    end: CompareEnd,
) -> Result<(), RunError> {
    write_csv(&dir.join(COMPARISON_CSV), rows)?;
    write_csv(&dir.join(PASSES_CSV), passes)?;
    let doc = CompareDocument {
        schema: SCHEMA_VERSION,
        config: &spec.base,
        engines: spec.engines.iter().map(|e| e.name()).collect(),
        baseline: spec.baseline.name(),
        passes_asked: spec.passes,
        passes_run: passes_run(passes),
        precision: spec.precision,
        max_time_ns: spec.max_time.map(|d| d.as_nanos() as u64),
        end,
        rows,
        machine: MachineInfo::probe(),
    };
    let path = dir.join("comparison.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| RunError::output(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| RunError::output(&path, e))
}

fn write_csv<T: Serialize>(path: &std::path::Path, rows: &[T]) -> Result<(), RunError> {
    let mut w = ::csv::Writer::from_path(path).map_err(|e| RunError::output(path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| RunError::output(path, e))?;
    }
    w.flush().map_err(|e| RunError::output(path, e))
}

/// `ratio [low, high] verdict`, or `(baseline)`.
fn ratio_cell(v: Option<f64>, l: Option<f64>, h: Option<f64>, verdict: Option<Verdict>) -> String {
    match (v, l, h, verdict) {
        (Some(v), Some(l), Some(h), Some(w)) => format!("{v:.2} [{l:.2}, {h:.2}] {w}"),
        _ => "(baseline)".into(),
    }
}

/// The comparison table.
pub fn render(
    rows: &[ComparisonRow],
    baseline: EngineKind,
    end: CompareEnd,
    passes: usize,
) -> String {
    let mut o = format!(
        "{:<9}{:>4}{:>4}{:>4} {:>24}  {:<36} {:>21}  {:<36} {:>8}  {}\n",
        "engine",
        "cli",
        "eng",
        "par",
        "ops/s [95% CI]",
        format!("throughput vs {}", baseline.name()),
        "p99 [95% CI]",
        format!("p99 vs {}", baseline.name()),
        "cpu/op",
        "audit"
    );
    for r in rows {
        o.push_str(&format!(
            "{:<9}{:>4}{:>4}{:>4} {:>24}  {:<36} {:>21}  {:<36} {:>8}  {}{}\n",
            r.engine,
            r.client_threads,
            r.engine_threads,
            r.partitions,
            format!(
                "{} [{}, {}]",
                human_rate(r.ops_per_sec),
                human_rate(r.ops_per_sec_low),
                human_rate(r.ops_per_sec_high)
            ),
            ratio_cell(r.ratio, r.ratio_low, r.ratio_high, r.verdict),
            format!(
                "{} [{}, {}]",
                human_ns(r.p99_ns),
                human_ns(r.p99_low_ns),
                human_ns(r.p99_high_ns)
            ),
            ratio_cell(
                r.p99_ratio,
                r.p99_ratio_low,
                r.p99_ratio_high,
                r.p99_verdict
            ),
            human_ns(r.cpu_ns_per_op as u64),
            r.audit,
            if r.oversubscribed {
                "  oversubscribed"
            } else {
                ""
            }
        ));
    }
    let why = match end {
        CompareEnd::Passes => "as asked".to_string(),
        CompareEnd::PrecisionReached => "precision reached".into(),
        CompareEnd::MaxTime => "time budget spent before the precision was reached".into(),
        CompareEnd::Interrupted => "interrupted".into(),
    };
    o.push_str(&format!(
        "{passes} interleaved passes ({why}). ops/s and p99: median over passes [95% order-statistic interval]; vs {}: geometric mean of the per-pass ratios [95% t-interval of the paired log-ratios] and the verdict; cpu/op: CPU time of every thread per op\n",
        baseline.name()
    ));
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(engine: &str, pass: u32, ops: f64, p99: u64) -> PassRow {
        PassRow {
            engine: engine.into(),
            pass,
            position: 0,
            client_threads: 1,
            engine_threads: 0,
            partitions: 1,
            ops: 100,
            errors: 0,
            ops_per_sec: ops,
            ops_per_sec_low: ops,
            ops_per_sec_high: ops,
            stationary: true,
            p50_ns: p99 / 2,
            p99_ns: p99,
            p99_low_ns: p99,
            p99_high_ns: p99,
            p999_ns: p99,
            max_ns: p99,
            cpu_ns_per_op: 1.0,
            steal_share: 0.0,
            oversubscribed: false,
            audit: AuditVerdict::Pass,
            run_dir: String::new(),
            schema: SCHEMA_VERSION,
        }
    }

    #[test]
    fn rows_pair_each_engine_with_the_baseline_pass_by_pass() {
        // The machine's speed swings 2x between passes; actor is always 10%
        // faster than serial in the same pass, striped always the same.
        let speed = [1.0, 2.0, 0.7, 1.5, 1.1, 0.6, 1.9, 1.2];
        let mut passes = Vec::new();
        for (k, s) in speed.iter().enumerate() {
            let k = k as u32;
            passes.push(pass("serial", k, 100.0 * s, 1000));
            passes.push(pass("actor", k, 110.0 * s, 900));
            passes.push(pass(
                "striped",
                k,
                100.0 * s * if k.is_multiple_of(2) { 1.01 } else { 0.99 },
                1000,
            ));
        }
        let engines = [EngineKind::Serial, EngineKind::Actor, EngineKind::Striped];
        let rows = rows_of(&passes, &engines, EngineKind::Serial);
        let get = |e: &str| rows.iter().find(|r| r.engine == e).unwrap();
        assert_eq!(get("serial").verdict, None);
        assert_eq!(get("actor").verdict, Some(Verdict::Faster));
        assert!((get("actor").ratio.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(get("actor").p99_verdict, Some(Verdict::Faster));
        assert_eq!(get("striped").verdict, Some(Verdict::Indistinguishable));
        // Unpaired, the medians' intervals overlap widely.
        assert!(get("actor").ops_per_sec_low < get("serial").ops_per_sec_high);
        assert_eq!(get("actor").passes, 8);
    }

    #[test]
    fn a_baseline_outside_the_comparison_is_bad_input() {
        let spec = CompareSpec {
            base: RunConfig::new(EngineKind::Null),
            engines: vec![EngineKind::Null, EngineKind::Actor],
            baseline: EngineKind::Serial,
            passes: 8,
            precision: None,
            max_time: None,
        };
        let e = compare(&spec).unwrap_err();
        assert!(
            e.is_bad_input() && e.to_string().contains("--baseline serial"),
            "{e}"
        );
    }
}
