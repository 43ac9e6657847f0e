//! Plots of runs and sweeps (being written).
