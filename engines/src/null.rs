//! The `null` engine (SKELETON: being written).

use crate::engine::{EngineConfig, EngineError};

/// The `null` engine.
#[derive(Debug)]
pub struct NullEngine;

/// A session of the `null` engine.
#[derive(Debug)]
pub struct NullSession;

impl NullEngine {
    /// Builds the engine.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let _ = config;
        Err(EngineError::Config("not yet implemented".into()))
    }
}

impl crate::engine::Session for NullSession {
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

impl crate::engine::Engine for NullEngine {
    type Session = NullSession;
    fn name(&self) -> &'static str {
        "null"
    }
    fn session(&self) -> Result<NullSession, EngineError> {
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
