//! dump source (being written).
