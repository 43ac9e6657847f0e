//! The bounds of every count and size a user can give, and the memory a
//! run needs, estimated from its configuration before anything is built.
//!
//! # Bounds
//! Each count or size has a documented maximum, checked before anything is
//! allocated or spawned. A value at its bound alone cannot exhaust a 24 GiB
//! machine or start an absurd number of threads; where the real limit is
//! memory (users, the population's sizes, mailboxes times shards, client
//! threads), the bound is generous and the [`estimate`] decides.
//!
//! | what | bound |
//! |---|---|
//! | client threads (`--threads`) | [`MAX_CLIENT_THREADS`] |
//! | shards (`--shards`, an engine thread each) | [`MAX_SHARDS`] |
//! | stripes (`--stripes`) | `EngineConfig::MAX_PARTITIONS` (65,536) |
//! | mailbox capacity (`--mailbox`) | `EngineConfig::MAX_MAILBOX` (1,048,576) |
//! | ops outstanding per client thread (`--inflight`, `--max-outstanding`) | [`MAX_OUTSTANDING`] |
//! | open-loop rate (`--rate`, `--rates`) | [`MAX_RATE`] |
//! | durations (`--duration`, `--warmup`, `--max-time`, `--probe`, `--max-probe`) | [`MAX_DURATION`] |
//! | recording interval (`--interval`) | at least [`MIN_INTERVAL`], at most [`MAX_INTERVALS`] per run |
//! | measured ops (`--ops`) | [`MAX_OPS`] |
//! | passes, repetitions (`--passes`, `--repeat`) | [`MAX_PASSES`] |
//! | cells of a sweep | [`MAX_SWEEP_CELLS`] |
//! | users, communities | 2^30 (the workload's bound), then the memory |
//!
//! # Memory
//! [`estimate`] adds up what a run holds once its load phase is done: the
//! workload's tables and simulated users, the engine's state (users,
//! communities, memberships, follows, seed posts), the mailboxes an engine
//! allocates up front, and each client thread's recording buffers. The
//! coefficients were measured (peak RSS of `socialbench run --ops 1
//! --warmup 0 --threads 1`, debug build) on the four presets at 100,000
//! and 1,000,000 users, and with 10,000 users against 1,000,000
//! communities, 1 to 64 client threads and 2 to 512 shards; per user the
//! reddit preset holds about 450 bytes (120 of them the workload's). What
//! the run phase adds (posts and comments created while measuring) is not
//! counted: it grows with the run's length and rate, typically a few
//! percent of the load phase's state. [`check_memory`] refuses a run whose
//! estimate exceeds the memory available ([`mem_available`]).

use std::time::Duration;

use crate::config::RunError;

/// Most client threads of one run: 1,024 (each holds about 23 MiB of
/// recording buffers, so the memory check usually binds first).
pub const MAX_CLIENT_THREADS: usize = 1024;

/// Most shards of the sharded engine: 1,024 (each is an engine thread).
pub const MAX_SHARDS: usize = 1024;

/// Most ops outstanding per client thread, closed loop (`--inflight`) or
/// open loop (`--max-outstanding`): 1,048,576 (about 40 MiB of in-flight
/// slots per thread).
pub const MAX_OUTSTANDING: usize = 1 << 20;

/// Highest open-loop rate, ops/s in total: 10^9 (far above what any
/// engine here serves; the null engine does about 3 x 10^7 on two cores).
pub const MAX_RATE: f64 = 1e9;

/// Longest duration of a run, a warmup, a time budget or a probe: 7 days.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Shortest recording interval: 1 ms.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Most recording intervals in one measured window (`--duration` /
/// `--interval`): 1,000,000. Each keeps a batch of counts in memory and
/// writes about 160 rows of `timeseries.csv`.
pub const MAX_INTERVALS: u64 = 1_000_000;

/// Most measured ops of a run (`--ops`) or a trace: 10^12.
pub const MAX_OPS: u64 = 1_000_000_000_000;

/// Most passes of a comparison (`--passes`) or repetitions of a sweep
/// (`--repeat`): 1,000.
pub const MAX_PASSES: usize = 1000;

/// Most cells of one sweep (users values x lines x (1 + rates) x
/// repetitions): 100,000.
pub const MAX_SWEEP_CELLS: usize = 100_000;

/// Checks `value` of `flag` against `1..=max`.
pub fn check_count(flag: &str, value: usize, max: usize) -> Result<(), RunError> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(RunError::BadInput(format!(
            "{flag} {value} is outside 1..={max}"
        )))
    }
}

/// Checks a duration `flag` against [`MAX_DURATION`] (and, when `positive`, above zero).
pub fn check_duration(flag: &str, d: Duration, positive: bool) -> Result<(), RunError> {
    if positive && d.is_zero() {
        return Err(RunError::BadInput(format!("{flag} must be positive")));
    }
    if d > MAX_DURATION {
        return Err(RunError::BadInput(format!(
            "{flag} {} is longer than the 7-day bound",
            crate::units::human_ns(d.as_nanos().min(u64::MAX as u128) as u64)
        )));
    }
    Ok(())
}

/// What a run holds in memory, as far as [`estimate`] needs to know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footprint {
    /// Simulated users.
    pub users: u64,
    /// Ordinary communities.
    pub communities: u64,
    /// Community memberships built at load, in total.
    pub memberships: u64,
    /// Follow edges built at load, in total.
    pub follows: u64,
    /// Posts created at load, in total.
    pub seed_posts: u64,
    /// Mean body length of a post, bytes.
    pub post_body: f64,
    /// Whether the engine keeps the state in this process (all but `null`
    /// and `redis`).
    pub stateful: bool,
    /// Copies of the engine's state: 1, plus one per backup of each shard
    /// (`--replicas`); 0 is taken as 1.
    pub copies: u64,
    /// Partitions (shards or stripes).
    pub partitions: u64,
    /// Engine threads (the actor, the shards).
    pub engine_threads: u64,
    /// Capacity of each mailbox, in ops (`--mailbox`).
    pub mailbox: u64,
    /// Bytes of the mailboxes the engine allocates when it is built.
    pub mailbox_bytes: u64,
    /// Client threads.
    pub client_threads: u64,
    /// In-flight slots per client thread (`--inflight` or `--max-outstanding`).
    pub outstanding: u64,
}

/// One part of an [`Estimate`]: what it is (naming the value that sized
/// it) and its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// E.g. `users=100000`.
    pub what: String,
    /// Bytes.
    pub bytes: u64,
}

/// The memory a run needs, by part.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The parts, in a fixed order.
    pub parts: Vec<Part>,
}

impl Estimate {
    /// Every part added up.
    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.bytes))
    }

    /// The largest part.
    pub fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by_key(|p| p.bytes)
    }
}

/// The process itself: code, the feed-position tables, the word corpus.
const FIXED_BYTES: u64 = 32 << 20;
/// A client thread: two pre-touched sets of raw histograms (about 23 MiB).
const CLIENT_THREAD_BYTES: u64 = 23 << 20;
/// An in-flight slot of a client thread (the slab's slot, free list, flag).
const SLOT_BYTES: u64 = 40;
/// An engine thread besides its mailbox: its stack, partition and buffers.
const ENGINE_THREAD_BYTES: u64 = 1200 << 10;
/// An empty partition (a stripe).
const PARTITION_BYTES: u64 = 2 << 10;
/// A user in the workload (role, popularity, simulated state) / in the engine.
const USER_BYTES: [u64; 2] = [120, 240];
/// A community in the workload (popularity table) / in the engine.
const COMMUNITY_BYTES: [u64; 2] = [24, 410];
/// A membership in the workload's plan / in the engine (both sides).
const MEMBERSHIP_BYTES: [u64; 2] = [4, 8];
/// A follow edge in the workload's plan / in the engine (both sides, and
/// the simulated user's friends).
const FOLLOW_BYTES: [u64; 2] = [8, 32];
/// A post besides its body, in the engine (the post, its indexes).
const POST_BYTES: u64 = 300;

/// The memory `f` needs once the load phase is done (see the module docs).
pub fn estimate(f: &Footprint) -> Estimate {
    // Each entity costs the workload's bytes, and the engine's when it
    // keeps the state in this process.
    let copies = f.copies.max(1);
    let each =
        |[workload, engine]: [u64; 2]| workload + if f.stateful { engine * copies } else { 0 };
    let mul = |a: u64, b: u64| a.saturating_mul(b);
    let mut parts = vec![
        Part {
            what: "the process".into(),
            bytes: FIXED_BYTES,
        },
        Part {
            what: format!("users={}", f.users),
            bytes: mul(f.users, each(USER_BYTES)),
        },
        Part {
            what: format!("communities={}", f.communities),
            bytes: mul(f.communities, each(COMMUNITY_BYTES)),
        },
        Part {
            what: format!("memberships_per_user x users = {}", f.memberships),
            bytes: mul(f.memberships, each(MEMBERSHIP_BYTES)),
        },
        Part {
            what: format!("follows_per_user x users = {}", f.follows),
            bytes: mul(f.follows, each(FOLLOW_BYTES)),
        },
        Part {
            what: format!("--threads {}", f.client_threads),
            bytes: mul(
                f.client_threads,
                CLIENT_THREAD_BYTES.saturating_add(mul(f.outstanding, SLOT_BYTES)),
            ),
        },
        Part {
            what: format!("engine threads (--shards) {}", f.engine_threads),
            bytes: mul(f.engine_threads, ENGINE_THREAD_BYTES),
        },
        Part {
            what: format!("--mailbox {} in each of the engine's mailboxes", f.mailbox),
            bytes: f.mailbox_bytes,
        },
    ];
    if f.stateful {
        let post = POST_BYTES as f64 + f.post_body.max(0.0);
        parts.push(Part {
            what: format!(
                "seed posts (communities x seed_posts_per_community + users x seed_posts_per_profile) = {}",
                f.seed_posts
            ),
            bytes: (f.seed_posts as f64 * post * copies as f64).min(u64::MAX as f64) as u64,
        });
        parts.push(Part {
            what: format!("partitions (--stripes) {}", f.partitions),
            bytes: mul(f.partitions, PARTITION_BYTES),
        });
    }
    Estimate { parts }
}

/// `MemAvailable` of `/proc/meminfo` in bytes (`None` where there is no
/// such file or line: the memory check is then skipped).
pub fn mem_available() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// The `MemAvailable:` line of a `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let rest = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Whole MiB, rounded up, for messages.
pub fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// The end of a `--check` line: `" of N MiB available"`, or that the
/// machine does not tell.
pub fn write_available(
    f: &mut std::fmt::Formatter<'_>,
    available: Option<u64>,
) -> std::fmt::Result {
    match available {
        Some(a) => write!(f, " of {} MiB available", mib(a)),
        None => write!(f, " (available memory unknown)"),
    }
}

/// Refuses `estimate` when it exceeds `available` bytes, naming its largest
/// part (the value to lower); `None` available: no check.
pub fn check_memory(estimate: &Estimate, available: Option<u64>) -> Result<(), RunError> {
    let (Some(available), total) = (available, estimate.total()) else {
        return Ok(());
    };
    if total <= available {
        return Ok(());
    }
    let largest = estimate
        .largest()
        .map(|p| format!(" (largest part: {}, ~{} MiB)", p.what, mib(p.bytes)))
        .unwrap_or_default();
    Err(RunError::BadInput(format!(
        "the run needs ~{} MiB of memory{largest}, more than the {} MiB available",
        mib(total),
        mib(available)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reddit(users: u64) -> Footprint {
        Footprint {
            users,
            communities: 1000,
            memberships: users * 10,
            follows: 0,
            seed_posts: 20_000,
            post_body: 330.0,
            stateful: true,
            copies: 1,
            partitions: 1,
            engine_threads: 0,
            mailbox: 1024,
            mailbox_bytes: 0,
            client_threads: 1,
            outstanding: 16,
        }
    }

    #[test]
    fn the_estimate_matches_what_was_measured() {
        // Measured: reddit, serial engine, one client thread: 101 MiB peak
        // at 100,000 users, 486 MiB at 1,000,000.
        for (users, measured_mib) in [(100_000, 101.0), (1_000_000, 486.0)] {
            let got = estimate(&reddit(users)).total() as f64 / (1 << 20) as f64;
            assert!(
                (got / measured_mib - 1.0).abs() < 0.25,
                "{users} users: {got:.0} MiB estimated, {measured_mib} measured"
            );
        }
        // A backup per shard holds a second copy of the engine's state.
        let one = estimate(&reddit(1_000_000)).total();
        let two = estimate(&Footprint {
            copies: 2,
            ..reddit(1_000_000)
        })
        .total();
        assert!(two > one + (200 << 20), "{one} -> {two}");
        // The null engine keeps no state: the users cost only the workload.
        let stateless = Footprint {
            stateful: false,
            ..reddit(1_000_000)
        };
        assert!(estimate(&stateless).total() < estimate(&reddit(1_000_000)).total() / 2);
    }

    #[test]
    fn each_size_adds_to_the_estimate_and_nothing_overflows() {
        let base = estimate(&reddit(10_000)).total();
        let bigger = [
            Footprint {
                client_threads: 8,
                ..reddit(10_000)
            },
            Footprint {
                outstanding: MAX_OUTSTANDING as u64,
                ..reddit(10_000)
            },
            Footprint {
                engine_threads: 4,
                ..reddit(10_000)
            },
            Footprint {
                mailbox_bytes: 1 << 30,
                ..reddit(10_000)
            },
            Footprint {
                follows: 100_000,
                ..reddit(10_000)
            },
            Footprint {
                communities: 1_000_000,
                ..reddit(10_000)
            },
        ];
        for f in bigger {
            assert!(estimate(&f).total() > base, "{f:?}");
        }
        let absurd = Footprint {
            users: u64::MAX,
            memberships: u64::MAX,
            seed_posts: u64::MAX,
            post_body: f64::MAX,
            ..reddit(0)
        };
        assert_eq!(estimate(&absurd).total(), u64::MAX);
    }

    #[test]
    fn too_much_memory_is_refused_naming_the_largest_part() {
        let e = estimate(&reddit(50_000_000));
        assert!(check_memory(&e, Some(e.total())).is_ok());
        assert!(check_memory(&e, None).is_ok());
        let err = check_memory(&e, Some(e.total() - 1)).unwrap_err();
        assert!(err.is_bad_input());
        let msg = err.to_string();
        assert!(msg.contains("users=50000000"), "{msg}");
        assert!(msg.contains("MiB available"), "{msg}");
    }

    #[test]
    fn mem_available_is_read_from_meminfo_text() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots\n"), None);
        #[cfg(target_os = "linux")]
        assert!(mem_available().is_some_and(|b| b > 0));
    }

    #[test]
    fn counts_and_durations_outside_their_bounds_name_the_flag_and_value() {
        assert!(check_count("--threads", 1024, MAX_CLIENT_THREADS).is_ok());
        let e = check_count("--threads", 1025, MAX_CLIENT_THREADS).unwrap_err();
        assert!(e.to_string().contains("--threads 1025"), "{e}");
        assert!(check_count("--threads", 0, MAX_CLIENT_THREADS).is_err());
        assert!(check_duration("--duration", MAX_DURATION, true).is_ok());
        assert!(check_duration("--duration", Duration::ZERO, true).is_err());
        assert!(check_duration("--warmup", Duration::ZERO, false).is_ok());
        let e = check_duration("--warmup", MAX_DURATION * 2, false).unwrap_err();
        assert!(e.to_string().contains("--warmup"), "{e}");
    }
}
