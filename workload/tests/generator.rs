//! Simulated users: roles, op mix, determinism, validity against a partition.

mod common;

use std::collections::VecDeque;

use common::{actor, apply, fake_reply, loaded, small};
use socialbench_engines::{Op, OpKind, UserId};
use socialbench_workload::{Action, Asked, Generator, Role, Scenario, Workload};

#[test]
fn role_shares_match_the_scenario() {
    let w = small("reddit", 200_000, 11);
    let mut n = [0u32; 3];
    for u in 0..200_000 {
        n[w.role_of(UserId(u)) as usize] += 1;
    }
    // Binomial sd of a 1% share over 200k users is 2.2e-4: 5 sd = 0.0011.
    for (got, want) in n.iter().zip([0.01, 0.09, 0.90]) {
        let share = *got as f64 / 200_000.0;
        let sd = (want * (1.0 - want) / 200_000.0f64).sqrt();
        assert!((share - want).abs() < 5.0 * sd, "{n:?}");
    }
}

/// Runs `ops` ops of `w` on `threads` generators round robin, fake replies.
fn run_fake(w: &Workload, threads: usize, ops: usize) -> Vec<(Role, Asked, Op)> {
    let mut gens: Vec<_> = (0..threads).map(|t| w.generator(t, threads)).collect();
    let mut out = Vec::with_capacity(ops);
    for i in 0..ops {
        let g = &mut gens[i % threads];
        let (token, op) = g.next_op();
        g.on_reply(token, &fake_reply(&op));
        out.push((g.role_of(token), g.asked(token).unwrap(), op));
    }
    out
}

#[test]
fn generated_bodies_borrow_the_corpus_except_reposts() {
    // Making an op allocates nothing for its body: posts, comments, DMs and
    // search terms borrow the corpus; only a repost's prefixed body is new.
    let mut checked = 0;
    for preset in Scenario::PRESETS {
        let w = small(preset, 2_000, 5);
        for (_, asked, op) in run_fake(&w, 2, 20_000) {
            let body = match &op {
                Op::CreatePost { body, .. } | Op::Comment { body, .. } => body,
                Op::SendDm { body, .. } | Op::Search { term: body, .. } => body,
                _ => continue,
            };
            let repost = asked == Asked::Action(Action::Repost);
            assert_eq!(body.is_owned(), repost, "{preset}: {op:?}");
            checked += 1;
        }
    }
    assert!(checked > 1_000, "only {checked} bodies");
}

#[test]
fn each_role_follows_its_restricted_mix() {
    let mut s = Scenario::reddit().with_users(2_000);
    s.invalid.share = 0.0;
    let w = Workload::new(s.clone(), 5).unwrap();
    // Warm up so users have seen feeds (no fallbacks), then count 300k ops.
    let ops = run_fake(&w, 1, 340_000).split_off(40_000);
    for role in Role::ALL {
        let total: f64 = Action::ALL.iter().map(|&a| s.role_weight(role, a)).sum();
        let mine: Vec<_> = ops.iter().filter(|(r, _, _)| *r == role).collect();
        let n = mine.len() as f64;
        assert!(n > 1000.0, "{role:?}: {n}");
        for a in Action::ALL {
            let want = s.role_weight(role, a) / total;
            let got = mine
                .iter()
                .filter(|(_, x, _)| *x == Asked::Action(a))
                .count() as f64
                / n;
            // 5 binomial sd, plus 0.2% for the odd cold user's fallback read.
            let tol = 5.0 * (want * (1.0 - want) / n).sqrt() + 0.002;
            assert!((got - want).abs() < tol, "{role:?} {a:?}: {got} vs {want}");
        }
    }
    // Lurkers never write but for joins.
    for (r, _, op) in &ops {
        if *r == Role::Lurker {
            assert!(!op.kind().is_write() || op.kind() == OpKind::Join, "{op:?}");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_ops_and_another_seed_does_not() {
    for preset in Scenario::PRESETS {
        let a = run_fake(&small(preset, 3_000, 9), 3, 20_000);
        let b = run_fake(&small(preset, 3_000, 9), 3, 20_000);
        let c = run_fake(&small(preset, 3_000, 10), 3, 20_000);
        assert!(a == b, "{preset}: same seed, different ops");
        assert!(a != c, "{preset}: different seeds, same ops");
    }
}

#[test]
fn load_is_deterministic_and_partitioned_over_threads() {
    let w = small("microblog", 2_000, 3);
    let w2 = small("microblog", 2_000, 3);
    for stage in 0..w.load_stages() {
        let one: Vec<Op> = w.load_ops(stage, 0, 1).collect();
        let again: Vec<Op> = w2.load_ops(stage, 0, 1).collect();
        assert_eq!(one, again);
        let mut split: Vec<Op> = (0..4).flat_map(|t| w.load_ops(stage, t, 4)).collect();
        let mut sorted = one.clone();
        let key = |o: &Op| format!("{o:?}");
        split.sort_by_key(key);
        sorted.sort_by_key(key);
        assert_eq!(
            split, sorted,
            "stage {stage}: threads split the ops differently"
        );
    }
    assert!(w.load_ops(w.load_stages(), 0, 1).next().is_none());
}

/// Seed posts go round-robin over the communities: every community's k-th
/// seed post is sent before any community's (k+1)-th, so post age does not
/// follow community id (which made home feeds over id-sorted subscriptions
/// visit every community's whole kept set, and the cost depend on threads).
#[test]
fn seed_posts_interleave_communities_in_every_thread() {
    let w = small("reddit", 3_000, 5);
    for threads in [1, 2] {
        for t in 0..threads {
            let mut seen = std::collections::HashMap::new();
            let mut rounds = Vec::new();
            for op in w.load_ops(2, t, threads) {
                if let Op::CreatePost { community, .. } = op
                    && !community.is_profile()
                {
                    let k = seen.entry(community).or_insert(0u32);
                    rounds.push(*k);
                    *k += 1;
                }
            }
            assert!(
                seen.len() > 1,
                "thread {t} of {threads}: {} communities",
                seen.len()
            );
            assert!(
                rounds.len() > seen.len(),
                "several seed posts per community"
            );
            assert!(
                rounds.windows(2).all(|r| r[0] <= r[1]),
                "thread {t} of {threads}: a community's (k+1)-th seed post came before another's k-th"
            );
        }
    }
}

#[test]
fn every_load_op_succeeds_against_an_empty_partition() {
    for preset in Scenario::PRESETS {
        for threads in [1, 3] {
            let w = small(preset, 3_000, 21);
            loaded(&w, threads);
        }
    }
    // A tiny population where the one creator owns every community.
    let mut s = Scenario::reddit();
    s.users = 120;
    s.communities = 4;
    loaded(&Workload::new(s, 2).unwrap(), 2);
}

#[test]
fn microblog_and_messenger_follows_are_mutual() {
    for preset in ["microblog", "messenger"] {
        let w = small(preset, 5_000, 4);
        let mut edges = 0;
        for u in 0..5_000 {
            for &v in w.follows(UserId(u)) {
                assert_ne!(v, u);
                assert!(
                    w.follows(UserId(v)).contains(&u),
                    "{preset}: {u}->{v} not mutual"
                );
                edges += 1;
            }
        }
        // About 10 friends each (5 drawn, returned, minus coincidences).
        let mean = edges as f64 / 5_000.0;
        assert!(
            (8.0..=10.0).contains(&mean),
            "{preset}: mean friends {mean}"
        );
    }
}

/// Drives `w` against one partition with `inflight` ops outstanding per
/// generator and replies delivered out of order; returns per token class
/// (deliberately invalid or not) the (ops, errors) counts.
fn drive(w: &Workload, threads: usize, inflight: usize, ops: usize) -> ([usize; 2], [usize; 2]) {
    let mut p = loaded(w, threads);
    let mut f = Vec::new();
    let mut gens: Vec<_> = (0..threads).map(|t| w.generator(t, threads)).collect();
    let mut queues: Vec<VecDeque<_>> = vec![VecDeque::new(); threads];
    let (mut count, mut errors) = ([0; 2], [0; 2]);
    let users = w.scenario.users;
    for i in 0..ops {
        let t = i % threads;
        let (token, op) = gens[t].next_op();
        if let Some(u) = actor(&op) {
            assert!(u.0 < users, "unknown acting user in {op:?}");
        }
        let shown = format!("{op:?}");
        let r = apply(&mut p, op, &mut f);
        let class = usize::from(Generator::is_invalid(token));
        count[class] += 1;
        if r.is_err() {
            errors[class] += 1;
        } else {
            assert_eq!(class, 0, "deliberately invalid op accepted: {shown}");
        }
        queues[t].push_back((token, r));
        if queues[t].len() >= inflight {
            // Out of order: answer the newest or the oldest, alternately.
            let (token, r) = if i % 2 == 0 {
                queues[t].pop_back().unwrap()
            } else {
                queues[t].pop_front().unwrap()
            };
            gens[t].on_reply(token, &r);
        }
    }
    (count, errors)
}

#[test]
fn invalid_requests_are_refused_and_valid_ones_mostly_succeed() {
    for preset in Scenario::PRESETS {
        let mut s = Scenario::preset(preset).unwrap().with_users(3_000);
        s.invalid.share = 0.05;
        let w = Workload::new(s, 8).unwrap();
        let (count, errors) = drive(&w, 2, 8, 40_000);
        assert!(count[1] > 1_000, "{preset}: {count:?}");
        assert_eq!(
            errors[1], count[1],
            "{preset}: every invalid op must be refused"
        );
        // Valid ops: only races of a user's overlapping ops and joins of a
        // community joined earlier may be refused.
        let share = errors[0] as f64 / count[0] as f64;
        assert!(share < 0.01, "{preset}: {share} of valid ops refused");
    }
}

#[test]
fn with_one_op_in_flight_valid_ops_never_fail_but_rejoins() {
    for preset in Scenario::PRESETS {
        let mut s = Scenario::preset(preset).unwrap().with_users(2_000);
        s.invalid.share = 0.0;
        let w = Workload::new(s, 12).unwrap();
        let mut p = loaded(&w, 1);
        let mut f = Vec::new();
        let mut g = w.generator(0, 1);
        for _ in 0..30_000 {
            let (token, op) = g.next_op();
            let shown = format!("{op:?}");
            let r = apply(&mut p, op, &mut f);
            if let Err(e) = &r {
                assert!(
                    matches!(e, socialbench_engines::ApiError::AlreadyMember),
                    "{preset}: {shown} -> {e:?}"
                );
            }
            g.on_reply(token, &r);
        }
    }
}

#[test]
fn threads_share_the_users_without_overlap() {
    let w = small("reddit", 1_000, 2);
    let mut seen = vec![usize::MAX; 1_000];
    for t in 0..3 {
        let mut g = w.generator(t, 3);
        assert!((333..=334).contains(&g.users()));
        for _ in 0..5_000 {
            let (token, _) = g.next_op();
            let u = g.user_of(token).0 as usize;
            assert_eq!(u % 3, t);
            assert!(seen[u] == usize::MAX || seen[u] == t);
            seen[u] = t;
        }
    }
    // More threads than users: still a user each.
    let w = small("chat", 2, 2);
    let mut g = w.generator(5, 8);
    let (token, _) = g.next_op();
    assert!(g.user_of(token).0 < 2);
}

#[test]
fn acting_users_follow_zipf_over_ids_within_each_thread() {
    // Activity rank is the user id: thread 1 of 2 simulates users 1, 3, 5,
    // ... and picks them with the exact conditional Zipf law of those ranks.
    let users = 2_000u32;
    let s = Scenario::reddit().with_users(users);
    let exponent = s.zipf.user_activity;
    let w = Workload::new(s, 6).unwrap();
    let mut g = w.generator(1, 2);
    let ops = 300_000u64;
    let mut counts = vec![0u64; users as usize / 2];
    for _ in 0..ops {
        let (token, op) = g.next_op();
        g.on_reply(token, &fake_reply(&op));
        let u = g.user_of(token).0;
        assert_eq!(u % 2, 1);
        counts[u as usize / 2] += 1;
    }
    let weights: Vec<f64> = (0..users / 2)
        .map(|i| ((2 * i + 2) as f64).powf(-exponent))
        .collect();
    let total: f64 = weights.iter().rev().sum();
    // Pearson's chi-square over bins of consecutive ranks holding >= 50
    // expected ops; threshold df + 6 sqrt(2 df).
    let (mut stat, mut df) = (0.0, 0usize);
    let (mut obs, mut exp) = (0.0, 0.0);
    for (c, w) in counts.iter().zip(&weights) {
        obs += *c as f64;
        exp += w / total * ops as f64;
        if exp >= 50.0 {
            stat += (obs - exp) * (obs - exp) / exp;
            df += 1;
            (obs, exp) = (0.0, 0.0);
        }
    }
    df -= 1;
    let limit = df as f64 + 6.0 * (2.0 * df as f64).sqrt();
    assert!(stat < limit, "chi2={stat:.1} df={df} limit={limit:.1}");
    // The busiest user (id 1) is the one of rank 1.
    let max = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .unwrap()
        .0;
    assert_eq!(max, 0);
}

/// A user with no community at load posts only into the last community
/// whose creation was acknowledged with a bare `Done`: the one reply that
/// `on_reply` must not skip. Without it every post would go to a profile.
#[test]
fn a_done_to_a_creation_makes_the_community_one_to_post_in() {
    let mut s = Scenario::preset("reddit").unwrap().with_users(50);
    s.population.memberships_per_user = 0;
    s.invalid.share = 0.0;
    s.reads.posts_to_profile = 0.0;
    s.roles.creator.share = 1.0;
    s.roles.contributor.share = 0.0;
    s.roles.lurker.share = 0.0;
    s.roles.creator.actions = vec![Action::CreateCommunity, Action::Post];
    s.mix = socialbench_workload::Mix {
        create_community: 0.2,
        post: 0.8,
        ..socialbench_workload::Mix::default()
    };
    let w = Workload::new(s, 5).unwrap();
    let mut g = w.generator(0, 1);
    let done = Ok(socialbench_engines::Reply::Done);
    let mut acked = std::collections::HashMap::new();
    let (mut creations, mut into_acked) = (0, 0);
    for _ in 0..20_000 {
        let (token, op) = g.next_op();
        match op {
            Op::CreateCommunity { creator, community } => {
                // Every other creation's reply is lost: an unacknowledged
                // community must not be posted into.
                creations += 1;
                if creations % 2 == 0 {
                    acked.insert(creator, community);
                    g.on_reply(token, &done);
                }
            }
            Op::CreatePost {
                author, community, ..
            } if !community.is_profile() => {
                assert_eq!(acked.get(&author), Some(&community), "{author:?}");
                into_acked += 1;
                g.on_reply(token, &done);
            }
            _ => g.on_reply(token, &done),
        }
    }
    assert!(
        into_acked > 1_000,
        "{into_acked} posts into created communities"
    );
}
