//! Untrusted text (thread names, patch names, function names, stack lines,
//! dump contents) made safe for a terminal.
//!
//! Kernel-provided strings are partly controlled by unprivileged users (a
//! thread can name itself anything), so they may hold ANSI escapes, other
//! control characters and bidirectional overrides that would rewrite what
//! an administrator sees. [`for_terminal`] replaces each such character with
//! a visible escape and caps the length.

use std::borrow::Cow;

/// Longest text shown for one untrusted value, in characters.
pub const MAX_DISPLAY_CHARS: usize = 256;

/// True for characters that must never reach a terminal raw: C0 and C1
/// controls, DEL, and the Unicode bidi and invisible formatting characters.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width, LRM, RLM
            | '\u{202A}'..='\u{202E}' // LRE..RLO
            | '\u{2066}'..='\u{2069}' // LRI..PDI
            | '\u{061C}' // Arabic letter mark
            | '\u{FEFF}' // BOM / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        )
}

/// Make `s` safe to print: unsafe characters become `\xNN` or `\u{NNNN}`,
/// and text longer than [`MAX_DISPLAY_CHARS`] is cut with `…`.
/// Returns the input unchanged (borrowed) when it is already safe.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    let too_long = s.len() > MAX_DISPLAY_CHARS && s.chars().count() > MAX_DISPLAY_CHARS;
    if !too_long && !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX_DISPLAY_CHARS * 4) + 8);
    for (n, c) in s.chars().enumerate() {
        if n >= MAX_DISPLAY_CHARS {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            let code = c as u32;
            if code < 0x100 {
                out.push_str(&format!("\\x{code:02x}"));
            } else {
                out.push_str(&format!("\\u{{{code:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Decode kernel bytes (which need not be UTF-8) to a `String`, keeping
/// invalid bytes visible as `\xNN` rather than losing them.
pub fn bytes_lossless(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_ansi_and_bidi() {
        assert_eq!(for_terminal("kworker/0:1"), "kworker/0:1");
        assert_eq!(for_terminal("\u{1b}[2Jevil"), "\\x1b[2Jevil");
        assert_eq!(for_terminal("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(for_terminal("tab\there\n"), "tab\\x09here\\x0a");
        assert_eq!(for_terminal("\u{9b}31m"), "\\x9b31m");
    }

    #[test]
    fn caps_length() {
        let long = "x".repeat(10_000);
        let out = for_terminal(&long);
        assert_eq!(out.chars().count(), MAX_DISPLAY_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn keeps_invalid_utf8_visible() {
        assert_eq!(bytes_lossless(b"ok\xffname"), "ok\\xffname");
        assert_eq!(bytes_lossless("héllo".as_bytes()), "héllo");
    }
}
