//! Controls: revert, force and signal.
//!
//! A control is done in two steps so that what the user confirms is what is
//! written: [`crate::source::Source::plan`] names the exact writes and their
//! effect and records the state they assume ([`Precondition`]);
//! [`crate::source::Source::execute`] re-reads the state, refuses if it
//! changed, writes, and logs the write with [`crate::audit`].

use serde::{Deserialize, Serialize};

use crate::model::{PatchState, Snapshot, SourceKind, Target};

/// What the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Disable a patch; during its transition, reverse the transition.
    Revert,
    /// Complete the transition in progress now. Irreversible.
    Force,
    /// Wake blocked threads with a fake signal (FreeBSD MIB, simulator).
    Signal,
}

impl ActionKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Revert => "revert",
            ActionKind::Force => "force",
            ActionKind::Signal => "signal",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A control request on a named patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlAction {
    /// What to do.
    pub kind: ActionKind,
    /// The patch it applies to.
    pub patch: String,
}

impl ControlAction {
    /// Revert `patch`.
    pub fn revert(patch: impl Into<String>) -> Self {
        Self {
            kind: ActionKind::Revert,
            patch: patch.into(),
        }
    }

    /// Force the transition of `patch`.
    pub fn force(patch: impl Into<String>) -> Self {
        Self {
            kind: ActionKind::Force,
            patch: patch.into(),
        }
    }

    /// Signal the threads blocking `patch`'s transition.
    pub fn signal(patch: impl Into<String>) -> Self {
        Self {
            kind: ActionKind::Signal,
            patch: patch.into(),
        }
    }
}

/// One write a control makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedWrite {
    /// The sysfs file or sysctl node written.
    pub target: String,
    /// The value written.
    pub value: String,
}

impl std::fmt::Display for PlannedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "write {} to {}", self.value, self.target)
    }
}

/// The state a plan assumes; checked again right before writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// State of the patch acted on.
    pub patch_state: PatchState,
    /// The transition in progress (patch, target), if any.
    pub transition: Option<(String, Target)>,
}

impl Precondition {
    /// The precondition for acting on `patch` as `snapshot` shows it.
    pub fn from_snapshot(snapshot: &Snapshot, patch: &str) -> Option<Self> {
        let p = snapshot.patch(patch)?;
        Some(Self {
            patch_state: p.state,
            transition: snapshot
                .transition
                .as_ref()
                .map(|t| (t.patch.clone(), t.target)),
        })
    }

    /// Check `snapshot` still matches; `Err` says what changed.
    pub fn check(&self, snapshot: &Snapshot, patch: &str) -> Result<(), ControlError> {
        match Self::from_snapshot(snapshot, patch) {
            None => Err(ControlError::StateChanged {
                patch: patch.to_string(),
                what: "the patch is gone".to_string(),
            }),
            Some(now) if now != *self => Err(ControlError::StateChanged {
                patch: patch.to_string(),
                what: describe_change(self, &now),
            }),
            Some(_) => Ok(()),
        }
    }
}

fn describe_change(before: &Precondition, now: &Precondition) -> String {
    let tr = |t: &Option<(String, Target)>| match t {
        None => "no transition".to_string(),
        Some((p, t)) => format!("'{p}' moving to {t}"),
    };
    if before.patch_state != now.patch_state {
        format!(
            "the patch went from {} to {}",
            before.patch_state, now.patch_state
        )
    } else {
        format!(
            "the transition changed from {} to {}",
            tr(&before.transition),
            tr(&now.transition)
        )
    }
}

/// What a control will do, for the confirmation and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlan {
    /// The request.
    pub action: ControlAction,
    /// The exact writes, in order.
    pub writes: Vec<PlannedWrite>,
    /// Plain-words effect, e.g. "reverses the transition of 'p': threads
    /// move back to the unpatched code".
    pub effect: String,
    /// True for force: it cannot be undone.
    pub irreversible: bool,
    /// Advice to show beside the effect (e.g. plan a reboot).
    pub advice: Option<String>,
    /// The state the plan assumes.
    pub precondition: Precondition,
}

/// The result of a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlOutcome {
    /// The plan carried out.
    pub plan: ControlPlan,
    /// Plain-words result, e.g. "transition of 'p' reversed".
    pub message: String,
}

/// Why a control failed. Messages say what failed, where, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The source cannot do this at all.
    #[error("{action} is not supported by the {source_kind} source")]
    Unsupported {
        /// The action.
        action: ActionKind,
        /// The source.
        source_kind: SourceKind,
    },
    /// The source is read-only (a dump).
    #[error("the {0} source is read-only: controls need a live kernel or the simulator")]
    ReadOnly(SourceKind),
    /// No such patch.
    #[error("no live patch named '{0}' (see `patchscope status` for the loaded patches)")]
    NoSuchPatch(String),
    /// Force or signal on a patch that is not in transition.
    #[error("patch '{0}' is not in transition: there is nothing to force or signal")]
    NotInTransition(String),
    /// Another patch's transition is in progress.
    #[error(
        "patch '{other}' is in transition; '{patch}' cannot change until it completes (revert or force '{other}' first)"
    )]
    OtherInTransition {
        /// The patch acted on.
        patch: String,
        /// The patch in transition.
        other: String,
    },
    /// Revert of a patch that is already disabled.
    #[error("patch '{0}' is already disabled; re-enabling needs the patch module to be reloaded")]
    AlreadyDisabled(String),
    /// The state changed between plan and write: nothing was written.
    #[error(
        "nothing was written: {what} since the confirmation for '{patch}'; look again and retry"
    )]
    StateChanged {
        /// The patch acted on.
        patch: String,
        /// What changed.
        what: String,
    },
    /// No privilege to write.
    #[error("writing {target} needs root (permission denied): run patchscope as root or with sudo")]
    PermissionDenied {
        /// The file or node.
        target: String,
    },
    /// The kernel refused the write.
    #[error("the kernel refused writing {value} to {target}: {reason}")]
    Refused {
        /// The file or node.
        target: String,
        /// The value.
        value: String,
        /// Plain-words reason.
        reason: String,
    },
    /// Reading the state before the write failed.
    #[error("could not read the current state before writing: {0}")]
    Read(crate::error::SourceError),
    /// Other I/O failure of the write.
    #[error("writing {value} to {target} failed: {error}")]
    Io {
        /// The file or node.
        target: String,
        /// The value.
        value: String,
        /// The error.
        error: std::io::Error,
    },
}

// By hand rather than `#[from]`: the read error is part of the message, and
// as a `#[source]` error chains would print it twice.
impl From<crate::error::SourceError> for ControlError {
    fn from(e: crate::error::SourceError) -> Self {
        ControlError::Read(e)
    }
}

/// Check the generic rules (patch exists, force/signal need its transition,
/// revert of a disabled patch, another patch in transition) and build the
/// precondition. Sources add their writes.
pub fn validate(snapshot: &Snapshot, action: &ControlAction) -> Result<Precondition, ControlError> {
    let patch = snapshot
        .patch(&action.patch)
        .ok_or_else(|| ControlError::NoSuchPatch(action.patch.clone()))?;
    let in_transition = snapshot.transition.as_ref();
    match action.kind {
        ActionKind::Force | ActionKind::Signal => match in_transition {
            Some(t) if t.patch == action.patch => {}
            Some(t) => {
                return Err(ControlError::OtherInTransition {
                    patch: action.patch.clone(),
                    other: t.patch.clone(),
                });
            }
            None => return Err(ControlError::NotInTransition(action.patch.clone())),
        },
        ActionKind::Revert => {
            if let Some(t) = in_transition
                && t.patch != action.patch
            {
                return Err(ControlError::OtherInTransition {
                    patch: action.patch.clone(),
                    other: t.patch.clone(),
                });
            }
            if patch.state == PatchState::Disabled {
                return Err(ControlError::AlreadyDisabled(action.patch.clone()));
            }
        }
    }
    Precondition::from_snapshot(snapshot, &action.patch)
        .ok_or_else(|| ControlError::NoSuchPatch(action.patch.clone()))
}

/// The plain-words effect of `action` on a patch in `state`, shared by all
/// sources so the console and the CLI say the same thing.
pub fn describe_effect(
    action: &ControlAction,
    state: PatchState,
) -> (String, bool, Option<String>) {
    let p = &action.patch;
    match (action.kind, state) {
        (ActionKind::Revert, PatchState::Patching) => (
            format!(
                "reverses the transition of '{p}': threads that already run the new code move back to the old code, then the patch is disabled"
            ),
            false,
            None,
        ),
        (ActionKind::Revert, PatchState::Unpatching) => (
            format!(
                "reverses the unpatching of '{p}': threads move back to the new code and the patch stays enabled"
            ),
            false,
            None,
        ),
        (ActionKind::Revert, _) => (
            format!(
                "disables '{p}': starts an unpatching transition that moves every thread back to the old code; re-enabling later needs the patch module reloaded"
            ),
            false,
            None,
        ),
        (ActionKind::Force, PatchState::Unpatching) => (
            format!(
                "forces the unpatching of '{p}' to complete now: threads still blocked are marked as moved without a safety check; this is irreversible, and the module of '{p}' can never be unloaded"
            ),
            true,
            Some("plan a reboot: a forced kernel is in a state nobody tested".to_string()),
        ),
        (ActionKind::Force, _) => (
            format!(
                "forces the transition of '{p}' to complete now: threads still blocked are marked as moved without a safety check; this is irreversible. The modules of patches it replaces (cumulative patches; on Linux before 5.1, every patch) can never be unloaded"
            ),
            true,
            Some("plan a reboot: a forced kernel is in a state nobody tested".to_string()),
        ),
        (ActionKind::Signal, _) => (
            format!(
                "sends a fake signal to the threads blocking '{p}' so they leave the kernel and can move"
            ),
            false,
            None,
        ),
    }
}
