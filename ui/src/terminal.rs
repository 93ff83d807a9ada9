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

/// Put the terminal back: raw mode off, main screen, cursor visible, and
/// stderr back on the terminal with what was written to it meanwhile.
/// Safe to call more than once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
    stderr_capture::release();
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
    // The audit log of control writes (and any library) prints to stderr;
    // on the console's screen that would scribble over the panes. Hold it
    // and print it after the console ends.
    stderr_capture::start();
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

/// Holding stderr while the console owns the terminal.
///
/// When stderr is the terminal, fd 2 is pointed at a pipe whose reader
/// thread keeps the bytes (up to [`stderr_capture::LIMIT`]); [`release`]
/// points fd 2 back and prints them. When stderr is a file or a pipe it is
/// left alone: it cannot disturb the screen.
#[cfg(unix)]
mod stderr_capture {
    use std::io::{IsTerminal, Read, Write};
    use std::os::fd::{FromRawFd, RawFd};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    /// Most bytes kept; more are counted and dropped.
    pub const LIMIT: usize = 1 << 20;

    struct Capture {
        saved: RawFd,
        buf: Arc<Mutex<(Vec<u8>, usize)>>,
        reader: JoinHandle<()>,
    }

    static CAPTURE: Mutex<Option<Capture>> = Mutex::new(None);

    /// Start holding stderr (no-op when it is not a terminal or already held).
    pub fn start() {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let Ok(mut slot) = CAPTURE.lock() else { return };
        if slot.is_some() {
            return;
        }
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `fds` is a valid array of two ints for pipe() to fill.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        let [read_fd, write_fd] = fds;
        // SAFETY: dup of fd 2, which is open (it is a terminal).
        let saved = unsafe { libc::dup(2) };
        // SAFETY: `write_fd` is the open write end of the pipe; dup2 onto 2
        // atomically replaces stderr. Our copy of the write end is closed
        // afterwards so the reader sees EOF once fd 2 is restored.
        let ok = saved >= 0 && unsafe { libc::dup2(write_fd, 2) } >= 0;
        // SAFETY: closing the pipe's write end we own (fd 2 holds its own).
        unsafe { libc::close(write_fd) };
        if !ok {
            // SAFETY: closing fds we opened above and no longer need.
            unsafe {
                libc::close(read_fd);
                if saved >= 0 {
                    libc::close(saved);
                }
            }
            return;
        }
        // SAFETY: `read_fd` is an open fd owned by nobody else from here on.
        let mut pipe = unsafe { std::fs::File::from_raw_fd(read_fd) };
        let buf = Arc::new(Mutex::new((Vec::new(), 0usize)));
        let sink = Arc::clone(&buf);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if let Ok(mut b) = sink.lock() {
                            let room = LIMIT.saturating_sub(b.0.len());
                            let take = n.min(room);
                            b.0.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
                            b.1 += n - take;
                        }
                    }
                }
            }
        });
        *slot = Some(Capture { saved, buf, reader });
    }

    /// Put stderr back and print what was held.
    pub fn release() {
        // try_lock: never block in a panic hook.
        let Ok(mut slot) = CAPTURE.try_lock() else {
            return;
        };
        let Some(c) = slot.take() else { return };
        // SAFETY: `c.saved` is our dup of the original stderr; dup2 puts it
        // back on fd 2 (closing the pipe's last write end), then our copy
        // is closed.
        unsafe {
            libc::dup2(c.saved, 2);
            libc::close(c.saved);
        }
        let _ = c.reader.join();
        if let Ok(b) = c.buf.lock() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&b.0);
            if b.1 > 0 {
                let _ = writeln!(
                    err,
                    "patchscope: {} more bytes of messages were dropped",
                    b.1
                );
            }
        }
    }
}

#[cfg(not(unix))]
mod stderr_capture {
    pub fn start() {}
    pub fn release() {}
}
