//! An in-memory [`MibTree`] for tests of the decoder and of [`MibSource`]'s
//! controls: it records writes and answers them as told.

use super::mib::{self, patch_leaf as leaf};
use super::{MibTree, MibValue, MibWriteError};
use crate::error::SourceError;

/// Capture time of the fixtures (Unix seconds).
pub const NOW: i64 = 1_718_000_300;
/// Start of the fixtures' transition: five minutes before [`NOW`].
pub const STARTED: i64 = 1_718_000_000;

/// A fake MIB: nodes in order, writes recorded.
pub struct FakeTree {
    /// The nodes.
    pub nodes: Vec<(String, MibValue)>,
    /// Writes made, in order.
    pub writes: Vec<(String, i64)>,
    /// What the next writes answer (`None`: success).
    pub answer: Option<MibWriteError>,
}

impl FakeTree {
    /// A tree over `nodes`.
    pub fn new(nodes: Vec<(String, MibValue)>) -> Self {
        Self {
            nodes,
            writes: Vec::new(),
            answer: None,
        }
    }

    /// Set (or add) a node.
    pub fn set(&mut self, name: &str, value: MibValue) {
        set(&mut self.nodes, name, value);
    }
}

/// Set (or add) a node of a list.
pub fn set(nodes: &mut Vec<(String, MibValue)>, name: &str, value: MibValue) {
    match nodes.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v = value,
        None => nodes.push((name.to_string(), value)),
    }
}

/// Remove a node from a list.
pub fn remove(nodes: &mut Vec<(String, MibValue)>, name: &str) {
    nodes.retain(|(n, _)| n != name);
}

impl MibTree for FakeTree {
    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
        Ok(self
            .nodes
            .iter()
            .filter(|(n, _)| n.starts_with(root))
            .cloned()
            .collect())
    }

    fn write_int(&mut self, node: &str, value: i64) -> Result<(), MibWriteError> {
        if let Some(e) = &self.answer {
            return Err(e.clone());
        }
        self.writes.push((node.to_string(), value));
        Ok(())
    }

    fn location(&self) -> String {
        "fake".into()
    }

    fn writable(&self) -> bool {
        true
    }
}

fn i(v: i64) -> MibValue {
    MibValue::Int(v)
}

fn s(v: &str) -> MibValue {
    MibValue::Str(v.to_string())
}

fn patch(out: &mut Vec<(String, MibValue)>, name: &str, state: i64, order: i64, funcs: &[&str]) {
    let p = format!("{}.{}", mib::PATCH_PREFIX, mib::node_component(name));
    let enabled = i64::from(matches!(state, 1 | 2));
    out.push((format!("{p}.{}", leaf::NAME), s(name)));
    out.push((format!("{p}.{}", leaf::ENABLED), i(enabled)));
    out.push((format!("{p}.{}", leaf::STATE), i(state)));
    out.push((format!("{p}.{}", leaf::REPLACE), i(0)));
    out.push((format!("{p}.{}", leaf::STACK_ORDER), i(order)));
    out.push((format!("{p}.{}", leaf::SIGNED), i(mib::sig::VERIFIED)));
    out.push((format!("{p}.{}", leaf::SIGNER), s("livepatch-2024")));
    out.push((format!("{p}.{}", leaf::LOADED), i(STARTED - 3600 * order)));
    out.push((format!("{p}.{}", leaf::NFUNCS), i(funcs.len() as i64)));
    out.push((format!("{p}.obj.kernel.{}", leaf::OBJ_NAME), s("kernel")));
    out.push((
        format!("{p}.obj.kernel.{}", leaf::OBJ_PATCHED),
        i(i64::from(state != 0)),
    ));
    for f in funcs {
        let fp = format!("{p}.obj.kernel.func.{}", mib::node_component(f));
        out.push((format!("{fp}.{}", leaf::OBJ_NAME), s(f)));
        out.push((format!("{fp}.{}", leaf::FUNC_SYMPOS), i(0)));
    }
}

/// An idle MIB with two enabled patches, `lp_fix1` (order 1) and
/// `lp-fix.2` (order 2, component `lp_fix_2`).
pub fn healthy() -> Vec<(String, MibValue)> {
    let mut out = vec![
        (mib::ABI_VERSION.to_string(), s("1.0")),
        (mib::ABI_MAJOR_NODE.to_string(), i(1)),
        (mib::ABI_MINOR_NODE.to_string(), i(0)),
        (mib::KERNEL.to_string(), s("14.1-RELEASE-p5 GENERIC")),
        (mib::TIME.to_string(), i(NOW)),
        (mib::NPATCHES.to_string(), i(2)),
        (mib::BLOCKED_MAX.to_string(), i(1024)),
        (mib::STATS_COMPLETED.to_string(), i(2)),
        (mib::STATS_REVERSED.to_string(), i(0)),
        (mib::STATS_FORCED.to_string(), i(0)),
        (mib::STATS_SIGNALS.to_string(), i(0)),
        (mib::TR_ACTIVE.to_string(), i(0)),
        (mib::TR_PATCH.to_string(), s("")),
        (mib::TR_TARGET.to_string(), i(0)),
        (mib::TR_STARTED.to_string(), i(0)),
        (mib::TR_THREADS_TOTAL.to_string(), i(0)),
        (mib::TR_THREADS_PENDING.to_string(), i(0)),
        (mib::TR_FORCED.to_string(), i(0)),
        (mib::TR_SIGNALS.to_string(), i(0)),
        (mib::TR_NBLOCKED.to_string(), i(0)),
        (mib::TR_BLOCKED.to_string(), s("")),
        (mib::TR_FORCE.to_string(), i(0)),
        (mib::TR_SIGNAL.to_string(), i(0)),
    ];
    patch(&mut out, "lp_fix1", 1, 1, &["vn_read"]);
    patch(&mut out, "lp-fix.2", 1, 2, &["sys_read", "kern_select"]);
    out
}

/// Two blocked-thread lines: a sleeper in `sys_read`, and a thread with a
/// hostile name (ESC, tab, invalid UTF-8) in `kern_select`.
pub const BLOCKED: &str = "101\t100\tD\t1718000010\tbiord\tsys_read\tdd\tsleepq_wait+0x2c;_sleep+0x1f1;sys_read+0x1c\n\
102\t100\tS\t0\t-\tkern_select\tevil%1B[2J%09%FF\tkern_select+0x10%3Bx;fork_exit+0x9f\n";

/// `lp-fix.2` patching, held by the two threads of [`BLOCKED`].
pub fn stalled() -> Vec<(String, MibValue)> {
    let mut out = healthy();
    let comp = mib::node_component("lp-fix.2");
    set(&mut out, mib::TR_ACTIVE, i(1));
    set(&mut out, mib::TR_PATCH, s("lp-fix.2"));
    set(&mut out, mib::TR_TARGET, i(1));
    set(&mut out, mib::TR_STARTED, i(STARTED));
    set(&mut out, mib::TR_THREADS_TOTAL, i(200));
    set(&mut out, mib::TR_THREADS_PENDING, i(2));
    set(&mut out, mib::TR_SIGNALS, i(20));
    set(&mut out, mib::TR_NBLOCKED, i(2));
    set(&mut out, mib::TR_BLOCKED, s(BLOCKED));
    set(
        &mut out,
        &format!("{}.{comp}.{}", mib::PATCH_PREFIX, leaf::STATE),
        i(2),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::MibSource;
    use super::*;
    use crate::control::{ControlAction, ControlError};
    use crate::model::SourceKind;
    use crate::source::Source;

    fn source(nodes: Vec<(String, MibValue)>) -> MibSource<FakeTree> {
        crate::audit::capture();
        MibSource::new(FakeTree::new(nodes), SourceKind::Freebsd)
    }

    #[test]
    fn revert_writes_enabled_0_of_the_patch_component() {
        let mut src = source(healthy());
        let plan = src.plan(&ControlAction::revert("lp-fix.2")).unwrap();
        assert_eq!(
            plan.writes[0].target,
            "kern.livepatch.patch.lp_fix_2.enabled"
        );
        assert_eq!(plan.writes[0].value, "0");
        assert!(!plan.irreversible);
        let out = src.execute(&plan).unwrap();
        assert_eq!(
            src.tree().writes,
            vec![("kern.livepatch.patch.lp_fix_2.enabled".to_string(), 0)]
        );
        assert_eq!(
            out.message,
            "'lp-fix.2' disabled: unpatching transition started"
        );
    }

    #[test]
    fn force_writes_transition_force_1() {
        let mut src = source(stalled());
        let plan = src.plan(&ControlAction::force("lp-fix.2")).unwrap();
        assert!(plan.irreversible);
        assert!(plan.advice.is_some());
        src.execute(&plan).unwrap();
        assert_eq!(
            src.tree().writes,
            vec![("kern.livepatch.transition.force".to_string(), 1)]
        );
        // Revert during the transition reverses it through the same node.
        let plan = src.plan(&ControlAction::revert("lp-fix.2")).unwrap();
        let out = src.execute(&plan).unwrap();
        assert_eq!(out.message, "transition of 'lp-fix.2' reversed");
    }

    #[test]
    fn kernel_errors_become_plain_words() {
        let errno = |e: i32, n: &str| MibWriteError::Errno {
            errno: e,
            name: n.to_string(),
        };

        let mut src = source(stalled());
        let plan = src.plan(&ControlAction::force("lp-fix.2")).unwrap();
        src.tree_mut().answer = Some(errno(22, "EINVAL"));
        let e = src.execute(&plan).unwrap_err();
        assert!(matches!(e, ControlError::Refused { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the kernel refused writing 1 to kern.livepatch.transition.force: EINVAL: 'lp-fix.2' is not in transition"
        );

        let mut src = source(healthy());
        let plan = src.plan(&ControlAction::revert("lp_fix1")).unwrap();
        src.tree_mut().answer = Some(errno(16, "EBUSY"));
        let e = src.execute(&plan).unwrap_err().to_string();
        assert!(e.ends_with("EBUSY: another patch is in transition"), "{e}");

        src.tree_mut().answer = Some(MibWriteError::PermissionDenied);
        let e = src.execute(&plan).unwrap_err();
        assert!(matches!(e, ControlError::PermissionDenied { .. }));
        assert_eq!(
            e.to_string(),
            "writing kern.livepatch.patch.lp_fix1.enabled needs root (permission denied): run patchscope as root or with sudo"
        );
        assert!(src.tree().writes.is_empty());
        // Each attempt is in the audit log, with the kernel's answer.
        let log = crate::audit::take_captured();
        assert!(
            log.iter()
                .any(|l| l.contains("kern.livepatch.patch.lp_fix1.enabled")
                    && l.contains("permission denied")),
            "{log:?}"
        );
    }

    #[test]
    fn a_state_change_after_the_plan_writes_nothing() {
        let mut src = source(stalled());
        let plan = src.plan(&ControlAction::force("lp-fix.2")).unwrap();
        // The transition completes while the user reads the confirmation.
        src.tree_mut().set(mib::TR_ACTIVE, i(0));
        src.tree_mut()
            .set("kern.livepatch.patch.lp_fix_2.state", i(1));
        let e = src.execute(&plan).unwrap_err();
        assert!(matches!(e, ControlError::StateChanged { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "nothing was written: the patch went from patching to enabled since the confirmation for 'lp-fix.2'; look again and retry"
        );
        assert!(src.tree().writes.is_empty());
    }

    #[test]
    fn plan_refuses_what_the_kernel_would() {
        let mut src = source(healthy());
        let e = src.plan(&ControlAction::force("lp_fix1")).unwrap_err();
        assert!(matches!(e, ControlError::NotInTransition(_)));
        let mut src = source(stalled());
        let e = src.plan(&ControlAction::revert("lp_fix1")).unwrap_err();
        assert!(matches!(e, ControlError::OtherInTransition { .. }));
        let e = src.plan(&ControlAction::revert("nope")).unwrap_err();
        assert!(matches!(e, ControlError::NoSuchPatch(_)));
    }
}
