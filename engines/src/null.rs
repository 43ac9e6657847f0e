//! The `null` engine: answers every op at once with `Ok(Reply::Done)` and
//! keeps nothing. Its throughput is the harness's own ceiling, so a session
//! does as little as possible: `submit` drops the op
//! and pushes its tag onto a vector reused across polls; `poll` drains it.
//! Nothing is shared between sessions but a shutdown flag read once per submit
//! (a read-only cache line, never written during a run).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::{Op, Reply, Response};
use crate::audit::Audit;
use crate::config::EngineConfig;
use crate::engine::{Engine, Session};
use crate::error::EngineError;
use crate::stats::EngineStats;

/// The `null` engine: replies at once, keeps nothing, serves any number of sessions.
#[derive(Debug, Default)]
pub struct NullEngine {
    shut_down: Arc<AtomicBool>,
}

/// A session of the `null` engine: the tags of ops not yet polled.
#[derive(Debug)]
pub struct NullSession {
    shut_down: Arc<AtomicBool>,
    /// Tags in submission order; replies are all `Ok(Reply::Done)`.
    pending: Vec<u64>,
}

impl NullEngine {
    /// Builds the engine after checking `config` ([`EngineConfig::validate`]);
    /// its values are otherwise ignored: there is nothing to partition, no
    /// thread, and no state for a fault to corrupt.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        config.refuse_replicas("null")?;
        config.refuse_durability("null")?;
        config.refuse_push("null")?;
        Ok(NullEngine::default())
    }
}

impl Session for NullSession {
    #[inline(always)]
    fn submit(&mut self, tag: u64, op: Op) -> Result<(), EngineError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        drop(op);
        self.pending.push(tag);
        Ok(())
    }

    #[inline(always)]
    fn poll<F: FnMut(u64, Response)>(&mut self, _wait: bool, mut f: F) -> usize {
        let n = self.pending.len();
        for tag in self.pending.drain(..) {
            f(tag, Ok(Reply::Done));
        }
        n
    }

    fn outstanding(&self) -> usize {
        self.pending.len()
    }
}

impl Engine for NullEngine {
    type Session = NullSession;

    fn name(&self) -> &'static str {
        "null"
    }

    fn session(&self) -> Result<NullSession, EngineError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(EngineError::Shutdown);
        }
        Ok(NullSession {
            shut_down: Arc::clone(&self.shut_down),
            pending: Vec::with_capacity(64),
        })
    }

    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }

    fn quiesce(&self) {}

    /// All zero: the null engine keeps nothing (so its audit fails against
    /// any acknowledged write, as it should).
    fn audit(&self) -> Audit {
        Audit::default()
    }

    fn digest(&self) -> u64 {
        0
    }

    fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::UserId;

    #[test]
    fn replies_done_in_submission_order() {
        let e = NullEngine::new(&EngineConfig::default()).unwrap();
        let mut s = e.session().unwrap();
        for tag in [5, 1, 9] {
            s.submit(
                tag,
                Op::GetProfile {
                    user: UserId(tag as u32),
                },
            )
            .unwrap();
        }
        assert_eq!(s.outstanding(), 3);
        let mut got = Vec::new();
        assert_eq!(s.poll(false, |t, r| got.push((t, r))), 3);
        assert_eq!(
            got,
            vec![
                (5, Ok(Reply::Done)),
                (1, Ok(Reply::Done)),
                (9, Ok(Reply::Done))
            ]
        );
        assert_eq!(s.outstanding(), 0);
        assert_eq!(s.call(Op::Register { user: UserId(1) }), Ok(Reply::Done));
    }

    #[test]
    fn shutdown_fails_later_submits_and_sessions() {
        let e = NullEngine::new(&EngineConfig::default()).unwrap();
        let mut s = e.session().unwrap();
        let mut s2 = e.session().unwrap();
        s2.submit(1, Op::Register { user: UserId(1) }).unwrap();
        e.shutdown();
        assert_eq!(
            s.submit(1, Op::Register { user: UserId(1) }),
            Err(EngineError::Shutdown)
        );
        assert_eq!(
            s.call(Op::Register { user: UserId(1) }),
            Err(crate::ApiError::Shutdown)
        );
        assert!(matches!(e.session(), Err(EngineError::Shutdown)));
    }
}
