//! The detail popup (Enter): the selected thread's stack, or the selected
//! patch's objects and functions, using the whole screen. Useful on small
//! terminals where the side panes are hidden.

use kmod_bridge::sanitize::for_terminal;
use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::{App, Pane};
use crate::draw::clear;
use crate::{patches, stack, theme};

/// Draw the detail popup over `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let rect = if area.width > 20 && area.height > 8 {
        area.inner(Margin::new(2, 1))
    } else {
        area
    };
    clear(frame, rect);
    match app.focus {
        Pane::Patches => {
            let title = app.selected_patch().map_or("Patch".to_string(), |p| {
                format!("Patch '{}' (Esc closes)", for_terminal(&p.name))
            });
            let block = theme::popup(title, theme::key());
            frame.render_widget(
                Paragraph::new(patches::detail_lines(app))
                    .block(block)
                    .wrap(Wrap { trim: false }),
                rect,
            );
        }
        _ => {
            let block = theme::popup(
                format!("{} (Esc closes, j/k next thread)", stack::title(app)),
                theme::key(),
            );
            let inner = block.inner(rect);
            frame.render_widget(block, rect);
            stack::draw_body(frame, inner, app);
        }
    }
}
