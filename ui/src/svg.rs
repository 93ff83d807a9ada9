//! A rendered ratatui [`Buffer`] as an SVG image: monospace text with the
//! cells' foreground and background colours, bold, and reverse video.
//! Used to make the screenshots in `screenshots/` from the real drawing
//! code, with no external tool.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// Cell width in pixels.
const CW: f64 = 8.4;
/// Cell (line) height in pixels.
const CH: f64 = 17.0;
/// Font size in pixels.
const FONT: f64 = 14.0;
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

fn hex(c: Color, default: &'static str) -> String {
    let named = |s: &'static str| s.to_string();
    match c {
        Color::Reset => named(default),
        Color::Black => named("#000000"),
        Color::Red => named("#cd3131"),
        Color::Green => named("#0dbc79"),
        Color::Yellow => named("#e5e510"),
        Color::Blue => named("#2472c8"),
        Color::Magenta => named("#bc3fbc"),
        Color::Cyan => named("#11a8cd"),
        Color::Gray => named("#e5e5e5"),
        Color::DarkGray => named("#666666"),
        Color::LightRed => named("#f14c4c"),
        Color::LightGreen => named("#23d18b"),
        Color::LightYellow => named("#f5f543"),
        Color::LightBlue => named("#3b8eea"),
        Color::LightMagenta => named("#d670d6"),
        Color::LightCyan => named("#29b8db"),
        Color::White => named("#ffffff"),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => indexed(i),
    }
}

fn indexed(i: u8) -> String {
    const BASE: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match i {
        0..=15 => BASE
            .get(usize::from(i))
            .map_or_else(|| DEFAULT_FG.to_string(), |c| hex(*c, DEFAULT_FG)),
        16..=231 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            let (r, g, b) = (level(n / 36), level((n / 6) % 6), level(n % 6));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters are not valid XML; the views never draw
            // them, but be safe.
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

#[derive(PartialEq)]
struct Style {
    fg: String,
    bg: String,
    bold: bool,
}

fn cell_style(cell: &ratatui::buffer::Cell) -> Style {
    let (mut fg, mut bg) = (hex(cell.fg, DEFAULT_FG), hex(cell.bg, DEFAULT_BG));
    if cell.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    Style {
        fg,
        bg,
        bold: cell.modifier.contains(Modifier::BOLD),
    }
}

/// Render `buf` as a standalone SVG document, with `title` as its
/// accessible title.
pub fn render(buf: &Buffer, title: &str) -> String {
    let area = buf.area;
    let (w, h) = (f64::from(area.width) * CW, f64::from(area.height) * CH);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.1} {h:.1}" role="img">"#
    );
    out.push_str("<title>");
    escape(title, &mut out);
    out.push_str("</title>\n");
    let _ = writeln!(
        out,
        r#"<style>text{{font-family:'DejaVu Sans Mono','Menlo','Consolas',monospace;font-size:{FONT}px;white-space:pre}}.b{{font-weight:bold}}</style>"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    for row in 0..area.height {
        let y = f64::from(row) * CH;
        let cells: Vec<(&ratatui::buffer::Cell, Style)> = (0..area.width)
            .filter_map(|col| buf.cell((area.x + col, area.y + row)))
            .map(|c| (c, cell_style(c)))
            .collect();
        // Background runs.
        let mut col = 0usize;
        while col < cells.len() {
            let bg = cells.get(col).map(|c| c.1.bg.clone()).unwrap_or_default();
            let mut end = col + 1;
            while cells.get(end).is_some_and(|c| c.1.bg == bg) {
                end += 1;
            }
            if bg != DEFAULT_BG {
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{CH:.1}" fill="{bg}"/>"#,
                    col as f64 * CW,
                    (end - col) as f64 * CW
                );
            }
            col = end;
        }
        // Text runs of one style; each run is stretched to its cells so
        // columns line up whatever the viewer's font.
        let mut col = 0usize;
        while col < cells.len() {
            let Some((_, style)) = cells.get(col) else {
                break;
            };
            let mut end = col + 1;
            while cells
                .get(end)
                .is_some_and(|c| c.1.fg == style.fg && c.1.bold == style.bold)
            {
                end += 1;
            }
            let mut text = String::new();
            for (c, _) in cells.get(col..end).unwrap_or(&[]) {
                text.push_str(c.symbol());
            }
            if !text.trim().is_empty() {
                let mut esc = String::new();
                escape(&text, &mut esc);
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" fill="{}"{} textLength="{:.1}" lengthAdjust="spacingAndGlyphs" xml:space="preserve">{esc}</text>"#,
                    col as f64 * CW,
                    y + CH * 0.78,
                    style.fg,
                    if style.bold { r#" class="b""# } else { "" },
                    (end - col) as f64 * CW,
                );
            }
            col = end;
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style as RStyle;

    #[test]
    fn renders_text_colours_bold_and_escapes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 2));
        buf.set_string(0, 0, "a<b & c", RStyle::default().fg(Color::Red));
        buf.set_string(
            0,
            1,
            "BOLD",
            RStyle::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        );
        let svg = render(&buf, "t<1>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<title>t&lt;1&gt;</title>"));
        assert!(svg.contains("a&lt;b &amp; c"));
        assert!(svg.contains(r##"fill="#cd3131""##));
        assert!(
            svg.contains(r##"<rect x="0.0" y="17.0" width="33.6" height="17.0" fill="#e5e510"/>"##)
        );
        assert!(svg.contains(r#"class="b""#));
    }

    #[test]
    fn reverse_video_swaps_colours_and_indexed_colours_map() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 1));
        buf.set_string(
            0,
            0,
            "X",
            RStyle::default()
                .fg(Color::Green)
                .add_modifier(Modifier::REVERSED),
        );
        let svg = render(&buf, "r");
        assert!(svg.contains(r##"fill="#0dbc79"/>"##), "{svg}");
        assert_eq!(indexed(16), "#000000");
        assert_eq!(indexed(231), "#ffffff");
        assert_eq!(indexed(232), "#080808");
        assert_eq!(indexed(1), "#cd3131");
    }
}
