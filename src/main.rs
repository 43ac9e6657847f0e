//! The `socialbench` command line: parses flags, builds the harness's
//! configurations, calls the harness, and maps failures to exit codes: 2 for
//! bad input (flags, files, folders; one line on stderr), 1 for a failed run
//! (audit mismatch, engine failure, a slower build under `diff
//! --fail-if-slower`).

// The flags' doc comments are clap's help text, printed as written
// (`results/<run-id>/`), not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod list;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use mimalloc::MiMalloc;
use socialbench_harness::{RunError, StopSignal};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

/// The error and its causes on one line, joined by ": ". Errors whose
/// message already quotes their cause (the workload's, the schema's) are
/// not repeated, and only the first line of a multi-line message (a TOML
/// parser's source excerpt) is kept.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.lines().next().unwrap_or_default().trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// A closed stdout (`socialbench ... | head -1`) is the reader having
/// enough, not an error: the commands that write to stdout themselves
/// ([`emit`], `trace`, and the harness's tables through
/// `outputs::print_out`) stop quietly on it and still exit with their own
/// code (a failed audit exits 1). A `println!` left anywhere else, which
/// panics on it, ends the process quietly with exit 0. Every other panic
/// goes to the default hook.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Writes `text` to stdout; a closed stdout ends the output quietly.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

/// Help and version go to stdout as clap prints them (exit 0); any other
/// clap error is one line on stderr (no usage block) and exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    // clap's message, its list of possible values and its tip, on one line.
    let text = e.to_string();
    let mut parts = text.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
    });
    let first = parts.next().unwrap_or("bad arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    for p in parts {
        line.push(' ');
        line.push_str(p);
    }
    eprintln!("error: {line}");
    ExitCode::from(2)
}

fn dispatch(cli: cli::Cli, stop: StopSignal) -> anyhow::Result<()> {
    use cli::Command;
    use socialbench_harness as h;
    match cli.command {
        None => compare(&cli::CompareArgs::defaults(), stop),
        Some(Command::Compare(args)) if args.check => emit(&format!(
            "ok: compare {}\n",
            h::compare::check(&args.spec()?)?
        )),
        Some(Command::Compare(args)) => compare(&args, stop),
        Some(Command::Run(args)) if args.check => {
            emit(&format!("ok: run {}\n", h::run::check(&args.config()?)?))
        }
        Some(Command::Run(args)) => {
            let mut config = args.config()?;
            config.stop = stop;
            socialbench_harness::run(&config)
                .with_context(|| format!("{} run", config.engine.name()))?;
            Ok(())
        }
        Some(Command::Sweep(args)) if args.check => {
            emit(&format!("ok: sweep {}\n", h::sweep::check(&args.spec()?)?))
        }
        Some(Command::Sweep(args)) => sweep(&args, stop),
        Some(Command::Capacity(args)) if args.check => {
            let checked = h::run::check(&args.config()?)?;
            if let Some(out) = &args.out {
                h::run::check_writable(out)?;
            }
            emit(&format!("ok: capacity {checked}\n"))
        }
        Some(Command::Capacity(args)) => capacity(&args, stop),
        Some(Command::Diff(args)) => diff(&args),
        Some(Command::Plot(args)) => plot(&args),
        Some(Command::Merge(args)) => merge(&args),
        Some(Command::Trace(args)) => trace(&args),
        Some(Command::List) => emit(&list::text()),
    }
}

/// `socialbench compare`: exit 1 when an engine's audit failed.
fn compare(args: &cli::CompareArgs, stop: StopSignal) -> anyhow::Result<()> {
    let mut spec = args.spec()?;
    spec.base.stop = stop;
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
fn sweep(args: &cli::SweepArgs, stop: StopSignal) -> anyhow::Result<()> {
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

/// `socialbench capacity`.
fn capacity(args: &cli::CapacityArgs, stop: StopSignal) -> anyhow::Result<()> {
    let mut base = args.config()?;
    base.stop = stop;
    let out_dir = args.out.clone().unwrap_or_else(|| {
        std::path::PathBuf::from("results").join(socialbench_harness::run::new_run_id("capacity"))
    });
    let spec = socialbench_harness::capacity::CapacitySpec {
        base,
        slo: args.slo,
        tolerance: args.tolerance,
        probe: args.probe,
        max_probe: args.max_probe,
        out_dir,
    };
    socialbench_harness::capacity::find_capacity(&spec).context("capacity")?;
    Ok(())
}

/// `socialbench merge OUT DIR...`: folders that are not one group run are
/// bad input (exit 2); a merged audit that fails exits 1.
fn merge(args: &cli::MergeArgs) -> anyhow::Result<()> {
    use socialbench_harness::merge;
    let bad = |e: merge::MergeError| anyhow::Error::new(RunError::BadInput(e.to_string()));
    let runs = merge::GroupRuns::read(&args.dirs).map_err(bad)?;
    let audit = match args.redis(runs.prefix())? {
        Some(redis) => {
            #[cfg(feature = "redis")]
            {
                use socialbench_engines::Engine as _;
                let config = socialbench_engines::EngineConfig {
                    redis: Some(redis),
                    ..Default::default()
                };
                let engine = socialbench_engines::redis::RedisEngine::attach(&config)
                    .map_err(|e| RunError::BadInput(format!("redis engine: {}", e.detail())))?;
                let audit = runs.audit(engine.audit());
                // The run's keys go once it is audited (unless kept).
                engine.shutdown();
                audit
            }
            #[cfg(not(feature = "redis"))]
            {
                let _ = redis;
                return Err(RunError::BadInput("this build has no redis engine".into()).into());
            }
        }
        None => runs.not_audited(
            "no server given (--redis-url or --redis-cluster): the store was not audited and its keys stay",
        ),
    };
    let summary = merge::merge(&runs, &args.out, audit).map_err(bad)?;
    emit(&merge::render(&summary))?;
    if summary.audit.verdict == socialbench_harness::schema::AuditVerdict::Fail {
        anyhow::bail!(
            "audit failed: {}",
            summary.audit.message.clone().unwrap_or_default()
        );
    }
    Ok(())
}

/// `socialbench diff A B`.
fn diff(args: &cli::DiffArgs) -> anyhow::Result<()> {
    let d = socialbench_harness::diff::diff(&args.a, &args.b)?;
    emit(&socialbench_harness::diff::render(&d, &args.a, &args.b))?;
    if args.fail_if_slower && d.any_slower() {
        anyhow::bail!("B is slower than A (--fail-if-slower)");
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

/// `socialbench trace`: the workload is resolved and checked against the
/// memory available as a one-thread serial run's would be (the trace keeps
/// the state in one partition).
fn trace(args: &cli::TraceArgs) -> anyhow::Result<()> {
    let mut config = socialbench_harness::RunConfig::new(socialbench_engines::EngineKind::Serial);
    config.workload = args.workload.workload.clone();
    config.seed = args.workload.seed;
    config.users = args.users;
    config.threads = Some(1);
    config.out_root = None;
    let workload = socialbench_harness::run::build_workload(&config)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = socialbench_workload::trace(&workload, args.ops, args.include_load, &mut out)
        .and_then(|_| std::io::Write::flush(&mut out));
    match written {
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing the trace"),
    }
}
