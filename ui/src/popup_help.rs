//! The help popup: every key the console takes, in this state. Controls
//! are listed only when offered (not `--read-only`, supported by the
//! source).

use kmod_bridge::control::ActionKind;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;
use crate::draw::{centered, clear, wrapped_height};
use crate::theme;

/// Sections of (key, what it does).
pub fn entries(app: &App) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let mut sections = vec![
        (
            "Move",
            vec![
                (
                    "Tab / Shift-Tab",
                    "next / previous pane (patches, threads, events)",
                ),
                ("j / k, ↓ / ↑", "select the next / previous row"),
                ("PgDn / PgUp", "a page down / up"),
                ("g / G, Home / End", "first / last row"),
                (
                    "Enter",
                    "details: the thread's stack, or the patch's functions",
                ),
            ],
        ),
        (
            "View",
            vec![
                (
                    "/",
                    "filter blocked threads (comm, function, wchan, state, tid)",
                ),
                (
                    "o / O",
                    "sort threads by the next column / reverse the order",
                ),
                ("p", "pause / resume the refresh"),
                ("?, F1", "this help"),
                ("Esc", "close a popup; quit when none is open"),
                ("q, Ctrl-C", "quit"),
            ],
        ),
    ];
    let mut controls = Vec::new();
    if app.control_offered(ActionKind::Revert) {
        controls.push((
            "r",
            "revert the selected patch (reverses its transition), after a y/N confirmation",
        ));
    }
    if app.control_offered(ActionKind::Force) {
        controls.push((
            "f",
            "force its transition: irreversible, needs the patch name typed",
        ));
    }
    if app.control_offered(ActionKind::Signal) {
        controls.push(("s", "signal the threads blocking its transition"));
    }
    if !controls.is_empty() {
        controls.push((
            "y / n, Enter",
            "in a confirmation: yes / no; Enter alone is no",
        ));
        sections.push(("Controls (on the selected patch)", controls));
    }
    sections
}

fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    // Narrow screens put each description under its key.
    let narrow = width < 80;
    let mut out = Vec::new();
    for (title, keys) in entries(app) {
        if !out.is_empty() {
            out.push(Line::from(""));
        }
        out.push(Line::from(Span::styled(title, theme::header())));
        for (k, what) in keys {
            if narrow {
                out.push(Line::from(Span::styled(format!("  {k}"), theme::key())));
                out.push(Line::from(format!("      {what}")));
            } else {
                out.push(Line::from(vec![
                    Span::styled(format!("  {k:<18}"), theme::key()),
                    Span::raw(what),
                ]));
            }
        }
    }
    out.push(Line::from(""));
    if app.opts.read_only {
        out.push(Line::from(Span::styled(
            "Read-only (--read-only): this console changes nothing.",
            theme::dim(),
        )));
    }
    out.push(Line::from(Span::styled(
        "Esc or ? closes this help.",
        theme::dim(),
    )));
    out
}

/// Draw the help popup, scrolled by `scroll` lines on small terminals.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let width = area.width.min(92);
    let text = lines(app, width);
    let inner_w = width.saturating_sub(2);
    let want_h = wrapped_height(&text, inner_w).saturating_add(2);
    let rect = centered(area, width, want_h);
    clear(frame, rect);
    let inner_h = rect.height.saturating_sub(2);
    let max_scroll = usize::from(want_h.saturating_sub(2).saturating_sub(inner_h));
    let title = if max_scroll > 0 {
        "Keys (j/k scroll)"
    } else {
        "Keys"
    };
    let block = theme::popup(title.to_string(), theme::key());
    let scroll = u16::try_from(scroll.min(max_scroll)).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        rect,
    );
}
