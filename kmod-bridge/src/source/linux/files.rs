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

/// Read a tiny file (a `patch_state`) into a stack buffer with as few
/// system calls as possible: open, one read (procfs returns the whole
/// value at once), close. Returns the bytes read; a file longer than
/// `out` is cut, which its parser then rejects as garbage.
pub(crate) fn read_small(path: &Path, out: &mut [u8]) -> Result<usize, Fail> {
    let mut file = File::open(path).map_err(Fail::of)?;
    read_value(&mut file, out)
}

/// Read one small value from an open file (see [`read_small`]).
fn read_value(file: &mut File, out: &mut [u8]) -> Result<usize, Fail> {
    let mut n = 0;
    while n < out.len() {
        let chunk = out.get_mut(n..).unwrap_or_default();
        match file.read(chunk) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fail::of(e)),
        }
        // procfs hands out the whole value in the first read; a second
        // read only to see EOF would double the system calls of the hot
        // loop. A value ends with a newline, so stop there.
        if out.get(..n).is_some_and(|b| b.ends_with(b"\n")) {
            break;
        }
    }
    Ok(n)
}

/// A directory kept open to open files relative to it with `openat`: the
/// thread scan opens `<tid>/patch_state` from the task directory instead
/// of walking `<procfs>/<pid>/task/<tid>/patch_state` from the root for
/// every thread.
pub(crate) struct Dir(File);

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

    /// Read the small file `<dir>/<child>/<leaf>`, as [`read_small`] does.
    /// `child` and `leaf` are single path components (no NUL, no `/`);
    /// their total is capped at 255 bytes.
    pub(crate) fn read_small_at(
        &self,
        child: &[u8],
        leaf: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Fail> {
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
        let path = CStr::from_bytes_until_nul(&name)
            .map_err(|_| Fail::Other(io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: `path` is NUL-terminated and outlives the call; the
        // directory descriptor is valid while `self` lives.
        let fd = unsafe {
            libc::openat(
                self.0.as_raw_fd(),
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Fail::of(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        read_value(&mut file, out)
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
        assert_eq!(read_small(&p, &mut small).unwrap(), 8);
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
        let n = d.read_small_at(b"42", b"patch_state", &mut out).unwrap();
        assert_eq!(&out[..n], b"1\n");
        assert!(matches!(
            d.read_small_at(b"43", b"patch_state", &mut out),
            Err(Fail::Gone)
        ));
        assert!(matches!(
            d.read_small_at(b"4\x002", b"x", &mut out),
            Err(Fail::Other(_))
        ));
        assert!(matches!(
            d.read_small_at(&[b'a'; 300], b"x", &mut out),
            Err(Fail::Other(_))
        ));
        assert!(matches!(
            Dir::open(&dir.path().join("42/patch_state")),
            Err(Fail::Other(_))
        ));
    }
}
