//! The one interface every engine implements: [`Engine`] hands each client
//! thread a [`Session`]; a session keeps many ops in flight (`submit` then
//! `poll`) or makes a blocking `call`.
//!
//! The hot loop is statically dispatched: the harness is generic over
//! `E: Engine`, and [`crate::EngineKind::visit`] picks the concrete type once.
//!
//! Every engine depends on this module, and it depends on no engine (the
//! dispatch over engines is [`crate::kind`]): only on the API, the audit's
//! aggregates, [`EngineError`] and the figures of [`crate::stats`].

use crate::api::{ApiError, Op, Response};
use crate::audit::Audit;
use crate::error::EngineError;
use crate::stats::EngineStats;

/// A session: one client thread's connection to an engine, with one reply
/// channel for all its requests.
pub trait Session: Send {
    /// Sends `op`, tagged with `tag` (echoed with its reply). Blocks while the
    /// engine's mailbox is full (backpressure). Fails only when the engine is shut down.
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError>;

    /// Hands every reply that has arrived to `f`, and returns how many. With
    /// `wait` and at least one op outstanding, blocks until one reply arrives.
    fn poll<F: FnMut(u64, Response)>(&mut self, wait: bool, f: F) -> usize;

    /// Ops submitted whose replies have not yet been polled.
    fn outstanding(&self) -> usize;

    /// Submits `op` and waits for its reply. Replies to earlier submissions
    /// that arrive meanwhile are discarded, so mix `call` with `submit` only
    /// when nothing else is outstanding.
    fn call(&mut self, op: Op) -> Response {
        const CALL_TAG: u64 = u64::MAX;
        if let Err(e) = self.submit(CALL_TAG, op) {
            return Err(match e {
                EngineError::Shutdown => ApiError::Shutdown,
                _ => ApiError::EngineFault,
            });
        }
        let mut out = None;
        while out.is_none() {
            let n = self.poll(true, |tag, r| {
                if tag == CALL_TAG {
                    out = Some(r);
                }
            });
            if n == 0 && self.outstanding() == 0 && out.is_none() {
                return Err(ApiError::Shutdown);
            }
        }
        out.unwrap_or(Err(ApiError::Shutdown))
    }
}

/// An engine: owns the state and the threads that serve it.
///
/// Dropping an engine shuts it down and joins every thread it started.
pub trait Engine: Send + Sync + 'static {
    /// The per-client-thread handle.
    type Session: Session + 'static;

    /// The engine's name, as on the command line.
    fn name(&self) -> &'static str;

    /// A new session for one client thread.
    fn session(&self) -> Result<Self::Session, EngineError>;

    /// A snapshot of counts, bytes and queues.
    fn stats(&self) -> EngineStats;

    /// Returns once every follow-up sent so far has been applied. Call it when
    /// no client is submitting (after a run), before [`Engine::audit`].
    fn quiesce(&self);

    /// Aggregates to check against the acknowledged writes ([`Audit`]).
    fn audit(&self) -> Audit;

    /// An order-independent digest of the whole state: equal states (same
    /// entities, any partitioning) give equal digests.
    fn digest(&self) -> u64;

    /// Every entity, for the per-entity audit ([`crate::audit::entities`]);
    /// call it after [`Engine::quiesce`]. `None`: the engine has no state
    /// to report this way (`null`), or reads it otherwise (`redis`, whose
    /// state is checked by the aggregate audit and the differential tests).
    fn entities(&self) -> Option<crate::audit::Entities> {
        None
    }

    /// The measured window starts at `at`: the crash fault's times count
    /// from it. Engines without timed faults ignore it.
    fn start_window(&self, _at: std::time::Instant) {}

    /// A run loaded from several processes (`--group K/N`, the `redis`
    /// engine): waits until every process has reached the point `name`,
    /// then returns the moment they all go on from (a little after the last
    /// arrived), which the caller waits for. `Ok(None)`: not a group run,
    /// go on at once. An error says which point timed out and how many
    /// processes had arrived.
    fn group_barrier(&self, _name: &str) -> Result<Option<std::time::SystemTime>, EngineError> {
        Ok(None)
    }

    /// Stops serving and joins the engine's threads. Idempotent. Ops submitted
    /// after (or pending at) shutdown are answered with `Shutdown` or dropped with
    /// their session; a session's `submit` then fails.
    fn shutdown(&self);
}
