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
    let verdict = if d.len() < MIN_PASSES {
        Verdict::TooFewPasses
    } else if ratio.low > 1.0 {
        if higher_is_better {
            Verdict::Faster
        } else {
            Verdict::Slower
        }
    } else if ratio.high < 1.0 {
        if higher_is_better {
            Verdict::Slower
        } else {
            Verdict::Faster
        }
    } else {
        Verdict::Indistinguishable
    };
    Some(Paired {
        passes: d.len(),
        ratio,
        verdict,
    })
}
