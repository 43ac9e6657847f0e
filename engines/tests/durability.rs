//! Durable partitions (`--durability`, `wal/mod.rs`): a recovered engine
//! has the state it had and answers the rest of an op stream exactly as the
//! serial engine that never stopped; a torn or corrupt log tail is cut and
//! reported; bad data dirs are refused and left as they were; a crash loses
//! nothing acknowledged with `fsync` and the partition's state without a log.
//!
//! Size knob: `SOCIALBENCH_WAL_OPS` (ops of the reference stream, default 3,000).

mod common;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    OpGen, Reference, closed_loop, env_usize, hammer_hot_communities, hammer_hot_communities_then,
    serial_reference,
};
use socialbench_engines::actor::ActorEngine;
use socialbench_engines::serial::SerialEngine;
use socialbench_engines::sharded::ShardedEngine;
use socialbench_engines::striped::StripedEngine;
use socialbench_engines::wal::{log_path, snapshot_path};
use socialbench_engines::*;

/// A data dir of its own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("sb-wal-{name}-{}-{nanos}", std::process::id()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `partitions` partitions logging in `dir` under `mode`.
fn durable(mode: DurabilityMode, dir: &Path, partitions: usize, recover: bool) -> EngineConfig {
    EngineConfig {
        partitions,
        durability: Durability {
            mode,
            dir: Some(dir.to_path_buf()),
            identity: "durability test".into(),
            recover,
            snapshot_every: 0,
        },
        ..EngineConfig::default()
    }
}

/// A durable engine of `kind` (serial, actor or sharded).
fn build(kind: EngineKind, config: &EngineConfig) -> Result<Box<dyn Durable>, EngineError> {
    Ok(match kind {
        EngineKind::Serial => Box::new(SerialEngine::new(config)?),
        EngineKind::Actor => Box::new(ActorEngine::new(config)?),
        EngineKind::Sharded => Box::new(ShardedEngine::new(config)?),
        EngineKind::Striped => Box::new(StripedEngine::new(config)?),
        k => panic!("{k:?} is not durable"),
    })
}

/// What the tests need of an engine, object-safe.
trait Durable {
    fn run(&self, ops: &[Op], want: &[Response], label: &str);
    fn digest_now(&self) -> u64;
    fn stats_now(&self) -> EngineStats;
}

impl<E: Engine> Durable for E {
    /// Applies `ops` one at a time, each reply checked against `want`.
    fn run(&self, ops: &[Op], want: &[Response], label: &str) {
        let mut s = self.session().expect("session");
        for (i, (op, want)) in ops.iter().zip(want).enumerate() {
            let got = s.call(op.clone());
            assert!(
                got == *want,
                "{label}: op {i} {op:?} replied {got:?}, the serial engine {want:?}"
            );
        }
    }

    fn digest_now(&self) -> u64 {
        self.quiesce();
        self.digest()
    }

    fn stats_now(&self) -> EngineStats {
        self.stats()
    }
}

fn reference() -> &'static Reference {
    static R: std::sync::OnceLock<Reference> = std::sync::OnceLock::new();
    R.get_or_init(|| serial_reference(env_usize("SOCIALBENCH_WAL_OPS", 3_000)))
}

/// Runs the first half of the reference on a durable engine, drops it,
/// recovers it from its logs, and runs the second half: every reply must be
/// the serial engine's (so post stamps went on from the recovered clock),
/// and the digest after recovery the one before.
#[test]
fn a_recovered_engine_has_its_state_and_answers_the_rest_like_serial() {
    let r = reference();
    let half = r.ops.len() / 2;
    for (kind, partitions) in [
        (EngineKind::Serial, 1),
        (EngineKind::Actor, 1),
        (EngineKind::Sharded, 3),
        (EngineKind::Striped, 3),
    ] {
        for (mode, every) in [
            (DurabilityMode::Log, 0),
            (DurabilityMode::Fsync, 0),
            (DurabilityMode::Fsync, 97),
        ] {
            let label = format!("{kind:?} {mode}, a snapshot every {every} records");
            let dir = TempDir::new("recover");
            let config = |recover| {
                let mut c = durable(mode, &dir.0, partitions, recover);
                c.durability.snapshot_every = every;
                c
            };
            let before = {
                let e = build(kind, &config(false)).expect(&label);
                e.run(&r.ops[..half], &r.replies[..half], &label);
                let d = e.digest_now();
                let log = e.stats_now().durability.expect("durable stats").log;
                assert!(log.records > 0 && log.commits > 0, "{label}: {log:?}");
                assert_eq!(log.snapshots > 0, every > 0, "{label}: {log:?}");
                d
            };
            let e = build(kind, &config(true)).expect(&label);
            assert_eq!(e.digest_now(), before, "{label}: recovered state");
            let rec = e.stats_now().durability.and_then(|d| d.recovered);
            let rec = rec.expect("recovered figures");
            if every == 0 {
                assert!(
                    rec.records > 0 && rec.snapshot_records == 0,
                    "{label}: {rec:?}"
                );
            } else {
                // The logs hold only what followed the last snapshots.
                assert!(rec.snapshot_records > 0, "{label}: {rec:?}");
                assert!(rec.records < every * partitions as u64, "{label}: {rec:?}");
            }
            assert_eq!(rec.truncated_bytes, 0, "{label}: {rec:?}");
            e.run(&r.ops[half..], &r.replies[half..], &label);
            assert_eq!(e.digest_now(), r.digest, "{label}: final state");
        }
    }
}

/// The reference's ops up to (not including) its `n`-th acknowledged
/// write from the end, replayed on a fresh serial engine: the state a log
/// missing its last `n` records holds.
fn digest_without_last_writes(r: &Reference, n: usize) -> u64 {
    let mut acked = r
        .ops
        .iter()
        .zip(&r.replies)
        .enumerate()
        .filter(|(_, (op, reply))| op.kind().is_write() && reply.is_ok())
        .map(|(i, _)| i);
    let cut = acked.nth_back(n - 1).expect("enough writes");
    let e = SerialEngine::new(&EngineConfig::default()).unwrap();
    e.run(&r.ops[..cut], &r.replies[..cut], "prefix");
    e.digest_now()
}

/// Cutting a log mid-record, flipping a byte of its last record or adding
/// a partial header each lose exactly the damaged record: the recovery
/// reports the bytes it cut and why, the file is left cut (a second
/// recovery finds it clean), and the state is the log's valid prefix.
#[test]
fn a_torn_or_corrupt_tail_is_cut_reported_and_never_replayed() {
    let r = reference();
    let lost_one = digest_without_last_writes(r, 1);
    let whole = r.digest;
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage, u64, &str); 4] = [
        (
            "cut mid-record",
            |b| b.truncate(b.len() - 3),
            lost_one,
            "cut short",
        ),
        (
            "last byte flipped",
            |b| *b.last_mut().unwrap() ^= 0x40,
            lost_one,
            "checksum",
        ),
        (
            "partial header added",
            |b| b.extend_from_slice(&[7, 0, 0]),
            whole,
            "header cut short",
        ),
        (
            "absurd length added",
            |b| b.extend_from_slice(&[0xff; 12]),
            whole,
            "length",
        ),
    ];
    for (what, damage, want, because) in cases {
        let dir = TempDir::new("torn");
        let config = durable(DurabilityMode::Fsync, &dir.0, 1, false);
        SerialEngine::new(&config)
            .unwrap()
            .run(&r.ops, &r.replies, what);
        let path = log_path(&dir.0, 0);
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        damage(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let config = durable(DurabilityMode::Fsync, &dir.0, 1, true);
        let e = SerialEngine::new(&config).expect(what);
        let rec = e.stats().durability.and_then(|d| d.recovered).unwrap();
        assert!(rec.truncated_bytes > 0, "{what}: {rec:?}");
        let why = rec.truncated_because.clone().unwrap_or_default();
        assert!(why.contains(because), "{what}: `{why}`");
        assert_eq!(e.digest_now(), want, "{what}: state");
        drop(e);
        let cut = std::fs::metadata(&path).unwrap().len();
        assert!(
            cut <= len as u64 && cut == rec.bytes,
            "{what}: file {cut}, {rec:?}"
        );
        let again = SerialEngine::new(&config).unwrap();
        let rec2 = again.stats().durability.and_then(|d| d.recovered).unwrap();
        assert_eq!(
            (rec2.truncated_bytes, rec2.records),
            (0, rec.records),
            "{what}"
        );
    }
}

fn config_error(r: Result<impl Sized, EngineError>) -> String {
    match r {
        Err(e @ EngineError::Config { .. }) => e.detail(),
        Err(e) => panic!("not a configuration error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

/// A new run's data dir must be empty; a recovered one must hold this
/// engine's logs for this workload and version. Every refusal is a
/// configuration error (exit 2 at the CLI) and leaves the files as they were.
#[test]
fn bad_data_dirs_are_refused_and_left_as_they_were() {
    let dir = TempDir::new("bad");
    std::fs::create_dir_all(&dir.0).unwrap();
    let notes = dir.0.join("notes.txt");
    std::fs::write(&notes, b"mine").unwrap();
    let fresh = durable(DurabilityMode::Fsync, &dir.0, 2, false);
    let e = config_error(SerialEngine::new(&fresh));
    assert!(e.contains("not empty"), "{e}");
    assert!(config_error(ShardedEngine::new(&fresh)).contains("not empty"));
    assert_eq!(std::fs::read(&notes).unwrap(), b"mine");

    // A log of two shards, for another workload.
    let logs = TempDir::new("logs");
    let mut other = durable(DurabilityMode::Fsync, &logs.0, 2, false);
    other.durability.identity = "another workload".into();
    ShardedEngine::new(&other).unwrap().run(
        &reference().ops[..50],
        &reference().replies[..50],
        "other",
    );
    let original = std::fs::read(log_path(&logs.0, 0)).unwrap();
    let recover = durable(DurabilityMode::Fsync, &logs.0, 2, true);
    let e = config_error(ShardedEngine::new(&recover));
    assert!(
        e.contains("not this run's log") && e.contains("another workload"),
        "{e}"
    );
    // Another partitioning of the same workload.
    let mut three = other.clone();
    three.partitions = 3;
    three.durability.recover = true;
    let e = config_error(ShardedEngine::new(&three));
    assert!(e.contains("not this run's log"), "{e}");
    // Another engine's log.
    let mut serial = other.clone();
    serial.durability.recover = true;
    let e = config_error(SerialEngine::new(&serial));
    assert!(e.contains("not this run's log"), "{e}");
    assert_eq!(std::fs::read(log_path(&logs.0, 0)).unwrap(), original);

    // Not a log at all, or none.
    std::fs::write(log_path(&dir.0, 0), b"hello, world, not a log").unwrap();
    let e = config_error(SerialEngine::new(&durable(
        DurabilityMode::Log,
        &dir.0,
        1,
        true,
    )));
    assert!(e.contains("no socialbench log"), "{e}");
    let empty = TempDir::new("empty");
    std::fs::create_dir_all(&empty.0).unwrap();
    let e = config_error(ActorEngine::new(&durable(
        DurabilityMode::Log,
        &empty.0,
        1,
        true,
    )));
    assert!(e.contains("missing"), "{e}");
    assert_eq!(
        std::fs::read(log_path(&dir.0, 0)).unwrap(),
        b"hello, world, not a log"
    );
}

/// A crash between a snapshot's rename and its log's compaction leaves
/// the old log beside the new snapshot: recovery skips the records the
/// snapshot covers (none applied twice). A log cut below its snapshot, or
/// a damaged snapshot, is refused, and the files are left as they were.
#[test]
fn a_snapshot_beside_its_uncompacted_log_skips_what_it_covers() {
    let r = reference();
    let dir = TempDir::new("snap");
    let config = |recover, every| {
        let mut c = durable(DurabilityMode::Fsync, &dir.0, 1, recover);
        c.durability.snapshot_every = every;
        c
    };
    SerialEngine::new(&config(false, 0))
        .unwrap()
        .run(&r.ops, &r.replies, "no snapshot");
    let old_log = std::fs::read(log_path(&dir.0, 0)).unwrap();
    // Recovered with a snapshot due at once: the first commit (one read,
    // which logs nothing) snapshots every record and compacts the log.
    {
        let e = SerialEngine::new(&config(true, 1)).unwrap();
        let mut s = e.session().unwrap();
        let read = Op::GetProfile { user: UserId(0) };
        let _ = s.call(read);
        drop(s);
        let log = e.stats().durability.unwrap().log;
        assert_eq!(log.snapshots, 1, "{log:?}");
    }
    let compacted = std::fs::read(log_path(&dir.0, 0)).unwrap();
    assert!(
        compacted.len() < 200,
        "not compacted: {} bytes",
        compacted.len()
    );
    // The crash between the renames: the old log is back.
    std::fs::write(log_path(&dir.0, 0), &old_log).unwrap();
    let e = SerialEngine::new(&config(true, 0)).unwrap();
    let rec = e.stats().durability.and_then(|d| d.recovered).unwrap();
    assert_eq!(e.digest_now(), r.digest);
    assert_eq!(
        (rec.records, rec.skipped_records, rec.truncated_bytes),
        (0, rec.snapshot_records, 0),
        "{rec:?}"
    );
    assert!(rec.snapshot_records > 0);
    drop(e);
    // The old log cut below the snapshot: records are missing.
    std::fs::write(log_path(&dir.0, 0), &old_log[..old_log.len() / 2]).unwrap();
    let e = config_error(SerialEngine::new(&config(true, 0)));
    assert!(e.contains("below its snapshot"), "{e}");
    // A damaged snapshot is refused, not cut, and not rewritten.
    std::fs::write(log_path(&dir.0, 0), &compacted).unwrap();
    let snap = snapshot_path(&dir.0, 0);
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&snap, &bytes).unwrap();
    let e = config_error(SerialEngine::new(&config(true, 0)));
    assert!(e.contains("damaged") && e.contains("checksum"), "{e}");
    assert_eq!(std::fs::read(&snap).unwrap(), bytes);
    assert_eq!(std::fs::read(log_path(&dir.0, 0)).unwrap(), compacted);
}

/// The crash fault firing every few dozen ops of a closed loop with 13 ops
/// in flight: with `fsync` every acknowledged write survives every crash
/// (the aggregate and per-entity audits pass) and some ops were answered
/// `Crashed`; without a log the partition's state is lost and the audit
/// says so.
#[test]
fn crashes_lose_nothing_acknowledged_with_fsync_and_the_state_without_a_log() {
    let ops = env_usize("SOCIALBENCH_WAL_OPS", 3_000) * 4;
    for (mode, every) in [
        (DurabilityMode::None, 0),
        (DurabilityMode::Fsync, 0),
        (DurabilityMode::Fsync, 61),
    ] {
        let dir = TempDir::new("crash");
        let mut config = durable(mode, &dir.0, 1, false);
        config.durability.snapshot_every = every;
        config.faults.crash = Some(Crash {
            partition: 0,
            at: Duration::ZERO,
            every: Some(Duration::from_nanos(1)),
        });
        let engine = SerialEngine::new(&config).unwrap();
        engine.start_window(std::time::Instant::now());
        let mut generator = OpGen::new(0xc4a5, 0, 300, (0, 40), 0.05);
        let run = {
            let mut s = engine.session().unwrap();
            closed_loop(&mut s, &mut generator, ops, 13)
        };
        engine.quiesce();
        let d = engine.stats().durability.expect("crash figures");
        assert!(d.crashes > 10 && d.failed_ops > 0, "{mode}: {d:?}");
        let sums = engine.audit().check(&run.tally);
        let entities = Expected::build(run.log.iter().copied()).check(&engine.entities().unwrap());
        if mode == DurabilityMode::Fsync {
            assert_eq!(d.lost_writes, 0, "{d:?}");
            assert!(sums.is_ok(), "{sums:?}");
            assert!(entities.passed(), "{entities:?}");
            assert_eq!(d.last_recovery.as_ref().map(|r| r.truncated_bytes), Some(0));
            assert_eq!(d.log.snapshots > 0, every > 0, "{d:?}");
            let from_snapshot = d.last_recovery.as_ref().map(|r| r.snapshot_records > 0);
            assert_eq!(from_snapshot, Some(every > 0), "{d:?}");
        } else {
            assert!(d.lost_writes > 0, "{d:?}");
            assert!(sums.is_err(), "a crash without a log lost nothing?");
            assert!(!entities.passed());
        }
    }
}

/// Four clients with 16 ops in flight each on three durable shards: the
/// audit passes, the log threads took snapshots meanwhile, and the engine
/// recovered from the snapshots and logs has the same digest.
#[test]
fn concurrent_clients_on_durable_shards_leave_logs_that_recover_the_state() {
    let ops = env_usize("SOCIALBENCH_WAL_OPS", 3_000);
    let dir = TempDir::new("hammer");
    let mut config = durable(DurabilityMode::Fsync, &dir.0, 3, false);
    // Snapshots taken by the log threads while the clients write.
    config.durability.snapshot_every = 211;
    let engine = ShardedEngine::new(&config).unwrap();
    let (mut tally, mut log, runs) = hammer_hot_communities(&engine, ops, "durable sharded");
    for r in &runs {
        tally.add(&r.tally);
        log.extend(r.log.iter().copied());
    }
    engine.quiesce();
    assert!(engine.audit().check(&tally).is_ok());
    assert!(
        Expected::build(log.iter().copied())
            .check(&engine.entities().unwrap())
            .passed()
    );
    let before = engine.digest();
    let groups = engine.stats().durability.unwrap().log;
    drop(engine);
    let recovered = ShardedEngine::new(&durable(DurabilityMode::Fsync, &dir.0, 3, true)).unwrap();
    assert_eq!(recovered.digest_now(), before);
    assert!(groups.snapshots >= 3, "{groups:?}");
    assert!(
        groups.max_group > 1,
        "no group commit ever grouped: {groups:?}"
    );
}

/// The crash fault on a shard of `sharded` (and on `actor`, and on a
/// stripe of `striped`) while four clients write: with `fsync` nothing
/// acknowledged is lost (the audits pass), the ops whose entries were lost
/// were answered `crashed`, and the follow-ups the crashed shard had
/// applied but not synced were applied again (without them the senders'
/// replies would wait for ever); without a log the state is lost and the
/// audit says so.
#[test]
fn a_crashing_shard_or_stripe_loses_nothing_acknowledged_with_fsync() {
    let ops = env_usize("SOCIALBENCH_WAL_OPS", 3_000);
    for (kind, shards, mode) in [
        (EngineKind::Sharded, 3, DurabilityMode::Fsync),
        (EngineKind::Actor, 1, DurabilityMode::Fsync),
        (EngineKind::Striped, 3, DurabilityMode::Fsync),
        (EngineKind::Sharded, 3, DurabilityMode::None),
        (EngineKind::Striped, 3, DurabilityMode::None),
    ] {
        let label = format!("{kind:?} {mode}");
        let dir = TempDir::new("shard-crash");
        let mut config = durable(mode, &dir.0, shards, false);
        config.durability.snapshot_every = 300;
        config.faults.crash = Some(Crash {
            partition: shards - 1,
            at: Duration::ZERO,
            every: Some(Duration::from_millis(2)),
        });
        let (sums, entities, d) = match kind {
            EngineKind::Sharded => crash_run(&ShardedEngine::new(&config).unwrap(), ops, &label),
            EngineKind::Striped => crash_run(&StripedEngine::new(&config).unwrap(), ops, &label),
            _ => crash_run(&ActorEngine::new(&config).unwrap(), ops, &label),
        };
        assert!(d.crashes > 0, "{label}: {d:?}");
        if mode == DurabilityMode::Fsync {
            assert_eq!(d.lost_writes, 0, "{label}: {d:?}");
            assert!(sums, "{label}: the audit's sums failed: {d:?}");
            assert!(entities, "{label}: the entity audit failed: {d:?}");
            let rec = d.last_recovery.as_ref().expect("a recovery");
            assert_eq!(rec.truncated_bytes, 0, "{label}: {rec:?}");
        } else {
            assert!(d.lost_writes > 0, "{label}: {d:?}");
            assert!(!sums, "{label}: a crash without a log lost nothing?");
        }
    }
}

/// Runs the hammer on `engine` with its crash fault armed after the
/// setup; returns whether the sums and the entities audit passed, and the
/// durability figures.
fn crash_run<E: Engine + Sync>(
    engine: &E,
    ops: usize,
    label: &str,
) -> (bool, bool, DurabilityStats) {
    let (mut tally, mut log, runs) = hammer_hot_communities_then(engine, ops, label, || {
        engine.start_window(std::time::Instant::now())
    });
    for r in &runs {
        tally.add(&r.tally);
        log.extend(r.log.iter().copied());
    }
    engine.quiesce();
    let d = engine.stats().durability.expect("crash figures");
    let sums = engine.audit().check(&tally).is_ok();
    let entities = Expected::build(log.iter().copied())
        .check(&engine.entities().unwrap())
        .passed();
    (sums, entities, d)
}

/// A crash of a durable shard that lost log entries (writes pipelined
/// just before it, not synced yet) and then logs nothing (the op it fires
/// on is a read): the read's reply must leave, not wait for the
/// acknowledgement of the lost entries, which never comes. The crash fires
/// on every `CrashTimer::CHECK_EVERY`-th op of shard 1 (`every` is a
/// nanosecond): its 1st, 65th, ...; each round makes that op a read that
/// follows a burst of writes, and all on shard 1, so nothing else is held.
#[test]
fn a_read_after_a_crash_that_lost_entries_is_answered() {
    const CHECK_EVERY: usize = 64;
    const WRITES: usize = 8;
    let rounds = env_usize("SOCIALBENCH_WAL_OPS", 3_000) / 30;
    let dir = TempDir::new("crash-read");
    let mut config = durable(DurabilityMode::Fsync, &dir.0, 2, false);
    config.faults.crash = Some(Crash {
        partition: 1,
        at: Duration::ZERO,
        every: Some(Duration::from_nanos(1)),
    });
    let engine = ShardedEngine::new(&config).unwrap();
    engine.start_window(std::time::Instant::now());
    let mut users = (0..)
        .map(UserId)
        .filter(|&u| placement::user_partition(u, 2) == 1);
    let read = |u| Op::GetCommunityFeed {
        community: CommunityId::profile(u),
        sort: Sort::New,
        limit: 10,
    };
    let mut s = engine.session().unwrap();
    let first = users.next().unwrap();
    // Shard 1's op 1 (a crash with nothing logged).
    assert!(s.call(Op::Register { user: first }).is_ok());
    let mut lost_rounds = 0;
    for round in 0..rounds {
        // Ops 2..=64 - WRITES: reads, each answered before the next.
        for _ in 1..CHECK_EVERY - WRITES {
            let _ = s.call(read(first));
        }
        // The writes, then the read the crash fires on, all in flight.
        for tag in 0..WRITES as u64 {
            let user = users.next().unwrap();
            s.submit(tag, Op::Register { user }).unwrap();
        }
        s.submit(WRITES as u64, read(first)).unwrap();
        let (crashed, read_back) = (Cell::new(0), Cell::new(false));
        let take = |tag: u64, r: Response| {
            crashed.set(crashed.get() + usize::from(r == Err(ApiError::Crashed)));
            read_back.set(read_back.get() || tag == WRITES as u64);
        };
        while s.outstanding() > 0 && crashed.get() == 0 {
            s.poll(true, take);
        }
        if crashed.get() > 0 {
            // The crash is under way: the read's reply leaves by the end
            // of its batch, before the shard takes the stats' probe.
            lost_rounds += 1;
            let _ = engine.stats();
            s.poll(false, take);
            assert!(
                read_back.get(),
                "round {round}: the read after a crash that lost {} writes is held",
                crashed.get()
            );
        }
        while s.outstanding() > 0 {
            s.poll(true, |_, _| {});
        }
    }
    let d = engine.stats().durability.expect("crash figures");
    assert_eq!(d.crashes as usize, rounds + 1, "{d:?}");
    assert!(lost_rounds > 0, "no crash lost a write: {d:?}");
    assert_eq!(d.lost_writes, 0, "{d:?}");
}
