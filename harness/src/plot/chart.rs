//! What a figure is (a caption over rows of panels; a panel is named lines
//! on two axes) and its drawing with plotters' own pieces: linear and
//! `log_scale()` coordinates with plotters' tick placement, tick labels from
//! `crate::units`, `ErrorBar` for intervals, and legends as series labels
//! (`configure_series_labels`).
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

/// Font sizes (px) of the caption, of panel and axis titles, and of tick
/// labels, legends and notes, in the family [`super::register_bundled_font`]
/// registers; the height of the caption's band.
const CAPTION_PX: u32 = 24;
const TITLE_PX: u32 = 18;
const LABEL_PX: u32 = 15;
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
/// points also get a dot (so a one-point line shows), and whether dots and
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
        let (color, dots, hollow) = (color(i), false, false);
        Style {
            color,
            width: 2,
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

    /// The dash and gap (px) of its line; a solid one is one long dash.
    fn dashes(self) -> (u32, u32) {
        match self.mark {
            Mark::Dashed | Mark::Across => (9, 6),
            Mark::Dotted => (3, 5),
            _ => (30, 0),
        }
    }
}

/// An error bar as plotters' `ErrorBar` takes it: where it stands (x of a
/// vertical one, y of a horizontal one), then low, value, high.
pub(crate) type Bar = (f64, f64, f64, f64);

/// A named set of (x, y) points (an empty name keeps it out of the
/// legend), with error bars in its colour: vertical (`spread`) and
/// horizontal (`xspread`).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    pub spread: Vec<Bar>,
    pub xspread: Vec<Bar>,
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
    let desc = desc.into();
    Axis { desc, ticks }
}

impl Axis {
    fn log(&self) -> bool {
        self.ticks == Ticks::Latency
    }

    /// Whether `v` can be placed on this axis (beyond 1e100 is no
    /// measurement, and would overflow the range's headroom).
    fn shows(&self, v: f64) -> bool {
        v.abs() < 1e100 && (!self.log() || v > 0.0)
    }

    /// The range that holds `values` (all of which [`Axis::shows`]): whole
    /// decades on a log axis; on a linear one from zero to a round number a
    /// little above the top, so a line at the maximum is not the frame.
    fn range(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (inf, neg) = (f64::INFINITY, f64::NEG_INFINITY);
        let (min, max) = values.fold((inf, neg), |(a, b), v| (a.min(v), b.max(v)));
        let (empty, log) = (min > max, self.log());
        let (lo, hi) = match &self.ticks {
            Ticks::Names(names) => return (-0.5, names.len().max(1) as f64 - 0.5),
            Ticks::Nines => return (0.0, MAX_NINES + 0.25),
            _ if log && empty => return (1e3, 1e6),
            _ if log => (min.log10().floor(), max.log10().ceil()),
            _ if empty => (0.0, 1.0),
            _ => (min.min(0.0), max.max(0.0)),
        };
        let hi = if hi > lo { hi } else { lo + 1.0 };
        if log {
            return (10f64.powf(lo), 10f64.powf(hi));
        } else if self.ticks == Ticks::Integer {
            return (lo, hi + 0.25);
        }
        let hi = hi + (hi - lo) * 0.04;
        let step = 10f64.powf(hi.abs().log10().floor() - 1.0);
        (lo, (hi / step - 1e-9).ceil() * step)
    }

    /// The tick label of `v`: whole numbers only for counts, categories and
    /// nines.
    fn label(&self, v: f64) -> String {
        let whole = (v.fract() == 0.0 && v >= 0.0).then_some(v);
        let name = |i: f64| match &self.ticks {
            Ticks::Names(names) => names.get(i as usize).cloned(),
            _ => None,
        };
        match &self.ticks {
            Ticks::Number => units::compact(v),
            Ticks::Latency => units::compact_ns(v),
            Ticks::Integer => whole.map(|v| format!("{v:.0}")).unwrap_or_default(),
            Ticks::Nines => whole.map(nines_label).unwrap_or_default(),
            Ticks::Names(_) => whole.and_then(name).unwrap_or_default(),
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

    /// Adds a line without error bars; returns it, to add some.
    pub(crate) fn add<N: Into<String>>(
        &mut self,
        name: N,
        points: Vec<(f64, f64)>,
        style: Style,
    ) -> &mut Line {
        let (name, spread, xspread) = (name.into(), Vec::new(), Vec::new());
        self.lines.push(Line {
            name,
            points,
            style,
            spread,
            xspread,
        });
        let last = self.lines.len() - 1;
        &mut self.lines[last]
    }
}

/// A row of a figure: its height (px), the columns its width is split into
/// (a short row leaves room empty), and its panels.
pub(crate) type Row = (u32, usize, Vec<Panel>);
type Area<DB> = DrawingArea<DB, Shift>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure: a caption over rows of panels, `width` px wide, saved as
/// `<stem>.svg` and `<stem>.png`.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    pub stem: &'static str,
    pub caption: String,
    pub width: u32,
    pub rows: Vec<Row>,
}

impl Figure {
    /// A figure of `rows`, `width` px wide.
    pub(crate) fn new(stem: &'static str, caption: String, width: u32, rows: Vec<Row>) -> Figure {
        Figure {
            stem,
            caption,
            width,
            rows,
        }
    }

    /// One panel, 1200 x 700 px.
    pub(crate) fn single(stem: &'static str, caption: impl Into<String>, panel: Panel) -> Figure {
        let rows = vec![(700 - CAPTION_BAND, 1, vec![panel])];
        Figure::new(stem, caption.into(), 1200, rows)
    }

    /// Writes `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
    pub(crate) fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
        super::register_bundled_font();
        let height = CAPTION_BAND + self.rows.iter().map(|r| r.0).sum::<u32>();
        let size = (self.width, height);
        let [svg, png] = ["svg", "png"].map(|e| dir.join(format!("{}.{e}", self.stem)));
        self.render(SVGBackend::new(&svg, size).into_drawing_area(), &svg)?;
        self.render(BitMapBackend::new(&png, size).into_drawing_area(), &png)?;
        Ok(vec![svg, png])
    }

    /// Draws the figure on `root` and writes it out to `path`.
    fn render<DB: DrawingBackend>(&self, root: Area<DB>, path: &Path) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let drawn = self.draw(&root).and_then(|()| root.present());
        let path = path.to_path_buf();
        drawn.map_err(|e| PlotError::Draw {
            path,
            source: Box::new(e),
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (band, mut rest) = root.split_vertically(CAPTION_BAND);
        band.titled(&self.caption, font(CAPTION_PX))?;
        for (height, columns, panels) in &self.rows {
            let (area, below) = rest.split_vertically(*height);
            let cells = area.split_evenly((1, *columns));
            for (panel, cell) in panels.iter().zip(&cells) {
                draw_panel(cell, panel)?;
            }
            rest = below;
        }
        Ok(())
    }
}

/// Draws `p` in `area`: what can be shown of it on a log or a linear y
/// coordinate, the legend and notes in a key on its right.
fn draw_panel<DB: DrawingBackend>(area: &Area<DB>, p: &Panel) -> DrawResult<DB> {
    let (px, py) = (|v: &f64| p.x.shows(*v), |v: &f64| p.y.shows(*v));
    let mut shown = p.clone();
    for l in &mut shown.lines {
        l.points.retain(|(x, y)| px(x) && py(y));
        l.spread
            .retain(|(x, lo, y, hi)| px(x) && [lo, y, hi].into_iter().all(py));
        l.xspread
            .retain(|(y, lo, x, hi)| py(y) && [lo, x, hi].into_iter().all(px));
    }
    let lines = || shown.lines.iter();
    let data = lines().filter(|l| l.style.mark != Mark::Across);
    let xs = data.flat_map(|l| l.points.iter().map(|pt| pt.0));
    let xs = xs.chain(lines().flat_map(|l| &l.xspread).flat_map(|b| [b.1, b.3]));
    let ys = lines().flat_map(|l| l.points.iter().map(|pt| pt.1));
    let ys = ys.chain(lines().flat_map(|l| &l.spread).flat_map(|b| [b.1, b.3]));
    let (x, (lo, hi)) = (p.x.range(xs), p.y.range(ys));
    let count = |p: &Panel| p.lines.iter().map(|l| l.points.len()).sum::<usize>();
    let what = if p.y.log() {
        "zero, negative or NaN"
    } else {
        "NaN"
    };
    let dropped = count(p) - count(&shown);
    if dropped > 0 {
        shown.title = format!("{} ({dropped} {what} values not shown)", p.title);
    }
    let width = key_width(area, p);
    let (plot, key) = area.split_horizontally(area.dim_in_pixel().0 - width);
    if p.y.log() {
        draw_chart(&plot, &shown, x, (lo..hi).log_scale())?;
    } else {
        draw_chart(&plot, &shown, x, lo..hi)?;
    }
    if width > 0 { draw_key(&key, p) } else { Ok(()) }
}

/// The chart of `p`, x over `x`, y on `y`.
fn draw_chart<DB, Y>(area: &Area<DB>, p: &Panel, x: (f64, f64), y: Y) -> DrawResult<DB>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, font(TITLE_PX))
        .margin(10)
        .margin_right(20)
        .x_label_area_size(58)
        .y_label_area_size(86)
        .build_cartesian_2d(x.0..x.1, y)?;
    let height = chart.plotting_area().dim_in_pixel().1;
    let (x_label, y_label) = (|v: &f64| p.x.label(*v), |v: &f64| p.y.label(*v));
    let desc = |a: &Axis| format!("{}{}", a.desc, if a.log() { " (log scale)" } else { "" });
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(desc(&p.x))
        .y_desc(desc(&p.y))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(TITLE_PX))
        .bold_line_style(RGBColor(205, 205, 205))
        .light_line_style(RGBColor(238, 238, 238))
        .axis_style(RGBColor(90, 90, 90))
        .x_max_light_lines(1)
        .y_max_light_lines(if p.y.log() { 9 } else { 1 });
    // A labelled tick per category, nine or count, where plotters' own
    // choice would fall between them; on a log axis, the decades labelled
    // and their multiples too when there is room.
    match &p.x.ticks {
        Ticks::Names(names) => mesh.x_labels(names.len().max(1)),
        Ticks::Nines => mesh.x_labels(MAX_NINES as usize + 1),
        Ticks::Integer => mesh.x_labels((x.1 as usize).min(9) + 1),
        _ => &mut mesh,
    };
    if p.y.log() {
        mesh.y_labels((height / 28).max(2) as usize);
    }
    mesh.draw()?;
    for line in &p.lines {
        draw_line(&mut chart, line, x)?;
    }
    if p.lines.iter().all(|l| l.points.is_empty()) {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        let grey = font(TITLE_PX).color(&RGBColor(120, 120, 120));
        let centred = grey.pos(Pos::new(HPos::Center, VPos::Center));
        area.draw_text("no data", &centred, (w as i32 / 2, h as i32 / 2))?;
    }
    Ok(())
}

type Chart<'c, DB, Y> = ChartContext<'c, DB, Cartesian2d<RangedCoordf64, Y>>;

/// Draws a line's error bars, then its points; `Across` spans `x`.
fn draw_line<'c, DB, Y>(chart: &mut Chart<'c, DB, Y>, line: &Line, x: (f64, f64)) -> DrawResult<DB>
where
    DB: DrawingBackend + 'c,
    Y: Ranged<ValueType = f64>,
{
    let s = line.style;
    // plotters puts a dot of an error bar's style at the estimate.
    let bar = s.color.filled().stroke_width(2);
    let v = |&(x, l, y, h): &Bar| ErrorBar::new_vertical(x, l, y, h, bar, 10);
    let h = |&(y, l, x, h): &Bar| ErrorBar::new_horizontal(y, l, x, h, bar, 10);
    chart.draw_series(line.spread.iter().map(v))?;
    chart.draw_series(line.xspread.iter().map(h))?;
    let pts = || line.points.iter().copied();
    let (stroke, (dash, gap)) = (s.color.stroke_width(s.width), s.dashes());
    let fill = if s.hollow { WHITE } else { s.color }.filled();
    let ring = s.color.stroke_width(2);
    let dot =
        |at, r| EmptyElement::at(at) + Circle::new((0, 0), r, fill) + Circle::new((0, 0), r, ring);
    let y0 = chart.y_range().start;
    // A bar in its colour; hollow, a white one 3 px inside it.
    let bar = |(x, y): (f64, f64)| {
        let corners = [(x - 0.35, y0), (x + 0.35, y)];
        let mut inside = Rectangle::new(corners, fill);
        inside.set_margin(3, 0, 3, 3);
        let bar = Rectangle::new(corners, s.color.filled());
        [Some(bar), s.hollow.then_some(inside)]
            .into_iter()
            .flatten()
    };
    let across = |(_, y)| DashedPathElement::new([(x.0, y), (x.1, y)], dash, gap, stroke);
    let cross = |at| Cross::new(at, 8, s.color.stroke_width(3));
    let dashed = || DashedLineSeries::new(pts(), dash, gap, stroke);
    match s.mark {
        Mark::Solid => chart.draw_series(LineSeries::new(pts(), stroke))?,
        Mark::Dashed | Mark::Dotted => chart.draw_series(dashed())?,
        Mark::Across => chart.draw_series(pts().map(across))?,
        Mark::Points => chart.draw_series(pts().map(|at| dot(at, 5)))?,
        Mark::Crosses => chart.draw_series(pts().map(cross))?,
        Mark::Rings => chart.draw_series(pts().map(|at| Circle::new(at, 9, stroke)))?,
        Mark::Bars => chart.draw_series(pts().flat_map(bar))?,
    };
    if s.dots {
        chart.draw_series(pts().map(|at| dot(at, 3)))?;
    }
    Ok(())
}

/// A legend sample, from its left end: a polyline drawn in (dash, gap)
/// dashes in a style, and a circle (radius, style) in its middle.
type Sample = (Vec<(i32, i32)>, (u32, u32), ShapeStyle, (i32, ShapeStyle));

/// The legend sample of a line styled `s`, as the chart draws it.
fn sample(s: Style) -> Sample {
    let stroke = s.color.stroke_width(s.width.max(2));
    let none = ShapeStyle::from(&TRANSPARENT);
    let dot = if s.hollow {
        s.color.stroke_width(2)
    } else {
        s.color.filled()
    };
    let dots = if s.dots { (3, dot) } else { (0, none) };
    let (thick, across) = (s.color.stroke_width(3), vec![(0, 0), (30, 0)]);
    // Shapes as one polyline: an X through the middle, a box.
    let cross = vec![(9, -6), (21, 6), (15, 0), (9, 6), (21, -6)];
    let outline = vec![(6, -7), (24, -7), (24, 7), (6, 7), (6, -7)];
    match s.mark {
        Mark::Points => (Vec::new(), (1, 0), none, (5, dot)),
        Mark::Rings => (Vec::new(), (1, 0), none, (8, stroke)),
        Mark::Crosses => (cross, (99, 0), thick, (0, none)),
        Mark::Bars if s.hollow => (outline, (99, 0), thick, (0, none)),
        Mark::Bars => (
            vec![(6, 0), (24, 0)],
            (99, 0),
            s.color.stroke_width(14),
            (0, none),
        ),
        _ => (across, s.dashes(), stroke, dots),
    }
}

/// The key's width: its widest text and a sample, at most half the area;
/// 0 without entries.
fn key_width<DB: DrawingBackend>(area: &Area<DB>, p: &Panel) -> u32 {
    let texts = p.lines.iter().map(|l| &l.name).chain(&p.notes);
    let width = |t: &String| {
        let size = area.estimate_text_size(t, &font(LABEL_PX));
        size.map_or(t.len() as u32 * 9, |(w, _)| w)
    };
    let widest = texts.filter(|t| !t.is_empty()).map(width).max();
    widest.map_or(0, |w| (w + 76).min(area.dim_in_pixel().0 / 2))
}

/// The legend, then the notes, level with the chart's top. A plotters
/// legend lists a chart's series inside its plotting area, so the key is a
/// chart of its own without axes whose series are only labels (a note is a
/// label without a sample).
fn draw_key<DB: DrawingBackend>(area: &Area<DB>, p: &Panel) -> DrawResult<DB> {
    let mut key = ChartBuilder::on(area)
        .margin_top(TITLE_PX + 18)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    let none = std::iter::empty::<Circle<(f64, f64), u32>>;
    let named = p.lines.iter().filter(|l| !l.name.is_empty());
    for line in named.clone() {
        let (path, (dash, gap), stroke, (r, dot)) = sample(line.style);
        let sample = move |at| {
            let path = DashedPathElement::new(path.clone(), dash, gap, stroke);
            EmptyElement::at(at) + path + Circle::new((15, 0), r, dot)
        };
        key.draw_series(none())?.label(&line.name).legend(sample);
    }
    let gap = (named.count() > 0 && !p.notes.is_empty()).then_some(" ");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_hold_their_data_never_collapse_and_label_only_their_ticks() {
        let number = axis("x", Ticks::Number);
        let (lo, hi) = number.range([5.0].into_iter());
        assert!(lo == 0.0 && (hi - 5.2).abs() < 1e-9, "{hi}");
        assert_eq!(number.range([245e3].into_iter()), (0.0, 260e3), "round");
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
