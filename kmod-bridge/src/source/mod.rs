//! Sources of live-patch state, behind one trait.
//!
//! * [`freebsd`]: the `kern.livepatch` MIB (contract in `doc/MIB.md`),
//!   decoded from any [`freebsd::MibTree`]: the real sysctl tree on FreeBSD,
//!   the simulator's in-memory MIB, or a parsed dump.
//! * [`linux`]: klp sysfs and procfs.
//! * [`sim`]: the built-in simulated kernel.
//! * [`dump`]: a captured `sysctl kern.livepatch` text output.
//! * [`auto`]: picks one of the real kernels.

pub mod auto;
pub mod dump;
pub mod freebsd;
pub mod linux;
pub mod sim;

use crate::control::{ControlAction, ControlError, ControlOutcome, ControlPlan};
use crate::error::SourceError;
use crate::model::{Snapshot, SourceKind};

/// Which controls a source supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Disable a patch / reverse its transition.
    pub revert: bool,
    /// Force the transition in progress to complete.
    pub force: bool,
    /// Send fake signals to blocked threads.
    pub signal: bool,
}

/// A place live-patch state can be read from (and, for real kernels and the
/// simulator, written to).
pub trait Source: Send {
    /// The source kind.
    fn kind(&self) -> SourceKind;

    /// Human-readable location (roots, file, scenario) for messages.
    fn location(&self) -> String;

    /// Read the current state.
    fn snapshot(&mut self) -> Result<Snapshot, SourceError>;

    /// The controls this source supports. Read-only sources return none.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Work out exactly what `action` would write and what it would do, and
    /// check that it makes sense now, without writing anything. The plan is
    /// what a confirmation shows the user.
    fn plan(&mut self, action: &ControlAction) -> Result<ControlPlan, ControlError> {
        Err(ControlError::Unsupported {
            action: action.kind,
            source_kind: self.kind(),
        })
    }

    /// Carry out a plan made by [`Source::plan`]. Implementations re-read
    /// the state first and refuse with [`ControlError::StateChanged`] when
    /// it no longer matches the plan's precondition, so what the user
    /// confirmed is what gets written.
    fn execute(&mut self, plan: &ControlPlan) -> Result<ControlOutcome, ControlError> {
        Err(ControlError::Unsupported {
            action: plan.action.kind,
            source_kind: self.kind(),
        })
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
