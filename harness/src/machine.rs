//! What the run ran on, for `run.json`: CPU model, cores, OS, versions, git
//! commit; the process's memory (current RSS from `/proc/self/statm`, peak
//! RSS from `/proc/self/status`); and the CPU time the hypervisor took from
//! each core (`steal` in `/proc/stat`), which on a virtual machine is what
//! open-loop tail latencies are often made of. Everything degrades to
//! "unknown"/0/empty off Linux rather than failing a run.

use serde::Serialize;

/// The machine and build a run used.
#[derive(Clone, Debug, Serialize)]
pub struct MachineInfo {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub logical_cpus: usize,
    /// Cores this process may run on (its affinity mask).
    pub usable_cores: Vec<usize>,
    /// `PRETTY_NAME` from `/etc/os-release`, else the OS family.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// Compiler that built the binary.
    pub rustc: String,
    /// Version of the socialbench crates.
    pub crate_version: String,
    /// Git commit of the source tree, if known (with `-dirty` when modified).
    pub git_commit: Option<String>,
    /// Whether this is an optimised build.
    pub release_build: bool,
}

impl MachineInfo {
    /// Probes the machine.
    pub fn probe() -> MachineInfo {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
        MachineInfo {
            cpu_model,
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            usable_cores: crate::pinning::machine_cores(),
            os,
            kernel: if kernel.is_empty() {
                "unknown".into()
            } else {
                kernel
            },
            rustc: env!("SOCIALBENCH_RUSTC_VERSION").to_string(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            release_build: !cfg!(debug_assertions),
        }
    }
}

/// The commit the binary was built from (set by the build script), with
/// `-dirty` when tracked files were modified; `None` outside a git checkout.
fn git_commit() -> Option<String> {
    Some(env!("SOCIALBENCH_GIT_COMMIT"))
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// Page size from the auxiliary vector (`AT_PAGESZ`), else 4096.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(aux) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    aux.chunks_exact(16)
        .map(|c| {
            let k = u64::from_ne_bytes(c[..8].try_into().unwrap_or([0; 8]));
            let v = u64::from_ne_bytes(c[8..].try_into().unwrap_or([0; 8]));
            (k, v)
        })
        .find(|(k, _)| *k == AT_PAGESZ)
        .map_or(4096, |(_, v)| v)
}

/// Resident set size now, in bytes (`/proc/self/statm`), 0 if unknown.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size())
}

/// Peak resident set size so far, in bytes (`VmHWM`), 0 if unknown.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Steal and total time of one CPU, in `/proc/stat` ticks (`USER_HZ`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CpuTicks {
    cpu: usize,
    steal: u64,
    total: u64,
}

/// Parses the per-CPU lines of `/proc/stat` (`cpuN user nice system idle
/// iowait irq softirq steal ...`); the aggregate `cpu` line is skipped.
fn parse_proc_stat(text: &str) -> Vec<CpuTicks> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let cpu = f.next()?.strip_prefix("cpu")?.parse().ok()?;
            // Fields after the name; guest times are already part of user.
            let v: Vec<u64> = f.take(8).map_while(|x| x.parse().ok()).collect();
            Some(CpuTicks {
                cpu,
                steal: v.get(7).copied().unwrap_or(0),
                total: v.iter().sum(),
            })
        })
        .collect()
}

/// Time the hypervisor ran something else on one core, over some window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CoreSteal {
    /// Logical CPU number.
    pub core: usize,
    /// Stolen time (ms; `/proc/stat` counts in 10 ms ticks on most kernels).
    pub steal_ms: u64,
    /// Stolen share of the window's wall time on that core (0 to 1).
    pub share: f64,
}

/// Measures steal per core between successive [`StealMeter::sample`] calls.
#[derive(Debug, Default)]
pub struct StealMeter {
    last: Vec<CpuTicks>,
}

impl StealMeter {
    /// Starts measuring now.
    pub fn start() -> StealMeter {
        StealMeter {
            last: read_cpu_ticks(),
        }
    }

    /// Steal per core since the previous sample (or the start); empty when
    /// `/proc/stat` is unreadable.
    pub fn sample(&mut self) -> Vec<CoreSteal> {
        let now = read_cpu_ticks();
        let out = steal_between(&self.last, &now);
        self.last = now;
        out
    }
}

/// Milliseconds per `/proc/stat` tick: `USER_HZ` is 100 on every Linux ABI.
const MS_PER_TICK: u64 = 10;

fn steal_between(before: &[CpuTicks], after: &[CpuTicks]) -> Vec<CoreSteal> {
    after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| b.cpu == a.cpu)?;
            let steal = a.steal.saturating_sub(b.steal);
            let total = a.total.saturating_sub(b.total);
            Some(CoreSteal {
                core: a.cpu,
                steal_ms: steal * MS_PER_TICK,
                share: if total == 0 {
                    0.0
                } else {
                    steal as f64 / total as f64
                },
            })
        })
        .collect()
}

fn read_cpu_ticks() -> Vec<CpuTicks> {
    std::fs::read_to_string("/proc/stat")
        .map(|s| parse_proc_stat(&s))
        .unwrap_or_default()
}

/// The core with the most steal, if any stole at all.
pub fn worst_steal(cores: &[CoreSteal]) -> Option<CoreSteal> {
    cores
        .iter()
        .copied()
        .filter(|c| c.steal_ms > 0)
        .max_by(|a, b| a.share.total_cmp(&b.share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_steal_is_the_eighth_field_per_cpu() {
        let before = "cpu  10 0 10 100 0 0 0 5 0 0\n\
                      cpu0 5 0 5 50 0 0 0 1 0 0\n\
                      cpu1 5 0 5 50 0 0 0 4 0 0\n\
                      intr 12345\n";
        let after = "cpu  30 0 30 300 0 0 0 45 0 0\n\
                     cpu0 15 0 15 150 0 0 0 1 0 0\n\
                     cpu1 15 0 15 150 0 0 0 44 0 0\n";
        let (b, a) = (parse_proc_stat(before), parse_proc_stat(after));
        assert_eq!(b.iter().map(|c| c.cpu).collect::<Vec<_>>(), vec![0, 1]);
        let d = steal_between(&b, &a);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].core, d[0].steal_ms, d[0].share), (0, 0, 0.0));
        // cpu1: 40 of 160 ticks stolen.
        assert_eq!((d[1].core, d[1].steal_ms), (1, 400));
        assert!((d[1].share - 0.25).abs() < 1e-12, "{}", d[1].share);
        assert_eq!(worst_steal(&d).map(|c| c.core), Some(1));
        assert_eq!(worst_steal(&d[..1]), None);
        // A CPU that went offline (or garbage) is skipped, not a panic.
        assert!(steal_between(&b, &parse_proc_stat("cpu7 1 2 x\nnonsense")).is_empty());
    }

    #[test]
    fn steal_meter_reports_every_online_cpu_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let mut m = StealMeter::start();
        let d = m.sample();
        assert!(!d.is_empty());
        assert!(d.iter().all(|c| (0.0..=1.0).contains(&c.share)));
    }

    #[test]
    fn rss_is_positive_and_below_peak_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let now = rss_bytes();
        let peak = peak_rss_bytes();
        assert!(now > 0);
        assert!(peak >= now / 2, "peak {peak} vs now {now}");
    }

    #[test]
    fn probe_finds_a_cpu_and_cores() {
        let m = MachineInfo::probe();
        assert!(m.logical_cpus >= 1);
        assert!(!m.cpu_model.is_empty());
        assert!(!m.rustc.is_empty());
    }
}
