//! Faults of the Linux klp interfaces, injected in fixture trees: files
//! that are huge, empty, garbage, directories, symlink loops or devices;
//! threads and processes that vanish while a churn thread removes them;
//! no permission on a required file; a kernel without module signing;
//! control writes the "kernel" answers with an error. Each either gives a
//! clear error naming the file or a degraded view that says what it could
//! not see, never a panic or a wrong value.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "common/linux_fixture.rs"]
mod linux_fixture;

use std::fs;
use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kmod_bridge::audit;
use kmod_bridge::control::{ControlAction, ControlError};
use kmod_bridge::model::Snapshot;
use kmod_bridge::source::linux::LinuxSource;
use kmod_bridge::{Source, SourceError};
use linux_fixture::{Kernel, LinuxFixture, unprivileged};

/// The audit capture is process-wide: one control test at a time.
static AUDIT: Mutex<()> = Mutex::new(());

fn audit_lock() -> std::sync::MutexGuard<'static, ()> {
    let guard = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    audit::capture();
    guard
}

fn source(fx: &LinuxFixture) -> LinuxSource {
    LinuxSource::open(fx.config()).unwrap()
}

fn snap(fx: &LinuxFixture) -> Snapshot {
    source(fx).snapshot().unwrap()
}

fn has_limitation(s: &Snapshot, needle: &str) -> bool {
    s.limitations.iter().any(|l| l.contains(needle))
}

/// A patch in transition to patched with one function.
fn stalled(fx: &LinuxFixture) {
    fx.patch("p", Kernel::V6_13)
        .state(true, true)
        .object("vmlinux", true, &["vfs_read,1"]);
}

// ---------------------------------------------------------------------
// Module signatures

#[test]
fn signature_is_unknown_on_a_kernel_without_module_signing() {
    let fx = LinuxFixture::new();
    // No `E`: on a kernel that checks signatures this means signed...
    fx.patch("unsigned_but_clean", Kernel::V6_13).taint("OK");
    fx.patch("tainted", Kernel::V6_13).taint("OEK");
    let s = snap(&fx);
    assert_eq!(s.patch("unsigned_but_clean").unwrap().signed, Some(true));
    assert_eq!(s.patch("tainted").unwrap().signed, Some(false));
    // ...but a kernel built without CONFIG_MODULE_SIG has no sig_enforce
    // parameter and never sets `E`: nothing is known about signatures.
    fx.module_signing(false);
    let s = snap(&fx);
    assert_eq!(s.patch("unsigned_but_clean").unwrap().signed, None);
    assert_eq!(s.patch("tainted").unwrap().signed, None);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["patches"][0]["signed"].is_null(), "{json}");
}

// ---------------------------------------------------------------------
// Huge, empty and garbage files: reads are bounded

#[test]
fn huge_files_are_read_bounded() {
    let fx = LinuxFixture::new();
    stalled(&fx);
    // 8 MiB of stack, of comm, of wchan: only the first 64 KiB is read.
    let line = "[<0>] vfs_read+0x29/0x40\n";
    let huge_stack = line.repeat(8 * 1024 * 1024 / line.len());
    fx.thread(1, 1)
        .patch_state(0)
        .set("stack", &huge_stack)
        .set("comm", "x".repeat(8 << 20))
        .set("wchan", "w".repeat(8 << 20));
    let s = snap(&fx);
    let b = &s.blocked_threads[0];
    let stack_bytes: usize = b.stack.iter().map(String::len).sum();
    assert!(
        stack_bytes <= 64 * 1024,
        "{stack_bytes} bytes of stack kept"
    );
    assert!(b.stack.len() < 64 * 1024 / 20, "{} frames", b.stack.len());
    assert_eq!(b.blocking_function.as_deref(), Some("vfs_read"));
    assert!(b.comm.len() <= 64 * 1024, "{}", b.comm.len());
    assert!(b.wchan.as_ref().unwrap().len() <= 64 * 1024);
    // A huge required value is garbage, named, quoted short.
    fs::write(fx.patch_dir("p").join("enabled"), "1".repeat(1 << 20)).unwrap();
    let e = source(&fx).snapshot().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SourceError::Parse { .. }), "{msg}");
    assert!(msg.contains("p/enabled: expected 0 or 1"), "{msg}");
    assert!(msg.len() < 400, "message not bounded: {} bytes", msg.len());
}

#[test]
fn empty_files_are_garbage_or_unknown() {
    let fx = LinuxFixture::new();
    stalled(&fx);
    fx.patch("q", Kernel::V6_13)
        .set("replace", "")
        .set("stack_order", "");
    fx.thread(1, 1)
        .patch_state(0)
        .set("comm", "")
        .set("stat", "");
    fx.thread(2, 2).set("patch_state", "");
    let s = snap(&fx);
    let q = s.patch("q").unwrap();
    assert_eq!((q.replace, q.stack_order), (None, None));
    assert!(has_limitation(&s, "q/replace: expected 0 or 1, found \"\""));
    assert!(has_limitation(
        &s,
        "1 threads have an unreadable patch_state"
    ));
    let b = &s.blocked_threads[0];
    assert_eq!((b.comm.as_str(), b.state.as_str()), ("", "?"));
    fs::write(fx.patch_dir("q").join("transition"), "").unwrap();
    let msg = source(&fx).snapshot().unwrap_err().to_string();
    assert!(
        msg.contains("q/transition: expected 0 or 1, found \"\""),
        "{msg}"
    );
}

#[test]
fn odd_file_types_give_errors_naming_the_file() {
    let fx = LinuxFixture::new();
    stalled(&fx);
    // A directory where the stack should be, a symlink loop for wchan,
    // /dev/zero (endless) for comm: the thread is still listed.
    let t = fx.thread(1, 1);
    t.patch_state(0)
        .remove("stack")
        .remove("wchan")
        .remove("comm");
    fs::create_dir(t.dir.join("stack")).unwrap();
    symlink("wchan", t.dir.join("wchan")).unwrap();
    symlink("/dev/zero", t.dir.join("comm")).unwrap();
    let s = snap(&fx);
    let b = &s.blocked_threads[0];
    assert!(b.stack.is_empty());
    assert_eq!(b.wchan, None);
    // NUL is valid UTF-8: kept raw in the model (the sanitiser shows it
    // as \x00), and bounded.
    assert_eq!(b.comm.len(), 64 * 1024);
    assert!(b.comm.bytes().all(|c| c == 0));
    assert!(
        has_limitation(&s, "1/task/1/stack failed"),
        "{:?}",
        s.limitations
    );
    // A symlink loop as a required file: an I/O error naming it.
    let enabled = fx.patch_dir("p").join("enabled");
    fs::remove_file(&enabled).unwrap();
    symlink("enabled", &enabled).unwrap();
    let msg = source(&fx).snapshot().unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("reading {} failed", enabled.display())),
        "{msg}"
    );
}

// ---------------------------------------------------------------------
// Things vanishing between listing and reading

#[test]
fn threads_vanishing_during_the_scan_never_fail_or_miscount() {
    let fx = LinuxFixture::new();
    stalled(&fx);
    // Ten steady blocked threads, and processes that come and go.
    for tid in 1..=10 {
        fx.thread(tid, tid)
            .patch_state(0)
            .stack(&["[<0>] vfs_read+0x1/0x2"]);
    }
    let procfs = fx.procfs.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) || rounds < 50 {
                for pid in 1000..1020u32 {
                    let dir = procfs.join(format!("{pid}/task/{pid}"));
                    fs::create_dir_all(&dir).unwrap();
                    for (leaf, v) in [
                        ("patch_state", "0\n"),
                        ("comm", "short-lived\n"),
                        ("stat", "1 (short-lived) S 1\n"),
                        ("wchan", "0"),
                        ("stack", "[<0>] vfs_read+0x1/0x2\n"),
                    ] {
                        fs::write(dir.join(leaf), v).unwrap();
                    }
                }
                for pid in 1000..1020u32 {
                    // A process exits: its files go first, then the dirs.
                    let _ = fs::remove_dir_all(procfs.join(pid.to_string()));
                }
                rounds += 1;
            }
            rounds
        })
    };
    let mut src = source(&fx);
    for _ in 0..200 {
        let s = src.snapshot().unwrap();
        let t = s.transition.as_ref().unwrap();
        assert!(t.threads_pending <= t.threads_total, "{t:?}");
        assert_eq!(t.threads_pending as usize, s.blocked_threads.len());
        let steady = s.blocked_threads.iter().filter(|b| b.tid <= 10).count();
        assert_eq!(steady, 10, "a steady thread was lost");
        for b in &s.blocked_threads {
            assert!(b.tid <= 10 || b.tid >= 1000, "{b:?}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    println!("{rounds} rounds of 20 processes starting and exiting");
}

// ---------------------------------------------------------------------
// Permission denied

#[test]
fn unreadable_required_file_says_it_needs_root() {
    let name = "unreadable_required_file_says_it_needs_root";
    let Some(fx) = unprivileged(name, || {
        let fx = LinuxFixture::new();
        fx.patch("p", Kernel::V6_13).state(true, false);
        fs::set_permissions(
            fx.patch_dir("p").join("enabled"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        fx
    }) else {
        return;
    };
    if linux_fixture::euid() == 0 {
        println!("skipped: running as root, and permission bits do not stop root");
        return;
    }
    let e = source(&fx).snapshot().unwrap_err();
    assert!(matches!(e, SourceError::PermissionDenied { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "reading {} needs root (permission denied): run patchscope as root or with sudo",
            fx.patch_dir("p").join("enabled").display()
        )
    );
}

// ---------------------------------------------------------------------
// Control writes the kernel answers with an error

#[test]
fn a_write_error_from_the_kernel_is_logged_and_named() {
    let _g = audit_lock();
    let fx = LinuxFixture::new();
    stalled(&fx);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::force("p")).unwrap();
    // /dev/full answers every write with ENOSPC: an errno the source has
    // no special words for.
    let force = fx.patch_dir("p").join("force");
    fs::remove_file(&force).unwrap();
    symlink("/dev/full", &force).unwrap();
    let e = src.execute(&plan).unwrap_err();
    assert!(matches!(e, ControlError::Io { .. }), "{e}");
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "writing 1 to {} failed: No space left on device (os error 28)",
            force.display()
        )
    );
    let lines = audit::take_captured();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert!(l.starts_with("patchscope: force of 'p' by "), "{l}");
    assert!(l.contains("(uid "), "who: {l}");
    assert!(
        l.contains(&format!("wrote 1 to {}", force.display())),
        "what: {l}"
    );
    assert!(
        l.ends_with("error: No space left on device (os error 28)"),
        "answer: {l}"
    );
}

#[test]
fn another_patch_starting_a_transition_before_the_write_refuses_it() {
    let _g = audit_lock();
    let fx = LinuxFixture::new();
    fx.patch("a", Kernel::V6_13);
    let b = fx.patch("b", Kernel::V6_13);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("a")).unwrap();
    // Someone else disables b while the confirmation is on screen.
    b.state(false, true);
    let e = src.execute(&plan).unwrap_err();
    assert!(matches!(e, ControlError::StateChanged { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "nothing was written: the transition changed from no transition to 'b' moving to unpatched since the confirmation for 'a'; look again and retry"
    );
    assert_eq!(
        fs::read_to_string(fx.patch_dir("a").join("enabled")).unwrap(),
        "1\n"
    );
    assert!(audit::take_captured().is_empty());
}
