//! History over snapshots (being written).
