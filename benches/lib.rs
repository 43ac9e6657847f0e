//! The benches live in `main.rs` (`cargo bench`); this empty library only
//! gives the package a target that cargo builds and tests trivially.
