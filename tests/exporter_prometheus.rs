//! End to end: the real `patchscope exporter` on the simulator's `stalled`
//! scenario, behind TLS and basic auth from a web config file, scraped by
//! a real Prometheus (Debian's package) on loopback with the shipped alert
//! rules loaded. Asserts through Prometheus's HTTP API that
//!
//! * the scrape over TLS with the right password works, and the job with a
//!   wrong password is down with a 401;
//! * the stalled-transition alert reaches `firing`, and the alerts that
//!   should not fire (forced, scrape failing, exporter down) do not;
//! * every PromQL query of the shipped Grafana dashboard returns data.
//!
//! To be quick, the exporter's stall threshold is 2 s and every `for:` of
//! the rules is shortened to 3 s in the copy Prometheus loads; the real
//! durations are covered by `promtool test rules` (exporter_promtool.rs).
//! Needs prometheus and promtool: skipped locally without them, a failure
//! under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod exporter_common;

use std::net::SocketAddr;
use std::time::Duration;

use exporter_common as common;
use serde_json::Value;

/// bcrypt (cost 5) of "scrape-secret".
const SCRAPE_HASH: &str = "$2b$05$UuGzc1ybA/fgzI4NFYoRVubOwgcwWi/k72vNaXJkYHAacAVaxDwtG";

struct Prom {
    addr: SocketAddr,
    run: common::Running,
}

impl Prom {
    fn api(&self, path_and_query: &str) -> Option<Value> {
        let r = common::http_get(self.addr, path_and_query).ok()?;
        if r.status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&r.body).ok()?;
        (v["status"] == "success").then(|| v["data"].clone())
    }

    fn query(&self, q: &str) -> Option<Value> {
        self.api(&format!("/api/v1/query?query={}", common::urlencode(q)))
    }
}

/// The shipped rules with every `for:` shortened.
fn rules_for_test() -> String {
    let text = std::fs::read_to_string(common::repo_root().join("exporters/mixin/alerts.yaml"))
        .expect("read alerts.yaml");
    let mut n = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("for: ") {
                n += 1;
                format!("{}for: 3s", &l[..l.len() - t.len()])
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(n >= 4, "expected for: clauses in alerts.yaml, found {n}");
    out.join("\n") + "\n"
}

/// Every `expr` of the dashboard (rows included), with Grafana's variables
/// replaced as Grafana would with "All" selected.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = common::repo_root().join("exporters/mixin/dashboards/livepatch.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    let e = e
                        .replace("$instance", ".*")
                        .replace("$__rate_interval", "1m")
                        .replace("$__interval", "15s")
                        .replace("$__range", "1h");
                    out.push((title.clone(), e));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

#[test]
fn prometheus_scrapes_fires_the_stalled_alert_and_feeds_the_dashboard() {
    let Some(tools) = common::prometheus_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fx = common::repo_root().join("tests/exporter_fixtures");
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prometheus: '{SCRAPE_HASH}'\n",
            fx.join("server.crt").display(),
            fx.join("server.key").display()
        ),
    )
    .unwrap();
    let (exporter, exp_addr) = common::start_exporter(&[
        "--source",
        "sim",
        "--scenario",
        "stalled",
        "--watch.stall-after",
        "2s",
        "--web.config.file",
        web.to_str().unwrap(),
    ]);

    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, rules_for_test()).unwrap();
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: localhost\n    basic_auth:\n      username: prometheus\n      password: {password}\n    static_configs:\n      - targets: ['{exp_addr}']\n",
            ca = fx.join("ca.crt").display()
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n{}{}",
        rules.display(),
        job("patchscope", "scrape-secret"),
        job("patchscope-wrong-password", "not-the-secret"),
    );
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, &config).unwrap();
    let (ok, out) = common::promtool(
        &tools.promtool,
        &["check", "config", cfg_path.to_str().unwrap()],
        None,
    );
    assert!(ok, "promtool check config:\n{out}\n{config}");

    let port = common::free_port();
    let prom_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = std::process::Command::new(&tools.prometheus);
    cmd.arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--log.level=warn");
    let prom = Prom {
        addr: prom_addr,
        run: common::start(cmd, "prometheus"),
    };
    let ready = common::poll(Duration::from_secs(60), Duration::from_millis(500), || {
        common::http_get(prom.addr, "/-/ready")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "prometheus not ready:\n{}", prom.run.log());

    // The right password over TLS scrapes; the wrong one gets 401.
    let targets = common::poll(Duration::from_secs(60), Duration::from_secs(1), || {
        let t = prom.api("/api/v1/targets")?;
        let active = t["activeTargets"].as_array()?.clone();
        let health = |job: &str| {
            active.iter().find(|a| a["labels"]["job"] == job).map(|a| {
                (
                    a["health"].as_str().unwrap_or("").to_string(),
                    a["lastError"].as_str().unwrap_or("").to_string(),
                )
            })
        };
        let good = health("patchscope")?;
        let bad = health("patchscope-wrong-password")?;
        (good.0 == "up" && bad.0 == "down").then_some((good, bad))
    });
    let (_, bad) = targets.unwrap_or_else(|| {
        panic!(
            "targets never became up/down:\n{:?}\nexporter:\n{}",
            prom.api("/api/v1/targets"),
            exporter.log()
        )
    });
    assert!(bad.1.contains("401"), "wrong password: {}", bad.1);

    // The stalled alert fires.
    let firing = common::poll(Duration::from_secs(90), Duration::from_secs(1), || {
        let a = prom.api("/api/v1/alerts")?;
        let alerts = a["alerts"].as_array()?.clone();
        alerts
            .iter()
            .any(|x| {
                x["labels"]["alertname"] == "LivepatchTransitionStalled" && x["state"] == "firing"
            })
            .then_some(alerts)
    });
    let alerts = firing.unwrap_or_else(|| {
        panic!(
            "LivepatchTransitionStalled never fired: {:?}\nrules: {:?}\nprometheus:\n{}\nexporter:\n{}",
            prom.api("/api/v1/alerts"),
            prom.api("/api/v1/rules"),
            prom.run.log(),
            exporter.log()
        )
    });
    let stalled = alerts
        .iter()
        .find(|x| x["labels"]["alertname"] == "LivepatchTransitionStalled")
        .unwrap();
    assert_eq!(stalled["labels"]["severity"], "critical");
    assert_eq!(stalled["labels"]["job"], "patchscope");
    assert!(
        stalled["labels"]["patch"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    assert!(
        stalled["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.contains("runbook.md#livepatchtransitionstalled"))
    );
    for quiet in [
        "LivepatchTransitionForced",
        "LivepatchExporterScrapeFailing",
        "LivepatchExporterDown",
    ] {
        assert!(
            !alerts.iter().any(|x| x["labels"]["alertname"] == quiet),
            "{quiet} should not fire: {alerts:?}"
        );
    }

    // Every dashboard query returns data (a few scrapes are there by now;
    // rate windows need two samples, so allow a little more time).
    let queries = dashboard_queries();
    assert!(
        queries.len() >= 15,
        "dashboard has {} queries",
        queries.len()
    );
    for (panel, q) in &queries {
        let res = common::poll(Duration::from_secs(30), Duration::from_secs(1), || {
            let d = prom.query(q)?;
            let r = d["result"].as_array()?;
            (!r.is_empty()).then(|| r.clone())
        });
        assert!(
            res.is_some(),
            "dashboard panel {panel:?}: query returned no data: {q}\nlast answer: {:?}",
            prom.query(q)
        );
    }
    // The exporter's stall verdict is visible as a raw series too.
    let v = prom.query("livepatch_transition_stalled == 1").unwrap();
    assert!(!v["result"].as_array().unwrap().is_empty());
    drop(prom);
    drop(exporter);
}
