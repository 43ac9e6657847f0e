//! What a figure is (a caption over rows of panels; a panel is named lines
//! on two axes) and its drawing with plotters' own pieces: linear and
//! `log_scale()` coordinates with plotters' tick placement, tick labels from
//! `crate::units`, legends as series labels (`configure_series_labels`),
//! plotters' text layout, `ErrorBar` for intervals.
//!
//! The awkward cases are handled here, once: NaN and infinite values, and
//! values <= 0 on a log axis, are left out and counted in the panel title;
//! a flat or empty axis gets a range around its data; a panel with nothing
//! to show says "no data".

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use crate::units;

/// Font sizes (px) of the caption, panel and axis titles, tick labels and
/// legends, in the family [`super::register_bundled_font`] registers.
const CAPTION_PX: u32 = 24;
const TITLE_PX: u32 = 18;
const LABEL_PX: u32 = 15;
/// Height of the band the caption is drawn in, px.
const CAPTION_BAND: u32 = 44;
/// Where the maximum goes on a "nines" axis (after 99.99% at 4).
pub(crate) const MAX_NINES: f64 = 5.0;
/// Black, for totals, baselines and flags.
pub(crate) const INK: RGBColor = RGBColor(20, 20, 20);

/// Palette colour `i` (Tableau 10), cycling.
pub(crate) fn color(i: usize) -> RGBColor {
    const P: [u32; 10] = [
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22,
        0x17becf,
    ];
    let c = P[i % P.len()];
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

fn font(px: u32) -> TextStyle<'static> {
    ("sans-serif", px).into_font().color(&INK)
}

/// How a line's points are drawn: `Solid`, `Dashed`, `Dotted` join them in
/// the order given; `Points` (dots), `Crosses` (a flag, e.g. a failed audit)
/// and `Rings` (around a line's own dot, e.g. a saturated cell) mark each;
/// `Bars` rise from the bottom of the axis, centred on x (categories);
/// `Across` is a dashed reference line across the chart at each point's y.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Solid,
    Dashed,
    Dotted,
    Points,
    Crosses,
    Rings,
    Bars,
    Across,
}

/// The look of a line: colour, stroke width (px), mark, whether joined
/// points also get a dot (so a one-point line shows), and whether points and
/// bars are hollow (white inside their colour's outline).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Style {
    pub color: RGBColor,
    pub width: u32,
    pub mark: Mark,
    pub dots: bool,
    pub hollow: bool,
}

impl Style {
    /// Palette colour `i` drawn as `mark`, 2 px, without dots.
    pub(crate) fn new(i: usize, mark: Mark) -> Style {
        let (color, width, dots, hollow) = (color(i), 2, false, false);
        Style {
            color,
            width,
            mark,
            dots,
            hollow,
        }
    }

    /// The same, `width` px wide.
    pub(crate) fn width(self, width: u32) -> Style {
        Style { width, ..self }
    }

    /// The same, in `color`.
    pub(crate) fn color(self, color: RGBColor) -> Style {
        Style { color, ..self }
    }

    /// The same, with a dot on every point.
    pub(crate) fn dots(self) -> Style {
        Style { dots: true, ..self }
    }

    /// The same, hollow.
    pub(crate) fn hollow(self) -> Style {
        Style {
            hollow: true,
            ..self
        }
    }
}

/// A named set of (x, y) points; an empty name keeps it out of the legend.
/// `spread` and `xspread` hold intervals drawn as error bars in its colour,
/// as plotters' `ErrorBar` takes them: vertical (x, low, y, high) and
/// horizontal (y, low, x, high).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    pub spread: Vec<(f64, f64, f64, f64)>,
    pub xspread: Vec<(f64, f64, f64, f64)>,
}

impl Line {
    /// A line without error bars.
    pub(crate) fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Line {
        let (name, spread, xspread) = (name.into(), Vec::new(), Vec::new());
        Line {
            name,
            points,
            style,
            spread,
            xspread,
        }
    }
}

/// What an axis measures, which decides its scale, range, ticks and labels:
/// a plain `Number` from zero (`950`, `12.5k`, `3M`); an `Integer` count
/// from zero, such as client threads; a `Latency` in ns on a log scale, as
/// latencies span decades (`10us`, `1ms`); percentiles placed by [`nines`];
/// `Names` of categories at 0, 1, 2, ...
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ticks {
    Number,
    Integer,
    Latency,
    Nines,
    Names(Vec<String>),
}

/// One axis: its title and what it measures.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub desc: String,
    pub ticks: Ticks,
}

/// An axis titled `desc`.
pub(crate) fn axis(desc: impl Into<String>, ticks: Ticks) -> Axis {
    Axis {
        desc: desc.into(),
        ticks,
    }
}

impl Axis {
    fn log(&self) -> bool {
        self.ticks == Ticks::Latency
    }

    fn title(&self) -> String {
        let scale = if self.log() { " (log scale)" } else { "" };
        format!("{}{scale}", self.desc)
    }

    /// Whether `v` can be placed on this axis (beyond 1e100 is no
    /// measurement, and would overflow the range's headroom).
    fn shows(&self, v: f64) -> bool {
        v.abs() < 1e100 && (!self.log() || v > 0.0)
    }

    /// The range that holds `values` (all of which [`Axis::shows`]).
    fn range(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (inf, neg) = (f64::INFINITY, f64::NEG_INFINITY);
        let (min, max) = values.fold((inf, neg), |(a, b), v| (a.min(v), b.max(v)));
        let empty = min > max;
        match &self.ticks {
            Ticks::Names(names) => (-0.5, names.len().max(1) as f64 - 0.5),
            Ticks::Nines => (0.0, MAX_NINES + 0.25),
            _ if self.log() && empty => (1e3, 1e6),
            _ if self.log() => {
                let lo = 10f64.powf(min.log10().floor());
                let hi = 10f64.powf(max.log10().ceil());
                (lo, if hi > lo { hi } else { lo * 10.0 })
            }
            ticks => {
                let (lo, hi) = if empty {
                    (0.0, 1.0)
                } else {
                    (min.min(0.0), max.max(0.0))
                };
                let hi = if hi > lo { hi } else { lo + 1.0 };
                if *ticks == Ticks::Integer {
                    return (lo, hi + 0.25);
                }
                // Air above the top, so a line at the maximum is not the
                // frame, up to a round number.
                let hi = hi + (hi - lo) * 0.04;
                let step = 10f64.powf(hi.abs().log10().floor() - 1.0);
                (lo, (hi / step - 1e-9).ceil() * step)
            }
        }
    }

    /// How many labelled ticks to ask plotters for where its default does
    /// not fit: one per category or nine, whole numbers for counts.
    fn label_count(&self, hi: f64) -> Option<usize> {
        match &self.ticks {
            Ticks::Names(names) => Some(names.len().max(1)),
            Ticks::Nines => Some(MAX_NINES as usize + 1),
            Ticks::Integer => Some((hi as usize).min(9) + 1),
            _ => None,
        }
    }

    /// The tick label of `v`.
    fn label(&self, v: f64) -> String {
        let whole = (v.fract() == 0.0 && v >= 0.0).then_some(v);
        match &self.ticks {
            Ticks::Number => units::compact(v),
            Ticks::Latency => units::compact_ns(v),
            Ticks::Integer => whole.map(|v| format!("{v:.0}")).unwrap_or_default(),
            Ticks::Nines => whole.map(nines_label).unwrap_or_default(),
            Ticks::Names(names) => whole
                .and_then(|i| names.get(i as usize).cloned())
                .unwrap_or_default(),
        }
    }
}

/// The "nines" position of percentile `p` (0..100): 90% -> 1, 99% -> 2,
/// 99.9% -> 3; the maximum (100) goes to [`MAX_NINES`].
pub(crate) fn nines(p: f64) -> f64 {
    if p < 100.0 {
        -(1.0 - p / 100.0).log10()
    } else {
        MAX_NINES
    }
}

/// The label of whole "nines" position `k`: `0%`, `90%`, `99%`, `99.9%`, `max`.
fn nines_label(k: f64) -> String {
    match k as usize {
        0 => "0%".into(),
        1 => "90%".into(),
        _ if k >= MAX_NINES => "max".into(),
        k => format!("99{}{}%", if k > 2 { "." } else { "" }, "9".repeat(k - 2)),
    }
}

/// One chart: a title, two axes, lines, and notes under its legend (what
/// the chart leaves out or cannot show).
#[derive(Clone, Debug)]
pub(crate) struct Panel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
    pub notes: Vec<String>,
}

impl Panel {
    /// Adds a line; returns it, e.g. to give it error bars
    /// (`panel.add(name, points, style).spread = ...`).
    pub(crate) fn add(
        &mut self,
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
    ) -> &mut Line {
        self.lines.push(Line::new(name, points, style));
        let last = self.lines.len() - 1;
        &mut self.lines[last]
    }

    /// A panel without lines.
    pub(crate) fn new(title: impl Into<String>, x: Axis, y: Axis) -> Panel {
        let (title, lines, notes) = (title.into(), Vec::new(), Vec::new());
        Panel {
            title,
            x,
            y,
            lines,
            notes,
        }
    }
}

/// A row of panels, `height` px high, its width split into `columns` (a
/// short row leaves room empty).
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub height: u32,
    pub columns: usize,
    pub panels: Vec<Panel>,
}

/// A figure: a caption over rows of panels, `width` px wide, saved as
/// `<stem>.svg` and `<stem>.png`.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    pub stem: &'static str,
    pub caption: String,
    pub width: u32,
    pub rows: Vec<Row>,
}

impl Row {
    /// A row `height` px high of `panels` in `columns`.
    pub(crate) fn new(height: u32, columns: usize, panels: Vec<Panel>) -> Row {
        Row {
            height,
            columns,
            panels,
        }
    }
}

type Area<DB> = DrawingArea<DB, Shift>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

impl Figure {
    /// A figure of `rows`, `width` px wide.
    pub(crate) fn new(
        stem: &'static str,
        caption: impl Into<String>,
        width: u32,
        rows: Vec<Row>,
    ) -> Figure {
        Figure {
            stem,
            caption: caption.into(),
            width,
            rows,
        }
    }

    /// One panel, 1200 x 700 px.
    pub(crate) fn single(stem: &'static str, caption: impl Into<String>, panel: Panel) -> Figure {
        Figure::new(
            stem,
            caption,
            1200,
            vec![Row::new(700 - CAPTION_BAND, 1, vec![panel])],
        )
    }

    /// Writes `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
    pub(crate) fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
        super::register_bundled_font();
        let svg = dir.join(format!("{}.svg", self.stem));
        let png = dir.join(format!("{}.png", self.stem));
        let size = (
            self.width,
            CAPTION_BAND + self.rows.iter().map(|r| r.height).sum::<u32>(),
        );
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        self.draw(&root)
            .and_then(|()| root.present())
            .map_err(fail(&svg))?;
        drop(root);
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        self.draw(&root)
            .and_then(|()| root.present())
            .map_err(fail(&png))?;
        drop(root);
        Ok(vec![svg, png])
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (band, mut rest) = root.split_vertically(CAPTION_BAND);
        band.titled(&self.caption, font(CAPTION_PX))?;
        for row in &self.rows {
            let (area, below) = rest.split_vertically(row.height);
            let cells = area.split_evenly((1, row.columns.max(1)));
            for (panel, cell) in row.panels.iter().zip(&cells) {
                Chart::new(cell, panel).draw_panel()?;
            }
            rest = below;
        }
        Ok(())
    }
}

/// The error of drawing `path`, keeping the backend's as its source.
fn fail<E>(path: &Path) -> impl FnOnce(DrawingAreaErrorKind<E>) -> PlotError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let path = path.to_path_buf();
    move |e| PlotError::Draw {
        path,
        source: Box::new(e),
    }
}

/// A panel laid out in its area: what can be shown, and the ranges.
struct Chart<'a, DB: DrawingBackend> {
    area: &'a Area<DB>,
    panel: &'a Panel,
    /// Per line, its points that can be shown.
    shown: Vec<Vec<(f64, f64)>>,
    x: (f64, f64),
    y: (f64, f64),
}

impl<'a, DB: DrawingBackend> Chart<'a, DB> {
    fn new(area: &'a Area<DB>, p: &'a Panel) -> Self {
        let shows = |&(x, y): &(f64, f64)| p.x.shows(x) && p.y.shows(y);
        let points = |l: &Line| l.points.iter().copied().filter(shows).collect();
        let shown: Vec<Vec<(f64, f64)>> = p.lines.iter().map(points).collect();
        let data = p.lines.iter().zip(&shown);
        let xs = data.filter(|(l, _)| l.style.mark != Mark::Across);
        let xs = xs.flat_map(|(_, s)| s.iter().map(|pt| pt.0));
        let xspread = p.lines.iter().flat_map(|l| &l.xspread);
        let xs = xs.chain(xspread.flat_map(|s| [s.1, s.3]).filter(|&v| p.x.shows(v)));
        let spread = p
            .lines
            .iter()
            .flat_map(|l| &l.spread)
            .flat_map(|s| [s.1, s.3]);
        let ys = shown.iter().flatten().map(|pt| pt.1);
        let ys = ys.chain(spread.filter(|&v| p.y.shows(v)));
        let (x, y) = (p.x.range(xs), p.y.range(ys));
        Chart {
            area,
            panel: p,
            shown,
            x,
            y,
        }
    }

    /// Draws the panel on a log or a linear y coordinate.
    fn draw_panel(&self) -> DrawResult<DB> {
        let (lo, hi) = self.y;
        if self.panel.y.log() {
            self.draw((lo..hi).log_scale())
        } else {
            self.draw(lo..hi)
        }
    }

    fn draw<Y>(&self, y: Y) -> DrawResult<DB>
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let p = self.panel;
        let mut title = p.title.clone();
        let all: usize = p.lines.iter().map(|l| l.points.len()).sum();
        let dropped = all - self.shown.iter().map(Vec::len).sum::<usize>();
        if dropped > 0 {
            let what = if p.y.log() {
                "zero, negative or NaN"
            } else {
                "NaN"
            };
            title.push_str(&format!(" ({dropped} {what} values not shown)"));
        }
        let key_width = self.key_width();
        let (plot, key) = self
            .area
            .split_horizontally(self.area.dim_in_pixel().0 - key_width);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, font(TITLE_PX))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(58)
            .y_label_area_size(86)
            .build_cartesian_2d(self.x.0..self.x.1, y)?;
        let plot_height = chart.plotting_area().dim_in_pixel().1;
        let (x_label, y_label) = (|v: &f64| p.x.label(*v), |v: &f64| p.y.label(*v));
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(p.x.title())
            .y_desc(p.y.title())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(font(LABEL_PX))
            .axis_desc_style(font(TITLE_PX))
            .bold_line_style(RGBColor(205, 205, 205))
            .light_line_style(RGBColor(238, 238, 238))
            .axis_style(RGBColor(90, 90, 90))
            .x_max_light_lines(1)
            .y_max_light_lines(if p.y.log() { 9 } else { 1 });
        if let Some(n) = p.x.label_count(self.x.1) {
            mesh.x_labels(n);
        }
        if p.y.log() {
            // Decades labelled, and their multiples too when there is room.
            mesh.y_labels((plot_height / 28).max(2) as usize);
        }
        mesh.draw()?;
        for (line, points) in p.lines.iter().zip(&self.shown) {
            self.draw_line(&mut chart, line, points)?;
        }
        if self.shown.iter().all(Vec::is_empty) {
            let area = chart.plotting_area().strip_coord_spec();
            let (w, h) = area.dim_in_pixel();
            let grey = font(TITLE_PX).color(&RGBColor(120, 120, 120));
            let centred = grey.pos(Pos::new(HPos::Center, VPos::Center));
            area.draw_text("no data", &centred, (w as i32 / 2, h as i32 / 2))?;
        }
        if key_width > 0 {
            self.draw_key(&key)
        } else {
            Ok(())
        }
    }

    fn draw_line<'c, Y>(
        &self,
        chart: &mut ChartContext<'c, DB, Cartesian2d<RangedCoordf64, Y>>,
        line: &Line,
        points: &[(f64, f64)],
    ) -> DrawResult<DB>
    where
        Y: Ranged<ValueType = f64>,
        DB: 'c,
    {
        let s = line.style;
        let stroke = s.color.stroke_width(s.width);
        let pts = || points.iter().copied();
        let ((x0, x1), y0) = (self.x, self.y.0);
        let (px, py) = (&self.panel.x, &self.panel.y);
        // An error bar's style: plotters puts a dot of it at the estimate.
        let bar = s.color.filled().stroke_width(2);
        let outline = s.color.stroke_width(2);
        let shown = |(x, lo, y, hi): &(f64, f64, f64, f64), (a, b): (&Axis, &Axis)| {
            a.shows(*x) && [lo, y, hi].iter().all(|&&v| b.shows(v))
        };
        let bars = line.spread.iter().filter(|b| shown(b, (px, py)));
        chart.draw_series(bars.map(|&(x, l, y, h)| ErrorBar::new_vertical(x, l, y, h, bar, 10)))?;
        let bars = line.xspread.iter().filter(|b| shown(b, (py, px)));
        chart
            .draw_series(bars.map(|&(y, l, x, h)| ErrorBar::new_horizontal(y, l, x, h, bar, 10)))?;
        let fill = if s.hollow { WHITE } else { s.color }.filled();
        // A bar from the axis up to y, `inset` px inside its outline.
        let bar_at = |(x, y): (f64, f64), style, inset| {
            let mut r = Rectangle::new([(x - 0.35, y0), (x + 0.35, y)], style);
            r.set_margin(inset, 0, inset, inset);
            r
        };
        let dot = |p, r| {
            EmptyElement::at(p) + Circle::new((0, 0), r, fill) + Circle::new((0, 0), r, outline)
        };
        match s.mark {
            Mark::Solid => chart.draw_series(LineSeries::new(pts(), stroke))?,
            Mark::Dashed => chart.draw_series(DashedLineSeries::new(pts(), 9, 6, stroke))?,
            Mark::Dotted => chart.draw_series(DashedLineSeries::new(pts(), 3, 5, stroke))?,
            Mark::Points => chart.draw_series(pts().map(|p| dot(p, 5)))?,
            Mark::Crosses => {
                chart.draw_series(pts().map(|p| Cross::new(p, 8, s.color.stroke_width(3))))?
            }
            Mark::Rings => chart.draw_series(pts().map(|p| Circle::new(p, 9, stroke)))?,
            Mark::Bars => chart.draw_series(pts().map(|p| bar_at(p, s.color.filled(), 0)))?,
            Mark::Across => chart.draw_series(
                pts().map(|(_, y)| DashedPathElement::new([(x0, y), (x1, y)], 10, 6, stroke)),
            )?,
        };
        if s.mark == Mark::Bars && s.hollow {
            chart.draw_series(pts().map(|p| bar_at(p, fill, 3)))?;
        }
        if s.dots {
            chart.draw_series(pts().map(|p| dot(p, 3)))?;
        }
        Ok(())
    }

    /// The key's width: its widest text and a sample, at most half the
    /// panel; 0 without entries.
    fn key_width(&self) -> u32 {
        let p = self.panel;
        let texts = p.lines.iter().map(|l| &l.name).chain(&p.notes);
        let width = |t: &String| {
            let size = self.area.estimate_text_size(t, &font(LABEL_PX));
            size.map_or(t.len() as u32 * 9, |(w, _)| w)
        };
        let widest = texts.filter(|t| !t.is_empty()).map(width).max();
        widest.map_or(0, |w| (w + 76).min(self.area.dim_in_pixel().0 / 2))
    }

    /// The legend, then the notes, right of the chart and level with its
    /// top. A plotters legend lists a chart's series inside its plotting
    /// area, so the key is a chart of its own without axes whose series are
    /// only labels (a note is a label without a sample).
    fn draw_key(&self, area: &Area<DB>) -> DrawResult<DB> {
        let p = self.panel;
        let mut key = ChartBuilder::on(area)
            .margin_top(TITLE_PX + 18)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        let none = std::iter::empty::<Circle<(f64, f64), u32>>;
        for line in p.lines.iter().filter(|l| !l.name.is_empty()) {
            let (path, (dash, gap), style, (r, dot)) = sample(line.style);
            key.draw_series(none())?
                .label(&line.name)
                .legend(move |at| {
                    EmptyElement::at(at)
                        + DashedPathElement::new(path.clone(), dash, gap, style)
                        + Circle::new((15, 0), r, dot)
                });
        }
        let gap =
            (p.lines.iter().any(|l| !l.name.is_empty()) && !p.notes.is_empty()).then_some(" ");
        for note in gap.into_iter().chain(p.notes.iter().map(String::as_str)) {
            key.draw_series(none())?.label(note);
        }
        key.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(LABEL_PX))
            .legend_area_size(40)
            .margin(4)
            .draw()
    }
}

/// A legend sample, relative to its left end: a polyline drawn in (dash,
/// gap) dashes in a style, and a circle (radius, style) in its middle.
type Sample = (Vec<(i32, i32)>, (i32, i32), ShapeStyle, (i32, ShapeStyle));

/// The legend sample of `s`.
fn sample(s: Style) -> Sample {
    let stroke = s.color.stroke_width(s.width.max(2));
    let none = ShapeStyle::from(&TRANSPARENT);
    let across = vec![(0, 0), (30, 0)];
    let dot = if s.dots {
        (3, s.color.filled())
    } else {
        (0, none)
    };
    match s.mark {
        Mark::Solid => (across, (30, 0), stroke, dot),
        Mark::Dashed | Mark::Across => (across, (8, 5), stroke, dot),
        Mark::Dotted => (across, (3, 4), stroke, dot),
        Mark::Points if s.hollow => (Vec::new(), (1, 0), none, (5, s.color.stroke_width(2))),
        Mark::Points => (Vec::new(), (1, 0), none, (5, s.color.filled())),
        Mark::Rings => (Vec::new(), (1, 0), none, (8, stroke)),
        // An X as one polyline through its centre.
        Mark::Crosses => {
            let x = vec![(9, -6), (21, 6), (15, 0), (9, 6), (21, -6)];
            (x, (99, 0), s.color.stroke_width(3), (0, none))
        }
        Mark::Bars if s.hollow => {
            let outline = vec![(6, -7), (24, -7), (24, 7), (6, 7), (6, -7)];
            (outline, (99, 0), s.color.stroke_width(3), (0, none))
        }
        Mark::Bars => (
            vec![(6, 0), (24, 0)],
            (99, 0),
            s.color.stroke_width(14),
            (0, none),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_hold_their_data_never_collapse_and_label_only_their_ticks() {
        let number = axis("x", Ticks::Number);
        let (lo, hi) = number.range([5.0].into_iter());
        assert!(lo == 0.0 && (hi - 5.2).abs() < 1e-9, "{hi}");
        assert_eq!(
            number.range([245e3].into_iter()),
            (0.0, 260e3),
            "a round top"
        );
        assert!(!number.shows(f64::NAN) && !number.shows(1e300) && number.shows(-1.0));
        for flat in [vec![], vec![0.0, 0.0]] {
            let (lo, hi) = number.range(flat.into_iter());
            assert!(hi > lo);
        }
        let latency = axis("y", Ticks::Latency);
        assert_eq!(latency.range([3000.0].into_iter()), (1e3, 1e4));
        assert_eq!(latency.range([20.0, 3e5].into_iter()), (10.0, 1e6));
        assert!(!latency.shows(0.0) && !latency.shows(f64::NAN));
        let threads = axis("t", Ticks::Integer);
        assert_eq!(threads.range([1.0, 4.0].into_iter()), (0.0, 4.25));
        assert_eq!([threads.label(2.0), threads.label(2.5)], ["2", ""]);
        let engines = axis("e", Ticks::Names(vec!["serial".into(), "actor".into()]));
        assert_eq!(engines.range(std::iter::empty()), (-0.5, 1.5));
        let labels = [-1.0, 0.0, 0.5, 1.0, 2.0].map(|v| engines.label(v));
        assert_eq!(labels, ["", "serial", "", "actor", ""]);
        let pct = axis("p", Ticks::Nines);
        assert!((nines(99.9) - 3.0).abs() < 1e-9 && nines(100.0) == MAX_NINES);
        let labels = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.5].map(|k| pct.label(k));
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "max", ""]);
    }
}
