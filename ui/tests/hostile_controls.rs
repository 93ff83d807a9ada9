//! The console's control flow against real sources when the kernel's state
//! changes between the confirmation and the write: the keys, the plan, the
//! confirmation popup, the write attempt and the status line, as the event
//! loop in `terminal.rs` carries them out. What the user confirmed must be
//! what gets written; when the state moved meanwhile nothing is written
//! and the console says what changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kmod_bridge::Source;
use kmod_bridge::control::ControlError;
use kmod_bridge::model::PatchState;
use kmod_bridge::source::freebsd::{MibTree, mib};
use kmod_bridge::source::linux::{LinuxConfig, LinuxSource};
use kmod_bridge::source::sim::{self, Scenario, SimConfig};
use kmod_bridge::watch::EventKind;
use patchscope_ui::app::{Level, Popup};
use patchscope_ui::{App, Request, UiOptions};

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// One refresh, as the event loop does it.
fn refresh(app: &mut App, src: &mut dyn Source) {
    let r = src.snapshot().map_err(|e| e.to_string());
    let now = r.as_ref().map_or(0.0, |s| s.taken_at);
    app.on_snapshot(r, now);
}

/// Press `k`; carry out a Plan request the way the event loop does.
fn press(app: &mut App, src: &mut dyn Source, k: KeyEvent) -> Request {
    let req = app.on_key(k);
    if let Request::Plan(action) = &req {
        let plan = src.plan(action);
        app.on_plan(plan);
    }
    req
}

/// Carry out an Execute request; returns whether the write failed with
/// `StateChanged`.
fn execute(app: &mut App, src: &mut dyn Source, req: Request) -> bool {
    let Request::Execute(plan) = req else {
        panic!("expected an Execute request, got {req:?}");
    };
    let result = src.execute(&plan);
    let changed = matches!(result, Err(ControlError::StateChanged { .. }));
    app.on_executed(&plan, result, 0.0);
    refresh(app, src);
    changed
}

fn status(app: &App) -> (Level, String) {
    let s = app.status.as_ref().expect("a status message");
    (s.level, s.text.clone())
}

#[test]
fn sim_revert_confirmed_after_someone_forced_writes_nothing() {
    let mut src = sim::open(SimConfig::manual(Scenario::Stalled)).unwrap();
    let mut app = App::new(UiOptions::default(), src.capabilities());
    refresh(&mut app, &mut src);
    let c0 = app.snapshot.as_ref().unwrap().counters.unwrap();
    let tr = app
        .snapshot
        .as_ref()
        .unwrap()
        .transition
        .clone()
        .unwrap()
        .patch;

    let req = press(&mut app, &mut src, key('r'));
    assert!(matches!(&req, Request::Plan(a) if a.patch == tr), "{req:?}");
    assert!(matches!(app.popup, Some(Popup::Confirm(_))));
    // While the confirmation is on screen another administrator forces
    // the transition to complete.
    src.tree_mut().write_int(mib::TR_FORCE, 1).unwrap();
    let req = app.on_key(key('y'));
    assert!(
        execute(&mut app, &mut src, req),
        "the write was not refused"
    );

    let (level, text) = status(&app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("nothing was written"), "{text}");
    assert!(
        text.contains("the patch went from patching to enabled"),
        "{text}"
    );
    let snap = app.snapshot.as_ref().unwrap();
    let c = snap.counters.unwrap();
    assert_eq!(
        c.transitions_reversed, c0.transitions_reversed,
        "no revert was written"
    );
    assert_eq!(
        c.transitions_forced,
        c0.transitions_forced + 1,
        "the other admin's force"
    );
    assert_eq!(snap.patch(&tr).unwrap().state, PatchState::Enabled);
    assert!(
        app.watch.events().iter().any(
            |e| e.kind == EventKind::ControlFailed && e.message.contains("nothing was written")
        ),
        "the failure is in the event log"
    );
}

#[test]
fn sim_force_typed_after_someone_reverted_writes_nothing() {
    let mut src = sim::open(SimConfig::manual(Scenario::Stalled)).unwrap();
    let mut app = App::new(UiOptions::default(), src.capabilities());
    refresh(&mut app, &mut src);
    let c0 = app.snapshot.as_ref().unwrap().counters.unwrap();
    let tr = app
        .snapshot
        .as_ref()
        .unwrap()
        .transition
        .clone()
        .unwrap()
        .patch;
    press(&mut app, &mut src, key('f'));
    for c in tr.chars() {
        app.on_key(key(c));
    }
    // Meanwhile the transition is reversed by someone else.
    let comp = format!(
        "{}.{}.{}",
        mib::PATCH_PREFIX,
        mib::node_component(&tr),
        mib::patch_leaf::ENABLED
    );
    src.tree_mut().write_int(&comp, 0).unwrap();
    let req = app.on_key(code(KeyCode::Enter));
    assert!(execute(&mut app, &mut src, req));
    let (_, text) = status(&app);
    assert!(
        text.contains("nothing was written: the patch went from patching to unpatching"),
        "{text}"
    );
    let c = app.snapshot.as_ref().unwrap().counters.unwrap();
    assert_eq!(
        c.transitions_forced, c0.transitions_forced,
        "no force was written"
    );
}

#[test]
fn sim_revert_confirmed_without_change_is_written() {
    // The control path itself works: the refusals above are not a
    // console that never writes.
    let mut src = sim::open(SimConfig::manual(Scenario::Stalled)).unwrap();
    let mut app = App::new(UiOptions::default(), src.capabilities());
    refresh(&mut app, &mut src);
    let c0 = app.snapshot.as_ref().unwrap().counters.unwrap();
    press(&mut app, &mut src, key('r'));
    let req = app.on_key(key('y'));
    assert!(!execute(&mut app, &mut src, req));
    let (level, text) = status(&app);
    assert_eq!(level, Level::Success, "{text}");
    let c = app.snapshot.as_ref().unwrap().counters.unwrap();
    assert_eq!(c.transitions_reversed, c0.transitions_reversed + 1);
}

/// A minimal klp tree: one patch in transition, no threads.
struct Tree(std::path::PathBuf);

impl Tree {
    fn new(name: &str) -> Self {
        let root =
            std::env::temp_dir().join(format!("patchscope-ui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let p = root.join("sys/kernel/livepatch/lp_fix");
        std::fs::create_dir_all(p.join("vmlinux/vfs_read,1")).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        for (leaf, v) in [("enabled", "1\n"), ("transition", "1\n"), ("force", "")] {
            std::fs::write(p.join(leaf), v).unwrap();
        }
        Tree(root)
    }
    fn patch(&self, leaf: &str) -> std::path::PathBuf {
        self.0.join("sys/kernel/livepatch/lp_fix").join(leaf)
    }
    fn source(&self) -> LinuxSource {
        LinuxSource::open(LinuxConfig {
            sysfs: self.0.join("sys"),
            procfs: self.0.join("proc"),
            kmsg: None,
        })
        .unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn linux_revert_confirmed_after_the_transition_completed_writes_nothing() {
    let tree = Tree::new("revert");
    let mut src = tree.source();
    let mut app = App::new(UiOptions::default(), src.capabilities());
    refresh(&mut app, &mut src);
    press(&mut app, &mut src, key('r'));
    let Some(Popup::Confirm(c)) = &app.popup else {
        panic!("no confirmation: {:?}", app.status)
    };
    assert_eq!(c.plan.writes[0].value, "0");
    // The transition completes while the user reads: writing 0 now would
    // start an unpatching nobody confirmed.
    std::fs::write(tree.patch("transition"), "0\n").unwrap();
    let req = app.on_key(key('y'));
    assert!(execute(&mut app, &mut src, req));
    let (_, text) = status(&app);
    assert!(
        text.contains("nothing was written: the patch went from patching to enabled"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(tree.patch("enabled")).unwrap(),
        "1\n"
    );
}

#[test]
fn linux_force_typed_after_the_patch_was_removed_writes_nothing() {
    let tree = Tree::new("force");
    let mut src = tree.source();
    let mut app = App::new(UiOptions::default(), src.capabilities());
    refresh(&mut app, &mut src);
    press(&mut app, &mut src, key('f'));
    for c in "lp_fix".chars() {
        app.on_key(key(c));
    }
    // The patch is reverted and its module removed meanwhile.
    std::fs::remove_dir_all(tree.0.join("sys/kernel/livepatch/lp_fix")).unwrap();
    let req = app.on_key(code(KeyCode::Enter));
    assert!(execute(&mut app, &mut src, req));
    let (_, text) = status(&app);
    assert!(
        text.contains("nothing was written: the patch is gone"),
        "{text}"
    );
    assert!(!tree.patch("force").exists(), "nothing was created");
}
