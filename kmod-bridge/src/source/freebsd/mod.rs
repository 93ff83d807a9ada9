//! The FreeBSD `kern.livepatch` MIB source.
//!
//! The contract is `kmod-bridge/doc/MIB.md` (names in [`mib`]). Decoding
//! works on any [`MibTree`]: the real sysctl tree (`os`, FreeBSD only),
//! the simulator's in-memory MIB, or a parsed `sysctl` dump. So the demo,
//! most tests and a real FreeBSD box share one decoder ([`decode`]).

pub mod decode;
#[cfg(test)]
mod fake;
pub mod mib;
#[cfg(target_os = "freebsd")]
pub mod os;

use std::collections::HashMap;

use crate::control::{
    self, ActionKind, ControlAction, ControlError, ControlOutcome, ControlPlan, PlannedWrite,
};
use crate::error::SourceError;
use crate::model::{Snapshot, SourceInfo, SourceKind};
use crate::source::{Capabilities, Source, unix_now};

/// A value of a MIB node. Numeric nodes of every width decode to `Int`
/// (dumps carry only text: the decoder parses `Str` where it expects a
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MibValue {
    /// Any integer node.
    Int(i64),
    /// A string node.
    Str(String),
}

/// Why a MIB write failed, as the kernel said it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MibWriteError {
    /// The node does not exist (ENOENT).
    #[error("no such node")]
    NotFound,
    /// EPERM / EACCES.
    #[error("permission denied")]
    PermissionDenied,
    /// The tree is read-only (a dump).
    #[error("read-only")]
    ReadOnly,
    /// Another errno, e.g. `EINVAL` or `EBUSY`.
    #[error("{name}")]
    Errno {
        /// Raw errno.
        errno: i32,
        /// Symbolic name (`EINVAL`).
        name: String,
    },
}

/// A tree of sysctl nodes under `kern.livepatch`.
pub trait MibTree: Send {
    /// Every leaf under `root`, as full dotted names with values, in MIB
    /// order. A missing root is `Ok(vec![])`.
    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError>;
    /// Write an integer node.
    fn write_int(&mut self, node: &str, value: i64) -> Result<(), MibWriteError>;
    /// Where the tree lives, for messages.
    fn location(&self) -> String;
    /// Whether writes can work at all.
    fn writable(&self) -> bool;
    /// The tree's own clock (Unix seconds) when it is not the wall clock,
    /// e.g. the simulator's manual clock; snapshots are stamped with it.
    fn clock(&self) -> Option<f64> {
        None
    }
}

/// A source decoding the MIB from a [`MibTree`].
pub struct MibSource<T: MibTree> {
    tree: T,
    kind: SourceKind,
    /// Patch name -> node component, from the last snapshot (writes need
    /// the component, users name the patch).
    components: HashMap<String, String>,
}

impl<T: MibTree> MibSource<T> {
    /// Wrap a tree; `kind` says what it is (freebsd, sim or dump).
    pub fn new(tree: T, kind: SourceKind) -> Self {
        Self {
            tree,
            kind,
            components: HashMap::new(),
        }
    }

    /// The tree (the simulator uses this to advance time).
    pub fn tree(&self) -> &T {
        &self.tree
    }

    /// The tree, mutably.
    pub fn tree_mut(&mut self) -> &mut T {
        &mut self.tree
    }

    fn write_for(&self, action: &ControlAction) -> Result<PlannedWrite, ControlError> {
        Ok(match action.kind {
            ActionKind::Revert => {
                let comp = self
                    .components
                    .get(&action.patch)
                    .cloned()
                    .unwrap_or_else(|| mib::node_component(&action.patch));
                PlannedWrite {
                    target: format!("{}.{comp}.{}", mib::PATCH_PREFIX, mib::patch_leaf::ENABLED),
                    value: "0".into(),
                }
            }
            ActionKind::Force => PlannedWrite {
                target: mib::TR_FORCE.into(),
                value: "1".into(),
            },
            ActionKind::Signal => PlannedWrite {
                target: mib::TR_SIGNAL.into(),
                value: "1".into(),
            },
        })
    }
}

impl<T: MibTree> Source for MibSource<T> {
    fn kind(&self) -> SourceKind {
        self.kind
    }

    fn location(&self) -> String {
        self.tree.location()
    }

    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let nodes = self.tree.read_all(mib::ROOT)?;
        let taken_at = self.tree.clock().unwrap_or_else(unix_now);
        let mut decoded = decode::decode(&nodes, taken_at)?;
        // A dump is read long after capture: its own clock node says when
        // it was taken, so ages stay those of the capture.
        let taken_at = match (self.kind, decoded.clock) {
            (SourceKind::Dump, Some(clock)) => clock,
            (SourceKind::Dump, None) => {
                decoded.limitations.push(format!(
                    "the dump does not say when it was captured (no {}): ages are counted up to now",
                    mib::TIME
                ));
                taken_at
            }
            _ => taken_at,
        };
        self.components = decoded.components;
        Ok(Snapshot {
            schema_version: crate::model::JSON_SCHEMA_VERSION,
            source: SourceInfo {
                kind: self.kind,
                location: self.tree.location(),
                writable: self.tree.writable(),
            },
            kernel: if self.kind == SourceKind::Sim {
                // The simulator publishes a FreeBSD-like ident; say plainly
                // that no real kernel is behind it.
                crate::model::KernelInfo {
                    os: "simulated".into(),
                    ..decoded.kernel
                }
            } else {
                decoded.kernel
            },
            taken_at,
            patches: decoded.patches,
            transition: decoded.transition,
            blocked_threads: decoded.blocked_threads,
            counters: decoded.counters,
            limitations: decoded.limitations,
        })
    }

    fn capabilities(&self) -> Capabilities {
        let w = self.tree.writable();
        Capabilities {
            revert: w,
            force: w,
            signal: w,
        }
    }

    fn plan(&mut self, action: &ControlAction) -> Result<ControlPlan, ControlError> {
        if !self.tree.writable() {
            return Err(ControlError::ReadOnly(self.kind));
        }
        let snap = self.snapshot()?;
        let precondition = control::validate(&snap, action)?;
        let (effect, irreversible, advice) =
            control::describe_effect(action, precondition.patch_state);
        Ok(ControlPlan {
            action: action.clone(),
            writes: vec![self.write_for(action)?],
            effect,
            irreversible,
            advice,
            precondition,
        })
    }

    fn execute(&mut self, plan: &ControlPlan) -> Result<ControlOutcome, ControlError> {
        if !self.tree.writable() {
            return Err(ControlError::ReadOnly(self.kind));
        }
        let snap = self.snapshot()?;
        plan.precondition.check(&snap, &plan.action.patch)?;
        for w in &plan.writes {
            let value: i64 = w.value.parse().unwrap_or(0);
            let result = self.tree.write_int(&w.target, value);
            crate::audit::log_write(
                plan.action.kind.as_str(),
                &plan.action.patch,
                &w.target,
                &w.value,
                &result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            );
            result.map_err(|e| translate(e, plan, w))?;
        }
        Ok(ControlOutcome {
            plan: plan.clone(),
            message: outcome_message(plan),
        })
    }
}

/// Plain-words result of a successful control.
pub fn outcome_message(plan: &ControlPlan) -> String {
    let p = &plan.action.patch;
    match plan.action.kind {
        ActionKind::Revert if plan.precondition.patch_state.in_transition() => {
            format!("transition of '{p}' reversed")
        }
        ActionKind::Revert => format!("'{p}' disabled: unpatching transition started"),
        ActionKind::Force => format!("transition of '{p}' forced to complete"),
        ActionKind::Signal => format!("threads blocking '{p}' signalled"),
    }
}

/// Translate the kernel's answer to a MIB write into plain words.
fn translate(e: MibWriteError, plan: &ControlPlan, w: &PlannedWrite) -> ControlError {
    let p = plan.action.patch.clone();
    match e {
        MibWriteError::PermissionDenied => ControlError::PermissionDenied {
            target: w.target.clone(),
        },
        MibWriteError::ReadOnly => ControlError::ReadOnly(SourceKind::Dump),
        MibWriteError::NotFound => ControlError::StateChanged {
            patch: p,
            what: format!("{} no longer exists", w.target),
        },
        MibWriteError::Errno { name, .. } => {
            let reason = match (plan.action.kind, name.as_str()) {
                (ActionKind::Force | ActionKind::Signal, "EINVAL") => {
                    format!("EINVAL: '{p}' is not in transition")
                }
                (ActionKind::Revert, "EBUSY") => {
                    "EBUSY: another patch is in transition".to_string()
                }
                (ActionKind::Revert, "EINVAL") => {
                    format!("EINVAL: '{p}' is already in the requested state")
                }
                _ => name,
            };
            ControlError::Refused {
                target: w.target.clone(),
                value: w.value.clone(),
                reason,
            }
        }
    }
}
