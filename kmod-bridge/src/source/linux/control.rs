//! Control writes on Linux: revert and force (and signal on the kernels
//! that have it) are single sysfs writes.
//!
//! | action | file                 | value | kernel |
//! |--------|----------------------|-------|--------|
//! | revert | `<patch>/enabled`    | `0` (enabled or patching), `1` (unpatching: reverses it) | all |
//! | force  | `<patch>/force`      | `1`   | 4.15+ |
//! | signal | `<patch>/signal`     | `1`   | 4.15 .. 5.0 only |
//!
//! The kernel's answers are translated into plain words: EPERM/EACCES is
//! "needs root", EINVAL and EBUSY say which rule refused the write.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::LinuxSource;
use super::sysfs::SysfsPatch;
use crate::audit;
use crate::control::{
    self, ActionKind, ControlAction, ControlError, ControlOutcome, ControlPlan, PlannedWrite,
};
use crate::model::{PatchState, Target};

/// Work out the write for `action`, without writing.
pub(super) fn plan(
    src: &mut LinuxSource,
    action: &ControlAction,
) -> Result<ControlPlan, ControlError> {
    let snap = src.read(false)?;
    let precondition = control::validate(&snap, action)?;
    let sp = src
        .sysfs_patch(&action.patch)
        .ok_or_else(|| ControlError::NoSuchPatch(action.patch.clone()))?;
    let write = planned_write(sp, action, precondition.patch_state)?;
    let (effect, irreversible, advice) = control::describe_effect(action, precondition.patch_state);
    Ok(ControlPlan {
        action: action.clone(),
        writes: vec![write],
        effect,
        irreversible,
        advice,
        precondition,
    })
}

/// The one write an action makes on a patch in `state`.
fn planned_write(
    sp: &SysfsPatch,
    action: &ControlAction,
    state: PatchState,
) -> Result<PlannedWrite, ControlError> {
    let file = |leaf: &str| sp.dir.join(leaf).display().to_string();
    match action.kind {
        // Writing the opposite of `enabled` reverses a transition: during
        // unpatching `enabled` is already 0, so reverting it writes 1.
        ActionKind::Revert => Ok(PlannedWrite {
            target: file("enabled"),
            value: if state == PatchState::Unpatching { "1" } else { "0" }.into(),
        }),
        ActionKind::Force if sp.has_force => Ok(PlannedWrite {
            target: file("force"),
            value: "1".into(),
        }),
        ActionKind::Force => Err(ControlError::Refused {
            target: file("force"),
            value: "1".into(),
            reason: "this kernel has no force file (it appeared in Linux 4.15): the transition can only be reverted".into(),
        }),
        ActionKind::Signal if sp.has_signal => Ok(PlannedWrite {
            target: file("signal"),
            value: "1".into(),
        }),
        ActionKind::Signal => Err(ControlError::Refused {
            target: file("signal"),
            value: "1".into(),
            reason: "this kernel has no signal file: since Linux 5.1 the kernel sends the fake signals to blocking tasks by itself every 15 seconds, there is nothing to do".into(),
        }),
    }
}

/// Re-check the state, write, log.
pub(super) fn execute(
    src: &mut LinuxSource,
    plan: &ControlPlan,
) -> Result<ControlOutcome, ControlError> {
    let snap = src.read(false)?;
    plan.precondition.check(&snap, &plan.action.patch)?;
    for w in &plan.writes {
        let path = resolve(src, plan, w);
        let result = write_file(&path, &w.value);
        audit::log_write(
            plan.action.kind.as_str(),
            &plan.action.patch,
            &w.target,
            &w.value,
            &result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        );
        result.map_err(|e| translate(e, plan, w))?;
    }
    if plan.action.kind == ActionKind::Force {
        let target = match plan.precondition.patch_state {
            PatchState::Unpatching => Target::Unpatched,
            _ => Target::Patched,
        };
        src.forced_by_us = Some((plan.action.patch.clone(), target));
    }
    Ok(ControlOutcome {
        plan: plan.clone(),
        message: crate::source::freebsd::outcome_message(plan),
    })
}

/// The file a planned write goes to. The plan names it as text (what the
/// user confirmed); the patch directory's real name need not be UTF-8, so
/// the path is rebuilt from the directory just read, and used only when it
/// displays as the confirmed text.
fn resolve(src: &LinuxSource, plan: &ControlPlan, w: &PlannedWrite) -> PathBuf {
    let leaf = w.target.rsplit('/').next().unwrap_or_default();
    src.sysfs_patch(&plan.action.patch)
        .map(|sp| sp.dir.join(leaf))
        .filter(|p| p.display().to_string() == w.target)
        .unwrap_or_else(|| PathBuf::from(&w.target))
}

/// Write `value` to a sysfs attribute: no create, no truncate (sysfs has
/// neither), one `write()`.
fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

/// The kernel's answer in plain words.
fn translate(e: std::io::Error, plan: &ControlPlan, w: &PlannedWrite) -> ControlError {
    let p = &plan.action.patch;
    let refused = |reason: String| ControlError::Refused {
        target: w.target.clone(),
        value: w.value.clone(),
        reason,
    };
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => ControlError::PermissionDenied {
            target: w.target.clone(),
        },
        Some(libc::ENOENT) => ControlError::StateChanged {
            patch: p.clone(),
            what: format!("{} no longer exists (the patch was removed)", w.target),
        },
        Some(libc::EINVAL) => refused(match (plan.action.kind, w.value.as_str()) {
            (ActionKind::Revert, "0") => format!("EINVAL: '{p}' is already disabled"),
            (ActionKind::Revert, _) => format!(
                "EINVAL: '{p}' is already enabled, or it is disabled and re-enabling needs the patch module reloaded"
            ),
            _ => format!("EINVAL: '{p}' is not in transition (it may have completed meanwhile)"),
        }),
        Some(libc::EBUSY) => refused(format!(
            "EBUSY: another patch is in transition (revert or force it first); before Linux 5.1 only the most recently enabled patch can be disabled, and '{p}' may not be it"
        )),
        Some(libc::EROFS) => refused("the file system is mounted read-only".into()),
        _ => ControlError::Io {
            target: w.target.clone(),
            value: w.value.clone(),
            error: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Precondition;

    fn plan(kind: ActionKind, value: &str) -> (ControlPlan, PlannedWrite) {
        let w = PlannedWrite {
            target: "/sys/kernel/livepatch/p/x".into(),
            value: value.into(),
        };
        let plan = ControlPlan {
            action: ControlAction {
                kind,
                patch: "p".into(),
            },
            writes: vec![w.clone()],
            effect: String::new(),
            irreversible: false,
            advice: None,
            precondition: Precondition {
                patch_state: PatchState::Patching,
                transition: None,
            },
        };
        (plan, w)
    }

    fn msg(kind: ActionKind, value: &str, errno: i32) -> (ControlError, String) {
        let (p, w) = plan(kind, value);
        let e = translate(std::io::Error::from_raw_os_error(errno), &p, &w);
        let m = e.to_string();
        (e, m)
    }

    #[test]
    fn kernel_answers_in_plain_words() {
        let (e, m) = msg(ActionKind::Revert, "0", libc::EPERM);
        assert!(matches!(e, ControlError::PermissionDenied { .. }));
        assert!(m.contains("/sys/kernel/livepatch/p/x needs root"), "{m}");
        let (e, _) = msg(ActionKind::Force, "1", libc::EACCES);
        assert!(matches!(e, ControlError::PermissionDenied { .. }));
        let (e, m) = msg(ActionKind::Revert, "0", libc::EINVAL);
        assert!(matches!(e, ControlError::Refused { .. }));
        assert!(m.ends_with("EINVAL: 'p' is already disabled"), "{m}");
        let (_, m) = msg(ActionKind::Revert, "1", libc::EINVAL);
        assert!(
            m.contains("re-enabling needs the patch module reloaded"),
            "{m}"
        );
        let (_, m) = msg(ActionKind::Force, "1", libc::EINVAL);
        assert!(m.contains("'p' is not in transition"), "{m}");
        let (_, m) = msg(ActionKind::Revert, "0", libc::EBUSY);
        assert!(m.contains("another patch is in transition"), "{m}");
        let (e, m) = msg(ActionKind::Revert, "0", libc::ENOENT);
        assert!(matches!(e, ControlError::StateChanged { .. }));
        assert!(m.contains("no longer exists"), "{m}");
        let (e, m) = msg(ActionKind::Revert, "0", libc::EIO);
        assert!(matches!(e, ControlError::Io { .. }));
        assert!(
            m.starts_with("writing 0 to /sys/kernel/livepatch/p/x failed"),
            "{m}"
        );
    }
}
