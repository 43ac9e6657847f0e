//! A sweep's figures, from its `sweep.csv`: one row per cell of the matrix
//! engines x client threads x engine threads x users x rates.
//!
//! # `sweep.csv`
//! [`SweepRow`] is the row, written by the sweep runner with `csv::Writer::serialize`
//! and read back here; columns, in this order:
//!
//! | column | meaning |
//! |---|---|
//! | `engine` | engine name (`serial`, `actor`, `sharded`, ...) |
//! | `client_threads` | client threads of the cell |
//! | `engine_threads` | engine threads (0 for engines without threads) |
//! | `cores_used` | distinct cores the cell's threads ran on (client and engine, at most the machine's) |
//! | `users` | simulated users |
//! | `rate` | offered rate, ops/s, for an open-loop cell; empty for a closed-loop cell |
//! | `ops_per_sec` | achieved throughput over the measured time |
//! | `p50_ns`, `p99_ns`, `p999_ns`, `max_ns` | intended latency of all ops (coordinated-omission corrected), ns |
//! | `errors` | ops answered with an error |
//! | `audit` | `pass`, `fail` or `n/a` (nothing to audit) |
//! | `efficiency` | `ops_per_sec / (cores_used x c1_ops_per_sec)`, empty if unknown |
//! | `c1_ops_per_sec` | the serial baseline C1 (the `serial` engine, one thread) the efficiency was computed against, empty if not measured |
//! | `partitions` | optional: shards of `sharded`, stripes of `striped`, 1 otherwise |
//! | `saturated` | optional: the open-loop cell could not keep up with its offered rate |
//!
//! The sweep runner writes more columns after these; they are ignored here.
//! The last two are optional so tables written before they existed still load.
//!
//! # Figures
//! A line is one engine configuration: engine and partitions (and users when
//! the sweep varies them). Tables without `partitions` fall back to engine
//! threads, named only where they vary for one client-thread count. Every
//! configuration keeps its colour in all three figures (`serial` is black).
//! - `scaling`: closed-loop throughput vs client threads, a line per
//!   configuration, C1 as a dashed horizontal line. The `null` engine (the
//!   harness's own ceiling, typically 20-50x any real engine) is not drawn on
//!   this linear axis, where it would flatten every other line: its figures
//!   are written as notes under the legend instead. x is client threads rather
//!   than cores used: on a small machine most cells use all cores, so cores
//!   would stack different settings on one x; efficiency accounts for cores.
//! - `efficiency`: the same cells' efficiency vs client threads, with the
//!   line efficiency = 1 (as fast per core as C1 on its one core); `null`
//!   again as notes only.
//! - `latency_vs_throughput`: p99 vs achieved throughput, a line per
//!   configuration and client-thread count (solid, dashed, dotted for the
//!   first, second, third client-thread count) through its open-loop cells in
//!   offered-rate order; saturated cells get a ring, and saturated cells that
//!   measured nothing (no point to draw) are listed under the legend, as are
//!   `null`'s open-loop cells when other engines have some. Without
//!   open-loop cells, the closed-loop cells, a line per configuration in
//!   thread order.
//!
//! Cells whose audit failed are marked with a red cross: their numbers are not
//! to be trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::figure::{
    Axis, Figure, HLine, INK, Mark, Panel, Quantity, Series, Style, color, compact,
};
use super::{PlotError, read_csv};

/// File name of a sweep's table.
pub const SWEEP_CSV: &str = "sweep.csv";

/// The audit verdict of a sweep cell (or of a comparison's run).
///
/// Written as `pass`, `fail` or `n/a`; `passed` and `failed` (as in
/// `comparison.csv`) are read too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditVerdict {
    /// Nothing lost or duplicated.
    #[serde(rename = "pass", alias = "passed")]
    Pass,
    /// The audit found lost or duplicated writes.
    #[serde(rename = "fail", alias = "failed")]
    Fail,
    /// Nothing to audit (the stateless `null` engine).
    #[serde(rename = "n/a")]
    NotChecked,
}

/// A row of `sweep.csv` (see the module docs for the columns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Engine threads.
    pub engine_threads: u32,
    /// Distinct cores used by the cell's threads.
    pub cores_used: u32,
    /// Simulated users.
    pub users: u64,
    /// Offered rate (ops/s) of an open-loop cell; `None` for closed loop.
    pub rate: Option<f64>,
    /// Achieved ops/s.
    pub ops_per_sec: f64,
    /// Intended latency p50, ns.
    pub p50_ns: f64,
    /// Intended latency p99, ns.
    pub p99_ns: f64,
    /// Intended latency p99.9, ns.
    pub p999_ns: f64,
    /// Intended latency max, ns.
    pub max_ns: f64,
    /// Errors.
    pub errors: u64,
    /// Audit verdict.
    pub audit: AuditVerdict,
    /// `ops_per_sec / (cores_used x c1_ops_per_sec)`, if known.
    pub efficiency: Option<f64>,
    /// The serial baseline C1, ops/s, if measured.
    pub c1_ops_per_sec: Option<f64>,
    /// Partitions (shards of `sharded`, stripes of `striped`, 1 otherwise);
    /// `None` for tables written without the column.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Whether the open-loop cell fell behind its offered rate; `None` for
    /// tables written without the column.
    #[serde(default)]
    pub saturated: Option<bool>,
    /// Repetition of the cell (`socialbench sweep --repeat`); `None` for
    /// tables written without the column, whose rows are never merged.
    #[serde(default)]
    pub rep: Option<u32>,
}

impl SweepRow {
    /// The efficiency column, or computed from C1 and the cores used when
    /// the column is empty; `None` when neither is available.
    pub fn efficiency(&self) -> Option<f64> {
        self.efficiency.filter(|e| e.is_finite()).or_else(|| {
            let c1 = self.c1_ops_per_sec.filter(|c| c.is_finite() && *c > 0.0)?;
            (self.cores_used > 0).then(|| self.ops_per_sec / (self.cores_used as f64 * c1))
        })
    }

    /// Whether the cell ran open loop.
    pub fn open_loop(&self) -> bool {
        self.rate.is_some()
    }

    /// Whether the cell is known to have saturated.
    pub fn is_saturated(&self) -> bool {
        self.saturated == Some(true)
    }
}

/// Loads `sweep.csv`; a missing, empty or malformed file is an error. Rows
/// of one cell (repetitions, `socialbench sweep --repeat`, in tables with
/// the `rep` column) become one point:
/// the row with the median throughput (the lower middle of an even count),
/// as the sweep's table does.
pub fn load(path: &Path) -> Result<Vec<SweepRow>, PlotError> {
    Ok(median_rows(read_csv(path)?))
}

fn median_rows(rows: Vec<SweepRow>) -> Vec<SweepRow> {
    // Rows without a rep column are cells of their own (keyed by their index).
    let cell = |(i, r): &(usize, SweepRow)| {
        (
            r.engine.clone(),
            r.client_threads,
            r.engine_threads,
            r.partitions,
            r.users,
            r.rate.map(f64::to_bits),
            r.rep.map_or(Some(*i), |_| None),
        )
    };
    let merged = rows.iter().any(|r| r.rep.is_some());
    let indexed: Vec<(usize, SweepRow)> = rows.into_iter().enumerate().collect();
    let mut out: Vec<SweepRow> =
        crate::stats::cells::median_per_cell(indexed, cell, |(_, r)| r.ops_per_sec)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
    if merged {
        // A median row's efficiency column was computed against its own
        // pass's C1; against the median C1 instead, as the sweep's table
        // (`sweep::report::medians`) and the scaling figure's C1 line do.
        use crate::stats::cells::{efficiency, is_c1};
        let c1: Vec<(u64, f64)> = out
            .iter()
            .filter(|r| is_c1(&r.engine, r.client_threads, r.open_loop()))
            .map(|r| (r.users, r.ops_per_sec))
            .collect();
        for r in &mut out {
            if let Some(&(_, c)) = c1.iter().find(|(u, _)| *u == r.users)
                && let Some(e) = efficiency(r.ops_per_sec, r.cores_used, c)
            {
                r.c1_ops_per_sec = Some(c);
                r.efficiency = Some(e);
            }
        }
    }
    out
}

/// The engine whose closed-loop numbers are the harness's ceiling, not an
/// engine's: kept off the linear scaling and efficiency axes.
const CEILING_ENGINE: &str = "null";

/// What stays fixed along a line of the scaling and efficiency figures.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Config {
    engine: String,
    /// The `partitions` column, if the table has it.
    partitions: Option<u32>,
    /// Engine threads, only for a table without `partitions` whose engine
    /// runs several engine-thread counts at one client-thread count.
    engine_threads: Option<u32>,
    users: u64,
}

/// How a sweep's configurations are named and coloured; built once from all
/// rows so names and colours agree across the figures.
struct Labels {
    /// Users vary: name them.
    users: bool,
    /// Engines whose partitions are named: those run with more than one
    /// partition somewhere (p=1 of `serial` or `actor` says nothing).
    partitioned: BTreeSet<String>,
    /// Engines whose engine threads stand in for partitions (no column).
    engine_threads: BTreeSet<String>,
    /// Configurations in first-seen order: their palette slot.
    order: Vec<Config>,
    /// Client-thread counts of the sweep, ascending: their line style.
    client_threads: Vec<u32>,
}

impl Labels {
    fn of(rows: &[SweepRow]) -> Labels {
        let users = rows.iter().map(|r| r.users).collect::<BTreeSet<_>>().len() > 1;
        let mut parts: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        let mut threads: BTreeMap<(&str, u32, u64), BTreeSet<u32>> = BTreeMap::new();
        for r in rows {
            match r.partitions {
                Some(p) => {
                    parts.entry(&r.engine).or_default().insert(p);
                }
                None => {
                    threads
                        .entry((&r.engine, r.client_threads, r.users))
                        .or_default()
                        .insert(r.engine_threads);
                }
            }
        }
        let partitioned = parts
            .into_iter()
            .filter(|(_, p)| p.len() > 1 || p.iter().any(|&p| p > 1))
            .map(|(e, _)| e.to_string())
            .collect();
        let engine_threads = threads
            .into_iter()
            .filter(|(_, t)| t.len() > 1)
            .map(|((e, _, _), _)| e.to_string())
            .collect();
        let mut labels = Labels {
            users,
            partitioned,
            engine_threads,
            order: Vec::new(),
            client_threads: rows
                .iter()
                .map(|r| r.client_threads)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        for r in rows {
            let c = labels.config(r);
            if c.engine != "serial" && !labels.order.contains(&c) {
                labels.order.push(c);
            }
        }
        labels
    }

    fn config(&self, r: &SweepRow) -> Config {
        Config {
            engine: r.engine.clone(),
            partitions: r.partitions,
            engine_threads: (r.partitions.is_none() && self.engine_threads.contains(&r.engine))
                .then_some(r.engine_threads),
            users: r.users,
        }
    }

    /// `sharded p=2`, `actor`, `sharded, 2 engine thr.`, `serial, 10k users`.
    fn name(&self, c: &Config) -> String {
        let mut name = c.engine.clone();
        if let Some(p) = c
            .partitions
            .filter(|_| self.partitioned.contains(&c.engine))
        {
            name.push_str(&format!(" p={p}"));
        }
        if let Some(t) = c.engine_threads {
            name.push_str(&format!(", {t} engine thr."));
        }
        if self.users {
            name.push_str(&format!(", {} users", compact(c.users as f64)));
        }
        name
    }

    /// The configuration's line: its colour (black for `serial`), dotted.
    fn style(&self, c: &Config) -> Style {
        let s = Style::line(0).width(3).dotted();
        match self.order.iter().position(|o| o == c) {
            Some(i) if c.engine != "serial" => Style {
                color: color(i),
                ..s
            },
            _ => Style { color: INK, ..s },
        }
    }

    /// The line of `c` at `threads` client threads: solid, dashed, dotted
    /// for the sweep's first, second, third client-thread count.
    fn style_at(&self, c: &Config, threads: u32) -> Style {
        let rank = self
            .client_threads
            .iter()
            .position(|&t| t == threads)
            .unwrap_or(0);
        let mark = [Mark::Line, Mark::Dashed, Mark::Dotted][rank % 3];
        self.style(c).mark(mark)
    }
}

/// `1 client`, `2 clients`.
fn clients(n: u32) -> String {
    format!("{n} client{}", if n == 1 { "" } else { "s" })
}

/// Groups rows by `key` (first-seen order), each group sorted by `order`.
fn group<'a, K: PartialEq>(
    rows: &[&'a SweepRow],
    key: impl Fn(&SweepRow) -> K,
    order: impl Fn(&SweepRow) -> f64,
) -> Vec<(K, Vec<&'a SweepRow>)> {
    let mut groups: Vec<(K, Vec<&'a SweepRow>)> = Vec::new();
    for r in rows {
        let k = key(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, g)) => g.push(r),
            None => groups.push((k, vec![r])),
        }
    }
    for (_, g) in &mut groups {
        g.sort_by(|a, b| order(a).total_cmp(&order(b)));
    }
    groups
}

fn audit_failures(
    rows: &[&SweepRow],
    xy: impl Fn(&SweepRow) -> Option<(f64, f64)>,
) -> Option<Series> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.audit == AuditVerdict::Fail)
        .filter_map(|r| xy(r))
        .collect();
    (!points.is_empty()).then(|| Series {
        name: "audit failed".into(),
        points,
        style: Style::line(3).mark(Mark::Crosses),
    })
}

/// The C1 reference lines: one, or one per users value when C1 differs.
fn c1_lines(rows: &[&SweepRow]) -> Vec<HLine> {
    let mut by_users: BTreeMap<u64, f64> = BTreeMap::new();
    for r in rows {
        if let Some(c1) = r.c1_ops_per_sec.filter(|c| c.is_finite() && *c > 0.0) {
            by_users.entry(r.users).or_insert(c1);
        }
    }
    let distinct: BTreeSet<u64> = by_users.values().map(|v| v.to_bits()).collect();
    let style = Style::line(0).width(2);
    let style = Style {
        color: INK,
        ..style
    };
    if distinct.len() <= 1 {
        by_users
            .values()
            .next()
            .map(|&y| HLine {
                name: format!("serial baseline C1 = {} ops/s", compact(y)),
                y,
                style,
            })
            .into_iter()
            .collect()
    } else {
        by_users
            .into_iter()
            .enumerate()
            .map(|(i, (users, y))| HLine {
                name: format!("C1, {} users = {} ops/s", compact(users as f64), compact(y)),
                y,
                style: Style {
                    color: color(i + 10),
                    ..style
                },
            })
            .collect()
    }
}

/// Notes for the ceiling engine's cells left off a figure: a heading, then
/// one line per cell, `value` formatting each cell's number.
fn ceiling_notes(
    heading: &str,
    cells: &[&SweepRow],
    users: bool,
    value: impl Fn(&SweepRow) -> Option<String>,
) -> Vec<String> {
    let mut cells = cells.to_vec();
    cells.sort_by_key(|r| (r.users, r.client_threads));
    let lines: Vec<String> = cells
        .iter()
        .filter_map(|r| {
            let at = if users {
                format!(
                    "{}, {} users",
                    clients(r.client_threads),
                    compact(r.users as f64)
                )
            } else {
                clients(r.client_threads)
            };
            Some(format!("  {at}: {}", value(r)?))
        })
        .collect();
    if lines.is_empty() {
        return lines;
    }
    std::iter::once(heading.to_string()).chain(lines).collect()
}

/// The sweep's figures (see the module docs); figures without data are left out.
pub(crate) fn figures(rows: &[SweepRow]) -> Vec<Figure> {
    let labels = Labels::of(rows);
    let closed: Vec<&SweepRow> = rows.iter().filter(|r| !r.open_loop()).collect();
    let open: Vec<&SweepRow> = rows.iter().filter(|r| r.open_loop()).collect();
    let mut figs = Vec::new();
    let threads = || Axis::zero_based("client threads", Quantity::Integer);
    if !closed.is_empty() {
        // The ceiling engine goes to the notes unless it is all there is.
        let (ceiling, drawn): (Vec<&SweepRow>, Vec<&SweepRow>) =
            closed.iter().partition(|r| r.engine == CEILING_ENGINE);
        let (ceiling, drawn) = if drawn.is_empty() {
            (Vec::new(), ceiling)
        } else {
            (ceiling, drawn)
        };
        let groups = group(&drawn, |r| labels.config(r), |r| r.client_threads as f64);

        let mut scaling = Panel::new(
            "closed loop: throughput vs client threads",
            threads(),
            Axis::zero_based("throughput (ops/s)", Quantity::Number),
        );
        scaling.hlines = c1_lines(&closed);
        scaling.notes = ceiling_notes(
            "harness ceiling (null engine, not drawn):",
            &ceiling,
            labels.users,
            |r| Some(format!("{} ops/s", compact(r.ops_per_sec))),
        );
        let mut eff = Panel::new(
            "efficiency = ops/s / (cores used x C1)",
            threads(),
            Axis::zero_based(
                "efficiency (1 = C1's throughput per core)",
                Quantity::Number,
            ),
        );
        eff.hlines.push(HLine {
            name: "efficiency 1".into(),
            y: 1.0,
            style: Style {
                color: INK,
                ..Style::line(0)
            },
        });
        eff.notes = ceiling_notes(
            "null engine (harness ceiling, not drawn):",
            &ceiling,
            labels.users,
            |r| Some(format!("efficiency {:.1}", r.efficiency()?)),
        );
        for (config, g) in &groups {
            let name = labels.name(config);
            let style = labels.style(config);
            scaling.series.push(Series {
                name: name.clone(),
                points: g
                    .iter()
                    .map(|r| (r.client_threads as f64, r.ops_per_sec))
                    .collect(),
                style,
            });
            let points: Vec<(f64, f64)> = g
                .iter()
                .filter_map(|r| Some((r.client_threads as f64, r.efficiency()?)))
                .collect();
            eff.series.push(Series {
                name,
                points,
                style,
            });
        }
        scaling.series.extend(audit_failures(&drawn, |r| {
            Some((r.client_threads as f64, r.ops_per_sec))
        }));
        eff.series.extend(audit_failures(&drawn, |r| {
            Some((r.client_threads as f64, r.efficiency()?))
        }));
        figs.push(Figure::single(
            "scaling",
            "Scaling: throughput vs client threads (COST: fewest cores where a line passes C1)"
                .into(),
            scaling,
        ));
        figs.push(Figure::single(
            "efficiency",
            "Efficiency vs client threads".into(),
            eff,
        ));
    }
    figs.push(latency_figure(&labels, &closed, &open));
    figs
}

/// Latency vs throughput: the open-loop cells if any, a line per
/// configuration and client-thread count in offered-rate order; else the
/// closed-loop cells, a line per configuration in thread order.
fn latency_figure(labels: &Labels, closed: &[&SweepRow], open: &[&SweepRow]) -> Figure {
    let mut lat = Panel::new(
        "",
        Axis::zero_based("achieved throughput (ops/s)", Quantity::Number),
        Axis::log("p99 latency", Quantity::DurationNs),
    );
    // The null engine's open-loop cells run at millions of ops/s and would
    // squeeze every engine against the y axis: notes instead (unless it is
    // all there is).
    let (ceiling, engines): (Vec<&SweepRow>, Vec<&SweepRow>) =
        open.iter().partition(|r| r.engine == CEILING_ENGINE);
    let ceiling_notes = !engines.is_empty() && !ceiling.is_empty();
    let drawn_open = if engines.is_empty() {
        &ceiling
    } else {
        &engines
    };
    let cells: &[&SweepRow];
    if open.is_empty() {
        cells = closed;
        lat.title = "p99 latency vs achieved throughput (closed loop, by client threads)".into();
        for (config, g) in group(cells, |r| labels.config(r), |r| r.client_threads as f64) {
            lat.series.push(Series {
                name: labels.name(&config),
                points: g.iter().map(|r| (r.ops_per_sec, r.p99_ns)).collect(),
                style: labels.style(&config),
            });
        }
    } else {
        if ceiling_notes {
            lat.notes
                .push("harness ceiling (null engine, not drawn):".into());
            for r in &ceiling {
                lat.notes.push(format!(
                    "  {} at {}/s: p99 {}",
                    clients(r.client_threads),
                    compact(r.ops_per_sec),
                    crate::units::human_ns(r.p99_ns as u64)
                ));
            }
        }
        cells = drawn_open;
        lat.title = "p99 latency vs achieved throughput (open loop, by offered rate)".into();
        let name_clients = cells
            .iter()
            .map(|r| r.client_threads)
            .collect::<BTreeSet<_>>()
            .len()
            > 1;
        // A saturated cell that measured nothing has no point: say so instead.
        let empty = |r: &SweepRow| r.is_saturated() && !(r.ops_per_sec > 0.0 && r.p99_ns > 0.0);
        let key = |r: &SweepRow| (labels.config(r), r.client_threads);
        let rate = |r: &SweepRow| r.rate.unwrap_or(f64::NAN);
        let mut unmeasured = Vec::new();
        for ((config, threads), g) in group(cells, key, rate) {
            let mut name = labels.name(&config);
            if name_clients {
                name.push_str(&format!(", {}", clients(threads)));
            }
            for r in g.iter().filter(|r| empty(r)) {
                unmeasured.push(format!("  {name} at {}/s", compact(rate(r))));
            }
            lat.series.push(Series {
                name,
                points: g
                    .iter()
                    .filter(|r| !empty(r))
                    .map(|r| (r.ops_per_sec, r.p99_ns))
                    .collect(),
                style: labels.style_at(&config, threads),
            });
        }
        let saturated: Vec<(f64, f64)> = cells
            .iter()
            .filter(|r| r.is_saturated() && !empty(r))
            .map(|r| (r.ops_per_sec, r.p99_ns))
            .collect();
        if !saturated.is_empty() {
            lat.series.push(Series {
                name: "saturated (fell behind offered rate)".into(),
                points: saturated,
                style: Style {
                    color: INK,
                    ..Style::line(0).mark(Mark::Rings)
                },
            });
        }
        if !unmeasured.is_empty() {
            lat.notes.push("saturated, nothing measured:".into());
            lat.notes.extend(unmeasured);
        }
    }
    lat.series
        .extend(audit_failures(cells, |r| Some((r.ops_per_sec, r.p99_ns))));
    Figure::single("latency_vs_throughput", "Latency vs throughput".into(), lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, threads: u32, partitions: Option<u32>, rate: Option<f64>) -> SweepRow {
        SweepRow {
            engine: engine.into(),
            client_threads: threads,
            engine_threads: partitions.unwrap_or(1),
            cores_used: threads + 1,
            users: 1000,
            rate,
            ops_per_sec: rate.map_or(1000.0 * threads as f64, |r| r * 0.9),
            p50_ns: 1e4,
            p99_ns: 1e5,
            p999_ns: 1e6,
            max_ns: 1e7,
            errors: 0,
            audit: AuditVerdict::Pass,
            efficiency: None,
            c1_ops_per_sec: Some(1000.0),
            partitions,
            saturated: rate.map(|r| r > 150.0),
            rep: Some(0),
        }
    }

    #[test]
    fn repetitions_of_a_cell_plot_as_their_median_row() {
        let with = |mut r: SweepRow, ops: f64| {
            r.ops_per_sec = ops;
            r
        };
        let rows = vec![
            with(row("actor", 1, None, None), 300.0),
            with(row("actor", 2, None, None), 500.0),
            with(row("actor", 1, None, None), 100.0),
            with(row("actor", 1, None, None), 200.0),
            with(row("actor", 2, None, None), 400.0),
        ];
        let m = median_rows(rows.clone());
        let got: Vec<(u32, f64)> = m
            .iter()
            .map(|r| (r.client_threads, r.ops_per_sec))
            .collect();
        assert_eq!(got, vec![(1, 200.0), (2, 400.0)]);
        // Without the rep column nothing says two rows are one cell: all stay.
        let old: Vec<SweepRow> = rows
            .into_iter()
            .map(|r| SweepRow { rep: None, ..r })
            .collect();
        assert_eq!(median_rows(old).len(), 5);
    }

    #[test]
    fn median_rows_take_their_efficiency_against_the_median_c1() {
        // Each pass's row carries its own pass's C1 and efficiency.
        let rep = |engine: &str, cores: u32, ops: f64, c1: f64, n: u32| SweepRow {
            cores_used: cores,
            ops_per_sec: ops,
            c1_ops_per_sec: Some(c1),
            efficiency: Some(ops / (cores as f64 * c1)),
            rep: Some(n),
            ..row(engine, 1, None, None)
        };
        let rows = vec![
            rep("serial", 1, 100.0, 100.0, 0),
            rep("actor", 2, 300.0, 100.0, 0),
            rep("serial", 1, 200.0, 200.0, 1),
            rep("actor", 2, 320.0, 200.0, 1),
            rep("serial", 1, 150.0, 150.0, 2),
            rep("actor", 2, 100.0, 150.0, 2),
        ];
        let m = median_rows(rows);
        let got: Vec<(&str, f64, Option<f64>, Option<f64>)> = m
            .iter()
            .map(|r| {
                (
                    r.engine.as_str(),
                    r.ops_per_sec,
                    r.c1_ops_per_sec,
                    r.efficiency(),
                )
            })
            .collect();
        // The median actor row (300, pass 0) is taken against the median C1
        // (150, pass 2), not its own pass's (100): 300 / (2 x 150) = 1.
        assert_eq!(
            got,
            vec![
                ("serial", 150.0, Some(150.0), Some(1.0)),
                ("actor", 300.0, Some(150.0), Some(1.0)),
            ]
        );
    }

    fn panel<'a>(figs: &'a [Figure], stem: &str) -> &'a Panel {
        &figs.iter().find(|f| f.stem == stem).unwrap().panels[0]
    }

    fn names(p: &Panel) -> Vec<&str> {
        p.series.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn open_loop_lines_split_by_client_threads_and_run_in_rate_order() {
        // Cells interleaved and out of rate order, as a resumed sweep may write them.
        let rows = vec![
            row("striped", 2, Some(1), Some(200.0)),
            row("striped", 1, Some(1), Some(100.0)),
            row("striped", 2, Some(1), Some(50.0)),
            row("striped", 1, Some(2), Some(50.0)),
            row("striped", 1, Some(1), Some(50.0)),
            row("striped", 2, Some(1), Some(100.0)),
        ];
        let figs = figures(&rows);
        let lat = panel(&figs, "latency_vs_throughput");
        assert_eq!(
            names(lat),
            [
                "striped p=1, 2 clients",
                "striped p=1, 1 client",
                "striped p=2, 1 client",
                "saturated (fell behind offered rate)",
            ]
        );
        let xs: Vec<f64> = lat.series[0].points.iter().map(|p| p.0).collect();
        assert_eq!(xs, [45.0, 90.0, 180.0]);
        assert_eq!(lat.series[1].points.len(), 2);
        // One client-thread count per dash pattern; one colour per configuration.
        assert_eq!(lat.series[0].style.mark, Mark::Dashed);
        assert_eq!(lat.series[1].style.mark, Mark::Line);
        assert_eq!(lat.series[0].style.color, lat.series[1].style.color);
        assert_ne!(lat.series[1].style.color, lat.series[2].style.color);
        assert_eq!(lat.series[3].points, [(180.0, 1e5)]);
    }

    #[test]
    fn scaling_splits_partitions_and_keeps_null_off_the_axis() {
        let rows = vec![
            row("null", 1, Some(1), None),
            row("striped", 1, Some(1), None),
            row("striped", 2, Some(1), None),
            row("striped", 1, Some(2), None),
            row("actor", 1, Some(1), None),
        ];
        let figs = figures(&rows);
        for stem in ["scaling", "efficiency"] {
            let p = panel(&figs, stem);
            assert_eq!(names(p), ["striped p=1", "striped p=2", "actor"], "{stem}");
            assert_eq!(p.notes.len(), 2, "{stem}: {:?}", p.notes);
            assert!(p.notes[1].contains("1 client"), "{:?}", p.notes);
        }
        assert_eq!(panel(&figs, "scaling").series[0].points.len(), 2);
        // A sweep of the null engine alone draws it.
        let figs = figures(&rows[..1]);
        assert_eq!(names(panel(&figs, "scaling")), ["null"]);
        assert!(panel(&figs, "scaling").notes.is_empty());
    }

    #[test]
    fn without_partitions_engine_threads_tell_lines_apart() {
        let mut rows = vec![
            row("sharded", 1, Some(1), None),
            row("sharded", 1, Some(2), None),
            row("actor", 1, Some(1), None),
        ];
        for r in &mut rows {
            r.partitions = None;
        }
        let figs = figures(&rows);
        assert_eq!(
            names(panel(&figs, "scaling")),
            ["sharded, 1 engine thr.", "sharded, 2 engine thr.", "actor"]
        );
    }
}
