//! Statistics of an HdrHistogram: the interval of a percentile from ranks,
//! and the Kolmogorov-Smirnov distance of its values from an exponential.
//!
//! Percentile intervals: for `n` values the rank of the `q`-quantile is
//! `Binomial(n, q)`-distributed around `n q`, so ranks `n q +- 1.96 sqrt(n q
//! (1 - q))` bound it at 95% (normal approximation; clamped to `1..=n`, so
//! a tail percentile of few values reaches the maximum). The values at
//! those ranks, widened to their buckets' edges (the histogram keeps 3
//! significant digits), are the interval. It is a within-run interval: the
//! values of one run are not independent draws of the engine's behaviour
//! across runs, and run-to-run spread is far larger on a shared machine.

use hdrhistogram::Histogram;

use super::interval::Estimate;

/// The `q`-quantile (`0 < q < 1`) of `h` with its rank interval (module
/// docs); `None` when `h` is empty.
pub fn percentile_interval(h: &Histogram<u64>, q: f64) -> Option<Estimate> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let half = 1.96 * (nf * q * (1.0 - q)).sqrt();
    let lo_rank = ((nf * q - half).floor() as u64).clamp(1, n);
    let hi_rank = ((nf * q + half).ceil() as u64).clamp(1, n);
    let value = h.value_at_quantile(q);
    Some(Estimate {
        value: value as f64,
        low: h.lowest_equivalent(value_at_rank(h, lo_rank).min(value)) as f64,
        high: h.highest_equivalent(value_at_rank(h, hi_rank).max(value)) as f64,
    })
}

/// The value of rank `rank` (1-based) in `h`'s sorted values.
fn value_at_rank(h: &Histogram<u64>, rank: u64) -> u64 {
    let mut seen = 0;
    for v in h.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            return v.value_iterated_to();
        }
    }
    h.max()
}

/// The Kolmogorov-Smirnov distance between the values of `h` and the
/// exponential distribution with mean `mean` (`sup |F_h - F_exp|`, each
/// bucket compared at both its edges, so the figure is exact up to the
/// histogram's resolution). `None` when `h` is empty or `mean` is not
/// positive.
pub fn ks_exponential(h: &Histogram<u64>, mean: f64) -> Option<f64> {
    let n = h.len();
    if n == 0 || mean <= 0.0 {
        return None;
    }
    let cdf = |x: f64| 1.0 - (-x / mean).exp();
    let mut below = 0u64;
    let mut d = 0.0f64;
    for v in h.iter_recorded() {
        let value = v.value_iterated_to();
        let lo = h.lowest_equivalent(value) as f64;
        let hi = h.highest_equivalent(value) as f64 + 1.0;
        d = d.max((below as f64 / n as f64 - cdf(lo)).abs());
        below += v.count_at_value();
        d = d.max((below as f64 / n as f64 - cdf(hi)).abs());
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    fn histogram(values: impl Iterator<Item = u64>) -> Histogram<u64> {
        // The recorder's bounds (1 ns .. 1 h, 3 significant digits).
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in values {
            h.saturating_record(v.max(1));
        }
        h
    }

    #[test]
    fn a_percentile_interval_brackets_the_percentile_and_narrows_with_more_values() {
        let small = histogram((1..=1000).map(|v| v * 1000));
        let e = percentile_interval(&small, 0.99).unwrap();
        assert!(e.low <= e.value && e.value <= e.high, "{e:?}");
        assert!(e.low < 990_000.0 && e.high > 990_000.0, "{e:?}");
        let big = histogram((1..=100_000).map(|v| v * 10));
        let f = percentile_interval(&big, 0.99).unwrap();
        assert!(
            f.relative_half_width() < e.relative_half_width(),
            "{e:?} {f:?}"
        );
        assert!(percentile_interval(&histogram(std::iter::empty()), 0.5).is_none());
    }

    #[test]
    fn the_ks_distance_is_small_for_exponential_values_and_large_otherwise() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mean = 50_000.0;
        let exp = histogram((0..50_000).map(|_| {
            let u: f64 = rng.random();
            (-(1.0 - u).ln() * mean) as u64
        }));
        let d = ks_exponential(&exp, mean).unwrap();
        assert!(d < 0.02, "{d}");
        // Evenly spaced gaps (a fixed-rate schedule) are far from exponential.
        let fixed = histogram(std::iter::repeat_n(50_000, 10_000));
        assert!(ks_exponential(&fixed, mean).unwrap() > 0.3);
    }
}
