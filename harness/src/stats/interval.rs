//! Intervals of a location from repeated measurements: the mean's
//! t-interval, and the median's distribution-free interval from order
//! statistics.

use serde::{Deserialize, Serialize};

use super::dist::{binomial_cdf, t_quantile};

/// The confidence level of every interval socialbench reports.
pub const LEVEL: f64 = 0.95;

/// A figure with a two-sided interval around it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

impl Estimate {
    /// An estimate without spread (a single measurement): low = high = value.
    pub fn exact(value: f64) -> Estimate {
        Estimate {
            value,
            low: value,
            high: value,
        }
    }

    /// Half the interval's width relative to the value (0.05 for +-5%).
    pub fn relative_half_width(&self) -> f64 {
        if self.value == 0.0 {
            return f64::INFINITY;
        }
        (self.high - self.low) / 2.0 / self.value.abs()
    }

    /// `value [low, high]` with `fmt` applied to each number.
    pub fn show(&self, fmt: impl Fn(f64) -> String) -> String {
        format!(
            "{} [{}, {}]",
            fmt(self.value),
            fmt(self.low),
            fmt(self.high)
        )
    }
}

/// The mean of `xs` with its t-interval at [`LEVEL`]: `mean +- t(n-1) x
/// sd / sqrt(n)`. `None` for fewer than 2 values.
pub fn mean_interval(xs: &[f64]) -> Option<Estimate> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_quantile(0.5 + LEVEL / 2.0, n as u64 - 1) * (var / n as f64).sqrt();
    Some(Estimate {
        value: mean,
        low: mean - half,
        high: mean + half,
    })
}

/// The median of `xs` with a distribution-free interval from order
/// statistics: `[x(k), x(n+1-k)]` for the largest `k` whose coverage
/// `1 - 2 P(B < k)`, `B ~ Binomial(n, 1/2)`, is at least [`LEVEL`], or
/// `[min, max]` when even that falls short (fewer than 6 values). Returns
/// the estimate and the interval's actual coverage. `None` when empty.
pub fn median_interval(xs: &[f64]) -> Option<(Estimate, f64)> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let coverage = |k: usize| 1.0 - 2.0 * binomial_cdf(k as u64 - 1, n as u64, 0.5);
    let mut k = 1;
    while k < n.div_ceil(2) && coverage(k + 1) >= LEVEL {
        k += 1;
    }
    let est = Estimate {
        value: median,
        low: v[k - 1],
        high: v[n - k],
    };
    Some((est, if n == 1 { 0.0 } else { coverage(k) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_interval_matches_a_hand_computed_one() {
        // mean 3, sd sqrt(2.5), n 5: half = 2.776 x 0.7071 = 1.963.
        let e = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!((e.value - 3.0).abs() < 1e-12);
        assert!((e.high - 3.0 - 1.963).abs() < 2e-3, "{e:?}");
        assert!(mean_interval(&[1.0]).is_none());
    }

    #[test]
    fn the_median_interval_takes_the_ranks_with_enough_coverage() {
        // n = 8: ranks (1, 8) cover 99.2%, ranks (2, 7) only 93%.
        let xs: Vec<f64> = (1..=8).map(f64::from).collect();
        let (e, cov) = median_interval(&xs).unwrap();
        assert_eq!((e.value, e.low, e.high), (4.5, 1.0, 8.0));
        assert!((cov - (1.0 - 2.0 / 256.0)).abs() < 1e-12);
        // n = 20: ranks (6, 15) cover 95.9%.
        let xs: Vec<f64> = (1..=20).map(f64::from).collect();
        let (e, cov) = median_interval(&xs).unwrap();
        assert_eq!((e.low, e.high), (6.0, 15.0));
        assert!((LEVEL..0.97).contains(&cov), "{cov}");
        // n = 3: the widest interval falls short, and says so.
        let (e, cov) = median_interval(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((e.value, e.low, e.high), (2.0, 1.0, 3.0));
        assert!(cov < LEVEL);
    }
}
