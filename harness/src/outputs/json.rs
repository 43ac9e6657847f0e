//! `run.json`: the whole configuration, the engine configuration, the
//! machine, and the summary, pretty-printed.

use std::path::{Path, PathBuf};

use serde::Serialize;
use socialbench_engines::EngineConfig;

use super::Report;
use crate::config::{RunConfig, RunError};
use crate::machine::MachineInfo;
use crate::summary::RunSummary;

/// The document written to `run.json`.
#[derive(Debug, Serialize)]
pub struct RunDocument<'a> {
    /// Schema version of this document.
    pub schema: u32,
    /// The run's configuration as given.
    pub config: &'a RunConfig,
    /// The engine configuration as resolved (partitions, pins, faults with their seed).
    pub engine_config: &'a EngineConfig,
    /// The machine and build.
    pub machine: &'a MachineInfo,
    /// What was measured.
    pub summary: &'a RunSummary,
}

/// Writes `run.json` at the end of the run.
#[derive(Debug)]
pub struct RunJson {
    path: PathBuf,
    config: RunConfig,
    engine_config: EngineConfig,
    machine: MachineInfo,
}

impl RunJson {
    /// A sink writing `dir/run.json`.
    pub fn new(
        dir: &Path,
        config: RunConfig,
        engine_config: EngineConfig,
        machine: MachineInfo,
    ) -> RunJson {
        RunJson {
            path: dir.join("run.json"),
            config,
            engine_config,
            machine,
        }
    }
}

impl Report for RunJson {
    fn finish(&mut self, s: &RunSummary) -> Result<(), RunError> {
        let doc = RunDocument {
            schema: crate::schema::SCHEMA_VERSION,
            config: &self.config,
            engine_config: &self.engine_config,
            machine: &self.machine,
            summary: s,
        };
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| RunError::output(&self.path, e))?;
        std::fs::write(&self.path, text + "\n").map_err(|e| RunError::output(&self.path, e))
    }
}
