//! The default engine comparison's figure, from `comparison.csv`.
//!
//! # `comparison.csv`
//! One row per engine, written by `crate::compare`; these are the columns
//! read here ([`ComparisonRow`], matched by name; the others, such as
//! `client_threads` or `max_ns`, are ignored):
//!
//! | column | meaning |
//! |---|---|
//! | `engine` | engine name |
//! | `ops_per_sec` | achieved throughput |
//! | `p50_ns`, `p99_ns`, `p999_ns` | intended latency of all ops, ns (`p50_ns`, `p999_ns` optional) |
//! | `audit` | `passed`, `failed` or `n/a` (optional) |
//!
//! # Figure
//! `comparison`: throughput bars per engine beside p50 / p99 / p99.9 markers
//! per engine on a log latency axis; engines whose audit failed get a cross.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::figure::{Axis, Figure, Mark, Panel, Quantity, Series, Style};
use super::sweep::AuditVerdict;
use super::{PlotError, read_csv};

/// File name of the comparison table.
pub const COMPARISON_CSV: &str = "comparison.csv";

/// A row of `comparison.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Engine name.
    pub engine: String,
    /// Achieved ops/s.
    pub ops_per_sec: f64,
    /// Intended latency p50, ns.
    #[serde(default)]
    pub p50_ns: Option<f64>,
    /// Intended latency p99, ns.
    pub p99_ns: f64,
    /// Intended latency p99.9, ns.
    #[serde(default)]
    pub p999_ns: Option<f64>,
    /// Audit verdict.
    #[serde(default)]
    pub audit: Option<AuditVerdict>,
}

/// Loads `comparison.csv`; a missing, empty or malformed file is an error.
pub fn load(path: &Path) -> Result<Vec<ComparisonRow>, PlotError> {
    read_csv(path)
}

/// The comparison figure.
pub(crate) fn figure(rows: &[ComparisonRow]) -> Figure {
    let names: Vec<String> = rows.iter().map(|r| r.engine.clone()).collect();
    let x = || Axis::zero_based("engine", Quantity::Category(names.clone()));
    let at = |i: usize| i as f64;

    // The null engine (the harness's ceiling) runs tens of times faster than
    // any engine that keeps state; on one linear axis it would flatten their
    // bars, so its figure goes into the panel title instead (unless it is all
    // there is), as the sweep's scaling plot does.
    let is_ceiling = |r: &ComparisonRow| r.engine == "null" && rows.len() > 1;
    let title = match rows.iter().find(|r| is_ceiling(r)) {
        Some(r) => format!(
            "throughput (null, not drawn: {:.1}M ops/s)",
            r.ops_per_sec / 1e6
        ),
        None => "throughput".to_string(),
    };
    let mut ops = Panel::new(
        title,
        x(),
        Axis::zero_based("throughput (ops/s)", Quantity::Number),
    );
    ops.legend = false;
    ops.series.push(Series {
        name: "ops/s".into(),
        points: rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !is_ceiling(r))
            .map(|(i, r)| (at(i), r.ops_per_sec))
            .collect(),
        style: Style::line(0).mark(Mark::Bars),
    });

    let mut lat = Panel::new(
        "intended latency",
        x(),
        Axis::log("latency", Quantity::DurationNs),
    );
    lat.legend = false;
    type Pick = fn(&ComparisonRow) -> Option<f64>;
    let pick: [(&str, Pick); 3] = [
        ("p50", |r| r.p50_ns),
        ("p99", |r| Some(r.p99_ns)),
        ("p99.9", |r| r.p999_ns),
    ];
    let mut legend = Vec::new();
    for (k, (name, get)) in pick.into_iter().enumerate() {
        let style = Style::line(k + 1).mark(Mark::Points);
        let points: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((at(i), get(r)?)))
            .collect();
        if !points.is_empty() {
            legend.push((name.to_string(), style));
            lat.series.push(Series {
                name: name.into(),
                points,
                style,
            });
        }
    }
    let failed: Vec<(f64, f64)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.audit == Some(AuditVerdict::Fail))
        .map(|(i, r)| (at(i), r.ops_per_sec))
        .collect();
    if !failed.is_empty() {
        let style = Style::line(3).mark(Mark::Crosses);
        legend.push(("audit failed".into(), style));
        ops.series.push(Series {
            name: "audit failed".into(),
            points: failed,
            style,
        });
    }
    Figure {
        stem: "comparison".into(),
        caption: "Engine comparison".into(),
        panels: vec![ops, lat],
        columns: 2,
        panel_size: (640, 600),
        legend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, ops_per_sec: f64) -> ComparisonRow {
        ComparisonRow {
            engine: engine.into(),
            ops_per_sec,
            p50_ns: Some(1e3),
            p99_ns: 1e4,
            p999_ns: Some(1e5),
            audit: None,
        }
    }

    #[test]
    fn null_ceiling_is_named_in_the_title_not_drawn_as_a_bar() {
        let f = figure(&[row("null", 2e7), row("serial", 3e5), row("actor", 3.1e5)]);
        let ops = &f.panels[0];
        assert!(
            ops.title.contains("null, not drawn: 20.0M"),
            "{}",
            ops.title
        );
        let bars: Vec<f64> = ops.series[0].points.iter().map(|p| p.0).collect();
        assert_eq!(bars, vec![1.0, 2.0], "only the stateful engines get bars");
    }

    #[test]
    fn null_alone_is_drawn() {
        let f = figure(&[row("null", 2e7)]);
        assert_eq!(f.panels[0].title, "throughput");
        assert_eq!(f.panels[0].series[0].points.len(), 1);
    }
}
