//! What a sweep concludes from its rows: the final table, the spread of
//! repetitions, and each engine's COST ("Scalability! But at what COST?",
//! McSherry et al., HotOS 2015): the fewest cores on which it beats C1.

use std::collections::BTreeMap;

use crate::schema::AuditVerdict;
use crate::schema::cells::is_c1;
use crate::schema::cells::{c1_by_users, cell_of, medians};
use crate::schema::sweep::{Cost, LineVerdict, SweepRow};
use crate::stats::paired::paired_ratio;
use crate::units::{human_ns, human_rate};

/// How far repetitions of one closed-loop cell disagree: the largest
/// `(max - min) / median` of throughput over the cells, and which cell.
pub fn spread(rows: &[SweepRow]) -> String {
    let mut worst: Option<(f64, String, usize)> = None;
    let mut n_max = 0;
    for m in medians(rows).iter().filter(|m| m.rate.is_none()) {
        let k = cell_of(m);
        let ops: Vec<f64> = rows
            .iter()
            .filter(|r| cell_of(r) == k)
            .map(|r| r.ops_per_sec)
            .collect();
        n_max = n_max.max(ops.len());
        let (lo, hi) = ops
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        if ops.len() > 1 && m.ops_per_sec > 0.0 {
            let s = (hi - lo) / m.ops_per_sec;
            if worst.as_ref().is_none_or(|w| s > w.0) {
                let name = format!(
                    "{} clients={} parts={} users={}",
                    m.engine, m.client_threads, m.partitions, m.users
                );
                worst = Some((s, name, ops.len()));
            }
        }
    }
    match worst {
        Some((s, name, n)) => format!(
            "repetitions: up to {n_max} per cell; the table shows each cell's median; widest closed-loop spread (max - min) / median = {:.0}% ({name}, {n} runs)",
            s * 100.0
        ),
        None => "repetitions: one per cell".into(),
    }
}

/// COST of every engine but the baselines (`serial` is C1 itself, `null`
/// does no work), per users value with a C1. Only closed-loop cells count:
/// an open-loop cell's throughput is capped by its offered rate.
pub fn costs(rows: &[SweepRow]) -> Vec<Cost> {
    let c1 = c1_by_users(rows);
    let mut groups: BTreeMap<(u64, String), Vec<&SweepRow>> = BTreeMap::new();
    for r in rows {
        if r.rate.is_none() && r.engine != "serial" && r.engine != "null" {
            groups
                .entry((r.users, r.engine.clone()))
                .or_default()
                .push(r);
        }
    }
    let mut out = Vec::new();
    for ((users, engine), cells) in groups {
        let Some(&c1) = c1.get(&users) else { continue };
        let cores = cells
            .iter()
            .filter(|r| r.audit != AuditVerdict::Fail && r.ops_per_sec > c1)
            .map(|r| r.cores_used)
            .min();
        let max_cores_measured = cells.iter().map(|r| r.cores_used).max().unwrap_or(0);
        let label = match cores {
            Some(n) => n.to_string(),
            None => format!("> {max_cores_measured}"),
        };
        out.push(Cost {
            engine,
            users,
            c1_ops_per_sec: c1,
            cores,
            max_cores_measured,
            label,
            best_ops_per_sec: cells.iter().map(|r| r.ops_per_sec).fold(0.0, f64::max),
        });
    }
    out
}

/// Each closed-loop line of `rows` (every repetition) against C1 of its
/// users value, paired by repetition; lines without a C1 have none.
pub fn verdicts(rows: &[SweepRow]) -> Vec<LineVerdict> {
    let closed = |r: &&SweepRow| r.rate.is_none();
    let mut lines: Vec<(String, u32, u32, u64)> = Vec::new();
    for r in rows.iter().filter(closed) {
        let k = (r.engine.clone(), r.client_threads, r.partitions, r.users);
        if !lines.contains(&k) && !is_c1(&r.engine, r.client_threads, false) {
            lines.push(k);
        }
    }
    let reps = rows.iter().map(|r| r.rep + 1).max().unwrap_or(0);
    let series = |key: &(String, u32, u32, u64), f: fn(&SweepRow) -> f64| -> Vec<Option<f64>> {
        (0..reps)
            .map(|rep| {
                rows.iter()
                    .filter(closed)
                    .find(|r| {
                        r.rep == rep
                            && (&r.engine, r.client_threads, r.partitions, r.users)
                                == (&key.0, key.1, key.2, key.3)
                    })
                    .map(f)
            })
            .collect()
    };
    lines
        .into_iter()
        .filter_map(|k| {
            let c1 = ("serial".to_string(), 1, 1, k.3);
            let throughput = paired_ratio(
                &series(&k, |r| r.ops_per_sec),
                &series(&c1, |r| r.ops_per_sec),
                true,
            )?;
            let p99 = paired_ratio(&series(&k, |r| r.p99_ns), &series(&c1, |r| r.p99_ns), false)?;
            Some(LineVerdict {
                engine: k.0,
                client_threads: k.1,
                partitions: k.2,
                users: k.3,
                throughput,
                p99,
            })
        })
        .collect()
}

/// The verdicts as lines of text under the table.
pub fn render_verdicts(verdicts: &[LineVerdict]) -> String {
    let mut o = String::new();
    if verdicts.is_empty() {
        return o;
    }
    o.push_str(
        "against C1, paired by repetition: geometric-mean ratio [95% t-interval] and verdict
",
    );
    for v in verdicts {
        let cell = |p: &crate::stats::Paired| {
            format!(
                "{:.2} [{:.2}, {:.2}] {}",
                p.ratio.value, p.ratio.low, p.ratio.high, p.verdict
            )
        };
        o.push_str(&format!(
            "  {:<8} clients={} parts={} users={}: throughput {}; p99 {}\n",
            v.engine,
            v.client_threads,
            v.partitions,
            human_rate(v.users as f64),
            cell(&v.throughput),
            cell(&v.p99)
        ));
    }
    o
}

/// Rows in table order: users, then engine in `order`, threads, partitions,
/// closed loop before rates ascending.
pub fn sorted<'a>(rows: &'a [SweepRow], order: &[&str]) -> Vec<&'a SweepRow> {
    let rank = |e: &str| order.iter().position(|o| *o == e).unwrap_or(order.len());
    let mut v: Vec<&SweepRow> = rows.iter().collect();
    v.sort_by(|a, b| {
        (
            a.users,
            rank(&a.engine),
            &a.engine,
            a.client_threads,
            a.partitions,
        )
            .cmp(&(
                b.users,
                rank(&b.engine),
                &b.engine,
                b.client_threads,
                b.partitions,
            ))
            .then(a.rate.unwrap_or(-1.0).total_cmp(&b.rate.unwrap_or(-1.0)))
    });
    v
}

/// The final table: a line per cell, then the COST lines.
pub fn render(rows: &[SweepRow], order: &[&str], costs: &[Cost]) -> String {
    // Wide enough for a replicated variant's label (`sharded+r1-async`).
    let w = rows
        .iter()
        .map(|r| r.engine.len() + 1)
        .max()
        .unwrap_or(0)
        .max(8);
    let mut o = format!(
        "{:<w$}{:>8}{:>8}{:>6}{:>6}{:>9}{:>9}{:>10}{:>10}{:>10}{:>10}{:>7}  {}\n",
        "engine",
        "users",
        "clients",
        "parts",
        "cores",
        "rate",
        "ops/s",
        "p50",
        "p99",
        "p99.9",
        "max",
        "eff",
        "audit"
    );
    for r in sorted(rows, order) {
        let audit = match r.audit {
            AuditVerdict::Fail => "FAIL",
            v => v.as_str(),
        };
        o.push_str(&format!(
            "{:<w$}{:>8}{:>8}{:>6}{:>6}{:>9}{:>9}{:>10}{:>10}{:>10}{:>10}{:>7}  {}{}\n",
            r.engine,
            human_rate(r.users as f64),
            r.client_threads,
            r.partitions,
            r.cores_used,
            r.rate.map_or("closed".into(), human_rate),
            human_rate(r.ops_per_sec),
            human_ns(r.p50_ns as u64),
            human_ns(r.p99_ns as u64),
            human_ns(r.p999_ns as u64),
            human_ns(r.max_ns as u64),
            r.efficiency.map_or("-".into(), |e| format!("{e:.2}")),
            audit,
            if r.saturated { "  saturated" } else { "" }
        ));
    }
    let mut by_users: BTreeMap<u64, Vec<&Cost>> = BTreeMap::new();
    for c in costs {
        by_users.entry(c.users).or_default().push(c);
    }
    for (users, cs) in by_users {
        let parts: Vec<String> = cs
            .iter()
            .map(|c| format!("{} {}", c.engine, c.label))
            .collect();
        o.push_str(&format!(
            "COST ({} users, cores to beat C1 = {} ops/s): {}\n",
            human_rate(users as f64),
            human_rate(cs[0].c1_ops_per_sec),
            parts.join(", ")
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(engine: &str, threads: u32, cores: u32, ops: f64, rate: Option<f64>) -> SweepRow {
        SweepRow {
            engine: engine.into(),
            client_threads: threads,
            engine_threads: cores - threads,
            cores_used: cores,
            users: 1000,
            rate,
            ops_per_sec: ops,
            p50_ns: 1.0,
            p99_ns: 2.0,
            p999_ns: 3.0,
            max_ns: 4.0,
            errors: 0,
            audit: AuditVerdict::Pass,
            efficiency: None,
            c1_ops_per_sec: None,
            partitions: 1,
            saturated: false,
            stopped_by: "Limit".into(),
            measured_ns: 1,
            ops_per_sec_low: None,
            ops_per_sec_high: None,
            p99_low_ns: None,
            p99_high_ns: None,
            cpu_ns_per_op: None,
            oversubscribed: false,
            replicas: 0,
            replication: None,
            finished_at_unix_ms: 0,
            rep: 0,
            schema: crate::schema::SCHEMA_VERSION,
        }
    }

    fn p99(mut r: SweepRow, p99_ns: f64) -> SweepRow {
        r.p99_ns = p99_ns;
        r
    }

    fn rep(mut r: SweepRow, rep: u32) -> SweepRow {
        r.rep = rep;
        r
    }

    #[test]
    fn medians_keep_the_middle_repetition_of_each_cell_against_the_median_c1() {
        let rows = vec![
            rep(cell("serial", 1, 1, 100.0, None), 0),
            rep(cell("actor", 1, 2, 300.0, None), 0),
            rep(p99(cell("actor", 1, 2, 150.0, Some(150.0)), 3.0), 0),
            rep(cell("serial", 1, 1, 140.0, None), 1),
            rep(cell("actor", 1, 2, 180.0, None), 1),
            rep(p99(cell("actor", 1, 2, 149.0, Some(150.0)), 5.0), 1),
            rep(cell("serial", 1, 1, 120.0, None), 2),
            rep(cell("actor", 1, 2, 240.0, None), 2),
        ];
        let m = medians(&rows);
        let got: Vec<(&str, Option<f64>, f64, u32)> = m
            .iter()
            .map(|r| (r.engine.as_str(), r.rate, r.ops_per_sec, r.rep))
            .collect();
        // Order of first appearance; odd counts take the middle, even the
        // lower middle; by throughput in the closed loop, by p99 in the open
        // loop (by throughput it would be rep 1's 149).
        assert_eq!(
            got,
            vec![
                ("serial", None, 120.0, 2),
                ("actor", None, 240.0, 2),
                ("actor", Some(150.0), 150.0, 0),
            ]
        );
        // Efficiency against the median C1 (120), on 2 cores.
        assert_eq!(m[1].c1_ops_per_sec, Some(120.0));
        assert_eq!(m[1].efficiency, Some(1.0));
        // COST from medians: actor's 240 beats 120 on 2 cores.
        assert_eq!(
            costs(&m)
                .iter()
                .find(|c| c.engine == "actor")
                .unwrap()
                .cores,
            Some(2)
        );
        let s = spread(&rows);
        // actor closed: (300 - 180) / 240 = 50%, wider than serial's 33%.
        assert!(s.contains("50%") && s.contains("actor clients=1"), "{s}");
        assert_eq!(spread(&m), "repetitions: one per cell");
    }

    #[test]
    fn cost_is_the_fewest_cores_that_beat_c1_or_more_than_the_most_measured() {
        let mut failed = cell("striped", 1, 1, 500.0, None);
        failed.audit = AuditVerdict::Fail;
        let rows = vec![
            cell("serial", 1, 1, 100.0, None),
            cell("null", 1, 1, 1e6, None),
            cell("sharded", 1, 2, 90.0, None),
            cell("sharded", 2, 4, 150.0, None),
            cell("sharded", 3, 3, 120.0, None),
            cell("actor", 1, 2, 80.0, None),
            cell("actor", 2, 3, 99.0, None),
            // Open-loop cells never count, even above C1.
            cell("actor", 1, 2, 200.0, Some(200.0)),
            failed,
            cell("striped", 2, 2, 101.0, None),
        ];
        let costs = costs(&rows);
        let get = |e: &str| costs.iter().find(|c| c.engine == e).unwrap();
        assert_eq!(costs.len(), 3, "{costs:?}");
        assert_eq!(get("sharded").cores, Some(3));
        assert_eq!(get("sharded").label, "3");
        assert_eq!(get("actor").cores, None);
        assert_eq!(get("actor").label, "> 3");
        // A cell whose audit failed cannot set the COST.
        assert_eq!(get("striped").cores, Some(2));
        assert_eq!(get("striped").c1_ops_per_sec, 100.0);
    }

    #[test]
    fn no_cost_without_a_c1_for_that_users_value() {
        let rows = vec![cell("sharded", 1, 2, 90.0, None)];
        assert!(costs(&rows).is_empty());
    }
}
