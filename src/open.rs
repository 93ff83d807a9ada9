//! Turning `SOURCE FLAGS` into an open source (wiring pending).

use kmod_bridge::Source;

use crate::cli::SourceArgs;

/// Open the source the flags describe.
pub fn open(_args: &SourceArgs) -> anyhow::Result<Box<dyn Source>> {
    anyhow::bail!("sources are being wired")
}
