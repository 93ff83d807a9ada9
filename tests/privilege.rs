//! The binary without privilege, on a Linux fixture tree laid out with the
//! kernel's modes (sysfs attributes 0644 root, `force` 0200, procfs
//! `patch_state` and `stack` 0400 of the thread's owner): `status` gives a
//! degraded view that says what it could not see, controls fail with a
//! plain message and change nothing. When the tests run as root the
//! binary is run as uid/gid 65534 (nobody); otherwise as the user, with
//! "other users' files" made unreadable by mode.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "../kmod-bridge/tests/common/linux_fixture.rs"]
mod linux_fixture;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use linux_fixture::{Kernel, LinuxFixture, euid};

fn mode(path: &std::path::Path, m: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(m)).unwrap();
}

/// A stalled transition with one blocked thread of "another user".
fn tree() -> LinuxFixture {
    let fx = LinuxFixture::new();
    fx.patch("lp_fix", Kernel::V6_13)
        .state(true, true)
        .object("vmlinux", true, &["vfs_read,1"]);
    fx.thread(10, 10)
        .patch_state(0)
        .comm(b"postgres")
        .stack(&["[<0>] vfs_read+0x1/0x2"]);
    fx.thread(20, 20).patch_state(1);
    fx.open_to_all();
    for t in ["10/task/10", "20/task/20"] {
        for leaf in ["patch_state", "stack"] {
            mode(&fx.procfs.join(t).join(leaf), 0o400);
        }
    }
    let p = fx.patch_dir("lp_fix");
    for leaf in [
        "enabled",
        "transition",
        "replace",
        "stack_order",
        "vmlinux/patched",
    ] {
        mode(&p.join(leaf), 0o644);
    }
    mode(&p.join("force"), 0o200);
    mode(&fx.kmsg, 0o600);
    if euid() != 0 {
        // Not root: make "root's" files unreadable to this user as well.
        for t in ["10/task/10", "20/task/20"] {
            for leaf in ["patch_state", "stack"] {
                mode(&fx.procfs.join(t).join(leaf), 0o000);
            }
        }
        for leaf in ["enabled", "transition"] {
            mode(&p.join(leaf), 0o444);
        }
        mode(&p.join("force"), 0o000);
        mode(&fx.kmsg, 0o000);
    }
    fx
}

/// Run the binary as an unprivileged user.
fn unprivileged(fx: &LinuxFixture, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchscope"));
    cmd.args(args)
        .args([
            "--source",
            "linux",
            "--path.sysfs",
            &fx.sysfs.display().to_string(),
            "--path.procfs",
            &fx.procfs.display().to_string(),
            "--path.kmsg",
            &fx.kmsg.display().to_string(),
        ])
        .env_remove("CI")
        .env_remove("SUDO_USER");
    if euid() == 0 {
        cmd.uid(65534).gid(65534).env("USER", "nobody");
    }
    cmd.output().unwrap()
}

#[test]
fn status_without_privilege_says_what_it_cannot_see() {
    let fx = tree();
    let o = unprivileged(&fx, &["status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("lp_fix"), "{out}");
    assert!(out.contains("transition: patching 'lp_fix'"), "{out}");
    assert!(
        out.contains("patch_state needs root: 2 threads could not be checked"),
        "{out}"
    );
    assert!(out.contains("no visible thread is pending"), "{out}");
    assert!(
        out.contains("needs root (or sysctl kernel.dmesg_restrict=0)"),
        "{out}"
    );
    // Nothing pretends: no thread counted is not "100% moved".
    assert!(
        out.contains("threads: none visible, progress unknown"),
        "{out}"
    );
    assert!(!out.contains("100.0%"), "{out}");

    let o = unprivileged(&fx, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["blocked_threads"].as_array().unwrap().len(), 0);
    assert!(v["limitations"].as_array().unwrap().len() >= 3, "{v}");

    let o = unprivileged(&fx, &["check"]);
    assert_eq!(o.status.code(), Some(1), "start time unknown: warning");
}

#[test]
fn controls_without_privilege_fail_plainly_and_change_nothing() {
    let fx = tree();
    let enabled = fx.patch_dir("lp_fix").join("enabled");
    for (cmd, file) in [("revert", "enabled"), ("force", "force")] {
        let o = unprivileged(&fx, &[cmd, "lp_fix", "--yes"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        let target = fx.patch_dir("lp_fix").join(file);
        assert!(
            err.contains(&format!(
                "writing {} needs root (permission denied): run patchscope as root or with sudo",
                target.display()
            )),
            "{cmd}: {err}"
        );
        // The attempt is in the audit log, with who and the answer.
        assert!(
            err.contains(&format!("patchscope: {cmd} of 'lp_fix' by ")),
            "{cmd}: {err}"
        );
        assert!(err.contains(": error: Permission denied"), "{cmd}: {err}");
        assert!(!o.stdout.iter().any(|_| true), "{cmd}: nothing on stdout");
    }
    assert_eq!(fs::read_to_string(&enabled).unwrap(), "1\n");
    assert_eq!(fs::read(fx.patch_dir("lp_fix").join("force")).unwrap(), b"");
}
