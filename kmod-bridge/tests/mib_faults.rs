//! Faults injected between the FreeBSD MIB decoder and a kernel: the
//! simulated kernel wrapped in a tree that fails reads, publishes an ABI
//! this build does not know or garbage, drops nodes as a module being
//! unloaded does, and answers writes with errors. The wrapper is read as
//! `SourceKind::Freebsd`, so this is the code path of a real FreeBSD box
//! (`MibSource` over a `MibTree`) with only the sysctl calls replaced.
//!
//! Also the safe-control rule on every source kind: when the state
//! changes between the plan (what the user confirmed) and the write, the
//! write is not made and the user is told what changed.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kmod_bridge::audit;
use kmod_bridge::control::{ControlAction, ControlError};
use kmod_bridge::model::{PatchState, SourceKind};
use kmod_bridge::source::freebsd::{MibSource, MibTree, MibValue, MibWriteError, mib};
use kmod_bridge::source::sim::{Scenario, SimConfig, SimTree};
use kmod_bridge::{Source, SourceError};

/// What the wrapper does to the next reads and writes.
#[derive(Debug, Default, Clone)]
struct Faults {
    /// Fail every read with this error text (an I/O failure of sysctl).
    read_error: Option<String>,
    /// Replace these nodes' values on read.
    overrides: Vec<(String, MibValue)>,
    /// Drop nodes whose name starts with one of these on read.
    drop_prefixes: Vec<String>,
    /// Answer every write with this error, writing nothing.
    write_error: Option<MibWriteError>,
    /// Writes that reached the kernel.
    writes: Vec<(String, i64)>,
}

/// The simulator behind a fault injector.
struct Faulty {
    sim: SimTree,
    faults: Arc<Mutex<Faults>>,
}

impl MibTree for Faulty {
    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
        let f = self.faults.lock().unwrap().clone();
        if let Some(e) = f.read_error {
            return Err(SourceError::Mib {
                node: mib::ROOT.into(),
                message: e,
            });
        }
        let mut nodes = self.sim.read_all(root)?;
        nodes.retain(|(n, _)| !f.drop_prefixes.iter().any(|p| n.starts_with(p.as_str())));
        for (name, v) in &f.overrides {
            match nodes.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => nodes.push((name.clone(), v.clone())),
            }
        }
        Ok(nodes)
    }

    fn write_int(&mut self, node: &str, value: i64) -> Result<(), MibWriteError> {
        let mut f = self.faults.lock().unwrap();
        if let Some(e) = &f.write_error {
            return Err(e.clone());
        }
        f.writes.push((node.to_string(), value));
        drop(f);
        self.sim.write_int(node, value)
    }

    fn location(&self) -> String {
        "faulty sysctl tree".into()
    }

    fn writable(&self) -> bool {
        true
    }
}

type Src = MibSource<Faulty>;

fn open(scenario: Scenario) -> (Src, Arc<Mutex<Faults>>) {
    let faults = Arc::new(Mutex::new(Faults::default()));
    let sim = SimTree::new(SimConfig::manual(scenario)).unwrap();
    let tree = Faulty {
        sim,
        faults: Arc::clone(&faults),
    };
    (MibSource::new(tree, SourceKind::Freebsd), faults)
}

/// The audit capture is process-wide: one control test at a time.
static AUDIT: Mutex<()> = Mutex::new(());

fn audit_lock() -> std::sync::MutexGuard<'static, ()> {
    let guard = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    audit::capture();
    let _ = audit::take_captured();
    guard
}

fn patch_in_transition(src: &mut Src) -> String {
    src.snapshot().unwrap().transition.unwrap().patch
}

// ---------------------------------------------------------------------
// Reads

#[test]
fn a_failing_read_is_an_error_and_the_next_read_recovers() {
    let (mut src, faults) = open(Scenario::Stalled);
    faults.lock().unwrap().read_error = Some("Input/output error".into());
    let e = src.snapshot().unwrap_err();
    assert_eq!(e.to_string(), "sysctl kern.livepatch: Input/output error");
    faults.lock().unwrap().read_error = None;
    assert!(src.snapshot().unwrap().transition.is_some());
}

#[test]
fn an_unknown_abi_is_refused_with_what_to_do() {
    let (mut src, faults) = open(Scenario::Stalled);
    for (version, major) in [("2.0", 2), ("0.9", 0), ("x", 1), ("", 1)] {
        faults.lock().unwrap().overrides = vec![
            (mib::ABI_VERSION.into(), MibValue::Str(version.into())),
            (mib::ABI_MAJOR_NODE.into(), MibValue::Int(major)),
        ];
        let e = src.snapshot().unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                SourceError::UnsupportedAbi { .. }
                    | SourceError::Parse { .. }
                    | SourceError::Mib { .. }
            ),
            "{version}: {msg}"
        );
        assert!(msg.contains("kern.livepatch.abi"), "{version}: {msg}");
    }
    faults.lock().unwrap().overrides = vec![
        (mib::ABI_VERSION.into(), MibValue::Str("2.0".into())),
        (mib::ABI_MAJOR_NODE.into(), MibValue::Int(2)),
    ];
    let msg = src.snapshot().unwrap_err().to_string();
    assert!(msg.contains("upgrade patchscope"), "{msg}");
    // A newer minor version is read: unknown nodes are ignored.
    faults.lock().unwrap().overrides = vec![
        (mib::ABI_VERSION.into(), MibValue::Str("1.7".into())),
        (mib::ABI_MINOR_NODE.into(), MibValue::Int(7)),
        ("kern.livepatch.future_node".into(), MibValue::Int(1)),
    ];
    assert!(src.snapshot().is_ok());
}

#[test]
fn garbage_values_are_errors_naming_the_node_or_limitations() {
    let (mut src, faults) = open(Scenario::Stalled);
    let tr = patch_in_transition(&mut src);
    // Required numbers holding text: an error naming the node.
    for node in [mib::TR_THREADS_TOTAL, mib::TR_ACTIVE, mib::TR_TARGET] {
        faults.lock().unwrap().overrides =
            vec![(node.into(), MibValue::Str("\u{1b}[2Jlots".into()))];
        let msg = src.snapshot().unwrap_err().to_string();
        assert!(msg.contains(node), "{node}: {msg}");
    }
    // Counts that contradict each other: shown, and said.
    faults.lock().unwrap().overrides = vec![
        (mib::TR_THREADS_TOTAL.into(), MibValue::Int(3)),
        (mib::TR_THREADS_PENDING.into(), MibValue::Int(9)),
    ];
    let s = src.snapshot().unwrap();
    assert!(
        s.limitations
            .iter()
            .any(|l| l.contains("thread counts disagree")),
        "{:?}",
        s.limitations
    );
    // A blocked list of garbage: each line counted, none invented.
    faults.lock().unwrap().overrides = vec![(
        mib::TR_BLOCKED.into(),
        MibValue::Str("garbage\n\u{ff}\u{1b}\n1\t2".into()),
    )];
    let s = src.snapshot().unwrap();
    assert!(s.blocked_threads.is_empty());
    assert!(
        s.limitations
            .iter()
            .any(|l| l.contains("3 unreadable line")),
        "{:?}",
        s.limitations
    );
    assert_eq!(s.transition.unwrap().patch, tr);
}

#[test]
fn a_patch_subtree_vanishing_while_read_degrades_the_view() {
    let (mut src, faults) = open(Scenario::Healthy);
    let before = src.snapshot().unwrap();
    assert_eq!(before.patches.len(), 3);
    // The module of one patch unloads while the tree is walked: part of
    // its subtree is gone, npatches still counts it.
    let comp = "kern.livepatch.patch.";
    let first = before.patches[0].name.clone();
    let all = src.tree_mut().read_all(mib::ROOT).unwrap();
    let node = all
        .iter()
        .find(|(n, v)| {
            n.starts_with(comp) && n.ends_with(".name") && *v == MibValue::Str(first.clone())
        })
        .map(|(n, _)| n.trim_end_matches(".name").to_string())
        .unwrap();
    faults.lock().unwrap().drop_prefixes = vec![format!("{node}.enabled"), format!("{node}.obj")];
    let s = src.snapshot().unwrap();
    assert_eq!(s.patches.len(), 2, "the half-gone patch is left out");
    assert!(
        s.limitations.iter().any(|l| l.contains("was incomplete")),
        "{:?}",
        s.limitations
    );
    // Gone entirely, while npatches still counts it.
    faults.lock().unwrap().drop_prefixes = vec![format!("{node}.")];
    let s = src.snapshot().unwrap();
    assert_eq!(s.patches.len(), 2);
    assert!(
        s.limitations
            .iter()
            .any(|l| l.contains("npatches says 3 patches but 2 patch subtrees were read")),
        "{:?}",
        s.limitations
    );
    // The whole MIB gone (module unloaded): a clear error.
    faults.lock().unwrap().drop_prefixes = vec!["kern.livepatch".into()];
    let msg = src.snapshot().unwrap_err().to_string();
    assert!(msg.contains("is the livepatch module loaded?"), "{msg}");
}

// ---------------------------------------------------------------------
// Writes the kernel answers with an error

#[test]
fn write_errors_are_plain_logged_and_change_nothing() {
    let _g = audit_lock();
    let cases = [
        (
            MibWriteError::PermissionDenied,
            "needs root (permission denied): run patchscope as root or with sudo",
        ),
        (
            MibWriteError::Errno {
                errno: libc::EBUSY,
                name: "EBUSY".into(),
            },
            "the kernel refused writing 0 to kern.livepatch.patch.",
        ),
        (
            MibWriteError::Errno {
                errno: libc::EIO,
                name: "EIO".into(),
            },
            ": EIO",
        ),
        (MibWriteError::NotFound, "nothing was written"),
    ];
    for (err, says) in cases {
        let (mut src, faults) = open(Scenario::Stalled);
        let tr = patch_in_transition(&mut src);
        let plan = src.plan(&ControlAction::revert(&tr)).unwrap();
        faults.lock().unwrap().write_error = Some(err.clone());
        let before = src.snapshot().unwrap();
        let e = src.execute(&plan).unwrap_err();
        assert!(e.to_string().contains(says), "{err:?}: {e}");
        let after = src.snapshot().unwrap();
        assert_eq!(after.patches, before.patches, "{err:?}: state changed");
        assert_eq!(
            after.transition.as_ref().map(|t| (&t.patch, t.target)),
            before.transition.as_ref().map(|t| (&t.patch, t.target))
        );
        assert!(faults.lock().unwrap().writes.is_empty());
        let lines = audit::take_captured();
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("revert of '{tr}'")))
            .unwrap_or_else(|| panic!("{err:?}: no audit line in {lines:?}"));
        assert!(line.contains(": error: "), "{line}");
        assert!(line.contains(" by ") && line.contains("(uid "), "{line}");
    }
}

// ---------------------------------------------------------------------
// The state changes between the confirmation and the write

#[test]
fn sim_transition_completing_before_the_write_refuses_it() {
    let _g = audit_lock();
    let (mut src, faults) = open(Scenario::Progressing);
    let tr = patch_in_transition(&mut src);
    let plan = src.plan(&ControlAction::force(&tr)).unwrap();
    // The user reads the confirmation for two minutes; the transition
    // completes by itself meanwhile.
    src.tree_mut().sim.advance(Duration::from_secs(120));
    let e = src.execute(&plan).unwrap_err();
    assert!(matches!(e, ControlError::StateChanged { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("nothing was written: the patch went from patching to enabled"),
        "{msg}"
    );
    assert!(faults.lock().unwrap().writes.is_empty());
    assert_eq!(
        src.snapshot().unwrap().counters.unwrap().transitions_forced,
        0
    );
    assert!(
        audit::take_captured().is_empty(),
        "nothing written, nothing logged"
    );
}

#[test]
fn sim_another_patch_starting_a_transition_refuses_the_write() {
    let _g = audit_lock();
    let (mut src, faults) = open(Scenario::Healthy);
    let s = src.snapshot().unwrap();
    let (a, b) = (s.patches[0].name.clone(), s.patches[1].name.clone());
    let plan = src.plan(&ControlAction::revert(&a)).unwrap();
    assert_eq!(plan.precondition.patch_state, PatchState::Enabled);
    // Another administrator disables patch b meanwhile.
    let other = src.plan(&ControlAction::revert(&b)).unwrap();
    src.execute(&other).unwrap();
    faults.lock().unwrap().writes.clear();
    let e = src.execute(&plan).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "the transition changed from no transition to '{b}' moving to unpatched"
        )),
        "{msg}"
    );
    assert!(faults.lock().unwrap().writes.is_empty());
    assert_eq!(
        src.snapshot().unwrap().patch(&a).unwrap().state,
        PatchState::Enabled
    );
}

#[test]
fn dump_refuses_controls_before_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.txt");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/freebsd/stalled.txt"
    );
    std::fs::copy(fixture, &path).unwrap();
    let mut src = kmod_bridge::source::dump::open(&path).unwrap();
    let tr = src.snapshot().unwrap().transition.unwrap().patch;
    for action in [
        ControlAction::revert(&tr),
        ControlAction::force(&tr),
        ControlAction::signal(&tr),
    ] {
        let e = src.plan(&action).unwrap_err();
        assert!(matches!(e, ControlError::ReadOnly(SourceKind::Dump)), "{e}");
        assert!(e.to_string().contains("read-only"), "{e}");
    }
}

/// Peak resident memory of this process, KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_huge_dump_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.txt");
    // Sparse: 300 MiB that cost no disk, and must cost no memory either.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(300 << 20).unwrap();
    let before = peak_rss_kib();
    let e = match kmod_bridge::source::dump::open(&path) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a 300 MiB dump was accepted"),
    };
    assert!(
        e.ends_with("larger than 256 MiB: not a `sysctl kern.livepatch` dump"),
        "{e}"
    );
    let grew = peak_rss_kib().saturating_sub(before);
    assert!(grew < 64 * 1024, "read {grew} KiB before refusing");
}
