//! Alias-table Zipf sampling against the exact Zipf probabilities.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_workload::AliasTable;
use socialbench_workload::zipf::{StridedZipf, zipf_probabilities};

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

/// Exact probabilities of `StridedZipf::new(len, stride, offset, s)`:
/// weights `(j * stride + offset + 1)^-s`, normalised (summed smallest first).
fn strided_probabilities(len: u32, stride: u32, offset: u32, s: f64) -> Vec<f64> {
    let mut w: Vec<f64> = (0..len as u64)
        .map(|j| ((j * stride as u64 + offset as u64 + 1) as f64).powf(-s))
        .collect();
    let h: f64 = w.iter().rev().sum();
    for x in &mut w {
        *x /= h;
    }
    w
}

/// Draws `samples` from `z` and returns the counts per index.
fn counts_of(z: &StridedZipf, samples: u64, seed: u64) -> Vec<u64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut counts = vec![0u64; z.len()];
    for _ in 0..samples {
        counts[z.sample(&mut rng) as usize] += 1;
    }
    counts
}

fn chi_square_limit(df: usize) -> f64 {
    df as f64 + 6.0 * (2.0 * df as f64).sqrt()
}

#[test]
fn strided_zipf_matches_exact_conditional_probabilities() {
    // Whole laws (stride 1) and the share of one client thread of T (ranks
    // offset, offset + T, ...), exponents from uniform to steep; same
    // chi-square test and threshold as the alias tables above.
    let cases: [(u32, u32, u32); 6] = [
        (10, 1, 0),
        (1000, 1, 0),
        (1_000_000, 1, 0),
        (500_000, 2, 1),
        (1000, 7, 3),
        (3, 4, 2),
    ];
    for (len, stride, offset) in cases {
        for s in [0.0, 0.8, 1.0, 1.2, 3.0] {
            let z = StridedZipf::new(len, stride, offset, s).unwrap();
            assert_eq!(z.len(), len as usize);
            let probs = strided_probabilities(len, stride, offset, s);
            let samples: u64 = if len >= 500_000 { 2_000_000 } else { 1_000_000 };
            let counts = counts_of(&z, samples, len as u64 ^ s.to_bits() ^ stride as u64);
            let (stat, df) = chi_square(&counts, &probs, samples);
            let what = format!("len={len} stride={stride} offset={offset} s={s}");
            if df > 0 {
                let limit = chi_square_limit(df);
                assert!(
                    stat < limit,
                    "{what}: chi2={stat:.1} df={df} limit={limit:.1}"
                );
            }
            // The head, one index at a time: each of the first 3 within 5 sigma.
            for (j, &p) in probs.iter().enumerate().take(3) {
                let sd = (p * (1.0 - p) / samples as f64).sqrt();
                let got = counts[j] as f64 / samples as f64;
                assert!((got - p).abs() <= 5.0 * sd, "{what}: p{j} {got} vs {p}");
            }
        }
    }
}

#[test]
fn strided_zipf_tables_stay_small() {
    // What makes it fast: a few hundred blocks for a million ranks.
    let z = StridedZipf::new(1_000_000, 1, 0, 1.0).unwrap();
    assert!(z.blocks() < 300, "{} blocks", z.blocks());
    assert!(z.bytes() < 16 * 1024, "{} bytes", z.bytes());
    assert_eq!(StridedZipf::new(1_000_000, 1, 0, 0.0).unwrap().blocks(), 1);
}

#[test]
fn strided_zipf_detects_a_wrong_exponent_or_share() {
    // The test above must be able to fail: samples judged against a close
    // exponent, or against another thread's ranks, are rejected.
    let z = StridedZipf::new(1000, 1, 0, 1.0).unwrap();
    let counts = counts_of(&z, 1_000_000, 3);
    let (stat, df) = chi_square(&counts, &strided_probabilities(1000, 1, 0, 1.05), 1_000_000);
    assert!(stat > chi_square_limit(df), "exponent: chi2={stat} df={df}");
    let z = StridedZipf::new(1000, 2, 1, 1.0).unwrap();
    let counts = counts_of(&z, 1_000_000, 4);
    let (stat, df) = chi_square(&counts, &strided_probabilities(1000, 2, 0, 1.0), 1_000_000);
    assert!(stat > chi_square_limit(df), "offset: chi2={stat} df={df}");
}

#[test]
fn strided_zipf_rejects_bad_parameters() {
    assert!(StridedZipf::new(0, 1, 0, 1.0).is_err());
    assert!(StridedZipf::new(10, 0, 0, 1.0).is_err());
    assert!(StridedZipf::new(10, 1, 0, -1.0).is_err());
    assert!(StridedZipf::new(10, 1, 0, f64::NAN).is_err());
    assert!(StridedZipf::new(3, u32::MAX, 0, 1.0).is_err());
    assert!(StridedZipf::new(1, 1, u32::MAX, 1.0).is_ok());
}
