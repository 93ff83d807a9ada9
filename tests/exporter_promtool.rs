//! promtool on what patchscope ships and serves: the alert rules
//! (`check rules`, and `test rules` for every alert firing and not
//! firing), the exporter's scrape and the textfile mode's output (`check
//! metrics`: names, units, types, HELP). Needs promtool: skipped locally
//! without it, a failure under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod exporter_common;

use exporter_common as common;

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(promtool) = common::require("promtool") else {
        return;
    };
    let mixin = common::repo_root().join("exporters/mixin");
    let (ok, out) = common::promtool(
        &promtool,
        &[
            "check",
            "rules",
            mixin.join("alerts.yaml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("5 rules found"), "{out}");
    let (ok, out) = common::promtool(
        &promtool,
        &[
            "test",
            "rules",
            mixin.join("tests/alerts_test.yaml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "promtool test rules:\n{out}");
}

#[test]
fn every_alert_has_unit_tests_firing_and_not_firing() {
    // Text checks, no promtool needed: each alert of alerts.yaml appears in
    // the tests with an empty and a non-empty expectation.
    let mixin = common::repo_root().join("exporters/mixin");
    let rules = std::fs::read_to_string(mixin.join("alerts.yaml")).unwrap();
    let tests = std::fs::read_to_string(mixin.join("tests/alerts_test.yaml")).unwrap();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(names.len(), 5);
    for n in names {
        let mut quiet = false;
        let mut firing = false;
        let lines: Vec<&str> = tests.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.trim() == format!("alertname: {n}") {
                match lines.get(i + 1).map(|x| x.trim()) {
                    Some("exp_alerts: []") => quiet = true,
                    Some("exp_alerts:") => firing = true,
                    _ => {}
                }
            }
        }
        assert!(quiet && firing, "{n}: not-firing {quiet}, firing {firing}");
        assert!(rules.contains(&format!("runbook.md#{}", n.to_ascii_lowercase())));
        let runbook = std::fs::read_to_string(mixin.join("runbook.md")).unwrap();
        assert!(runbook.contains(&format!("## {n}")), "runbook lacks {n}");
    }
}

#[test]
fn exporter_scrape_passes_promtool_check_metrics() {
    let Some(promtool) = common::require("promtool") else {
        return;
    };
    let (exporter, addr) = common::start_exporter(&["--source", "sim", "--scenario", "stalled"]);
    // Two scrapes: the second has the watch's history (stall verdict).
    common::http_get(addr, "/metrics").unwrap();
    let r = common::http_get(addr, "/metrics").unwrap();
    assert_eq!(r.status, 200, "{}", exporter.log());
    for m in [
        "livepatch_scrape_success",
        "livepatch_transition_in_progress",
        "livepatch_blocked_threads_unlisted",
    ] {
        assert!(
            common::sample(&r.body, m).is_some(),
            "no {m} in\n{}",
            r.body
        );
    }
    assert!(r.body.contains("livepatch_transition_stalled{"));
    // The simulator names a thread with terminal escapes: they arrive
    // escaped, never raw.
    assert!(!r.body.contains('\u{1b}'));
    let (ok, out) = common::promtool(&promtool, &["check", "metrics"], Some(&r.body));
    assert!(ok, "promtool check metrics:\n{out}\n{}", r.body);
}

#[test]
fn textfile_mode_passes_promtool_check_metrics() {
    let Some(promtool) = common::require("promtool") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchscope"))
        .args(["status", "--format", "prometheus", "--source", "sim"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "status --format prometheus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(common::sample(&text, "livepatch_scrape_success"), Some(1.0));
    let (ok, msg) = common::promtool(&promtool, &["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics:\n{msg}\n{text}");
}
