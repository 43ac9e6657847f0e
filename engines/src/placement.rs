//! Where an entity lives: the partition of a user or a community, computed
//! from its id alone so any engine routes without a lookup.
//!
//! Placement hashes the id (Fibonacci hashing) and takes it modulo the
//! partition count, as the Erlang microblog hash-partitions users over its
//! servers (`erlang:phash2`). Hashing rather than `id % P` keeps placement
//! independent of how the workload numbers its popular entities. A profile
//! community lives with its owner, so Register, posting to one's own profile,
//! reading one's inbox and one's follower count are all local.

use crate::api::{CommunityId, Home, UserId};

fn spread(x: u32, count: usize) -> usize {
    // Fibonacci hashing: multiply by 2^64/phi, keep the high bits, then reduce.
    let h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (h % count as u64) as usize
}

/// The partition (0..count) that owns `user`'s data.
pub fn user_partition(user: UserId, count: usize) -> usize {
    spread(user.0, count)
}

/// The partition (0..count) that owns `community`; a profile lives with its owner.
pub fn community_partition(community: CommunityId, count: usize) -> usize {
    match community.profile_owner() {
        Some(owner) => user_partition(owner, count),
        // Offset so that community c and user c do not always collide.
        None => spread(community.0 ^ 0x5bd1_e995, count),
    }
}

/// The partition that owns an op's home entity.
pub fn home_partition(home: Home, count: usize) -> usize {
    match home {
        Home::User(u) => user_partition(u, count),
        Home::Community(c) => community_partition(c, count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_live_with_their_owner() {
        for p in [1, 2, 3, 8, 64] {
            for u in 0..1000 {
                let u = UserId(u);
                assert_eq!(
                    community_partition(CommunityId::profile(u), p),
                    user_partition(u, p)
                );
            }
        }
    }

    #[test]
    fn dense_ids_spread_evenly() {
        let p = 8;
        let mut n = [0usize; 8];
        for u in 0..80_000 {
            n[user_partition(UserId(u), p)] += 1;
        }
        for c in n {
            assert!((9_000..11_000).contains(&c), "unbalanced: {n:?}");
        }
    }
}
