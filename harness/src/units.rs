//! How numbers are written for people, in tables, progress lines and plots
//! alike: one spelling of every unit (`ns`, `us`, `ms`, `s`; `k`, `M`, `G`;
//! `KiB`, `MiB`, `GiB`), ASCII only so that every terminal and font shows it.

/// Nanoseconds with a unit and fixed decimals, for tables: `850ns`,
/// `12.3us`, `4.56ms`, `1.20s`.
pub fn human_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}us", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", v / 1e6)
    } else {
        format!("{:.2}s", v / 1e9)
    }
}

/// A rate with fixed decimals, for tables: `950`, `12.3k`, `4.56M`.
pub fn human_rate(r: f64) -> String {
    if r < 1e3 {
        format!("{r:.0}")
    } else if r < 1e6 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{:.2}M", r / 1e6)
    }
}

/// `v` with at most 2 decimals and no trailing zeros: `1.5`, `2`, `0.25`.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number as short as it goes, for ticks and notes: `950`, `12.5k`, `3M`, `1.2G`.
pub fn compact(v: f64) -> String {
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

/// A duration as short as it goes, for ticks: `500ns`, `10us`, `2.5ms`, `1s`.
pub fn compact_ns(ns: f64) -> String {
    let (div, unit) = if ns < 1e3 {
        (1.0, "ns")
    } else if ns < 1e6 {
        (1e3, "us")
    } else if ns < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    };
    format!("{}{unit}", trim(ns / div))
}

/// The binary unit to write `b` bytes in: (bytes per unit, name), the
/// largest unit not above `b` (`bytes` below 1 KiB).
pub fn bytes_unit(b: f64) -> (f64, &'static str) {
    const K: f64 = 1024.0;
    if b < K {
        (1.0, "bytes")
    } else if b < K * K {
        (K, "KiB")
    } else if b < K * K * K {
        (K * K, "MiB")
    } else {
        (K * K * K, "GiB")
    }
}

/// A size in binary units as short as it goes, for ticks: `512bytes`, `1.5KiB`, `3MiB`.
pub fn compact_bytes(b: f64) -> String {
    let (div, unit) = bytes_unit(b);
    format!("{}{unit}", trim(b / div))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_has_one_ascii_spelling() {
        assert_eq!(human_ns(850), "850ns");
        assert_eq!(human_ns(12_345), "12.3us");
        assert_eq!(human_ns(4_560_000), "4.56ms");
        assert_eq!(human_ns(1_200_000_000), "1.20s");
        assert_eq!(human_rate(950.0), "950");
        assert_eq!(human_rate(12_345.0), "12.3k");
        assert_eq!(human_rate(4_560_000.0), "4.56M");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(3e6), "3M");
        assert_eq!(compact_ns(1e4), "10us");
        assert_eq!(compact_ns(2.5e6), "2.5ms");
        assert_eq!(compact_bytes(1536.0), "1.5KiB");
        assert_eq!(compact_bytes(3.0 * 1024.0 * 1024.0), "3MiB");
        assert_eq!(
            bytes_unit(200.0 * 1024.0 * 1024.0),
            (1024.0 * 1024.0, "MiB")
        );
    }
}
