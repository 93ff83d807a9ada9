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
    escape_capped(s, MAX_DISPLAY_CHARS)
}

/// Make `s` safe to print like [`for_terminal`], without the length cap:
/// for messages patchscope composes (errors, notes, audit lines), whose
/// untrusted parts are bounded by where they come from (a path, a quoted
/// value) and whose end, the advice on what to do, must not be cut.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape_capped(s, usize::MAX)
}

fn escape_capped(s: &str, cap: usize) -> Cow<'_, str> {
    let too_long = s.len() > cap && s.chars().count() > cap;
    if !too_long && !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(cap.saturating_mul(4)) + 8);
    for (n, c) in s.chars().enumerate() {
        if n >= cap {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `\xNN` for characters below U+0100, else `\u{NNNN}`.
fn push_escape(out: &mut String, c: char) {
    use std::fmt::Write;
    let code = c as u32;
    // Writing to a String cannot fail.
    let _ = if code < 0x100 {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{{{code:04x}}}")
    };
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
        let out = escape_controls(&long);
        assert_eq!(out.len(), 10_000, "no cap");
        assert_eq!(escape_controls("a\u{1b}b\u{202e}"), "a\\x1bb\\u{202e}");
    }

    #[test]
    fn keeps_invalid_utf8_visible() {
        assert_eq!(bytes_lossless(b"ok\xffname"), "ok\\xffname");
        assert_eq!(bytes_lossless("héllo".as_bytes()), "héllo");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Text rich in what terminals interpret: C0, DEL, C1, bidi and
        /// zero-width characters, mixed with ordinary text.
        fn hostile() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    any::<char>(),
                    (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('?')),
                    (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap_or('?')),
                    prop::sample::select(vec![
                        '\u{1b}', '\u{202e}', '\u{2066}', '\u{200f}', '\u{feff}', '\u{61c}'
                    ]),
                    "[a-z]{1,8}".prop_map(|s| s.chars().next().unwrap_or('a')),
                ],
                0..600,
            )
            .prop_map(|v| v.into_iter().collect())
        }

        proptest! {
            /// Nothing unsafe survives, the cap holds, safe text is kept.
            #[test]
            fn output_is_always_safe(s in hostile()) {
                let t = for_terminal(&s);
                prop_assert!(!t.chars().any(is_unsafe_char), "{:?}", t);
                // The cap counts input characters; one becomes at most 8
                // (`\u{202e}`).
                prop_assert!(t.chars().count() <= MAX_DISPLAY_CHARS * 8 + 1);
                let e = escape_controls(&s);
                prop_assert!(!e.chars().any(is_unsafe_char), "{:?}", e);
                prop_assert!(e.len() >= s.len() - s.chars().filter(|c| is_unsafe_char(*c)).map(char::len_utf8).sum::<usize>());
                if !s.chars().any(is_unsafe_char) {
                    prop_assert_eq!(e.as_ref(), s.as_str());
                }
            }

            /// Any bytes decode; valid UTF-8 is unchanged; every invalid
            /// byte shows as `\xNN`.
            #[test]
            fn bytes_decode_losslessly(b in proptest::collection::vec(any::<u8>(), 0..400)) {
                let s = bytes_lossless(&b);
                match std::str::from_utf8(&b) {
                    Ok(v) => prop_assert_eq!(s.as_str(), v),
                    Err(_) => {
                        let invalid: usize = b.utf8_chunks().map(|c| c.invalid().len()).sum();
                        prop_assert!(s.matches("\\x").count() >= invalid);
                    }
                }
            }
        }
    }
}
