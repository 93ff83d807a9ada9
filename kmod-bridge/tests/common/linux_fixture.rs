//! A builder of Linux klp fixture trees: the real sysfs and procfs file
//! layout (as of the kernel versions named in [`Kernel`]) and a `dmesg`
//! text log, written into a temporary directory.
//!
//! Include it with `#[path = "common/linux_fixture.rs"] mod linux_fixture;`.
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used)] // test support: a failed setup is a failed test

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kmod_bridge::source::linux::LinuxConfig;

/// Boot time written to `<procfs>/stat` (`btime`).
pub const BTIME: u64 = 1_700_000_000;

/// Which kernel's sysfs layout a patch gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kernel {
    /// `enabled`, `transition`; no `force`.
    V4_12,
    /// `force` and `signal` (4.15 .. 5.0).
    V5_0,
    /// `force`, no `signal`, objects without `patched`.
    V5_10,
    /// `<object>/patched`.
    V6_1,
    /// `replace`.
    V6_11,
    /// `stack_order`.
    V6_13,
}

/// The fixture: roots and a log file. Removed when dropped (unless it was
/// opened with [`LinuxFixture::at`]).
pub struct LinuxFixture {
    _dir: Option<tempfile::TempDir>,
    pub root: PathBuf,
    pub sysfs: PathBuf,
    pub procfs: PathBuf,
    pub kmsg: PathBuf,
}

impl LinuxFixture {
    /// An empty klp tree: no patches, no threads, kernel 6.13.0, an empty
    /// kernel log.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fx = Self::layout(dir.path().to_path_buf(), Some(dir));
        fs::create_dir_all(fx.sysfs.join("kernel/livepatch")).unwrap();
        fs::create_dir_all(fx.sysfs.join("module")).unwrap();
        // A kernel with module signing (CONFIG_MODULE_SIG), as distribution
        // kernels are: taint `E` then means "unsigned".
        fx.module_signing(true);
        fs::create_dir_all(fx.procfs.join("sys/kernel")).unwrap();
        fs::write(fx.procfs.join("sys/kernel/osrelease"), "6.13.0-test\n").unwrap();
        fs::write(
            fx.procfs.join("stat"),
            format!("cpu  10 0 10 1000 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime {BTIME}\nprocesses 1\n"),
        )
        .unwrap();
        fs::write(fx.procfs.join("uptime"), "100.00 100.00\n").unwrap();
        fs::write(&fx.kmsg, "").unwrap();
        fx
    }

    /// An existing fixture tree at `root` (a child process re-running a
    /// test as another user).
    pub fn at(root: PathBuf) -> Self {
        Self::layout(root, None)
    }

    fn layout(root: PathBuf, dir: Option<tempfile::TempDir>) -> Self {
        Self {
            sysfs: root.join("sys"),
            procfs: root.join("proc"),
            kmsg: root.join("dmesg.txt"),
            root,
            _dir: dir,
        }
    }

    /// The source configuration for this tree.
    pub fn config(&self) -> LinuxConfig {
        LinuxConfig {
            sysfs: self.sysfs.clone(),
            procfs: self.procfs.clone(),
            kmsg: Some(self.kmsg.clone()),
        }
    }

    /// Whether the kernel was built with module signing: creates or removes
    /// `<sysfs>/module/module/parameters/sig_enforce`.
    pub fn module_signing(&self, on: bool) {
        let params = self.sysfs.join("module/module/parameters");
        if on {
            fs::create_dir_all(&params).unwrap();
            fs::write(params.join("sig_enforce"), "N\n").unwrap();
        } else {
            let _ = fs::remove_file(params.join("sig_enforce"));
        }
    }

    /// The directory of patch `name`.
    pub fn patch_dir(&self, name: &str) -> PathBuf {
        self.sysfs.join("kernel/livepatch").join(name)
    }

    /// Add an enabled patch with `kernel`'s layout.
    pub fn patch(&self, name: &str, kernel: Kernel) -> PatchFx {
        let dir = self.patch_dir(name);
        fs::create_dir_all(&dir).unwrap();
        let p = PatchFx {
            dir,
            module: self.sysfs.join("module").join(name),
            kernel,
        };
        p.set("enabled", "1\n");
        p.set("transition", "0\n");
        if kernel >= Kernel::V5_0 {
            // Write-only in the kernel (0200); owner-readable here so the
            // tests can check what was written.
            p.set("force", "");
            fs::set_permissions(p.dir.join("force"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        if kernel == Kernel::V5_0 {
            p.set("signal", "");
            fs::set_permissions(p.dir.join("signal"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        if kernel >= Kernel::V6_11 {
            p.set("replace", "0\n");
        }
        if kernel >= Kernel::V6_13 {
            p.set("stack_order", "1\n");
        }
        p
    }

    /// Add thread `tid` of process `pid` with `patch_state` -1 (idle),
    /// sleeping (`S`) with no wait channel and an empty stack.
    pub fn thread(&self, pid: u32, tid: u32) -> ThreadFx {
        let dir = self.procfs.join(format!("{pid}/task/{tid}"));
        fs::create_dir_all(&dir).unwrap();
        let t = ThreadFx { dir, tid };
        t.comm(format!("t{tid}").as_bytes());
        t.set("wchan", "0");
        t.set("stack", "");
        t.set("patch_state", "-1\n");
        t
    }

    /// Append lines to the kernel log.
    pub fn log(&self, lines: &[&str]) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.kmsg)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    /// Make every directory of the tree traversable and every file readable
    /// by other users except those whose mode was set on purpose, so a
    /// child process running as `nobody` sees the same tree.
    pub fn open_to_all(&self) {
        fn walk(p: &Path) {
            let meta = fs::symlink_metadata(p).unwrap();
            if meta.is_dir() {
                fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
                for e in fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path());
                }
            }
        }
        walk(&self.root);
    }
}

/// A patch being built.
pub struct PatchFx {
    pub dir: PathBuf,
    module: PathBuf,
    kernel: Kernel,
}

impl PatchFx {
    /// Write `<patch>/<leaf>` (creating parents).
    pub fn set(&self, leaf: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.dir.join(leaf);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, content).unwrap();
        self
    }

    /// Remove `<patch>/<leaf>`.
    pub fn remove(&self, leaf: &str) -> &Self {
        fs::remove_file(self.dir.join(leaf)).unwrap();
        self
    }

    /// Set `enabled` and `transition`.
    pub fn state(&self, enabled: bool, transition: bool) -> &Self {
        self.set("enabled", format!("{}\n", u8::from(enabled)));
        self.set("transition", format!("{}\n", u8::from(transition)));
        self
    }

    /// Add an object with functions given as `name,sympos`.
    pub fn object(&self, name: &str, patched: bool, funcs: &[&str]) -> &Self {
        let obj = self.dir.join(name);
        fs::create_dir_all(&obj).unwrap();
        if self.kernel >= Kernel::V6_1 {
            fs::write(obj.join("patched"), format!("{}\n", u8::from(patched))).unwrap();
        }
        for f in funcs {
            fs::create_dir_all(obj.join(f)).unwrap();
        }
        self
    }

    /// Write `<sysfs>/module/<patch>/taint`.
    pub fn taint(&self, flags: &str) -> &Self {
        fs::create_dir_all(&self.module).unwrap();
        fs::write(self.module.join("taint"), format!("{flags}\n")).unwrap();
        self
    }
}

/// A thread being built.
pub struct ThreadFx {
    pub dir: PathBuf,
    tid: u32,
}

impl ThreadFx {
    /// Write `<task>/<leaf>`.
    pub fn set(&self, leaf: &str, content: impl AsRef<[u8]>) -> &Self {
        fs::write(self.dir.join(leaf), content).unwrap();
        self
    }

    /// Remove `<task>/<leaf>`.
    pub fn remove(&self, leaf: &str) -> &Self {
        fs::remove_file(self.dir.join(leaf)).unwrap();
        self
    }

    /// Set `comm` (and the command in `stat`), raw bytes.
    pub fn comm(&self, name: &[u8]) -> &Self {
        let mut c = name.to_vec();
        c.push(b'\n');
        self.set("comm", c);
        self.stat('S')
    }

    /// Write `stat` with state letter `state`, using the current `comm`.
    pub fn stat(&self, state: char) -> &Self {
        let comm = fs::read(self.dir.join("comm")).unwrap_or_default();
        let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
        let mut stat = format!("{} (", self.tid).into_bytes();
        stat.extend_from_slice(comm);
        stat.extend_from_slice(
            format!(
                ") {state} 1 {0} {0} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n",
                self.tid
            )
            .as_bytes(),
        );
        self.set("stat", stat)
    }

    /// Set `patch_state` (-1 idle, 0 unpatched, 1 patched).
    pub fn patch_state(&self, s: i8) -> &Self {
        self.set("patch_state", format!("{s}\n"))
    }

    /// Set `wchan`.
    pub fn wchan(&self, w: &str) -> &Self {
        self.set("wchan", w)
    }

    /// Set `stack` to these frames (one per line).
    pub fn stack(&self, frames: &[&str]) -> &Self {
        let mut s = String::new();
        for f in frames {
            s.push_str(f);
            s.push('\n');
        }
        self.set("stack", s)
    }

    /// Set the mode of `<task>/<leaf>`.
    pub fn mode(&self, leaf: &str, mode: u32) -> &Self {
        fs::set_permissions(self.dir.join(leaf), fs::Permissions::from_mode(mode)).unwrap();
        self
    }
}

/// Effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

const CHILD_ENV: &str = "PATCHSCOPE_TEST_FIXTURE_ROOT";

/// Run the rest of a test without root privileges, where permission bits
/// matter. Returns the fixture to test with, or `None` when this (root)
/// process has delegated the test to a child process running as `nobody`
/// (which must pass) or could not.
///
/// * As a non-root user: builds the fixture and returns it.
/// * As root: builds the fixture (files owned by root, modes as `build`
///   set them), re-runs the test `name` as uid/gid 65534 against it, and
///   returns `None`.
/// * In that child: returns the fixture the parent built.
pub fn unprivileged(name: &str, build: impl FnOnce() -> LinuxFixture) -> Option<LinuxFixture> {
    if let Ok(root) = std::env::var(CHILD_ENV) {
        return Some(LinuxFixture::at(PathBuf::from(root)));
    }
    let fx = build();
    if euid() != 0 {
        return Some(fx);
    }
    fx.open_to_all();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &fx.root)
        .uid(65534)
        .gid(65534)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            println!("skipped: running {name} as uid 65534 failed to start: {e}");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} as uid 65534 failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in the child:\n{stdout}"
    );
    println!("ran {name} as uid 65534 (this process is root)");
    None
}

use std::os::unix::process::CommandExt;
