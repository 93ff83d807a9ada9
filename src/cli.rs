//! Command-line definitions (clap). The man page and shell completions are
//! generated from these (`patchscope man`, `patchscope completions SHELL`),
//! so help text here is the documentation.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Console and Prometheus exporter for kernel live-patch state.
///
/// Shows the live patches, the transition in progress, the threads that
/// block it and why; offers revert and force; exports it all to Prometheus.
/// Without a subcommand, runs the console (`tui`).
#[derive(Debug, Parser)]
#[command(name = "patchscope", version, about, long_about)]
#[command(after_help = "Try it without a live-patching kernel: patchscope demo")]
pub struct Cli {
    /// What to do (default: the console).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Console options when no subcommand is given.
    #[command(flatten)]
    pub tui: TuiArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive console (the default).
    Tui(TuiArgs),
    /// The console on the built-in simulated kernel.
    Demo(DemoArgs),
    /// Print the live-patch state once (table, JSON or Prometheus text).
    Status(StatusArgs),
    /// Nagios/Icinga plugin: OK, WARNING or CRITICAL on transition age.
    Check(CheckArgs),
    /// Serve Prometheus metrics over HTTP.
    Exporter(crate::cmd_exporter::ExporterArgs),
    /// Disable a patch, or reverse its transition in progress.
    Revert(ControlArgs),
    /// Force the transition in progress to complete (irreversible).
    Force(ControlArgs),
    /// Send a fake signal to the threads blocking a transition.
    Signal(ControlArgs),
    /// Print the man page (roff) to stdout.
    #[command(hide = true)]
    Man,
    /// Print shell completions to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Where to read live-patch state from.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// auto, freebsd, linux, sim, or dump:FILE (a `sysctl kern.livepatch`
    /// capture). `auto` picks FreeBSD when kern.livepatch exists, else
    /// Linux when /sys/kernel/livepatch exists.
    #[arg(long, value_name = "SOURCE", default_value = "auto")]
    pub source: String,

    /// sysfs mount point (linux).
    #[arg(long = "path.sysfs", value_name = "DIR", default_value = "/sys")]
    pub path_sysfs: PathBuf,

    /// procfs mount point (linux).
    #[arg(long = "path.procfs", value_name = "DIR", default_value = "/proc")]
    pub path_procfs: PathBuf,

    /// Kernel log to take transition start times from (linux): /dev/kmsg or
    /// a dmesg text file. `none` disables it.
    #[arg(long = "path.kmsg", value_name = "FILE", default_value = "/dev/kmsg")]
    pub path_kmsg: String,

    /// Simulator scenario (sim): healthy, progressing, stalled, replace, storm,
    /// signatures.
    #[arg(long, value_name = "NAME", default_value = "stalled")]
    pub scenario: String,

    /// Simulated threads (sim).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub threads: u64,

    /// Simulator seed, for reproducible runs (sim).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

/// Console options.
#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,

    /// Refresh, controls and stall threshold.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// What `tui` and `demo` share: how the console behaves.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Refresh interval (humantime: 500ms, 2s).
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Hide revert, force and signal.
    #[arg(long)]
    pub read_only: bool,

    /// A transition without progress for this long is shown as stalled.
    #[arg(long = "stall-after", value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub stall_after: Duration,
}

/// `demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Scenario: healthy, progressing, stalled, replace, storm, signatures.
    #[arg(long, value_name = "NAME", default_value = "stalled")]
    pub scenario: String,
    /// Simulated threads.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub threads: u64,
    /// Seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Refresh, controls and stall threshold.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// Output format of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Human-readable table.
    Table,
    /// The documented JSON schema.
    Json,
    /// Prometheus text exposition, for node_exporter's textfile collector.
    Prometheus,
}

/// `status` options.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON (same as --format json).
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatusFormat,
}

/// `check` options.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,
    /// WARNING when a transition has run this long.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub warning: Duration,
    /// CRITICAL when a transition has run this long.
    #[arg(long, value_name = "DUR", default_value = "75s", value_parser = parse_duration)]
    pub critical: Duration,
}

/// `revert`, `force`, `signal` options.
#[derive(Debug, Clone, Args)]
pub struct ControlArgs {
    /// The patch to act on.
    pub patch: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Parse a humantime duration (`90s`, `5m`, `1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration ({e}); use e.g. 90s, 5m"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_humantime() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("soon").is_err());
    }
}
