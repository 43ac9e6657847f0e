//! O(1) sampling from fixed discrete distributions: Walker/Vose alias tables,
//! and the Zipf distributions the scenarios use (community popularity, feed
//! positions, user activity and popularity, words).
//!
//! Why our own table rather than `rand_distr::WeightedAliasIndex`: a sample
//! here costs one `u64` from the generator (the top 32 bits pick a column by
//! multiply-shift, the low 32 bits toss the column's coin against an integer
//! threshold) and one 8-byte table read; `WeightedAliasIndex` draws an index
//! with rejection and a float coin, two or more draws per sample. The
//! multiply-shift column pick is biased by at most `n / 2^32` relative (2.3e-4
//! for a million columns), far below what the statistical tests can see.

use rand::Rng;

use crate::WorkloadError;

/// One column of an alias table: keep the column when the coin is below
/// `threshold`, else take `alias`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Column {
    threshold: u32,
    alias: u32,
}

/// A Walker/Vose alias table over `0..len()`: O(n) to build, O(1) to sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasTable {
    columns: Box<[Column]>,
}

impl AliasTable {
    /// A table sampling `i` with probability `weights[i] / sum(weights)`.
    ///
    /// Fails when there are no weights, more than `u32::MAX` of them, or a
    /// weight is negative or not finite, or all are zero.
    pub fn new(weights: &[f64]) -> Result<AliasTable, WorkloadError> {
        let n = weights.len();
        if n == 0 || n > u32::MAX as usize {
            return Err(WorkloadError::Invalid(format!(
                "an alias table needs 1..={} weights, got {n}",
                u32::MAX
            )));
        }
        if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(WorkloadError::Invalid(format!(
                "weights must be finite and >= 0, got {w}"
            )));
        }
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 {
            return Err(WorkloadError::Invalid("weights sum to zero".into()));
        }
        // Vose's algorithm: scaled probabilities, split into small and large.
        let scale = n as f64 / sum;
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * scale).collect();
        let mut small: Vec<u32> = Vec::with_capacity(n);
        let mut large: Vec<u32> = Vec::with_capacity(n);
        for (i, &p) in scaled.iter().enumerate() {
            if p < 1.0 {
                small.push(i as u32);
            } else {
                large.push(i as u32);
            }
        }
        let mut columns = vec![
            Column {
                threshold: u32::MAX,
                alias: 0
            };
            n
        ];
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            columns[s as usize] = Column {
                threshold: to_threshold(scaled[s as usize]),
                alias: l,
            };
            scaled[l as usize] -= 1.0 - scaled[s as usize];
            if scaled[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers have probability 1 up to rounding: they alias themselves,
        // so the coin cannot matter.
        for i in small.into_iter().chain(large) {
            columns[i as usize] = Column {
                threshold: u32::MAX,
                alias: i,
            };
        }
        Ok(AliasTable {
            columns: columns.into_boxed_slice(),
        })
    }

    /// A table sampling rank `k` (0-based) of `n` with the Zipf probability
    /// `(k + 1)^-s / H(n, s)`; `s = 0` is uniform.
    pub fn zipf(n: u32, s: f64) -> Result<AliasTable, WorkloadError> {
        if n == 0 {
            return Err(WorkloadError::Invalid("a Zipf table needs n >= 1".into()));
        }
        AliasTable::new(&zipf_weights(n, s))
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the table is empty (never: construction needs one weight).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Draws an outcome from one random `u64`.
    #[inline]
    pub fn sample_bits(&self, bits: u64) -> u32 {
        let n = self.columns.len() as u64;
        let i = ((bits >> 32) * n) >> 32;
        let col = self.columns[i as usize];
        if (bits as u32) < col.threshold {
            i as u32
        } else {
            col.alias
        }
    }

    /// Draws an outcome using one `u64` of `rng`.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        self.sample_bits(rng.next_u64())
    }

    /// Approximate heap bytes.
    pub fn bytes(&self) -> usize {
        self.columns.len() * std::mem::size_of::<Column>()
    }
}

fn to_threshold(p: f64) -> u32 {
    // p in [0, 1): keep-probability as a fraction of 2^32.
    (p * 4_294_967_296.0).clamp(0.0, u32::MAX as f64) as u32
}

/// Unnormalised Zipf weights `(k + 1)^-s` for `k` in `0..n`.
pub fn zipf_weights(n: u32, s: f64) -> Vec<f64> {
    (1..=n as u64).map(|k| (k as f64).powf(-s)).collect()
}

/// Exact Zipf probabilities of ranks `0..n` (sum to 1).
pub fn zipf_probabilities(n: u32, s: f64) -> Vec<f64> {
    let mut w = zipf_weights(n, s);
    // Sum smallest first for accuracy.
    let h: f64 = w.iter().rev().sum();
    for x in &mut w {
        *x /= h;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn zero_weight_outcomes_are_never_drawn() {
        let t = AliasTable::new(&[0.0, 3.0, 0.0, 1.0]).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut seen = [0u32; 4];
        for _ in 0..100_000 {
            seen[t.sample(&mut rng) as usize] += 1;
        }
        assert_eq!((seen[0], seen[2]), (0, 0));
        let share = seen[1] as f64 / 100_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }

    #[test]
    fn bad_weights_are_rejected() {
        assert!(AliasTable::new(&[]).is_err());
        assert!(AliasTable::new(&[0.0, 0.0]).is_err());
        assert!(AliasTable::new(&[1.0, -1.0]).is_err());
        assert!(AliasTable::new(&[f64::NAN]).is_err());
    }
}
