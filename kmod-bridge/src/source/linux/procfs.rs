//! Threads, stacks, kernel release and boot time, from procfs.
//!
//! The thread scan walks `<procfs>/<pid>/task/<tid>/patch_state` (`-1`
//! idle, `0` unpatched, `1` patched; mode 0400, so without root only one's
//! own threads are readable). It runs only while a patch is in transition
//! and is the hot loop of the Linux source: each task directory is opened
//! once and every `<tid>/patch_state` opened relative to it (`openat`),
//! the value is read into a stack buffer, and there is no per-thread heap
//! allocation beyond the directory entry's name. Only the threads still pending have their
//! `comm`, `stat`, `wchan` and `stack` read.
//!
//! Threads and processes exit while being read: ENOENT/ESRCH at any step
//! skips the thread silently.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::files::{self, Fail};
use crate::model::{BlockedThread, Target};
use crate::sanitize::bytes_lossless;

/// `<procfs>/sys/kernel/osrelease`, trimmed; `None` when unreadable.
pub(crate) fn release(procfs: &Path, buf: &mut Vec<u8>) -> Option<String> {
    let path = procfs.join("sys").join("kernel").join("osrelease");
    files::read_into(&path, buf).ok()?;
    let r = files::trim(buf);
    (!r.is_empty()).then(|| bytes_lossless(r))
}

/// Boot time in Unix seconds: `btime` of `<procfs>/stat`, else `now`
/// minus the first field of `<procfs>/uptime`.
pub(crate) fn boot_time(procfs: &Path, buf: &mut Vec<u8>, now: f64) -> Option<f64> {
    if files::read_into(&procfs.join("stat"), buf).is_ok() {
        let btime = buf
            .split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"btime "))
            .and_then(files::parse_num::<u64>);
        if let Some(b) = btime {
            return Some(b as f64);
        }
    }
    files::read_into(&procfs.join("uptime"), buf).ok()?;
    let first = buf.split(|b| b.is_ascii_whitespace()).next()?;
    let up: f64 = files::parse_num(first)?;
    (up.is_finite() && up >= 0.0).then_some(now - up)
}

/// A process or thread id: a directory name of digits only.
fn parse_id(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// What the `patch_state` scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Threads taking part (`patch_state` not -1).
    pub total: u64,
    /// `(pid, tid)` of threads not yet at the target, in listing order.
    pub pending: Vec<(u32, u32)>,
    /// Threads whose `patch_state` could not be read for lack of privilege.
    pub denied: u64,
    /// One such file, for the message.
    pub denied_example: Option<PathBuf>,
    /// Threads whose `patch_state` held garbage or failed otherwise.
    pub unreadable: u64,
    /// One such file and why, for the message.
    pub unreadable_example: Option<String>,
    /// Listing `<procfs>` itself failed.
    pub listing_error: Option<String>,
}

/// `patch_state` values.
fn parse_patch_state(bytes: &[u8]) -> Option<i8> {
    match files::trim(bytes) {
        b"-1" => Some(-1),
        b"0" => Some(0),
        b"1" => Some(1),
        _ => None,
    }
}

/// Walk every thread's `patch_state` and count those not at `target`.
pub(crate) fn scan(procfs: &Path, target: Target) -> Scan {
    let mut scan = Scan::default();
    let procs = match fs::read_dir(procfs) {
        Ok(p) => p,
        Err(e) => {
            scan.listing_error = Some(format!("listing {} failed: {e}", procfs.display()));
            return scan;
        }
    };
    let target = target.code() as i8;
    // One path, grown and shrunk in place: <procfs>/<pid>/task.
    let mut path = procfs.to_path_buf();
    let mut value = [0u8; 16];
    for proc_entry in procs.flatten() {
        let pid_name = proc_entry.file_name();
        let Some(pid) = parse_id(pid_name.as_bytes()) else {
            continue;
        };
        path.push(&pid_name);
        path.push("task");
        // A process that exited since the listing has no task dir: skip.
        let (Ok(tasks), Ok(task_dir)) = (fs::read_dir(&path), files::Dir::open(&path)) else {
            path.pop();
            path.pop();
            continue;
        };
        for task_entry in tasks.flatten() {
            let tid_name = task_entry.file_name();
            let Some(tid) = parse_id(tid_name.as_bytes()) else {
                continue;
            };
            let state = task_dir
                .read_small_at(tid_name.as_bytes(), b"patch_state", &mut value)
                .map(|n| parse_patch_state(value.get(..n).unwrap_or_default()));
            // Only the rare problems need the full path, for the message.
            let full = |path: &PathBuf| path.join(&tid_name).join("patch_state");
            match state {
                Ok(Some(-1)) => {}
                Ok(Some(s)) => {
                    scan.total += 1;
                    if s != target {
                        scan.pending.push((pid, tid));
                    }
                }
                Ok(None) => {
                    scan.unreadable += 1;
                    if scan.unreadable_example.is_none() {
                        let file = full(&path);
                        let n = files::read_small(&file, &mut value).unwrap_or(0);
                        scan.unreadable_example = Some(format!(
                            "{} holds {}",
                            file.display(),
                            files::quote_bad(value.get(..n).unwrap_or_default())
                        ));
                    }
                }
                Err(Fail::Gone) => {}
                Err(Fail::Denied) => {
                    scan.denied += 1;
                    if scan.denied_example.is_none() {
                        scan.denied_example = Some(full(&path));
                    }
                }
                Err(Fail::Other(e)) => {
                    scan.unreadable += 1;
                    if scan.unreadable_example.is_none() {
                        scan.unreadable_example =
                            Some(format!("reading {} failed: {e}", full(&path).display()));
                    }
                }
            }
        }
        path.pop();
        path.pop();
    }
    scan
}

/// How reading a thread's stack went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StackRead {
    /// Read (possibly empty).
    Read,
    /// No privilege: `/proc/<tid>/stack` needs root.
    Denied(PathBuf),
    /// Another error.
    Failed(String),
}

/// Read a pending thread's details. `None`: the thread is gone.
/// `blocking_function` is left `None` for the caller to fill.
pub(crate) fn read_thread(
    procfs: &Path,
    pid: u32,
    tid: u32,
    buf: &mut Vec<u8>,
) -> Option<(BlockedThread, StackRead)> {
    let dir = procfs
        .join(pid.to_string())
        .join("task")
        .join(tid.to_string());
    // comm and stat are world-readable: failing other than "gone" leaves
    // the field unknown rather than hiding the thread.
    let comm = match files::read_into(&dir.join("comm"), buf) {
        Ok(()) => bytes_lossless(strip_newline(buf)),
        Err(Fail::Gone) => return None,
        Err(_) => String::new(),
    };
    let state = match files::read_into(&dir.join("stat"), buf) {
        Ok(()) => state_from_stat(buf),
        Err(Fail::Gone) => return None,
        Err(_) => "?".to_string(),
    };
    let wchan = match files::read_into(&dir.join("wchan"), buf) {
        Ok(()) => wchan_of(buf),
        Err(Fail::Gone) => return None,
        Err(_) => None,
    };
    let stack_path = dir.join("stack");
    let (stack, read) = match files::read_into(&stack_path, buf) {
        Ok(()) => (stack_lines(buf), StackRead::Read),
        Err(Fail::Gone) => return None,
        Err(Fail::Denied) => (Vec::new(), StackRead::Denied(stack_path)),
        Err(Fail::Other(e)) => (
            Vec::new(),
            StackRead::Failed(format!("reading {} failed: {e}", stack_path.display())),
        ),
    };
    Some((
        BlockedThread {
            tid,
            pid,
            comm,
            state,
            wchan,
            blocking_function: None,
            stack,
            blocked_since: None,
        },
        read,
    ))
}

/// `comm` ends with one newline; the name itself may hold anything else.
fn strip_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

/// The state letter of `/proc/<pid>/task/<tid>/stat`. The second field is
/// the command in parentheses and may itself hold `)` and spaces, so the
/// state is the first field after the *last* `)`.
pub(crate) fn state_from_stat(stat: &[u8]) -> String {
    stat.iter()
        .rposition(|&b| b == b')')
        .and_then(|i| stat.get(i + 1..))
        .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()))
        .filter(|b| b.is_ascii_alphabetic())
        .map_or_else(|| "?".to_string(), |&b| char::from(b).to_string())
}

/// `wchan` holds a symbol, or `0` (or nothing) when the thread is not
/// sleeping or the kernel hides it.
fn wchan_of(b: &[u8]) -> Option<String> {
    let w = files::trim(b);
    (!w.is_empty() && w != b"0").then(|| bytes_lossless(w))
}

/// Stack lines (`[<0>] msleep+0x29/0x40`), innermost first, blank lines
/// dropped.
pub(crate) fn stack_lines(b: &[u8]) -> Vec<String> {
    b.split(|&c| c == b'\n')
        .map(files::trim_end)
        .filter(|l| !l.is_empty())
        .map(bytes_lossless)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_state_after_last_paren() {
        assert_eq!(state_from_stat(b"123 (bash) S 1 123 123 0"), "S");
        assert_eq!(state_from_stat(b"123 (a) R (b) D 1 2 3"), "D");
        assert_eq!(state_from_stat(b"123 (x y) ) ) T 1"), "T");
        assert_eq!(state_from_stat(b"123 (trunc"), "?");
        assert_eq!(state_from_stat(b""), "?");
        assert_eq!(state_from_stat(b"1 (a) "), "?");
    }

    #[test]
    fn wchan_and_stack() {
        assert_eq!(wchan_of(b"0"), None);
        assert_eq!(wchan_of(b""), None);
        assert_eq!(wchan_of(b"msleep"), Some("msleep".to_string()));
        assert_eq!(
            stack_lines(b"[<0>] msleep+0x29/0x40\n\n[<0>] kthread+0xd7/0x100\n"),
            vec!["[<0>] msleep+0x29/0x40", "[<0>] kthread+0xd7/0x100"]
        );
        assert!(stack_lines(b"").is_empty());
    }

    #[test]
    fn ids_and_patch_states() {
        assert_eq!(parse_id(b"123"), Some(123));
        assert_eq!(parse_id(b"self"), None);
        assert_eq!(parse_id(b""), None);
        assert_eq!(parse_id(b"99999999999"), None);
        assert_eq!(parse_patch_state(b"-1\n"), Some(-1));
        assert_eq!(parse_patch_state(b"1\n"), Some(1));
        assert_eq!(parse_patch_state(b"2\n"), None);
    }

    #[test]
    fn boot_time_from_stat_or_uptime() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        assert_eq!(boot_time(dir.path(), &mut buf, 1000.0), None);
        fs::write(dir.path().join("uptime"), "250.50 900.00\n").unwrap();
        assert_eq!(boot_time(dir.path(), &mut buf, 1000.0), Some(749.5));
        fs::write(dir.path().join("stat"), "cpu 1 2 3\nbtime 1700000000\n").unwrap();
        assert_eq!(boot_time(dir.path(), &mut buf, 1000.0), Some(1.7e9));
    }
}
