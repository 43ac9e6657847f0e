//! The ledger of acknowledged writes a durable run leaves beside its logs
//! (`acked.ledger` in the data dir), so that `run --recover` can audit a
//! recovered state: the logs say what the engine kept, the ledger what its
//! clients were told it kept. It holds the merged [`WriteTally`] and, when
//! the run audited entity by entity, every acknowledged write.
//!
//! # The file
//! The log header's magic (with its own version byte) and identity, the
//! tally's eight counters, a flag for the entity log, then one record per
//! acknowledged write (a tag byte and its ids, little-endian), and a CRC32
//! of everything before it. It is written to a temporary file and renamed,
//! so a run cut off while saving leaves the previous ledger or none, never
//! half of one.

use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::api::{CommentId, CommunityId, DmId, PostId, Target, UserId};
use crate::audit::{AckLog, Acked, WriteTally};

use super::WalError;

/// Magic of a ledger file (format version in the last byte).
const MAGIC: &[u8; 8] = b"SBACK\0\0\x01";

/// The ledger's file name in a data dir.
pub const LEDGER_FILE: &str = "acked.ledger";

/// The acknowledged writes of the runs that wrote a data dir's logs.
#[derive(Clone, Debug, Default)]
pub struct SavedLedger {
    /// Every acknowledged write, counted.
    pub tally: WriteTally,
    /// Every acknowledged write, one by one (`None`: a run audited by sums
    /// only kept no list, so the entities cannot be checked against it).
    pub log: Option<AckLog>,
}

/// The ledger's path in `dir`.
pub fn ledger_path(dir: &Path) -> PathBuf {
    dir.join(LEDGER_FILE)
}

impl SavedLedger {
    /// Writes the ledger to `dir` (atomically: a temporary file renamed),
    /// stamped with the logs' `identity`.
    pub fn save<'a>(
        dir: &Path,
        identity: &str,
        tally: &WriteTally,
        log: Option<impl Iterator<Item = Acked> + 'a>,
    ) -> Result<(), WalError> {
        let path = ledger_path(dir);
        let tmp = dir.join(format!("{LEDGER_FILE}.tmp"));
        let file = fs::File::create(&tmp).map_err(WalError::io(&tmp))?;
        let mut w = Crc {
            inner: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
        };
        let body = || -> io::Result<()> {
            w.write_all(MAGIC)?;
            w.write_all(&(identity.len() as u32).to_le_bytes())?;
            w.write_all(identity.as_bytes())?;
            for v in [
                tally.users,
                tally.communities,
                tally.posts,
                tally.comments,
                tally.dms,
                tally.vote_delta_sum as u64,
                tally.joins,
                tally.leaves,
            ] {
                w.write_all(&v.to_le_bytes())?;
            }
            w.write_all(&[log.is_some() as u8])?;
            if let Some(log) = log {
                let mut rec = Vec::with_capacity(32);
                for a in log {
                    rec.clear();
                    encode(&a, &mut rec);
                    w.write_all(&rec)?;
                }
                w.write_all(&[END])?;
            }
            let crc = w.crc.clone().finalize();
            w.inner.write_all(&crc.to_le_bytes())?;
            let file = w.inner.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        };
        body().map_err(WalError::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(WalError::io(&path))?;
        Ok(())
    }

    /// Reads the ledger of `dir`, checking it was written with logs of
    /// `identity`. `Ok(None)`: there is none (the run that wrote the logs
    /// was cut off before it finished).
    pub fn load(dir: &Path, identity: &str) -> Result<Option<SavedLedger>, WalError> {
        let path = ledger_path(dir);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(WalError::io(&path)(e)),
        };
        let mut bytes = Vec::new();
        BufReader::new(file)
            .read_to_end(&mut bytes)
            .map_err(WalError::io(&path))?;
        let corrupt = |why: &str| WalError::Corrupt {
            path: path.clone(),
            why: why.to_string(),
        };
        if bytes.len() < 12 + 4 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a socialbench ledger of this version"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(corrupt("its checksum fails"));
        }
        let mut r = Reader {
            bytes: &body[8..],
            at: 0,
        };
        let n = r.u32().ok_or_else(|| corrupt("cut short"))? as usize;
        let found = r
            .take(n)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| corrupt("a bad identity"))?;
        if found != identity {
            return Err(WalError::Foreign {
                path: path.clone(),
                found: found.to_string(),
                expected: identity.to_string(),
            });
        }
        let mut v = [0u64; 8];
        for x in &mut v {
            *x = r.u64().ok_or_else(|| corrupt("cut short"))?;
        }
        let tally = WriteTally {
            users: v[0],
            communities: v[1],
            posts: v[2],
            comments: v[3],
            dms: v[4],
            vote_delta_sum: v[5] as i64,
            joins: v[6],
            leaves: v[7],
        };
        let log = match r.u8().ok_or_else(|| corrupt("cut short"))? {
            0 => None,
            _ => {
                let mut log = AckLog::default();
                while let Some(a) = decode(&mut r).ok_or_else(|| corrupt("a bad record"))? {
                    log.push(a);
                }
                Some(log)
            }
        };
        if r.at != r.bytes.len() {
            return Err(corrupt("bytes after its end"));
        }
        Ok(Some(SavedLedger { tally, log }))
    }
}

/// A writer that checksums what it writes.
struct Crc<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const REGISTER: u8 = 1;
const COMMUNITY: u8 = 2;
const JOIN: u8 = 3;
const LEAVE: u8 = 4;
const POST: u8 = 5;
const COMMENT: u8 = 6;
const VOTE_POST: u8 = 7;
const VOTE_COMMENT: u8 = 8;
const DM: u8 = 9;
const END: u8 = 0;

/// Appends `a`'s record (tag first) to `out`.
fn encode(a: &Acked, out: &mut Vec<u8>) {
    fn put(out: &mut Vec<u8>, vs: &[u32]) {
        vs.iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    let post = |p: PostId| [p.community.0, p.seq];
    match *a {
        Acked::Register(u) => {
            out.push(REGISTER);
            put(out, &[u.0]);
        }
        Acked::Community { creator, community } => {
            out.push(COMMUNITY);
            put(out, &[creator.0, community.0]);
        }
        Acked::Join { user, community } => {
            out.push(JOIN);
            put(out, &[user.0, community.0]);
        }
        Acked::Leave { user, community } => {
            out.push(LEAVE);
            put(out, &[user.0, community.0]);
        }
        Acked::Post { author, id } => {
            out.push(POST);
            put(out, &[author.0]);
            put(out, &post(id));
        }
        Acked::Comment { author, id } => {
            out.push(COMMENT);
            put(out, &[author.0]);
            put(out, &post(id.post));
            put(out, &[id.seq]);
        }
        Acked::Vote { target, delta } => {
            match target {
                Target::Post(p) => {
                    out.push(VOTE_POST);
                    put(out, &post(p));
                }
                Target::Comment(c) => {
                    out.push(VOTE_COMMENT);
                    put(out, &post(c.post));
                    put(out, &[c.seq]);
                }
            }
            out.push(delta as u8);
        }
        Acked::Dm(id) => {
            out.push(DM);
            put(out, &[id.to.0, id.seq]);
        }
    }
}

/// The next record: `Some(None)` at the end marker, `None` if malformed.
fn decode(r: &mut Reader<'_>) -> Option<Option<Acked>> {
    let post = |r: &mut Reader<'_>| -> Option<PostId> {
        Some(PostId {
            community: CommunityId(r.u32()?),
            seq: r.u32()?,
        })
    };
    let comment = |r: &mut Reader<'_>| -> Option<CommentId> {
        Some(CommentId {
            post: post(r)?,
            seq: r.u32()?,
        })
    };
    Some(Some(match r.u8()? {
        END => return Some(None),
        REGISTER => Acked::Register(UserId(r.u32()?)),
        COMMUNITY => Acked::Community {
            creator: UserId(r.u32()?),
            community: CommunityId(r.u32()?),
        },
        JOIN => Acked::Join {
            user: UserId(r.u32()?),
            community: CommunityId(r.u32()?),
        },
        LEAVE => Acked::Leave {
            user: UserId(r.u32()?),
            community: CommunityId(r.u32()?),
        },
        POST => Acked::Post {
            author: UserId(r.u32()?),
            id: post(r)?,
        },
        COMMENT => Acked::Comment {
            author: UserId(r.u32()?),
            id: comment(r)?,
        },
        VOTE_POST => Acked::Vote {
            target: Target::Post(post(r)?),
            delta: r.u8()? as i8,
        },
        VOTE_COMMENT => Acked::Vote {
            target: Target::Comment(comment(r)?),
            delta: r.u8()? as i8,
        },
        DM => Acked::Dm(DmId {
            to: UserId(r.u32()?),
            seq: r.u32()?,
        }),
        _ => return None,
    }))
}

/// A cursor over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(b)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir()
                .join(format!("sb-ledger-{name}-{}-{nanos}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> Vec<Acked> {
        let p = PostId {
            community: CommunityId(7),
            seq: 3,
        };
        let c = CommentId { post: p, seq: 9 };
        vec![
            Acked::Register(UserId(1)),
            Acked::Community {
                creator: UserId(1),
                community: CommunityId(7),
            },
            Acked::Join {
                user: UserId(2),
                community: CommunityId(7),
            },
            Acked::Leave {
                user: UserId(2),
                community: CommunityId(7),
            },
            Acked::Post {
                author: UserId(1),
                id: p,
            },
            Acked::Comment {
                author: UserId(2),
                id: c,
            },
            Acked::Vote {
                target: Target::Post(p),
                delta: -2,
            },
            Acked::Vote {
                target: Target::Comment(c),
                delta: 1,
            },
            Acked::Dm(DmId {
                to: UserId(3),
                seq: 4,
            }),
        ]
    }

    fn tally(of: &[Acked]) -> WriteTally {
        let mut t = WriteTally::default();
        of.iter().for_each(|a| t.add_acked(a));
        t
    }

    #[test]
    fn a_ledger_round_trips_with_and_without_its_list() {
        let dir = TempDir::new("round-trip");
        let writes = sample();
        let t = tally(&writes);
        SavedLedger::save(dir.path(), "id", &t, Some(writes.iter().copied())).unwrap();
        let got = SavedLedger::load(dir.path(), "id").unwrap().unwrap();
        assert_eq!(got.tally, t);
        let mut back: Vec<Acked> = got.log.unwrap().iter().collect();
        let mut want = writes.clone();
        let key = |a: &Acked| format!("{a:?}");
        back.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(back, want);
        SavedLedger::save(dir.path(), "id", &t, None::<std::iter::Empty<Acked>>).unwrap();
        let got = SavedLedger::load(dir.path(), "id").unwrap().unwrap();
        assert_eq!((got.tally, got.log.is_none()), (t, true));
        assert!(!dir.path().join(format!("{LEDGER_FILE}.tmp")).exists());
    }

    #[test]
    fn a_missing_foreign_or_damaged_ledger_is_told_apart() {
        let dir = TempDir::new("damaged");
        assert!(SavedLedger::load(dir.path(), "id").unwrap().is_none());
        let writes = sample();
        SavedLedger::save(dir.path(), "id", &tally(&writes), Some(writes.into_iter())).unwrap();
        let e = SavedLedger::load(dir.path(), "other").unwrap_err();
        assert!(matches!(e, WalError::Foreign { .. }), "{e}");
        let path = ledger_path(dir.path());
        let good = fs::read(&path).unwrap();
        for at in [0, 20, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            let e = SavedLedger::load(dir.path(), "id").unwrap_err();
            assert!(matches!(e, WalError::Corrupt { .. }), "byte {at}: {e}");
        }
        fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(SavedLedger::load(dir.path(), "id").is_err());
    }
}
