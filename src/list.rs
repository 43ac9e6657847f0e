//! `socialbench list`: the engines and the workload presets with their parameters.

use socialbench_engines::EngineKind;
use socialbench_workload::Scenario;

fn describe(k: EngineKind) -> &'static str {
    match k {
        EngineKind::Null => "replies at once, keeps nothing: the harness's ceiling",
        EngineKind::Serial => {
            "one partition applied inline by its one session: the baseline C1 (--threads 1)"
        }
        EngineKind::Actor => "one partition owned by one engine thread behind a bounded mailbox",
        EngineKind::Sharded => {
            "P partitions on P pinned threads (--shards P), messages between shards"
        }
        EngineKind::Striped => {
            "P partitions behind locks (--stripes P), applied inline by the callers"
        }
        EngineKind::Redis => {
            "an external Redis server (--redis-url) or cluster (--redis-cluster), a script per op"
        }
    }
}

/// Engines and workloads, as `socialbench list` prints them.
pub fn text() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "engines:");
    for k in EngineKind::known() {
        let _ = writeln!(out, "  {:<8} {}", k.name(), describe(k));
    }
    let _ = writeln!(
        out,
        "\nworkloads (--workload NAME, or a TOML file starting with preset = \"NAME\"):"
    );
    for name in Scenario::PRESETS {
        match Scenario::preset(name) {
            Ok(s) => {
                let params = serde_json::to_string_pretty(&s).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {name} (default open-loop rate {:.3} ops/s per user):",
                    s.per_user_rate()
                );
                for line in params.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  {name}: {e}");
            }
        }
    }
    out
}
