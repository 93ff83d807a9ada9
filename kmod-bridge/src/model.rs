//! The live-patch model: one snapshot of what the kernel says about its
//! live patches, the transition in progress and the threads that block it.
//!
//! Every source (FreeBSD MIB, Linux klp, simulator, dump) produces a
//! [`Snapshot`]; the console, the exporter and `status --json` consume it.
//! The serde form of [`Snapshot`] *is* the `status --json` schema, documented
//! field by field in `kmod-bridge/doc/status-json.md`. Keep the two in step:
//! renaming a field here is a breaking change of a public interface.
//!
//! Conventions: times are Unix seconds as `f64` (fractional, UTC); durations
//! are seconds as `f64`; `None` (JSON `null`) always means "the source does
//! not know", never "false" or "zero".

use serde::{Deserialize, Serialize};

/// Version of the `status --json` schema. Bumped on any incompatible change.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// One reading of the kernel's live-patch state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Schema version of this document ([`JSON_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Where the snapshot came from.
    pub source: SourceInfo,
    /// The kernel that was read.
    pub kernel: KernelInfo,
    /// When the snapshot was taken (Unix seconds).
    pub taken_at: f64,
    /// Every live patch the kernel knows, in the kernel's stacking order.
    pub patches: Vec<Patch>,
    /// The transition in progress, `None` when the kernel is idle.
    pub transition: Option<Transition>,
    /// Threads that hold the transition back, empty when idle.
    pub blocked_threads: Vec<BlockedThread>,
    /// Kernel-side lifetime counters, where the source has them.
    pub counters: Option<KernelCounters>,
    /// What this snapshot could not see, in plain words (for example stacks
    /// that need root, or tasks without a `/proc` entry). Empty means the
    /// view is complete.
    pub limitations: Vec<String>,
}

/// Which kind of source produced a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// FreeBSD live-patch kld, read through `kern.livepatch`.
    Freebsd,
    /// Linux livepatch (klp) through sysfs and procfs.
    Linux,
    /// The built-in simulated kernel.
    Sim,
    /// A captured `sysctl kern.livepatch` text dump.
    Dump,
}

impl SourceKind {
    /// Lower-case name as used on the command line and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Freebsd => "freebsd",
            SourceKind::Linux => "linux",
            SourceKind::Sim => "sim",
            SourceKind::Dump => "dump",
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a snapshot came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The source kind.
    pub kind: SourceKind,
    /// Human-readable location: sysfs/procfs roots, dump file, scenario.
    pub location: String,
    /// Whether the source accepts control writes (revert, force, signal).
    pub writable: bool,
}

/// The kernel that was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KernelInfo {
    /// Operating system: `FreeBSD`, `Linux`, or `simulated`.
    pub os: String,
    /// Kernel release string where known (`uname -r`, `kern.osrelease`).
    pub release: Option<String>,
    /// Live-patch interface version: the MIB's `abi_version` on FreeBSD and
    /// the simulator; `None` on Linux (klp has no version number).
    pub abi_version: Option<String>,
}

/// State of one live patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchState {
    /// Loaded but not active (Linux: disabled, waiting to be removed).
    Disabled,
    /// Fully active: every thread runs the new code.
    Enabled,
    /// Transition towards the patched state in progress.
    Patching,
    /// Transition back to the unpatched state in progress.
    Unpatching,
}

impl PatchState {
    /// Lower-case name, as in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::Disabled => "disabled",
            PatchState::Enabled => "enabled",
            PatchState::Patching => "patching",
            PatchState::Unpatching => "unpatching",
        }
    }

    /// Numeric code, as published by the FreeBSD MIB and the exporter.
    pub fn code(self) -> u8 {
        match self {
            PatchState::Disabled => 0,
            PatchState::Enabled => 1,
            PatchState::Patching => 2,
            PatchState::Unpatching => 3,
        }
    }

    /// Inverse of [`PatchState::code`].
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(PatchState::Disabled),
            1 => Some(PatchState::Enabled),
            2 => Some(PatchState::Patching),
            3 => Some(PatchState::Unpatching),
            _ => None,
        }
    }

    /// True while a transition of this patch is in progress.
    pub fn in_transition(self) -> bool {
        matches!(self, PatchState::Patching | PatchState::Unpatching)
    }
}

impl std::fmt::Display for PatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One live patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// Patch name (Linux: the module name; FreeBSD: the kld's patch name).
    pub name: String,
    /// The kernel's `enabled` flag. During unpatching this is already false.
    pub enabled: bool,
    /// Derived state.
    pub state: PatchState,
    /// Cumulative patch that replaces all older ones (`None`: not published,
    /// e.g. Linux before 6.11).
    pub replace: Option<bool>,
    /// Position in the stack of patches, 1 = oldest (`None`: not published,
    /// e.g. Linux before 6.13).
    pub stack_order: Option<u32>,
    /// Whether the patch's module carries a valid signature (`None`: unknown).
    pub signed: Option<bool>,
    /// Key that signed it, where the kernel says.
    pub signer: Option<String>,
    /// When the patch was loaded (Unix seconds), where known.
    pub loaded_at: Option<f64>,
    /// Objects (the kernel itself, or modules) the patch changes.
    pub objects: Vec<PatchObject>,
}

impl Patch {
    /// Number of functions replaced, over all objects.
    pub fn function_count(&self) -> usize {
        self.objects.iter().map(|o| o.functions.len()).sum()
    }
}

/// An object (`vmlinux`/`kernel` or a module) patched by a live patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchObject {
    /// Object name: `vmlinux` (Linux) or `kernel` (FreeBSD) for the kernel
    /// itself, else the module name.
    pub name: String,
    /// Whether the object's functions are patched now (`None`: not published,
    /// e.g. Linux before 6.1).
    pub patched: Option<bool>,
    /// Functions replaced in this object.
    pub functions: Vec<PatchFunction>,
}

/// One replaced function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchFunction {
    /// Symbol name of the function being replaced.
    pub name: String,
    /// Symbol position for ambiguous names (0 or 1: the only one).
    pub sympos: Option<u32>,
    /// Calls of the replacement function, where the source counts them.
    pub calls: Option<u64>,
}

/// Direction of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Threads are moving to the new code.
    Patched,
    /// Threads are moving back to the old code.
    Unpatched,
}

impl Target {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Patched => "patched",
            Target::Unpatched => "unpatched",
        }
    }

    /// Numeric code: 1 patched, 0 unpatched (Linux `patch_state` values).
    pub fn code(self) -> u8 {
        match self {
            Target::Patched => 1,
            Target::Unpatched => 0,
        }
    }

    /// The other direction.
    pub fn reversed(self) -> Self {
        match self {
            Target::Patched => Target::Unpatched,
            Target::Unpatched => Target::Patched,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the start time of a transition is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartSource {
    /// The kernel publishes it (FreeBSD MIB, simulator).
    Kernel,
    /// From the kernel log line `livepatch: '<p>': starting ... transition`.
    KernelLog,
    /// Not published: the time patchscope first saw the transition.
    FirstSeen,
}

/// The transition in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Name of the patch in transition.
    pub patch: String,
    /// Where the threads are going.
    pub target: Target,
    /// Start time (Unix seconds).
    pub started_at: Option<f64>,
    /// How `started_at` is known.
    pub started_at_source: StartSource,
    /// Seconds since `started_at` at `taken_at`.
    pub elapsed_seconds: Option<f64>,
    /// Threads taking part (that patchscope can see).
    pub threads_total: u64,
    /// Threads not yet moved to `target`.
    pub threads_pending: u64,
    /// Whether the transition was forced.
    pub forced: bool,
    /// Fake signals sent to blocked threads in this transition, where known.
    pub signals_sent: Option<u64>,
}

impl Transition {
    /// Threads already moved.
    pub fn threads_done(&self) -> u64 {
        self.threads_total.saturating_sub(self.threads_pending)
    }

    /// Fraction of threads moved, 0.0 ..= 1.0 (1.0 with no threads).
    pub fn progress(&self) -> f64 {
        if self.threads_total == 0 {
            1.0
        } else {
            self.threads_done() as f64 / self.threads_total as f64
        }
    }
}

/// A thread that holds the transition back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedThread {
    /// Thread id (Linux tid, FreeBSD td_tid).
    pub tid: u32,
    /// Process id the thread belongs to.
    pub pid: u32,
    /// Thread name (untrusted: sanitise before display).
    pub comm: String,
    /// Scheduler state letter: `R` running, `S` sleeping, `D`
    /// uninterruptible, `T` stopped, `Z` zombie, `I` idle, `?` unknown.
    pub state: String,
    /// Wait channel where published.
    pub wchan: Option<String>,
    /// The first stack frame that is a function of the patch in transition
    /// (`None`: no stack, or the thread is not inside a patched function).
    pub blocking_function: Option<String>,
    /// Stack frames, innermost first, as the kernel prints them
    /// (`msleep+0x29/0x40`). Empty when unreadable.
    pub stack: Vec<String>,
    /// Since when the kernel has seen it blocked (Unix seconds), where known.
    pub blocked_since: Option<f64>,
}

/// Kernel-side lifetime counters (FreeBSD MIB, simulator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelCounters {
    /// Transitions that reached their target.
    pub transitions_completed: u64,
    /// Transitions reversed before completing.
    pub transitions_reversed: u64,
    /// Transitions completed by force.
    pub transitions_forced: u64,
    /// Fake signals sent to blocked threads.
    pub signals_sent: u64,
}

impl Snapshot {
    /// The patch with this name.
    pub fn patch(&self, name: &str) -> Option<&Patch> {
        self.patches.iter().find(|p| p.name == name)
    }

    /// The patch in transition, if any.
    pub fn patch_in_transition(&self) -> Option<&Patch> {
        self.transition.as_ref().and_then(|t| self.patch(&t.patch))
    }
}

/// Extract the function name from a kernel stack frame.
///
/// Accepts Linux `/proc/<tid>/stack` lines (`[<0>] msleep+0x29/0x40`,
/// `[<0>] ps_fn+0x1c/0x40 [ps_target]`) and FreeBSD-style frames
/// (`sleepq_wait+0x2c`, `#3 0xffff... at foo+0x1`). Returns `None` for
/// lines with no recognisable symbol.
pub fn frame_function(frame: &str) -> Option<&str> {
    let mut s = frame.trim();
    // Linux: drop the "[<addr>] " prefix.
    if let Some(rest) = s.strip_prefix("[<") {
        s = rest.split_once("] ").map(|(_, r)| r).unwrap_or("").trim();
    }
    // FreeBSD ddb/kgdb style: "#3 0xffffffff80c0 at foo+0x1c".
    if let Some((_, rest)) = s.split_once(" at ") {
        s = rest.trim();
    }
    let sym = s.split(['+', ' ', '\t']).next().unwrap_or("");
    let valid = !sym.is_empty()
        && sym
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$');
    if valid && !sym.starts_with("0x") {
        Some(sym)
    } else {
        None
    }
}

/// The first frame of `stack` whose function is in `patched` (innermost
/// first, which is how both kernels print stacks).
pub fn find_blocking_function<I, S>(stack: &[String], patched: I) -> Option<&str>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<str>,
{
    stack.iter().filter_map(|f| frame_function(f)).find(|func| {
        patched
            .clone()
            .into_iter()
            .any(|p| strip_suffix_clone(p.as_ref()) == strip_suffix_clone(func))
    })
}

/// Compilers emit clones such as `foo.isra.0` or `foo.constprop.0`; the
/// kernel patches `foo`, and a stack may show either.
fn strip_suffix_clone(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_function_parses_linux_and_freebsd_frames() {
        assert_eq!(frame_function("[<0>] msleep+0x29/0x40"), Some("msleep"));
        assert_eq!(
            frame_function("[<0>] ps_target_func+0x1c/0x40 [ps_target]"),
            Some("ps_target_func")
        );
        assert_eq!(frame_function("sleepq_wait+0x2c"), Some("sleepq_wait"));
        assert_eq!(
            frame_function("#3 0xffffffff80c0 at vn_read+0x1c"),
            Some("vn_read")
        );
        assert_eq!(frame_function("[<0>] 0xffffffffc0a0"), None);
        assert_eq!(frame_function(""), None);
        assert_eq!(frame_function("\u{1b}[31m"), None);
    }

    #[test]
    fn blocking_function_is_first_patched_frame() {
        let stack: Vec<String> = [
            "[<0>] msleep+0x29/0x40",
            "[<0>] ps_target_func.isra.0+0x1c/0x40 [ps_target]",
            "[<0>] kthread+0xd7/0x100",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            find_blocking_function(&stack, ["kthread", "ps_target_func"]),
            Some("ps_target_func.isra.0")
        );
        assert_eq!(find_blocking_function(&stack, ["vfs_read"]), None);
    }

    #[test]
    fn progress_handles_empty_transition() {
        let t = Transition {
            patch: "p".into(),
            target: Target::Patched,
            started_at: None,
            started_at_source: StartSource::FirstSeen,
            elapsed_seconds: None,
            threads_total: 0,
            threads_pending: 0,
            forced: false,
            signals_sent: None,
        };
        assert_eq!(t.progress(), 1.0);
        let t = Transition {
            threads_total: 4,
            threads_pending: 1,
            ..t
        };
        assert_eq!(t.threads_done(), 3);
        assert!((t.progress() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn state_codes_round_trip() {
        for s in [
            PatchState::Disabled,
            PatchState::Enabled,
            PatchState::Patching,
            PatchState::Unpatching,
        ] {
            assert_eq!(PatchState::from_code(s.code() as i64), Some(s));
        }
        assert_eq!(PatchState::from_code(9), None);
    }
}
