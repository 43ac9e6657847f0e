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

/// Within a block of [`StridedZipf`], the smallest weight is at least this
/// share of the largest: a proposal is accepted with probability >= 0.9.
const BLOCK_RATIO: f64 = 0.9;

/// One block of consecutive indices of a [`StridedZipf`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Block {
    start: u32,
    len: u32,
    /// Accept without computing the weight when the coin is below this
    /// (a lower bound of the acceptance probability, as a fraction of 2^32).
    squeeze: u32,
    /// `x` of the block's first (heaviest) index.
    x0: f64,
}

/// Zipf over every `stride`-th rank: index `j` of `0..len` with probability
/// proportional to `x_j^-s`, where `x_j = j * stride + offset + 1` is the
/// 1-based global rank. With `stride = 1, offset = 0` it is Zipf over `0..len`;
/// with `stride = T, offset = t` it is the exact conditional Zipf law of the
/// ranks `t, t + T, t + 2T, ...` that client thread `t` of `T` owns.
///
/// Why not an alias table over all `len` indices: its column pick is uniform,
/// so at a million indices every draw misses the cache on an 8 MB table.
/// Here the indices are cut into blocks of consecutive indices whose
/// smallest weight is at least 0.9 of their largest (one index per block at
/// the head, ever longer blocks in the tail: a few hundred blocks for a million ranks at
/// `s = 1`). A small alias table over the blocks' exact masses picks a block,
/// then rejection sampling inside it picks the index: a uniform proposal `j`
/// is accepted with probability `(x_start / x_j)^s` >= 0.9, checked against a
/// precomputed lower bound first, so `powf` runs on under 10% of the
/// proposals of multi-index blocks. The result is exact (up to the 2^-32
/// granularity of the coins and the multiply-shift bias of the proposal,
/// `len / 2^32` relative, as in [`AliasTable`]), the tables take a few KB
/// and stay in L1, and a draw costs about two `u64`.
#[derive(Clone, Debug, PartialEq)]
pub struct StridedZipf {
    blocks: AliasTable,
    info: Box<[Block]>,
    stride: f64,
    offset1: f64,
    s: f64,
}

impl StridedZipf {
    /// The law of `0..len` with weights `(j * stride + offset + 1)^-s`.
    ///
    /// Fails when `len` or `stride` is 0, the largest rank
    /// `(len - 1) * stride + offset` exceeds `u32::MAX`, or `s` is not
    /// finite and >= 0.
    pub fn new(len: u32, stride: u32, offset: u32, s: f64) -> Result<StridedZipf, WorkloadError> {
        if len == 0 || stride == 0 {
            return Err(WorkloadError::Invalid(format!(
                "a strided Zipf law needs len >= 1 and stride >= 1, got {len} and {stride}"
            )));
        }
        if (len as u64 - 1) * stride as u64 + offset as u64 > u32::MAX as u64 {
            return Err(WorkloadError::Invalid(format!(
                "ranks of len {len}, stride {stride}, offset {offset} exceed u32"
            )));
        }
        if !(s.is_finite() && s >= 0.0) {
            return Err(WorkloadError::Invalid(format!(
                "a Zipf exponent must be finite and >= 0, got {s}"
            )));
        }
        let (stride_f, offset1) = (stride as f64, offset as f64 + 1.0);
        let x = |j: u32| j as f64 * stride_f + offset1;
        // Largest x/x0 within a block; infinite (one block) when s = 0.
        let growth = if s > 0.0 {
            BLOCK_RATIO.powf(-1.0 / s)
        } else {
            f64::INFINITY
        };
        let mut info = Vec::new();
        let mut masses = Vec::new();
        let mut start = 0u32;
        while start < len {
            let x0 = x(start);
            // Last j with x_j <= x0 * growth, at least `start`.
            let last = ((x0 * growth - offset1) / stride_f).floor();
            let end = if last.is_finite() && last < (len - 1) as f64 {
                (last as u32).max(start) + 1
            } else {
                len
            };
            let mass: f64 = (start..end).rev().map(|j| x(j).powf(-s)).sum();
            let min_ratio = (x0 / x(end - 1)).powf(s);
            // One below the floor: the squeeze must never accept what the
            // exact test would reject, whatever `powf`'s last-bit rounding.
            let squeeze = (min_ratio * 4_294_967_296.0).floor() - 1.0;
            info.push(Block {
                start,
                len: end - start,
                squeeze: squeeze.clamp(0.0, u32::MAX as f64) as u32,
                x0,
            });
            masses.push(mass);
            start = end;
        }
        Ok(StridedZipf {
            blocks: AliasTable::new(&masses)?,
            info: info.into_boxed_slice(),
            stride: stride_f,
            offset1,
            s,
        })
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.info.last().map_or(0, |b| (b.start + b.len) as usize)
    }

    /// Whether the law is empty (never: construction needs `len >= 1`).
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Number of blocks (what the tables cost: 32 bytes each).
    pub fn blocks(&self) -> usize {
        self.info.len()
    }

    /// Draws an index: one `u64` for the block, one per proposal inside it
    /// (none for a one-index block). Always inlined: the call's prologue
    /// was a sizeable share of a draw (callgrind, commit c0e87fb).
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let b = self.info[self.blocks.sample_bits(rng.next_u64()) as usize];
        if b.len == 1 {
            return b.start;
        }
        loop {
            let bits = rng.next_u64();
            let j = b.start + (((bits >> 32) * b.len as u64) >> 32) as u32;
            let coin = bits as u32;
            if coin < b.squeeze || self.accept_exact(&b, j, coin) {
                return j;
            }
        }
    }

    #[cold]
    fn accept_exact(&self, b: &Block, j: u32, coin: u32) -> bool {
        let x = j as f64 * self.stride + self.offset1;
        let coin = coin as f64;
        // `(x0 / x)^s` is convex in `x`: its tangent at `x0`, `1 - s (x -
        // x0) / x0`, is a second, tighter squeeze near the block's start.
        if coin < (1.0 - self.s * (x - b.x0) / b.x0) * 4_294_967_296.0 {
            return true;
        }
        // At `s = 1` (every preset's activity and popularity law) the ratio
        // itself: `powf(r, 1.0)` is `r` exactly (the platform's pow is
        // within 0.52 ulp and `r` is representable), so the draws do not
        // change, without a libm call.
        let r = b.x0 / x;
        let p = if self.s == 1.0 { r } else { r.powf(self.s) };
        coin < p * 4_294_967_296.0
    }

    /// Approximate heap bytes.
    pub fn bytes(&self) -> usize {
        self.blocks.bytes() + self.info.len() * std::mem::size_of::<Block>()
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
