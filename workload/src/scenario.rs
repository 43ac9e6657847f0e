//! The scenario model: population, roles, op mix, Zipf exponents, body
//! lengths, think time, initial memberships and follows, invalid requests;
//! the four presets; and TOML workload files (`preset = "..."` then
//! overrides).
//!
//! # How the op mix and roles combine
//! `[mix]` gives one weight per [`Action`] (the per-tick mix of the whole
//! population as a seed system reports it). Each role lists the actions it
//! may take; a user of that role draws its action from `[mix]` restricted to
//! its allowed actions and renormalised. Equivalently: a tick that would pick
//! a forbidden action is redrawn, so a reddit lurker's engagement or creation
//! tick becomes a read (or, rarely, a join) in the proportions of the reads.
//! The population-wide mix therefore leans towards the actions every role has
//! (reads), which is the point of lurkers.
//!
//! # Presets
//! [`Scenario::reddit`], [`Scenario::microblog`], [`Scenario::messenger`],
//! [`Scenario::chat`] and [`Scenario::twitter`] each document the seed
//! system they model and where their numbers come from.

use std::path::Path;

use serde::{Deserialize, Serialize};
use socialbench_engines::{MAX_BODY_LEN, MAX_LIMIT, Sort};

use crate::{Role, WorkloadError};

mod file;
mod presets;

/// Defines [`Action`] and [`Mix`] from one table, so that the enum,
/// [`Action::ALL`], the names, the read flags and the weights of the mix
/// cannot drift apart. Each row: the action's doc, its variant, its name in
/// workload files (which is also its field of [`Mix`]) and whether it only
/// reads.
macro_rules! actions {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident => $name:ident, reads_only: $read:literal;
    )+) => {
        /// What a simulated user does on one tick. Each becomes one op.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        #[repr(u8)]
        pub enum Action {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Action {
            /// Number of actions.
            pub const COUNT: usize = [$(stringify!($name)),+].len();

            /// Every action, in declaration order (index = `action as usize`).
            pub const ALL: [Action; Action::COUNT] = [$(Action::$variant),+];

            /// The snake_case name used in workload files (its field of [`Mix`]).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => stringify!($name),)+
                }
            }

            /// Whether the action reads only.
            pub const fn is_read(self) -> bool {
                match self {
                    $(Action::$variant => $read,)+
                }
            }
        }

        /// Per-tick weight of every action (normalised over a role's allowed
        /// actions): one field per [`Action`], named as [`Action::name`].
        #[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Mix {
            $(
                #[doc = concat!("Weight of [`Action::", stringify!($variant), "`].")]
                pub $name: f64,
            )+
        }

        impl Mix {
            /// Weights indexed by `Action as usize`.
            pub fn weights(&self) -> [f64; Action::COUNT] {
                [$(self.$name),+]
            }
        }
    };
}

actions! {
    /// `GetHomeFeed` of oneself; remembers posts from it.
    HomeFeed => home_feed, reads_only: true;
    /// `GetCommunityFeed` of a member or popular community; remembers posts.
    CommunityFeed => community_feed, reads_only: true;
    /// `GetCommunityFeed` (New) of a followed or popular user's profile.
    ProfileFeed => profile_feed, reads_only: true;
    /// `GetPost` of a remembered post with its top comments; remembers a comment.
    ReadPost => read_post, reads_only: true;
    /// `GetProfile` of a followed, seen or popular user.
    GetProfile => get_profile, reads_only: true;
    /// `GetInbox` of oneself; remembers senders.
    Inbox => inbox, reads_only: true;
    /// `Vote` on a remembered post or comment.
    Vote => vote, reads_only: false;
    /// `Comment` on a remembered post, or under a remembered comment.
    Comment => comment, reads_only: false;
    /// `SendDm` answering a remembered sender.
    DmReply => dm_reply, reads_only: false;
    /// `CreatePost` in a member community or one's own profile.
    Post => post, reads_only: false;
    /// `CreatePost` in one's own profile that shares a remembered post.
    Repost => repost, reads_only: false;
    /// `SendDm` to a friend (followed user) or a popular user.
    Dm => dm, reads_only: false;
    /// `CreateCommunity` with a fresh id.
    CreateCommunity => create_community, reads_only: false;
    /// `Search` a member or popular community for a word.
    Search => search, reads_only: true;
    /// `Join` a popular community not joined at load.
    Join => join, reads_only: false;
    /// `Join` the profile of a popular user not followed at load.
    Follow => follow, reads_only: false;
}

impl Mix {
    /// The weight of `action`.
    pub fn weight(&self, action: Action) -> f64 {
        self.weights()[action as usize]
    }
}

/// Defines [`InvalidKind`] and [`Invalid`] from one table, as `actions!`
/// does for actions. Each row: the kind's doc, its variant and its name in
/// workload files (its weight's field of [`Invalid`]).
macro_rules! invalid_kinds {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident => $name:ident;
    )+) => {
        /// The kinds of deliberately invalid requests.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[repr(u8)]
        pub enum InvalidKind {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl InvalidKind {
            /// Number of kinds.
            pub const COUNT: usize = [$(stringify!($name)),+].len();

            /// Every kind, in declaration order (index = `kind as usize`).
            pub const ALL: [InvalidKind; InvalidKind::COUNT] = [$(InvalidKind::$variant),+];

            /// The snake_case name used in workload files (its field of [`Invalid`]).
            pub const fn name(self) -> &'static str {
                match self {
                    $(InvalidKind::$variant => stringify!($name),)+
                }
            }
        }

        /// Deliberately invalid requests: their share of all ops and the
        /// weights of their kinds (one field per [`InvalidKind`], named as
        /// [`InvalidKind::name`]). The acting user is always a registered
        /// user; what is wrong is the home entity or a value.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Invalid {
            /// Share of ops that are invalid (0..=1).
            pub share: f64,
            $(
                #[doc = concat!("Weight of [`InvalidKind::", stringify!($variant), "`].")]
                pub $name: f64,
            )+
        }

        impl Invalid {
            /// Weights indexed by `InvalidKind as usize`.
            pub fn weights(&self) -> [f64; InvalidKind::COUNT] {
                [$(self.$name),+]
            }
        }
    };
}

invalid_kinds! {
    /// Feed read of, post in or join of a community that does not exist.
    UnknownCommunity => unknown_community;
    /// `GetPost` or vote of a post that does not exist.
    UnknownPost => unknown_post;
    /// Comment under a comment that does not exist.
    UnknownComment => unknown_comment;
    /// DM to a user that does not exist.
    UnknownRecipient => unknown_recipient;
    /// Post with a body over `MAX_BODY_LEN`.
    OversizedBody => oversized_body;
    /// Post in someone else's profile.
    ForeignProfile => foreign_profile;
}

/// A role's share of the population and the actions it may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Share of users with this role (shares are normalised over the roles).
    pub share: f64,
    /// Actions this role may take.
    pub actions: Vec<Action>,
}

/// The three roles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Creators.
    pub creator: RoleSpec,
    /// Contributors.
    pub contributor: RoleSpec,
    /// Lurkers.
    pub lurker: RoleSpec,
}

impl Roles {
    /// The spec of `role`.
    pub fn get(&self, role: Role) -> &RoleSpec {
        match role {
            Role::Creator => &self.creator,
            Role::Contributor => &self.contributor,
            Role::Lurker => &self.lurker,
        }
    }
}

/// Zipf exponents (0 = uniform; every preset uses 1.0 unless it says otherwise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZipfExponents {
    /// Popularity of communities (memberships, community reads, joins).
    pub community: f64,
    /// Which position of a feed or inbox a user acts on.
    pub feed_position: f64,
    /// How often each user acts (which user the generator picks).
    pub user_activity: f64,
    /// Popularity of users (who is followed, DMed, looked up).
    pub user_popularity: f64,
    /// Word frequencies in bodies and search terms.
    pub words: f64,
}

/// Log-normal body length, clipped to `1..=max` (text lengths on social
/// sites are roughly log-normal: a few words to a long rant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyLength {
    /// Median length in bytes (`exp(mu)`).
    pub median: u32,
    /// Standard deviation of `ln(length)`.
    pub sigma: f64,
    /// Largest length drawn (at most `MAX_BODY_LEN`).
    pub max: u32,
}

/// Body lengths per kind of text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bodies {
    /// Posts (and reposts).
    pub post: BodyLength,
    /// Comments.
    pub comment: BodyLength,
    /// Direct messages.
    pub dm: BodyLength,
}

/// Feed ordering as written in workload files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortName {
    /// [`Sort::Hot`].
    Hot,
    /// [`Sort::New`].
    New,
    /// [`Sort::Top`].
    Top,
}

impl SortName {
    /// The API's sort.
    pub fn sort(self) -> Sort {
        match self {
            SortName::Hot => Sort::Hot,
            SortName::New => Sort::New,
            SortName::Top => Sort::Top,
        }
    }
}

/// What reads ask for and where they go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reads {
    /// `limit` of feeds (1..=MAX_LIMIT).
    pub feed_limit: u16,
    /// `limit` of inbox reads (1..=MAX_LIMIT).
    pub inbox_limit: u16,
    /// Top comments asked by `GetPost` (0..=MAX_LIMIT).
    pub post_comments: u16,
    /// Ordering of the home feed.
    pub home_sort: SortName,
    /// Ordering of community feeds.
    pub community_sort: SortName,
    /// Share of community reads and searches aimed at a community the user
    /// belongs to; the rest pick a community by popularity.
    pub member_communities: f64,
    /// Share of posts made in one's own profile (the rest go to a member community).
    pub posts_to_profile: f64,
    /// Share of comments that answer a remembered comment (if any) rather
    /// than the post.
    pub reply_to_comment: f64,
}

/// The initial state the load phase builds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Communities each user joins at load, by community popularity (capped
    /// at the number of communities).
    pub memberships_per_user: u32,
    /// Follows per user at load, by user popularity. With `mutual_follows`
    /// each user draws half of them and every follow is returned, so the
    /// mean number of friends is about this value.
    pub follows_per_user: u32,
    /// Whether follows are mutual (friendship), as in the Erlang microblog
    /// and the Akka messenger.
    pub mutual_follows: bool,
    /// Posts each community starts with (by its creator).
    pub seed_posts_per_community: u32,
    /// Mean posts each profile starts with (by its owner).
    pub seed_posts_per_profile: f64,
}

/// A scenario: population, roles, op mix, distributions.
///
/// Every field is public: the harness may set `users` (and `communities`)
/// from the command line before [`crate::Workload::new`], which validates;
/// [`Scenario::with_users`] keeps the preset's communities-per-user ratio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Preset this scenario started from.
    pub preset: String,
    /// Number of users (1..=2^30).
    pub users: u32,
    /// Number of ordinary communities (0..=2^30).
    pub communities: u32,
    /// Mean think time of a user between two ops, in milliseconds: the
    /// default open-loop rate is `users * 1000 / think_time_ms`.
    pub think_time_ms: f64,
    /// Roles and their shares.
    pub roles: Roles,
    /// Per-tick op mix.
    pub mix: Mix,
    /// Zipf exponents.
    pub zipf: ZipfExponents,
    /// Body lengths.
    pub bodies: Bodies,
    /// Read parameters.
    pub reads: Reads,
    /// Initial memberships, follows and content.
    pub population: Population,
    /// Deliberately invalid requests.
    pub invalid: Invalid,
}

/// Largest `users` and `communities`: leaves room below the 2^31 id limit
/// for deliberately unknown ids and communities created during the run.
pub const MAX_POPULATION: u32 = 1 << 30;

/// Largest workload file read: 1 MiB (a complete scenario is about 3 KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The text of `path`, a regular file of at most [`MAX_FILE_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    // Looked at before it is opened: opening a FIFO blocks until a writer comes.
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// Builds a preset.
type PresetFn = fn() -> Scenario;

/// The presets by name, in the order `socialbench list` shows them.
const PRESET_TABLE: [(&str, PresetFn); 5] = [
    ("reddit", Scenario::reddit),
    ("microblog", Scenario::microblog),
    ("messenger", Scenario::messenger),
    ("chat", Scenario::chat),
    ("twitter", Scenario::twitter),
];

impl Scenario {
    /// Names of the presets.
    pub const PRESETS: [&'static str; PRESET_TABLE.len()] = {
        let mut names = [""; PRESET_TABLE.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = PRESET_TABLE[i].0;
            i += 1;
        }
        names
    };

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Scenario, WorkloadError> {
        match PRESET_TABLE.iter().find(|(n, _)| *n == name) {
            Some((_, build)) => Ok(build()),
            None => Err(WorkloadError::UnknownPreset {
                name: name.into(),
                known: Self::PRESETS.join(", "),
            }),
        }
    }

    /// A preset name, or the path of a TOML workload file.
    pub fn from_arg(arg: &str) -> Result<Scenario, WorkloadError> {
        if Self::PRESETS.contains(&arg) {
            return Self::preset(arg);
        }
        let path = Path::new(arg);
        if path.exists() || arg.ends_with(".toml") {
            return Self::from_file(path);
        }
        // Neither: name the presets, which is what a typo most likely meant.
        Self::preset(arg)
    }

    /// Reads a TOML workload file (`preset = "..."` then overrides). An
    /// error in its content comes wrapped in [`WorkloadError::File`].
    ///
    /// Only a regular file of at most [`MAX_FILE_BYTES`] is read: a FIFO or
    /// a device (`/dev/zero`) would block or never end.
    pub fn from_file(path: &Path) -> Result<Scenario, WorkloadError> {
        let text = read_bounded(path).map_err(|source| WorkloadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| WorkloadError::File {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Parses a workload from TOML text: `preset` (default `reddit`) gives
    /// every value, the other keys override them. Unknown keys and values of
    /// the wrong type or range are errors naming the key and what is allowed.
    pub fn from_toml(text: &str) -> Result<Scenario, WorkloadError> {
        file::parse(text)
    }

    /// This scenario with `users` users and the communities scaled to keep
    /// the communities-per-user ratio (at least 1 if there were any).
    pub fn with_users(mut self, users: u32) -> Scenario {
        if self.communities > 0 && self.users > 0 {
            let c = (self.communities as f64 * users as f64 / self.users as f64).round();
            self.communities = (c as u32).clamp(1, MAX_POPULATION);
        }
        self.users = users;
        self
    }

    /// Mean ops per second one user issues (1 / think time): the default
    /// open-loop rate is `users * per_user_rate()`.
    pub fn per_user_rate(&self) -> f64 {
        1000.0 / self.think_time_ms
    }

    /// The weight of `action` for `role`: `mix` restricted to the role's actions.
    pub fn role_weight(&self, role: Role, action: Action) -> f64 {
        if self.roles.get(role).actions.contains(&action) {
            self.mix.weight(action)
        } else {
            0.0
        }
    }

    /// The shares of the roles, normalised, in `[Creator, Contributor, Lurker]` order.
    pub fn role_shares(&self) -> [f64; 3] {
        let s = Role::ALL.map(|role| self.roles.get(role).share);
        let sum: f64 = s.iter().sum();
        s.map(|x| x / sum)
    }

    /// Checks every value; the error names the key and what is allowed.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        self.validate_sizes()?;
        self.validate_mix_and_roles()?;
        self.validate_zipf()?;
        self.validate_bodies()?;
        self.validate_reads()?;
        self.validate_invalid()?;
        self.validate_population()
    }

    /// `preset`, `users`, `communities`, `think_time_ms`.
    fn validate_sizes(&self) -> Result<(), WorkloadError> {
        if !Self::PRESETS.contains(&self.preset.as_str()) {
            return Err(bad(
                "preset",
                format!("one of {}", Self::PRESETS.join(", ")),
                format!("{:?}", self.preset),
            ));
        }
        if !(1..=MAX_POPULATION).contains(&self.users) {
            return Err(bad("users", "in 1..=2^30", self.users));
        }
        if self.communities > MAX_POPULATION {
            return Err(bad("communities", "in 0..=2^30", self.communities));
        }
        if !(self.think_time_ms.is_finite() && self.think_time_ms > 0.0) {
            return Err(bad("think_time_ms", "finite and > 0", self.think_time_ms));
        }
        Ok(())
    }

    /// `[mix]` weights, role shares, and that every role with a share has
    /// something to do; actions on communities need communities.
    fn validate_mix_and_roles(&self) -> Result<(), WorkloadError> {
        for a in Action::ALL {
            weight(format!("mix.{}", a.name()), self.mix.weight(a))?;
        }
        for role in Role::ALL {
            let key = format!("roles.{}", role.name());
            let spec = self.roles.get(role);
            weight(format!("{key}.share"), spec.share)?;
            let total: f64 = Action::ALL.iter().map(|&a| self.role_weight(role, a)).sum();
            if spec.share > 0.0 && total <= 0.0 {
                let names: Vec<&str> = spec.actions.iter().map(|a| a.name()).collect();
                return Err(bad(
                    format!("{key}.actions"),
                    "a list with at least one action of positive weight in [mix]",
                    format!("{names:?}"),
                ));
            }
        }
        if self.role_shares().iter().any(|s| !s.is_finite()) {
            return Err(bad("roles.*.share", "shares with a positive sum", "all 0"));
        }
        if self.communities == 0 {
            for a in [Action::CommunityFeed, Action::Join] {
                if self.mix.weight(a) > 0.0 {
                    return Err(bad(
                        format!("mix.{}", a.name()),
                        "0 when `communities` is 0",
                        self.mix.weight(a),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every Zipf exponent in `0.0..=10.0`.
    fn validate_zipf(&self) -> Result<(), WorkloadError> {
        let z = &self.zipf;
        for (key, s) in [
            ("zipf.community", z.community),
            ("zipf.feed_position", z.feed_position),
            ("zipf.user_activity", z.user_activity),
            ("zipf.user_popularity", z.user_popularity),
            ("zipf.words", z.words),
        ] {
            if !(s.is_finite() && (0.0..=10.0).contains(&s)) {
                return Err(bad(key, "in 0.0..=10.0", s));
            }
        }
        Ok(())
    }

    /// Every body length: `max` within the engine's limit, `median` within
    /// `max`, a moderate `sigma`.
    fn validate_bodies(&self) -> Result<(), WorkloadError> {
        for (key, b) in [
            ("bodies.post", &self.bodies.post),
            ("bodies.comment", &self.bodies.comment),
            ("bodies.dm", &self.bodies.dm),
        ] {
            if !(1..=MAX_BODY_LEN as u32).contains(&b.max) {
                return Err(bad(
                    format!("{key}.max"),
                    format!("in 1..={MAX_BODY_LEN}"),
                    b.max,
                ));
            }
            if !(1..=b.max).contains(&b.median) {
                return Err(bad(format!("{key}.median"), "in 1..=max", b.median));
            }
            if !(b.sigma.is_finite() && (0.0..=5.0).contains(&b.sigma)) {
                return Err(bad(format!("{key}.sigma"), "in 0.0..=5.0", b.sigma));
            }
        }
        Ok(())
    }

    /// Read limits within the API's, shares of `[reads]` as probabilities.
    fn validate_reads(&self) -> Result<(), WorkloadError> {
        let r = &self.reads;
        for (key, v, lo) in [
            ("reads.feed_limit", r.feed_limit, 1),
            ("reads.inbox_limit", r.inbox_limit, 1),
            ("reads.post_comments", r.post_comments, 0),
        ] {
            if !(lo..=MAX_LIMIT).contains(&v) {
                return Err(bad(key, format!("in {lo}..={MAX_LIMIT}"), v));
            }
        }
        for (key, p) in [
            ("reads.member_communities", r.member_communities),
            ("reads.posts_to_profile", r.posts_to_profile),
            ("reads.reply_to_comment", r.reply_to_comment),
        ] {
            probability(key, p)?;
        }
        Ok(())
    }

    /// `invalid.share` a probability, kind weights, and a kind to draw
    /// when the share is positive.
    fn validate_invalid(&self) -> Result<(), WorkloadError> {
        let inv = &self.invalid;
        probability("invalid.share", inv.share)?;
        for (k, w) in InvalidKind::ALL.iter().zip(inv.weights()) {
            weight(format!("invalid.{}", k.name()), w)?;
        }
        if inv.share > 0.0 && inv.weights().iter().sum::<f64>() <= 0.0 {
            return Err(bad(
                "invalid",
                "at least one kind of positive weight when `invalid.share` > 0",
                "all 0",
            ));
        }
        Ok(())
    }

    /// The load phase's sizes within bounds a run can build.
    fn validate_population(&self) -> Result<(), WorkloadError> {
        let p = &self.population;
        if p.seed_posts_per_community > 10_000 {
            return Err(bad(
                "population.seed_posts_per_community",
                "in 0..=10000",
                p.seed_posts_per_community,
            ));
        }
        if !(p.seed_posts_per_profile.is_finite()
            && (0.0..=1000.0).contains(&p.seed_posts_per_profile))
        {
            return Err(bad(
                "population.seed_posts_per_profile",
                "in 0.0..=1000.0",
                p.seed_posts_per_profile,
            ));
        }
        if p.memberships_per_user > 10_000 || p.follows_per_user > 10_000 {
            return Err(bad(
                "population.memberships_per_user / follows_per_user",
                "in 0..=10000",
                format!("{} / {}", p.memberships_per_user, p.follows_per_user),
            ));
        }
        Ok(())
    }
}

/// The error for `key`, which must be `allowed` and is `got`.
fn bad(key: impl Into<String>, allowed: impl Into<String>, got: impl ToString) -> WorkloadError {
    WorkloadError::Value {
        key: key.into(),
        allowed: allowed.into(),
        got: got.to_string(),
    }
}

/// Checks that `w` is a usable weight: finite and `>= 0`.
fn weight(key: String, w: f64) -> Result<(), WorkloadError> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(bad(key, "a finite weight >= 0", w))
    }
}

/// Checks that `p` is a probability.
fn probability(key: &str, p: f64) -> Result<(), WorkloadError> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(bad(key, "a probability in 0.0..=1.0", p))
    }
}
