//! linux source (being written).
