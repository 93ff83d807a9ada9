#!/usr/bin/env python3
"""Prove each protection of docs/reliability.md by removing it.

For every row: apply a small mutation that removes one protection, run
the test that should catch it, and expect that test to FAIL. Runs in a
throw-away git worktree of HEAD (your working tree is never touched),
with its own target directory (target/spot-check: the first run builds
everything once).

    python3 tests/support/spot_check.py            # every row
    python3 tests/support/spot_check.py 3 7        # rows 3 and 7

A row printing "NOT APPLIED" means the code moved: update its strings.
"""
import os
import subprocess
import sys
import tempfile

ROOT = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                      text=True, check=True).stdout.strip()

# (protection, file, [(old, new), ...], cargo test arguments)
ROWS = [
    ("Linux: signature unknown without module signing", "kmod-bridge/src/source/linux/sysfs.rs",
     [("let signing = module_signing(sysfs);", "let signing = true;")],
     ["-p", "kmod-bridge", "--test", "linux_faults", "signature"]),
    ("Linux: 64 KiB cap on thread files", "kmod-bridge/src/source/linux/procfs.rs",
     [("let mut scratch = vec![0u8; files::MAX_FILE_BYTES as usize];",
       "let mut scratch = vec![0u8; 64 << 20];")],
     ["-p", "kmod-bridge", "--test", "linux_faults", "huge"]),
    ("Linux: 64 KiB cap on sysfs files", "kmod-bridge/src/source/linux/files.rs",
     [("file.take(MAX_FILE_BYTES)", "file.take(u64::MAX)")],
     ["-p", "kmod-bridge", "--lib", "reads_are_bounded"]),
    ("Linux: a vanished thread is skipped", "kmod-bridge/src/source/linux/procfs.rs",
     [("        Ok(b) => bytes_lossless(strip_newline(b)),\n        Err(Fail::Gone) => return None,",
       "        Ok(b) => bytes_lossless(strip_newline(b)),"),
      ("        Ok(b) => state_from_stat(b),\n        Err(Fail::Gone) => return None,",
       "        Ok(b) => state_from_stat(b),"),
      ("        Ok(b) => wchan_of(b),\n        Err(Fail::Gone) => return None,",
       "        Ok(b) => wchan_of(b),"),
      ("        Err(Fail::Gone) => return None,\n        Err(Fail::Denied) => (Vec::new(), StackRead::Denied),",
       "        Err(Fail::Gone) => (Vec::new(), StackRead::Read),\n        Err(Fail::Denied) => (Vec::new(), StackRead::Denied),")],
     ["-p", "kmod-bridge", "--test", "linux_snapshot", "vanishing_threads"]),
    ("Dump: a huge file refused before it is read", "kmod-bridge/src/source/dump.rs",
     [(".is_ok_and(|m| m.is_file() && m.len() > MAX_DUMP_BYTES)", ".is_ok_and(|_| false)")],
     ["-p", "kmod-bridge", "--test", "mib_faults", "huge_dump"]),
    ("Sanitiser escapes (CLI)", "kmod-bridge/src/sanitize.rs",
     [("        if is_unsafe_char(c) {\n            push_escape", "        if false {\n            push_escape")],
     ["--test", "hostile_text"]),
    ("Sanitiser escapes (console)", "kmod-bridge/src/sanitize.rs",
     [("        if is_unsafe_char(c) {\n            push_escape", "        if false {\n            push_escape")],
     ["-p", "patchscope-ui", "--test", "hostile_render"]),
    ("Console: one call site (stack title)", "ui/src/stack.rs",
     [('format!("Stack of tid {} ({})", t.tid, for_terminal(&t.comm))',
       'format!("Stack of tid {} ({})", t.tid, t.comm)')],
     ["-p", "patchscope-ui", "--test", "hostile_render"]),
    ("status --json escapes C1, DEL, bidi", "src/cmd_status.rs",
     [("let mut s = to_json_terminal_safe(&snap)?;", "let mut s = serde_json::to_string_pretty(&snap)?;")],
     ["--test", "hostile_text", "linux_status"]),
    ("Errors escaped but not cut", "src/main.rs",
     [("kmod_bridge::sanitize::escape_controls(&msg)", "kmod_bridge::sanitize::for_terminal(&msg)")],
     ["--test", "hostile_text", "errors_about"]),
    ("Linux control writes the real (non-UTF-8) path", "kmod-bridge/src/source/linux/control.rs",
     [("let path = resolve(src, plan, w);", "let path = PathBuf::from(&w.target);")],
     ["--test", "hostile_text", "linux_revert"]),
    ("Audit lines escaped", "kmod-bridge/src/audit.rs",
     [("crate::sanitize::escape_controls(target),", "target.to_string(),")],
     ["-p", "kmod-bridge", "--lib", "audit"]),
    ("Prometheus label values sanitised", "exporters/src/collector.rs",
     [("sanitize::for_terminal(raw).into_owned()", "raw.to_string()")],
     ["--test", "hostile_text", "linux_status"]),
    ("Precondition re-check, MIB sources", "kmod-bridge/src/source/freebsd/mod.rs",
     [("        plan.precondition.check(&snap, &plan.action.patch)?;\n        for w in &plan.writes {",
       "        let _ = &snap;\n        for w in &plan.writes {")],
     ["-p", "kmod-bridge", "--test", "mib_faults", "sim_"]),
    ("Precondition re-check, MIB, console flow", "kmod-bridge/src/source/freebsd/mod.rs",
     [("        plan.precondition.check(&snap, &plan.action.patch)?;\n        for w in &plan.writes {",
       "        let _ = &snap;\n        for w in &plan.writes {")],
     ["-p", "patchscope-ui", "--test", "hostile_controls", "sim_"]),
    ("Precondition re-check, Linux", "kmod-bridge/src/source/linux/control.rs",
     [("    plan.precondition.check(&snap, &plan.action.patch)?;", "    let _ = &snap;")],
     ["-p", "kmod-bridge", "--test", "linux_faults", "another_patch"]),
    ("Precondition re-check, Linux, console flow", "kmod-bridge/src/source/linux/control.rs",
     [("    plan.precondition.check(&snap, &plan.action.patch)?;", "    let _ = &snap;")],
     ["-p", "patchscope-ui", "--test", "hostile_controls", "linux_"]),
    ("Failed MIB writes are audited", "kmod-bridge/src/source/freebsd/mod.rs",
     [("crate::audit::log_write(", "let _ = (")],
     ["-p", "kmod-bridge", "--test", "mib_faults", "write_errors"]),
    ("MIB: pending > total is said", "kmod-bridge/src/source/freebsd/decode.rs",
     [("if transition.threads_pending > transition.threads_total {", "if false {")],
     ["-p", "kmod-bridge", "--test", "mib_faults", "garbage"]),
    ("Kernel log: tracked names capped", "kmod-bridge/src/source/linux/kmsg.rs",
     [("if self.starts.len() >= MAX_TRACKED && !self.starts.contains_key(&name) {", "if false {")],
     ["-p", "kmod-bridge", "--lib", "tracked_names"]),
    ("status: no visible thread is not 100%", "src/cmd_status.rs",
     [("if t.threads_total == 0 {", "if false {")],
     ["--test", "privilege", "status_without"]),
    ("Exporter: header read timeout (slow clients)", "exporters/src/server.rs",
     [(".header_read_timeout(state.read_header_timeout)", ".header_read_timeout(Duration::from_secs(3600))")],
     ["-p", "patchscope-exporters", "--test", "abuse_http", "slow_clients"]),
    ("Exporter: header read timeout (idle connections)", "exporters/src/server.rs",
     [(".header_read_timeout(state.read_header_timeout)", ".header_read_timeout(Duration::from_secs(3600))")],
     ["-p", "patchscope-exporters", "--test", "abuse_http", "idle_connections"]),
    ("Exporter: login cache", "exporters/src/server.rs",
     [("let outcome = match web.check_auth_cached(h.as_deref()) {", "let outcome = match None::<AuthOutcome> {")],
     ["-p", "patchscope-exporters", "--test", "abuse_http", "flood"]),
    ("Exporter: 400 for plain HTTP on the TLS port", "exporters/src/server.rs",
     [("if plain_http_on_tls(&tcp, deadline).await {", "if false {")],
     ["-p", "patchscope-exporters", "--test", "abuse_http", "plain_http"]),
]


def main():
    only = set(sys.argv[1:])
    target = os.path.join(ROOT, "target", "spot-check")
    env = dict(os.environ, CARGO_TARGET_DIR=target, CARGO_TERM_COLOR="never")
    env.pop("CI", None)
    wt = tempfile.mkdtemp(prefix="patchscope-spot-")
    subprocess.run(["git", "worktree", "add", "--detach", "-q", wt, "HEAD"], cwd=ROOT, check=True)
    failures = 0
    try:
        for i, (name, path, reps, args) in enumerate(ROWS):
            if only and str(i) not in only:
                continue
            f = os.path.join(wt, path)
            text = open(f).read()
            if not all(old in text for old, _ in reps):
                print(f"{i:2} {name}: NOT APPLIED (the code moved)", flush=True)
                failures += 1
                continue
            for old, new in reps:
                text = text.replace(old, new, 1)
            open(f, "w").write(text)
            p = subprocess.run(["cargo", "test"] + args, cwd=wt, env=env,
                               capture_output=True, text=True)
            subprocess.run(["git", "checkout", "-q", "--", path], cwd=wt, check=True)
            out = p.stdout + p.stderr
            failed = [l.split()[1] for l in out.splitlines()
                      if l.startswith("test ") and l.endswith("FAILED")]
            if p.returncode == 0:
                verdict = "NOT CAUGHT: the test passes without the protection"
                failures += 1
            elif not failed:
                verdict = "BUILD FAILED (fix the mutation)"
                failures += 1
            else:
                verdict = "caught by " + ", ".join(failed)
            print(f"{i:2} {name}: {verdict}", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", wt], cwd=ROOT)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
