//! The `socialbench` command line: parses flags, builds a run configuration,
//! calls the harness, and maps failures to exit codes: 2 for bad input (flags,
//! files, folders), 1 for a failed run (audit mismatch, engine failure).

mod cli;
mod list;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use mimalloc::MiMalloc;
use socialbench_engines::EngineKind;
use socialbench_harness::{Limit, RunConfig, RunError, StopSignal};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2.
    let cli = cli::Cli::parse();
    let stop = StopSignal::default();
    let handler_stop = stop.clone();
    // Ctrl-C: stop sending, drain, write what was measured. A second Ctrl-C
    // while draining is ignored by design (the drain is bounded).
    let _ = ctrlc::set_handler(move || {
        eprintln!("interrupted: stopping cleanly, keeping what was measured");
        handler_stop.stop();
    });
    match dispatch(cli, stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let bad_input = e.chain().any(|c| {
                c.downcast_ref::<RunError>()
                    .is_some_and(RunError::is_bad_input)
            });
            // One line: the context chain joined by ": ".
            eprintln!("error: {e:#}");
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn dispatch(cli: cli::Cli, stop: StopSignal) -> anyhow::Result<()> {
    match cli.command {
        None => compare_all(stop),
        Some(cli::Command::Run(args)) => {
            let mut config = args.config()?;
            config.stop = stop;
            socialbench_harness::run(&config)
                .with_context(|| format!("{} run", config.engine.name()))?;
            Ok(())
        }
        Some(cli::Command::Sweep(args)) => run_sweep(&args, stop),
        Some(cli::Command::Plot(args)) => plot(&args),
        Some(cli::Command::Trace(args)) => trace(&args),
        Some(cli::Command::List) => {
            list::print();
            Ok(())
        }
    }
}

/// The default action: every engine on the default scenario in 8
/// interleaved passes of short runs, with verdicts against C1.
fn compare_all(stop: StopSignal) -> anyhow::Result<()> {
    let mut base = RunConfig::new(EngineKind::Null);
    base.users = Some(10_000);
    base.warmup = Duration::from_millis(500);
    base.limit = Limit::Duration(Duration::from_millis(1500));
    base.stop = stop;
    let spec = socialbench_harness::CompareSpec {
        base,
        engines: EngineKind::ALL.to_vec(),
        baseline: EngineKind::Serial,
        passes: 8,
        precision: None,
        max_time: None,
    };
    let cmp = socialbench_harness::compare(&spec).context("comparison")?;
    let failed: Vec<_> = cmp
        .failed_audits()
        .iter()
        .map(|r| r.engine.clone())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("audit failed for {}", failed.join(", "));
    }
    Ok(())
}

/// `socialbench sweep`: exit 1 when a cell's audit failed (its row is kept).
fn run_sweep(args: &cli::SweepArgs, stop: StopSignal) -> anyhow::Result<()> {
    let mut spec = args.spec()?;
    spec.base.stop = stop;
    let outcome = socialbench_harness::sweep(&spec).context("sweep")?;
    let failed: Vec<String> = outcome
        .failed_audits()
        .iter()
        .map(|r| {
            format!(
                "{} clients={} partitions={} users={}",
                r.engine, r.client_threads, r.partitions, r.users
            )
        })
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("audit failed for {}", failed.join("; "));
    }
    Ok(())
}

/// `socialbench plot DIR`: a folder that holds no results, or whose CSV
/// files cannot be read, is bad input (exit 2).
fn plot(args: &cli::PlotArgs) -> anyhow::Result<()> {
    use socialbench_harness::plot::PlotError;
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(RunError::BadInput(format!("{}: not a folder", dir.display())).into());
    }
    match socialbench_harness::plot::plot_dir(dir) {
        Ok(files) => {
            println!(
                "plots: {} ({} files)",
                socialbench_harness::plot::describe_plots(dir, &files),
                files.len()
            );
            Ok(())
        }
        Err(e @ PlotError::Draw { .. }) => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(RunError::BadInput(e.to_string()).into()),
    }
}

fn trace(args: &cli::TraceArgs) -> anyhow::Result<()> {
    let bad = |e: String| anyhow::Error::new(RunError::BadInput(e));
    let mut scenario =
        socialbench_workload::Scenario::from_arg(&args.workload).map_err(|e| bad(e.to_string()))?;
    if let Some(u) = cli::users_u32(args.users)? {
        scenario.users = u;
    }
    let workload =
        socialbench_workload::Workload::new(scenario, args.seed).map_err(|e| bad(e.to_string()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    socialbench_workload::trace(&workload, args.ops, args.include_load, &mut out)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("writing the trace")?;
    std::io::Write::flush(&mut out).context("writing the trace")?;
    Ok(())
}
