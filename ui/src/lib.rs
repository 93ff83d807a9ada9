//! The interactive console (being written).
