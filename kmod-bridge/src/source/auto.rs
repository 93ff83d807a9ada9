//! auto source (being written).
