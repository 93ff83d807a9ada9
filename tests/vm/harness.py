#!/usr/bin/env python3
"""Host side of the patchscope real-kernel VM tests.

Boots the test VM once per scenario (qemu, TCG), collects the guest's
@@PS-marked blocks from the serial console (see guest/lib.sh) and checks what
`patchscope` reported against what the kernel itself showed (sysfs/procfs
snapshots and the kernel log taken in the same run).

Usage: harness.py --kernel VMLINUZ --initrd INITRD [--logs DIR]
                  [--kernel-only] [--keep-logs] [SCENARIO ...]

Exit status: 0 all scenarios passed, 1 any failed.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

MARK = re.compile(r"@@PS (BEGIN|END|MARK|NOBIN|BOOT|DONE|EXIT|TIMEOUT|ERROR)\b ?(.*)$")
KLOG = re.compile(r"^\[\s*(\d+\.\d+)\]\s+(.*)$")

QEMU_BASE = [
    "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "512",
    "-nographic", "-no-reboot", "-nic", "none",
]
APPEND = "console=ttyS0 panic=-1 loglevel=1 ps.scenario={}"
EXTRA_APPEND = []


# --------------------------------------------------------------------------
# parsing the console log


class Block:
    def __init__(self, label):
        self.label = label
        self.lines = []
        self.rc = None

    @property
    def text(self):
        return "\n".join(self.lines)


class Console:
    """The parsed serial console log of one boot."""

    def __init__(self, raw):
        self.raw = raw
        self.blocks = {}
        self.marks = {}
        self.nobin = set()
        self.done = False
        self.boot = None
        self.timeouts = []
        self.errors = []
        cur = None
        for line in raw.replace("\r", "").split("\n"):
            m = MARK.search(line)
            if not m:
                if cur is not None:
                    cur.lines.append(line)
                continue
            kind, rest = m.group(1), m.group(2)
            if kind == "BEGIN":
                cur = Block(rest.strip())
            elif kind == "END":
                parts = rest.split()
                if cur is not None and parts and parts[0] == cur.label:
                    rc = re.search(r"rc=(-?\d+)", rest)
                    cur.rc = int(rc.group(1)) if rc else None
                    self.blocks[cur.label] = cur
                cur = None
            elif kind == "MARK":
                parts = rest.split()
                kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
                self.marks[parts[0]] = (int(kv.get("epoch", 0)), float(kv.get("uptime", 0)))
            elif kind == "NOBIN":
                self.nobin.add(rest.strip())
            elif kind == "BOOT":
                self.boot = rest.strip()
            elif kind == "DONE":
                self.done = True
            elif kind == "TIMEOUT":
                self.timeouts.append(rest.strip())
            elif kind == "ERROR":
                self.errors.append(rest.strip())

    def boot_epoch(self):
        """Wall-clock time of uptime 0 in the guest, from the MARK lines."""
        vals = [e - u + 0.5 for e, u in self.marks.values()]  # epoch is floored
        return sum(vals) / len(vals) if vals else None

    def klog(self):
        b = self.blocks.get("k:dmesg")
        out = []
        if b:
            for line in b.lines:
                m = KLOG.match(line.strip())
                if m:
                    out.append((float(m.group(1)), m.group(2)))
        return out

    def klog_find(self, needle):
        return [(t, msg) for t, msg in self.klog() if needle in msg]


class KSnap:
    """A `ksnap` block: what the kernel showed, read straight from sysfs/procfs."""

    def __init__(self, block):
        self.files = {}
        self.unreadable = set()
        self.dirs = []
        self.tasks = []  # (pid, tid, state, comm)
        self.blocker = None
        self.blocker_wchan = None
        self.blocker_stat = None
        self.blocker_stack = []
        self.blocker2 = None
        self.blocker2_wchan = None
        self.blocker2_stat = None
        self.blocker2_stack = []
        self.target = {}
        self.cmdline = ""
        self.modules = {}
        self.epoch = None
        for line in block.lines:
            kind, _, rest = line.partition(" ")
            if kind == "file":
                path, _, val = rest.partition(" ")
                self.files[path] = val
            elif kind == "unreadable":
                self.unreadable.add(rest)
            elif kind == "dir":
                self.dirs.append(rest)
            elif kind == "task":
                p = rest.split(" ", 3)
                if len(p) >= 3:
                    self.tasks.append((int(p[0]), int(p[1]), int(p[2]), p[3] if len(p) > 3 else ""))
            elif kind == "blocker":
                self.blocker = int(rest)
            elif kind == "blocker_wchan":
                self.blocker_wchan = rest.strip()
            elif kind == "blocker_stat":
                self.blocker_stat = rest.strip()
            elif kind == "blocker_stack":
                self.blocker_stack.append(rest.strip())
            elif kind == "blocker2":
                self.blocker2 = int(rest)
            elif kind == "blocker2_wchan":
                self.blocker2_wchan = rest.strip()
            elif kind == "blocker2_stat":
                self.blocker2_stat = rest.strip()
            elif kind == "blocker2_stack":
                self.blocker2_stack.append(rest.strip())
            elif kind == "target":
                k, _, v = rest.partition("=")
                self.target[k] = v
            elif kind == "cmdline":
                self.cmdline = rest
            elif kind == "module":
                name, *kvs = rest.split()
                self.modules[name] = dict(kv.split("=", 1) for kv in kvs if "=" in kv)
            elif kind == "epoch":
                self.epoch = int(rest)

    def patches(self):
        return sorted(d for d in self.dirs if "/" not in d)

    def objects(self, patch):
        return sorted(d.split("/")[1] for d in self.dirs
                      if d.startswith(patch + "/") and d.count("/") == 1)

    def functions(self, patch, obj):
        """[(name, sympos)] from the `<func>,<sympos>` directories."""
        out = []
        for d in self.dirs:
            p = d.split("/")
            if len(p) == 3 and p[0] == patch and p[1] == obj:
                name, _, pos = p[2].rpartition(",")
                out.append((name, int(pos) if pos.isdigit() else None))
        return sorted(out)

    def all_pending(self, target):
        """A copy in which every task is still away from `target`, with the
        transition of this snapshot (or of its patch) still running."""
        import copy
        other = copy.copy(self)
        away = 0 if target == "patched" else 1
        other.tasks = [(p, t, away, c) for p, t, _, c in self.tasks]
        other.files = dict(self.files)
        for p in self.patches():
            other.files[p + "/transition"] = "1"
        return other

    def in_transition(self):
        return [p for p in self.patches() if self.files.get(p + "/transition") == "1"]

    def pending(self, target_code):
        """Tasks not yet at the target (-1 = idle: the transition ended while
        this snapshot was being taken, the task is not pending)."""
        return [t for t in self.tasks if t[2] not in (-1, target_code)]


# --------------------------------------------------------------------------
# checks


class Checks:
    def __init__(self, name, kernel_only):
        self.name = name
        self.kernel_only = kernel_only
        self.results = []  # (ok, what, detail)
        self.notes = []

    def ok(self, cond, what, detail=""):
        self.results.append((bool(cond), what, detail))
        return bool(cond)

    def eq(self, got, want, what):
        return self.ok(got == want, what, "" if got == want else f"got {got!r}, want {want!r}")

    def fail(self, what, detail=""):
        return self.ok(False, what, detail)

    def note(self, text):
        self.notes.append(text)

    @property
    def passed(self):
        return all(ok for ok, _, _ in self.results) and bool(self.results)


class Scenario:
    """Helpers shared by the scenario checks."""

    def __init__(self, con, chk):
        self.con = con
        self.c = chk

    # ---- blocks
    def block(self, label):
        return self.con.blocks.get(label)

    def actions_ok(self):
        for label, b in self.con.blocks.items():
            if label.startswith("do:"):
                self.c.ok(b.rc == 0, f"guest action {label} succeeded",
                          f"rc={b.rc}: {b.text.strip()[:300]}")
        for t in self.con.timeouts:
            self.c.fail("guest wait", f"timed out: {t}")
        for e in self.con.errors:
            self.c.fail("guest", e)

    def ksnap(self, label):
        b = self.block(label)
        if b is None:
            self.c.fail(f"kernel snapshot {label} present")
            return None
        return KSnap(b)

    def ran(self, label):
        """The block of a patchscope run, or None (with a failure) when missing."""
        if label in self.con.nobin:
            if self.c.kernel_only:
                return None
            self.c.fail(f"{label}: patchscope binary present in the VM")
            return None
        b = self.block(label)
        if b is None:
            if not self.c.kernel_only:
                self.c.fail(f"{label}: patchscope ran", "no output block (VM died?)")
            return None
        return b

    def stderr(self, label):
        b = self.block(label + ".stderr")
        return b.text if b else ""

    def status(self, label):
        """Parsed `status --json`, or None."""
        b = self.ran(label)
        if b is None:
            return None
        if not self.c.ok(b.rc == 0, f"{label}: status exit code 0",
                         f"rc={b.rc} stderr={self.stderr(label)[:300]!r}"):
            return None
        try:
            js = json.loads(b.text)
        except ValueError as e:
            self.c.fail(f"{label}: status --json is valid JSON", f"{e}: {b.text[:300]!r}")
            return None
        for key in ("source", "kernel", "patches", "transition", "blocked_threads"):
            self.c.ok(key in js, f"{label}: top-level key {key!r}")
        src = js.get("source")
        kind = src.get("kind") if isinstance(src, dict) else src
        self.c.eq(kind, "linux", f"{label}: source is linux")
        return js

    def exit_code(self, label, want, words=()):
        b = self.ran(label)
        if b is None:
            return None
        self.c.eq(b.rc, want, f"{label}: exit code")
        out = b.text + "\n" + self.stderr(label)
        for w in words:
            self.c.ok(w.lower() in out.lower(), f"{label}: output mentions {w!r}", out.strip()[:300])
        return b

    # ---- comparisons with the kernel
    @staticmethod
    def patch(js, name):
        for p in js.get("patches", []):
            if p.get("name") == name:
                return p
        return None

    def compare_patches(self, label, js, ks):
        """Every patch, object, function the kernel shows, as the kernel shows it."""
        if js is None or ks is None:
            return
        got = sorted(p.get("name") for p in js.get("patches", []))
        self.c.eq(got, ks.patches(), f"{label}: patch list matches /sys/kernel/livepatch")
        for name in ks.patches():
            p = self.patch(js, name)
            if p is None:
                continue
            en = ks.files.get(name + "/enabled")
            self.c.eq(p.get("enabled"), en == "1", f"{label}: {name}.enabled matches sysfs ({en})")
            tr = ks.files.get(name + "/transition")
            want_state = {("1", "0"): "enabled", ("0", "0"): "disabled",
                          ("1", "1"): "patching", ("0", "1"): "unpatching"}.get((en, tr))
            self.c.eq(p.get("state"), want_state,
                      f"{label}: {name}.state matches sysfs (enabled={en} transition={tr})")
            for attr, conv in (("replace", lambda v: v == "1"), ("stack_order", int)):
                if name + "/" + attr in ks.files:
                    self.c.eq(p.get(attr), conv(ks.files[name + "/" + attr]),
                              f"{label}: {name}.{attr} matches sysfs")
                else:
                    self.c.eq(p.get(attr), None,
                              f"{label}: {name}.{attr} is null (kernel has no {attr} attribute)")
            taint = ks.modules.get(name, {}).get("taint")
            if taint is not None:
                self.c.eq(p.get("signed"), "E" not in taint,
                          f"{label}: {name}.signed matches /sys/module/{name}/taint ({taint})")
            objs = {o.get("name"): o for o in p.get("objects", [])}
            self.c.eq(sorted(objs), ks.objects(name), f"{label}: {name} objects match sysfs")
            for oname in ks.objects(name):
                o = objs.get(oname)
                if o is None:
                    continue
                kp = ks.files.get(f"{name}/{oname}/patched")
                self.c.eq(o.get("patched"), None if kp is None else kp == "1",
                          f"{label}: {name}/{oname}.patched matches sysfs ({kp})")
                fns = sorted((f.get("name"), f.get("sympos")) for f in o.get("functions", []))
                kfns = ks.functions(name, oname)
                # the kernel names the directory <func>,<sympos> with sympos 1
                # when the patch gave 0 (unique symbol): accept 0, 1 or null for 1
                norm = lambda fs: sorted((n, 1 if s in (0, 1, None) else s) for n, s in fs)
                self.c.eq(norm(fns), norm(kfns), f"{label}: {name}/{oname} functions match sysfs")

    def compare_transition(self, label, js, ks, expect_patch=None, expect_target=None, pre=None):
        """The transition as the kernel shows it.  `pre`: a kernel snapshot
        taken just before patchscope's, for a transition that moves while
        it is read: patchscope's view must then lie between the two (tasks
        only ever move towards the target)."""
        if js is None or ks is None:
            return None
        tr = js.get("transition")
        ktr = ks.in_transition()
        pktr = pre.in_transition() if pre is not None else ktr
        if not ktr and not pktr:
            self.c.eq(tr, None, f"{label}: transition is null (kernel idle)")
            self.c.eq(js.get("blocked_threads"), [], f"{label}: no blocked threads (kernel idle)")
            return None
        if pre is not None and ktr != pktr and tr is None:
            self.c.note(f"{label}: the transition ended while it was being read (patchscope: idle)")
            return None
        ref = ks if ktr else pre
        kp = (ktr or pktr)[0]
        if not self.c.ok(tr is not None, f"{label}: transition reported (kernel: {kp} in transition)"):
            return None
        self.c.eq(tr.get("patch"), kp, f"{label}: transition.patch matches sysfs")
        ktarget = "patched" if ref.files.get(kp + "/enabled") == "1" else "unpatched"
        self.c.eq(tr.get("target"), ktarget, f"{label}: transition.target matches sysfs enabled")
        if expect_patch:
            self.c.eq(tr.get("patch"), expect_patch, f"{label}: transition.patch")
        if expect_target:
            self.c.eq(tr.get("target"), expect_target, f"{label}: transition.target")
        code = 1 if ktarget == "patched" else 0
        kpend = ks.pending(code) if ktr else []
        got_tids = sorted(b.get("tid") for b in js.get("blocked_threads", []))
        pend = tr.get("threads_pending")
        tot = tr.get("threads_total") or 0
        self.c.ok(abs(tot - len(ref.tasks)) <= 8, f"{label}: threads_total close to the kernel's task count",
                  f"got {tot}, kernel listed {len(ref.tasks)}")
        if pre is None:
            self.c.eq(pend, len(kpend),
                      f"{label}: threads_pending equals tasks whose patch_state != {code} "
                      f"({[(t[1], t[3]) for t in kpend][:20]})")
            self.c.eq(got_tids, sorted(t[1] for t in kpend),
                      f"{label}: blocked_threads are exactly the tasks with patch_state != {code}")
        else:
            ppend = pre.pending(code)
            self.c.ok(isinstance(pend, int) and len(kpend) <= pend <= len(ppend),
                      f"{label}: threads_pending between the kernel's counts before and after",
                      f"{len(ppend)} >= {pend} >= {len(kpend)}")
            pre_tids = {t[1] for t in pre.tasks}
            ppend_tids = {t[1] for t in ppend}
            after = {t[1] for t in kpend if t[1] in pre_tids}
            self.c.ok(after <= set(got_tids), f"{label}: still-pending tasks listed as blocked",
                      f"missing {sorted(after - set(got_tids))}")
            extra = {t for t in got_tids if t in pre_tids and t not in ppend_tids}
            self.c.eq(sorted(extra), [], f"{label}: no blocked thread that had already moved before")
        return tr

    def check_blocker(self, label, js, ks, which="", function="ps_target_func"):
        """A ps_blocker kthread (`which`: "" or "2") listed as blocked, in `function`."""
        if js is None or ks is None:
            return
        tid = getattr(ks, f"blocker{which}")
        kstack = getattr(ks, f"blocker{which}_stack")
        comm = f"ps_blocker{which}"
        if tid is None:
            self.c.fail(f"{label}: kernel snapshot shows {comm}")
            return
        bt = [b for b in js.get("blocked_threads", []) if b.get("tid") == tid]
        if not self.c.ok(bt, f"{label}: {comm} (tid {tid}) listed as blocked thread",
                         json.dumps(js.get("blocked_threads"))[:400]):
            return
        b = bt[0]
        self.c.eq(b.get("pid"), tid, f"{label}: {comm} pid")
        self.c.eq(b.get("comm"), comm, f"{label}: {comm} comm")
        bf = (b.get("blocking_function") or "").split(".")[0]
        self.c.eq(bf, function, f"{label}: {comm} blocking_function")
        self.c.eq(b.get("state"), getattr(ks, f"blocker{which}_stat"),
                  f"{label}: {comm} state matches /proc/PID/stat")
        self.c.eq(b.get("wchan"), getattr(ks, f"blocker{which}_wchan"),
                  f"{label}: {comm} wchan matches /proc/PID/wchan")
        stack = b.get("stack") or []
        self.c.ok(any(function in f for f in stack), f"{label}: {comm} stack shows {function}", repr(stack))
        kfuncs = [f.split("]", 1)[-1].strip().split("+")[0] for f in kstack]
        gfuncs = [f.split("]", 1)[-1].strip().split("+")[0] for f in stack]
        self.c.eq(gfuncs, kfuncs, f"{label}: {comm} stack functions match /proc/PID/stack")

    def check_started_at(self, label, tr, verb="patching", patch=None):
        """started_at comes from the kernel log line of this transition."""
        if tr is None:
            return
        patch = patch or tr.get("patch")
        self.c.eq(tr.get("started_at_source"), "kernel_log", f"{label}: started_at_source")
        lines = self.con.klog_find(f"'{patch}': starting {verb} transition")
        be = self.con.boot_epoch()
        if not self.c.ok(lines and be is not None, f"{label}: kernel log has the start line"):
            return
        want = be + lines[-1][0]
        got = tr.get("started_at")
        self.c.ok(isinstance(got, (int, float)) and abs(got - want) < 2.0,
                  f"{label}: started_at matches the kernel log line (±2 s)",
                  f"got {got}, kernel log says {want:.2f}")
        taken = tr.get("taken_at")
        el = tr.get("elapsed_seconds")
        if isinstance(got, (int, float)) and isinstance(el, (int, float)):
            self.c.ok(el >= 0, f"{label}: elapsed_seconds >= 0", str(el))
        return el


# --------------------------------------------------------------------------
# the scenarios


def sc_complete(s):
    """1. A livepatch that completes."""
    c = s.c
    s.actions_ok()
    kb = s.ksnap("k:before")
    js = s.status("ps:status.before")
    s.compare_patches("before", js, kb)
    s.compare_transition("before", js, kb)

    kd = s.ksnap("k:during")
    js = s.status("ps:status.during")
    if js is not None and kd is not None and js.get("transition") is not None:
        # no kernel snapshot before it (it would be too slow to catch the
        # transition): bound it by "every task still pending" from above
        s.compare_transition("during", js, kd, pre=kd.all_pending(js["transition"].get("target")))
    if js is not None:
        p = s.patch(js, "ps_lp_basic")
        c.ok(p is not None, "during: ps_lp_basic listed right after insmod")
        tr = js.get("transition")
        if tr is not None:
            c.note("status caught the transition in progress")
            c.eq(tr.get("patch"), "ps_lp_basic", "during: transition.patch")
            c.eq(tr.get("target"), "patched", "during: transition.target")
            s.check_started_at("during", tr)
            if p is not None:
                c.eq(p.get("state"), "patching", "during: state patching while in transition")
        else:
            c.note("the transition had completed before status ran")
            if p is not None:
                c.eq(p.get("state"), "enabled", "during: state enabled once complete")

    ka = s.ksnap("k:after")
    js = s.status("ps:status.after")
    if ka is not None:
        c.eq(ka.target.get("value"), "basic", "kernel: /proc/ps_target value=basic (ps_target_value patched)")
        c.eq(ka.cmdline, "ps_lp_basic", "kernel: /proc/cmdline replaced (cmdline_proc_show patched)")
        c.eq(ka.in_transition(), [], "kernel: no transition after completion")
    s.compare_patches("after", js, ka)
    s.compare_transition("after", js, ka)
    if js is not None:
        p = s.patch(js, "ps_lp_basic")
        if c.ok(p is not None, "after: ps_lp_basic listed"):
            c.eq(p.get("state"), "enabled", "after: state enabled")
            c.eq(p.get("enabled"), True, "after: enabled true")
            c.eq(p.get("signed"), False, "after: unsigned test module reported signed=false")
            objs = {o.get("name"): o for o in p.get("objects", [])}
            for oname, fname in (("vmlinux", "cmdline_proc_show"), ("ps_target", "ps_target_value")):
                o = objs.get(oname)
                if c.ok(o is not None, f"after: object {oname} listed"):
                    c.eq(o.get("patched"), True, f"after: object {oname} patched")
                    c.eq([f.get("name") for f in o.get("functions", [])], [fname],
                         f"after: object {oname} functions")
    s.exit_code("ps:check.after", 0, ["OK"])

    kx = s.ksnap("k:disabled")
    js = s.status("ps:status.disabled")
    if kx is not None:
        c.eq(kx.target.get("value"), "original", "kernel: value back to original after disable")
        c.ok(kx.cmdline.startswith("console="), "kernel: /proc/cmdline original after disable", kx.cmdline)
    s.compare_patches("disabled", js, kx)
    s.compare_transition("disabled", js, kx)


def sc_stall(s):
    """2. A stalled transition held by a kernel thread."""
    c = s.c
    s.actions_ok()
    js = s.status("ps:status.early")
    if js is not None:
        tr = js.get("transition")
        c.ok(tr is not None and tr.get("patch") == "ps_lp_stall", "early: transition of ps_lp_stall reported",
             json.dumps(tr))
    ks = s.ksnap("k:stalled")
    js = s.status("ps:status.stalled")
    if ks is not None:
        c.eq(ks.in_transition(), ["ps_lp_stall"], "kernel: ps_lp_stall in transition")
        c.eq([t[3] for t in ks.pending(1)], ["ps_blocker"], "kernel: only ps_blocker still unpatched")
        c.ok(any("ps_target_func" in f for f in ks.blocker_stack), "kernel: ps_blocker sleeps in ps_target_func",
             repr(ks.blocker_stack))
    s.compare_patches("stalled", js, ks)
    tr = s.compare_transition("stalled", js, ks, "ps_lp_stall", "patched")
    s.check_blocker("stalled", js, ks)
    if tr is not None:
        p = s.patch(js, "ps_lp_stall")
        c.eq(p and p.get("state"), "patching", "stalled: state patching")
        c.eq(tr.get("forced"), False, "stalled: forced false")
        c.ok((tr.get("threads_pending") or 0) >= 1, "stalled: threads_pending >= 1")
        el = s.check_started_at("stalled", tr)
        c.ok(isinstance(el, (int, float)) and el >= 5.0, "stalled: elapsed_seconds >= 5 (slept 7 s after insmod)",
             str(el))
        st = tr.get("started_at")
        t0 = s.con.marks.get("insmod.start")
        t1 = s.con.marks.get("insmod.end")
        if t0 and t1 and isinstance(st, (int, float)):
            c.ok(t0[0] - 1 <= st <= t1[0] + 2, "stalled: started_at lies between the insmod marks",
                 f"{t0[0]} <= {st} <= {t1[0] + 1}")
    s.exit_code("ps:check.crit", 2, ["CRITICAL", "ps_lp_stall"])
    s.exit_code("ps:check.warn", 1, ["WARNING"])
    s.exit_code("ps:check.ok", 0, ["OK"])

    ka = s.ksnap("k:after")
    js = s.status("ps:status.after")
    if ka is not None:
        c.eq(ka.in_transition(), [], "kernel: transition completed after releasing the thread")
    s.compare_patches("after", js, ka)
    s.compare_transition("after", js, ka)
    if js is not None:
        p = s.patch(js, "ps_lp_stall")
        c.eq(p and p.get("state"), "enabled", "after: ps_lp_stall enabled")
    s.exit_code("ps:check.after", 0, ["OK"])
    c.ok(s.con.klog_find("'ps_lp_stall': patching complete"), "kernel log: patching complete")


def sc_revert(s):
    """3. Revert during the stalled transition; the reversed transition held
    by ps_blocker2 in the replacement function, then released."""
    c = s.c
    s.actions_ok()
    ks = s.ksnap("k:stalled")
    js = s.status("ps:status.stalled")
    if ks is not None:
        c.eq([t[3] for t in ks.pending(1)], ["ps_blocker"], "kernel: only ps_blocker unpatched while stalled")
        c.ok(any("livepatch_ps_target_func" in f for f in ks.blocker2_stack),
             "kernel: ps_blocker2 sleeps in the replacement function", repr(ks.blocker2_stack))
    s.compare_patches("stalled", js, ks)
    s.compare_transition("stalled", js, ks, "ps_lp_stall", "patched")
    s.check_blocker("stalled", js, ks)

    s.exit_code("ps:revert", 0, ["ps_lp_stall", "enabled"])
    # 6.1 logs the reversal itself ("reversing transition from patching")
    # at debug level only; what it prints is a new start line
    starts = s.con.klog_find("'ps_lp_stall': starting unpatching transition")
    c.ok(starts, "kernel log: transition reversed (starting unpatching transition)")
    c.ok(s.con.klog_find("'ps_lp_stall': unpatching complete"), "kernel log: unpatching complete")

    kr = s.ksnap("k:reverting")
    js = s.status("ps:status.reverting")
    if kr is not None:
        c.eq(kr.in_transition(), ["ps_lp_stall"], "kernel: reversed transition still running")
        c.eq(kr.files.get("ps_lp_stall/enabled"), "0", "kernel: enabled=0 after the revert")
        c.eq([t[3] for t in kr.pending(0)], ["ps_blocker2"], "kernel: only ps_blocker2 still patched")
    s.compare_patches("reverting", js, kr)
    tr = s.compare_transition("reverting", js, kr, "ps_lp_stall", "unpatched")
    s.check_blocker("reverting", js, kr, which="2", function="livepatch_ps_target_func")
    if tr is not None:
        p = s.patch(js, "ps_lp_stall")
        c.eq(p and p.get("state"), "unpatching", "reverting: state unpatching")
        c.eq(p and p.get("enabled"), False, "reverting: enabled false")
        c.eq(tr.get("forced"), False, "reverting: forced false")
        s.check_started_at("reverting", tr, verb="unpatching")
        m = s.con.marks.get("revert.start")
        st = tr.get("started_at")
        if m and isinstance(st, (int, float)):
            c.ok(st >= m[0] - 1, "reverting: started_at is the reversal, not the original start",
                 f"started_at {st} < revert at {m[0]}")
    s.exit_code("ps:check.reverting", 1, ["WARNING"])

    ka = s.ksnap("k:after")
    js = s.status("ps:status.after")
    if ka is not None:
        c.eq(ka.patches(), [], "kernel: ps_lp_stall's sysfs directory gone")
    s.compare_patches("after", js, ka)
    s.compare_transition("after", js, ka)
    b = s.ran("ps:revert.again")
    if b is not None:
        c.ok(b.rc not in (0, None), "revert of a patch that is gone fails", f"rc={b.rc}")
        c.ok("ps_lp_stall" in s.stderr("ps:revert.again") + b.text,
             "revert of a patch that is gone names it", s.stderr("ps:revert.again")[:300])


def sc_force(s):
    """4. Force during the stalled transition."""
    c = s.c
    s.actions_ok()
    ks = s.ksnap("k:stalled")
    js = s.status("ps:status.stalled")
    s.compare_transition("stalled", js, ks, "ps_lp_stall", "patched")
    s.check_blocker("stalled", js, ks)
    s.exit_code("ps:force", 0, ["ps_lp_stall", "force"])
    c.ok(s.con.klog_find("forcing remaining tasks to the patched state"), "kernel log: forcing line")
    caught = 0
    for label in sorted(l for l in s.con.blocks
                       if l.startswith("ps:status.forcing") and not l.endswith(".stderr")):
        js = s.status(label)
        if js is None or js.get("transition") is None:
            continue
        caught += 1
        tr = js["transition"]
        c.eq(tr.get("forced"), True, f"{label}: transition.forced true after force")
        c.eq(tr.get("threads_pending"), 0, f"{label}: no thread pending after force")
    if caught == 0:
        c.note("no status run caught the forced transition before it completed (window <= 1 s)")
    ka = s.ksnap("k:after")
    js = s.status("ps:status.after")
    if ka is not None:
        c.eq(ka.in_transition(), [], "kernel: transition completed by force")
        c.eq(ka.files.get("ps_lp_stall/enabled"), "1", "kernel: ps_lp_stall enabled")
        c.ok(any("ps_target_func" in f for f in ka.blocker_stack),
             "kernel: completed although ps_blocker still sleeps in the old ps_target_func")
    s.compare_patches("after", js, ka)
    s.compare_transition("after", js, ka)
    if js is not None:
        p = s.patch(js, "ps_lp_stall")
        c.eq(p and p.get("state"), "enabled", "after: ps_lp_stall enabled")
    # kernel truth (6.1, since "livepatch: Don't block removal of patches
    # that are safe to unload"): forcing a *patching* transition of a
    # non-cumulative patch pins no module
    rm = s.block("may:rmmod.stall")
    if c.ok(rm is not None, "kernel: rmmod after forced patching and disabling ran"):
        c.eq(rm.rc, 0, "kernel: module of a patch forced while patching is removable after disabling")

    # B: forcing the unpatching transition of a revert
    kr = s.ksnap("k:b.reverting")
    js = s.status("ps:status.b.reverting")
    s.exit_code("ps:revert.b", 0, ["ps_lp_stall"])
    s.compare_transition("b.reverting", js, kr, "ps_lp_stall", "unpatched")
    s.check_blocker("b.reverting", js, kr, which="2", function="livepatch_ps_target_func")
    s.exit_code("ps:force.b", 0, ["ps_lp_stall", "force"])
    c.ok(len(s.con.klog_find("forcing remaining tasks to the patched state")) >= 2,
         "kernel log: the forcing line again (worded so for unpatching too)")
    caught = 0
    for label in sorted(l for l in s.con.blocks
                        if l.startswith("ps:status.b.forcing") and not l.endswith(".stderr")):
        js = s.status(label)
        if js is None or js.get("transition") is None:
            continue
        caught += 1
        tr = js["transition"]
        c.eq(tr.get("forced"), True, f"{label}: transition.forced true after force")
        c.eq(tr.get("target"), "unpatched", f"{label}: transition.target unpatched")
        c.eq(tr.get("threads_pending"), 0, f"{label}: no thread pending after force")
    if caught == 0:
        c.note("no status run caught the forced unpatching before it completed (window <= 1 s)")
    kb = s.ksnap("k:b.after")
    js = s.status("ps:status.b.after")
    if kb is not None:
        c.eq(kb.patches(), [], "kernel: forced unpatching completed, patch gone")
        c.ok(any("livepatch_ps_target_func" in f for f in kb.blocker2_stack),
             "kernel: ps_blocker2 still sleeps in the replacement code", repr(kb.blocker2_stack))
    s.compare_patches("b.after", js, kb)
    s.compare_transition("b.after", js, kb)
    rm = s.block("may:rmmod.stall.b")
    if c.ok(rm is not None, "kernel: rmmod after forced unpatching ran"):
        c.ok(rm.rc != 0, "kernel: module of a patch forced while unpatching is pinned (rmmod fails)",
             f"rc={rm.rc} {rm.text.strip()}")


def sc_replace(s):
    """5. Cumulative replace; two patches stacked on one function."""
    c = s.c
    s.actions_ok()
    kb = s.ksnap("k:basic")
    js = s.status("ps:status.basic")
    s.compare_patches("basic", js, kb)
    kc = s.ksnap("k:cumul")
    js = s.status("ps:status.cumul")
    if kc is not None:
        c.eq(kc.patches(), ["ps_lp_cumul"], "kernel: the cumulative patch replaced ps_lp_basic")
        c.eq(kc.target.get("value"), "cumulative", "kernel: value=cumulative")
        c.ok(kc.cmdline.startswith("console="), "kernel: cmdline_proc_show reverted by the replace",
             kc.cmdline)
    s.compare_patches("cumul", js, kc)
    s.compare_transition("cumul", js, kc)
    if js is not None:
        c.eq([p.get("name") for p in js.get("patches", [])], ["ps_lp_cumul"], "cumul: only ps_lp_cumul listed")
        p = s.patch(js, "ps_lp_cumul")
        if p is not None and kc is not None and "ps_lp_cumul/replace" in kc.files:
            c.eq(p.get("replace"), True, "cumul: replace true")
    c.ok(s.con.klog_find("'ps_lp_cumul': patching complete"), "kernel log: cumulative patching complete")

    kt = s.ksnap("k:stacked")
    js = s.status("ps:status.stacked")
    if kt is not None:
        c.eq(kt.patches(), ["ps_lp_stack1", "ps_lp_stack2"], "kernel: two stacked patches")
        c.eq(kt.target.get("stack"), "stack2", "kernel: the newest stacked patch wins")
    s.compare_patches("stacked", js, kt)
    s.compare_transition("stacked", js, kt)
    if js is not None and kt is not None:
        p1, p2 = s.patch(js, "ps_lp_stack1"), s.patch(js, "ps_lp_stack2")
        if p1 and p2:
            for p in (p1, p2):
                fns = [f.get("name") for o in p.get("objects", []) for f in o.get("functions", [])]
                c.eq(fns, ["ps_target_stack_value"], f"stacked: {p['name']} replaces ps_target_stack_value")
            if "ps_lp_stack1/stack_order" in kt.files:
                c.ok(p1.get("stack_order") < p2.get("stack_order"), "stacked: stack_order older < newer")
            else:
                c.note("kernel has no stack_order attribute: stack_order is null")
    ku = s.ksnap("k:unstacked")
    js = s.status("ps:status.unstacked")
    if ku is not None:
        c.eq(ku.target.get("stack"), "stack1", "kernel: the older stacked patch takes over")
    s.compare_patches("unstacked", js, ku)
    kn = s.ksnap("k:none")
    if kn is not None:
        c.eq(kn.target.get("stack"), "original", "kernel: original function after both are disabled")


SCENARIOS = {
    "complete": (sc_complete, 90),
    "stall": (sc_stall, 120),
    "revert": (sc_revert, 90),
    "force": (sc_force, 120),
    "replace": (sc_replace, 120),
}
ORDER = ["complete", "stall", "revert", "force", "replace", "exporter", "console"]
NUMBER = {n: i + 1 for i, n in enumerate(ORDER)}


# --------------------------------------------------------------------------
# interactive boots (scenarios 6 and 7): the host drives the guest over the
# console and talks to it over qemu's user network, on 127.0.0.1 only


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body) of a GET to a loopback URL; (None, error) on failure."""
    assert url.startswith("http://127.0.0.1:"), url  # loopback only, always
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, ValueError) as e:
        return None, str(e)


class LiveVM:
    """A VM whose console the host reads as it comes and writes commands to."""

    def __init__(self, args, scenario, log_path, hostfwd=None):
        cmd = QEMU_BASE[:]
        if hostfwd:
            i = cmd.index("-nic")
            del cmd[i:i + 2]
            fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in hostfwd)
            cmd += ["-netdev", f"user,id=n0,restrict=on,{fwd}", "-device", "virtio-net-pci,netdev=n0"]
        cmd += ["-kernel", args.kernel, "-initrd", args.initrd,
                "-append", " ".join([APPEND.format(scenario)] + EXTRA_APPEND)]
        self.log = open(log_path, "wb")
        self.buf = []
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.log.write(line)
            self.log.flush()
            with self.lock:
                self.buf.append(line.decode("utf-8", "replace"))

    def text(self):
        with self.lock:
            return "".join(self.buf)

    def count(self, needle):
        with self.lock:
            return sum(1 for l in self.buf if needle in l)

    def wait_count(self, needle, n, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.count(needle) >= n:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return self.count(needle) >= n
            time.sleep(0.1)
        return False

    def command(self, line, timeout=60):
        """Send one command at a WAITCMD prompt; wait for its ACK."""
        word = line.split()[0]
        acks = self.count(f"@@PS ACK {word} ")
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return self.wait_count(f"@@PS ACK {word} ", acks + 1, timeout)

    def finish(self, timeout=60):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
            self.proc.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        self.log.close()
        return self.text(), self.proc.returncode, time.monotonic() - self.t0


class Prometheus:
    """A real Prometheus on 127.0.0.1 scraping the VM's exporter with the
    shipped rules; its data in a temporary directory."""

    def __init__(self, binary, rules, target, log_path):
        self.dir = tempfile.mkdtemp(prefix="ps-vm-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                f"rule_files:\n  - {json.dumps(os.path.abspath(rules))}\n"
                "scrape_configs:\n  - job_name: patchscope\n"
                f"    static_configs:\n      - targets: [{json.dumps(target)}]\n")
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def ready(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st, _ = http_get(self.base + "/-/ready", timeout=2)
            if st == 200:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.3)
        return False

    def api(self, path):
        st, body = http_get(self.base + path)
        if st != 200:
            return None
        try:
            return json.loads(body).get("data")
        except ValueError:
            return None

    def alerts(self, name):
        data = self.api("/api/v1/alerts") or {}
        return [a for a in data.get("alerts", []) if a.get("labels", {}).get("alertname") == name]

    def query(self, expr):
        data = self.api("/api/v1/query?query=" + urllib.request.quote(expr)) or {}
        return data.get("result", [])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_values(text, name):
    """[(labels dict, value)] of one metric in Prometheus text format, sorted."""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, val = line.rpartition(" ")
            try:
                out.append((dict(LABEL.findall(key[len(name):])), float(val)))
            except ValueError:
                pass
    return sorted(out, key=lambda x: sorted(x[0].items()))


def sc_exporter(args, log_path, chk):
    """6. The exporter in the VM, scraped from the host by a real Prometheus
    with the shipped alert rules: the stalled-transition alert fires, and
    resolves after a revert."""
    c = chk
    if not args.prometheus or not os.access(args.prometheus, os.X_OK):
        c.fail("prometheus binary available", f"{args.prometheus!r} (tests/vm/setup prometheus)")
        return "", None
    if not os.path.isfile(args.rules):
        c.fail("alert rules present", args.rules)
        return "", None
    if args.promtool:
        r = subprocess.run([args.promtool, "check", "rules", args.rules], capture_output=True, text=True)
        c.ok(r.returncode == 0, "promtool check rules on the shipped rules", r.stdout + r.stderr)
    port = free_port()
    vm = LiveVM(args, "exporter", log_path, hostfwd=[(port, 9879)])
    prom = None
    try:
        if not c.ok(vm.wait_count("@@PS WAITCMD", 1, 120), "VM up, exporter started"):
            return vm.finish(5)[0], None
        murl = f"http://127.0.0.1:{port}/metrics"
        st, body = None, ""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            st, body = http_get(murl)
            if st == 200:
                break
            time.sleep(0.5)
        c.eq(st, 200, "exporter answers on the forwarded port (127.0.0.1)")
        if not args.kernel_only:
            c.ok("livepatch_" in body, "exporter serves livepatch_* metrics", body[:300])
        prom = Prometheus(args.prometheus, args.rules, f"127.0.0.1:{port}", log_path + ".prometheus")
        if not c.ok(prom.ready(), "Prometheus ready"):
            return vm.finish(5)[0], None
        end = time.monotonic() + 30
        up = []
        while time.monotonic() < end:
            up = prom.query('up{job="patchscope"}')
            if up and up[0]["value"][1] == "1":
                break
            time.sleep(1)
        c.ok(up and up[0]["value"][1] == "1", "Prometheus scrapes the exporter (up == 1)", repr(up))
        if args.kernel_only:
            return vm.finish()[0], None

        c.ok(vm.command("stall"), "guest: stalled transition started")
        t_stall = time.monotonic()
        time.sleep(3)
        c.ok(vm.command("status stalled"), "guest: status taken")
        st, body = http_get(murl)
        pend = metric_values(body, "livepatch_transition_threads_pending")
        c.eq([(l.get("patch"), l.get("target"), v) for l, v in pend], [("ps_lp_stall", "patched", 1.0)],
             "metrics: livepatch_transition_threads_pending of the stalled patch (kernel: 1 thread)")
        blocked = metric_values(body, "livepatch_blocked_threads")
        c.eq([(l.get("function"), v) for l, v in blocked], [("ps_target_func", 1.0)],
             "metrics: livepatch_blocked_threads by function")

        fired_after = None
        end = time.monotonic() + args.alert_timeout
        firing = []
        while time.monotonic() < end:
            firing = [a for a in prom.alerts("LivepatchTransitionStalled") if a.get("state") == "firing"]
            if firing:
                fired_after = time.monotonic() - t_stall
                break
            time.sleep(2)
        if c.ok(firing, "LivepatchTransitionStalled fires",
                f"not firing after {args.alert_timeout} s: {prom.alerts('LivepatchTransitionStalled')!r}"):
            c.note(f"LivepatchTransitionStalled fired {fired_after:.0f} s after the transition started")
            lab = firing[0].get("labels", {})
            c.eq(lab.get("patch"), "ps_lp_stall", "alert label patch")
            c.eq(lab.get("target"), "patched", "alert label target")
            c.eq(lab.get("severity"), "critical", "alert label severity")
        c.eq([a for a in prom.alerts("LivepatchTransitionForced") if a.get("state") == "firing"], [],
             "LivepatchTransitionForced does not fire (nothing was forced)")

        c.ok(vm.command("revert"), "guest: revert done")
        t_rev = time.monotonic()
        end = time.monotonic() + 60
        left = None
        while time.monotonic() < end:
            left = prom.alerts("LivepatchTransitionStalled")
            if not left:
                break
            time.sleep(1)
        if c.ok(not left, "LivepatchTransitionStalled resolves after the revert", repr(left)):
            c.note(f"resolved {time.monotonic() - t_rev:.0f} s after the revert")
        st, body = http_get(murl)
        c.eq(metric_values(body, "livepatch_transition_threads_pending"), [],
             "metrics: no transition series after the revert")
        c.ok(vm.command("status after"), "guest: status taken after")
        return vm.finish()[0], None
    finally:
        if prom is not None:
            prom.stop()
        if vm.proc.poll() is None:
            vm.finish(5)


def check_exporter_console(s):
    """Checks on the console output of scenario 6 (status vs kernel)."""
    s.actions_ok()
    if s.c.kernel_only:
        return
    ks = s.ksnap("k:stalled")
    js = s.status("ps:status.stalled")
    s.compare_transition("stalled", js, ks, "ps_lp_stall", "patched")
    s.check_blocker("stalled", js, ks)
    s.exit_code("ps:revert", 0, ["ps_lp_stall"])
    ka = s.ksnap("k:after")
    js = s.status("ps:status.after")
    s.compare_patches("after", js, ka)
    s.compare_transition("after", js, ka)
    b = s.block("k:exporter.log")
    s.c.ok(b is not None, "exporter log captured")


# --------------------------------------------------------------------------


def boot(args, scenario, timeout, log_path):
    cmd = QEMU_BASE + ["-kernel", args.kernel, "-initrd", args.initrd,
                       "-append", " ".join([APPEND.format(scenario)] + EXTRA_APPEND)]
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    with open(log_path, "rb") as f:
        raw = f.read().decode("utf-8", "replace")
    return raw, rc, time.monotonic() - t0




def tmux(*a, check=False):
    return subprocess.run(["tmux"] + list(a), capture_output=True, text=True, check=check)


def sc_console(args, log_path, chk):
    """7. The console in the VM on the serial console, driven through tmux:
    it shows the stalled transition and the blocked thread; q leaves it with
    the terminal restored."""
    c = chk
    if not shutil.which("tmux"):
        c.fail("tmux available", "apt-get install tmux")
        return "", None
    cols, rows = 120, 40
    name = f"ps-vm-{os.getpid()}"
    qemu = QEMU_BASE[:]
    qemu.remove("-nographic")
    qemu += ["-display", "none", "-monitor", "none",
             "-chardev", f"stdio,id=c0,signal=off,logfile={os.path.abspath(log_path)}",
             "-serial", "chardev:c0",
             "-kernel", args.kernel, "-initrd", args.initrd,
             "-append", " ".join([APPEND.format("console"), f"ps.cols={cols}", f"ps.rows={rows}"]
                                 + EXTRA_APPEND)]
    screens = []
    if os.path.exists(log_path):
        os.unlink(log_path)
    r = tmux("new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows),
             " ".join(subprocess.list2cmdline([a]) for a in qemu))
    if not c.ok(r.returncode == 0, "tmux session started", r.stderr):
        return "", None

    def log_text():
        try:
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def screen():
        r = tmux("capture-pane", "-p", "-t", name)
        return r.stdout if r.returncode == 0 else ""

    def wait_screen(words, timeout):
        end = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < end:
            scr = screen()
            if all(w in scr for w in words):
                return True, scr
            time.sleep(0.5)
        return False, scr

    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and "@@PS MARK tui.start" not in log_text():
            time.sleep(0.5)
        if not c.ok("@@PS MARK tui.start" in log_text(), "VM up, console started"):
            return log_text(), None
        if args.kernel_only:
            time.sleep(2)
            tmux("send-keys", "-t", name, "q")
        else:
            ok, scr = wait_screen(["ps_lp_stall", "ps_blocker"], 90)
            screens.append(("overview", scr))
            c.ok(ok, "console shows the patch ps_lp_stall and the blocked thread ps_blocker", scr[-1500:])
            c.ok(re.search(r"patching", scr, re.I), "console shows the transition (patching)")
            c.ok("ps_target_func" in scr, "console shows the blocking function ps_target_func", scr[-1500:])
            # the '?' help opens and Esc closes it: keys reach the program
            tmux("send-keys", "-t", name, "?")
            ok, scr = wait_screen(["this help"], 15)
            screens.append(("help", scr))
            c.ok(ok, "? opens the help", scr[-800:])
            tmux("send-keys", "-t", name, "Escape")
            ok, scr = wait_screen(["ps_blocker"], 15)
            c.ok(ok and "this help" not in scr, "Esc closes the help")
            # revert from the console: r, the confirmation names the write, y
            tmux("send-keys", "-t", name, "r")
            ok, scr = wait_screen(["Go ahead?"], 15)
            screens.append(("revert-confirm", scr))
            if c.ok(ok, "r asks for a confirmation", scr[-1500:]):
                c.ok("/sys/kernel/livepatch/ps_lp_stall/enabled" in scr.replace("\n", "")
                     or "ps_lp_stall/enabled" in scr,
                     "the confirmation names the exact write (ps_lp_stall/enabled)", scr[-1500:])
                tmux("send-keys", "-t", name, "y")
                ok, scr = wait_screen(["Patches (0)"], 60)
                screens.append(("reverted", scr))
                c.ok(ok, "after y the patch is gone from the console (unpatching completed)", scr[-1500:])
            tmux("send-keys", "-t", name, "q")
        end = time.monotonic() + 30
        while time.monotonic() < end and "@@PS MARK tui.exit" not in log_text():
            time.sleep(0.5)
        m = re.search(r"@@PS MARK tui\.exit rc=(\d+)", log_text())
        c.ok(m and m.group(1) == "0", "q leaves the console with exit code 0", m.group(0) if m else "no exit")
        alt = tmux("display-message", "-p", "-t", name, "#{alternate_on}").stdout.strip()
        c.ok(alt in ("0", ""), "terminal left the alternate screen", f"alternate_on={alt}")
        screens.append(("after", screen()))
        end = time.monotonic() + 60
        while time.monotonic() < end and "@@PS DONE" not in log_text():
            time.sleep(0.5)
        return log_text(), None
    finally:
        tmux("kill-session", "-t", name)
        with open(log_path + ".screens", "w") as f:
            for label, scr in screens:
                f.write(f"===== {label} =====\n{scr}\n")


def check_console_console(s):
    s.actions_ok()
    ks = s.ksnap("k:stalled")
    if ks is not None:
        s.c.eq(ks.in_transition(), ["ps_lp_stall"], "kernel: ps_lp_stall in transition while the console ran")
    if s.c.kernel_only:
        return
    ka = s.ksnap("k:after.tui")
    if ka is not None:
        s.c.eq(ka.patches(), [], "kernel: the console's revert took effect (ps_lp_stall gone)")
    s.c.ok(s.con.klog_find("'ps_lp_stall': starting unpatching transition"),
           "kernel log: the console's revert reversed the transition")


# scenarios whose boot the host drives itself: (driver, console checks)
LIVE = {
    "exporter": (sc_exporter, check_exporter_console),
    "console": (sc_console, check_console_console),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--logs", default="target/vm-logs")
    ap.add_argument("--kernel-only", action="store_true",
                    help="check the kernel side only (no patchscope binary in the VM)")
    ap.add_argument("--keep-logs", action="store_true", help="keep console logs of passing scenarios too")
    ap.add_argument("--prometheus", help="prometheus binary (scenario exporter)")
    ap.add_argument("--promtool", help="promtool binary (scenario exporter)")
    ap.add_argument("--rules", default="exporters/mixin/alerts.yaml", help="alert rules to load")
    ap.add_argument("--alert-timeout", type=float, default=240,
                    help="seconds to wait for the stalled alert to fire")
    ap.add_argument("--probe", action="store_true",
                    help="take status snapshots with /bin/ps-probe instead of patchscope status --json")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every check")
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    names = args.scenarios or ORDER
    for n in names:
        if n not in SCENARIOS and n not in LIVE:
            ap.error(f"unknown scenario {n!r} (known: {', '.join(ORDER)})")
    if args.probe:
        EXTRA_APPEND.append("ps.status=probe")
    os.makedirs(args.logs, exist_ok=True)
    summary = []
    for name in names:
        log_path = os.path.join(args.logs, f"{NUMBER[name]}-{name}.log")
        chk = Checks(name, args.kernel_only)
        t0 = time.monotonic()
        try:
            if name in LIVE:
                drive, fn = LIVE[name]
                raw, rc = drive(args, log_path, chk)
            else:
                fn, timeout = SCENARIOS[name]
                raw, rc, _ = boot(args, name, timeout, log_path)
            con = Console(raw)
            chk.ok(con.boot is not None, "VM booted", f"qemu rc={rc}")
            chk.ok(con.done, "scenario script ran to the end", f"qemu rc={rc}")
            fn(Scenario(con, chk))
        except Exception as e:  # a harness bug must not hide as a pass
            import traceback
            chk.fail("harness", "".join(traceback.format_exception(e))[-1200:])
        secs = time.monotonic() - t0
        status = "PASS" if chk.passed else "FAIL"
        nfail = sum(1 for ok, _, _ in chk.results if not ok)
        print(f"[{status}] scenario {NUMBER[name]} {name}: {len(chk.results) - nfail}/{len(chk.results)} "
              f"checks passed ({secs:.1f} s){' [kernel-only]' if args.kernel_only else ''}", flush=True)
        for ok, what, detail in chk.results:
            if not ok or args.verbose:
                print(f"    {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
        for n in chk.notes:
            print(f"    note: {n}")
        if chk.passed and not args.keep_logs:
            for p in (log_path, log_path + ".prometheus", log_path + ".screens"):
                if os.path.exists(p):
                    os.unlink(p)
        else:
            print(f"    console log: {log_path}")
        summary.append((name, chk.passed, secs))
    npass = sum(1 for _, ok, _ in summary if ok)
    print()
    for name, ok, secs in summary:
        print(f"  {'PASS' if ok else 'FAIL'}  {NUMBER[name]} {name}  ({secs:.1f} s)")
    print(f"vm: {npass} passed, {len(summary) - npass} failed")
    return 0 if npass == len(summary) else 1


if __name__ == "__main__":
    sys.exit(main())
