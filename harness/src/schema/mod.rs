//! The files a run, a comparison and a sweep write, as types: one serde type
//! per output file, used by the code that writes it and by every reader
//! (the plots, `sweep` resuming a folder), so the two cannot drift (the model
//! is conc-map-bench's `record.rs`). Columns are documented in
//! `results/README.md`.
//!
//! | file | type |
//! |---|---|
//! | `summary.csv` | [`run::SummaryRow`] |
//! | `timeseries.csv` | [`run::TimeseriesRow`] |
//! | `run.json` | [`run::RunCaption`] (what readers need of it; the harness writes the whole run) |
//! | `comparison.csv` | [`compare::ComparisonRow`] |
//! | `passes.csv` | [`compare::PassRow`] |
//! | `sweep.csv` | [`sweep::SweepRow`] |
//! | `sweep.json` | [`sweep::SweepDocument`] |
//!
//! [`cells`] groups a sweep table's rows into its cells (median repetition,
//! C1, efficiency), for the sweep's report, `diff` and the plots alike.
//!
//! # Versions
//! Every file carries [`SCHEMA_VERSION`]: a `schema` column in the CSV
//! files (the last one), a `schema` field in the JSON documents. Files
//! written before versions existed (version 1: no `schema` column, a
//! `format` field in the JSON documents, as in the committed `docs/` sweeps
//! and resumable sweep folders of that time) are read by one explicit
//! upgrade step per type (`v1`), never by optional fields scattered through
//! the current types. A file from a newer socialbench is refused with
//! [`SchemaError::Newer`].
//!
//! This module sits at the bottom of the harness: it depends on no other
//! harness module but the plain data types it embeds, so the plot layer
//! can read every output while depending on nothing above it.

pub mod cells;
pub mod compare;
pub mod run;
pub mod sweep;
mod v1;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The version of every file this build writes.
pub const SCHEMA_VERSION: u32 = 2;

/// A run's configuration, machine and summary.
pub const RUN_JSON: &str = "run.json";
/// A run's summary, one row per op kind.
pub const SUMMARY_CSV: &str = "summary.csv";
/// A run's time series, one row per interval, source, name and metric.
pub const TIMESERIES_CSV: &str = "timeseries.csv";
/// A run's HdrHistogram interval log.
pub const HLOG: &str = "latency.hlog";
/// A comparison's table, one row per engine.
pub const COMPARISON_CSV: &str = "comparison.csv";
/// A comparison's runs, one row per engine and pass.
pub const PASSES_CSV: &str = "passes.csv";
/// A sweep's table, one row per measured cell.
pub const SWEEP_CSV: &str = "sweep.csv";
/// A sweep's settings, matrix and conclusions.
pub const SWEEP_JSON: &str = "sweep.json";

/// What the audit of a run concluded. It cannot say "passed" for an audit
/// that did not run: a stateless engine's is [`AuditVerdict::NotChecked`].
///
/// Written as `pass`, `fail`, `lost` or `n/a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditVerdict {
    /// The engine's state matched every acknowledged write.
    #[serde(rename = "pass")]
    Pass,
    /// The audit found lost or duplicated writes.
    #[serde(rename = "fail")]
    Fail,
    /// Failovers lost acknowledged writes in a mode that allows it
    /// (`async` replication): counted and reported, not a failure (exit
    /// 0). The message says how many, by kind.
    #[serde(rename = "lost")]
    Lost,
    /// Nothing to audit (the stateless `null` engine).
    #[serde(rename = "n/a")]
    NotChecked,
}

impl AuditVerdict {
    /// The word written in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditVerdict::Pass => "pass",
            AuditVerdict::Fail => "fail",
            AuditVerdict::Lost => "lost",
            AuditVerdict::NotChecked => "n/a",
        }
    }
}

impl std::fmt::Display for AuditVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an output file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is malformed: bad header, missing column, unparsable value.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, column).
        message: String,
        /// The parser's error.
        #[source]
        source: csv::Error,
    },
    /// A JSON document is malformed or misses a field.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV file's header is not one of this kind of file.
    #[error("{}: columns `{found}` are not those of {kind}", path.display())]
    Columns {
        /// The file.
        path: PathBuf,
        /// Which file it should have been.
        kind: &'static str,
        /// The header found.
        found: String,
    },
    /// A CSV file has a header but no data row.
    #[error("{}: no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer socialbench.
    #[error("{}: schema version {found}, newer than this build reads ({SCHEMA_VERSION})", path.display())]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
}

/// A row type of a versioned CSV file.
pub trait CsvRow: Serialize + DeserializeOwned + UpgradeV1 {
    /// The file's usual name (for messages).
    const FILE: &'static str;
    /// The header of the current version, in the order the type serialises.
    const COLUMNS: &'static [&'static str];
    /// Columns added within the current version, after files without them
    /// were written: such a file (its header [`CsvRow::COLUMNS`] without
    /// these) still reads, the row type giving them serde defaults.
    const ADDED: &'static [&'static str] = &[];
    /// The version this row was written with (its `schema` column).
    fn schema(&self) -> u32;
}

/// Rows of a CSV file and the lines that did not parse (see [`read_lenient`]).
#[derive(Debug)]
pub struct Lenient<T> {
    /// Rows that parsed, in file order (upgraded to the current version).
    pub rows: Vec<T>,
    /// Lines that did not parse and were left out.
    pub dropped: usize,
}

/// Every row of `path` in the current version: a file of version 1 is
/// upgraded row by row; a malformed row, an empty file or a newer file is
/// an error naming the file.
pub fn read_csv<T: CsvRow>(path: &Path) -> Result<Vec<T>, SchemaError> {
    let rows = read(path, false)?.rows;
    if rows.is_empty() {
        return Err(SchemaError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// Like [`read_csv`], but a line that does not parse is counted and left
/// out instead of failing the read (a sweep killed while appending leaves a
/// truncated last line; its cell runs again). An empty file is no error.
pub fn read_lenient<T: CsvRow>(path: &Path) -> Result<Lenient<T>, SchemaError> {
    read(path, true)
}

fn read<T: CsvRow>(path: &Path, lenient: bool) -> Result<Lenient<T>, SchemaError> {
    let file = std::fs::File::open(path).map_err(|source| SchemaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::new(file));
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, e, &csv::StringRecord::new()))?
        .clone();
    let versioned = headers.iter().any(|h| h == "schema");
    let known = if versioned {
        let earlier = T::COLUMNS.iter().filter(|c| !T::ADDED.contains(c));
        headers.iter().eq(T::COLUMNS.iter().copied()) || headers.iter().eq(earlier.copied())
    } else {
        T::V1_REQUIRED
            .iter()
            .all(|c| headers.iter().any(|h| h == *c))
    };
    if !known {
        return Err(SchemaError::Columns {
            path: path.to_path_buf(),
            kind: T::FILE,
            found: headers.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut out = Lenient {
        rows: Vec::new(),
        dropped: 0,
    };
    for record in reader.records() {
        let parsed = record
            .map_err(|e| csv_error(path, e, &headers))
            .and_then(|r| {
                if versioned {
                    r.deserialize::<T>(Some(&headers))
                } else {
                    r.deserialize::<T::V1>(Some(&headers)).map(Into::into)
                }
                .map_err(|e| csv_error(path, e, &headers))
            });
        match parsed {
            Ok(row) if row.schema() > SCHEMA_VERSION => {
                return Err(SchemaError::Newer {
                    path: path.to_path_buf(),
                    found: row.schema(),
                });
            }
            Ok(row) => out.rows.push(row),
            Err(_) if lenient => out.dropped += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn csv_error(path: &Path, e: csv::Error, headers: &csv::StringRecord) -> SchemaError {
    SchemaError::Csv {
        path: path.to_path_buf(),
        message: describe(&e, headers),
        source: e,
    }
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

/// A JSON document of a versioned type: the current version, or version 1
/// upgraded.
pub trait JsonDocument: DeserializeOwned + UpgradeV1 {}

/// How an output type reads from a file of version 1: implemented for
/// every type in `v1`, beside the version-1 types and their upgrades, so
/// that the modules of the current types never name their old forms.
pub trait UpgradeV1: Sized {
    /// The same row or document as version 1 wrote it, and its upgrade.
    type V1: DeserializeOwned + Into<Self>;
    /// Columns every version-1 file of this kind has (CSV files; a JSON
    /// document, told by its missing `schema` field instead, has none).
    /// No default: a new CSV type must say which columns its version 1 had.
    const V1_REQUIRED: &'static [&'static str];
}

/// Reads a JSON document of type `T` (see [`JsonDocument`]).
pub fn read_json<T: JsonDocument>(path: &Path) -> Result<T, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let json = |source| SchemaError::Json {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
    match value.get("schema").and_then(serde_json::Value::as_u64) {
        Some(v) if v > u64::from(SCHEMA_VERSION) => Err(SchemaError::Newer {
            path: path.to_path_buf(),
            found: v as u32,
        }),
        Some(_) => serde_json::from_value(value).map_err(json),
        None => serde_json::from_value::<T::V1>(value)
            .map(Into::into)
            .map_err(json),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::compare::ComparisonRow;
    use super::run::{SummaryRow, TimeseriesRow};
    use super::sweep::SweepRow;
    use super::*;

    /// The header a row type writes, by serialising `row`.
    fn header<T: CsvRow>(row: &T) -> Vec<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(row).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        text.lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect()
    }

    fn fixture(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path)
    }

    #[test]
    fn every_row_type_writes_the_columns_its_readers_expect_with_schema_last() {
        let summary: Vec<SummaryRow> = read_csv(&fixture("run/summary.csv")).unwrap();
        let ts: Vec<TimeseriesRow<'static>> = read_csv(&fixture("run/timeseries.csv")).unwrap();
        let cmp: Vec<ComparisonRow> = read_csv(&fixture("comparison/comparison.csv")).unwrap();
        let sweep: Vec<SweepRow> = read_csv(&fixture("sweep/sweep.csv")).unwrap();
        assert_eq!(header(&summary[0]), SummaryRow::COLUMNS);
        assert_eq!(header(&ts[0]), <TimeseriesRow<'static> as CsvRow>::COLUMNS);
        assert_eq!(header(&cmp[0]), ComparisonRow::COLUMNS);
        assert_eq!(header(&sweep[0]), SweepRow::COLUMNS);
        for columns in [
            SummaryRow::COLUMNS,
            <TimeseriesRow<'static> as CsvRow>::COLUMNS,
            ComparisonRow::COLUMNS,
            SweepRow::COLUMNS,
        ] {
            assert_eq!(columns.last(), Some(&"schema"));
        }
    }

    #[test]
    fn a_file_written_now_reads_back_equal() {
        let dir = std::env::temp_dir().join(format!("schema-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rows: Vec<ComparisonRow> = read_csv(&fixture("comparison/comparison.csv")).unwrap();
        let path = dir.join(COMPARISON_CSV);
        let mut w = csv::Writer::from_path(&path).unwrap();
        for r in &rows {
            w.serialize(r).unwrap();
        }
        w.flush().unwrap();
        let again: Vec<ComparisonRow> = read_csv(&path).unwrap();
        assert_eq!(again, rows);
        assert!(rows.iter().all(|r| r.schema == SCHEMA_VERSION));
    }

    #[test]
    fn a_file_of_another_kind_is_refused_naming_its_columns() {
        let e = read_csv::<SweepRow>(&fixture("run/summary.csv")).unwrap_err();
        assert!(
            matches!(
                e,
                SchemaError::Columns {
                    kind: SWEEP_CSV,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("intended_p99_ns"), "{e}");
    }
}
