//! A sweep's figures, from its `sweep.csv`: one row per measured cell of the
//! matrix engines x client threads x partitions x users x rates (x
//! repetitions). Each cell is drawn at its median over repetitions, its
//! efficiency that of its median repetition against the median C1
//! (`stats::cells::medians`, as the sweep's table does).
//!
//! A line is one engine configuration: engine and partitions (named where
//! an engine runs more than one somewhere), and users when the sweep varies
//! them. Every configuration keeps its colour in all three figures
//! (`serial` is black).
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
//!   measured nothing (no point to draw) are listed under the legend. Without
//!   open-loop cells, the closed-loop cells, a line per configuration in
//!   thread order. Either way `null`'s cells are notes when other engines
//!   have some.
//!
//! Throughput and p99 carry error bars: over two or more repetitions of a
//! cell, the median and its order-statistic interval
//! (`stats::interval::median_interval`); a cell measured once shows its
//! run's within-run interval (batch means; p99's rank interval). Cells whose
//! threads outnumbered the cores (`oversubscribed`) are drawn hollow, said so
//! in the legend; cells whose audit failed get a red cross: their numbers are
//! not to be trusted.

use std::collections::BTreeSet;

use super::chart::{Figure, INK, Line, Mark, Panel, Style, Ticks, axis, color};
use crate::schema::AuditVerdict;
use crate::schema::sweep::SweepRow;
use crate::stats::Estimate;
use crate::stats::cells::{c1_by_users, cell_of, medians};
use crate::stats::interval::median_interval;
use crate::units::{compact, human_ns};

/// The engine whose numbers are the harness's ceiling, not an engine's:
/// kept off the linear axes when other engines are drawn.
const CEILING_ENGINE: &str = "null";

/// What stays fixed along a line: engine, partitions, users.
type Config = (String, u32, u64);

fn config(r: &SweepRow) -> Config {
    (r.engine.clone(), r.partitions, r.users)
}

/// A cell as drawn: its median repetition (coordinates, flags, efficiency
/// against the median C1) and its throughput and p99 with their intervals.
struct Cell {
    row: SweepRow,
    ops: Estimate,
    p99: Estimate,
}

impl Cell {
    /// Achieved throughput and p99, where the cell is drawn on a latency
    /// figure.
    fn xy(&self) -> (f64, f64) {
        (self.ops.value, self.p99.value)
    }
}

/// The cells of `medians` with their intervals from `all` rows: over two or
/// more repetitions, the median and its order-statistic interval; over one,
/// the run's within-run interval (batch means, the p99's rank interval).
fn cells(all: &[SweepRow], medians: &[SweepRow]) -> Vec<Cell> {
    let estimate = |row: &SweepRow, value: fn(&SweepRow) -> f64, within: [Option<f64>; 2]| {
        let reps: Vec<f64> = all
            .iter()
            .filter(|r| cell_of(r) == cell_of(row))
            .map(value)
            .collect();
        match (median_interval(&reps), within) {
            (Some((e, _)), _) if reps.len() > 1 => e,
            (_, [Some(low), Some(high)]) => Estimate {
                value: value(row),
                low,
                high,
            },
            _ => Estimate::exact(value(row)),
        }
    };
    let cell = |row: &SweepRow| Cell {
        row: row.clone(),
        ops: estimate(
            row,
            |r| r.ops_per_sec,
            [row.ops_per_sec_low, row.ops_per_sec_high],
        ),
        p99: estimate(row, |r| r.p99_ns, [row.p99_low_ns, row.p99_high_ns]),
    };
    medians.iter().map(cell).collect()
}

/// What names and styles lines alike in every figure: the sweep's
/// configurations (first-seen order) and client-thread counts (ascending).
struct Labels {
    configs: Vec<Config>,
    threads: Vec<u32>,
}

impl Labels {
    fn of(rows: &[SweepRow]) -> Labels {
        let mut configs = Vec::new();
        for c in rows.iter().map(config) {
            if !configs.contains(&c) {
                configs.push(c);
            }
        }
        let threads = rows
            .iter()
            .map(|r| r.client_threads)
            .collect::<BTreeSet<_>>();
        Labels {
            configs,
            threads: threads.into_iter().collect(),
        }
    }

    /// `sharded p=2`, `actor`, `serial, 10k users`: partitions for engines
    /// run with more than one somewhere, users where they vary.
    fn name(&self, (engine, partitions, users): &Config) -> String {
        let mut name = engine.clone();
        if self.configs.iter().any(|c| c.0 == *engine && c.1 > 1) {
            name.push_str(&format!(" p={partitions}"));
        }
        if self.users_vary() {
            name.push_str(&format!(", {} users", compact(*users as f64)));
        }
        name
    }

    fn users_vary(&self) -> bool {
        self.configs.iter().any(|c| c.2 != self.configs[0].2)
    }

    /// The line of `c`: a colour per configuration (black for `serial`),
    /// dots; at `threads` client threads, solid, dashed, dotted for the
    /// sweep's first, second, third client-thread count.
    fn style(&self, c: &Config, threads: Option<u32>) -> Style {
        let mut others = self.configs.iter().filter(|o| o.0 != "serial");
        let color = match others.position(|o| o == c) {
            Some(i) if c.0 != "serial" => color(i),
            _ => INK,
        };
        let rank = threads.and_then(|t| self.threads.iter().position(|&x| x == t));
        let mark = [Mark::Solid, Mark::Dashed, Mark::Dotted][rank.unwrap_or(0) % 3];
        Style::new(0, mark).color(color).width(3).dots()
    }
}

/// `1 client`, `2 clients`.
fn clients(n: u32) -> String {
    format!("{n} client{}", if n == 1 { "" } else { "s" })
}

/// Groups `cells` by `key` (first-seen order), each group sorted by `order`.
fn group<'a, K: PartialEq>(
    cells: &[&'a Cell],
    key: impl Fn(&SweepRow) -> K,
    order: impl Fn(&SweepRow) -> f64,
) -> Vec<(K, Vec<&'a Cell>)> {
    let mut groups: Vec<(K, Vec<&Cell>)> = Vec::new();
    for c in cells {
        let k = key(&c.row);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, g)) => g.push(c),
            None => groups.push((k, vec![c])),
        }
    }
    for (_, g) in &mut groups {
        g.sort_by(|a, b| order(&a.row).total_cmp(&order(&b.row)));
    }
    groups
}

/// The ceiling engine's cells (for notes) and the cells to draw: all of
/// them when the ceiling engine is all there is.
fn off_axis<'a>(cells: &[&'a Cell]) -> (Vec<&'a Cell>, Vec<&'a Cell>) {
    let (ceiling, drawn): (Vec<_>, Vec<_>) =
        cells.iter().partition(|c| c.row.engine == CEILING_ENGINE);
    if drawn.is_empty() {
        (Vec::new(), ceiling)
    } else {
        (ceiling, drawn)
    }
}

/// Adds a line of `config` through `g` at `xy`, with error bars (`spread`:
/// the x and y intervals of a cell, where it has them), and the points of
/// oversubscribed cells drawn hollow over it.
fn add_line(
    panel: &mut Panel,
    name: String,
    style: Style,
    g: &[&Cell],
    xy: impl Fn(&Cell) -> Option<(f64, f64)>,
    spread: impl Fn(&Cell) -> (Option<Estimate>, Option<Estimate>),
) {
    let line = panel.add(name, g.iter().filter_map(|c| xy(c)).collect(), style);
    for c in g {
        let Some((x, y)) = xy(c) else { continue };
        let (ex, ey) = spread(c);
        line.xspread.extend(ex.map(|e| (y, e.low, x, e.high)));
        line.spread.extend(ey.map(|e| (x, e.low, y, e.high)));
    }
    let hollow: Vec<(f64, f64)> = g
        .iter()
        .filter(|c| c.row.oversubscribed)
        .filter_map(|c| xy(c))
        .collect();
    if !hollow.is_empty() {
        let style = Style::new(0, Mark::Points).color(style.color).hollow();
        panel.add("", hollow, style);
    }
}

/// The legend entry of hollow points, if `cells` has any.
fn oversubscribed(cells: &[&Cell]) -> Option<Line> {
    let any = cells.iter().any(|c| c.row.oversubscribed);
    let style = Style::new(0, Mark::Points).color(INK).hollow();
    any.then(|| {
        Line::new(
            "hollow: oversubscribed (more threads than cores)",
            Vec::new(),
            style,
        )
    })
}

/// Red crosses on the cells whose audit failed, if any.
fn audit_failures(cells: &[&Cell], xy: impl Fn(&Cell) -> Option<(f64, f64)>) -> Option<Line> {
    let points: Vec<(f64, f64)> = cells
        .iter()
        .filter(|c| c.row.audit == AuditVerdict::Fail)
        .filter_map(|c| xy(c))
        .collect();
    let style = Style::new(3, Mark::Crosses);
    (!points.is_empty()).then(|| Line::new("audit failed", points, style))
}

/// The C1 reference lines: one, or one per users value (each in its own
/// colour) when C1 differs.
fn c1_lines(rows: &[SweepRow]) -> Vec<Line> {
    let c1 = c1_by_users(rows);
    let one = c1.values().all(|v| Some(v) == c1.values().next());
    let lines = c1.iter().enumerate().map(|(i, (&users, &y))| {
        let (name, color) = match one {
            true => (format!("serial baseline C1 = {} ops/s", compact(y)), INK),
            false => (
                format!("C1, {} users = {} ops/s", compact(users as f64), compact(y)),
                color(i + 5),
            ),
        };
        let style = Style::new(0, Mark::Across).color(color);
        Line::new(name, vec![(0.0, y)], style)
    });
    lines.take(if one { 1 } else { usize::MAX }).collect()
}

/// Notes for the ceiling engine's cells left off a figure: a heading, then
/// one line per cell, `value` formatting each cell's number.
fn ceiling_notes(
    heading: &str,
    cells: &[&Cell],
    users: bool,
    value: impl Fn(&SweepRow) -> Option<String>,
) -> Vec<String> {
    let mut rows: Vec<&SweepRow> = cells.iter().map(|c| &c.row).collect();
    rows.sort_by_key(|r| (r.users, r.client_threads));
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let mut at = clients(r.client_threads);
            if users {
                at.push_str(&format!(", {} users", compact(r.users as f64)));
            }
            Some(format!("  {at}: {}", value(r)?))
        })
        .collect();
    if lines.is_empty() {
        return lines;
    }
    std::iter::once(heading.to_string()).chain(lines).collect()
}

/// The sweep's figures (see the module docs) from all its rows; figures
/// without data are left out.
pub(super) fn figures(all: &[SweepRow]) -> Vec<Figure> {
    let rows = medians(all);
    let cells = cells(all, &rows);
    let labels = Labels::of(&rows);
    let (open, closed): (Vec<&Cell>, Vec<&Cell>) = cells.iter().partition(|c| c.row.open_loop());
    let mut figs = Vec::new();
    if !closed.is_empty() {
        figs.extend(closed_loop(&labels, &rows, &closed));
    }
    figs.push(latency(&labels, &closed, &open));
    figs
}

/// `scaling` and `efficiency`.
fn closed_loop(labels: &Labels, rows: &[SweepRow], closed: &[&Cell]) -> [Figure; 2] {
    let (ceiling, drawn) = off_axis(closed);
    let threads = || axis("client threads", Ticks::Integer);
    let mut scaling = Panel::new(
        "closed loop: throughput vs client threads",
        threads(),
        axis("throughput (ops/s)", Ticks::Number),
    );
    let mut eff = Panel::new(
        "efficiency = ops/s / (cores used x C1)",
        threads(),
        axis("efficiency (1 = C1's throughput per core)", Ticks::Number),
    );
    let x = |r: &SweepRow| r.client_threads as f64;
    let ops = |c: &Cell| Some((x(&c.row), c.ops.value));
    let e = |c: &Cell| Some((x(&c.row), c.row.efficiency?));
    for (config, g) in group(&drawn, config, x) {
        let (name, style) = (labels.name(&config), labels.style(&config, None));
        add_line(&mut scaling, name.clone(), style, &g, ops, |c| {
            (None, Some(c.ops))
        });
        add_line(&mut eff, name, style, &g, e, |_| (None, None));
    }
    scaling.lines.extend(audit_failures(&drawn, ops));
    scaling.lines.extend(oversubscribed(&drawn));
    scaling.lines.extend(c1_lines(rows));
    scaling.notes = ceiling_notes(
        "harness ceiling (null engine, not drawn):",
        &ceiling,
        labels.users_vary(),
        |r| Some(format!("{} ops/s", compact(r.ops_per_sec))),
    );
    eff.lines.extend(audit_failures(&drawn, e));
    eff.lines.extend(oversubscribed(&drawn));
    let one = Style::new(0, Mark::Across).color(INK);
    eff.add("efficiency 1", vec![(0.0, 1.0)], one);
    eff.notes = ceiling_notes(
        "null engine (harness ceiling, not drawn):",
        &ceiling,
        labels.users_vary(),
        |r| Some(format!("efficiency {:.1}", r.efficiency?)),
    );
    [
        Figure::single(
            "scaling",
            "Scaling: throughput vs client threads (COST: fewest cores where a line passes C1)",
            scaling,
        ),
        Figure::single("efficiency", "Efficiency vs client threads", eff),
    ]
}

/// `latency_vs_throughput`: the open-loop cells if any, a line per
/// configuration and client-thread count in offered-rate order; else the
/// closed-loop cells, a line per configuration in thread order.
fn latency(labels: &Labels, closed: &[&Cell], open: &[&Cell]) -> Figure {
    let mut lat = Panel::new(
        "p99 latency vs achieved throughput (closed loop, by client threads)",
        axis("achieved throughput (ops/s)", Ticks::Number),
        axis("p99 latency", Ticks::Latency),
    );
    let (ceiling, cells) = off_axis(if open.is_empty() { closed } else { open });
    lat.notes = ceiling_notes(
        "harness ceiling (null engine, not drawn):",
        &ceiling,
        labels.users_vary(),
        |r| {
            let p99 = human_ns(r.p99_ns as u64);
            Some(format!("{} ops/s, p99 {p99}", compact(r.ops_per_sec)))
        },
    );
    if open.is_empty() {
        let x = |r: &SweepRow| r.client_threads as f64;
        for (config, g) in group(&cells, config, x) {
            let (name, style) = (labels.name(&config), labels.style(&config, None));
            add_line(&mut lat, name, style, &g, |c| Some(c.xy()), both);
        }
    } else {
        lat.title = "p99 latency vs achieved throughput (open loop, by offered rate)".into();
        open_loop_lines(labels, &cells, &mut lat);
    }
    lat.lines.extend(audit_failures(&cells, |c| Some(c.xy())));
    lat.lines.extend(oversubscribed(&cells));
    Figure::single("latency_vs_throughput", "Latency vs throughput", lat)
}

/// Both intervals of a cell on a latency figure.
fn both(c: &Cell) -> (Option<Estimate>, Option<Estimate>) {
    (Some(c.ops), Some(c.p99))
}

/// The open-loop lines of `cells`, rings on saturated cells, and notes for
/// saturated cells that measured nothing.
fn open_loop_lines(labels: &Labels, cells: &[&Cell], lat: &mut Panel) {
    let threads: BTreeSet<u32> = cells.iter().map(|c| c.row.client_threads).collect();
    // A saturated cell that measured nothing has no point: say so instead.
    let empty = |c: &Cell| c.row.saturated && !(c.ops.value > 0.0 && c.p99.value > 0.0);
    let rate = |r: &SweepRow| r.rate.unwrap_or(f64::NAN);
    let key = |r: &SweepRow| (config(r), r.client_threads);
    let mut unmeasured = Vec::new();
    for ((config, t), g) in group(cells, key, rate) {
        let mut name = labels.name(&config);
        if threads.len() > 1 {
            name.push_str(&format!(", {}", clients(t)));
        }
        let (none, measured): (Vec<&Cell>, Vec<&Cell>) = g.iter().partition(|c| empty(c));
        unmeasured.extend(
            none.iter()
                .map(|c| format!("  {name} at {}/s", compact(rate(&c.row)))),
        );
        let style = labels.style(&config, Some(t));
        add_line(lat, name, style, &measured, |c| Some(c.xy()), both);
    }
    let saturated: Vec<(f64, f64)> = cells
        .iter()
        .filter(|c| c.row.saturated && !empty(c))
        .map(|c| c.xy())
        .collect();
    if !saturated.is_empty() {
        let style = Style::new(0, Mark::Rings).color(INK);
        let name = "saturated (fell behind offered rate)";
        lat.add(name, saturated, style);
    }
    if !unmeasured.is_empty() {
        lat.notes.push("saturated, nothing measured:".into());
        lat.notes.extend(unmeasured);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, threads: u32, partitions: u32, rate: Option<f64>) -> SweepRow {
        SweepRow {
            engine: engine.into(),
            client_threads: threads,
            engine_threads: partitions,
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
            efficiency: Some(0.5),
            c1_ops_per_sec: None,
            partitions,
            saturated: rate.is_some_and(|r| r > 150.0),
            rep: 0,
            stopped_by: "Limit".into(),
            measured_ns: 1_000_000_000,
            ops_per_sec_low: None,
            ops_per_sec_high: None,
            p99_low_ns: None,
            p99_high_ns: None,
            cpu_ns_per_op: None,
            oversubscribed: false,
            finished_at_unix_ms: 0,
            schema: crate::schema::SCHEMA_VERSION,
        }
    }

    fn panel<'a>(figs: &'a [Figure], stem: &str) -> &'a Panel {
        &figs.iter().find(|f| f.stem == stem).unwrap().rows[0].panels[0]
    }

    fn names(p: &Panel) -> Vec<&str> {
        p.lines.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn open_loop_lines_split_by_client_threads_and_run_in_rate_order() {
        // Cells interleaved and out of rate order, as a resumed sweep may write them.
        let rows = [
            row("striped", 2, 1, Some(200.0)),
            row("striped", 1, 1, Some(100.0)),
            row("striped", 2, 1, Some(50.0)),
            row("striped", 1, 2, Some(50.0)),
            row("striped", 1, 1, Some(50.0)),
            row("striped", 2, 1, Some(100.0)),
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
        let xs: Vec<f64> = lat.lines[0].points.iter().map(|p| p.0).collect();
        assert_eq!(xs, [45.0, 90.0, 180.0]);
        assert_eq!(lat.lines[1].points.len(), 2);
        // One client-thread count per dash pattern; one colour per configuration.
        assert_eq!(lat.lines[0].style.mark, Mark::Dashed);
        assert_eq!(lat.lines[1].style.mark, Mark::Solid);
        assert_eq!(lat.lines[0].style.color, lat.lines[1].style.color);
        assert_ne!(lat.lines[1].style.color, lat.lines[2].style.color);
        assert_eq!(lat.lines[3].points, [(180.0, 1e5)]);
    }

    #[test]
    fn points_carry_their_repetitions_median_interval_or_their_runs_own() {
        // actor at 1 client: three repetitions, median 300 in [100, 320];
        // at 2 clients one run with its batch-means interval, sharing cores.
        let reps = [(100.0, 4e5), (300.0, 1e5), (320.0, 2e5)];
        let mut rows: Vec<SweepRow> = reps
            .iter()
            .enumerate()
            .map(|(i, &(ops, p99))| SweepRow {
                rep: i as u32,
                p99_ns: p99,
                ops_per_sec: ops,
                ..row("actor", 1, 1, None)
            })
            .collect();
        let mut two = row("actor", 2, 1, None);
        (two.ops_per_sec_low, two.ops_per_sec_high) = (Some(1800.0), Some(2200.0));
        (two.p99_low_ns, two.p99_high_ns) = (Some(9e4), Some(2e5));
        two.oversubscribed = true;
        rows.push(two);
        let figs = figures(&rows);
        let scaling = panel(&figs, "scaling");
        let actor = &scaling.lines[0];
        assert_eq!(actor.points, [(1.0, 300.0), (2.0, 2000.0)]);
        let bars = [(1.0, 100.0, 300.0, 320.0), (2.0, 1800.0, 2000.0, 2200.0)];
        assert_eq!(actor.spread, bars);
        let hollow = &scaling.lines[1];
        assert!(hollow.style.hollow && hollow.name.is_empty());
        assert_eq!(hollow.points, [(2.0, 2000.0)]);
        assert!(names(scaling).contains(&"hollow: oversubscribed (more threads than cores)"));
        // The latency figure: the median p99 of the three with its interval,
        // and throughput's interval across.
        let lat = &panel(&figs, "latency_vs_throughput").lines[0];
        assert_eq!(lat.points[0], (300.0, 2e5));
        assert_eq!(lat.spread[0], (300.0, 1e5, 2e5, 4e5));
        assert_eq!(lat.xspread[1], (1e5, 1800.0, 2000.0, 2200.0));
    }
}
