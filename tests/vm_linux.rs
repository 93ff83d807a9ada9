//! Real-kernel test: boots the pinned Debian cloud kernel under qemu (TCG)
//! and runs every scenario of `tests/vm/run` (livepatch completes, stalls,
//! is reverted, is forced, is replaced/stacked) with the real `patchscope`
//! binary inside the VM.
//!
//! Needs qemu-system-x86_64, busybox-static and the pinned kernel image and
//! headers (`tests/vm/setup` installs them, as root). Without them this test
//! skips with a message, except under CI (`CI` set), where it runs
//! `tests/vm/run` anyway: that installs what is missing and fails loudly if it
//! cannot. `PATCHSCOPE_VM=0` skips it outside CI. It takes a few minutes on
//! 2 cores; console logs of failed scenarios stay in `target/vm-logs/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What is missing for the VM tests, in plain words (empty: all there).
fn missing_tools(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let kver = Command::new(root.join("tests/vm/setup"))
        .arg("--print-kver")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(kver) = kver else {
        return vec!["tests/vm/setup --print-kver did not run".into()];
    };
    let on_path = |prog: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
            .unwrap_or(false)
    };
    for prog in ["qemu-system-x86_64", "python3", "cpio", "tmux"] {
        if !on_path(prog) {
            missing.push(format!("{prog} (not on PATH)"));
        }
    }
    let tools = std::env::var("PATCHSCOPE_TOOLS")
        .unwrap_or_else(|_| "/var/cache/patchscope-tools".to_string());
    for file in [
        format!("{tools}/prometheus/usr/bin/prometheus"),
        format!("/boot/vmlinuz-{kver}"),
        format!("/lib/modules/{kver}/kernel"),
        format!("/usr/src/linux-headers-{kver}/Makefile"),
        "/bin/busybox".to_string(),
    ] {
        if !Path::new(&file).exists() {
            missing.push(file);
        }
    }
    missing
}

#[test]
fn linux_livepatch_in_a_vm() {
    let root = root();
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !ci && std::env::var("PATCHSCOPE_VM").is_ok_and(|v| v == "0") {
        eprintln!("vm_linux: skipped (PATCHSCOPE_VM=0)");
        return;
    }
    let missing = missing_tools(&root);
    if !missing.is_empty() {
        if ci {
            eprintln!(
                "vm_linux: CI is set and these are missing: {}; running tests/vm/run, \
                 which installs them (and fails if it cannot)",
                missing.join(", ")
            );
        } else {
            eprintln!(
                "vm_linux: SKIPPED: missing {}. Install with `sudo tests/vm/setup`, \
                 then run `tests/vm/run` (or this test again).",
                missing.join(", ")
            );
            return;
        }
    }
    // Output goes straight to the terminal (not captured): the run takes
    // minutes and its per-scenario PASS/FAIL lines are the report.
    let status = Command::new(root.join("tests/vm/run"))
        .current_dir(&root)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "tests/vm/run failed ({s}): see the per-scenario report above and the \
             console logs in target/vm-logs/"
        ),
        Err(e) => panic!("cannot start tests/vm/run: {e}"),
    }
}
