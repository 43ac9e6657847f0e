//! The default action: a quick comparison of every engine on one scenario,
//! one table, results in `<root>/<id>/<engine>/` plus `comparison.csv`.

use std::path::PathBuf;

use socialbench_engines::EngineKind;

use crate::config::{RunConfig, RunError};
use crate::run::{link_latest, new_run_id};
use crate::schema::compare::ComparisonRow;
use crate::schema::{COMPARISON_CSV, SCHEMA_VERSION};
use crate::summary::RunSummary;
use crate::units::{human_ns, human_rate};

/// The `comparison.csv` row of one run.
pub fn comparison_row(s: &RunSummary) -> ComparisonRow {
    let all = s.all().map(|k| k.intended).unwrap_or_default();
    ComparisonRow {
        engine: s.engine.clone(),
        client_threads: s.client_threads as u32,
        engine_threads: s.engine_threads as u32,
        partitions: s.partitions as u32,
        ops: s.ops,
        errors: s.errors,
        ops_per_sec: (s.ops_per_sec * 10.0).round() / 10.0,
        p50_ns: all.p50_ns,
        p99_ns: all.p99_ns,
        p999_ns: all.p999_ns,
        max_ns: all.max_ns,
        audit: s.audit.verdict,
        schema: SCHEMA_VERSION,
    }
}

/// The comparison's results.
#[derive(Debug)]
pub struct Comparison {
    /// One summary per engine, in [`EngineKind::ALL`] order.
    pub runs: Vec<RunSummary>,
    /// The comparison's folder.
    pub out_dir: Option<PathBuf>,
}

/// Runs `base` once per engine in `engines` (engine, threads and partitions
/// reset to each engine's defaults), writes `comparison.csv`, prints one table.
pub fn compare(base: &RunConfig, engines: &[EngineKind]) -> Result<Comparison, RunError> {
    let id = base.run_id.clone().unwrap_or_else(|| new_run_id("compare"));
    let root = base.out_root.as_ref().map(|r| r.join(&id));
    if let Some(r) = &root {
        std::fs::create_dir_all(r).map_err(|e| {
            RunError::BadInput(format!(
                "output folder {} is not writable: {e}",
                r.display()
            ))
        })?;
    }
    let workload = crate::run::build_workload(base)?;
    let mut runs = Vec::new();
    for &engine in engines {
        if base.stop.is_stopped() {
            break;
        }
        let mut c = base.clone();
        c.engine = engine;
        c.threads = None;
        c.partitions = None;
        c.out_root = root.clone();
        c.run_id = Some(engine.name().into());
        c.link_latest = false;
        c.print_table = false;
        runs.push(crate::run::run_with_workload(&c, &workload)?);
    }
    if let Some(r) = &root {
        let path = r.join(COMPARISON_CSV);
        let mut w = ::csv::Writer::from_path(&path).map_err(|e| RunError::output(&path, e))?;
        for s in &runs {
            w.serialize(comparison_row(s))
                .map_err(|e| RunError::output(&path, e))?;
        }
        w.flush().map_err(|e| RunError::output(&path, e))?;
        if let Some(base_root) = &base.out_root {
            link_latest(base_root, r);
        }
    }
    if base.print_table {
        print!("{}", render(&runs));
        if let Some(r) = &root {
            println!("results: {}", r.display());
        }
    }
    if let Some(r) = &root {
        crate::run::report_plots(crate::plot::plot_comparison(r), r, base.print_table);
    }
    Ok(Comparison {
        runs,
        out_dir: root,
    })
}

/// The comparison table.
pub fn render(runs: &[RunSummary]) -> String {
    let mut o = format!(
        "{:<9}{:>8}{:>8}{:>11}{:>10}{:>10}{:>10}{:>10}  {}\n",
        "engine", "clients", "engine", "ops/s", "p50", "p99", "p99.9", "max", "audit"
    );
    for s in runs {
        let r = comparison_row(s);
        o.push_str(&format!(
            "{:<9}{:>8}{:>8}{:>11}{:>10}{:>10}{:>10}{:>10}  {}\n",
            r.engine,
            r.client_threads,
            r.engine_threads,
            human_rate(r.ops_per_sec),
            human_ns(r.p50_ns),
            human_ns(r.p99_ns),
            human_ns(r.p999_ns),
            human_ns(r.max_ns),
            r.audit
        ));
    }
    o
}
