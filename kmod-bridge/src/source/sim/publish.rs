//! The simulated kernel's state as `kern.livepatch` MIB nodes, exactly as
//! the FreeBSD module publishes them (contract: `doc/MIB.md`, names in
//! [`mib`]), so the simulator is read by the same decoder as a real box.

use std::sync::Arc;

use super::kernel::{Kernel, SimThread, ThreadTemplate};
use crate::model::PatchState;
use crate::source::freebsd::{MibValue, mib};

/// Leaf `kern.livepatch.patch.<p>.forced`: 1 once a transition was forced
/// while the patch was loaded (its module can never be unloaded). Not in
/// the ABI 1.0 layout of [`mib`]; readers ignore leaves they do not know.
pub const PATCH_FORCED_LEAF: &str = "forced";

/// Node components for `names`: [`mib::node_component`], made unique by a
/// `_2`, `_3`... suffix when two names map to the same component (the
/// module must do the same; the real name is in the `name` leaf).
pub fn components<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let base = mib::node_component(name);
        let mut comp = base.clone();
        let mut n = 2;
        while out.contains(&comp) {
            comp = format!("{base}_{n}");
            n += 1;
        }
        out.push(comp);
    }
    out
}

/// The components of the kernel's patches, in stacking order.
pub fn patch_components(k: &Kernel) -> Vec<String> {
    components(k.patches.iter().map(|p| p.name.as_str()))
}

/// Every node under `kern.livepatch`, in MIB order. `origin` is the Unix
/// second of kernel second 0; `now` the kernel clock (Unix seconds).
pub fn publish(k: &Kernel, origin: i64, now: i64) -> Vec<(String, MibValue)> {
    let mut out: Vec<(String, MibValue)> = Vec::with_capacity(64 + 16 * k.patches.len());
    let int = |out: &mut Vec<(String, MibValue)>, name: &str, v: i64| {
        out.push((name.to_string(), MibValue::Int(v)))
    };
    let unix = |rel: i64| origin + rel;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);

    out.push((
        mib::ABI_VERSION.into(),
        MibValue::Str(format!("{}.{}", mib::ABI_MAJOR, mib::ABI_MINOR)),
    ));
    int(&mut out, mib::ABI_MAJOR_NODE, i64::from(mib::ABI_MAJOR));
    int(&mut out, mib::ABI_MINOR_NODE, i64::from(mib::ABI_MINOR));
    out.push((mib::KERNEL.into(), MibValue::Str(k.release.clone())));
    int(&mut out, mib::TIME, now);
    int(&mut out, mib::NPATCHES, k.patches.len() as i64);
    int(&mut out, mib::BLOCKED_MAX, i64::from(k.blocked_max));
    int(&mut out, mib::STATS_COMPLETED, n(k.stats.completed));
    int(&mut out, mib::STATS_REVERSED, n(k.stats.reversed));
    int(&mut out, mib::STATS_FORCED, n(k.stats.forced));
    int(&mut out, mib::STATS_SIGNALS, n(k.stats.signals));

    match &k.transition {
        Some(tr) => {
            let listed = tr
                .blocked
                .iter()
                .take(usize::try_from(k.blocked_max).unwrap_or(usize::MAX));
            let mut blocked = String::new();
            // Threads share a dozen templates: encode each template's
            // fields once per read, not once per line (100,000 lines).
            let mut tails: Vec<(*const ThreadTemplate, String)> = Vec::new();
            for t in listed {
                let key = Arc::as_ptr(&t.tmpl);
                let tail = match tails.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        tails.push((key, line_tail(&t.tmpl)));
                        tails.len() - 1
                    }
                };
                blocked_line(
                    &mut blocked,
                    t,
                    origin,
                    tails.get(tail).map_or("", |(_, s)| s),
                );
            }
            int(&mut out, mib::TR_ACTIVE, 1);
            out.push((mib::TR_PATCH.into(), MibValue::Str(tr.patch.clone())));
            int(&mut out, mib::TR_TARGET, i64::from(tr.target.code()));
            int(&mut out, mib::TR_STARTED, unix(tr.started));
            int(&mut out, mib::TR_THREADS_TOTAL, n(tr.total));
            int(&mut out, mib::TR_THREADS_PENDING, n(tr.pending()));
            int(&mut out, mib::TR_FORCED, i64::from(tr.forced));
            int(&mut out, mib::TR_SIGNALS, n(tr.signals));
            int(&mut out, mib::TR_NBLOCKED, tr.blocked.len() as i64);
            out.push((mib::TR_BLOCKED.into(), MibValue::Str(blocked)));
        }
        None => {
            int(&mut out, mib::TR_ACTIVE, 0);
            out.push((mib::TR_PATCH.into(), MibValue::Str(String::new())));
            for node in [
                mib::TR_TARGET,
                mib::TR_STARTED,
                mib::TR_THREADS_TOTAL,
                mib::TR_THREADS_PENDING,
                mib::TR_FORCED,
                mib::TR_SIGNALS,
                mib::TR_NBLOCKED,
            ] {
                int(&mut out, node, 0);
            }
            out.push((mib::TR_BLOCKED.into(), MibValue::Str(String::new())));
        }
    }
    // The write-only triggers read as 0, as a real int sysctl does.
    int(&mut out, mib::TR_FORCE, 0);
    int(&mut out, mib::TR_SIGNAL, 0);

    use mib::patch_leaf as l;
    for ((order, p), comp) in k.patches.iter().enumerate().zip(patch_components(k)) {
        let base = format!("{}.{comp}", mib::PATCH_PREFIX);
        let leaf = |name: &str| format!("{base}.{name}");
        out.push((leaf(l::NAME), MibValue::Str(p.name.clone())));
        int(&mut out, &leaf(l::ENABLED), i64::from(p.enabled));
        int(&mut out, &leaf(l::STATE), i64::from(p.state.code()));
        int(&mut out, &leaf(l::REPLACE), i64::from(p.replace));
        int(&mut out, &leaf(l::STACK_ORDER), order as i64 + 1);
        int(&mut out, &leaf(l::SIGNED), p.signed);
        out.push((leaf(l::SIGNER), MibValue::Str(p.signer.clone())));
        int(&mut out, &leaf(l::LOADED), unix(p.loaded));
        int(&mut out, &leaf(l::NFUNCS), p.nfuncs() as i64);
        int(&mut out, &leaf(PATCH_FORCED_LEAF), i64::from(p.forced));
        let ocomps = components(p.objects.iter().map(|o| o.name.as_str()));
        for (o, ocomp) in p.objects.iter().zip(ocomps) {
            let obase = format!("{base}.{}.{ocomp}", l::OBJ);
            out.push((
                format!("{obase}.{}", l::OBJ_NAME),
                MibValue::Str(o.name.clone()),
            ));
            // Functions are patched from the start of patching to the end
            // of unpatching, and only in objects that are loaded.
            let patched = o.loaded && p.state != PatchState::Disabled;
            int(
                &mut out,
                &format!("{obase}.{}", l::OBJ_PATCHED),
                i64::from(patched),
            );
            let fcomps = components(o.functions.iter().map(|f| f.name.as_str()));
            for (f, fcomp) in o.functions.iter().zip(fcomps) {
                let fbase = format!("{obase}.{}.{fcomp}", l::FUNC);
                out.push((
                    format!("{fbase}.{}", l::OBJ_NAME),
                    MibValue::Str(f.name.clone()),
                ));
                int(
                    &mut out,
                    &format!("{fbase}.{}", l::FUNC_SYMPOS),
                    i64::from(f.sympos),
                );
                int(&mut out, &format!("{fbase}.{}", l::FUNC_CALLS), n(f.calls));
            }
        }
    }
    out
}

/// One field of a blocked-thread line: percent-encoded, [`mib::BLOCKED_EMPTY`]
/// when empty, and a value that is itself `-` written `%2D`.
fn push_field(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str(mib::BLOCKED_EMPTY);
    } else if s == mib::BLOCKED_EMPTY {
        out.push_str("%2D");
    } else {
        out.push_str(&mib::encode_field(s, None));
    }
}

/// The encoded `wchan \t blocking_function \t comm \t stack` of a template.
fn line_tail(tm: &ThreadTemplate) -> String {
    let mut out = String::new();
    push_field(&mut out, &tm.wchan);
    out.push('\t');
    push_field(&mut out, &tm.blocking);
    out.push('\t');
    // comm has no empty marker: a thread may well be called "-".
    out.push_str(&mib::encode_field(&tm.comm, None));
    out.push('\t');
    if tm.stack.is_empty() {
        out.push_str(mib::BLOCKED_EMPTY);
    } else {
        for (i, f) in tm.stack.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(&mib::encode_field(f, Some(b';')));
        }
    }
    out
}

/// Append the line of `t` ([`mib::BLOCKED_LINE_FORMAT`]); `tail` is
/// [`line_tail`] of its template.
fn blocked_line(out: &mut String, t: &SimThread, origin: i64, tail: &str) {
    use std::fmt::Write;
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = write!(
        out,
        "{}\t{}\t{}\t{}\t",
        t.tid,
        t.pid,
        t.tmpl.state,
        origin + t.since
    );
    out.push_str(tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_unique_and_safe() {
        assert_eq!(
            components(["lp-a", "lp_a", "lp.a", "b"]),
            ["lp_a", "lp_a_2", "lp_a_3", "b"]
        );
        assert_eq!(components([""]), ["_"]);
    }

    #[test]
    fn fields_mark_empty_and_dash() {
        let mut s = String::new();
        push_field(&mut s, "");
        s.push('|');
        push_field(&mut s, "-");
        s.push('|');
        push_field(&mut s, "a\tb\u{1b}");
        assert_eq!(s, "-|%2D|a%09b%1B");
        assert_eq!(mib::decode_field("%2D"), "-");
    }
}
