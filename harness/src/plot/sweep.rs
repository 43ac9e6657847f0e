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
//!
//! # Figures
//! - `scaling`: closed-loop throughput vs client threads, a line per engine
//!   (and per users / engine-thread setting when those vary), C1 as a dashed
//!   horizontal line;
//! - `efficiency`: the same cells' efficiency vs client threads, with the
//!   line efficiency = 1 (as fast per core as C1 on its one core);
//! - `latency_vs_throughput`: p99 vs achieved throughput, a curve per engine
//!   through the open-loop cells in offered-rate order (the closed-loop cells
//!   in thread order when the sweep has no rates).
//!
//! Cells whose audit failed are marked with a red cross: their numbers are not
//! to be trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::figure::{Axis, Figure, HLine, INK, Mark, Panel, Quantity, Series, Style, compact};
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
}

/// Loads `sweep.csv`; a missing, empty or malformed file is an error.
pub fn load(path: &Path) -> Result<Vec<SweepRow>, PlotError> {
    read_csv(path)
}

/// Which dimensions vary in the sweep, so series names mention only those.
struct Varies {
    users: bool,
    /// Engines run at several engine-thread counts for one client-thread count.
    engine_threads: BTreeSet<String>,
}

impl Varies {
    fn of(rows: &[&SweepRow]) -> Varies {
        let users = rows.iter().map(|r| r.users).collect::<BTreeSet<_>>().len() > 1;
        let mut seen: BTreeMap<(&str, u32, u64), BTreeSet<u32>> = BTreeMap::new();
        for r in rows {
            seen.entry((&r.engine, r.client_threads, r.users))
                .or_default()
                .insert(r.engine_threads);
        }
        let engine_threads = seen
            .into_iter()
            .filter(|(_, e)| e.len() > 1)
            .map(|((engine, _, _), _)| engine.to_string())
            .collect();
        Varies {
            users,
            engine_threads,
        }
    }

    fn series_name(&self, r: &SweepRow) -> String {
        let mut name = r.engine.clone();
        if self.engine_threads.contains(&r.engine) {
            name.push_str(&format!(", {} engine thr.", r.engine_threads));
        }
        if self.users {
            name.push_str(&format!(", {} users", compact(r.users as f64)));
        }
        name
    }
}

/// Groups rows into named series (first-seen order), each sorted by `key`.
fn group<'a>(
    rows: &[&'a SweepRow],
    varies: &Varies,
    key: impl Fn(&SweepRow) -> f64,
) -> Vec<(String, Vec<&'a SweepRow>)> {
    let mut groups: Vec<(String, Vec<&'a SweepRow>)> = Vec::new();
    for r in rows {
        let name = varies.series_name(r);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, g)) => g.push(r),
            None => groups.push((name, vec![r])),
        }
    }
    for (_, g) in &mut groups {
        g.sort_by(|a, b| key(a).total_cmp(&key(b)));
    }
    groups
}

/// Style of the series of `engine`: serial is black, others by palette.
fn engine_style(engine: &str, i: usize) -> Style {
    let s = Style::line(i).width(3).dotted();
    if engine == "serial" {
        Style { color: INK, ..s }
    } else {
        s
    }
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
                    color: super::figure::color(i + 10),
                    ..style
                },
            })
            .collect()
    }
}

/// The sweep's figures (see the module docs); figures without data are left out.
pub(crate) fn figures(rows: &[SweepRow]) -> Vec<Figure> {
    let closed: Vec<&SweepRow> = rows.iter().filter(|r| !r.open_loop()).collect();
    let open: Vec<&SweepRow> = rows.iter().filter(|r| r.open_loop()).collect();
    let mut figs = Vec::new();
    let threads = || Axis::zero_based("client threads", Quantity::Integer);
    if !closed.is_empty() {
        let varies = Varies::of(&closed);
        let groups = group(&closed, &varies, |r| r.client_threads as f64);

        let mut scaling = Panel::new(
            "closed loop: throughput vs client threads",
            threads(),
            Axis::zero_based("throughput (ops/s)", Quantity::Number),
        );
        scaling.hlines = c1_lines(&closed);
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
        for (i, (name, g)) in groups.iter().enumerate() {
            let style = engine_style(&g[0].engine, i);
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
                name: name.clone(),
                points,
                style,
            });
        }
        scaling.series.extend(audit_failures(&closed, |r| {
            Some((r.client_threads as f64, r.ops_per_sec))
        }));
        eff.series.extend(audit_failures(&closed, |r| {
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

    // Latency vs throughput: the open-loop cells if any, else the closed ones.
    let (cells, how, key): (&[&SweepRow], &str, fn(&SweepRow) -> f64) = if open.is_empty() {
        (&closed, "closed loop, by client threads", |r| {
            r.client_threads as f64
        })
    } else {
        (&open, "open loop, by offered rate", |r| {
            r.rate.unwrap_or(f64::NAN)
        })
    };
    let varies = Varies::of(cells);
    let mut lat = Panel::new(
        format!("p99 latency vs achieved throughput ({how})"),
        Axis::zero_based("achieved throughput (ops/s)", Quantity::Number),
        Axis::log("p99 latency", Quantity::DurationNs),
    );
    for (i, (name, g)) in group(cells, &varies, key).iter().enumerate() {
        lat.series.push(Series {
            name: name.clone(),
            points: g.iter().map(|r| (r.ops_per_sec, r.p99_ns)).collect(),
            style: engine_style(&g[0].engine, i),
        });
    }
    lat.series
        .extend(audit_failures(cells, |r| Some((r.ops_per_sec, r.p99_ns))));
    figs.push(Figure::single(
        "latency_vs_throughput",
        "Latency vs throughput".into(),
        lat,
    ));
    figs
}
