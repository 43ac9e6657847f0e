//! The load phase: who is who (roles), who created which community, who
//! belongs where and who follows whom, and the staged stream of ops that
//! builds that state in an empty engine.
//!
//! Stages (every thread finishes stage `s` before any thread starts `s + 1`):
//! 0. `Register` every user (this creates their profile).
//! 1. `CreateCommunity` by a creator (needs the creator registered), and the
//!    follow graph as `Join`s of profiles (profiles exist after stage 0).
//! 2. Memberships as `Join`s (communities exist after stage 1), seed posts in
//!    communities by their creator (a member since stage 1) and in profiles
//!    by their owner.
//!
//! Every load op succeeds against an empty engine: memberships are distinct
//! per user and never the user's own community, follows are distinct and never
//! oneself, mutual follows are deduplicated as undirected edges.
//!
//! Ops are partitioned over client threads by the acting user (`user %
//! threads`; communities by `community % threads`), in a fixed order, so the
//! stream depends only on the seed and the thread count. The plan is computed
//! once in [`crate::Workload::new`] (in parallel with rayon, deterministic)
//! and shared read-only with the generators, who use it to know which
//! communities a user belongs to and whom they follow.

use std::iter::StepBy;
use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use socialbench_engines::{CommunityId, Op, UserId};

use crate::Role;
use crate::hint::prefetch;
use crate::scenario::Scenario;
use crate::zipf::{AliasTable, StridedZipf};

/// Salts that separate the random streams drawn from one seed.
pub(crate) mod salt {
    pub const ROLE: u64 = 0x726f_6c65;
    pub const MEMBERSHIP: u64 = 0x6d65_6d62;
    pub const FOLLOW: u64 = 0x666f_6c6c;
    pub const USER: u64 = 0x7573_6572;
    pub const THREAD: u64 = 0x7468_7264;
    pub const SEED_POST: u64 = 0x7365_6564;
    pub const POPULARITY: u64 = 0x706f_7075;
}

/// SplitMix64's finaliser: a strong 64-bit mix.
#[inline]
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit hash of (seed, salt, id): the root of every per-entity stream.
#[inline]
pub(crate) fn hash3(seed: u64, salt: u64, id: u64) -> u64 {
    splitmix(splitmix(seed ^ salt.rotate_left(32)) ^ id)
}

/// The random stream of (seed, salt, id).
pub(crate) fn stream(seed: u64, salt: u64, id: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(hash3(seed, salt, id))
}

/// A uniform float in [0, 1) from 53 bits.
#[inline]
pub(crate) fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A bijection of `0..n` (an affine map modulo `n` with a prime multiplier
/// larger than `n`, so coprime to it): maps a popularity rank to a user id, so
/// the most popular users are spread over the ids (and so over activity
/// ranks, which are the ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shuffle {
    n: u64,
    mul: u64,
    add: u64,
}

impl Shuffle {
    pub(crate) fn new(n: u32, mul: u64, seed: u64) -> Shuffle {
        let n = n.max(1) as u64;
        Shuffle {
            n,
            mul: mul % n,
            add: splitmix(seed) % n,
        }
    }

    #[inline]
    pub(crate) fn apply(&self, x: u32) -> u32 {
        ((x as u64 * self.mul + self.add) % self.n) as u32
    }
}

/// xxHash's 32-bit primes: all larger than `MAX_POPULATION` (2^30).
pub(crate) const PRIME_CREATOR: u64 = 2_654_435_761;
pub(crate) const PRIME_POPULARITY: u64 = 2_246_822_519;

/// The initial state: roles, community creators, memberships, follows.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) seed: u64,
    pub(crate) users: u32,
    pub(crate) communities: u32,
    /// Cumulative role shares: creator below `role_cut[0]`, contributor below `[1]`.
    role_cut: [f64; 2],
    /// Users who create the initial communities (creators, else anyone).
    creators: Vec<u32>,
    /// Memberships per user (the same for every user).
    pub(crate) per_user: u32,
    memberships: Vec<u32>,
    follow_offsets: Vec<u64>,
    follows: Vec<u32>,
    /// Rank of popularity to user id.
    pub(crate) popular: Shuffle,
}

impl Plan {
    pub(crate) fn new(
        s: &Scenario,
        seed: u64,
        communities: Option<&AliasTable>,
        people: &StridedZipf,
    ) -> Plan {
        let shares = s.role_shares();
        let role_cut = [shares[0], shares[0] + shares[1]];
        let mut plan = Plan {
            seed,
            users: s.users,
            communities: s.communities,
            role_cut,
            creators: Vec::new(),
            per_user: 0,
            memberships: Vec::new(),
            follow_offsets: Vec::new(),
            follows: Vec::new(),
            popular: Shuffle::new(s.users, PRIME_POPULARITY, seed ^ salt::POPULARITY),
        };
        plan.creators = (0..s.users)
            .into_par_iter()
            .filter(|&u| plan.role_of(UserId(u)) == Role::Creator)
            .collect();
        if plan.creators.is_empty() {
            // No creators in this scenario: anyone founds the communities
            // (the acting user of a load op is trusted like any other),
            // spread over the ids since ids are activity ranks.
            let spread = Shuffle::new(s.users, PRIME_CREATOR, seed ^ salt::ROLE);
            plan.creators = (0..s.users.min(s.communities.max(1)))
                .map(|i| spread.apply(i))
                .collect();
        }
        let m = s.population.memberships_per_user.min(s.communities);
        plan.per_user = m;
        if let (true, Some(communities)) = (m > 0, communities) {
            let mut memberships = vec![0u32; s.users as usize * m as usize];
            memberships
                .par_chunks_mut(m as usize)
                .enumerate()
                .for_each(|(u, out)| {
                    let mut rng = stream(seed, salt::MEMBERSHIP, u as u64);
                    let u = u as u32;
                    draw_distinct(
                        out,
                        s.communities,
                        &mut rng,
                        |r| communities.sample(r),
                        |c| plan.creator_of(CommunityId(c)) == UserId(u),
                    );
                });
            plan.memberships = memberships;
        }
        plan.build_follows(s, people);
        plan
    }

    fn build_follows(&mut self, s: &Scenario, people: &StridedZipf) {
        let n = s.users;
        let f = s.population.follows_per_user.min(n.saturating_sub(1));
        let seed = self.seed;
        let popular = self.popular;
        let draw = |u: u32, k: u32| -> Vec<u32> {
            let mut rng = stream(seed, salt::FOLLOW, u as u64);
            let mut out = vec![0u32; k as usize];
            draw_distinct(
                &mut out,
                n,
                &mut rng,
                |r| popular.apply(people.sample(r)),
                |v| v == u,
            );
            out
        };
        if f == 0 {
            self.follow_offsets = vec![0; n as usize + 1];
            return;
        }
        if s.population.mutual_follows {
            let k = f.div_ceil(2);
            let mut edges: Vec<u64> = (0..n)
                .into_par_iter()
                .flat_map_iter(|u| {
                    draw(u, k).into_iter().map(move |v| {
                        let (a, b) = if u < v { (u, v) } else { (v, u) };
                        (a as u64) << 32 | b as u64
                    })
                })
                .collect();
            edges.par_sort_unstable();
            edges.dedup();
            let mut degree = vec![0u64; n as usize + 1];
            for e in &edges {
                degree[(e >> 32) as usize] += 1;
                degree[(*e as u32) as usize] += 1;
            }
            let mut offsets = vec![0u64; n as usize + 1];
            for u in 0..n as usize {
                offsets[u + 1] = offsets[u] + degree[u];
            }
            let mut cursor = offsets.clone();
            let mut follows = vec![0u32; offsets[n as usize] as usize];
            for e in &edges {
                let (a, b) = ((e >> 32) as u32, *e as u32);
                follows[cursor[a as usize] as usize] = b;
                cursor[a as usize] += 1;
                follows[cursor[b as usize] as usize] = a;
                cursor[b as usize] += 1;
            }
            self.follow_offsets = offsets;
            self.follows = follows;
        } else {
            let mut follows = vec![0u32; n as usize * f as usize];
            follows
                .par_chunks_mut(f as usize)
                .enumerate()
                .for_each(|(u, out)| out.copy_from_slice(&draw(u as u32, f)));
            self.follow_offsets = (0..=n as u64).map(|u| u * f as u64).collect();
            self.follows = follows;
        }
    }

    /// The role of `user`: a hash of (seed, user) against the cumulative shares.
    pub(crate) fn role_of(&self, user: UserId) -> Role {
        let x = unit(hash3(self.seed, salt::ROLE, user.0 as u64));
        if x < self.role_cut[0] {
            Role::Creator
        } else if x < self.role_cut[1] {
            Role::Contributor
        } else {
            Role::Lurker
        }
    }

    /// Who created community `c` at load: creator `c mod len` through a
    /// multiplicative shuffle, since creators are listed by id and ids are
    /// activity ranks: without it the most popular communities would belong
    /// to the most active creators.
    pub(crate) fn creator_of(&self, c: CommunityId) -> UserId {
        let len = self.creators.len() as u64;
        let k = (c.0 as u64 % len) * (PRIME_CREATOR % len) % len;
        UserId(self.creators[k as usize])
    }

    /// The communities `user` joined at load (plus the ones it created).
    pub(crate) fn memberships(&self, user: UserId) -> &[u32] {
        let m = self.per_user as usize;
        let all = self
            .memberships
            .get(user.0 as usize * m..(user.0 as usize + 1) * m)
            .unwrap_or(&[]);
        // Empty slots only pad the end, and almost every user fills all
        // of them: one predictable test instead of a scan whose trip count
        // varies.
        if all.last().is_some_and(|&c| c != NONE) {
            return all;
        }
        let end = all.iter().position(|&c| c == NONE).unwrap_or(all.len());
        &all[..end]
    }

    /// Prefetches the first lines of `user`'s memberships and follow-list
    /// offsets (a hint, see [`crate::hint`]).
    #[inline]
    pub(crate) fn prefetch(&self, user: UserId) {
        let u = user.0 as usize;
        if let Some(m) = self.memberships.get(u * self.per_user as usize) {
            prefetch(m);
        }
        if let Some(o) = self.follow_offsets.get(u) {
            prefetch(o);
        }
    }

    /// Whom `user` follows at load (their friends, when follows are mutual).
    pub(crate) fn follows(&self, user: UserId) -> &[u32] {
        let u = user.0 as usize;
        match (self.follow_offsets.get(u), self.follow_offsets.get(u + 1)) {
            (Some(&a), Some(&b)) => &self.follows[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Entries of the follow graph (directed).
    pub(crate) fn follow_count(&self) -> usize {
        self.follows.len()
    }

    /// Approximate heap bytes of the plan.
    pub(crate) fn bytes(&self) -> usize {
        4 * (self.creators.len() + self.memberships.len() + self.follows.len())
            + 8 * self.follow_offsets.len()
    }
}

/// Fills `out` with distinct values of `0..n` drawn by `sample`, skipping
/// `excluded` ones. Falls back to a scan from a random start when draws keep
/// colliding (a skewed table asked for nearly all of `n`), so it always ends.
fn draw_distinct<R: Rng>(
    out: &mut [u32],
    n: u32,
    rng: &mut R,
    mut sample: impl FnMut(&mut R) -> u32,
    excluded: impl Fn(u32) -> bool,
) {
    let k = out.len();
    let mut filled = 0;
    let mut attempts = 0;
    while filled < k && attempts < 16 * k + 64 {
        attempts += 1;
        let v = sample(rng);
        if !excluded(v) && !out[..filled].contains(&v) {
            out[filled] = v;
            filled += 1;
        }
    }
    let mut v = (rng.next_u64() % n as u64) as u32;
    let mut scanned = 0;
    while filled < k && scanned < n {
        if !excluded(v) && !out[..filled].contains(&v) {
            out[filled] = v;
            filled += 1;
        }
        v = if v + 1 == n { 0 } else { v + 1 };
        scanned += 1;
    }
    // Fewer candidates than asked (a user who created most communities):
    // the rest is marked empty.
    out[filled..].fill(NONE);
}

/// Marks an unused membership slot.
const NONE: u32 = u32::MAX;

/// Number of load stages.
pub(crate) const STAGES: usize = 3;

/// The ops of load `stage` sent by `thread` of `threads`.
pub(crate) fn stage_ops<'a>(
    w: &'a crate::Workload,
    stage: usize,
    thread: usize,
    threads: usize,
) -> Box<dyn Iterator<Item = Op> + Send + 'a> {
    let threads = threads.max(1);
    if thread >= threads {
        return Box::new(std::iter::empty());
    }
    let t = &*w.tables;
    let plan = &t.plan;
    let users = (thread as u32..plan.users).step_by(threads);
    let communities = (thread as u32..plan.communities).step_by(threads);
    match stage {
        0 => Box::new(users.map(|u| Op::Register { user: UserId(u) })),
        1 => Box::new(
            communities
                .map(move |c| Op::CreateCommunity {
                    creator: plan.creator_of(CommunityId(c)),
                    community: CommunityId(c),
                })
                .chain(users.flat_map(move |u| {
                    plan.follows(UserId(u)).iter().map(move |&v| Op::Join {
                        user: UserId(u),
                        community: CommunityId::profile(UserId(v)),
                    })
                })),
        ),
        2 => Box::new(content_ops(w, users, communities)),
        _ => Box::new(std::iter::empty()),
    }
}

/// Stage 2 for one thread's `users` and `communities`: memberships, then
/// seed posts in profiles, then seed posts in communities.
fn content_ops<'a>(
    w: &'a crate::Workload,
    users: StepBy<Range<u32>>,
    communities: StepBy<Range<u32>>,
) -> impl Iterator<Item = Op> + Send + 'a {
    let t = &*w.tables;
    let plan = &t.plan;
    let per_profile = w.scenario.population.seed_posts_per_profile;
    let per_community = w.scenario.population.seed_posts_per_community;
    let seed = w.seed;
    users
        .clone()
        .flat_map(move |u| {
            plan.memberships(UserId(u)).iter().map(move |&c| Op::Join {
                user: UserId(u),
                community: CommunityId(c),
            })
        })
        .chain(users.flat_map(move |u| {
            let h = hash3(seed, salt::SEED_POST, u as u64);
            let n = per_profile.floor() as u32 + u32::from(unit(h) < per_profile.fract());
            (0..n).map(move |j| {
                let mut rng = stream(h, salt::SEED_POST, j as u64);
                Op::CreatePost {
                    author: UserId(u),
                    community: CommunityId::profile(UserId(u)),
                    body: t.post_body(&mut rng),
                }
            })
        }))
        // Round-robin over the communities (post j of each, then
        // post j + 1): community by community would stamp every
        // post of community c older than every post of c + 1, so
        // a home feed over subscriptions sorted by id would meet
        // ever newer posts and replace its whole kept set at each
        // community, and its cost would depend on how the client
        // threads interleaved the load (a load by two threads
        // made home feeds cheaper than a load by one: commit
        // 9ee31e3).
        .chain((0..per_community).flat_map(move |j| {
            communities.clone().map(move |c| {
                let mut rng = stream(seed ^ c as u64, salt::SEED_POST, 1 << 40 | j as u64);
                Op::CreatePost {
                    author: plan.creator_of(CommunityId(c)),
                    community: CommunityId(c),
                    body: t.post_body(&mut rng),
                }
            })
        }))
}
