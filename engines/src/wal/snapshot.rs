//! A partition's snapshot file, `partition-<i>.snap` (module docs of
//! `wal/mod.rs` for when one is taken and how recovery uses it).
//!
//! The file: a magic with the format version, the identity of the log it
//! belongs to (`[len u32][bytes]`), the number of log records it covers
//! (`u64`), the encoded state (`[len u64][bytes]`, `partition/snapshot.rs`)
//! and a CRC-32 of everything after the magic. It is written whole to a
//! temporary file, synced and renamed over the old one, so a crash leaves
//! the old snapshot or the new one, never a mix; a file that fails its
//! checksum is therefore damage, refused rather than cut.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{WalError, replace_file};

/// The first bytes of every snapshot; the last two are the format version.
const MAGIC: &[u8; 8] = b"SBSNAP\0\x01";

/// The snapshot file of partition `index` in `dir`.
pub fn snapshot_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("partition-{index}.snap"))
}

/// A snapshot read back: the whole file, and where its state lies in it.
#[derive(Debug)]
pub(super) struct Snapshot {
    /// Log records it covers.
    pub(super) lsn: u64,
    file: Vec<u8>,
    state: std::ops::Range<usize>,
}

impl Snapshot {
    /// The encoded state.
    pub(super) fn state(&self) -> &[u8] {
        &self.file[self.state.clone()]
    }

    /// The file's size.
    pub(super) fn bytes(&self) -> u64 {
        self.file.len() as u64
    }
}

/// Writes partition `index`'s snapshot of the state `state` (covering
/// `lsn` records) atomically; returns the file's size.
pub(super) fn write(
    dir: &Path,
    index: usize,
    identity: &str,
    lsn: u64,
    state: &[u8],
) -> io::Result<u64> {
    let mut head = Vec::with_capacity(32 + identity.len());
    head.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    head.extend_from_slice(identity.as_bytes());
    head.extend_from_slice(&lsn.to_le_bytes());
    head.extend_from_slice(&(state.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(state);
    let crc = crc.finalize().to_le_bytes();
    let path = snapshot_path(dir, index);
    replace_file(dir, &path, &[MAGIC, &head, state, &crc])?;
    Ok((MAGIC.len() + head.len() + state.len() + crc.len()) as u64)
}

/// Reads partition `index`'s snapshot, if it has one, checking that it is
/// whole and belongs to the log named `identity`.
pub(super) fn read(dir: &Path, index: usize, identity: &str) -> Result<Option<Snapshot>, WalError> {
    let path = snapshot_path(dir, index);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(WalError::Io { path, source }),
    };
    let corrupt = |why: &str| WalError::Corrupt {
        path: path.clone(),
        why: why.to_string(),
    };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(WalError::Foreign {
            path: path.clone(),
            found: if bytes.starts_with(&MAGIC[..6]) {
                "another version of the snapshot format".into()
            } else {
                "no socialbench snapshot".into()
            },
            expected: identity.to_string(),
        });
    }
    let body = &bytes[MAGIC.len()..];
    if body.len() < 4 {
        return Err(corrupt("cut short"));
    }
    let (body, crc) = body.split_at(body.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(corrupt("its checksum fails"));
    }
    let mut r = crate::bytes::Reader(body);
    let short = |_| corrupt("cut short");
    let n = r.u32().map_err(short)? as usize;
    let found = r.take(n).map_err(short)?;
    if found != identity.as_bytes() {
        return Err(WalError::Foreign {
            path: path.clone(),
            found: String::from_utf8_lossy(found).into_owned(),
            expected: identity.to_string(),
        });
    }
    let lsn = r.u64().map_err(short)?;
    let len = r.u64().map_err(short)?;
    if len != r.0.len() as u64 {
        return Err(corrupt("its state's length does not match the file"));
    }
    let end = bytes.len() - crc.len();
    let state = end - r.0.len()..end;
    Ok(Some(Snapshot {
        lsn,
        file: bytes,
        state,
    }))
}
