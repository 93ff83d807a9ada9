//! The terminal side: set-up and restoration, the event loop, signals.
//!
//! The terminal is put back (raw mode off, main screen, cursor shown) on
//! every way out: a normal quit, an error (a drop guard), a panic (a panic
//! hook that restores before the previous hook prints), and SIGTERM,
//! SIGHUP, SIGINT or SIGQUIT (forwarded by a signal thread to the loop,
//! which leaves cleanly). Keys are read on their own thread; the loop waits
//! for a key, a signal or the next refresh tick, whichever comes first, so
//! an idle console wakes once per interval.

use std::io::{self, IsTerminal, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use kmod_bridge::Source;
use kmod_bridge::source::unix_now;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::app::{App, Request};
use crate::{UiOptions, draw};

/// Shortest refresh interval accepted; shorter ones are raised to it so a
/// typo cannot turn the console into a busy loop.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The user quit.
    Quit,
    /// A signal (its number) ended it; the terminal is restored. The caller
    /// should exit with status 128 + signal, as shells expect.
    Signal(i32),
}

/// True while the console owns the terminal, so the panic hook restores
/// only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Put the terminal back: raw mode off, main screen, cursor visible.
/// Safe to call more than once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Restore first, so the panic message lands on a usable screen.
        restore();
        previous(info);
    }));
}

/// Restores the terminal when dropped (early returns, errors).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

enum Msg {
    Input(Event),
    InputFailed(io::Error),
    Signal(i32),
}

fn spawn_input(tx: Sender<Msg>, stop: Arc<AtomicBool>) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("patchscope-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Poll with a timeout so the thread notices `stop`.
                match event::poll(Duration::from_millis(250)) {
                    Ok(false) => continue,
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            if tx.send(Msg::Input(ev)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::InputFailed(e));
                            return;
                        }
                    },
                    Err(e) => {
                        let _ = tx.send(Msg::InputFailed(e));
                        return;
                    }
                }
            }
        })
}

fn read(source: &mut dyn Source) -> Result<kmod_bridge::Snapshot, String> {
    source.snapshot().map_err(|e| e.to_string())
}

/// Run the console on `source` until the user quits or a signal arrives.
///
/// Needs a terminal on stdin and stdout. The terminal is restored on every
/// way out, including panics.
pub fn run(mut source: Box<dyn Source>, opts: UiOptions) -> io::Result<Exit> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(io::Error::other(
            "the console needs a terminal on stdin and stdout; for scripts use `patchscope status` or `patchscope status --json`",
        ));
    }
    let interval = opts.interval.max(MIN_INTERVAL);
    let (tx, rx) = mpsc::channel();

    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .map_err(|e| io::Error::other(format!("installing signal handlers failed: {e}")))?;
    let signal_handle = signals.handle();
    let sig_tx = tx.clone();
    thread::Builder::new()
        .name("patchscope-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = sig_tx.send(Msg::Signal(sig));
            }
        })?;

    install_panic_hook();
    enable_raw_mode()
        .map_err(|e| io::Error::other(format!("switching the terminal to raw mode failed: {e}")))?;
    ACTIVE.store(true, Ordering::SeqCst);
    let _guard = Guard;
    execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;

    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx, Arc::clone(&stop))?;

    let mut app = App::new(opts, source.capabilities());
    app.on_snapshot(read(source.as_mut()), unix_now());
    let result = event_loop(&mut terminal, &mut app, source.as_mut(), &rx, interval);

    stop.store(true, Ordering::Relaxed);
    signal_handle.close();
    restore();
    drop(terminal);
    let _ = input.join();
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    source: &mut dyn Source,
    rx: &mpsc::Receiver<Msg>,
    interval: Duration,
) -> io::Result<Exit> {
    let mut next_tick = Instant::now() + interval;
    loop {
        if Instant::now() >= next_tick {
            if !app.paused {
                app.on_snapshot(read(source), unix_now());
            }
            next_tick = Instant::now() + interval;
        }
        terminal.draw(|f| draw::draw(f, app))?;
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Msg::Input(Event::Key(key))) => match app.on_key(key) {
                Request::None => {}
                Request::Quit => return Ok(Exit::Quit),
                Request::Plan(action) => {
                    let plan = source.plan(&action);
                    app.on_plan(plan);
                }
                Request::Execute(plan) => {
                    let result = source.execute(&plan);
                    app.on_executed(&plan, result, unix_now());
                    // Show the effect right away rather than at the next tick.
                    app.on_snapshot(read(source), unix_now());
                }
            },
            Ok(Msg::Input(_)) => {} // resize and others: redraw
            Ok(Msg::InputFailed(e)) => {
                return Err(io::Error::other(format!(
                    "reading the keyboard failed: {e}"
                )));
            }
            Ok(Msg::Signal(sig)) => return Ok(Exit::Signal(sig)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(Exit::Quit),
        }
    }
}
