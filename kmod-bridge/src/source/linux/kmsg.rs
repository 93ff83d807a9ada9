//! The kernel log, for what sysfs does not say: when a transition started,
//! whether it was forced, and when a patch was loaded.
//!
//! Lines read (all prefixed `livepatch: ` by the kernel):
//!
//! * `enabling patch '<p>'`
//! * `'<p>': starting patching transition` / `starting unpatching transition`
//! * `'<p>': patching complete` / `unpatching complete`
//! * `forcing remaining tasks to the patched state` (in both directions)
//!
//! A reversal logs a new start line in its direction (`'<p>': starting
//! unpatching transition` right after the patching one; only the
//! `reversing transition` message is debug-level), as seen on a real 6.1
//! kernel (`tests/vm/captured/`). A transition whose direction does not match
//! the latest start line of its patch (a lost or rotated-out log line) has
//! no known start and falls back to first sight.
//!
//! Two inputs are accepted:
//!
//! * `/dev/kmsg` (a character device): one record per `read()`, formatted
//!   `pri,seq,usec,flags;message`. It is opened non-blocking and kept open,
//!   so each refresh reads only the records logged since the last one
//!   (until `EAGAIN`); after a reopen, records up to the last sequence
//!   number seen are skipped. Only kernel-facility records count (user
//!   space can write to `/dev/kmsg` too).
//! * A regular file of `dmesg` output (`[   12.345678] livepatch: ...`) or
//!   of kmsg records, for fixtures and offline use. It is read on from the
//!   last offset; a file that shrank or was replaced is read afresh.
//!
//! Timestamps are microseconds since boot; the caller adds the boot time.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::model::Target;
use crate::sanitize::bytes_lossless;

/// Bytes of a text log read per refresh; the rest waits for the next one.
const MAX_TEXT_PER_REFRESH: u64 = 16 * 1024 * 1024;
/// `/dev/kmsg` records are at most about 8 KiB with their dictionary.
const RECORD_BUF: usize = 16 * 1024;
/// Patch names remembered; the kernel log is root-controlled, but a flood
/// of odd lines should not grow memory without bound.
const MAX_TRACKED: usize = 4096;

/// The latest start line of one patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogStart {
    /// Direction.
    pub target: Target,
    /// Microseconds since boot, when the line had a timestamp.
    pub usec: Option<u64>,
    /// A `forcing remaining tasks` line followed it.
    pub forced: bool,
    /// A `... complete` line for the patch followed it.
    pub completed: bool,
}

/// What the log has said so far.
#[derive(Debug, Default)]
struct LogState {
    starts: HashMap<String, LogStart>,
    /// The patch whose transition started last and has not completed.
    current: Option<String>,
    loaded: HashMap<String, Option<u64>>,
}

impl LogState {
    /// Apply one `livepatch: ` message (prefix removed).
    fn apply(&mut self, usec: Option<u64>, msg: &[u8]) {
        let msg = super::files::trim_end(msg);
        if msg == b"forcing remaining tasks to the patched state" {
            if let Some(s) = self.current.as_ref().and_then(|p| self.starts.get_mut(p)) {
                s.forced = true;
            }
            return;
        }
        if let Some(rest) = msg.strip_prefix(b"enabling patch '")
            && let Some(name) = rest.strip_suffix(b"'")
        {
            let name = bytes_lossless(name);
            if self.loaded.len() < MAX_TRACKED || self.loaded.contains_key(&name) {
                self.loaded.insert(name, usec);
            }
            return;
        }
        let Some(rest) = msg.strip_prefix(b"'") else {
            return;
        };
        let Some(end) = rest.windows(3).rposition(|w| w == b"': ") else {
            return;
        };
        let name = bytes_lossless(rest.get(..end).unwrap_or_default());
        let event = rest.get(end + 3..).unwrap_or_default();
        let start = match event {
            b"starting patching transition" => Some(Target::Patched),
            b"starting unpatching transition" => Some(Target::Unpatched),
            b"patching complete" | b"unpatching complete" => {
                if let Some(s) = self.starts.get_mut(&name) {
                    s.completed = true;
                }
                if self.current.as_ref() == Some(&name) {
                    self.current = None;
                }
                None
            }
            _ => None,
        };
        if let Some(target) = start {
            if self.starts.len() >= MAX_TRACKED && !self.starts.contains_key(&name) {
                return;
            }
            self.starts.insert(
                name.clone(),
                LogStart {
                    target,
                    usec,
                    forced: false,
                    completed: false,
                },
            );
            self.current = Some(name);
        }
    }
}

/// How the log is being read.
enum Reader {
    /// `/dev/kmsg`, kept open.
    Device(File),
    /// A text file: identity (device, inode) and how far it was read, with
    /// an incomplete last line kept for the next refresh.
    Text {
        id: (u64, u64),
        offset: u64,
        carry: Vec<u8>,
    },
}

/// The kernel log of one source, read incrementally.
pub(crate) struct KernelLog {
    path: PathBuf,
    reader: Option<Reader>,
    state: LogState,
    /// Highest `/dev/kmsg` sequence number applied.
    last_seq: Option<u64>,
    /// Why the last refresh could not read the log, in plain words.
    problem: Option<String>,
}

impl KernelLog {
    /// A log at `path`, not read yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            reader: None,
            state: LogState::default(),
            last_seq: None,
            problem: None,
        }
    }

    /// The path read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Why the log could not be read at the last refresh, if it could not.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The latest start line of `patch`, if the log has one.
    pub(crate) fn start_of(&self, patch: &str) -> Option<&LogStart> {
        self.state.starts.get(patch)
    }

    /// When `patch` was last enabled (microseconds since boot).
    pub(crate) fn loaded_usec(&self, patch: &str) -> Option<u64> {
        self.state.loaded.get(patch).copied().flatten()
    }

    /// Read what was logged since the last refresh.
    pub(crate) fn refresh(&mut self) {
        self.problem = None;
        if self.reader.is_none()
            && let Err(e) = self.open()
        {
            self.problem = Some(self.describe(&e));
            return;
        }
        let result = match self.reader.take() {
            Some(Reader::Device(file)) => self.read_device(file),
            Some(Reader::Text { id, offset, carry }) => self.read_text(id, offset, carry),
            None => Ok(()),
        };
        if let Err(e) = result {
            self.problem = Some(self.describe(&e));
        }
    }

    fn describe(&self, e: &io::Error) -> String {
        match e.kind() {
            io::ErrorKind::PermissionDenied => format!(
                "reading the kernel log {} needs root (or sysctl kernel.dmesg_restrict=0)",
                self.path.display()
            ),
            io::ErrorKind::NotFound => {
                format!("the kernel log {} does not exist", self.path.display())
            }
            _ => format!("reading the kernel log {} failed: {e}", self.path.display()),
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let meta = std::fs::metadata(&self.path)?;
        if meta.file_type().is_char_device() {
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path)?;
            self.reader = Some(Reader::Device(file));
        } else {
            self.reader = Some(Reader::Text {
                id: (meta.dev(), meta.ino()),
                offset: 0,
                carry: Vec::new(),
            });
            self.state = LogState::default();
        }
        Ok(())
    }

    /// Read records until `EAGAIN`. On success the device stays open.
    fn read_device(&mut self, mut file: File) -> io::Result<()> {
        let mut buf = vec![0u8; RECORD_BUF];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some((seq, usec, msg)) = parse_record(buf.get(..n).unwrap_or_default())
                        && self.last_seq.is_none_or(|last| seq > last)
                    {
                        self.last_seq = Some(seq);
                        if let Some(m) = msg {
                            self.state.apply(Some(usec), m);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The record was overwritten before we read it (the ring
                // buffer wrapped): the next read returns the next one.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                // Dropped: the next refresh reopens and skips what was seen.
                Err(e) => return Err(e),
            }
        }
        self.reader = Some(Reader::Device(file));
        Ok(())
    }

    /// Read a text file on from `offset`.
    fn read_text(&mut self, id: (u64, u64), offset: u64, carry: Vec<u8>) -> io::Result<()> {
        let mut file = File::open(&self.path)?;
        let meta = file.metadata()?;
        let (mut offset, mut carry) = (offset, carry);
        let now_id = (meta.dev(), meta.ino());
        if now_id != id || meta.len() < offset {
            // Replaced or truncated: start over.
            self.state = LogState::default();
            offset = 0;
            carry.clear();
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut data = carry;
        let read = file.take(MAX_TEXT_PER_REFRESH).read_to_end(&mut data)?;
        offset += read as u64;
        let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in data
            .get(..complete)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
        {
            if let Some((usec, msg)) = parse_line(line) {
                self.state.apply(usec, msg);
            }
        }
        let rest = data.get(complete..).unwrap_or_default().to_vec();
        self.reader = Some(Reader::Text {
            id: now_id,
            offset,
            carry: rest,
        });
        Ok(())
    }
}

const PREFIX: &[u8] = b"livepatch: ";

/// A `/dev/kmsg` record: `pri,seq,usec,flags[,...];message\n[ KEY=value\n]...`.
/// Returns the sequence number, the timestamp and, for a kernel-facility
/// `livepatch: ` message, the message without that prefix.
fn parse_record(rec: &[u8]) -> Option<(u64, u64, Option<&[u8]>)> {
    let semi = rec.iter().position(|&b| b == b';')?;
    let header = rec.get(..semi)?;
    let mut fields = header.split(|&b| b == b',');
    let pri: u64 = super::files::parse_num(fields.next()?)?;
    let seq: u64 = super::files::parse_num(fields.next()?)?;
    let usec: u64 = super::files::parse_num(fields.next()?)?;
    let body = rec.get(semi + 1..)?;
    let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    // Facility 0 is the kernel; user space writing to /dev/kmsg gets
    // LOG_USER unless it is root and says otherwise.
    let msg = (pri >> 3 == 0)
        .then(|| first_line.strip_prefix(PREFIX))
        .flatten();
    Some((seq, usec, msg))
}

/// One line of a text log: a kmsg record, or `dmesg` output with an
/// optional `[seconds.micros]` stamp. Returns the timestamp and the message
/// after `livepatch: `.
fn parse_line(line: &[u8]) -> Option<(Option<u64>, &[u8])> {
    if let Some((_, usec, msg)) = parse_record(line) {
        return msg.map(|m| (Some(usec), m));
    }
    let at = line
        .windows(PREFIX.len())
        .enumerate()
        .find(|&(i, w)| {
            w == PREFIX && (i == 0 || line.get(i - 1).is_some_and(|b| b.is_ascii_whitespace()))
        })
        .map(|(i, _)| i)?;
    let msg = line.get(at + PREFIX.len()..)?;
    let before = line.get(..at).unwrap_or_default();
    Some((dmesg_stamp(before), msg))
}

/// `[   12.345678]` → 12345678 µs.
fn dmesg_stamp(before: &[u8]) -> Option<u64> {
    let open = before.iter().position(|&b| b == b'[')?;
    let close = before.iter().position(|&b| b == b']')?;
    let inside = super::files::trim(before.get(open + 1..close)?);
    let (secs, frac) = match inside.iter().position(|&b| b == b'.') {
        Some(dot) => (inside.get(..dot)?, inside.get(dot + 1..)?),
        None => (inside, &b""[..]),
    };
    let secs: u64 = super::files::parse_num(secs)?;
    if frac.len() > 9 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut micros = 0u64;
    for i in 0..6 {
        micros = micros * 10 + frac.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kmsg_records() {
        let (seq, usec, msg) =
            parse_record(b"5,1234,12345678,-;livepatch: 'p': starting patching transition\n")
                .unwrap();
        assert_eq!((seq, usec), (1234, 12345678));
        assert_eq!(msg, Some(&b"'p': starting patching transition"[..]));
        // Continuation lines are not part of the message.
        let (_, _, msg) = parse_record(
            b"4,9,1,c;livepatch: forcing remaining tasks to the patched state\n SUBSYSTEM=x\n",
        )
        .unwrap();
        assert_eq!(
            msg,
            Some(&b"forcing remaining tasks to the patched state"[..])
        );
        // User-space records (facility 1) do not count.
        let (_, _, msg) =
            parse_record(b"13,10,5,-;livepatch: 'p': starting patching transition").unwrap();
        assert_eq!(msg, None);
        assert!(parse_record(b"garbage").is_none());
        assert!(parse_record(b"a,b,c;x").is_none());
    }

    #[test]
    fn parses_dmesg_lines() {
        assert_eq!(
            parse_line(b"[   12.345678] livepatch: enabling patch 'p'"),
            Some((Some(12_345_678), &b"enabling patch 'p'"[..]))
        );
        assert_eq!(
            parse_line(b"[5.5] livepatch: x"),
            Some((Some(5_500_000), &b"x"[..]))
        );
        assert_eq!(parse_line(b"livepatch: x"), Some((None, &b"x"[..])));
        assert_eq!(
            parse_line(b"Mar 01 host kernel: livepatch: x"),
            Some((None, &b"x"[..]))
        );
        assert_eq!(parse_line(b"[ 1.0] notlivepatch: x"), None);
        assert_eq!(parse_line(b"[ 1.0] other"), None);
        assert_eq!(dmesg_stamp(b"[ 1.x]"), None);
        assert_eq!(dmesg_stamp(b"[18446744073710.0]"), None);
    }

    #[test]
    fn state_follows_the_log() {
        let mut s = LogState::default();
        s.apply(Some(1), b"enabling patch 'p'");
        s.apply(Some(2), b"'p': starting patching transition");
        assert_eq!(s.loaded.get("p"), Some(&Some(1)));
        let st = s.starts.get("p").unwrap();
        assert_eq!(
            (st.target, st.usec, st.forced, st.completed),
            (Target::Patched, Some(2), false, false)
        );
        s.apply(Some(3), b"forcing remaining tasks to the patched state\n");
        s.apply(Some(4), b"'p': patching complete");
        let st = s.starts.get("p").unwrap();
        assert!(st.forced && st.completed);
        // A force line with no transition in progress marks nothing.
        s.apply(Some(5), b"'q': starting unpatching transition");
        s.apply(Some(6), b"'q': unpatching complete");
        s.apply(Some(7), b"forcing remaining tasks to the patched state");
        assert!(!s.starts.get("q").unwrap().forced);
        // Odd names with quotes and colons.
        s.apply(Some(8), b"'a': b': starting patching transition");
        assert!(s.starts.contains_key("a': b"));
    }

    #[test]
    fn text_file_is_read_incrementally() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dmesg");
        std::fs::write(&path, "[ 1.000000] livepatch: 'p': starting patching tran").unwrap();
        let mut log = KernelLog::new(path.clone());
        log.refresh();
        assert!(log.problem().is_none());
        assert!(log.start_of("p").is_none(), "incomplete line is held back");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        io::Write::write_all(&mut f, b"sition\n").unwrap();
        log.refresh();
        assert_eq!(log.start_of("p").unwrap().usec, Some(1_000_000));
        // Replaced by a shorter file: read afresh.
        std::fs::write(
            &path,
            "[ 2.0] livepatch: 'q': starting patching transition\n",
        )
        .unwrap();
        log.refresh();
        assert!(log.start_of("p").is_none());
        assert_eq!(log.start_of("q").unwrap().usec, Some(2_000_000));
    }

    #[test]
    fn missing_log_is_a_problem_not_an_error() {
        let mut log = KernelLog::new(PathBuf::from("/nonexistent/kmsg"));
        log.refresh();
        assert!(log.problem().unwrap().contains("does not exist"));
    }

    #[test]
    fn reads_a_character_device_until_eagain() {
        // /dev/null is a character device that reads as empty: the device
        // path must terminate and keep the device open.
        let mut log = KernelLog::new(PathBuf::from("/dev/null"));
        log.refresh();
        assert!(log.problem().is_none());
        assert!(matches!(log.reader, Some(Reader::Device(_))));
        log.refresh();
        assert!(log.problem().is_none());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any line, any record, any message: an answer, never a panic.
            #[test]
            fn arbitrary_lines_never_panic(
                line in proptest::collection::vec(any::<u8>(), 0..200),
                text in "([0-9,;\\[\\]. '-]|livepatch: |\\PC){0,120}",
            ) {
                let mut st = LogState::default();
                for l in [line.as_slice(), text.as_bytes()] {
                    let _ = parse_record(l);
                    let _ = dmesg_stamp(l);
                    if let Some((usec, msg)) = parse_line(l) {
                        st.apply(usec, msg);
                    }
                    st.apply(None, l);
                }
            }

            /// Well-formed dmesg stamps and kmsg records parse exactly.
            #[test]
            fn stamps_and_records_parse_exactly(
                secs in 0u64..10_000_000,
                micros in 0u64..1_000_000,
                seq in any::<u64>(),
                usec in any::<u64>(),
                name in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40),
            ) {
                let line = format!("[{secs:5}.{micros:06}] livepatch: x");
                prop_assert_eq!(parse_line(line.as_bytes()), Some((Some(secs * 1_000_000 + micros), &b"x"[..])));
                let mut rec = format!("6,{seq},{usec},-;livepatch: '").into_bytes();
                rec.extend_from_slice(&name);
                rec.extend_from_slice(b"': starting unpatching transition\n SUBSYSTEM=x\n");
                let (s, u, msg) = parse_record(&rec).unwrap();
                prop_assert_eq!((s, u), (seq, usec));
                let mut st = LogState::default();
                st.apply(Some(u), msg.unwrap());
                let start = st.starts.get(&bytes_lossless(&name));
                prop_assert_eq!(start.map(|s| (s.target, s.usec)), Some((Target::Unpatched, Some(usec))));
            }
        }

        /// A flood of distinct names does not grow memory without bound.
        #[test]
        fn tracked_names_are_capped() {
            let mut st = LogState::default();
            for i in 0..(MAX_TRACKED + 500) {
                st.apply(
                    Some(1),
                    format!("'p{i}': starting patching transition").as_bytes(),
                );
                st.apply(Some(1), format!("enabling patch 'p{i}'").as_bytes());
            }
            assert_eq!(st.starts.len(), MAX_TRACKED);
            assert_eq!(st.loaded.len(), MAX_TRACKED);
        }
    }
}
