//! socialbench-harness (being written).
