//! A community's ranked index of its posts (one per sort key): `(key, seq)`
//! pairs kept sorted ascending in one vector, so the best post is last.
//!
//! A home feed starts a stream at the best end of each subscribed
//! community's index: here that is one read at the vector's end, where a
//! B-tree walked from its root down the right edge, a dependent load per
//! level, for every community of every feed. Updates pay instead: a vote
//! moves its post by rotating the entries between its old and new places,
//! and a vote changes a key a little (Hot's key by a logarithm's step,
//! Top's by one), so the run moved is short for all but posts tied with
//! many others. A new post goes at the end under Hot (its key is the
//! newest); under Top it ranks below every post scored above zero, whose
//! entries move up one place.

/// One sort's index of a community's posts: `(key, seq)` sorted ascending,
/// best post last. Keys are unique per post (`seq` is), so the order is total.
#[derive(Debug, Default)]
pub(super) struct RankIndex(Vec<(i64, u32)>);

impl RankIndex {
    /// An index of the given pairs, in any order (a snapshot's restore).
    pub(super) fn from_unsorted(mut pairs: Vec<(i64, u32)>) -> Self {
        pairs.sort_unstable();
        RankIndex(pairs)
    }

    /// Adds post `seq` under `key`.
    pub(super) fn insert(&mut self, key: i64, seq: u32) {
        let entry = (key, seq);
        // New posts mostly rank at the end: check there before searching.
        let at = match self.0.last() {
            Some(&last) if last > entry => self.0.partition_point(|&e| e < entry),
            _ => self.0.len(),
        };
        self.0.insert(at, entry);
    }

    /// Moves post `seq` from key `old` to key `new`. A post missing under
    /// `old` is added under `new`, as a removal and an insertion would.
    pub(super) fn rekey(&mut self, old: i64, new: i64, seq: u32) {
        let entries = &mut self.0;
        let Ok(from) = entries.binary_search(&(old, seq)) else {
            self.insert(new, seq);
            return;
        };
        let entry = (new, seq);
        if entry > (old, seq) {
            // Its new place is among the entries after it.
            let to = from + entries[from + 1..].partition_point(|&e| e < entry);
            entries[from..=to].rotate_left(1);
            entries[to] = entry;
        } else {
            let to = entries[..from].partition_point(|&e| e < entry);
            entries[to..=from].rotate_right(1);
            entries[to] = entry;
        }
    }

    /// The entries best first: key descending, then seq descending.
    pub(super) fn best_first(&self) -> std::iter::Rev<std::slice::Iter<'_, (i64, u32)>> {
        self.0.iter().rev()
    }

    /// Entries indexed.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::{Rng, SeedableRng};

    use super::*;

    /// Random inserts and rekeys, with small and large key steps, ties
    /// and rekeys of missing entries, keep the index equal to a `BTreeSet`
    /// given the same removals and insertions.
    #[test]
    fn matches_a_btree_set_under_inserts_and_rekeys() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for round in 0..200 {
            let mut index = RankIndex::default();
            let mut model = BTreeSet::new();
            let mut keys: Vec<i64> = Vec::new();
            let spread = 1 + (round % 5) as i64 * 3;
            for _ in 0..(rng.next_u64() % 300) {
                let r = rng.next_u64();
                if keys.is_empty() || r % 3 == 0 {
                    let seq = keys.len() as u32;
                    let key = (rng.next_u64() % 7) as i64 * spread;
                    index.insert(key, seq);
                    model.insert((key, seq));
                    keys.push(key);
                } else {
                    let seq = (rng.next_u64() % keys.len() as u64) as u32;
                    let old = keys[seq as usize];
                    let step = match r % 4 {
                        0 => 1,
                        1 => -1,
                        2 => 0,
                        _ => (rng.next_u64() % 41) as i64 - 20,
                    };
                    let new = old + step;
                    index.rekey(old, new, seq);
                    model.remove(&(old, seq));
                    model.insert((new, seq));
                    keys[seq as usize] = new;
                }
                assert_eq!(index.len(), model.len());
            }
            let got: Vec<_> = index.best_first().copied().collect();
            let want: Vec<_> = model.iter().rev().copied().collect();
            assert_eq!(got, want, "round {round}");
        }
        // A rekey of an entry the index lacks adds it.
        let mut index = RankIndex::default();
        index.insert(5, 0);
        index.rekey(3, 4, 1);
        assert_eq!(
            index.best_first().copied().collect::<Vec<_>>(),
            [(5, 0), (4, 1)]
        );
    }

    /// The index built from unsorted pairs equals the one built by inserts.
    #[test]
    fn from_unsorted_equals_inserting_one_by_one() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(8);
        let pairs: Vec<(i64, u32)> = (0..500)
            .map(|seq| ((rng.next_u64() % 13) as i64 - 6, seq))
            .collect();
        let mut inserted = RankIndex::default();
        for &(key, seq) in &pairs {
            inserted.insert(key, seq);
        }
        let built = RankIndex::from_unsorted(pairs);
        assert!(built.best_first().eq(inserted.best_first()));
        assert!(
            built
                .best_first()
                .zip(built.best_first().skip(1))
                .all(|(a, b)| a > b)
        );
    }
}
