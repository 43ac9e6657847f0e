//! Durable partitions (`EngineConfig::durability`): the write-ahead log a
//! partition appends its applied writes to, its file format, group commit,
//! recovery (replay, torn-tail truncation) and the simulated crash.
//!
//! # One log, two uses
//! `LogEntry` is the replication log's entry (`shard_set/replica.rs`): a
//! client write with the fault decision it was applied under and the post
//! stamps it took (replay must not tick the shared clock again, and the
//! replayed posts must sort as the originals did), or a follow-up applied.
//! A durable partition writes the same entries to a file; a backup applies
//! them from a channel. Replay goes through `replay`, the same
//! [`Partition`] code as the backups, so a recovered partition's digest
//! equals the one it had for every entry on disk.
//!
//! # The file
//! `partition-<i>.wal` in the data dir: a header (magic, format version,
//! and an identity string: engine, partition, partition count and the
//! workload the harness names), then records `[len u32][crc32 u32][payload]`
//! (little-endian; the CRC covers the payload, [`codec`] gives its form).
//! A record whose length runs past the end, whose checksum fails or whose
//! payload does not decode ends the valid log: `Wal::open` truncates the
//! file there and reports how many bytes it cut and why. A header from
//! another version or workload is refused ([`WalError::Foreign`]), never
//! rewritten.
//!
//! # Group commit
//! Appends go to a buffer; `Wal::commit` writes it with one `write` and,
//! in `fsync` mode, one `fdatasync` for the whole group. The owner commits
//! before it lets the group's replies go: serial when its session polls,
//! a shard's log thread once per batch of log messages. In `log` mode the
//! group is written but synced at most once a second (Redis's `appendfsync
//! everysec`): a process crash loses nothing written, an OS crash up to a
//! second of acknowledged writes.
//!
//! # Snapshots and compaction
//! With `snapshot_every` records (`--snapshot-every`), the owner of the
//! log takes a snapshot once that many records were logged since the last
//! one, at a commit point (the buffer is empty): it syncs the log, encodes
//! the partition's whole state (`partition/snapshot.rs`), writes it to
//! `partition-<i>.snap` (a temporary file, fsync, rename, fsync of the
//! dir), then starts a new log holding no record, whose header names the
//! record number it starts at (its *base*, the records the snapshot
//! covers), written the same way. Recovery loads the snapshot and replays
//! the log; a crash between the two renames leaves the old log beside the
//! new snapshot, and replay skips the records the snapshot covers (their
//! numbers are below its). A log whose base is above the snapshot's, or
//! one that starts past zero with no snapshot, lacks records: refused.
//!
//! A snapshot pauses its partition: serial encodes and writes it inline
//! (the session waits); on actor and sharded the log thread keeps a copy
//! of its shard's state (it applies every record it logs, as a backup
//! does) and snapshots that, so the shard thread never pauses, but the
//! shard's replies wait behind the log thread while it writes. The pause
//! (encode, write, fsync, compaction) is measured and reported.
//!
//! # The crash
//! `Wal::crash` models an OS crash: the buffer (never written) is
//! dropped, and the file is cut back to its last fsync (an in-process crash
//! alone would keep the page cache, so it would lose nothing written).
//! Serial crashes inline (`Durable::crash`); a shard of actor or
//! sharded asks its log thread, which cuts the log, rebuilds the
//! partition and hands it back (`shard_set/shard.rs`, `Shard::crash_now`).

pub mod acked;
pub mod codec;
mod snapshot;

pub use snapshot::snapshot_path;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::api::Op;
use crate::config::{DurabilityMode, EngineConfig};
use crate::fault::{
    CrashPlan, CrashTimer, FaultCounters, OpFault, apply_follow_up_guarded, apply_guarded,
};
use crate::partition::{FollowUp, Partition};
use crate::stats::{DurabilityStats, Recovery, WalCounters};
use codec::DecodeError;

/// One state change of a partition, in the order it applied them: the
/// entry of the replication log and of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogEntry {
    /// A client write, the fault decision it was applied under and the
    /// post stamps it took (0: none).
    Op {
        op: Op,
        fault: OpFault,
        stamps: [u64; 2],
    },
    /// A follow-up applied here (sent by another partition or by this one).
    FollowUp(FollowUp),
}

/// Applies `e` to `part` as its owner applied it. `local`: the partition
/// is the engine's only one, so the follow-ups an op makes land here too
/// (serial); otherwise they are dropped, as they came back as entries of
/// the log of the partition they landed on.
pub(crate) fn replay(
    part: &mut Partition,
    e: LogEntry,
    local: bool,
    scratch: &mut Vec<FollowUp>,
    counters: &FaultCounters,
) {
    match e {
        LogEntry::Op { op, fault, stamps } => {
            part.stamps.give(stamps);
            part.see_stamps(stamps);
            let _ = apply_guarded(part, op, scratch, fault, counters);
            // Nothing given is left for a later op, and nothing taken (a
            // recording partition notes the stamps it hands out) is
            // mistaken for a later op's.
            part.stamps.give([0; 2]);
            let _ = part.stamps.take();
            if local {
                for f in scratch.drain(..) {
                    part.apply_follow_up(f);
                }
            }
            scratch.clear();
        }
        LogEntry::FollowUp(f) => apply_follow_up_guarded(part, f, counters),
    }
}

/// What recovery hands its caller, in order: the snapshot's state (at most
/// once, first), then each log record the snapshot does not cover.
#[derive(Debug)]
pub(crate) enum Replayed<'a> {
    /// A snapshot's encoded state ([`Partition::restore_state`]).
    State(&'a [u8]),
    /// A log record.
    Entry(LogEntry),
}

/// Recovery into `part`: restores a snapshot's state, replays entries
/// ([`replay`]).
pub(crate) fn recover_into<'p>(
    part: &'p mut Partition,
    local: bool,
) -> impl FnMut(Replayed<'_>) -> Result<(), DecodeError> + 'p {
    let (counters, mut scratch) = (FaultCounters::default(), Vec::new());
    move |r| match r {
        Replayed::State(bytes) => part.restore_state(bytes),
        Replayed::Entry(e) => {
            replay(part, e, local, &mut scratch, &counters);
            Ok(())
        }
    }
}

/// A partition's durability as its owner (serial's session) keeps it: the
/// log (`None` in `none` mode), the crash timer when this partition
/// crashes, and what crashes did.
#[derive(Debug)]
pub(crate) struct Durable {
    pub(crate) wal: Option<Wal>,
    pub(crate) crash: Option<CrashTimer>,
    pub(crate) stats: DurabilityStats,
    /// Writes applied since the start or the last crash (what `none`
    /// loses), and of them those whose replies have not left yet.
    pub(crate) writes: u64,
    pub(crate) unacked: u64,
}

impl Durable {
    /// Partition `index` of `count` of `engine`, as `config` says: its log
    /// created, or opened and replayed into `part` when recovering.
    /// `None` when the partition neither logs nor crashes.
    pub(crate) fn open(
        config: &EngineConfig,
        engine: &str,
        (index, count): (usize, usize),
        part: &mut Partition,
        crash: Option<&Arc<CrashPlan>>,
    ) -> Result<Option<Durable>, WalError> {
        let d = &config.durability;
        let crash = crash.filter(|c| c.partition() == index).map(|c| c.timer());
        if !d.logs() && crash.is_none() {
            return Ok(None);
        }
        let mut stats = DurabilityStats {
            mode: d.mode,
            ..DurabilityStats::default()
        };
        let wal = match d.dir.as_deref().filter(|_| d.logs()) {
            None => None,
            Some(dir) => {
                part.stamps.record = true;
                let identity = d.identity_of(engine, index, count);
                let wal = if d.recover {
                    let local = count == 1 && engine == "serial";
                    let (wal, rec) =
                        Wal::open(dir, index, &identity, d.mode, recover_into(part, local))?;
                    stats.recovered = Some(rec);
                    wal
                } else {
                    Wal::create(dir, index, &identity, d.mode)?
                };
                Some(wal.with_snapshots(d.snapshot_every))
            }
        };
        Ok(Some(Durable {
            wal,
            crash,
            stats,
            writes: 0,
            unacked: 0,
        }))
    }

    /// The figures now.
    pub(crate) fn snapshot(&self) -> DurabilityStats {
        let mut s = self.stats.clone();
        if let Some(w) = &self.wal {
            s.log = w.counters();
        }
        s
    }

    /// After a commit: takes the snapshot of `part` if one is due. A
    /// snapshot that cannot be written is a crash (the log may be cut):
    /// returns whether it crashed.
    pub(crate) fn snapshot_if_due(&mut self, part: &mut Partition, local: bool) -> bool {
        let Some(w) = self.wal.as_mut().filter(|w| w.snapshot_due()) else {
            return false;
        };
        if w.snapshot(part).is_err() {
            self.crash(part, local);
            return true;
        }
        false
    }

    /// The crash of `part` (module docs), whose only partition it is
    /// (`local`) or not: its state is rebuilt from the log (empty in `none`
    /// mode). Returns the acknowledged writes it lost. The caller answers
    /// the ops in flight with [`crate::ApiError::Crashed`] and counts them.
    pub(crate) fn crash(&mut self, part: &mut Partition, local: bool) -> u64 {
        let started = Instant::now();
        let mut fresh = part.empty_like();
        let acked = self.writes - self.unacked;
        let (lost, mut recovery) = match &mut self.wal {
            Some(w) => {
                let unsynced = w.unsynced_records();
                match w.crash(recover_into(&mut fresh, local)) {
                    Ok((_, _, rec)) => (unsynced, rec),
                    // The log could not be read back: the partition
                    // restarts empty, as without one.
                    Err(_) => {
                        fresh = part.empty_like();
                        (acked, Recovery::default())
                    }
                }
            }
            None => (acked, Recovery::default()),
        };
        recovery.micros = started.elapsed().as_micros() as u64;
        *part = fresh;
        self.writes = 0;
        self.unacked = 0;
        let s = &mut self.stats;
        s.crashes += 1;
        s.lost_writes += lost;
        s.max_recovery_micros = s.max_recovery_micros.max(recovery.micros);
        s.last_recovery = Some(recovery);
        lost
    }
}

/// The first bytes of every log file; the last two are the format version.
const MAGIC: &[u8; 8] = b"SBWAL\0\0\x02";

/// A record longer than this is corruption, not a record (the largest
/// real one is a body of `MAX_BODY_LEN` bytes plus a few ids).
const MAX_RECORD: u32 = 1 << 24;

/// How often `log` mode syncs.
const LOG_SYNC_EVERY: Duration = Duration::from_secs(1);

/// Why a log cannot be created or opened: all are the user's to fix, and
/// the CLI reports them as bad input.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file system call failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// A new run's data dir holds files already (nothing is overwritten).
    #[error(
        "data dir {0} is not empty: give an empty or new directory, or `run --recover` it to start from its logs"
    )]
    NotEmpty(PathBuf),
    /// A log written by another version, engine, partitioning or workload.
    #[error("{path} is not this run's log: it was written for `{found}`, this run is `{expected}`")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What its header says.
        found: String,
        /// What this run would write.
        expected: String,
    },
    /// A partition's log is missing from a data dir being recovered.
    #[error("{0} is missing: the data dir does not hold this engine's logs")]
    Missing(PathBuf),
    /// A file that must be whole is damaged (the ledger of acknowledged
    /// writes: unlike a log's tail, nothing of it can be cut and kept).
    #[error("{path} is damaged: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

impl WalError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
        move |source| WalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Makes `dir` ready for a new run's logs: created if missing, and refused
/// if it holds anything (a foreign dir, or another run's logs).
pub fn prepare_fresh_dir(dir: &Path) -> Result<(), WalError> {
    fs::create_dir_all(dir).map_err(WalError::io(dir))?;
    let mut entries = fs::read_dir(dir).map_err(WalError::io(dir))?;
    if entries.next().is_some() {
        return Err(WalError::NotEmpty(dir.to_path_buf()));
    }
    Ok(())
}

/// The log file of partition `index` in `dir`.
pub fn log_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("partition-{index}.wal"))
}

/// One partition's write-ahead log (module docs).
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    index: usize,
    identity: String,
    mode: DurabilityMode,
    /// The number of the file's first record: the records the last
    /// snapshot covers (module docs).
    base: u64,
    /// Records between snapshots (0: never).
    snapshot_every: u64,
    /// The encoded state of the last snapshot (kept for its capacity).
    state: Vec<u8>,
    /// Records appended, not written yet.
    buf: Vec<u8>,
    buffered: u64,
    /// Bytes in the file, and of them known to be on disk.
    written: u64,
    synced: u64,
    /// Records in the file, and of them on disk.
    records_written: u64,
    records_synced: u64,
    last_sync: Instant,
    counters: WalCounters,
}

/// Where an op's record starts in the buffer, between
/// [`Wal::begin_op`] and [`Wal::end_op`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpMark(usize);

/// Offset of the stamps in an op record: length, CRC, tag, fault.
const STAMPS_AT: usize = 4 + 4 + 1 + 1;

impl Wal {
    /// Creates partition `index`'s log in `dir` (which
    /// [`prepare_fresh_dir`] checked), headed by `identity`.
    pub(crate) fn create(
        dir: &Path,
        index: usize,
        identity: &str,
        mode: DurabilityMode,
    ) -> Result<Wal, WalError> {
        let path = log_path(dir, index);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(WalError::io(&path))?;
        let header = header(identity, 0);
        file.write_all(&header).map_err(WalError::io(&path))?;
        file.sync_all().map_err(WalError::io(&path))?;
        // The new file's directory entry must survive a crash too.
        sync_dir(dir);
        let len = header.len() as u64;
        let mut wal = Wal::handle(file, (dir, index, identity), mode);
        (wal.written, wal.synced, wal.counters.bytes) = (len, len, len);
        Ok(wal)
    }

    /// A log on `file`, positioned nowhere yet: the caller sets where it
    /// ends.
    fn handle(
        file: File,
        (dir, index, identity): (&Path, usize, &str),
        mode: DurabilityMode,
    ) -> Wal {
        Wal {
            file,
            path: log_path(dir, index),
            dir: dir.to_path_buf(),
            index,
            identity: identity.to_string(),
            mode,
            base: 0,
            snapshot_every: 0,
            state: Vec::new(),
            buf: Vec::with_capacity(1 << 16),
            buffered: 0,
            written: 0,
            synced: 0,
            records_written: 0,
            records_synced: 0,
            last_sync: Instant::now(),
            counters: WalCounters::default(),
        }
    }

    /// Opens partition `index`'s log in `dir`, checks its header (and its
    /// snapshot's) against `identity`, hands `apply` the snapshot's state
    /// and every valid record it does not cover, in order, cuts a torn or
    /// corrupt tail off the file, and leaves the log ready to append to.
    pub(crate) fn open(
        dir: &Path,
        index: usize,
        identity: &str,
        mode: DurabilityMode,
        apply: impl FnMut(Replayed<'_>) -> Result<(), DecodeError>,
    ) -> Result<(Wal, Recovery), WalError> {
        let path = log_path(dir, index);
        if !path.exists() {
            return Err(WalError::Missing(path));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(WalError::io(&path))?;
        let mut wal = Wal::handle(file, (dir, index, identity), mode);
        let recovery = wal.reload(apply)?;
        Ok((wal, recovery))
    }

    /// Takes a snapshot every `every` records (0: never; module docs).
    pub(crate) fn with_snapshots(mut self, every: u64) -> Wal {
        self.snapshot_every = every;
        self
    }

    /// Loads the snapshot, if any, then reads the log from the start,
    /// replaying every valid record the snapshot does not cover, and
    /// truncates what follows them. Both headers are checked against the
    /// log's identity.
    fn reload(
        &mut self,
        mut apply: impl FnMut(Replayed<'_>) -> Result<(), DecodeError>,
    ) -> Result<Recovery, WalError> {
        let started = Instant::now();
        let path = self.path.clone();
        let corrupt = |why: String| WalError::Corrupt {
            path: path.clone(),
            why,
        };
        let snap = snapshot::read(&self.dir, self.index, &self.identity)?;
        let (covered, snapshot_bytes) = match &snap {
            Some(s) => {
                apply(Replayed::State(s.state())).map_err(|e| WalError::Corrupt {
                    path: snapshot_path(&self.dir, self.index),
                    why: e.to_string(),
                })?;
                (s.lsn, s.bytes())
            }
            None => (0, 0),
        };
        drop(snap);
        let io = WalError::io(&path);
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        let total = self.file.metadata().map_err(WalError::io(&path))?.len();
        let mut r = BufReader::with_capacity(1 << 20, &mut self.file);
        let (found, base, mut at) = read_header(&mut r).map_err(|why| WalError::Foreign {
            path: path.clone(),
            found: why,
            expected: self.identity.clone(),
        })?;
        if found != self.identity {
            return Err(WalError::Foreign {
                path,
                found,
                expected: self.identity.clone(),
            });
        }
        if base > covered {
            return Err(corrupt(format!(
                "the log starts at record {base} but the snapshot covers only {covered} (records are missing)"
            )));
        }
        let mut records = 0u64;
        let mut skipped = 0u64;
        let mut payload = Vec::new();
        let because = loop {
            let mut head = [0u8; 8];
            match read_full(&mut r, &mut head) {
                Ok(0) => break None,
                Ok(8) => {}
                Ok(_) => break Some("a record header cut short".to_string()),
                Err(e) => return Err(WalError::io(&path)(e)),
            }
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            if len > MAX_RECORD {
                break Some(format!("a record length of {len} bytes"));
            }
            payload.resize(len as usize, 0);
            match read_full(&mut r, &mut payload) {
                Ok(n) if n == payload.len() => {}
                Ok(_) => break Some("a record cut short".to_string()),
                Err(e) => return Err(WalError::io(&path)(e)),
            }
            if crc32fast::hash(&payload) != crc {
                break Some("a record whose checksum fails".to_string());
            }
            match codec::decode(&payload) {
                Ok(_) if base + records + skipped < covered => skipped += 1,
                Ok(e) => {
                    apply(Replayed::Entry(e)).map_err(|e| corrupt(e.to_string()))?;
                    records += 1;
                }
                Err(e) => break Some(e.to_string()),
            }
            at += 8 + u64::from(len);
        };
        drop(r);
        if base + skipped < covered {
            return Err(corrupt(format!(
                "the log ends at record {} but the snapshot covers {covered} (the log was cut below its snapshot)",
                base + skipped
            )));
        }
        if at < total {
            self.file.set_len(at).map_err(WalError::io(&path))?;
            self.file.sync_all().map_err(WalError::io(&path))?;
        }
        self.file
            .seek(SeekFrom::Start(at))
            .map_err(WalError::io(&path))?;
        self.written = at;
        self.synced = at;
        self.base = base;
        self.records_written = records + skipped;
        self.records_synced = records + skipped;
        Ok(Recovery {
            records,
            snapshot_records: covered,
            snapshot_bytes,
            skipped_records: skipped,
            bytes: at,
            truncated_bytes: total - at,
            truncated_because: because.filter(|_| at < total),
            micros: started.elapsed().as_micros() as u64,
        })
    }

    /// Appends `e` to the buffer.
    pub(crate) fn append(&mut self, e: &LogEntry) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 8]);
        codec::encode(e, &mut self.buf);
        self.seal(start);
    }

    /// Starts the record of `op`, a write about to be applied under
    /// `fault`; its stamps are known only once it is applied, which
    /// [`Wal::end_op`] says. Encoding first lets the op move into the
    /// partition without a copy.
    pub(crate) fn begin_op(&mut self, op: &Op, fault: OpFault) -> OpMark {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 8]);
        codec::encode_op_head(fault, &mut self.buf);
        codec::encode_op(op, &mut self.buf);
        OpMark(start)
    }

    /// Ends the record [`Wal::begin_op`] started: with the op's `stamps`
    /// when it changed the state (`keep`), else removed.
    pub(crate) fn end_op(&mut self, mark: OpMark, stamps: [u64; 2], keep: bool) {
        if !keep {
            self.buf.truncate(mark.0);
            return;
        }
        let at = mark.0 + STAMPS_AT;
        self.buf[at..at + 8].copy_from_slice(&stamps[0].to_le_bytes());
        self.buf[at + 8..at + 16].copy_from_slice(&stamps[1].to_le_bytes());
        self.seal(mark.0);
    }

    /// Fills in the length and checksum of the record starting at `start`.
    fn seal(&mut self, start: usize) {
        let payload = &self.buf[start + 8..];
        let len = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.buffered += 1;
    }

    /// Writes the buffer (one group) and syncs as the mode says: every
    /// group in `fsync`, at most once a second in `log`. Returns how many
    /// records it wrote.
    pub(crate) fn commit(&mut self) -> io::Result<u64> {
        let n = self.buffered;
        if n > 0 {
            self.file.write_all(&self.buf)?;
            self.written += self.buf.len() as u64;
            self.records_written += n;
            self.counters.records += n;
            self.counters.bytes += self.buf.len() as u64;
            self.counters.commits += 1;
            self.counters.max_group = self.counters.max_group.max(n);
            self.buf.clear();
            self.buffered = 0;
        }
        let due = match self.mode {
            DurabilityMode::Fsync => true,
            DurabilityMode::Log => self.last_sync.elapsed() >= LOG_SYNC_EVERY,
            DurabilityMode::None => false,
        };
        if due && self.synced < self.written {
            self.sync()?;
        }
        Ok(n)
    }

    /// Syncs what was written.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        let t = Instant::now();
        self.file.sync_data()?;
        let us = t.elapsed().as_micros() as u64;
        self.counters.fsyncs += 1;
        self.counters.fsync_micros += us;
        self.counters.max_fsync_micros = self.counters.max_fsync_micros.max(us);
        self.last_sync = Instant::now();
        self.synced = self.written;
        self.records_synced = self.records_written;
        Ok(())
    }

    /// Records written but not on disk: what an OS crash now would lose.
    pub(crate) fn unsynced_records(&self) -> u64 {
        self.records_written - self.records_synced
    }

    /// An OS crash (module docs): drops the buffer, cuts the file back to
    /// its last sync, and replays what is left through `apply`. Returns
    /// the records it dropped from the buffer and cut from the file.
    pub(crate) fn crash(
        &mut self,
        apply: impl FnMut(Replayed<'_>) -> Result<(), DecodeError>,
    ) -> Result<(u64, u64, Recovery), WalError> {
        let dropped = self.buffered;
        self.buf.clear();
        self.buffered = 0;
        let cut = self.unsynced_records();
        let path = self.path.clone();
        self.file
            .set_len(self.synced)
            .map_err(WalError::io(&path))?;
        let recovery = self.reload(apply)?;
        Ok((dropped, cut, recovery))
    }

    /// Whether records enough were logged since the last snapshot.
    pub(crate) fn snapshot_due(&self) -> bool {
        self.snapshot_every > 0 && self.records_written + self.buffered >= self.snapshot_every
    }

    /// Takes a snapshot of `part`, whose state is that of every record
    /// logged so far, and compacts the log (module docs). The buffer is
    /// committed first.
    pub(crate) fn snapshot(&mut self, part: &Partition) -> io::Result<()> {
        let started = Instant::now();
        self.commit()?;
        if self.synced < self.written {
            self.sync()?;
        }
        let lsn = self.base + self.records_written;
        self.state.clear();
        part.encode_state(&mut self.state);
        let encoded = started.elapsed();
        let bytes = snapshot::write(&self.dir, self.index, &self.identity, lsn, &self.state)?;
        // The new log: a header naming `lsn`, no record.
        let header = header(&self.identity, lsn);
        self.file = replace_file(&self.dir, &self.path, &[&header])?;
        let len = header.len() as u64;
        self.written = len;
        self.synced = len;
        self.base = lsn;
        self.records_written = 0;
        self.records_synced = 0;
        let pause = started.elapsed().as_micros() as u64;
        let c = &mut self.counters;
        c.snapshots += 1;
        c.snapshot_bytes = bytes;
        c.snapshot_pause_micros += pause;
        c.max_snapshot_pause_micros = c.max_snapshot_pause_micros.max(pause);
        c.snapshot_encode_micros += encoded.as_micros() as u64;
        Ok(())
    }

    /// What the log did so far.
    pub(crate) fn counters(&self) -> WalCounters {
        self.counters
    }
}

/// Replaces `path` (in `dir`) by a file holding `parts`, so that a crash
/// leaves the old file or the new one whole: written to a temporary file,
/// synced, renamed over `path`, the dir synced. Returns the new file,
/// positioned at its end.
fn replace_file(dir: &Path, path: &Path, parts: &[&[u8]]) -> io::Result<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let tmp = PathBuf::from(name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(dir);
    Ok(file)
}

/// Syncs a directory, so that a file created or renamed in it survives a
/// crash (best effort: not every file system can).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The header: magic, identity length, identity, the base (the number of
/// the first record), and the CRC of identity and base.
fn header(identity: &str, base: u64) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    let at = h.len();
    h.extend_from_slice(identity.as_bytes());
    h.extend_from_slice(&base.to_le_bytes());
    let crc = crc32fast::hash(&h[at..]);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Reads a header: the identity, the base and the header's length, or why
/// it is not one.
fn read_header(r: &mut impl Read) -> Result<(String, u64, u64), String> {
    let mut head = [0u8; 12];
    if read_full(r, &mut head).map_err(|e| e.to_string())? < 12 || &head[..8] != MAGIC {
        return Err(if head[..5] == MAGIC[..5] {
            "another version of the log format".into()
        } else {
            "no socialbench log".into()
        });
    }
    let n = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if n > 4096 {
        return Err("a corrupt header".into());
    }
    let mut id = vec![0u8; n as usize + 8 + 4];
    if read_full(r, &mut id).map_err(|e| e.to_string())? < id.len() {
        return Err("a header cut short".into());
    }
    let (covered, crc) = id.split_at(n as usize + 8);
    if crc32fast::hash(covered).to_le_bytes() != crc {
        return Err("a corrupt header".into());
    }
    let (text, base) = covered.split_at(n as usize);
    let base = u64::from_le_bytes(
        base.try_into()
            .map_err(|_| "a corrupt header".to_string())?,
    );
    let text = String::from_utf8(text.to_vec()).map_err(|_| "a corrupt header".to_string())?;
    Ok((text, base, 12 + u64::from(n) + 8 + 4))
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
