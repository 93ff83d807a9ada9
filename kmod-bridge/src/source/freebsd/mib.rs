//! Names and encodings of the `kern.livepatch` MIB, ABI 1.0: the Rust side
//! of the contract in `kmod-bridge/doc/MIB.md` (C side:
//! `kmod-bridge/include/livepatch_mib.h`). Keep the three in step.
//!
//! Layout (`<p>` is a patch's node name, `<o>` an object's, `<f>` a
//! function's: each `[A-Za-z0-9_]`, the real name in its `name` leaf):
//!
//! ```text
//! kern.livepatch.abi_version              string  "1.0"
//! kern.livepatch.abi_major / abi_minor    uint
//! kern.livepatch.kernel                   string  kernel ident/release
//! kern.livepatch.time                     int64   kernel clock when read (optional)
//! kern.livepatch.npatches                 uint
//! kern.livepatch.blocked_max              uint RW tunable, lines listed in `blocked` (optional)
//! kern.livepatch.stats.{transitions_completed,transitions_reversed,
//!                       transitions_forced,signals_sent}   uint64 counters
//! kern.livepatch.transition.active        int     0/1
//! kern.livepatch.transition.patch         string  patch name ("" when idle)
//! kern.livepatch.transition.target        int     1 patched, 0 unpatched
//! kern.livepatch.transition.started       int64   Unix seconds (0 when idle)
//! kern.livepatch.transition.threads_total / threads_pending   uint
//! kern.livepatch.transition.forced        int     0/1
//! kern.livepatch.transition.signals       uint    fake signals this transition
//! kern.livepatch.transition.nblocked      uint    threads found blocked
//! kern.livepatch.transition.blocked       string  one line per blocked thread
//! kern.livepatch.transition.force         int RW  write 1: force
//! kern.livepatch.transition.signal        int RW  write 1: signal blocked threads
//! kern.livepatch.patch.<p>.name           string
//! kern.livepatch.patch.<p>.enabled        int RW  write 0: disable / reverse
//! kern.livepatch.patch.<p>.state          int     STATE_* code
//! kern.livepatch.patch.<p>.replace        int     0/1
//! kern.livepatch.patch.<p>.stack_order    uint    1 = oldest
//! kern.livepatch.patch.<p>.signed         int     SIG_* code
//! kern.livepatch.patch.<p>.signer         string  key id ("" if unsigned)
//! kern.livepatch.patch.<p>.loaded         int64   Unix seconds
//! kern.livepatch.patch.<p>.nfuncs         uint
//! kern.livepatch.patch.<p>.obj.<o>.name     string
//! kern.livepatch.patch.<p>.obj.<o>.patched  int   0/1
//! kern.livepatch.patch.<p>.obj.<o>.func.<f>.name    string
//! kern.livepatch.patch.<p>.obj.<o>.func.<f>.sympos  uint
//! kern.livepatch.patch.<p>.obj.<o>.func.<f>.calls   uint64 (optional)
//! ```

/// Root of the MIB.
pub const ROOT: &str = "kern.livepatch";
/// Major ABI version this build understands.
pub const ABI_MAJOR: u32 = 1;
/// Minor ABI version this build was written against (newer minors only add
/// nodes, and are accepted).
pub const ABI_MINOR: u32 = 0;

/// `kern.livepatch.abi_version`: `"MAJOR.MINOR"`.
pub const ABI_VERSION: &str = "kern.livepatch.abi_version";
/// `kern.livepatch.abi_major`.
pub const ABI_MAJOR_NODE: &str = "kern.livepatch.abi_major";
/// `kern.livepatch.abi_minor`.
pub const ABI_MINOR_NODE: &str = "kern.livepatch.abi_minor";
/// `kern.livepatch.kernel`: kernel ident, e.g. `14.1-RELEASE-p5 GENERIC`.
pub const KERNEL: &str = "kern.livepatch.kernel";
/// `kern.livepatch.npatches`.
pub const NPATCHES: &str = "kern.livepatch.npatches";
/// `kern.livepatch.time` (optional): the kernel's clock when the node is
/// read, Unix seconds. It tells a captured dump's reader when the dump was
/// taken, so elapsed times stay those of the capture.
pub const TIME: &str = "kern.livepatch.time";
/// `kern.livepatch.blocked_max` (optional, read-write tunable): the most
/// lines `transition.blocked` lists; `transition.nblocked` counts all.
pub const BLOCKED_MAX: &str = "kern.livepatch.blocked_max";
/// Default of [`BLOCKED_MAX`].
pub const BLOCKED_MAX_DEFAULT: u32 = 1024;

/// `kern.livepatch.stats.*` counters.
pub const STATS_COMPLETED: &str = "kern.livepatch.stats.transitions_completed";
/// Transitions reversed.
pub const STATS_REVERSED: &str = "kern.livepatch.stats.transitions_reversed";
/// Transitions forced.
pub const STATS_FORCED: &str = "kern.livepatch.stats.transitions_forced";
/// Fake signals sent, lifetime.
pub const STATS_SIGNALS: &str = "kern.livepatch.stats.signals_sent";

/// `kern.livepatch.transition.*`.
pub const TR_ACTIVE: &str = "kern.livepatch.transition.active";
/// Patch in transition.
pub const TR_PATCH: &str = "kern.livepatch.transition.patch";
/// Target: 1 patched, 0 unpatched.
pub const TR_TARGET: &str = "kern.livepatch.transition.target";
/// Start, Unix seconds.
pub const TR_STARTED: &str = "kern.livepatch.transition.started";
/// Threads taking part.
pub const TR_THREADS_TOTAL: &str = "kern.livepatch.transition.threads_total";
/// Threads not yet moved.
pub const TR_THREADS_PENDING: &str = "kern.livepatch.transition.threads_pending";
/// Forced flag.
pub const TR_FORCED: &str = "kern.livepatch.transition.forced";
/// Fake signals sent in this transition.
pub const TR_SIGNALS: &str = "kern.livepatch.transition.signals";
/// Number of blocked threads found by the last stack check.
pub const TR_NBLOCKED: &str = "kern.livepatch.transition.nblocked";
/// Blocked threads, one line each ([`BLOCKED_LINE_FORMAT`]).
pub const TR_BLOCKED: &str = "kern.livepatch.transition.blocked";
/// Writable: 1 forces the transition.
pub const TR_FORCE: &str = "kern.livepatch.transition.force";
/// Writable: 1 signals blocked threads.
pub const TR_SIGNAL: &str = "kern.livepatch.transition.signal";

/// Prefix of the per-patch subtrees.
pub const PATCH_PREFIX: &str = "kern.livepatch.patch";

/// Per-patch leaf names.
pub mod patch_leaf {
    /// Real patch name.
    pub const NAME: &str = "name";
    /// Enabled flag (writable: 0 disables or reverses).
    pub const ENABLED: &str = "enabled";
    /// State code.
    pub const STATE: &str = "state";
    /// Cumulative replace flag.
    pub const REPLACE: &str = "replace";
    /// Stack order, 1 = oldest.
    pub const STACK_ORDER: &str = "stack_order";
    /// Signature code.
    pub const SIGNED: &str = "signed";
    /// Signing key id.
    pub const SIGNER: &str = "signer";
    /// Load time, Unix seconds.
    pub const LOADED: &str = "loaded";
    /// Number of functions.
    pub const NFUNCS: &str = "nfuncs";
    /// Object subtree component.
    pub const OBJ: &str = "obj";
    /// Object/function real name leaf.
    pub const OBJ_NAME: &str = "name";
    /// Object patched flag.
    pub const OBJ_PATCHED: &str = "patched";
    /// Function subtree component.
    pub const FUNC: &str = "func";
    /// Function symbol position.
    pub const FUNC_SYMPOS: &str = "sympos";
    /// Function call counter.
    pub const FUNC_CALLS: &str = "calls";
}

/// Signature codes of `kern.livepatch.patch.<p>.signed`.
pub mod sig {
    /// Not signed.
    pub const UNSIGNED: i64 = 0;
    /// Signed, signature verified.
    pub const VERIFIED: i64 = 1;
    /// Signed, but the signature did not verify (patch was refused or
    /// loaded with the check overridden).
    pub const BAD: i64 = 2;
    /// Signature not checked.
    pub const UNKNOWN: i64 = 3;
}

/// Format of one line of `kern.livepatch.transition.blocked`:
/// tab-separated fields, each percent-encoded (bytes `< 0x20`, `0x7f`, `%`,
/// and in `stack` frames also `;`, as `%XX`):
///
/// `tid \t pid \t state \t blocked_since \t wchan \t blocking_function \t comm \t stack`
///
/// `state` is one letter (R S D T Z I, `?` unknown); `blocked_since` is Unix
/// seconds (0: unknown); `wchan`, `blocking_function` and `stack` are `-`
/// ([`BLOCKED_EMPTY`]) when empty; `stack` is frames `func+0xoff` separated
/// by `;`, innermost first. Writers also encode bytes that are not valid
/// UTF-8 (the C helper encodes every byte `>= 0x80`), so the node is plain
/// ASCII. Lines are separated by `\n`. Readers ignore extra trailing fields
/// (later minor versions may add some).
pub const BLOCKED_LINE_FORMAT: &str =
    "tid\tpid\tstate\tblocked_since\twchan\tblocking_function\tcomm\tstack";

/// Number of fields in a blocked-thread line of ABI 1.0.
pub const BLOCKED_FIELDS: usize = 8;

/// Written for an empty `wchan`, `blocking_function` or `stack` field (a
/// value that is itself `-` is written `%2D`).
pub const BLOCKED_EMPTY: &str = "-";

/// Value type of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// An integer node of any width (`I`, `IU`, `Q`, `QU`).
    Int,
    /// A string node (`A`).
    Str,
}

/// The type of a node of the ABI 1.x layout, `None` for names the layout
/// does not have (a newer minor's nodes, or names outside the MIB). Dumps
/// carry only text: this is how the dump reader knows what a value is.
pub fn node_type(name: &str) -> Option<NodeType> {
    use NodeType::{Int, Str};
    match name {
        ABI_VERSION | KERNEL | TR_PATCH | TR_BLOCKED => return Some(Str),
        ABI_MAJOR_NODE | ABI_MINOR_NODE | TIME | NPATCHES | BLOCKED_MAX | STATS_COMPLETED
        | STATS_REVERSED | STATS_FORCED | STATS_SIGNALS | TR_ACTIVE | TR_TARGET | TR_STARTED
        | TR_THREADS_TOTAL | TR_THREADS_PENDING | TR_FORCED | TR_SIGNALS | TR_NBLOCKED
        | TR_FORCE | TR_SIGNAL => return Some(Int),
        _ => {}
    }
    let rest = name.strip_prefix(PATCH_PREFIX)?.strip_prefix('.')?;
    let parts: Vec<&str> = rest.split('.').collect();
    use patch_leaf as l;
    match parts.as_slice() {
        [_, l::NAME | l::SIGNER] => Some(Str),
        [
            _,
            l::ENABLED | l::STATE | l::REPLACE | l::STACK_ORDER | l::SIGNED | l::LOADED | l::NFUNCS,
        ] => Some(Int),
        [_, l::OBJ, _, l::OBJ_NAME] => Some(Str),
        [_, l::OBJ, _, l::OBJ_PATCHED] => Some(Int),
        [_, l::OBJ, _, l::FUNC, _, l::OBJ_NAME] => Some(Str),
        [_, l::OBJ, _, l::FUNC, _, l::FUNC_SYMPOS | l::FUNC_CALLS] => Some(Int),
        _ => None,
    }
}

/// Turn a name into a MIB component: bytes outside `[A-Za-z0-9_]` become
/// `_`; an empty name becomes `_`. The real name goes in the `name` leaf.
pub fn node_component(name: &str) -> String {
    if name.is_empty() {
        return "_".to_string();
    }
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

/// Percent-encode one field of a blocked-thread line. `extra` is an
/// additional byte to encode (`;` inside stack frames).
pub fn encode_field(s: &str, extra: Option<u8>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let needs = c.is_ascii() && {
            let b = c as u8;
            b < 0x20 || b == 0x7f || b == b'%' || Some(b) == extra
        };
        if needs {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Decode a percent-encoded field; invalid escapes are kept literally and
/// invalid UTF-8 is shown as `\xNN`.
pub fn decode_field(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        // `%XX` is a byte; a `%` without two hex digits after it is itself.
        if c == b'%'
            && let [h, l, more @ ..] = tail
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            out.push(h << 4 | l);
            rest = more;
        } else {
            out.push(c);
            rest = tail;
        }
    }
    crate::sanitize::bytes_lossless(&out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_components_are_sysctl_safe() {
        assert_eq!(node_component("lp-fix_1.2"), "lp_fix_1_2");
        assert_eq!(node_component(""), "_");
        assert_eq!(node_component("zfs.ko"), "zfs_ko");
    }

    #[test]
    fn node_types_follow_the_layout() {
        assert_eq!(node_type(ABI_VERSION), Some(NodeType::Str));
        assert_eq!(node_type(TR_BLOCKED), Some(NodeType::Str));
        assert_eq!(node_type(TR_NBLOCKED), Some(NodeType::Int));
        assert_eq!(node_type(BLOCKED_MAX), Some(NodeType::Int));
        assert_eq!(
            node_type("kern.livepatch.patch.p.name"),
            Some(NodeType::Str)
        );
        assert_eq!(
            node_type("kern.livepatch.patch.p.state"),
            Some(NodeType::Int)
        );
        assert_eq!(
            node_type("kern.livepatch.patch.p.obj.kernel.func.f.name"),
            Some(NodeType::Str)
        );
        assert_eq!(
            node_type("kern.livepatch.patch.p.obj.kernel.func.f.calls"),
            Some(NodeType::Int)
        );
        assert_eq!(node_type("kern.livepatch.patch.p.future_leaf"), None);
        assert_eq!(node_type("kern.ostype"), None);
    }

    #[test]
    fn fields_round_trip() {
        for s in [
            "plain",
            "with\ttab",
            "100%",
            "a;b",
            "\u{1b}[31mred",
            "héllo",
            "",
        ] {
            assert_eq!(decode_field(&encode_field(s, Some(b';'))), s, "{s:?}");
        }
        assert_eq!(encode_field("a\tb%", None), "a%09b%25");
        assert_eq!(decode_field("%zz%4"), "%zz%4");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any field round-trips; any text decodes without panicking,
            /// stray `%` and truncated escapes included.
            #[test]
            fn fields_round_trip_and_never_panic(s in "\\PC{0,40}", junk in "[%0-9A-Fa-fzx;\\t]{0,40}") {
                prop_assert_eq!(decode_field(&encode_field(&s, Some(b';'))), s);
                let _ = decode_field(&junk);
                let c = node_component(&junk);
                prop_assert!(!c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            }
        }
    }
}
