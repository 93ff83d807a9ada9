//! `patchscope status`: the state once, as a table, JSON, or Prometheus
//! text for node_exporter's textfile collector.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context;
use kmod_bridge::model::{PatchState, Snapshot, StartSource};
use kmod_bridge::sanitize::{escape_controls, for_terminal};
use kmod_bridge::watch::fmt_secs;

use crate::cli::{StatusArgs, StatusFormat};

/// Blocked threads listed in the table; `--json` has them all.
const TABLE_THREADS: usize = 50;

/// Run `status`.
pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let format = if args.json {
        StatusFormat::Json
    } else {
        args.format
    };
    let read = crate::open::open(&args.source).and_then(|mut source| {
        source
            .snapshot()
            .with_context(|| format!("reading live-patch state from {}", source.location()))
    });
    let snap = match read {
        Ok(s) => s,
        Err(e) => {
            // For node_exporter's textfile collector an empty file would
            // hide the failure: write the failure gauge, then fail.
            if format == StatusFormat::Prometheus {
                print!("{}", crate::cmd_exporter::render_textfile_failed());
            }
            return Err(e);
        }
    };
    let out = match format {
        StatusFormat::Json => {
            let mut s = to_json_terminal_safe(&snap)?;
            s.push('\n');
            s
        }
        StatusFormat::Table => render_table(&snap),
        StatusFormat::Prometheus => crate::cmd_exporter::render_textfile(&snap)?,
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

/// Pretty JSON in which every character a terminal could interpret is a
/// `\uXXXX` escape: serde_json escapes only C0 controls, `"` and `\`, so
/// DEL, C1 controls (U+009B is CSI) and bidi overrides in thread or patch
/// names would otherwise reach a terminal raw through `status --json`.
/// Parsers see the same strings either way.
pub fn to_json_terminal_safe<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter::default());
    value.serialize(&mut ser)?;
    // The serializer writes UTF-8 only; the lossy path is never taken.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// serde_json's pretty formatter, escaping terminal-unsafe characters.
#[derive(Default)]
struct SafeFormatter(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest
            .char_indices()
            .find(|&(_, c)| kmod_bridge::sanitize::is_unsafe_char(c))
        {
            let (safe, tail) = rest.split_at(i);
            w.write_all(safe.as_bytes())?;
            // Unsafe characters are all in the Basic Multilingual Plane.
            write!(w, "\\u{:04x}", c as u32)?;
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
        w.write_all(rest.as_bytes())
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// The human-readable report. Every untrusted string goes through
/// [`for_terminal`].
pub fn render_table(snap: &Snapshot) -> String {
    let mut o = String::new();
    let k = &snap.kernel;
    let _ = writeln!(
        o,
        "source {} ({}), kernel {} {}{}",
        snap.source.kind,
        for_terminal(&snap.source.location),
        for_terminal(&k.os),
        for_terminal(k.release.as_deref().unwrap_or("(release unknown)")),
        k.abi_version
            .as_deref()
            .map(|v| format!(", livepatch ABI {}", for_terminal(v)))
            .unwrap_or_default()
    );
    let _ = writeln!(o);
    if snap.patches.is_empty() {
        let _ = writeln!(o, "no live patches loaded");
    } else {
        let w = snap
            .patches
            .iter()
            .map(|p| for_terminal(&p.name).chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 40);
        let _ = writeln!(
            o,
            "{:<w$}  {:<10}  {:<7}  {:<7}  {:<5}  {:<6}  {:>5}  OBJECTS",
            "PATCH", "STATE", "ENABLED", "REPLACE", "ORDER", "SIGNED", "FUNCS"
        );
        for p in &snap.patches {
            let objects: Vec<String> = p
                .objects
                .iter()
                .map(|ob| {
                    let mark = match ob.patched {
                        Some(true) => "",
                        Some(false) => " (not patched)",
                        None => "",
                    };
                    format!("{}{mark}", for_terminal(&ob.name))
                })
                .collect();
            let signed = match (p.signed, &p.signer) {
                (Some(true), Some(_)) => "yes",
                (s, _) => yes_no(s),
            };
            let _ = writeln!(
                o,
                "{:<w$}  {:<10}  {:<7}  {:<7}  {:<5}  {:<6}  {:>5}  {}",
                for_terminal(&p.name),
                p.state.as_str(),
                if p.enabled { "yes" } else { "no" },
                yes_no(p.replace),
                p.stack_order.map(|n| n.to_string()).unwrap_or("-".into()),
                signed,
                p.function_count(),
                objects.join(", ")
            );
        }
    }
    let _ = writeln!(o);
    match &snap.transition {
        None => {
            let _ = writeln!(o, "transition: none (idle)");
        }
        Some(t) => {
            let dir = match snap.patch(&t.patch).map(|p| p.state) {
                Some(PatchState::Unpatching) => "unpatching",
                _ => "patching",
            };
            let started = match (t.elapsed_seconds, t.started_at_source) {
                (Some(e), StartSource::FirstSeen) => {
                    format!("seen for {} (start time unknown)", fmt_secs(e))
                }
                (Some(e), StartSource::KernelLog) => {
                    format!("running for {} (from the kernel log)", fmt_secs(e))
                }
                (Some(e), StartSource::Kernel) => format!("running for {}", fmt_secs(e)),
                (None, _) => "start time unknown".to_string(),
            };
            let _ = writeln!(
                o,
                "transition: {dir} '{}' (target {}), {started}{}",
                for_terminal(&t.patch),
                t.target,
                if t.forced { ", FORCED" } else { "" }
            );
            let signals = t
                .signals_sent
                .map(|s| format!(", {s} fake signals sent"))
                .unwrap_or_default();
            if t.threads_total == 0 {
                // No thread visible is not "100% moved": without root, or
                // with only idle tasks left, nothing can be counted.
                let _ = writeln!(
                    o,
                    "  threads: none visible, progress unknown (see the notes below){signals}"
                );
            } else {
                let _ = writeln!(
                    o,
                    "  threads: {} of {} moved ({:.1}%), {} pending{signals}",
                    t.threads_done(),
                    t.threads_total,
                    t.progress() * 100.0,
                    t.threads_pending,
                );
            }
        }
    }
    if !snap.blocked_threads.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "blocked threads: {}", snap.blocked_threads.len());
        let shown = snap
            .blocked_threads
            .get(..snap.blocked_threads.len().min(TABLE_THREADS))
            .unwrap_or_default();
        let width = |f: &dyn Fn(&kmod_bridge::model::BlockedThread) -> usize| {
            shown.iter().map(f).max().unwrap_or(0).clamp(5, 32)
        };
        let cw = width(&|t| for_terminal(&t.comm).chars().count());
        let ww = width(&|t| {
            for_terminal(t.wchan.as_deref().unwrap_or("-"))
                .chars()
                .count()
        });
        let _ = writeln!(
            o,
            "{:>8}  {:>8}  {:<cw$}  {:<5}  {:<ww$}  BLOCKING FUNCTION / STACK",
            "TID", "PID", "COMM", "STATE", "WCHAN"
        );
        let indent = 8 + 2 + 8 + 2 + cw + 2 + 5 + 2 + ww;
        for t in shown {
            let _ = writeln!(
                o,
                "{:>8}  {:>8}  {:<cw$}  {:<5}  {:<ww$}  {}",
                t.tid,
                t.pid,
                for_terminal(&t.comm),
                for_terminal(&t.state),
                for_terminal(t.wchan.as_deref().unwrap_or("-")),
                for_terminal(
                    t.blocking_function
                        .as_deref()
                        .unwrap_or("(not in a patched function)")
                )
            );
            if !t.stack.is_empty() {
                let frames: Vec<String> = t
                    .stack
                    .iter()
                    .take(8)
                    .map(|f| {
                        let f = for_terminal(f.trim());
                        let func = kmod_bridge::model::frame_function(&f).map(str::to_string);
                        if func.is_some() && func.as_deref() == t.blocking_function.as_deref() {
                            format!(">{f}<")
                        } else {
                            f.into_owned()
                        }
                    })
                    .collect();
                let _ = writeln!(o, "{:>indent$}  stack: {}", "", frames.join(" < "));
            }
        }
        if snap.blocked_threads.len() > TABLE_THREADS {
            let _ = writeln!(
                o,
                "... and {} more (all of them: patchscope status --json)",
                snap.blocked_threads.len() - TABLE_THREADS
            );
        }
    }
    if let Some(c) = &snap.counters {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "kernel counters: {} transitions completed, {} reversed, {} forced, {} fake signals",
            c.transitions_completed, c.transitions_reversed, c.transitions_forced, c.signals_sent
        );
        if c.transitions_forced > 0 {
            let _ = writeln!(o, "  a transition was forced on this kernel: plan a reboot");
        }
    }
    if !snap.limitations.is_empty() {
        let _ = writeln!(o);
        for l in &snap.limitations {
            let _ = writeln!(o, "note: {}", escape_controls(l));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_terminals_interpret_and_parses_back() {
        let v = serde_json::json!({
            "comm": "a\u{1b}[2Jb\u{7f}c\u{9b}31md\u{202e}e\u{2066}f",
            "list": [1, "x\u{85}y"],
            "plain": "héllo \"q\" \\",
        });
        let s = to_json_terminal_safe(&v).unwrap();
        assert!(
            !s.chars()
                .any(|c| c != '\n' && kmod_bridge::sanitize::is_unsafe_char(c)),
            "{s:?}"
        );
        assert!(
            s.contains(r"a\u001b[2Jb\u007fc\u009b31md\u202ee\u2066f"),
            "{s}"
        );
        assert!(s.contains("héllo"), "{s}");
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
        // Same layout as serde_json's own pretty printer.
        let plain = serde_json::json!({"a": [1, {"b": null}], "c": "d"});
        assert_eq!(
            to_json_terminal_safe(&plain).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
    }
}
