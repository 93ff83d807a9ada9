//! Colours and styles, in one place so every pane agrees. Colour never
//! carries meaning alone: every highlighted state also has words or a marker.

use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Borders};

/// Normal text.
pub fn text() -> Style {
    Style::default()
}

/// Secondary text (labels, units, hints).
pub fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// Key names in hints and help.
pub fn key() -> Style {
    Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}

/// Column headers.
pub fn header() -> Style {
    Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

/// The selected row.
pub fn selected() -> Style {
    Style::default()
        .bg(Color::Blue)
        .fg(Color::White)
        .add_modifier(Modifier::BOLD)
}

/// Something is wrong and needs the operator (stalled, forced, errors).
pub fn alarm() -> Style {
    Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD)
}

/// Error text.
pub fn error() -> Style {
    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// Warning text.
pub fn warn() -> Style {
    Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

/// Success text.
pub fn ok() -> Style {
    Style::default()
        .fg(Color::Green)
        .add_modifier(Modifier::BOLD)
}

/// The blocking function, in tables and stacks.
pub fn blocking() -> Style {
    Style::default()
        .fg(Color::LightRed)
        .add_modifier(Modifier::BOLD)
}

/// The simulation banner.
pub fn banner() -> Style {
    Style::default()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

/// A bordered pane; the focused one has a bright border and a marker in
/// its title.
pub fn pane(title: String, focused: bool) -> Block<'static> {
    let (border, title) = if focused {
        (Style::default().fg(Color::Cyan), format!("▶ {title} "))
    } else {
        (Style::default().fg(Color::DarkGray), format!(" {title} "))
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(border)
        .title(title)
        .title_style(
            Style::default()
                .fg(if focused { Color::Cyan } else { Color::Gray })
                .add_modifier(Modifier::BOLD),
        )
}

/// A popup window frame.
pub fn popup(title: String, style: Style) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(style)
        .title(format!(" {title} "))
        .title_style(style.add_modifier(Modifier::BOLD))
}
