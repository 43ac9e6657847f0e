//! Plots of a run, a sweep or an engine comparison, drawn from the files the
//! harness writes (read through [`crate::schema`], never from live state, so
//! `socialbench plot DIR` can redraw any results folder, old ones included).
//! Every figure is saved as SVG and as PNG; the PNG's text uses the bundled
//! DejaVu Sans ([`register_bundled_font`]), so no system font is needed.
//!
//! | input | figures (`<stem>.svg` + `<stem>.png`) |
//! |---|---|
//! | run folder: `timeseries.csv`, `summary.csv` | `throughput`, `latency_over_time`, `state_size`, `latency_percentiles` (see `run.rs`) |
//! | sweep folder: `sweep.csv` | `scaling`, `efficiency`, `latency_vs_throughput` (see `sweep.rs`) |
//! | comparison folder: engine subfolders, optional `comparison.csv` | each subfolder's run figures in that subfolder, and `comparison` (see `compare.rs`) |
//!
//! The run, sweep and compare modules turn rows into panels of named lines
//! (`chart.rs`), which plotters draws with its own axes, log scale, tick
//! placement, error bars, legends and text layout. Figures carry the
//! intervals of [`crate::stats`], as the tables do; what ran on more threads
//! than cores is drawn hollow. Bad input is a [`PlotError`] naming the file,
//! never a panic.

mod chart;
mod compare;
mod font;
mod run;
mod sweep;

use std::path::{Path, PathBuf};

pub use font::register_bundled_font;

use crate::schema::{self, SchemaError};

/// Why a folder could not be plotted.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A results file is missing, unreadable, malformed or empty.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A folder could not be listed.
    #[error("cannot list {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The folder is neither a run, a sweep nor a comparison.
    #[error(
        "{}: not a results folder (expected sweep.csv, timeseries.csv/summary.csv, or engine subfolders holding them)",
        path.display()
    )]
    NotResults {
        /// The folder.
        path: PathBuf,
    },
    /// Drawing or writing a figure failed.
    #[error("cannot draw {}: {source}", path.display())]
    Draw {
        /// The figure file.
        path: PathBuf,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What [`plot_dir`] found in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderKind {
    /// `sweep.csv`.
    Sweep,
    /// `timeseries.csv` and/or `summary.csv`.
    Run,
    /// Subfolders that are runs (the default engine comparison).
    Comparison,
}

/// Classifies `dir`: a sweep if it holds `sweep.csv`, else a run if it holds
/// `timeseries.csv` or `summary.csv`, else a comparison if it holds
/// `comparison.csv` or any subfolder is a run. `None` otherwise.
pub fn classify(dir: &Path) -> Result<Option<FolderKind>, PlotError> {
    Ok(if dir.join(schema::SWEEP_CSV).is_file() {
        Some(FolderKind::Sweep)
    } else if is_run(dir) {
        Some(FolderKind::Run)
    } else if dir.join(schema::COMPARISON_CSV).is_file() || !runs_in(dir)?.is_empty() {
        Some(FolderKind::Comparison)
    } else {
        None
    })
}

/// Draws whatever `dir` holds (see [`classify`]) and returns the files written.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    match classify(dir)? {
        Some(FolderKind::Sweep) => plot_sweep(dir),
        Some(FolderKind::Run) => plot_run(dir),
        Some(FolderKind::Comparison) => plot_comparison(dir),
        None => Err(PlotError::NotResults {
            path: dir.to_path_buf(),
        }),
    }
}

/// Draws a run's figures from `dir/timeseries.csv` and `dir/summary.csv` into
/// `dir`. Both files are required: a missing one is an error.
pub fn plot_run(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    save(run::figures(dir)?, dir)
}

/// Draws a sweep's figures from `dir/sweep.csv` into `dir`.
pub fn plot_sweep(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    save(
        sweep::figures(&schema::read_csv(&dir.join(schema::SWEEP_CSV))?),
        dir,
    )
}

/// Draws each run subfolder of `dir` (in name order) into itself, then the
/// `comparison` figure into `dir` if `dir/comparison.csv` exists.
pub fn plot_comparison(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut out = Vec::new();
    for sub in runs_in(dir)? {
        out.extend(plot_run(&sub)?);
    }
    let csv = dir.join(schema::COMPARISON_CSV);
    if csv.is_file() {
        out.extend(save(vec![compare::figure(&schema::read_csv(&csv)?)], dir)?);
    }
    Ok(out)
}

fn save(figures: Vec<chart::Figure>, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let files = figures.iter().map(|f| f.save(dir));
    Ok(files.collect::<Result<Vec<_>, _>>()?.concat())
}

fn is_run(dir: &Path) -> bool {
    dir.join(schema::TIMESERIES_CSV).is_file() || dir.join(schema::SUMMARY_CSV).is_file()
}

/// Subfolders of `dir` that are runs, sorted by path.
fn runs_in(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let path = dir.to_path_buf();
    let io = |source| PlotError::Io {
        path: path.clone(),
        source,
    };
    let mut subs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let sub = entry.map_err(io)?.path();
        if sub.is_dir() && is_run(&sub) {
            subs.push(sub);
        }
    }
    subs.sort();
    Ok(subs)
}

/// `dir/{a,b}.{svg,png}` for the files written: names relative to `dir`
/// without extension ("actor/throughput" for a comparison's per-engine
/// plots), each once, in drawing order.
pub fn describe_plots(dir: &Path, files: &[PathBuf]) -> String {
    let (mut stems, mut exts) = (Vec::new(), std::collections::BTreeSet::new());
    for f in files {
        let stem = f.strip_prefix(dir).unwrap_or(f).with_extension("");
        let stem = stem.to_string_lossy().into_owned();
        if !stems.contains(&stem) {
            stems.push(stem);
        }
        exts.extend(f.extension().map(|e| e.to_string_lossy().into_owned()));
    }
    // Braces only around a list: `a/{x,y}.{png,svg}`, `a/x.{png,svg}`.
    let group = |items: Vec<String>| match items.len() {
        1 => items.concat(),
        _ => format!("{{{}}}", items.join(",")),
    };
    let (stems, exts) = (group(stems), group(exts.into_iter().collect()));
    format!("{}/{stems}.{exts}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_lists_brace_only_lists() {
        let dir = Path::new("r");
        let files = |names: &[&str]| names.iter().map(|n| dir.join(n)).collect::<Vec<_>>();
        let one = files(&["comparison.png", "comparison.svg"]);
        assert_eq!(describe_plots(dir, &one), "r/comparison.{png,svg}");
        let two = files(&["a.png", "a.svg", "b.png", "b.svg"]);
        assert_eq!(describe_plots(dir, &two), "r/{a,b}.{png,svg}");
        assert_eq!(describe_plots(dir, &files(&["a.svg"])), "r/a.svg");
    }
}
