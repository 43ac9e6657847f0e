//! `socialbench trace`: a scenario run single-threaded against one partition,
//! one JSON line per op with its reply.
//!
//! Each line is `{"i":..,"phase":"load"|"run","user":..,"role":..,"op":..,"reply":..}`
//! with `op` and `reply` in serde's external tagging (`{"Register":{"user":0}}`,
//! `{"Ok":{"Posted":{...}}}`). The output depends only on the workload and
//! its seed: byte for byte the same on every run.

use std::io::{self, Write};

use serde::Serialize;
use socialbench_engines::{FollowUp, Op, Partition, PostClock, Response, UserId};

use crate::{Role, Workload};

#[derive(Serialize)]
struct Line<'a> {
    i: u64,
    phase: &'static str,
    user: u32,
    role: Role,
    op: &'a Op,
    reply: &'a Response,
}

/// The acting user of a load op (every load op has one).
fn actor(op: &Op) -> UserId {
    match op {
        Op::Register { user }
        | Op::Join { user, .. }
        | Op::Leave { user, .. }
        | Op::GetHomeFeed { user, .. }
        | Op::GetInbox { user, .. }
        | Op::GetProfile { user } => *user,
        Op::CreateCommunity { creator, .. } => *creator,
        Op::CreatePost { author, .. } | Op::Comment { author, .. } => *author,
        Op::Vote { voter, .. } => *voter,
        Op::SendDm { from, .. } => *from,
        Op::GetPost { .. } | Op::GetCommunityFeed { .. } | Op::Search { .. } => UserId(u32::MAX),
    }
}

fn apply(partition: &mut Partition, op: Op, follow_ups: &mut Vec<FollowUp>) -> Response {
    let r = partition.apply(op, follow_ups);
    for f in follow_ups.drain(..) {
        partition.apply_follow_up(f);
    }
    r
}

/// Runs `workload` single-threaded against one fresh [`Partition`]: the load
/// phase (written out if `include_load`) then `ops` run-phase ops, writing
/// one JSON line per op written. Returns the number of lines written.
pub fn trace(
    workload: &Workload,
    ops: u64,
    include_load: bool,
    out: &mut impl Write,
) -> Result<u64, io::Error> {
    let mut partition = Partition::new(0, 1, PostClock::new());
    let mut follow_ups = Vec::new();
    let mut i = 0u64;
    for stage in 0..workload.load_stages() {
        for op in workload.load_ops(stage, 0, 1) {
            if include_load {
                let user = actor(&op);
                let role = workload.role_of(user);
                let reply = apply(&mut partition, op.clone(), &mut follow_ups);
                write_line(out, i, "load", user, role, &op, &reply)?;
                i += 1;
            } else {
                let _ = apply(&mut partition, op, &mut follow_ups);
            }
        }
    }
    let mut generator = workload.generator(0, 1);
    for _ in 0..ops {
        let (token, op) = generator.next_op();
        let reply = apply(&mut partition, op.clone(), &mut follow_ups);
        let (user, role) = (generator.user_of(token), generator.role_of(token));
        write_line(out, i, "run", user, role, &op, &reply)?;
        generator.on_reply(token, &reply);
        i += 1;
    }
    Ok(i)
}

fn write_line(
    out: &mut impl Write,
    i: u64,
    phase: &'static str,
    user: UserId,
    role: Role,
    op: &Op,
    reply: &Response,
) -> Result<(), io::Error> {
    let line = Line {
        i,
        phase,
        user: user.0,
        role,
        op,
        reply,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
