//! `latency.hlog`: an HdrHistogram interval log (V2 deflate encoding, the
//! format of HdrHistogram's `HistogramLogProcessor` and of wrk2), one
//! histogram per op kind per interval, tagged `intended.<kind>` or
//! `service.<kind>` (`<kind>` = `invalid` for the deliberately invalid
//! requests of any kind). Timestamps are seconds from the end of the warmup;
//! `#[StartTime]` gives that instant in seconds since the epoch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::{IntervalReport, Report};
use crate::config::RunError;
use crate::recorder::{ROWS, row_name};
use crate::summary::RunSummary;

/// Tag names per row (op kinds, then `invalid`), built once so writing needs no formatting.
fn tags() -> Vec<(String, String)> {
    (0..ROWS)
        .map(|k| {
            (
                format!("intended.{}", row_name(k)),
                format!("service.{}", row_name(k)),
            )
        })
        .collect()
}

/// Streams `latency.hlog`.
pub struct Hlog {
    path: PathBuf,
    pub(crate) file: BufWriter<File>,
    ser: V2DeflateSerializer,
    started: bool,
    tags: Vec<(String, String)>,
}

impl std::fmt::Debug for Hlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hlog({})", self.path.display())
    }
}

impl Hlog {
    /// Creates `dir/latency.hlog`.
    pub fn create(dir: &Path) -> Result<Hlog, RunError> {
        let path = dir.join("latency.hlog");
        let f = File::create(&path).map_err(|e| RunError::output(&path, e))?;
        Ok(Hlog {
            path,
            file: BufWriter::new(f),
            ser: V2DeflateSerializer::new(),
            started: false,
            tags: tags(),
        })
    }
}

impl Report for Hlog {
    fn interval(&mut self, iv: &IntervalReport<'_>) -> Result<(), RunError> {
        if iv.warmup {
            return Ok(());
        }
        let path = &self.path;
        let err = |e: &dyn std::fmt::Debug| RunError::output(path, format!("{e:?}"));
        let mut builder = IntervalLogWriterBuilder::new();
        if !self.started {
            self.started = true;
            // The wall time captured when the run started (plus the warmup),
            // not "now" minus the interval: the collector emits late.
            let start = iv.warm_end_wall;
            builder
                .add_comment("socialbench latency log: values in nanoseconds")
                .add_comment("tags: intended.<op kind> = from the intended start (coordinated-omission corrected in the open loop; equal to the send in the closed loop); service.<op kind> = from the actual send; <op kind> = invalid: deliberately invalid requests of any kind")
                .with_start_time(start);
        }
        let mut w = builder
            .begin_log_with(&mut self.file, &mut self.ser)
            .map_err(|e| err(&e))?;
        let start = Duration::from_nanos(iv.start_ns);
        let dur = Duration::from_nanos(iv.duration_ns);
        for k in 0..ROWS {
            let (ti, ts) = &self.tags[k];
            for (h, tag) in [(&iv.data.intended[k], ti), (&iv.data.service[k], ts)] {
                if let Some(h) = h.as_ref().filter(|h| !h.is_empty()) {
                    w.write_histogram(h, start, dur, Tag::new(tag))
                        .map_err(|e| err(&e))?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> Result<(), RunError> {
        self.file
            .flush()
            .map_err(|e| RunError::output(&self.path, e))
    }
}
