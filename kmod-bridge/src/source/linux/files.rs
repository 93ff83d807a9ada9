//! Bounded reads of sysfs and procfs files, and the classification of
//! their errors into "gone" (normal: the kernel removed it while we
//! looked), "denied" (normal without root) and everything else.

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most read from one sysfs/procfs file. Every attribute we read is a
/// few bytes; a stack is a few KiB. The cap keeps a garbage or hostile
/// file (a fixture, a FUSE mount given as root) from costing memory.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024;

/// How a failed read is treated.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The file or its directory went away (ENOENT, ESRCH): the thread
    /// exited or the patch was removed. Skipped silently.
    Gone,
    /// No permission (EACCES, EPERM): a degraded view, not an error.
    Denied,
    /// Anything else.
    Other(io::Error),
}

impl Fail {
    /// Whether `e` means "went away" (see [`Fail::Gone`]).
    pub(crate) fn is_gone(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
            || (e.raw_os_error().is_none() && e.kind() == io::ErrorKind::NotFound)
    }

    /// Classify an I/O error.
    pub(crate) fn of(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Fail::Gone,
            Some(libc::EACCES) | Some(libc::EPERM) => Fail::Denied,
            _ => match e.kind() {
                io::ErrorKind::NotFound => Fail::Gone,
                io::ErrorKind::PermissionDenied => Fail::Denied,
                _ => Fail::Other(e),
            },
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Gone => f.write_str("it does not exist (or went away)"),
            Fail::Denied => f.write_str("permission denied"),
            Fail::Other(e) => e.fmt(f),
        }
    }
}

/// Read at most [`MAX_FILE_BYTES`] of `path` into `buf` (cleared first),
/// so one buffer serves a whole snapshot.
pub(crate) fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<(), Fail> {
    buf.clear();
    let file = File::open(path).map_err(Fail::of)?;
    file.take(MAX_FILE_BYTES)
        .read_to_end(buf)
        .map_err(Fail::of)?;
    Ok(())
}

/// Read `file` into `out` until its end, or until `out` is full (a
/// longer file is cut: the caller's cap). Returns the bytes read.
///
/// A read that returns less than asked ends it too, which saves the
/// second system call that would only see the end of file: every file the
/// thread scan reads (`patch_state`, `comm`, `stat`, `wchan`, `stack`) is
/// a single-record procfs file, which hands out its whole content in the
/// first read, and on a regular file (a fixture) a short read is the end.
fn read_upto(file: &mut File, out: &mut [u8]) -> Result<usize, Fail> {
    let mut n = 0;
    while let Some(chunk) = out.get_mut(n..).filter(|c| !c.is_empty()) {
        let asked = chunk.len();
        match file.read(chunk) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if k < asked {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fail::of(e)),
        }
    }
    Ok(n)
}

/// A directory kept open to open files relative to it with `openat`: the
/// thread scan opens `<pid>/task` from the procfs root and
/// `<tid>/patch_state` from the task directory instead of walking
/// `<procfs>/<pid>/task/<tid>/patch_state` from `/` for every thread.
#[derive(Debug)]
pub(crate) struct Dir(File);

/// `<child>/<leaf>` as a NUL-terminated path in a stack buffer. Both are
/// single path components (no NUL, no `/`); their total is capped at 255
/// bytes.
struct RelPath([u8; 256]);

impl RelPath {
    fn new(child: &[u8], leaf: &[u8]) -> Result<Self, Fail> {
        let mut name = [0u8; 256];
        let len = child.len() + 1 + leaf.len();
        let fits = len < name.len() && !child.contains(&0) && !leaf.contains(&0);
        let (Some(a), true) = (name.get_mut(..len), fits) else {
            return Err(Fail::Other(io::Error::from_raw_os_error(
                libc::ENAMETOOLONG,
            )));
        };
        let (head, tail) = a.split_at_mut(child.len());
        head.copy_from_slice(child);
        if let Some((slash, rest)) = tail.split_first_mut() {
            *slash = b'/';
            rest.copy_from_slice(leaf);
        }
        Ok(RelPath(name))
    }

    fn as_cstr(&self) -> Result<&CStr, Fail> {
        CStr::from_bytes_until_nul(&self.0)
            .map_err(|_| Fail::Other(io::Error::from_raw_os_error(libc::EINVAL)))
    }
}

impl Dir {
    /// Open a directory.
    pub(crate) fn open(path: &Path) -> Result<Self, Fail> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
            .map(Dir)
            .map_err(Fail::of)
    }

    /// `openat(2)` of `<dir>/<child>/<leaf>` with `flags`.
    fn open_at(&self, child: &[u8], leaf: &[u8], flags: libc::c_int) -> Result<File, Fail> {
        let name = RelPath::new(child, leaf)?;
        let path = name.as_cstr()?;
        // SAFETY: `path` is NUL-terminated and outlives the call; the
        // directory descriptor is valid while `self` lives.
        let fd =
            unsafe { libc::openat(self.0.as_raw_fd(), path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Fail::of(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Open the directory `<dir>/<child>/<leaf>` (`<pid>/task`).
    pub(crate) fn open_dir_at(&self, child: &[u8], leaf: &[u8]) -> Result<Dir, Fail> {
        self.open_at(child, leaf, libc::O_RDONLY | libc::O_DIRECTORY)
            .map(Dir)
    }

    /// Read `<dir>/<child>/<leaf>` into `out` (see [`read_upto`]): for a
    /// procfs value, open, one read, close. Returns the bytes read.
    pub(crate) fn read_at(&self, child: &[u8], leaf: &[u8], out: &mut [u8]) -> Result<usize, Fail> {
        let mut file = self.open_at(child, leaf, libc::O_RDONLY)?;
        read_upto(&mut file, out)
    }

    /// List the directory, with `buf` as the buffer of directory entries
    /// (given back by [`Listing::into_buf`], so a scan reuses one). Files
    /// can be opened relative to the directory while it is listed.
    pub(crate) fn list(self, buf: Vec<u8>) -> Listing {
        Listing::new(self, buf)
    }
}

/// Size of the buffer of directory entries: what glibc's `opendir` uses,
/// a few hundred entries per `getdents64` call.
pub(crate) const LISTING_BUF: usize = 32 * 1024;

/// A directory being listed with `getdents64(2)` into a reused buffer:
/// entry names are borrowed from it, so listing allocates nothing, per
/// entry or per directory (`std::fs::ReadDir` copies every name, and
/// `opendir(3)` allocates a buffer and adds `fstat` and `fcntl` calls).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) struct Listing {
    dir: Dir,
    buf: Vec<u8>,
    /// Bytes of `buf` the last `getdents64` filled, and how far they
    /// have been read.
    filled: usize,
    pos: usize,
    done: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Listing {
    fn new(dir: Dir, mut buf: Vec<u8>) -> Self {
        if buf.len() < LISTING_BUF {
            buf.resize(LISTING_BUF, 0);
        }
        Listing {
            dir,
            buf,
            filled: 0,
            pos: 0,
            done: false,
        }
    }

    /// The directory, to open files in it.
    pub(crate) fn dir(&self) -> &Dir {
        &self.dir
    }

    /// The buffer, for the next listing.
    pub(crate) fn into_buf(self) -> Vec<u8> {
        self.buf
    }

    /// The next entry's name (`.` and `..` included), with the directory
    /// to open files in it. `None` at the end or on a read error: a
    /// directory that vanishes while listed (a process exiting) simply
    /// ends.
    pub(crate) fn next_entry(&mut self) -> Option<(&Dir, &[u8])> {
        if self.pos >= self.filled {
            if self.done {
                return None;
            }
            // SAFETY: the kernel writes at most `buf.len()` bytes into
            // `buf`, which is initialised and ours for the call.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    self.dir.0.as_raw_fd(),
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n <= 0 {
                self.done = true;
                return None;
            }
            self.filled = usize::try_from(n).unwrap_or(0).min(self.buf.len());
            self.pos = 0;
        }
        // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
        // u8 d_type; char d_name[]; }, NUL-terminated and padded.
        let rec = self.buf.get(self.pos..self.filled)?;
        let reclen = usize::from(u16::from_ne_bytes([*rec.get(16)?, *rec.get(17)?]));
        let name = rec.get(19..reclen.min(rec.len()));
        if reclen < 20 || name.is_none() {
            // Never from a kernel: stop rather than loop or misread.
            self.done = true;
            self.filled = 0;
            return None;
        }
        self.pos += reclen;
        let name = name.unwrap_or_default();
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some((&self.dir, name.get(..len).unwrap_or_default()))
    }
}

/// A directory listed with `readdir(3)` (systems without `getdents64`):
/// every name is copied into the buffer, NUL-separated, at the start.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) struct Listing {
    dir: Dir,
    buf: Vec<u8>,
    pos: usize,
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Listing {
    fn new(dir: Dir, mut buf: Vec<u8>) -> Self {
        buf.clear();
        // SAFETY: `fdopendir` takes a duplicate of our descriptor, which
        // `closedir` (or `close` when fdopendir fails) closes; entries are
        // copied before the next readdir.
        unsafe {
            let fd = libc::dup(dir.0.as_raw_fd());
            if fd >= 0 {
                let stream = libc::fdopendir(fd);
                if stream.is_null() {
                    libc::close(fd);
                } else {
                    loop {
                        let entry = libc::readdir(stream);
                        if entry.is_null() {
                            break;
                        }
                        buf.extend_from_slice(CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes());
                        buf.push(0);
                    }
                    libc::closedir(stream);
                }
            }
        }
        Listing { dir, buf, pos: 0 }
    }

    pub(crate) fn dir(&self) -> &Dir {
        &self.dir
    }

    pub(crate) fn into_buf(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn next_entry(&mut self) -> Option<(&Dir, &[u8])> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        self.pos += len + 1;
        Some((&self.dir, rest.get(..len).unwrap_or_default()))
    }
}

/// `bytes` without trailing ASCII whitespace (sysfs values end in `\n`).
pub(crate) fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

/// `bytes` without leading and trailing ASCII whitespace.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let t = trim_end(bytes);
    let start = t
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(t.len());
    t.get(start..).unwrap_or_default()
}

/// A sysfs boolean: `0` or `1` (the kernel prints them with `%d`).
pub(crate) fn parse_01(bytes: &[u8]) -> Option<bool> {
    match trim(bytes) {
        b"0" => Some(false),
        b"1" => Some(true),
        _ => None,
    }
}

/// A decimal integer, surrounding whitespace allowed.
pub(crate) fn parse_num<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(trim(bytes)).ok()?.parse().ok()
}

/// A short, terminal-safe quote of a bad value for an error message.
pub(crate) fn quote_bad(bytes: &[u8]) -> String {
    let cut = bytes.get(..40).unwrap_or(bytes);
    let text = crate::sanitize::bytes_lossless(trim(cut));
    let more = if bytes.len() > 40 { "…" } else { "" };
    format!("\"{}{more}\"", crate::sanitize::for_terminal(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysfs_values() {
        assert_eq!(parse_01(b"1\n"), Some(true));
        assert_eq!(parse_01(b" 0 \n"), Some(false));
        assert_eq!(parse_01(b"2\n"), None);
        assert_eq!(parse_01(b""), None);
        assert_eq!(parse_01(b"\xff"), None);
        assert_eq!(parse_num::<i32>(b"-1\n"), Some(-1));
        assert_eq!(parse_num::<u32>(b"3\n"), Some(3));
        assert_eq!(parse_num::<u32>(b"x3\n"), None);
    }

    #[test]
    fn classifies_errors() {
        assert!(matches!(
            Fail::of(io::Error::from_raw_os_error(libc::ENOENT)),
            Fail::Gone
        ));
        assert!(matches!(
            Fail::of(io::Error::from_raw_os_error(libc::ESRCH)),
            Fail::Gone
        ));
        assert!(matches!(
            Fail::of(io::Error::from_raw_os_error(libc::EACCES)),
            Fail::Denied
        ));
        assert!(matches!(
            Fail::of(io::Error::from_raw_os_error(libc::EIO)),
            Fail::Other(_)
        ));
    }

    #[test]
    fn quotes_bad_values_safely() {
        assert_eq!(quote_bad(b"\x1b[2Jyes\n"), "\"\\x1b[2Jyes\"");
        let long = vec![b'a'; 100];
        assert!(quote_bad(&long).ends_with("…\""));
    }

    #[test]
    fn reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 200_000]).unwrap();
        let mut buf = Vec::new();
        read_into(&p, &mut buf).unwrap();
        assert_eq!(buf.len() as u64, MAX_FILE_BYTES);
        let mut small = [0u8; 8];
        let d = Dir::open(dir.path()).unwrap();
        assert_eq!(d.read_at(b".", b"big", &mut small).unwrap(), 8);
        let mut cap = vec![0u8; MAX_FILE_BYTES as usize];
        let n = d.read_at(b".", b"big", &mut cap).unwrap();
        assert_eq!(n as u64, MAX_FILE_BYTES);
        assert!(matches!(
            read_into(&dir.path().join("none"), &mut buf),
            Err(Fail::Gone)
        ));
    }

    #[test]
    fn reads_relative_to_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("42")).unwrap();
        std::fs::write(dir.path().join("42/patch_state"), "1\n").unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let mut out = [0u8; 16];
        let n = d.read_at(b"42", b"patch_state", &mut out).unwrap();
        assert_eq!(&out[..n], b"1\n");
        assert!(matches!(
            d.read_at(b"43", b"patch_state", &mut out),
            Err(Fail::Gone)
        ));
        assert!(matches!(
            d.read_at(b"4\x002", b"x", &mut out),
            Err(Fail::Other(_))
        ));
        assert!(matches!(
            d.read_at(&[b'a'; 300], b"x", &mut out),
            Err(Fail::Other(_))
        ));
        assert!(matches!(
            Dir::open(&dir.path().join("42/patch_state")),
            Err(Fail::Other(_))
        ));
    }

    fn names(l: &mut Listing) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some((_, name)) = l.next_entry() {
            v.push(name.to_vec());
        }
        v.sort();
        v
    }

    #[test]
    fn lists_directories_larger_than_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        // Long names: several getdents64 calls of LISTING_BUF bytes.
        let mut want = vec![b".".to_vec(), b"..".to_vec()];
        for i in 0..1500 {
            let name = format!("{i:0>100}");
            std::fs::write(dir.path().join(&name), "").unwrap();
            want.push(name.into_bytes());
        }
        want.sort();
        let mut l = Dir::open(dir.path()).unwrap().list(Vec::new());
        assert_eq!(names(&mut l), want);
        assert!(l.next_entry().is_none(), "stays at the end");
        // The buffer is handed back and serves the next listing; files
        // open relative to the directory being listed.
        let buf = l.into_buf();
        std::fs::write(dir.path().join("x"), "1\n").unwrap();
        let mut l = Dir::open(dir.path()).unwrap().list(buf);
        let mut out = [0u8; 4];
        assert_eq!(l.dir().read_at(b".", b"x", &mut out).unwrap(), 2);
        assert_eq!(names(&mut l).len(), want.len() + 1);
    }

    #[test]
    fn a_directory_removed_while_listed_just_ends() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("gone");
        std::fs::create_dir(&sub).unwrap();
        let d = Dir::open(&sub).unwrap();
        std::fs::remove_dir(&sub).unwrap();
        let mut l = d.list(Vec::new());
        assert!(names(&mut l).len() <= 2);
        let mut out = [0u8; 4];
        assert!(matches!(
            l.dir().read_at(b".", b"x", &mut out),
            Err(Fail::Gone)
        ));
    }

    #[test]
    fn short_reads_end_a_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("v"), "-1\n").unwrap();
        std::fs::write(dir.path().join("w"), "msleep").unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let mut out = [0u8; 16];
        assert_eq!(d.read_at(b".", b"v", &mut out).unwrap(), 3);
        assert_eq!(d.read_at(b".", b"w", &mut out).unwrap(), 6);
        assert_eq!(&out[..6], b"msleep");
        // Exactly full: the next read sees the end.
        let mut exact = [0u8; 6];
        assert_eq!(d.read_at(b".", b"w", &mut exact).unwrap(), 6);
        assert_eq!(d.read_at(b".", b"w", &mut []).unwrap(), 0);
    }
}
