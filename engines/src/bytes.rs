//! The little-endian fields shared by the write-ahead log's records
//! (`wal/codec.rs`) and a partition's snapshot (`partition/snapshot.rs`):
//! ids as `u32`, counters and stamps as `u64`, bodies as a `u32` length and
//! their bytes, and a [`Reader`] that checks every length. A leaf module
//! (it knows the API's types only), so the log and the partition both use
//! it without importing each other.

use crate::api::{Body, CommentId, CommunityId, PostId, UserId};

/// Why bytes could not be decoded: a log record or a snapshot's state whose
/// checksum matched but whose fields do not (another version's file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable log entry: {0}")]
pub struct DecodeError(pub &'static str);

/// Appends `v`, little-endian.
#[inline]
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v`, little-endian.
#[inline]
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a post id: its community, then its sequence number.
pub(crate) fn put_post(out: &mut Vec<u8>, p: PostId) {
    put_u32(out, p.community.0);
    put_u32(out, p.seq);
}

/// Appends a comment id: its post, then its sequence number.
pub(crate) fn put_comment(out: &mut Vec<u8>, c: CommentId) {
    put_post(out, c.post);
    put_u32(out, c.seq);
}

/// Appends a body: its length as `u32`, then its bytes.
pub(crate) fn put_body(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// A cursor over a payload; every read checks the length.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("entry cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn user(&mut self) -> Result<UserId, DecodeError> {
        self.u32().map(UserId)
    }

    pub(crate) fn community(&mut self) -> Result<CommunityId, DecodeError> {
        self.u32().map(CommunityId)
    }

    pub(crate) fn post(&mut self) -> Result<PostId, DecodeError> {
        Ok(PostId {
            community: self.community()?,
            seq: self.u32()?,
        })
    }

    pub(crate) fn comment(&mut self) -> Result<CommentId, DecodeError> {
        Ok(CommentId {
            post: self.post()?,
            seq: self.u32()?,
        })
    }

    /// A body's bytes (its length, then the bytes), owned.
    pub(crate) fn body_bytes(&mut self) -> Result<Box<[u8]>, DecodeError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.into())
    }

    pub(crate) fn body(&mut self) -> Result<Body, DecodeError> {
        self.body_bytes().map(Body::from)
    }
}
