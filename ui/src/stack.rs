//! The selected blocked thread's stack, innermost frame first, with the
//! blocking frame marked (arrow and words, plus colour) and kept in view.

use kmod_bridge::model::{BlockedThread, frame_function};
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::fmt_secs;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;
use crate::theme;

/// Index of the frame that holds the blocking function.
pub fn blocking_frame(t: &BlockedThread) -> Option<usize> {
    let func = t.blocking_function.as_deref()?;
    t.stack
        .iter()
        .position(|f| frame_function(f) == Some(func))
        // The function may be named without its clone suffix on the stack.
        .or_else(|| {
            let base = func.split('.').next().unwrap_or(func);
            t.stack
                .iter()
                .position(|f| frame_function(f).is_some_and(|g| g.split('.').next() == Some(base)))
        })
}

/// The pane's title for the selected thread.
pub fn title(app: &App) -> String {
    match app.selected_thread() {
        Some(t) => format!("Stack of tid {} ({})", t.tid, for_terminal(&t.comm)),
        None => "Stack".to_string(),
    }
}

/// Draw the stack pane beside the thread table.
pub fn draw_pane(frame: &mut Frame, area: Rect, app: &App) {
    let block = theme::pane(title(app), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    draw_body(frame, inner, app);
}

/// Draw the selected thread's facts and stack into `area`.
pub fn draw_body(frame: &mut Frame, area: Rect, app: &App) {
    let Some(t) = app.selected_thread() else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "Select a blocked thread to see its stack.",
                theme::dim(),
            ))
            .wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let mut lines = Vec::new();
    lines.push(Line::from(vec![
        Span::styled("blocks in ", theme::dim()),
        match &t.blocking_function {
            Some(f) => Span::styled(for_terminal(f).into_owned(), theme::blocking()),
            None => Span::styled("no function of the patch".to_string(), theme::dim()),
        },
    ]));
    let blocked_for = app
        .watch
        .blocked_for(t.tid, app.now)
        .map_or("?".to_string(), fmt_secs);
    lines.push(Line::from(vec![
        Span::styled("state ", theme::dim()),
        Span::raw(for_terminal(&t.state).into_owned()),
        Span::styled("  wchan ", theme::dim()),
        Span::raw(
            t.wchan
                .as_deref()
                .map_or("-".to_string(), |w| for_terminal(w).into_owned()),
        ),
        Span::styled("  blocked for ", theme::dim()),
        Span::raw(blocked_for),
    ]));
    if t.stack.is_empty() {
        lines.push(Line::from(Span::styled(
            "The stack could not be read.",
            theme::warn(),
        )));
        if let Some(snap) = &app.snapshot {
            for l in &snap.limitations {
                lines.push(Line::from(format!("• {}", for_terminal(l))));
            }
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    let marked = blocking_frame(t);
    if t.blocking_function.is_none() {
        lines.push(Line::from(Span::styled(
            "No frame of the patch: the thread holds the transition for another reason (running, or an unreliable stack).",
            theme::dim(),
        )));
    }
    let room = usize::from(area.height).saturating_sub(lines.len());
    // Keep the blocking frame in view on short panes.
    let first = match marked {
        Some(m) if room > 0 && m >= room => m + 1 - room.div_ceil(2).max(1),
        _ => 0,
    };
    for (i, f) in t.stack.iter().enumerate().skip(first) {
        let frame_text = for_terminal(f);
        if Some(i) == marked {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("▶ #{i:<2} {frame_text}"),
                    theme::blocking().reversed(),
                ),
                Span::styled(" ◀ blocking", theme::blocking()),
            ]));
        } else {
            lines.push(Line::from(format!("  #{i:<2} {frame_text}")));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_blocking_frame_with_or_without_clone_suffix() {
        let mut t = BlockedThread {
            tid: 1,
            pid: 1,
            comm: "x".into(),
            state: "D".into(),
            wchan: None,
            blocking_function: Some("vfs_read".into()),
            stack: vec![
                "[<0>] msleep+0x29/0x40".into(),
                "[<0>] vfs_read.isra.0+0x1c/0x40".into(),
            ],
            blocked_since: None,
        };
        assert_eq!(blocking_frame(&t), Some(1));
        t.blocking_function = Some("msleep".into());
        assert_eq!(blocking_frame(&t), Some(0));
        t.blocking_function = None;
        assert_eq!(blocking_frame(&t), None);
    }
}
