//! What the harness concludes from measurements, apart from how they were
//! taken or where they are written: the per-cell medians, C1 and efficiency
//! of a sweep's rows ([`cells`]). Tables and plots both read their figures
//! from here, so the two always agree.

pub mod cells;
