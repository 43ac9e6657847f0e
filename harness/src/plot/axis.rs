//! Axes: what they measure, how values map onto them (linear, log, "nines"),
//! where the ticks go and how they are labelled (units, compact numbers).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// How values map onto an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic; values <= 0 cannot be shown.
    Log,
}

/// What an axis measures: decides tick placement and labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Quantity {
    /// A plain number, labelled compactly (`250k`, `1.2M`).
    Number,
    /// A small integer such as a thread count: ticks at the values present.
    Integer,
    /// Nanoseconds. Log axes label each tick with its unit (`10µs`, `1ms`),
    /// which reads better across six decades than one unit for all; linear
    /// axes pick one unit and put it in the axis title.
    DurationNs,
    /// Bytes; the axis title gets the binary unit chosen (`MiB`).
    Bytes,
    /// Percentiles already mapped to "nines" (`-log10(1 - p/100)`: 90% -> 1,
    /// 99% -> 2, ...); `max_at` is where the maximum was placed, labelled `max`.
    Nines {
        /// Position of the `max` tick, if any.
        max_at: Option<f64>,
    },
    /// Named categories at x = 0, 1, 2, ...
    Category(Vec<String>),
}

/// One axis.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    /// Title, with the unit where the unit does not depend on the data.
    pub label: String,
    /// What is measured.
    pub quantity: Quantity,
    /// Linear or log.
    pub scale: Scale,
    /// Whether a linear range must include 0 (throughput, sizes).
    pub from_zero: bool,
}

impl Axis {
    /// A linear axis starting at zero.
    pub(crate) fn zero_based(label: impl Into<String>, quantity: Quantity) -> Axis {
        Axis {
            label: label.into(),
            quantity,
            scale: Scale::Linear,
            from_zero: true,
        }
    }

    /// A log axis.
    pub(crate) fn log(label: impl Into<String>, quantity: Quantity) -> Axis {
        Axis {
            label: label.into(),
            quantity,
            scale: Scale::Log,
            from_zero: false,
        }
    }

    /// Maps a value onto the axis, `None` if it cannot be shown.
    pub(crate) fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self.scale {
            Scale::Linear => Some(v),
            Scale::Log if v > 0.0 => Some(v.log10()),
            Scale::Log => None,
        }
    }
}
/// An axis laid out for drawing: range, ticks and labels in mapped space.
pub(crate) struct Layout {
    /// Range start, mapped.
    pub lo: f64,
    /// Range end, mapped.
    pub hi: f64,
    /// Labelled ticks (bold grid lines), mapped.
    pub bold: Vec<f64>,
    /// Unlabelled light grid lines, mapped.
    pub light: Vec<f64>,
    /// Axis title, with the unit chosen for the data.
    pub title: String,
    /// Tick label of a mapped value.
    pub label: Box<dyn Fn(f64) -> String>,
}

impl Layout {
    /// The plotters coordinate of this layout.
    pub(crate) fn ticks(&self) -> Ticks {
        Ticks {
            lo: self.lo,
            hi: self.hi,
            bold: self.bold.clone(),
            light: self.light.clone(),
        }
    }
}

/// A linear f64 coordinate with exactly the ticks we chose. (plotters'
/// `with_key_points` would do, but it keeps f64's `NoDefaultFormatting`, which
/// `configure_mesh` refuses.)
pub(crate) struct Ticks {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticks {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Lays out an axis over the mapped values.
pub(crate) fn layout(axis: &Axis, values: impl Iterator<Item = f64>) -> Layout {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        min = min.min(v);
        max = max.max(v);
    }
    let empty = min > max;
    match (&axis.quantity, axis.scale) {
        (Quantity::Category(names), _) => {
            let names = names.clone();
            let n = names.len().max(1);
            Layout {
                lo: -0.5,
                hi: n as f64 - 0.5,
                bold: (0..n).map(|i| i as f64).collect(),
                light: Vec::new(),
                title: axis.label.clone(),
                label: Box::new(move |v| {
                    let i = v.round();
                    if i >= 0.0 && (i as usize) < names.len() {
                        names[i as usize].clone()
                    } else {
                        String::new()
                    }
                }),
            }
        }
        (Quantity::Nines { max_at }, _) => {
            let top = max_at
                .unwrap_or(if empty { 4.0 } else { max.max(1.0) })
                .ceil();
            let max_at = *max_at;
            let mut bold: Vec<f64> = (0..=top as usize).map(|k| k as f64).collect();
            if let Some(m) = max_at {
                bold.retain(|&v| v < m);
                bold.push(m);
            }
            Layout {
                lo: 0.0,
                hi: top + 0.25,
                bold,
                // 50%, 80%, 95%, 98%, 99.5% ... as light lines.
                light: (0..top as i32)
                    .flat_map(|k| [2.0, 5.0].map(|f: f64| k as f64 + f.log10()))
                    .collect(),
                title: axis.label.clone(),
                label: Box::new(move |v| {
                    if max_at.is_some_and(|m| (v - m).abs() < 1e-9) {
                        return "max".to_string();
                    }
                    nines_label(v)
                }),
            }
        }
        (q, Scale::Log) => {
            let (lo, hi) = if empty {
                (0.0, 3.0)
            } else {
                let lo = min.floor();
                let hi = max.ceil();
                (lo, if hi > lo { hi } else { lo + 1.0 })
            };
            let decades = (hi - lo) as usize;
            // Label every decade, or every other one past eight decades.
            let every = if decades > 8 { 2 } else { 1 };
            let mut bold: Vec<f64> = (0..=decades)
                .filter(|d| d % every == 0)
                .map(|d| lo + d as f64)
                .collect();
            if decades == 1 {
                bold.extend([2.0f64.log10() + lo, 5.0f64.log10() + lo]);
            }
            let light = (0..decades)
                .flat_map(|d| (2..10).map(move |k| lo + d as f64 + (k as f64).log10()))
                .collect();
            let q = q.clone();
            let title = match q {
                Quantity::DurationNs => format!("{} (log scale)", axis.label),
                Quantity::Bytes => format!("{} (bytes, log scale)", axis.label),
                _ => format!("{} (log scale)", axis.label),
            };
            Layout {
                lo,
                hi,
                bold,
                light,
                title,
                label: Box::new(move |v| {
                    let n = 10f64.powf(v);
                    match q {
                        Quantity::DurationNs => duration_label(n),
                        Quantity::Bytes => bytes_label(n),
                        _ => compact(n),
                    }
                }),
            }
        }
        (q, Scale::Linear) => {
            let (mut lo, mut hi) = if empty { (0.0, 1.0) } else { (min, max) };
            if axis.from_zero {
                lo = lo.min(0.0);
                hi = hi.max(0.0);
            }
            if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.5 };
                hi += pad;
                if !axis.from_zero || lo < 0.0 {
                    lo -= pad;
                }
            }
            if *q != Quantity::Integer {
                // Headroom, so a line at the maximum (efficiency 1) is not the frame.
                hi += (hi - lo) * 0.04;
            }
            match q {
                Quantity::Integer => integer_layout(axis, lo, hi),
                Quantity::Bytes => {
                    let (div, unit) = bytes_unit(hi.abs().max(lo.abs()));
                    let (lo, hi, bold, light) = nice(lo, hi, div);
                    Layout {
                        lo,
                        hi,
                        bold,
                        light,
                        title: format!("{} ({unit})", axis.label),
                        label: Box::new(move |v| trim(v / div)),
                    }
                }
                Quantity::DurationNs => {
                    let (div, unit) = duration_unit(hi.abs().max(lo.abs()));
                    let (lo, hi, bold, light) = nice(lo, hi, div);
                    Layout {
                        lo,
                        hi,
                        bold,
                        light,
                        title: format!("{} ({unit})", axis.label),
                        label: Box::new(move |v| trim(v / div)),
                    }
                }
                _ => {
                    let (lo, hi, bold, light) = nice(lo, hi, 1.0);
                    Layout {
                        lo,
                        hi,
                        bold,
                        light,
                        title: axis.label.clone(),
                        label: Box::new(compact),
                    }
                }
            }
        }
    }
}

/// Ticks at the integers present when few, otherwise nice steps; the range
/// starts at 0 and leaves half a step of air at the top.
fn integer_layout(axis: &Axis, lo: f64, hi: f64) -> Layout {
    let (lo, hi, bold, light) = nice(lo.floor(), hi.ceil(), 1.0);
    let step = bold
        .get(1)
        .zip(bold.first())
        .map_or(1.0, |(b, a)| b - a)
        .max(1.0);
    Layout {
        lo,
        hi: hi + step * 0.25,
        bold: bold.into_iter().filter(|v| v.fract() == 0.0).collect(),
        light,
        title: axis.label.clone(),
        label: Box::new(|v| format!("{v:.0}")),
    }
}

/// Nice linear ticks over `[lo, hi]`, in steps of 1, 2 or 5 times a power of
/// ten of the display unit `div`: returns the widened range, bold and light ticks.
fn nice(lo: f64, hi: f64, div: f64) -> (f64, f64, Vec<f64>, Vec<f64>) {
    let span = (hi - lo) / div;
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    } * mag
        * div;
    // The tolerance keeps a bound that sits on a tick from growing a step.
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    let bold: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
    let light = (first..last).map(|k| (k as f64 + 0.5) * step).collect();
    (first as f64 * step, last as f64 * step, bold, light)
}

/// `0.95` -> `"0.95"`, `12.50` -> `"12.5"`, `1234` -> `"1234"`: at least three
/// significant digits, no trailing zeros.
pub(crate) fn trim(v: f64) -> String {
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else {
        (2.0 - a.log10().floor()).clamp(0.0, 12.0) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Compact numbers for ticks: `950`, `12.5k`, `3M`, `1.2G`.
pub(crate) fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

/// The unit for durations up to `max_ns`: (nanoseconds per unit, name).
fn duration_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns < 1e4 {
        (1.0, "ns")
    } else if max_ns < 1e7 {
        (1e3, "µs")
    } else if max_ns < 1e10 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

/// A duration with its own unit: `500ns`, `10µs`, `2ms`, `1s`.
pub(crate) fn duration_label(ns: f64) -> String {
    let (div, unit) = if ns < 1e3 {
        (1.0, "ns")
    } else if ns < 1e6 {
        (1e3, "µs")
    } else if ns < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    };
    format!("{}{unit}", trim(ns / div))
}

/// The binary unit for sizes up to `max`: (bytes per unit, name).
fn bytes_unit(max: f64) -> (f64, &'static str) {
    const K: f64 = 1024.0;
    if max < 10.0 * K {
        (1.0, "bytes")
    } else if max < 10.0 * K * K {
        (K, "KiB")
    } else if max < 10.0 * K * K * K {
        (K * K, "MiB")
    } else {
        (K * K * K, "GiB")
    }
}

fn bytes_label(b: f64) -> String {
    let (div, unit) = bytes_unit(b / 9.0);
    format!("{}{unit}", trim(b / div))
}

/// The percentile at "nines" position `v`: 0 -> `0%`, 1 -> `90%`, 3 -> `99.9%`.
pub(crate) fn nines_label(v: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-v));
    let k = v.round();
    if (v - k).abs() < 1e-9 && k >= 1.0 {
        // Exact nines: print them, free of float noise.
        return format!("{}%", nines_string(k as usize));
    }
    format!("{}%", trim(p))
}

/// `1` -> `"90"`, `2` -> `"99"`, `3` -> `"99.9"`, `4` -> `"99.99"`.
fn nines_string(k: usize) -> String {
    match k {
        0 => "0".to_string(),
        1 => "90".to_string(),
        _ => format!(
            "99{}{}",
            if k > 2 { "." } else { "" },
            "9".repeat(k.saturating_sub(2))
        ),
    }
}

/// Maps a percentile (0..100) to its "nines" position; `None` at or past 100.
pub(crate) fn nines(p: f64) -> Option<f64> {
    if (0.0..100.0).contains(&p) {
        Some(-(1.0 - p / 100.0).log10())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_round_trip_to_labels() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(nines(90.0).unwrap_or(f64::NAN)), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
        assert_eq!(nines_label(nines(50.0).unwrap_or(f64::NAN)), "50%");
        assert_eq!(nines(100.0), None);
    }

    #[test]
    fn tick_labels_are_short_and_carry_units() {
        assert_eq!(duration_label(100.0), "100ns");
        assert_eq!(duration_label(1e4), "10µs");
        assert_eq!(duration_label(2.5e6), "2.5ms");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(1_200_000.0), "1.2M");
        assert_eq!(trim(0.05), "0.05");
        assert_eq!(trim(12.5), "12.5");
    }

    #[test]
    fn flat_and_empty_ranges_are_widened() {
        let a = Axis::zero_based("x", Quantity::Number);
        let l = layout(&a, [5.0].into_iter());
        assert!(l.lo <= 0.0 && l.hi > 5.0, "{} {}", l.lo, l.hi);
        let l = layout(&a, std::iter::empty());
        assert!(l.hi > l.lo);
        let g = Axis::log("y", Quantity::DurationNs);
        let l = layout(&g, [3.0].into_iter());
        assert!(l.hi > l.lo && l.lo <= 3.0 && l.hi >= 3.0);
    }
}
