//! What the run ran on, for `run.json`: CPU model, cores, OS, versions, git
//! commit; and the process's memory (current RSS from `/proc/self/statm`,
//! peak RSS from `/proc/self/status`). Everything degrades to "unknown"/0
//! off Linux rather than failing a run.

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

fn git_commit() -> Option<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new("git")
        .args(["-C", dir, "rev-parse", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dirty = std::process::Command::new("git")
        .args(["-C", dir, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        commit.push_str("-dirty");
    }
    Some(commit)
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

#[cfg(test)]
mod tests {
    use super::*;

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
