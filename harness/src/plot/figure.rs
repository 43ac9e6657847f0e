//! A small description of a figure (panels of series on two axes) and the one
//! renderer that draws it to SVG and PNG with plotters.
//!
//! The run and sweep modules only build [`Figure`]s from their data; every
//! decision about ticks, units, log axes, legends and degenerate data lives
//! here and in `axis`, so all plots look alike and the awkward cases are handled once:
//! - NaN and infinite values are skipped; so are values <= 0 on a log axis
//!   (counted, and said so in the panel title);
//! - a single point or a flat series gets a range around it;
//! - a panel with nothing to draw says "no data" instead of failing.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use super::axis::layout;
pub(crate) use super::axis::{Axis, Quantity, Scale, compact, nines};
use super::font::register_bundled_font;

/// Caption (figure title) font size, px.
const CAPTION_PX: f64 = 24.0;
/// Panel title and axis title font size, px.
const TITLE_PX: f64 = 18.0;
/// Tick label and legend font size, px (>= 14 px, readable at a glance).
const LABEL_PX: f64 = 15.0;
/// Font family; registered by [`register_bundled_font`].
const FAMILY: &str = "sans-serif";

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A line through the points, in x order as given.
    Line,
    /// A dashed line.
    Dashed,
    /// A dotted line (short dashes).
    Dotted,
    /// Bars from the bottom of the axis, centred on x (category axes).
    Bars,
    /// Markers only.
    Points,
    /// A cross at each point (flags, e.g. a failed audit).
    Crosses,
    /// A hollow ring around each point (flags drawn over a line's own dots,
    /// e.g. a saturated cell).
    Rings,
}

/// The look of a series.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    /// Colour.
    pub color: RGBColor,
    /// Line width, px.
    pub width: u32,
    /// Line, dashes, bars, markers.
    pub mark: Mark,
    /// Whether line points also get a dot.
    pub dots: bool,
}

impl Style {
    /// A line of palette colour `i`.
    pub(crate) fn line(i: usize) -> Style {
        Style {
            color: color(i),
            width: 2,
            mark: Mark::Line,
            dots: false,
        }
    }

    /// The same, dashed.
    pub(crate) fn dashed(self) -> Style {
        Style {
            mark: Mark::Dashed,
            ..self
        }
    }

    /// The same, with a dot on each point.
    pub(crate) fn dotted(self) -> Style {
        Style { dots: true, ..self }
    }

    /// The same, with another width.
    pub(crate) fn width(self, width: u32) -> Style {
        Style { width, ..self }
    }

    /// The same, drawn as `mark`.
    pub(crate) fn mark(self, mark: Mark) -> Style {
        Style { mark, ..self }
    }

    /// Whether points are joined by a line (solid, dashed or dotted).
    pub(crate) fn is_line(&self) -> bool {
        matches!(self.mark, Mark::Line | Mark::Dashed | Mark::Dotted)
    }
}

/// Black, for totals and baselines.
pub(crate) const INK: RGBColor = RGBColor(20, 20, 20);

/// Palette colour `i` (Tableau 10, then six more), cycling.
pub(crate) fn color(i: usize) -> RGBColor {
    const P: [RGBColor; 16] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(0, 0, 128),
        RGBColor(128, 0, 0),
        RGBColor(0, 128, 128),
        RGBColor(255, 187, 120),
        RGBColor(152, 223, 138),
        RGBColor(174, 199, 232),
    ];
    P[i % P.len()]
}

/// A named set of points.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    /// Legend entry; empty for none.
    pub name: String,
    /// (x, y) in the axes' natural units.
    pub points: Vec<(f64, f64)>,
    /// Look.
    pub style: Style,
}

/// A horizontal reference line across the panel (e.g. the serial baseline).
#[derive(Clone, Debug)]
pub(crate) struct HLine {
    /// Legend entry.
    pub name: String,
    /// Height in the y axis' natural unit.
    pub y: f64,
    /// Look (drawn dashed whatever `mark` says).
    pub style: Style,
}

/// One chart: two axes, series, reference lines.
#[derive(Clone, Debug)]
pub(crate) struct Panel {
    /// Title above the chart.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Data.
    pub series: Vec<Series>,
    /// Reference lines.
    pub hlines: Vec<HLine>,
    /// Whether the panel draws its own legend at its right (otherwise the
    /// figure's shared legend explains the styles).
    pub legend: bool,
    /// Lines of text under the panel's own legend: what the chart leaves
    /// out or cannot show (e.g. a reference far off its axis). Drawn only
    /// with the panel's own legend.
    pub notes: Vec<String>,
}

impl Panel {
    /// An empty panel with its own legend.
    pub(crate) fn new(title: impl Into<String>, x: Axis, y: Axis) -> Panel {
        Panel {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            hlines: Vec::new(),
            legend: true,
            notes: Vec::new(),
        }
    }
}

/// A figure: a caption and a grid of panels, saved as `<stem>.svg` and `<stem>.png`.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    /// File name without extension.
    pub stem: String,
    /// Caption above everything.
    pub caption: String,
    /// Panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Size of one panel, px.
    pub panel_size: (u32, u32),
    /// Shared legend drawn under the caption: (name, style).
    pub legend: Vec<(String, Style)>,
}

/// Height of the caption band, px.
const CAPTION_BAND: u32 = 44;
/// Height of the shared legend band, px.
const LEGEND_BAND: u32 = 34;

impl Figure {
    /// One panel, 1200 x 700 px.
    pub(crate) fn single(stem: &str, caption: String, panel: Panel) -> Figure {
        Figure {
            stem: stem.to_string(),
            caption,
            panels: vec![panel],
            columns: 1,
            panel_size: (1200, 700 - CAPTION_BAND),
            legend: Vec::new(),
        }
    }

    /// Width and height of the whole figure, px.
    pub(crate) fn size(&self) -> (u32, u32) {
        let cols = self.columns.clamp(1, self.panels.len().max(1)) as u32;
        let rows = self.panels.len().div_ceil(cols as usize).max(1) as u32;
        let legend = if self.legend.is_empty() {
            0
        } else {
            LEGEND_BAND
        };
        (
            cols * self.panel_size.0,
            CAPTION_BAND + legend + rows * self.panel_size.1,
        )
    }

    /// Writes `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
    pub(crate) fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
        register_bundled_font();
        let size = self.size();
        let svg = dir.join(format!("{}.svg", self.stem));
        let png = dir.join(format!("{}.png", self.stem));
        let fail = |path: &Path, e: &dyn std::fmt::Display| PlotError::Draw {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        {
            let root = SVGBackend::new(&svg, size).into_drawing_area();
            self.draw(&root).map_err(|e| fail(&svg, &e))?;
            root.present().map_err(|e| fail(&svg, &e))?;
        }
        {
            let root = BitMapBackend::new(&png, size).into_drawing_area();
            self.draw(&root).map_err(|e| fail(&png, &e))?;
            root.present().map_err(|e| fail(&png, &e))?;
        }
        Ok(vec![svg, png])
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (caption, rest) = root.split_vertically(CAPTION_BAND);
        let caption_style = (FAMILY, CAPTION_PX)
            .into_font()
            .color(&INK)
            .pos(text_anchor(HPos::Center, VPos::Center));
        let (w, _) = caption.dim_in_pixel();
        caption.draw(&Text::new(
            self.caption.clone(),
            (w as i32 / 2, CAPTION_BAND as i32 / 2 + 2),
            caption_style,
        ))?;
        let grid = if self.legend.is_empty() {
            rest
        } else {
            let (band, grid) = rest.split_vertically(LEGEND_BAND);
            draw_legend_row(&band, &self.legend)?;
            grid
        };
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        let rows = self.panels.len().div_ceil(cols).max(1);
        let cells = grid.split_evenly((rows, cols));
        for (panel, cell) in self.panels.iter().zip(cells.iter()) {
            panel.draw(cell)?;
        }
        Ok(())
    }
}

type Area<DB> = DrawingArea<DB, Shift>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn text_anchor(h: HPos, v: VPos) -> Pos {
    Pos::new(h, v)
}

/// Draws one legend sample (a short line, dashes, a box, a dot or a cross)
/// ending at `(x + 32, y)`.
fn draw_sample<DB: DrawingBackend>(area: &Area<DB>, x: i32, y: i32, s: &Style) -> DrawResult<DB> {
    let stroke = s.color.stroke_width(s.width.max(2));
    match s.mark {
        Mark::Line => area.draw(&PathElement::new(vec![(x, y), (x + 32, y)], stroke))?,
        Mark::Dashed => {
            for k in 0..3 {
                let a = x + k * 12;
                area.draw(&PathElement::new(vec![(a, y), (a + 7, y)], stroke))?;
            }
        }
        Mark::Dotted => {
            for k in 0..5 {
                let a = x + k * 7;
                area.draw(&PathElement::new(vec![(a, y), (a + 3, y)], stroke))?;
            }
        }
        Mark::Bars => area.draw(&Rectangle::new(
            [(x + 6, y - 7), (x + 26, y + 7)],
            s.color.filled(),
        ))?,
        Mark::Points => area.draw(&Circle::new((x + 16, y), 4, s.color.filled()))?,
        Mark::Crosses => area.draw(&Cross::new((x + 16, y), 6, s.color.stroke_width(2)))?,
        Mark::Rings => area.draw(&Circle::new((x + 16, y), 7, s.color.stroke_width(2)))?,
    }
    if s.dots && s.is_line() {
        area.draw(&Circle::new((x + 16, y), 3, s.color.filled()))?;
    }
    Ok(())
}

/// The shared legend: entries side by side, centred.
fn draw_legend_row<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[(String, Style)],
) -> DrawResult<DB> {
    let font = (FAMILY, LABEL_PX).into_font().color(&INK);
    let widths: Vec<i32> = entries
        .iter()
        .map(|(name, _)| text_width(area, name, &font) + 32 + 8 + 28)
        .collect();
    let (w, h) = area.dim_in_pixel();
    let total: i32 = widths.iter().sum();
    let mut x = ((w as i32 - total) / 2).max(8);
    let y = h as i32 / 2;
    for ((name, style), width) in entries.iter().zip(widths) {
        draw_sample(area, x, y, style)?;
        area.draw(&Text::new(
            name.clone(),
            (x + 40, y),
            font.pos(text_anchor(HPos::Left, VPos::Center)),
        ))?;
        x += width;
    }
    Ok(())
}

fn text_width<DB: DrawingBackend>(area: &Area<DB>, text: &str, font: &TextStyle<'_>) -> i32 {
    // Falls back to a generous per-character estimate if layout fails.
    area.estimate_text_size(text, font)
        .map(|(w, _)| w as i32)
        .unwrap_or(text.chars().count() as i32 * 10)
}

/// A panel's data on its axes.
struct Mapped {
    /// Per series, the points that can be shown.
    series: Vec<Vec<(f64, f64)>>,
    /// Per reference line, its mapped height if it can be shown.
    hlines: Vec<Option<f64>>,
    /// Values that cannot be shown (NaN, or <= 0 on a log axis).
    dropped: usize,
}

impl Panel {
    /// Mapped points of every series and reference line (finite, on-axis),
    /// plus how many values could not be shown.
    fn mapped(&self) -> Mapped {
        let mut dropped = 0;
        let series = self
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter_map(|&(x, y)| {
                        let p = self.x.map(x).zip(self.y.map(y));
                        if p.is_none() {
                            dropped += 1;
                        }
                        p
                    })
                    .collect()
            })
            .collect();
        let hlines = self.hlines.iter().map(|h| self.y.map(h.y)).collect();
        Mapped {
            series,
            hlines,
            dropped,
        }
    }

    fn draw<DB: DrawingBackend>(&self, cell: &Area<DB>) -> DrawResult<DB> {
        let Mapped {
            series,
            hlines,
            dropped,
        } = self.mapped();
        let label_font = (FAMILY, LABEL_PX).into_font().color(&INK);
        let entries: Vec<(String, Style)> = self
            .series
            .iter()
            .map(|s| (s.name.clone(), s.style))
            .chain(
                self.hlines
                    .iter()
                    .map(|h| (h.name.clone(), h.style.mark(Mark::Dashed))),
            )
            .filter(|(name, _)| !name.is_empty())
            .collect();
        let (chart_area, legend_area) = if self.legend && !entries.is_empty() {
            let widest = entries
                .iter()
                .map(|(n, _)| text_width(cell, n, &label_font) + 44)
                .chain(
                    self.notes
                        .iter()
                        .map(|n| text_width(cell, n, &label_font) + 4),
                )
                .max()
                .unwrap_or(0);
            let (w, _) = cell.dim_in_pixel();
            let legend_w = (widest + 20).min(w as i32 / 3).max(0) as u32;
            let (a, b) = cell.split_horizontally(w - legend_w);
            (a, Some(b))
        } else {
            (cell.clone(), None)
        };

        let xs = series.iter().flatten().map(|p| p.0);
        let ys = series
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(hlines.iter().flatten().copied());
        let xl = layout(&self.x, xs);
        let yl = layout(&self.y, ys);
        let mut title = self.title.clone();
        if dropped > 0 {
            let why = if self.x.scale == Scale::Log || self.y.scale == Scale::Log {
                "zero, negative or NaN"
            } else {
                "NaN"
            };
            title.push_str(&format!(" ({dropped} {why} values not shown)"));
        }

        let mut chart = ChartBuilder::on(&chart_area)
            .caption(title, (FAMILY, TITLE_PX).into_font().color(&INK))
            .margin(10)
            .margin_right(24)
            .x_label_area_size(58)
            .y_label_area_size(86)
            .build_cartesian_2d(xl.ticks(), yl.ticks())?;
        let xfmt = |v: &f64| (xl.label)(*v);
        let yfmt = |v: &f64| (yl.label)(*v);
        chart
            .configure_mesh()
            .x_desc(xl.title.clone())
            .y_desc(yl.title.clone())
            .label_style(label_font.clone())
            .axis_desc_style((FAMILY, TITLE_PX).into_font().color(&INK))
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .bold_line_style(RGBColor(205, 205, 205))
            .light_line_style(RGBColor(238, 238, 238))
            .axis_style(RGBColor(90, 90, 90))
            .draw()?;

        for (h, y) in self.hlines.iter().zip(&hlines) {
            if let Some(y) = *y {
                chart.draw_series(DashedLineSeries::new(
                    [(xl.lo, y), (xl.hi, y)],
                    10,
                    6,
                    h.style.color.stroke_width(h.style.width),
                ))?;
            }
        }
        let bar_series = self
            .series
            .iter()
            .filter(|s| s.style.mark == Mark::Bars)
            .count();
        let mut bar_index = 0;
        for (s, pts) in self.series.iter().zip(&series) {
            let stroke = s.style.color.stroke_width(s.style.width);
            match s.style.mark {
                Mark::Line => {
                    chart.draw_series(LineSeries::new(pts.iter().copied(), stroke))?;
                }
                Mark::Dashed => {
                    chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 9, 6, stroke))?;
                }
                Mark::Dotted => {
                    chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 3, 5, stroke))?;
                }
                Mark::Bars => {
                    // Bars of several series share a category slot side by side.
                    let slot = 0.8 / bar_series.max(1) as f64;
                    let left = -0.4 + slot * bar_index as f64;
                    bar_index += 1;
                    chart.draw_series(pts.iter().map(|&(x, y)| {
                        Rectangle::new(
                            [(x + left + 0.02, yl.lo), (x + left + slot - 0.02, y)],
                            s.style.color.filled(),
                        )
                    }))?;
                }
                Mark::Points => {
                    chart.draw_series(
                        pts.iter()
                            .map(|&p| Circle::new(p, 5, s.style.color.filled())),
                    )?;
                }
                Mark::Crosses => {
                    chart.draw_series(
                        pts.iter()
                            .map(|&p| Cross::new(p, 8, s.style.color.stroke_width(3))),
                    )?;
                }
                Mark::Rings => {
                    chart.draw_series(
                        pts.iter()
                            .map(|&p| Circle::new(p, 9, s.style.color.stroke_width(2))),
                    )?;
                }
            }
            if s.style.dots && s.style.is_line() {
                chart.draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 3, s.style.color.filled())),
                )?;
            }
        }
        if series.iter().all(|s| s.is_empty()) {
            let (w, h) = chart.plotting_area().dim_in_pixel();
            chart.plotting_area().strip_coord_spec().draw(&Text::new(
                "no data",
                (w as i32 / 2, h as i32 / 2),
                (FAMILY, TITLE_PX)
                    .into_font()
                    .color(&RGBColor(120, 120, 120))
                    .pos(text_anchor(HPos::Center, VPos::Center)),
            ))?;
        }

        if let Some(area) = legend_area {
            // Top of the legend level with the top of the plotting area.
            let top = TITLE_PX as i32 + 30;
            for (i, (name, style)) in entries.iter().enumerate() {
                let y = top + i as i32 * 24;
                draw_sample(&area, 4, y, style)?;
                area.draw(&Text::new(
                    name.clone(),
                    (44, y),
                    label_font.pos(text_anchor(HPos::Left, VPos::Center)),
                ))?;
            }
            // Notes under the entries, after a gap.
            let top = top + entries.len() as i32 * 24 + 14;
            for (i, note) in self.notes.iter().enumerate() {
                area.draw(&Text::new(
                    note.clone(),
                    (4, top + i as i32 * 22),
                    label_font.pos(text_anchor(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    }
}
