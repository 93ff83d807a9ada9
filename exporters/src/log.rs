//! Log lines in logfmt on standard error, as node_exporter writes them
//! (`time=... level=warn msg="scrape failed" err="..."`), so journald and
//! log shippers parse them the same way. Values are quoted and escaped:
//! error messages carry paths and names from the kernel.

use std::io::Write;

/// Log at level `info`.
pub fn info(msg: &str, kv: &[(&str, &str)]) {
    line("info", msg, kv);
}

/// Log at level `warn`.
pub fn warn(msg: &str, kv: &[(&str, &str)]) {
    line("warn", msg, kv);
}

/// Log at level `error`.
pub fn error(msg: &str, kv: &[(&str, &str)]) {
    line("error", msg, kv);
}

fn line(level: &str, msg: &str, kv: &[(&str, &str)]) {
    let s = format_line(level, msg, kv);
    // A closed stderr must not take the exporter down.
    let _ = writeln!(std::io::stderr().lock(), "{s}");
}

/// One logfmt line (without the newline).
pub fn format_line(level: &str, msg: &str, kv: &[(&str, &str)]) -> String {
    let time = humantime_now();
    let mut s = format!("time={time} level={level} msg={}", quote(msg));
    for (k, v) in kv {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&quote(v));
    }
    s
}

fn humantime_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn quote(v: &str) -> String {
    let safe = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/[]@,".contains(c));
    if safe {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if kmod_bridge::sanitize::is_unsafe_char(c) => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes_values() {
        let l = format_line("warn", "scrape failed", &[("err", "a \"b\"\n\u{1b}[31m")]);
        assert!(l.contains("level=warn msg=\"scrape failed\""));
        assert!(l.contains(r#"err="a \"b\"\n\u{001b}[31m""#), "{l}");
        assert!(!l.contains('\u{1b}'));
        assert!(
            format_line("info", "x", &[("address", "127.0.0.1:9749")])
                .ends_with("address=127.0.0.1:9749")
        );
    }
}
