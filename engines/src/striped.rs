//! The `striped` engine (SKELETON: being written).

use crate::engine::{EngineConfig, EngineError};

/// The `striped` engine.
#[derive(Debug)]
pub struct StripedEngine;

/// A session of the `striped` engine.
#[derive(Debug)]
pub struct StripedSession;

impl StripedEngine {
    /// Builds the engine.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let _ = config;
        Err(EngineError::Config("not yet implemented".into()))
    }
}

impl crate::engine::Session for StripedSession {
    fn submit(&mut self, _tag: u64, _op: crate::Op) -> Result<(), EngineError> {
        Err(EngineError::Shutdown)
    }
    fn poll<F: FnMut(u64, crate::Response)>(&mut self, _wait: bool, _f: F) -> usize {
        0
    }
    fn outstanding(&self) -> usize {
        0
    }
}

impl crate::engine::Engine for StripedEngine {
    type Session = StripedSession;
    fn name(&self) -> &'static str {
        "striped"
    }
    fn session(&self) -> Result<StripedSession, EngineError> {
        Err(EngineError::Shutdown)
    }
    fn stats(&self) -> crate::EngineStats {
        crate::EngineStats::default()
    }
    fn quiesce(&self) {}
    fn audit(&self) -> crate::Audit {
        crate::Audit::default()
    }
    fn digest(&self) -> u64 {
        0
    }
    fn shutdown(&self) {}
}
