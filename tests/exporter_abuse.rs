//! The real `patchscope exporter` binary, run as an unprivileged user
//! (uid/gid 65534 when the tests run as root): it serves the simulator and
//! a Linux fixture tree without privilege (saying what it cannot see),
//! survives abusive clients, and under continuous concurrent scrapes its
//! resident memory (`VmRSS` of `/proc/<pid>/status`) stays flat and every
//! scrape is valid exposition text.
//!
//! The soak is short by default; `PATCHSCOPE_SOAK_SECS=600 cargo test
//! --release --test exporter_abuse -- --nocapture` runs it for ten minutes
//! and prints the figures `docs/reliability.md` quotes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod exporter_common;
#[path = "support/exposition.rs"]
mod exposition;
#[path = "../kmod-bridge/tests/common/linux_fixture.rs"]
mod linux_fixture;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use exporter_common as common;
use linux_fixture::{Kernel, LinuxFixture, euid};

/// Start the exporter binary as nobody (when root) on a free loopback
/// port; returns the process and its address once `/-/healthy` answers.
fn start_unprivileged(args: &[&str]) -> (common::Running, SocketAddr) {
    let port = common::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchscope"));
    cmd.arg("exporter")
        .args(["--web.listen-address", &addr.to_string()])
        .args(["--web.read-header-timeout", "1s"])
        .args(args);
    if euid() == 0 {
        cmd.uid(65534).gid(65534);
    }
    let run = common::start(cmd, "patchscope exporter (unprivileged)");
    let up = common::poll(Duration::from_secs(30), Duration::from_millis(50), || {
        common::http_get(addr, "/-/healthy")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(up.is_some(), "the exporter did not come up:\n{}", run.log());
    (run, addr)
}

fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn scrape(addr: SocketAddr) -> exposition::Exposition {
    let r = common::http_get(addr, "/metrics").unwrap();
    assert_eq!(r.status, 200, "{}", r.head);
    exposition::parse(&r.body).unwrap_or_else(|e| panic!("{e}\n{}", r.body))
}

#[test]
fn unprivileged_exporter_serves_the_simulator_and_survives_abuse() {
    let (run, addr) = start_unprivileged(&["--source", "sim", "--scenario", "storm"]);
    if euid() == 0 {
        assert_eq!(uid_of(run.child.id()), 65534, "not running as nobody");
    }
    let e = scrape(addr);
    assert_eq!(e.value("livepatch_scrape_success"), Some(1.0));
    assert_eq!(e.value("livepatch_transition_in_progress"), Some(1.0));

    // Slow and idle clients, an oversized header, junk: bounded answers.
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let mut big = TcpStream::connect(addr).unwrap();
    let _ = big.write_all(
        format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(1 << 20)
        )
        .as_bytes(),
    );
    let mut junk = TcpStream::connect(addr).unwrap();
    junk.write_all(b"\x00\xff garbage\r\n\r\n").unwrap();
    assert_eq!(scrape(addr).value("livepatch_scrape_success"), Some(1.0));
    let t0 = Instant::now();
    for s in idle.iter_mut().chain([&mut slow, &mut big, &mut junk]) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "abusive connections held for {:?}",
        t0.elapsed()
    );
    assert_eq!(scrape(addr).value("livepatch_scrape_success"), Some(1.0));
    assert!(!run.log().contains("panicked"), "{}", run.log());
}

#[test]
fn unprivileged_exporter_on_a_linux_tree_says_what_it_cannot_see() {
    let fx = LinuxFixture::new();
    fx.patch("lp_fix", Kernel::V6_13)
        .state(true, true)
        .object("vmlinux", true, &["vfs_read,1"]);
    fx.thread(10, 10)
        .patch_state(0)
        .stack(&["[<0>] vfs_read+0x1/0x2"]);
    fx.thread(11, 11).patch_state(0).comm(b"mine");
    fx.open_to_all();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: std::path::PathBuf, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    // Thread 10 is "another user's": patch_state and stack 0400 root (000
    // when not root); thread 11's patch_state is readable, its stack is not.
    let other = if euid() == 0 { 0o400 } else { 0o000 };
    mode(fx.procfs.join("10/task/10/patch_state"), other);
    mode(fx.procfs.join("10/task/10/stack"), other);
    mode(fx.procfs.join("11/task/11/stack"), other);
    mode(fx.kmsg.clone(), other);
    let (run, addr) = start_unprivileged(&[
        "--source",
        "linux",
        "--path.sysfs",
        &fx.sysfs.display().to_string(),
        "--path.procfs",
        &fx.procfs.display().to_string(),
        "--path.kmsg",
        &fx.kmsg.display().to_string(),
    ]);
    let e = scrape(addr);
    assert_eq!(
        e.value("livepatch_scrape_success"),
        Some(1.0),
        "{}",
        run.log()
    );
    assert_eq!(e.value("livepatch_transition_in_progress"), Some(1.0));
    assert_eq!(e.value("livepatch_transition_threads_pending"), Some(1.0));
    let limits = e.value("livepatch_snapshot_limitations").unwrap();
    assert!(limits >= 3.0, "patch_state, stack and kmsg: {limits}");
    // The thread it can see, with the function unknown (no stack).
    let b: Vec<_> = e.all("livepatch_blocked_thread_info").collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].label("comm"), Some("mine"));
    assert_eq!(b[0].label("function"), Some("(unknown)"));
}

#[test]
fn unprivileged_exporter_soak_memory_stays_flat() {
    let secs: u64 = std::env::var("PATCHSCOPE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    // A million threads, a tenth blocked, 1024 listed: the heaviest
    // scenario, changing state on its own (signals every 15 s).
    let (run, addr) = start_unprivileged(&[
        "--source",
        "sim",
        "--scenario",
        "storm",
        "--threads",
        "1000000",
        "--collector.blocked-threads.limit",
        "100",
    ]);
    let pid = run.child.id();
    for _ in 0..20 {
        scrape(addr);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicU64::new(0));
    let worst = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (stop, scrapes, worst) =
                (Arc::clone(&stop), Arc::clone(&scrapes), Arc::clone(&worst));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let e = scrape(addr);
                    assert_eq!(e.value("livepatch_scrape_success"), Some(1.0));
                    worst.fetch_max(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        rss.push(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let n = scrapes.load(Ordering::Relaxed);
    let quarter = (rss.len() / 4).max(1);
    let early = *rss[..quarter].iter().max().unwrap();
    let late = *rss[rss.len() - quarter..].iter().max().unwrap();
    let peak = *rss.iter().max().unwrap();
    println!(
        "exporter binary soak {secs} s: {n} scrapes ({:.0}/s) by 8 clients, slowest {:?}; VmRSS first quarter {early} KiB, last quarter {late} KiB, peak {peak} KiB",
        n as f64 / secs as f64,
        Duration::from_micros(worst.load(Ordering::Relaxed)),
    );
    assert!(n > 10, "only {n} scrapes");
    assert!(
        late <= early + 16 * 1024,
        "exporter resident memory grew from {early} KiB to {late} KiB"
    );
    assert!(!run.log().contains("panicked"), "{}", run.log());
}
