//! A run's figures, from its `timeseries.csv` and `summary.csv`:
//! - `throughput`: ops/s per interval, all ops (and errors/s when there are
//!   errors) above, each op kind below;
//! - `latency_over_time`: p50, p99 and max per interval, intended (solid)
//!   and service (dashed), on a log axis;
//! - `state_size`: approximate engine bytes per entity kind, their total, and
//!   the process RSS, per interval;
//! - `latency_percentiles`: the percentile spectrum (p50 .. p99.99, max) of
//!   intended and service latency on a "nines" axis, all ops on top, then a
//!   panel per op kind.
//!
//! Interval values are plotted at the interval's midpoint, since a rate or a
//! percentile describes the whole interval. Failover events (`event` rows:
//! a primary killed, a new primary serving) are vertical lines on the
//! throughput and latency panels, at their own time.

use std::path::Path;

use super::PlotError;
use super::chart::{Figure, INK, Mark, Panel, Style, Ticks, axis, nines};
use crate::schema::run::{RunCaption, SummaryRow, TimeseriesRow};
use crate::schema::{self, SUMMARY_CSV, TIMESERIES_CSV};
use crate::units::{bytes_unit, compact};

type Series = Vec<(String, Vec<(f64, f64)>)>;

/// The run's figures, in the order of the module docs.
pub(super) fn figures(dir: &Path) -> Result<Vec<Figure>, PlotError> {
    let ts: Vec<TimeseriesRow<'static>> = schema::read_csv(&dir.join(TIMESERIES_CSV))?;
    let summary: Vec<SummaryRow> = schema::read_csv(&dir.join(SUMMARY_CSV))?;
    let folder = dir.file_name().unwrap_or(dir.as_os_str()).to_string_lossy();
    let label = match RunCaption::of(dir) {
        Some(c) => {
            let (e, clients, threads) = (c.engine, c.client_threads, c.engine_threads);
            format!("{e}, {clients} client + {threads} engine threads ({folder})")
        }
        None => folder.into_owned(),
    };
    let series = |source: &str, metric: &str| series(&ts, source, metric);
    let (ops, errors) = (series("op", "ops_per_sec"), series("op", "errors"));
    let (engine, process) = (series("engine", "bytes"), series("process", "bytes"));
    let events = series("event", "at_us");
    let mut rates = throughput(ops, errors, &label);
    let mut latency = latency_over_time(|metric| series("op", metric), &label);
    for figure in [&mut rates, &mut latency] {
        for row in &mut figure.rows {
            for panel in &mut row.2 {
                mark_events(panel, &events);
            }
        }
    }
    Ok(vec![
        rates,
        latency,
        state_size(engine, process, &label),
        percentiles(&summary, &label),
    ])
}

/// One series per `name` of `source`/`metric`, in first-seen order, as
/// (seconds since warmup, value); counts of `errors` as rates.
fn series(ts: &[TimeseriesRow<'_>], source: &str, metric: &str) -> Series {
    let mut out: Series = Vec::new();
    let rows = ts
        .iter()
        .filter(|r| r.source == source && r.metric == metric);
    for r in rows {
        let secs = r.duration_ns as f64 / 1e9;
        let per = if metric == "errors" { secs } else { 1.0 };
        let point = (r.midpoint_s(), r.value as f64 / per);
        match out.iter_mut().find(|(n, _)| *n == r.name) {
            Some((_, points)) => points.push(point),
            None => out.push((r.name.to_string(), vec![point])),
        }
    }
    out
}

/// Draws each event of `events` (name, points of (interval midpoint,
/// microseconds from the window's start)) as a vertical line across the
/// range of `panel`'s lines.
fn mark_events(panel: &mut Panel, events: &Series) {
    let ys = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1));
    let (lo, hi) = ys
        .filter(|y| *y > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    if !lo.is_finite() {
        return;
    }
    for (name, points) in events {
        let label = match name.as_str() {
            "kill_primary" => "primary killed",
            "failover" => "new primary serving",
            _ => "false failover",
        };
        // In ink, which no series of these panels uses: dashed for the
        // kill, dotted for the new primary.
        let style = match name.as_str() {
            "kill_primary" => Style::new(0, Mark::Dashed).width(2).color(INK),
            _ => Style::new(0, Mark::Dotted).width(2).color(INK),
        };
        for (i, &(_, at_us)) in points.iter().enumerate() {
            let x = at_us / 1e6;
            let line = panel.add(label, vec![(x, lo), (x, hi)], style);
            if i > 0 {
                // One legend entry per kind of event.
                line.name.clear();
            }
        }
    }
}

/// The `all` series of `s`.
fn all(s: Series) -> Option<Vec<(f64, f64)>> {
    s.into_iter().find(|(n, _)| n == "all").map(|(_, p)| p)
}

fn time_panel(title: &str, y: &str, ticks: Ticks) -> Panel {
    let time = axis("time since warmup (s)", Ticks::Number);
    Panel::new(title, time, axis(y, ticks))
}

fn throughput(rates: Series, errors: Series, label: &str) -> Figure {
    let y = "throughput (ops/s)";
    let mut total = time_panel("all ops", y, Ticks::Number);
    let mut kinds = time_panel("per op kind", y, Ticks::Number);
    for (name, points) in rates {
        if name == "all" {
            total.add(name, points, Style::new(0, Mark::Solid).width(3));
        } else {
            kinds.add(name, points, Style::new(kinds.lines.len(), Mark::Solid));
        }
    }
    if let Some(points) = all(errors).filter(|p| p.iter().any(|p| p.1 > 0.0)) {
        total.add("errors/s", points, Style::new(3, Mark::Solid));
    }
    let caption = format!("Throughput per interval: {label}");
    let rows = vec![(420, 1, vec![total]), (420, 1, vec![kinds])];
    Figure::new("throughput", caption, 1200, rows)
}

fn latency_over_time(series: impl Fn(&str) -> Series, label: &str) -> Figure {
    let mut panel = time_panel("all ops, per interval", "latency", Ticks::Latency);
    for (i, q) in ["p50", "p99", "max"].into_iter().enumerate() {
        let intended = Style::new(i, Mark::Solid).width(3);
        for (kind, style) in [
            ("intended", intended),
            ("service", Style::new(i, Mark::Dashed)),
        ] {
            if let Some(points) = all(series(&format!("{kind}_{q}_ns"))) {
                panel.add(format!("{q} {kind}"), points, style);
            }
        }
    }
    let caption = format!("Latency per interval: {label}");
    Figure::single("latency_over_time", caption, panel)
}

fn state_size(engine: Series, process: Series, label: &str) -> Figure {
    // One binary unit for the whole axis, named in its title.
    let all = engine.iter().chain(&process).flat_map(|(_, s)| s);
    let (div, unit) = bytes_unit(all.fold(0.0, |m, p| p.1.max(m)));
    let scaled = |s: Vec<(f64, f64)>| s.into_iter().map(|(x, y)| (x, y / div)).collect();
    let title = "approximate engine bytes per entity kind; process RSS";
    let mut panel = time_panel(title, &format!("size ({unit})"), Ticks::Number);
    let total = Style::new(0, Mark::Solid).width(3).color(INK);
    for (name, points) in engine {
        let (name, style) = match name.as_str() {
            "total" => ("engine total".into(), total),
            _ => (name, Style::new(panel.lines.len() + 1, Mark::Solid)),
        };
        panel.add(name, scaled(points), style);
    }
    for (name, points) in process {
        let name = format!("process {}", name.to_uppercase());
        panel.add(name, scaled(points), Style::new(7, Mark::Dashed).width(3));
    }
    let caption = format!("State size over time: {label}");
    Figure::single("state_size", caption, panel)
}

fn percentiles(summary: &[SummaryRow], label: &str) -> Figure {
    // All ops first, then the kinds in file order; the first panel's legend
    // explains the two lines of all.
    let all = summary.iter().filter(|r| r.kind == "all");
    let rows = all.chain(summary.iter().filter(|r| r.kind != "all"));
    let intended = Style::new(0, Mark::Solid).width(3).dots();
    let service = Style::new(1, Mark::Dashed).dots();
    let lines = [
        (true, "intended (from scheduled start)", intended),
        (false, "service (from actual send)", service),
    ];
    let mut panels = rows.enumerate().map(|(i, r)| {
        let title = format!("{} ({} ops)", r.kind, compact(r.count as f64));
        let (x, y) = (
            axis("percentile", Ticks::Nines),
            axis("latency", Ticks::Latency),
        );
        let mut p = Panel::new(title, x, y);
        for (is_intended, name, style) in lines {
            let points = r.spectrum(is_intended).map(|(pct, ns)| (nines(pct), ns));
            p.add(if i == 0 { name } else { "" }, points.into(), style);
        }
        p
    });
    let top: Vec<Panel> = panels.next().into_iter().collect();
    let kinds: Vec<Panel> = panels.collect();
    let height = if kinds.is_empty() { 656 } else { 420 };
    let mut rows = vec![(height, 1, top)];
    rows.extend(kinds.chunks(3).map(|c| (320, 3, c.to_vec())));
    let caption = format!("Latency percentile spectrum: {label}");
    Figure::new("latency_percentiles", caption, 1320, rows)
}
