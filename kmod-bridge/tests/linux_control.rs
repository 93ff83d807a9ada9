//! Controls of the Linux klp source against fixture trees: the exact file
//! and value each writes, the audit line, the precondition re-check, and
//! failures in plain words.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "common/linux_fixture.rs"]
mod linux_fixture;

use std::fs;
use std::sync::Mutex;

use kmod_bridge::Source;
use kmod_bridge::audit;
use kmod_bridge::control::{ControlAction, ControlError, PlannedWrite};
use kmod_bridge::model::PatchState;
use kmod_bridge::source::linux::LinuxSource;
use linux_fixture::{Kernel, LinuxFixture, unprivileged};

/// The audit capture is process-wide: one control test at a time.
static AUDIT: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    let guard = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    audit::capture();
    guard
}

fn source(fx: &LinuxFixture) -> LinuxSource {
    LinuxSource::open(fx.config()).unwrap()
}

fn content(fx: &LinuxFixture, patch: &str, leaf: &str) -> String {
    fs::read_to_string(fx.patch_dir(patch).join(leaf)).unwrap()
}

fn write_of(fx: &LinuxFixture, patch: &str, leaf: &str, value: &str) -> PlannedWrite {
    PlannedWrite {
        target: fx.patch_dir(patch).join(leaf).display().to_string(),
        value: value.into(),
    }
}

#[test]
fn revert_during_patching_writes_0_to_enabled() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(true, true);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("p")).unwrap();
    assert_eq!(plan.writes, [write_of(&fx, "p", "enabled", "0")]);
    assert!(
        plan.effect.contains("reverses the transition of 'p'"),
        "{}",
        plan.effect
    );
    assert!(!plan.irreversible);
    assert_eq!(plan.precondition.patch_state, PatchState::Patching);
    let out = src.execute(&plan).unwrap();
    assert_eq!(out.message, "transition of 'p' reversed");
    assert_eq!(content(&fx, "p", "enabled"), "0\n");
    let lines = audit::take_captured();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("patchscope: revert of 'p' by "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(&format!(
            ": wrote 0 to {}: ok",
            fx.patch_dir("p").join("enabled").display()
        )),
        "{}",
        lines[0]
    );
}

#[test]
fn revert_during_unpatching_writes_1_to_enabled() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(false, true);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("p")).unwrap();
    assert_eq!(plan.writes, [write_of(&fx, "p", "enabled", "1")]);
    assert!(
        plan.effect.contains("reverses the unpatching"),
        "{}",
        plan.effect
    );
    src.execute(&plan).unwrap();
    assert_eq!(content(&fx, "p", "enabled"), "1\n");
    assert!(audit::take_captured()[0].contains("wrote 1 to"));
}

#[test]
fn revert_of_an_enabled_patch_disables_it() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("p")).unwrap();
    assert_eq!(plan.writes, [write_of(&fx, "p", "enabled", "0")]);
    assert!(plan.effect.starts_with("disables 'p'"), "{}", plan.effect);
    let out = src.execute(&plan).unwrap();
    assert!(out.message.contains("unpatching transition started"));
    assert_eq!(content(&fx, "p", "enabled"), "0\n");
}

#[test]
fn refusals_before_writing() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("off", Kernel::V6_13).state(false, false);
    fx.patch("on", Kernel::V6_13);
    let mut src = source(&fx);
    let e = src.plan(&ControlAction::revert("off")).unwrap_err();
    assert!(matches!(e, ControlError::AlreadyDisabled(_)), "{e}");
    let e = src.plan(&ControlAction::force("on")).unwrap_err();
    assert!(matches!(e, ControlError::NotInTransition(_)), "{e}");
    let e = src.plan(&ControlAction::revert("nope")).unwrap_err();
    assert!(matches!(e, ControlError::NoSuchPatch(_)), "{e}");
    fx.patch("moving", Kernel::V6_13).state(true, true);
    let e = src.plan(&ControlAction::revert("on")).unwrap_err();
    assert!(
        matches!(&e, ControlError::OtherInTransition { other, .. } if other == "moving"),
        "{e}"
    );
    assert!(audit::take_captured().is_empty(), "nothing written");
}

#[test]
fn force_writes_1_to_force_and_marks_the_transition() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(true, true);
    fx.thread(1, 1).patch_state(0);
    let mut src = LinuxSource::open(kmod_bridge::source::linux::LinuxConfig {
        kmsg: None,
        ..fx.config()
    })
    .unwrap();
    assert!(!src.snapshot().unwrap().transition.unwrap().forced);
    let plan = src.plan(&ControlAction::force("p")).unwrap();
    assert_eq!(plan.writes, [write_of(&fx, "p", "force", "1")]);
    assert!(plan.irreversible);
    assert!(plan.advice.as_deref().unwrap_or("").contains("reboot"));
    assert!(plan.effect.contains("irreversible"));
    src.execute(&plan).unwrap();
    assert_eq!(content(&fx, "p", "force"), "1");
    assert!(audit::take_captured()[0].contains("force of 'p'"));
    // The kernel completes a forced transition at its next try; until then
    // the snapshot says it was forced.
    assert!(src.snapshot().unwrap().transition.unwrap().forced);
}

#[test]
fn force_on_a_kernel_without_the_file() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V4_12).state(true, true);
    let e = source(&fx).plan(&ControlAction::force("p")).unwrap_err();
    assert!(matches!(e, ControlError::Refused { .. }));
    assert!(e.to_string().contains("4.15"), "{e}");
}

#[test]
fn signal_only_where_the_kernel_has_the_file() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("old", Kernel::V5_0).state(true, true);
    let mut src = source(&fx);
    assert!(src.capabilities().signal);
    let plan = src.plan(&ControlAction::signal("old")).unwrap();
    assert_eq!(plan.writes, [write_of(&fx, "old", "signal", "1")]);
    src.execute(&plan).unwrap();
    assert_eq!(content(&fx, "old", "signal"), "1");
    assert!(audit::take_captured()[0].contains("signal of 'old'"));

    let fx = LinuxFixture::new();
    fx.patch("new", Kernel::V6_13).state(true, true);
    let mut src = source(&fx);
    assert!(!src.capabilities().signal);
    let e = src.plan(&ControlAction::signal("new")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("since Linux 5.1"), "{msg}");
    assert!(msg.contains("every 15 seconds"), "{msg}");
    assert!(!fx.patch_dir("new").join("signal").exists());
}

#[test]
fn a_changed_state_refuses_the_write() {
    let _g = lock();
    let fx = LinuxFixture::new();
    let p = fx.patch("p", Kernel::V6_13);
    p.state(true, true);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("p")).unwrap();
    // The transition completed while the user read the confirmation: now
    // writing 0 would start an unpatching nobody confirmed.
    p.state(true, false);
    let e = src.execute(&plan).unwrap_err();
    assert!(matches!(e, ControlError::StateChanged { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("nothing was written"), "{msg}");
    assert!(msg.contains("from patching to enabled"), "{msg}");
    assert_eq!(content(&fx, "p", "enabled"), "1\n");
    // The patch went away entirely.
    fs::remove_dir_all(fx.patch_dir("p")).unwrap();
    let e = src.execute(&plan).unwrap_err();
    assert!(e.to_string().contains("the patch is gone"), "{e}");
    assert!(audit::take_captured().is_empty());
}

#[test]
fn a_failing_write_is_logged_and_named() {
    let _g = lock();
    let fx = LinuxFixture::new();
    fx.patch("p", Kernel::V6_13).state(true, true);
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::force("p")).unwrap();
    // Something other than the kernel's attribute sits there.
    let force = fx.patch_dir("p").join("force");
    fs::remove_file(&force).unwrap();
    fs::create_dir(&force).unwrap();
    let e = src.execute(&plan).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("writing 1 to {} failed", force.display())),
        "{msg}"
    );
    let lines = audit::take_captured();
    assert!(lines[0].contains(": error: "), "{lines:?}");
}

#[test]
fn writing_without_privilege_says_it_needs_root() {
    let name = "writing_without_privilege_says_it_needs_root";
    let Some(fx) = unprivileged(name, || {
        let fx = LinuxFixture::new();
        fx.patch("p", Kernel::V6_13).state(true, true);
        // sysfs attributes are 0644 root: read-only for everyone else.
        fs::set_permissions(
            fx.patch_dir("p").join("enabled"),
            std::os::unix::fs::PermissionsExt::from_mode(0o444),
        )
        .unwrap();
        fx
    }) else {
        return;
    };
    if linux_fixture::euid() == 0 {
        println!("skipped: running as root, and permission bits do not stop root");
        return;
    }
    let _g = lock();
    let mut src = source(&fx);
    let plan = src.plan(&ControlAction::revert("p")).unwrap();
    let e = src.execute(&plan).unwrap_err();
    let enabled = fx.patch_dir("p").join("enabled");
    assert!(matches!(e, ControlError::PermissionDenied { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "writing {} needs root (permission denied): run patchscope as root or with sudo",
            enabled.display()
        )
    );
    assert_eq!(fs::read_to_string(&enabled).unwrap(), "1\n");
    let lines = audit::take_captured();
    assert!(lines[0].contains("error: Permission denied"), "{lines:?}");
}
