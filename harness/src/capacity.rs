//! Capacity under a latency SLO: the highest offered rate at which an
//! engine still meets, say, `p99 <= 1 ms` (Mutilate's `--search`, with
//! MLPerf LoadGen's server-scenario idea of a probe long enough for the
//! percentile to be decided).
//!
//! # Search
//! A closed-loop run first measures the engine's throughput `C`; the open
//! loop is then probed between `C / 100` and `1.25 C` (a closed-loop run's
//! own noise can put `C` a little under what the open loop sustains): the
//! low end must meet the SLO (else the SLO is *unattainable*), the high end
//! must miss it (else the capacity is *at least* `1.25 C`). Bisection on the rate (geometric, as
//! rates span orders of magnitude) keeps the highest rate that met the SLO
//! (`low`) and the lowest that missed it (`high`) until `high / low - 1` is
//! at most the tolerance (5%).
//!
//! # A probe is decided, not just measured
//! A probe's percentile has a rank interval (`stats::hist`): the ranks of
//! the `q`-quantile among `n` latencies are `Binomial(n, q)`. The probe
//! *meets* the SLO when the whole interval is at or below the threshold,
//! *misses* it when the whole interval is above (or the open loop fell
//! behind its schedule), and is *undecided* otherwise: it is then run again
//! twice as long, up to a bound, after which its point estimate decides and
//! the probe is marked marginal. This is the early-stopping rule: a probe
//! far from the threshold stops at its first, short run.
//!
//! # Noise
//! Latency is not monotone in the rate on a shared machine (a slow spell
//! can fail a low rate). When the bracket has closed, the rate kept as
//! capacity is probed once more; if it now misses, the pair is reported as
//! non-monotone and the search goes on below it (at most
//! [`SearchSpec::confirmations`] times).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::RunError;
use crate::stats::Estimate;

/// A latency SLO: the `quantile` of intended latency at most `threshold_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// The quantile (`0.99` for p99).
    pub quantile: f64,
    /// Its bound, ns.
    pub threshold_ns: u64,
}

/// The quantiles an SLO may name: those every run reports with an interval.
pub const SLO_QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

impl std::str::FromStr for Slo {
    type Err = String;

    /// `p99=1ms`, `p99.9=500us`, `p50=100us`.
    fn from_str(s: &str) -> Result<Slo, String> {
        let (p, t) = s
            .split_once('=')
            .ok_or_else(|| format!("SLO `{s}` is not PERCENTILE=DURATION (e.g. p99=1ms)"))?;
        let quantile = SLO_QUANTILES
            .iter()
            .find(|(name, _)| *name == p.trim())
            .map(|(_, q)| *q)
            .ok_or_else(|| {
                format!("SLO `{s}`: unknown percentile `{p}` (known: p50, p90, p99, p99.9, p99.99)")
            })?;
        let t = t.trim();
        if t.chars().last().is_none_or(|c| c.is_ascii_digit()) {
            return Err(format!(
                "SLO `{s}`: the bound `{t}` needs a unit (ns, us, ms, s)"
            ));
        }
        let d = crate::config::parse_duration(t).map_err(|e| format!("SLO `{s}`: {e}"))?;
        if d.is_zero() {
            return Err(format!("SLO `{s}`: the bound must be positive"));
        }
        Ok(Slo {
            quantile,
            threshold_ns: d.as_nanos() as u64,
        })
    }
}

impl std::fmt::Display for Slo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = SLO_QUANTILES
            .iter()
            .find(|(_, q)| *q == self.quantile)
            .map_or("p?", |(n, _)| n);
        write!(
            f,
            "{name}={}",
            crate::units::compact_ns(self.threshold_ns as f64)
        )
    }
}

/// What a probe says of the SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// The percentile's whole interval is within the SLO.
    Meets,
    /// The whole interval is above it, or the open loop fell behind.
    Misses,
    /// The interval straddles the threshold: a longer probe is needed.
    Undecided,
}

/// One probe of the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Offered rate, ops/s.
    pub rate: f64,
    /// Achieved rate, ops/s.
    pub achieved: f64,
    /// The SLO's percentile of intended latency with its interval, ns.
    pub percentile: Estimate,
    /// Whether the open loop fell behind its schedule.
    pub saturated: bool,
    /// Measured duration.
    pub duration: Duration,
    /// The verdict.
    pub verdict: ProbeVerdict,
    /// Decided by the point estimate after the longest probe (the interval
    /// still straddled the threshold).
    pub marginal: bool,
}

/// The verdict of a probe whose percentile is `p` (an interval, ns).
pub fn judge(slo: &Slo, p: Estimate, saturated: bool) -> ProbeVerdict {
    let t = slo.threshold_ns as f64;
    if saturated || p.low > t {
        ProbeVerdict::Misses
    } else if p.high <= t {
        ProbeVerdict::Meets
    } else {
        ProbeVerdict::Undecided
    }
}

/// What the search is asked.
#[derive(Clone, Debug)]
pub struct SearchSpec {
    /// The SLO.
    pub slo: Slo,
    /// Lowest rate probed: it must meet the SLO.
    pub min_rate: f64,
    /// Highest rate probed: it should miss the SLO.
    pub max_rate: f64,
    /// Bracket width to stop at: `high / low - 1` (0.05 for 5%).
    pub tolerance: f64,
    /// First duration of a probe.
    pub probe: Duration,
    /// Longest duration an undecided probe is extended to.
    pub max_probe: Duration,
    /// Times the capacity found is re-probed (and the search resumed below
    /// it when it now misses).
    pub confirmations: usize,
}

/// The capacity found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Capacity {
    /// The highest rate that met the SLO (`low`), below the lowest that
    /// missed it (`high`).
    Found {
        /// Highest rate that met the SLO, ops/s: the capacity.
        low: f64,
        /// Lowest rate that missed it, ops/s.
        high: f64,
    },
    /// Even the lowest rate probed missed the SLO.
    Unattainable {
        /// That rate, ops/s.
        lowest: f64,
    },
    /// Even the highest rate probed met the SLO.
    AtLeast {
        /// That rate, ops/s.
        highest: f64,
    },
}

/// Everything the search did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    /// The answer.
    pub capacity: Capacity,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
    /// (lower rate that missed, higher rate that met) pairs seen: latency
    /// was not monotone in the rate.
    pub non_monotone: Vec<(f64, f64)>,
}

/// Runs the search (module docs). `probe(rate, duration)` measures one
/// probe; it is called again with a doubled duration while undecided.
pub fn search(
    spec: &SearchSpec,
    mut probe: impl FnMut(f64, Duration) -> Result<Probe, RunError>,
) -> Result<SearchOutcome, RunError> {
    let mut probes = Vec::new();
    let mut decided = |rate: f64, probes: &mut Vec<Probe>| -> Result<bool, RunError> {
        let mut d = spec.probe;
        loop {
            let mut p = probe(rate, d)?;
            let last = d >= spec.max_probe;
            if p.verdict == ProbeVerdict::Undecided && last {
                p.marginal = true;
                p.verdict = if p.percentile.value <= spec.slo.threshold_ns as f64 {
                    ProbeVerdict::Meets
                } else {
                    ProbeVerdict::Misses
                };
            }
            let verdict = p.verdict;
            probes.push(p);
            match verdict {
                ProbeVerdict::Meets => return Ok(true),
                ProbeVerdict::Misses => return Ok(false),
                ProbeVerdict::Undecided => d = (d * 2).min(spec.max_probe),
            }
        }
    };
    let outcome = |capacity, probes, non_monotone| SearchOutcome {
        capacity,
        probes,
        non_monotone,
    };
    if !decided(spec.min_rate, &mut probes)? {
        let lowest = spec.min_rate;
        return Ok(outcome(
            Capacity::Unattainable { lowest },
            probes,
            Vec::new(),
        ));
    }
    if decided(spec.max_rate, &mut probes)? {
        let highest = spec.max_rate;
        return Ok(outcome(Capacity::AtLeast { highest }, probes, Vec::new()));
    }
    let (mut low, mut high) = (spec.min_rate, spec.max_rate);
    let mut non_monotone = Vec::new();
    let mut confirmations = spec.confirmations;
    loop {
        while high / low - 1.0 > spec.tolerance {
            let mid = (low * high).sqrt();
            if decided(mid, &mut probes)? {
                low = mid;
            } else {
                high = mid;
            }
        }
        if confirmations == 0 || low <= spec.min_rate {
            break;
        }
        confirmations -= 1;
        if decided(low, &mut probes)? {
            break;
        }
        // `low` met the SLO before and misses it now: search below it.
        non_monotone.push((low, low));
        high = low;
        low = probes
            .iter()
            .filter(|p| p.rate < high && p.verdict == ProbeVerdict::Meets)
            .map(|p| p.rate)
            .fold(spec.min_rate, f64::max);
        if probes
            .iter()
            .any(|p| p.rate < low && p.verdict == ProbeVerdict::Misses)
        {
            non_monotone.push((low, high));
        }
    }
    Ok(outcome(Capacity::Found { low, high }, probes, non_monotone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SearchSpec {
        SearchSpec {
            slo: "p99=1ms".parse().unwrap(),
            min_rate: 100.0,
            max_rate: 100_000.0,
            tolerance: 0.05,
            probe: Duration::from_millis(500),
            max_probe: Duration::from_secs(4),
            confirmations: 1,
        }
    }

    /// A probe of an engine whose p99 is 500 us up to `knee` ops/s and
    /// 10 ms above; `width` is the rank interval's half-width, which
    /// shrinks as the probe gets longer (`n` grows).
    fn probe_of(
        knee: f64,
        width: impl Fn(Duration) -> f64,
    ) -> impl FnMut(f64, Duration) -> Result<Probe, RunError> {
        move |rate, d| {
            let v = if rate <= knee {
                500_000.0
            } else {
                10_000_000.0
            };
            let w = width(d);
            let p = Estimate {
                value: v,
                low: v - w,
                high: v + w,
            };
            Ok(Probe {
                rate,
                achieved: rate,
                percentile: p,
                saturated: false,
                duration: d,
                verdict: judge(&"p99=1ms".parse().unwrap(), p, false),
                marginal: false,
            })
        }
    }

    #[test]
    fn bisection_brackets_the_knee_within_the_tolerance() {
        let out = search(&spec(), probe_of(5_000.0, |_| 100_000.0)).unwrap();
        let Capacity::Found { low, high } = out.capacity else {
            panic!("{out:?}")
        };
        assert!(low <= 5_000.0 && high > 5_000.0, "{low} {high}");
        assert!(high / low - 1.0 <= 0.05);
        assert!(out.non_monotone.is_empty());
        // Geometric bisection over 3 decades to 5%: about 8 probes, plus
        // both ends and the confirmation.
        assert!(out.probes.len() <= 12, "{}", out.probes.len());
    }

    #[test]
    fn an_undecided_probe_runs_longer_until_its_interval_is_clear() {
        // Intervals of +-2 ms at 500 ms, halving with each doubling.
        let width = |d: Duration| 2_000_000.0 * 0.5 / d.as_secs_f64();
        let out = search(&spec(), probe_of(5_000.0, width)).unwrap();
        let first = &out.probes[0];
        assert_eq!(
            (first.verdict, first.duration),
            (ProbeVerdict::Undecided, Duration::from_millis(500))
        );
        assert!(
            out.probes
                .iter()
                .any(|p| p.duration == Duration::from_secs(2) && p.verdict == ProbeVerdict::Meets)
        );
        assert!(matches!(out.capacity, Capacity::Found { .. }));
    }

    #[test]
    fn unattainable_and_above_the_range_are_said_as_such() {
        let out = search(&spec(), probe_of(10.0, |_| 1_000.0)).unwrap();
        assert_eq!(out.capacity, Capacity::Unattainable { lowest: 100.0 });
        let out = search(&spec(), probe_of(1e9, |_| 1_000.0)).unwrap();
        assert_eq!(out.capacity, Capacity::AtLeast { highest: 100_000.0 });
    }

    #[test]
    fn a_capacity_that_fails_its_confirmation_is_reported_and_searched_below() {
        // The knee moves down from 5k to 3k after the first 10 probes (a
        // neighbour arrived): the confirmation probe misses.
        let mut n = 0;
        let mut inner = probe_of(5_000.0, |_| 100_000.0);
        let mut lower = probe_of(3_000.0, |_| 100_000.0);
        let spec = SearchSpec {
            confirmations: 3,
            ..spec()
        };
        let out = search(&spec, |rate, d| {
            n += 1;
            if n <= 10 {
                inner(rate, d)
            } else {
                lower(rate, d)
            }
        })
        .unwrap();
        let Capacity::Found { low, .. } = out.capacity else {
            panic!()
        };
        assert!(low <= 3_000.0, "{low}");
        assert!(!out.non_monotone.is_empty());
    }

    #[test]
    fn slos_parse_and_reject_what_they_cannot_mean() {
        let s: Slo = "p99.9=500us".parse().unwrap();
        assert_eq!((s.quantile, s.threshold_ns), (0.999, 500_000));
        assert_eq!(s.to_string(), "p99.9=500us");
        for bad in ["p99", "p99=1", "p98=1ms", "99=1ms", "p99=0ms", "p99=fast"] {
            assert!(bad.parse::<Slo>().is_err(), "{bad}");
        }
    }
}

/// What `socialbench capacity` is asked.
#[derive(Clone, Debug)]
pub struct CapacitySpec {
    /// The engine, workload and loop settings of every probe (the search
    /// sets the mode, the duration and the outputs).
    pub base: crate::config::RunConfig,
    /// The SLO.
    pub slo: Slo,
    /// Bracket width to stop at.
    pub tolerance: f64,
    /// First duration of a probe.
    pub probe: Duration,
    /// Longest duration an undecided probe is extended to.
    pub max_probe: Duration,
    /// The search's folder.
    pub out_dir: std::path::PathBuf,
}

/// A row of `probes.csv`.
#[derive(Clone, Debug, Serialize)]
struct ProbeRow {
    probe: usize,
    rate: f64,
    achieved: f64,
    duration_ns: u64,
    percentile_ns: f64,
    percentile_low_ns: f64,
    percentile_high_ns: f64,
    saturated: bool,
    verdict: ProbeVerdict,
    marginal: bool,
    run_dir: String,
    schema: u32,
}

/// Finds the capacity of `spec.base`'s engine under `spec.slo` (module
/// docs): a closed-loop run for the bracket's top, then the search, each
/// probe's run kept under `out_dir/probes/`; writes `capacity.json` and
/// `probes.csv` and prints the answer.
pub fn find_capacity(spec: &CapacitySpec) -> Result<SearchOutcome, RunError> {
    find_capacity_with(spec, crate::run::run_with_workload)
}

/// [`find_capacity`] with each probe run by `runner` (a test runs a fake
/// engine through [`crate::run::run_with_engine`]).
pub fn find_capacity_with(
    spec: &CapacitySpec,
    mut runner: impl FnMut(
        &crate::config::RunConfig,
        &socialbench_workload::Workload,
    ) -> Result<crate::summary::RunSummary, RunError>,
) -> Result<SearchOutcome, RunError> {
    use crate::config::{Limit, LoopMode, RunError as E};
    let dir = &spec.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| E::NotWritable {
        path: dir.clone(),
        source,
    })?;
    let workload = crate::run::build_workload(&spec.base)?;
    let quantile = spec.slo.quantile;
    let index = crate::recorder::QUANTILES
        .iter()
        .position(|q| *q == quantile)
        .ok_or_else(|| E::BadInput(format!("SLO {}: unsupported percentile", spec.slo)))?;
    let mut n = 0usize;
    let mut run = |mode: LoopMode, d: Duration, name: String| {
        let mut c = spec.base.clone();
        c.mode = mode;
        c.limit = Limit::Duration(d);
        c.out_root = Some(dir.join("probes"));
        c.run_id = Some(name);
        c.link_latest = false;
        c.print_table = false;
        runner(&c, &workload)
    };
    let inflight = crate::config::defaults::INFLIGHT;
    let closed = run(LoopMode::Closed { inflight }, spec.probe, "closed".into())?;
    let top = closed.ops_per_sec.max(1.0);
    let (max_outstanding, arrivals) = match spec.base.mode {
        LoopMode::Open {
            max_outstanding,
            arrivals,
            ..
        } => (max_outstanding, arrivals),
        LoopMode::Closed { .. } => (crate::config::defaults::MAX_OUTSTANDING, Default::default()),
    };
    let mut rows = Vec::new();
    let search_spec = SearchSpec {
        slo: spec.slo,
        min_rate: (top / 100.0).max(1.0),
        // Above the closed loop's figure: a run's own noise can put it a
        // little under what the open loop sustains.
        max_rate: top * 1.25,
        tolerance: spec.tolerance,
        probe: spec.probe,
        max_probe: spec.max_probe,
        confirmations: 3,
    };
    let outcome = search(&search_spec, |rate, d| {
        n += 1;
        let name = format!("probe-{n:02}-r{}", rate.round());
        let mode = LoopMode::Open {
            rate,
            max_outstanding,
            arrivals,
        };
        let s = run(mode, d, name.clone())?;
        let lat = s.all().map(|k| k.intended).unwrap_or_default();
        let percentile = Estimate {
            value: lat.percentiles()[index] as f64,
            low: lat.low_ns[index] as f64,
            high: lat.high_ns[index] as f64,
        };
        let saturated =
            s.stopped_by == crate::client::StopReason::Saturated || s.ops_per_sec < rate * 0.9;
        let p = Probe {
            rate,
            achieved: s.ops_per_sec,
            percentile,
            saturated,
            duration: d,
            verdict: judge(&spec.slo, percentile, saturated),
            marginal: false,
        };
        if spec.base.progress != crate::config::ProgressMode::Quiet {
            eprintln!(
                "[capacity] probe {n}: {} ops/s for {:?}: {} {} [{}, {}] -> {:?}",
                crate::units::human_rate(rate),
                d,
                spec.slo,
                crate::units::human_ns(percentile.value as u64),
                crate::units::human_ns(percentile.low as u64),
                crate::units::human_ns(percentile.high as u64),
                p.verdict
            );
        }
        rows.push(ProbeRow {
            probe: n,
            rate,
            achieved: s.ops_per_sec,
            duration_ns: d.as_nanos() as u64,
            percentile_ns: percentile.value,
            percentile_low_ns: percentile.low,
            percentile_high_ns: percentile.high,
            saturated,
            verdict: p.verdict,
            marginal: false,
            run_dir: format!("probes/{name}"),
            schema: crate::schema::SCHEMA_VERSION,
        });
        Ok(p)
    })?;
    write_outcome(spec, &outcome, &rows, top)?;
    Ok(outcome)
}

fn write_outcome(
    spec: &CapacitySpec,
    outcome: &SearchOutcome,
    rows: &[ProbeRow],
    closed_loop: f64,
) -> Result<(), RunError> {
    let path = spec.out_dir.join("probes.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| RunError::output(&path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| RunError::output(&path, e))?;
    }
    w.flush().map_err(|e| RunError::output(&path, e))?;
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: u32,
        engine: &'static str,
        slo: String,
        tolerance: f64,
        closed_loop_ops_per_sec: f64,
        outcome: &'a SearchOutcome,
        config: &'a crate::config::RunConfig,
        machine: crate::machine::MachineInfo,
    }
    let doc = Doc {
        schema: crate::schema::SCHEMA_VERSION,
        engine: spec.base.engine.name(),
        slo: spec.slo.to_string(),
        tolerance: spec.tolerance,
        closed_loop_ops_per_sec: closed_loop,
        outcome,
        config: &spec.base,
        machine: crate::machine::MachineInfo::probe(),
    };
    let path = spec.out_dir.join("capacity.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| RunError::output(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| RunError::output(&path, e))?;
    if spec.base.print_table {
        out!("{}", render(spec, outcome, closed_loop));
    }
    Ok(())
}

/// The answer as text.
pub fn render(spec: &CapacitySpec, outcome: &SearchOutcome, closed_loop: f64) -> String {
    use crate::units::human_rate;
    let engine = spec.base.engine.name();
    let mut o = match &outcome.capacity {
        Capacity::Found { low, high } => format!(
            "capacity of {engine} under {}: {} ops/s (met at {}, missed at {}; closed loop {} ops/s)\n",
            spec.slo,
            human_rate(*low),
            human_rate(*low),
            human_rate(*high),
            human_rate(closed_loop)
        ),
        Capacity::Unattainable { lowest } => format!(
            "capacity of {engine} under {}: unattainable (missed even at {} ops/s, 1% of the closed loop's {})\n",
            spec.slo,
            human_rate(*lowest),
            human_rate(closed_loop)
        ),
        Capacity::AtLeast { highest } => format!(
            "capacity of {engine} under {}: at least {} ops/s (the closed loop's throughput met it)\n",
            spec.slo,
            human_rate(*highest)
        ),
    };
    let marginal = outcome.probes.iter().filter(|p| p.marginal).count();
    o.push_str(&format!(
        "{} probes ({marginal} decided by their point estimate after {:?}); ",
        outcome.probes.len(),
        spec.max_probe
    ));
    if outcome.non_monotone.is_empty() {
        o.push_str("latency was monotone in the rate\n");
    } else {
        o.push_str(&format!(
            "not monotone: re-probed {} time(s), see probes.csv\n",
            outcome.non_monotone.len()
        ));
    }
    o.push_str(&format!("results: {}\n", spec.out_dir.display()));
    o
}
