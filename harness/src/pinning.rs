//! Where threads run: the pin map of client and engine threads on cores.
//!
//! Default placement (defaults fit the machine): engine
//! threads (the actor, the shards) get their own cores and the client threads
//! the rest, so an engine thread never competes with the clients that feed
//! it. When the threads outnumber the cores, an engine with at least a thread
//! per core keeps every core and the clients share them (last core first);
//! otherwise the engine keeps a share of the cores proportional to its thread
//! count (at least one). Threads share cores round-robin within their group,
//! and the map says it is oversubscribed.

use serde::Serialize;

/// A `--pin` the machine cannot honour or that does not parse (the
/// message names the flag and what is expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PinError(pub String);

/// Highest core id `--pin` accepts: 65,535 (Linux supports at most 8,192
/// CPUs; a range up to a huge id would otherwise be a huge list).
pub const MAX_CORE_ID: usize = 65_535;

/// How the user asked threads to be placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PinSpec {
    /// The default placement for the machine.
    Auto,
    /// No pinning: the OS schedules.
    None,
    /// Explicit cores, engine threads first, then client threads, reused
    /// round-robin when the list is shorter than the threads.
    Cores(Vec<usize>),
}

impl PinSpec {
    /// Parses `--pin`: `auto`, `none`, or a core list such as `0,1` or `0-3,6`.
    pub fn parse(s: &str) -> Result<PinSpec, PinError> {
        match s.trim() {
            "auto" => return Ok(PinSpec::Auto),
            "none" => return Ok(PinSpec::None),
            _ => {}
        }
        let bad = || {
            PinError(format!(
                "malformed --pin `{s}` (expected auto, none, or cores from 0 to {MAX_CORE_ID} like 0,1 or 0-3)"
            ))
        };
        let mut cores = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if let Some((a, b)) = part.split_once('-') {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if a > b || b > MAX_CORE_ID {
                    return Err(bad());
                }
                cores.extend(a..=b);
            } else {
                let c: usize = part.parse().map_err(|_| bad())?;
                if c > MAX_CORE_ID {
                    return Err(bad());
                }
                cores.push(c);
            }
        }
        if cores.is_empty() {
            return Err(bad());
        }
        Ok(PinSpec::Cores(cores))
    }
}

/// Where every thread of a run is pinned (`None`: unpinned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PinMap {
    /// Cores of the machine the process may use.
    pub machine_cores: Vec<usize>,
    /// Core of each engine thread, in the engine's thread order.
    pub engine: Vec<Option<usize>>,
    /// Core of each client thread.
    pub clients: Vec<Option<usize>>,
    /// Whether some cores run more than one of the run's threads.
    pub oversubscribed: bool,
}

impl PinMap {
    /// Plans the placement of `engine_threads` and `client_threads` on `machine_cores`.
    pub fn plan(
        spec: &PinSpec,
        machine_cores: &[usize],
        engine_threads: usize,
        client_threads: usize,
    ) -> Result<PinMap, PinError> {
        let (e, c) = (engine_threads, client_threads);
        let total = e + c;
        let mut map = PinMap {
            machine_cores: machine_cores.to_vec(),
            engine: vec![None; e],
            clients: vec![None; c],
            oversubscribed: total > machine_cores.len().max(1),
        };
        match spec {
            PinSpec::None => {}
            _ if machine_cores.is_empty() => {} // affinity unsupported: run unpinned
            PinSpec::Cores(list) => {
                if let Some(bad) = list.iter().find(|c| !machine_cores.contains(c)) {
                    return Err(PinError(format!(
                        "--pin names core {bad}, but this machine offers cores {machine_cores:?}"
                    )));
                }
                for (i, slot) in map
                    .engine
                    .iter_mut()
                    .chain(map.clients.iter_mut())
                    .enumerate()
                {
                    *slot = Some(list[i % list.len()]);
                }
                let distinct: std::collections::BTreeSet<_> = list.iter().collect();
                map.oversubscribed = total > distinct.len();
            }
            PinSpec::Auto => {
                let n = machine_cores.len();
                let reversed: Vec<usize> = machine_cores.iter().rev().copied().collect();
                let (engine_cores, client_cores): (&[usize], &[usize]) = if e == 0 || n == 1 {
                    (machine_cores, machine_cores)
                } else if total <= n {
                    (&machine_cores[..e], &machine_cores[e..])
                } else if e >= n {
                    // An engine with a thread per core (or more) keeps every
                    // core: its threads exchange messages (gathers,
                    // follow-ups), and confining them to fewer cores turns
                    // each exchange into a context switch (sharded(2) + 1
                    // client on 2 cores: ~1.6x the ops/s of both shards on
                    // one core). Clients share, last core first.
                    (machine_cores, &reversed)
                } else {
                    // Share proportionally to thread counts, each group at least one core.
                    let k = ((n * e) as f64 / total as f64).round() as usize;
                    let k = k.clamp(1, n - 1);
                    (&machine_cores[..k], &machine_cores[k..])
                };
                for (i, slot) in map.engine.iter_mut().enumerate() {
                    *slot = Some(engine_cores[i % engine_cores.len()]);
                }
                for (i, slot) in map.clients.iter_mut().enumerate() {
                    *slot = Some(client_cores[i % client_cores.len()]);
                }
            }
        }
        Ok(map)
    }

    /// Engine cores for [`socialbench_engines::EngineConfig::pin`].
    pub fn engine_pins(&self) -> Vec<usize> {
        self.engine.iter().flatten().copied().collect()
    }

    /// Distinct cores the run's threads occupy (all cores when unpinned).
    pub fn cores_used(&self) -> usize {
        let set: std::collections::BTreeSet<_> =
            self.engine.iter().chain(&self.clients).flatten().collect();
        if set.is_empty() || self.engine.iter().chain(&self.clients).any(Option::is_none) {
            self.machine_cores.len().max(1)
        } else {
            set.len()
        }
    }

    /// One line for the operator, e.g. `engine 0->core0; clients 0->core1 (2 cores)`.
    pub fn describe(&self) -> String {
        let show = |v: &[Option<usize>]| {
            v.iter()
                .enumerate()
                .map(|(i, c)| match c {
                    Some(c) => format!("{i}->core{c}"),
                    None => format!("{i}->any"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut s = String::new();
        if !self.engine.is_empty() {
            s.push_str(&format!("engine threads {}; ", show(&self.engine)));
        }
        s.push_str(&format!(
            "client threads {} ({} cores available)",
            show(&self.clients),
            self.machine_cores.len()
        ));
        if self.oversubscribed {
            s.push_str("; OVERSUBSCRIBED: threads share cores, expect interference");
        }
        s
    }
}

/// The cores this process may run on, in order.
pub fn machine_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// Pins the calling thread to `core` if given; returns whether it is pinned.
pub fn pin_current(core: Option<usize>) -> bool {
    match core {
        Some(id) => core_affinity::set_for_current(core_affinity::CoreId { id }),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_gives_engine_threads_their_own_cores_when_they_fit() {
        let m = PinMap::plan(&PinSpec::Auto, &[0, 1], 1, 1).unwrap();
        assert_eq!(m.engine, vec![Some(0)]);
        assert_eq!(m.clients, vec![Some(1)]);
        assert!(!m.oversubscribed);
    }

    #[test]
    fn auto_shares_and_says_so_when_threads_exceed_cores() {
        let m = PinMap::plan(&PinSpec::Auto, &[0, 1], 1, 2).unwrap();
        assert!(m.oversubscribed);
        assert_eq!(m.engine, vec![Some(0)]);
        assert_eq!(m.clients, vec![Some(1), Some(1)]);
        assert!(m.describe().contains("OVERSUBSCRIBED"));
    }

    #[test]
    fn auto_spreads_an_engine_with_a_thread_per_core_and_clients_share_last_core_first() {
        let m = PinMap::plan(&PinSpec::Auto, &[0, 1], 2, 2).unwrap();
        assert!(m.oversubscribed);
        assert_eq!(m.engine, vec![Some(0), Some(1)]);
        assert_eq!(m.clients, vec![Some(1), Some(0)]);
        let m = PinMap::plan(&PinSpec::Auto, &[0, 1], 2, 1).unwrap();
        assert_eq!(m.clients, vec![Some(1)]);
    }

    #[test]
    fn auto_without_engine_threads_spreads_clients_over_all_cores() {
        let m = PinMap::plan(&PinSpec::Auto, &[0, 1, 2, 3], 0, 3).unwrap();
        assert_eq!(m.clients, vec![Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn explicit_cores_go_to_engine_then_clients_round_robin() {
        let m = PinMap::plan(&PinSpec::Cores(vec![1, 0]), &[0, 1], 1, 3).unwrap();
        assert_eq!(m.engine, vec![Some(1)]);
        assert_eq!(m.clients, vec![Some(0), Some(1), Some(0)]);
    }

    #[test]
    fn explicit_cores_outside_the_machine_are_rejected() {
        assert!(PinMap::plan(&PinSpec::Cores(vec![7]), &[0, 1], 0, 1).is_err());
    }

    #[test]
    fn pin_lists_parse_ranges_and_reject_garbage() {
        assert_eq!(
            PinSpec::parse("0-2,5").unwrap(),
            PinSpec::Cores(vec![0, 1, 2, 5])
        );
        assert_eq!(PinSpec::parse("none").unwrap(), PinSpec::None);
        // A range to a huge id is refused before it becomes a list.
        for bad in ["", "a", "3-1", "1,,2", "0-18446744073709551615", "65536"] {
            assert!(PinSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
