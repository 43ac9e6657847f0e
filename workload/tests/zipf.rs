//! Alias-table Zipf sampling against the exact Zipf probabilities.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_workload::AliasTable;
use socialbench_workload::zipf::zipf_probabilities;

/// Pearson's chi-square of `counts` against `probs` over bins of consecutive
/// ranks, each holding an expected count of at least 50 (so the chi-square
/// approximation holds for the long, thin tail of a million ranks).
/// Returns (statistic, degrees of freedom).
fn chi_square(counts: &[u64], probs: &[f64], samples: u64) -> (f64, usize) {
    let mut stat = 0.0;
    let mut bins = 0;
    let (mut obs, mut exp) = (0.0, 0.0);
    for (c, p) in counts.iter().zip(probs) {
        obs += *c as f64;
        exp += p * samples as f64;
        if exp >= 50.0 {
            stat += (obs - exp) * (obs - exp) / exp;
            bins += 1;
            (obs, exp) = (0.0, 0.0);
        }
    }
    if exp > 0.0 {
        stat += (obs - exp) * (obs - exp) / exp;
        bins += 1;
    }
    (stat, bins - 1)
}

#[test]
fn alias_zipf_matches_exact_probabilities() {
    // 1M samples per small table, 2M for the million-rank one (built once per
    // exponent). Threshold: df + 6 sqrt(2 df), a false alarm below 1e-7 for
    // the chi-square's normal approximation; seeds are fixed anyway.
    for &n in &[10u32, 1000, 1_000_000] {
        for &s in &[0.8, 1.0, 1.2] {
            let table = AliasTable::zipf(n, s).unwrap();
            let probs = zipf_probabilities(n, s);
            let samples: u64 = if n >= 1_000_000 { 2_000_000 } else { 1_000_000 };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64 ^ s.to_bits());
            let mut counts = vec![0u64; n as usize];
            for _ in 0..samples {
                counts[table.sample(&mut rng) as usize] += 1;
            }
            let (stat, df) = chi_square(&counts, &probs, samples);
            let limit = df as f64 + 6.0 * (2.0 * df as f64).sqrt();
            assert!(
                stat < limit,
                "n={n} s={s}: chi2={stat:.1} df={df} limit={limit:.1}"
            );
            // And the head, exactly where skew matters: rank 0 within 5 sigma.
            let p0 = probs[0];
            let sd = (p0 * (1.0 - p0) / samples as f64).sqrt();
            let got = counts[0] as f64 / samples as f64;
            assert!((got - p0).abs() < 5.0 * sd, "n={n} s={s}: p0 {got} vs {p0}");
        }
    }
}

#[test]
fn a_wrong_exponent_is_detected() {
    // The test above must be able to fail: samples of s = 1.0 judged against
    // s = 1.05 are rejected.
    let n = 1000;
    let table = AliasTable::zipf(n, 1.0).unwrap();
    let probs = zipf_probabilities(n, 1.05);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let mut counts = vec![0u64; n as usize];
    for _ in 0..1_000_000 {
        counts[table.sample(&mut rng) as usize] += 1;
    }
    let (stat, df) = chi_square(&counts, &probs, 1_000_000);
    assert!(
        stat > df as f64 + 6.0 * (2.0 * df as f64).sqrt(),
        "chi2={stat} df={df}"
    );
}

#[test]
fn zipf_probabilities_sum_to_one_and_decrease() {
    let p = zipf_probabilities(1000, 1.0);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(p.windows(2).all(|w| w[0] > w[1]));
    let u = zipf_probabilities(4, 0.0);
    assert!(u.iter().all(|x| (x - 0.25).abs() < 1e-15));
}
