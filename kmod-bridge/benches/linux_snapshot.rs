//! Linux source benchmarks over fixture trees in tmpfs, with the baselines
//! in the same run (docs/performance.md).
//!
//! ```text
//! cargo bench -p kmod-bridge --bench linux_snapshot
//! ```
//!
//! For each thread count (`PATCHSCOPE_BENCH_THREADS`, default
//! `1000,10000,100000`) a tree with the real layout is written by
//! `tests/perf/gentree.c` under `PATCHSCOPE_BENCH_DIR` (default
//! `/dev/shm/patchscope-bench`), and for each blocked share
//! (`PATCHSCOPE_BENCH_BLOCKED`, per mille, default `1,100,1000`: 0.1%, 10%,
//! 100%) these are measured:
//!
//! * `patchscope-1-worker`, `patchscope-2-workers`:
//!   [`LinuxSource::snapshot`] during the transition, in process (the
//!   source is opened once, as the console and exporter do), with the
//!   thread scan on one and on two threads (by default patchscope picks two
//!   when the host has a CPU to spare, see
//!   [`LinuxSource::set_scan_workers`]);
//! * `floor`: the floor set by the kernel interface, in process: list
//!   every `<pid>/task/<tid>` and open, read and close its `patch_state`,
//!   nothing else (the same system calls as `tests/perf/floor.c`);
//! * `floor+details`: the same, and for each thread at 0 also open, read
//!   and close `comm`, `stat`, `wchan` and `stack`: the floor for the same
//!   files patchscope reads;
//! * `floor.c-process`: `tests/perf/floor.c` as a whole process;
//! * `shell-loop-process`: `tests/perf/shell-loop.sh`, the way scripts
//!   find blocked threads today. It forks twice per blocked thread, so
//!   where one run is estimated above 3 s it is timed once outside
//!   criterion, and above `PATCHSCOPE_BENCH_SHELL_MAX` seconds (default
//!   90) it is skipped.
//!
//! Trees are removed at the end unless `PATCHSCOPE_BENCH_KEEP` is set; an
//! existing tree of the same size is reused.
//!
//! Then `idle/linux`: a snapshot with a patch loaded and no transition.
//! At the end a table of medians and ratios to the floors is printed and
//! saved as `target/criterion/linux-snapshot.md`.

// A benchmark whose setup fails has nothing to measure: fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use criterion::{Criterion, SamplingMode};
use kmod_bridge::Source;
use kmod_bridge::source::linux::{LinuxConfig, LinuxSource};

/// One row of the summary: a tree and what was measured on it.
struct Row {
    threads: u64,
    permille: u64,
    group: String,
    /// Shell loop timed outside criterion (ns), or why it was not run.
    shell: Option<Result<f64, String>>,
    /// Load average when the tree's benchmarks started.
    load: String,
}

fn main() {
    let mut c = common::criterion();
    let quick = common::test_mode();
    let default_threads: &[u64] = if quick {
        &[1000]
    } else {
        &[1000, 10_000, 100_000]
    };
    let sizes = common::env_list("PATCHSCOPE_BENCH_THREADS", default_threads);
    let shares = common::env_list("PATCHSCOPE_BENCH_BLOCKED", &[1u64, 100, 1000]);
    let shell_max: f64 = std::env::var("PATCHSCOPE_BENCH_SHELL_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90.0);

    let gentree = common::c_tool("gentree");
    let floor_c = common::c_tool("floor");
    let shell = common::perf_dir().join("shell-loop.sh");
    let base = common::bench_dir();
    let mut rows = Vec::new();

    for &threads in &sizes {
        // An existing tree of the same size is reused (gentree rewrites
        // only what differs between blocked shares).
        let tree = base.join(format!("t{threads}"));
        let t0 = Instant::now();
        for &permille in &shares {
            let blocked = threads * permille / 1000;
            let ok = Command::new(&gentree)
                .arg(&tree)
                .arg(threads.to_string())
                .arg(blocked.to_string())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "{} failed", gentree.display());
            if permille == shares[0] {
                eprintln!("built {threads} threads in {:?}", t0.elapsed());
            }
            let row = bench_tree(
                &mut c, &tree, threads, permille, &floor_c, &shell, shell_max,
            );
            rows.push(row);
        }
        if threads == sizes[0] {
            bench_idle(&mut c, &tree);
        }
        if std::env::var_os("PATCHSCOPE_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&tree);
        }
    }
    c.final_summary();
    if !quick {
        summary(&rows);
    }
}

fn config(tree: &Path, sysfs: &str) -> LinuxConfig {
    LinuxConfig {
        sysfs: tree.join(sysfs),
        procfs: tree.join("proc"),
        kmsg: Some(tree.join("dmesg.txt")),
    }
}

fn pct(permille: u64) -> String {
    format!("{}%", permille as f64 / 10.0)
}

fn bench_tree(
    c: &mut Criterion,
    tree: &Path,
    threads: u64,
    permille: u64,
    floor_c: &Path,
    shell: &Path,
    shell_max: f64,
) -> Row {
    let blocked = threads * permille / 1000;
    let name = format!("transition/{threads} threads, {} blocked", pct(permille));
    let procfs = tree.join("proc");
    let sysfs = tree.join("sys");

    // Check what is measured before measuring it.
    let mut src = LinuxSource::open(config(tree, "sys")).unwrap();
    let s = src.snapshot().unwrap();
    let t = s.transition.as_ref().unwrap();
    assert_eq!((t.threads_total, t.threads_pending), (threads, blocked));
    assert!(
        s.blocked_threads
            .iter()
            .all(|b| b.blocking_function.is_some())
    );
    assert_eq!(floor(&procfs, false), (threads, blocked));

    let load = load_average();
    let mut g = c.benchmark_group(&name);
    if threads >= 10_000 {
        g.sampling_mode(SamplingMode::Flat);
    }
    for workers in [1, 2] {
        src.set_scan_workers(workers);
        let id = if workers == 1 {
            "patchscope-1-worker".to_string()
        } else {
            format!("patchscope-{workers}-workers")
        };
        g.bench_function(id, |b| b.iter(|| black_box(src.snapshot())));
    }
    g.bench_function("floor", |b| b.iter(|| black_box(floor(&procfs, false))));
    g.bench_function("floor+details", |b| {
        b.iter(|| black_box(floor(&procfs, true)))
    });
    g.bench_function("floor.c-process", |b| {
        b.iter(|| run(Command::new(floor_c).arg(&procfs)))
    });

    // bash spends ~50 µs per thread and two command substitutions with
    // a fork and exec each (~7 to 20 ms here, by load) per blocked thread.
    let estimate = threads as f64 * 50e-6 + blocked as f64 * 12e-3;
    let shell_cmd = || {
        let mut cmd = Command::new("bash");
        cmd.arg(shell).arg(&procfs).arg(&sysfs);
        cmd
    };
    let shell_result = if estimate <= 3.0 {
        g.bench_function("shell-loop-process", |b| b.iter(|| run(&mut shell_cmd())));
        None
    } else if !common::runs_outside_criterion(&format!("{name}/shell-loop-process")) {
        Some(Err("not run (filtered out)".to_string()))
    } else if estimate <= shell_max {
        let t = Instant::now();
        run(&mut shell_cmd());
        let ns = t.elapsed().as_nanos() as f64;
        eprintln!("{name}/shell-loop-process: one run {}", common::fmt_ns(ns));
        Some(Ok(ns))
    } else {
        Some(Err(format!("not run (~{estimate:.0} s)")))
    };
    g.finish();
    Row {
        threads,
        permille,
        group: name,
        shell: shell_result,
        load,
    }
}

/// The 1-minute load average (`/proc/loadavg`), to judge the noise.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// A snapshot with a patch loaded and no transition: sysfs and the
/// kernel log only, no thread is read.
fn bench_idle(c: &mut Criterion, tree: &Path) {
    let mut src = LinuxSource::open(config(tree, "sys-idle")).unwrap();
    let s = src.snapshot().unwrap();
    assert!(s.transition.is_none() && s.patches.len() == 1);
    c.bench_function("idle/linux", |b| b.iter(|| black_box(src.snapshot())));
}

/// Run a command to completion, output discarded.
fn run(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

thread_local! {
    static PATH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static BIG: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// The floor, in process: what `tests/perf/floor.c` does (opendir and
/// readdir of `<procfs>` and each `<pid>/task`, then open, read, close of
/// each `<pid>/task/<tid>/patch_state` by its full path). With `details`
/// (`floor.c -d 1`), also open, read to the end and close `comm`, `stat`,
/// `wchan` and `stack` of each thread at 0: the same files patchscope
/// reads. Returns (threads taking part, threads at 0).
fn floor(procfs: &Path, details: bool) -> (u64, u64) {
    let root = CString::new(procfs.as_os_str().as_encoded_bytes()).unwrap();
    PATH.with_borrow_mut(|path| {
        BIG.with_borrow_mut(|big| {
            let (mut total, mut unpatched) = (0, 0);
            let mut buf = [0u8; 16];
            // SAFETY: plain libc directory and file calls on NUL-terminated
            // paths; every DIR* is closed once, every fd once; reads stay
            // within their buffers.
            unsafe {
                let procs = libc::opendir(root.as_ptr());
                assert!(!procs.is_null());
                loop {
                    let p = libc::readdir(procs);
                    if p.is_null() {
                        break;
                    }
                    let pid = CStr::from_ptr((*p).d_name.as_ptr()).to_bytes();
                    if !numeric(pid) {
                        continue;
                    }
                    path.clear();
                    path.extend_from_slice(root.as_bytes());
                    path.push(b'/');
                    path.extend_from_slice(pid);
                    path.extend_from_slice(b"/task\0");
                    let tasks = libc::opendir(path.as_ptr().cast());
                    if tasks.is_null() {
                        continue;
                    }
                    path.pop();
                    let task_len = path.len();
                    loop {
                        let t = libc::readdir(tasks);
                        if t.is_null() {
                            break;
                        }
                        let tid = CStr::from_ptr((*t).d_name.as_ptr()).to_bytes();
                        if !numeric(tid) {
                            continue;
                        }
                        path.truncate(task_len);
                        path.push(b'/');
                        path.extend_from_slice(tid);
                        path.push(b'/');
                        let leaf_at = path.len();
                        path.extend_from_slice(b"patch_state\0");
                        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
                        if fd < 0 {
                            continue;
                        }
                        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                        libc::close(fd);
                        if n >= 1 && buf[0] != b'-' {
                            total += 1;
                            if buf[0] == b'0' {
                                unpatched += 1;
                                if details {
                                    for leaf in [&b"comm\0"[..], b"stat\0", b"wchan\0", b"stack\0"]
                                    {
                                        path.truncate(leaf_at);
                                        path.extend_from_slice(leaf);
                                        let fd = libc::open(
                                            path.as_ptr().cast(),
                                            libc::O_RDONLY | libc::O_CLOEXEC,
                                        );
                                        if fd >= 0 {
                                            while libc::read(fd, big.as_mut_ptr().cast(), big.len())
                                                > 0
                                            {}
                                            libc::close(fd);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    libc::closedir(tasks);
                }
                libc::closedir(procs);
            }
            (total, unpatched)
        })
    })
}

fn numeric(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(u8::is_ascii_digit)
}

/// The summary table: medians, and ratios to the in-process floor and
/// (for whole processes) to the floor program.
fn summary(rows: &[Row]) {
    let m = common::medians();
    let get = |group: &str, f: &str| m.get(&format!("{group}/{f}")).copied();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    };
    let time = |v: Option<f64>| v.map_or("-".to_string(), common::fmt_ns);
    let mut table = Vec::new();
    for r in rows {
        let g = &r.group;
        let ps = get(g, "patchscope-2-workers");
        let serial = get(g, "patchscope-1-worker");
        let fl = get(g, "floor");
        let fd = get(g, "floor+details");
        let fc = get(g, "floor.c-process");
        let (shell_time, shell_ratio) = match &r.shell {
            None => {
                let s = get(g, "shell-loop-process");
                (time(s), ratio(s, fc))
            }
            Some(Ok(ns)) => (
                format!("{} (1 run)", common::fmt_ns(*ns)),
                ratio(Some(*ns), fc),
            ),
            Some(Err(why)) => (why.clone(), "-".to_string()),
        };
        table.push(vec![
            r.threads.to_string(),
            pct(r.permille),
            time(fl),
            time(fd),
            time(serial),
            ratio(serial, fl),
            ratio(serial, fd),
            time(ps),
            ratio(ps, fl),
            ratio(ps, fd),
            time(fc),
            shell_time,
            shell_ratio,
            r.load.clone(),
        ]);
    }
    common::emit_table(
        "linux-snapshot.md",
        "Linux snapshot during a transition (medians)",
        &[
            "threads",
            "blocked",
            "floor",
            "floor + details",
            "patchscope, 1 worker",
            "/ floor",
            "/ floor + details",
            "patchscope, 2 workers",
            "/ floor",
            "/ floor + details",
            "floor.c (process)",
            "shell loop (process)",
            "shell / floor.c",
            "load",
        ],
        &table,
    );
    if let Some(idle) = m.get("idle/linux") {
        println!("idle/linux: median {}", common::fmt_ns(*idle));
    }
}
