//! Feed ranking: the keys that order Hot, New and Top (computed from the
//! engine's logical post clock only, so rankings depend on the op order
//! alone), and the selection of a feed's best posts from the ordered indexes.
//!
//! Every feed orders by a key, descending, then by `created`, descending (newer
//! first). `created` is unique engine-wide (one [`super::PostClock`] tick per
//! post), so the order is total and never depends on hash-map iteration.

use std::cmp::Ordering;
use std::sync::LazyLock;

use super::index::RankIndex;
use super::state::{Community, Post, summary};
use crate::api::{CommunityId, PostSummary, Sort};

/// Time constant of Hot, in post-clock ticks: a post needs ten times the
/// score to rank level with one created `HOT_DECAY` posts later.
///
/// Reddit's formula (`sign(s) * log10(max(|s|, 1)) + seconds / 45000`, from
/// reddit's open-sourced `_sorts.pyx`) divides wall-clock seconds by 45,000
/// (12.5 hours). Our clock ticks once per post created anywhere in the engine,
/// so we keep the constant and read one tick as one second: the analogue of a
/// site that creates about one post per second. With the `reddit` preset
/// (about 1.7% of ops are posts), a run at 10^6 ops/s spends one decay
/// constant every ~2.6 s, so Hot visibly churns within a 30 s run.
pub const HOT_DECAY: u64 = 45_000;

/// Fractional bits of the fixed-point Hot key.
const HOT_FRAC_BITS: u32 = 32;

/// |score| below this takes log10 from a table (votes are Zipf: most scores are small).
const LOG_TABLE: usize = 4096;

static LOG10_FIXED: LazyLock<Box<[i64]>> =
    LazyLock::new(|| (0..LOG_TABLE).map(|s| log10_fixed_slow(s as u64)).collect());

fn log10_fixed_slow(abs_score: u64) -> i64 {
    let order = (abs_score.max(1) as f64).log10();
    (order * (1u64 << HOT_FRAC_BITS) as f64).round() as i64
}

/// Reddit's hot score of a post as an `i64` fixed-point key (32 fractional
/// bits): `sign(score) * log10(max(|score|, 1)) + created / HOT_DECAY`.
///
/// The time part is exact integer arithmetic; only the log term goes through
/// `f64`, rounded once, so equal inputs give equal keys in every engine.
pub fn hot_key(score: i64, created: u64) -> i64 {
    let abs = score.unsigned_abs();
    let order = if (abs as usize) < LOG_TABLE {
        LOG10_FIXED[abs as usize]
    } else {
        log10_fixed_slow(abs)
    };
    let signed = match score.cmp(&0) {
        Ordering::Greater => order,
        Ordering::Less => -order,
        Ordering::Equal => 0,
    };
    let time = ((created as i128) << HOT_FRAC_BITS) / HOT_DECAY as i128;
    signed.saturating_add(time.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// The primary ranking key of a post under `sort` (higher ranks first).
pub fn sort_key(sort: Sort, score: i64, created: u64) -> i64 {
    match sort {
        Sort::Hot => hot_key(score, created),
        Sort::Top => score,
        // Saturates only beyond 2^63 posts.
        Sort::New => created.min(i64::MAX as u64) as i64,
    }
}

/// Orders `(key, created)` pairs best first: key descending, then newer first.
#[inline]
pub(crate) fn best_first(a: (i64, u64), b: (i64, u64)) -> Ordering {
    b.cmp(&a)
}

/// Keeps the best `limit` of keyed candidates, sorted best first.
pub(crate) fn select_best<T>(items: &mut Vec<T>, limit: usize, key: impl Fn(&T) -> (i64, u64)) {
    let cmp = |a: &T, b: &T| best_first(key(a), key(b));
    if limit == 0 {
        items.clear();
        return;
    }
    if items.len() > limit {
        items.select_nth_unstable_by(limit - 1, cmp);
        items.truncate(limit);
    }
    items.sort_unstable_by(cmp);
}

/// Last step of a home feed: orders `candidates` best-first by `sort`
/// (ties broken by `created`, newer first, so the order is total) and keeps `limit`.
///
/// Costs O(n + limit log limit) (a selection, then a sort of the kept head).
pub fn merge_feed(candidates: &mut Vec<PostSummary>, sort: Sort, limit: u16) {
    select_best(candidates, limit as usize, |p| {
        (sort_key(sort, p.score, p.created), p.created)
    });
}

/// Calls `visit(key, seq, post)` for the posts of `c` best first under
/// `sort`, at most `limit` of them, until `visit` returns false: O(limit)
/// thanks to the ordered indexes.
pub(super) fn for_best_posts(
    c: &Community,
    sort: Sort,
    limit: usize,
    mut visit: impl FnMut(i64, u32, &Post) -> bool,
) {
    let mut stream = Stream::new(c, sort);
    for _ in 0..limit {
        match stream.next() {
            Some(h) if visit(h.key, h.seq, h.post) => {}
            _ => break,
        }
    }
}

/// One community's posts, best first under a sort: a stream of
/// [`merge_best`].
enum Stream<'a> {
    /// Hot and Top: the community's ordered index, read from its best end.
    Index {
        posts: &'a [Post],
        keys: std::iter::Rev<std::slice::Iter<'a, (i64, u32)>>,
    },
    /// New: the posts themselves, newest (last) first.
    New(std::iter::Rev<std::iter::Enumerate<std::slice::Iter<'a, Post>>>),
}

impl<'a> Stream<'a> {
    fn new(c: &'a Community, sort: Sort) -> Stream<'a> {
        let index = |keys: &'a RankIndex| Stream::Index {
            posts: &c.posts,
            keys: keys.best_first(),
        };
        match sort {
            Sort::Hot => index(&c.hot),
            Sort::Top => index(&c.top),
            Sort::New => Stream::New(c.posts.iter().enumerate().rev()),
        }
    }

    /// The next post: its key, seq and record. Always inlined: it is the
    /// merge's inner step, and `merge_best`, generic over its lookup, is
    /// itself inlined into its callers, where the compiler would otherwise
    /// leave this call out of line.
    #[inline(always)]
    fn next(&mut self) -> Option<Head<'a>> {
        match self {
            Stream::Index { posts, keys } => keys.find_map(|&(key, seq)| {
                // Indexes only hold seqs of stored posts.
                let post = posts.get(seq as usize)?;
                Some(Head { key, seq, post })
            }),
            Stream::New(posts) => posts.next().map(|(seq, post)| Head {
                key: sort_key(Sort::New, post.score, post.created),
                seq: seq as u32,
                post,
            }),
        }
    }
}

/// A stream's next post, as [`merge_best`] ranks it.
#[derive(Clone, Copy)]
struct Head<'a> {
    key: i64,
    seq: u32,
    post: &'a Post,
}

/// A [`Head`] in the merge's max-heap: the best rank on top, then the
/// stream listed first (ranks are unique; a tie is only possible for a
/// community listed twice, whose two copies of a post are equal anyway).
#[derive(Clone, Copy)]
struct Ranked<'a> {
    head: Head<'a>,
    stream: u32,
}

impl Ranked<'_> {
    /// Whether `self` ranks above `other`: key, then `created` (read from
    /// the posts only when the keys tie), then the stream listed first.
    #[inline(always)]
    fn above(&self, other: &Self) -> bool {
        match self.head.key.cmp(&other.head.key) {
            Ordering::Equal => {}
            order => return order == Ordering::Greater,
        }
        match self.head.post.created.cmp(&other.head.post.created) {
            Ordering::Equal => self.stream < other.stream,
            order => order == Ordering::Greater,
        }
    }
}

/// Puts `item` into the max-heap `heap` (ordered by [`Ranked::above`]) at
/// the hole `hole`, moving it down past better children.
///
/// The merge's own heap rather than `std`'s `BinaryHeap`: this sift is
/// inlined into the merge loop, so the stream's next head goes in from
/// registers; `BinaryHeap`'s `PeekMut` wrote it to the heap's top and its
/// out-of-line drop read it back at once, stalling on the stores.
#[inline(always)]
fn sift_down<'a>(heap: &mut [Ranked<'a>], mut hole: usize, item: Ranked<'a>) {
    let n = heap.len();
    loop {
        let mut child = 2 * hole + 1;
        if child >= n {
            break;
        }
        if child + 1 < n && heap[child + 1].above(&heap[child]) {
            child += 1;
        }
        if !heap[child].above(&item) {
            break;
        }
        heap[hole] = heap[child];
        hole = child;
    }
    heap[hole] = item;
}

/// Appends to `out` the best `limit` posts of the listed communities (each
/// found by `lookup`; unknown ones skipped), best first: a k-way merge of
/// the communities' ordered streams, which reads each community's best
/// post and then only the posts it returns (plus the one after each, to
/// rank its stream again), and needs no sort at the end.
pub(super) fn merge_best<'a>(
    listed: &[CommunityId],
    lookup: impl Fn(CommunityId) -> Option<&'a Community>,
    sort: Sort,
    limit: usize,
    out: &mut Vec<PostSummary>,
) {
    if limit == 0 {
        return;
    }
    let mut streams = Vec::with_capacity(listed.len());
    let mut heads: Vec<Ranked<'a>> = Vec::with_capacity(listed.len());
    for &id in listed {
        let Some(c) = lookup(id) else {
            continue;
        };
        let mut stream = Stream::new(c, sort);
        if let Some(head) = stream.next() {
            heads.push(Ranked {
                head,
                stream: streams.len() as u32,
            });
            streams.push((id, stream));
        }
    }
    if heads.is_empty() {
        return;
    }
    // Heapify bottom-up: O(k), no head read back right after its write.
    for i in (0..heads.len() / 2).rev() {
        let item = heads[i];
        sift_down(&mut heads, i, item);
    }
    out.reserve(limit);
    for _ in 0..limit {
        let Some(&top) = heads.first() else {
            break;
        };
        let (id, stream) = &mut streams[top.stream as usize];
        out.push(summary(*id, top.head.seq, top.head.post));
        match stream.next() {
            Some(head) => sift_down(
                &mut heads,
                0,
                Ranked {
                    head,
                    stream: top.stream,
                },
            ),
            // The stream is spent: the heap's last head fills the top.
            None => {
                if let Some(last) = heads.pop()
                    && !heads.is_empty()
                {
                    sift_down(&mut heads, 0, last);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `merge_best` returns exactly the best `limit` posts by (key, created) over the listed
    /// communities, for every sort, with scores that tie often (Top's key is
    /// the score), communities listed twice and unknown ids skipped.
    #[test]
    fn merge_best_equals_sorting_every_listed_post() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(20);
        let mut created = 0u64;
        let communities: Vec<Community> = (0..48)
            .map(|c| {
                let mut community = Community::new(crate::api::UserId(c));
                for seq in 0..(rng.next_u64() % 9) as u32 {
                    created += 1 + rng.next_u64() % 3;
                    let score = (rng.next_u64() % 7) as i64 - 2;
                    community.hot.insert(hot_key(score, created), seq);
                    community.top.insert(score, seq);
                    community.posts.push(Post {
                        author: crate::api::UserId(c),
                        score,
                        created,
                        body: Box::from(&b"x"[..]),
                        comments: Vec::new(),
                    });
                }
                community
            })
            .collect();
        let lookup = |id: CommunityId| communities.get(id.0 as usize);
        for round in 0..300 {
            let k = 1 + round % 40;
            let listed: Vec<CommunityId> = (0..k)
                .map(|_| CommunityId((rng.next_u64() % 52) as u32))
                .collect();
            for sort in [Sort::Hot, Sort::Top, Sort::New] {
                let limit = (rng.next_u64() % 30) as usize;
                let mut got = Vec::new();
                merge_best(&listed, lookup, sort, limit, &mut got);
                let mut all: Vec<(i64, u64, PostSummary)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for &id in &listed {
                    let Some(c) = lookup(id) else { continue };
                    if !seen.insert(id) {
                        continue;
                    }
                    for (seq, p) in c.posts.iter().enumerate() {
                        let key = sort_key(sort, p.score, p.created);
                        all.push((key, p.created, summary(id, seq as u32, p)));
                    }
                }
                all.sort_by_key(|x| std::cmp::Reverse((x.0, x.1)));
                let want: Vec<_> = all.into_iter().take(limit).map(|x| x.2.id).collect();
                // A community listed twice yields its posts twice; each
                // post's first appearance must follow the exact order.
                let mut firsts = Vec::new();
                for p in &got {
                    if !firsts.contains(&p.id) {
                        firsts.push(p.id);
                    }
                }
                let n = firsts.len();
                assert_eq!(firsts, want[..n], "k {k}, {sort:?}, limit {limit}");
                let total: usize = listed
                    .iter()
                    .filter_map(|&id| lookup(id))
                    .map(|c| c.posts.len())
                    .sum();
                assert_eq!(got.len(), limit.min(total), "k {k}, {sort:?}");
            }
        }
    }

    #[test]
    fn hot_key_matches_reddit_formula() {
        for (score, created) in [
            (0i64, 1u64),
            (1, 10),
            (-1, 10),
            (10, 45_000),
            (-250, 7),
            (5000, 99),
        ] {
            let exact = (score as f64).signum() * (score.unsigned_abs().max(1) as f64).log10()
                + created as f64 / HOT_DECAY as f64;
            let key = hot_key(score, created) as f64 / (1u64 << HOT_FRAC_BITS) as f64;
            assert!(
                (key - exact).abs() < 1e-6,
                "{score} {created}: {key} vs {exact}"
            );
        }
    }

    #[test]
    fn ten_times_the_score_equals_one_decay_later() {
        assert_eq!(hot_key(100, 1), hot_key(10, 1 + HOT_DECAY));
        assert!(hot_key(100, 1) > hot_key(10, HOT_DECAY));
    }

    #[test]
    fn table_and_slow_path_agree() {
        for s in [1u64, 2, 999, 4095] {
            assert_eq!(LOG10_FIXED[s as usize], log10_fixed_slow(s));
        }
        assert!(hot_key(4096, 1) > hot_key(4095, 1));
    }
}
