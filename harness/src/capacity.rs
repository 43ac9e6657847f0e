//! Capacity under a latency SLO: the highest offered rate at which an
//! engine still meets, say, `p99 <= 1 ms` (Mutilate's `--search`, with
//! MLPerf LoadGen's server-scenario idea of a probe long enough for the
//! percentile to be decided).
//!
//! # Search
//! A closed-loop run first measures the engine's throughput `C`; the open
//! loop is then probed between `C / 100` and `C`: the low end must meet the
//! SLO (else the SLO is *unattainable*), the high end must miss it (else
//! the capacity is *at least* `C`). Bisection on the rate (geometric, as
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
