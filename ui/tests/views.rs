//! View tests: every pane and popup drawn on a `TestBackend` at a normal
//! (120x40) and a small (60x15) size, compared with committed insta
//! snapshots; plus what snapshots cannot show (styles, tiny sizes, hostile
//! text, scale).

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kmod_bridge::control::{
    ActionKind, ControlAction, ControlOutcome, ControlPlan, PlannedWrite, Precondition,
    describe_effect,
};
use kmod_bridge::model::{PatchState, Target};
use patchscope_ui::app::Pane;
use patchscope_ui::{App, UiOptions};
use ratatui::style::Color;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// The plan the simulator makes (FreeBSD MIB writes).
fn plan(kind: ActionKind) -> ControlPlan {
    let action = ControlAction {
        kind,
        patch: "lp_cve_2024_1086".into(),
    };
    let (effect, irreversible, advice) = describe_effect(&action, PatchState::Patching);
    let writes = match kind {
        ActionKind::Revert => vec![PlannedWrite {
            target: "kern.livepatch.patch.lp_cve_2024_1086.enabled".into(),
            value: "0".into(),
        }],
        ActionKind::Force => vec![PlannedWrite {
            target: "kern.livepatch.transition.force".into(),
            value: "1".into(),
        }],
        ActionKind::Signal => vec![PlannedWrite {
            target: "kern.livepatch.transition.signal".into(),
            value: "1".into(),
        }],
    };
    ControlPlan {
        action,
        writes,
        effect,
        irreversible,
        advice,
        precondition: Precondition {
            patch_state: PatchState::Patching,
            transition: Some(("lp_cve_2024_1086".into(), Target::Patched)),
        },
    }
}

fn text(app: &App, w: u16, h: u16) -> String {
    let term = render(app, w, h);
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

macro_rules! snap_both {
    ($name:literal, $app:expr) => {{
        let app = $app;
        insta::assert_snapshot!(concat!($name, "_120x40"), render(&app, 120, 40).backend());
        insta::assert_snapshot!(concat!($name, "_60x15"), render(&app, 60, 15).backend());
    }};
}

#[test]
fn overview_stalled() {
    snap_both!("overview_stalled", stalled_app(demo_opts()));
}

#[test]
fn patches_pane_with_detail() {
    let mut app = stalled_app(demo_opts());
    app.on_key(code(KeyCode::BackTab));
    assert_eq!(app.focus, Pane::Patches);
    snap_both!("patches", app);
}

#[test]
fn patch_detail_popup() {
    let mut app = stalled_app(demo_opts());
    app.on_key(code(KeyCode::BackTab));
    app.on_key(code(KeyCode::Enter));
    snap_both!("patch_detail", app);
}

#[test]
fn thread_stack_popup() {
    let mut app = stalled_app(demo_opts());
    app.on_key(code(KeyCode::Enter));
    let t = text(&app, 120, 40);
    assert!(t.contains("▶ #3  pipe_read+0x3c4 ◀ blocking"), "{t}");
    snap_both!("thread_stack", app);
}

#[test]
fn events_pane_after_a_control() {
    let mut app = stalled_app(demo_opts());
    let p = plan(ActionKind::Revert);
    app.on_executed(
        &p,
        Ok(ControlOutcome {
            plan: p.clone(),
            message: "transition of 'lp_cve_2024_1086' reversed".into(),
        }),
        T0,
    );
    app.on_key(code(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Events);
    let t = text(&app, 120, 40);
    assert!(
        t.contains("control       revert of 'lp_cve_2024_1086': transition"),
        "{t}"
    );
    assert!(
        t.contains("kern.livepatch.patch.lp_cve_2024_1086.enabled)"),
        "{t}"
    );
    snap_both!("events", app);
}

#[test]
fn control_failure_in_status_line() {
    let mut app = stalled_app(demo_opts());
    let p = plan(ActionKind::Force);
    app.on_executed(
        &p,
        Err(kmod_bridge::control::ControlError::PermissionDenied {
            target: "kern.livepatch.transition.force".into(),
        }),
        T0,
    );
    snap_both!("control_failed", app);
}

#[test]
fn confirm_revert() {
    let mut app = stalled_app(demo_opts());
    app.on_plan(Ok(plan(ActionKind::Revert)));
    let t = text(&app, 120, 40);
    assert!(t.contains("write 0 to kern.livepatch.patch.lp_cve_2024_1086.enabled"));
    assert!(t.contains("Enter = no (the default)"));
    snap_both!("confirm_revert", app);
}

#[test]
fn confirm_force() {
    let mut app = stalled_app(demo_opts());
    app.on_plan(Ok(plan(ActionKind::Force)));
    for c in "lp_cve".chars() {
        app.on_key(key(c));
    }
    let t = text(&app, 120, 40);
    assert!(t.contains("IRREVERSIBLE"));
    assert!(t.contains("plan a reboot"));
    assert!(t.contains("> lp_cve▏"));
    snap_both!("confirm_force", app);
}

#[test]
fn help() {
    let mut app = stalled_app(demo_opts());
    app.on_key(key('?'));
    snap_both!("help", app);
}

#[test]
fn help_read_only_lists_no_controls() {
    let mut app = stalled_app(UiOptions {
        read_only: true,
        ..demo_opts()
    });
    app.on_key(key('?'));
    let t = text(&app, 120, 40).to_lowercase();
    for word in ["revert", "force", "s signal", "confirmation"] {
        assert!(!t.contains(word), "read-only help mentions {word}:\n{t}");
    }
    snap_both!("help_read_only", app);
}

#[test]
fn read_only_main_screen_offers_no_control() {
    let app = stalled_app(UiOptions {
        read_only: true,
        ..demo_opts()
    });
    for (w, h) in [(120, 40), (60, 15), (200, 60)] {
        let t = text(&app, w, h).to_lowercase();
        assert!(!t.contains("revert"), "{t}");
        assert!(!t.contains("r revert"));
    }
    snap_both!("read_only", app);
}

#[test]
fn idle_kernel() {
    snap_both!("idle", idle_app());
}

#[test]
fn a_forced_kernel_stays_flagged_when_idle() {
    let mut app = App::new(UiOptions::default(), caps());
    let mut s = base(T0);
    if let Some(c) = s.counters.as_mut() {
        c.transitions_forced = 1;
    }
    app.on_snapshot(Ok(s), T0);
    let t = text(&app, 120, 40);
    assert!(
        t.contains(" FORCED  1 transition was forced since boot"),
        "{t}"
    );
    assert!(t.contains("plan a reboot"));
    snap_both!("idle_forced", app);
}

#[test]
fn pending_but_unlisted_threads_are_explained() {
    let app = unlisted_app();
    let t = text(&app, 120, 40);
    assert!(t.contains("2 threads are pending, but none can be listed here."));
    assert!(t.contains("idle tasks (swapper/N)"));
    snap_both!("unlisted", app);
}

#[test]
fn listed_threads_with_limitations_say_the_view_is_incomplete() {
    let mut app = App::new(UiOptions::default(), caps());
    let mut s = stalled(T0, 5, blockers());
    s.limitations = vec![
        "reading /proc/<pid>/task/<tid>/stack needs root: stacks are not shown".into(),
        "idle tasks (swapper/N) take part in the transition but have no /proc entry".into(),
    ];
    app.on_snapshot(Ok(s), T0);
    let t = text(&app, 120, 40);
    assert!(
        t.contains("incomplete: reading /proc/<pid>/task/<tid>/stack needs root"),
        "{t}"
    );
}

#[test]
fn filter_in_progress() {
    let mut app = stalled_app(demo_opts());
    app.on_key(key('/'));
    for c in "pipe".chars() {
        app.on_key(key(c));
    }
    assert_eq!(app.threads.view.len(), 1);
    snap_both!("filter", app);
}

#[test]
fn before_the_first_reading_and_on_read_errors() {
    let app = App::new(UiOptions::default(), caps());
    snap_both!("waiting", app);
    let mut app = App::new(UiOptions::default(), caps());
    app.on_snapshot(
        Err("reading /sys/kernel/livepatch failed: permission denied".into()),
        T0,
    );
    snap_both!("read_error", app);
}

#[test]
fn stalled_is_red_and_in_words() {
    let app = stalled_app(demo_opts());
    let term = render(&app, 120, 40);
    let buf = term.backend().buffer();
    // Row 3 is the headline: " STALLED " on red.
    let row: String = (0..30).map(|x| buf[(x, 3)].symbol().to_string()).collect();
    assert!(row.contains("STALLED"), "{row}");
    let cell = &buf[(2, 3)];
    assert_eq!(cell.bg, Color::Red);
}

#[test]
fn hostile_text_never_reaches_the_terminal_raw() {
    let mut app = stalled_app(demo_opts());
    app.on_key(code(KeyCode::End)); // the hostile thread
    app.on_key(code(KeyCode::Enter));
    for (w, h) in [(120, 40), (60, 15)] {
        let t = text(&app, w, h);
        assert!(
            !t.lines()
                .any(|l| l.chars().any(kmod_bridge::sanitize::is_unsafe_char)),
            "unsafe character drawn at {w}x{h}"
        );
        assert!(t.contains("\\x1b[2J"));
    }
}

/// Every state at every size from 1x1 up draws without panicking, and a
/// resize between draws is fine.
#[test]
fn tiny_and_odd_sizes_never_panic() {
    let mut states: Vec<App> = vec![
        App::new(UiOptions::default(), caps()),
        idle_app(),
        unlisted_app(),
    ];
    let mut a = stalled_app(demo_opts());
    a.on_key(key('?'));
    states.push(a);
    let mut a = stalled_app(demo_opts());
    a.on_plan(Ok(plan(ActionKind::Force)));
    states.push(a);
    let mut a = stalled_app(demo_opts());
    a.on_key(code(KeyCode::Enter));
    states.push(a);
    let mut a = stalled_app(demo_opts());
    a.on_key(code(KeyCode::BackTab));
    a.on_key(code(KeyCode::Enter));
    states.push(a);
    states.push(stalled_app(demo_opts()));
    let sizes: Vec<(u16, u16)> = (1..=12)
        .flat_map(|w| (1..=12).map(move |h| (w * 11 - 10, h * 4 - 3)))
        .chain([
            (1, 1),
            (2, 1),
            (1, 2),
            (79, 29),
            (80, 30),
            (99, 40),
            (100, 40),
            (500, 200),
        ])
        .collect();
    for app in &states {
        let mut term = render(app, 1, 1);
        for &(w, h) in &sizes {
            term.backend_mut().resize(w, h);
            term.draw(|f| patchscope_ui::draw(f, app)).unwrap();
        }
    }
}

#[test]
fn hundred_thousand_threads_scroll_to_the_end() {
    let mut app = App::new(UiOptions::default(), caps());
    app.on_snapshot(Ok(many(100_000)), T0);
    assert_eq!(app.threads.view.len(), 100_000);
    let _ = render(&app, 120, 40);
    app.on_key(code(KeyCode::End));
    app.on_key(code(KeyCode::PageUp));
    let t = text(&app, 120, 40);
    assert!(t.contains("Blocked threads (100,000)"));
    let selected = app.selected_thread().map(|t| t.tid);
    assert!(selected.is_some());
    assert!(t.contains(&format!("▶ {}", selected.unwrap_or(0))), "{t}");
    app.on_key(key('/'));
    app.on_key(key('1'));
    app.on_key(key('2'));
    app.on_key(key('3'));
    app.on_key(key('4'));
    app.on_key(key('5'));
    assert!(!app.threads.view.is_empty());
    let _ = render(&app, 120, 40);
}

#[test]
fn a_transition_with_no_visible_thread_is_not_shown_as_done() {
    let mut app = App::new(UiOptions::default(), caps());
    let mut s = stalled(T0, 0, vec![]);
    if let Some(t) = s.transition.as_mut() {
        t.threads_total = 0;
    }
    app.on_snapshot(Ok(s), T0);
    for (w, h) in [(120, 40), (60, 15)] {
        let t = text(&app, w, h);
        assert!(!t.contains("100.0%"), "{t}");
        assert!(t.contains("progress unknown"), "{t}");
    }
}
