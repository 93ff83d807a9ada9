//! The Prometheus exporter (being written).
