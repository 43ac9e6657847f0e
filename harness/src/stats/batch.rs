//! Throughput within one run, from batch means: the measured window is cut
//! into batches (the recording intervals), each batch's throughput is one
//! observation, and their mean gets a t-interval (`B - 1` degrees of
//! freedom). Batches a few hundred milliseconds long or more are close to
//! independent for this harness's loops; the interval still describes this
//! run only, not the run-to-run spread (which is why verdicts use passes).
//!
//! Stationarity: a least-squares line through the batches' throughput
//! against time; a run is flagged non-stationary when the line's slope is
//! significant at 95% *and* the fitted change over the window exceeds 10%
//! of the mean (a warming cache, a neighbour arriving, a growing queue).

use serde::{Deserialize, Serialize};

use super::dist::t_quantile;
use super::interval::{Estimate, LEVEL, mean_interval};

/// Fewest batches for a throughput interval to be reported as such.
pub const MIN_BATCHES: usize = 10;

/// Largest fitted change over the window (relative to the mean) a run may
/// show and still count as stationary.
pub const MAX_TREND: f64 = 0.10;

/// A run's throughput from its batches.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchMeans {
    /// Batches used.
    pub batches: usize,
    /// Mean batch throughput (ops/s) with its 95% interval.
    pub throughput: Estimate,
    /// The fitted change over the window, relative to the mean (`-0.12`:
    /// 12% lower at the end than at the start), with its 95% interval.
    pub trend: Estimate,
    /// No significant trend larger than [`MAX_TREND`].
    pub stationary: bool,
}

/// Batch means of `rates` (ops/s per batch, in time order). `None` with
/// fewer than 3 batches (no trend can be fitted).
pub fn batch_means(rates: &[f64]) -> Option<BatchMeans> {
    let b = rates.len();
    if b < 3 {
        return None;
    }
    let throughput = mean_interval(rates)?;
    let mean = throughput.value;
    let xbar = (b - 1) as f64 / 2.0;
    let sxx: f64 = (0..b).map(|i| (i as f64 - xbar).powi(2)).sum();
    let slope = (0..b)
        .map(|i| (i as f64 - xbar) * (rates[i] - mean))
        .sum::<f64>()
        / sxx;
    let sse: f64 = (0..b)
        .map(|i| (rates[i] - (mean + slope * (i as f64 - xbar))).powi(2))
        .sum();
    let se = (sse / (b - 2) as f64 / sxx).sqrt();
    let half = t_quantile(0.5 + LEVEL / 2.0, b as u64 - 2) * se;
    let scale = if mean != 0.0 {
        (b - 1) as f64 / mean
    } else {
        0.0
    };
    let trend = Estimate {
        value: slope * scale,
        low: (slope - half) * scale,
        high: (slope + half) * scale,
    };
    let significant = trend.low > 0.0 || trend.high < 0.0;
    Some(BatchMeans {
        batches: b,
        throughput,
        trend,
        stationary: !(significant && trend.value.abs() > MAX_TREND),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_noisy_run_is_stationary_and_a_ramp_is_not() {
        let flat = [
            100.0, 103.0, 98.0, 101.0, 99.0, 102.0, 97.0, 100.0, 101.0, 99.0,
        ];
        let m = batch_means(&flat).unwrap();
        assert!(m.stationary, "{m:?}");
        assert!(m.throughput.low < 100.0 && m.throughput.high > 100.0);
        let ramp: Vec<f64> = (0..10)
            .map(|i| 100.0 - 3.0 * i as f64 + (i % 2) as f64)
            .collect();
        let m = batch_means(&ramp).unwrap();
        assert!(!m.stationary, "{m:?}");
        assert!(m.trend.value < -0.2 && m.trend.high < 0.0, "{m:?}");
        // A small but significant drift stays within the tolerance.
        let drift: Vec<f64> = (0..10).map(|i| 100.0 - 0.5 * i as f64).collect();
        assert!(batch_means(&drift).unwrap().stationary);
        assert!(batch_means(&[1.0, 2.0]).is_none());
    }
}
