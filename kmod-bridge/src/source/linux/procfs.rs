//! Threads, stacks, kernel release and boot time, from procfs.
//!
//! The thread scan walks `<procfs>/<pid>/task/<tid>/patch_state` (`-1`
//! idle, `0` unpatched, `1` patched; mode 0400, so without root only one's
//! own threads are readable). It runs only while a patch is in transition
//! and is the hot loop of the Linux source, made to cost what the kernel
//! interface costs and no more (docs/performance.md):
//!
//! * one pass: a thread found pending has its `comm`, `stat`, `wchan` and
//!   `stack` read at once, while its task directory is open; the others
//!   only their `patch_state`;
//! * `<pid>/task` is opened relative to the procfs root and listed with
//!   `getdents64` into a reused buffer, every file is opened relative to
//!   it (`openat`), so the kernel never walks a full path;
//! * open, one read, close per file: procfs hands out a value whole, so no
//!   read only to see the end of file;
//! * no heap allocation per thread, or per process, except for what a
//!   pending thread puts in the snapshot;
//! * two threads share the processes where a CPU is spare ([`Workers`],
//!   [`super::LinuxSource::set_scan_workers`]).
//!
//! Threads and processes exit while being read: ENOENT/ESRCH at any step
//! skips the thread silently.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// `patch_state` values.
fn parse_patch_state(bytes: &[u8]) -> Option<i8> {
    match files::trim(bytes) {
        b"-1" => Some(-1),
        b"0" => Some(0),
        b"1" => Some(1),
        _ => None,
    }
}

/// What the thread scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Threads taking part (`patch_state` not -1) and still there.
    pub total: u64,
    /// Threads not yet at the target, with their details, by (pid, tid).
    /// `blocking_function` is left for the caller.
    pub blocked: Vec<BlockedThread>,
    /// Threads whose `patch_state` could not be read for lack of privilege.
    pub denied: u64,
    /// One such file, for the message.
    pub denied_example: Option<PathBuf>,
    /// Threads whose `patch_state` held garbage or failed otherwise.
    pub unreadable: u64,
    /// One such file and why, for the message.
    pub unreadable_example: Option<String>,
    /// Blocked threads whose stack needs root.
    pub stack_denied: u64,
    /// One such stack file.
    pub stack_denied_example: Option<PathBuf>,
    /// Blocked threads whose stack could not be read otherwise.
    pub stack_failed: u64,
    /// One such failure, for the message.
    pub stack_failed_example: Option<String>,
    /// Listing `<procfs>` itself failed.
    pub listing_error: Option<String>,
}

/// Processes a worker claims at a time: small enough to share the work
/// evenly, large enough that the shared counter is not contended.
const CHUNK: usize = 8;

/// Below this many processes the scan stays on the calling thread:
/// starting a worker costs more than it saves.
const PARALLEL_MIN_PROCESSES: usize = 4 * CHUNK;

/// How many threads scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workers {
    /// Two where the process may use two CPUs and the host has one to
    /// spare, else one: a second worker halves the time of a large scan
    /// on an idle core, and only slows everything down on a saturated
    /// host. "To spare": the 1-minute load average, which counts this
    /// process too while it scans, is below the CPUs minus a half.
    Auto,
    /// Exactly this many (at least one).
    Exactly(usize),
}

impl Workers {
    /// The number of workers for a scan of `processes` processes.
    fn count(self, processes: usize) -> usize {
        if processes < PARALLEL_MIN_PROCESSES {
            return 1;
        }
        match self {
            Workers::Exactly(n) => n.max(1),
            Workers::Auto => {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                if cpus >= 2 && load_average().is_none_or(|l| l < cpus as f64 - 0.5) {
                    2
                } else {
                    1
                }
            }
        }
    }
}

/// The host's 1-minute load average, where the system says.
fn load_average() -> Option<f64> {
    let mut avg = [0f64; 1];
    // SAFETY: getloadavg writes at most `nelem` (1) doubles into `avg`.
    let n = unsafe { libc::getloadavg(avg.as_mut_ptr(), 1) };
    avg.first().copied().filter(|l| n == 1 && l.is_finite())
}

/// Walk every thread once: read its `patch_state` and, when it is not at
/// `target`, its `comm`, `stat`, `wchan` and `stack`, all opened relative
/// to the process's task directory.
///
/// `workers` says how many threads do it. Processes are handed out in
/// chunks from a shared counter, so a few large processes do not leave a
/// worker idle for long; the results do not depend on the number of
/// workers.
pub(crate) fn scan(procfs: &Path, target: Target, workers: Workers) -> Scan {
    let mut root = match files::Dir::open(procfs) {
        Ok(d) => d.list(Vec::new()),
        Err(e) => {
            return Scan {
                listing_error: Some(format!("listing {} failed: {e}", procfs.display())),
                ..Scan::default()
            };
        }
    };
    let mut pids = Vec::new();
    while let Some((_, name)) = root.next_entry() {
        if let Some(pid) = parse_id(name) {
            pids.push(pid);
        }
    }
    let target = target.code() as i8;
    let next = AtomicUsize::new(0);
    let job = Job {
        procfs,
        root: root.dir(),
        pids: &pids,
        next: &next,
        target,
    };
    let workers = workers.count(pids.len());
    let parts = std::thread::scope(|s| {
        // A worker that cannot be started (thread limits) leaves its share
        // to the others.
        let helpers: Vec<_> = (1..workers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("patchscope-scan".into())
                    .spawn_scoped(s, || job.run())
                    .ok()
            })
            .collect();
        let mut all = job.run();
        for h in helpers {
            // A worker that panicked lost its chunks: their threads are
            // missing from this one snapshot, nothing else.
            if let Ok(p) = h.join() {
                all.merge(p);
            }
        }
        all
    });
    let mut blocked = parts.blocked;
    blocked.sort_unstable_by_key(|b| (b.pid, b.tid));
    Scan {
        total: parts.total,
        blocked,
        denied: parts.denied,
        denied_example: parts.denied_example.map(|(_, v)| v),
        unreadable: parts.unreadable,
        unreadable_example: parts.unreadable_example.map(|(_, v)| v),
        stack_denied: parts.stack_denied,
        stack_denied_example: parts.stack_denied_example.map(|(_, v)| v),
        stack_failed: parts.stack_failed,
        stack_failed_example: parts.stack_failed_example.map(|(_, v)| v),
        listing_error: None,
    }
}

/// One example of a problem and the thread it came from. The one of the
/// lowest (pid, tid) is kept, so messages do not depend on which worker
/// saw what first.
type Example<T> = Option<((u32, u32), T)>;

fn keep_first<T>(slot: &mut Example<T>, at: (u32, u32), what: impl FnOnce() -> T) {
    if slot.as_ref().is_none_or(|(seen, _)| at < *seen) {
        *slot = Some((at, what()));
    }
}

fn merge_example<T>(slot: &mut Example<T>, other: Example<T>) {
    if let Some((at, v)) = other {
        keep_first(slot, at, || v);
    }
}

/// What one worker found.
#[derive(Default)]
struct Part {
    total: u64,
    blocked: Vec<BlockedThread>,
    denied: u64,
    denied_example: Example<PathBuf>,
    unreadable: u64,
    unreadable_example: Example<String>,
    stack_denied: u64,
    stack_denied_example: Example<PathBuf>,
    stack_failed: u64,
    stack_failed_example: Example<String>,
}

impl Part {
    fn merge(&mut self, p: Part) {
        self.total += p.total;
        self.blocked.extend(p.blocked);
        self.denied += p.denied;
        self.unreadable += p.unreadable;
        self.stack_denied += p.stack_denied;
        self.stack_failed += p.stack_failed;
        merge_example(&mut self.denied_example, p.denied_example);
        merge_example(&mut self.unreadable_example, p.unreadable_example);
        merge_example(&mut self.stack_denied_example, p.stack_denied_example);
        merge_example(&mut self.stack_failed_example, p.stack_failed_example);
    }
}

/// The work shared by the scan's workers.
struct Job<'a> {
    procfs: &'a Path,
    /// `<procfs>`, to open `<pid>/task` relative to it.
    root: &'a files::Dir,
    pids: &'a [u32],
    /// Index of the next unclaimed process.
    next: &'a AtomicUsize,
    target: i8,
}

impl Job<'_> {
    /// Scan processes until none is left.
    fn run(&self) -> Part {
        let mut part = Part::default();
        // Reused for every file of every thread of this worker.
        let mut scratch = vec![0u8; files::MAX_FILE_BYTES as usize];
        let mut dents = Vec::new();
        loop {
            let start = self.next.fetch_add(CHUNK, Ordering::Relaxed);
            let end = self.pids.len().min(start.saturating_add(CHUNK));
            let Some(chunk) = self.pids.get(start..end).filter(|c| !c.is_empty()) else {
                break;
            };
            for &pid in chunk {
                self.process(pid, &mut part, &mut scratch, &mut dents);
            }
        }
        part
    }

    /// Every thread of process `pid`.
    fn process(&self, pid: u32, part: &mut Part, scratch: &mut [u8], dents: &mut Vec<u8>) {
        let mut digits = Digits::default();
        // A process that exited since the listing has no task dir: skip.
        let Ok(tasks) = self.root.open_dir_at(digits.of(pid), b"task") else {
            return;
        };
        let mut tasks = tasks.list(std::mem::take(dents));
        let mut value = [0u8; 16];
        while let Some((dir, tid_name)) = tasks.next_entry() {
            let Some(tid) = parse_id(tid_name) else {
                continue;
            };
            let at = (pid, tid);
            // Only the rare problems need the full path, for the message.
            let full = |leaf: &str| {
                self.procfs
                    .join(pid.to_string())
                    .join("task")
                    .join(tid.to_string())
                    .join(leaf)
            };
            match dir.read_at(tid_name, b"patch_state", &mut value) {
                Ok(n) => {
                    let raw = value.get(..n).unwrap_or_default();
                    match parse_patch_state(raw) {
                        Some(-1) => {}
                        Some(s) if s == self.target => part.total += 1,
                        Some(_) => {
                            // Pending: read its details now, while its
                            // directory is at hand (one pass).
                            let Some((thread, stack)) =
                                read_thread(dir, tid_name, pid, tid, scratch)
                            else {
                                continue; // exited meanwhile
                            };
                            part.total += 1;
                            match stack {
                                StackRead::Read => {}
                                StackRead::Denied => {
                                    part.stack_denied += 1;
                                    keep_first(&mut part.stack_denied_example, at, || {
                                        full("stack")
                                    });
                                }
                                StackRead::Failed(e) => {
                                    part.stack_failed += 1;
                                    keep_first(&mut part.stack_failed_example, at, || {
                                        format!("reading {} failed: {e}", full("stack").display())
                                    });
                                }
                            }
                            part.blocked.push(thread);
                        }
                        None => {
                            part.unreadable += 1;
                            keep_first(&mut part.unreadable_example, at, || {
                                format!(
                                    "{} holds {}",
                                    full("patch_state").display(),
                                    files::quote_bad(raw)
                                )
                            });
                        }
                    }
                }
                Err(Fail::Gone) => {}
                Err(Fail::Denied) => {
                    part.denied += 1;
                    keep_first(&mut part.denied_example, at, || full("patch_state"));
                }
                Err(Fail::Other(e)) => {
                    part.unreadable += 1;
                    keep_first(&mut part.unreadable_example, at, || {
                        format!("reading {} failed: {e}", full("patch_state").display())
                    });
                }
            }
        }
        *dents = tasks.into_buf();
    }
}

/// A process id as decimal digits, without allocating.
#[derive(Default)]
struct Digits([u8; 10]);

impl Digits {
    fn of(&mut self, mut n: u32) -> &[u8] {
        let mut i = self.0.len();
        loop {
            i -= 1;
            if let Some(d) = self.0.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.0.get(i..).unwrap_or_default()
    }
}

/// How reading a thread's stack went.
#[derive(Debug)]
enum StackRead {
    /// Read (possibly empty).
    Read,
    /// No privilege: `/proc/<tid>/stack` needs root.
    Denied,
    /// Another error.
    Failed(std::io::Error),
}

/// Read a pending thread's details from its task directory `dir`.
/// `None`: the thread is gone. `blocking_function` is left `None` for the
/// caller to fill.
fn read_thread(
    dir: &files::Dir,
    tid_name: &[u8],
    pid: u32,
    tid: u32,
    scratch: &mut [u8],
) -> Option<(BlockedThread, StackRead)> {
    fn read<'a>(
        dir: &files::Dir,
        tid_name: &[u8],
        leaf: &[u8],
        scratch: &'a mut [u8],
    ) -> Result<&'a [u8], Fail> {
        let n = dir.read_at(tid_name, leaf, scratch)?;
        Ok(scratch.get(..n).unwrap_or_default())
    }
    // comm and stat are world-readable: failing other than "gone" leaves
    // the field unknown rather than hiding the thread.
    let comm = match read(dir, tid_name, b"comm", scratch) {
        Ok(b) => bytes_lossless(strip_newline(b)),
        Err(Fail::Gone) => return None,
        Err(_) => String::new(),
    };
    let state = match read(dir, tid_name, b"stat", scratch) {
        Ok(b) => state_from_stat(b),
        Err(Fail::Gone) => return None,
        Err(_) => "?".to_string(),
    };
    let wchan = match read(dir, tid_name, b"wchan", scratch) {
        Ok(b) => wchan_of(b),
        Err(Fail::Gone) => return None,
        Err(_) => None,
    };
    let (stack, read) = match read(dir, tid_name, b"stack", scratch) {
        Ok(b) => (stack_lines(b), StackRead::Read),
        Err(Fail::Gone) => return None,
        Err(Fail::Denied) => (Vec::new(), StackRead::Denied),
        Err(Fail::Other(e)) => (Vec::new(), StackRead::Failed(e)),
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
    use std::fs;

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

    #[test]
    fn worker_counts() {
        assert_eq!(Workers::Exactly(4).count(PARALLEL_MIN_PROCESSES), 4);
        assert_eq!(Workers::Exactly(0).count(PARALLEL_MIN_PROCESSES), 1);
        assert_eq!(Workers::Exactly(4).count(PARALLEL_MIN_PROCESSES - 1), 1);
        assert_eq!(Workers::Auto.count(3), 1);
        assert!((1..=2).contains(&Workers::Auto.count(10_000)));
        assert!(load_average().is_some_and(|l| l >= 0.0));
    }

    #[test]
    fn digits_of_ids() {
        let mut d = Digits::default();
        assert_eq!(d.of(0), b"0");
        assert_eq!(d.of(7), b"7");
        assert_eq!(d.of(4_194_304), b"4194304");
        assert_eq!(d.of(u32::MAX), b"4294967295");
    }

    /// `<root>/<pid>/task/<tid>/` with the given patch_state; pending
    /// threads get comm, stat, wchan and stack.
    fn thread(root: &Path, pid: u32, tid: u32, state: &str) {
        let dir = root.join(format!("{pid}/task/{tid}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("patch_state"), state).unwrap();
        fs::write(dir.join("comm"), format!("t{tid}\n")).unwrap();
        fs::write(dir.join("stat"), format!("{tid} (t{tid}) D 1 1\n")).unwrap();
        fs::write(dir.join("wchan"), "msleep").unwrap();
        fs::write(dir.join("stack"), "[<0>] msleep+0x29/0x40\n").unwrap();
    }

    fn summary(s: &Scan) -> (u64, Vec<(u32, u32)>, u64, u64, Option<String>) {
        (
            s.total,
            s.blocked.iter().map(|b| (b.pid, b.tid)).collect(),
            s.denied,
            s.unreadable,
            s.unreadable_example.clone(),
        )
    }

    #[test]
    fn scan_reads_each_thread_once_and_details_of_pending_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        thread(root, 10, 10, "1\n");
        thread(root, 10, 11, "0\n");
        thread(root, 20, 20, "-1\n");
        thread(root, 30, 30, "0\n");
        fs::write(root.join("30/task/30/stack"), "").unwrap();
        let s = scan(root, Target::Patched, Workers::Exactly(1));
        assert_eq!(summary(&s), (3, vec![(10, 11), (30, 30)], 0, 0, None));
        let b = &s.blocked[0];
        assert_eq!(
            (b.comm.as_str(), b.state.as_str(), b.wchan.as_deref()),
            ("t11", "D", Some("msleep"))
        );
        assert_eq!(b.stack, ["[<0>] msleep+0x29/0x40"]);
        assert!(s.blocked[1].stack.is_empty());
        // Unpatching: the other threads are pending.
        let s = scan(root, Target::Unpatched, Workers::Exactly(1));
        assert_eq!(summary(&s).1, vec![(10, 10)]);
    }

    #[test]
    fn workers_share_the_scan_and_agree_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Enough processes for the workers to start, some with many
        // threads, two garbage files (the example must be the first).
        for p in 0..(PARALLEL_MIN_PROCESSES as u32 * 3) {
            let pid = 100 + p * 100;
            let threads = if p % 7 == 0 { 40 } else { 2 };
            for t in 0..threads {
                let state = if (p + t) % 5 == 0 { "0\n" } else { "1\n" };
                thread(root, pid, pid + t, state);
            }
        }
        fs::write(root.join("200/task/200/patch_state"), "x\n").unwrap();
        fs::write(root.join("9000/task/9001/patch_state"), "y\n").unwrap();
        let one = scan(root, Target::Patched, Workers::Exactly(1));
        assert_eq!(one.unreadable, 2);
        assert_eq!(
            one.unreadable_example.as_deref(),
            Some(
                format!(
                    "{} holds \"x\"",
                    root.join("200/task/200/patch_state").display()
                )
                .as_str()
            )
        );
        assert!(
            one.blocked
                .windows(2)
                .all(|w| (w[0].pid, w[0].tid) < (w[1].pid, w[1].tid))
        );
        for workers in [2, 3, 8] {
            for _ in 0..5 {
                let many = scan(root, Target::Patched, Workers::Exactly(workers));
                assert_eq!(summary(&many), summary(&one), "{workers} workers");
                assert_eq!(many.blocked, one.blocked);
            }
        }
    }

    #[test]
    fn a_missing_procfs_is_a_listing_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = scan(
            &dir.path().join("none"),
            Target::Patched,
            Workers::Exactly(2),
        );
        let e = s.listing_error.unwrap();
        assert!(
            e.starts_with(&format!(
                "listing {} failed",
                dir.path().join("none").display()
            )),
            "{e}"
        );
        assert_eq!(s.total, 0);
    }
}
