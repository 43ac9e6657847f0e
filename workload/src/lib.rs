//! socialbench-workload (being written).
