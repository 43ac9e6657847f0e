//! A sweep's cells: the median repetition of each, the serial baseline C1
//! and the efficiency against it ("Scalability! But at what COST?",
//! McSherry et al., HotOS 2015: `ops / (cores x C1)`).

use std::collections::BTreeMap;

use super::sweep::SweepRow;

/// Whether a cell is C1, the serial baseline: `serial`, one client thread,
/// closed loop.
pub fn is_c1(engine: &str, client_threads: u32, open_loop: bool) -> bool {
    engine == "serial" && client_threads == 1 && !open_loop
}

/// `ops / (cores x c1)` to 4 decimals; `None` without a positive C1.
pub fn efficiency(ops: f64, cores: u32, c1: f64) -> Option<f64> {
    (c1 > 0.0).then(|| (ops / (cores.max(1) as f64 * c1) * 1e4).round() / 1e4)
}

/// What identifies a cell across its repetitions: every coordinate but `rep`.
pub type CellId = (String, u32, u32, u64, Option<u64>);

/// The cell a row measured (its coordinates without the repetition).
pub fn cell_of(r: &SweepRow) -> CellId {
    (
        r.engine.clone(),
        r.client_threads,
        r.partitions,
        r.users,
        r.rate.map(f64::to_bits),
    )
}

/// Groups `rows` by `cell` (in order of first appearance) and keeps, of each
/// group, the row with the median `ops` (the lower middle of an even
/// count): a measured row, not an average.
pub fn median_per_cell<T, K: PartialEq>(
    rows: Vec<T>,
    cell: impl Fn(&T) -> K,
    ops: impl Fn(&T) -> f64,
) -> Vec<T> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for r in rows {
        let k = cell(&r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(r),
            None => groups.push((k, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut v)| {
            v.sort_by(|a, b| ops(a).total_cmp(&ops(b)));
            v.swap_remove((v.len() - 1) / 2)
        })
        .collect()
}

/// One row per cell: of a cell's repetitions (`--repeat`), the one with the
/// median throughput (closed loop) or the median p99 (open loop, where every
/// repetition achieves the offered rate and throughput would pick one at
/// random), a measured row rather than an average of several; its
/// efficiency recomputed against the median C1. Cells come out in the order
/// of their first repetition.
pub fn medians(rows: &[SweepRow]) -> Vec<SweepRow> {
    let key = |r: &SweepRow| {
        if r.open_loop() {
            r.p99_ns
        } else {
            r.ops_per_sec
        }
    };
    let mut out = median_per_cell(rows.to_vec(), cell_of, key);
    let c1 = c1_by_users(&out);
    for r in &mut out {
        if let Some(&c) = c1.get(&r.users)
            && let Some(e) = efficiency(r.ops_per_sec, r.cores_used, c)
        {
            r.c1_ops_per_sec = Some(c);
            r.efficiency = Some(e);
        }
    }
    out
}

/// C1 (the `serial` engine's closed-loop cell) of every users value.
pub fn c1_by_users(rows: &[SweepRow]) -> BTreeMap<u64, f64> {
    rows.iter()
        .filter(|r| is_c1(&r.engine, r.client_threads, r.open_loop()))
        .map(|r| (r.users, r.ops_per_sec))
        .collect()
}
