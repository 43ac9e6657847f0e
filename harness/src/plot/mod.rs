//! Plots of a run, a sweep or an engine comparison, drawn from the CSV files
//! the harness writes (never from live state, so `socialbench plot DIR` can
//! redraw any results folder). Every figure is saved as SVG and as PNG; the
//! PNG's text uses the bundled DejaVu Sans ([`register_bundled_font`]), so no
//! system font is needed.
//!
//! | input | figures (`<stem>.svg` + `<stem>.png`) |
//! |---|---|
//! | run folder: `timeseries.csv`, `summary.csv` | `throughput`, `latency_over_time`, `state_size` (from the time series); `latency_percentiles` (from the summary) |
//! | sweep folder: `sweep.csv` (schema in [`sweep`]) | `scaling`, `efficiency`, `latency_vs_throughput` |
//! | comparison folder: engine subfolders, optional `comparison.csv` (schema in [`compare`]) | each subfolder's run figures in that subfolder, and `comparison` |
//!
//! The figures are built as plain descriptions (`figure::Figure`) by the run,
//! sweep and compare modules and drawn by one renderer, so ticks, units, log
//! axes and degenerate data (one point, zeros on a log axis, NaN) are
//! handled in one place. Bad input is a [`PlotError`] naming the file, never
//! a panic.

mod axis;
pub mod compare;
mod figure;
mod font;
pub mod run;
pub mod sweep;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use compare::ComparisonRow;
pub use font::register_bundled_font;
pub use run::{RunSeries, SummaryRow, TimeseriesRow};
pub use sweep::SweepRow;

/// Why a folder could not be plotted.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A file could not be read (missing, unreadable) or a folder listed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV file is malformed: bad header, missing column, unparsable value.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, column).
        message: String,
    },
    /// A CSV file has a header but no data row.
    #[error("{}: no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
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
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The figure file.
        path: PathBuf,
        /// The backend's error.
        message: String,
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
/// `timeseries.csv` or `summary.csv`, else a comparison if any subfolder is a
/// run. `None` otherwise.
pub fn classify(dir: &Path) -> Result<Option<FolderKind>, PlotError> {
    if dir.join(sweep::SWEEP_CSV).is_file() {
        return Ok(Some(FolderKind::Sweep));
    }
    if is_run(dir) {
        return Ok(Some(FolderKind::Run));
    }
    if !run_subfolders(dir)?.is_empty() {
        return Ok(Some(FolderKind::Comparison));
    }
    Ok(None)
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
    let data = run::RunData::load(dir)?;
    let mut out = Vec::new();
    for fig in run::figures(&data) {
        out.extend(fig.save(dir)?);
    }
    Ok(out)
}

/// Draws a sweep's figures from `dir/sweep.csv` into `dir`. The latency vs
/// throughput figure uses the open-loop (rate) rows if there are any, else
/// the closed-loop rows.
pub fn plot_sweep(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let rows = sweep::load(&dir.join(sweep::SWEEP_CSV))?;
    let mut out = Vec::new();
    for fig in sweep::figures(&rows) {
        out.extend(fig.save(dir)?);
    }
    Ok(out)
}

/// Draws each run subfolder of `dir` (in name order) into itself, then the
/// `comparison` figure into `dir` if `dir/comparison.csv` exists.
pub fn plot_comparison(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut out = Vec::new();
    for sub in run_subfolders(dir)? {
        out.extend(plot_run(&sub)?);
    }
    let csv = dir.join(compare::COMPARISON_CSV);
    if csv.is_file() {
        let rows = compare::load(&csv)?;
        out.extend(compare::figure(&rows).save(dir)?);
    }
    Ok(out)
}

fn is_run(dir: &Path) -> bool {
    dir.join(run::TIMESERIES_CSV).is_file() || dir.join(run::SUMMARY_CSV).is_file()
}

/// Subfolders of `dir` that are runs, sorted by path.
fn run_subfolders(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let io = |source| PlotError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut subs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() && is_run(&path) {
            subs.push(path);
        }
    }
    subs.sort();
    Ok(subs)
}

/// Reads every row of a CSV file with a header into `T` (columns matched by
/// name; extra columns ignored). A missing file, a malformed row or a file
/// without rows is an error naming the file.
pub(crate) fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, PlotError> {
    let file = std::fs::File::open(path).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::new(file));
    let headers = reader.headers().cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        rows.push(row.map_err(|e| PlotError::Csv {
            path: path.to_path_buf(),
            message: describe(&e, &headers),
        })?);
    }
    if rows.is_empty() {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// A csv error as a person wants it: the line and the column's name.
fn describe(e: &csv::Error, headers: &csv::StringRecord) -> String {
    let line = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|i| headers.get(i as usize))
                .map(|name| format!("column `{name}`: "))
                .unwrap_or_default();
            format!("{line}{column}{}", err.kind())
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{line}{len} fields where the header has {expected_len}"),
        _ => format!("{line}{e}"),
    }
}

/// A short label for a run folder: its name.
pub(crate) fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}
/// `dir/{a,b}.{svg,png}` for the files written.
pub fn describe_plots(dir: &Path, files: &[PathBuf]) -> String {
    // Names relative to `dir` without extension ("actor/throughput" for a
    // comparison's per-engine plots), each once, in drawing order.
    let mut stems: Vec<String> = Vec::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(f).with_extension("");
        let name = rel.to_string_lossy().into_owned();
        if !stems.contains(&name) {
            stems.push(name);
        }
    }
    let mut exts: Vec<String> = files
        .iter()
        .filter_map(|f| f.extension().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    exts.sort();
    exts.dedup();
    format!(
        "{}/{{{}}}.{{{}}}",
        dir.display(),
        stems.join(","),
        exts.join(",")
    )
}
