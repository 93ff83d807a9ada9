//! The blocked-thread table: tid, pid, comm, state, wchan, blocking
//! function, blocked for. Only the visible rows are built, so 100,000
//! blocked threads draw as fast as ten. When threads are pending but none
//! can be listed, the pane says so and shows the source's limitations.

use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::fmt_secs;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::app::{App, SortKey};
use crate::draw::fmt_count;
use crate::theme;

/// Keep `selected` in sight: the new first visible row for a viewport of
/// `height` rows over `len` rows, starting from the last `offset`.
pub fn scroll_offset(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    off
}

fn title(app: &App) -> String {
    let list = &app.threads;
    let total = app.blocked_threads().len();
    let arrow = if list.reversed { "▲" } else { "▼" };
    let mut t = format!("Blocked threads ({}", fmt_count(list.view.len() as u64));
    if list.view.len() != total {
        t.push_str(&format!(" of {}", fmt_count(total as u64)));
    }
    t.push_str(&format!(") · sort {} {arrow}", list.sort.label()));
    if !list.filter.is_empty() {
        t.push_str(&format!(" · filter \"{}\"", for_terminal(&list.filter)));
    }
    t
}

/// Draw the blocked-thread table.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let mut block = theme::pane(title(app), focused);
    // Threads are listed but the view is incomplete: say so on the frame.
    let limits = app
        .snapshot
        .as_ref()
        .map_or(&[][..], |s| s.limitations.as_slice());
    if let Some(first) = limits.first()
        && !app.threads.view.is_empty()
    {
        let more = match limits.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        block = block.title_bottom(Line::from(Span::styled(
            format!(" incomplete: {}{more} ", for_terminal(first)),
            theme::warn(),
        )));
    }
    let inner = block.inner(area);
    if app.threads.view.is_empty() {
        app.threads.page.set(1);
        frame.render_widget(
            Paragraph::new(empty_lines(app))
                .block(block)
                .wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    let threads = app.blocked_threads();
    let list = &app.threads;
    let height = usize::from(inner.height.saturating_sub(1)); // header
    app.threads.page.set(height.max(1));
    let offset = scroll_offset(list.offset.get(), list.selected, height, list.view.len());
    list.offset.set(offset);
    let end = offset.saturating_add(height).min(list.view.len());
    let visible = list.view.get(offset..end).unwrap_or(&[]);
    // Narrow panes drop PID and WCHAN so the blocking function keeps room.
    let wide = inner.width >= 70;
    let func_w = visible
        .iter()
        .filter_map(|&i| threads.get(i))
        .filter_map(|t| t.blocking_function.as_deref())
        .map(|f| for_terminal(f).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(17, 32) as u16;
    let sorted = |k: SortKey, h: &'static str| {
        let style = if list.sort == k {
            theme::header().add_modifier(ratatui::style::Modifier::UNDERLINED)
        } else {
            theme::header()
        };
        Cell::from(Span::styled(h, style))
    };
    let mut header = vec![sorted(SortKey::Tid, "TID")];
    if wide {
        header.push(sorted(SortKey::Pid, "PID"));
    }
    header.extend([sorted(SortKey::Comm, "COMM"), sorted(SortKey::State, "ST")]);
    if wide {
        header.push(Cell::from(Span::styled("WCHAN", theme::header())));
    }
    header.extend([
        sorted(SortKey::Function, "BLOCKING FUNCTION"),
        sorted(SortKey::BlockedFor, "BLOCKED FOR"),
    ]);
    let header = Row::new(header);
    let rows = visible.iter().filter_map(|&i| threads.get(i)).map(|t| {
        let func = match &t.blocking_function {
            Some(f) => Span::styled(for_terminal(f).into_owned(), theme::blocking()),
            None => Span::styled("(none on stack)", theme::dim()),
        };
        let blocked_for = app
            .watch
            .blocked_for(t.tid, app.now)
            .map_or("?".to_string(), fmt_secs);
        let mut cells = vec![Cell::from(t.tid.to_string())];
        if wide {
            cells.push(Cell::from(t.pid.to_string()));
        }
        cells.push(Cell::from(for_terminal(&t.comm).into_owned()));
        cells.push(Cell::from(for_terminal(&t.state).into_owned()));
        if wide {
            cells.push(Cell::from(
                t.wchan
                    .as_deref()
                    .map_or("-".to_string(), |w| for_terminal(w).into_owned()),
            ));
        }
        cells.push(Cell::from(func));
        cells.push(Cell::from(blocked_for));
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Length(7)];
    if wide {
        widths.push(Constraint::Length(7));
    }
    widths.extend([Constraint::Fill(1), Constraint::Length(2)]);
    if wide {
        widths.push(Constraint::Length(8));
    }
    widths.extend([Constraint::Length(func_w), Constraint::Length(11)]);
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(if focused {
            theme::selected()
        } else {
            theme::selected().bg(ratatui::style::Color::DarkGray)
        })
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(list.selected.saturating_sub(offset)));
    frame.render_stateful_widget(table, area, &mut state);
}

/// What the pane says when it lists no thread.
fn empty_lines(app: &App) -> Vec<Line<'static>> {
    let Some(snap) = &app.snapshot else {
        return vec![Line::from(Span::styled(
            "waiting for the first reading…",
            theme::dim(),
        ))];
    };
    let Some(t) = &snap.transition else {
        return vec![Line::from(
            "No transition in progress: no thread is blocked.",
        )];
    };
    if !app.threads.filter.is_empty() && !snap.blocked_threads.is_empty() {
        return vec![Line::from(format!(
            "No blocked thread matches the filter \"{}\". Press / then Esc to clear it.",
            for_terminal(&app.threads.filter)
        ))];
    }
    if t.threads_pending == 0 {
        return vec![Line::from(
            "Every thread has moved; the transition is finishing.",
        )];
    }
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{} thread{} pending, but none can be listed here.",
            fmt_count(t.threads_pending),
            if t.threads_pending == 1 {
                " is"
            } else {
                "s are"
            }
        ),
        theme::warn(),
    ))];
    if snap.limitations.is_empty() {
        lines.push(Line::from(
            "The source does not say why: it may not publish per-thread state.",
        ));
    } else {
        lines.push(Line::from("Why:"));
        for l in &snap.limitations {
            lines.push(Line::from(format!("  • {}", for_terminal(l))));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::scroll_offset;

    #[test]
    fn scroll_keeps_selection_visible() {
        assert_eq!(scroll_offset(0, 0, 10, 100), 0);
        assert_eq!(scroll_offset(0, 9, 10, 100), 0);
        assert_eq!(scroll_offset(0, 10, 10, 100), 1);
        assert_eq!(scroll_offset(50, 20, 10, 100), 20);
        assert_eq!(scroll_offset(95, 99, 10, 100), 90);
        assert_eq!(scroll_offset(5, 0, 0, 100), 0);
        assert_eq!(scroll_offset(5, 0, 10, 0), 0);
        assert_eq!(scroll_offset(0, 99_999, 30, 100_000), 99_970);
    }
}
