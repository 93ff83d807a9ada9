//! `patchscope check`: a Nagios/Icinga plugin.
//!
//! Exit codes follow the plugin guidelines: 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN. One status line, with performance data after `|`.
//! WARNING/CRITICAL when a transition has run longer than `--warning` /
//! `--critical`; WARNING also when the kernel counts a forced transition
//! (a reboot should be planned) or the start time of a transition is
//! unknown.

use std::process::ExitCode;

use kmod_bridge::model::{PatchState, Snapshot, StartSource};
use kmod_bridge::sanitize::{escape_controls, for_terminal};
use kmod_bridge::watch::fmt_secs;

use crate::cli::CheckArgs;

/// Plugin states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 0.
    Ok = 0,
    /// 1.
    Warning = 1,
    /// 2.
    Critical = 2,
    /// 3.
    Unknown = 3,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// Run `check`; never fails with a Rust error, always a plugin answer.
pub fn run(args: &CheckArgs) -> ExitCode {
    let (status, line) = match crate::open::open(&args.source).and_then(|mut s| {
        s.snapshot()
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", s.location()))
    }) {
        Ok(snap) => evaluate(
            &snap,
            args.warning.as_secs_f64(),
            args.critical.as_secs_f64(),
        ),
        Err(e) => (
            Status::Unknown,
            format!("LIVEPATCH UNKNOWN - {}", escape_controls(&format!("{e:#}"))),
        ),
    };
    // Untrusted parts were sanitised in `evaluate`; the line itself is not
    // capped so the perfdata survives.
    println!("{line}");
    ExitCode::from(status as u8)
}

/// The plugin verdict and its status line for a snapshot.
pub fn evaluate(snap: &Snapshot, warn: f64, crit: f64) -> (Status, String) {
    let enabled = snap
        .patches
        .iter()
        .filter(|p| p.state == PatchState::Enabled)
        .count();
    let forced = snap.counters.map(|c| c.transitions_forced).unwrap_or(0)
        + u64::from(snap.transition.as_ref().is_some_and(|t| t.forced));
    let (mut status, mut text, elapsed, pending, blocked) = match &snap.transition {
        None => (
            Status::Ok,
            format!(
                "no transition, {} patch{} loaded, {enabled} enabled",
                snap.patches.len(),
                if snap.patches.len() == 1 { "" } else { "es" }
            ),
            0.0,
            0,
            0,
        ),
        Some(t) => {
            let elapsed = t.elapsed_seconds.unwrap_or(0.0);
            let known =
                t.started_at_source != StartSource::FirstSeen && t.elapsed_seconds.is_some();
            let status = if !known {
                Status::Warning
            } else if elapsed >= crit {
                Status::Critical
            } else if elapsed >= warn {
                Status::Warning
            } else {
                Status::Ok
            };
            let mut funcs: Vec<String> = snap
                .blocked_threads
                .iter()
                .filter_map(|b| b.blocking_function.as_deref())
                .map(|f| for_terminal(f).into_owned())
                .collect();
            funcs.sort_unstable();
            funcs.dedup();
            let age = if known {
                format!("for {}", fmt_secs(elapsed))
            } else {
                "(start time unknown: the kernel log is not readable)".to_string()
            };
            let threshold = match status {
                Status::Critical => format!(" (critical {})", fmt_secs(crit)),
                Status::Warning if known => format!(" (warning {})", fmt_secs(warn)),
                _ => String::new(),
            };
            let mut text = format!(
                "'{}' in transition to {} {age}{threshold}, {} of {} threads pending",
                for_terminal(&t.patch),
                t.target,
                t.threads_pending,
                t.threads_total
            );
            if !funcs.is_empty() {
                let shown: Vec<&str> = funcs.iter().take(3).map(String::as_str).collect();
                let _ = std::fmt::Write::write_fmt(
                    &mut text,
                    format_args!(
                        ", blocked in {}{}",
                        shown.join(", "),
                        if funcs.len() > 3 { ", ..." } else { "" }
                    ),
                );
            }
            (
                status,
                text,
                elapsed,
                t.threads_pending,
                snap.blocked_threads.len(),
            )
        }
    };
    if forced > 0 {
        status = status.max(Status::Warning);
        text.push_str("; a transition was forced on this kernel: plan a reboot");
    }
    let perf = format!(
        "patches={} enabled={enabled} transition_seconds={elapsed:.0}s;{warn:.0};{crit:.0};0 pending_threads={pending} blocked_threads={blocked} forced={forced}",
        snap.patches.len()
    );
    (
        status,
        format!("LIVEPATCH {} - {text} | {perf}", status.label()),
    )
}
