//! What every bench shares: engine construction, the load phase, and the
//! ids the load phase hands back (posts, comments) so per-op benches act on
//! entities that exist.

use socialbench_engines::{
    CommentId, EngineConfig, EngineKind, Op, PostId, Reply, Session, UserId,
};
use socialbench_workload::{Scenario, Workload};

/// Users in the benches' pre-loaded state: a population where Zipf skew
/// shows, loaded once per engine before any clock starts.
pub const USERS: u32 = 10_000;

/// Ops a session keeps in flight in the benches, so thread-owned engines are
/// measured on throughput, not on one wake-up per op.
pub const INFLIGHT: usize = 64;

/// Engine configuration used by the benches: 2 partitions for the
/// partitioned engines (this machine's core count), defaults otherwise.
pub fn config(kind: EngineKind) -> EngineConfig {
    EngineConfig {
        partitions: if kind.is_partitioned() { 2 } else { 1 },
        ..EngineConfig::default()
    }
}

/// The workload of `preset` with [`USERS`] users and a fixed seed.
pub fn workload(preset: &str) -> Workload {
    let mut scenario = Scenario::preset(preset).expect("known preset");
    scenario.users = USERS;
    Workload::new(scenario, 42).expect("valid scenario")
}

/// Ids the load phase created, for per-op benches.
#[derive(Default)]
pub struct Loaded {
    /// Posts created by the load phase.
    pub posts: Vec<PostId>,
    /// Comments created by the load phase (created here if it made none).
    pub comments: Vec<CommentId>,
}

/// Runs every load stage of `workload` through `session` (one thread),
/// pipelined, and collects the ids of what it created.
pub fn load<S: Session>(session: &mut S, workload: &Workload) -> Loaded {
    let mut loaded = Loaded::default();
    let mut take = |_: u64, r: socialbench_engines::Response| match r {
        Ok(Reply::Posted(p)) => loaded.posts.push(p),
        Ok(Reply::Commented(c)) => loaded.comments.push(c),
        _ => {}
    };
    for stage in 0..workload.load_stages() {
        for op in workload.load_ops(stage, 0, 1) {
            while session.outstanding() >= INFLIGHT {
                session.poll(true, &mut take);
            }
            session.submit(0, op).expect("engine is running");
        }
        while session.outstanding() > 0 {
            session.poll(true, &mut take);
        }
    }
    if loaded.comments.is_empty() {
        for (i, post) in loaded.posts.iter().take(1000).enumerate() {
            let op = Op::Comment {
                author: UserId(i as u32 % USERS),
                post: *post,
                parent: None,
                body: "a seed comment for the benches".into(),
            };
            if let Ok(Reply::Commented(c)) = session.call(op) {
                loaded.comments.push(c);
            }
        }
    }
    loaded
}

/// Drives `ops` through `session` with up to [`INFLIGHT`] outstanding and
/// waits for every reply.
pub fn drive<S: Session>(session: &mut S, ops: impl IntoIterator<Item = Op>) {
    let mut sink = |_: u64, r: socialbench_engines::Response| {
        let _ = std::hint::black_box(r);
    };
    for op in ops {
        while session.outstanding() >= INFLIGHT {
            session.poll(true, &mut sink);
        }
        if session.submit(0, op).is_err() {
            break;
        }
    }
    while session.outstanding() > 0 {
        session.poll(true, &mut sink);
    }
}
