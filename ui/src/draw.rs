//! The whole screen: picks a layout for the terminal size and hands each
//! area to the pane that draws it.
//!
//! Two layouts: the full one (at least 80x30) shows every pane at once;
//! the compact one shows the headline, a one-line gauge and the focused
//! pane (Tab switches). Every size down to 1x1 draws without panicking:
//! areas are computed with saturating arithmetic and ratatui clips.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use crate::app::{App, Pane, Popup};
use crate::theme;
use crate::{
    events, overview, patches, popup_confirm, popup_detail, popup_help, stack, status, threads,
    transition,
};

/// Smallest size for the full layout.
pub const FULL_MIN_WIDTH: u16 = 80;
/// Smallest height for the full layout.
pub const FULL_MIN_HEIGHT: u16 = 30;
/// Width from which side panes (patch detail, stack) are shown.
pub const SIDE_MIN_WIDTH: u16 = 100;

/// Draw the console.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    if area.width >= FULL_MIN_WIDTH && area.height >= FULL_MIN_HEIGHT {
        draw_full(frame, area, app);
    } else {
        draw_compact(frame, area, app);
    }
    match &app.popup {
        None => {}
        Some(Popup::Help { scroll }) => popup_help::draw(frame, area, app, *scroll),
        Some(Popup::Confirm(c)) => popup_confirm::draw(frame, area, c),
        Some(Popup::Detail) => popup_detail::draw(frame, area, app),
    }
}

fn draw_full(frame: &mut Frame, area: Rect, app: &App) {
    let banner = u16::from(app.opts.banner.is_some());
    let npatches = app.snapshot.as_ref().map_or(0, |s| s.patches.len());
    let patches_h = (npatches as u16).saturating_add(3).clamp(4, 9);
    let [
        banner_a,
        overview_a,
        transition_a,
        patches_a,
        threads_a,
        events_a,
        status_a,
    ] = Layout::vertical([
        Constraint::Length(banner),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(patches_h),
        Constraint::Min(5),
        Constraint::Length(7),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_banner(frame, banner_a, app);
    overview::draw(frame, overview_a, app);
    transition::draw(frame, transition_a, app);
    if area.width >= SIDE_MIN_WIDTH {
        let [table, detail] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(patches_a);
        patches::draw(frame, table, app, app.focus == Pane::Patches);
        patches::draw_detail_pane(frame, detail, app);
        let [table, stack_a] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(threads_a);
        threads::draw(frame, table, app, app.focus == Pane::Threads);
        stack::draw_pane(frame, stack_a, app);
    } else {
        patches::draw(frame, patches_a, app, app.focus == Pane::Patches);
        threads::draw(frame, threads_a, app, app.focus == Pane::Threads);
    }
    events::draw(frame, events_a, app, app.focus == Pane::Events);
    status::draw(frame, status_a, app);
}

fn draw_compact(frame: &mut Frame, area: Rect, app: &App) {
    let h = area.height;
    // Rows by priority: headline, status line, banner, gauge, pane.
    let status_h = u16::from(h >= 2);
    let banner_h = u16::from(h >= 3 && app.opts.banner.is_some());
    let gauge_h = u16::from(h >= 5);
    let [banner_a, headline_a, gauge_a, pane_a, status_a] = Layout::vertical([
        Constraint::Length(banner_h),
        Constraint::Length(1),
        Constraint::Length(gauge_h),
        Constraint::Fill(1),
        Constraint::Length(status_h),
    ])
    .areas(area);
    draw_banner(frame, banner_a, app);
    frame.render_widget(Paragraph::new(overview::headline(app)), headline_a);
    transition::draw_line(frame, gauge_a, app);
    if pane_a.height >= 3 {
        match app.focus {
            Pane::Patches => patches::draw(frame, pane_a, app, true),
            Pane::Threads => threads::draw(frame, pane_a, app, true),
            Pane::Events => events::draw(frame, pane_a, app, true),
        }
    }
    status::draw(frame, status_a, app);
}

fn draw_banner(frame: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    if let Some(b) = &app.opts.banner {
        let text = kmod_bridge::sanitize::for_terminal(b);
        frame.render_widget(
            Paragraph::new(Line::from(format!(" {text} ")))
                .style(theme::banner())
                .centered(),
            area,
        );
    }
}

/// A rectangle of at most `width` x `height`, centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Clear `area` for a popup.
pub fn clear(frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
}

/// Rows `lines` take when wrapped to `width` (an estimate that errs high,
/// for sizing popups).
pub fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    let rows: usize = lines
        .iter()
        .map(|l| {
            let lw = l.width();
            if lw == 0 {
                1
            } else {
                lw.div_ceil(w) + usize::from(lw > w)
            }
        })
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// `1234567` as `1,234,567`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fraction as a percentage with one decimal, rounded down so that an
/// unfinished transition never shows 100.0%.
pub fn percent(fraction: f64) -> String {
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let tenths = (f * 1000.0).floor() / 10.0;
    format!("{tenths:.1}")
}

/// Time of day (UTC) of a Unix time, `HH:MM:SS`.
pub fn fmt_clock(at: f64) -> String {
    if !at.is_finite() || at < 0.0 {
        return "--:--:--".to_string();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.get(11..19).unwrap_or("--:--:--").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clocks() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(1234567), "1,234,567");
        assert_eq!(fmt_clock(3661.0), "01:01:01");
        assert_eq!(percent(0.9997), "99.9");
        assert_eq!(percent(1.0), "100.0");
        assert_eq!(percent(f64::NAN), "0.0");
        assert_eq!(fmt_clock(f64::NAN), "--:--:--");
        assert_eq!(fmt_clock(-5.0), "--:--:--");
    }

    #[test]
    fn centered_never_exceeds_area() {
        let a = Rect::new(0, 0, 10, 4);
        assert_eq!(centered(a, 80, 20), a);
        assert_eq!(centered(a, 4, 2), Rect::new(3, 1, 4, 2));
    }
}
