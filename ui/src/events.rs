//! The watch's event log (loaded, started, stalled, reversed, forced,
//! completed, removed, control results, read failures), newest first.

use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::EventKind;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;
use crate::draw::fmt_clock;
use crate::theme;

fn kind_style(kind: EventKind) -> Style {
    if kind.is_alarming() {
        theme::error()
    } else {
        match kind {
            EventKind::TransitionCompleted
            | EventKind::ControlSucceeded
            | EventKind::SourceRecovered => theme::ok(),
            EventKind::TransitionStarted | EventKind::TransitionReversed => theme::warn(),
            _ => theme::text(),
        }
    }
}

/// Draw the event log.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let events = app.watch.events();
    let title = if app.events_scroll > 0 {
        format!(
            "Events ({}, newest first, scrolled {})",
            events.len(),
            app.events_scroll
        )
    } else {
        format!("Events ({}, newest first)", events.len())
    };
    let block = theme::pane(title, focused);
    let height = usize::from(block.inner(area).height);
    if events.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("nothing happened yet", theme::dim())).block(block),
            area,
        );
        return;
    }
    let lines: Vec<Line> = events
        .iter()
        .rev()
        .skip(app.events_scroll)
        .take(height)
        .map(|e| {
            Line::from(vec![
                Span::styled(fmt_clock(e.at), theme::dim()),
                Span::raw(" "),
                Span::styled(format!("{:<14}", e.kind.label()), kind_style(e.kind)),
                Span::raw(for_terminal(&e.message).into_owned()),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
