//! Decoding the `kern.livepatch` MIB into the model. (Being written.)

use std::collections::HashMap;

use super::MibValue;
use crate::error::SourceError;
use crate::model::{BlockedThread, KernelCounters, KernelInfo, Patch, Transition};

/// The model parts decoded from a MIB.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Kernel and ABI.
    pub kernel: KernelInfo,
    /// Patches.
    pub patches: Vec<Patch>,
    /// Transition.
    pub transition: Option<Transition>,
    /// Blocked threads.
    pub blocked_threads: Vec<BlockedThread>,
    /// Counters.
    pub counters: Option<KernelCounters>,
    /// What could not be decoded or seen.
    pub limitations: Vec<String>,
    /// Patch name -> node component.
    pub components: HashMap<String, String>,
}

/// Decode every leaf under `kern.livepatch`.
pub fn decode(nodes: &[(String, MibValue)], _taken_at: f64) -> Result<Decoded, SourceError> {
    if nodes.is_empty() {
        return Err(SourceError::NotFound {
            looked_for: "sysctl kern.livepatch (is the livepatch module loaded?)".into(),
        });
    }
    Err(SourceError::parse("kern.livepatch", "decoder not written yet"))
}
