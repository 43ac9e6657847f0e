//! The wire: connections to Redis nodes with pipelined commands, key-group
//! names with their hash tags, and cluster slot routing (CRC16, CLUSTER SLOTS).
//!
//! A [`Node`] is one connection (the `redis` crate's sync `Connection`) plus
//! an outgoing buffer: commands are packed straight into it (RESP, no
//! per-command allocation) and written in one `send_packed_command` when the
//! session next waits for a reply. Replies come back in order per
//! connection, so a FIFO of op slots (and parts) per node pairs each reply
//! with its op.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{Client, Connection, RedisError, Value};

use crate::api::{CommunityId, Home, UserId};

/// A Redis step that failed: what the engine was doing (one line, naming
/// the server) and the client's error behind it, when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}")]
pub struct ServerError {
    what: String,
    #[source]
    source: Option<Arc<RedisError>>,
}

impl ServerError {
    /// A failure with no client error behind it (an unexpected reply).
    pub(crate) fn new(what: impl Into<String>) -> Self {
        ServerError {
            what: what.into(),
            source: None,
        }
    }

    /// A failure caused by the client's `error`.
    pub(crate) fn caused(what: impl Into<String>, error: RedisError) -> Self {
        ServerError {
            what: what.into(),
            source: Some(Arc::new(error)),
        }
    }

    /// The message and the client's error, for [`crate::EngineError::Config`].
    pub(crate) fn into_parts(self) -> (String, Option<Arc<RedisError>>) {
        (self.what, self.source)
    }

    /// What failed and why, on one line ("what: client error").
    pub fn detail(&self) -> String {
        match &self.source {
            Some(e) => format!("{}: {}", self.what, one_line(e)),
            None => self.what.clone(),
        }
    }
}

/// `error`'s text on one line: the client's text for a reply that does not
/// parse spans several (one per unexpected byte), joined here with "; ".
pub(crate) fn one_line(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut out = lines.next().unwrap_or_default().to_string();
    for l in lines {
        out.push_str("; ");
        out.push_str(l);
    }
    out
}

/// The script every op runs (see its header for the reply format).
const SCRIPT: &str = include_str!("ops.lua");

/// Loads the script on `conn`'s node (a node promoted in a failover may
/// not have it); returns its SHA1.
pub(crate) fn load_script(conn: &mut Connection) -> Result<String, RedisError> {
    ::redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query(conn)
}

/// Number of Redis Cluster hash slots.
pub(crate) const SLOTS: usize = 16384;

/// A connection to one Redis node with its pipeline.
pub(crate) struct Node {
    /// `None`: lost (or never made); commands queued for it are answered
    /// by the session as refused, unsent.
    pub(crate) conn: Option<Connection>,
    /// Packed commands not yet written.
    pub(crate) out: Vec<u8>,
    /// Op slot, part (which of the op's commands: a home feed's community)
    /// and the session's send order of every command written or buffered
    /// here, in order.
    pub(crate) pending: VecDeque<(u32, u32, u64)>,
    /// Where it connects, for messages.
    pub(crate) addr: String,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("addr", &self.addr)
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// Opens a connection to `url` with `timeout` for connecting, reading and
/// writing. An error says, on one line fit for the user, which step failed.
pub(crate) fn connect(url: &str, timeout: Duration) -> Result<Connection, ServerError> {
    let client =
        Client::open(url).map_err(|e| ServerError::caused(format!("bad Redis URL `{url}`"), e))?;
    let conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| ServerError::caused(format!("cannot connect to Redis at {url}"), e))?;
    conn.set_read_timeout(Some(timeout))
        .and_then(|()| conn.set_write_timeout(Some(timeout)))
        .map_err(|e| ServerError::caused(format!("cannot set timeouts on {url}"), e))?;
    Ok(conn)
}

impl Node {
    /// A node connected to `url`.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Node, ServerError> {
        Ok(Node {
            conn: Some(connect(url, timeout)?),
            out: Vec::with_capacity(4096),
            pending: VecDeque::with_capacity(64),
            addr: url.to_string(),
        })
    }

    /// A node not connected (yet): see [`Node::conn`].
    pub(crate) fn down(url: &str) -> Node {
        Node {
            conn: None,
            out: Vec::new(),
            pending: VecDeque::new(),
            addr: url.to_string(),
        }
    }

    /// Writes the buffered commands (dropped when the node is down).
    pub(crate) fn flush(&mut self) -> Result<(), ::redis::RedisError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = match &mut self.conn {
            Some(c) => c.send_packed_command(&self.out),
            None => Ok(()),
        };
        self.out.clear();
        r
    }

    /// Reads the next reply (`None`: the node is down).
    pub(crate) fn recv(&mut self) -> Option<Result<Value, ::redis::RedisError>> {
        self.conn.as_mut().map(|c| c.recv_response())
    }
}

/// One argument of a packed command.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg<'a> {
    /// Bytes as they are.
    B(&'a [u8]),
    /// A decimal integer.
    I(i64),
}

/// Packs `args` as one RESP command onto `out`.
pub(crate) fn pack(out: &mut Vec<u8>, args: &[Arg<'_>]) {
    let _ = write!(out, "*{}\r\n", args.len());
    let mut num = [0u8; 24];
    for a in args {
        let bytes: &[u8] = match *a {
            Arg::B(b) => b,
            Arg::I(i) => {
                let mut w = &mut num[..];
                let _ = write!(w, "{i}");
                let n = 24 - w.len();
                &num[..n]
            }
        };
        let _ = write!(out, "${}\r\n", bytes.len());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
}

/// The key-group base of a placement key: `<prefix>{u<id>}` for a user and
/// their profile community, `<prefix>{c<id>}` for an ordinary community.
pub(crate) fn group(prefix: &str, home: Home, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    out.push_str(prefix);
    let _ = match home {
        Home::User(u) => write!(out, "{{u{}}}", u.0),
        Home::Community(c) => match c.profile_owner() {
            Some(owner) => write!(out, "{{u{}}}", owner.0),
            None => write!(out, "{{c{}}}", c.0),
        },
    };
}

/// The key group of a user.
pub(crate) fn user_home(u: UserId) -> Home {
    Home::User(u)
}

/// The key group of a community.
pub(crate) fn community_home(c: CommunityId) -> Home {
    Home::Community(c)
}

/// CRC16/XMODEM, the checksum Redis Cluster hashes keys with.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The cluster slot of `key`: its hash tag's (the bytes between the first
/// `{` and the next `}`, when not empty) or the whole key's.
pub(crate) fn slot(key: &[u8]) -> usize {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) as usize % SLOTS
}

/// What `CLUSTER SLOTS` says: the masters, the master of every slot, and
/// each master's replicas.
#[derive(Debug)]
pub(crate) struct SlotsReply {
    /// Masters' `host:port`, in the order they first appear.
    pub(crate) masters: Vec<String>,
    /// Per slot, the index of its master in `masters`.
    pub(crate) slots: Vec<u16>,
    /// Per master, its replicas' `host:port`.
    pub(crate) replicas: Vec<Vec<String>>,
}

/// `host:port` of a node entry of CLUSTER SLOTS (`[host, port, id, ...]`).
fn node_addr(v: &Value) -> Option<String> {
    let Value::Array(m) = v else { return None };
    let host = m.first().and_then(text)?;
    let port = m.get(1).and_then(int)?;
    Some(format!("{host}:{port}"))
}

/// Reads CLUSTER SLOTS (see [`SlotsReply`]). Fails when a slot is not served.
pub(crate) fn cluster_slots(conn: &mut Connection) -> Result<SlotsReply, ServerError> {
    let v: Value = ::redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(conn)
        .map_err(|e| ServerError::caused("CLUSTER SLOTS failed", e))?;
    let Value::Array(ranges) = v else {
        return Err(ServerError::new("CLUSTER SLOTS: unexpected reply"));
    };
    let mut out = SlotsReply {
        masters: Vec::new(),
        slots: vec![u16::MAX; SLOTS],
        replicas: Vec::new(),
    };
    for r in ranges {
        let Value::Array(r) = r else { continue };
        let (Some(lo), Some(hi), Some(addr)) = (
            r.first().and_then(int),
            r.get(1).and_then(int),
            r.get(2).and_then(node_addr),
        ) else {
            return Err(ServerError::new("CLUSTER SLOTS: unexpected range"));
        };
        let idx = match out.masters.iter().position(|a| *a == addr) {
            Some(i) => i,
            None => {
                out.masters.push(addr);
                out.replicas.push(Vec::new());
                out.masters.len() - 1
            }
        };
        for replica in r.iter().skip(3).filter_map(node_addr) {
            if !out.replicas[idx].contains(&replica) {
                out.replicas[idx].push(replica);
            }
        }
        let (lo, hi) = (lo.max(0) as usize, (hi.max(0) as usize).min(SLOTS - 1));
        if lo <= hi {
            out.slots[lo..=hi].fill(idx as u16);
        }
    }
    if let Some(s) = out.slots.iter().position(|&n| n == u16::MAX) {
        return Err(ServerError::new(format!(
            "the cluster does not serve slot {s}: is it fully set up (cluster_state:ok)?"
        )));
    }
    Ok(out)
}

/// An integer reply (or a bulk string holding one).
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// A text reply.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_cluster_spec() {
        // From the Redis Cluster specification: "123456789" -> 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"sb:x:{u7}:u"), slot(b"u7"));
        assert_eq!(slot(b"{}x"), slot(b"{}x"));
        assert_ne!(slot(b"{}x"), slot(b""));
    }

    #[test]
    fn pack_writes_resp() {
        let mut out = Vec::new();
        pack(&mut out, &[Arg::B(b"SET"), Arg::B(b"k"), Arg::I(-42)]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n-42\r\n");
    }

    #[test]
    fn error_text_is_put_on_one_line() {
        let text = "Parse error at 1\nUnexpected `32`\n\nUnexpected `64`\n";
        assert_eq!(
            one_line(&text),
            "Parse error at 1; Unexpected `32`; Unexpected `64`"
        );
        assert_eq!(one_line(&"refused"), "refused");
    }

    #[test]
    fn profiles_share_their_owners_group() {
        let (mut a, mut b) = (String::new(), String::new());
        group("p:", user_home(UserId(5)), &mut a);
        group(
            "p:",
            community_home(CommunityId::profile(UserId(5))),
            &mut b,
        );
        assert_eq!(a, "p:{u5}");
        assert_eq!(a, b);
        group("p:", community_home(CommunityId(5)), &mut b);
        assert_eq!(b, "p:{c5}");
    }
}
