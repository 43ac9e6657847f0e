//! CPU time per thread over the measured window, a figure that survives
//! hypervisor steal and a busy machine better than throughput does: an op
//! that costs 3 us of CPU costs that whether the vCPU ran 100% or 60% of the
//! wall time.
//!
//! Read from the kernel, not measured in the hot path: Linux keeps, per
//! thread, the time it ran on a CPU and the time it waited runnable on a run
//! queue (`/proc/self/task/<tid>/schedstat`, nanoseconds), and its name
//! (`comm`: `client-0`, `sb-shard-1`, ...). Each client thread reads its own
//! times when its warmup ends and when it is done ([`this_thread`]); the
//! collector samples every other thread of the process (engine threads, the
//! collector itself) when the warmup interval is complete and when the last
//! client is done ([`ThreadTimes`]). Off Linux (no `/proc`), nothing is
//! reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The calling thread's (run, runqueue-wait) times so far, ns; `None` off
/// Linux.
pub fn this_thread() -> Option<(u64, u64)> {
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut f = sched.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
}

/// One thread's times at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sample {
    name: String,
    run_ns: u64,
    wait_ns: u64,
}

/// Every thread of the process at one moment, by thread id.
#[derive(Clone, Debug, Default)]
pub struct ThreadTimes(BTreeMap<u64, Sample>);

impl ThreadTimes {
    /// Reads every thread of this process (empty off Linux).
    pub fn sample() -> ThreadTimes {
        let mut out = BTreeMap::new();
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return ThreadTimes(out);
        };
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let path = entry.path();
            let sched = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
            let mut fields = sched.split_whitespace().map(|f| f.parse::<u64>().ok());
            let (Some(Some(run_ns)), Some(Some(wait_ns))) = (fields.next(), fields.next()) else {
                continue;
            };
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            out.insert(
                tid,
                Sample {
                    name: name.trim().to_string(),
                    run_ns,
                    wait_ns,
                },
            );
        }
        ThreadTimes(out)
    }

    /// What each thread alive at both samples used between `self` and the
    /// later sample `end`, in name order. Threads that started or ended in
    /// between are left out (a run's threads live through its window).
    pub fn until(&self, end: &ThreadTimes) -> Vec<ThreadCpu> {
        let mut out: Vec<ThreadCpu> = self
            .0
            .iter()
            .filter_map(|(tid, a)| {
                let b = end.0.get(tid)?;
                Some(ThreadCpu {
                    name: b.name.clone(),
                    cpu_ns: b.run_ns.saturating_sub(a.run_ns),
                    runqueue_ns: b.wait_ns.saturating_sub(a.wait_ns),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// What one thread used during the measured window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadCpu {
    /// The thread's name (`client-0`, `sb-shard-1`, `main`, ...).
    pub name: String,
    /// Time it ran on a CPU, ns.
    pub cpu_ns: u64,
    /// Time it was runnable but waited for a CPU (another thread of the
    /// run, or of the machine, had it), ns: large when threads share cores.
    pub runqueue_ns: u64,
}

/// The run's CPU time, per thread and per op.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuSummary {
    /// Every thread of the process, by name.
    pub threads: Vec<ThreadCpu>,
    /// CPU time of the client threads (`client-*`) per measured op, ns.
    pub client_ns_per_op: f64,
    /// CPU time of every thread of the process (clients, engine threads,
    /// the collector) per measured op, ns: what an op costs the machine.
    pub total_ns_per_op: f64,
}

impl CpuSummary {
    /// The summary of `threads` over `ops` measured ops.
    pub fn of(threads: Vec<ThreadCpu>, ops: u64) -> CpuSummary {
        let per_op = |ns: u64| {
            if ops == 0 {
                0.0
            } else {
                ns as f64 / ops as f64
            }
        };
        let client: u64 = threads
            .iter()
            .filter(|t| t.name.starts_with("client-"))
            .map(|t| t.cpu_ns)
            .sum();
        let total: u64 = threads.iter().map(|t| t.cpu_ns).sum();
        CpuSummary {
            client_ns_per_op: per_op(client),
            total_ns_per_op: per_op(total),
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_shows_its_cpu_time_by_name() {
        let h = std::thread::Builder::new()
            .name("cpu-test-spin".into())
            .spawn(|| {
                let start = ThreadTimes::sample();
                // Spin until the kernel has charged this thread 20 ms.
                let mut x = 0u64;
                loop {
                    for i in 0..100_000u64 {
                        x = x.wrapping_mul(31).wrapping_add(i);
                    }
                    std::hint::black_box(x);
                    let now = ThreadTimes::sample();
                    let used = start.until(&now);
                    let me = used.iter().find(|t| t.name == "cpu-test-spin").cloned();
                    if me.as_ref().is_some_and(|t| t.cpu_ns >= 20_000_000) || now.0.is_empty() {
                        return me;
                    }
                }
            })
            .unwrap();
        let me = h.join().unwrap();
        if std::path::Path::new("/proc/self/task").is_dir() {
            let me = me.expect("the spinning thread is listed");
            assert!(me.cpu_ns >= 20_000_000, "{me:?}");
        }
        let s = CpuSummary::of(
            vec![
                ThreadCpu {
                    name: "client-0".into(),
                    cpu_ns: 3_000,
                    runqueue_ns: 0,
                },
                ThreadCpu {
                    name: "sb-shard-0".into(),
                    cpu_ns: 5_000,
                    runqueue_ns: 9,
                },
            ],
            10,
        );
        assert_eq!((s.client_ns_per_op, s.total_ns_per_op), (300.0, 800.0));
    }
}
