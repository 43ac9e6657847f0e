//! socialbench-workload: scenarios modelled on real social systems (roles,
//! Zipf popularity, simulated users) and the ops they generate (DESIGN section 4).
//!
//! SKELETON: the public signatures below are the contract with the harness;
//! bodies are being written.
//!
//! The life of an op starts here: a [`Scenario`] (a preset or a TOML file) is
//! prepared once into a [`Workload`] (alias tables, memberships, follow graph);
//! the harness asks it for the load phase ([`Workload::load_ops`]) and for one
//! [`Generator`] per client thread, whose simulated users produce ops and
//! consume the replies.

use std::path::Path;

use socialbench_engines::{Op, Response};

/// Why a scenario could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// No preset of that name.
    #[error("unknown workload preset `{name}` (known: {known})")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The known presets, comma separated.
        known: String,
    },
    /// A workload file could not be read.
    #[error("cannot read workload file {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A workload file or value is invalid (names the key and the allowed values).
    #[error("invalid workload: {0}")]
    Invalid(String),
}

/// A role of a simulated user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Role {
    /// Creates posts and communities, does everything.
    Creator,
    /// Votes, comments, DMs as well as reading.
    Contributor,
    /// Reads and joins.
    Lurker,
}

/// A scenario: population, roles, op mixes, distributions.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scenario {
    /// Preset this scenario started from.
    pub preset: String,
    /// Number of users.
    pub users: u32,
    /// Number of ordinary communities.
    pub communities: u32,
}

impl Scenario {
    /// Names of the presets.
    pub const PRESETS: [&'static str; 4] = ["reddit", "microblog", "messenger", "chat"];

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Scenario, WorkloadError> {
        Err(WorkloadError::UnknownPreset {
            name: name.into(),
            known: Self::PRESETS.join(", "),
        })
    }

    /// A preset name, or the path of a TOML workload file.
    pub fn from_arg(arg: &str) -> Result<Scenario, WorkloadError> {
        Self::preset(arg)
    }

    /// Reads a TOML workload file (`preset = "..."` then overrides).
    pub fn from_file(path: &Path) -> Result<Scenario, WorkloadError> {
        Err(WorkloadError::Io {
            path: path.display().to_string(),
            reason: "pending".into(),
        })
    }

    /// Mean ops per second one user issues (1 / think time): the default
    /// open-loop rate is `users * per_user_rate()`.
    pub fn per_user_rate(&self) -> f64 {
        1.0
    }
}

/// A scenario prepared for a run: tables built, deterministic for a seed.
#[derive(Debug)]
pub struct Workload {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
}

impl Workload {
    /// Prepares `scenario` for `seed` (may use rayon for set-up).
    pub fn new(scenario: Scenario, seed: u64) -> Result<Workload, WorkloadError> {
        Ok(Workload { scenario, seed })
    }

    /// Number of load stages; every thread finishes stage `s` before any starts `s + 1`.
    pub fn load_stages(&self) -> usize {
        0
    }

    /// The ops of load stage `stage` that client thread `thread` of `threads` sends.
    pub fn load_ops(
        &self,
        stage: usize,
        thread: usize,
        threads: usize,
    ) -> Box<dyn Iterator<Item = Op> + Send + '_> {
        let _ = (stage, thread, threads);
        Box::new(std::iter::empty())
    }

    /// The generator of client thread `thread` of `threads` (its share of the users).
    pub fn generator(&self, thread: usize, threads: usize) -> Generator {
        let _ = (thread, threads);
        Generator {}
    }
}

/// One client thread's simulated users.
#[derive(Debug)]
pub struct Generator {}

impl Generator {
    /// The next op and a token to hand back with its reply.
    pub fn next_op(&mut self) -> (u64, Op) {
        unimplemented!("generator pending")
    }

    /// Feeds the reply to the op `token` came with back to its user.
    pub fn on_reply(&mut self, token: u64, response: &Response) {
        let _ = (token, response);
    }
}
