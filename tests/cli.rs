//! End-to-end tests of the `patchscope` binary's one-shot commands
//! (`status`, `check`, `revert`, `force`, `signal`, `man`, `completions`)
//! on the simulator, dumps and a Linux fixture tree.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn patchscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchscope"))
        .args(args)
        .env_remove("CI")
        .output()
        .expect("run patchscope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = patchscope(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

#[test]
fn status_json_on_stalled_sim_has_the_brief_keys() {
    let v = json(&[
        "status",
        "--json",
        "--source",
        "sim",
        "--scenario",
        "stalled",
    ]);
    for key in [
        "source",
        "kernel",
        "patches",
        "transition",
        "blocked_threads",
    ] {
        assert!(v.get(key).is_some(), "missing top-level key {key}");
    }
    assert_eq!(v["source"]["kind"], "sim");
    let t = &v["transition"];
    for key in [
        "patch",
        "target",
        "started_at",
        "elapsed_seconds",
        "threads_total",
        "threads_pending",
        "forced",
    ] {
        assert!(t.get(key).is_some(), "missing transition key {key}");
    }
    assert_eq!(t["target"], "patched");
    assert!(t["threads_pending"].as_u64().unwrap() > 0);
    let patch = t["patch"].as_str().unwrap();
    let p = v["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == patch)
        .expect("patch in transition is listed");
    assert_eq!(p["state"], "patching");
    for key in [
        "name",
        "enabled",
        "state",
        "replace",
        "stack_order",
        "signed",
        "objects",
    ] {
        assert!(p.get(key).is_some(), "missing patch key {key}");
    }
    let obj = &p["objects"][0];
    for key in ["name", "patched", "functions"] {
        assert!(obj.get(key).is_some(), "missing object key {key}");
    }
    let blocked = v["blocked_threads"].as_array().unwrap();
    assert!(!blocked.is_empty());
    let funcs: Vec<&str> = p["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["functions"].as_array().unwrap())
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for b in blocked {
        for key in ["tid", "pid", "comm", "wchan", "blocking_function", "stack"] {
            assert!(b.get(key).is_some(), "missing thread key {key}");
        }
        if let Some(f) = b["blocking_function"].as_str() {
            assert!(
                funcs.contains(&f),
                "blocking function {f} is not one of the patch's {funcs:?}"
            );
        }
    }
    assert!(
        blocked.iter().any(|b| b["blocking_function"].is_string()),
        "some thread sleeps in a patched function"
    );
}

#[test]
fn status_json_on_healthy_sim_has_null_transition() {
    let v = json(&[
        "status",
        "--json",
        "--source",
        "sim",
        "--scenario",
        "healthy",
    ]);
    assert!(v["transition"].is_null());
    assert_eq!(v["blocked_threads"].as_array().unwrap().len(), 0);
    assert!(
        v["patches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "enabled")
    );
}

#[test]
fn status_table_shows_transition_and_blocking_function_sanitised() {
    let o = patchscope(&["status", "--source", "sim", "--scenario", "stalled"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("transition: patching"), "{out}");
    assert!(out.contains("blocked threads:"), "{out}");
    assert!(out.contains(">"), "blocking frame marked: {out}");
    assert!(
        !out.contains('\u{1b}'),
        "raw escape reached the terminal: {out:?}"
    );
}

#[test]
fn check_returns_nagios_codes() {
    let ok = patchscope(&["check", "--source", "sim", "--scenario", "healthy"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(
        stdout(&ok).starts_with("LIVEPATCH OK - "),
        "{}",
        stdout(&ok)
    );
    assert!(
        stdout(&ok).contains(" | patches="),
        "perfdata: {}",
        stdout(&ok)
    );

    // The stalled scenario's transition began minutes before the simulator
    // starts, so a 1s threshold is exceeded at once.
    let crit = patchscope(&[
        "check",
        "--source",
        "sim",
        "--scenario",
        "stalled",
        "--warning",
        "1s",
        "--critical",
        "2s",
    ]);
    assert_eq!(crit.status.code(), Some(2), "{}", stdout(&crit));
    assert!(
        stdout(&crit).starts_with("LIVEPATCH CRITICAL - "),
        "{}",
        stdout(&crit)
    );

    let warn = patchscope(&[
        "check",
        "--source",
        "sim",
        "--scenario",
        "stalled",
        "--warning",
        "1s",
        "--critical",
        "1000h",
    ]);
    assert_eq!(warn.status.code(), Some(1), "{}", stdout(&warn));

    let unknown = patchscope(&["check", "--source", "dump:/nonexistent/livepatch.txt"]);
    assert_eq!(unknown.status.code(), Some(3), "{}", stdout(&unknown));
    assert!(
        stdout(&unknown).contains("/nonexistent/livepatch.txt"),
        "{}",
        stdout(&unknown)
    );
}

#[test]
fn controls_need_yes_without_a_terminal() {
    let v = json(&[
        "status",
        "--json",
        "--source",
        "sim",
        "--scenario",
        "stalled",
    ]);
    let patch = v["transition"]["patch"].as_str().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_patchscope"))
        .args(["revert", &patch, "--source", "sim", "--scenario", "stalled"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
}

#[test]
fn revert_and_force_on_sim_with_yes_name_the_write() {
    let v = json(&[
        "status",
        "--json",
        "--source",
        "sim",
        "--scenario",
        "stalled",
    ]);
    let patch = v["transition"]["patch"].as_str().unwrap().to_string();
    let o = patchscope(&[
        "revert",
        &patch,
        "--yes",
        "--source",
        "sim",
        "--scenario",
        "stalled",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(".enabled"),
        "names the node written: {}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("reversed"), "{}", stdout(&o));

    let o = patchscope(&[
        "force",
        &patch,
        "--yes",
        "--source",
        "sim",
        "--scenario",
        "stalled",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kern.livepatch.transition.force"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("CANNOT BE UNDONE"), "{}", stderr(&o));
}

#[test]
fn force_without_transition_fails_in_plain_words() {
    let v = json(&[
        "status",
        "--json",
        "--source",
        "sim",
        "--scenario",
        "healthy",
    ]);
    let patch = v["patches"][0]["name"].as_str().unwrap().to_string();
    let o = patchscope(&[
        "force",
        &patch,
        "--yes",
        "--source",
        "sim",
        "--scenario",
        "healthy",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not in transition"), "{}", stderr(&o));
    let o = patchscope(&["revert", "no_such_patch", "--yes", "--source", "sim"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no live patch named 'no_such_patch'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_source_and_scenario_say_what_to_use() {
    let o = patchscope(&["status", "--source", "solaris"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("auto, freebsd, linux, sim or dump:FILE"),
        "{}",
        stderr(&o)
    );
    let o = patchscope(&["status", "--source", "sim", "--scenario", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stalled"), "{}", stderr(&o));
}

#[test]
fn auto_without_livepatch_suggests_demo() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let o = patchscope(&[
        "status",
        "--source",
        "auto",
        "--path.sysfs",
        root,
        "--path.procfs",
        root,
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("kernel/livepatch"), "{err}");
    assert!(err.contains("patchscope demo"), "{err}");
}

#[test]
fn dump_round_trip_through_the_binary_is_read_only() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("kmod-bridge/tests/fixtures/freebsd");
    let Some(dump) = std::fs::read_dir(&fixture).ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("stalled"))
    }) else {
        panic!("no stalled dump fixture in {}", fixture.display());
    };
    let spec = format!("dump:{}", dump.display());
    let v = json(&["status", "--json", "--source", &spec]);
    assert_eq!(v["source"]["kind"], "dump");
    assert!(v["transition"].is_object());
    let patch = v["transition"]["patch"].as_str().unwrap().to_string();
    let o = patchscope(&["revert", &patch, "--yes", "--source", &spec]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
}

#[test]
fn man_page_and_completions_are_generated() {
    let o = patchscope(&["man"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains(".TH patchscope"), "roff header");
    let o = patchscope(&["completions", "bash"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("_patchscope"),
        "bash completion function"
    );
}
