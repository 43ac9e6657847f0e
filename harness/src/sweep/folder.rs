//! A sweep's folder: its settings (what every row depends on besides its
//! coordinates), the check that a resumed folder holds this sweep, and
//! `sweep.json` with the conclusions.

use std::path::Path;

use super::{SweepSpec, report};
use crate::config::{Limit, LoopMode, RunError};
use crate::machine::MachineInfo;
use crate::schema::cells::{c1_by_users, medians};
use crate::schema::sweep::{Baseline, Matrix, SweepDocument, SweepRow, SweepSettings};
use crate::schema::{SCHEMA_VERSION, SWEEP_JSON};

/// The settings of `spec` on `machine` (see the module docs, "Resume").
pub(crate) fn settings_of(
    spec: &SweepSpec,
    machine: &MachineInfo,
) -> Result<SweepSettings, RunError> {
    let c = &spec.base;
    let scenario = socialbench_workload::Scenario::from_arg(&c.workload)?;
    let mut scenario =
        serde_json::to_value(&scenario).map_err(|e| RunError::BadInput(e.to_string()))?;
    if let Some(m) = scenario.as_object_mut() {
        m.remove("users");
    }
    let duration_ns = match c.limit {
        Limit::Duration(d) => d.as_nanos() as u64,
        Limit::Ops(_) => {
            return Err(RunError::BadInput(
                "a sweep's cells are limited by --duration, not --ops".into(),
            ));
        }
    };
    let inflight = match c.mode {
        LoopMode::Closed { inflight } => inflight,
        LoopMode::Open { .. } => {
            return Err(RunError::BadInput(
                "a sweep's base mode is closed loop; rates come from --rates".into(),
            ));
        }
    };
    let settings = SweepSettings {
        workload: c.workload.clone(),
        scenario,
        seed: c.seed,
        warmup_ns: c.warmup.as_nanos() as u64,
        duration_ns,
        interval_ns: c.interval().as_nanos() as u64,
        inflight,
        max_outstanding: spec.max_outstanding,
        mailbox: c.mailbox,
        channel: format!("{:?}", c.channel).to_lowercase(),
        cpu_model: machine.cpu_model.clone(),
        machine_cores: machine.usable_cores.len().max(1),
        release_build: machine.release_build,
        git_commit: machine.git_commit.clone(),
        rustc: machine.rustc.clone(),
    };
    // Round-trip through JSON text so the comparison with a stored spec
    // sees floats exactly as they will be read back.
    let text = serde_json::to_string(&settings).map_err(|e| RunError::BadInput(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| RunError::BadInput(e.to_string()))
}

/// The matrix of `spec`, as `sweep.json` records it.
pub(crate) fn matrix_of(spec: &SweepSpec) -> Matrix {
    Matrix {
        engines: spec.engines.iter().map(|e| e.name().to_string()).collect(),
        threads: spec.threads.clone(),
        shards: spec.shards.clone(),
        stripes: spec.stripes.clone(),
        users: spec.users.clone(),
        rates: spec.rates.iter().map(ToString::to_string).collect(),
        repeat: spec.repeat,
    }
}

/// `sweep.json` for `all` rows: the conclusions come from the median
/// repetition of each cell.
pub(crate) fn document(
    settings: &SweepSettings,
    matrix: &Matrix,
    machine: &MachineInfo,
    all: &[SweepRow],
    complete: bool,
) -> SweepDocument {
    let rows = &medians(all)[..];
    SweepDocument {
        schema: SCHEMA_VERSION,
        settings: settings.clone(),
        matrix: matrix.clone(),
        cells: all.len(),
        complete,
        c1: c1_by_users(rows)
            .into_iter()
            .map(|(users, ops)| Baseline {
                users,
                client_threads: 1,
                ops_per_sec: ops,
            })
            .collect(),
        null_ceiling: rows
            .iter()
            .filter(|r| r.engine == "null" && r.rate.is_none())
            .map(|r| Baseline {
                users: r.users,
                client_threads: r.client_threads,
                ops_per_sec: r.ops_per_sec,
            })
            .collect(),
        cost: report::costs(rows),
        verdicts: report::verdicts(all),
        machine: serde_json::to_value(machine).unwrap_or_default(),
    }
}

/// Creates the folder, or checks that an existing one is this sweep's
/// ([`check_folder`]).
pub(crate) fn prepare_folder(dir: &Path, settings: &SweepSettings) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::NotWritable {
        path: dir.to_path_buf(),
        source,
    })?;
    check_folder(dir, settings)
}

/// Checks, creating nothing, that `dir` can hold this sweep: a folder that
/// could be created, an empty one, or one holding a `sweep.json` with the
/// same settings.
pub(crate) fn check_folder(dir: &Path, settings: &SweepSettings) -> Result<(), RunError> {
    if !dir.exists() {
        return crate::run::check_writable(dir);
    }
    let not_writable = |source| RunError::NotWritable {
        path: dir.to_path_buf(),
        source,
    };
    let json = dir.join(SWEEP_JSON);
    if json.is_file() {
        let doc: SweepDocument =
            crate::schema::read_json(&json).map_err(|e| RunError::Unreadable {
                path: json.clone(),
                hint: " (not a sweep spec this version reads)",
                source: e.into(),
            })?;
        let diff = settings.differences(&doc.settings);
        if !diff.is_empty() {
            return Err(RunError::BadInput(format!(
                "{} holds a sweep with another spec ({}); resume needs the same spec, or use another --out",
                dir.display(),
                diff.join("; ")
            )));
        }
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir).map_err(not_writable)?;
    if entries.next().is_some() {
        return Err(RunError::BadInput(format!(
            "{} is not empty and holds no {SWEEP_JSON}: not a sweep folder to resume; use another --out",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes `sweep.json` atomically (a temporary file renamed over it).
pub(crate) fn write_document(dir: &Path, doc: &SweepDocument) -> Result<(), RunError> {
    let path = dir.join(SWEEP_JSON);
    let tmp = dir.join(format!("{SWEEP_JSON}.tmp"));
    let text = serde_json::to_string_pretty(doc).map_err(|e| RunError::output(&path, e))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| RunError::output(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| RunError::output(&path, e))
}
