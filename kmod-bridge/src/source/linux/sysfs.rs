//! The patches, from `<sysfs>/kernel/livepatch/`.
//!
//! Layout (kernel `Documentation/ABI/testing/sysfs-kernel-livepatch`):
//!
//! ```text
//! <sysfs>/kernel/livepatch/<patch>/enabled        0|1   (required)
//!                                  transition     0|1   (4.12+)
//!                                  force          write-only (4.15+)
//!                                  signal         write-only (4.15 .. 5.0)
//!                                  replace        0|1   (6.11+)
//!                                  stack_order    N     (6.13+)
//!                                  <object>/patched       0|1 (6.1+)
//!                                  <object>/<func,sympos>/    one dir per function
//! <sysfs>/module/<patch>/taint    contains `E` when the module is unsigned
//! <sysfs>/module/module/parameters/sig_enforce   exists iff CONFIG_MODULE_SIG
//! ```
//!
//! The kernel sets taint `E` only when it checks signatures at all
//! (`CONFIG_MODULE_SIG`): on a kernel built without module signing an
//! unsigned patch has no `E` and would look signed. So the signature is
//! read from `taint` only when `sig_enforce` exists (the parameter is
//! compiled in exactly with `CONFIG_MODULE_SIG`), and is unknown otherwise.
//!
//! The object for the kernel itself is `vmlinux`. A patch directory can
//! vanish at any moment (unpatching completed): such a patch is skipped.
//! Garbage in a required file (`enabled`, `transition`) is an error naming
//! the file; in an optional one it becomes "unknown" plus a limitation.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::files::{self, Fail};
use crate::error::SourceError;
use crate::model::{Patch, PatchFunction, PatchObject, PatchState};
use crate::sanitize::bytes_lossless;

/// One patch as read from sysfs, with what the controls need.
#[derive(Debug, Clone)]
pub(crate) struct SysfsPatch {
    /// The model's view.
    pub patch: Patch,
    /// The patch directory (as the kernel spells its name; the model's
    /// name is a lossless UTF-8 rendering of it).
    pub dir: PathBuf,
    /// `force` exists (4.15+).
    pub has_force: bool,
    /// `signal` exists (4.15 .. 5.0).
    pub has_signal: bool,
}

/// `<sysfs>/kernel/livepatch`.
pub(crate) fn livepatch_dir(sysfs: &Path) -> PathBuf {
    sysfs.join("kernel").join("livepatch")
}

/// The state of a patch from its two flags.
pub(crate) fn state_of(enabled: bool, transition: bool) -> PatchState {
    match (enabled, transition) {
        (true, false) => PatchState::Enabled,
        (true, true) => PatchState::Patching,
        (false, true) => PatchState::Unpatching,
        (false, false) => PatchState::Disabled,
    }
}

/// Read every patch, in stacking order where the kernel publishes it
/// (`stack_order`), else by name. Problems that leave a usable view are
/// appended to `limitations`.
pub(crate) fn read_patches(
    sysfs: &Path,
    buf: &mut Vec<u8>,
    limitations: &mut Vec<String>,
) -> Result<Vec<SysfsPatch>, SourceError> {
    let root = livepatch_dir(sysfs);
    let entries = fs::read_dir(&root).map_err(|e| SourceError::io(&root, e))?;
    let signing = module_signing(sysfs);
    let mut patches = Vec::new();
    for entry in entries {
        // An entry that cannot be read is a patch that went away.
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        if let Some(p) = read_patch(sysfs, signing, &entry.path(), name, buf, limitations)? {
            patches.push(p);
        }
    }
    patches.sort_by(|a, b| {
        let key = |p: &SysfsPatch| p.patch.stack_order.unwrap_or(u32::MAX);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.patch.name.cmp(&b.patch.name))
    });
    Ok(patches)
}

/// A required file could not be read. Missing is normal while the kernel
/// removes (or creates) a patch directory: the patch is skipped, with a
/// limitation when the directory is still there. No permission or another
/// error fails the snapshot.
fn missing_required(
    dir: &Path,
    file: &Path,
    e: Fail,
    limitations: &mut Vec<String>,
) -> Result<(), SourceError> {
    match e {
        Fail::Gone => {
            if dir.exists() {
                limitations.push(format!(
                    "{} is missing (the patch is being created or removed?): patch not shown",
                    file.display()
                ));
            }
            Ok(())
        }
        Fail::Denied => Err(SourceError::PermissionDenied {
            path: file.to_path_buf(),
        }),
        Fail::Other(error) => Err(SourceError::Io {
            path: file.to_path_buf(),
            error,
        }),
    }
}

/// A required `0|1` value, or the error naming the file.
fn parse_required(file: &Path, buf: &[u8]) -> Result<bool, SourceError> {
    files::parse_01(buf).ok_or_else(|| {
        SourceError::parse(
            file.display().to_string(),
            format!("expected 0 or 1, found {}", files::quote_bad(buf)),
        )
    })
}

/// Read an optional file with `parse`. Missing (older kernel) is `None`
/// silently; garbage or an unreadable file is `None` plus a limitation.
fn optional<T>(
    file: &Path,
    buf: &mut Vec<u8>,
    limitations: &mut Vec<String>,
    expected: &str,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    match files::read_into(file, buf) {
        Ok(()) => {
            let v = parse(buf);
            if v.is_none() {
                limitations.push(format!(
                    "{}: expected {expected}, found {}: shown as unknown",
                    file.display(),
                    files::quote_bad(buf)
                ));
            }
            v
        }
        Err(Fail::Gone) => None,
        Err(Fail::Denied) => {
            limitations.push(format!(
                "reading {} needs root: shown as unknown",
                file.display()
            ));
            None
        }
        Err(Fail::Other(e)) => {
            limitations.push(format!(
                "reading {} failed ({e}): shown as unknown",
                file.display()
            ));
            None
        }
    }
}

fn read_patch(
    sysfs: &Path,
    signing: bool,
    dir: &Path,
    dir_name: OsString,
    buf: &mut Vec<u8>,
    limitations: &mut Vec<String>,
) -> Result<Option<SysfsPatch>, SourceError> {
    let name = bytes_lossless(dir_name.as_bytes());
    let enabled_file = dir.join("enabled");
    let enabled = match files::read_into(&enabled_file, buf) {
        Ok(()) => parse_required(&enabled_file, buf)?,
        Err(e) => {
            missing_required(dir, &enabled_file, e, limitations)?;
            return Ok(None);
        }
    };
    let transition_file = dir.join("transition");
    let transition = match files::read_into(&transition_file, buf) {
        Ok(()) => parse_required(&transition_file, buf)?,
        Err(Fail::Gone) if !dir.exists() => return Ok(None),
        Err(Fail::Gone) => {
            limitations.push(format!(
                "{} is missing (kernel before 4.12?): transitions of '{name}' cannot be seen",
                transition_file.display()
            ));
            false
        }
        Err(e) => {
            missing_required(dir, &transition_file, e, limitations)?;
            return Ok(None);
        }
    };
    let replace = optional(
        &dir.join("replace"),
        buf,
        limitations,
        "0 or 1",
        files::parse_01,
    );
    let stack_order = optional(
        &dir.join("stack_order"),
        buf,
        limitations,
        "a number",
        files::parse_num::<u32>,
    );
    let Some(objects) = read_objects(dir, buf, limitations) else {
        return Ok(None);
    };
    let signed = if signing {
        read_signed(sysfs, &dir_name, buf)
    } else {
        None
    };
    let exists = |leaf: &str| fs::symlink_metadata(dir.join(leaf)).is_ok();
    Ok(Some(SysfsPatch {
        patch: Patch {
            name,
            enabled,
            state: state_of(enabled, transition),
            replace,
            stack_order,
            signed,
            signer: None,
            loaded_at: None,
            objects,
        },
        has_force: exists("force"),
        has_signal: exists("signal"),
        dir: dir.to_path_buf(),
    }))
}

/// The object subdirectories of a patch; `None` when the patch went away.
fn read_objects(
    dir: &Path,
    buf: &mut Vec<u8>,
    limitations: &mut Vec<String>,
) -> Option<Vec<PatchObject>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            if !Fail::is_gone(&e) {
                limitations.push(format!(
                    "listing the objects of {} failed: objects not shown",
                    dir.display()
                ));
                return Some(Vec::new());
            }
            return None;
        }
    };
    let mut objects = Vec::new();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let obj_dir = entry.path();
        let patched = optional(
            &obj_dir.join("patched"),
            buf,
            limitations,
            "0 or 1",
            files::parse_01,
        );
        let functions = match fs::read_dir(&obj_dir) {
            Ok(funcs) => {
                let mut v: Vec<PatchFunction> = funcs
                    .flatten()
                    .filter(|f| f.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|f| parse_function_dir(f.file_name().as_bytes()))
                    .collect();
                v.sort_by(|a, b| a.name.cmp(&b.name).then(a.sympos.cmp(&b.sympos)));
                v
            }
            // The object went away with its patch.
            Err(e) if Fail::is_gone(&e) => return None,
            Err(_) => {
                limitations.push(format!(
                    "listing the functions of {} failed: functions not shown",
                    obj_dir.display()
                ));
                Vec::new()
            }
        };
        objects.push(PatchObject {
            name: bytes_lossless(entry.file_name().as_bytes()),
            patched,
            functions,
        });
    }
    // The kernel first, then modules by name: readdir order on sysfs is
    // not meaningful.
    objects.sort_by(|a, b| {
        (a.name != "vmlinux")
            .cmp(&(b.name != "vmlinux"))
            .then_with(|| a.name.cmp(&b.name))
    });
    Some(objects)
}

/// A function directory is named `<function>,<sympos>` (the kernel writes
/// sympos 1 for "the only one"). A name without a valid sympos is kept
/// whole.
pub(crate) fn parse_function_dir(dir_name: &[u8]) -> PatchFunction {
    let (name, sympos) = match dir_name.iter().rposition(|&b| b == b',') {
        Some(i) => match files::parse_num::<u32>(dir_name.get(i + 1..).unwrap_or_default()) {
            Some(pos) => (dir_name.get(..i).unwrap_or_default(), Some(pos)),
            None => (dir_name, None),
        },
        None => (dir_name, None),
    };
    PatchFunction {
        name: bytes_lossless(name),
        sympos,
        calls: None,
    }
}

/// Whether the kernel checks module signatures (`CONFIG_MODULE_SIG`):
/// `<sysfs>/module/module/parameters/sig_enforce` exists exactly then.
/// Without it the `E` taint is never set and says nothing.
pub(crate) fn module_signing(sysfs: &Path) -> bool {
    fs::symlink_metadata(
        sysfs
            .join("module")
            .join("module")
            .join("parameters")
            .join("sig_enforce"),
    )
    .is_ok()
}

/// Signature status from `<sysfs>/module/<patch>/taint`: `E` means the
/// module was loaded without a valid signature. Only meaningful when
/// [`module_signing`] is true.
fn read_signed(sysfs: &Path, dir_name: &OsString, buf: &mut Vec<u8>) -> Option<bool> {
    let file = sysfs.join("module").join(dir_name).join("taint");
    files::read_into(&file, buf).ok()?;
    Some(!files::trim(buf).contains(&b'E'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_flags() {
        assert_eq!(state_of(true, false), PatchState::Enabled);
        assert_eq!(state_of(true, true), PatchState::Patching);
        assert_eq!(state_of(false, true), PatchState::Unpatching);
        assert_eq!(state_of(false, false), PatchState::Disabled);
    }

    #[test]
    fn function_dirs() {
        let f = parse_function_dir(b"cmdline_proc_show,1");
        assert_eq!((f.name.as_str(), f.sympos), ("cmdline_proc_show", Some(1)));
        let f = parse_function_dir(b"a,b,2");
        assert_eq!((f.name.as_str(), f.sympos), ("a,b", Some(2)));
        let f = parse_function_dir(b"odd");
        assert_eq!((f.name.as_str(), f.sympos), ("odd", None));
        let f = parse_function_dir(b"odd,x");
        assert_eq!((f.name.as_str(), f.sympos), ("odd,x", None));
        let f = parse_function_dir(b"bad\xff,1");
        assert_eq!(f.name, "bad\\xff");
    }

    #[test]
    fn taint_decides_signature() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let name = OsString::from("p");
        assert_eq!(read_signed(dir.path(), &name, &mut buf), None);
        let m = dir.path().join("module/p");
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("taint"), "OEK\n").unwrap();
        assert_eq!(read_signed(dir.path(), &name, &mut buf), Some(false));
        fs::write(m.join("taint"), "K\n").unwrap();
        assert_eq!(read_signed(dir.path(), &name, &mut buf), Some(true));
        fs::write(m.join("taint"), "\n").unwrap();
        assert_eq!(read_signed(dir.path(), &name, &mut buf), Some(true));
    }

    #[test]
    fn signing_is_known_only_with_sig_enforce() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!module_signing(dir.path()));
        let params = dir.path().join("module/module/parameters");
        fs::create_dir_all(&params).unwrap();
        assert!(!module_signing(dir.path()));
        fs::write(params.join("sig_enforce"), "N\n").unwrap();
        assert!(module_signing(dir.path()));
    }

    /// Property tests of every sysfs and procfs value parser (`files.rs`,
    /// `procfs.rs` and this file's): any bytes give a value or `None`,
    /// never a panic, and well-formed values always parse back.
    mod props {
        use super::super::super::procfs::{stack_lines, state_from_stat};
        use super::*;
        use proptest::prelude::*;

        fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..max),
                // Mostly printable, with the separators parsers look for.
                proptest::collection::vec(
                    prop::sample::select(b"01-9 \t\n(),[]+/x\x1b\xff".to_vec()),
                    0..max
                ),
            ]
        }

        proptest! {
            #[test]
            fn booleans_and_numbers(b in bytes(40), n in any::<u32>(), pad in "[ \t\n]{0,3}") {
                let t = files::trim(&b);
                prop_assert_eq!(
                    files::parse_01(&b),
                    match t { b"0" => Some(false), b"1" => Some(true), _ => None }
                );
                if let Some(v) = files::parse_num::<u32>(&b) {
                    prop_assert_eq!(Some(v), std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()));
                }
                let _ = files::parse_num::<i64>(&b);
                let _ = files::parse_num::<f64>(&b);
                let text = format!("{pad}{n}{pad}");
                prop_assert_eq!(files::parse_num::<u32>(text.as_bytes()), Some(n));
                prop_assert!(t.first().is_none_or(|c| !c.is_ascii_whitespace()));
                prop_assert!(t.last().is_none_or(|c| !c.is_ascii_whitespace()));
            }

            #[test]
            fn bad_values_are_quoted_short_and_safe(b in bytes(300)) {
                let q = files::quote_bad(&b);
                prop_assert!(!q.chars().any(crate::sanitize::is_unsafe_char), "{:?}", q);
                // 40 bytes, each at most `\u{NNNN}` (8), quotes and `…`.
                prop_assert!(q.chars().count() <= 40 * 8 + 3, "{}", q.len());
            }

            #[test]
            fn stat_state_is_a_letter_or_unknown(b in bytes(200)) {
                let s = state_from_stat(&b);
                prop_assert!(s == "?" || (s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic())));
            }

            #[test]
            fn stat_state_survives_any_comm(
                comm in proptest::collection::vec(any::<u8>(), 0..64),
                state in prop::sample::select(b"RSDTtZXIPKW".to_vec()),
            ) {
                let mut stat = b"1234 (".to_vec();
                stat.extend_from_slice(&comm);
                stat.extend_from_slice(format!(") {} 1 2 3 0 -1\n", char::from(state)).as_bytes());
                prop_assert_eq!(state_from_stat(&stat), char::from(state).to_string());
            }

            #[test]
            fn stack_lines_are_the_non_blank_lines(b in bytes(400)) {
                let lines = stack_lines(&b);
                for l in &lines {
                    prop_assert!(!l.is_empty() && !l.contains('\n'));
                    prop_assert!(!l.ends_with(|c: char| c.is_ascii_whitespace()));
                }
                let expected = b
                    .split(|&c| c == b'\n')
                    .filter(|l| !files::trim_end(l).is_empty())
                    .count();
                prop_assert_eq!(lines.len(), expected);
            }

            #[test]
            fn function_dirs_round_trip(
                name in proptest::collection::vec(any::<u8>(), 0..40),
                pos in any::<u32>(),
            ) {
                let mut dir = name.clone();
                dir.extend_from_slice(format!(",{pos}").as_bytes());
                let f = parse_function_dir(&dir);
                prop_assert_eq!(f.name, crate::sanitize::bytes_lossless(&name));
                prop_assert_eq!(f.sympos, Some(pos));
                // Any directory name at all gives a function.
                let g = parse_function_dir(&name);
                prop_assert!(g.name.len() >= name.len().min(1) || name.is_empty());
            }
        }
    }
}
