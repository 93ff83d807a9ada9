//! The overview: source, kernel, ABI version, number of patches, and the
//! headline state (idle / patching P / unpatching P / STALLED / FORCED),
//! which says in words what the colour says.

use kmod_bridge::model::Target;
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::watch::fmt_secs;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::draw::fmt_count;
use crate::theme;

/// Draw the overview pane (a bordered block of two lines).
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = theme::pane("Overview".to_string(), false);
    let lines = vec![source_line(app), headline(app)];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn source_line(app: &App) -> Line<'static> {
    let mut spans = Vec::new();
    let label = |s: &str| Span::styled(s.to_string(), theme::dim());
    // Badges first, where they cannot be cut off.
    if app.paused {
        spans.push(Span::styled(" PAUSED ", theme::warn().reversed()));
        spans.push(Span::raw(" "));
    }
    if app.opts.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme::dim().reversed()));
        spans.push(Span::raw(" "));
    }
    match &app.snapshot {
        Some(snap) => {
            // The source goes last: its location is the longest part and
            // the one to lose on narrow screens.
            spans.push(label("Kernel "));
            let release = snap
                .kernel
                .release
                .as_deref()
                .map(|r| format!(" {}", for_terminal(r)))
                .unwrap_or_default();
            spans.push(Span::raw(format!(
                "{}{release}",
                for_terminal(&snap.kernel.os)
            )));
            spans.push(label("  ABI "));
            spans.push(Span::raw(
                snap.kernel
                    .abi_version
                    .as_deref()
                    .map_or("n/a".to_string(), |v| for_terminal(v).into_owned()),
            ));
            spans.push(label("  Patches "));
            spans.push(Span::raw(snap.patches.len().to_string()));
            spans.push(label("  Refresh "));
            spans.push(Span::raw(
                humantime::format_duration(app.opts.interval).to_string(),
            ));
            spans.push(label("  Source "));
            spans.push(Span::raw(format!(
                "{}: {}",
                snap.source.kind,
                for_terminal(&snap.source.location)
            )));
        }
        None => {
            spans.push(label("no reading yet"));
            spans.push(label("  Refresh "));
            spans.push(Span::raw(
                humantime::format_duration(app.opts.interval).to_string(),
            ));
        }
    }
    Line::from(spans)
}

/// One line that says what state the kernel is in.
pub fn headline(app: &App) -> Line<'static> {
    let Some(snap) = &app.snapshot else {
        return match &app.read_error {
            Some(e) => Line::from(vec![
                Span::styled(" READ FAILED ", theme::alarm()),
                Span::raw(" "),
                Span::styled(for_terminal(e).into_owned(), theme::error()),
            ]),
            None => Line::from(Span::styled("waiting for the first reading…", theme::dim())),
        };
    };
    let Some(t) = &snap.transition else {
        let n = snap.patches.len();
        // A forced transition leaves the kernel forced for good, so the
        // headline keeps saying so after the transition is over.
        let forced = snap.counters.map_or(0, |c| c.transitions_forced);
        if forced > 0 {
            return Line::from(vec![
                Span::styled(" FORCED ", theme::alarm()),
                Span::styled(
                    format!(
                        " {forced} transition{} forced since boot: the kernel runs patches in an untested state; plan a reboot",
                        if forced == 1 { " was" } else { "s were" }
                    ),
                    theme::error(),
                ),
                Span::raw(format!(
                    "; no transition in progress, {n} patch{} settled",
                    if n == 1 { "" } else { "es" }
                )),
            ]);
        }
        return Line::from(vec![
            Span::styled(" IDLE ", theme::ok().reversed()),
            Span::raw(format!(
                " no transition in progress; {n} patch{} settled",
                if n == 1 { "" } else { "es" }
            )),
        ]);
    };
    let verb = match t.target {
        Target::Patched => "patching",
        Target::Unpatched => "unpatching",
    };
    let name = for_terminal(&t.patch).into_owned();
    let progress = if t.threads_total == 0 {
        "no thread in the transition is visible".to_string()
    } else {
        format!(
            "{} of {} threads pending",
            fmt_count(t.threads_pending),
            fmt_count(t.threads_total)
        )
    };
    let status = app.watch.transition();
    if t.forced || status.is_some_and(|s| s.forced) {
        return Line::from(vec![
            Span::styled(" FORCED ", theme::alarm()),
            Span::styled(format!(" {verb} '{name}' was forced: "), theme::error()),
            Span::raw(format!("{progress}; plan a reboot")),
        ]);
    }
    if let Some(st) = status.filter(|s| s.stalled) {
        return Line::from(vec![
            Span::styled(" STALLED ", theme::alarm()),
            Span::styled(format!(" {verb} '{name}'"), theme::error()),
            Span::raw(format!(
                ": no thread moved for {}; {progress}",
                fmt_secs(st.seconds_since_progress)
            )),
        ]);
    }
    Line::from(vec![
        Span::styled(
            format!(" {} ", verb.to_uppercase()),
            theme::warn().reversed(),
        ),
        Span::styled(format!(" '{name}'"), theme::warn()),
        Span::raw(if t.threads_total == 0 {
            format!(": progress unknown, {progress}")
        } else {
            format!(" {}% moved; {progress}", crate::draw::percent(t.progress()))
        }),
    ])
}
