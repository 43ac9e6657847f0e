//! socialbench-harness: drives a workload against an engine and measures it
//! honestly.
//!
//! The life of a run ([`run()`]): resolve defaults and the pin map
//! ([`pinning`]), prepare the workload, build the engine (statically typed via
//! `EngineKind::visit`), start pinned client threads ([`client`]) that do the
//! load phase stage by stage, a warmup, then a closed or open loop while
//! recording latencies per op kind into per-thread HdrHistograms
//! ([`recorder`]); a [`collector`] merges them per interval and feeds the
//! [`outputs`]; at the end the engine is quiesced and audited against the
//! acknowledged writes.

/// `print!` for the harness's tables: a closed stdout (`| head -1`) ends
/// the printing quietly and the command still exits with its own code (a
/// failed audit still exits 1). See [`outputs::print_out`].
macro_rules! out {
    ($($t:tt)*) => {
        $crate::outputs::print_out(format_args!($($t)*))
    };
}

/// `println!` through [`out!`].
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::outputs::print_out(format_args!("{}\n", format_args!($($t)*)))
    };
}

pub mod capacity;
pub mod client;
pub mod clock;
pub mod collector;
pub mod compare;
pub mod config;
pub mod cpu;
pub mod diff;
pub mod limits;
pub mod machine;
pub mod merge;
pub mod outputs;
pub mod pinning;
pub mod plot;
pub mod recorder;
pub mod run;
pub mod schema;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod units;

pub use client::StopReason;
pub use compare::{CompareSpec, Comparison, compare};
pub use config::{
    Arrivals, Limit, LoopMode, ProgressMode, RunConfig, RunError, StopSignal, ThreadFailure,
    parse_duration, parse_fault, parse_rate,
};
pub use pinning::{PinError, PinMap, PinSpec};
pub use run::{audit_verdict, run, run_report, run_with_workload};
pub use summary::RunSummary;
pub use sweep::{SweepOutcome, SweepSpec, sweep};
