//! A sweep's matrix as *lines* and *cells*, in the order they are measured.
//!
//! A line is one (engine, client threads, partitions) setting; a cell is a
//! line at one users value, closed loop or one open-loop rate, in one
//! repetition. The lines of a users value start with the baselines (C1,
//! then the null ceiling at each thread count), then the engines asked for.

use socialbench_engines::{DurabilityMode, EngineKind, FeedMode, Replication};

use super::{CellKey, SweepSpec};
use crate::units::human_rate;

/// The thread counts a sweep tries by default: powers of two below the
/// machine's core count, and the core count itself (2 cores: 1, 2; 6 cores:
/// 1, 2, 4, 6).
pub fn default_thread_counts(cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n < cores)
        .collect();
    v.push(cores);
    v
}

/// One open-loop rate of a sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateSpec {
    /// Ops/s, the same for every line.
    PerSec(f64),
    /// A share of the line's closed-loop ops/s (`0.5` for `50%`).
    OfCapacity(f64),
}

impl std::fmt::Display for RateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateSpec::PerSec(r) => write!(f, "{r}"),
            RateSpec::OfCapacity(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

impl std::str::FromStr for RateSpec {
    type Err = String;

    /// A positive rate in ops/s (`50000`, `50k`, `2.5M`; at most
    /// [`MAX_RATE`](crate::limits::MAX_RATE)), or a share of the
    /// line's capacity ending in `%`, above 0 and at most 1000%.
    fn from_str(item: &str) -> Result<RateSpec, String> {
        let item = item.trim();
        if let Some(pct) = item.strip_suffix('%') {
            return match pct.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && p > 0.0 && p <= 1000.0 => {
                    Ok(RateSpec::OfCapacity(p / 100.0))
                }
                _ => Err(format!(
                    "`{item}` is not a share of capacity above 0% and at most 1000%"
                )),
            };
        }
        match crate::config::parse_rate(item) {
            Ok(r) if r > crate::limits::MAX_RATE => Err(format!("`{item}` is above 1G ops/s")),
            Ok(r) => Ok(RateSpec::PerSec(r)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Parses a user count: `1000`, `100k`, `1M`; 1 to 2^31 - 1.
pub fn parse_users(item: &str) -> Result<u32, String> {
    let bad = || format!("`{item}` is not a user count from 1 to 2147483647");
    let v = crate::config::parse_rate(item).map_err(|_| bad())?;
    if v.fract() != 0.0 || !(1.0..(1u64 << 31) as f64).contains(&v) {
        return Err(bad());
    }
    Ok(v as u32)
}

/// The lists of a sweep as it measures them: counts and users sorted and
/// deduplicated, engines deduplicated in the order given, absolute rates
/// first, ascending, then shares of capacity, ascending.
pub fn normalize(spec: &mut SweepSpec) {
    for list in [&mut spec.threads, &mut spec.shards, &mut spec.stripes] {
        list.sort_unstable();
        list.dedup();
    }
    spec.users.sort_unstable();
    spec.users.dedup();
    if spec.replications.is_empty() {
        spec.replications.push(Replication::default());
    }
    let mut replications = Vec::new();
    for r in spec.replications.drain(..) {
        if !replications.contains(&r) {
            replications.push(r);
        }
    }
    spec.replications = replications;
    if spec.feeds.is_empty() {
        spec.feeds.push(FeedMode::Pull);
    }
    let mut feeds = Vec::new();
    for f in spec.feeds.drain(..) {
        if !feeds.contains(&f) {
            feeds.push(f);
        }
    }
    spec.feeds = feeds;
    let mut durabilities = Vec::new();
    for d in spec.durabilities.drain(..) {
        if !durabilities.contains(&d) {
            durabilities.push(d);
        }
    }
    spec.durabilities = durabilities;
    let mut engines = Vec::new();
    for e in spec.engines.drain(..) {
        if !engines.contains(&e) {
            engines.push(e);
        }
    }
    spec.engines = engines;
    let (mut abs, mut rel) = (Vec::new(), Vec::new());
    for r in &spec.rates {
        match *r {
            RateSpec::PerSec(v) => abs.push(v),
            RateSpec::OfCapacity(v) => rel.push(v),
        }
    }
    for v in [&mut abs, &mut rel] {
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    spec.rates = abs
        .into_iter()
        .map(RateSpec::PerSec)
        .chain(rel.into_iter().map(RateSpec::OfCapacity))
        .collect();
}

/// The open-loop rates of one line, ascending, given the ops/s its
/// closed-loop cell measured (shares of capacity are left out without it).
pub(crate) fn line_rates(rates: &[RateSpec], capacity: Option<f64>) -> Vec<f64> {
    let mut out: Vec<f64> = rates
        .iter()
        .filter_map(|r| match *r {
            RateSpec::PerSec(r) => Some(r),
            // At most the bound on rates: 1000% of a very fast line's
            // capacity could pass it.
            RateSpec::OfCapacity(x) => capacity
                .map(|c| (c * x).round().min(crate::limits::MAX_RATE))
                .filter(|r| r.is_finite() && *r >= 1.0),
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// One (engine, client threads, partitions, replication) setting: a
/// closed-loop cell, then the rates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub engine: EngineKind,
    /// Client threads.
    pub threads: usize,
    /// `Some` for partitioned engines.
    pub partitions: Option<usize>,
    /// Backups per shard and mode (`sharded` only; none for the others).
    pub replication: Replication,
    /// How home feeds are built (push and hybrid on the in-process engines
    /// only; C1 and `null` pull).
    pub feeds: FeedMode,
    /// How partitions keep their state (logs on serial, actor, sharded and
    /// striped only; C1 keeps it in memory).
    pub durability: DurabilityMode,
}

/// The name of an engine as a sweep's rows and plots give it: the engine,
/// for a replicated `sharded` its backups and mode (`sharded+r1-sync`), and
/// its feed mode unless it pulls (`striped+push`) and its durability
/// unless in memory (`sharded+fsync`), so that every table, verdict and
/// plot tells the variants apart.
pub fn engine_label(
    engine: EngineKind,
    replication: Replication,
    feeds: FeedMode,
    durability: DurabilityMode,
) -> String {
    let mut label = String::from(engine.name());
    if replication.on() {
        label += &format!("+r{}-{}", replication.replicas, replication.mode);
    }
    if feeds != FeedMode::Pull {
        label += &format!("+{feeds}");
    }
    if durability != DurabilityMode::None {
        label += &format!("+{durability}");
    }
    label
}

impl Line {
    /// The line's engine label ([`engine_label`]).
    pub(crate) fn label(&self) -> String {
        engine_label(self.engine, self.replication, self.feeds, self.durability)
    }

    /// The key of the line's cell at `users`, `rate` (`None`: closed loop), repetition `rep`.
    pub(crate) fn key(&self, users: u32, rate: Option<f64>, rep: u32) -> CellKey {
        CellKey {
            engine: self.label(),
            client_threads: self.threads as u32,
            partitions: self.partitions.unwrap_or(1) as u32,
            users: users as u64,
            rate_bits: rate.map(f64::to_bits),
            rep,
        }
    }

    /// `sharded clients=2 shards=4 users=1000 rate=50.0k`, for progress lines.
    pub(crate) fn describe(&self, users: u32, rate: Option<f64>) -> String {
        let parts = match (self.engine, self.partitions) {
            (EngineKind::Sharded, Some(p)) => format!(" shards={p}"),
            (EngineKind::Striped, Some(p)) => format!(" stripes={p}"),
            _ => String::new(),
        };
        format!(
            "{} clients={}{parts} users={} {}",
            self.label(),
            self.threads,
            users,
            rate.map_or("closed".into(), |r| format!("rate={}", human_rate(r)))
        )
    }

    /// The cell's folder name under `cells/`.
    pub(crate) fn cell_id(&self, users: u32, rate: Option<f64>, rep: u32) -> String {
        format!(
            "{}-c{}-p{}-u{}-{}{}",
            self.label(),
            self.threads,
            self.partitions.unwrap_or(1),
            users,
            rate.map_or("closed".into(), |r| format!("r{r}")),
            if rep > 0 {
                format!("-rep{rep}")
            } else {
                String::new()
            }
        )
    }
}

/// The lines of one users value: C1 first, the null ceiling, then the engines.
pub(crate) fn lines(spec: &SweepSpec) -> Vec<Line> {
    let mut v = vec![Line {
        engine: EngineKind::Serial,
        threads: 1,
        partitions: None,
        replication: Replication::default(),
        feeds: FeedMode::Pull,
        durability: DurabilityMode::None,
    }];
    // Serial pushing is the C1 of push (delivery inside the op), serial
    // logging the C1 of durability.
    for &feeds in spec.feeds.iter().filter(|&&f| f != FeedMode::Pull) {
        v.push(Line { feeds, ..v[0] });
    }
    for &durability in spec
        .durabilities
        .iter()
        .filter(|&&d| d != DurabilityMode::None)
    {
        v.push(Line { durability, ..v[0] });
    }
    let mut engines = vec![EngineKind::Null];
    engines.extend(
        spec.engines
            .iter()
            .copied()
            .filter(|e| !matches!(e, EngineKind::Null | EngineKind::Serial)),
    );
    for e in engines {
        for &t in &spec.threads {
            let parts: Vec<Option<usize>> = match e {
                EngineKind::Sharded => spec.shards.iter().map(|&p| Some(p)).collect(),
                EngineKind::Striped => spec.stripes.iter().map(|&p| Some(p)).collect(),
                _ => vec![None],
            };
            let variants = match e {
                EngineKind::Sharded if !spec.replications.is_empty() => spec.replications.clone(),
                _ => vec![Replication::default()],
            };
            let feed_modes = match e {
                EngineKind::Null | EngineKind::Redis => vec![FeedMode::Pull],
                _ if spec.feeds.is_empty() => vec![FeedMode::Pull],
                _ => spec.feeds.clone(),
            };
            let durabilities = match e {
                _ if !e.is_durable() || spec.durabilities.is_empty() => vec![DurabilityMode::None],
                _ => spec.durabilities.clone(),
            };
            for partitions in parts {
                for &replication in &variants {
                    for &feeds in &feed_modes {
                        for &durability in &durabilities {
                            // Logs and backups together are not built.
                            if replication.on() && durability != DurabilityMode::None {
                                continue;
                            }
                            v.push(Line {
                                engine: e,
                                threads: t,
                                partitions,
                                replication,
                                feeds,
                                durability,
                            });
                        }
                    }
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use std::path::PathBuf;

    #[test]
    fn default_thread_counts_are_powers_of_two_then_the_core_count() {
        assert_eq!(default_thread_counts(1), vec![1]);
        assert_eq!(default_thread_counts(2), vec![1, 2]);
        assert_eq!(default_thread_counts(6), vec![1, 2, 4, 6]);
        assert_eq!(default_thread_counts(8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn lists_are_normalized_and_items_rejected_with_their_text() {
        let mut sp = spec(&[EngineKind::Striped, EngineKind::Actor, EngineKind::Striped]);
        sp.threads = vec![4, 1, 2, 2];
        sp.users = vec![100_000, 1000];
        sp.rates = ["50%", "50k", "10k", "25%", "50%"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        normalize(&mut sp);
        assert_eq!(sp.threads, vec![1, 2, 4]);
        assert_eq!(sp.users, vec![1000, 100_000]);
        assert_eq!(sp.engines, vec![EngineKind::Striped, EngineKind::Actor]);
        assert_eq!(
            sp.rates,
            vec![
                RateSpec::PerSec(10_000.0),
                RateSpec::PerSec(50_000.0),
                RateSpec::OfCapacity(0.25),
                RateSpec::OfCapacity(0.5)
            ]
        );
        assert_eq!(parse_users("100k"), Ok(100_000));
        for (r, needle) in [
            ("fast".parse::<RateSpec>().map(|_| ()), "fast"),
            ("0%".parse::<RateSpec>().map(|_| ()), "`0%`"),
            ("2000%".parse::<RateSpec>().map(|_| ()), "`2000%`"),
            ("half%".parse::<RateSpec>().map(|_| ()), "`half%`"),
            (parse_users("1.5").map(|_| ()), "1.5"),
        ] {
            let e = r.unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn shares_of_capacity_follow_each_lines_closed_loop_figure() {
        let r = [
            RateSpec::PerSec(100_000.0),
            RateSpec::OfCapacity(0.5),
            RateSpec::OfCapacity(2.0),
        ];
        // Ascending whatever the order of absolute and relative rates.
        assert_eq!(
            line_rates(&r, Some(150_001.0)),
            vec![75_001.0, 100_000.0, 300_002.0]
        );
        // A share equal to an absolute rate runs once.
        assert_eq!(line_rates(&r, Some(200_000.0)), vec![100_000.0, 400_000.0]);
        // Without a capacity (or one too small to give 1 op/s) only the absolute rates remain.
        assert_eq!(line_rates(&r, None), vec![100_000.0]);
        assert_eq!(line_rates(&r[1..2], Some(0.8)), Vec::<f64>::new());
    }

    fn spec(engines: &[EngineKind]) -> SweepSpec {
        SweepSpec {
            engines: engines.to_vec(),
            threads: vec![1, 2],
            shards: vec![1, 2, 4],
            stripes: vec![8],
            users: vec![1000],
            rates: vec![],
            max_outstanding: 100,
            repeat: 1,
            precision: None,
            max_time: None,
            base: RunConfig::new(EngineKind::Null),
            out_dir: PathBuf::new(),
            replications: vec![],
            feeds: Vec::new(),
            durabilities: Vec::new(),
        }
    }

    #[test]
    fn replication_variants_multiply_the_sharded_lines_only_and_name_them() {
        use socialbench_engines::ReplicationMode;
        let mut sp = spec(&[EngineKind::Actor, EngineKind::Sharded]);
        let r1 = |mode| Replication { replicas: 1, mode };
        sp.replications = vec![
            Replication::default(),
            r1(ReplicationMode::Sync),
            r1(ReplicationMode::Async),
            r1(ReplicationMode::Sync),
        ];
        normalize(&mut sp);
        assert_eq!(sp.replications.len(), 3);
        let l = lines(&sp);
        let labels: Vec<String> = l.iter().map(Line::label).collect();
        let count = |e: &str| labels.iter().filter(|n| *n == e).count();
        // 2 thread counts x 3 shard counts per variant; actor is not replicated.
        assert_eq!(count("sharded"), 6);
        assert_eq!(count("sharded+r1-sync"), 6);
        assert_eq!(count("sharded+r1-async"), 6);
        assert_eq!(count("actor"), 2);
        let cell = l.iter().find(|l| l.label() == "sharded+r1-async").unwrap();
        assert_eq!(
            cell.cell_id(1000, None, 0),
            "sharded+r1-async-c1-p1-u1000-closed"
        );
        assert_ne!(cell.key(1000, None, 0), l[3].key(1000, None, 0));
    }

    #[test]
    fn feed_modes_multiply_the_in_process_engines_and_add_a_pushing_serial() {
        let mut sp = spec(&[EngineKind::Actor, EngineKind::Sharded]);
        sp.feeds = vec![
            FeedMode::Pull,
            FeedMode::Push,
            FeedMode::Pull,
            FeedMode::Hybrid,
        ];
        normalize(&mut sp);
        assert_eq!(sp.feeds.len(), 3);
        let l = lines(&sp);
        let labels: Vec<String> = l.iter().map(Line::label).collect();
        let count = |e: &str| labels.iter().filter(|n| *n == e).count();
        // C1 pulls; serial pushing is a line of its own per mode.
        assert_eq!(labels[0], "serial");
        assert_eq!((count("serial+push"), count("serial+hybrid")), (1, 1));
        // null pulls only: one line per thread count.
        assert_eq!(count("null"), 2);
        assert_eq!(count("null+push"), 0);
        // 2 thread counts x 3 shard counts per mode; actor 2 per mode.
        for mode in ["sharded", "sharded+push", "sharded+hybrid"] {
            assert_eq!(count(mode), 6, "{labels:?}");
        }
        assert_eq!((count("actor"), count("actor+push")), (2, 2));
        let push = l.iter().find(|l| l.label() == "actor+push").unwrap();
        let pull = l.iter().find(|l| l.label() == "actor").unwrap();
        assert_eq!(push.feeds, FeedMode::Push);
        assert_ne!(push.key(1000, None, 0), pull.key(1000, None, 0));
    }

    #[test]
    fn partitions_multiply_only_partitioned_engines_and_baselines_come_first() {
        let l = lines(&spec(&[
            EngineKind::Actor,
            EngineKind::Sharded,
            EngineKind::Striped,
        ]));
        let names: Vec<(&str, usize, Option<usize>)> = l
            .iter()
            .map(|l| (l.engine.name(), l.threads, l.partitions))
            .collect();
        assert_eq!(names[0], ("serial", 1, None));
        assert_eq!(&names[1..3], &[("null", 1, None), ("null", 2, None)]);
        let count = |e: &str| names.iter().filter(|n| n.0 == e).count();
        assert_eq!(count("serial"), 1);
        assert_eq!(count("actor"), 2);
        assert_eq!(count("sharded"), 2 * 3);
        assert_eq!(count("striped"), 2);
        assert!(names.contains(&("striped", 2, Some(8))));
    }

    #[test]
    fn serial_and_null_listed_by_the_user_are_not_run_twice() {
        let l = lines(&spec(&[EngineKind::Null, EngineKind::Serial]));
        assert_eq!(l.len(), 1 + 2);
    }
}
