//! `patchscope tui` and `patchscope demo`: open the source, build the
//! console's options from the flags, run the console
//! ([`patchscope_ui::run`]), and turn how it ended into the process's exit.

use anyhow::Context;
use kmod_bridge::Source;
use kmod_bridge::model::SourceKind;
use kmod_bridge::source::auto;
use kmod_bridge::source::sim::{self, Scenario};
use patchscope_ui::{Exit, UiOptions};

use crate::cli::{ConsoleArgs, DemoArgs, TuiArgs};

/// Run the console on the source the flags name.
pub fn run(args: &TuiArgs) -> anyhow::Result<()> {
    let source = crate::open::open(&args.source)?;
    // A simulated kernel is never mistaken for a real one.
    let banner = (source.kind() == SourceKind::Sim)
        .then(|| format!("SIMULATED KERNEL — {}", source.location()));
    run_tui(source, ui_options(&args.console, banner))
}

/// Run the console on the built-in simulated kernel.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let cfg = auto::sim_config(&auto::SimParams {
        scenario: args.scenario.clone(),
        threads: args.threads,
        seed: args.seed,
    })?;
    let banner = demo_banner(cfg.scenario, args.seed);
    let source = sim::open(cfg).context("starting the simulated kernel")?;
    run_tui(Box::new(source), ui_options(&args.console, Some(banner)))
}

/// The console's options from its flags.
fn ui_options(args: &ConsoleArgs, banner: Option<String>) -> UiOptions {
    UiOptions {
        interval: args.interval,
        read_only: args.read_only,
        banner,
        stall_after: args.stall_after,
    }
}

/// The banner of `patchscope demo`.
pub fn demo_banner(scenario: Scenario, seed: u64) -> String {
    format!("SIMULATED KERNEL — scenario {scenario}, seed {seed}")
}

/// Run the console on `source` until the user quits. On a signal the
/// terminal is already restored; exit with 128 + signal as shells expect.
pub fn run_tui(source: Box<dyn Source>, opts: UiOptions) -> anyhow::Result<()> {
    let location = source.location();
    match patchscope_ui::run(source, opts)
        .with_context(|| format!("running the console on {location}"))?
    {
        Exit::Quit => Ok(()),
        Exit::Signal(sig) => std::process::exit(128 + sig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_banner_names_scenario_and_seed() {
        assert_eq!(
            demo_banner(Scenario::Stalled, 1),
            "SIMULATED KERNEL — scenario stalled, seed 1"
        );
    }
}
