//! Verdicts from paired, interleaved repetitions.
//!
//! Variants run in interleaved passes (A B C, A B C, ...), so that the
//! machine's slow spells fall on every variant of a pass alike. For each
//! pass `i` the log-ratio `d_i = ln(x_i / b_i)` of a variant to the baseline
//! of the same pass cancels what the pass shared; the mean of the `d_i` with
//! its t-interval (`n - 1` degrees of freedom), exponentiated, is the
//! geometric-mean ratio and its 95% interval. A verdict needs at least
//! [`MIN_PASSES`] passes.

use serde::{Deserialize, Serialize};

use super::interval::{Estimate, mean_interval};

/// Fewest passes for a verdict.
pub const MIN_PASSES: usize = 6;

/// What the paired comparison says of a variant against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better than the baseline: the whole interval is on the better side.
    Faster,
    /// Worse than the baseline: the whole interval is on the worse side.
    Slower,
    /// The interval contains 1: no difference this many passes can show.
    Indistinguishable,
    /// Fewer than [`MIN_PASSES`] pairs: no verdict.
    TooFewPasses,
}

impl Verdict {
    /// The word printed in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::Indistinguishable => "indistinguishable",
            Verdict::TooFewPasses => "too few passes",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A variant's paired ratio to the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Passes with both figures.
    pub passes: usize,
    /// Geometric mean of the per-pass ratios, with its 95% interval.
    pub ratio: Estimate,
    /// The verdict.
    pub verdict: Verdict,
}

/// The paired ratio of `xs` to `base` (pass `i` of each paired), skipping
/// passes where either is missing, zero or not finite. `higher_is_better`:
/// throughput (a ratio above 1 is faster) rather than latency (below 1 is
/// faster). `None` with fewer than 2 usable pairs.
pub fn paired_ratio(
    xs: &[Option<f64>],
    base: &[Option<f64>],
    higher_is_better: bool,
) -> Option<Paired> {
    let d: Vec<f64> = xs
        .iter()
        .zip(base)
        .filter_map(|(x, b)| match (x, b) {
            (Some(x), Some(b)) if *x > 0.0 && *b > 0.0 && x.is_finite() && b.is_finite() => {
                Some((x / b).ln())
            }
            _ => None,
        })
        .collect();
    let m = mean_interval(&d)?;
    let ratio = Estimate {
        value: m.value.exp(),
        low: m.low.exp(),
        high: m.high.exp(),
    };
    let verdict = verdict_of(ratio, d.len() >= MIN_PASSES, higher_is_better);
    Some(Paired {
        passes: d.len(),
        ratio,
        verdict,
    })
}

/// The ratio of `b`'s geometric mean to `a`'s from independent samples
/// (two builds measured at different times: nothing to pair): a Welch
/// t-interval on the log values (Welch-Satterthwaite degrees of freedom).
/// A verdict needs at least 3 values on each side. `None` without 2 usable
/// values on each side.
pub fn unpaired_ratio(a: &[f64], b: &[f64], higher_is_better: bool) -> Option<Paired> {
    let logs = |xs: &[f64]| -> Vec<f64> {
        xs.iter()
            .filter(|x| **x > 0.0 && x.is_finite())
            .map(|x| x.ln())
            .collect()
    };
    let (la, lb) = (logs(a), logs(b));
    let (na, nb) = (la.len() as f64, lb.len() as f64);
    if la.len() < 2 || lb.len() < 2 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var =
        |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    let (ma, mb) = (mean(&la), mean(&lb));
    let (va, vb) = (var(&la, ma) / na, var(&lb, mb) / nb);
    let se = (va + vb).sqrt();
    let df = if se > 0.0 {
        ((va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0))).floor() as u64
    } else {
        1
    };
    let half = super::dist::t_quantile(0.975, df.max(1)) * se;
    let d = mb - ma;
    let ratio = Estimate {
        value: d.exp(),
        low: (d - half).exp(),
        high: (d + half).exp(),
    };
    let enough = la.len() >= 3 && lb.len() >= 3;
    Some(Paired {
        passes: la.len().min(lb.len()),
        ratio,
        verdict: verdict_of(ratio, enough, higher_is_better),
    })
}

/// The ratio `b / a` of two single figures with within-run intervals
/// (treated as independent, normal on the log scale: the delta method).
/// Said to be within-run only: it ignores run-to-run spread.
pub fn interval_ratio(a: Estimate, b: Estimate, higher_is_better: bool) -> Option<Paired> {
    if !(a.value > 0.0 && b.value > 0.0) {
        return None;
    }
    let se = |e: Estimate| {
        (e.high.max(e.value) / e.low.max(f64::MIN_POSITIVE).min(e.value)).ln() / (2.0 * 1.96)
    };
    let s = (se(a).powi(2) + se(b).powi(2)).sqrt();
    let d = (b.value / a.value).ln();
    let ratio = Estimate {
        value: d.exp(),
        low: (d - 1.96 * s).exp(),
        high: (d + 1.96 * s).exp(),
    };
    Some(Paired {
        passes: 1,
        ratio,
        verdict: verdict_of(ratio, true, higher_is_better),
    })
}

/// The verdict of a ratio's interval (see [`Verdict`]).
fn verdict_of(ratio: Estimate, enough: bool, higher_is_better: bool) -> Verdict {
    let (better, worse) = if higher_is_better {
        (Verdict::Faster, Verdict::Slower)
    } else {
        (Verdict::Slower, Verdict::Faster)
    };
    if !enough {
        Verdict::TooFewPasses
    } else if ratio.low > 1.0 {
        better
    } else if ratio.high < 1.0 {
        worse
    } else {
        Verdict::Indistinguishable
    }
}
