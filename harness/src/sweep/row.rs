//! The key that names a cell of the matrix ([`CellKey`]), and `sweep.csv`
//! as the sweep keeps it ([`SweepCsv`]): read back on resume, then appended
//! to and flushed one row at a time, so an interrupted sweep loses at most
//! the cell it was running. The row type is [`SweepRow`].

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::config::RunError;
use crate::schema::sweep::SweepRow;
use crate::schema::{self, CsvRow, SWEEP_CSV, SchemaError};

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

impl CellKey {
    /// The cell `row` measured.
    pub fn of(row: &SweepRow) -> CellKey {
        CellKey {
            engine: row.engine.clone(),
            client_threads: row.client_threads,
            partitions: row.partitions,
            users: row.users,
            rate_bits: row.rate.map(f64::to_bits),
            rep: row.rep,
        }
    }
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
    pub fn open(dir: &Path) -> Result<(SweepCsv, Vec<SweepRow>, usize), RunError> {
        let path = dir.join(SWEEP_CSV);
        let (rows, dropped) = if path.is_file() {
            let read = schema::read_lenient::<SweepRow>(&path).map_err(|e| {
                let hint = match e {
                    SchemaError::Io { .. } => "",
                    _ => " (not a sweep table this version reads: use another --out folder)",
                };
                RunError::Unreadable {
                    path: path.clone(),
                    hint,
                    source: e.into(),
                }
            })?;
            (read.rows, read.dropped)
        } else {
            (Vec::new(), 0)
        };
        // Rewrite through a temporary file so a crash here keeps the old file.
        let tmp = dir.join(format!("{SWEEP_CSV}.tmp"));
        let mut w = csv::Writer::from_path(&tmp).map_err(|e| RunError::output(&tmp, e))?;
        if rows.is_empty() {
            // csv writes the header with the first row: write it now, so
            // that the appending writer (headerless) starts below it.
            w.write_record(<SweepRow as CsvRow>::COLUMNS)
                .map_err(|e| RunError::output(&tmp, e))?;
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
    pub fn append(&mut self, row: &SweepRow) -> Result<(), RunError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{AuditVerdict, SCHEMA_VERSION};

    fn row(engine: &str, rate: Option<f64>) -> SweepRow {
        SweepRow {
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
            rep: 0,
            stopped_by: "Limit".into(),
            measured_ns: 1_000_000,
            ops_per_sec_low: Some(12000.0),
            ops_per_sec_high: Some(12700.1),
            p99_low_ns: Some(1900.0),
            p99_high_ns: Some(2100.0),
            cpu_ns_per_op: Some(812.5),
            oversubscribed: true,
            replicas: 1,
            replication: Some("async".into()),
            finished_at_unix_ms: 1,
            schema: SCHEMA_VERSION,
        }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sweep-row-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rows_appended_read_back_through_the_schema_as_written() {
        let d = temp("schema");
        let (mut f, rows, _) = SweepCsv::open(&d).unwrap();
        assert!(rows.is_empty());
        let written = [row("actor", None), row("sharded", Some(50_000.0))];
        for r in &written {
            f.append(r).unwrap();
        }
        let read: Vec<SweepRow> = schema::read_csv(&d.join(SWEEP_CSV)).unwrap();
        assert_eq!(read, written);
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
        assert_ne!(CellKey::of(&rows[0]), CellKey::of(&rows[1]));
        // The file was rewritten without the broken line.
        let (_, again, dropped) = SweepCsv::open(&d).unwrap();
        assert_eq!((again.len(), dropped), (2, 0));
    }

    #[test]
    fn a_version_2_file_without_the_added_columns_resumes_and_gains_them() {
        let d = temp("added");
        let path = d.join(SWEEP_CSV);
        let earlier: Vec<&str> = SweepRow::COLUMNS
            .iter()
            .copied()
            .filter(|c| !SweepRow::ADDED.contains(c))
            .collect();
        let values = "actor,2,1,2,1000,,12345.5,1000,2000,3000,4000,3,pass,0.25,20000,1,false,0,Limit,1000000,1,2";
        std::fs::write(&path, format!("{}\n{values}\n", earlier.join(","))).unwrap();
        let (_, rows, dropped) = SweepCsv::open(&d).unwrap();
        assert_eq!(dropped, 0);
        let mut expected = row("actor", None);
        (expected.ops_per_sec_low, expected.ops_per_sec_high) = (None, None);
        (expected.p99_low_ns, expected.p99_high_ns) = (None, None);
        (expected.cpu_ns_per_op, expected.oversubscribed) = (None, false);
        (expected.replicas, expected.replication) = (0, None);
        assert_eq!(rows, [expected]);
        let header = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            header.lines().next(),
            Some(SweepRow::COLUMNS.join(",").as_str())
        );
    }

    #[test]
    fn a_csv_with_other_columns_is_refused() {
        let d = temp("other");
        std::fs::write(d.join(SWEEP_CSV), "a,b\n1,2\n").unwrap();
        let e = SweepCsv::open(&d).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
    }
}
