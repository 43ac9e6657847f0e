//! socialbench-harness (being written).

/// Plots of a run or a sweep: SVG and PNG, drawn with a bundled font.
pub mod plot;
