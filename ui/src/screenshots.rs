//! The screenshots in `screenshots/`: the main views drawn by the real
//! drawing code on the simulated kernel (scenario `stalled`, seed 1, manual
//! clock, so every run draws the same pictures), written as SVG by
//! [`crate::svg`].
//!
//! Regenerate with `cargo run -p patchscope-ui --example screenshots`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kmod_bridge::Source;
use kmod_bridge::control::ControlAction;
use kmod_bridge::source::freebsd::MibSource;
use kmod_bridge::source::sim::{self, Scenario, SimConfig, SimTree};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::{App, UiOptions};

/// Terminal size of the pictures.
pub const SIZE: (u16, u16) = (120, 40);

/// Read the simulator with its own clock as the time of reading, so the
/// pictures do not depend on when they are made.
fn read(source: &mut MibSource<SimTree>) -> Result<kmod_bridge::Snapshot, String> {
    let mut snap = source.snapshot().map_err(|e| e.to_string())?;
    snap.taken_at = source.tree().now();
    Ok(snap)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn draw(app: &App) -> io::Result<ratatui::buffer::Buffer> {
    // The test backend cannot fail (its error type is uninhabited).
    let mut term =
        Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).map_err(|e| -> io::Error { match e {} })?;
    term.draw(|f| crate::draw(f, app))
        .map_err(|e| -> io::Error { match e {} })?;
    Ok(term.backend().buffer().clone())
}

/// Draw the pictures into `dir`; returns the files written.
pub fn generate(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let seed = 1;
    let mut source = sim::open(SimConfig {
        seed,
        ..SimConfig::manual(Scenario::Stalled)
    })
    .map_err(|e| io::Error::other(e.to_string()))?;
    let caps = source.capabilities();
    let opts = UiOptions {
        banner: Some(format!("SIMULATED KERNEL — scenario stalled, seed {seed}")),
        ..UiOptions::default()
    };
    let mut app = App::new(opts, caps);
    // A minute and a half of watching, one reading every 3 s.
    for _ in 0..30 {
        let now = source.tree().now();
        app.on_snapshot(read(&mut source), now);
        source.tree_mut().advance(Duration::from_secs(3));
    }
    let now = source.tree().now();
    app.on_snapshot(read(&mut source), now);

    let mut written = Vec::new();
    let mut save = |name: &str, title: &str, app: &App| -> io::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, crate::svg::render(&draw(app)?, title))?;
        written.push(path);
        Ok(())
    };
    save(
        "overview-stalled.svg",
        "patchscope console: a stalled live-patch transition",
        &app,
    )?;

    // A kernel thread's stack, with the blocking frame marked.
    let txg = app
        .threads
        .view
        .iter()
        .position(|&i| {
            app.blocked_threads()
                .get(i)
                .is_some_and(|t| t.comm.starts_with("zfskern"))
        })
        .unwrap_or(0);
    app.on_key(key(KeyCode::Home));
    for _ in 0..txg {
        app.on_key(key(KeyCode::Down));
    }
    app.on_key(key(KeyCode::Enter));
    save(
        "blocked-thread-stack.svg",
        "patchscope console: the stack of a thread that blocks the transition",
        &app,
    )?;
    app.on_key(key(KeyCode::Esc));

    // The force confirmation, as the simulator plans it, name half typed.
    let patch = app
        .selected_patch()
        .map(|p| p.name.clone())
        .unwrap_or_default();
    app.on_plan(source.plan(&ControlAction::force(patch.clone())));
    for c in patch.chars().take(patch.chars().count() / 2) {
        app.on_key(key(KeyCode::Char(c)));
    }
    save(
        "force-confirmation.svg",
        "patchscope console: the confirmation of force",
        &app,
    )?;
    app.on_key(key(KeyCode::Esc));

    app.on_key(key(KeyCode::Char('?')));
    save("help.svg", "patchscope console: keys", &app)?;
    app.on_key(key(KeyCode::Esc));

    // Revert: confirmed, then the transition reverses and completes.
    app.on_plan(source.plan(&ControlAction::revert(patch)));
    save(
        "revert-confirmation.svg",
        "patchscope console: the confirmation of revert",
        &app,
    )?;
    if let Some(crate::app::Popup::Confirm(c)) = app.popup.take() {
        let result = source.execute(&c.plan);
        let now = source.tree().now();
        app.on_executed(&c.plan, result, now);
    }
    for _ in 0..4 {
        source.tree_mut().advance(Duration::from_secs(2));
        let now = source.tree().now();
        app.on_snapshot(read(&mut source), now);
    }
    save(
        "after-revert.svg",
        "patchscope console: the transition reversed and completed",
        &app,
    )?;
    Ok(written)
}
