//! The transition: a gauge of threads moved over total, elapsed time,
//! progress rate and estimate, the stall verdict in words, and a sparkline
//! of pending threads over time from the watch's history.

use kmod_bridge::model::{StartSource, Target};
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::fmt_secs;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, LineGauge, Paragraph, Sparkline};

use crate::app::App;
use crate::draw::fmt_count;
use crate::theme;

fn gauge_label(app: &App) -> Option<(String, f64, Style)> {
    let snap = app.snapshot.as_ref()?;
    let t = snap.transition.as_ref()?;
    let moved = match t.target {
        Target::Patched => "moved to the new code",
        Target::Unpatched => "moved back to the old code",
    };
    // No visible thread is not "all done": the transition is held by tasks
    // patchscope cannot see (idle tasks, or others' threads without root).
    let label = if t.threads_total == 0 {
        "progress unknown: no thread in the transition is visible (see the notes)".to_string()
    } else {
        format!(
            "{} / {} threads {moved} ({}%)",
            fmt_count(t.threads_done()),
            fmt_count(t.threads_total),
            crate::draw::percent(t.progress())
        )
    };
    let st = app.watch.transition();
    let color = if t.forced || st.is_some_and(|s| s.stalled || s.forced) {
        Color::Red
    } else {
        Color::Yellow
    };
    Some((
        label,
        if t.threads_total == 0 {
            0.0
        } else {
            t.progress().clamp(0.0, 1.0)
        },
        Style::default().fg(color),
    ))
}

/// Draw the transition pane.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = theme::pane("Transition".to_string(), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some((label, ratio, style)) = gauge_label(app) else {
        frame.render_widget(Paragraph::new(idle_lines(app)), inner);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(70), Constraint::Percentage(30)]).areas(inner);
    let [gauge_a, text_a] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(left);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            // Explicit white bold: the gauge swaps colours under its label.
            .label(Span::styled(
                label,
                Style::default()
                    .fg(Color::White)
                    .add_modifier(ratatui::style::Modifier::BOLD),
            ))
            .gauge_style(style.bg(Color::DarkGray))
            .use_unicode(true),
        gauge_a,
    );
    frame.render_widget(Paragraph::new(detail_lines(app)), text_a);
    draw_sparkline(frame, right, app);
}

/// A one-line gauge for the compact layout.
pub fn draw_line(frame: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    match gauge_label(app) {
        Some((label, ratio, style)) => frame.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(label)
                .filled_style(style)
                .unfilled_style(theme::dim()),
            area,
        ),
        None => frame.render_widget(Paragraph::new(idle_lines(app)), area),
    }
}

fn idle_lines(app: &App) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("No transition in progress.")];
    if let Some(c) = app.snapshot.as_ref().and_then(|s| s.counters) {
        lines.push(Line::from(Span::styled(
            format!(
                "Since boot: {} completed, {} reversed, {} forced, {} signals sent",
                c.transitions_completed,
                c.transitions_reversed,
                c.transitions_forced,
                c.signals_sent
            ),
            theme::dim(),
        )));
    }
    lines
}

fn detail_lines(app: &App) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Some(t) = app.snapshot.as_ref().and_then(|s| s.transition.as_ref()) else {
        return lines;
    };
    let st = app.watch.transition();
    let elapsed = st
        .map(|s| s.elapsed_seconds)
        .or(t.elapsed_seconds)
        .unwrap_or(0.0);
    let since = match t.started_at_source {
        StartSource::Kernel => "",
        StartSource::KernelLog => " (start from the kernel log)",
        StartSource::FirstSeen => " (start not published: since first seen)",
    };
    let rate = match st.and_then(|s| s.rate_per_second) {
        Some(r) => format!("{r:.1} threads/s"),
        None => "measuring".to_string(),
    };
    let eta = match st.and_then(|s| s.eta_seconds) {
        Some(e) => format!("about {}", fmt_secs(e)),
        None => "unknown (no progress)".to_string(),
    };
    let dim = theme::dim;
    lines.push(Line::from(vec![
        Span::styled("Elapsed ", dim()),
        Span::raw(format!("{}{since}", fmt_secs(elapsed))),
        Span::styled("  Rate ", dim()),
        Span::raw(rate),
        Span::styled("  ETA ", dim()),
        Span::raw(eta),
    ]));
    let stalled = st.is_some_and(|s| s.stalled);
    let forced = t.forced || st.is_some_and(|s| s.forced);
    if forced {
        lines.push(Line::from(vec![
            Span::styled(" FORCED ", theme::alarm()),
            Span::styled(
                format!(
                    " '{}' was forced: blocked threads were moved without a safety check; plan a reboot",
                    for_terminal(&t.patch)
                ),
                theme::error(),
            ),
        ]));
    } else if let Some(s) = st.filter(|_| stalled) {
        let mut spans = vec![
            Span::styled(" STALLED ", theme::alarm()),
            Span::styled(
                format!(
                    " no thread moved for {} (threshold {})",
                    fmt_secs(s.seconds_since_progress),
                    humantime::format_duration(app.opts.stall_after)
                ),
                theme::error(),
            ),
        ];
        let hints = control_hints(app);
        if !hints.is_empty() {
            spans.push(Span::raw(format!(": {hints}")));
        }
        lines.push(Line::from(spans));
    } else {
        let last = st.map_or(0.0, |s| s.seconds_since_progress);
        lines.push(Line::from(vec![
            Span::styled("Last progress ", dim()),
            Span::raw(format!("{} ago", fmt_secs(last))),
        ]));
    }
    let mut spans = vec![
        Span::styled("Pending ", dim()),
        Span::raw(fmt_count(t.threads_pending)),
        Span::styled("  Blocked listed ", dim()),
        Span::raw(fmt_count(app.blocked_threads().len() as u64)),
    ];
    if let Some(n) = t.signals_sent {
        spans.push(Span::styled("  Signals sent ", dim()));
        spans.push(Span::raw(n.to_string()));
    }
    lines.push(Line::from(spans));
    lines
}

/// What the operator can do about a stalled transition, in words with keys.
fn control_hints(app: &App) -> String {
    use kmod_bridge::control::ActionKind;
    let mut out = Vec::new();
    if app.control_offered(ActionKind::Signal) {
        out.push("s signal");
    }
    if app.control_offered(ActionKind::Revert) {
        out.push("r revert");
    }
    if app.control_offered(ActionKind::Force) {
        out.push("f force");
    }
    out.join(", ")
}

fn draw_sparkline(frame: &mut Frame, area: Rect, app: &App) {
    let samples = app.watch.samples();
    // One column per sample, newest at the right; the scale is the peak
    // of the window so a handful of pending threads still shows.
    let width = usize::from(area.width.saturating_sub(1));
    let skip = samples.len().saturating_sub(width);
    let data: Vec<u64> = samples.iter().skip(skip).map(|s| s.pending).collect();
    let peak = data.iter().copied().max().unwrap_or(0);
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(theme::dim())
        .title(Span::styled(
            format!(" pending threads (peak {})", fmt_count(peak)),
            theme::dim(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let max = peak.max(1);
    let stalled = app.watch.transition().is_some_and(|s| s.stalled);
    let color = if stalled { Color::Red } else { Color::Yellow };
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(max)
            .style(Style::default().fg(color)),
        inner,
    );
}
