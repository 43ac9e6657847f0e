//! `--precision`: a run stops as soon as its throughput's interval is as
//! narrow as asked, and says so.

use std::time::Duration;

use socialbench_engines::EngineKind;
use socialbench_harness::{Limit, ProgressMode, RunConfig, StopReason, run};

#[test]
fn a_run_with_a_precision_stops_when_its_interval_is_that_narrow() {
    let mut c = RunConfig::new(EngineKind::Null);
    c.users = Some(1_000);
    c.threads = Some(1);
    c.warmup = Duration::from_millis(100);
    c.limit = Limit::Duration(Duration::from_secs(60));
    c.interval = Some(Duration::from_millis(100));
    c.precision = Some(0.25);
    c.out_root = None;
    c.progress = ProgressMode::Quiet;
    c.print_table = false;
    let s = run(&c).unwrap();
    assert_eq!(s.stopped_by, StopReason::Precise);
    let m = s.batch_means.expect("batch means");
    assert!(m.batches >= 10, "{m:?}");
    assert!(m.throughput.relative_half_width() <= 0.25, "{m:?}");
    // It stopped long before the limit: the window is what was measured.
    assert!(s.measured_ns < 60_000_000_000);
}
