//! Support shared by the kmod-bridge benchmarks: criterion settings, the
//! C helpers of `tests/perf` (tree generator, floor program) compiled on
//! first use, the tmpfs bench directory, and the summary table read back
//! from criterion's own estimates.
#![allow(dead_code)] // each bench uses a different part
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup is a failed bench

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::Criterion;

/// `target/` of this build (benches get `CARGO_TARGET_TMPDIR` =
/// `target/tmp`).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Where criterion keeps its results, and where the summaries go.
pub fn criterion_dir() -> PathBuf {
    target_dir().join("criterion")
}

/// The repository's `tests/perf`.
pub fn perf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/perf")
}

/// Whether criterion runs in `--test` mode (each benchmark once, as
/// `cargo bench -- --test` and CI's short mode do).
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The benchmark filter given on the command line, if any (criterion's
/// positional argument).
pub fn filter() -> Option<String> {
    const TAKES_VALUE: &[&str] = &[
        "-c",
        "--color",
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
        "--format",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a.starts_with('-') {
            if TAKES_VALUE.contains(&a.as_str()) {
                args.next();
            }
            continue;
        }
        return Some(a);
    }
    None
}

/// Whether a measurement made outside criterion (a slow baseline timed
/// once) should run: not when criterion only lists, tests or profiles,
/// nor when a filter excludes `id`.
pub fn runs_outside_criterion(id: &str) -> bool {
    let special =
        std::env::args().any(|a| ["--test", "--list", "--profile-time"].contains(&a.as_str()));
    !special && filter().is_none_or(|f| id.contains(&f))
}

/// Criterion with settings a busy two-core host can afford: 10 samples,
/// 1 s warm-up, 3 s of measurement (each can be overridden on the command
/// line: `-- --sample-size 20 --measurement-time 10`).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
        .output_directory(&criterion_dir())
        .configure_from_args()
}

/// A comma-separated list from the environment, or the default.
pub fn env_list<T: std::str::FromStr + Clone>(name: &str, default: &[T]) -> Vec<T> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: cannot parse {s:?}"))
            })
            .collect(),
        _ => default.to_vec(),
    }
}

/// Compile `tests/perf/<name>.c` into `target/perf/<name>` unless it is
/// up to date. Uses `$CC`, else `cc`.
pub fn c_tool(name: &str) -> PathBuf {
    let src = perf_dir().join(format!("{name}.c"));
    let out_dir = target_dir().join("perf");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(name);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if mtime(&out).is_none() || mtime(&out) < mtime(&src) {
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let status = Command::new(&cc)
            .args(["-O2", "-Wall", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("running {cc} to build {}: {e}", src.display()));
        assert!(status.success(), "{cc} failed to build {}", src.display());
    }
    out
}

/// `statfs(2)` magic of tmpfs.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The directory fixture trees are written to: `$PATCHSCOPE_BENCH_DIR`,
/// else `/dev/shm/patchscope-bench`. Trees must be on tmpfs so the
/// benchmark measures the program and the kernel's file interface, not a
/// disk: a warning says so otherwise.
pub fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("PATCHSCOPE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm/patchscope-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is NUL-terminated; `st` is written by statfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs by libc
    if rc != 0 || st.f_type as i64 != TMPFS_MAGIC {
        eprintln!(
            "warning: {} is not on tmpfs: figures include the disk (set PATCHSCOPE_BENCH_DIR)",
            dir.display()
        );
    }
    dir
}

/// The median (ns) criterion estimated for every benchmark of this run,
/// by full id (`group/function`), read from `<criterion>/**/new/`.
pub fn medians() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![criterion_dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            if p.file_name().is_some_and(|n| n == "new") {
                let read = |f: &str| -> Option<serde_json::Value> {
                    serde_json::from_slice(&std::fs::read(p.join(f)).ok()?).ok()
                };
                if let (Some(b), Some(e)) = (read("benchmark.json"), read("estimates.json"))
                    && let (Some(id), Some(m)) = (
                        b["full_id"].as_str(),
                        e["median"]["point_estimate"].as_f64(),
                    )
                {
                    out.insert(id.to_string(), m);
                }
            } else {
                stack.push(p);
            }
        }
    }
    out
}

/// A duration in ns, readable: `812 µs`, `1.25 s`.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Print a markdown table and save it as `<criterion>/<file>`.
pub fn emit_table(file: &str, title: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut s = format!("### {title}\n\n| {} |\n|", header.join(" | "));
    for _ in header {
        s.push_str("---|");
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    println!("\n{s}");
    let path = criterion_dir().join(file);
    let _ = std::fs::create_dir_all(criterion_dir());
    match std::fs::write(&path, &s) {
        Ok(()) => println!("(saved to {})", path.display()),
        Err(e) => eprintln!("writing {}: {e}", path.display()),
    }
}
