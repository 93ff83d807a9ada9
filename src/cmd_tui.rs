//! `patchscope tui` and `patchscope demo`: wiring of the console (being
//! written).

use crate::cli::{DemoArgs, TuiArgs};

/// Run the console.
pub fn run(_args: &TuiArgs) -> anyhow::Result<()> {
    anyhow::bail!("the console is not built yet; try `patchscope status`")
}

/// Run the console on the simulator.
pub fn demo(_args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("the console is not built yet; try `patchscope status --source sim`")
}
