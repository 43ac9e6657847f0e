//! A run's figures, from its `timeseries.csv` and `summary.csv` (schemas:
//! `results/README.md`, written by `outputs::csv`):
//! - `throughput`: ops/s per interval, all ops (and errors/s when there are
//!   errors) above, each op kind below;
//! - `latency_over_time`: p50, p99 and max per interval, intended and service;
//! - `state_size`: approximate engine bytes per entity kind, their total, and
//!   the process RSS, per interval;
//! - `latency_percentiles`: the percentile spectrum (p50 .. p99.99, max) of
//!   intended and service latency, one panel per op kind and one for all.
//!
//! Interval values are plotted at the interval's midpoint, since a rate or a
//! percentile describes the whole interval.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::figure::{Axis, Figure, INK, Panel, Quantity, Series, Style, compact, nines};
use super::{PlotError, folder_name, read_csv};

/// File name of a run's time series.
pub const TIMESERIES_CSV: &str = "timeseries.csv";
/// File name of a run's summary.
pub const SUMMARY_CSV: &str = "summary.csv";
/// File name of a run's configuration and summary, read for captions only.
pub const RUN_JSON: &str = "run.json";

/// A row of `timeseries.csv` (long format: one value per row).
#[derive(Clone, Debug, Deserialize)]
pub struct TimeseriesRow {
    /// Interval index, from 1.
    pub interval: u64,
    /// Interval start, ns from the end of the warmup.
    pub start_ns: u64,
    /// Interval length, ns.
    pub duration_ns: u64,
    /// `op`, `engine` or `process`.
    pub source: String,
    /// Op kind or `all`; engine quantity (`users`, `total`, `mailbox` ...); `rss`.
    pub name: String,
    /// `ops_per_sec`, `errors`, `intended_p99_ns`, `bytes`, `count` ...
    pub metric: String,
    /// The value (ns for latencies, bytes for sizes).
    pub value: f64,
}

/// A row of `summary.csv` (one per op kind, then `all`); latencies in ns.
/// Only the columns the figures need are read; others are ignored.
#[derive(Clone, Debug, Deserialize)]
#[allow(missing_docs)]
pub struct SummaryRow {
    /// Op kind or `all`.
    pub kind: String,
    /// Replies in the measured run.
    pub count: u64,
    /// Of which errors.
    pub errors: u64,
    /// Replies per second.
    pub ops_per_sec: f64,
    pub intended_p50_ns: f64,
    pub intended_p90_ns: f64,
    pub intended_p99_ns: f64,
    pub intended_p999_ns: f64,
    pub intended_p9999_ns: f64,
    pub intended_max_ns: f64,
    pub service_p50_ns: f64,
    pub service_p90_ns: f64,
    pub service_p99_ns: f64,
    pub service_p999_ns: f64,
    pub service_p9999_ns: f64,
    pub service_max_ns: f64,
}

impl SummaryRow {
    /// The intended or service spectrum as (percentile, ns); max last, as 100.
    pub fn spectrum(&self, intended: bool) -> [(f64, f64); 6] {
        let v = if intended {
            [
                self.intended_p50_ns,
                self.intended_p90_ns,
                self.intended_p99_ns,
                self.intended_p999_ns,
                self.intended_p9999_ns,
                self.intended_max_ns,
            ]
        } else {
            [
                self.service_p50_ns,
                self.service_p90_ns,
                self.service_p99_ns,
                self.service_p999_ns,
                self.service_p9999_ns,
                self.service_max_ns,
            ]
        };
        let p = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0];
        std::array::from_fn(|i| (p[i], v[i]))
    }
}

/// One quantity over the run: (seconds since the end of warmup, value).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSeries {
    /// The `name` column (op kind, entity kind, `rss`).
    pub name: String,
    /// Points in file order, x at each interval's midpoint.
    pub points: Vec<(f64, f64)>,
}

/// Everything a run's figures are drawn from.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The run folder.
    pub dir: PathBuf,
    /// Caption prefix: engine and threads from `run.json`, else the folder name.
    pub label: String,
    /// `timeseries.csv`.
    pub timeseries: Vec<TimeseriesRow>,
    /// `summary.csv`.
    pub summary: Vec<SummaryRow>,
}

impl RunData {
    /// Loads `dir/timeseries.csv` and `dir/summary.csv` (both required).
    pub fn load(dir: &Path) -> Result<RunData, PlotError> {
        Ok(RunData {
            dir: dir.to_path_buf(),
            label: label(dir),
            timeseries: read_csv(&dir.join(TIMESERIES_CSV))?,
            summary: read_csv(&dir.join(SUMMARY_CSV))?,
        })
    }

    /// Series of `source`/`metric`, one per `name` in first-seen order;
    /// `per_second` divides each value by its interval's length (counts to rates).
    pub fn series(&self, source: &str, metric: &str, per_second: bool) -> Vec<RunSeries> {
        let mut order: Vec<String> = Vec::new();
        let mut by_name: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for r in &self.timeseries {
            if r.source != source || r.metric != metric {
                continue;
            }
            let x = (r.start_ns as f64 + r.duration_ns as f64 / 2.0) / 1e9;
            let y = if per_second {
                r.value / (r.duration_ns as f64 / 1e9)
            } else {
                r.value
            };
            by_name
                .entry(r.name.clone())
                .or_insert_with(|| {
                    order.push(r.name.clone());
                    Vec::new()
                })
                .push((x, y));
        }
        order
            .into_iter()
            .map(|name| RunSeries {
                points: by_name.remove(&name).unwrap_or_default(),
                name,
            })
            .collect()
    }
}

/// Engine and thread counts from `run.json` when it has them; the folder
/// name otherwise. `run.json` is optional for plotting, so a missing or
/// unexpected one only costs the nicer caption.
fn label(dir: &Path) -> String {
    let folder = folder_name(dir);
    let Ok(text) = std::fs::read_to_string(dir.join(RUN_JSON)) else {
        return folder;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return folder;
    };
    let find = |key: &str| {
        json.get(key)
            .or_else(|| json.get("summary").and_then(|s| s.get(key)))
            .cloned()
    };
    match find("engine").and_then(|e| e.as_str().map(str::to_string)) {
        Some(engine) => {
            let threads = |k| find(k).and_then(|v| v.as_u64());
            match (threads("client_threads"), threads("engine_threads")) {
                (Some(c), Some(e)) => {
                    format!("{engine}, {c} client + {e} engine threads ({folder})")
                }
                _ => format!("{engine} ({folder})"),
            }
        }
        None => folder,
    }
}

fn time_axis() -> Axis {
    Axis::zero_based("time since warmup (s)", Quantity::Number)
}

fn series(s: RunSeries, style: Style) -> Series {
    Series {
        name: s.name,
        points: s.points,
        style,
    }
}

/// The run's figures, in the order of the module docs.
pub(crate) fn figures(data: &RunData) -> Vec<Figure> {
    vec![
        throughput(data),
        latency_over_time(data),
        state_size(data),
        percentiles(data),
    ]
}

fn throughput(data: &RunData) -> Figure {
    let rates = data.series("op", "ops_per_sec", false);
    let errors = data.series("op", "errors", true);
    let y = || Axis::zero_based("throughput (ops/s)", Quantity::Number);
    let mut total = Panel::new("all ops", time_axis(), y());
    let mut kinds = Panel::new("per op kind", time_axis(), y());
    for s in rates {
        if s.name == "all" {
            total.series.push(series(s, Style::line(0).width(3)));
        } else {
            let i = kinds.series.len();
            kinds.series.push(series(s, Style::line(i)));
        }
    }
    if let Some(e) = errors.into_iter().find(|s| s.name == "all") {
        if e.points.iter().any(|p| p.1 > 0.0) {
            total.series.push(Series {
                name: "errors/s".into(),
                points: e.points,
                style: Style::line(3),
            });
        }
    }
    Figure {
        stem: "throughput".into(),
        caption: format!("Throughput per interval: {}", data.label),
        panels: vec![total, kinds],
        columns: 1,
        panel_size: (1200, 420),
        legend: Vec::new(),
    }
}

fn latency_over_time(data: &RunData) -> Figure {
    let y = Axis::log("latency", Quantity::DurationNs);
    let mut panel = Panel::new("all ops, per interval", time_axis(), y);
    for (i, (metric, name)) in [("p50_ns", "p50"), ("p99_ns", "p99"), ("max_ns", "max")]
        .into_iter()
        .enumerate()
    {
        for (kind, dashed) in [("intended", false), ("service", true)] {
            let m = format!("{kind}_{metric}");
            if let Some(s) = data
                .series("op", &m, false)
                .into_iter()
                .find(|s| s.name == "all")
            {
                let style = if dashed {
                    Style::line(i).dashed()
                } else {
                    Style::line(i).width(3)
                };
                panel.series.push(Series {
                    name: format!("{name} {kind}"),
                    points: s.points,
                    style,
                });
            }
        }
    }
    Figure::single(
        "latency_over_time",
        format!("Latency per interval: {}", data.label),
        panel,
    )
}

fn state_size(data: &RunData) -> Figure {
    let y = Axis::zero_based("size", Quantity::Bytes);
    let mut panel = Panel::new(
        "approximate engine bytes per entity kind; process RSS",
        time_axis(),
        y,
    );
    for s in data.series("engine", "bytes", false) {
        if s.name == "total" {
            let mut s = series(s, Style::line(0).width(3));
            s.name = "engine total".into();
            s.style.color = INK;
            panel.series.push(s);
        } else {
            let i = panel.series.len();
            panel.series.push(series(s, Style::line(i + 1)));
        }
    }
    for s in data.series("process", "bytes", false) {
        let mut s = series(s, Style::line(7).width(3).dashed());
        s.name = format!("process {}", s.name.to_uppercase());
        panel.series.push(s);
    }
    Figure::single(
        "state_size",
        format!("State size over time: {}", data.label),
        panel,
    )
}

fn percentiles(data: &RunData) -> Figure {
    // All ops first, then the kinds in file order.
    let mut rows: Vec<&SummaryRow> = data.summary.iter().filter(|r| r.kind == "all").collect();
    rows.extend(data.summary.iter().filter(|r| r.kind != "all"));
    const MAX_AT: f64 = 5.0;
    let intended = Style::line(0).width(3).dotted();
    let service = Style::line(1).dashed().dotted();
    let panels: Vec<Panel> = rows
        .iter()
        .map(|r| {
            let x = Axis::zero_based(
                "percentile",
                Quantity::Nines {
                    max_at: Some(MAX_AT),
                },
            );
            let y = Axis::log("latency", Quantity::DurationNs);
            let mut p = Panel::new(
                format!("{} ({} ops)", r.kind, compact(r.count as f64)),
                x,
                y,
            );
            p.legend = false;
            for (is_intended, style) in [(true, intended), (false, service)] {
                let points = r
                    .spectrum(is_intended)
                    .into_iter()
                    .map(|(pct, ns)| (nines(pct).unwrap_or(MAX_AT), ns))
                    .collect();
                p.series.push(Series {
                    name: String::new(),
                    points,
                    style,
                });
            }
            p
        })
        .collect();
    let (columns, panel_size) = match panels.len() {
        0 | 1 => (1, (1200, 620)),
        2 => (2, (640, 520)),
        _ => (3, (440, 340)),
    };
    Figure {
        stem: "latency_percentiles".into(),
        caption: format!("Latency percentile spectrum: {}", data.label),
        panels,
        columns,
        panel_size,
        legend: vec![
            ("intended (from scheduled start)".into(), intended),
            ("service (from actual send)".into(), service),
        ],
    }
}
