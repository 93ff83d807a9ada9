//! Simulator benchmarks (docs/performance.md):
//!
//! ```text
//! cargo bench -p kmod-bridge --bench sim_snapshot
//! ```
//!
//! * `idle/sim`: a snapshot of the `healthy` scenario (patches loaded, no
//!   transition), the cost of every console refresh and exporter scrape of
//!   an idle simulated kernel;
//! * `sim/<N> threads/<scenario>`: a snapshot of `stalled` (six blocked
//!   threads) and `storm` (a tenth of the threads blocked, at most
//!   100,000; the MIB lists the first 1,024) at 1,000,000 threads
//!   (`PATCHSCOPE_BENCH_SIM_THREADS`), through the FreeBSD MIB decoder as
//!   every simulator read is. The manual clock keeps every iteration
//!   reading the same state.
//!
//! A table of medians is printed and saved as `target/criterion/sim-snapshot.md`.

// A benchmark whose setup fails has nothing to measure: fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use kmod_bridge::Source;
use kmod_bridge::source::sim::{self, Scenario, SimConfig};

fn main() {
    let mut c = common::criterion();
    let threads = common::env_list("PATCHSCOPE_BENCH_SIM_THREADS", &[1_000_000u64]);

    let mut idle = sim::open(SimConfig::manual(Scenario::Healthy)).unwrap();
    assert!(idle.snapshot().unwrap().transition.is_none());
    c.bench_function("idle/sim", |b| b.iter(|| black_box(idle.snapshot())));

    let mut ids = Vec::new();
    for &n in &threads {
        for scenario in [Scenario::Stalled, Scenario::Storm] {
            let t0 = Instant::now();
            let mut src = sim::open(SimConfig {
                threads: n,
                ..SimConfig::manual(scenario)
            })
            .unwrap();
            let open = t0.elapsed();
            let s = src.snapshot().unwrap();
            let t = s.transition.as_ref().unwrap();
            assert_eq!(t.threads_total, n);
            eprintln!(
                "sim {} with {n} threads: opened in {open:?}, {} pending, {} listed",
                scenario.name(),
                t.threads_pending,
                s.blocked_threads.len()
            );
            let id = format!("sim/{n} threads/{}", scenario.name());
            c.bench_function(&id, |b| b.iter(|| black_box(src.snapshot())));
            ids.push((id, n, scenario, t.threads_pending, s.blocked_threads.len()));
        }
    }
    c.final_summary();
    if common::test_mode() {
        return;
    }
    let m = common::medians();
    let time = |id: &str| m.get(id).map_or("-".to_string(), |v| common::fmt_ns(*v));
    let mut rows = vec![vec![
        "idle (healthy)".to_string(),
        "-".to_string(),
        "-".to_string(),
        "0".to_string(),
        time("idle/sim"),
    ]];
    for (id, n, scenario, pending, listed) in &ids {
        rows.push(vec![
            scenario.name().to_string(),
            n.to_string(),
            pending.to_string(),
            listed.to_string(),
            time(id),
        ]);
    }
    common::emit_table(
        "sim-snapshot.md",
        "Simulator snapshot (medians)",
        &[
            "scenario",
            "threads",
            "pending",
            "blocked threads listed",
            "snapshot",
        ],
        &rows,
    );
}
