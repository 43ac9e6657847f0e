//! What a partition holds, entity by entity, for the per-entity audit
//! ([`crate::audit::entities`]).

use rustc_hash::FxHashMap;

use super::Partition;
use crate::api::{CommunityId, PostId, UserId};
use crate::audit::{CommunityRecord, Entities, PostRecord, UserRecord};

impl Partition {
    /// Every registered user, community (the implicit profiles of the
    /// registered users included) and post here, with the values the audit
    /// checks. O(state); meant for the end of a run.
    pub fn entities(&self) -> Entities {
        let mut e = Entities::default();
        // Subscription counts other than 1 (only a lost or doubled
        // follow-up makes them) move the weighted sum of their user.
        let mut odd: FxHashMap<UserId, i64> = FxHashMap::default();
        for (&k, &count) in &self.odd_subs {
            let user = UserId((k >> 32) as u32);
            // A positive count is also one entry of the user's `subs`.
            let extra = if count > 0 { count - 1 } else { count };
            *odd.entry(user).or_default() += i64::from(extra);
        }
        for (&id, u) in &self.users {
            if !u.registered {
                continue;
            }
            e.users.push(UserRecord {
                id,
                post_karma: u.post_karma,
                comment_karma: u.comment_karma,
                inbox: crate::api::clamp_u32(u.inbox.len()),
                subscriptions: u.subs.len() as i64 + odd.get(&id).copied().unwrap_or(0),
            });
            let profile = CommunityId::profile(id);
            if !self.communities.contains_key(&profile) {
                e.communities.push(CommunityRecord {
                    id: profile,
                    posts: 0,
                    members: 1,
                });
            }
        }
        for (&community, c) in &self.communities {
            e.communities.push(CommunityRecord {
                id: community,
                posts: crate::api::clamp_u32(c.posts.len()),
                members: c.member_count(community),
            });
            for (seq, p) in c.posts.iter().enumerate() {
                e.posts.push(PostRecord {
                    id: PostId {
                        community,
                        seq: seq as u32,
                    },
                    author: p.author,
                    score: p.score,
                    comments: crate::api::clamp_u32(p.comments.len()),
                    created: p.created,
                });
            }
        }
        e.timelines = self.timeline_records();
        e
    }
}
