//! The merge of a home feed's parts gathered from several shards.

use crate::api::{PostSummary, Sort};
use crate::partition::{merge_feed, sort_key};

/// The last step of a home feed gathered from several partitions: the same
/// result as [`merge_feed`], cheaper. Every part (`Partition::feed_part`)
/// arrives sorted best first, so the candidates are a few sorted runs: the
/// ranking key is computed once per candidate (a Hot key costs a 128-bit
/// division) and the runs are merged, instead of computing two keys per
/// comparison of a selection and a sort (the profile that motivated it is in
/// commit c7c552b). More than [`MergeScratch::MAX_RUNS`] runs (unsorted
/// input) falls back to `merge_feed`. The order is total (`created` is
/// unique), so the two agree exactly.
#[derive(Debug, Default)]
pub(crate) struct MergeScratch {
    keys: Vec<(i64, u64)>,
    /// Cursor and end of each sorted run.
    runs: Vec<(usize, usize)>,
    out: Vec<PostSummary>,
}

impl MergeScratch {
    /// Most sorted runs merged directly.
    pub(crate) const MAX_RUNS: usize = 16;

    /// Orders `candidates` best first by `sort` and keeps `limit` of them.
    pub(crate) fn merge(&mut self, candidates: &mut Vec<PostSummary>, sort: Sort, limit: u16) {
        let n = candidates.len();
        let keep = (limit as usize).min(n);
        self.keys.clear();
        self.keys.extend(
            candidates
                .iter()
                .map(|p| (sort_key(sort, p.score, p.created), p.created)),
        );
        self.runs.clear();
        let mut start = 0;
        for i in 1..=n {
            // A run is strictly decreasing in (key, created).
            if i == n || self.keys[i] >= self.keys[i - 1] {
                self.runs.push((start, i));
                start = i;
                if self.runs.len() > Self::MAX_RUNS {
                    merge_feed(candidates, sort, limit);
                    return;
                }
            }
        }
        self.out.clear();
        while self.out.len() < keep {
            let mut best: Option<usize> = None;
            for (r, &(cur, end)) in self.runs.iter().enumerate() {
                if cur < end && best.is_none_or(|b| self.keys[cur] > self.keys[self.runs[b].0]) {
                    best = Some(r);
                }
            }
            let Some(b) = best else { break };
            let cur = self.runs[b].0;
            self.out.push(candidates[cur]);
            self.runs[b].0 += 1;
        }
        candidates.clear();
        candidates.extend_from_slice(&self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CommunityId, PostId, UserId};
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn post(rng: &mut Xoshiro256PlusPlus, created: u64) -> PostSummary {
        PostSummary {
            id: PostId {
                community: CommunityId(rng.random_range(0..50)),
                seq: created as u32,
            },
            author: UserId(1),
            score: rng.random_range(-30..3000),
            comments: 0,
            created,
        }
    }

    /// Sorted parts (as `feed_part` makes them) and unsorted input (the
    /// fallback) must both give exactly what `merge_feed` gives.
    #[test]
    fn merge_scratch_agrees_with_merge_feed_on_sorted_parts_and_on_anything() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut m = MergeScratch::default();
        let mut created = 0u64;
        for round in 0..2000 {
            let sort = [Sort::Hot, Sort::Top, Sort::New][round % 3];
            let limit: u16 = rng.random_range(0..40);
            let parts = rng.random_range(0..5);
            let mut candidates = Vec::new();
            for _ in 0..parts {
                let len = rng.random_range(0..=limit as usize);
                let mut part: Vec<PostSummary> = (0..len)
                    .map(|_| {
                        created += rng.random_range(1..5000);
                        post(&mut rng, created)
                    })
                    .collect();
                if round % 7 != 0 {
                    merge_feed(&mut part, sort, limit);
                }
                candidates.extend(part);
            }
            let mut expected = candidates.clone();
            merge_feed(&mut expected, sort, limit);
            m.merge(&mut candidates, sort, limit);
            assert_eq!(candidates, expected, "round {round} {sort:?} limit {limit}");
        }
    }
}
