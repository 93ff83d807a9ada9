//! kmod-bridge: the live-patch model of patchscope, the sources that fill it
//! (FreeBSD `kern.livepatch` MIB, Linux klp sysfs/procfs, the simulated
//! kernel, captured dumps), the controls (revert, force, signal), and the
//! watch that turns successive snapshots into history, stall verdicts and
//! events.
//!
//! * [`model`]: the snapshot; its serde form is the `status --json` schema
//!   (`doc/status-json.md`).
//! * [`source`]: the [`source::Source`] trait and its implementations.
//! * [`control`]: plans and outcomes of control writes; [`audit`] logs them.
//! * [`watch`]: history over snapshots.
//! * [`sanitize`]: untrusted text made safe for terminals.
//!
//! The FreeBSD MIB contract is `doc/MIB.md`, with the C header
//! `include/livepatch_mib.h` for module authors.

// No panicking on external data: indexing and slicing that could go out
// of bounds are denied in library code (`get` instead); unit and
// integration tests are exempt. `unwrap_used` is denied workspace-wide.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::string_slice, clippy::panic)
)]

pub mod audit;
pub mod control;
pub mod error;
pub mod model;
pub mod sanitize;
pub mod source;
pub mod watch;

pub use error::SourceError;
pub use model::Snapshot;
pub use source::Source;
