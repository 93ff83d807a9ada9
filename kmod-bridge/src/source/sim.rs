//! sim source (being written).
