//! The default engine comparison's figure, `comparison`, from
//! `comparison.csv`: throughput bars per engine beside p50 / p99 / p99.9
//! dots per engine on a log latency axis (all intended latency, over all
//! ops); engines whose audit failed get a red cross on their bar.

use super::chart::{Figure, Mark, Panel, Row, Style, Ticks, axis};
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
            lat.add(name, points, Style::new(k + 1, Mark::Points));
        }
    }
    let row = Row::new(620, 2, vec![ops, lat]);
    Figure::new("comparison", "Engine comparison", 1280, vec![row])
}
