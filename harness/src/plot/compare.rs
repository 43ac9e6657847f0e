//! The default engine comparison's figure, `comparison`, from
//! `comparison.csv`: throughput bars per engine (medians over passes, with
//! their intervals) beside p50 / p99 / p99.9 dots per engine on a log
//! latency axis (all intended latency, over all ops; p99 with its
//! interval), and each engine's throughput against the baseline (the paired
//! ratio with its interval, the verdict in the notes); engines whose audit
//! failed get a red cross on their bar.

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
    let bars = rows.iter().enumerate().filter(|(_, r)| !is_ceiling(r));
    let bars = bars.map(|(i, r)| (at(i), r.ops_per_sec)).collect();
    ops.add("", bars, Style::new(0, Mark::Bars));
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

    let mut lat = Panel::new(
        "intended latency",
        engines(),
        axis("latency", Ticks::Latency),
    );
    for (k, name) in ["p50", "p99", "p99.9"].into_iter().enumerate() {
        let get = |r: &ComparisonRow| [r.p50_ns, r.p99_ns, r.p999_ns][k];
        // 0 is a latency the file did not have (an old comparison.csv).
        let points = rows.iter().enumerate().filter(|(_, r)| get(r) > 0);
        let points: Vec<(f64, f64)> = points.map(|(i, r)| (at(i), get(r) as f64)).collect();
        if !points.is_empty() {
            let line = lat.add(name, points, Style::new(k + 1, Mark::Points));
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
    }
    let mut panels = vec![ops, lat];
    if let Some(vs) = versus(rows, &names) {
        panels.push(vs);
    }
    let n = panels.len();
    let row = Row::new(620, n, panels);
    Figure::new("comparison", "Engine comparison", 640 * n as u32, vec![row])
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
    let line = p.add(
        "",
        with.iter()
            .map(|(i, r)| (*i as f64, r.ratio.unwrap_or(1.0)))
            .collect(),
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
