//! The rows of `sweep.csv` as the sweep writes them ([`CellRow`]), the key
//! that names a cell of the matrix ([`CellKey`]), and the file itself
//! ([`SweepCsv`]): read back on resume, then appended to and flushed one row
//! at a time, so an interrupted sweep loses at most the cell it was running.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::RunError;
use crate::plot::SweepRow;
use crate::plot::sweep::{AuditVerdict, SWEEP_CSV};

/// A row of `sweep.csv`: the columns of [`SweepRow`] (the plot module's
/// schema, ending with `partitions`, `saturated` and `rep`), in its order,
/// then the sweep's own columns (`stopped_by`, `measured_ns`,
/// `finished_at_unix_ms`), which readers of [`SweepRow`] ignore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRow {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Threads the engine starts (actor 1, sharded one per shard, else 0).
    pub engine_threads: u32,
    /// `min(client_threads + engine_threads, machine cores)` (DESIGN section 9).
    pub cores_used: u32,
    /// Simulated users.
    pub users: u64,
    /// Offered rate (ops/s) of an open-loop cell; empty for closed loop.
    pub rate: Option<f64>,
    /// Achieved ops/s over the measured time.
    pub ops_per_sec: f64,
    /// Intended latency p50 of all ops, ns.
    pub p50_ns: f64,
    /// p99, ns.
    pub p99_ns: f64,
    /// p99.9, ns.
    pub p999_ns: f64,
    /// Max, ns.
    pub max_ns: f64,
    /// Error replies.
    pub errors: u64,
    /// Audit verdict.
    pub audit: AuditVerdict,
    /// `ops_per_sec / (cores_used x c1_ops_per_sec)`.
    pub efficiency: Option<f64>,
    /// The serial baseline C1 of the same users value, ops/s.
    pub c1_ops_per_sec: Option<f64>,
    /// Partitions: shards of `sharded`, stripes of `striped`, 1 otherwise.
    pub partitions: u32,
    /// The open loop could not keep up with the offered rate (see the
    /// sweep module docs); always false for closed loop.
    pub saturated: bool,
    /// Repetition of the cell, from 0 (`--repeat`).
    pub rep: u32,
    /// Why the cell's run stopped: `Limit` or `Saturated`.
    pub stopped_by: String,
    /// Measured time, ns.
    pub measured_ns: u64,
    /// When the cell finished (ms since the Unix epoch): tells a resumed
    /// sweep's old rows from new ones.
    pub finished_at_unix_ms: u64,
}

impl CellRow {
    /// The cell this row measured.
    pub fn key(&self) -> CellKey {
        CellKey {
            engine: self.engine.clone(),
            client_threads: self.client_threads,
            partitions: self.partitions,
            users: self.users,
            rate_bits: self.rate.map(f64::to_bits),
            rep: self.rep,
        }
    }

    /// The row as the plot module reads it.
    pub fn to_sweep_row(&self) -> SweepRow {
        SweepRow {
            engine: self.engine.clone(),
            client_threads: self.client_threads,
            engine_threads: self.engine_threads,
            cores_used: self.cores_used,
            users: self.users,
            rate: self.rate,
            ops_per_sec: self.ops_per_sec,
            p50_ns: self.p50_ns,
            p99_ns: self.p99_ns,
            p999_ns: self.p999_ns,
            max_ns: self.max_ns,
            errors: self.errors,
            audit: self.audit,
            efficiency: self.efficiency,
            c1_ops_per_sec: self.c1_ops_per_sec,
            partitions: Some(self.partitions),
            saturated: Some(self.saturated),
            rep: Some(self.rep),
        }
    }
}

/// What identifies a cell: its coordinates in the matrix. Everything else a
/// cell depends on (workload, seed, durations, ...) is the sweep's spec,
/// equal for every row of one folder.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    /// Engine name.
    pub engine: String,
    /// Client threads.
    pub client_threads: u32,
    /// Partitions (1 for unpartitioned engines).
    pub partitions: u32,
    /// Simulated users.
    pub users: u64,
    /// The offered rate's bits (`None`: closed loop). Rates are compared
    /// exactly: they come from the same parser and round-trip through the
    /// CSV unchanged (shortest round-trip formatting).
    pub rate_bits: Option<u64>,
    /// Repetition, from 0.
    pub rep: u32,
}

/// `sweep.csv`, open for appending.
#[derive(Debug)]
pub struct SweepCsv {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl SweepCsv {
    /// Reads the rows already in `dir/sweep.csv` (none if it does not
    /// exist), rewrites the file with exactly those rows (dropping a
    /// malformed or truncated line, as a sweep killed while writing leaves
    /// one), and opens it for appending. Returns the file, the rows, and
    /// the number of lines dropped.
    pub fn open(dir: &Path) -> Result<(SweepCsv, Vec<CellRow>, usize), RunError> {
        let path = dir.join(SWEEP_CSV);
        let (rows, dropped) = if path.is_file() {
            read_rows(&path)?
        } else {
            (Vec::new(), 0)
        };
        // Rewrite through a temporary file so a crash here keeps the old file.
        let tmp = dir.join(format!("{SWEEP_CSV}.tmp"));
        let mut w = csv::Writer::from_path(&tmp).map_err(|e| RunError::output(&tmp, e))?;
        if rows.is_empty() {
            write_header(&mut w).map_err(|e| RunError::output(&tmp, e))?;
        }
        for r in &rows {
            w.serialize(r).map_err(|e| RunError::output(&tmp, e))?;
        }
        w.flush().map_err(|e| RunError::output(&tmp, e))?;
        drop(w);
        std::fs::rename(&tmp, &path).map_err(|e| RunError::output(&path, e))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| RunError::output(&path, e))?;
        let writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(file);
        Ok((SweepCsv { path, writer }, rows, dropped))
    }

    /// Appends `row` and flushes it to the file.
    pub fn append(&mut self, row: &CellRow) -> Result<(), RunError> {
        self.writer
            .serialize(row)
            .map_err(|e| RunError::output(&self.path, e))?;
        self.writer
            .flush()
            .map_err(|e| RunError::output(&self.path, e))?;
        self.writer
            .get_ref()
            .sync_data()
            .map_err(|e| RunError::output(&self.path, e))
    }
}

/// The header alone (csv writes it with the first row otherwise).
fn write_header(w: &mut csv::Writer<File>) -> csv::Result<()> {
    w.write_record(column_names())?;
    Ok(())
}

/// The columns of `sweep.csv`, in order.
pub fn column_names() -> Vec<&'static str> {
    vec![
        "engine",
        "client_threads",
        "engine_threads",
        "cores_used",
        "users",
        "rate",
        "ops_per_sec",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "max_ns",
        "errors",
        "audit",
        "efficiency",
        "c1_ops_per_sec",
        "partitions",
        "saturated",
        "rep",
        "stopped_by",
        "measured_ns",
        "finished_at_unix_ms",
    ]
}

/// Rows of an existing file; lines that do not parse are counted and
/// dropped (their cells are measured again). A header that is not this
/// sweep's is an error: the folder holds something else.
fn read_rows(path: &Path) -> Result<(Vec<CellRow>, usize), RunError> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| RunError::BadInput(format!("cannot read {}: {e}", path.display())))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| RunError::BadInput(format!("{}: {e}", path.display())))?
        .iter()
        .map(String::from)
        .collect();
    if header != column_names() {
        return Err(RunError::BadInput(format!(
            "{} has other columns than this sweep writes; use another --out folder",
            path.display()
        )));
    }
    let mut rows = Vec::new();
    let mut dropped = 0;
    for r in reader.deserialize::<CellRow>() {
        match r {
            Ok(row) => rows.push(row),
            Err(_) => dropped += 1,
        }
    }
    Ok((rows, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, rate: Option<f64>) -> CellRow {
        CellRow {
            engine: engine.into(),
            client_threads: 2,
            engine_threads: 1,
            cores_used: 2,
            users: 1000,
            rate,
            ops_per_sec: 12345.5,
            p50_ns: 1000.0,
            p99_ns: 2000.0,
            p999_ns: 3000.0,
            max_ns: 4000.0,
            errors: 3,
            audit: AuditVerdict::Pass,
            efficiency: Some(0.25),
            c1_ops_per_sec: Some(20000.0),
            partitions: 1,
            saturated: false,
            stopped_by: "Limit".into(),
            measured_ns: 1_000_000,
            finished_at_unix_ms: 1,
            rep: 0,
        }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sweep-row-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn columns_start_with_the_plot_schema_and_rows_read_back_as_sweep_rows() {
        let d = temp("schema");
        let (mut f, rows, _) = SweepCsv::open(&d).unwrap();
        assert!(rows.is_empty());
        let written = [row("actor", None), row("sharded", Some(50_000.0))];
        for r in &written {
            f.append(r).unwrap();
        }
        let plot_rows = crate::plot::sweep::load(&d.join(SWEEP_CSV)).unwrap();
        let expected: Vec<SweepRow> = written.iter().map(CellRow::to_sweep_row).collect();
        assert_eq!(plot_rows, expected);
        // The plot schema's columns come first, in its order.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&expected[0]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let plot_header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        assert_eq!(&column_names()[..plot_header.len()], &plot_header[..]);
    }

    #[test]
    fn reopening_keeps_rows_and_drops_a_truncated_last_line() {
        let d = temp("truncated");
        let (mut f, _, _) = SweepCsv::open(&d).unwrap();
        f.append(&row("actor", None)).unwrap();
        f.append(&row("actor", Some(1000.0))).unwrap();
        drop(f);
        let path = d.join(SWEEP_CSV);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("striped,1,0,1");
        std::fs::write(&path, text).unwrap();
        let (_, rows, dropped) = SweepCsv::open(&d).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(rows, vec![row("actor", None), row("actor", Some(1000.0))]);
        assert_ne!(rows[0].key(), rows[1].key());
        // The file was rewritten without the broken line.
        let (_, again, dropped) = SweepCsv::open(&d).unwrap();
        assert_eq!((again.len(), dropped), (2, 0));
    }

    #[test]
    fn a_csv_with_other_columns_is_refused() {
        let d = temp("other");
        std::fs::write(d.join(SWEEP_CSV), "a,b\n1,2\n").unwrap();
        let e = SweepCsv::open(&d).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
    }
}
