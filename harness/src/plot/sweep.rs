//! A sweep's figures, from its `sweep.csv` (a row per cell of the matrix
//! engines x client threads x partitions x users x rates, and repetition):
//! - `scaling`: closed-loop throughput vs client threads, C1 as a dashed
//!   line. x is client threads rather than cores used: on a small machine
//!   most cells use all cores, which would stack settings on one x;
//!   efficiency accounts for cores.
//! - `efficiency`: the same cells' ops/s / (cores used x C1), with the line
//!   efficiency = 1 (as fast per core as C1 on its one core).
//! - `latency_vs_throughput`: p99 vs achieved throughput through each line's
//!   open-loop cells in offered-rate order, a line per client-thread count
//!   (solid, dashed, dotted for the first, second, third); saturated cells
//!   get a ring, and those that measured nothing are listed under the
//!   legend. Without open-loop cells, the closed-loop cells in thread order.
//!
//! A line is one configuration: engine, partitions (named where an engine
//! runs more than one somewhere) and users (where they vary); it keeps its
//! colour in every figure (`serial` black). The `null` engine, the harness's
//! own ceiling (typically 20-50x any engine), would flatten every other
//! line: its figures are notes under the legend, unless it is all there is.
//!
//! A cell is drawn at its median over repetitions, with the median's
//! order-statistic interval (`stats::interval::median_interval`) as error
//! bars; measured once, with its run's within-run interval (batch means;
//! p99's rank interval). Its efficiency is that of its median repetition
//! against the median C1 (`schema::cells::medians`, as the sweep's table).
//! Cells whose threads outnumbered the cores are hollow; cells whose audit
//! failed get a red cross: their numbers are not to be trusted.

use std::collections::BTreeSet;

use super::chart::{Figure, INK, Mark, Panel, Style, Ticks, axis, color};
use crate::schema::AuditVerdict;
use crate::schema::cells::{c1_by_users, cell_of, medians};
use crate::schema::sweep::SweepRow;
use crate::stats::Estimate;
use crate::stats::interval::median_interval;
use crate::units::{compact, human_ns};

/// What stays fixed along a line: engine, partitions, users.
type Config = (String, u32, u64);

/// A cell as drawn: its median repetition, and its throughput and p99 with
/// their intervals (module docs).
struct Cell {
    row: SweepRow,
    config: Config,
    ops: Estimate,
    p99: Estimate,
}

impl Cell {
    /// The cell of median row `row`, its repetitions among `all`.
    fn new(row: &SweepRow, all: &[SweepRow]) -> Cell {
        let reps: Vec<&SweepRow> = all.iter().filter(|r| cell_of(r) == cell_of(row)).collect();
        let estimate = |value: fn(&SweepRow) -> f64, within: [Option<f64>; 2]| {
            let values: Vec<f64> = reps.iter().map(|r| value(r)).collect();
            match (median_interval(&values), within) {
                (Some((e, _)), _) if reps.len() > 1 => e,
                (_, [Some(low), Some(high)]) => Estimate {
                    value: value(row),
                    low,
                    high,
                },
                _ => Estimate::exact(value(row)),
            }
        };
        let ops = estimate(
            |r| r.ops_per_sec,
            [row.ops_per_sec_low, row.ops_per_sec_high],
        );
        let p99 = estimate(|r| r.p99_ns, [row.p99_low_ns, row.p99_high_ns]);
        let config = (row.engine.clone(), row.partitions, row.users);
        Cell {
            row: row.clone(),
            config,
            ops,
            p99,
        }
    }

    /// Where the cell goes on a latency figure.
    fn xy(&self) -> Option<(f64, f64)> {
        Some((self.ops.value, self.p99.value))
    }
}

/// Where a cell goes on a panel, if it has that figure.
type At = fn(&Cell) -> Option<(f64, f64)>;
/// The intervals of a cell a panel draws as error bars: x, y.
type Bars = fn(&Cell) -> [Option<Estimate>; 2];
/// What a line is drawn for: a configuration, at a client-thread count.
type Key<'a> = (&'a Config, Option<u32>);

/// What names and styles lines alike in every figure: the configurations
/// (first-seen order) and client-thread counts (ascending).
struct Labels {
    configs: Vec<Config>,
    threads: Vec<u32>,
    users_vary: bool,
}

impl Labels {
    fn of(cells: &[Cell]) -> Labels {
        let mut configs: Vec<Config> = Vec::new();
        for c in cells {
            if !configs.contains(&c.config) {
                configs.push(c.config.clone());
            }
        }
        let threads: BTreeSet<u32> = cells.iter().map(|c| c.row.client_threads).collect();
        let users_vary = configs.iter().any(|c| c.2 != configs[0].2);
        let threads = threads.into_iter().collect();
        Labels {
            configs,
            threads,
            users_vary,
        }
    }

    /// `sharded p=2`, `actor, 2 clients`, `serial, 10k users`: partitions
    /// of engines run with several somewhere, users where they vary, client
    /// threads if given and the sweep has several.
    fn name(&self, (engine, partitions, users): &Config, threads: Option<u32>) -> String {
        let mut name = engine.clone();
        if self.configs.iter().any(|c| c.0 == *engine && c.1 > 1) {
            name.push_str(&format!(" p={partitions}"));
        }
        if self.users_vary {
            name.push_str(&format!(", {} users", compact(*users as f64)));
        }
        match threads.filter(|_| self.threads.len() > 1) {
            Some(n) => format!("{name}, {}", clients(n)),
            None => name,
        }
    }

    /// A colour per configuration (black for `serial`), dots; solid,
    /// dashed, dotted for the first, second, third client-thread count.
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

    /// Adds to `panel` a line per configuration (and client-thread count,
    /// with `by_threads`) through `cells` at `at`, with error `bars`, and
    /// hollow marks on oversubscribed cells.
    fn lines(&self, panel: &mut Panel, cells: &[&Cell], by_threads: bool, at: At, bars: Bars) {
        let mut groups: Vec<(Key<'_>, Vec<&Cell>)> = Vec::new();
        for c in cells {
            let key = (&c.config, by_threads.then_some(c.row.client_threads));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push(c),
                None => groups.push((key, vec![c])),
            }
        }
        for ((config, threads), mut g) in groups {
            // Offered-rate order in the open loop, thread order in the closed.
            let order = |c: &&Cell| c.row.rate.unwrap_or(c.row.client_threads as f64);
            g.sort_by(|a, b| order(a).total_cmp(&order(b)));
            let style = self.style(config, threads);
            let points = g.iter().filter_map(|c| at(c)).collect();
            let line = panel.add(self.name(config, threads), points, style);
            for c in &g {
                let (Some((x, y)), [bx, by]) = (at(c), bars(c)) else {
                    continue;
                };
                line.xspread.extend(bx.map(|e| (y, e.low, x, e.high)));
                line.spread.extend(by.map(|e| (x, e.low, y, e.high)));
            }
            let hollow = g.iter().filter(|c| c.row.oversubscribed);
            let hollow = hollow.filter_map(|c| at(c)).collect();
            let hollow_style = Style::new(0, Mark::Points).color(style.color).hollow();
            panel.add("", hollow, hollow_style);
        }
    }

    /// Notes for the `null` cells left off a figure, a line per cell with
    /// its figure from `value`.
    fn notes(&self, ceiling: &[&Cell], value: fn(&SweepRow) -> Option<String>) -> Vec<String> {
        let mut rows: Vec<&SweepRow> = ceiling.iter().map(|c| &c.row).collect();
        rows.sort_by_key(|r| (r.users, r.client_threads));
        let line = |r: &&SweepRow| {
            let users = format!(", {} users", compact(r.users as f64));
            let users = if self.users_vary { users.as_str() } else { "" };
            let at = clients(r.client_threads);
            Some(format!("  {at}{users}: {}", value(r)?))
        };
        let lines: Vec<String> = rows.iter().filter_map(line).collect();
        let heading = "harness ceiling (null engine, not drawn):".to_string();
        let heading = (!lines.is_empty()).then_some(heading);
        heading.into_iter().chain(lines).collect()
    }
}

/// `1 client`, `2 clients`.
fn clients(n: u32) -> String {
    format!("{n} client{}", if n == 1 { "" } else { "s" })
}

/// The legend entries of `cells`' flags on `panel`: red crosses on the
/// cells whose audit failed, and what hollow marks mean.
fn flags(panel: &mut Panel, cells: &[&Cell], at: At) {
    let failed = cells.iter().filter(|c| c.row.audit == AuditVerdict::Fail);
    let failed: Vec<(f64, f64)> = failed.filter_map(|c| at(c)).collect();
    if !failed.is_empty() {
        panel.add("audit failed", failed, Style::new(3, Mark::Crosses));
    }
    let shared = |c: &&&Cell| c.row.oversubscribed && at(c).is_some();
    if cells.iter().any(|c| shared(&c)) {
        let hollow = Style::new(0, Mark::Points).color(INK).hollow();
        let name = "hollow: oversubscribed (more threads than cores)";
        panel.add(name, Vec::new(), hollow);
    }
}

/// The `null` cells of `cells` (for notes) and the cells to draw: all of
/// them when `null` is all there is.
fn off_axis<'a>(cells: &[&'a Cell]) -> (Vec<&'a Cell>, Vec<&'a Cell>) {
    let null = |c: &&Cell| c.row.engine == "null";
    let (ceiling, drawn): (Vec<&Cell>, Vec<&Cell>) = cells.iter().copied().partition(null);
    if drawn.is_empty() {
        (drawn, ceiling)
    } else {
        (ceiling, drawn)
    }
}

/// The sweep's figures (module docs) from all its rows; figures without
/// data are left out.
pub(super) fn figures(all: &[SweepRow]) -> Vec<Figure> {
    let rows = medians(all);
    let cells: Vec<Cell> = rows.iter().map(|r| Cell::new(r, all)).collect();
    let labels = Labels::of(&cells);
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
    let ops = axis("throughput (ops/s)", Ticks::Number);
    let title = "closed loop: throughput vs client threads";
    let mut scaling = Panel::new(title, threads(), ops);
    let e = axis("efficiency (1 = C1's throughput per core)", Ticks::Number);
    let mut eff = Panel::new("efficiency = ops/s / (cores used x C1)", threads(), e);
    let at_ops: At = |c| Some((c.row.client_threads as f64, c.ops.value));
    let at_eff: At = |c| Some((c.row.client_threads as f64, c.row.efficiency?));
    labels.lines(&mut scaling, &drawn, false, at_ops, |c| [None, Some(c.ops)]);
    labels.lines(&mut eff, &drawn, false, at_eff, |_| [None, None]);
    flags(&mut scaling, &drawn, at_ops);
    flags(&mut eff, &drawn, at_eff);
    c1_lines(&mut scaling, rows, labels.users_vary);
    let across = Style::new(0, Mark::Across).color(INK);
    eff.add("efficiency 1", vec![(0.0, 1.0)], across);
    let ops = |r: &SweepRow| Some(format!("{} ops/s", compact(r.ops_per_sec)));
    scaling.notes = labels.notes(&ceiling, ops);
    let e = |r: &SweepRow| Some(format!("efficiency {:.1}", r.efficiency?));
    eff.notes = labels.notes(&ceiling, e);
    let caption = "Scaling: throughput vs client threads \
                   (COST: fewest cores where a line passes C1)";
    let efficiency = "Efficiency vs client threads";
    [
        Figure::single("scaling", caption, scaling),
        Figure::single("efficiency", efficiency, eff),
    ]
}

/// The C1 reference lines, one per users value.
fn c1_lines(panel: &mut Panel, rows: &[SweepRow], users_vary: bool) {
    for (i, (&users, &y)) in c1_by_users(rows).iter().enumerate() {
        let (c1, users) = (compact(y), compact(users as f64));
        let (name, color) = match users_vary {
            false => (format!("serial baseline C1 = {c1} ops/s"), INK),
            true => (format!("C1, {users} users = {c1} ops/s"), color(i + 5)),
        };
        let style = Style::new(0, Mark::Across).color(color);
        panel.add(name, vec![(0.0, y)], style);
    }
}

/// `latency_vs_throughput` (module docs).
fn latency(labels: &Labels, closed: &[&Cell], open: &[&Cell]) -> Figure {
    let is_open = !open.is_empty();
    let (ceiling, cells) = off_axis(if is_open { open } else { closed });
    let how = match is_open {
        true => "open loop, by offered rate",
        false => "closed loop, by client threads",
    };
    let title = format!("p99 latency vs achieved throughput ({how})");
    let x = axis("achieved throughput (ops/s)", Ticks::Number);
    let mut lat = Panel::new(title, x, axis("p99 latency", Ticks::Latency));
    lat.notes = labels.notes(&ceiling, |r| {
        let p99 = human_ns(r.p99_ns as u64);
        Some(format!("{} ops/s, p99 {p99}", compact(r.ops_per_sec)))
    });
    // A saturated cell that measured nothing has no point: say so instead.
    let empty = |c: &&Cell| c.row.saturated && !(c.ops.value > 0.0 && c.p99.value > 0.0);
    let (unmeasured, measured): (Vec<&Cell>, Vec<&Cell>) = cells.into_iter().partition(empty);
    let both: Bars = |c| [Some(c.ops), Some(c.p99)];
    labels.lines(&mut lat, &measured, is_open, Cell::xy, both);
    let saturated = measured.iter().filter(|c| c.row.saturated);
    let saturated: Vec<(f64, f64)> = saturated.filter_map(|c| c.xy()).collect();
    if !saturated.is_empty() {
        let ring = Style::new(0, Mark::Rings).color(INK);
        lat.add("saturated (fell behind offered rate)", saturated, ring);
    }
    flags(&mut lat, &measured, Cell::xy);
    let unmeasured = unmeasured.iter().map(|c| {
        let name = labels.name(&c.config, Some(c.row.client_threads));
        format!("  {name} at {}/s", compact(c.row.rate.unwrap_or(f64::NAN)))
    });
    let unmeasured: Vec<String> = unmeasured.collect();
    if !unmeasured.is_empty() {
        lat.notes.push("saturated, nothing measured:".into());
        lat.notes.extend(unmeasured);
    }
    Figure::single("latency_vs_throughput", "Latency vs throughput", lat)
}

#[cfg(test)]
mod tests {
    use super::super::chart::Line;
    use super::*;
    use crate::schema::CsvRow;

    /// A row as `sweep.csv` has it: closed loop without `rate`, else
    /// achieving 90% of it, saturated above 150 ops/s.
    fn row(engine: &str, threads: u32, partitions: u32, rate: Option<f64>) -> SweepRow {
        let ops = rate.map_or(1000.0 * threads as f64, |r| r * 0.9);
        let saturated = rate.is_some_and(|r| r > 150.0);
        let rate = rate.map(|r| r.to_string()).unwrap_or_default();
        let cores = threads + 1;
        let line = format!(
            "{engine},{threads},{partitions},{cores},1000,{rate},{ops},,,1e4,1e5,,,1e6,1e7,0,\
             pass,0.5,,{partitions},{saturated},0,Limit,1000000000,,false,0,,0,2"
        );
        let text = format!("{}\n{line}\n", SweepRow::COLUMNS.join(","));
        let mut rows = csv::Reader::from_reader(text.as_bytes()).into_deserialize();
        rows.next().unwrap().unwrap()
    }

    fn panel<'a>(figs: &'a [Figure], stem: &str) -> &'a Panel {
        &figs.iter().find(|f| f.stem == stem).unwrap().rows[0].2[0]
    }

    /// The legend entries of `p`, and its line named `name`.
    fn names(p: &Panel) -> Vec<&str> {
        p.lines
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !n.is_empty())
            .collect()
    }

    fn line<'a>(p: &'a Panel, name: &str) -> &'a Line {
        p.lines.iter().find(|l| l.name == name).unwrap()
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
        let [two, one, p2] = [
            "striped p=1, 2 clients",
            "striped p=1, 1 client",
            "striped p=2, 1 client",
        ];
        let saturated = "saturated (fell behind offered rate)";
        assert_eq!(names(lat), [two, one, p2, saturated]);
        let xs: Vec<f64> = line(lat, two).points.iter().map(|p| p.0).collect();
        assert_eq!(xs, [45.0, 90.0, 180.0]);
        assert_eq!(line(lat, one).points.len(), 2);
        // One client-thread count per dash pattern; one colour per configuration.
        let style = |name| line(lat, name).style;
        assert_eq!(
            (style(two).mark, style(one).mark),
            (Mark::Dashed, Mark::Solid)
        );
        assert_eq!(style(two).color, style(one).color);
        assert_ne!(style(one).color, style(p2).color);
        assert_eq!(line(lat, saturated).points, [(180.0, 1e5)]);
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
        let actor = line(scaling, "actor");
        assert_eq!(actor.points, [(1.0, 300.0), (2.0, 2000.0)]);
        let bars = [(1.0, 100.0, 300.0, 320.0), (2.0, 1800.0, 2000.0, 2200.0)];
        assert_eq!(actor.spread, bars);
        let hollow: Vec<&Line> = scaling.lines.iter().filter(|l| l.style.hollow).collect();
        assert_eq!(hollow[0].points, [(2.0, 2000.0)]);
        assert_eq!(
            hollow[1].name,
            "hollow: oversubscribed (more threads than cores)"
        );
        // The latency figure: the median p99 of the three with its interval,
        // and throughput's interval across.
        let lat = line(panel(&figs, "latency_vs_throughput"), "actor");
        assert_eq!(lat.points[0], (300.0, 2e5));
        assert_eq!(lat.spread[0], (300.0, 1e5, 2e5, 4e5));
        assert_eq!(lat.xspread[1], (1e5, 1800.0, 2000.0, 2200.0));
    }
}
