//! The Linux klp source read against fixture trees with the kernel's file
//! layout: idle, patching, unpatching, older kernels, garbage, vanishing
//! threads and patches, missing privilege, and transition start times.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "common/linux_fixture.rs"]
mod linux_fixture;

use std::fs;
use std::path::Path;

use kmod_bridge::model::{PatchState, Snapshot, StartSource, Target};
use kmod_bridge::source::linux::{LinuxConfig, LinuxSource};
use kmod_bridge::{Source, SourceError};
use linux_fixture::{BTIME, Kernel, LinuxFixture, unprivileged};

const STACK_BLOCKED: &str = include_str!("fixtures/linux/stack-blocked.txt");
const DMESG: &str = include_str!("fixtures/linux/dmesg.txt");
const KMSG_RECORDS: &str = include_str!("fixtures/linux/kmsg-records.txt");

fn source(fx: &LinuxFixture) -> LinuxSource {
    LinuxSource::open(fx.config()).unwrap()
}

fn snap(fx: &LinuxFixture) -> Snapshot {
    source(fx).snapshot().unwrap()
}

fn frames(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn has_limitation(s: &Snapshot, needle: &str) -> bool {
    s.limitations.iter().any(|l| l.contains(needle))
}

/// The `ps_stall` patch of the VM tests, in transition to patched.
fn stalled_patch(fx: &LinuxFixture) {
    fx.patch("ps_stall", Kernel::V6_13)
        .state(true, true)
        .object(
            "ps_target",
            true,
            &["ps_target_func,1", "ps_worker_helper,2"],
        )
        .taint("OEK");
}

#[test]
fn idle_reads_patches_and_never_scans_threads() {
    let fx = LinuxFixture::new();
    fx.patch("livepatch_sample", Kernel::V6_13)
        .object("vmlinux", true, &["cmdline_proc_show,1"])
        .taint("OEK");
    fx.patch("kpatch_fix", Kernel::V6_13)
        .set("stack_order", "2\n")
        .set("replace", "1\n")
        .object("ext4", true, &["ext4_file_write_iter,1"])
        .object("vmlinux", true, &["vfs_read,1", "do_sys_open,2"])
        .taint("K");
    // Threads a scan would trip over: garbage and a directory where the
    // value should be. While idle nothing may read them.
    fx.thread(10, 10).set("patch_state", "garbage\n");
    fx.thread(11, 11).remove("patch_state");
    fs::create_dir(fx.procfs.join("11/task/11/patch_state")).unwrap();

    let s = snap(&fx);
    assert!(s.transition.is_none());
    assert!(s.blocked_threads.is_empty());
    assert!(s.limitations.is_empty(), "{:?}", s.limitations);
    assert_eq!(s.kernel.os, "Linux");
    assert_eq!(s.kernel.release.as_deref(), Some("6.13.0-test"));
    assert_eq!(s.kernel.abi_version, None);
    assert_eq!(s.source.kind.as_str(), "linux");

    let names: Vec<&str> = s.patches.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["livepatch_sample", "kpatch_fix"], "stack order");
    let sample = s.patch("livepatch_sample").unwrap();
    assert_eq!(sample.state, PatchState::Enabled);
    assert!(sample.enabled);
    assert_eq!(sample.replace, Some(false));
    assert_eq!(sample.stack_order, Some(1));
    assert_eq!(sample.signed, Some(false), "taint E: unsigned");
    let fix = s.patch("kpatch_fix").unwrap();
    assert_eq!(fix.signed, Some(true));
    assert_eq!(fix.replace, Some(true));
    assert_eq!(fix.stack_order, Some(2));
    let objects: Vec<&str> = fix.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(objects, ["vmlinux", "ext4"], "the kernel first");
    let vmlinux = &fix.objects[0];
    assert_eq!(vmlinux.patched, Some(true));
    let funcs: Vec<(&str, Option<u32>)> = vmlinux
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.sympos))
        .collect();
    assert_eq!(funcs, [("do_sys_open", Some(2)), ("vfs_read", Some(1))]);
    assert_eq!(fix.function_count(), 3);

    // The same procfs during a transition is read, and its garbage said.
    fs::write(fx.patch_dir("kpatch_fix").join("transition"), "1\n").unwrap();
    let s = snap(&fx);
    assert!(s.transition.is_some());
    assert!(
        has_limitation(&s, "2 threads have an unreadable patch_state"),
        "{:?}",
        s.limitations
    );
}

#[test]
fn patching_in_progress_lists_blocked_threads() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.log(&frames(DMESG));
    // Moved already; its stack is a directory, which would fail if read:
    // stacks are read for pending threads only.
    fx.thread(100, 100).patch_state(1).remove("stack");
    fs::create_dir(fx.procfs.join("100/task/100/stack")).unwrap();
    // Sleeping inside the patched function.
    fx.thread(100, 101)
        .patch_state(0)
        .comm(b"ps_worker")
        .stat('D')
        .wchan("msleep")
        .set("stack", STACK_BLOCKED);
    // Pending but not in a patched function (e.g. just not scheduled yet).
    fx.thread(200, 200)
        .patch_state(0)
        .comm(b"bash")
        .wchan("do_wait")
        .stack(&["[<0>] do_wait+0x160/0x2f0", "[<0>] kernel_wait4+0xaa/0x150"]);
    // Not taking part.
    fx.thread(300, 300).patch_state(-1);

    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!(t.patch, "ps_stall");
    assert_eq!(t.target, Target::Patched);
    assert_eq!((t.threads_total, t.threads_pending), (3, 2));
    assert_eq!(t.started_at_source, StartSource::KernelLog);
    let want = BTIME as f64 + 240.101234;
    assert!((t.started_at.unwrap() - want).abs() < 1e-6, "{t:?}");
    assert!(t.elapsed_seconds.unwrap() > 0.0);
    assert!(!t.forced);
    assert_eq!(s.patch("ps_stall").unwrap().state, PatchState::Patching);
    let loaded = s.patch("ps_stall").unwrap().loaded_at.unwrap();
    assert!((loaded - (BTIME as f64 + 240.1)).abs() < 1e-6);

    assert_eq!(s.blocked_threads.len(), 2);
    let b = &s.blocked_threads[0];
    assert_eq!((b.pid, b.tid), (100, 101));
    assert_eq!(b.comm, "ps_worker");
    assert_eq!(b.state, "D");
    assert_eq!(b.wchan.as_deref(), Some("msleep"));
    assert_eq!(b.blocking_function.as_deref(), Some("ps_target_func"));
    assert_eq!(b.stack, frames(STACK_BLOCKED));
    let b = &s.blocked_threads[1];
    assert_eq!((b.pid, b.tid, b.state.as_str()), (200, 200, "S"));
    assert_eq!(b.blocking_function, None);
    assert_eq!(b.stack.len(), 2);
    assert!(s.limitations.is_empty(), "{:?}", s.limitations);
}

#[test]
fn unpatching_counts_threads_not_yet_back() {
    let fx = LinuxFixture::new();
    fx.patch("livepatch_sample", Kernel::V6_1)
        .state(false, true)
        .object("vmlinux", false, &["cmdline_proc_show,1"]);
    fx.log(&[
        "[  105.213456] livepatch: enabling patch 'livepatch_sample'",
        "[  105.215012] livepatch: 'livepatch_sample': starting patching transition",
        "[  106.240001] livepatch: 'livepatch_sample': patching complete",
        "[  300.000000] livepatch: 'livepatch_sample': starting unpatching transition",
    ]);
    fx.thread(1, 1).patch_state(0);
    // Still inside the replacement function, which sysfs does not name.
    fx.thread(50, 51).patch_state(1).comm(b"cat").stack(&[
        "[<0>] livepatch_cmdline_proc_show+0x1c/0x40 [livepatch_sample]",
        "[<0>] seq_read_iter+0x11f/0x4a0",
    ]);
    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!(t.target, Target::Unpatched);
    assert_eq!((t.threads_total, t.threads_pending), (2, 1));
    assert_eq!(t.started_at_source, StartSource::KernelLog);
    assert!((t.started_at.unwrap() - (BTIME as f64 + 300.0)).abs() < 1e-6);
    let p = s.patch("livepatch_sample").unwrap();
    assert_eq!((p.enabled, p.state), (false, PatchState::Unpatching));
    assert_eq!(p.objects[0].patched, Some(false));
    assert_eq!((p.replace, p.stack_order), (None, None), "6.1 layout");
    let b = &s.blocked_threads[0];
    assert_eq!((b.pid, b.tid), (50, 51));
    assert_eq!(
        b.blocking_function.as_deref(),
        Some("livepatch_cmdline_proc_show")
    );
}

#[test]
fn reversal_starts_at_its_own_log_line() {
    // The log of a real revert on Debian's 6.1 kernel, as captured by the
    // VM tests (tests/vm/captured/linux-6.1.0-57-cloud-amd64/dmesg-revert.txt).
    let fx = LinuxFixture::new();
    fx.patch("ps_lp_stall", Kernel::V6_1)
        .state(false, true)
        .object("vmlinux", true, &["ps_target_func,1"]);
    fx.log(&[
        "[    6.601564] ps_lp_stall: tainting kernel with TAINT_LIVEPATCH",
        "[    6.621705] livepatch: enabling patch 'ps_lp_stall'",
        "[    6.668638] livepatch: 'ps_lp_stall': starting patching transition",
        "[   12.160805] livepatch: 'ps_lp_stall': starting unpatching transition",
    ]);
    fx.thread(1, 1).patch_state(1);
    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!(t.target, Target::Unpatched);
    assert_eq!(t.started_at_source, StartSource::KernelLog);
    assert!(
        (t.started_at.unwrap() - (BTIME as f64 + 12.160805)).abs() < 1e-6,
        "{t:?}"
    );
}

#[test]
fn lost_reversal_log_line_falls_back_to_first_seen() {
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(false, true);
    // The unpatching start line was lost (rotated out of the ring buffer).
    fx.log(&["[  10.000000] livepatch: 'p': starting patching transition"]);
    fx.thread(1, 1).patch_state(1);
    let mut src = source(&fx);
    let s = src.snapshot().unwrap();
    let t = s.transition.as_ref().unwrap();
    assert_eq!(t.started_at_source, StartSource::FirstSeen);
    assert!(has_limitation(&s, "reversed"), "{:?}", s.limitations);
    assert!(has_limitation(&s, "first saw it"));
    // Remembered across snapshots.
    let first = t.started_at.unwrap();
    let s2 = src.snapshot().unwrap();
    let t2 = s2.transition.as_ref().unwrap();
    assert_eq!(t2.started_at, Some(first));
    assert!(t2.elapsed_seconds.unwrap() >= t.elapsed_seconds.unwrap());
}

#[test]
fn older_kernel_layouts_give_unknown_not_errors() {
    let fx = LinuxFixture::new();
    for (name, k) in [
        ("k4_12", Kernel::V4_12),
        ("k5_0", Kernel::V5_0),
        ("k5_10", Kernel::V5_10),
        ("k6_1", Kernel::V6_1),
        ("k6_11", Kernel::V6_11),
    ] {
        fx.patch(name, k).object("vmlinux", true, &["f,1"]);
    }
    // Before 4.12 there is no transition file at all.
    fx.patch("k4_0", Kernel::V4_12)
        .remove("transition")
        .object("vmlinux", true, &["f,1"]);
    let mut src = source(&fx);
    let s = src.snapshot().unwrap();
    let get = |n: &str| s.patch(n).unwrap();
    for n in ["k4_0", "k4_12", "k5_0", "k5_10", "k6_1", "k6_11"] {
        assert_eq!(get(n).stack_order, None, "{n}");
        assert_eq!(get(n).signed, None, "{n}: no module taint file");
        assert_eq!(get(n).state, PatchState::Enabled, "{n}");
    }
    for n in ["k4_0", "k4_12", "k5_0", "k5_10", "k6_1"] {
        assert_eq!(get(n).replace, None, "{n}");
    }
    assert_eq!(get("k6_11").replace, Some(false));
    for n in ["k4_0", "k4_12", "k5_0", "k5_10"] {
        assert_eq!(get(n).objects[0].patched, None, "{n}");
    }
    assert_eq!(get("k6_1").objects[0].patched, Some(true));
    assert_eq!(s.limitations.len(), 1, "{:?}", s.limitations);
    assert!(has_limitation(
        &s,
        "k4_0/transition is missing (kernel before 4.12?)"
    ));
    assert!(src.capabilities().signal, "the 5.0 patch has a signal file");
}

#[test]
fn garbage_in_a_required_file_is_an_error_naming_it() {
    let fx = LinuxFixture::new();
    let p = fx.patch("p", Kernel::V6_13);
    for (leaf, bad) in [("enabled", "yes\n"), ("transition", "2\n")] {
        p.state(true, false).set(leaf, bad);
        let err = source(&fx).snapshot().unwrap_err();
        let SourceError::Parse { location, message } = &err else {
            panic!("expected a parse error, got {err}")
        };
        assert_eq!(Path::new(location), fx.patch_dir("p").join(leaf));
        assert!(message.contains("expected 0 or 1"), "{message}");
        assert!(err.to_string().contains(bad.trim()), "{err}");
    }
    // Control characters in the bad value do not reach the message raw.
    p.state(true, false).set("enabled", "\x1b[2J\n");
    let err = source(&fx).snapshot().unwrap_err().to_string();
    assert!(!err.contains('\x1b'), "{err:?}");
}

#[test]
fn garbage_in_an_optional_file_is_unknown_and_said() {
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13)
        .set("replace", "maybe\n")
        .set("stack_order", "-3\n")
        .object("vmlinux", true, &["f,1"])
        .set("vmlinux/patched", "\n");
    let s = snap(&fx);
    let p = s.patch("p").unwrap();
    assert_eq!((p.replace, p.stack_order), (None, None));
    assert_eq!(p.objects[0].patched, None);
    assert_eq!(s.limitations.len(), 3, "{:?}", s.limitations);
    assert!(has_limitation(
        &s,
        "p/replace: expected 0 or 1, found \"maybe\""
    ));
    assert!(has_limitation(&s, "p/stack_order: expected a number"));
    assert!(has_limitation(&s, "vmlinux/patched"));
}

#[test]
fn thread_names_are_kept_raw_and_lossless() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.thread(7, 7)
        .patch_state(0)
        .comm(b"evil\xff\x1b[31m")
        .stat('R');
    // A name holding ") " and a fake state: the state is after the last ')'.
    fx.thread(8, 8).patch_state(0).comm(b"a) R (b").stat('D');
    let s = snap(&fx);
    let b = &s.blocked_threads[0];
    assert_eq!(b.comm, "evil\\xff\x1b[31m");
    assert_eq!(b.state, "R");
    assert_eq!(
        kmod_bridge::sanitize::for_terminal(&b.comm),
        "evil\\xff\\x1b[31m"
    );
    let b = &s.blocked_threads[1];
    assert_eq!((b.comm.as_str(), b.state.as_str()), ("a) R (b", "D"));
}

#[test]
fn vanishing_threads_are_skipped() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.log(&frames(DMESG));
    fx.thread(1, 1).patch_state(0);
    // Listed, patch_state read, then gone before comm/stat/stack.
    let t = fx.thread(2, 2);
    t.patch_state(0);
    for leaf in ["comm", "stat", "wchan", "stack"] {
        t.remove(leaf);
    }
    // Gone before patch_state.
    fs::create_dir_all(fx.procfs.join("3/task/3")).unwrap();
    // A process without a task directory, and non-numeric entries.
    fs::create_dir_all(fx.procfs.join("4")).unwrap();
    fs::create_dir_all(fx.procfs.join("self/task/1")).unwrap();
    fs::create_dir_all(fx.procfs.join("5/task/x")).unwrap();
    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!((t.threads_total, t.threads_pending), (1, 1));
    assert_eq!(s.blocked_threads.len(), 1);
    assert_eq!(s.blocked_threads[0].tid, 1);
    assert!(s.limitations.is_empty(), "{:?}", s.limitations);
}

#[test]
fn a_patch_directory_being_removed_is_skipped() {
    let fx = LinuxFixture::new();
    fx.patch("stays", Kernel::V6_13);
    // Caught half-removed: the directory is there, `enabled` is gone.
    fx.patch("going", Kernel::V6_13).remove("enabled");
    let s = snap(&fx);
    assert_eq!(s.patches.len(), 1);
    assert!(
        has_limitation(&s, "going/enabled is missing"),
        "{:?}",
        s.limitations
    );
}

#[test]
fn patches_vanishing_while_read_never_fail_a_snapshot() {
    let fx = LinuxFixture::new();
    fx.patch("stays", Kernel::V6_13);
    let dir = fx.patch_dir("flicker");
    let stage = fx.root.join("stage");
    let trash = fx.root.join("trash");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 50 {
                // The kernel fills a patch directory before readers see the
                // values; build it aside and move it in, then remove it.
                let _ = fs::remove_dir_all(&stage);
                fs::create_dir_all(stage.join("vmlinux/f,1")).unwrap();
                for (leaf, v) in [
                    ("enabled", "0\n"),
                    ("transition", "1\n"),
                    ("vmlinux/patched", "1\n"),
                ] {
                    fs::write(stage.join(leaf), v).unwrap();
                }
                fs::rename(&stage, &dir).unwrap();
                // sysfs removes a directory with its files at once.
                fs::rename(&dir, &trash).unwrap();
                fs::remove_dir_all(&trash).unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let mut src = source(&fx);
    let mut seen = 0;
    for _ in 0..300 {
        let s = src.snapshot().unwrap();
        assert!(s.patch("stays").is_some());
        if let Some(p) = s.patch("flicker") {
            seen += 1;
            assert_eq!(p.state, PatchState::Unpatching);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    println!("{rounds} create/remove rounds, flicker seen in {seen} of 300 snapshots");
}

#[test]
fn no_visible_pending_thread_says_who_holds_the_transition() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.thread(1, 1).patch_state(1);
    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!((t.threads_total, t.threads_pending), (1, 0));
    assert!(s.blocked_threads.is_empty());
    assert!(has_limitation(&s, "swapper/N"), "{:?}", s.limitations);
}

#[test]
fn privilege_limits_degrade_the_view() {
    let name = "privilege_limits_degrade_the_view";
    let Some(fx) = unprivileged(name, || {
        let fx = LinuxFixture::new();
        stalled_patch(&fx);
        fx.log(&frames(DMESG));
        // Others' threads: patch_state and stack are 0400 root in the
        // kernel. Mode 000 makes them unreadable here whether the test
        // runs as a user (owning the files) or as root (handing over to
        // a child running as nobody).
        fx.thread(10, 10).patch_state(0).mode("patch_state", 0o000);
        fx.thread(10, 11).patch_state(0).mode("patch_state", 0o000);
        // patch_state readable, stack not (stack needs root even for one's
        // own threads).
        fx.thread(20, 20)
            .patch_state(0)
            .comm(b"worker")
            .set("stack", STACK_BLOCKED)
            .mode("stack", 0o000);
        // The kernel log needs root too (dmesg_restrict).
        fs::set_permissions(
            &fx.kmsg,
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
    let s = snap(&fx);
    let t = s.transition.as_ref().unwrap();
    assert_eq!((t.threads_total, t.threads_pending), (1, 1));
    let b = &s.blocked_threads[0];
    assert_eq!((b.tid, b.comm.as_str()), (20, "worker"));
    assert!(b.stack.is_empty());
    assert_eq!(b.blocking_function, None);
    let stack = fx.procfs.join("20/task/20/stack");
    assert!(
        has_limitation(
            &s,
            &format!(
                "reading {} needs root: blocking functions unknown for 1 threads",
                stack.display()
            )
        ),
        "{:?}",
        s.limitations
    );
    assert!(
        has_limitation(&s, "needs root: 2 threads could not be checked"),
        "{:?}",
        s.limitations
    );
    assert_eq!(t.started_at_source, StartSource::FirstSeen);
    assert!(
        has_limitation(&s, "reading the kernel log"),
        "{:?}",
        s.limitations
    );
    assert!(has_limitation(
        &s,
        "needs root (or sysctl kernel.dmesg_restrict=0)"
    ));
}

#[test]
fn start_time_from_dmesg_text_or_kmsg_records() {
    for (log, forced) in [(DMESG, false), (KMSG_RECORDS, true)] {
        let fx = LinuxFixture::new();
        stalled_patch(&fx);
        fx.log(&frames(log));
        fx.thread(1, 1).patch_state(0);
        let s = snap(&fx);
        let t = s.transition.as_ref().unwrap();
        assert_eq!(t.started_at_source, StartSource::KernelLog, "{log}");
        // The user-space record claiming an unpatching start is ignored.
        assert_eq!(t.target, Target::Patched);
        assert!((t.started_at.unwrap() - (BTIME as f64 + 240.101234)).abs() < 1e-6);
        assert_eq!(t.forced, forced, "the forcing line follows the start");
    }
}

#[test]
fn start_time_first_seen_until_the_log_says() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.thread(1, 1).patch_state(0);
    let mut src = source(&fx);
    let s = src.snapshot().unwrap();
    let t = s.transition.clone().unwrap();
    assert_eq!(t.started_at_source, StartSource::FirstSeen);
    assert!((t.started_at.unwrap() - s.taken_at).abs() < 1e-9);
    assert!(has_limitation(
        &s,
        "has no \"starting patching transition\" line for 'ps_stall'"
    ));
    // The log is read on from where it was: a line logged since counts.
    fx.log(&["[  240.101234] livepatch: 'ps_stall': starting patching transition"]);
    let s = src.snapshot().unwrap();
    let t = s.transition.unwrap();
    assert_eq!(t.started_at_source, StartSource::KernelLog);
    assert!(s.limitations.is_empty(), "{:?}", s.limitations);
    fx.log(&["[  300.000000] livepatch: forcing remaining tasks to the patched state"]);
    assert!(src.snapshot().unwrap().transition.unwrap().forced);
}

#[test]
fn start_time_without_a_log() {
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    let cfg = LinuxConfig {
        kmsg: None,
        ..fx.config()
    };
    let mut src = LinuxSource::open(cfg).unwrap();
    let s = src.snapshot().unwrap();
    assert_eq!(
        s.transition.as_ref().unwrap().started_at_source,
        StartSource::FirstSeen
    );
    assert!(has_limitation(&s, "no kernel log is read"));

    let cfg = LinuxConfig {
        kmsg: Some(fx.root.join("no-such-log")),
        ..fx.config()
    };
    let s = LinuxSource::open(cfg).unwrap().snapshot().unwrap();
    assert_eq!(
        s.transition.as_ref().unwrap().started_at_source,
        StartSource::FirstSeen
    );
    assert!(
        has_limitation(&s, "no-such-log does not exist"),
        "{:?}",
        s.limitations
    );
}

#[test]
fn first_seen_restarts_with_a_new_transition() {
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(true, true);
    let mut src = LinuxSource::open(LinuxConfig {
        kmsg: None,
        ..fx.config()
    })
    .unwrap();
    let a = src
        .snapshot()
        .unwrap()
        .transition
        .unwrap()
        .started_at
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(fx.patch_dir("p").join("enabled"), "0\n").unwrap(); // reversed
    let b = src.snapshot().unwrap().transition.unwrap();
    assert_eq!(b.target, Target::Unpatched);
    assert!(
        b.started_at.unwrap() > a,
        "a new transition, a new first sight"
    );
}

#[test]
fn missing_livepatch_directory_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LinuxConfig {
        sysfs: dir.path().join("sys"),
        procfs: dir.path().join("proc"),
        kmsg: None,
    };
    assert!(!LinuxSource::available(&cfg));
    let Err(err) = LinuxSource::open(cfg) else {
        panic!("open should fail")
    };
    assert!(matches!(err, SourceError::NotFound { .. }));
    assert!(err.to_string().contains("sys/kernel/livepatch"), "{err}");
}

/// The hot loop at scale: `cargo test --release -p kmod-bridge --test
/// linux_snapshot -- --ignored --nocapture scan_at_scale` (100,000
/// threads, 20 pending; `PATCHSCOPE_SCALE_THREADS` changes the count).
#[test]
#[ignore = "slow: builds a 100,000-thread fixture"]
fn scan_at_scale() {
    let threads: u32 = std::env::var("PATCHSCOPE_SCALE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let fx = LinuxFixture::new();
    stalled_patch(&fx);
    fx.log(&frames(DMESG));
    let t0 = std::time::Instant::now();
    for i in 0..threads {
        let (pid, tid) = (1000 + i / 10 * 10, 1000 + i);
        let dir = fx.procfs.join(format!("{pid}/task/{tid}"));
        fs::create_dir_all(&dir).unwrap();
        if i % (threads / 20).max(1) == 0 {
            fx.thread(pid, tid)
                .patch_state(0)
                .set("stack", STACK_BLOCKED);
        } else {
            fs::write(dir.join("patch_state"), "1\n").unwrap();
        }
    }
    println!("built {threads} threads in {:?}", t0.elapsed());
    let mut src = source(&fx);
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let s = src.snapshot().unwrap();
        best = best.min(t.elapsed());
        let tr = s.transition.unwrap();
        assert_eq!(tr.threads_total, u64::from(threads));
        assert_eq!(tr.threads_pending, 20);
    }
    println!("snapshot of {threads} threads: best of 5 {best:?}");
}
