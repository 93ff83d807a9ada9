//! End-to-end tests of the console: the real `patchscope` binary in a real
//! terminal (tmux), driven with `send-keys` and read with `capture-pane`.
//!
//! * `demo`: the stalled transition and a blocking function are on screen,
//!   help opens and closes, `r` → confirmation → `y` reverses the
//!   transition, which completes; `q` quits and the terminal is restored
//!   (main screen back, `stty` sane, cursor shown) and the audit line of
//!   the write is printed after the console.
//! * `demo --read-only`: no way to revert (no hint, no help entry, `r`
//!   does nothing).
//! * SIGTERM and resizes (down to 1x1) leave the terminal restored.
//!
//! Needs tmux. Under CI (`CI` set) a missing tmux fails the test; locally
//! the test prints why it skips.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_patchscope");

/// A private tmux server (its own socket, no user config) with one
/// session running a command; killed on drop.
struct Tmux {
    socket: String,
    session: &'static str,
}

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!(
                "tmux is required for the console end-to-end tests under CI: install it (apt-get install tmux)"
            );
        }
        eprintln!(
            "skipping: tmux is not installed (the console end-to-end tests drive the binary in tmux)"
        );
    }
    ok
}

impl Tmux {
    fn start(name: &str, args: &str) -> Tmux {
        let socket = format!("patchscope-test-{}-{name}", std::process::id());
        let t = Tmux {
            socket,
            session: "console",
        };
        // After the console exits, print its status and the tty state so
        // the test can check the terminal was restored.
        let script = format!(
            "{BIN} {args}; echo PATCHSCOPE-EXIT=$?; stty -a | tr '\\n' ' '; echo; echo STTY-DONE; sleep 600"
        );
        let out = t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            t.session,
            "-x",
            "120",
            "-y",
            "40",
            &script,
        ]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap_or_else(|e| panic!("running tmux {args:?} failed: {e}"))
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {out:?}");
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-t", self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", self.session, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Wait until the screen shows every one of `needles`.
    fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {needles:?}; the screen shows:\n{s}\n(alternate screen: {})",
                    self.display("#{alternate_on}")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the screen no longer shows `needle`.
    fn wait_gone(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if !s.contains(needle) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("waited {timeout:?} for {needle:?} to go; the screen shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The console's pid (the child of the pane's shell).
    fn console_pid(&self) -> Option<u32> {
        let shell = self.display("#{pane_pid}");
        let children = std::fs::read_to_string(
            Path::new("/proc")
                .join(&shell)
                .join("task")
                .join(&shell)
                .join("children"),
        )
        .ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// After the console exited: the main screen is back, the tty is in
    /// cooked mode with echo, the cursor is visible.
    fn assert_restored(&self, exit: &str) -> String {
        let s = self.wait_for(
            &[&format!("PATCHSCOPE-EXIT={exit}"), "STTY-DONE"],
            Duration::from_secs(15),
        );
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "still on the alternate screen:\n{s}"
        );
        assert_eq!(
            self.display("#{cursor_flag}"),
            "1",
            "cursor left hidden:\n{s}"
        );
        let stty = s
            .lines()
            .find(|l| l.contains("speed") || l.contains("icanon"))
            .unwrap_or_default()
            .to_string();
        for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
            assert!(
                stty.split_whitespace().any(|w| w == flag),
                "tty flag {flag} not restored: {stty}"
            );
        }
        s
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

const START: Duration = Duration::from_secs(30);

#[test]
fn without_a_terminal_the_console_says_what_to_use_instead() {
    let out = Command::new(BIN)
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("patchscope status"), "{err}");
}

#[test]
fn demo_shows_the_stall_reverts_it_and_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("revert", "demo");
    let s = t.wait_for(
        &[
            "SIMULATED KERNEL",
            "STALLED",
            "BLOCKING FUNCTION",
            "◀ blocking",
        ],
        START,
    );
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the console should use the alternate screen"
    );
    // A blocking function of the stalled scenario is named in the table.
    assert!(
        [
            "txg_wait_synced",
            "txg_sync_thread",
            "g_io_schedule_down",
            "bufwait",
            "zio_wait",
            "kern_poll"
        ]
        .iter()
        .any(|f| s.contains(f)),
        "no blocking function on screen:\n{s}"
    );
    // The hostile thread name is drawn escaped.
    assert!(s.contains("\\x1b"), "hostile name not shown escaped:\n{s}");

    t.keys(&["?"]);
    t.wait_for(&["Keys", "Ctrl-C", "revert the selected patch"], START);
    t.keys(&["Escape"]);
    t.wait_gone("revert the selected patch", START);

    // The patch in transition is selected at start, so r acts on it.
    t.keys(&["r"]);
    let s = t.wait_for(
        &[
            "Revert '",
            "Exact write",
            "kern.livepatch.patch.",
            "Enter = no",
        ],
        START,
    );
    assert!(s.contains("lp-2025.06-zfs-txg"), "{s}");
    t.keys(&["y"]);
    t.wait_for(&["reversed"], START);
    let s = t.wait_for(&["IDLE", "completed"], Duration::from_secs(60));
    assert!(!s.contains("STALLED  patching"), "{s}");

    t.keys(&["q"]);
    let s = t.assert_restored("0");
    // The write's audit line, held while the console ran, is printed after.
    assert!(
        s.contains("wrote 0 to kern.livepatch.patch.lp_2025_06_zfs_txg.enabled: ok"),
        "audit line missing after exit:\n{s}"
    );
}

#[test]
fn read_only_demo_offers_no_way_to_revert() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("readonly", "demo --read-only");
    let s = t.wait_for(&["SIMULATED KERNEL", "STALLED", "READ-ONLY"], START);
    assert!(
        !s.to_lowercase().contains("revert"),
        "read-only screen mentions revert:\n{s}"
    );
    t.keys(&["?"]);
    let s = t.wait_for(&["Keys", "Ctrl-C"], START);
    assert!(
        !s.to_lowercase().contains("revert"),
        "read-only help mentions revert:\n{s}"
    );
    assert!(!s.contains("force its transition"), "{s}");
    t.keys(&["Escape"]);
    t.wait_gone("Ctrl-C", START);
    t.keys(&["r"]);
    t.keys(&["f"]);
    std::thread::sleep(Duration::from_millis(1500));
    let s = t.screen();
    assert!(
        !s.contains("Exact write"),
        "a confirmation opened in read-only mode:\n{s}"
    );
    assert!(s.contains("STALLED"), "{s}");
    t.keys(&["q"]);
    t.assert_restored("0");
}

#[test]
fn sigterm_and_resizes_leave_the_terminal_restored() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("sigterm", "demo --interval 200ms");
    t.wait_for(&["STALLED"], START);
    for (w, h) in [
        ("30", "8"),
        ("1", "1"),
        ("2", "3"),
        ("60", "15"),
        ("120", "40"),
    ] {
        let out = t.run(&["resize-window", "-t", t.session, "-x", w, "-y", h]);
        assert!(out.status.success(), "resize-window {w}x{h}: {out:?}");
        std::thread::sleep(Duration::from_millis(400));
    }
    // Still alive and drawing after the resizes.
    t.wait_for(&["STALLED", "Blocked threads"], START);
    let pid = t
        .console_pid()
        .expect("finding the console's pid under the pane's shell");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    // 128 + SIGTERM (15).
    t.assert_restored("143");
}
