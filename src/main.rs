//! The `patchscope` binary (being written).
fn main() {}
