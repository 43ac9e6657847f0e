//! socialbench-workload: scenarios modelled on real social systems (roles,
//! Zipf popularity, simulated users) and the ops they generate.
//!
//! The life of an op starts here: a [`Scenario`] (a preset or a TOML file) is
//! prepared once into a [`Workload`] (alias tables, memberships, follow graph);
//! the harness asks it for the load phase ([`Workload::load_ops`]) and for one
//! [`Generator`] per client thread, whose simulated users produce ops and
//! consume the replies.
//!
//! | module | what |
//! |---|---|
//! | [`scenario`] | the model, the presets, TOML workload files |
//! | [`zipf`] | alias tables and Zipf sampling |
//! | [`user`] | a simulated user's state and op tokens |
//! | [`generator`] | a client thread's users producing ops |
//! | [`load`] | the staged load phase and the initial graph |
//! | [`trace`](mod@trace) | ops and replies as JSON lines against one partition |
//! | [`words`] | the text of bodies |

use std::path::PathBuf;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use socialbench_engines::{Body, MAX_BODY_LEN, MAX_LIMIT, Op};

pub mod generator;
mod hint;
pub mod load;
pub mod scenario;
pub mod trace;
pub mod user;
pub mod words;
pub mod zipf;

pub use generator::{Generator, OpSink};
pub use scenario::{
    Action, Bodies, BodyLength, Invalid, InvalidKind, Mix, Population, Reads, RoleSpec, Roles,
    Scenario, SortName, ZipfExponents,
};
pub use trace::trace;
pub use user::Asked;
pub use zipf::{AliasTable, StridedZipf};

/// Why a scenario could not be read, parsed or prepared.
///
/// Every message is complete on one line, its cause's message included, so
/// that a caller can print it as it is; the cause is kept as the error's
/// [`source`](std::error::Error::source) for callers that inspect it.
#[derive(Debug, thiserror::Error)]
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
    #[error("cannot read workload file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// What is wrong inside a workload file.
    #[error("{}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: Box<WorkloadError>,
    },
    /// Text that is not TOML.
    #[error("invalid workload: bad TOML at line {line}, column {column}: {}", one_line(.source.message()))]
    Toml {
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error (in characters), from 1.
        column: usize,
        /// The parser's error.
        #[source]
        source: toml::de::Error,
    },
    /// A key the scenario does not have.
    #[error("invalid workload: unknown key `{key}` (allowed: {allowed})")]
    UnknownKey {
        /// The dotted key.
        key: String,
        /// The keys allowed at that level, comma separated.
        allowed: String,
    },
    /// A value of the wrong type or out of range.
    #[error("invalid workload: `{key}` must be {allowed}, got {got}")]
    Value {
        /// The dotted key.
        key: String,
        /// What the value must be.
        allowed: String,
        /// What it is.
        got: String,
    },
    /// A value the scenario's types reject (an unknown action or sort name).
    #[error("invalid workload: {}{}", key_prefix(.key), one_line(.source.message()))]
    Field {
        /// The dotted key, when it could be found.
        key: Option<String>,
        /// The deserializer's error (names the allowed values).
        #[source]
        source: toml::de::Error,
    },
    /// A distribution that cannot be sampled (no weights, a negative one, a
    /// bad exponent); [`Scenario::validate`] rules these out for scenarios.
    #[error("invalid workload: {0}")]
    Invalid(String),
    /// A preset could not be written as TOML to merge a file onto it: a bug,
    /// not bad input.
    #[error("internal error: a preset does not convert to TOML: {0}")]
    Internal(#[source] toml::ser::Error),
}

/// "`key`: " when the key is known.
fn key_prefix(key: &Option<String>) -> String {
    key.as_ref().map(|k| format!("`{k}`: ")).unwrap_or_default()
}

/// `message` on one line (the parser's messages may span several).
fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
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

impl Role {
    /// Every role (index = `role as usize`).
    pub const ALL: [Role; 3] = [Role::Creator, Role::Contributor, Role::Lurker];

    /// The snake_case name used in workload files (its key under `[roles]`).
    pub const fn name(self) -> &'static str {
        match self {
            Role::Creator => "creator",
            Role::Contributor => "contributor",
            Role::Lurker => "lurker",
        }
    }
}

/// Log-normal length sampler, rounded and clipped to `1..=max`.
///
/// `exp(mu + sigma * Z)` with `Z` standard normal (rand_distr's ziggurat), as
/// `rand_distr::LogNormal` computes it, but with std's `exp` (the platform
/// libm) rather than the portable `libm` crate's, which takes over twice the
/// instructions (callgrind, commit c0e87fb), and rounding as `floor(x + 0.5)` (the same as `round`
/// for `x > 0`) rather than a call to `round`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LengthSampler {
    mu: f64,
    sigma: f64,
    max: u32,
}

impl LengthSampler {
    fn new(b: &BodyLength) -> Result<Self, WorkloadError> {
        let mu = (b.median as f64).ln();
        if !(mu.is_finite() && b.sigma.is_finite() && b.sigma >= 0.0) {
            return Err(WorkloadError::Invalid(format!(
                "body length: median {} and sigma {} must be finite, median >= 1, sigma >= 0",
                b.median, b.sigma
            )));
        }
        Ok(LengthSampler {
            mu,
            sigma: b.sigma,
            max: b.max,
        })
    }

    #[inline]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let z: f64 = StandardNormal.sample(rng);
        let x = (self.mu + self.sigma * z).exp();
        // `as` saturates: an overflow to infinity lands on `max`.
        ((x + 0.5) as u32).clamp(1, self.max) as usize
    }
}

/// Everything prepared before the run, shared read-only by the generators.
#[derive(Debug)]
pub(crate) struct Tables {
    pub(crate) plan: load::Plan,
    pub(crate) corpus: words::Corpus,
    /// Community popularity (rank = id); `None` without communities.
    pub(crate) communities: Option<AliasTable>,
    /// User popularity ranks (mapped to ids by `plan.popular`).
    pub(crate) people: StridedZipf,
    /// Zipf over feed positions `0..n`, at index `n - 1`.
    pub(crate) positions: Vec<AliasTable>,
    /// Actions of each role (index `Role as usize`); `None` for an empty role.
    pub(crate) actions: [Option<AliasTable>; 3],
    pub(crate) invalid_kinds: Option<AliasTable>,
    /// `invalid.share` as a fraction of 2^64.
    pub(crate) invalid_below: u64,
    pub(crate) post_len: LengthSampler,
    pub(crate) comment_len: LengthSampler,
    pub(crate) dm_len: LengthSampler,
    /// The read an action that needs a remembered post falls back to.
    pub(crate) discover: Action,
    pub(crate) reads: Reads,
    /// Zipf exponent of user activity.
    pub(crate) user_activity: f64,
}

impl Tables {
    fn new(s: &Scenario, seed: u64) -> Result<Tables, WorkloadError> {
        let communities = match s.communities {
            0 => None,
            n => Some(AliasTable::zipf(n, s.zipf.community)?),
        };
        let people = StridedZipf::new(s.users, 1, 0, s.zipf.user_popularity)?;
        let positions = (1..=MAX_LIMIT as u32)
            .map(|n| AliasTable::zipf(n, s.zipf.feed_position))
            .collect::<Result<Vec<_>, _>>()?;
        let role_table = |role: Role| -> Result<Option<AliasTable>, WorkloadError> {
            let w: Vec<f64> = Action::ALL
                .iter()
                .map(|&a| s.role_weight(role, a))
                .collect();
            if w.iter().sum::<f64>() > 0.0 {
                AliasTable::new(&w).map(Some)
            } else {
                Ok(None)
            }
        };
        let [creator, contributor, lurker] = Role::ALL.map(role_table);
        let actions = [creator?, contributor?, lurker?];
        let invalid_kinds = if s.invalid.share > 0.0 {
            Some(AliasTable::new(&s.invalid.weights())?)
        } else {
            None
        };
        let discover = [Action::HomeFeed, Action::CommunityFeed, Action::ProfileFeed]
            .into_iter()
            .find(|&a| s.mix.weight(a) > 0.0)
            .unwrap_or(Action::HomeFeed);
        let plan = load::Plan::new(s, seed, communities.as_ref(), &people);
        Ok(Tables {
            plan,
            corpus: words::Corpus::new(seed, s.zipf.words)?,
            communities,
            people,
            positions,
            actions,
            invalid_kinds,
            invalid_below: (s.invalid.share * 18_446_744_073_709_551_616.0).min(u64::MAX as f64)
                as u64,
            post_len: LengthSampler::new(&s.bodies.post)?,
            comment_len: LengthSampler::new(&s.bodies.comment)?,
            dm_len: LengthSampler::new(&s.bodies.dm)?,
            discover,
            reads: s.reads.clone(),
            user_activity: s.zipf.user_activity,
        })
    }

    /// A post body (one allocation).
    pub(crate) fn post_body<R: Rng + ?Sized>(&self, rng: &mut R) -> Body {
        let len = self.post_len.sample(rng).min(MAX_BODY_LEN);
        self.corpus.body(len, rng.next_u64())
    }
}

/// A scenario prepared for a run: tables built, deterministic for a seed.
#[derive(Debug)]
pub struct Workload {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    tables: Arc<Tables>,
}

impl Workload {
    /// Prepares `scenario` for `seed`: validates it, builds the alias tables,
    /// the roles, memberships and follow graph (in parallel with rayon; the
    /// result depends only on the scenario and the seed).
    pub fn new(scenario: Scenario, seed: u64) -> Result<Workload, WorkloadError> {
        scenario.validate()?;
        let tables = Arc::new(Tables::new(&scenario, seed)?);
        Ok(Workload {
            scenario,
            seed,
            tables,
        })
    }

    /// Number of load stages; every thread finishes stage `s` before any starts `s + 1`.
    pub fn load_stages(&self) -> usize {
        load::STAGES
    }

    /// The ops of load stage `stage` that client thread `thread` of `threads`
    /// sends (see [`load`] for what each stage holds). Empty for a stage or
    /// thread out of range.
    pub fn load_ops(
        &self,
        stage: usize,
        thread: usize,
        threads: usize,
    ) -> Box<dyn Iterator<Item = Op> + Send + '_> {
        load::stage_ops(self, stage, thread, threads)
    }

    /// The generator of client thread `thread` of `threads`: users with
    /// `id % threads == thread` (a thread beyond the last user simulates user
    /// `thread % users` again, with its own stream; `threads == 0` counts as 1).
    pub fn generator(&self, thread: usize, threads: usize) -> Generator {
        Generator::new(self.tables.clone(), self.seed, thread, threads)
    }

    /// The role of `user`.
    pub fn role_of(&self, user: socialbench_engines::UserId) -> Role {
        self.tables.plan.role_of(user)
    }

    /// The communities `user` joins at load.
    pub fn memberships(&self, user: socialbench_engines::UserId) -> &[u32] {
        self.tables.plan.memberships(user)
    }

    /// The users `user` follows at load.
    pub fn follows(&self, user: socialbench_engines::UserId) -> &[u32] {
        self.tables.plan.follows(user)
    }

    /// Directed follow edges at load.
    pub fn follow_count(&self) -> usize {
        self.tables.plan.follow_count()
    }

    /// Approximate heap bytes of the prepared tables (not counting generators).
    pub fn bytes(&self) -> usize {
        let t = &self.tables;
        t.plan.bytes()
            + t.people.bytes()
            + t.communities.as_ref().map_or(0, AliasTable::bytes)
            + words::CORPUS_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn body_lengths_follow_the_rounded_log_normal() {
        // median 200, sigma 1: P(len <= k) = Phi(ln((k + 0.5) / 200)).
        // k = 73, 200, 543 are about -1, 0 and +1 sigma; Phi at those points
        // (tabulated, linearised around -1, 0, 1) within 5 binomial sd.
        let s = LengthSampler::new(&BodyLength {
            median: 200,
            sigma: 1.0,
            max: 40_000,
        })
        .unwrap();
        let mut rng = rand_xoshiro::SplitMix64::seed_from_u64(5);
        let n = 400_000;
        let mut below = [0u32; 3];
        for _ in 0..n {
            let len = s.sample(&mut rng);
            assert!((1..=40_000).contains(&len));
            for (b, k) in below.iter_mut().zip([73, 200, 543]) {
                *b += u32::from(len <= k);
            }
        }
        for (got, want) in below.iter().zip([0.158_41, 0.500_996, 0.841_29]) {
            let got = *got as f64 / n as f64;
            let sd = (want * (1.0 - want) / n as f64).sqrt();
            assert!((got - want).abs() < 5.0 * sd, "{got} vs {want}");
        }
        // Clipping: a huge sigma still lands in 1..=max.
        let wide = LengthSampler::new(&BodyLength {
            median: 10,
            sigma: 5.0,
            max: 300,
        })
        .unwrap();
        let lens: Vec<usize> = (0..10_000).map(|_| wide.sample(&mut rng)).collect();
        assert!(lens.iter().all(|l| (1..=300).contains(l)));
        assert!(lens.contains(&1) && lens.contains(&300));
    }
}
