//! The plot module: figures from fixture CSVs (tests/fixtures, see
//! make_fixtures.py there; version-1 files, so they also go through the
//! schema's upgrade) are written as well-formed SVG with their titles, tick
//! labels, legends and notes as `<text>`, and as PNG with text actually drawn
//! by the bundled font; bad input is a typed error naming the file.

use std::fs;
use std::path::{Path, PathBuf};

use socialbench_harness::plot::{self, FolderKind, PlotError, register_bundled_font};
use socialbench_harness::schema::cells::medians;
use socialbench_harness::schema::compare::ComparisonRow;
use socialbench_harness::schema::{self, AuditVerdict, SchemaError, sweep::SweepRow};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plot")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies fixture folder `from` (recursively) into a fresh scratch folder.
fn copy_fixture(from: &str, test: &str) -> PathBuf {
    fn copy(src: &Path, dst: &Path) {
        fs::create_dir_all(dst).unwrap();
        for e in fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            let to = dst.join(e.file_name());
            if e.path().is_dir() {
                copy(&e.path(), &to);
            } else {
                fs::copy(e.path(), to).unwrap();
            }
        }
    }
    let dir = scratch(test);
    copy(&fixtures().join(from), &dir);
    dir
}

fn names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Parses an SVG; returns (width, height, every <text> content).
fn svg(path: &Path) -> (u32, u32, Vec<String>) {
    let text = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let dim = |a| root.attribute(a).and_then(|v| v.parse().ok()).unwrap();
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    (dim("width"), dim("height"), texts)
}

/// A decoded PNG, as RGB.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn load(path: &Path) -> Image {
        let decoder = png::Decoder::new(fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let step = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected colour type {other:?}"),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    /// Near-black pixels (text, axes) in rows `y0..y1`, columns `x0..x1`.
    fn dark(&self, x0: u32, x1: u32, y0: u32, y1: u32) -> usize {
        (y0..y1.min(self.height))
            .flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let [r, g, b] = self.rgb[(y * self.width + x) as usize];
                r < 100 && g < 100 && b < 100
            })
            .count()
    }
}

/// Checks a figure pair: the SVG parses and holds `titles` as <text>; the PNG
/// has the SVG's size (at least 1000 x 650) and text in its caption band and
/// in its left margin (the rotated y axis title), which only text reaches.
fn check_figure(dir: &Path, stem: &str, titles: &[&str]) {
    let (w, h, texts) = svg(&dir.join(format!("{stem}.svg")));
    for t in titles {
        assert!(
            texts.iter().any(|x| x.contains(t)),
            "{stem}.svg has no text {t:?}; texts: {texts:?}"
        );
    }
    assert!(
        w >= 1000 && h >= 650,
        "{stem}: {w}x{h} is too small to read"
    );
    let png = Image::load(&dir.join(format!("{stem}.png")));
    assert_eq!((png.width, png.height), (w, h), "{stem}.png size");
    // The caption band (top 44 px) holds only the caption text.
    let caption = png.dark(0, w, 0, 40);
    assert!(
        caption > 200,
        "{stem}.png: caption band has {caption} dark pixels"
    );
    // The leftmost 30 px hold only the rotated y axis title.
    let y_title = png.dark(0, 30, 60, h);
    assert!(
        y_title > 100,
        "{stem}.png: y title band has {y_title} dark pixels"
    );
}

#[test]
fn run_folder_gets_every_figure_as_svg_and_png() {
    let dir = copy_fixture("run", "run");
    let files = plot::plot_run(&dir).unwrap();
    assert_eq!(
        names(&files),
        [
            "throughput.svg",
            "throughput.png",
            "latency_over_time.svg",
            "latency_over_time.png",
            "state_size.svg",
            "state_size.png",
            "latency_percentiles.svg",
            "latency_percentiles.png",
        ]
    );
    for f in &files {
        assert!(f.starts_with(&dir) && f.is_file(), "{}", f.display());
    }
    check_figure(
        &dir,
        "throughput",
        &[
            "time since warmup (s)",
            "throughput (ops/s)",
            "get_home_feed",
            "errors/s",
        ],
    );
    check_figure(
        &dir,
        "latency_over_time",
        &["latency (log scale)", "p99 intended", "p99 service", "1ms"],
    );
    check_figure(
        &dir,
        "state_size",
        &["size (MiB)", "engine total", "process RSS", "votes"],
    );
    check_figure(
        &dir,
        "latency_percentiles",
        &[
            "percentile",
            "latency (log scale)",
            "99.99%",
            "max",
            "intended",
            "service",
            "vote",
        ],
    );
}

#[test]
fn sweep_folder_gets_scaling_efficiency_and_latency_curves() {
    let dir = copy_fixture("sweep", "sweep");
    let files = plot::plot_sweep(&dir).unwrap();
    assert_eq!(
        names(&files),
        [
            "scaling.svg",
            "scaling.png",
            "efficiency.svg",
            "efficiency.png",
            "latency_vs_throughput.svg",
            "latency_vs_throughput.png",
        ]
    );
    check_figure(
        &dir,
        "scaling",
        &[
            "client threads",
            "throughput (ops/s)",
            "serial baseline C1 = 95k ops/s",
            "audit failed",
            "harness ceiling (null engine, not drawn):",
            "1 client: 6.2M ops/s",
            "2 clients: 5.5M ops/s",
        ],
    );
    // One line per (engine, partitions): two shard and two stripe settings
    // are four legend entries; unpartitioned engines carry no p=.
    let (_, _, texts) = svg(&dir.join("scaling.svg"));
    let legend = |t: &[String]| -> Vec<String> {
        t.iter()
            .map(|x| x.trim().to_string())
            .filter(|x| is_series_name(x))
            .collect()
    };
    assert_eq!(
        legend(&texts),
        [
            "serial",
            "actor",
            "sharded p=1",
            "sharded p=2",
            "striped p=1",
            "striped p=2"
        ]
    );
    // The null engine's 6M ops/s is off the axis: no tick reaches millions.
    assert!(
        !texts.iter().any(|t| t.trim().ends_with('M')),
        "a tick in millions: {texts:?}"
    );
    check_figure(
        &dir,
        "efficiency",
        &[
            "client threads",
            "efficiency 1",
            "1 client: efficiency 65.3",
        ],
    );
    let (_, _, texts) = svg(&dir.join("efficiency.svg"));
    assert_eq!(legend(&texts).len(), 6, "{texts:?}");
    check_figure(
        &dir,
        "latency_vs_throughput",
        &[
            "achieved throughput (ops/s)",
            "p99 latency (log scale)",
            "open loop",
            "saturated (fell behind offered rate)",
            "saturated, nothing measured:",
            "striped p=1, 1 client at 200k/s",
        ],
    );
    // One line per (engine, partitions, client threads).
    let (_, _, texts) = svg(&dir.join("latency_vs_throughput.svg"));
    assert_eq!(
        legend(&texts),
        [
            "sharded p=2, 2 clients",
            "actor, 2 clients",
            "striped p=1, 1 client",
            "striped p=2, 1 client",
            "striped p=1, 2 clients",
        ]
    );
    // The saturated cell that measured nothing is explained, not counted
    // as a value that could not be shown.
    assert!(!texts.iter().any(|t| t.contains("not shown")), "{texts:?}");
}

#[test]
fn sweep_csv_without_partitions_and_saturated_columns_still_plots() {
    // The table as written before the two columns existed: the first 15.
    let dir = scratch("sweep-15-columns");
    let mut r = csv::Reader::from_path(fixtures().join("sweep/sweep.csv")).unwrap();
    let mut w = csv::Writer::from_path(dir.join("sweep.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    w.write_record(header.iter().take(15)).unwrap();
    for rec in r.records() {
        w.write_record(rec.unwrap().iter().take(15)).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    // The schema's upgrade gives sharded cells their shards from their
    // engine threads, every other engine one partition.
    let rows: Vec<SweepRow> = schema::read_csv(&dir.join("sweep.csv")).unwrap();
    assert_eq!(rows.len(), 27);
    assert!(rows.iter().all(|r| !r.saturated));
    assert_eq!(plot::plot_sweep(&dir).unwrap().len(), 6);
    // Without the column, sharded's lines are still told apart.
    let (_, _, texts) = svg(&dir.join("scaling.svg"));
    for name in ["sharded p=1", "sharded p=2"] {
        assert!(texts.iter().any(|t| t.trim() == name), "{name}: {texts:?}");
    }
}

/// Whether `text` is shaped like a sweep series name: an engine, then
/// optionally ` p=N`, then optionally `, N client(s)` (not a note or a C1 line).
fn is_series_name(text: &str) -> bool {
    let Some(rest) = ["serial", "null", "actor", "sharded", "striped"]
        .iter()
        .find_map(|e| text.strip_prefix(e))
    else {
        return false;
    };
    let digits = |s: &str| -> usize { s.chars().take_while(char::is_ascii_digit).count() };
    let rest = match rest.strip_prefix(" p=") {
        Some(r) if digits(r) > 0 => &r[digits(r)..],
        Some(_) => return false,
        None => rest,
    };
    let rest = match rest.strip_prefix(", ") {
        Some(r) if digits(r) > 0 => &r[digits(r)..],
        Some(_) => return false,
        None => rest,
    };
    matches!(rest, "" | " client" | " clients")
}

#[test]
fn plot_dir_tells_runs_sweeps_and_comparisons_apart() {
    let run = copy_fixture("run", "detect-run");
    let sweep = copy_fixture("sweep", "detect-sweep");
    let cmp = copy_fixture("comparison", "detect-comparison");
    let empty = scratch("detect-empty");
    assert_eq!(plot::classify(&run).unwrap(), Some(FolderKind::Run));
    assert_eq!(plot::classify(&sweep).unwrap(), Some(FolderKind::Sweep));
    assert_eq!(plot::classify(&cmp).unwrap(), Some(FolderKind::Comparison));
    assert_eq!(plot::classify(&empty).unwrap(), None);

    assert!(names(&plot::plot_dir(&run).unwrap()).contains(&"throughput.png".to_string()));
    assert!(names(&plot::plot_dir(&sweep).unwrap()).contains(&"scaling.svg".to_string()));
    let files = plot::plot_dir(&cmp).unwrap();
    // Each engine's run is drawn in its own folder, then the comparison.
    for engine in ["serial", "sharded"] {
        assert!(
            files.contains(&cmp.join(engine).join("throughput.svg")),
            "{engine}"
        );
    }
    assert_eq!(files.last(), Some(&cmp.join("comparison.png")));
    check_figure(
        &cmp,
        "comparison",
        &[
            "engine",
            "throughput (ops/s)",
            "latency (log scale)",
            "serial",
            "sharded",
            "p99.9",
        ],
    );
    match plot::plot_dir(&empty) {
        Err(PlotError::NotResults { path }) => assert_eq!(path, empty),
        other => panic!("expected NotResults, got {other:?}"),
    }
}

#[test]
fn missing_empty_and_malformed_csv_are_errors_naming_the_file() {
    let dir = copy_fixture("run", "bad-run");
    fs::remove_file(dir.join("summary.csv")).unwrap();
    match plot::plot_run(&dir) {
        Err(PlotError::Schema(SchemaError::Io { path, .. })) => {
            assert_eq!(path, dir.join("summary.csv"))
        }
        other => panic!("expected Io, got {other:?}"),
    }

    let dir = scratch("bad-sweep");
    let path = dir.join("sweep.csv");
    let header = "engine,client_threads,engine_threads,cores_used,users,rate,ops_per_sec,\
                  p50_ns,p99_ns,p999_ns,max_ns,errors,audit,efficiency,c1_ops_per_sec\n";
    fs::write(&path, header).unwrap();
    assert!(matches!(
        plot::plot_sweep(&dir),
        Err(PlotError::Schema(SchemaError::Empty { path: p })) if p == path
    ));
    // No header at all: not a sweep table.
    fs::write(&path, "").unwrap();
    assert!(matches!(
        plot::plot_sweep(&dir),
        Err(PlotError::Schema(SchemaError::Columns { path: p, .. })) if p == path
    ));

    // An unparsable number: the error names the file and the offending field.
    fs::write(
        &path,
        format!("{header}actor,2,2,4,100,,fast,1,2,3,4,0,pass,,\n"),
    )
    .unwrap();
    let err = plot::plot_sweep(&dir).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, PlotError::Schema(SchemaError::Csv { .. })),
        "{err:?}"
    );
    assert!(
        msg.contains("sweep.csv") && msg.contains("ops_per_sec"),
        "{msg}"
    );

    // Missing columns: named in the message.
    fs::write(&path, "engine,client_threads\nactor,2\n").unwrap();
    let msg = plot::plot_sweep(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("sweep.csv") && msg.contains("engine,client_threads"),
        "{msg}"
    );

    // A bad audit verdict and a ragged row.
    for bad in [
        format!("{header}actor,2,2,4,100,,5,1,2,3,4,0,maybe,,\n"),
        format!("{header}actor,2,2\n"),
    ] {
        fs::write(&path, bad).unwrap();
        let err = plot::plot_sweep(&dir).unwrap_err();
        assert!(
            matches!(err, PlotError::Schema(SchemaError::Csv { .. })),
            "{err:?}"
        );
    }

    // A timeseries row with text where a number belongs.
    let dir = copy_fixture("run", "bad-timeseries");
    let ts = dir.join("timeseries.csv");
    let mut text = fs::read_to_string(&ts).unwrap();
    text.push_str("9,8000000000,1000000000,op,all,ops_per_sec,lots\n");
    fs::write(&ts, text).unwrap();
    let msg = plot::plot_run(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("timeseries.csv") && msg.contains("value"),
        "{msg}"
    );
}

#[test]
fn degenerate_data_still_plots_one_point_zeros_and_nan() {
    let dir = scratch("degenerate-sweep");
    // One closed-loop cell with zero latencies (nothing to show on a log axis)
    // and a NaN throughput cell, no C1: every figure is still drawn.
    let row = |threads: u32, ops: f64, p99: f64| SweepRow {
        p50_ns: 0.0,
        p99_ns: p99,
        p999_ns: 0.0,
        max_ns: 0.0,
        cores_used: 2,
        ..sweep_row("actor", threads, ops)
    };
    let mut w = csv::Writer::from_path(dir.join("sweep.csv")).unwrap();
    w.serialize(row(1, 1000.0, 0.0)).unwrap();
    w.serialize(row(2, f64::NAN, 0.0)).unwrap();
    w.flush().unwrap();
    drop(w);
    let files = plot::plot_sweep(&dir).unwrap();
    assert_eq!(files.len(), 6);
    let (_, _, texts) = svg(&dir.join("latency_vs_throughput.svg"));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("2 zero, negative or NaN values not shown")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.trim() == "no data"), "{texts:?}");
    let (_, _, texts) = svg(&dir.join("scaling.svg"));
    assert!(
        texts.iter().any(|t| t.contains("1 NaN values not shown")),
        "{texts:?}"
    );

    // A run of one interval, one kind, zero latencies beside real ones.
    let dir = scratch("degenerate-run");
    fs::write(
        dir.join("timeseries.csv"),
        "interval,start_ns,duration_ns,source,name,metric,value\n\
         1,0,1000000000,op,all,ops_per_sec,0\n",
    )
    .unwrap();
    fs::write(
        dir.join("summary.csv"),
        "kind,count,errors,ops_per_sec,intended_p50_ns,intended_p90_ns,intended_p99_ns,\
         intended_p999_ns,intended_p9999_ns,intended_max_ns,service_p50_ns,service_p90_ns,\
         service_p99_ns,service_p999_ns,service_p9999_ns,service_max_ns\n\
         all,1,0,1,500,500,500,500,500,500,0,0,0,0,0,0\n",
    )
    .unwrap();
    assert_eq!(plot::plot_run(&dir).unwrap().len(), 8);
    check_figure(&dir, "latency_percentiles", &["all (1 ops)", "500ns"]);
}

#[test]
fn sweep_rows_upgrade_and_plot_their_efficiency_against_c1_as_the_table_does() {
    let dir = copy_fixture("sweep", "roundtrip");
    let rows: Vec<SweepRow> = schema::read_csv(&dir.join("sweep.csv")).unwrap();
    assert_eq!(rows.len(), 27);
    assert!(rows.iter().all(|r| r.schema == schema::SCHEMA_VERSION));
    assert!(rows.iter().any(|r| r.audit == AuditVerdict::Fail));
    assert_eq!(rows.iter().filter(|r| r.open_loop()).count(), 12);
    assert_eq!(rows.iter().filter(|r| r.partitions == 2).count(), 10);
    assert_eq!(rows.iter().filter(|r| r.saturated).count(), 3);

    // The figures draw `medians`: efficiency against C1 where the column is
    // empty (142000 / (2 cores x 95000)), and recomputed where it is not.
    let cells = medians(&rows);
    let closed = |engine: &str, threads: u32| {
        cells
            .iter()
            .find(|r| r.engine == engine && r.client_threads == threads && !r.open_loop())
            .unwrap()
    };
    assert_eq!(closed("striped", 2).efficiency, Some(0.7474));
    assert_eq!(closed("actor", 4).efficiency, Some(0.4232));

    // What the sweep runner writes with serde is what the plots read.
    let out = scratch("roundtrip-out");
    let mut w = csv::Writer::from_path(out.join("sweep.csv")).unwrap();
    for r in &rows {
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let again: Vec<SweepRow> = schema::read_csv(&out.join("sweep.csv")).unwrap();
    assert_eq!(again, rows);
}

/// `fill` colours of the SVG's `<rect>`s (bars; the background is white).
fn rect_fills(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| n.attribute("fill").map(str::to_string))
        .filter(|f| f != "#FFFFFF")
        .collect()
}

#[test]
fn comparison_names_the_null_ceiling_instead_of_a_bar_and_skips_missing_percentiles() {
    // Version 1 comparison files may lack p999_ns: that series is left out.
    let dir = scratch("comparison-null");
    let header = "engine,ops_per_sec,p50_ns,p99_ns,audit\n";
    let csv = dir.join("comparison.csv");
    fs::write(
        &csv,
        format!("{header}null,2e7,200,900,n/a\nserial,3e5,4500,27000,passed\nactor,3.1e5,5000,30000,failed\n"),
    )
    .unwrap();
    let files = plot::plot_comparison(&dir).unwrap();
    assert_eq!(files.len(), 2);
    let (_, _, texts) = svg(&dir.join("comparison.svg"));
    let has = |t: &str| texts.iter().any(|x| x.trim() == t);
    assert!(
        has("throughput (null, not drawn: 20.0M ops/s)"),
        "{texts:?}"
    );
    assert!(has("p50") && has("p99") && !has("p99.9"), "{texts:?}");
    assert!(has("audit failed"), "{texts:?}");
    // Only the stateful engines get bars, in one colour.
    assert_eq!(rect_fills(&dir.join("comparison.svg")).len(), 2);

    // The null engine alone is drawn.
    fs::write(&csv, format!("{header}null,2e7,200,900,n/a\n")).unwrap();
    plot::plot_comparison(&dir).unwrap();
    let (_, _, texts) = svg(&dir.join("comparison.svg"));
    assert!(texts.iter().any(|x| x.trim() == "throughput"), "{texts:?}");
    assert_eq!(rect_fills(&dir.join("comparison.svg")).len(), 1);
}

#[test]
fn repetitions_plot_as_their_median_against_the_median_c1() {
    // Three passes of serial, actor and null, closed loop: each pass's rows
    // carry their own pass's C1 and efficiency, as the sweep writes them.
    let dir = scratch("sweep-reps");
    let mut w = csv::Writer::from_path(dir.join("sweep.csv")).unwrap();
    let passes = [
        (150.0, 100.0, 600.0),
        (100.0, 300.0, 900.0),
        (200.0, 320.0, 1000.0),
    ];
    for (rep, (c1, actor, null)) in passes.into_iter().enumerate() {
        for (engine, cores, ops) in [("serial", 1, c1), ("actor", 2, actor), ("null", 2, null)] {
            let mut r = sweep_row(engine, 1, ops);
            (r.cores_used, r.rep, r.c1_ops_per_sec) = (cores, rep as u32, Some(c1));
            r.efficiency = Some(ops / (cores as f64 * c1));
            w.serialize(r).unwrap();
        }
    }
    w.flush().unwrap();
    drop(w);
    plot::plot_sweep(&dir).unwrap();
    let (_, _, texts) = svg(&dir.join("scaling.svg"));
    let has = |texts: &[String], t: &str| texts.iter().any(|x| x.trim() == t);
    assert!(has(&texts, "serial baseline C1 = 150 ops/s"), "{texts:?}");
    assert!(
        has(&texts, "1 client: 900 ops/s"),
        "the median null: {texts:?}"
    );
    // null's median 900 against the median C1 150 on 2 cores, not its own
    // pass's 100: 900 / (2 x 150) = 3.
    let (_, _, texts) = svg(&dir.join("efficiency.svg"));
    assert!(has(&texts, "1 client: efficiency 3.0"), "{texts:?}");

    // A sweep of the null engine alone draws it, without notes.
    let dir = scratch("sweep-null-alone");
    let mut w = csv::Writer::from_path(dir.join("sweep.csv")).unwrap();
    w.serialize(sweep_row("null", 1, 6e6)).unwrap();
    w.flush().unwrap();
    drop(w);
    plot::plot_sweep(&dir).unwrap();
    let (_, _, texts) = svg(&dir.join("scaling.svg"));
    assert!(has(&texts, "null"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("not drawn")), "{texts:?}");
}

/// How many `tag` elements of the SVG are filled white (hollow marks; the
/// background is one white `rect`).
fn white(path: &Path, tag: &str) -> usize {
    let text = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(tag) && n.attribute("fill") == Some("#FFFFFF"))
        .count()
}

#[test]
fn oversubscribed_cells_and_engines_are_drawn_hollow_and_said_so() {
    let dir = scratch("sweep-oversubscribed");
    let mut w = csv::Writer::from_path(dir.join("sweep.csv")).unwrap();
    for (threads, ops, shared) in [(1, 100.0, false), (2, 150.0, true), (4, 120.0, true)] {
        let mut r = sweep_row("actor", threads, ops);
        (r.oversubscribed, r.efficiency) = (shared, Some(0.5));
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    plot::plot_sweep(&dir).unwrap();
    for stem in ["scaling", "efficiency", "latency_vs_throughput"] {
        let path = dir.join(format!("{stem}.svg"));
        let (_, _, texts) = svg(&path);
        let legend = "hollow: oversubscribed (more threads than cores)";
        assert!(
            texts.iter().any(|t| t.trim() == legend),
            "{stem}: {texts:?}"
        );
        assert_eq!(
            white(&path, "circle"),
            2,
            "{stem}: a hollow mark per shared cell"
        );
    }

    let dir = copy_fixture("comparison", "comparison-oversubscribed");
    let csv = dir.join("comparison.csv");
    let mut rows: Vec<ComparisonRow> = schema::read_csv(&csv).unwrap();
    rows.iter_mut()
        .for_each(|r| r.oversubscribed = r.engine == "sharded");
    let mut w = csv::Writer::from_path(&csv).unwrap();
    rows.iter().for_each(|r| w.serialize(r).unwrap());
    w.flush().unwrap();
    drop(w);
    plot::plot_comparison(&dir).unwrap();
    let path = dir.join("comparison.svg");
    let (_, _, texts) = svg(&path);
    let caption = "Engine comparison (hollow: oversubscribed, more threads than cores)";
    assert!(texts.iter().any(|t| t.trim() == caption), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.trim() == "oversubscribed"),
        "{texts:?}"
    );
    // The background, then sharded's bar hollowed out; its latencies hollow.
    assert_eq!(white(&path, "rect"), 2);
    assert_eq!(white(&path, "circle"), 3);
}

/// A closed-loop sweep row of the current schema.
fn sweep_row(engine: &str, threads: u32, ops: f64) -> SweepRow {
    SweepRow {
        engine: engine.into(),
        client_threads: threads,
        engine_threads: 1,
        cores_used: threads + 1,
        users: 10,
        rate: None,
        ops_per_sec: ops,
        p50_ns: 1e3,
        p99_ns: 1e4,
        p999_ns: 1e5,
        max_ns: 1e6,
        errors: 0,
        audit: AuditVerdict::Pass,
        efficiency: None,
        c1_ops_per_sec: None,
        partitions: 1,
        saturated: false,
        rep: 0,
        stopped_by: "Limit".into(),
        measured_ns: 1_000_000_000,
        ops_per_sec_low: None,
        ops_per_sec_high: None,
        p99_low_ns: None,
        p99_high_ns: None,
        cpu_ns_per_op: None,
        oversubscribed: false,
        replicas: 0,
        replication: None,
        finished_at_unix_ms: 0,
        schema: schema::SCHEMA_VERSION,
    }
}

#[test]
fn bundled_font_registers() {
    assert!(register_bundled_font());
    assert!(
        register_bundled_font(),
        "a second call is a no-op that still reports success"
    );
}
