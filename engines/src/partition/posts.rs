//! Posts, comments and votes: the ops that live under a community's posts.

use super::ranking::hot_key;
use super::state::{Comment, Community, POST_ITSELF, Post, VoteKey, summary};
use super::{FollowUp, Partition};
use crate::api::{
    ApiError, Body, CommentId, CommentSummary, CommunityId, PostId, PostView, Reply, Response,
    Target, UserId, VoteDir, clamp_u32,
};

impl Partition {
    pub(super) fn create_post(
        &mut self,
        author: UserId,
        community: CommunityId,
        body: Body,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let c = match community.profile_owner() {
            Some(owner) => {
                if !self.communities.contains_key(&community)
                    && !self.is_implicit_profile(community)
                {
                    return Err(ApiError::UnknownCommunity);
                }
                if owner != author {
                    return Err(ApiError::Forbidden);
                }
                // A profile's first post stores it.
                self.communities
                    .entry(community)
                    .or_insert_with(|| Community::profile(owner))
            }
            None => {
                let c = self
                    .communities
                    .get_mut(&community)
                    .ok_or(ApiError::UnknownCommunity)?;
                if !c.is_member(community, author) {
                    return Err(ApiError::NotMember);
                }
                c
            }
        };
        let seq = clamp_u32(c.posts.len());
        let created = self.stamps.next(&self.clock);
        c.hot.insert(hot_key(0, created), seq);
        c.top.insert(0, seq);
        self.totals.posts += 1;
        self.totals.post_bytes += body.len() as u64;
        c.posts.push(Post {
            author,
            score: 0,
            created,
            body: body.into_boxed(),
            comments: Vec::new(),
        });
        if self.feeds.pushes() {
            self.push_post(community, seq, created, follow_ups);
        }
        Ok(Reply::Posted(PostId { community, seq }))
    }

    pub(super) fn post(&self, id: PostId) -> Result<&Post, ApiError> {
        self.communities
            .get(&id.community)
            .and_then(|c| c.posts.get(id.seq as usize))
            .ok_or(ApiError::UnknownPost)
    }

    pub(super) fn comment(
        &mut self,
        author: UserId,
        post: PostId,
        parent: Option<CommentId>,
        body: Body,
    ) -> Response {
        let p = self
            .communities
            .get_mut(&post.community)
            .and_then(|c| c.posts.get_mut(post.seq as usize))
            .ok_or(ApiError::UnknownPost)?;
        let parent = match parent {
            None => None,
            Some(pc) if pc.post == post && (pc.seq as usize) < p.comments.len() => Some(pc.seq),
            Some(_) => return Err(ApiError::UnknownComment),
        };
        let seq = clamp_u32(p.comments.len());
        self.totals.comments += 1;
        self.totals.comment_bytes += body.len() as u64;
        p.comments.push(Comment {
            author,
            parent,
            score: 0,
            body: body.into_boxed(),
        });
        Ok(Reply::Commented(CommentId { post, seq }))
    }

    pub(super) fn vote(
        &mut self,
        voter: UserId,
        target: Target,
        dir: VoteDir,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Response {
        let (post_id, comment_seq) = match target {
            Target::Post(p) => (p, None),
            Target::Comment(c) => (c.post, Some(c.seq)),
        };
        let c = self
            .communities
            .get_mut(&post_id.community)
            .ok_or(ApiError::UnknownPost)?;
        let seq = post_id.seq;
        let p = c.posts.get_mut(seq as usize).ok_or(ApiError::UnknownPost)?;
        if let Some(cs) = comment_seq
            && cs as usize >= p.comments.len()
        {
            return Err(ApiError::UnknownComment);
        }
        let key = VoteKey {
            voter: voter.0,
            community: post_id.community.0,
            post: seq,
            comment: comment_seq.unwrap_or(POST_ITSELF),
        };
        let new = dir.value();
        let old = if new == 0 {
            self.votes.remove(&key).unwrap_or(0)
        } else {
            self.votes.insert(key, new).unwrap_or(0)
        };
        let delta = new - old;
        let score = match comment_seq {
            None => {
                let old_score = p.score;
                p.score += delta as i64;
                if delta != 0 {
                    let (old_hot, new_hot) =
                        (hot_key(old_score, p.created), hot_key(p.score, p.created));
                    c.hot.rekey(old_hot, new_hot, seq);
                    c.top.rekey(old_score, p.score, seq);
                    follow_ups.push(FollowUp::Karma {
                        user: p.author,
                        post: delta as i64,
                        comment: 0,
                    });
                }
                p.score
            }
            Some(cs) => {
                // Bounds checked above.
                let cm = &mut p.comments[cs as usize];
                cm.score += delta as i64;
                if delta != 0 {
                    follow_ups.push(FollowUp::Karma {
                        user: cm.author,
                        post: 0,
                        comment: delta as i64,
                    });
                }
                cm.score
            }
        };
        Ok(Reply::Voted { delta, score })
    }

    /// Reads a post with its `comments` best comments (score descending, ties
    /// older first). `comments` may be 0..=[`crate::api::MAX_LIMIT`]. Selecting them scans
    /// every comment of the post (O(n log k)): comment listings are read far
    /// less often than feeds, and a per-post comment index would cost every
    /// comment vote two index updates.
    pub(super) fn get_post(&self, id: PostId, comments: u16) -> Response {
        let p = self.post(id)?;
        let k = comments as usize;
        let mut top: Vec<CommentSummary> = Vec::with_capacity(k.min(p.comments.len()));
        if k > 0 {
            for (seq, cm) in p.comments.iter().enumerate() {
                if top.len() == k && top.last().is_some_and(|last| cm.score <= last.score) {
                    continue;
                }
                // After every kept comment with a score >= this one: older ties first.
                let at = top.partition_point(|t| t.score >= cm.score);
                if top.len() == k {
                    top.pop();
                }
                top.insert(
                    at,
                    CommentSummary {
                        id: CommentId {
                            post: id,
                            seq: seq as u32,
                        },
                        author: cm.author,
                        parent: cm.parent.map(|s| CommentId { post: id, seq: s }),
                        score: cm.score,
                    },
                );
            }
        }
        Ok(Reply::Post(Box::new(PostView {
            post: summary(id.community, id.seq, p),
            body: Body::from(p.body.clone()),
            top_comments: top,
        })))
    }
}
