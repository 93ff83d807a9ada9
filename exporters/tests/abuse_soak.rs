//! Soak: continuous concurrent scrapes, on loopback, while the simulated
//! kernel changes state under them (time jumps, transitions starting,
//! progressing, reversed, forced, completing; a new kernel when idle).
//! Every scrape must be valid exposition text describing one consistent
//! snapshot (no half-updated state), and the process's resident memory
//! must stay flat.
//!
//! Short by default (a few seconds in `cargo test`); set
//! `PATCHSCOPE_SOAK_SECS` for a longer run, e.g.
//! `PATCHSCOPE_SOAK_SECS=600 cargo test --release -p patchscope-exporters --test abuse_soak -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

#[path = "../../tests/support/exposition.rs"]
mod exposition;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exposition::Exposition;
use kmod_bridge::model::{Snapshot, SourceKind};
use kmod_bridge::source::freebsd::{MibSource, MibTree, mib};
use kmod_bridge::source::sim::{self, Scenario, SimConfig, SimTree};
use kmod_bridge::{Source, SourceError};
use patchscope_exporters::{Exporter, ExporterOptions, SourceOpener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Sim = Arc<Mutex<MibSource<SimTree>>>;

/// The exporter's view of a simulator that another thread mutates.
struct Shared(Sim);

impl Source for Shared {
    fn kind(&self) -> SourceKind {
        SourceKind::Sim
    }
    fn location(&self) -> String {
        "soak simulator".into()
    }
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).snapshot()
    }
}

fn new_sim(round: u64) -> MibSource<SimTree> {
    let scenario = [
        Scenario::Progressing,
        Scenario::Stalled,
        Scenario::Replace,
        Scenario::Storm,
        Scenario::Signatures,
    ][(round % 5) as usize];
    sim::open(SimConfig {
        scenario,
        threads: 2_000 + (round % 7) * 3_000,
        seed: round,
        ..SimConfig::manual(scenario)
    })
    .unwrap()
}

/// xorshift64*: deterministic choices without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Change the kernel's state, at random, until `stop`. Returns how many
/// changes were made.
fn mutate(sim: Sim, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut changes = 0;
    let mut round = 1;
    let mut idle_steps = 0;
    while !stop.load(Ordering::Relaxed) {
        {
            let mut s = sim.lock().unwrap();
            let snap = s.snapshot().unwrap();
            match (&snap.transition, rng.next() % 10) {
                (Some(t), 0) => {
                    let _ = s.tree_mut().write_int(mib::TR_FORCE, 1);
                    let _ = t;
                }
                (Some(t), 1) => {
                    let node = format!(
                        "{}.{}.{}",
                        mib::PATCH_PREFIX,
                        mib::node_component(&t.patch),
                        mib::patch_leaf::ENABLED
                    );
                    let v = if t.target == kmod_bridge::model::Target::Patched {
                        0
                    } else {
                        1
                    };
                    let _ = s.tree_mut().write_int(&node, v);
                }
                (Some(_), 2) => {
                    let _ = s.tree_mut().write_int(mib::TR_SIGNAL, 1);
                }
                (None, _) if idle_steps > 5 => {
                    *s = new_sim(round);
                    round += 1;
                    idle_steps = 0;
                }
                (None, 3) => {
                    // Disable an enabled patch: an unpatching starts.
                    if let Some(p) = snap.patches.iter().find(|p| p.enabled) {
                        let node = format!(
                            "{}.{}.{}",
                            mib::PATCH_PREFIX,
                            mib::node_component(&p.name),
                            mib::patch_leaf::ENABLED
                        );
                        let _ = s.tree_mut().write_int(&node, 0);
                    }
                }
                (None, _) => {
                    idle_steps += 1;
                    s.tree_mut()
                        .advance(Duration::from_secs(1 + rng.next() % 5));
                }
                _ => s
                    .tree_mut()
                    .advance(Duration::from_secs(1 + rng.next() % 20)),
            }
            changes += 1;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    changes
}

/// One snapshot's worth of facts agree with each other.
fn check_consistent(e: &Exposition) -> Result<(), String> {
    if e.value("livepatch_scrape_success") != Some(1.0) {
        return Err("scrape_success is not 1".into());
    }
    let in_progress = e
        .value("livepatch_transition_in_progress")
        .ok_or("no in_progress")?;
    let info: Vec<_> = e.all("livepatch_transition_info").collect();
    let mut states: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for s in e.all("livepatch_patch_state") {
        states
            .entry(s.label("patch").unwrap_or("").to_string())
            .or_default()
            .push((s.label("state").unwrap_or("").to_string(), s.value));
    }
    for (p, v) in &states {
        let on: Vec<_> = v.iter().filter(|(_, x)| *x == 1.0).collect();
        if v.len() != 4 || on.len() != 1 {
            return Err(format!("patch {p}: states {v:?}"));
        }
    }
    for s in e.all("livepatch_patch_enabled") {
        let p = s.label("patch").unwrap_or("");
        let state = &states.get(p).ok_or(format!("{p}: no state"))?;
        let current = state
            .iter()
            .find(|(_, x)| *x == 1.0)
            .map(|(n, _)| n.as_str());
        let enabled = matches!(current, Some("enabled") | Some("patching"));
        if (s.value == 1.0) != enabled {
            return Err(format!("{p}: enabled {} but state {current:?}", s.value));
        }
    }
    let moving: Vec<&String> = states
        .iter()
        .filter(|(_, v)| {
            v.iter()
                .any(|(n, x)| *x == 1.0 && (n == "patching" || n == "unpatching"))
        })
        .map(|(p, _)| p)
        .collect();
    if in_progress == 1.0 {
        let [i] = info.as_slice() else {
            return Err(format!("{} transition_info series", info.len()));
        };
        let p = i.label("patch").unwrap_or("");
        let target = i.label("target").unwrap_or("");
        let want = if target == "patched" {
            "patching"
        } else {
            "unpatching"
        };
        let st = states.get(p).ok_or(format!("transition of unlisted {p}"))?;
        if !st.iter().any(|(n, x)| n == want && *x == 1.0) {
            return Err(format!("transition of {p} to {target}, but states {st:?}"));
        }
        let total = e
            .value("livepatch_transition_threads")
            .ok_or("no threads")?;
        let pending = e
            .value("livepatch_transition_threads_pending")
            .ok_or("no pending")?;
        if pending > total {
            return Err(format!("pending {pending} > total {total}"));
        }
        let blocked: f64 = e.all("livepatch_blocked_threads").map(|s| s.value).sum();
        let listed = e.all("livepatch_blocked_thread_info").count() as f64;
        let unlisted = e.value("livepatch_blocked_threads_unlisted").unwrap_or(0.0);
        if blocked > pending || listed + unlisted != blocked {
            return Err(format!(
                "blocked {blocked}, listed {listed} + unlisted {unlisted}, pending {pending}"
            ));
        }
        if moving.len() != 1 || moving[0] != p {
            return Err(format!("transition of {p}, moving patches {moving:?}"));
        }
    } else {
        if !info.is_empty()
            || e.value("livepatch_transition_threads").is_some()
            || e.all("livepatch_blocked_thread_info").next().is_some()
        {
            return Err("transition series while idle".into());
        }
        if !moving.is_empty() {
            return Err(format!("idle, but {moving:?} in transition"));
        }
    }
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn scrape(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8(buf).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("not 200: {head}"));
    }
    Ok(body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_while_the_kernel_changes_stay_valid_and_flat() {
    let secs: u64 = std::env::var("PATCHSCOPE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let sim: Sim = Arc::new(Mutex::new(new_sim(0)));
    let opener: SourceOpener = {
        let sim = Arc::clone(&sim);
        Arc::new(move || Ok(Box::new(Shared(Arc::clone(&sim))) as Box<dyn Source>))
    };
    let opts = ExporterOptions {
        listen_addresses: vec!["127.0.0.1:0".into()],
        ..ExporterOptions::default()
    };
    let ex = Exporter::bind(opts, opener).await.unwrap();
    let addr = ex.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ex.serve(async {
        let _ = rx.await;
    }));

    let stop = Arc::new(AtomicBool::new(false));
    let mutator = {
        let (sim, stop) = (Arc::clone(&sim), Arc::clone(&stop));
        std::thread::spawn(move || mutate(sim, stop))
    };
    let scrapes = Arc::new(AtomicU64::new(0));
    let transitions_seen = Arc::new(AtomicU64::new(0));
    // A fixed histogram (50 µs buckets up to 1 s), allocated and touched
    // before the baseline: a growing list of latencies would itself show
    // as growing memory.
    let latencies = Arc::new(Mutex::new(vec![1u64; 20_001]));
    latencies.lock().unwrap().iter_mut().for_each(|c| *c = 0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (scrapes, seen, lat) = (
            Arc::clone(&scrapes),
            Arc::clone(&transitions_seen),
            Arc::clone(&latencies),
        );
        clients.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let body = scrape(addr)
                    .await
                    .unwrap_or_else(|e| panic!("scrape failed: {e}"));
                let took = t0.elapsed();
                let e = exposition::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
                if let Err(why) = check_consistent(&e) {
                    panic!("inconsistent scrape: {why}\n{body}");
                }
                if e.value("livepatch_transition_in_progress") == Some(1.0) {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                scrapes.fetch_add(1, Ordering::Relaxed);
                let bucket = (took.as_micros() / 50).min(20_000) as usize;
                lat.lock().unwrap()[bucket] += 1;
            }
        }));
    }
    // Resident memory, sampled through the run.
    let mut rss = Vec::new();
    while Instant::now() < deadline {
        rss.push(rss_kib());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for c in clients {
        c.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let changes = mutator.join().unwrap();
    let _ = tx.send(());

    let n = scrapes.load(Ordering::Relaxed);
    let hist = latencies.lock().unwrap().clone();
    let total: u64 = hist.iter().sum();
    let pct = |q: f64| {
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        let b = hist
            .iter()
            .position(|c| {
                seen += c;
                seen >= want
            })
            .unwrap_or(20_000);
        Duration::from_micros((b as u64 + 1) * 50)
    };
    let quarter = (rss.len() / 4).max(1);
    let early = *rss[..quarter].iter().max().unwrap();
    let late = *rss[rss.len() - quarter..].iter().max().unwrap();
    let peak = *rss.iter().max().unwrap();
    println!(
        "soak {secs} s: {n} scrapes ({:.0}/s) by 8 clients, {} during a transition, {changes} kernel state changes; latency p50 < {:?} p99 < {:?} max < {:?}; RSS first quarter {early} KiB, last quarter {late} KiB, peak {peak} KiB",
        n as f64 / secs as f64,
        transitions_seen.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        pct(1.0),
    );
    assert!(n > 20, "only {n} scrapes");
    assert!(
        transitions_seen.load(Ordering::Relaxed) > 0,
        "never saw a transition"
    );
    assert!(
        late <= early + 16 * 1024,
        "resident memory grew from {early} KiB to {late} KiB"
    );
}
