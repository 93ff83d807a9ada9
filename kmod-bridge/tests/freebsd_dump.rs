//! The `dump:FILE` source end to end: fixture dumps in the format FreeBSD's
//! `sysctl kern.livepatch` prints, opened with `dump::open` and read with
//! `Source::snapshot`, as `patchscope --source dump:FILE` does.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

use std::path::{Path, PathBuf};

use kmod_bridge::Source;
use kmod_bridge::control::{ControlAction, ControlError, ControlPlan, Precondition};
use kmod_bridge::error::SourceError;
use kmod_bridge::model::{PatchState, SourceKind, StartSource, Target};
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::source::dump;

/// `kern.livepatch.time` of every fixture.
const CAPTURED: f64 = 1_718_000_300.0;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/freebsd")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn open_err(path: &Path) -> String {
    match dump::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e.to_string(),
    }
}

/// Write `text` to a temporary file and open it.
fn open_text(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.txt");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn healthy_dump() {
    let mut src = dump::open(&fixture("healthy.txt")).unwrap();
    assert_eq!(src.kind(), SourceKind::Dump);
    let snap = src.snapshot().unwrap();
    assert_eq!(snap.source.kind, SourceKind::Dump);
    assert!(!snap.source.writable);
    assert!(snap.source.location.ends_with("healthy.txt"));
    // Taken when captured, not when read.
    assert_eq!(snap.taken_at, CAPTURED);
    assert_eq!(snap.kernel.os, "FreeBSD");
    assert_eq!(
        snap.kernel.release.as_deref(),
        Some("14.1-RELEASE-p5 GENERIC")
    );
    assert_eq!(snap.kernel.abi_version.as_deref(), Some("1.0"));
    assert!(snap.transition.is_none());
    assert!(snap.blocked_threads.is_empty());
    assert!(snap.limitations.is_empty(), "{:?}", snap.limitations);

    let names: Vec<&str> = snap.patches.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["lp_base", "lp-vfs.2"]);
    let base = &snap.patches[0];
    assert_eq!(base.state, PatchState::Enabled);
    assert_eq!(base.signed, Some(true));
    assert_eq!(base.signer.as_deref(), Some("freebsd-livepatch-2024"));
    assert_eq!(base.objects[0].functions[0].calls, Some(1_843_211));
    let vfs = &snap.patches[1];
    assert_eq!(vfs.signed, Some(false));
    assert_eq!(vfs.signer, None);
    assert_eq!(vfs.stack_order, Some(2));
    assert_eq!(vfs.replace, Some(false));
    assert_eq!(vfs.function_count(), 3);
    let objects: Vec<&str> = vfs.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(objects, ["kernel", "zfs"]);
    let counters = snap.counters.unwrap();
    assert_eq!(counters.transitions_completed, 2);
}

#[test]
fn stalled_dump() {
    let mut src = dump::open(&fixture("stalled.txt")).unwrap();
    let snap = src.snapshot().unwrap();
    assert!(snap.limitations.is_empty(), "{:?}", snap.limitations);
    let t = snap.transition.as_ref().unwrap();
    assert_eq!(t.patch, "lp-vfs.2");
    assert_eq!(t.target, Target::Patched);
    assert_eq!(t.started_at, Some(1_718_000_000.0));
    assert_eq!(t.started_at_source, StartSource::Kernel);
    assert_eq!(t.elapsed_seconds, Some(300.0));
    assert_eq!((t.threads_total, t.threads_pending), (1412, 3));
    assert_eq!(t.signals_sent, Some(20));
    assert!(!t.forced);
    assert_eq!(
        snap.patch_in_transition().map(|p| p.state),
        Some(PatchState::Patching)
    );

    let b = &snap.blocked_threads;
    assert_eq!(b.len(), 3);
    assert_eq!(
        (b[0].tid, b[0].pid, b[0].comm.as_str()),
        (100_118, 1, "syncer")
    );
    assert_eq!(b[0].state, "D");
    assert_eq!(b[0].wchan.as_deref(), Some("biord"));
    assert_eq!(b[0].blocking_function.as_deref(), Some("vn_read"));
    assert_eq!(b[0].blocked_since, Some(1_718_000_003.0));
    assert_eq!(b[0].stack.len(), 6);
    assert_eq!(b[0].stack[3], "vn_read+0x1c4");

    // The hostile name: kept raw in the model, ESC and BEL decoded, invalid
    // UTF-8 visible as \xNN; safe once sanitised for display.
    assert_eq!(b[1].comm, "evil\u{1b}[2J\u{1b}]0;pwned\u{7}\\xff\\xfe");
    assert_eq!(
        for_terminal(&b[1].comm),
        "evil\\x1b[2J\\x1b]0;pwned\\x07\\xff\\xfe"
    );
    assert_eq!(b[1].blocking_function.as_deref(), Some("kern_select"));

    assert_eq!(b[2].wchan, None);
    assert_eq!(b[2].blocked_since, None);
    assert_eq!(b[2].state, "R");
}

#[test]
fn replace_dump() {
    let snap = dump::open(&fixture("replace.txt"))
        .unwrap()
        .snapshot()
        .unwrap();
    let names: Vec<&str> = snap.patches.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["lp_base", "lp-vfs.2", "lp_cumulative_3"]);
    let cumulative = &snap.patches[2];
    assert_eq!(cumulative.replace, Some(true));
    assert_eq!(cumulative.state, PatchState::Patching);
    assert_eq!(cumulative.stack_order, Some(3));
    let t = snap.transition.as_ref().unwrap();
    assert_eq!(t.patch, "lp_cumulative_3");
    assert_eq!(t.elapsed_seconds, Some(10.0));
    assert_eq!(t.threads_done(), 1292);
    // A thread blocked outside any patched function.
    assert_eq!(snap.blocked_threads.len(), 1);
    assert_eq!(snap.blocked_threads[0].blocking_function, None);
    assert_eq!(snap.blocked_threads[0].wchan.as_deref(), Some("zio->io_cv"));
}

#[test]
fn sysctl_e_crlf_and_sysctl_a_noise_read_the_same() {
    let text = read("stalled.txt");
    let want = dump::parse_dump(&text, "stalled.txt").unwrap();

    // `sysctl -e`: name=value.
    let e: String = text
        .lines()
        .map(|l| {
            if l.starts_with("kern.livepatch.") {
                l.replacen(": ", "=", 1)
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert!(e.contains("kern.livepatch.transition.blocked=100118\t"));
    // `sysctl -a`: other nodes around, a multi-line one among them; CRLF.
    let a = format!(
        "kern.ostype: FreeBSD\nkern.conftxt: options\tCONFIG_AUTOGENERATED\nident\tGENERIC\nmachine\tamd64\n{text}kern.maxproc: 8000\nvm.stats.vm.v_page_count: 1000\n"
    )
    .replace('\n', "\r\n");
    for variant in [e, a] {
        let (_dir, path) = open_text(&variant);
        assert_eq!(dump::parse_dump(&variant, "v").unwrap(), want);
        let snap = dump::open(&path).unwrap().snapshot().unwrap();
        assert_eq!(snap.blocked_threads.len(), 3);
    }
}

#[test]
fn render_reproduces_the_sysctl_text() {
    for name in ["healthy.txt", "stalled.txt", "replace.txt"] {
        let text = read(name);
        let nodes = dump::parse_dump(&text, name).unwrap();
        assert_eq!(dump::render_dump(&nodes), text, "{name}");
    }
}

#[test]
fn truncated_dump_names_the_line() {
    let e = open_err(&fixture("truncated.txt"));
    let lines = read("truncated.txt").lines().count();
    assert!(
        e.ends_with(&format!(
            "truncated.txt:{lines}: 'kern.livepatch.patch.lp_vfs_2.enab' has no `: value`: the dump looks truncated (capture it again with `sysctl kern.livepatch > FILE`)"
        )),
        "{e}"
    );
}

/// Cut the stalled dump after every line: no panic, and every cut before
/// the last patch's required nodes is refused with `FILE:LINE`.
#[test]
fn every_truncation_is_refused_or_complete() {
    let text = read("stalled.txt");
    let lines: Vec<&str> = text.lines().collect();
    let last_required = lines
        .iter()
        .position(|l| l.starts_with("kern.livepatch.patch.lp_vfs_2.state:"))
        .unwrap();
    for n in 1..lines.len() {
        let cut = lines[..n].join("\n") + "\n";
        let (_dir, path) = open_text(&cut);
        match dump::open(&path) {
            Ok(mut src) => {
                assert!(n > last_required, "cut after line {n} was accepted");
                src.snapshot().unwrap();
            }
            Err(SourceError::Parse { location, message }) => {
                assert!(
                    location.starts_with(&format!("{}:", path.display())),
                    "{location}: {message}"
                );
                let line: usize = location.rsplit(':').next().unwrap().parse().unwrap();
                assert!(line >= 1 && line <= n, "{location}: {message}");
            }
            Err(other) => panic!("cut after line {n}: {other}"),
        }
    }
    // A file that ends without the transition at all says what it misses.
    let cut = lines[..8].join("\n") + "\n";
    let (_dir, path) = open_text(&cut);
    let e = open_err(&path);
    assert!(
        e.contains("dump.txt:8: the dump ends without kern.livepatch.transition.active"),
        "{e}"
    );
}

#[test]
fn garbage_is_refused() {
    let e = open_err(&fixture("garbage.bin"));
    assert!(
        e.ends_with("garbage.bin:1: binary data (NUL byte at column 4): this is not text printed by `sysctl kern.livepatch`"),
        "{e}"
    );
    // Garbage after a good dump, past its last node.
    let mut bytes = std::fs::read(fixture("stalled.txt")).unwrap();
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    bytes.extend_from_slice(b"\xff\xfe\x00garbage\n");
    let (_d, path) = open_text("");
    std::fs::write(&path, &bytes).unwrap();
    let e = open_err(&path);
    assert!(
        e.contains(&format!(
            "dump.txt:{}: binary data (NUL byte at column 3)",
            lines + 1
        )),
        "{e}"
    );
    // Nothing of the garbage reaches the terminal raw.
    assert!(
        !e.chars().any(kmod_bridge::sanitize::is_unsafe_char),
        "{e:?}"
    );
}

#[test]
fn unknown_abi_major_is_refused() {
    match dump::open(&fixture("abi2.txt")) {
        Err(SourceError::UnsupportedAbi { found, supported }) => {
            assert_eq!((found.as_str(), supported), ("2.0", 1));
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("abi 2.0 accepted"),
    }
}

#[test]
fn missing_and_odd_files() {
    let e = open_err(Path::new("/nonexistent/livepatch.txt"));
    assert!(
        e.starts_with("reading /nonexistent/livepatch.txt failed"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("is a directory"), "{e}");
    let (_d, path) = open_text("");
    assert!(open_err(&path).ends_with(
        "dump.txt:1: the file is empty; capture one with `sysctl kern.livepatch > FILE`"
    ));
    let (_d, path) = open_text("kern.ostype: FreeBSD\nkern.osrelease: 14.1-RELEASE\n");
    assert!(
        open_err(&path).contains("dump.txt:2: no kern.livepatch nodes (other sysctl nodes only)")
    );
}

#[test]
fn dump_without_capture_time_says_so() {
    let text: String = read("stalled.txt")
        .lines()
        .filter(|l| !l.starts_with("kern.livepatch.time:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (_d, path) = open_text(&text);
    let snap = dump::open(&path).unwrap().snapshot().unwrap();
    assert!(snap.taken_at > CAPTURED);
    assert!(
        snap.limitations[0].starts_with("the dump does not say when it was captured"),
        "{:?}",
        snap.limitations
    );
}

#[test]
fn controls_on_a_dump_are_read_only() {
    let mut src = dump::open(&fixture("stalled.txt")).unwrap();
    let caps = src.capabilities();
    assert!(!caps.revert && !caps.force && !caps.signal);
    for action in [
        ControlAction::revert("lp-vfs.2"),
        ControlAction::force("lp-vfs.2"),
    ] {
        let e = src.plan(&action).unwrap_err();
        assert!(
            matches!(e, ControlError::ReadOnly(SourceKind::Dump)),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the dump source is read-only: controls need a live kernel or the simulator"
        );
        // Even a plan made elsewhere is not carried out.
        let plan = ControlPlan {
            action: action.clone(),
            writes: Vec::new(),
            effect: String::new(),
            irreversible: false,
            advice: None,
            precondition: Precondition {
                patch_state: PatchState::Patching,
                transition: Some(("lp-vfs.2".into(), Target::Patched)),
            },
        };
        let e = src.execute(&plan).unwrap_err();
        assert!(
            matches!(e, ControlError::ReadOnly(SourceKind::Dump)),
            "{e:?}"
        );
    }
}

/// `doc/MIB.md` shows the stalled fixture verbatim as its example.
#[test]
fn mib_doc_example_is_the_stalled_fixture() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/MIB.md")).unwrap();
    let example = format!("```text\n{}```\n", read("stalled.txt"));
    assert!(
        doc.contains(&example),
        "doc/MIB.md's example differs from stalled.txt"
    );
    // And the blocked-line example in the doc is a line of that fixture.
    let hostile = read("stalled.txt")
        .lines()
        .find(|l| l.starts_with("100342\t"))
        .unwrap()
        .to_string();
    assert!(doc.contains(&format!("```text\n{hostile}\n```")));
}
