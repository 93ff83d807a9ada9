//! The live `kern.livepatch` tree of a FreeBSD kernel (built on FreeBSD
//! only).
//!
//! Names, types and integer values come through the `sysctl` crate (subtree
//! walk with [`CtlIter::below`], [`Ctl::info`], [`Ctl::value`]). Two things
//! go straight to `libc::sysctl`, where the crate falls short:
//!
//! * string values: the crate reads with the exact size the kernel reported
//!   a moment before and fails when a changing value (the blocked-thread
//!   list) grows or shrinks in between, and it rejects bytes that are not
//!   UTF-8. `read_string` reads with slack, retries, and keeps stray bytes
//!   visible as `\xNN`;
//! * writes: the crate's `set_value` panics on a type mismatch and re-reads
//!   the node afterwards, which can fail after a successful write (the
//!   node of a patch that is gone). [`SysctlTree::write_int`] writes the
//!   node's own integer width and reports only the write's errno.

use std::io;

use sysctl::{Ctl, CtlIter, CtlType, CtlValue, Sysctl, SysctlError};

use super::mib;
use super::{MibSource, MibTree, MibValue, MibWriteError};
use crate::error::SourceError;
use crate::model::SourceKind;

/// The kernel's sysctl tree.
#[derive(Debug, Default)]
pub struct SysctlTree;

/// The live MIB as a source, or [`SourceError::NotFound`] when the
/// live-patch module is not loaded (no `kern.livepatch`).
pub fn open() -> Result<MibSource<SysctlTree>, SourceError> {
    match Ctl::new(mib::ROOT) {
        Ok(_) => Ok(MibSource::new(SysctlTree, SourceKind::Freebsd)),
        Err(SysctlError::NotFound(_)) => Err(SourceError::NotFound {
            looked_for: format!(
                "sysctl {} (the live-patch kernel module is not loaded; load it with kldload)",
                mib::ROOT
            ),
        }),
        Err(e) => Err(mib_error(mib::ROOT, &e)),
    }
}

impl MibTree for SysctlTree {
    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
        let base = match Ctl::new(root) {
            Ok(c) => c,
            Err(SysctlError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(mib_error(root, &e)),
        };
        let mut out = Vec::new();
        for item in CtlIter::below(base) {
            let ctl = item.map_err(|e| mib_error(root, &e))?;
            // A node that vanishes mid-walk (a patch being unloaded) is
            // skipped; the decoder notices the incomplete subtree.
            let Ok(name) = ctl.name() else { continue };
            if let Some(value) = read_value(&ctl, &name)? {
                out.push((name, value));
            }
        }
        Ok(out)
    }

    fn write_int(&mut self, node: &str, value: i64) -> Result<(), MibWriteError> {
        let ctl = Ctl::new(node).map_err(|e| match e {
            SysctlError::NotFound(_) => MibWriteError::NotFound,
            other => from_sysctl(other),
        })?;
        let info = ctl.info().map_err(from_sysctl)?;
        let oid = ctl.oid().ok_or(MibWriteError::NotFound)?;
        let out_of_range = || MibWriteError::Errno {
            errno: libc::EINVAL,
            name: format!("EINVAL ({value} does not fit the node's type)"),
        };
        let bytes: Vec<u8> = match info.ctl_type {
            CtlType::Int | CtlType::S32 => i32::try_from(value)
                .map_err(|_| out_of_range())?
                .to_ne_bytes()
                .to_vec(),
            CtlType::Uint | CtlType::U32 => u32::try_from(value)
                .map_err(|_| out_of_range())?
                .to_ne_bytes()
                .to_vec(),
            CtlType::Long => libc::c_long::try_from(value)
                .map_err(|_| out_of_range())?
                .to_ne_bytes()
                .to_vec(),
            CtlType::Ulong => libc::c_ulong::try_from(value)
                .map_err(|_| out_of_range())?
                .to_ne_bytes()
                .to_vec(),
            CtlType::S64 => value.to_ne_bytes().to_vec(),
            CtlType::U64 => u64::try_from(value)
                .map_err(|_| out_of_range())?
                .to_ne_bytes()
                .to_vec(),
            CtlType::U8 => vec![u8::try_from(value).map_err(|_| out_of_range())?],
            other => {
                return Err(MibWriteError::Errno {
                    errno: libc::EINVAL,
                    name: format!("EINVAL (not an integer node: {other:?})"),
                });
            }
        };
        // SAFETY: `oid` and `bytes` are live for the call and their lengths
        // are passed; no old value is requested (null oldp/oldlenp).
        let r = unsafe {
            libc::sysctl(
                oid.as_ptr(),
                oid.len() as libc::c_uint,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(from_io(&io::Error::last_os_error()))
        }
    }

    fn location(&self) -> String {
        format!("sysctl {}", mib::ROOT)
    }

    fn writable(&self) -> bool {
        true
    }
}

/// The value of one leaf; `None` for nodes that are not integers or
/// strings, vanished, or are not readable by this user.
fn read_value(ctl: &Ctl, name: &str) -> Result<Option<MibValue>, SourceError> {
    let info = match ctl.info() {
        Ok(i) => i,
        Err(e) if skippable(&e) => return Ok(None),
        Err(e) => return Err(mib_error(name, &e)),
    };
    if info.ctl_type == CtlType::String {
        let Some(oid) = ctl.oid() else {
            return Ok(None);
        };
        return match read_string(oid) {
            Ok(bytes) => Ok(Some(MibValue::Str(crate::sanitize::bytes_lossless(&bytes)))),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EPERM | libc::EACCES)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(SourceError::Mib {
                node: name.to_string(),
                message: format!("reading failed: {e}"),
            }),
        };
    }
    let value = match ctl.value() {
        Ok(v) => v,
        Err(e) if skippable(&e) => return Ok(None),
        Err(e) => return Err(mib_error(name, &e)),
    };
    Ok(match value {
        CtlValue::Int(v) | CtlValue::S32(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::Uint(v) | CtlValue::U32(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::Long(v) | CtlValue::S64(v) => Some(MibValue::Int(v)),
        // Beyond i64: text, which the decoder reads as u64.
        CtlValue::Ulong(v) | CtlValue::U64(v) => Some(
            i64::try_from(v)
                .map(MibValue::Int)
                .unwrap_or_else(|_| MibValue::Str(v.to_string())),
        ),
        CtlValue::U8(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::U16(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::S8(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::S16(v) => Some(MibValue::Int(i64::from(v))),
        CtlValue::String(s) => Some(MibValue::Str(s)),
        // Nodes, opaque structs, temperatures: not part of the MIB.
        _ => None,
    })
}

/// Errors that mean "skip this leaf": it vanished, or this user may not
/// read it (the module may restrict the blocked-thread list to root; the
/// decoder then says the list is unreadable).
fn skippable(e: &SysctlError) -> bool {
    match e {
        SysctlError::NotFound(_) | SysctlError::NoReadAccess => true,
        SysctlError::IoError(io) => {
            matches!(
                io.raw_os_error(),
                Some(libc::ENOENT | libc::EPERM | libc::EACCES)
            )
        }
        _ => false,
    }
}

/// Read a string node's bytes (without the trailing NUL). The size is
/// asked first and a quarter more is offered, so a value that grows a
/// little in between still fits; a value that outgrows that is read again.
fn read_string(oid: &[libc::c_int]) -> io::Result<Vec<u8>> {
    const ATTEMPTS: usize = 4;
    for _ in 0..ATTEMPTS {
        let mut len: libc::size_t = 0;
        // SAFETY: size query: only `len` is written.
        let r = unsafe {
            libc::sysctl(
                oid.as_ptr(),
                oid.len() as libc::c_uint,
                std::ptr::null_mut(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        let cap = len.saturating_add(len / 4).saturating_add(256);
        let mut buf = vec![0u8; cap];
        let mut got = cap;
        // SAFETY: `buf` is valid for `got` bytes; the kernel writes at most
        // that many and sets `got` to the number written.
        let r = unsafe {
            libc::sysctl(
                oid.as_ptr(),
                oid.len() as libc::c_uint,
                buf.as_mut_ptr().cast(),
                &mut got,
                std::ptr::null(),
                0,
            )
        };
        if r == 0 {
            buf.truncate(got.min(cap));
            // A C string: up to the first NUL.
            if let Some(end) = buf.iter().position(|&b| b == 0) {
                buf.truncate(end);
            }
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOMEM) {
            return Err(e);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOMEM))
}

fn mib_error(node: &str, e: &SysctlError) -> SourceError {
    match e {
        SysctlError::IoError(io)
            if matches!(io.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
        {
            SourceError::PermissionDenied {
                path: format!("sysctl {node}").into(),
            }
        }
        other => SourceError::Mib {
            node: node.to_string(),
            message: other.to_string(),
        },
    }
}

fn from_sysctl(e: SysctlError) -> MibWriteError {
    match e {
        SysctlError::NotFound(_) => MibWriteError::NotFound,
        SysctlError::IoError(io) => from_io(&io),
        other => MibWriteError::Errno {
            errno: libc::EINVAL,
            name: other.to_string(),
        },
    }
}

/// errno of a failed write, as [`MibWriteError`]; the symbolic names are
/// what [`super::MibSource`] turns into plain words.
fn from_io(e: &io::Error) -> MibWriteError {
    let Some(errno) = e.raw_os_error() else {
        return MibWriteError::Errno {
            errno: 0,
            name: e.to_string(),
        };
    };
    let name = match errno {
        libc::EPERM | libc::EACCES => return MibWriteError::PermissionDenied,
        libc::ENOENT => return MibWriteError::NotFound,
        libc::EINVAL => "EINVAL".to_string(),
        libc::EBUSY => "EBUSY".to_string(),
        libc::EROFS => "EROFS".to_string(),
        libc::ENOMEM => "ENOMEM".to_string(),
        libc::EAGAIN => "EAGAIN".to_string(),
        libc::EINTR => "EINTR".to_string(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".to_string(),
        n => format!("errno {n} ({e})"),
    };
    MibWriteError::Errno { errno, name }
}
