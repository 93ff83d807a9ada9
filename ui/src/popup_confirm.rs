//! The confirmation of a control: the exact effect, the exact writes (sysfs
//! file or sysctl node and value), and for force an irreversibility warning,
//! the reboot advice and the patch name to type. The default is No.

use kmod_bridge::sanitize::for_terminal;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::Confirm;
use crate::draw::{centered, clear, wrapped_height};
use crate::theme;

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The popup's text: the body (effect, writes, warnings) and the footer
/// (how to answer), which is always kept in view.
pub fn lines(c: &Confirm) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let plan = &c.plan;
    let name = for_terminal(&plan.action.patch).into_owned();
    let mut body = vec![
        Line::from(vec![
            Span::styled("Effect: ", theme::header()),
            Span::raw(for_terminal(&plan.effect).into_owned()),
        ]),
        Line::from(""),
        Line::from(Span::styled(
            if plan.writes.len() == 1 {
                "Exact write:"
            } else {
                "Exact writes, in order:"
            },
            theme::header(),
        )),
    ];
    for w in &plan.writes {
        body.push(Line::from(vec![
            Span::raw("  write "),
            Span::styled(for_terminal(&w.value).into_owned(), theme::key()),
            Span::raw(" to "),
            Span::styled(for_terminal(&w.target).into_owned(), theme::key()),
        ]));
    }
    if plan.writes.is_empty() {
        body.push(Line::from(Span::styled("  (no write)", theme::dim())));
    }
    if plan.irreversible {
        body.push(Line::from(""));
        body.push(Line::from(vec![
            Span::styled(" IRREVERSIBLE ", theme::alarm()),
            Span::styled(" this cannot be undone.", theme::error()),
        ]));
    }
    if let Some(a) = &plan.advice {
        body.push(Line::from(vec![
            Span::styled("Advice: ", theme::warn()),
            Span::raw(for_terminal(a).into_owned()),
        ]));
    }
    let footer = if c.needs_typed_name() {
        vec![
            Line::from(vec![
                Span::raw("Type the patch name "),
                Span::styled(name, theme::key()),
                Span::raw(" and press Enter to go ahead. Anything else, or Esc, cancels."),
            ]),
            Line::from(vec![
                Span::styled("> ", theme::key()),
                Span::raw(for_terminal(&c.typed).into_owned()),
                Span::styled("▏", theme::key()),
            ]),
        ]
    } else {
        vec![Line::from(vec![
            Span::raw("Go ahead? "),
            Span::styled("y", theme::key()),
            Span::raw(" yes · "),
            Span::styled("n", theme::key()),
            Span::raw(" / Esc no · "),
            Span::styled("Enter", theme::key()),
            Span::raw(" = no (the default)"),
        ])]
    };
    (body, footer)
}

/// Draw the confirmation popup.
pub fn draw(frame: &mut Frame, area: Rect, c: &Confirm) {
    let plan = &c.plan;
    let (mut body, footer) = lines(c);
    let width = area.width.min(84);
    let inner_w = width.saturating_sub(2);
    let footer_h = wrapped_height(&footer, inner_w);
    let max_inner = area.height.saturating_sub(2);
    // On short terminals drop the spacing lines before cutting text.
    if wrapped_height(&body, inner_w) + 1 + footer_h > max_inner {
        body.retain(|l| l.width() > 0);
    }
    let body_h = wrapped_height(&body, inner_w);
    let height = (body_h + 1 + footer_h).saturating_add(2);
    let rect = centered(area, width, height);
    clear(frame, rect);
    let title = format!(
        "{} '{}'?",
        capitalised(plan.action.kind.as_str()),
        for_terminal(&plan.action.patch)
    );
    let style = if plan.irreversible {
        theme::error()
    } else {
        theme::warn()
    };
    let block = theme::popup(title, style);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    // The answer line is pinned to the bottom so it is always visible.
    let [body_a, footer_a] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(footer_h)]).areas(inner);
    frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), body_a);
    frame.render_widget(Paragraph::new(footer).wrap(Wrap { trim: false }), footer_a);
}
