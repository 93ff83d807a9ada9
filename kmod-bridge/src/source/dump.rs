//! The `dump:FILE` source: a captured `sysctl kern.livepatch` text output,
//! for offline analysis and bug reports.
//!
//! Accepted input is what FreeBSD's `sysctl(8)` prints:
//!
//! * `name: value` lines (`sysctl kern.livepatch`), or `name=value`
//!   (`sysctl -e kern.livepatch`);
//! * string values spanning several lines (the blocked-thread list): a line
//!   that does not start a node (`kern.livepatch.<name>:` or any other
//!   `name.name:` line) continues the previous string value. Blocked-thread
//!   lines start with a tid digit, so they never look like a node;
//! * the noise of `sysctl -a`: nodes outside `kern.livepatch` (and their
//!   continuation lines) are skipped;
//! * CRLF line ends and trailing whitespace (trimmed, so a string value's
//!   own trailing blanks are lost; MIB values never have any).
//!
//! Dumps carry only text: [`mib::node_type`] says which nodes are numbers;
//! nodes the layout does not know become [`MibValue::Int`] when their text
//! is a plain integer, else [`MibValue::Str`].
//!
//! A malformed dump (no `kern.livepatch` lines, text before the first node,
//! a truncated file, binary data) is a [`SourceError::Parse`] naming
//! `FILE:LINE` and what was wrong. [`render_dump`] writes the same format,
//! for the simulator and tests.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::freebsd::{MibSource, MibTree, MibValue, MibWriteError, decode, mib};
use crate::error::SourceError;
use crate::model::SourceKind;
use crate::sanitize;

/// Largest dump file read. A `sysctl -a` capture is a few MiB; anything far
/// larger is not a dump.
pub const MAX_DUMP_BYTES: u64 = 256 * 1024 * 1024;

/// Parse a dump's text into the leaves under `kern.livepatch`, in file
/// order. `origin` names the file in errors (`FILE:LINE`).
pub fn parse_dump(text: &str, origin: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
    Ok(parse_with_lines(text, origin)?.nodes)
}

/// Parsed nodes with the line each starts on, and the last line number.
struct Parsed {
    nodes: Vec<(String, MibValue)>,
    lines: Vec<usize>,
    last_line: usize,
}

/// What the previous node line was, for continuation lines.
enum Current {
    /// No node yet.
    Start,
    /// A `kern.livepatch` node: index into the output, and its type.
    Node {
        index: usize,
        ty: Option<mib::NodeType>,
        /// Blank continuation lines not yet known to be inside the value.
        pending_blank: usize,
    },
    /// A node outside `kern.livepatch` (`sysctl -a`), skipped.
    Noise,
}

/// Value under construction: text until the node's value is complete.
struct Pending {
    name: String,
    text: String,
    ty: Option<mib::NodeType>,
    line: usize,
}

fn parse_with_lines(text: &str, origin: &str) -> Result<Parsed, SourceError> {
    let at = |line: usize| format!("{origin}:{line}");
    let mut pending: Vec<Pending> = Vec::new();
    let mut current = Current::Start;
    let mut last_line = 0;
    let mut saw_noise = false;
    let mut seen: HashMap<String, usize> = HashMap::new();

    // `split('\n')` leaves an empty last piece after a final newline: skip it.
    let body = text.strip_suffix('\n').unwrap_or(text);
    for (i, raw) in body.split('\n').enumerate() {
        let lineno = i + 1;
        last_line = lineno;
        if let Some(pos) = raw.find('\0') {
            return Err(SourceError::parse(
                at(lineno),
                format!(
                    "binary data (NUL byte at column {}): this is not text printed by `sysctl kern.livepatch`",
                    pos + 1
                ),
            ));
        }
        let line = raw.trim_end_matches([' ', '\t', '\r']);
        if let Some((name, value)) = split_node_line(line) {
            if name.starts_with(mib::ROOT) && name.as_bytes().get(mib::ROOT.len()) == Some(&b'.') {
                if let Some(first) = seen.get(name) {
                    return Err(SourceError::parse(
                        at(lineno),
                        format!(
                            "{name} appears twice (first on line {first}): two captures pasted into one file?"
                        ),
                    ));
                }
                seen.insert(name.to_string(), lineno);
                let ty = mib::node_type(name);
                pending.push(Pending {
                    name: name.to_string(),
                    text: value.to_string(),
                    ty,
                    line: lineno,
                });
                current = Current::Node {
                    index: pending.len() - 1,
                    ty,
                    pending_blank: 0,
                };
            } else {
                saw_noise = true;
                current = Current::Noise;
            }
            continue;
        }
        if line.starts_with(mib::ROOT) && line.as_bytes().get(mib::ROOT.len()) == Some(&b'.') {
            // Blocked-thread lines start with a digit: this is a node line
            // cut short (or edited), not part of a value.
            return Err(SourceError::parse(
                at(lineno),
                format!(
                    "'{}' has no `: value`: the dump looks truncated (capture it again with `sysctl {} > FILE`)",
                    snippet(line),
                    mib::ROOT
                ),
            ));
        }
        // Not a node line: a continuation.
        match &mut current {
            Current::Start => {
                if line.is_empty() {
                    continue;
                }
                return Err(SourceError::parse(
                    at(lineno),
                    format!(
                        "expected a `name: value` line of `sysctl kern.livepatch`, found '{}'",
                        snippet(line)
                    ),
                ));
            }
            Current::Noise => {}
            Current::Node {
                index,
                ty,
                pending_blank,
            } => {
                if line.is_empty() {
                    // Blank lines end a file or separate nodes as often as
                    // they sit inside a value: keep them only if text follows.
                    *pending_blank += 1;
                    continue;
                }
                let Some(p) = pending.get_mut(*index) else {
                    continue;
                };
                if *ty == Some(mib::NodeType::Int) {
                    return Err(SourceError::parse(
                        at(lineno),
                        format!(
                            "unexpected text '{}' after the numeric node {} (line {}): not a `name: value` line",
                            snippet(line),
                            p.name,
                            p.line
                        ),
                    ));
                }
                for _ in 0..=*pending_blank {
                    p.text.push('\n');
                }
                *pending_blank = 0;
                p.text.push_str(line);
            }
        }
    }

    if pending.is_empty() {
        let what = if text.trim().is_empty() {
            "the file is empty".to_string()
        } else if saw_noise {
            format!(
                "no {} nodes (other sysctl nodes only): the livepatch module was not loaded when this was captured",
                mib::ROOT
            )
        } else {
            format!("no {} nodes", mib::ROOT)
        };
        return Err(SourceError::parse(
            at(last_line.max(1)),
            format!("{what}; capture one with `sysctl {} > FILE`", mib::ROOT),
        ));
    }

    let mut nodes = Vec::with_capacity(pending.len());
    let mut lines = Vec::with_capacity(pending.len());
    for p in pending {
        let value = match p.ty {
            Some(mib::NodeType::Str) => MibValue::Str(p.text),
            Some(mib::NodeType::Int) => {
                let t = p.text.trim();
                if t.is_empty() {
                    return Err(SourceError::parse(
                        at(p.line),
                        format!("{} has no value (is the dump cut short?)", p.name),
                    ));
                }
                match t.parse::<i64>() {
                    Ok(i) => MibValue::Int(i),
                    // u64 counters above i64::MAX stay text; the decoder
                    // reads them as u64.
                    Err(_) if t.parse::<u64>().is_ok() => MibValue::Str(t.to_string()),
                    Err(_) => {
                        return Err(SourceError::parse(
                            at(p.line),
                            format!("{}: '{}' is not a number", p.name, snippet(t)),
                        ));
                    }
                }
            }
            None => match p.text.parse::<i64>() {
                Ok(i) if i.to_string() == p.text => MibValue::Int(i),
                _ => MibValue::Str(p.text),
            },
        };
        nodes.push((p.name, value));
        lines.push(p.line);
    }
    Ok(Parsed {
        nodes,
        lines,
        last_line,
    })
}

/// Split `name: value` / `name=value` when `line` starts with a sysctl
/// name: lower-case letter first, components of `[A-Za-z0-9_%-]` joined by
/// dots, at least two components. `sysctl` prints one space after `:`.
fn split_node_line(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    if !b.first()?.is_ascii_lowercase() {
        return None;
    }
    let end = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'%' | b'-' | b'.')))?;
    let (name, rest) = line.split_at(end);
    if !name.contains('.') || name.ends_with('.') || name.contains("..") {
        return None;
    }
    let value = if let Some(v) = rest.strip_prefix(':') {
        v.strip_prefix(' ').unwrap_or(v)
    } else {
        rest.strip_prefix('=')?
    };
    Some((name, value))
}

/// A short, terminal-safe excerpt of a line for an error message.
fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    sanitize::for_terminal(&out).into_owned()
}

/// Write nodes exactly as `sysctl kern.livepatch` prints them: one
/// `name: value` line per node, string values raw (so a multi-line value
/// spans lines). `parse_dump(&render_dump(x), ..)` gives `x` back for
/// integer nodes and for string nodes whose lines have no trailing
/// whitespace and do not look like a node line.
pub fn render_dump(nodes: &[(String, MibValue)]) -> String {
    let size: usize = nodes
        .iter()
        .map(|(n, v)| {
            n.len()
                + 3
                + match v {
                    MibValue::Str(s) => s.len(),
                    MibValue::Int(_) => 20,
                }
        })
        .sum();
    let mut out = String::with_capacity(size);
    for (name, value) in nodes {
        out.push_str(name);
        out.push_str(": ");
        match value {
            MibValue::Int(i) => out.push_str(&i.to_string()),
            MibValue::Str(s) => out.push_str(s),
        }
        out.push('\n');
    }
    out
}

/// A parsed dump, read-only.
pub struct DumpTree {
    origin: String,
    nodes: Vec<(String, MibValue)>,
}

impl DumpTree {
    /// A tree over already-parsed nodes; `origin` names it in messages.
    pub fn new(origin: impl Into<String>, nodes: Vec<(String, MibValue)>) -> Self {
        Self {
            origin: origin.into(),
            nodes,
        }
    }

    /// The nodes, in file order.
    pub fn nodes(&self) -> &[(String, MibValue)] {
        &self.nodes
    }
}

impl MibTree for DumpTree {
    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
        if root == mib::ROOT {
            return Ok(self.nodes.clone());
        }
        Ok(self
            .nodes
            .iter()
            .filter(|(n, _)| {
                n.strip_prefix(root)
                    .is_some_and(|r| r.is_empty() || r.starts_with('.'))
            })
            .cloned()
            .collect())
    }

    fn write_int(&mut self, _node: &str, _value: i64) -> Result<(), MibWriteError> {
        Err(MibWriteError::ReadOnly)
    }

    fn location(&self) -> String {
        self.origin.clone()
    }

    fn writable(&self) -> bool {
        false
    }
}

/// Open a dump file: read it (at most [`MAX_DUMP_BYTES`]), parse it, and
/// check it decodes, so a truncated or malformed file fails here with
/// `FILE:LINE` rather than on every snapshot.
pub fn open(path: &Path) -> Result<MibSource<DumpTree>, SourceError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    if let Ok(meta) = file.metadata()
        && meta.is_dir()
    {
        return Err(SourceError::parse(
            origin,
            "is a directory; --source dump: needs a file written by `sysctl kern.livepatch > FILE`",
        ));
    }
    let too_big = || {
        SourceError::parse(
            origin.clone(),
            format!(
                "larger than {} MiB: not a `sysctl kern.livepatch` dump",
                MAX_DUMP_BYTES / (1024 * 1024)
            ),
        )
    };
    // A regular file says its size: refuse a huge one before reading it.
    // Pipes (`--source dump:/dev/stdin`) are cut at the limit below.
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > MAX_DUMP_BYTES)
    {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_DUMP_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::io(path, e))?;
    if bytes.len() as u64 > MAX_DUMP_BYTES {
        return Err(too_big());
    }
    // Binary files are refused here, where columns are still bytes.
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let before = bytes.get(..pos).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = pos
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        return Err(SourceError::parse(
            format!("{origin}:{line}"),
            format!(
                "binary data (NUL byte at column {column}): this is not text printed by `sysctl {}`",
                mib::ROOT
            ),
        ));
    }
    // Kernel strings need not be UTF-8; keep stray bytes visible as \xNN.
    let text = sanitize::bytes_lossless(&bytes);
    let parsed = parse_with_lines(&text, &origin)?;
    validate(&parsed, &origin)?;
    Ok(MibSource::new(
        DumpTree::new(origin, parsed.nodes),
        SourceKind::Dump,
    ))
}

/// Decode once, strictly, and turn node-named errors into `FILE:LINE` ones.
fn validate(parsed: &Parsed, origin: &str) -> Result<(), SourceError> {
    let line_of = |node: &str| {
        parsed
            .nodes
            .iter()
            .position(|(n, _)| n == node)
            .and_then(|i| parsed.lines.get(i).copied())
    };
    match decode::decode_strict(&parsed.nodes, crate::source::unix_now()) {
        Ok(_) => Ok(()),
        // A node missing, or disagreeing with what follows it: the file
        // ends early. Point at where it ends.
        Err(SourceError::Mib { node, message }) => {
            let what = if line_of(&node).is_some() {
                format!("the dump ends early: {node} {message}")
            } else {
                format!("the dump ends without {node} ({message})")
            };
            Err(SourceError::parse(
                format!("{origin}:{}", parsed.last_line),
                format!(
                    "{what}; it looks truncated (capture it again with `sysctl {} > FILE`)",
                    mib::ROOT
                ),
            ))
        }
        Err(SourceError::Parse { location, message }) => Err(match line_of(&location) {
            Some(line) => {
                SourceError::parse(format!("{origin}:{line}"), format!("{location}: {message}"))
            }
            None => SourceError::parse(format!("{origin}: {location}"), message),
        }),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> MibValue {
        MibValue::Str(v.to_string())
    }

    #[test]
    fn parses_colon_and_equals_forms() {
        let colon = "kern.livepatch.abi_version: 1.0\nkern.livepatch.npatches: 2\n";
        let eq = "kern.livepatch.abi_version=1.0\nkern.livepatch.npatches=2\n";
        let want = vec![
            ("kern.livepatch.abi_version".to_string(), s("1.0")),
            ("kern.livepatch.npatches".to_string(), MibValue::Int(2)),
        ];
        assert_eq!(parse_dump(colon, "f").unwrap(), want);
        assert_eq!(parse_dump(eq, "f").unwrap(), want);
    }

    #[test]
    fn multi_line_strings_continue_until_the_next_node() {
        let text = "kern.livepatch.transition.blocked: 1\t2\tD\n3\t4\tS\n\n5\t6\tR\nkern.livepatch.transition.force: 0\n";
        let nodes = parse_dump(text, "f").unwrap();
        assert_eq!(nodes[0].1, s("1\t2\tD\n3\t4\tS\n\n5\t6\tR"));
        assert_eq!(nodes[1].1, MibValue::Int(0));
    }

    #[test]
    fn crlf_trailing_blanks_and_sysctl_a_noise() {
        let text = "kern.ostype: FreeBSD\r\nkern.conftxt: options\tX\r\nident\tGENERIC\r\nkern.livepatch.kernel: 14.1-RELEASE GENERIC  \r\nkern.livepatch.transition.patch: \r\nkern.maxproc: 10 \r\n";
        let nodes = parse_dump(text, "f").unwrap();
        assert_eq!(
            nodes,
            vec![
                ("kern.livepatch.kernel".into(), s("14.1-RELEASE GENERIC")),
                ("kern.livepatch.transition.patch".into(), s("")),
            ]
        );
    }

    #[test]
    fn unknown_nodes_guess_their_type() {
        let text = "kern.livepatch.future_count: 42\nkern.livepatch.future_text: 0x2a\nkern.livepatch.future_pad: 007\n";
        let nodes = parse_dump(text, "f").unwrap();
        assert_eq!(nodes[0].1, MibValue::Int(42));
        assert_eq!(nodes[1].1, s("0x2a"));
        assert_eq!(nodes[2].1, s("007"));
    }

    #[test]
    fn malformed_dumps_name_file_and_line() {
        let err = |t: &str| parse_dump(t, "d.txt").unwrap_err().to_string();
        assert_eq!(
            err(""),
            "d.txt:1: the file is empty; capture one with `sysctl kern.livepatch > FILE`"
        );
        let e = err("kern.ostype: FreeBSD\nkern.hostname: a\n");
        assert!(
            e.starts_with("d.txt:2: no kern.livepatch nodes (other sysctl"),
            "{e}"
        );
        let e = err("$ sysctl kern.livepatch\nkern.livepatch.npatches: 0\n");
        assert!(
            e.starts_with("d.txt:1: expected a `name: value` line"),
            "{e}"
        );
        assert!(e.contains("'$ sysctl kern.livepatch'"), "{e}");
        let e = err("kern.livepatch.npatches: 0\nkern.livepatch.kernel: a\x00b\n");
        assert!(
            e.starts_with("d.txt:2: binary data (NUL byte at column 25)"),
            "{e}"
        );
        let e = err("kern.livepatch.npatches: two\n");
        assert_eq!(e, "d.txt:1: kern.livepatch.npatches: 'two' is not a number");
        let e = err("kern.livepatch.npatches: 1\ngarbage\n");
        assert!(e.starts_with("d.txt:2: unexpected text 'garbage' after the numeric node kern.livepatch.npatches (line 1)"), "{e}");
        let e = err("kern.livepatch.npatches:\n");
        assert!(
            e.starts_with("d.txt:1: kern.livepatch.npatches has no value"),
            "{e}"
        );
        let e = err("kern.livepatch.npatches: 1\nkern.livepatch.patch.a.ena\n");
        assert!(
            e.starts_with(
                "d.txt:2: 'kern.livepatch.patch.a.ena' has no `: value`: the dump looks truncated"
            ),
            "{e}"
        );
        let e = err("kern.livepatch.npatches: 1\nkern.livepatch.npatches: 2\n");
        assert!(
            e.starts_with("d.txt:2: kern.livepatch.npatches appears twice (first on line 1)"),
            "{e}"
        );
        // Escape sequences in the offending line are not echoed raw.
        let e = err("\u{1b}[2Jhello\n");
        assert!(e.contains("\\x1b[2Jhello"), "{e}");
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        let nodes = parse_dump("\n\nkern.livepatch.npatches: 0\n\n\n", "f").unwrap();
        assert_eq!(
            nodes,
            vec![("kern.livepatch.npatches".into(), MibValue::Int(0))]
        );
    }

    #[test]
    fn huge_counters_stay_exact() {
        let nodes = parse_dump(
            "kern.livepatch.stats.signals_sent: 18446744073709551615\n",
            "f",
        )
        .unwrap();
        assert_eq!(nodes[0].1, s("18446744073709551615"));
    }

    #[test]
    fn render_prints_sysctl_format() {
        let nodes = vec![
            ("kern.livepatch.abi_version".to_string(), s("1.0")),
            ("kern.livepatch.transition.patch".to_string(), s("")),
            (
                "kern.livepatch.transition.blocked".to_string(),
                s("1\ta\n2\tb"),
            ),
            ("kern.livepatch.npatches".to_string(), MibValue::Int(-3)),
        ];
        assert_eq!(
            render_dump(&nodes),
            "kern.livepatch.abi_version: 1.0\nkern.livepatch.transition.patch: \nkern.livepatch.transition.blocked: 1\ta\n2\tb\nkern.livepatch.npatches: -3\n"
        );
        assert_eq!(parse_dump(&render_dump(&nodes), "f").unwrap(), nodes);
    }

    #[test]
    fn dump_tree_is_read_only() {
        let mut t = DumpTree::new(
            "f",
            vec![
                ("kern.livepatch.npatches".into(), MibValue::Int(0)),
                ("kern.livepatch.patch.a.name".into(), s("a")),
                ("kern.livepatch.patchy".into(), MibValue::Int(1)),
            ],
        );
        assert_eq!(t.write_int(mib::TR_FORCE, 1), Err(MibWriteError::ReadOnly));
        assert!(!t.writable());
        assert_eq!(t.read_all(mib::ROOT).unwrap().len(), 3);
        assert_eq!(t.read_all(mib::PATCH_PREFIX).unwrap().len(), 1);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Node names of the layout (typed) and unknown ones.
        fn name() -> impl Strategy<Value = (String, Option<mib::NodeType>)> {
            prop_oneof![
                Just(mib::TR_BLOCKED.to_string()),
                Just(mib::KERNEL.to_string()),
                Just(mib::NPATCHES.to_string()),
                Just(mib::TR_STARTED.to_string()),
                "[a-z][a-z0-9_]{0,8}".prop_map(|c| format!("kern.livepatch.patch.{c}.name")),
                "[a-z][a-z0-9_]{0,8}".prop_map(|c| format!("kern.livepatch.patch.{c}.state")),
            ]
            .prop_map(|n| {
                let t = mib::node_type(&n);
                (n, t)
            })
        }

        /// A string value sysctl can print unambiguously: lines without
        /// trailing blanks that do not start with a lower-case letter
        /// (so they never look like node lines), no NUL, no CR.
        fn text() -> impl Strategy<Value = String> {
            proptest::collection::vec("[0-9A-Z%;#\\-][ -~\t\u{e9}\u{1b}]{0,20}[!-~]", 0..4)
                .prop_map(|lines| lines.join("\n"))
        }

        proptest! {
            #[test]
            fn parse_inverts_render(entries in proptest::collection::vec((name(), any::<i64>(), text()), 1..12)) {
                let mut seen = std::collections::HashSet::new();
                let nodes: Vec<(String, MibValue)> = entries
                    .into_iter()
                    .filter(|((n, _), _, _)| seen.insert(n.clone()))
                    .map(|((n, ty), i, t)| {
                        let v = match ty {
                            Some(mib::NodeType::Int) => MibValue::Int(i),
                            _ => MibValue::Str(t),
                        };
                        (n, v)
                    })
                    .collect();
                let back = parse_dump(&render_dump(&nodes), "p").unwrap();
                prop_assert_eq!(back, nodes);
            }

            #[test]
            fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
                let _ = parse_dump(&text, "p");
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let text = sanitize::bytes_lossless(&bytes);
                if let Ok(nodes) = parse_dump(&text, "p") {
                    let _ = decode::decode_strict(&nodes, 0.0);
                }
            }
        }
    }
}
