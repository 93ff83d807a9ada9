//! A panic inside the running console leaves the terminal restored: main
//! screen back, tty in cooked mode with echo, cursor shown, and the panic
//! message readable on the main screen.
//!
//! The test runs its own test binary inside tmux (so the console has a real
//! terminal) with `PATCHSCOPE_PANIC_CHILD` set; the child runs the console
//! on a source whose second reading panics. Needs tmux: under CI (`CI` set)
//! a missing tmux fails the test, locally it prints why it skips.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use kmod_bridge::Source;
use kmod_bridge::error::SourceError;
use kmod_bridge::model::{Snapshot, SourceKind};
use patchscope_ui::UiOptions;

const CHILD_ENV: &str = "PATCHSCOPE_PANIC_CHILD";

/// Reads once, then panics.
struct PanickingSource {
    reads: u32,
}

impl Source for PanickingSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Sim
    }

    fn location(&self) -> String {
        "a source that panics".into()
    }

    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        self.reads += 1;
        if self.reads > 3 {
            panic!("deliberate panic in the console (test of terminal restoration)");
        }
        Ok(common::stalled(common::T0, 3, common::blockers()))
    }
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .env_remove("TMUX")
        .output()
        .unwrap_or_else(|e| panic!("running tmux {args:?} failed: {e}"))
}

#[test]
fn panic_restores_the_terminal() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // The child: run the console until the source panics.
        let _ = patchscope_ui::run(
            Box::new(PanickingSource { reads: 0 }),
            UiOptions {
                interval: Duration::from_millis(300),
                ..UiOptions::default()
            },
        );
        return;
    }
    let tmux_ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !tmux_ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required for the panic test under CI: install it (apt-get install tmux)"
        );
        eprintln!("skipping: tmux is not installed (the panic test runs the console in tmux)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let socket = format!("patchscope-panic-{}", std::process::id());
    let script = format!(
        "RUST_BACKTRACE=0 {CHILD_ENV}=1 {} --exact panic_restores_the_terminal --nocapture --test-threads 1; echo CHILD-EXIT=$?; stty -a | tr '\\n' ' '; echo; echo STTY-DONE; sleep 600",
        exe.display()
    );
    let out = tmux(
        &socket,
        &[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "p",
            "-x",
            "120",
            "-y",
            "40",
            &script,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let start = Instant::now();
    let screen = loop {
        let out = tmux(&socket, &["capture-pane", "-p", "-J", "-S", "-", "-t", "p"]);
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        if s.contains("STTY-DONE") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = tmux(&socket, &["kill-server"]);
            panic!("the child did not finish; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let display = |f: &str| {
        let out = tmux(&socket, &["display-message", "-p", "-t", "p", f]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (alt, cursor) = (display("#{alternate_on}"), display("#{cursor_flag}"));
    let _ = tmux(&socket, &["kill-server"]);
    assert!(
        screen.contains("deliberate panic in the console"),
        "panic message not on the main screen:\n{screen}"
    );
    assert!(
        !screen.contains("CHILD-EXIT=0"),
        "the child should fail:\n{screen}"
    );
    assert_eq!(alt, "0", "still on the alternate screen:\n{screen}");
    assert_eq!(cursor, "1", "cursor left hidden:\n{screen}");
    let stty = screen
        .lines()
        .find(|l| l.contains("icanon"))
        .unwrap_or_default();
    for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(
            stty.split_whitespace().any(|w| w == flag),
            "tty flag {flag} not restored: {stty}"
        );
    }
}
