//! Turning `SOURCE FLAGS` into an open source.

use anyhow::Context;
use kmod_bridge::Source;
use kmod_bridge::source::auto::{self, SourceSpec};
use kmod_bridge::source::linux::LinuxConfig;

use crate::cli::SourceArgs;

/// Build the source specification the flags describe.
pub fn spec(args: &SourceArgs) -> anyhow::Result<SourceSpec> {
    let kmsg = match args.path_kmsg.as_str() {
        "" | "none" => None,
        p => Some(p.into()),
    };
    auto::parse_spec(
        &args.source,
        LinuxConfig {
            sysfs: args.path_sysfs.clone(),
            procfs: args.path_procfs.clone(),
            kmsg,
        },
        auto::SimParams {
            scenario: args.scenario.clone(),
            threads: args.threads,
            seed: args.seed,
        },
    )
    .with_context(|| format!("--source {}", args.source))
}

/// Open the source the flags describe.
pub fn open(args: &SourceArgs) -> anyhow::Result<Box<dyn Source>> {
    let spec = spec(args)?;
    Ok(auto::open(&spec)?)
}
