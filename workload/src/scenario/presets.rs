//! The five presets, each modelled on a seed system, with the sources of
//! their numbers.

use socialbench_engines::MAX_BODY_LEN;

use super::{
    Action, Bodies, BodyLength, Invalid, Mix, Population, Reads, RoleSpec, Roles, Scenario,
    SortName, ZipfExponents,
};

/// Every action (a role that may do everything).
fn all_actions() -> Vec<Action> {
    Action::ALL.to_vec()
}

/// The reads but `Search` (the long scan is not a casual read), then `extra`.
fn reads_and(extra: &[Action]) -> Vec<Action> {
    let mut v: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| a.is_read() && *a != Action::Search)
        .collect();
    v.extend_from_slice(extra);
    v
}

impl Scenario {
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
        // One literal, longer than a function should be: a preset is data,
        // every value of it read against the numbers above, and the other
        // presets are edits of this one.
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

    /// `twitter`: the replicated Twitter clone and DeathStarBench's social
    /// network, whose home timelines are built on write (see `--feeds`).
    ///
    /// Numbers: DeathStarBench's social-network mix: home timeline .60,
    /// user timeline (a profile's posts, New) .30, compose .10; everyone
    /// may do all three. 20 one-way follows per user drawn by a steep
    /// popularity (Zipf 1.2: a few celebrity accounts followed by a large
    /// share of users, the tail that makes fan-out on write expensive); 5
    /// seed posts per profile; tweets median 80 bytes, at most 280; home
    /// timeline New ordered, 20 per page. Exercises: the pull/push/hybrid
    /// trade-off: fan-in over 20 profiles per read against fan-out of every
    /// post to its followers, with celebrities' posts reaching thousands.
    pub fn twitter() -> Scenario {
        let mut s = Self::microblog();
        s.preset = "twitter".into();
        s.think_time_ms = 5_000.0;
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
            home_feed: 0.60,
            profile_feed: 0.30,
            post: 0.10,
            ..Mix::default()
        };
        s.zipf.user_popularity = 1.2;
        s.population = Population {
            memberships_per_user: 0,
            follows_per_user: 20,
            mutual_follows: false,
            seed_posts_per_community: 0,
            seed_posts_per_profile: 5.0,
        };
        s
    }
}
