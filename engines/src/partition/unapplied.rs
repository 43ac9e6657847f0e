//! The acknowledgement of a write that is not applied: what the
//! `drop-writes` fault answers (a store that acknowledges a write before it
//! reaches its storage, then loses it).

use super::Partition;
use super::state::{POST_ITSELF, VoteKey};
use crate::api::{CommentId, DmId, Op, PostId, Reply, Response, Target, clamp_u32};

impl Partition {
    /// The reply a write would get if it were applied, computed without
    /// changing anything and without validating it: `Done` for the
    /// membership and registration ops; for a post, comment or DM the id the
    /// next one would get (so a later write reuses it, as after a real
    /// loss); for a vote the delta and score it would give. Invalid values
    /// are refused as [`Partition::apply`] refuses them. A read is not a
    /// write: `None`.
    pub fn acknowledge_unapplied(&self, op: &Op) -> Option<Response> {
        if let Err(e) = op.check_values() {
            return Some(Err(e));
        }
        Some(Ok(match *op {
            Op::Register { .. }
            | Op::CreateCommunity { .. }
            | Op::Join { .. }
            | Op::Leave { .. } => Reply::Done,
            Op::CreatePost { community, .. } => Reply::Posted(PostId {
                community,
                seq: self
                    .communities
                    .get(&community)
                    .map_or(0, |c| clamp_u32(c.posts.len())),
            }),
            Op::Comment { post, .. } => Reply::Commented(CommentId {
                post,
                seq: self
                    .post(post)
                    .ok()
                    .map_or(0, |p| clamp_u32(p.comments.len())),
            }),
            Op::Vote { voter, target, dir } => {
                let (post, comment) = match target {
                    Target::Post(p) => (p, POST_ITSELF),
                    Target::Comment(c) => (c.post, c.seq),
                };
                let key = VoteKey {
                    voter: voter.0,
                    community: post.community.0,
                    post: post.seq,
                    comment,
                };
                let old = self.votes.get(&key).copied().unwrap_or(0);
                let delta = dir.value() - old;
                let score = self.post(post).ok().map_or(0, |p| match target {
                    Target::Post(_) => p.score,
                    Target::Comment(c) => p.comments.get(c.seq as usize).map_or(0, |c| c.score),
                });
                Reply::Voted {
                    delta,
                    score: score + i64::from(delta),
                }
            }
            Op::SendDm { to, .. } => Reply::Sent(DmId {
                to,
                seq: self.users.get(&to).map_or(0, |u| clamp_u32(u.inbox.len())),
            }),
            _ => return None,
        }))
    }
}
