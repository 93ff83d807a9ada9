//! The Linux livepatch (klp) source: sysfs for the patches, procfs for the
//! threads, the kernel log for when a transition started.
//!
//! # What is read
//!
//! * **Patches** (`sysfs.rs`): `<sysfs>/kernel/livepatch/<patch>/` with
//!   `enabled` and `transition` (required; garbage is a
//!   [`SourceError::Parse`] naming the file), `replace` (6.11+),
//!   `stack_order` (6.13+), `<object>/patched` (6.1+) and the function
//!   directories `<object>/<func,sympos>/`. Files an older kernel lacks are
//!   `None`. The state is `enabled` × `transition`: 1/0 enabled, 1/1
//!   patching, 0/1 unpatching, 0/0 disabled. Signature:
//!   `<sysfs>/module/<patch>/taint` holding `E` means unsigned; without `E`
//!   signed; no file, unknown. The kernel sets `E` only when it was built
//!   with module signing (`CONFIG_MODULE_SIG`, seen as
//!   `<sysfs>/module/module/parameters/sig_enforce`): without it every
//!   signature is unknown (`None`), never "signed".
//! * **Threads** (`procfs.rs`), only while a patch is in transition:
//!   `<procfs>/<pid>/task/<tid>/patch_state` of every thread. A thread is
//!   *pending* when its state is neither idle (-1) nor the target; every
//!   pending thread is reported as blocked, with `comm`, the state letter
//!   from `stat`, `wchan` and `stack`. Its blocking function is the first
//!   stack frame that is a function of the patch in transition; when
//!   unpatching, a frame inside the patch module itself (the replacement
//!   code, whose name sysfs does not list) counts too.
//! * **Start of the transition** (`kmsg.rs`): the latest
//!   `livepatch: '<p>': starting patching|unpatching transition` line of
//!   the kernel log, converted to Unix time with the boot time
//!   (`<procfs>/stat` `btime`, else `<procfs>/uptime`). When the log is
//!   unreadable or has no such line, the start is when this source first
//!   saw the transition ([`StartSource::FirstSeen`]). `forced` comes from
//!   the log's `forcing remaining tasks` line or from a force made through
//!   this source.
//! * The kernel release, from `<procfs>/sys/kernel/osrelease`.
//!
//! # Normal trouble
//!
//! A patch directory that vanishes while being read (unpatching completed)
//! is skipped; a thread that exits is skipped; missing privilege to read
//! `patch_state` or `stack` (both need root for others' threads) degrades
//! the view and is said in [`Snapshot::limitations`], as is a transition
//! with no visible pending thread (held by idle `swapper/N` tasks, which
//! have no `/proc` entry). None of these fail the snapshot.
//!
//! # Cost
//!
//! Reads are capped at 64 KiB per file. Idle (no transition), a snapshot
//! reads sysfs and the new kernel log lines only. During a transition the
//! thread scan (`procfs.rs`) reads every `patch_state` once with three
//! system calls (openat relative to the task directory, read, close) and
//! the details of pending threads only, on up to two threads: at 100,000
//! threads on tmpfs it takes about what the kernel interface costs a
//! minimal C program, or less with two workers. Figures, and the command
//! that measures them, in `docs/performance.md`.
//!
//! # Controls
//!
//! Each control is one sysfs write (`control.rs`):
//!
//! | action | file              | value | kernels |
//! |--------|-------------------|-------|---------|
//! | revert | `<patch>/enabled` | `0`; `1` while unpatching (writing the opposite value reverses a transition) | all |
//! | force  | `<patch>/force`   | `1`   | 4.15+ |
//! | signal | `<patch>/signal`  | `1`   | 4.15 .. 5.0 (automatic since 5.1) |
//!
//! [`Source::execute`] re-reads sysfs and refuses when the state no longer
//! matches the confirmed plan, logs every write with [`crate::audit`], and
//! translates the kernel's answer: EPERM/EACCES "needs root", EINVAL and
//! EBUSY the rule that refused it.

mod control;
mod files;
mod kmsg;
mod procfs;
mod sysfs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::control::{ControlAction, ControlError, ControlOutcome, ControlPlan};
use crate::error::SourceError;
use crate::model::{
    self, BlockedThread, KernelInfo, PatchState, Snapshot, SourceInfo, SourceKind, StartSource,
    Target, Transition,
};
use crate::source::{Capabilities, Source, unix_now};

/// Where the Linux source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxConfig {
    /// sysfs root (`--path.sysfs`, default `/sys`).
    pub sysfs: PathBuf,
    /// procfs root (`--path.procfs`, default `/proc`).
    pub procfs: PathBuf,
    /// Kernel log (`--path.kmsg`, default `/dev/kmsg`): the device, or a
    /// text file of `dmesg` output. `None`: do not read the log.
    pub kmsg: Option<PathBuf>,
}

impl Default for LinuxConfig {
    fn default() -> Self {
        Self {
            sysfs: PathBuf::from("/sys"),
            procfs: PathBuf::from("/proc"),
            kmsg: Some(PathBuf::from("/dev/kmsg")),
        }
    }
}

/// The Linux klp source. Keeps what the kernel does not publish across
/// snapshots: the kernel log read so far, when each transition was first
/// seen, and whether this source forced it.
pub struct LinuxSource {
    cfg: LinuxConfig,
    log: Option<kmsg::KernelLog>,
    boot_time: Option<f64>,
    /// `(patch, target)` of the current transition -> first seen (Unix s).
    first_seen: HashMap<(String, Target), f64>,
    /// The transition this source forced, while it lasts.
    forced_by_us: Option<(String, Target)>,
    /// Patches of the last read, for controls.
    patches: Vec<sysfs::SysfsPatch>,
    /// Read buffer reused by every file read.
    buf: Vec<u8>,
    /// Threads the thread scan may use (see [`LinuxSource::set_scan_workers`]).
    scan_workers: procfs::Workers,
}

impl LinuxSource {
    /// Open the source. Fails with [`SourceError::NotFound`] naming
    /// `<sysfs>/kernel/livepatch` when it does not exist.
    pub fn open(cfg: LinuxConfig) -> Result<LinuxSource, SourceError> {
        let dir = sysfs::livepatch_dir(&cfg.sysfs);
        if !dir.is_dir() {
            return Err(SourceError::NotFound {
                looked_for: format!(
                    "{} does not exist (kernels built with CONFIG_LIVEPATCH have it; --path.sysfs names another sysfs root)",
                    dir.display()
                ),
            });
        }
        Ok(LinuxSource {
            log: cfg.kmsg.clone().map(kmsg::KernelLog::new),
            cfg,
            boot_time: None,
            first_seen: HashMap::new(),
            forced_by_us: None,
            patches: Vec::new(),
            buf: Vec::with_capacity(4096),
            scan_workers: procfs::Workers::Auto,
        })
    }

    /// Set how many threads scan `/proc` during a transition; 0 (the
    /// default) decides per scan: two where the process may use two CPUs
    /// and the host's 1-minute load average is below the CPUs minus a
    /// half (a CPU to spare), else one. On a host
    /// with 100,000 threads two workers take about half the time, and never
    /// more than two cores of a host that is likely busy; scans of fewer
    /// than a few dozen processes always stay on the calling thread.
    pub fn set_scan_workers(&mut self, workers: usize) {
        self.scan_workers = match workers {
            0 => procfs::Workers::Auto,
            n => procfs::Workers::Exactly(n),
        };
    }

    /// Whether `<sysfs>/kernel/livepatch` exists (source `auto`).
    pub fn available(cfg: &LinuxConfig) -> bool {
        sysfs::livepatch_dir(&cfg.sysfs).is_dir()
    }

    /// The configuration.
    pub fn config(&self) -> &LinuxConfig {
        &self.cfg
    }

    fn sysfs_patch(&self, name: &str) -> Option<&sysfs::SysfsPatch> {
        self.patches.iter().find(|p| p.patch.name == name)
    }

    /// Take a snapshot; `scan_threads: false` reads sysfs only (what a
    /// control's precondition needs).
    fn read(&mut self, scan_threads: bool) -> Result<Snapshot, SourceError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.read_with(scan_threads, &mut buf);
        self.buf = buf;
        result
    }

    fn read_with(
        &mut self,
        scan_threads: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Snapshot, SourceError> {
        let taken_at = unix_now();
        let mut limitations = Vec::new();
        let sysfs_patches = sysfs::read_patches(&self.cfg.sysfs, buf, &mut limitations)?;
        let release = procfs::release(&self.cfg.procfs, buf);
        if self.boot_time.is_none() {
            self.boot_time = procfs::boot_time(&self.cfg.procfs, buf, taken_at);
        }
        if let Some(log) = self.log.as_mut() {
            log.refresh();
        }
        let mut patches: Vec<model::Patch> =
            sysfs_patches.iter().map(|p| p.patch.clone()).collect();
        if let (Some(log), Some(boot)) = (&self.log, self.boot_time) {
            for p in &mut patches {
                p.loaded_at = log.loaded_usec(&p.name).map(|u| boot + u as f64 / 1e6);
            }
        }

        let moving: Vec<&model::Patch> =
            patches.iter().filter(|p| p.state.in_transition()).collect();
        if moving.len() > 1 {
            let names: Vec<String> = moving.iter().map(|p| format!("'{}'", p.name)).collect();
            limitations.push(format!(
                "several patches report a transition ({}), which the kernel never does: showing the first",
                names.join(", ")
            ));
        }
        let mut transition = moving
            .first()
            .map(|p| self.transition_of(p, taken_at, &mut limitations));
        if transition.is_none() {
            self.first_seen.clear();
            self.forced_by_us = None;
        }

        let mut blocked_threads = Vec::new();
        if scan_threads
            && let Some(t) = transition.as_mut()
            && let Some(p) = moving.first()
        {
            blocked_threads = self.scan_threads(p, t, &mut limitations);
        }

        self.patches = sysfs_patches;
        Ok(Snapshot {
            schema_version: model::JSON_SCHEMA_VERSION,
            source: SourceInfo {
                kind: SourceKind::Linux,
                location: self.location(),
                writable: true,
            },
            kernel: KernelInfo {
                os: "Linux".to_string(),
                release,
                abi_version: None,
            },
            taken_at,
            patches,
            transition,
            blocked_threads,
            counters: None,
            limitations,
        })
    }

    /// The transition of `p` (which is in transition), with its start from
    /// the kernel log or first sight. Thread counts are filled by the scan.
    fn transition_of(
        &mut self,
        p: &model::Patch,
        taken_at: f64,
        limitations: &mut Vec<String>,
    ) -> Transition {
        let target = if p.state == PatchState::Patching {
            Target::Patched
        } else {
            Target::Unpatched
        };
        let key = (p.name.clone(), target);
        self.first_seen.retain(|k, _| *k == key);
        let first_seen = *self.first_seen.entry(key.clone()).or_insert(taken_at);
        if self.forced_by_us.as_ref().is_some_and(|f| *f != key) {
            self.forced_by_us = None;
        }
        let direction = match target {
            Target::Patched => "patching",
            Target::Unpatched => "unpatching",
        };
        let log_start = self
            .log
            .as_ref()
            .and_then(|l| l.start_of(&p.name))
            .filter(|s| s.target == target && !s.completed);
        let from_log = match (log_start.and_then(|s| s.usec), self.boot_time) {
            (Some(usec), Some(boot)) => Some(boot + usec as f64 / 1e6),
            _ => None,
        };
        let (started_at, started_at_source) = match from_log {
            Some(t) => (t, StartSource::KernelLog),
            None => {
                let problem = self.log.as_ref().and_then(|l| l.problem());
                let why = match (&self.log, problem, log_start) {
                    (None, _, _) => "no kernel log is read".to_string(),
                    (Some(_), Some(problem), _) => problem.to_string(),
                    (Some(log), None, None) => format!(
                        "the kernel log {} has no \"starting {direction} transition\" line for '{}' (overwritten, or the transition was reversed)",
                        log.path().display(),
                        p.name
                    ),
                    (Some(_), None, Some(s)) if s.usec.is_none() => {
                        "the kernel log line that started it has no timestamp".to_string()
                    }
                    (Some(_), None, Some(_)) => format!(
                        "the boot time is unknown ({} and {} unreadable)",
                        self.cfg.procfs.join("stat").display(),
                        self.cfg.procfs.join("uptime").display()
                    ),
                };
                limitations.push(format!(
                    "{why}: the start of the transition of '{}' is when patchscope first saw it",
                    p.name
                ));
                (first_seen, StartSource::FirstSeen)
            }
        };
        let forced =
            log_start.is_some_and(|s| s.forced) || self.forced_by_us.as_ref() == Some(&key);
        Transition {
            patch: p.name.clone(),
            target,
            started_at: Some(started_at),
            started_at_source,
            elapsed_seconds: Some((taken_at - started_at).max(0.0)),
            threads_total: 0,
            threads_pending: 0,
            forced,
            signals_sent: None,
        }
    }

    /// Count the threads of the transition and read the pending ones.
    fn scan_threads(
        &self,
        p: &model::Patch,
        t: &mut Transition,
        limitations: &mut Vec<String>,
    ) -> Vec<BlockedThread> {
        let scan = procfs::scan(&self.cfg.procfs, t.target, self.scan_workers);
        let functions: Vec<&str> = p
            .objects
            .iter()
            .flat_map(|o| o.functions.iter().map(|f| f.name.as_str()))
            .collect();
        let mut blocked = scan.blocked;
        for thread in &mut blocked {
            thread.blocking_function =
                blocking_function(&thread.stack, &functions, &p.name, t.target);
        }
        t.threads_total = scan.total;
        t.threads_pending = blocked.len() as u64;
        let (stack_denied, stack_denied_example) = (scan.stack_denied, scan.stack_denied_example);
        let (stack_failed, stack_failed_example) = (scan.stack_failed, scan.stack_failed_example);

        if let Some(e) = scan.listing_error {
            limitations.push(format!("{e}: threads not shown"));
        }
        if let Some(path) = scan.denied_example {
            limitations.push(format!(
                "reading {} needs root: {} threads could not be checked (without root only your own threads are readable)",
                path.display(),
                scan.denied
            ));
        }
        if let Some(example) = scan.unreadable_example {
            limitations.push(format!(
                "{} threads have an unreadable patch_state and are not counted ({example})",
                scan.unreadable
            ));
        }
        if let Some(path) = stack_denied_example {
            limitations.push(format!(
                "reading {} needs root: blocking functions unknown for {stack_denied} threads",
                path.display()
            ));
        }
        if let Some(why) = stack_failed_example {
            limitations.push(format!(
                "{why}: blocking functions unknown for {stack_failed} threads"
            ));
        }
        if blocked.is_empty() {
            limitations.push(format!(
                "no visible thread is pending, yet '{}' is still in transition: it is held by tasks with no /proc entry (idle tasks swapper/N) or by threads not visible without root, or it completes at the kernel's next try (about once a second)",
                p.name
            ));
        }
        blocked
    }
}

/// The blocking function of a stack: the first frame that is a function of
/// the patch in transition. When unpatching, the kernel checks the
/// *replacement* functions, which live in the patch module and may have
/// other names than the functions sysfs lists (`livepatch_foo` for `foo`):
/// a frame annotated with the patch module (`[<patch>]`) counts too.
fn blocking_function(
    stack: &[String],
    functions: &[&str],
    patch: &str,
    target: Target,
) -> Option<String> {
    stack.iter().find_map(|frame| {
        if let Some(f) =
            model::find_blocking_function(std::slice::from_ref(frame), functions.iter().copied())
        {
            return Some(f.to_string());
        }
        if target == Target::Unpatched && frame_module(frame) == Some(patch) {
            return model::frame_function(frame).map(str::to_string);
        }
        None
    })
}

/// The module of a Linux stack frame: `... foo+0x1/0x2 [module]`.
fn frame_module(frame: &str) -> Option<&str> {
    let s = frame.trim_end().strip_suffix(']')?;
    let (_, module) = s.rsplit_once(" [")?;
    Some(module)
}

impl Source for LinuxSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Linux
    }

    fn location(&self) -> String {
        format!(
            "sysfs {}, procfs {}",
            self.cfg.sysfs.display(),
            self.cfg.procfs.display()
        )
    }

    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        self.read(true)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            revert: true,
            force: true,
            signal: self.patches.iter().any(|p| p.has_signal) || has_signal_file(&self.cfg.sysfs),
        }
    }

    fn plan(&mut self, action: &ControlAction) -> Result<ControlPlan, ControlError> {
        control::plan(self, action)
    }

    fn execute(&mut self, plan: &ControlPlan) -> Result<ControlOutcome, ControlError> {
        control::execute(self, plan)
    }
}

/// Whether any patch has a `signal` file (Linux 4.15 .. 5.0), for
/// [`Source::capabilities`] before the first snapshot.
fn has_signal_file(sysfs: &Path) -> bool {
    std::fs::read_dir(sysfs::livepatch_dir(sysfs))
        .map(|d| d.flatten().any(|e| e.path().join("signal").exists()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn blocking_function_by_name_and_by_module() {
        let stack = s(&[
            "[<0>] msleep+0x29/0x40",
            "[<0>] livepatch_cmdline_proc_show+0x1c/0x40 [livepatch_sample]",
            "[<0>] cmdline_proc_show+0x1c/0x40",
        ]);
        let funcs = ["cmdline_proc_show"];
        assert_eq!(
            blocking_function(&stack, &funcs, "livepatch_sample", Target::Patched).as_deref(),
            Some("cmdline_proc_show")
        );
        assert_eq!(
            blocking_function(&stack, &funcs, "livepatch_sample", Target::Unpatched).as_deref(),
            Some("livepatch_cmdline_proc_show")
        );
        assert_eq!(
            blocking_function(&stack, &["vfs_read"], "other", Target::Unpatched),
            None
        );
        assert_eq!(blocking_function(&[], &funcs, "p", Target::Patched), None);
    }

    #[test]
    fn frame_modules() {
        assert_eq!(frame_module("[<0>] f+0x1/0x2 [mod]"), Some("mod"));
        assert_eq!(frame_module("[<0>] f+0x1/0x2"), None);
        assert_eq!(frame_module("[<0>] 0xffff"), None);
    }

    #[test]
    fn open_names_the_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LinuxConfig {
            sysfs: dir.path().to_path_buf(),
            ..LinuxConfig::default()
        };
        assert!(!LinuxSource::available(&cfg));
        let Err(err) = LinuxSource::open(cfg) else {
            panic!("open should fail")
        };
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{}/kernel/livepatch", dir.path().display())),
            "{msg}"
        );
        assert!(msg.contains("patchscope demo"), "{msg}");
    }
}
