//! The shipped Grafana dashboard, drawn from a real Prometheus.
//!
//! Grafana is not installable where the tests run, so
//! `exporters/mixin/preview/render_dashboard.py` (Python standard library)
//! draws the dashboard's panels into one SVG from the answers a real
//! Prometheus (Debian's package, on loopback) gives to each panel's PromQL
//! targets. This test starts three `patchscope exporter --source sim`
//! hosts (`stalled`, `progressing`, `healthy`), lets Prometheus scrape them
//! every 2 s for a minute, renders the last minute into a temporary
//! directory and asserts that
//!
//! * every panel of the dashboard is drawn and every target of every panel
//!   returned data, without a query error;
//! * every time-series panel has a series with enough points to be a line;
//! * the SVG is well-formed XML (parsed by Python's `xml.etree`).
//!
//! With `PATCHSCOPE_REGENERATE_SCREENSHOTS=1` it collects for 90 s and
//! writes `screenshots/dashboard.svg`, the picture the README shows.
//!
//! Needs prometheus and python3: skipped locally without them, a failure
//! under CI (`bash tests/vm/setup prometheus` installs Prometheus).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod exporter_common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use exporter_common as common;
use serde_json::Value;

const SCRAPE_INTERVAL_SECS: u64 = 2;
const HOSTS: [&str; 3] = ["stalled", "progressing", "healthy"];

/// python3 from PATH; missing: skipped locally, a failure under CI.
fn python3() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = "python3 not found on PATH; install it (Debian: apt-get install python3)";
        if std::env::var_os("CI").is_some() {
            panic!("CI is set and {msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

fn preview_dir() -> PathBuf {
    common::repo_root().join("exporters/mixin/preview")
}

fn dashboard_path() -> PathBuf {
    common::repo_root().join("exporters/mixin/dashboards/livepatch.json")
}

fn regenerate() -> bool {
    std::env::var("PATCHSCOPE_REGENERATE_SCREENSHOTS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Every panel of the dashboard except rows (panels inside rows too):
/// (id, type).
fn dashboard_panels() -> Vec<(i64, String)> {
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard_path()).unwrap()).unwrap();
    fn walk(panels: &Value, out: &mut Vec<(i64, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let kind = p["type"].as_str().unwrap_or("").to_string();
            if kind != "row" {
                out.push((p["id"].as_i64().unwrap(), kind));
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The renderer's own unit tests (no Prometheus needed).
#[test]
fn preview_renderer_unit_tests() {
    let Some(python) = python3() else {
        return;
    };
    let (ok, out) = run(Command::new(python)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(preview_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    assert!(
        ok,
        "python unit tests of render_dashboard.py failed:\n{out}"
    );
}

/// Parse the SVG with Python's XML parser; returns the ids of the drawn
/// panels and whether any says "No data".
fn check_svg(python: &Path, svg: &Path) -> (Vec<i64>, bool) {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
for g in root.iter(ns + "g"):
    if g.get("class") == "panel":
        print("panel", g.get("data-panel-id"))
texts = "".join("".join(t.itertext()) for t in root.iter(ns + "text"))
print("nodata", "No data" in texts)
"#;
    let (ok, out) = run(Command::new(python)
        .args(["-c", script])
        .arg(svg)
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    assert!(ok, "{} is not well-formed SVG:\n{out}", svg.display());
    let mut ids = Vec::new();
    let mut nodata = true;
    for line in out.lines() {
        if let Some(id) = line.strip_prefix("panel ") {
            ids.push(id.parse().unwrap());
        } else if let Some(b) = line.strip_prefix("nodata ") {
            nodata = b == "True";
        }
    }
    (ids, nodata)
}

#[test]
fn dashboard_preview_draws_every_panel_from_a_real_prometheus() {
    let Some(prometheus) = common::require("prometheus") else {
        return;
    };
    let Some(python) = python3() else {
        return;
    };
    let regenerate = regenerate();
    let collect = Duration::from_secs(if regenerate { 90 } else { 60 });
    let dir = tempfile::tempdir().unwrap();

    // A small fleet of simulated hosts, each its own exporter process.
    let exporters: Vec<(common::Running, SocketAddr)> = HOSTS
        .iter()
        .map(|s| common::start_exporter(&["--source", "sim", "--scenario", s]))
        .collect();
    // The instance label names the scenario, so the picture says which
    // host is simulated doing what.
    let targets: String = HOSTS
        .iter()
        .zip(&exporters)
        .map(|(s, (_, addr))| {
            format!("      - targets: ['{addr}']\n        labels: {{instance: 'sim-{s}'}}\n")
        })
        .collect();
    let config = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL_SECS}s\n  scrape_timeout: {SCRAPE_INTERVAL_SECS}s\n  evaluation_interval: {SCRAPE_INTERVAL_SECS}s\nscrape_configs:\n  - job_name: patchscope\n    static_configs:\n{targets}"
    );
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, &config).unwrap();

    let port = common::free_port();
    let prom_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new(&prometheus);
    cmd.arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--log.level=warn");
    let prom = common::start(cmd, "prometheus");
    let ready = common::poll(Duration::from_secs(60), Duration::from_millis(500), || {
        common::http_get(prom_addr, "/-/ready")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "prometheus not ready:\n{}", prom.log());

    // Every host up, then a minute (90 s when regenerating) of samples.
    let up = common::poll(Duration::from_secs(60), Duration::from_secs(1), || {
        let r = common::http_get(prom_addr, "/api/v1/targets").ok()?;
        let v: Value = serde_json::from_str(&r.body).ok()?;
        let active = v["data"]["activeTargets"].as_array()?.clone();
        (active.len() == HOSTS.len() && active.iter().all(|a| a["health"] == "up")).then_some(())
    });
    assert!(
        up.is_some(),
        "targets never all up:\n{:?}\nprometheus:\n{}",
        common::http_get(prom_addr, "/api/v1/targets").map(|r| r.body),
        prom.log()
    );
    let since = Instant::now();
    eprintln!(
        "collecting {} s of samples for the dashboard preview",
        collect.as_secs()
    );
    std::thread::sleep(collect.saturating_sub(since.elapsed()));

    let svg = dir.path().join("dashboard.svg");
    let report = dir.path().join("report.json");
    let (ok, out) = run(Command::new(&python)
        .arg(preview_dir().join("render_dashboard.py"))
        .arg(format!("--prometheus=http://{prom_addr}"))
        .arg("--dashboard")
        .arg(dashboard_path())
        .arg(format!("--range={}s", collect.as_secs()))
        .arg(format!("--scrape-interval={SCRAPE_INTERVAL_SECS}s"))
        .arg("--output")
        .arg(&svg)
        .arg("--report")
        .arg(&report)
        .arg("--require-data")
        .arg(format!(
            "--caption=Data: three simulated hosts (patchscope exporter --source sim --scenario {}; instance label sim-<scenario>), scraped every {SCRAPE_INTERVAL_SECS} s by a Prometheus on loopback started by tests/dashboard_preview.rs.",
            HOSTS.join(" / ")
        ))
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    assert!(
        ok,
        "render_dashboard.py failed (exit 3: a target returned no data):\n{out}\nprometheus:\n{}",
        prom.log()
    );

    // Every panel, every target: data, no error; time series are lines.
    let panels = dashboard_panels();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let drawn = r["panels"].as_array().unwrap();
    assert_eq!(
        drawn
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        panels.iter().map(|p| p.0).collect::<Vec<_>>(),
        "report panels differ from the dashboard's"
    );
    let min_points = (collect.as_secs() / SCRAPE_INTERVAL_SECS / 3) as i64;
    for p in drawn {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no targets", p["title"]);
        for t in targets {
            assert!(
                t["error"].is_null() && t["series"].as_i64().unwrap() > 0,
                "panel {} target {}: no data or an error: {t}",
                p["title"],
                t["refId"]
            );
        }
        if p["type"] == "timeseries" {
            let longest = targets
                .iter()
                .map(|t| t["longest"].as_i64().unwrap())
                .max()
                .unwrap();
            assert!(
                longest >= min_points,
                "panel {}: longest series has {longest} points, want at least {min_points}",
                p["title"]
            );
        }
    }

    // Well-formed, every panel drawn, none empty.
    let (ids, nodata) = check_svg(&python, &svg);
    assert_eq!(
        ids,
        panels.iter().map(|p| p.0).collect::<Vec<_>>(),
        "panels drawn in the SVG"
    );
    assert!(!nodata, "a panel says No data");

    if regenerate {
        let dest = common::repo_root().join("screenshots/dashboard.svg");
        std::fs::copy(&svg, &dest).unwrap();
        eprintln!("wrote {}", dest.display());
    }
    drop(prom);
    drop(exporters);
}
