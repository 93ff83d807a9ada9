//! The patch table (name, state, enabled, replace, stack order, signed,
//! functions, age) and the selected patch's objects and functions.

use kmod_bridge::model::{Patch, PatchState};
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::fmt_secs;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::app::App;
use crate::theme;

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

fn state_style(s: PatchState) -> Style {
    match s {
        PatchState::Enabled => theme::ok(),
        PatchState::Disabled => theme::dim(),
        PatchState::Patching | PatchState::Unpatching => theme::warn(),
    }
}

fn signed_cell(p: &Patch) -> Cell<'static> {
    match p.signed {
        Some(true) => Cell::from(Span::styled("yes", theme::ok())),
        Some(false) => Cell::from(Span::styled("NO", theme::error())),
        None => Cell::from("?"),
    }
}

/// A patch's age: `4m 1s`, `2h 5m`, and from two days on `41d 17h`.
pub fn fmt_age(secs: f64) -> String {
    if secs.is_finite() && secs >= 2.0 * 86_400.0 {
        let s = secs as u64;
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600)
    } else {
        fmt_secs(secs)
    }
}

/// Draw the patch table.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let patches: &[Patch] = app.snapshot.as_ref().map_or(&[], |s| &s.patches);
    let block = theme::pane(format!("Patches ({})", patches.len()), focused);
    if patches.is_empty() {
        let text = if app.snapshot.is_some() {
            "No live patch is loaded."
        } else {
            "waiting for the first reading…"
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    // Narrow panes keep the columns that matter most.
    let wide = block.inner(area).width >= 70;
    let keep = |i: usize| wide || !matches!(i, 3 | 4 | 7);
    let header = Row::new(
        [
            "NAME", "STATE", "ENABLED", "REPLACE", "ORD", "SIGNED", "FUNCS", "AGE",
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, h)| Cell::from(Span::styled(h, theme::header()))),
    );
    let rows = patches.iter().map(|p| {
        let age = p
            .loaded_at
            .map_or("?".to_string(), |t| fmt_age(app.now - t));
        let cells = vec![
            Cell::from(for_terminal(&p.name).into_owned()),
            Cell::from(Span::styled(p.state.as_str(), state_style(p.state))),
            Cell::from(if p.enabled { "yes" } else { "no" }),
            Cell::from(yes_no(p.replace)),
            Cell::from(p.stack_order.map_or("?".to_string(), |o| o.to_string())),
            signed_cell(p),
            Cell::from(p.function_count().to_string()),
            Cell::from(age),
        ];
        Row::new(
            cells
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, c)| c),
        )
    });
    let widths: Vec<Constraint> = [
        Constraint::Fill(1),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(7),
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, _)| keep(*i))
    .map(|(_, c)| c)
    .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected())
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(app.patch_selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Draw the selected patch's details in a bordered pane.
pub fn draw_detail_pane(frame: &mut Frame, area: Rect, app: &App) {
    let title = match app.selected_patch() {
        Some(p) => format!("Patch '{}'", for_terminal(&p.name)),
        None => "Patch".to_string(),
    };
    let block = theme::pane(title, false);
    frame.render_widget(
        Paragraph::new(detail_lines(app))
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The selected patch: signature, objects, and functions with whether each
/// object is patched.
pub fn detail_lines(app: &App) -> Vec<Line<'static>> {
    let Some(p) = app.selected_patch() else {
        return vec![Line::from(Span::styled("no patch selected", theme::dim()))];
    };
    let mut lines = Vec::new();
    let signed = match (p.signed, &p.signer) {
        (Some(true), Some(k)) => {
            Span::styled(format!("signed by {}", for_terminal(k)), theme::ok())
        }
        (Some(true), None) => Span::styled("signed".to_string(), theme::ok()),
        (Some(false), _) => Span::styled("NOT SIGNED".to_string(), theme::error()),
        (None, _) => Span::styled("signature unknown".to_string(), theme::dim()),
    };
    lines.push(Line::from(vec![
        Span::styled(p.state.as_str().to_string(), state_style(p.state)),
        Span::raw(" · "),
        signed,
    ]));
    if p.objects.is_empty() {
        lines.push(Line::from(Span::styled(
            "the source lists no objects for this patch",
            theme::dim(),
        )));
    }
    for o in &p.objects {
        let patched = match o.patched {
            Some(true) => Span::styled("patched", theme::ok()),
            Some(false) => Span::styled("not patched", theme::warn()),
            None => Span::styled("patched: unknown", theme::dim()),
        };
        lines.push(Line::from(vec![
            Span::styled(for_terminal(&o.name).into_owned(), theme::header()),
            Span::raw(" "),
            patched,
            Span::styled(
                format!(
                    " · {} function{}",
                    o.functions.len(),
                    if o.functions.len() == 1 { "" } else { "s" }
                ),
                theme::dim(),
            ),
        ]));
        for f in &o.functions {
            let mut spans = vec![Span::raw(format!("  • {}", for_terminal(&f.name)))];
            if let Some(pos) = f.sympos.filter(|&p| p > 1) {
                spans.push(Span::styled(format!(" (sympos {pos})"), theme::dim()));
            }
            if let Some(calls) = f.calls {
                spans.push(Span::styled(format!(" · {calls} calls"), theme::dim()));
            }
            lines.push(Line::from(spans));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::fmt_age;

    #[test]
    fn ages_fit_the_column() {
        assert_eq!(fmt_age(241.0), "4m 1s");
        assert_eq!(fmt_age(7_500.0), "2h 5m");
        assert_eq!(fmt_age(3_604_000.0), "41d 17h");
        assert_eq!(fmt_age(f64::NAN), "0s");
        assert_eq!(fmt_age(-5.0), "0s");
    }
}
