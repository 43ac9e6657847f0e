//! The default engine comparison's figure, `comparison`, from
//! `comparison.csv`: throughput bars per engine (medians over passes, with
//! their intervals) beside p50 / p99 / p99.9 dots per engine on a log
//! latency axis (all intended latency, over all ops; p99 with its
//! interval), and each engine's throughput against the baseline (the paired
//! ratio with its interval, the verdict in the notes); engines whose audit
//! failed get a red cross on their bar, engines whose threads outnumbered
//! the cores in some pass (`oversubscribed`) hollow bars and dots.

use super::chart::{Figure, INK, Line, Mark, Panel, Row, Style, Ticks, axis};
use crate::schema::AuditVerdict;
use crate::schema::compare::ComparisonRow;

/// The comparison figure.
pub(super) fn figure(rows: &[ComparisonRow]) -> Figure {
    let names: Vec<String> = rows.iter().map(|r| r.engine.clone()).collect();
    let engines = || axis("engine", Ticks::Names(names.clone()));
    let at = |i: usize| i as f64;

    // The null engine (the harness's ceiling) runs tens of times faster than
    // any engine that keeps state; on one linear axis it would flatten their
    // bars, so its figure goes into the panel title instead (unless it is all
    // there is), as the sweep's scaling figure does.
    let is_ceiling = |r: &ComparisonRow| r.engine == "null" && rows.len() > 1;
    let title = match rows.iter().find(|r| is_ceiling(r)) {
        Some(r) => format!(
            "throughput (null, not drawn: {:.1}M ops/s)",
            r.ops_per_sec / 1e6
        ),
        None => "throughput".to_string(),
    };
    let mut ops = Panel::new(title, engines(), axis("throughput (ops/s)", Ticks::Number));
    let drawn = |r: &&ComparisonRow| !is_ceiling(r);
    add_split(
        &mut ops,
        "",
        rows,
        drawn,
        |r| r.ops_per_sec,
        Style::new(0, Mark::Bars),
    );
    let mut spread = Line::new("", Vec::new(), Style::new(0, Mark::Points).color(INK));
    spread.spread = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !is_ceiling(r) && r.passes > 1)
        .map(|(i, r)| (at(i), r.ops_per_sec_low, r.ops_per_sec, r.ops_per_sec_high))
        .collect();
    ops.lines.push(spread);
    let failed = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.audit == AuditVerdict::Fail);
    let failed: Vec<(f64, f64)> = failed.map(|(i, r)| (at(i), r.ops_per_sec)).collect();
    if !failed.is_empty() {
        ops.add("audit failed", failed, Style::new(3, Mark::Crosses));
    }
    if rows.iter().any(|r| r.oversubscribed) {
        let hollow = Style::new(0, Mark::Bars).hollow();
        ops.add("oversubscribed", Vec::new(), hollow);
    }

    let mut lat = Panel::new(
        "intended latency",
        engines(),
        axis("latency", Ticks::Latency),
    );
    for (k, name) in ["p50", "p99", "p99.9"].into_iter().enumerate() {
        let get = |r: &ComparisonRow| [r.p50_ns, r.p99_ns, r.p999_ns][k] as f64;
        // 0 is a latency the file did not have (an old comparison.csv).
        if !rows.iter().any(|r| get(r) > 0.0) {
            continue;
        }
        let line = add_split(
            &mut lat,
            name,
            rows,
            |r| get(r) > 0.0,
            get,
            Style::new(k + 1, Mark::Points),
        );
        if name == "p99" {
            let with = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.p99_ns > 0 && r.passes > 1);
            line.spread = with
                .map(|(i, r)| {
                    (
                        at(i),
                        r.p99_low_ns as f64,
                        r.p99_ns as f64,
                        r.p99_high_ns as f64,
                    )
                })
                .collect();
        }
    }
    let mut panels = vec![ops, lat];
    if let Some(vs) = versus(rows, &names) {
        panels.push(vs);
    }
    let n = panels.len();
    let row = Row::new(620, n, panels);
    let caption = match rows.iter().any(|r| r.oversubscribed) {
        true => "Engine comparison (hollow: oversubscribed, more threads than cores)",
        false => "Engine comparison",
    };
    Figure::new("comparison", caption, 640 * n as u32, vec![row])
}

/// Adds the rows that pass `keep` as `name` at their engine's index, y from
/// `y`: the engines that shared cores in a second, hollow line (unnamed)
/// drawn over the first. Returns the first, to add error bars to.
fn add_split<'p>(
    p: &'p mut Panel,
    name: &str,
    rows: &[ComparisonRow],
    keep: impl Fn(&&ComparisonRow) -> bool,
    y: impl Fn(&ComparisonRow) -> f64,
    style: Style,
) -> &'p mut Line {
    let points = |hollow: bool| {
        let rows = rows.iter().enumerate().filter(|(_, r)| keep(r));
        let rows = rows.filter(|(_, r)| r.oversubscribed == hollow);
        rows.map(|(i, r)| (i as f64, y(r))).collect::<Vec<_>>()
    };
    let first = p.lines.len();
    p.add(name, points(false), style);
    let hollow = points(true);
    if !hollow.is_empty() {
        p.add("", hollow, style.hollow());
    }
    &mut p.lines[first]
}

/// Throughput against the baseline: each engine's paired ratio with its
/// interval, the line ratio = 1, and the verdicts as notes. `None` for a
/// comparison without ratios (one pass, or a version-1 file).
fn versus(rows: &[ComparisonRow], names: &[String]) -> Option<Panel> {
    let base = rows
        .iter()
        .find(|r| r.ratio.is_none() && !r.baseline.is_empty())?;
    let with: Vec<(usize, &ComparisonRow)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.ratio.is_some() && r.engine != "null")
        .collect();
    if with.is_empty() {
        return None;
    }
    let mut p = Panel::new(
        format!("throughput / {} (paired, 95% interval)", base.engine),
        axis("engine", Ticks::Names(names.to_vec())),
        axis("ratio", Ticks::Number),
    );
    let ratio = |r: &&ComparisonRow| r.ratio.is_some() && r.engine != "null";
    let line = add_split(
        &mut p,
        "",
        rows,
        ratio,
        |r| r.ratio.unwrap_or(1.0),
        Style::new(0, Mark::Points),
    );
    line.spread = with
        .iter()
        .filter_map(|(i, r)| Some((*i as f64, r.ratio_low?, r.ratio?, r.ratio_high?)))
        .collect();
    p.add(
        format!("= {}", base.engine),
        vec![(0.0, 1.0)],
        Style::new(0, Mark::Across).color(INK),
    );
    for (_, r) in &with {
        if let Some(v) = r.verdict {
            p.notes.push(format!("{}: {v}", r.engine));
        }
    }
    Some(p)
}
