//! The binary form of a `LogEntry`: a tag byte, then fixed-width
//! little-endian fields (ids as `u32`, stamps as `u64`), bodies as a `u32`
//! length and their bytes (`bytes.rs`, shared with the snapshots). Hand-written rather than derived: a body's
//! bytes must round-trip exactly (the JSON form of [`crate::Body`] is
//! lossy), and the format is pinned by the tests below, not by a
//! dependency's version.

use super::LogEntry;
use crate::api::{Op, Target, UserId, VoteDir};
pub use crate::bytes::DecodeError;
use crate::bytes::{Reader, put_body, put_comment, put_post, put_u32, put_u64};
use crate::fault::OpFault;
use crate::partition::FollowUp;

/// Entry tags.
const OP: u8 = 1;
const FOLLOW_UP: u8 = 2;

/// Appends the encoding of `e` to `out`.
pub(crate) fn encode(e: &LogEntry, out: &mut Vec<u8>) {
    match e {
        LogEntry::Op { op, fault, stamps } => {
            out.push(OP);
            out.push(fault_byte(*fault));
            put_u64(out, stamps[0]);
            put_u64(out, stamps[1]);
            encode_op(op, out);
        }
        LogEntry::FollowUp(f) => {
            out.push(FOLLOW_UP);
            encode_follow_up(f, out);
        }
    }
}

/// Decodes one entry that fills `bytes` exactly.
pub(crate) fn decode(bytes: &[u8]) -> Result<LogEntry, DecodeError> {
    let mut r = Reader(bytes);
    let e = match r.u8()? {
        OP => {
            let fault = fault_of(r.u8()?)?;
            let stamps = [r.u64()?, r.u64()?];
            let op = decode_op(&mut r)?;
            LogEntry::Op { op, fault, stamps }
        }
        FOLLOW_UP => LogEntry::FollowUp(decode_follow_up(&mut r)?),
        _ => return Err(DecodeError("unknown entry tag")),
    };
    if !r.0.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(e)
}

/// Appends the head of an op entry applied under `fault`, its stamps zero
/// (the owner fills them in once the op has taken them), before
/// [`encode_op`].
pub(crate) fn encode_op_head(fault: OpFault, out: &mut Vec<u8>) {
    out.push(OP);
    out.push(fault_byte(fault));
    out.extend_from_slice(&[0; 16]);
}

fn fault_byte(f: OpFault) -> u8 {
    match f {
        OpFault::None => 0,
        OpFault::Panic => 1,
        OpFault::DropWrite => 2,
        OpFault::DuplicateWrite => 3,
    }
}

fn fault_of(b: u8) -> Result<OpFault, DecodeError> {
    Ok(match b {
        0 => OpFault::None,
        1 => OpFault::Panic,
        2 => OpFault::DropWrite,
        3 => OpFault::DuplicateWrite,
        _ => return Err(DecodeError("unknown fault")),
    })
}

/// Appends the encoding of a write.
pub(crate) fn encode_op(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::Register { user } => {
            out.push(0);
            put_u32(out, user.0);
        }
        Op::CreateCommunity { creator, community } => {
            out.push(1);
            put_u32(out, creator.0);
            put_u32(out, community.0);
        }
        Op::Join { user, community } => {
            out.push(2);
            put_u32(out, user.0);
            put_u32(out, community.0);
        }
        Op::Leave { user, community } => {
            out.push(3);
            put_u32(out, user.0);
            put_u32(out, community.0);
        }
        Op::CreatePost {
            author,
            community,
            body,
        } => {
            out.push(4);
            put_u32(out, author.0);
            put_u32(out, community.0);
            put_body(out, body.as_bytes());
        }
        Op::Comment {
            author,
            post,
            parent,
            body,
        } => {
            out.push(5);
            put_u32(out, author.0);
            put_post(out, *post);
            match parent {
                None => out.push(0),
                Some(c) => {
                    out.push(1);
                    put_comment(out, *c);
                }
            }
            put_body(out, body.as_bytes());
        }
        Op::Vote { voter, target, dir } => {
            out.push(6);
            put_u32(out, voter.0);
            match target {
                Target::Post(p) => {
                    out.push(0);
                    put_post(out, *p);
                }
                Target::Comment(c) => {
                    out.push(1);
                    put_comment(out, *c);
                }
            }
            out.push(match dir {
                VoteDir::Up => 0,
                VoteDir::Down => 1,
                VoteDir::Clear => 2,
            });
        }
        Op::SendDm { from, to, body } => {
            out.push(7);
            put_u32(out, from.0);
            put_u32(out, to.0);
            put_body(out, body.as_bytes());
        }
        // Reads change nothing and are never logged; a read here is a bug
        // of the caller, kept decodable as an entry that replays as a no-op.
        _ => out.push(u8::MAX),
    }
}

fn decode_op(r: &mut Reader<'_>) -> Result<Op, DecodeError> {
    Ok(match r.u8()? {
        0 => Op::Register { user: r.user()? },
        1 => Op::CreateCommunity {
            creator: r.user()?,
            community: r.community()?,
        },
        2 => Op::Join {
            user: r.user()?,
            community: r.community()?,
        },
        3 => Op::Leave {
            user: r.user()?,
            community: r.community()?,
        },
        4 => Op::CreatePost {
            author: r.user()?,
            community: r.community()?,
            body: r.body()?,
        },
        5 => {
            let author = r.user()?;
            let post = r.post()?;
            let parent = match r.u8()? {
                0 => None,
                1 => Some(r.comment()?),
                _ => return Err(DecodeError("bad parent tag")),
            };
            Op::Comment {
                author,
                post,
                parent,
                body: r.body()?,
            }
        }
        6 => {
            let voter = r.user()?;
            let target = match r.u8()? {
                0 => Target::Post(r.post()?),
                1 => Target::Comment(r.comment()?),
                _ => return Err(DecodeError("bad target tag")),
            };
            let dir = match r.u8()? {
                0 => VoteDir::Up,
                1 => VoteDir::Down,
                2 => VoteDir::Clear,
                _ => return Err(DecodeError("bad vote direction")),
            };
            Op::Vote { voter, target, dir }
        }
        7 => Op::SendDm {
            from: r.user()?,
            to: r.user()?,
            body: r.body()?,
        },
        u8::MAX => Op::GetProfile { user: UserId(0) },
        _ => return Err(DecodeError("unknown op tag")),
    })
}

fn encode_follow_up(f: &FollowUp, out: &mut Vec<u8>) {
    match *f {
        FollowUp::Subscribe { user, community } => {
            out.push(0);
            put_u32(out, user.0);
            put_u32(out, community.0);
        }
        FollowUp::Unsubscribe { user, community } => {
            out.push(1);
            put_u32(out, user.0);
            put_u32(out, community.0);
        }
        FollowUp::Deliver {
            user,
            post,
            created,
            floor,
        } => {
            out.push(2);
            put_u32(out, user.0);
            put_post(out, post);
            put_u64(out, created);
            out.push(u8::from(floor));
        }
        FollowUp::Celebrity { user, community } => {
            out.push(3);
            put_u32(out, user.0);
            put_u32(out, community.0);
        }
        FollowUp::Karma {
            user,
            post,
            comment,
        } => {
            out.push(4);
            put_u32(out, user.0);
            put_u64(out, post as u64);
            put_u64(out, comment as u64);
        }
    }
}

fn decode_follow_up(r: &mut Reader<'_>) -> Result<FollowUp, DecodeError> {
    Ok(match r.u8()? {
        0 => FollowUp::Subscribe {
            user: r.user()?,
            community: r.community()?,
        },
        1 => FollowUp::Unsubscribe {
            user: r.user()?,
            community: r.community()?,
        },
        2 => FollowUp::Deliver {
            user: r.user()?,
            post: r.post()?,
            created: r.u64()?,
            floor: match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError("bad floor flag")),
            },
        },
        3 => FollowUp::Celebrity {
            user: r.user()?,
            community: r.community()?,
        },
        4 => FollowUp::Karma {
            user: r.user()?,
            post: r.u64()? as i64,
            comment: r.u64()? as i64,
        },
        _ => return Err(DecodeError("unknown follow-up tag")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Body, CommentId, CommunityId, PostId};

    fn every_entry() -> Vec<LogEntry> {
        let post = PostId {
            community: CommunityId(7),
            seq: 3,
        };
        let comment = CommentId { post, seq: 9 };
        let ops = vec![
            Op::Register { user: UserId(1) },
            Op::CreateCommunity {
                creator: UserId(1),
                community: CommunityId(5),
            },
            Op::Join {
                user: UserId(2),
                community: CommunityId::profile(UserId(1)),
            },
            Op::Leave {
                user: UserId(2),
                community: CommunityId(5),
            },
            Op::CreatePost {
                author: UserId(1),
                community: CommunityId(5),
                body: Body::from(vec![0, 255, 10, 13, 0xC3]),
            },
            Op::Comment {
                author: UserId(3),
                post,
                parent: None,
                body: Body::from(""),
            },
            Op::Comment {
                author: UserId(3),
                post,
                parent: Some(comment),
                body: Body::from("re"),
            },
            Op::Vote {
                voter: UserId(4),
                target: Target::Post(post),
                dir: VoteDir::Down,
            },
            Op::Vote {
                voter: UserId(4),
                target: Target::Comment(comment),
                dir: VoteDir::Clear,
            },
            Op::SendDm {
                from: UserId(4),
                to: UserId(u32::MAX),
                body: Body::from("hi"),
            },
        ];
        let faults = [
            OpFault::None,
            OpFault::Panic,
            OpFault::DropWrite,
            OpFault::DuplicateWrite,
        ];
        let mut entries: Vec<LogEntry> = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| LogEntry::Op {
                op,
                fault: faults[i % 4],
                stamps: [i as u64, u64::MAX - i as u64],
            })
            .collect();
        let user = UserId(6);
        entries.extend(
            [
                FollowUp::Subscribe {
                    user,
                    community: CommunityId(5),
                },
                FollowUp::Unsubscribe {
                    user,
                    community: CommunityId(5),
                },
                FollowUp::Deliver {
                    user,
                    post,
                    created: 1 << 40,
                    floor: true,
                },
                FollowUp::Celebrity {
                    user,
                    community: CommunityId(5),
                },
                FollowUp::Karma {
                    user,
                    post: -3,
                    comment: i64::MIN,
                },
            ]
            .map(LogEntry::FollowUp),
        );
        entries
    }

    #[test]
    fn every_write_and_follow_up_round_trips_exactly() {
        for e in every_entry() {
            let mut bytes = Vec::new();
            encode(&e, &mut bytes);
            assert_eq!(decode(&bytes).as_ref(), Ok(&e), "{bytes:?}");
        }
    }

    #[test]
    fn a_cut_or_padded_payload_is_an_error_not_a_panic() {
        for e in every_entry() {
            let mut bytes = Vec::new();
            encode(&e, &mut bytes);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{e:?} cut at {cut}");
            }
            bytes.push(0);
            assert_eq!(decode(&bytes), Err(DecodeError("trailing bytes")));
        }
        assert!(decode(&[9]).is_err());
    }
}
