//! patchscope's interactive console.
//!
//! The console is split the way ratatui's examples and tools such as
//! `bottom` and `gitui` are:
//!
//! * [`app::App`] is the whole state, and pure: it takes key events
//!   ([`app::App::on_key`]), snapshots ([`app::App::on_snapshot`]) and the
//!   results of controls, and answers with [`app::Request`]s (quit, plan a
//!   control, execute a confirmed plan). It never touches the terminal or the
//!   kernel, so every behaviour is unit-testable.
//! * [`draw::draw`] renders an [`app::App`] into a ratatui frame; each pane
//!   lives in a module named for what it draws ([`overview`],
//!   [`transition`], [`patches`], [`threads`], [`stack`], [`events`],
//!   [`popup_confirm`], [`popup_help`], [`popup_detail`], [`status`]).
//! * [`run()`] owns the terminal: raw mode and the alternate screen, restored
//!   on quit, on panic (a panic hook) and on SIGTERM/SIGHUP/SIGINT/SIGQUIT;
//!   an input thread; and the refresh tick at [`UiOptions::interval`].
//! * [`svg`] turns a rendered buffer into an SVG image (the screenshots in
//!   `screenshots/` are made with it from the real drawing code).
//!
//! Untrusted text (patch, thread, function names, stack lines, messages
//! built from them) is kept raw in the model and passed through
//! [`kmod_bridge::sanitize::for_terminal`] by the views, right before it is
//! drawn.

// No panicking on external data: indexing and slicing that could go out
// of bounds are denied in library code (`get` instead); unit and
// integration tests are exempt. `unwrap_used` is denied workspace-wide.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::string_slice, clippy::panic)
)]

pub mod app;
pub mod draw;
pub mod events;
pub mod overview;
pub mod patches;
pub mod popup_confirm;
pub mod popup_detail;
pub mod popup_help;
pub mod screenshots;
pub mod stack;
pub mod status;
pub mod svg;
pub mod terminal;
pub mod theme;
pub mod threads;
pub mod transition;

use std::time::Duration;

pub use app::{App, Request};
pub use draw::draw;
pub use terminal::{Exit, run};

/// How the console runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiOptions {
    /// Time between two snapshots (the `--interval` flag; default 1 s).
    pub interval: Duration,
    /// No controls at all: no keys, no hints, no help entries for them.
    pub read_only: bool,
    /// A banner shown on every screen, e.g. "SIMULATED KERNEL — scenario
    /// stalled, seed 1" for `patchscope demo`.
    pub banner: Option<String>,
    /// A transition without progress for this long is called stalled.
    pub stall_after: Duration,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            read_only: false,
            banner: None,
            stall_after: Duration::from_secs(60),
        }
    }
}
