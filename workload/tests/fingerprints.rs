//! Golden fingerprints of every preset: the op stream the generator makes, the
//! replies the `serial` engine gives it and the engine's final digest, over the
//! load phase and a fixed number of run-phase ops.
//!
//! The differential tests compare every engine with `serial`, which runs the
//! same partition code, so they cannot see a change of behaviour of the
//! partition or of the generator; these can. A change that is meant to keep
//! behaviour (a faster partition, a restructured generator) must leave them
//! identical. A change that is meant to alter behaviour updates them in the
//! same commit, saying why: run with `SOCIALBENCH_PRINT_FINGERPRINTS=1` to
//! print the new values.
//!
//! Hashes are FNV-1a (64-bit) over the JSON of each op and each reply (the
//! `trace` command's encoding), so they do not depend on the standard
//! library's hasher, which may change between Rust releases.

use socialbench_engines::{Engine, EngineConfig, Op, Session, serial::SerialEngine};
use socialbench_workload::{Scenario, Workload};

/// Users of every fingerprinted workload.
const USERS: u32 = 2_000;
/// Run-phase ops after the load phase.
const OPS: u64 = 20_000;
/// Seed of every fingerprinted workload.
const SEED: u64 = 42;

/// FNV-1a, 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn json<T: serde::Serialize>(&mut self, v: &T) {
        let text = serde_json::to_vec(v).expect("ops and replies serialise");
        self.write(&text);
        self.write(b"\n");
    }
}

/// What one preset's stream fingerprints to.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    /// Ops, load phase included.
    ops: u64,
    /// Hash of every op, in order.
    op_stream: u64,
    /// Hash of every reply of the serial engine, in order.
    replies: u64,
    /// The serial engine's digest at the end.
    digest: u64,
}

fn fingerprint(preset: &str, seed: u64) -> Fingerprint {
    let scenario = Scenario::preset(preset).unwrap().with_users(USERS);
    let workload = Workload::new(scenario, seed).unwrap();
    let engine = SerialEngine::new(&EngineConfig::default()).unwrap();
    let mut session = engine.session().unwrap();
    let (mut ops, mut replies) = (Fnv::new(), Fnv::new());
    let mut count = 0u64;
    let mut step = |op: Op, session: &mut <SerialEngine as Engine>::Session| {
        ops.json(&op);
        let reply = session.call(op);
        replies.json(&reply);
        count += 1;
        reply
    };
    for stage in 0..workload.load_stages() {
        for op in workload.load_ops(stage, 0, 1) {
            let reply = step(op, &mut session);
            assert!(reply.is_ok(), "{preset}: a load op was refused: {reply:?}");
        }
    }
    let mut generator = workload.generator(0, 1);
    for _ in 0..OPS {
        let (token, op) = generator.next_op();
        let reply = step(op, &mut session);
        generator.on_reply(token, &reply);
    }
    drop(session);
    engine.quiesce();
    let fp = Fingerprint {
        ops: count,
        op_stream: ops.0,
        replies: replies.0,
        digest: engine.digest(),
    };
    engine.shutdown();
    fp
}

/// The golden values, one per preset.
const GOLDEN: [(&str, Fingerprint); 5] = [
    (
        "reddit",
        Fingerprint {
            ops: 42420,
            op_stream: 0x0bdbd98b38af320f,
            replies: 0x773cc6a0fa994a9f,
            digest: 0xe54190b5f990becc,
        },
    ),
    (
        "microblog",
        Fingerprint {
            ops: 45970,
            op_stream: 0x819d45f75fef7aaa,
            replies: 0x04b1efe544808295,
            digest: 0xe655f2cb7334bcef,
        },
    ),
    (
        "messenger",
        Fingerprint {
            ops: 41980,
            op_stream: 0x9c1e36d6403d3773,
            replies: 0x2da952d1c2fba3bd,
            digest: 0x62c13957ff0772fa,
        },
    ),
    (
        "chat",
        Fingerprint {
            ops: 33020,
            op_stream: 0x9e2d5be297dfff79,
            replies: 0x3f4124c4f5608a11,
            digest: 0xe2d75001f1418054,
        },
    ),
    (
        "twitter",
        Fingerprint {
            ops: 72000,
            op_stream: 0x90aaa5393f128f83,
            replies: 0x231f2027a61120d2,
            digest: 0xd5cded3a6e5f3681,
        },
    ),
];

#[test]
fn every_preset_keeps_its_op_stream_replies_and_digest() {
    let print = std::env::var_os("SOCIALBENCH_PRINT_FINGERPRINTS").is_some();
    let mut wrong = Vec::new();
    for (preset, golden) in &GOLDEN {
        let got = fingerprint(preset, SEED);
        if print {
            println!(
                "(\"{preset}\", Fingerprint {{ ops: {}, op_stream: {:#018x}, replies: {:#018x}, digest: {:#018x} }}),",
                got.ops, got.op_stream, got.replies, got.digest
            );
        }
        if got != *golden {
            wrong.push(format!("{preset}: got {got:x?}, golden {golden:x?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "fingerprints changed (behaviour of the generator or the partition):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn another_seed_changes_every_part_of_the_fingerprint() {
    // Guards the fingerprint itself: it must see the stream, not just its length.
    let a = fingerprint("messenger", SEED);
    let b = fingerprint("messenger", SEED + 1);
    assert_ne!(a.op_stream, b.op_stream);
    assert_ne!(a.replies, b.replies);
    assert_ne!(a.digest, b.digest);
}
