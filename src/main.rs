//! The `patchscope` binary: command line and wiring. The work happens in
//! the `kmod-bridge` (model, sources, controls, watch), `patchscope-ui`
//! (console) and `patchscope-exporters` (Prometheus) crates.

// No panicking on external data: indexing and slicing that could go out
// of bounds are denied in library code (`get` instead); unit and
// integration tests are exempt. `unwrap_used` is denied workspace-wide.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::string_slice, clippy::panic)
)]

mod cli;
mod cmd_check;
mod cmd_control;
mod cmd_exporter;
mod cmd_status;
mod cmd_tui;
mod open;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => cmd_tui::run(&cli.tui),
        Some(Command::Tui(args)) => cmd_tui::run(&args),
        Some(Command::Demo(args)) => cmd_tui::demo(&args),
        Some(Command::Status(args)) => cmd_status::run(&args),
        Some(Command::Check(args)) => return cmd_check::run(&args),
        Some(Command::Exporter(args)) => cmd_exporter::run_exporter(&args),
        Some(Command::Revert(args)) => {
            cmd_control::run(kmod_bridge::control::ActionKind::Revert, &args)
        }
        Some(Command::Force(args)) => {
            cmd_control::run(kmod_bridge::control::ActionKind::Force, &args)
        }
        Some(Command::Signal(args)) => {
            cmd_control::run(kmod_bridge::control::ActionKind::Signal, &args)
        }
        Some(Command::Man) => man(),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "patchscope",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: what failed,
            // where, and the advice from the innermost error.
            let msg = format!("{e:#}");
            // Escaped, not capped: the end of the chain says what to do.
            eprintln!(
                "patchscope: {}",
                kmod_bridge::sanitize::escape_controls(&msg)
            );
            ExitCode::FAILURE
        }
    }
}

fn man() -> anyhow::Result<()> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(())
}
