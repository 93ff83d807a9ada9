//! The bottom line: the filter being typed, the last message (control
//! results, errors), or the key hints. Control keys are hinted only when
//! they are offered (not read-only, supported by the source).

use kmod_bridge::control::ActionKind;
use kmod_bridge::sanitize::for_terminal;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Level};
use crate::theme;

/// The key hints, as (key, word) pairs, for the current state.
pub fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    let mut h = vec![
        ("q", "quit"),
        ("?", "help"),
        ("Tab", "pane"),
        ("j/k", "move"),
        ("Enter", "details"),
        ("/", "filter"),
        ("o", "sort"),
        ("p", if app.paused { "resume" } else { "pause" }),
    ];
    if app.control_offered(ActionKind::Revert) {
        h.push(("r", "revert"));
    }
    if app.control_offered(ActionKind::Force) {
        h.push(("f", "force"));
    }
    if app.control_offered(ActionKind::Signal) {
        h.push(("s", "signal"));
    }
    h
}

fn hint_spans(pairs: &[(&'static str, &'static str)]) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (k, w) in pairs {
        spans.push(Span::styled(format!(" {k}"), theme::key()));
        spans.push(Span::raw(format!(" {w}")));
    }
    spans
}

/// Draw the status line.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    if app.editing_filter {
        let line = Line::from(vec![
            Span::styled(" / ", theme::key()),
            Span::raw(for_terminal(&app.threads.filter).into_owned()),
            Span::styled("▏", theme::key()),
            Span::styled(
                "  Enter keeps the filter · Esc clears it · ↑/↓ move",
                theme::dim(),
            ),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let message = match (&app.read_error, &app.status) {
        (Some(e), _) => Some(Line::from(vec![
            Span::styled(" READ FAILED ", theme::alarm()),
            Span::styled(format!(" {}", for_terminal(e)), theme::error()),
        ])),
        (None, Some(s)) => {
            let style = match s.level {
                Level::Info => theme::text(),
                Level::Success => theme::ok(),
                Level::Error => theme::error(),
            };
            Some(Line::from(Span::styled(
                format!(" {}", for_terminal(&s.text)),
                style,
            )))
        }
        (None, None) => None,
    };
    let mut prefix = Vec::new();
    if app.paused {
        prefix.push(Span::styled(" PAUSED ", theme::warn().reversed()));
    }
    match message {
        Some(mut line) => {
            // The message first; the help key stays visible on the right.
            let right = Line::from(hint_spans(&[("?", "help"), ("q", "quit")]));
            let rw = u16::try_from(right.width()).unwrap_or(u16::MAX);
            let [left_a, right_a] = Layout::horizontal([
                Constraint::Fill(1),
                Constraint::Length(rw.saturating_add(1)),
            ])
            .areas(area);
            prefix.append(&mut line.spans);
            frame.render_widget(Paragraph::new(Line::from(prefix)), left_a);
            frame.render_widget(Paragraph::new(right).right_aligned(), right_a);
        }
        None => {
            prefix.extend(hint_spans(&hints(app)));
            frame.render_widget(Paragraph::new(Line::from(prefix)), area);
        }
    }
}
