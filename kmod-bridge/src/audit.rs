//! The audit trail of control writes: every write is logged with who made
//! it, what was written where, and the kernel's answer, to stderr and to
//! syslog (facility `LOG_AUTHPRIV`, ident `patchscope`) where available.

use std::sync::Mutex;

/// Where audit lines go besides syslog; tests capture them.
static SINK: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// Capture audit lines in memory instead of writing them to stderr (tests).
pub fn capture() {
    if let Ok(mut s) = SINK.lock() {
        *s = Some(Vec::new());
    }
}

/// Take the captured lines.
pub fn take_captured() -> Vec<String> {
    SINK.lock()
        .ok()
        .and_then(|mut s| s.as_mut().map(std::mem::take))
        .unwrap_or_default()
}

/// The user running patchscope: login name from the environment (`SUDO_USER`
/// first, so sudo shows who really did it) and the uid.
pub fn actor() -> String {
    // SAFETY: getuid never fails and has no preconditions.
    #[cfg(unix)]
    let uid = unsafe { libc::getuid() };
    #[cfg(not(unix))]
    let uid = 0;
    let name = std::env::var("SUDO_USER")
        .map(|u| format!("{u} via sudo"))
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("{name} (uid {uid})")
}

/// Log one control write and its result.
pub fn log_write(
    action: &str,
    patch: &str,
    target: &str,
    value: &str,
    result: &Result<(), String>,
) {
    let line = format_line(action, patch, target, value, result);
    if let Ok(mut sink) = SINK.lock()
        && let Some(lines) = sink.as_mut()
    {
        lines.push(line);
        return;
    }
    eprintln!("{line}");
    syslog(&line);
}

/// The audit line of one write: who, what, where, the kernel's answer.
fn format_line(
    action: &str,
    patch: &str,
    target: &str,
    value: &str,
    result: &Result<(), String>,
) -> String {
    let answer = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    // Every part is escaped: the patch name and target come from the
    // kernel, the user name from the environment, the answer may quote
    // either; the line goes to a terminal and to syslog.
    format!(
        "patchscope: {action} of '{}' by {}: wrote {} to {}: {}",
        crate::sanitize::for_terminal(patch),
        crate::sanitize::for_terminal(&actor()),
        crate::sanitize::for_terminal(value),
        crate::sanitize::escape_controls(target),
        crate::sanitize::escape_controls(&answer),
    )
}

#[cfg(unix)]
fn syslog(line: &str) {
    let Ok(msg) = std::ffi::CString::new(line.replace('\0', "")) else {
        return;
    };
    // SAFETY: the format string is a constant "%s" and `msg` is a valid
    // NUL-terminated string that outlives the call; openlog's ident is a
    // static C string.
    unsafe {
        libc::openlog(c"patchscope".as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV);
        libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), msg.as_ptr());
    }
}

#[cfg(not(unix))]
fn syslog(_line: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_lines_name_who_what_and_answer_with_nothing_raw() {
        let lines = [
            format_line(
                "revert",
                "lp\u{1b}]0;owned\u{7}\u{202e}",
                "/sys/kernel/livepatch/lp\u{1b}]0;owned\u{7}\u{202e}/enabled",
                "0",
                &Err("refused: '\u{9b}31m'".to_string()),
            ),
            format_line(
                "force",
                "p",
                "kern.livepatch.transition.force",
                "1",
                &Ok(()),
            ),
        ];
        for l in &lines {
            assert!(!l.chars().any(crate::sanitize::is_unsafe_char), "{l:?}");
            assert!(l.contains(" by ") && l.contains("(uid "), "{l}");
        }
        assert!(
            lines[0].starts_with("patchscope: revert of 'lp\\x1b]0;owned\\x07\\u{202e}' by "),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with(
                ": wrote 0 to /sys/kernel/livepatch/lp\\x1b]0;owned\\x07\\u{202e}/enabled: error: refused: '\\x9b31m'"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(": wrote 1 to kern.livepatch.transition.force: ok"),
            "{}",
            lines[1]
        );
    }
}
