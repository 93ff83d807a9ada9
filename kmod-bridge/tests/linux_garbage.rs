//! Property test of the whole Linux source on fixture trees whose every
//! file holds either a well-formed value or arbitrary bytes: a snapshot is
//! a consistent view (counts agree, blocked threads are pending threads,
//! blocking functions are the patch's) or an error that names a file of
//! the tree, never a panic.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "common/linux_fixture.rs"]
mod linux_fixture;

use kmod_bridge::Source;
use kmod_bridge::SourceError;
use kmod_bridge::model::PatchState;
use kmod_bridge::source::linux::LinuxSource;
use linux_fixture::{Kernel, LinuxFixture};
use proptest::prelude::*;

/// A file's content: the good value most of the time, else garbage.
fn content(good: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(good).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..48),
        1 => prop::sample::select(vec![
            &b""[..], b"\n", b"-1\n", b"2\n", b"1 1\n", b"0x1\n", b"\xff\n", b"1\x00",
            b"99999999999999999999\n", b"\x1b[2J1\n",
        ])
        .prop_map(<[u8]>::to_vec),
    ]
}

#[derive(Debug, Clone)]
struct PatchFiles {
    enabled: Vec<u8>,
    transition: Vec<u8>,
    replace: Vec<u8>,
    stack_order: Vec<u8>,
    patched: Vec<u8>,
    taint: Vec<u8>,
}

fn patch_files() -> impl Strategy<Value = PatchFiles> {
    (
        content(&["0\n", "1\n"]),
        content(&["0\n", "1\n"]),
        content(&["0\n", "1\n"]),
        content(&["1\n", "2\n", "3\n"]),
        content(&["0\n", "1\n"]),
        content(&["OEK\n", "K\n", "\n"]),
    )
        .prop_map(
            |(enabled, transition, replace, stack_order, patched, taint)| PatchFiles {
                enabled,
                transition,
                replace,
                stack_order,
                patched,
                taint,
            },
        )
}

#[derive(Debug, Clone)]
struct ThreadFiles {
    patch_state: Vec<u8>,
    comm: Vec<u8>,
    stat: Vec<u8>,
    wchan: Vec<u8>,
    stack: Vec<u8>,
}

fn thread_files() -> impl Strategy<Value = ThreadFiles> {
    (
        content(&["-1\n", "0\n", "1\n"]),
        content(&["worker\n", "kthreadd\n", "a) R (b\n"]),
        content(&["7 (worker) S 1 7 7 0 -1\n", "7 (a) R (b) D 1 2\n", "7 (x\n"]),
        content(&["0", "msleep", "do_wait"]),
        content(&[
            "[<0>] msleep+0x29/0x40\n[<0>] vfs_read+0x1c/0x40\n[<0>] kthread+0xd7/0x100\n",
            "[<0>] livepatch_vfs_read+0x1/0x2 [p0]\n",
            "",
        ]),
    )
        .prop_map(|(patch_state, comm, stat, wchan, stack)| ThreadFiles {
            patch_state,
            comm,
            stat,
            wchan,
            stack,
        })
}

fn build(patches: &[PatchFiles], threads: &[ThreadFiles]) -> LinuxFixture {
    let fx = LinuxFixture::new();
    for (i, p) in patches.iter().enumerate() {
        let name = format!("p{i}");
        let fxp = fx.patch(&name, Kernel::V6_13);
        fxp.object("vmlinux", true, &["vfs_read,1"]);
        fxp.set("enabled", &p.enabled)
            .set("transition", &p.transition)
            .set("replace", &p.replace)
            .set("stack_order", &p.stack_order)
            .set("vmlinux/patched", &p.patched)
            .taint(std::str::from_utf8(&p.taint).unwrap_or("E"));
    }
    for (i, t) in threads.iter().enumerate() {
        let tid = 100 + i as u32;
        fx.thread(tid / 2, tid)
            .set("patch_state", &t.patch_state)
            .set("comm", &t.comm)
            .set("stat", &t.stat)
            .set("wchan", &t.wchan)
            .set("stack", &t.stack);
    }
    fx
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_tree_gives_a_consistent_view_or_an_error_naming_a_file(
        patches in proptest::collection::vec(patch_files(), 1..3),
        threads in proptest::collection::vec(thread_files(), 0..6),
    ) {
        let fx = build(&patches, &threads);
        let mut src = LinuxSource::open(fx.config()).unwrap();
        for _ in 0..2 {
            match src.snapshot() {
                Ok(s) => {
                    prop_assert!(s.patches.len() <= patches.len());
                    let moving = s.patches.iter().filter(|p| p.state.in_transition()).count();
                    prop_assert_eq!(s.transition.is_some(), moving > 0);
                    match &s.transition {
                        None => prop_assert!(s.blocked_threads.is_empty()),
                        Some(t) => {
                            prop_assert!(t.threads_pending <= t.threads_total, "{:?}", t);
                            prop_assert_eq!(t.threads_pending as usize, s.blocked_threads.len());
                            prop_assert!(t.threads_total as usize <= threads.len());
                            let p = s.patch(&t.patch).unwrap();
                            prop_assert!(matches!(p.state, PatchState::Patching | PatchState::Unpatching));
                            for b in &s.blocked_threads {
                                prop_assert!((100..100 + threads.len() as u32).contains(&b.tid));
                                if let Some(f) = &b.blocking_function {
                                    prop_assert!(
                                        f == "vfs_read" || f == "livepatch_vfs_read",
                                        "{:?}", b
                                    );
                                }
                                prop_assert!(b.state == "?" || b.state.len() == 1);
                            }
                        }
                    }
                    for p in &s.patches {
                        prop_assert!(p.stack_order.is_none_or(|o| (1..=3).contains(&o)));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    let root = fx.root.display().to_string();
                    prop_assert!(
                        matches!(e, SourceError::Parse { .. } | SourceError::Io { .. }),
                        "{}", msg
                    );
                    prop_assert!(msg.contains(&root), "error names no file: {}", msg);
                    prop_assert!(
                        msg.contains("/enabled") || msg.contains("/transition"),
                        "only required files fail a snapshot: {}", msg
                    );
                    // The garbage is quoted escaped (the paths are plain).
                    prop_assert!(!msg.chars().any(kmod_bridge::sanitize::is_unsafe_char), "{:?}", msg);
                }
            }
        }
    }
}
