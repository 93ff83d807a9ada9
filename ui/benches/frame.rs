//! Frame cost with 100,000 blocked threads, on ratatui's `TestBackend`.
//!
//! `cargo bench -p patchscope-ui --bench frame` prints the median (and
//! p10/p90) of:
//! * **draw**: one frame of the main view (120x40), the per-keypress and
//!   per-tick cost; only the visible rows of the thread table are built;
//! * **draw, stack popup**: the same with the selected thread's stack open;
//! * **refresh**: taking in a new snapshot (watch history, blocked-since
//!   table, filter and sort of the thread list), once per `--interval`;
//! * **refresh + draw**: both, i.e. a whole tick.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use patchscope_ui::{App, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const THREADS: u32 = 100_000;

fn measure(name: &str, runs: usize, mut f: impl FnMut()) {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<40} median {:>9.3} ms   p10 {:>9.3} ms   p90 {:>9.3} ms   ({runs} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.1).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let runs = if quick { 3 } else { 200 };
    let snap = common::many(THREADS);
    let mut app = App::new(UiOptions::default(), common::caps());
    app.on_snapshot(Ok(snap.clone()), common::T0);
    assert_eq!(app.threads.view.len(), THREADS as usize);
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    println!("{THREADS} blocked threads, 120x40 TestBackend");

    measure("draw", runs, || {
        term.draw(|f| patchscope_ui::draw(f, black_box(&app)))
            .unwrap();
    });
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    measure("draw, stack popup", runs, || {
        term.draw(|f| patchscope_ui::draw(f, black_box(&app)))
            .unwrap();
    });
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));

    let refresh_runs = if quick { 2 } else { 30 };
    let mut at = common::T0;
    measure("refresh (new snapshot)", refresh_runs, || {
        at += 1.0;
        let mut s = snap.clone();
        s.taken_at = at;
        app.on_snapshot(Ok(black_box(s)), at);
    });
    measure("refresh + draw (a whole tick)", refresh_runs, || {
        at += 1.0;
        let mut s = snap.clone();
        s.taken_at = at;
        app.on_snapshot(Ok(black_box(s)), at);
        term.draw(|f| patchscope_ui::draw(f, &app)).unwrap();
    });
    // Cloning the snapshot is the source's cost, not the console's: shown
    // so it can be subtracted from the refresh figures.
    measure("(snapshot clone, for reference)", refresh_runs, || {
        black_box(snap.clone());
    });
}
