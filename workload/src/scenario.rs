//! The scenario model: population, roles, op mix, Zipf exponents, body
//! lengths, think time, initial memberships and follows, invalid requests;
//! the four presets; and TOML workload files (`preset = "..."` then overrides).
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

use std::path::Path;

use serde::{Deserialize, Serialize};
use socialbench_engines::{MAX_BODY_LEN, MAX_LIMIT, Sort};

use crate::{Role, WorkloadError};

/// What a simulated user does on one tick. Each becomes one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Action {
    /// `GetHomeFeed` of oneself; remembers posts from it.
    HomeFeed,
    /// `GetCommunityFeed` of a member or popular community; remembers posts.
    CommunityFeed,
    /// `GetCommunityFeed` (New) of a followed or popular user's profile.
    ProfileFeed,
    /// `GetPost` of a remembered post with its top comments; remembers a comment.
    ReadPost,
    /// `GetProfile` of a followed, seen or popular user.
    GetProfile,
    /// `GetInbox` of oneself; remembers senders.
    Inbox,
    /// `Vote` on a remembered post or comment.
    Vote,
    /// `Comment` on a remembered post, or under a remembered comment.
    Comment,
    /// `SendDm` answering a remembered sender.
    DmReply,
    /// `CreatePost` in a member community or one's own profile.
    Post,
    /// `CreatePost` in one's own profile that shares a remembered post.
    Repost,
    /// `SendDm` to a friend (followed user) or a popular user.
    Dm,
    /// `CreateCommunity` with a fresh id.
    CreateCommunity,
    /// `Search` a member or popular community for a word.
    Search,
    /// `Join` a popular community not joined at load.
    Join,
    /// `Join` the profile of a popular user not followed at load.
    Follow,
}

impl Action {
    /// Every action, in declaration order (index = `action as usize`).
    pub const ALL: [Action; 16] = [
        Action::HomeFeed,
        Action::CommunityFeed,
        Action::ProfileFeed,
        Action::ReadPost,
        Action::GetProfile,
        Action::Inbox,
        Action::Vote,
        Action::Comment,
        Action::DmReply,
        Action::Post,
        Action::Repost,
        Action::Dm,
        Action::CreateCommunity,
        Action::Search,
        Action::Join,
        Action::Follow,
    ];

    /// The snake_case name used in workload files.
    pub fn name(self) -> &'static str {
        ACTION_NAMES[self as usize]
    }

    /// Whether the action reads only.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Action::HomeFeed
                | Action::CommunityFeed
                | Action::ProfileFeed
                | Action::ReadPost
                | Action::GetProfile
                | Action::Inbox
                | Action::Search
        )
    }
}

const ACTION_NAMES: [&str; 16] = [
    "home_feed",
    "community_feed",
    "profile_feed",
    "read_post",
    "get_profile",
    "inbox",
    "vote",
    "comment",
    "dm_reply",
    "post",
    "repost",
    "dm",
    "create_community",
    "search",
    "join",
    "follow",
];

/// Per-tick weight of every action (normalised over a role's allowed actions).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // one field per Action, documented there
pub struct Mix {
    pub home_feed: f64,
    pub community_feed: f64,
    pub profile_feed: f64,
    pub read_post: f64,
    pub get_profile: f64,
    pub inbox: f64,
    pub vote: f64,
    pub comment: f64,
    pub dm_reply: f64,
    pub post: f64,
    pub repost: f64,
    pub dm: f64,
    pub create_community: f64,
    pub search: f64,
    pub join: f64,
    pub follow: f64,
}

impl Mix {
    /// The weight of `action`.
    pub fn weight(&self, action: Action) -> f64 {
        self.weights()[action as usize]
    }

    /// Weights indexed by `Action as usize`.
    pub fn weights(&self) -> [f64; 16] {
        [
            self.home_feed,
            self.community_feed,
            self.profile_feed,
            self.read_post,
            self.get_profile,
            self.inbox,
            self.vote,
            self.comment,
            self.dm_reply,
            self.post,
            self.repost,
            self.dm,
            self.create_community,
            self.search,
            self.join,
            self.follow,
        ]
    }
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

/// Zipf exponents (0 = uniform; 1.0 is the DESIGN default).
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

/// Deliberately invalid requests: their share of all ops and the weights of
/// their kinds. The acting user is always a registered user; what is wrong
/// is the home entity or a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invalid {
    /// Share of ops that are invalid (0..=1).
    pub share: f64,
    /// Feed read of, post in or join of a community that does not exist.
    pub unknown_community: f64,
    /// `GetPost` or vote of a post that does not exist.
    pub unknown_post: f64,
    /// Comment under a comment that does not exist.
    pub unknown_comment: f64,
    /// DM to a user that does not exist.
    pub unknown_recipient: f64,
    /// Post with a body over `MAX_BODY_LEN`.
    pub oversized_body: f64,
    /// Post in someone else's profile.
    pub foreign_profile: f64,
}

impl Invalid {
    /// Weights in [`InvalidKind`] order.
    pub fn weights(&self) -> [f64; 6] {
        [
            self.unknown_community,
            self.unknown_post,
            self.unknown_comment,
            self.unknown_recipient,
            self.oversized_body,
            self.foreign_profile,
        ]
    }
}

/// The kinds of deliberately invalid requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[repr(u8)]
pub enum InvalidKind {
    /// See [`Invalid::unknown_community`].
    UnknownCommunity,
    /// See [`Invalid::unknown_post`].
    UnknownPost,
    /// See [`Invalid::unknown_comment`].
    UnknownComment,
    /// See [`Invalid::unknown_recipient`].
    UnknownRecipient,
    /// See [`Invalid::oversized_body`].
    OversizedBody,
    /// See [`Invalid::foreign_profile`].
    ForeignProfile,
}

impl InvalidKind {
    /// Every kind, in declaration order.
    pub const ALL: [InvalidKind; 6] = [
        InvalidKind::UnknownCommunity,
        InvalidKind::UnknownPost,
        InvalidKind::UnknownComment,
        InvalidKind::UnknownRecipient,
        InvalidKind::OversizedBody,
        InvalidKind::ForeignProfile,
    ];
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

fn all_actions() -> Vec<Action> {
    Action::ALL.to_vec()
}

fn reads_and(extra: &[Action]) -> Vec<Action> {
    let mut v: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| a.is_read() && *a != Action::Search)
        .collect();
    v.extend_from_slice(extra);
    v
}

impl Scenario {
    /// Names of the presets.
    pub const PRESETS: [&'static str; 4] = ["reddit", "microblog", "messenger", "chat"];

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Scenario, WorkloadError> {
        match name {
            "reddit" => Ok(Self::reddit()),
            "microblog" => Ok(Self::microblog()),
            "messenger" => Ok(Self::messenger()),
            "chat" => Ok(Self::chat()),
            _ => Err(WorkloadError::UnknownPreset {
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

    /// Reads a TOML workload file (`preset = "..."` then overrides).
    pub fn from_file(path: &Path) -> Result<Scenario, WorkloadError> {
        let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            WorkloadError::Invalid(m) => WorkloadError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses a workload from TOML text: `preset` (default `reddit`) gives
    /// every value, the other keys override them. Unknown keys and values of
    /// the wrong type or range are errors naming the key and what is allowed.
    pub fn from_toml(text: &str) -> Result<Scenario, WorkloadError> {
        crate::scenario::toml_file::parse(text)
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
        let s = [
            self.roles.creator.share,
            self.roles.contributor.share,
            self.roles.lurker.share,
        ];
        let sum: f64 = s.iter().sum();
        s.map(|x| x / sum)
    }

    /// Checks every value; the error names the key and what is allowed.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let bad = |key: &str, allowed: &str, got: String| {
            Err(WorkloadError::Invalid(format!(
                "`{key}` must be {allowed}, got {got}"
            )))
        };
        if !Self::PRESETS.contains(&self.preset.as_str()) {
            return bad(
                "preset",
                &format!("one of {}", Self::PRESETS.join(", ")),
                format!("{:?}", self.preset),
            );
        }
        if !(1..=MAX_POPULATION).contains(&self.users) {
            return bad("users", "in 1..=2^30", self.users.to_string());
        }
        if self.communities > MAX_POPULATION {
            return bad("communities", "in 0..=2^30", self.communities.to_string());
        }
        if !(self.think_time_ms.is_finite() && self.think_time_ms > 0.0) {
            return bad(
                "think_time_ms",
                "finite and > 0",
                self.think_time_ms.to_string(),
            );
        }
        let weight = |key: String, w: f64| {
            if w.is_finite() && w >= 0.0 {
                Ok(())
            } else {
                bad(&key, "a finite weight >= 0", w.to_string())
            }
        };
        for a in Action::ALL {
            weight(format!("mix.{}", a.name()), self.mix.weight(a))?;
        }
        for (name, role) in [
            ("creator", Role::Creator),
            ("contributor", Role::Contributor),
            ("lurker", Role::Lurker),
        ] {
            let spec = self.roles.get(role);
            weight(format!("roles.{name}.share"), spec.share)?;
            let total: f64 = Action::ALL.iter().map(|&a| self.role_weight(role, a)).sum();
            if spec.share > 0.0 && total <= 0.0 {
                return bad(
                    &format!("roles.{name}.actions"),
                    "a list with at least one action of positive weight in [mix]",
                    format!(
                        "{:?}",
                        spec.actions.iter().map(|a| a.name()).collect::<Vec<_>>()
                    ),
                );
            }
        }
        if self.role_shares().iter().any(|s| !s.is_finite()) {
            return bad(
                "roles.*.share",
                "shares with a positive sum",
                "all 0".into(),
            );
        }
        if self.communities == 0 {
            for a in [Action::CommunityFeed, Action::Join] {
                if self.mix.weight(a) > 0.0 {
                    return bad(
                        &format!("mix.{}", a.name()),
                        "0 when `communities` is 0",
                        self.mix.weight(a).to_string(),
                    );
                }
            }
        }
        for (key, z) in [
            ("zipf.community", self.zipf.community),
            ("zipf.feed_position", self.zipf.feed_position),
            ("zipf.user_activity", self.zipf.user_activity),
            ("zipf.user_popularity", self.zipf.user_popularity),
            ("zipf.words", self.zipf.words),
        ] {
            if !(z.is_finite() && (0.0..=10.0).contains(&z)) {
                return bad(key, "in 0.0..=10.0", z.to_string());
            }
        }
        for (key, b) in [
            ("bodies.post", &self.bodies.post),
            ("bodies.comment", &self.bodies.comment),
            ("bodies.dm", &self.bodies.dm),
        ] {
            if !(1..=MAX_BODY_LEN as u32).contains(&b.max) {
                return bad(&format!("{key}.max"), "in 1..=40000", b.max.to_string());
            }
            if !(1..=b.max).contains(&b.median) {
                return bad(&format!("{key}.median"), "in 1..=max", b.median.to_string());
            }
            if !(b.sigma.is_finite() && (0.0..=5.0).contains(&b.sigma)) {
                return bad(&format!("{key}.sigma"), "in 0.0..=5.0", b.sigma.to_string());
            }
        }
        let r = &self.reads;
        for (key, v, lo) in [
            ("reads.feed_limit", r.feed_limit, 1),
            ("reads.inbox_limit", r.inbox_limit, 1),
            ("reads.post_comments", r.post_comments, 0),
        ] {
            if !(lo..=MAX_LIMIT).contains(&v) {
                return bad(key, &format!("in {lo}..={MAX_LIMIT}"), v.to_string());
            }
        }
        for (key, p) in [
            ("reads.member_communities", r.member_communities),
            ("reads.posts_to_profile", r.posts_to_profile),
            ("reads.reply_to_comment", r.reply_to_comment),
            ("invalid.share", self.invalid.share),
        ] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return bad(key, "a probability in 0.0..=1.0", p.to_string());
            }
        }
        for (k, w) in InvalidKind::ALL.iter().zip(self.invalid.weights()) {
            weight(format!("invalid.{k:?}"), w)?;
        }
        if self.invalid.share > 0.0 && self.invalid.weights().iter().sum::<f64>() <= 0.0 {
            return bad(
                "invalid",
                "at least one kind of positive weight when `invalid.share` > 0",
                "all 0".into(),
            );
        }
        let p = &self.population;
        if p.seed_posts_per_community > 10_000 {
            return bad(
                "population.seed_posts_per_community",
                "in 0..=10000",
                p.seed_posts_per_community.to_string(),
            );
        }
        if !(p.seed_posts_per_profile.is_finite()
            && (0.0..=1000.0).contains(&p.seed_posts_per_profile))
        {
            return bad(
                "population.seed_posts_per_profile",
                "in 0.0..=1000.0",
                p.seed_posts_per_profile.to_string(),
            );
        }
        if p.memberships_per_user > 10_000 || p.follows_per_user > 10_000 {
            return bad(
                "population.memberships_per_user / follows_per_user",
                "in 0..=10000",
                format!("{} / {}", p.memberships_per_user, p.follows_per_user),
            );
        }
        Ok(())
    }

    /// `reddit` (the default): the reddit-sim seed system.
    ///
    /// Numbers: roles 1% creators / 9% contributors / 90% lurkers (the
    /// "1% rule" of participation inequality, Nielsen 2006, which reddit-sim
    /// adopted); the per-tick mix is reddit-sim's: 85% reads (home feed .85,
    /// community feed .14, inbox .01), 13% engagement (vote .85, comment .14,
    /// DM reply .01), 1.9% creation (post .90, repost .09, DM .01), 0.1%
    /// other (create community .90, search .09, join .01). Lurkers read and
    /// join; contributors add votes, comments, DMs and search; creators do
    /// everything. One community per 100 users, 10 subscriptions each, 25
    /// posts per listing and Hot ordering (reddit's defaults). Exercises: hot
    /// home-feed gathers over many communities (scatter/gather across
    /// shards), Zipf-hot communities (stripe and shard contention), vote
    /// follow-ups moving karma across partitions.
    pub fn reddit() -> Scenario {
        let (reads, engage, create, other) = (0.85, 0.13, 0.019, 0.001);
        Scenario {
            preset: "reddit".into(),
            users: 100_000,
            communities: 1_000,
            // About one action every 10 s of an active session.
            think_time_ms: 10_000.0,
            roles: Roles {
                creator: RoleSpec {
                    share: 0.01,
                    actions: all_actions(),
                },
                contributor: RoleSpec {
                    share: 0.09,
                    actions: reads_and(&[
                        Action::Vote,
                        Action::Comment,
                        Action::DmReply,
                        Action::Dm,
                        Action::Search,
                        Action::Join,
                        Action::Follow,
                    ]),
                },
                lurker: RoleSpec {
                    share: 0.90,
                    actions: reads_and(&[Action::Join]),
                },
            },
            mix: Mix {
                home_feed: reads * 0.85,
                community_feed: reads * 0.14,
                inbox: reads * 0.01,
                vote: engage * 0.85,
                comment: engage * 0.14,
                dm_reply: engage * 0.01,
                post: create * 0.90,
                repost: create * 0.09,
                dm: create * 0.01,
                create_community: other * 0.90,
                search: other * 0.09,
                join: other * 0.01,
                ..Mix::default()
            },
            zipf: ZipfExponents {
                community: 1.0,
                feed_position: 1.0,
                user_activity: 1.0,
                user_popularity: 1.0,
                words: 1.0,
            },
            bodies: Bodies {
                // Title plus an optional self-text: short median, long tail.
                post: BodyLength {
                    median: 200,
                    sigma: 1.2,
                    max: MAX_BODY_LEN as u32,
                },
                // Reddit comments: median around a sentence or two.
                comment: BodyLength {
                    median: 120,
                    sigma: 1.0,
                    max: 10_000,
                },
                dm: BodyLength {
                    median: 80,
                    sigma: 0.8,
                    max: 10_000,
                },
            },
            reads: Reads {
                feed_limit: 25,
                inbox_limit: 25,
                post_comments: 10,
                home_sort: SortName::Hot,
                community_sort: SortName::Hot,
                member_communities: 0.5,
                posts_to_profile: 0.05,
                reply_to_comment: 0.5,
            },
            population: Population {
                memberships_per_user: 10,
                follows_per_user: 0,
                mutual_follows: false,
                seed_posts_per_community: 20,
                seed_posts_per_profile: 0.0,
            },
            invalid: Invalid {
                share: 0.001,
                unknown_community: 1.0,
                unknown_post: 1.0,
                unknown_comment: 1.0,
                unknown_recipient: 1.0,
                oversized_body: 1.0,
                foreign_profile: 1.0,
            },
        }
    }

    /// `microblog`: the Erlang microblog (hash-partitioned servers of users
    /// who follow each other mutually, tweet to their profile and read their
    /// timeline).
    ///
    /// Numbers: 10 mutual follows per user (the Erlang microblog's
    /// benchmark); timeline reads dwarf tweets by two orders of magnitude
    /// (Twitter, "Timelines at Scale", 2013: ~300k timeline reads/s against
    /// ~5k tweets/s), hence home feed .78, profile reads .15 (+ .03 profile
    /// look-ups), tweets .015, retweets .005, likes .01, new follows .01; 10%
    /// of users write (Pew Research 2019: the top 10% of tweeters write 80%
    /// of tweets), the others read, like and follow. Home timeline is New
    /// ordered, 20 per page. Exercises: home-feed fan-in across many
    /// profiles on many partitions, celebrity profiles (Zipf followers),
    /// local writes (a tweet lands on the author's own partition).
    pub fn microblog() -> Scenario {
        let mut s = Self::reddit();
        s.preset = "microblog".into();
        s.communities = 0;
        s.think_time_ms = 5_000.0;
        s.roles = Roles {
            creator: RoleSpec {
                share: 0.10,
                actions: all_actions(),
            },
            contributor: RoleSpec {
                share: 0.0,
                actions: all_actions(),
            },
            lurker: RoleSpec {
                share: 0.90,
                actions: reads_and(&[Action::Vote, Action::Follow]),
            },
        };
        s.mix = Mix {
            home_feed: 0.78,
            profile_feed: 0.15,
            get_profile: 0.03,
            post: 0.015,
            repost: 0.005,
            vote: 0.01,
            follow: 0.01,
            ..Mix::default()
        };
        s.bodies.post = BodyLength {
            median: 80,
            sigma: 0.6,
            max: 280,
        };
        s.reads = Reads {
            feed_limit: 20,
            home_sort: SortName::New,
            community_sort: SortName::New,
            member_communities: 0.0,
            posts_to_profile: 1.0,
            ..s.reads
        };
        s.population = Population {
            memberships_per_user: 0,
            follows_per_user: 10,
            mutual_follows: true,
            seed_posts_per_community: 0,
            seed_posts_per_profile: 2.0,
        };
        s.invalid.unknown_community = 0.0;
        s
    }

    /// `messenger`: the Akka messenger (friend requests, then conversations).
    ///
    /// Numbers: friendship is a mutual follow (each side joins the other's
    /// profile), 10 friends per user with a mild popularity skew (Zipf 0.5:
    /// friend graphs are far less skewed than follower graphs); then DMs:
    /// send .30, reply .20 to a sender seen in the inbox, inbox reads .45,
    /// friend look-ups .03, new friend requests .02 (one side). Messages are
    /// short (median 40 bytes). Everyone is a contributor. Exercises: writes
    /// homed at the recipient's partition (cross-partition sends), inbox
    /// reads, small bodies at a high write share.
    pub fn messenger() -> Scenario {
        let mut s = Self::reddit();
        s.preset = "messenger".into();
        s.communities = 0;
        s.think_time_ms = 2_000.0;
        s.roles = Roles {
            creator: RoleSpec {
                share: 0.0,
                actions: all_actions(),
            },
            contributor: RoleSpec {
                share: 1.0,
                actions: all_actions(),
            },
            lurker: RoleSpec {
                share: 0.0,
                actions: reads_and(&[]),
            },
        };
        s.mix = Mix {
            dm: 0.30,
            dm_reply: 0.20,
            inbox: 0.45,
            get_profile: 0.03,
            follow: 0.02,
            ..Mix::default()
        };
        s.zipf.user_popularity = 0.5;
        s.bodies.dm = BodyLength {
            median: 40,
            sigma: 0.9,
            max: 4_000,
        };
        s.reads.inbox_limit = 20;
        s.reads.member_communities = 0.0;
        s.population = Population {
            memberships_per_user: 0,
            follows_per_user: 10,
            mutual_follows: true,
            seed_posts_per_community: 0,
            seed_posts_per_profile: 0.0,
        };
        s.invalid.unknown_community = 0.0;
        s
    }

    /// `chat`: the OTP chat room (rooms whose members post and read the
    /// room's newest messages; searching a room is the long blocking task).
    ///
    /// Numbers: one room per 100 users, 5 rooms each (Zipf 1.0: a few big
    /// rooms); ticks: read the room (New, last 50) .60, post .30, search .05,
    /// join a room .02, inbox .03; 50 seed messages per room; messages median
    /// 40 bytes. All users are contributors. Exercises: hot rooms (one
    /// partition takes most traffic), the `Search` scan whose cost grows with
    /// the room, head-of-line blocking behind it in single-threaded engines.
    pub fn chat() -> Scenario {
        let mut s = Self::reddit();
        s.preset = "chat".into();
        s.users = 10_000;
        s.communities = 100;
        s.think_time_ms = 1_000.0;
        s.roles = Roles {
            creator: RoleSpec {
                share: 0.0,
                actions: all_actions(),
            },
            contributor: RoleSpec {
                share: 1.0,
                actions: all_actions(),
            },
            lurker: RoleSpec {
                share: 0.0,
                actions: reads_and(&[]),
            },
        };
        s.mix = Mix {
            community_feed: 0.60,
            post: 0.30,
            search: 0.05,
            join: 0.02,
            inbox: 0.03,
            ..Mix::default()
        };
        s.bodies.post = BodyLength {
            median: 40,
            sigma: 0.9,
            max: 2_000,
        };
        s.reads = Reads {
            feed_limit: 50,
            community_sort: SortName::New,
            member_communities: 1.0,
            posts_to_profile: 0.0,
            ..s.reads
        };
        s.population = Population {
            memberships_per_user: 5,
            follows_per_user: 0,
            mutual_follows: false,
            seed_posts_per_community: 50,
            seed_posts_per_profile: 0.0,
        };
        s.invalid.unknown_comment = 0.0;
        s
    }
}

/// Strict TOML merge of a workload file onto its preset.
mod toml_file {
    use super::*;
    use toml::{Table, Value};

    pub(super) fn parse(text: &str) -> Result<Scenario, WorkloadError> {
        let file: Table = text
            .parse()
            .map_err(|e: toml::de::Error| WorkloadError::Invalid(format!("bad TOML: {e}")))?;
        let preset = match file.get("preset") {
            None => "reddit",
            Some(Value::String(s)) => s.as_str(),
            Some(v) => {
                return Err(WorkloadError::Invalid(format!(
                    "`preset` must be one of {}, got {v}",
                    Scenario::PRESETS.join(", ")
                )));
            }
        };
        let base = Scenario::preset(preset).map_err(|_| {
            WorkloadError::Invalid(format!(
                "`preset` must be one of {}, got {preset:?}",
                Scenario::PRESETS.join(", ")
            ))
        })?;
        let mut merged =
            Value::try_from(&base).map_err(|e| WorkloadError::Invalid(format!("internal: {e}")))?;
        let mut strings = Vec::new();
        merge(&mut merged, Value::Table(file), "", &mut strings)?;
        let scenario: Scenario = merged.try_into().map_err(|e: toml::de::Error| {
            let msg = e.message().to_string();
            // serde names the allowed variants but not the key: find it.
            let key = strings
                .iter()
                .find(|(_, s)| msg.contains(&format!("`{s}`")))
                .map(|(k, _)| format!("`{k}`: "))
                .unwrap_or_default();
            WorkloadError::Invalid(format!("{key}{msg}"))
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "a list",
            Value::Table(_) => "a table",
        }
    }

    fn merge(
        base: &mut Value,
        over: Value,
        path: &str,
        strings: &mut Vec<(String, String)>,
    ) -> Result<(), WorkloadError> {
        match (base, over) {
            (Value::Table(b), Value::Table(o)) => {
                for (k, v) in o {
                    let key = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match b.get_mut(&k) {
                        Some(slot) => merge(slot, v, &key, strings)?,
                        None => {
                            let mut allowed: Vec<&str> = b.keys().map(|s| s.as_str()).collect();
                            allowed.sort_unstable();
                            return Err(WorkloadError::Invalid(format!(
                                "unknown key `{key}` (allowed: {})",
                                allowed.join(", ")
                            )));
                        }
                    }
                }
                Ok(())
            }
            (b @ Value::Float(_), Value::Integer(i)) => {
                *b = Value::Float(i as f64);
                Ok(())
            }
            (b, o) if std::mem::discriminant(b) == std::mem::discriminant(&o) => {
                match &o {
                    Value::String(s) => strings.push((path.to_string(), s.clone())),
                    Value::Array(items) => {
                        for it in items {
                            if let Value::String(s) = it {
                                strings.push((path.to_string(), s.clone()));
                            }
                        }
                    }
                    _ => {}
                }
                *b = o;
                Ok(())
            }
            (b, o) => Err(WorkloadError::Invalid(format!(
                "`{path}` must be {}, got {} ({o})",
                kind(b),
                kind(&o)
            ))),
        }
    }
}
