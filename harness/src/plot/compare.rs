//! The default engine comparison's figure, `comparison`, from
//! `comparison.csv`: throughput bars per engine (medians over passes, with
//! their intervals) beside p50 / p99 / p99.9 dots per engine on a log
//! latency axis (all intended latency, over all ops; p99 with its
//! interval), and each engine's throughput against the baseline (the paired
//! ratio with its interval, the verdict in the notes); engines whose audit
//! failed get a red cross on their bar, engines whose threads outnumbered
//! the cores in some pass (`oversubscribed`) hollow bars and dots.

use super::chart::{Figure, INK, Line, Mark, Panel, Style, Ticks, axis};
use crate::schema::AuditVerdict;
use crate::schema::compare::ComparisonRow;

type Row = ComparisonRow;

/// The comparison figure.
pub(super) fn figure(rows: &[Row]) -> Figure {
    let names: Vec<String> = rows.iter().map(|r| r.engine.clone()).collect();
    let engines = || axis("engine", Ticks::Names(names.clone()));
    // The null engine (the harness's ceiling) runs tens of times faster than
    // any engine that keeps state; on one linear axis it would flatten their
    // bars, so its figure goes into the panel title instead (unless it is all
    // there is), as the sweep's scaling figure does.
    let ceiling = |r: &Row| r.engine == "null" && rows.len() > 1;
    let null = |r: &Row| format!(" (null, not drawn: {:.1}M ops/s)", r.ops_per_sec / 1e6);
    let null = rows
        .iter()
        .find(|r| ceiling(r))
        .map(null)
        .unwrap_or_default();
    let y = axis("throughput (ops/s)", Ticks::Number);
    let mut ops = Panel::new(format!("throughput{null}"), engines(), y);
    let bar = Style::new(0, Mark::Bars);
    add(
        &mut ops,
        "",
        rows,
        |r| (!ceiling(r)).then_some(r.ops_per_sec),
        bar,
    );
    let spread = ops.add("", Vec::new(), Style::new(0, Mark::Points).color(INK));
    let drawn = |r: &Row| !ceiling(r) && r.passes > 1;
    let ops_interval = |r: &Row| [r.ops_per_sec_low, r.ops_per_sec, r.ops_per_sec_high];
    bars(spread, rows, |r| drawn(r).then(|| ops_interval(r)));
    let failed = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.audit == AuditVerdict::Fail);
    let failed: Vec<(f64, f64)> = failed.map(|(i, r)| (i as f64, r.ops_per_sec)).collect();
    if !failed.is_empty() {
        ops.add("audit failed", failed, Style::new(3, Mark::Crosses));
    }
    if rows.iter().any(|r| r.oversubscribed) {
        ops.add("oversubscribed", Vec::new(), bar.hollow());
    }
    let mut lat = Panel::new(
        "intended latency",
        engines(),
        axis("latency", Ticks::Latency),
    );
    for (k, name) in ["p50", "p99", "p99.9"].into_iter().enumerate() {
        // 0 is a latency the file did not have (an old comparison.csv).
        let ns = |r: &Row| [r.p50_ns, r.p99_ns, r.p999_ns][k] as f64;
        let known = |r: &Row| Some(ns(r)).filter(|&v| v > 0.0);
        if rows.iter().all(|r| known(r).is_none()) {
            continue;
        }
        let line = add(&mut lat, name, rows, known, Style::new(k + 1, Mark::Points));
        let p99 = |r: &Row| [r.p99_low_ns, r.p99_ns, r.p99_high_ns].map(|v| v as f64);
        let p99 = |r: &Row| (r.p99_ns > 0 && r.passes > 1).then(|| p99(r));
        if name == "p99" {
            bars(line, rows, p99);
        }
    }
    let mut panels = vec![ops, lat];
    panels.extend(versus(rows, &names));
    let n = panels.len();
    let caption = match rows.iter().any(|r| r.oversubscribed) {
        true => "Engine comparison (hollow: oversubscribed, more threads than cores)",
        false => "Engine comparison",
    };
    let row = (620, n, panels);
    Figure::new("comparison", caption.into(), 640 * n as u32, vec![row])
}

/// Adds `name` at each engine's index, at its `y` if any, the engines that
/// shared cores in an unnamed hollow line drawn over it; returns the first
/// line, to add error bars to.
fn add<'p>(
    p: &'p mut Panel,
    name: &str,
    rows: &[Row],
    y: impl Fn(&Row) -> Option<f64>,
    style: Style,
) -> &'p mut Line {
    let points = |hollow: bool| {
        let rows = rows.iter().enumerate();
        let rows = rows.filter(|(_, r)| r.oversubscribed == hollow);
        rows.filter_map(|(i, r)| Some((i as f64, y(r)?))).collect()
    };
    let first = p.lines.len();
    p.add(name, points(false), style);
    p.add("", points(true), style.hollow());
    &mut p.lines[first]
}

/// Gives `line` error bars at each engine's index where `interval` has one
/// (low, value, high).
fn bars(line: &mut Line, rows: &[Row], interval: impl Fn(&Row) -> Option<[f64; 3]>) {
    let bar = |(i, r)| interval(r).map(|[l, v, h]| (i as f64, l, v, h));
    line.spread = rows.iter().enumerate().filter_map(bar).collect();
}

/// Throughput against the baseline: each engine's paired ratio with its
/// interval, the line ratio = 1, and the verdicts as notes. `None` for a
/// comparison without ratios (one pass, or a version-1 file).
fn versus(rows: &[Row], names: &[String]) -> Option<Panel> {
    let base = rows
        .iter()
        .find(|r| r.ratio.is_none() && !r.baseline.is_empty())?;
    let ratio = |r: &Row| r.ratio.filter(|_| r.engine != "null");
    if rows.iter().all(|r| ratio(r).is_none()) {
        return None;
    }
    let title = format!("throughput / {} (paired, 95% interval)", base.engine);
    let engines = axis("engine", Ticks::Names(names.to_vec()));
    let mut p = Panel::new(title, engines, axis("ratio", Ticks::Number));
    let line = add(&mut p, "", rows, ratio, Style::new(0, Mark::Points));
    bars(line, rows, |r| {
        Some([r.ratio_low?, ratio(r)?, r.ratio_high?])
    });
    let one = Style::new(0, Mark::Across).color(INK);
    p.add(format!("= {}", base.engine), vec![(0.0, 1.0)], one);
    let verdict = |r: &Row| Some(format!("{}: {}", r.engine, r.verdict?));
    p.notes = rows
        .iter()
        .filter(|r| ratio(r).is_some())
        .filter_map(verdict)
        .collect();
    Some(p)
}
