//! What the harness concludes from measurements, apart from how they were
//! taken or where they are written. Tables and plots read their figures
//! from here, so the two always agree; every method is named in
//! `results/README.md`.
//!
//! | module | what |
//! |---|---|
//! | [`dist`] | normal and t quantiles, binomial tails |
//! | [`interval`] | the mean's t-interval, the median's order-statistic interval |
//! | [`paired`] | verdicts from paired, interleaved passes |
//! | [`batch`] | within-run throughput: batch means and a stationarity check |
//! | [`hist`] | within-run percentiles: rank intervals from an HDR histogram; KS distance |

pub mod batch;
pub mod dist;
pub mod hist;
pub mod interval;
pub mod paired;

pub use interval::{Estimate, LEVEL};
pub use paired::{Paired, Verdict};
