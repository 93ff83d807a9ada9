//! Hostile text in every field the console draws, in every pane and popup,
//! at several terminal sizes: no cell may hold a character a terminal
//! interprets (C0/C1 controls, DEL, bidi overrides, zero-width marks), and
//! the hostile parts must show as visible escapes (`\x1b[2J`), not vanish.
//! (ratatui itself drops some control characters from cells; the escapes
//! being visible proves the console sanitises before drawing, and that a
//! name is shown as it is, not silently shortened.)

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kmod_bridge::control::{
    ActionKind, ControlAction, ControlError, ControlPlan, PlannedWrite, Precondition,
};
use kmod_bridge::model::{PatchState, Snapshot, Target};
use patchscope_ui::App;

/// Every class of hostile text; written out (not taken from the
/// sanitiser) so weakening it fails this test.
const H: &str = "H\u{1b}[2J\u{1b}]0;pwned\u{7}\u{8}\r\u{7f}\u{9b}31m\u{85}\u{202e}\u{2066}\u{200f}\u{200b}\u{feff}_";

fn unsafe_char(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
        || u == 0x061c
        || u == 0xfeff
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn h(s: &str) -> String {
    format!("{s}{H}")
}

/// The stalled fixture with hostile text in every string.
fn hostile_snapshot(at: f64) -> Snapshot {
    let mut s = stalled(at, 3, blockers());
    s.source.location = h("location");
    s.kernel.os = h("os");
    s.kernel.release = Some(h("release"));
    s.kernel.abi_version = Some(h("abi"));
    let tr = h("lp_cve");
    for p in &mut s.patches {
        if p.state == PatchState::Patching {
            p.name = tr.clone();
        } else {
            p.name = h(&p.name);
        }
        p.signer = Some(h("signer"));
        for o in &mut p.objects {
            o.name = h(&o.name);
            for f in &mut o.functions {
                f.name = h(&f.name);
            }
        }
    }
    if let Some(t) = s.transition.as_mut() {
        t.patch = tr;
    }
    for (i, b) in s.blocked_threads.iter_mut().enumerate() {
        b.comm = format!(
            "{}{}",
            h(&b.comm),
            "L".repeat(if i == 0 { 5000 } else { 0 })
        );
        b.state = h("D");
        b.wchan = Some(h("wchan"));
        b.blocking_function = Some(h("pipe_read"));
        b.stack = b.stack.iter().map(|l| h(l)).collect();
        b.stack.push(format!("{H}{}", "S".repeat(3000)));
        b.blocked_since = Some(at - 100.0);
    }
    s.limitations = vec![
        h("a limitation"),
        format!("{}{}", h("long"), "x".repeat(2000)),
    ];
    s
}

fn hostile_app() -> App {
    let mut app = App::new(demo_opts(), caps());
    for dt in [-30.0, -20.0, -10.0, 0.0] {
        app.on_snapshot(Ok(hostile_snapshot(T0 + dt)), T0 + dt);
    }
    app
}

fn hostile_plan(kind: ActionKind) -> ControlPlan {
    let patch = h("lp_cve");
    ControlPlan {
        action: ControlAction {
            kind,
            patch: patch.clone(),
        },
        writes: vec![PlannedWrite {
            target: format!("/sys/kernel/livepatch/{patch}/enabled"),
            value: h("0"),
        }],
        effect: h("effect"),
        irreversible: kind == ActionKind::Force,
        advice: Some(h("advice")),
        precondition: Precondition {
            patch_state: PatchState::Patching,
            transition: Some((patch, Target::Patched)),
        },
    }
}

/// Every screen the console can show with hostile data, named.
fn states() -> Vec<(&'static str, App)> {
    let mut v = Vec::new();
    v.push(("overview, threads focused", hostile_app()));
    let mut a = hostile_app();
    a.on_key(code(KeyCode::BackTab));
    v.push(("patches focused", a));
    let mut a = hostile_app();
    a.on_key(code(KeyCode::BackTab));
    a.on_key(code(KeyCode::Enter));
    v.push(("patch detail popup", a));
    let mut a = hostile_app();
    a.on_key(code(KeyCode::Enter));
    v.push(("stack popup, first thread", a));
    let mut a = hostile_app();
    a.on_key(code(KeyCode::End));
    a.on_key(code(KeyCode::Enter));
    v.push(("stack popup, last thread", a));
    let mut a = hostile_app();
    a.on_key(key('?'));
    v.push(("help popup", a));
    let mut a = hostile_app();
    a.on_plan(Ok(hostile_plan(ActionKind::Revert)));
    v.push(("revert confirmation", a));
    let mut a = hostile_app();
    a.on_plan(Ok(hostile_plan(ActionKind::Force)));
    for c in "H\\x1b".chars() {
        a.on_key(key(c));
    }
    // Pasted text can hold bidi characters: typed into the prompt.
    a.on_key(key('\u{202e}'));
    v.push(("force confirmation, typing", a));
    let mut a = hostile_app();
    let p = hostile_plan(ActionKind::Revert);
    a.on_executed(
        &p,
        Err(ControlError::Refused {
            target: p.writes[0].target.clone(),
            value: "0".into(),
            reason: h("EINVAL"),
        }),
        T0,
    );
    v.push(("control failure in the status line", a));
    let mut a = hostile_app();
    a.on_executed(
        &p,
        Err(ControlError::StateChanged {
            patch: p.action.patch.clone(),
            what: h("the patch went from patching to enabled"),
        }),
        T0,
    );
    a.on_key(code(KeyCode::Tab));
    v.push(("event log with a hostile control event", a));
    let mut a = hostile_app();
    a.on_snapshot(Err(h("reading /sys/kernel/livepatch/lp failed")), T0 + 1.0);
    v.push(("read error over the last snapshot", a));
    let mut a = hostile_app();
    a.on_key(key('/'));
    for c in ['\u{202e}', 'H', '\u{1b}', '\u{9b}'] {
        a.on_key(key(c));
    }
    v.push(("filter with pasted bidi text", a));
    let mut a = App::new(demo_opts(), caps());
    a.on_snapshot(Err(h("no live-patch interface found")), T0);
    v.push(("first read failed", a));
    v
}

fn cells(app: &App, w: u16, ht: u16) -> String {
    let term = render(app, w, ht);
    let buf = term.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn no_hostile_character_reaches_a_cell_in_any_screen() {
    for (name, app) in states() {
        for (w, ht) in [(200, 60), (120, 40), (80, 24), (60, 15), (20, 6)] {
            let t = cells(&app, w, ht);
            if let Some(c) = t.chars().find(|&c| c != '\n' && unsafe_char(c)) {
                panic!("{name} at {w}x{ht}: raw U+{:04X} in a cell:\n{t}", c as u32);
            }
        }
    }
}

#[test]
fn hostile_parts_show_as_visible_escapes() {
    for (name, app) in states() {
        if name == "help popup" || name == "filter with pasted bidi text" {
            continue;
        }
        let t = cells(&app, 200, 60);
        assert!(
            t.contains("\\x1b[2J"),
            "{name}: the escape is not shown visibly:\n{t}"
        );
    }
    // Field by field on the screens that show them.
    let all: String = states().iter().map(|(_, a)| cells(a, 200, 60)).collect();
    for visible in [
        "\\x1b]0;pwned\\x07",
        "\\x08\\x0d\\x7f",
        "\\x9b31m\\x85",
        "\\u{202e}\\u{2066}\\u{200f}",
        "\\u{200b}\\u{feff}",
        "lp_cveH\\x1b",
        "signerH\\x1b",
        "wchanH\\x1b",
        "pipe_readH\\x1b",
        "releaseH\\x1b",
        "a limitationH\\x1b",
        "effectH\\x1b",
        "adviceH\\x1b",
        "EINVALH\\x1b",
    ] {
        assert!(all.contains(visible), "{visible} never shown");
    }
}

#[test]
fn typed_force_confirmation_of_a_hostile_name_matches_the_shown_name() {
    let mut a = hostile_app();
    let plan = hostile_plan(ActionKind::Force);
    a.on_plan(Ok(plan.clone()));
    // The user types what the popup shows: the escaped name.
    let shown = kmod_bridge::sanitize::for_terminal(&plan.action.patch).into_owned();
    for c in shown.chars() {
        a.on_key(key(c));
    }
    assert_eq!(
        a.on_key(code(KeyCode::Enter)),
        patchscope_ui::Request::Execute(plan)
    );
}
