//! Reading the owned key space back: SCAN of the prefix on one node at a time,
//! each batch's keys fetched in one pipeline, folded into the partition's
//! audit aggregates and digest chains (so `digest()` equals the in-process
//! engines' for the same state). Also: the owned key count, whether any key
//! exists under a prefix, and deleting the owned keys.
//!
//! Everything here is O(keys under the prefix): meant for the start and end
//! of a run, never its hot loop.

use std::collections::{HashMap, HashSet};

use ::redis::{Connection, RedisResult, Value};

use crate::api::{CommentId, CommunityId, PostId, UserId};
use crate::audit::{Audit, pair_digest};
use crate::partition::Partition;

/// Keys asked for per SCAN step.
const SCAN_COUNT: usize = 1000;

/// Runs SCAN over `prefix*` on this node, handing each batch to `f` until it
/// returns false or the scan ends.
fn scan(
    conn: &mut Connection,
    prefix: &str,
    mut f: impl FnMut(&mut Connection, Vec<Vec<u8>>) -> RedisResult<bool>,
) -> RedisResult<()> {
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query(conn)?;
        if !keys.is_empty() && !f(conn, keys)? {
            return Ok(());
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Some key under `prefix` on this node, but not under `except` (when
/// given), if any.
pub(super) fn first_key(
    conn: &mut Connection,
    prefix: &str,
    except: Option<&str>,
) -> RedisResult<Option<String>> {
    let mut found = None;
    scan(conn, prefix, |_, keys| {
        found = keys
            .iter()
            .find(|k| except.is_none_or(|e| !k.starts_with(e.as_bytes())))
            .map(|k| String::from_utf8_lossy(k).into_owned());
        Ok(found.is_none())
    })?;
    Ok(found)
}

/// Keys under `prefix` on this node.
pub(super) fn count_keys(conn: &mut Connection, prefix: &str) -> RedisResult<u64> {
    let mut n = 0;
    scan(conn, prefix, |_, keys| {
        n += keys.len() as u64;
        Ok(true)
    })?;
    Ok(n)
}

/// Deletes the keys under `prefix` on this node (one UNLINK per key, pipelined:
/// a cluster refuses multi-key commands across slots).
pub(super) fn delete(conn: &mut Connection, prefix: &str) -> RedisResult<()> {
    scan(conn, prefix, |conn, keys| {
        let mut p = ::redis::pipe();
        for k in &keys {
            p.cmd("UNLINK").arg(k).ignore();
        }
        p.query::<()>(conn)?;
        Ok(true)
    })
}

/// One key of the layout (see `ops.lua`), parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    User(u32),
    Subs(u32),
    Inbox(u32),
    Meta(u32),
    Members(u32),
    Votes(u32),
    Post(u32, u32),
    Comment(u32, u32, u32),
    /// Ranking indexes and the clock: derived data, not read.
    Other,
}

fn num(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Parses `key` (without the prefix): `{u<id>}:<rest>` or `{c<id>}:<rest>`.
fn parse(key: &str) -> Option<Key> {
    let rest = key.strip_prefix('{')?;
    let close = rest.find('}')?;
    let (tag, rest) = (&rest[..close], rest[close + 1..].strip_prefix(':')?);
    let user = tag.strip_prefix('u').and_then(num);
    Some(match (user, rest) {
        (Some(u), "u") => Key::User(u),
        (Some(u), "s") => Key::Subs(u),
        (Some(u), "i") => Key::Inbox(u),
        _ => {
            let Some(c) = rest.strip_prefix('c') else {
                return Some(Key::Other);
            };
            let mut parts = c.split(':');
            let Some(cid) = parts.next().and_then(num) else {
                return Some(Key::Other);
            };
            match (parts.next(), parts.next(), parts.next()) {
                (Some("m"), None, None) => Key::Meta(cid),
                (Some("M"), None, None) => Key::Members(cid),
                (Some("v"), None, None) => Key::Votes(cid),
                (Some(p), None, None) if p.starts_with('p') => Key::Post(cid, num(&p[1..])?),
                (Some(p), Some(cs), None) if p.starts_with('p') && cs.starts_with('c') => {
                    Key::Comment(cid, num(&p[1..])?, num(&cs[1..])?)
                }
                _ => Key::Other,
            }
        }
    })
}

/// A hash reply as field -> value.
fn hash(v: Value) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut m = HashMap::new();
    match v {
        Value::Array(items) => {
            let mut it = items.into_iter();
            while let (Some(Value::BulkString(k)), Some(Value::BulkString(v))) =
                (it.next(), it.next())
            {
                m.insert(k, v);
            }
        }
        Value::Map(pairs) => {
            for (k, v) in pairs {
                if let (Value::BulkString(k), Value::BulkString(v)) = (k, v) {
                    m.insert(k, v);
                }
            }
        }
        _ => {}
    }
    m
}

fn field(h: &HashMap<Vec<u8>, Vec<u8>>, name: &str) -> i64 {
    h.get(name.as_bytes())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn list(v: Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) | Value::Set(items) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::BulkString(b) => Some(b),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The aggregates and digest of a dumped key space, folded as it is read.
#[derive(Debug, Default)]
pub(super) struct State {
    audit: Audit,
    digest: u64,
    /// Registered users.
    registered: Vec<u32>,
    /// Stored communities: creator.
    meta: HashMap<u32, u32>,
    /// Member set sizes.
    members: HashMap<u32, u32>,
}

impl State {
    fn add(&mut self, h: u64) {
        self.digest = self.digest.wrapping_add(h);
    }

    /// Adds one key of the dump, read as `v`, to the aggregates and the digest.
    fn fold(&mut self, key: Key, v: Value) {
        match key {
            Key::User(u) => self.fold_user(u, v),
            Key::Subs(u) => self.fold_subs(u, v),
            Key::Inbox(u) => self.fold_inbox(u, v),
            Key::Meta(c) => self.fold_meta(c, v),
            Key::Members(c) => self.fold_members(c, v),
            Key::Votes(c) => self.fold_votes(c, v),
            Key::Post(c, seq) => self.fold_post(c, seq, v),
            Key::Comment(c, seq, cs) => self.fold_comment(c, seq, cs, v),
            Key::Other => {}
        }
    }

    /// A user record: registration and karma.
    fn fold_user(&mut self, u: u32, v: Value) {
        let h = hash(v);
        let reg = field(&h, "reg") == 1;
        let (pk, ck) = (field(&h, "pk"), field(&h, "ck"));
        self.audit.karma_sum += pk + ck;
        if reg {
            self.audit.users += 1;
            self.registered.push(u);
        }
        if reg || pk != 0 || ck != 0 {
            self.add(Partition::digest_user(UserId(u), reg, pk, ck));
        }
    }

    /// A user's subscription counts.
    fn fold_subs(&mut self, u: u32, v: Value) {
        for (c, count) in hash(v) {
            let c = std::str::from_utf8(&c).ok().and_then(num);
            let count: i64 = std::str::from_utf8(&count)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let Some(c) = c else { continue };
            if count == 0 {
                continue;
            }
            let (user, community) = (UserId(u), CommunityId(c));
            if count > 0 {
                self.audit.subscriptions += 1;
            }
            self.audit.subscription_digest = self
                .audit
                .subscription_digest
                .wrapping_add(pair_digest(user, community).wrapping_mul(count as u64));
            self.add(Partition::digest_subscription(
                user,
                community,
                count as i32,
            ));
        }
    }

    /// A user's inbox, oldest first.
    fn fold_inbox(&mut self, u: u32, v: Value) {
        for (seq, e) in list(v).into_iter().enumerate() {
            let at = e.iter().position(|&b| b == b':').unwrap_or(0);
            let from = std::str::from_utf8(&e[..at])
                .ok()
                .and_then(num)
                .unwrap_or(0);
            self.audit.dms += 1;
            self.add(Partition::digest_dm(
                UserId(u),
                seq as u32,
                UserId(from),
                &e[(at + 1).min(e.len())..],
            ));
        }
    }

    /// A community's record: its creator.
    fn fold_meta(&mut self, c: u32, v: Value) {
        let h = hash(v);
        self.meta.insert(c, field(&h, "cr") as u32);
        if !CommunityId(c).is_profile() {
            self.audit.communities += 1;
        }
    }

    /// A community's member set.
    fn fold_members(&mut self, c: u32, v: Value) {
        let ms = list(v);
        self.members.insert(c, ms.len() as u32);
        self.audit.memberships += ms.len() as u64;
        for m in ms {
            let Some(m) = std::str::from_utf8(&m).ok().and_then(num) else {
                continue;
            };
            let (user, community) = (UserId(m), CommunityId(c));
            self.audit.membership_digest = self
                .audit
                .membership_digest
                .wrapping_add(pair_digest(user, community));
            self.add(Partition::digest_membership(community, user));
        }
    }

    /// The votes under a community, by (voter, post seq, target).
    fn fold_votes(&mut self, c: u32, v: Value) {
        for (f, val) in hash(v) {
            let f = String::from_utf8_lossy(&f).into_owned();
            let mut parts = f.split(':');
            let (Some(voter), Some(seq), Some(target)) = (
                parts.next().and_then(num),
                parts.next().and_then(num),
                parts.next(),
            ) else {
                continue;
            };
            let value: i64 = std::str::from_utf8(&val)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let comment = if target == "p" { None } else { num(target) };
            let post = PostId {
                community: CommunityId(c),
                seq,
            };
            self.add(Partition::digest_vote(
                UserId(voter),
                post,
                comment,
                value as i8,
            ));
        }
    }

    /// A post's record, its body included.
    fn fold_post(&mut self, c: u32, seq: u32, v: Value) {
        let h = hash(v);
        let score = field(&h, "s");
        self.audit.posts += 1;
        self.audit.score_sum += score;
        let body = h.get(b"b".as_slice()).map_or(&[][..], |b| b.as_slice());
        self.add(Partition::digest_post(
            PostId {
                community: CommunityId(c),
                seq,
            },
            UserId(field(&h, "a") as u32),
            score,
            field(&h, "t") as u64,
            field(&h, "n") as u32,
            body,
        ));
    }

    /// A comment's record, its body included.
    fn fold_comment(&mut self, c: u32, seq: u32, cs: u32, v: Value) {
        let h = hash(v);
        let score = field(&h, "s");
        self.audit.comments += 1;
        self.audit.score_sum += score;
        let parent = u32::try_from(field(&h, "p")).ok();
        let body = h.get(b"b".as_slice()).map_or(&[][..], |b| b.as_slice());
        let id = CommentId {
            post: PostId {
                community: CommunityId(c),
                seq,
            },
            seq: cs,
        };
        self.add(Partition::digest_comment(
            id,
            UserId(field(&h, "a") as u32),
            parent,
            score,
            body,
        ));
    }

    /// The audit aggregates (profiles' implicit owner memberships added).
    pub(super) fn audit(&self) -> Audit {
        let mut a = self.audit;
        for &u in &self.registered {
            let user = UserId(u);
            a.memberships += 1;
            a.membership_digest = a
                .membership_digest
                .wrapping_add(pair_digest(user, CommunityId::profile(user)));
        }
        a
    }

    /// The digest: the folded chains plus communities (which need their
    /// member counts) and registered users' implicit profiles.
    pub(super) fn digest(&self) -> u64 {
        let mut d = self.digest;
        let stored: HashSet<u32> = self.meta.keys().copied().collect();
        for (&c, &creator) in &self.meta {
            let id = CommunityId(c);
            let members = self.members.get(&c).copied().unwrap_or(0) + u32::from(id.is_profile());
            d = d.wrapping_add(Partition::digest_community(id, UserId(creator), members));
        }
        for &u in &self.registered {
            let user = UserId(u);
            let profile = CommunityId::profile(user);
            d = d.wrapping_add(Partition::digest_membership(profile, user));
            if !stored.contains(&profile.0) {
                d = d.wrapping_add(Partition::digest_community(profile, user, 1));
            }
        }
        d
    }
}

/// Reads every key under `prefix` on this node into `state`.
pub(super) fn read(conn: &mut Connection, prefix: &str, state: &mut State) -> RedisResult<()> {
    scan(conn, prefix, |conn, keys| {
        let mut wanted = Vec::with_capacity(keys.len());
        let mut p = ::redis::pipe();
        for k in &keys {
            let Some(name) = std::str::from_utf8(k)
                .ok()
                .and_then(|s| s.strip_prefix(prefix))
            else {
                continue;
            };
            let key = parse(name).unwrap_or(Key::Other);
            match key {
                Key::Other => continue,
                Key::Members(_) => p.cmd("SMEMBERS").arg(k),
                Key::Inbox(_) => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                _ => p.cmd("HGETALL").arg(k),
            };
            wanted.push(key);
        }
        if wanted.is_empty() {
            return Ok(true);
        }
        let values: Vec<Value> = p.query(conn)?;
        for (key, v) in wanted.into_iter().zip(values) {
            state.fold(key, v);
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_into_the_layout() {
        assert_eq!(parse("{u7}:u"), Some(Key::User(7)));
        assert_eq!(parse("{u7}:s"), Some(Key::Subs(7)));
        assert_eq!(parse("{u7}:i"), Some(Key::Inbox(7)));
        assert_eq!(parse("{u7}:c2147483655:m"), Some(Key::Meta(2147483655)));
        assert_eq!(parse("{c3}:c3:M"), Some(Key::Members(3)));
        assert_eq!(parse("{c3}:c3:v"), Some(Key::Votes(3)));
        assert_eq!(parse("{c3}:c3:p12"), Some(Key::Post(3, 12)));
        assert_eq!(parse("{c3}:c3:p12:c4"), Some(Key::Comment(3, 12, 4)));
        assert_eq!(parse("{c3}:c3:h"), Some(Key::Other));
        assert_eq!(parse("{g}:clock"), Some(Key::Other));
    }
}
